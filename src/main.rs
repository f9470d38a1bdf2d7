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
            report,
        } => cli::run::run(&cli::run::RunArgs {
            scenario,
            seed,
            out,
            horizon,
            requests,
            report,
        }),
        Command::Report { results, out, png } => {
            cli::report::report(&results, &out, png.as_deref())
        }
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
