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
    after_help = "Examples:\n  capsim run scenarios/quickstart.toml\n  capsim validate scenarios/quickstart.toml\n  capsim catalog instances\n  capsim report results/quickstart --out report.html"
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
        /// Kubernetes manifests (YAML files, or folders of them) applied over the scenario:
        /// Deployment or Pod, HorizontalPodAutoscaler, VerticalPodAutoscaler,
        /// PodDisruptionBudget, ResourceQuota, PriorityClass, KServe InferenceService;
        /// unmodelled fields are listed.
        manifests: Vec<PathBuf>,
        /// Seed for every random stream (overrides `simulation.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder.
        #[arg(short, long)]
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
        /// Override a scenario key, e.g. `--set service.replicas=4` or, with [[service]]
        /// tables, `--set service.chat.hpa.maxReplicas=8` (repeatable; VALUE is TOML, or text).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
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
        #[arg(short, long)]
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
        maximum absolute error per file. The GPU catalog's constants are evaluated, never fitted.\n\n\
        --gemm FILE evaluates the GEMM model on micro-benchmarks (columns m,k,n,ms), each timed\n\
        alone outside a CUDA graph, so a launch gap (fitted) is added to every kernel."
    )]
    Calibrate {
        /// GPU catalog id, such as h100-sxm.
        #[arg(long)]
        gpu: String,
        /// A CSV file of measured step times (repeat for several).
        #[arg(long, required_unless_present = "gemm")]
        measured: Vec<PathBuf>,
        /// A CSV file of GEMM micro-benchmarks (`m,k,n,ms`): evaluate the GEMM model on it, and
        /// with --fit print the GEMM constants it gives.
        #[arg(long)]
        gemm: Option<PathBuf>,
        /// Output folder (default results/calibration).
        #[arg(short, long)]
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
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Worker threads (default: one per core); results do not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Also write OUT/report.html (replay.html with --replay) and OUT/charts/*.png.
        #[arg(long)]
        report: bool,
    },
    /// Check a scenario (and the trace it names) without running it.
    #[command(
        after_help = "Example:\n  capsim validate scenarios/quickstart.toml --strict\n\n\
        Warns when the service's pods fit no node pool (for each [[policy]] variant, or the scenario\n\
        itself without variants); --strict turns warnings into exit code 2."
    )]
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Kubernetes manifests (YAML files, or folders of them) applied over the scenario.
        manifests: Vec<PathBuf>,
        /// Exit with code 2 when there is a warning (for CI).
        #[arg(long)]
        strict: bool,
        /// Override a scenario key, as `capsim run --set` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
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
    /// Run a scenario at every point of a sweep file; write sweep.csv (one row per point and policy).
    #[command(
        after_help = "Examples:\n  capsim sweep scenarios/sweep-replicas.toml --threads 2 --out results/sweep\n  \
        capsim sweep scenarios/sweep-replicas.toml --shard 0/3 --out results/shard-0\n  \
        capsim sweep scenarios/sweep-replicas.toml --emit-k8s-job 3 > sweep-job.yaml\n\n\
        Writes OUT/sweep.csv, OUT/manifest.json, copies of the sweep file and base scenario and\n\
        OUT/points/<index>.json (with --report, also OUT/report.html and OUT/charts/*.png); a rerun into the same\n\
        folder reuses finished points. Exit code 3 when a [[check]] fails. See the book's Sweeps page.\n\n\
        --emit-k8s-job N prints a ConfigMap holding the sweep file, its scenario and the files they\n\
        read (each at most 256 KiB, 1 MiB in all; larger ones come from --inputs-pvc) and an Indexed\n\
        Job whose pod I runs --shard I/N into /results/shard-I on the claim capsim-results:\n\
        `kubectl apply -f` it, wait for the Job, copy the shard folders back and `capsim merge` them.\n\
        Files keep their paths below the current folder (or below the folder that holds them all)."
    )]
    Sweep {
        /// Sweep file (TOML).
        sweep: PathBuf,
        /// Worker threads (default: one per core); sweep.csv does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Output folder (default results/<sweep file stem>).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Run only shard I of N (points whose index mod N is I), I from 0 to N-1.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Print a ConfigMap of the sweep's files and a Kubernetes Indexed Job running the sweep in N
        /// shards (default 4) instead.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "4")]
        emit_k8s_job: Option<usize>,
        /// Container image for --emit-k8s-job (default capsim:<version>; build it from the
        /// repository's Dockerfile).
        #[arg(long, requires = "emit_k8s_job")]
        image: Option<String>,
        /// With --emit-k8s-job: a PersistentVolumeClaim holding the input files too large for
        /// the Job's ConfigMap (over 256 KiB each, or named with --pvc-input), each at the path
        /// it has in the pod's /work (below the current folder, as a rule).
        #[arg(long, value_name = "NAME", requires = "emit_k8s_job")]
        inputs_pvc: Option<String>,
        /// With --inputs-pvc: take this input file from the claim whatever its size
        /// (repeatable).
        #[arg(long, value_name = "FILE", requires = "inputs_pvc")]
        pvc_input: Vec<PathBuf>,
        /// Also write OUT/report.html and OUT/charts/*.png.
        #[arg(long)]
        report: bool,
        /// Override a key of the base scenario before the sweep's axes are set, as `capsim run
        /// --set` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Join the output folders of sweep shards into one sweep.csv.
    #[command(
        after_help = "Example:\n  capsim merge results/shard-0 results/shard-1 results/shard-2 --out results/sweep"
    )]
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Print a built-in catalog: GPUs, instance types (with prices' dates and sources), models, MIG.
    #[command(
        after_help = "Examples:\n  capsim catalog instances --gpu h100-sxm\n  capsim catalog mig --gpu h100-sxm --format csv\n\n\
        Prints the catalogs compiled into capsim (sim-core/catalog/*.toml). Memory is in GiB, prices\n\
        in US dollars per node-hour; `-` is an empty cell (no spot price, no GPU)."
    )]
    Catalog {
        /// Which catalog.
        #[arg(value_enum)]
        which: cli::catalog::Which,
        /// Only this GPU's entries (a GPU catalog id such as h100-sxm; not for `models`).
        #[arg(long)]
        gpu: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: cli::catalog::Format,
        /// Print the catalog as this scenario sees it: with the catalog files its `[cluster]`
        /// names and its `[[model]]` tables.
        #[arg(long)]
        scenario: Option<std::path::PathBuf>,
    },
    /// Find the sweep point that minimises a metric while its [[check]]s hold.
    #[command(
        after_help = "Example:\n  capsim optimize tests/sweep/optimize.toml --minimize replica_hours\n\n\
        Bisects the axis marked monotone = \"increasing\" for each combination of the others.\n\
        Writes OUT/optimize.csv (the points explored); exit code 3 when no point passes."
    )]
    Optimize {
        /// Sweep file (TOML, design = "grid").
        sweep: PathBuf,
        /// Metric to minimise, such as cost_usd_per_hour.
        #[arg(long)]
        minimize: String,
        /// Worker threads (default: one per core).
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Output folder (default results/<sweep file stem>).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

/// Restores the default SIGPIPE action (Rust ignores it), so output piped into a reader that
/// closes early (`capsim pack ... | head`) ends the process quietly instead of panicking.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread is spawned; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// On Ctrl-C, SIGTERM or SIGHUP, removes the temporary output files being written and exits
/// with 128 + the signal: the signals are blocked in every thread and one thread waits for them.
fn clean_up_on_interrupt() {
    #[cfg(unix)]
    {
        // SAFETY: sigset_t is plain data that sigemptyset initialises before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: called once at start-up, before any other thread is spawned; `set` is a
        // valid, initialised signal set.
        let blocked = unsafe {
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) == 0
        };
        if !blocked {
            return;
        }
        std::thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid signal set owned by this closure; `sig` is writable.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                cli::output::remove_in_progress();
                std::process::exit(128 + sig);
            }
        });
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    clean_up_on_interrupt();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            manifests,
            seed,
            out,
            horizon,
            requests,
            report,
            set,
        } => cli::run::run(&cli::run::RunArgs {
            scenario,
            manifests,
            seed,
            out,
            horizon,
            requests,
            report,
            sets: set,
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
            report,
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
            report,
        }),
        Command::Report { results, out, png } => {
            cli::report::report(&results, &out, png.as_deref())
        }
        Command::Validate {
            scenario,
            manifests,
            strict,
            set,
        } => cli::validate::validate(&scenario, &manifests, &set, strict),
        Command::HpaEval { case } => cli::hpa_eval::hpa_eval(&case),
        Command::Sweep {
            sweep,
            threads,
            out,
            shard,
            emit_k8s_job,
            image,
            inputs_pvc,
            pvc_input,
            report,
            set,
        } => cli::sweep::sweep(&cli::sweep::SweepArgs {
            sweep,
            threads,
            out,
            shard,
            emit_k8s_job,
            image,
            inputs_pvc,
            pvc_inputs: pvc_input,
            report,
            sets: set,
        }),
        Command::Merge { shards, out } => cli::sweep::shard::merge(&shards, &out),
        Command::Optimize {
            sweep,
            minimize,
            threads,
            out,
        } => cli::sweep::optimize::optimize(&cli::sweep::optimize::OptimizeArgs {
            sweep,
            minimize,
            threads,
            out,
        }),
        Command::Catalog {
            which,
            gpu,
            format,
            scenario,
        } => cli::catalog::catalog(which, gpu.as_deref(), format, scenario.as_deref()),
        Command::Calibrate {
            gpu,
            measured,
            gemm,
            out,
            fit,
        } => cli::calibrate::calibrate(&cli::calibrate::CalibrateArgs {
            gpu,
            measured,
            gemm,
            out,
            fit,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Failed checks are a result, not an error of capsim's: reported as such.
        Err(e @ cli::error::CliError::Checks(_)) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
