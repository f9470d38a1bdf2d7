//! What a chart shows, independent of how it is drawn (SVG for the page, PNG with plotters), and
//! the charts a results folder gets.

use crate::model::{Results, Run, Series};

/// One line of a line chart; `None` values leave a gap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// (x, y) points in the chart's units.
    pub points: Vec<(f64, Option<f64>)>,
    /// Half-widths of 95% confidence intervals, one per point. Non-empty (even all `None`) marks
    /// a line of discrete measurements, drawn with a mark at each point; empty for time series.
    pub ci: Vec<Option<f64>>,
    /// Per point, whether it passed every check (`Some(true)`), failed one (`Some(false)`) or
    /// has no verdict; empty when the chart's data have no checks. A failing point may carry
    /// `f64::INFINITY` (no value: nothing completed), drawn at the top edge of a capped axis.
    pub verdicts: Vec<Option<bool>>,
}

/// The point a chart names as its answer (a sweep's cheapest passing point).
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// What to call it, such as `cheapest passing: g6e.xlarge · replicas 2 · $ 3.60/h`.
    pub label: String,
    /// x, in the x axis's unit.
    pub x: f64,
    /// y, in the y axis's unit.
    pub y: f64,
}

/// A horizontal target line (an SLO).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Legend text.
    pub name: String,
    /// Height, in the y axis's unit.
    pub y: f64,
}

/// A labelled point of a scatter chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Label.
    pub name: String,
    /// x, in the x axis's unit.
    pub x: f64,
    /// y, in the y axis's unit.
    pub y: f64,
    /// Whether no other point is at least as good on both axes and better on one.
    pub on_front: bool,
}

/// A chart: axes with units, lines or points, optional target lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Stable id, used for the SVG element id (`chart-<id>`) and the PNG file name.
    pub id: String,
    /// Title.
    pub title: String,
    /// One sentence saying what to look for.
    pub caption: String,
    /// x axis label, with its unit.
    pub x_label: String,
    /// y axis label, with its unit.
    pub y_label: String,
    /// Lines (empty for a scatter).
    pub lines: Vec<Line>,
    /// Horizontal target lines.
    pub targets: Vec<Target>,
    /// Vertical markers at these x values (failures, on time-series charts).
    pub markers: Vec<f64>,
    /// Scatter points (empty for a line chart); the Pareto front is drawn through those marked.
    pub points: Vec<Point>,
    /// Shaded spans of x (a rollout's window): (from, to, label).
    pub bands: Vec<(f64, f64, String)>,
    /// A stacked area chart: each line is the running total of the lines before it plus its
    /// own values (same x values, no gaps), and the band between it and the line below (or 0)
    /// is filled in its colour.
    pub stacked: bool,
    /// The top of the y axis when values above it would flatten the rest: those values (and
    /// infinite ones) are drawn at this height as triangles pointing up, "off the scale".
    pub y_cap: Option<f64>,
    /// A point marked with a ring and named (the sweep's cheapest passing point).
    pub answer: Option<Answer>,
    /// Clamp the y axis to 0–100 (a percentage).
    pub percent: bool,
}

impl Chart {
    /// The (x, y) ranges of everything drawn, y always including 0.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
        let mut ys = (0.0f64, f64::NEG_INFINITY);
        let mut see = |x: f64, y: Option<f64>| {
            if x.is_finite() {
                xs = (xs.0.min(x), xs.1.max(x));
            }
            if let Some((y, _)) = y.and_then(|y| self.shown(y)) {
                ys = (ys.0.min(y), ys.1.max(y));
            }
        };
        for l in &self.lines {
            for (i, &(x, y)) in l.points.iter().enumerate() {
                see(x, y);
                if let (Some(y), Some(Some(h))) = (y, l.ci.get(i)) {
                    see(x, Some(y - h));
                    see(x, Some(y + h));
                }
            }
        }
        for p in &self.points {
            see(p.x, Some(p.y));
        }
        for t in &self.targets {
            ys = (ys.0.min(t.y), ys.1.max(t.y));
        }
        if !self.points.is_empty() {
            // A scatter: the range of the points, with a margin, not from zero.
            let ys_pts = self
                .points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
                    (a.0.min(p.y), a.1.max(p.y))
                });
            let (dx, dy) = ((xs.1 - xs.0) * 0.1, (ys_pts.1 - ys_pts.0) * 0.1);
            xs = (xs.0 - dx.max(0.5), xs.1 + dx.max(0.5));
            ys = (ys_pts.0 - dy.max(0.5), ys_pts.1 + dy.max(0.5));
        }
        if !xs.0.is_finite() {
            xs = (0.0, 1.0);
        }
        if !ys.1.is_finite() {
            ys.1 = 1.0;
        }
        if xs.1 <= xs.0 {
            xs.1 = xs.0 + 1.0;
        }
        if ys.1 <= ys.0 {
            ys.1 = ys.0 + 1.0;
        }
        if self.percent {
            ys = (ys.0.max(0.0), ys.1.min(100.0));
        }
        (xs, ys)
    }

    /// Where a y value is drawn: `(y, false)`, or `(cap, true)` when it is above the chart's
    /// [`Chart::y_cap`] (off the scale); `None` when it cannot be drawn (not finite, no cap).
    pub fn shown(&self, y: f64) -> Option<(f64, bool)> {
        match self.y_cap {
            Some(cap) if y > cap => Some((cap, true)),
            _ if y.is_finite() => Some((y, false)),
            _ => None,
        }
    }

    /// Whether any point is drawn off the scale.
    pub fn has_off_scale(&self) -> bool {
        self.lines.iter().any(|l| {
            l.points
                .iter()
                .any(|p| p.1.and_then(|y| self.shown(y)).is_some_and(|s| s.1))
        })
    }

    /// Whether any point carries a verdict (pass, fail).
    pub fn has_verdicts(&self) -> bool {
        self.lines
            .iter()
            .any(|l| l.verdicts.iter().any(Option::is_some))
    }
}

