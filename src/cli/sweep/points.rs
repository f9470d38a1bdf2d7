//! Running sweep points: in parallel, each point's result kept as `points/<index>.json` (written
//! under a temporary name, then renamed), so a rerun into the same folder skips finished points
//! and an interrupted run leaves only whole files.

use super::stats::{mean_ci, replication_seed};
use super::{with_threads, Plan};
use crate::cli::compare::METRICS;
use crate::cli::error::CliError;
use crate::cli::output::temp_name;
use rayon::prelude::*;
use sim_core::metrics::NoSink;
use sim_core::World;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Metric values of one run, in [`METRICS`] order, then the windows of windowed checks
/// ([`crate::cli::check::sweep_values`]).
pub type Values = Vec<Option<f64>>;

/// One point's results: per policy variant (file order), the values of each replication.
#[derive(Clone, Debug, PartialEq)]
pub struct PointResult {
    /// Point index.
    pub point: usize,
    /// (policy, replications).
    pub rows: Vec<(String, Vec<Values>)>,
}

/// Per metric: the mean over replications and its 95% CI half-width (`None` where a
/// replication lacks the metric).
/// Every value is averaged: the metrics, then the windows of windowed checks.
pub fn means(runs: &[Values]) -> Vec<Option<(f64, Option<f64>)>> {
    let n = runs.iter().map(Vec::len).min().unwrap_or(0);
    (0..n)
        .map(|j| {
            let xs: Option<Vec<f64>> = runs.iter().map(|r| r[j]).collect();
            xs.map(|xs| mean_ci(&xs))
        })
        .collect()
}

/// Progress on stderr: one rewritten line on a terminal, plain lines otherwise.
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    ran: AtomicUsize,
    tty: bool,
    what: &'static str,
    /// `total` is an upper bound (optimize's bisection may stop early), not an exact count.
    at_most: bool,
    lock: Mutex<()>,
}

impl Progress {
    /// Progress over `total` points.
    pub fn new(total: usize, what: &'static str) -> Self {
        Progress {
            total,
            done: AtomicUsize::new(0),
            ran: AtomicUsize::new(0),
            tty: std::io::stderr().is_terminal(),
            what,
            at_most: false,
            lock: Mutex::new(()),
        }
    }

    /// Progress over at most `bound` points, counted over every round that shares it.
    pub fn at_most(bound: usize, what: &'static str) -> Self {
        Progress {
            at_most: true,
            ..Progress::new(bound, what)
        }
    }

    /// Ends a terminal's progress line that stopped short of its bound.
    pub fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        if self.tty && done != self.total {
            let _guard = self.lock.lock();
            let _ = writeln!(std::io::stderr().lock());
        }
    }

    /// Points actually run (not reused from an earlier run).
    pub fn ran(&self) -> usize {
        self.ran.load(Ordering::Relaxed)
    }

    fn tick(&self, point: usize, reused: bool) {
        if !reused {
            self.ran.fetch_add(1, Ordering::Relaxed);
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = if self.at_most {
            format!("at most {}", self.total)
        } else {
            self.total.to_string()
        };
        let _guard = self.lock.lock();
        let mut e = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = done * width / self.total.max(1);
            let _ = write!(
                e,
                "\r{} [{}{}] {done} of {total} points",
                self.what,
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
            );
            if done == self.total {
                let _ = writeln!(e);
            }
        } else {
            let _ = writeln!(
                e,
                "{}: point {point} {} ({done} of {total})",
                self.what,
                if reused { "reused" } else { "done" },
            );
        }
    }
}

