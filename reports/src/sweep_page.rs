//! The report page of a sweep folder: the swept axes, one chart per headline metric, the table of
//! points, the checks that failed, and provenance.

use crate::fmt::{duration, esc, fixed, percent, qty, usd, NBSP, NONE};
use crate::html::{close, figure, kv, open, table};
use crate::sweep::{answer_text, readable_axes, sweep_charts, Cell, SweepResults};
use crate::sweep_checks::{row_failures, sweep_checks};
use std::fmt::Write as _;

/// A metric cell with its unit, read from the metric's name; `± h` with replications.
pub fn cell_text(metric: &str, c: Option<Cell>) -> String {
    let Some(c) = c else {
        return NONE.to_string();
    };
    let one = |v: f64| -> String {
        if metric.ends_with("_ratio") {
            percent(Some(v))
        } else if metric.starts_with("cost_usd") {
            usd(Some(v))
        } else if metric.ends_with("_s") {
            duration(Some(v))
        } else if metric.ends_with("_hours") {
            qty(Some(v), 2, "h")
        } else if v.fract() == 0.0 {
            fixed(v, 0)
        } else {
            fixed(v, 2)
        }
    };
    match c.ci95 {
        Some(h) => format!("{} ±{NBSP}{}", one(c.value), one(h)),
        None => one(c.value),
    }
}

/// The metrics shown in the table of points, in this order, when the sweep has them.
const TABLE_METRICS: [&str; 10] = [
    "completed",
    "latency_p50_s",
    "latency_p99_s",
    "ttft_p99_s",
    "tpot_p99_s",
    "slo_attainment_ratio",
    "token_slo_attainment_ratio",
    "replica_hours",
    "cost_usd_per_hour",
    "cost_usd_per_million_requests",
];

/// The whole page for a sweep folder; the same folder always gives the same bytes.
pub fn sweep_page(res: &SweepResults) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let name = res
        .dir
        .file_name()
        .map_or_else(|| "sweep".to_string(), |n| n.to_string_lossy().into_owned());
    open(&mut o, &format!("sweep {name}"));
    let points: std::collections::BTreeSet<usize> = res.rows.iter().map(|r| r.point).collect();
    let _ = writeln!(
        o,
        "<p class=\"meta\">{} points · {} rows · axes: {}{}</p>",
        points.len(),
        res.rows.len(),
        esc(&res.axes.join(", ")),
        if res.replicated {
            " · means over replications with 95% confidence intervals"
        } else {
            ""
        }
    );
    if let Some(a) = answer_text(res) {
        let _ = writeln!(o, "<p class=\"answer\"><b>{}</b></p>", esc(&a));
    }
    let charts = sweep_charts(res);
    if !charts.is_empty() {
        o.push_str("<h2 id=\"charts\">Across the sweep</h2>\n<div class=\"charts\">\n");
        for c in &charts {
            figure(&mut o, c);
        }
        o.push_str("</div>\n");
    }
    let shown: Vec<usize> = TABLE_METRICS
        .iter()
        .filter_map(|m| res.metrics.iter().position(|x| x == m))
        .filter(|&k| res.rows.iter().any(|r| r.cells[k].is_some()))
        .collect();
    let mut header: Vec<String> = vec!["point".to_string()];
    header.extend(res.axes.iter().cloned());
    header.push("policy".to_string());
    header.extend(shown.iter().map(|&k| res.metrics[k].clone()));
    let has_checks = res.rows.iter().any(|r| r.check.is_some());
    if has_checks {
        header.push("checks".to_string());
    }
    let rows: Vec<Vec<String>> = res
        .rows
        .iter()
        .map(|r| {
            let mut v = vec![r.point.to_string()];
            v.extend(r.axes.iter().cloned());
            v.push(r.policy.clone());
            v.extend(
                shown
                    .iter()
                    .map(|&k| cell_text(&res.metrics[k], r.cells[k])),
            );
            if has_checks {
                v.push(r.check.clone().unwrap_or_default());
            }
            v
        })
        .collect();
    o.push_str("<h2 id=\"points\">Points</h2>\n");
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&mut o, &h, &rows, res.axes.len() + 2);
    let failed: Vec<&crate::sweep::SweepRow> = res
        .rows
        .iter()
        .filter(|r| r.check.as_deref() == Some("fail"))
        .collect();
    if has_checks {
        o.push_str("<h2 id=\"checks\">Checks</h2>\n");
        if failed.is_empty() {
            o.push_str("<p>Every row passed its checks.</p>\n");
        } else {
            let checks = sweep_checks(res);
            let names = readable_axes(&res.axes);
            o.push_str("<ul class=\"warn\">");
            for r in failed {
                let what = row_failures(res, &checks, r);
                let _ = write!(
                    o,
                    "<li>point {} ({}), policy {}: {}</li>",
                    r.point,
                    esc(&names
                        .iter()
                        .zip(&r.axes)
                        .map(|(a, v)| format!("{a} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")),
                    esc(&r.policy),
                    if what.is_empty() {
                        "a check failed (the sweep's output names it)".to_string()
                    } else {
                        esc(&what.join("; "))
                    }
                );
            }
            o.push_str("</ul>\n");
        }
    }
    o.push_str("<h2 id=\"provenance\">Provenance</h2>\n");
    let mut p = Vec::new();
    for (k, v) in &res.manifest {
        kv(&mut p, k, v.clone());
    }
    kv(
        &mut p,
        "capsim that wrote this report",
        crate::VERSION.to_string(),
    );
    table(&mut o, &["what", "value"], &p, 2);
    let files: Vec<Vec<String>> = res
        .files
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                format!("{} bytes", f.bytes),
                f.fnv1a64.clone(),
            ]
        })
        .collect();
    table(&mut o, &["file", "size", "FNV-1a 64"], &files, 1);
    for (what, text) in [
        ("the sweep file", &res.sweep_text),
        ("the base scenario", &res.scenario_text),
    ] {
        if let Some(t) = text {
            let _ = writeln!(
                o,
                "<details><summary>{what} ({} lines)</summary><pre>{}</pre></details>",
                t.lines().count(),
                esc(t)
            );
        }
    }
    close(&mut o);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_carry_units() {
        let c = |v| {
            Some(Cell {
                value: v,
                ci95: None,
            })
        };
        assert_eq!(cell_text("latency_p99_s", c(0.0125)), "12.50\u{a0}ms");
        assert_eq!(cell_text("slo_attainment_ratio", c(0.5)), "50.00\u{a0}%");
        assert_eq!(cell_text("cost_usd_per_hour", c(3.0)), "$\u{a0}3.00");
        assert_eq!(cell_text("completed", c(12.0)), "12");
        assert_eq!(
            cell_text(
                "replica_hours",
                Some(Cell {
                    value: 1.0,
                    ci95: Some(0.25)
                })
            ),
            "1.00\u{a0}h ±\u{a0}0.25\u{a0}h"
        );
        assert_eq!(cell_text("x", None), NONE);
    }
}