/// Where to put point labels so that none overlaps another: each anchor is a point's pixel
/// position and its label's width, the label `height` pixels tall. A label goes above and right
/// of its point, else below it, else the nearest free row (alternately above and below, in
/// steps of `height`), within `area` (left, top, right, bottom; a label that would run past the
/// right goes left of its point), labels placed in the order of their points' x, then y.
/// Returns each label's baseline start, in the anchors' order.
pub fn place_labels(
    anchors: &[(f64, f64, f64)],
    height: f64,
    area: (f64, f64, f64, f64),
) -> Vec<(f64, f64)> {
    let (left, top, right, bottom) = area;
    // (x, y, label width) per point.
    let mut order: Vec<usize> = (0..anchors.len()).collect();
    order.sort_by(|&a, &b| {
        anchors[a]
            .0
            .total_cmp(&anchors[b].0)
            .then(anchors[a].1.total_cmp(&anchors[b].1))
    });
    let mut placed: Vec<(f64, f64, f64)> = Vec::new(); // (x, baseline y, width)
    let mut out = vec![(0.0, 0.0); anchors.len()];
    for i in order {
        let (px, py, w) = anchors[i];
        // Right of the point, else left of it where the right runs past the area.
        let x = if px + 8.0 + w > right {
            (px - 8.0 - w).max(left)
        } else {
            px + 8.0
        };
        let mut y = py - 8.0;
        // Above the point first, then below it, then alternately further up and down; rows
        // outside the area are skipped.
        for k in 0..40 {
            let rows = (k / 2) as f64 * height;
            let cand = if k % 2 == 0 {
                py - 8.0 - rows
            } else {
                py + 8.0 + height + rows
            };
            if cand - height < top || cand > bottom {
                continue;
            }
            let clash = placed.iter().any(|&(qx, qy, qw)| {
                x < qx + qw && qx < x + w && cand - height < qy && qy - height < cand
            });
            if !clash {
                y = cand;
                break;
            }
        }
        placed.push((x, y, w));
        out[i] = (x, y);
    }
    out
}

/// Nice tick positions covering `[lo, hi]`: about `n` steps of 1, 2 or 5 × 10^k.
pub fn ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    // A tolerance so that 0.3 / 0.1 = 3.0000000000000004 does not add a tick.
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    ((first..=last).map(|i| i as f64 * step).collect(), decimals)
}

/// The time unit for a horizon: seconds up to 10 min, minutes up to 5 h, else hours.
fn time_unit(max_s: f64) -> (&'static str, f64) {
    if max_s <= 600.0 {
        ("s", 1.0)
    } else if max_s <= 5.0 * 3600.0 {
        ("min", 60.0)
    } else {
        ("h", 3600.0)
    }
}

/// Seconds shown as ms when every value is under 1 s, else as s.
fn latency_unit(max_s: f64) -> (&'static str, f64) {
    if max_s < 1.0 {
        ("ms", 1e-3)
    } else {
        ("s", 1.0)
    }
}

struct Axis {
    unit: &'static str,
    div: f64,
}

impl Axis {
    fn time(runs: &[&Run]) -> Axis {
        let max = runs
            .iter()
            .flat_map(|r| r.series.times())
            .fold(0.0f64, f64::max);
        let (unit, div) = time_unit(max);
        Axis { unit, div }
    }
}

