//! `capsim pack`: the FGD paper's packing experiment on an openb-format node and pod list.

use super::error::CliError;
use super::output::Staged;
use sim_core::engine::time::{parse_duration, NANOS_PER_SEC};
use sim_core::gpu::pack::{mean_unallocated, to_csv};
use sim_core::gpu::replay;
use sim_core::gpu::{
    parse_nodes, parse_pods, run_grid, run_replay, PackConfig, PackTrace, Policy, ReplayConfig,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The flags of `capsim pack`.
#[derive(Debug)]
pub struct PackArgs {
    /// Node list CSV.
    pub nodes: PathBuf,
    /// Pod list CSV.
    pub pods: PathBuf,
    /// Policy name, comma-separated names, or `all`.
    pub policy: String,
    /// `A-B` (inclusive) or `A`.
    pub seeds: String,
    /// Target GPU request as a multiple of capacity (`None`: 1.3; not with `replay`).
    pub inflate: Option<f64>,
    /// Replay the pods at their creation and deletion times instead of the packing protocol.
    pub replay: bool,
    /// With `replay`: the time between samples (a duration such as `1h`; `None`: 1 h).
    pub interval: Option<String>,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Also write an HTML report and PNG charts into the output folder.
    pub report: bool,
}

/// Parses `--policy`: one name, several separated by commas, or `all`.
pub fn parse_policies(s: &str) -> Result<Vec<Policy>, CliError> {
    if s.trim() == "all" {
        return Ok(Policy::ALL.to_vec());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let p: Policy = part
            .trim()
            .parse()
            .map_err(|e| CliError::Input(format!("--policy: {e}")))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Parses `--seeds`: `A-B` for the seeds A to B inclusive, or one seed `A`.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, CliError> {
    let bad = |why: &str| {
        CliError::Input(format!(
            "--seeds {s}: {why} (expected A-B with A <= B, e.g. 42-51, or one seed, e.g. 42)"
        ))
    };
    let num = |t: &str| -> Result<u64, CliError> {
        t.trim()
            .parse::<u64>()
            .map_err(|_| bad(&format!("`{}` is not a whole number", t.trim())))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let a = num(s)?;
            (a, a)
        }
    };
    if a > b {
        return Err(bad("the first seed is larger than the last"));
    }
    if b - a >= 100_000 {
        return Err(bad("more than 100000 seeds"));
    }
    Ok((a..=b).collect())
}

fn load(args: &PackArgs) -> Result<PackTrace, CliError> {
    if args.threads == Some(0) {
        return Err(CliError::Input("--threads 0: expected at least 1".into()));
    }
    let nodes_name = args.nodes.display().to_string();
    let pods_name = args.pods.display().to_string();
    let mut trace = parse_nodes(&nodes_name, &read(&args.nodes)?)
        .map_err(|e| CliError::Input(e.to_string()))?;
    parse_pods(&pods_name, &read(&args.pods)?, &mut trace)
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(trace)
}

fn out_dir(args: &PackArgs) -> Result<PathBuf, CliError> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/pack"));
    std::fs::create_dir_all(&out).map_err(|e| {
        CliError::Io(format!(
            "{}: cannot create the output folder: {e}",
            out.display()
        ))
    })?;
    Ok(out)
}

fn on_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, CliError> {
    match threads {
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| CliError::Io(format!("cannot start {n} threads: {e}")))?
            .install(f)),
        None => Ok(f()),
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    crate::cli::read_text(path)
        .map_err(|e| CliError::Input(format!("{}: cannot read: {e}", path.display())))
}

/// Parses `--interval`: a duration of whole seconds, at least one.
pub fn parse_interval(s: &str) -> Result<u64, CliError> {
    let d = parse_duration(s).map_err(|e| CliError::Input(format!("--interval: {e}")))?;
    if d.0 == 0 || d.0 % NANOS_PER_SEC != 0 {
        return Err(CliError::Input(format!(
            "--interval {s}: expected a whole number of seconds, at least 1 s (the trace's times are whole seconds), e.g. 1h or 30m"
        )));
    }
    Ok(d.0 / NANOS_PER_SEC)
}

