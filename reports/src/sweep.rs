//! A sweep folder (written by `capsim sweep` or `capsim merge`) read into typed rows, and the
//! charts it gets: each headline metric against the swept axis, one line per combination of the
//! other axes and policy, with 95% confidence intervals where there are replications.

use crate::chart::{Answer, Chart, Line, Target};
use crate::model::{fnv1a64, InputFile, ReportError};
use crate::sweep_checks::{cheapest_passing, cost_metric, sweep_checks};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One metric cell: the value (the mean with replications) and the 95% CI half-width, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Value, or the mean over replications.
    pub value: f64,
    /// Half-width of the 95% confidence interval (replications only).
    pub ci95: Option<f64>,
}

/// One `sweep.csv` row: a point and a policy variant.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Point index.
    pub point: usize,
    /// The axis values, as written (one per axis).
    pub axes: Vec<String>,
    /// Policy variant name (`base` without variants).
    pub policy: String,
    /// Metric cells, one per [`SweepResults::metrics`] (`None` where the run has no such number).
    pub cells: Vec<Option<Cell>>,
    /// `pass` or `fail` when the sweep has checks.
    pub check: Option<String>,
}

/// A sweep folder, read.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResults {
    /// The folder.
    pub dir: PathBuf,
    /// Swept key paths, in column order.
    pub axes: Vec<String>,
    /// Metric names (without `_mean`/`_ci95`).
    pub metrics: Vec<String>,
    /// Whether the metrics are means over replications with CIs.
    pub replicated: bool,
    /// Rows, in file order (point, then policy).
    pub rows: Vec<SweepRow>,
    /// `manifest.json`'s fields as (key, value text), in file order.
    pub manifest: Vec<(String, String)>,
    /// The sweep file's text, when the folder has a copy (`sweep.toml`).
    pub sweep_text: Option<String>,
    /// The base scenario's text, when the folder has a copy (`scenario.toml`).
    pub scenario_text: Option<String>,
    /// The files read, with their hashes.
    pub files: Vec<InputFile>,
}

/// Splits one CSV line with optional double-quoted fields.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses `sweep.csv` text (`shown` names the file in errors) into results with no manifest,
/// copies or files.
pub fn parse_sweep_csv(text: &str, shown: &str) -> Result<SweepResults, ReportError> {
    let bad = |m: String| ReportError {
        message: m,
        bad_input: true,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(bad(format!(
            "{shown}: empty (expected a header starting `point,`)"
        )));
    };
    let cols = fields(header);
    if cols.first().map(String::as_str) != Some("point") {
        return Err(bad(format!(
            "{shown}: line 1: expected the first column `point`, found `{}`",
            cols.first().cloned().unwrap_or_default()
        )));
    }
    let Some(pi) = cols.iter().position(|c| c == "policy") else {
        return Err(bad(format!("{shown}: line 1: no `policy` column")));
    };
    let axes = cols[1..pi].to_vec();
    // `checks` ends the metric columns; what follows it (`worst_window_start_s`) is not a metric.
    let checks_at = cols[pi + 1..]
        .iter()
        .position(|c| c == "checks")
        .map(|j| pi + 1 + j);
    let metric_cols = &cols[pi + 1..checks_at.unwrap_or(cols.len())];
    let replicated = metric_cols.iter().any(|c| c.ends_with("_ci95"));
    let metrics: Vec<String> = if replicated {
        metric_cols
            .iter()
            .filter_map(|c| c.strip_suffix("_mean").map(str::to_string))
            .collect()
    } else {
        metric_cols.to_vec()
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        let f = fields(line);
        if f.len() != cols.len() {
            return Err(bad(format!(
                "{shown}: line {}: expected {} fields, found {}",
                i + 1,
                cols.len(),
                f.len()
            )));
        }
        let num = |j: usize| -> Result<Option<f64>, ReportError> {
            let s = f[j].trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>().map(Some).map_err(|_| {
                bad(format!(
                    "{shown}: line {}, column `{}`: expected a number, found `{s}`",
                    i + 1,
                    cols[j]
                ))
            })
        };
        let point = f[0].trim().parse::<usize>().map_err(|_| {
            bad(format!(
                "{shown}: line {}, column `point`: expected a point index, found `{}`",
                i + 1,
                f[0]
            ))
        })?;
        let mut cells = Vec::with_capacity(metrics.len());
        for k in 0..metrics.len() {
            let cell = if replicated {
                let j = pi + 1 + 2 * k;
                num(j)?
                    .map(|value| Cell { value, ci95: None })
                    .map(|mut c| {
                        c.ci95 = num(j + 1).ok().flatten();
                        c
                    })
            } else {
                num(pi + 1 + k)?.map(|value| Cell { value, ci95: None })
            };
            cells.push(cell);
        }
        rows.push(SweepRow {
            point,
            axes: f[1..pi].to_vec(),
            policy: f[pi].clone(),
            cells,
            check: checks_at.map(|j| f[j].clone()),
        });
    }
    Ok(SweepResults {
        dir: PathBuf::new(),
        axes,
        metrics,
        replicated,
        rows,
        manifest: Vec::new(),
        sweep_text: None,
        scenario_text: None,
        files: Vec::new(),
    })
}