fn line(name: &str, s: &Series, t: &Axis, col: &str, scale: f64) -> Option<Line> {
    let vals = s.column(col)?;
    Some(Line {
        name: name.to_string(),
        points: s
            .times()
            .into_iter()
            .zip(vals)
            .map(|(x, y)| (x / t.div, y.map(|v| v * scale)))
            .collect(),
        ci: Vec::new(),
        verdicts: Vec::new(),
    })
}

fn base(id: &str, title: &str, caption: &str, t: &Axis, y_label: &str) -> Chart {
    Chart {
        id: id.to_string(),
        title: title.to_string(),
        caption: caption.to_string(),
        x_label: format!("simulated time ({})", t.unit),
        y_label: y_label.to_string(),
        lines: Vec::new(),
        targets: Vec::new(),
        markers: Vec::new(),
        points: Vec::new(),
        bands: Vec::new(),
        stacked: false,
        ..Default::default()
    }
}

fn max_col(runs: &[&Run], cols: &[&str]) -> f64 {
    runs.iter()
        .flat_map(|r| cols.iter().filter_map(|c| r.series.column(c)))
        .flatten()
        .flatten()
        .fold(0.0f64, f64::max)
}

/// Ids of the charts every report has, in page order.
pub const SINGLE_RUN_CHARTS: [&str; 6] = [
    "traffic",
    "replicas",
    "latency",
    "gpus",
    "cost-rate",
    "cost-total",
];

/// Ids of the charts added when the folder holds policy variants (`policy-pareto` only when the
/// runs have a cost and an SLO attainment).
pub const POLICY_CHARTS: [&str; 4] = [
    "policy-pareto",
    "policy-replicas",
    "policy-latency",
    "policy-cost-rate",
];

/// Ids of the charts added when the folder holds policy variants and the SLO is on tokens
/// (an LLM engine): each policy's p99 TTFT and TPOT over time.
pub const POLICY_TOKEN_CHARTS: [&str; 2] = ["policy-ttft", "policy-tpot"];

/// Ids of the charts added for a run with several services (`service-ttft` only with LLM
/// engines, `service-gpus` only when `services.csv` has its `gpus` column, `service-cost` only
/// when it has `cost_usd_per_hour` and the run has nodes).
pub const SERVICE_CHARTS: [&str; 4] = [
    "service-latency",
    "service-ttft",
    "service-gpus",
    "service-cost",
];

/// The lines of a stacked chart of column `col` of each service, in scenario order, over the
/// first service's times: each line the running total up to and including its service.
fn stacked_services(run: &Run, col: &str, t: &Axis) -> (Vec<f64>, Vec<f64>, Vec<Line>) {
    let times = run.services[0].1.times();
    let mut total = vec![0.0f64; times.len()];
    let mut lines = Vec::new();
    for (name, s) in &run.services {
        let vals = s.column(col).unwrap_or_default();
        for (i, v) in vals.iter().enumerate().take(total.len()) {
            total[i] += v.unwrap_or(0.0);
        }
        lines.push(Line {
            name: name.clone(),
            points: times
                .iter()
                .zip(&total)
                .map(|(&x, &y)| (x / t.div, Some(y)))
                .collect(),
            ci: Vec::new(),
            verdicts: Vec::new(),
        });
    }
    (times, total, lines)
}

/// Each service's p99 of `col` over time, one line per service, with the services' targets.
fn per_service_latency(
    run: &Run,
    id: &str,
    title: &str,
    what: &str,
    col: &str,
    target: &dyn Fn(&crate::model::ServiceSummary) -> Option<f64>,
) -> Option<Chart> {
    let t = Axis::time(&[run]);
    let max = run
        .services
        .iter()
        .filter_map(|(_, s)| s.column(col))
        .flatten()
        .flatten()
        .fold(0.0f64, f64::max);
    if run
        .services
        .iter()
        .all(|(_, s)| s.column(col).is_none_or(|v| v.iter().all(Option::is_none)))
    {
        return None;
    }
    let targets: Vec<(String, f64)> = run
        .summary
        .services
        .iter()
        .filter_map(|v| Some((v.name.clone(), target(v)?)))
        .collect();
    let max = targets.iter().fold(max, |m, (_, y)| m.max(*y));
    let (unit, div) = latency_unit(max);
    let mut c = base(
        id,
        title,
        &format!(
            "p99 {what} of each service's requests completed in each interval{}.",
            if targets.is_empty() {
                ""
            } else {
                "; the dashed lines are the services' SLO targets"
            }
        ),
        &t,
        &format!("p99 ({unit})"),
    );
    for (name, s) in &run.services {
        c.lines.extend(line(name, s, &t, col, 1.0 / div));
    }
    for (name, y) in targets {
        let mut target = slo_target(y, unit, div);
        target.name = format!("{name}: {}", target.name);
        c.targets.push(target);
    }
    Some(c)
}

