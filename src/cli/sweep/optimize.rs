//! `capsim optimize`: the point of a grid sweep that minimises a metric among those whose
//! `[[check]]`s hold. An axis marked `monotone = "increasing"` (more of it never makes a check
//! fail, and never makes the metric smaller, as with replicas and cost) is bisected for each
//! combination of the other axes instead of run in full: for each combination only the smallest
//! passing value can be the cheapest.

use super::points::{evaluate, means, PointResult, Progress};
use super::spec::{cell, Design, Levels};
use super::{out_dir, Plan};
use crate::cli::check::verdict;
use crate::cli::compare::METRICS;
use crate::cli::error::CliError;
use crate::cli::output::Staged;
use sim_core::scenario::error::closest;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `capsim optimize`.
pub struct OptimizeArgs {
    /// The sweep file (a grid).
    pub sweep: PathBuf,
    /// The metric to minimise, a `sweep.csv` column such as `cost_usd_per_hour`.
    pub minimize: String,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Output folder (default `results/<sweep file stem>`).
    pub out: Option<PathBuf>,
}

/// Whether every check that concerns point `r` holds there.
fn feasible(plan: &Plan, r: &PointResult) -> bool {
    r.rows.iter().all(|(policy, runs)| {
        let values: Vec<Option<f64>> = means(runs).iter().map(|m| m.map(|x| x.0)).collect();
        plan.checks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.applies(Some(r.point), policy))
            .all(|(j, _)| {
                crate::cli::check::sweep_failure(&plan.checks, j, &values)
                    .0
                    .is_none()
            })
    })
}

