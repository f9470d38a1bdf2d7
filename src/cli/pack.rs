//! `capsim pack`: the FGD paper's packing experiment on an openb-format node and pod list.

use super::error::CliError;
use super::output::Staged;
use sim_core::gpu::pack::{mean_unallocated, to_csv};
use sim_core::gpu::{parse_nodes, parse_pods, run_grid, PackConfig, Policy};
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
    /// Target GPU request as a multiple of capacity.
    pub inflate: f64,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
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

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{}: cannot read: {e}", path.display())))
}

/// Runs the experiment, writes `OUT/pack.csv` and prints the mean unallocated GPU share at 100%.
pub fn pack(args: &PackArgs) -> Result<(), CliError> {
    let policies = parse_policies(&args.policy)?;
    let seeds = parse_seeds(&args.seeds)?;
    if !(args.inflate.is_finite() && args.inflate > 0.0 && args.inflate <= 100.0) {
        return Err(CliError::Input(format!(
            "--inflate {}: expected a number above 0 and at most 100 (the artifact uses 1.3)",
            args.inflate
        )));
    }
    if args.threads == Some(0) {
        return Err(CliError::Input("--threads 0: expected at least 1".into()));
    }
    let nodes_name = args.nodes.display().to_string();
    let pods_name = args.pods.display().to_string();
    let mut trace = parse_nodes(&nodes_name, &read(&args.nodes)?)
        .map_err(|e| CliError::Input(e.to_string()))?;
    parse_pods(&pods_name, &read(&args.pods)?, &mut trace)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let cfg = PackConfig {
        policies: policies.clone(),
        seeds: seeds.clone(),
        inflate: args.inflate,
    };
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

    let started = Instant::now();
    let runs = match args.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| CliError::Io(format!("cannot start {n} threads: {e}")))?
            .install(|| run_grid(&trace, &cfg)),
        None => run_grid(&trace, &cfg),
    };
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
        args.inflate,
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
    Ok(())
}