/// The charts of a run with several services (empty otherwise): each service's p99 latency
/// (and TTFT) over time, and the GPUs each holds, stacked.
pub fn service_charts(run: &Run) -> Vec<Chart> {
    if run.services.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    out.extend(per_service_latency(
        run,
        "service-latency",
        "Latency by service",
        "end-to-end latency (arrival to completion)",
        "latency_p99_s",
        &|v| v.slo.latency_target_s,
    ));
    if run.summary.services.iter().any(|v| v.tokens.is_some()) {
        out.extend(per_service_latency(
            run,
            "service-ttft",
            "Time to first token by service",
            "time to first token",
            "ttft_p99_s",
            &|v| v.tokens.as_ref().and_then(|k| k.ttft_target_s),
        ));
    }
    if run.services.iter().all(|(_, s)| s.column("gpus").is_some()) {
        let t = Axis::time(&[run]);
        let mut c = base(
            "service-gpus",
            "GPUs by service",
            "GPU-equivalents held by each service's pods bound to a node (starting or ready), \
             averaged over each sample interval and stacked, so the top line is all the \
             services' together: a whole GPU counts 1, a MIG slice its compute slices over 7, a \
             share of a time-sliced GPU 1 over the shares per GPU.",
            &t,
            "GPUs held (GPU-equivalents)",
        );
        c.stacked = true;
        c.lines = stacked_services(run, "gpus", &t).2;
        out.push(c);
    }
    out.extend(service_cost_chart(run));
    out
}

/// The cost of each service over time, stacked, with idle capacity as the top band: each
/// service's `cost_usd_per_hour` (`services.csv`: what its bound pods request, at their nodes'
/// rates), and the cluster's (`timeseries.csv`: the nodes billed) less their sum. `None`
/// without those columns or without nodes.
pub fn service_cost_chart(run: &Run) -> Option<Chart> {
    if run.summary.cluster.is_none()
        || run.services.len() < 2
        || !run
            .services
            .iter()
            .all(|(_, s)| s.column("cost_usd_per_hour").is_some())
    {
        return None;
    }
    let cluster = run.series.column("cost_usd_per_hour")?;
    let t = Axis::time(&[run]);
    let batch = run
        .summary
        .cluster
        .as_ref()
        .is_some_and(|c| c.batch_cost.is_some());
    let mut c = base(
        "service-cost",
        "Cost by service",
        &format!(
            "What each service's pods bound to a node request, at their nodes' rates (USD per \
             hour, averaged over each sample interval), stacked; the top band is idle: the nodes \
             billed less what the services request{}, so the top line is the cluster's cost \
             per hour.",
            if batch {
                " (Kueue's batch pods included in it)"
            } else {
                ""
            }
        ),
        &t,
        "cost (USD per hour)",
    );
    c.stacked = true;
    let (times, total, mut lines) = stacked_services(run, "cost_usd_per_hour", &t);
    // Idle: the cluster's rate less the services', never below their sum (billing rounds).
    lines.push(Line {
        name: if batch { "idle (and batch)" } else { "idle" }.to_string(),
        points: times
            .iter()
            .zip(&total)
            .enumerate()
            .map(|(i, (&x, &sum))| {
                let all = cluster.get(i).copied().flatten().unwrap_or(sum);
                (x / t.div, Some(all.max(sum)))
            })
            .collect(),
        ci: Vec::new(),
        verdicts: Vec::new(),
    });
    c.lines = lines;
    Some(c)
}

/// The charts of one run.
pub fn run_charts(run: &Run) -> Vec<Chart> {
    let mut charts = run_charts_unmarked(run);
    // Failures, as vertical lines on every time-series chart, so the dip and recovery show.
    let t = Axis::time(&[run]);
    let marks: Vec<f64> = run
        .summary
        .failures
        .iter()
        .flat_map(|f| f.incidents.iter())
        .filter(|i| matches!(i.kind.as_str(), "node" | "gpu" | "zone" | "spot"))
        .map(|i| i.time_s / t.div)
        .collect();
    for c in &mut charts {
        if c.points.is_empty() {
            c.markers.clone_from(&marks);
        }
    }
    charts
}

