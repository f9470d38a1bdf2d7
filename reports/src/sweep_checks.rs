//! A sweep's `[[check]]` tables (its base scenario's and the sweep file's, read from the copies
//! in the folder), held against the rows of `sweep.csv` for the report: each failed check's
//! metric, value and limit, the SLO lines of the charts, and the cheapest passing point.

use crate::sweep::Cell;
use crate::sweep::{SweepResults, SweepRow};
use crate::sweep_page::cell_text;

/// One `[[check]]` table, as far as the report needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepCheck {
    /// Metric, as written (`ttft_p99_s`, `services.chat.ttft_p99_s`).
    pub metric: String,
    /// Comparison: `<`, `<=`, `>` or `>=`.
    pub op: String,
    /// Threshold.
    pub threshold: f64,
    /// Only rows of this policy variant.
    pub policy: Option<String>,
    /// Only this point.
    pub point: Option<usize>,
    /// Window length as written, for a windowed check.
    pub window: Option<String>,
}

impl SweepCheck {
    /// Whether the check concerns `row`.
    pub fn applies(&self, row: &SweepRow) -> bool {
        self.policy.as_ref().is_none_or(|p| *p == row.policy)
            && self.point.is_none_or(|p| p == row.point)
    }

    /// Whether the check is on a whole-run metric over the whole run (so `sweep.csv` has the
    /// value it was held against).
    pub fn plain(&self) -> bool {
        self.window.is_none() && !self.metric.contains('.')
    }

    /// Whether `v` meets the check.
    pub fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            "<" => v < self.threshold,
            "<=" => v <= self.threshold,
            ">" => v > self.threshold,
            _ => v >= self.threshold,
        }
    }

    /// Whether lower values are better (`<`, `<=`).
    pub fn upper_limit(&self) -> bool {
        self.op.starts_with('<')
    }

    /// The comparison as a symbol people read: `≤`, `<`, `≥`, `>`.
    pub fn symbol(&self) -> &'static str {
        match self.op.as_str() {
            "<" => "<",
            "<=" => "≤",
            ">" => ">",
            _ => "≥",
        }
    }

    /// The limit with its unit, as written: `≤ 1 s`, `≥ 99.00 %`.
    pub fn limit_text(&self) -> String {
        if self.metric.ends_with("_s") {
            let t = format!("{:.3}", self.threshold);
            let t = t.trim_end_matches('0').trim_end_matches('.');
            return format!("{} {t}\u{a0}s", self.symbol());
        }
        let t = cell_text(
            &self.metric,
            Some(Cell {
                value: self.threshold,
                ci95: None,
            }),
        );
        format!("{} {t}", self.symbol())
    }

    /// The check as written: `ttft_p99_s <= 1 in every 5m window`.
    pub fn describe(&self) -> String {
        let mut t = format!("{} {} {}", self.metric, self.op, self.threshold);
        if let Some(w) = &self.window {
            t.push_str(&format!(" in every {w} window"));
        }
        t
    }
}

/// The `[[check]]` tables of a TOML text; tables that do not read are skipped (the sweep
/// refused bad ones before it ran).
pub fn parse_checks(text: &str) -> Vec<SweepCheck> {
    let Ok(v) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(list) = v.get("check").and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let num = |k: &str| {
                t.get(k)
                    .and_then(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
            };
            let text = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_string);
            Some(SweepCheck {
                metric: text("metric")?,
                op: text("op")?,
                threshold: num("threshold")?,
                policy: text("policy"),
                point: t
                    .get("point")
                    .and_then(toml::Value::as_integer)
                    .and_then(|p| usize::try_from(p).ok()),
                window: text("window"),
            })
        })
        .collect()
}

/// The checks the sweep held its rows against: the base scenario's, then the sweep file's.
pub fn sweep_checks(res: &SweepResults) -> Vec<SweepCheck> {
    let mut out = Vec::new();
    for text in [&res.scenario_text, &res.sweep_text].into_iter().flatten() {
        out.extend(parse_checks(text));
    }
    out
}

