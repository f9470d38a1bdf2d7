//! `capsim run`: run one scenario, write its outputs, print a readable summary.

use super::error::CliError;
use super::output::{CsvRequestSink, Staged};
use sim_core::engine::{parse_duration, SimDuration};
use sim_core::metrics::NoSink;
use sim_core::results::RunResult;
use sim_core::results::Summary;
use sim_core::{Inputs, Scenario, World};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `capsim run`.
pub struct RunArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Kubernetes manifests (files or folders) applied over the scenario.
    pub manifests: Vec<PathBuf>,
    /// Seed override.
    pub seed: Option<u64>,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Horizon override.
    pub horizon: Option<String>,
    /// Stream requests.csv.
    pub requests: bool,
    /// Write report.html and charts/*.png.
    pub report: bool,
    /// `--set KEY=VALUE` overrides.
    pub sets: Vec<String>,
}

/// `inputs.csv`: each input file with its size and 64-bit FNV-1a hash (16 hex digits).
pub fn inputs_csv(files: &[super::load::InputFile]) -> Result<String, CliError> {
    let mut t = format!("{}\n", capsim_results::columns::INPUTS);
    for f in files {
        let (len, hash) = hash_file(&f.full)
            .map_err(|e| CliError::Io(format!("{}: cannot read: {e}", f.full.display())))?;
        let _ = writeln!(
            t,
            "{},{},{},{:016x}",
            f.role,
            f.named.replace(',', "%2C"),
            len,
            hash
        );
    }
    Ok(t)
}