fn run_charts_unmarked(run: &Run) -> Vec<Chart> {
    let s = &run.series;
    let t = Axis::time(&[run]);
    let mut out = Vec::new();

    let mut c = base(
        "traffic",
        "Traffic",
        "Requests arriving, completing and dropped, averaged over each sample interval.",
        &t,
        "requests per second (req/s)",
    );
    for (name, col) in [
        ("arrivals", "arrivals_per_s"),
        ("completions", "completions_per_s"),
        ("drops", "drops_per_s"),
    ] {
        c.lines.extend(line(name, s, &t, col, 1.0));
    }
    out.push(c);

    let mut c = base(
        "replicas",
        "Replicas and nodes",
        "Replicas the Deployment wants, replicas serving and nodes billed, at the end of each interval.",
        &t,
        "count (replicas, nodes)",
    );
    for (name, col) in [
        ("desired replicas", "desired_replicas"),
        ("ready replicas", "ready_replicas"),
        ("nodes", "nodes"),
    ] {
        c.lines.extend(line(name, s, &t, col, 1.0));
    }
    out.push(c);

    out.push(latency_chart(
        "latency",
        &[run],
        &[("p50", "latency_p50_s"), ("p99", "latency_p99_s")],
        false,
    ));

    if let Some(k) = &run.summary.tokens {
        for (id, title, what, col, target) in [
            (
                "ttft",
                "Time to first token",
                "arrival to first output token",
                "ttft_p99_s",
                k.ttft_target_s,
            ),
            (
                "tpot",
                "Time per output token",
                "mean gap between output tokens after the first",
                "tpot_p99_s",
                k.tpot_target_s,
            ),
        ] {
            if let Some(c) = token_chart(id, title, what, run, col, target) {
                out.push(c);
            }
        }
    }

    if s.column("gpus_billed").is_some() && s.column("gpus_allocated").is_some() {
        // Time series that count GPUs get them as counts.
        let mut c = base(
            "gpus",
            "GPUs billed and allocated",
            "GPUs on billed nodes and GPUs requested by pods, at the end of each interval.",
            &t,
            "GPUs (count)",
        );
        for (name, col) in [
            ("GPUs billed", "gpus_billed"),
            ("GPUs allocated", "gpus_allocated"),
        ] {
            c.lines.extend(line(name, s, &t, col, 1.0));
        }
        out.push(c);
    } else {
        let mut c = base(
            "gpus",
            "GPU allocation and activity",
            "GPUs requested by pods over GPUs on ready nodes, and busy replicas over ready \
             replicas.",
            &t,
            "share (%)",
        );
        for (name, col) in [
            ("GPUs allocated / GPUs on ready nodes", "gpu_alloc_ratio"),
            ("CPU allocated / CPU on ready nodes", "cpu_alloc_ratio"),
            ("busy replicas / ready replicas", "replica_util_ratio"),
        ] {
            c.lines.extend(line(name, s, &t, col, 100.0));
        }
        out.push(c);
    }

    let mut c = base(
        "cost-rate",
        "Cost per hour",
        "Price of the nodes billed, averaged over each interval.",
        &t,
        "cost (USD per hour)",
    );
    c.lines
        .extend(line("cost per hour", s, &t, "cost_usd_per_hour", 1.0));
    out.push(c);

    let mut c = base(
        "cost-total",
        "Cumulative cost",
        "Cost accrued from the start of the run.",
        &t,
        "cost (USD)",
    );
    c.lines
        .extend(line("cumulative cost", s, &t, "cost_usd", 1.0));
    out.push(c);
    if let Some(r) = &run.summary.rollout {
        out.push(rollout_chart(r, &t, run.summary.horizon_s));
        // Every time-series chart shades each rollout's window.
        let bands: Vec<(f64, f64, String)> = r
            .rollouts
            .iter()
            .map(|x| {
                (
                    x.start_s / t.div,
                    x.finish_s.unwrap_or(run.summary.horizon_s) / t.div,
                    format!("rollout to v{} ({})", x.version, x.strategy),
                )
            })
            .collect();
        for c in &mut out {
            c.bands = bands.clone();
        }
    }
    // With several services, their charts (shown in the report's Services section).
    let bands = out.first().map(|c| c.bands.clone()).unwrap_or_default();
    for mut c in service_charts(run) {
        c.bands.clone_from(&bands);
        out.push(c);
    }
    out
}