/// What a failing row failed: for each check on a whole-run metric that the row's value does
/// not meet, `metric value, limit ≤ x`; for each windowed or per-service check (whose value
/// `sweep.csv` does not hold), the check as written.
pub fn row_failures(res: &SweepResults, checks: &[SweepCheck], row: &SweepRow) -> Vec<String> {
    let col = |m: &str| res.metrics.iter().position(|x| x == m);
    let mut out = Vec::new();
    for c in checks.iter().filter(|c| c.applies(row)) {
        let Some(k) = col(&c.metric).filter(|_| c.plain()) else {
            out.push(format!(
                "{} (its value is in the sweep's output, not in sweep.csv)",
                c.describe()
            ));
            continue;
        };
        match row.cells[k] {
            Some(v) if c.holds(v.value) => {}
            Some(v) => out.push(format!(
                "{} {}, limit {}",
                c.metric,
                cell_text(&c.metric, Some(v)),
                c.limit_text()
            )),
            None => {
                let dropped = col("dropped")
                    .and_then(|d| row.cells[d])
                    .map(|d| format!("; {} dropped", d.value))
                    .unwrap_or_default();
                out.push(format!(
                    "{} has no value (no measured request completed{dropped}), limit {}",
                    c.metric,
                    c.limit_text()
                ));
            }
        }
    }
    out
}

/// The column that says what a point costs: `cost_usd_per_hour` where any row has it (a
/// cluster with prices), else `replica_hours`.
pub fn cost_metric(res: &SweepResults) -> Option<usize> {
    ["cost_usd_per_hour", "replica_hours"].iter().find_map(|m| {
        res.metrics
            .iter()
            .position(|x| x == m)
            .filter(|&k| res.rows.iter().any(|r| r.cells[k].is_some()))
    })
}

/// The row of the cheapest point that passed every check: the lowest `cost_usd_per_hour`
/// (else `replica_hours`), the first in file order on a tie; `None` when no row passed or the
/// sweep has neither metric.
pub fn cheapest_passing(res: &SweepResults) -> Option<usize> {
    let k = cost_metric(res)?;
    let mut best: Option<(usize, f64)> = None;
    for (i, r) in res.rows.iter().enumerate() {
        if r.check.as_deref() != Some("pass") {
            continue;
        }
        if let Some(c) = r.cells[k] {
            if best.is_none_or(|(_, v)| c.value < v) {
                best = Some((i, c.value));
            }
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::parse_sweep_csv;

    const CSV: &str =
        "point,gpu,service.replicas,policy,dropped,ttft_p99_s,cost_usd_per_hour,checks\n\
        0,l4,1,base,0,,1,fail\n\
        1,l4,2,base,0,2.5,2,fail\n\
        2,l4,3,base,0,0.5,3,pass\n\
        3,h100,1,base,0,0.2,4,pass\n";

    fn res() -> SweepResults {
        let mut r = parse_sweep_csv(CSV, "s.csv").unwrap();
        r.sweep_text = Some(
            "scenario = \"s.toml\"\n[[check]]\nmetric = \"ttft_p99_s\"\nop = \"<=\"\nthreshold = 1\n\
             [[check]]\nmetric = \"ttft_p99_s\"\nop = \"<\"\nthreshold = 2\nwindow = \"5m\"\n"
                .into(),
        );
        r
    }

    #[test]
    fn failures_name_metric_value_and_limit() {
        let r = res();
        let checks = sweep_checks(&r);
        assert_eq!(checks.len(), 2);
        assert_eq!(
            row_failures(&r, &checks, &r.rows[1]),
            [
                "ttft_p99_s 2500.00\u{a0}ms, limit ≤ 1\u{a0}s",
                "ttft_p99_s < 2 in every 5m window (its value is in the sweep's output, not in sweep.csv)"
            ]
        );
        assert_eq!(
            row_failures(&r, &checks, &r.rows[0])[0],
            "ttft_p99_s has no value (no measured request completed; 0 dropped), limit ≤ 1\u{a0}s"
        );
    }

    #[test]
    fn cheapest_passing_point_is_the_lowest_cost_that_passed() {
        assert_eq!(cheapest_passing(&res()), Some(2));
    }
}