/// Whether `dir` holds a sweep's output (`sweep.csv`).
pub fn is_sweep_dir(dir: &Path) -> bool {
    dir.join("sweep.csv").is_file()
}

fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    std::fs::read(path).map_err(|e| ReportError {
        message: format!("{}: cannot read: {e}", path.display()),
        bad_input: e.kind() == std::io::ErrorKind::NotFound,
    })
}

/// Reads a sweep folder.
pub fn load_sweep(dir: &Path) -> Result<SweepResults, ReportError> {
    let csv_path = dir.join("sweep.csv");
    let bytes = read(&csv_path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut res = parse_sweep_csv(&text, &csv_path.display().to_string())?;
    let mut files = vec![file("sweep.csv", &bytes)];
    let mut manifest = Vec::new();
    let mpath = dir.join("manifest.json");
    if mpath.is_file() {
        let mb = read(&mpath)?;
        let v: serde_json::Value = serde_json::from_slice(&mb).map_err(|e| ReportError {
            message: format!(
                "{}: line {}, column {}: {e}",
                mpath.display(),
                e.line(),
                e.column()
            ),
            bad_input: true,
        })?;
        if let Some(o) = v.as_object() {
            for (k, v) in o {
                let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                manifest.push((k.clone(), s));
            }
        }
        files.push(file("manifest.json", &mb));
    }
    let mut copy = |name: &str| -> Result<Option<String>, ReportError> {
        let path = dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let b = read(&path)?;
        files.push(file(name, &b));
        Ok(Some(String::from_utf8_lossy(&b).into_owned()))
    };
    let sweep_text = copy("sweep.toml")?;
    let scenario_text = copy("scenario.toml")?;
    res.dir = dir.to_path_buf();
    res.manifest = manifest;
    res.sweep_text = sweep_text;
    res.scenario_text = scenario_text;
    res.files = files;
    Ok(res)
}

fn file(name: &str, bytes: &[u8]) -> InputFile {
    InputFile {
        role: "result".to_string(),
        path: name.to_string(),
        bytes: bytes.len() as u64,
        fnv1a64: format!("{:016x}", fnv1a64(bytes)),
    }
}

/// How a metric is charted: (column, title, y label, scale applied to values).
fn chart_metrics(res: &SweepResults) -> Vec<(usize, &'static str, &'static str, f64)> {
    let has = |m: &str| {
        res.metrics
            .iter()
            .position(|x| x == m)
            .filter(|&k| res.rows.iter().any(|r| r.cells[k].is_some()))
    };
    let mut out = Vec::new();
    let lat = has("ttft_p99_s")
        .map(|k| (k, "TTFT p99", "TTFT p99 (ms)"))
        .or_else(|| has("latency_p99_s").map(|k| (k, "Latency p99", "latency p99 (ms)")));
    if let Some((k, t, y)) = lat {
        out.push((k, t, y, 1e3));
    }
    let slo = has("token_slo_attainment_ratio").or_else(|| has("slo_attainment_ratio"));
    if let Some(k) = slo {
        out.push((k, "SLO attainment", "SLO attainment (%)", 100.0));
    }
    if let Some(k) = has("tpot_p99_s").filter(|_| has("ttft_p99_s").is_some()) {
        out.push((k, "TPOT p99", "TPOT p99 (ms)", 1e3));
    }
    if let Some(k) = has("cost_usd_per_hour") {
        out.push((k, "Cost per hour", "cost (USD/h)", 1.0));
    }
    if let Some(k) = has("replica_hours") {
        out.push((k, "Replica-hours", "replica-hours (h)", 1.0));
    }
    out
}

/// The axis charted along x: the numeric axis with the most distinct values (the first on a
/// tie), or `None` when no axis is numeric.
pub fn x_axis(res: &SweepResults) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for a in 0..res.axes.len() {
        if !res.rows.iter().all(|r| r.axes[a].parse::<f64>().is_ok()) {
            continue;
        }
        let distinct: std::collections::BTreeSet<&str> =
            res.rows.iter().map(|r| r.axes[a].as_str()).collect();
        if best.is_none_or(|(_, n)| distinct.len() > n) {
            best = Some((a, distinct.len()));
        }
    }
    best.map(|b| b.0)
}