/// Ready pods per model version (steps at every change) and the desired replicas.
fn rollout_chart(r: &crate::model::RolloutSummary, t: &Axis, horizon_s: f64) -> Chart {
    let mut c = base(
        "rollout",
        "Ready pods per model version",
        "Pods Ready per version and the Deployment's desired replicas at every change; the \
         shaded spans are the rollouts, from the template change to the last old pod gone.",
        t,
        "pods (count)",
    );
    let versions = r.ready.iter().map(|p| p.ready.len()).max().unwrap_or(0);
    let step = |f: &dyn Fn(&crate::model::ReadyPoint) -> f64| {
        let mut pts = Vec::with_capacity(2 * r.ready.len());
        for (i, p) in r.ready.iter().enumerate() {
            if i > 0 {
                pts.push((p.t_s / t.div, Some(f(&r.ready[i - 1]))));
            }
            pts.push((p.t_s / t.div, Some(f(p))));
        }
        if let Some(last) = r.ready.last().filter(|l| l.t_s < horizon_s) {
            pts.push((horizon_s / t.div, Some(f(last))));
        }
        pts
    };
    c.lines.push(Line {
        name: "desired replicas".into(),
        points: step(&|p| p.desired as f64),
        ci: Vec::new(),
        verdicts: Vec::new(),
    });
    for v in 0..versions {
        c.lines.push(Line {
            name: format!("ready, version {v}"),
            points: step(&|p| p.ready.get(v).copied().unwrap_or(0) as f64),
            ci: Vec::new(),
            verdicts: Vec::new(),
        });
    }
    c
}

/// The dashed SLO line at `y` seconds, on an axis in `unit` (seconds divided by `div`).
fn slo_target(y: f64, unit: &str, div: f64) -> Target {
    Target {
        name: format!(
            "SLO target {} {unit}",
            crate::fmt::fixed(y / div, if unit == "ms" { 1 } else { 2 })
        ),
        y: y / div,
    }
}

/// p99 of a token-level latency over time with its target, or `None` when the series has no
/// such column (results of an older capsim) or no value in it.
fn token_chart(
    id: &str,
    title: &str,
    what: &str,
    run: &Run,
    col: &str,
    target: Option<f64>,
) -> Option<Chart> {
    let vals = run.series.column(col)?;
    if vals.iter().all(Option::is_none) {
        return None;
    }
    let t = Axis::time(&[run]);
    let max = max_col(&[run], &[col]).max(target.unwrap_or(0.0));
    let (unit, div) = latency_unit(max);
    let mut c = base(
        id,
        title,
        &format!(
            "p99 {title} ({what}) of the requests completed in each interval{}.",
            if target.is_some() {
                "; the dashed line is the SLO target"
            } else {
                ""
            }
        ),
        &t,
        &format!("{} p99 ({unit})", id.to_uppercase()),
    );
    c.lines.extend(line("p99", &run.series, &t, col, 1.0 / div));
    c.targets.extend(target.map(|y| slo_target(y, unit, div)));
    Some(c)
}

fn latency_chart(id: &str, runs: &[&Run], cols: &[(&str, &str)], by_run: bool) -> Chart {
    let t = Axis::time(runs);
    let target = runs[0].summary.slo.latency_target_s;
    let max =
        max_col(runs, &cols.iter().map(|c| c.1).collect::<Vec<_>>()).max(target.unwrap_or(0.0));
    let (unit, div) = latency_unit(max);
    let mut c = base(
        id,
        if by_run {
            "p99 latency by policy"
        } else {
            "Latency"
        },
        if target.is_some() {
            "End-to-end latency (arrival to completion) of the requests completed in each \
             interval; the dashed line is the SLO target."
        } else {
            "End-to-end latency (arrival to completion) of the requests completed in each \
             interval; the scenario sets no end-to-end latency target (token-level targets, if \
             any, are in the summary table)."
        },
        &t,
        &format!("latency ({unit})"),
    );
    for r in runs {
        for (name, col) in cols {
            let label = if by_run {
                r.name.clone()
            } else {
                name.to_string()
            };
            c.lines.extend(line(&label, &r.series, &t, col, 1.0 / div));
        }
    }
    c.targets.extend(target.map(|y| slo_target(y, unit, div)));
    c
}

/// Each policy's p99 of a token-level latency over time with the SLO target, or `None` when
/// no policy's series has a value in that column.
fn policy_token_chart(
    id: &str,
    what: &str,
    runs: &[&Run],
    col: &str,
    target: Option<f64>,
) -> Option<Chart> {
    if runs.iter().all(|r| {
        r.series
            .column(col)
            .is_none_or(|v| v.iter().all(Option::is_none))
    }) {
        return None;
    }
    let t = Axis::time(runs);
    let max = max_col(runs, &[col]).max(target.unwrap_or(0.0));
    // A policy far over the SLO would flatten the others: the axis stops at three times it.
    let cap = target.map(|y| 3.0 * y).filter(|&cap| max > cap);
    let (unit, div) = latency_unit(cap.unwrap_or(max));
    let short = col.split('_').next().unwrap_or(col).to_uppercase();
    let mut c = base(
        id,
        &format!("p99 {short} by policy"),
        &format!(
            "p99 {} of the requests completed in each interval, one line per policy{}{}.",
            what.to_lowercase(),
            if target.is_some() {
                "; the dashed line is the SLO target"
            } else {
                ""
            },
            if cap.is_some() {
                "; the axis stops at three times the target, higher values drawn along the top"
            } else {
                ""
            }
        ),
        &t,
        &format!("{short} p99 ({unit})"),
    );
    c.y_cap = cap.map(|y| y / div);
    for r in runs {
        c.lines.extend(line(&r.name, &r.series, &t, col, 1.0 / div));
    }
    c.targets.extend(target.map(|y| slo_target(y, unit, div)));
    Some(c)
}

