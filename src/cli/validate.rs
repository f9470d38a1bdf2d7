//! `capsim validate`: check a scenario and the files it names, run nothing.

use super::error::CliError;
use super::load::{load_inputs_with_stats, load_with};
use sim_core::scenario::{Dispatch, EngineSpec};
use std::path::{Path, PathBuf};

/// Validates `path` (with any Kubernetes manifests applied); prints a one-line description when
/// it is sound, what the manifests hold that is not modelled, and a warning for each variant (or
/// the scenario, without variants) whose pods fit no node pool; with `strict` a warning is an
/// error (exit code 2).
pub fn validate(
    path: &Path,
    manifests: &[PathBuf],
    sets: &[String],
    strict: bool,
) -> Result<(), CliError> {
    if super::sweep::is_sweep_file(path) {
        return super::sweep::validate(path, sets);
    }
    let loaded = load_with(path, manifests, sets)?;
    super::manifests::warn(&loaded.warnings);
    let checks = super::check::load_checks(path)?;
    let windows = |s: &sim_core::Scenario| {
        super::check::prepare_windows(&checks, &mut s.clone())
            .map_err(|e| CliError::Input(e.to_string()))
    };
    windows(&loaded.scenario)?;
    for (name, v, _) in &loaded.variants {
        windows(v).map_err(|e| CliError::Input(format!("policy `{name}`: {e}")))?;
    }
    let s = &loaded.scenario;
    let warnings = schedulability(path, &loaded);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if strict && !warnings.is_empty() {
        return Err(CliError::Input(format!(
            "{}: {} warning(s), and --strict makes them errors",
            path.display(),
            warnings.len()
        )));
    }
    let dispatch = match s.service.dispatch {
        Dispatch::Shared => "shared queue".to_string(),
        Dispatch::Router(p) => format!("{} router", p.name()),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let shown = path.display().to_string();
    let (_, checks) = load_inputs_with_stats(s, base, &shown, &loaded.text)?;
    let mut traffic = match (&s.traffic, &s.gateway) {
        (sim_core::scenario::TrafficSpec::Poisson { rate }, Some(_)) if *rate == 0.0 => {
            "the gateway's traffic".to_string()
        }
        _ => s.traffic.describe(),
    };
    match checks.as_slice() {
        [one] if matches!(s.traffic, sim_core::scenario::TrafficSpec::Trace { .. }) => {
            traffic.push_str(&format!(", {} requests", one.requests))
        }
        many => {
            for c in many {
                traffic.push_str(&format!("; {}: {} requests", c.named, c.requests));
            }
        }
    }
    let cluster = match &s.cluster {
        None => "no node pools".to_string(),
        Some(c) => c
            .pools
            .iter()
            .map(|p| format!("{} × {} ({})", p.initial_size, p.instance_type, p.name))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let engine = match &s.service.engine {
        EngineSpec::Triton { .. } => "",
        EngineSpec::Vllm(v) if v.static_batching.is_some() => "static-batching ",
        EngineSpec::Vllm(v) if v.splitwise_batching.is_some() => "splitwise-batching ",
        EngineSpec::Vllm(_) => "vllm ",
    };
    println!(
        "ok: {}: {} {engine}replica{} behind a {}, {}; nodes: {}; horizon {}",
        path.display(),
        s.service.replicas,
        if s.service.replicas == 1 { "" } else { "s" },
        dispatch,
        traffic,
        cluster,
        s.horizon
    );
    if !s.others.is_empty() {
        println!("    {} services:", 1 + s.others.len());
        for v in s.services() {
            let engine = match &v.service.engine {
                EngineSpec::Triton { .. } => "",
                EngineSpec::Vllm(x) if x.static_batching.is_some() => "static-batching ",
                EngineSpec::Vllm(x) if x.splitwise_batching.is_some() => "splitwise-batching ",
                EngineSpec::Vllm(_) => "vllm ",
            };
            println!(
                "      {} (namespace {}): {} {engine}replica{}, {}",
                v.service.name,
                v.service.namespace,
                v.service.replicas,
                if v.service.replicas == 1 { "" } else { "s" },
                match (&v.traffic, &s.gateway) {
                    (sim_core::scenario::TrafficSpec::Poisson { rate }, Some(_))
                        if *rate == 0.0 =>
                        "the gateway's traffic only".to_string(),
                    _ => v.traffic.describe(),
                }
            );
        }
    }
    if let Some(g) = &s.gateway {
        let names: Vec<&str> = s.services().map(|v| v.service.name.as_str()).collect();
        let mut routes: Vec<String> = g
            .routes
            .iter()
            .map(|r| format!("{} → {}", r.model, names[r.service]))
            .collect();
        if let Some(d) = g.default {
            routes.push(format!("any other model → {}", names[d]));
        }
        println!(
            "    gateway: {}; routes by model: {}",
            g.view.traffic.describe(),
            routes.join(", ")
        );
    }
    let trace_requests = checks.iter().map(|c| c.requests).sum::<u64>();
    let estimate =
        sim_core::scenario::limits::Estimate::of(s, (!checks.is_empty()).then_some(trace_requests));
    if estimate.is_large() {
        println!("    {}", estimate.line());
    }
    if !loaded.variants.is_empty() {
        let names: Vec<&str> = loaded.variants.iter().map(|v| v.0.as_str()).collect();
        println!("    {} policies: {}", names.len(), names.join(", "));
    }
    Ok(())
}

/// One warning per scenario that runs (each `[[policy]]` variant, or the scenario itself without
/// variants) whose pods fit no node pool.
fn schedulability(path: &Path, loaded: &super::load::Loaded) -> Vec<String> {
    let runs: Vec<(Option<&str>, &sim_core::Scenario)> = if loaded.variants.is_empty() {
        vec![(None, &loaded.scenario)]
    } else {
        loaded
            .variants
            .iter()
            .map(|(name, s, _)| (Some(name.as_str()), s))
            .collect()
    };
    runs.into_iter()
        .filter_map(|(name, s)| {
            let why = sim_core::scenario::schedulable::unschedulable(s)?;
            Some(match name {
                Some(n) => format!("{}: policy `{n}`: {why}", path.display()),
                None => format!("{}: {why}", path.display()),
            })
        })
        .collect()
}