/// `capsim optimize`.
pub fn optimize(args: &OptimizeArgs) -> Result<(), CliError> {
    let metric = METRICS
        .iter()
        .position(|m| *m == args.minimize)
        .ok_or_else(|| {
            let hint = closest(&args.minimize, &METRICS)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            CliError::Input(format!(
                "--minimize {}: expected one of {}{hint}",
                args.minimize,
                METRICS.join(", ")
            ))
        })?;
    let plan = Plan::load(&args.sweep, &[])?;
    let sweep = &plan.sweep;
    if sweep.design != Design::Grid {
        return Err(CliError::Input(format!(
            "{}: key `design`: capsim optimize searches a grid; expected design = \"grid\"",
            sweep.file
        )));
    }
    let monotone: Vec<usize> = (0..sweep.axes.len())
        .filter(|&j| sweep.axes[j].monotone)
        .collect();
    if monotone.len() > 1 {
        return Err(CliError::Input(format!(
            "{}: expected at most one axis with monotone = \"increasing\", found {} ({})",
            sweep.file,
            monotone.len(),
            monotone
                .iter()
                .map(|&j| sweep.axes[j].key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if plan.point_scenarios(0)?.len() > 1 {
        return Err(CliError::Input(format!(
            "{}: capsim optimize compares points of one scenario; make the [[policy]] variants of {} an axis instead",
            sweep.file,
            plan.base_path.display()
        )));
    }
    let sizes: Vec<usize> = sweep
        .axes
        .iter()
        .map(|a| match &a.levels {
            Levels::Values(v) => v.len(),
            Levels::Span { .. } => 0,
        })
        .collect();
    let mut stride = vec![1usize; sizes.len()];
    for j in (0..sizes.len().saturating_sub(1)).rev() {
        stride[j] = stride[j + 1] * sizes[j + 1];
    }
    let total = sweep.points.len();
    let all: Vec<usize> = (0..total).collect();
    plan.validate(&all)?;
    let out = out_dir(&args.out, &args.sweep);
    // Each combination of the other axes is a line along the monotone axis (or one point).
    let (m_axis, m_len) = match monotone.first() {
        Some(&j) => (Some(j), sizes[j]),
        None => (None, 1),
    };
    let lines: Vec<usize> = (0..total)
        .filter(|p| m_axis.is_none_or(|j| (p / stride[j]) % sizes[j] == 0))
        .collect();
    let at = |start: usize, k: usize| start + m_axis.map_or(0, |j| k * stride[j]);
    // Lower-bound bisection on each line in lock step, so each round's points run in parallel.
    let mut bounds: Vec<(usize, usize)> = vec![(0, m_len); lines.len()];
    let mut explored: BTreeMap<usize, PointResult> = BTreeMap::new();
    // A lower-bound bisection over n values runs at most ⌈log2(n + 1)⌉ points per line.
    let rounds = (usize::BITS - m_len.leading_zeros()) as usize;
    let progress = Progress::at_most(lines.len() * rounds, "optimize");
    loop {
        let mids: Vec<usize> = lines
            .iter()
            .zip(&bounds)
            .filter(|(_, (lo, hi))| lo < hi)
            .map(|(&s, (lo, hi))| at(s, (lo + hi) / 2))
            .collect();
        if mids.is_empty() {
            break;
        }
        explored.extend(evaluate(&plan, &mids, &out, args.threads, &progress)?);
        for (&s, b) in lines.iter().zip(bounds.iter_mut()) {
            if b.0 < b.1 {
                let mid = (b.0 + b.1) / 2;
                if feasible(&plan, &explored[&at(s, mid)]) {
                    b.1 = mid;
                } else {
                    b.0 = mid + 1;
                }
            }
        }
    }
    progress.finish();
    // Candidates: the smallest passing point of each line.
    let mut best: Option<(f64, usize)> = None;
    let mut frontier = Vec::new();
    for (&s, &(lo, _)) in lines.iter().zip(&bounds) {
        let others: Vec<String> = sweep
            .axes
            .iter()
            .enumerate()
            .filter(|(j, _)| Some(*j) != m_axis)
            .map(|(j, a)| format!("{}={}", a.key, cell(&sweep.points[s][j])))
            .collect();
        let label = if others.is_empty() {
            "all".to_string()
        } else {
            others.join(" ")
        };
        if lo == m_len {
            frontier.push(format!("  {label}: no value passes the checks"));
            continue;
        }
        let p = at(s, lo);
        let value = means(&explored[&p].rows[0].1)[metric].map(|x| x.0);
        let what = m_axis.map_or(String::new(), |j| {
            format!(
                "smallest passing {} = {}, ",
                sweep.axes[j].key,
                cell(&sweep.points[p][j])
            )
        });
        frontier.push(format!(
            "  {label}: {what}{} = {} (point {p})",
            METRICS[metric],
            value.map_or("-".into(), |v| format!("{v:.6}"))
        ));
        if let Some(v) = value {
            if best.is_none_or(|(bv, bp)| v < bv || (v == bv && p < bp)) {
                best = Some((v, p));
            }
        }
    }
    let mut csv = plan.header();
    csv.push_str(",chosen\n");
    for r in explored.values() {
        let (rows, _) = plan.rows(r);
        for line in rows.lines() {
            let chosen = best.is_some_and(|(_, p)| p == r.point);
            csv.push_str(line);
            csv.push_str(if chosen { ",yes\n" } else { ",\n" });
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| {
        CliError::Io(format!(
            "{}: cannot create the output folder: {e}",
            out.display()
        ))
    })?;
    let mut staged = Staged::new();
    staged.write(&out.join("optimize.csv"), &csv)?;
    staged.commit()?;
    println!(
        "capsim optimize: {} · minimise {} · explored {} of {} points",
        args.sweep.display(),
        METRICS[metric],
        explored.len(),
        total
    );
    println!("frontier (per combination of the other axes):");
    for f in &frontier {
        println!("{f}");
    }
    match best {
        Some((v, p)) => {
            println!(
                "chosen       point {p}: {} · {} = {v:.6}",
                plan.describe(p),
                METRICS[metric]
            );
            println!("wrote        {}/optimize.csv", out.display());
            Ok(())
        }
        None => {
            println!("wrote        {}/optimize.csv", out.display());
            verdict(
                vec![format!(
                    "no point of {} passes its checks (or has a {} value)",
                    sweep.file, METRICS[metric]
                )],
                plan.checks.len(),
            )
        }
    }
}