/// Marks the points no other point dominates (cost lower is better, attainment higher is better).
pub fn pareto(points: &mut [Point]) {
    let all: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
    for p in points.iter_mut() {
        p.on_front = !all
            .iter()
            .any(|&(x, y)| x <= p.x && y >= p.y && (x < p.x || y > p.y));
    }
}

/// The charts comparing policy variants (empty without variants).
pub fn policy_charts(res: &Results) -> Vec<Chart> {
    if res.policies.is_empty() {
        return Vec::new();
    }
    let runs: Vec<&Run> = res.policies.iter().collect();
    let t = Axis::time(&runs);
    let mut out = Vec::new();
    let mut c = base(
        "policy-pareto",
        "Cost against SLO attainment",
        "Each policy's cost per hour and SLO attainment; the line joins the Pareto front \
         (no other policy is both cheaper and better), drawn with filled marks.",
        &t,
        "SLO attainment (%)",
    );
    c.x_label = "cost (USD per hour)".to_string();
    c.percent = true;
    c.points = runs
        .iter()
        .filter_map(|r| {
            Some(Point {
                name: r.name.clone(),
                x: r.summary.cluster.as_ref()?.cost_usd_per_hour,
                y: r.summary.attainment()? * 100.0,
                on_front: false,
            })
        })
        .collect();
    pareto(&mut c.points);
    // Without a cost (no node pools) or an attainment, there is nothing to place.
    if !c.points.is_empty() {
        out.push(c);
    }

    let mut c = base(
        "policy-replicas",
        "Ready replicas by policy",
        "Replicas serving at the end of each interval, one line per policy.",
        &t,
        "ready replicas (count)",
    );
    for r in &runs {
        c.lines
            .extend(line(&r.name, &r.series, &t, "ready_replicas", 1.0));
    }
    out.push(c);
    out.push(latency_chart(
        "policy-latency",
        &runs,
        &[("p99", "latency_p99_s")],
        true,
    ));
    if let Some(k) = &res.main.summary.tokens {
        for (id, what, col, target) in [
            (
                "policy-ttft",
                "Time to first token",
                "ttft_p99_s",
                k.ttft_target_s,
            ),
            (
                "policy-tpot",
                "Time per output token",
                "tpot_p99_s",
                k.tpot_target_s,
            ),
        ] {
            out.extend(policy_token_chart(id, what, &runs, col, target));
        }
    }
    let mut c = base(
        "policy-cost-rate",
        "Cost per hour by policy",
        "Price of the nodes billed, one line per policy.",
        &t,
        "cost (USD per hour)",
    );
    for r in &runs {
        c.lines
            .extend(line(&r.name, &r.series, &t, "cost_usd_per_hour", 1.0));
    }
    out.push(c);
    out
}