/// A file's length and FNV-1a hash, read in chunks (a trace may be larger than memory allows).
fn hash_file(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut len, mut h) = (0u64, 0xcbf2_9ce4_8422_2325u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, h));
        }
        len += n as u64;
        for &b in &buf[..n] {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Writes `scenario.toml` and `inputs.csv` into `out`, then the report (with `--report`) or
/// removes a stale one.
pub fn provenance_and_report(
    args: &RunArgs,
    loaded: &super::load::Loaded,
    out: &Path,
) -> Result<(), CliError> {
    let mut staged = Staged::new();
    staged.write(&out.join("scenario.toml"), &loaded.text)?;
    staged.write(&out.join("inputs.csv"), inputs_csv(&loaded.files)?)?;
    staged.commit()?;
    if args.report {
        super::report::write_report(out, &out.join("report.html"), Some(&out.join("charts")))?;
    } else {
        // A report from an earlier run would not match these outputs.
        let mut stale = vec![out.join("report.html")];
        for id in reports::chart::SINGLE_RUN_CHARTS
            .iter()
            .chain(&reports::chart::POLICY_CHARTS)
            .chain(&reports::chart::POLICY_TOKEN_CHARTS)
            .chain(&["rollout"])
        {
            stale.push(out.join("charts").join(format!("{id}.png")));
        }
        for p in stale.iter().filter(|p| p.exists()) {
            std::fs::remove_file(p).map_err(|e| {
                CliError::Io(format!(
                    "{}: cannot remove the stale file: {e}",
                    p.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Runs the scenario and writes `summary.json`, `timeseries.csv` (and `requests.csv`).
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let mut loaded = super::load::load_for_run(&args.scenario, &args.manifests, &args.sets)?;
    super::manifests::warn(&loaded.warnings);
    let checks = super::check::load_checks(&args.scenario)?;
    if !loaded.variants.is_empty() {
        let rows = super::compare::run_variants(args, loaded, &checks)?;
        return super::check::enforce(&checks, &rows);
    }
    let s = &mut loaded.scenario;
    apply_flags(s, args)?;
    super::check::prepare_windows(&checks, s).map_err(|e| CliError::Input(e.to_string()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(folder_name(&s.name)));
    super::output::refuse_inputs_in(&out, &loaded.files)?;
    let inputs = std::mem::take(&mut loaded.inputs);
    let result = run_one(
        args,
        &loaded.scenario,
        inputs,
        loaded.trace_requests,
        &loaded.deferred,
        &out,
    )?;
    provenance_and_report(args, &loaded, &out)?;
    print!("{}", render(&result.summary, &out, args.requests));
    if args.report {
        println!("             {}/report.html, charts/*.png", out.display());
    }
    super::check::enforce(&checks, &[("base".to_string(), result.summary)])
}

/// Applies `--seed` and `--horizon` to a scenario.
pub fn apply_flags(s: &mut Scenario, args: &RunArgs) -> Result<(), CliError> {
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    if let Some(h) = &args.horizon {
        let d = parse_duration(h).map_err(|e| CliError::Input(format!("--horizon: {e}")))?;
        if d == SimDuration::ZERO || d <= s.warmup {
            return Err(CliError::Input(format!(
                "--horizon: expected a horizon longer than the warm-up ({}), found \"{h}\"",
                s.warmup
            )));
        }
        s.horizon = d;
        // Each service's view keeps its own copy (its recorder runs to it).
        for o in &mut s.others {
            o.horizon = d;
        }
        sim_core::scenario::limits::check(s)
            .and_then(|()| match s.others.is_empty() {
                true => Ok(()),
                false => sim_core::scenario::limits::check_cluster(s),
            })
            .map_err(|(key, m)| CliError::Input(format!("--horizon: for `{key}`: {m}")))?;
    }
    Ok(())
}

/// Runs `s` and writes its `summary.json`, `timeseries.csv` (and `requests.csv`) into `out`.
/// The `deferred` traces are checked after the run and before anything is written: a bad row
/// refuses the run with its error, leaving no output (and no folder it created).
pub fn run_one(
    args: &RunArgs,
    s: &Scenario,
    inputs: Inputs,
    trace_requests: Option<u64>,
    deferred: &[super::load::DeferredTrace],
    out: &Path,
) -> Result<RunResult, CliError> {
    let out = out.to_path_buf();
    let estimate = sim_core::scenario::limits::Estimate::of(s, trace_requests);
    if estimate.is_large() {
        eprintln!("note: {}", estimate.line());
    }
    // The world is built first: a run that fails before simulating leaves no folder behind.
    let world = World::new(s, inputs).map_err(|e| CliError::Input(e.to_string()))?;
    let created = !out.exists();
    std::fs::create_dir_all(&out).map_err(|e| {
        CliError::Io(format!(
            "{}: cannot create the output folder: {e}",
            out.display()
        ))
    })?;
    let mut staged = Staged::new();
    let result = if args.requests {
        let path = out.join("requests.csv");
        staged.add(&path);
        let names = s.services().map(|v| v.service.name.clone()).collect();
        let tokens = s
            .services()
            .map(|v| matches!(v.service.engine, sim_core::scenario::EngineSpec::Vllm(_)))
            .collect();
        let mut sink = CsvRequestSink::create(&path, names, tokens)?;
        let result = world.run(&mut sink);
        if let Some(e) = deferred.iter().find_map(|d| d.finish().err()) {
            drop(sink);
            return Err(refuse_run(staged, &out, created, e));
        }
        sink.finish(&path)?;
        result
    } else {
        let result = world.run(&mut NoSink);
        if let Some(e) = deferred.iter().find_map(|d| d.finish().err()) {
            return Err(refuse_run(staged, &out, created, e));
        }
        result
    };
    staged.write(&out.join("summary.json"), result.summary_json())?;
    staged.write(&out.join("timeseries.csv"), result.timeseries_csv())?;
    let incidents = result.incidents_csv();
    if let Some(text) = &incidents {
        staged.write(&out.join("incidents.csv"), text.clone())?;
    }
    if let Some(r) = &result.summary.rollout {
        staged.write(&out.join("rollout.csv"), r.ready_csv())?;
    }
    if let Some(csv) = result.tenants_csv() {
        staged.write(&out.join("tenants.csv"), csv)?;
    }
    let services = result.services_csv();
    if let Some(csv) = &services {
        staged.write(&out.join("services.csv"), csv.clone())?;
    }
    let costs = capsim_results::cost_attribution_csv(&result.summary);
    if let Some(csv) = &costs {
        staged.write(&out.join("cost_attribution.csv"), csv.clone())?;
    }
    staged.commit()?;
    // Optional files from an earlier run would not match these outputs.
    if incidents.is_none() {
        remove_stale(&out.join("incidents.csv"))?;
    }
    if result.summary.rollout.is_none() {
        remove_stale(&out.join("rollout.csv"))?;
    }
    if result.summary.tenants.is_empty() {
        remove_stale(&out.join("tenants.csv"))?;
    }
    if services.is_none() {
        remove_stale(&out.join("services.csv"))?;
    }
    if costs.is_none() {
        remove_stale(&out.join("cost_attribution.csv"))?;
    }
    if !args.requests {
        remove_stale(&out.join("requests.csv"))?;
    }
    Ok(result)
}

/// The error for a run whose trace has a bad row, found by the run's reading of it: what was
/// staged is removed, and the output folder too if the run created it (and it is empty).
fn refuse_run(
    staged: Staged,
    out: &Path,
    created: bool,
    e: sim_core::traffic::TraceError,
) -> CliError {
    drop(staged);
    if created {
        let _ = std::fs::remove_dir(out);
    }
    CliError::Input(e.to_string())
}

/// A scenario name made safe as one folder name (no separators, no `..`).
pub fn folder_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let safe = safe.trim_matches('.');
    if safe.is_empty() {
        "scenario".to_string()
    } else {
        safe.to_string()
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(s) if s >= 10.0 => format!("{s:.2} s"),
        Some(s) if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        Some(s) => format!("{:.2} ms", s * 1e3),
    }
}

/// The summary as people read it.
pub fn render(s: &Summary, out: &Path, requests: bool) -> String {
    let mut t = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "capsim {} · scenario {} · seed {} · horizon {} s (warm-up {} s)",
        s.capsim_version, s.scenario, s.seed, s.horizon_s, s.warmup_s
    );
    let r = &s.requests;
    let _ = writeln!(
        t,
        "requests     arrived {}  completed {}  dropped {}  in flight {}",
        r.arrived, r.completed, r.dropped, r.in_flight
    );
    let _ = writeln!(
        t,
        "throughput   {:.2} req/s (after warm-up)",
        s.throughput_rps
    );
    let l = &s.latency_s;
    let _ = writeln!(
        t,
        "latency      mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ms(l.mean),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max)
    );
    let w = &s.queue_wait_s;
    let _ = writeln!(
        t,
        "queue wait   mean {} (± {} s.e.)  p99 {}",
        ms(w.mean),
        ms(w.mean_stderr),
        ms(w.p99)
    );
    if let Some(target) = s.slo.latency_target_s {
        let _ = writeln!(
            t,
            "SLO          latency ≤ {}: {}",
            ms(Some(target)),
            s.slo
                .attainment_ratio
                .map_or("-".to_string(), |a| format!("{:.2}% met", a * 100.0))
        );
    }
    if let Some(k) = &s.tokens {
        let (f, p) = (&k.ttft_s, &k.tpot_s);
        let _ = writeln!(
            t,
            "TTFT         mean {}  p50 {}  p90 {}  p99 {}",
            ms(f.mean),
            ms(f.p50),
            ms(f.p90),
            ms(f.p99)
        );
        let _ = writeln!(
            t,
            "TPOT         mean {}  p50 {}  p90 {}  p99 {}",
            ms(p.mean),
            ms(p.p50),
            ms(p.p90),
            ms(p.p99)
        );
        let _ = writeln!(
            t,
            "tokens       {:.0} prompt/s  {:.0} output/s  preemptions {} ({} tokens recomputed)",
            k.prompt_tokens_per_s, k.output_tokens_per_s, k.preemptions, k.recomputed_tokens
        );
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
        let _ = writeln!(
            t,
            "KV cache     mean use {}  peak {}  prefix-cache hits {} of prompt tokens",
            pct(k.kv_cache_use_mean_ratio),
            pct(k.kv_cache_use_peak_ratio),
            pct(k.prefix_cache_hit_ratio)
        );
        if let Some(a) = k.attainment_ratio {
            let target =
                |name: &str, v: Option<f64>| v.map(|x| format!("{name} ≤ {}", ms(Some(x))));
            let targets: Vec<String> = [
                target("TTFT", k.ttft_target_s),
                target("TPOT", k.tpot_target_s),
            ]
            .into_iter()
            .flatten()
            .collect();
            let _ = writeln!(
                t,
                "SLO          {}: {:.2}% met",
                targets.join(" and "),
                a * 100.0
            );
        }
    }
    let _ = writeln!(
        t,
        "replicas     {:.1}  utilisation {:.1}%  mean queue {:.2}  mean batch {}",
        s.replicas_mean,
        s.replica_util_ratio * 100.0,
        s.queue_length_mean,
        s.batch_size_mean
            .map_or("-".to_string(), |b| format!("{b:.2}"))
    );
    if let Some(c) = &s.cluster {
        let _ = writeln!(
            t,
            "nodes        launched {}  at horizon {}  node-hours {:.2}  GPU-hours {:.2} (idle {:.2})",
            c.nodes_launched, c.nodes_at_horizon, c.node_hours, c.gpu_hours, c.idle_gpu_hours
        );
        let _ = writeln!(
            t,
            "pods         pending at horizon {}  most pending {}{}{}",
            c.pods_pending_at_horizon,
            c.pods_pending_max,
            if c.gpu_oom_kills > 0 {
                format!("  GPU OOM kills {}", c.gpu_oom_kills)
            } else {
                String::new()
            },
            c.last_unschedulable_reason
                .as_ref()
                .filter(|_| c.pods_pending_max > 0)
                .map_or(String::new(), |r| format!("  ({r})"))
        );
        let _ = writeln!(
            t,
            "cost         ${:.2} total  ${:.2}/hour  {}",
            c.cost_usd,
            c.cost_usd_per_hour,
            c.cost_usd_per_million_requests
                .map_or("-".to_string(), |m| format!("${m:.2} per million requests"))
        );
        for p in &c.pools {
            let _ = writeln!(
                t,
                "  pool {}   {} × {} ({}, ${:.3}/h): ${:.2}",
                p.name,
                p.nodes_launched,
                p.instance_type,
                p.capacity_type,
                p.price_usd_per_hour,
                p.cost_usd
            );
        }
        if let Some(k) = &c.karpenter {
            let _ = writeln!(
                t,
                "karpenter    launched {} in {} batches  consolidated: {} empty, {} underutilised, {} replaced  expired {}",
                k.nodes_launched,
                k.provisioning_batches,
                k.empty_deleted,
                k.underutilized_deleted,
                k.nodes_replaced,
                k.nodes_expired
            );
            if k.nodes_drifted > 0 {
                let _ = writeln!(t, "             drifted {}", k.nodes_drifted);
            }
        }
        super::batch::render(&mut t, c);
        if let Some(v) = &c.vpa {
            let r = |x: Option<sim_core::results::VpaResources>| {
                x.map_or("-".to_string(), |x| {
                    format!(
                        "{}m/{:.0}Mi",
                        x.cpu_millicores,
                        x.memory_bytes as f64 / 1048576.0
                    )
                })
            };
            let _ = writeln!(
                t,
                "vpa          {}  evictions {}  in-place {}  target {}  bounds {} to {}",
                v.update_mode,
                v.evictions,
                v.in_place_updates,
                r(v.target),
                r(v.lower_bound),
                r(v.upper_bound)
            );
        }
    }
    if let Some(f) = &s.failures {
        let secs =
            |x: Option<f64>| x.map_or("not by the horizon".to_string(), |x| format!("{x:.0} s"));
        let _ = writeln!(
            t,
            "failures     {} from {:.0}s  pods evicted {}  restarts {}  requests failed {}  replicas back in {}  recovered in {}",
            f.failures,
            f.first_failure_s,
            f.pods_evicted,
            f.container_restarts,
            f.requests_failed,
            secs(f.replicas_recovered_s),
            secs(f.time_to_recover_s),
        );
        if let Some(a) = f.slo_attainment_in_window {
            let _ = writeln!(
                t,
                "  incident   {:.0}s to {:.0}s: SLO {:.2}% met, {} requests lost",
                f.window_s.0,
                f.window_s.1,
                a * 100.0,
                f.requests_lost_in_window
            );
        }
    }
    if let Some(c) = &s.client {
        let _ = writeln!(
            t,
            "clients      retries {} ({} after a 429)  timeouts {}  completed after a retry {}  abandoned but served {}",
            c.retries,
            c.rate_limited_retries,
            c.timeouts,
            c.completed_after_retry,
            c.abandoned_completions
        );
    }
    if let Some(r) = &s.rollout {
        for x in &r.rollouts {
            let _ = writeln!(
                t,
                "rollout      v{} {} at {:.0}s: {}  fewest ready {} ({:+} vs desired)  extra {:.2} pod-h, {:.2} node-h, ${:.2}",
                x.version,
                x.strategy,
                x.start_s,
                x.duration_s
                    .map_or("not finished".to_string(), |d| format!("done in {d:.0}s")),
                x.min_ready_replicas,
                x.min_ready_minus_desired,
                x.extra_pod_hours,
                x.extra_node_hours,
                x.extra_cost_usd
            );
        }
        for v in &r.versions {
            let ms = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1}", x * 1e3));
            let _ = writeln!(
                t,
                "  version {}  {} requests  p50 {} ms  p99 {} ms",
                v.version,
                v.completed,
                ms(v.latency_s.p50),
                ms(v.latency_s.p99)
            );
        }
    }
    t.push_str(&super::tenants::render(s));
    if s.services.len() > 1 {
        let _ = writeln!(
            t,
            "services     {:<16} {:>9} {:>9} {:>7}  {:>10}  {:>10}  {:>10}  {:>8}  {:>9}",
            "name",
            "arrived",
            "completed",
            "dropped",
            "p99",
            "TTFT p99",
            "TPOT p99",
            "SLO met",
            "replica-h"
        );
        for v in &s.services {
            let tok = v.tokens.as_ref();
            let met = tok
                .and_then(|k| k.attainment_ratio)
                .or(v.slo.attainment_ratio)
                .map_or("-".to_string(), |a| format!("{:.2}%", a * 100.0));
            let _ = writeln!(
                t,
                "  {:<26} {:>9} {:>9} {:>7}  {:>10}  {:>10}  {:>10}  {:>8}  {:>9.1}",
                v.name,
                v.requests.arrived,
                v.requests.completed,
                v.requests.dropped,
                ms(v.latency_s.p99),
                ms(tok.and_then(|k| k.ttft_s.p99)),
                ms(tok.and_then(|k| k.tpot_s.p99)),
                met,
                v.replica_hours
            );
        }
    }
    for w in &s.warnings {
        let _ = writeln!(t, "warning      {w}");
    }
    let mut files = String::from("summary.json, timeseries.csv, ");
    for name in optional_files(s) {
        files.push_str(name);
        files.push_str(", ");
    }
    let _ = writeln!(
        t,
        "wrote        {}/{files}scenario.toml, inputs.csv{}",
        out.display(),
        if requests { ", requests.csv" } else { "" }
    );
    t
}

/// The optional files a run with summary `s` writes beside `summary.json` and `timeseries.csv`.
pub(super) fn optional_files(s: &Summary) -> impl Iterator<Item = &'static str> {
    [
        (s.rollout.is_some(), "rollout.csv"),
        (!s.tenants.is_empty(), "tenants.csv"),
        (s.failures.is_some(), "incidents.csv"),
        (s.services.len() > 1, "services.csv"),
        (
            s.cluster.as_ref().is_some_and(|c| c.idle_cost.is_some()),
            "cost_attribution.csv",
        ),
    ]
    .into_iter()
    .filter_map(|(written, name)| written.then_some(name))
}

/// Removes a file an earlier run wrote that this run does not (absent: nothing to do).
fn remove_stale(stale: &std::path::Path) -> Result<(), CliError> {
    if stale.exists() {
        std::fs::remove_file(stale).map_err(|e| {
            CliError::Io(format!(
                "{}: cannot remove the stale file: {e}",
                stale.display()
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hash_file;

    /// Hashing in chunks gives the same length and FNV-1a as hashing the whole file at once.
    #[test]
    fn chunked_hash_matches_whole_file_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            hash_file(&path).unwrap(),
            (bytes.len() as u64, reports::fnv1a64(&bytes))
        );
    }
}
