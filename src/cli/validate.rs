//! `capsim validate`: check a scenario and the files it names, run nothing.

use super::error::CliError;
use super::load::load;
use sim_core::scenario::{Dispatch, EngineSpec, TrafficSpec};
use std::path::Path;

/// Validates `path`; prints a one-line description when it is sound.
pub fn validate(path: &Path) -> Result<(), CliError> {
    if super::sweep::is_sweep_file(path) {
        return super::sweep::validate(path);
    }
    let loaded = load(path)?;
    super::check::load_checks(path)?;
    let s = &loaded.scenario;
    let dispatch = match s.service.dispatch {
        Dispatch::Shared => "shared queue".to_string(),
        Dispatch::Router(p) => format!("{} router", p.name()),
    };
    let traffic = match &s.traffic {
        TrafficSpec::Poisson { rate } => format!("Poisson {rate} req/s"),
        TrafficSpec::Schedule { steps } => format!("Poisson schedule of {} steps", steps.len()),
        TrafficSpec::Trace { path, .. } => format!(
            "trace {path} ({} requests)",
            loaded.inputs.trace.as_ref().map_or(0, Vec::len)
        ),
    };
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
    if !loaded.variants.is_empty() {
        let names: Vec<&str> = loaded.variants.iter().map(|v| v.0.as_str()).collect();
        println!("    {} policies: {}", names.len(), names.join(", "));
    }
    Ok(())
}
