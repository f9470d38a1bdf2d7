//! The report's per-service parts, for a run with several services (`[[service]]`): each
//! service's requests, latency, tokens, SLO attainment, replicas and GPUs, the charts of each
//! service over time, what each service costs (with idle capacity), and, with policies, one row
//! per policy and service.

use crate::chart::Chart;
use crate::fmt::{duration, percent, qty, usd};
use crate::html::{figure, table};
use crate::model::{Run, Series, ServiceSummary};

/// SLO attainment of a service: the token-level one with TTFT/TPOT targets, else the latency one.
pub fn attainment(v: &ServiceSummary) -> Option<f64> {
    v.tokens
        .as_ref()
        .and_then(|k| k.attainment_ratio)
        .or(v.slo.attainment_ratio)
}

/// GPU-hours a service held over the run: its `gpus` column (GPU-equivalents averaged over each
/// interval) times each interval's length; `None` without the column (older folders).
pub fn gpu_hours(series: &Series) -> Option<f64> {
    let gpus = series.column("gpus")?;
    let mut last = 0.0;
    let mut total = 0.0;
    for (t, g) in series.times().into_iter().zip(gpus) {
        total += g.unwrap_or(0.0) * (t - last);
        last = t;
    }
    Some(total / 3600.0)
}

/// The columns of a namespace's row in the cost tables.
const NAMESPACE_COLUMNS: [&str; 8] = [
    "namespace",
    "services",
    "completed",
    "dropped",
    "pod-hours",
    "cost",
    "cost per hour",
    "cost per million requests",
];

fn tokens(runs: &[&Run]) -> bool {
    runs.iter()
        .any(|r| r.summary.services.iter().any(|v| v.tokens.is_some()))
}

/// The cells of one service: latency, tokens (when `with_tokens`), SLO and replicas.
fn cells(r: &Run, v: &ServiceSummary, with_tokens: bool) -> Vec<String> {
    let mut row = vec![
        v.measured.completed.to_string(),
        v.measured.dropped.to_string(),
        qty(Some(v.throughput_rps), 2, "req/s"),
        duration(v.latency_s.p50),
        duration(v.latency_s.p99),
    ];
    if with_tokens {
        let k = v.tokens.as_ref();
        row.push(duration(k.and_then(|k| k.ttft_s.p99)));
        row.push(duration(k.and_then(|k| k.tpot_s.p99)));
    }
    row.push(percent(attainment(v)));
    row.push(qty(Some(v.replicas_mean), 2, "replicas"));
    let series = r
        .services
        .iter()
        .find(|(n, _)| *n == v.name)
        .map(|(_, s)| s);
    row.push(qty(series.and_then(gpu_hours), 2, "GPU-h"));
    row
}

fn header(policy: bool, with_tokens: bool) -> Vec<&'static str> {
    let mut h = Vec::new();
    if policy {
        h.push("policy");
    }
    h.extend([
        "service",
        "completed",
        "dropped",
        "throughput",
        "latency p50",
        "latency p99",
    ]);
    if with_tokens {
        h.extend(["TTFT p99", "TPOT p99"]);
    }
    h.extend(["SLO attainment", "replicas (mean)", "GPU-hours held"]);
    h
}

/// The "Services" section of a run with several services: a table of each service's figures
/// (requests that arrived after the warm-up) and the charts `service-*` of `charts`.
pub fn section(o: &mut String, run: &Run, charts: &[Chart]) {
    if run.summary.services.len() < 2 {
        return;
    }
    o.push_str("<h2 id=\"services\">Services</h2>\n");
    let with_tokens = tokens(&[run]);
    let rows: Vec<Vec<String>> = run
        .summary
        .services
        .iter()
        .map(|v| {
            let mut r = vec![v.name.clone()];
            r.extend(cells(run, v, with_tokens));
            r
        })
        .collect();
    table(o, &header(false, with_tokens), &rows, 1);
    o.push_str(
        "<p>SLO attainment is each service's own: token-level with TTFT/TPOT targets, else \
         end-to-end latency. GPU-hours held count the GPU-equivalents of the service's pods \
         bound to a node over the whole run (a MIG slice counts its compute slices over 7, a \
         time-sliced share 1 over the shares per GPU).</p>\n<div class=\"charts\">\n",
    );
    for c in charts.iter().filter(|c| c.id.starts_with("service-")) {
        figure(o, c);
    }
    o.push_str("</div>\n");
    cost_table(o, run);
}

