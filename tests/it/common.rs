//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the built `capsim` binary with `args` from the repository root.
pub fn capsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("capsim runs")
}

/// Runs `capsim` and returns (exit code, stdout, stderr).
pub fn capsim_text(args: &[&str]) -> (i32, String, String) {
    let o = capsim(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The names of the entries of a folder, sorted (empty if it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs `s` with `inputs` to its horizon (no recorder sink) and checks that every request that
/// arrived completed, was dropped or is still in flight.
pub fn run_conserving(s: &sim_core::Scenario, inputs: sim_core::Inputs) -> sim_core::RunResult {
    let r = sim_core::World::new(s, inputs)
        .unwrap()
        .run(&mut sim_core::metrics::NoSink);
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "conservation"
    );
    r
}