/// Axis keys as people read them: the last part of the key path without its index and with
/// spaces for underscores (`node_pool[0].instance_type` reads `instance type`), or the whole
/// key where two axes would read the same.
pub fn readable_axes(axes: &[String]) -> Vec<String> {
    let short: Vec<String> = axes
        .iter()
        .map(|k| {
            let last = k.rsplit('.').next().unwrap_or(k);
            let last = last.split('[').next().unwrap_or(last);
            last.replace('_', " ")
        })
        .collect();
    short
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.is_empty() || short.iter().filter(|m| *m == n).count() > 1 {
                axes[i].clone()
            } else {
                n.clone()
            }
        })
        .collect()
}

/// A row's values of the axes in `which`, as people read them (`instance type g6e.xlarge,
/// replicas 2`), with its policy when the sweep has several.
fn row_name(res: &SweepResults, names: &[String], r: &SweepRow, which: &[usize]) -> String {
    which
        .iter()
        .map(|&a| format!("{} {}", names[a], r.axes[a]))
        .chain(
            (res.rows.iter().any(|x| x.policy != r.policy)).then(|| format!("policy {}", r.policy)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentence that answers a sweep with checks: its cheapest passing point, or that no point
/// passed. `None` without checks.
pub fn answer_text(res: &SweepResults) -> Option<String> {
    if !res.rows.iter().any(|r| r.check.is_some()) {
        return None;
    }
    let names = readable_axes(&res.axes);
    let all: Vec<usize> = (0..res.axes.len()).collect();
    Some(match cheapest_passing(res) {
        Some(i) => {
            let r = &res.rows[i];
            let cost = cost_metric(res)
                .map(|k| {
                    let m = res.metrics[k].as_str();
                    format!(
                        "{}{}",
                        crate::sweep_page::cell_text(m, r.cells[k]),
                        if m == "cost_usd_per_hour" {
                            " per hour"
                        } else {
                            " of replicas"
                        }
                    )
                })
                .unwrap_or_default();
            format!(
                "Cheapest point that passed every check: point {} ({}), {cost}.",
                r.point,
                row_name(res, &names, r, &all)
            )
        }
        None => "No point passed every check.".to_string(),
    })
}

/// The charts of a sweep: each headline metric against the x axis (or the point index when no
/// axis is numeric), one line per combination of the other axes and the policy. With checks,
/// each point is marked passed or failed, a check on the charted metric is drawn as the SLO
/// line (on a latency, the axis stops at three times it, higher points drawn at the top edge),
/// and the cheapest passing point is ringed and named.
pub fn sweep_charts(res: &SweepResults) -> Vec<Chart> {
    let xa = x_axis(res);
    let names = readable_axes(&res.axes);
    let policies: std::collections::BTreeSet<&str> =
        res.rows.iter().map(|r| r.policy.as_str()).collect();
    let x_label = match xa {
        Some(a) => names[a].clone(),
        None => "point".to_string(),
    };
    let checks = sweep_checks(res);
    let has_checks = res.rows.iter().any(|r| r.check.is_some());
    let cheapest = cheapest_passing(res);
    let others: Vec<usize> = (0..res.axes.len()).filter(|&a| Some(a) != xa).collect();
    let mut out = Vec::new();
    for (k, title, y_label, scale) in chart_metrics(res) {
        let metric = &res.metrics[k];
        // The SLO: a check on this metric over the whole run, for every point and policy.
        let target = checks
            .iter()
            .find(|c| c.plain() && c.policy.is_none() && c.point.is_none() && c.metric == *metric);
        let max = res
            .rows
            .iter()
            .filter_map(|r| r.cells[k].map(|c| c.value * scale))
            .fold(0.0f64, f64::max);
        let y_cap = target
            .filter(|t| t.upper_limit() && t.threshold > 0.0)
            .map(|t| 3.0 * t.threshold * scale)
            .filter(|&cap| max > cap || res.rows.iter().any(|r| r.cells[k].is_none()));
        // Line name -> (x, y, CI half-width, verdict) per row.
        type Group = Vec<(f64, Option<f64>, Option<f64>, Option<bool>)>;
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for r in &res.rows {
            let mut name: Vec<String> = others
                .iter()
                .map(|&a| format!("{} {}", names[a], r.axes[a]))
                .collect();
            if policies.len() > 1 {
                name.push(r.policy.clone());
            }
            let name = if name.is_empty() {
                "all points".to_string()
            } else {
                name.join(" · ")
            };
            let x = match xa {
                Some(a) => r.axes[a].parse::<f64>().unwrap_or(f64::NAN),
                None => r.point as f64,
            };
            let c = r.cells[k];
            let verdict = r.check.as_deref().map(|v| v == "pass");
            // A failing point with no value (nothing completed) is drawn at the top of a
            // capped axis.
            let y = c
                .map(|c| c.value * scale)
                .or_else(|| (y_cap.is_some() && verdict == Some(false)).then_some(f64::INFINITY));
            groups.entry(name).or_default().push((
                x,
                y,
                c.and_then(|c| c.ci95).map(|h| h * scale),
                verdict,
            ));
        }
        let lines = groups
            .into_iter()
            .map(|(name, mut pts)| {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Line {
                    name,
                    points: pts.iter().map(|p| (p.0, p.1)).collect(),
                    ci: pts.iter().map(|p| p.2).collect(),
                    verdicts: if has_checks {
                        pts.iter().map(|p| p.3).collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let answer = cheapest.and_then(|i| {
            let r = &res.rows[i];
            let y = r.cells[k]?.value * scale;
            let x = match xa {
                Some(a) => r.axes[a].parse::<f64>().ok()?,
                None => r.point as f64,
            };
            Some(Answer {
                label: format!(
                    "cheapest passing: {}",
                    row_name(res, &names, r, &(0..res.axes.len()).collect::<Vec<_>>())
                ),
                x,
                y,
            })
        });
        let targets = target
            .map(|t| Target {
                name: format!(
                    "SLO: {title} {} {} {}",
                    t.symbol(),
                    fixed_trim(t.threshold * scale),
                    y_label
                        .rsplit('(')
                        .next()
                        .unwrap_or("")
                        .trim_end_matches(')')
                ),
                y: t.threshold * scale,
            })
            .into_iter()
            .collect();
        let mut caption = format!(
            "`{metric}` against `{}`{}{}.",
            xa.map_or("point", |a| res.axes[a].as_str()),
            if res.rows.len() > 1 {
                ", one line per combination of the other axes and policy"
            } else {
                ""
            },
            if res.replicated {
                "; whiskers are 95% confidence intervals over replications"
            } else {
                ""
            }
        );
        if has_checks {
            caption.push_str(
                " Filled marks passed every check, crosses failed one; the ring names the \
                 cheapest point that passed.",
            );
        }
        if target.is_some() {
            caption.push_str(" The dashed line is the check on this metric (the SLO).");
        }
        if let Some(cap) = y_cap {
            caption.push_str(&format!(
                " The axis stops at three times the SLO ({} {}); triangles at the top are \
                 points above it or where no request completed.",
                fixed_trim(cap),
                y_label
                    .rsplit('(')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(')')
            ));
        }
        out.push(Chart {
            id: format!("sweep-{}", metric.replace('_', "-")),
            title: format!("{title} across the sweep"),
            caption,
            x_label: x_label.clone(),
            y_label: y_label.to_string(),
            lines,
            targets,
            y_cap,
            answer,
            percent: scale == 100.0,
            ..Default::default()
        });
    }
    out
}

/// A number with at most two decimals and no trailing zeros: `1000`, `0.5`, `60`.
fn fixed_trim(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "point,service.replicas,gpu,policy,latency_p99_s_mean,latency_p99_s_ci95,replica_hours_mean,replica_hours_ci95,checks\n\
        0,2,\"h100,sxm\",base,0.5,0.1,1,,pass\n\
        1,4,\"h100,sxm\",base,0.2,0.05,2,,fail\n";

    #[test]
    fn parses_quoted_axes_means_and_cis() {
        let res = parse_sweep_csv(CSV, "s.csv").unwrap();
        let (axes, metrics, rep, rows) = (res.axes, res.metrics, res.replicated, res.rows);
        assert_eq!(axes, ["service.replicas", "gpu"]);
        assert_eq!(metrics, ["latency_p99_s", "replica_hours"]);
        assert!(rep);
        assert_eq!(rows[1].axes[1], "h100,sxm");
        assert_eq!(
            rows[1].cells[0],
            Some(Cell {
                value: 0.2,
                ci95: Some(0.05)
            })
        );
        assert_eq!(rows[0].cells[1].unwrap().ci95, None);
        assert_eq!(rows[1].check.as_deref(), Some("fail"));
    }

    #[test]
    fn charts_follow_the_numeric_axis_with_whiskers() {
        let res = parse_sweep_csv(CSV, "s.csv").unwrap();
        assert_eq!(x_axis(&res), Some(0));
        let charts = sweep_charts(&res);
        assert_eq!(charts[0].id, "sweep-latency-p99-s");
        assert_eq!(charts[0].lines.len(), 1);
        assert_eq!(
            charts[0].lines[0].points,
            [(2.0, Some(500.0)), (4.0, Some(200.0))]
        );
        assert_eq!(charts[0].lines[0].ci, [Some(100.0), Some(50.0)]);
        assert_eq!(charts[0].lines[0].name, "gpu h100,sxm");
        assert_eq!(charts[0].x_label, "replicas");
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let e = parse_sweep_csv("point,a,policy,x\n0,1,base,zz\n", "s.csv").unwrap_err();
        assert_eq!(
            e.message,
            "s.csv: line 2, column `x`: expected a number, found `zz`"
        );
        assert!(parse_sweep_csv("pt,policy\n", "s.csv").is_err());
    }
}
