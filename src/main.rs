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
    after_help = "Examples:\n  capsim run scenarios/quickstart.toml\n  capsim validate scenarios/quickstart.toml\n  capsim report results/quickstart --out report.html"
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
        Writes OUT/summary.json, OUT/timeseries.csv, OUT/scenario.toml (the scenario's text), OUT/inputs.csv\n\
        (each input file with its 64-bit FNV-1a hash), with --requests OUT/requests.csv and, with --report,\n\
        OUT/report.html and OUT/charts/*.png.\n\
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
        /// Also write OUT/report.html and OUT/charts/*.png.
        #[arg(long)]
        report: bool,
    },
    /// Turn a results folder into one self-contained HTML report (and PNG charts).
    #[command(
        after_help = "Example:\n  capsim run scenarios/quickstart.toml --out results/quick\n  \
        capsim report results/quick --out results/quick/report.html --png results/quick/charts\n\n\
        Reads RESULTS/summary.json, timeseries.csv and, when present, scenario.toml, inputs.csv,\n\
        comparison.csv and policies/<name>/. The page has no scripts and loads nothing from the network."
    )]
    Report {
        /// Results folder written by `capsim run`.
        results: PathBuf,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
        /// Also write one PNG per chart into this folder.
        #[arg(long)]
        png: Option<PathBuf>,
    },
    /// Compare the cost model's predicted step times with measured ones.
    #[command(
        after_help = "Example:\n  capsim calibrate --gpu h100-sxm --measured decode.csv --measured prefill.csv --out results/cal\n\n\
        Each file has the columns `model,params_gb,batch,context,ms` (decode steps) or\n\
        `model,params_gb,batch,prompt,ms` (prefills); `model` is a catalog id. Writes\n\
        OUT/calibration.csv (the rows with predicted_ms and error_pct) and prints the median and\n\
        maximum absolute error per file. The GPU catalog's constants are evaluated, never fitted."
    )]
    Calibrate {
        /// GPU catalog id, such as h100-sxm.
        #[arg(long)]
        gpu: String,
        /// A CSV file of measured step times (repeat for several).
        #[arg(long, required = true)]
        measured: Vec<PathBuf>,
        /// Output folder (default results/calibration).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also print constants fitted to these files, for a new GPU's catalog entry.
        #[arg(long)]
        fit: bool,
    },
    /// Replay an openb-format trace with each GPU placement policy (the FGD paper's experiment).
    #[command(
        after_help = "Example:\n  capsim pack --nodes scenarios/traces/alibaba-openb/openb_node_list_gpu_node.csv \\\n    --pods scenarios/traces/alibaba-openb/openb_pod_list_default.csv --policy all --seeds 42-51\n\n\
        Writes OUT/pack.csv (OUT defaults to results/pack) and prints the mean unallocated GPU %\n\
        at 100% arrived per policy.\n\n\
        With --replay, the pods instead arrive at their creation_time and leave at their\n\
        deletion_time (no inflation); OUT/replay.csv gets one row per policy, seed and --interval\n\
        (default 1h), and the mean allocation, fragmentation and failed pods are printed per policy."
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
        /// Total GPU request to reach, as a multiple of GPU capacity (default 1.3; not with --replay).
        #[arg(long)]
        inflate: Option<f64>,
        /// Replay the pods at their creation and deletion times instead.
        #[arg(long)]
        replay: bool,
        /// With --replay: time between samples, such as 1h or 30m (whole seconds).
        #[arg(long)]
        interval: Option<String>,
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
    /// HPA dry-run calculator: run one CASE file through the upstream HPA algorithm.
    #[command(
        name = "hpa-eval",
        after_help = "Example:\n  capsim hpa-eval tests/hpa/reconcile_scale_up_deployment.toml\n\n\
        Prints `desired_replicas=N reason=R` (for stage `replicas`, then `utilization=U` or\n\
        `usage=U` in milli-units), the stored recommendations and scale events, and an explanation.\n\
        The CASE format is documented in the book (HPA page)."
    )]
    HpaEval {
        /// CASE file (TOML).
        case: PathBuf,
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
            report,
        } => cli::run::run(&cli::run::RunArgs {
            scenario,
            seed,
            out,
            horizon,
            requests,
            report,
        }),
        Command::Pack {
            nodes,
            pods,
            policy,
            seeds,
            inflate,
            replay,
            interval,
            out,
            threads,
        } => cli::pack::pack(&cli::pack::PackArgs {
            nodes,
            pods,
            policy,
            seeds,
            inflate,
            replay,
            interval,
            out,
            threads,
        }),
        Command::Report { results, out, png } => {
            cli::report::report(&results, &out, png.as_deref())
        }
        Command::Validate { scenario } => cli::validate::validate(&scenario),
        Command::HpaEval { case } => cli::hpa_eval::hpa_eval(&case),
        Command::Calibrate {
            gpu,
            measured,
            out,
            fit,
        } => cli::calibrate::calibrate(&cli::calibrate::CalibrateArgs {
            gpu,
            measured,
            out,
            fit,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