/// Runs the experiment, writes `OUT/pack.csv` and prints the mean unallocated GPU share at 100%;
/// with `replay`, runs the time-based replay instead and writes `OUT/replay.csv`.
pub fn pack(args: &PackArgs) -> Result<(), CliError> {
    let policies = parse_policies(&args.policy)?;
    let seeds = parse_seeds(&args.seeds)?;
    if args.replay {
        if let Some(x) = args.inflate {
            return Err(CliError::Input(format!(
                "--inflate {x}: the replay uses the pods as they are, without inflation; leave --inflate out"
            )));
        }
        let interval = parse_interval(args.interval.as_deref().unwrap_or("1h"))?;
        return replay(args, policies, seeds, interval);
    }
    if let Some(i) = &args.interval {
        return Err(CliError::Input(format!(
            "--interval {i}: only the replay samples over time; add --replay"
        )));
    }
    let inflate = args.inflate.unwrap_or(1.3);
    if !(inflate.is_finite() && inflate > 0.0 && inflate <= 100.0) {
        return Err(CliError::Input(format!(
            "--inflate {inflate}: expected a number above 0 and at most 100 (the artifact uses 1.3)"
        )));
    }
    let trace = load(args)?;
    let cfg = PackConfig {
        policies: policies.clone(),
        seeds: seeds.clone(),
        inflate,
    };
    let out = out_dir(args)?;

    let started = Instant::now();
    let runs = on_threads(args.threads, || run_grid(&trace, &cfg))?;
    let secs = started.elapsed().as_secs_f64();

    let mut staged = Staged::new();
    let csv_path = out.join("pack.csv");
    staged.write(&csv_path, to_csv(&runs))?;
    staged.commit()?;

    println!(
        "capsim pack: {} GPU nodes, {} GPUs, {} pods in the trace; inflate {}; seeds {}-{} ({} runs in {:.1} s)",
        trace.nodes.len(),
        trace.capacity_milli() / 1000,
        trace.pods.len(),
        inflate,
        seeds[0],
        seeds[seeds.len() - 1],
        runs.len(),
        secs
    );
    println!("policy      unallocated GPU % at 100% arrived (mean over seeds)");
    for p in &policies {
        match mean_unallocated(&runs, *p, 100) {
            Some((m, n)) => println!(
                "{:<11} {:>6.2}   ({} of {} seeds)",
                p.name(),
                m,
                n,
                seeds.len()
            ),
            None => println!("{:<11}    n/a   (no run reached 100% arrived)", p.name()),
        }
    }
    println!("wrote {}", csv_path.display());
    if args.report {
        let written = super::report::write_pack_report(&out, reports::pack::PackKind::Pack)?;
        println!("wrote {} and {} PNG charts", written[0], written.len() - 1);
    }
    Ok(())
}

/// `capsim pack --replay`: the pods at their own times; writes `OUT/replay.csv` and prints each
/// policy's mean allocation, fragmentation and failed pods.
fn replay(
    args: &PackArgs,
    policies: Vec<Policy>,
    seeds: Vec<u64>,
    interval_s: u64,
) -> Result<(), CliError> {
    let trace = load(args)?;
    if trace.times.is_none() {
        return Err(CliError::Input(format!(
            "{}: column `creation_time`: missing column (--replay needs creation_time and deletion_time)",
            args.pods.display()
        )));
    }
    // Refused before the output folder is made.
    if let Some(times) = &trace.times {
        replay::samples(times, interval_s).map_err(CliError::Input)?;
    }
    let cfg = ReplayConfig {
        policies: policies.clone(),
        seeds: seeds.clone(),
        interval_s,
    };
    let out = out_dir(args)?;
    let started = Instant::now();
    let runs = on_threads(args.threads, || run_replay(&trace, &cfg))?.map_err(CliError::Input)?;
    let secs = started.elapsed().as_secs_f64();

    let mut staged = Staged::new();
    let csv_path = out.join("replay.csv");
    staged.write(&csv_path, replay::to_csv(&runs))?;
    staged.commit()?;

    let samples = runs.first().map_or(0, |r| r.rows.len());
    println!(
        "capsim pack --replay: {} GPU nodes, {} GPUs, {} pods; {} samples every {} s; seeds {}-{} ({} runs in {:.1} s)",
        trace.nodes.len(),
        trace.capacity_milli() / 1000,
        trace.pods.len(),
        samples,
        interval_s,
        seeds[0],
        seeds[seeds.len() - 1],
        runs.len(),
        secs
    );
    println!("policy      mean alloc GPU %  mean frag GPU %  peak alloc GPU %  failed pods (mean over seeds)");
    for p in &policies {
        if let Some(s) = replay::summarise(&runs, *p) {
            println!(
                "{:<11} {:>16.2}  {:>15.2}  {:>16.2}  {:>11.1}",
                p.name(),
                s.mean_alloc_gpu_pct,
                s.mean_frag_gpu_pct,
                s.peak_alloc_gpu_pct,
                s.mean_failed
            );
        }
    }
    println!("wrote {}", csv_path.display());
    if args.report {
        let written = super::report::write_pack_report(&out, reports::pack::PackKind::Replay)?;
        println!("wrote {} and {} PNG charts", written[0], written.len() - 1);
    }
    Ok(())
}