/// Every chart of a report, in page order.
pub fn all_charts(res: &Results) -> Vec<Chart> {
    let mut v = run_charts(&res.main);
    v.extend(policy_charts(res));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_counts_are_charted_when_the_series_has_them() {
        let text = "time_s,gpus_billed,gpus_allocated,gpu_alloc_ratio\n10,8,3,0.375\n";
        let series = crate::model::parse_series(text, "t.csv").unwrap();
        let summary = crate::model::parse_summary(
            include_str!("../../tests/fixtures/policies/summary.json"),
            "s.json",
        )
        .unwrap();
        let run = Run {
            name: "r".into(),
            summary,
            series,
            services: Vec::new(),
        };
        let gpus = run_charts(&run)
            .into_iter()
            .find(|c| c.id == "gpus")
            .unwrap();
        assert_eq!(gpus.y_label, "GPUs (count)");
        assert_eq!(gpus.lines[0].points, vec![(10.0, Some(8.0))]);
    }

    /// Each service's cost per hour stacked in scenario order, then idle: the cluster's cost per
    /// hour on top (never below the services' sum).
    #[test]
    fn service_costs_are_stacked_under_the_cluster_with_idle_on_top() {
        let summary = crate::model::parse_summary(
            include_str!("../../tests/fixtures/policies/summary.json"),
            "s.json",
        )
        .unwrap();
        assert!(summary.cluster.is_some());
        let series =
            crate::model::parse_series("time_s,cost_usd_per_hour\n60,10\n120,4\n", "t.csv")
                .unwrap();
        let services = crate::model::parse_services(
            "time_s,service,gpus,cost_usd_per_hour\n60,a,1,3\n60,b,1,2\n120,a,1,3\n120,b,1,2\n",
            "s.csv",
        )
        .unwrap();
        let mut run = Run {
            name: "r".into(),
            summary,
            series,
            services,
        };
        let c = service_cost_chart(&run).unwrap();
        assert!(c.stacked);
        let names: Vec<&str> = c.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "idle"]);
        let ys = |i: usize| -> Vec<Option<f64>> { c.lines[i].points.iter().map(|p| p.1).collect() };
        assert_eq!(ys(0), [Some(3.0), Some(3.0)]);
        assert_eq!(ys(1), [Some(5.0), Some(5.0)]);
        // 10 $/h billed over 5 requested: 5 idle; 4 billed under 5 requested: no idle band.
        assert_eq!(ys(2), [Some(10.0), Some(5.0)]);
        // Without the column (older results) or without nodes: no chart.
        run.services =
            crate::model::parse_services("time_s,service,gpus\n60,a,1\n60,b,1\n", "s.csv").unwrap();
        assert!(service_cost_chart(&run).is_none());
    }

    #[test]
    fn ticks_are_round() {
        let (t, d) = ticks(0.0, 97.0, 5);
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(d, 0);
        let (t, d) = ticks(0.0, 0.3, 5);
        assert_eq!(t.len(), 4);
        assert_eq!(d, 1);
        let (t, d) = ticks(0.0, 0.07, 5);
        assert_eq!((t.len(), t[t.len() - 1]), (5, 0.08));
        assert_eq!(d, 2);
    }

    /// Labels of nearby points are moved apart: above, then below, then further up.
    #[test]
    fn labels_do_not_overlap() {
        let at = place_labels(
            &[
                (100.0, 50.0, 80.0),
                (105.0, 50.0, 80.0),
                (250.0, 50.0, 80.0),
                (390.0, 5.0, 80.0),
            ],
            16.0,
            (0.0, 0.0, 400.0, 300.0),
        );
        assert_eq!(at[0], (108.0, 42.0), "above and right of its point");
        assert_eq!(at[1], (113.0, 74.0), "below, clear of the first");
        assert_eq!(at[2], (258.0, 42.0), "far away: above");
        assert_eq!(
            at[3],
            (302.0, 61.0),
            "at the top right: left, below, clear of the third"
        );
    }

    /// A percentage axis stays within 0–100; a capped axis stops at its cap and draws values
    /// above it (and infinite ones) at the cap, off the scale.
    #[test]
    fn percent_and_capped_axes() {
        let mut c = Chart {
            percent: true,
            points: vec![Point {
                name: "a".into(),
                x: 1.0,
                y: 99.9,
                on_front: true,
            }],
            ..Default::default()
        };
        assert!(c.bounds().1 .1 <= 100.0);
        c.points.clear();
        c.percent = false;
        c.y_cap = Some(3.0);
        c.lines.push(Line {
            name: "l".into(),
            points: vec![
                (0.0, Some(1.0)),
                (1.0, Some(500.0)),
                (2.0, Some(f64::INFINITY)),
            ],
            ci: vec![None; 3],
            verdicts: vec![Some(true), Some(false), Some(false)],
        });
        assert_eq!(c.bounds().1, (0.0, 3.0));
        assert_eq!(c.shown(500.0), Some((3.0, true)));
        assert_eq!(c.shown(f64::INFINITY), Some((3.0, true)));
        assert_eq!(c.shown(1.0), Some((1.0, false)));
        assert!(c.has_off_scale() && c.has_verdicts());
        let svg = crate::svg::render(&c);
        assert_eq!(
            svg.matches("class=\"off-scale\"").count(),
            2 + 1,
            "two marks, one key"
        );
        assert_eq!(svg.matches("class=\"mark pass\"").count(), 1 + 1);
        assert_eq!(svg.matches("class=\"mark fail\"").count(), 1);
        c.y_cap = None;
        assert_eq!(c.shown(f64::INFINITY), None, "no cap: not drawn");
    }

    #[test]
    fn pareto_front_keeps_undominated_points() {
        let mk = |n: &str, x, y| Point {
            name: n.into(),
            x,
            y,
            on_front: false,
        };
        let mut p = vec![
            mk("a", 1.0, 90.0),
            mk("b", 2.0, 95.0),
            mk("c", 2.5, 94.0),
            mk("d", 1.0, 80.0),
        ];
        pareto(&mut p);
        let front: Vec<bool> = p.iter().map(|p| p.on_front).collect();
        assert_eq!(front, vec![true, true, false, false]);
    }
}
