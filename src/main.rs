//! `capsim`: the command-line interface. It parses arguments, reads and writes files, and calls
//! `sim-core`; all modelling lives in the library.

mod cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Simulate a Kubernetes GPU inference cluster: latency, capacity and cost per hour.
#[derive(Parser, Debug)]
#[command(name = "capsim", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  capsim run scenarios/quickstart.toml\n  capsim validate scenarios/quickstart.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write summary.json and timeseries.csv.
    #[command(
        after_help = "Example:\n  capsim run scenarios/quickstart.toml --seed 7 --out results/quick-7 --requests\n\n\
        Writes OUT/summary.json, OUT/timeseries.csv and, with --requests, OUT/requests.csv.\n\
        OUT defaults to results/<scenario name>."
    )]
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seed for every random stream (overrides `simulation.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Simulated time to run, e.g. "30m" (overrides `simulation.horizon`).
        #[arg(long)]
        horizon: Option<String>,
        /// Also stream one row per request to requests.csv.
        #[arg(long)]
        requests: bool,
    },
    /// Replay an openb-format trace with each GPU placement policy (the FGD paper's experiment).
    #[command(
        after_help = "Example:\n  capsim pack --nodes scenarios/traces/alibaba-openb/openb_node_list_gpu_node.csv \\\n    --pods scenarios/traces/alibaba-openb/openb_pod_list_default.csv --policy all --seeds 42-51\n\n\
        Writes OUT/pack.csv (OUT defaults to results/pack) and prints the mean unallocated GPU %\n\
        at 100% arrived per policy."
    )]
    Pack {
        /// Node list CSV (sn,cpu_milli,memory_mib,gpu,model); only GPU nodes are used.
        #[arg(long)]
        nodes: PathBuf,
        /// Pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec]).
        #[arg(long)]
        pods: PathBuf,
        /// random, dotprod, clustering, packing, bestfit, fgd, a comma-separated list, or all.
        #[arg(long, default_value = "all")]
        policy: String,
        /// Seeds: A-B for A to B inclusive, or one seed.
        #[arg(long, default_value = "42-51")]
        seeds: String,
        /// Total GPU request to reach, as a multiple of GPU capacity.
        #[arg(long, default_value_t = 1.3)]
        inflate: f64,
        /// Output folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: one per core); results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check a scenario (and the trace it names) without running it.
    #[command(after_help = "Example:\n  capsim validate scenarios/quickstart.toml")]
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            horizon,
            requests,
        } => cli::run::run(&cli::run::RunArgs {
            scenario,
            seed,
            out,
            horizon,
            requests,
        }),
        Command::Pack {
            nodes,
            pods,
            policy,
            seeds,
            inflate,
            out,
            threads,
        } => cli::pack::pack(&cli::pack::PackArgs {
            nodes,
            pods,
            policy,
            seeds,
            inflate,
            out,
            threads,
        }),
        Command::Validate { scenario } => cli::validate::validate(&scenario),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