/// The rows of the per-service cost table: each service with a cost (name, namespace, GPU, CPU,
/// memory, total, share of the bill, $ per million requests, $ per million output tokens), then
/// Kueue's batch pods, when there are any, and idle capacity.
pub fn cost_rows(run: &Run) -> Vec<Vec<String>> {
    let Some(c) = run.summary.cluster.as_ref() else {
        return Vec::new();
    };
    let share = |x: f64| percent((c.cost_usd > 0.0).then(|| x / c.cost_usd));
    let row = |name: &str, ns: &str, r: &capsim_results::ResourceCost| {
        vec![
            name.to_string(),
            ns.to_string(),
            usd(Some(r.gpu_usd)),
            usd(Some(r.cpu_usd)),
            usd(Some(r.memory_usd)),
            usd(Some(r.total_usd)),
            share(r.total_usd),
        ]
    };
    let mut rows = Vec::new();
    for v in &run.summary.services {
        let Some(r) = &v.cost else { continue };
        let mut cells = row(&v.name, &v.namespace, r);
        cells.push(usd(v.usd_per_million_requests));
        cells.push(usd(v.usd_per_million_output_tokens));
        rows.push(cells);
    }
    let dash = || crate::fmt::NONE.to_string();
    if let Some(b) = &c.batch_cost {
        let mut cells = row("(batch)", "", b);
        cells.extend([dash(), dash()]);
        rows.push(cells);
    }
    if let Some(i) = &c.idle_cost {
        let mut cells = row("(idle)", "", i);
        cells.extend([dash(), dash()]);
        rows.push(cells);
    }
    rows
}

/// The cost of each service (`summary.json`'s `services[].cost`, as `cost_attribution.csv` lists
/// it), with batch work and idle capacity, which add up to the cluster's bill.
fn cost_table(o: &mut String, run: &Run) {
    let rows = cost_rows(run);
    if rows.is_empty() {
        return;
    }
    let c = run.summary.cluster.as_ref();
    o.push_str("<h3 id=\"service-cost\">Cost by service</h3>\n");
    table(
        o,
        &[
            "service",
            "namespace",
            "GPU",
            "CPU",
            "memory",
            "total",
            "share of bill",
            "per million requests",
            "per million output tokens",
        ],
        &rows,
        2,
    );
    if !run.summary.namespaces.is_empty() {
        let rows: Vec<Vec<String>> = run.summary.namespaces.iter().map(namespace_cells).collect();
        o.push_str("<p>By namespace (the sums of its services; idle belongs to none):</p>\n");
        table(o, &NAMESPACE_COLUMNS, &rows, 2);
    }
    let shared = c.is_some_and(|c| c.share_idle);
    o.push_str(&format!(
        "<p>Each node's bill ({} in all) is split into CPU, memory and GPU rates; each service \
         is charged for what its pods request while bound to a node (a MIG slice its share of \
         the GPU, a time-sliced share 1 over the shares per GPU), and idle is what no pod \
         requested{}. Per million requests and output tokens count the service's completed \
         requests over the whole run.</p>\n",
        usd(c.map(|c| c.cost_usd)),
        if shared {
            " (spread over the services here: <code>share_idle</code>)"
        } else {
            ""
        }
    ));
}

/// The per-service table of the policies compared (nothing unless a policy has several
/// services): one row per policy and service.
pub fn policy_table(o: &mut String, policies: &[Run]) {
    if policies.iter().all(|p| p.summary.services.len() < 2) {
        return;
    }
    let runs: Vec<&Run> = policies.iter().collect();
    let with_tokens = tokens(&runs);
    let rows: Vec<Vec<String>> = policies
        .iter()
        .flat_map(|p| {
            p.summary.services.iter().map(move |v| {
                let mut r = vec![p.name.clone(), v.name.clone()];
                r.extend(cells(p, v, with_tokens));
                r.push(usd(v.cost_usd));
                r.push(usd(v.usd_per_million_requests));
                r
            })
        })
        .collect();
    o.push_str("<p>By service:</p>\n");
    let mut h = header(true, with_tokens);
    h.extend(["cost", "cost per million requests"]);
    table(o, &h, &rows, 2);
    if policies.iter().all(|p| p.summary.namespaces.is_empty()) {
        return;
    }
    let rows: Vec<Vec<String>> = policies
        .iter()
        .flat_map(|p| {
            p.summary.namespaces.iter().map(move |n| {
                let mut r = vec![p.name.clone()];
                r.extend(namespace_cells(n));
                r
            })
        })
        .collect();
    o.push_str("<p>By namespace (the sums of its services):</p>\n");
    let header: Vec<&str> = std::iter::once("policy").chain(NAMESPACE_COLUMNS).collect();
    table(o, &header, &rows, 3);
}

/// One namespace's cells: name, services, requests completed and dropped after the warm-up,
/// pod-hours (whole run) and cost (total, per hour, per million requests).
fn namespace_cells(n: &capsim_results::NamespaceSummary) -> Vec<String> {
    vec![
        n.name.clone(),
        n.services.join(", "),
        n.measured.completed.to_string(),
        n.measured.dropped.to_string(),
        qty(Some(n.replica_hours), 2, "pod-h"),
        usd(n.cost_usd),
        usd(n.cost_usd_per_hour),
        usd(n.usd_per_million_requests),
    ]
}