/// Results of the points in `indices`, reading finished ones from `out/points/` and running
/// the rest in parallel; each finished point is written there at once.
pub fn evaluate(
    plan: &Plan,
    indices: &[usize],
    out: &Path,
    threads: Option<usize>,
    progress: &Progress,
) -> Result<BTreeMap<usize, PointResult>, CliError> {
    let dir = out.join("points");
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::Io(format!(
            "{}: cannot create the output folder: {e}",
            dir.display()
        ))
    })?;
    let results: Vec<Result<PointResult, CliError>> = with_threads(threads, || {
        indices
            .par_iter()
            .map(|&p| {
                let path = dir.join(format!("{p}.json"));
                if let Some(r) = read_point(plan, &path, p) {
                    progress.tick(p, true);
                    return Ok(r);
                }
                let r = run_point(plan, p)?;
                let tmp = temp_name(&path);
                std::fs::write(&tmp, to_json(plan, &r))
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| CliError::Io(format!("{}: cannot write: {e}", path.display())))?;
                progress.tick(p, false);
                Ok(r)
            })
            .collect()
    })?;
    let mut map = BTreeMap::new();
    for r in results {
        let r = r?;
        map.insert(r.point, r);
    }
    Ok(map)
}

/// Runs point `p`: each policy variant, each replication with its derived seed (variants share
/// seeds: common random numbers).
pub fn run_point(plan: &Plan, p: usize) -> Result<PointResult, CliError> {
    let mut rows = Vec::new();
    for (name, s, inputs) in plan.point_scenarios(p)? {
        let mut runs = Vec::with_capacity(plan.sweep.replications);
        for r in 0..plan.sweep.replications {
            let mut s = s.clone();
            s.seed = replication_seed(s.seed, r);
            let world = World::new(&s, inputs.clone())
                .map_err(|e| CliError::Input(format!("point {p} ({}): {e}", plan.describe(p))))?;
            let result = world.run(&mut NoSink);
            runs.push(crate::cli::check::sweep_values(
                &plan.checks,
                &result.summary,
            ));
        }
        rows.push((name, runs));
    }
    Ok(PointResult { point: p, rows })
}

/// The point file: identity (version and hashes) and every run's values, as exact decimal
/// strings (Rust's shortest round-trip form).
fn to_json(plan: &Plan, r: &PointResult) -> String {
    use serde_json::{json, Value};
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|(policy, runs)| {
            let runs: Vec<Vec<Value>> = runs
                .iter()
                .map(|v| {
                    v.iter()
                        .map(|x| x.map_or(Value::Null, |x| Value::String(x.to_string())))
                        .collect()
                })
                .collect();
            json!({ "policy": policy, "runs": runs })
        })
        .collect();
    let doc = json!({
        "capsim_version": sim_core::results::VERSION,
        "sweep_hash": plan.sweep_hash,
        "scenario_hash": plan.scenario_hash,
        "point": r.point,
        "rows": rows,
    });
    let mut t = serde_json::to_string_pretty(&doc).unwrap_or_default();
    t.push('\n');
    t
}

/// A finished point from an earlier run into the same folder, if its file is whole and was
/// written by this capsim for this sweep file and base scenario.
fn read_point(plan: &Plan, path: &Path, p: usize) -> Option<PointResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    if doc["capsim_version"] != sim_core::results::VERSION
        || doc["sweep_hash"] != plan.sweep_hash.as_str()
        || doc["scenario_hash"] != plan.scenario_hash.as_str()
        || doc["point"].as_u64()? != p as u64
    {
        return None;
    }
    let mut rows = Vec::new();
    for row in doc["rows"].as_array()? {
        let policy = row["policy"].as_str()?.to_string();
        let mut runs = Vec::new();
        for run in row["runs"].as_array()? {
            let v: Option<Values> = run
                .as_array()?
                .iter()
                .map(|x| match x {
                    serde_json::Value::Null => Some(None),
                    serde_json::Value::String(s) => s.parse::<f64>().ok().map(Some),
                    _ => None,
                })
                .collect();
            let v = v?;
            if v.len() < METRICS.len() {
                return None;
            }
            runs.push(v);
        }
        if runs.len() != plan.sweep.replications {
            return None;
        }
        rows.push((policy, runs));
    }
    if rows.is_empty() {
        return None;
    }
    Some(PointResult { point: p, rows })
}
