//! The report page: one self-contained HTML file (inline CSS and SVG, no scripts, nothing from the
//! network) whose tables stack into label–value pairs on narrow screens.

use crate::chart::{all_charts, Chart};
use crate::fmt::{count, duration, esc, percent, qty, usd, NONE};
use crate::model::{Results, Run};
use std::fmt::Write as _;

const CSS: &str = "\
:root{color-scheme:light}\
body{font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',sans-serif;margin:0 auto;max-width:1000px;padding:0 12px 40px;color:#222;background:#fafafa;line-height:1.45}\
h1{font-size:1.5rem;margin:20px 0 4px}h2{font-size:1.2rem;margin:28px 0 8px;border-bottom:1px solid #ddd}\
p.meta{color:#555;margin:0 0 12px}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}\
@media (max-width:520px){.charts{display:block}}\
figure{margin:12px 0;background:#fff;border:1px solid #ddd;padding:8px}\
figure svg{width:100%;height:auto;display:block}\
figcaption{font-size:.9rem;color:#444;margin-top:4px}figcaption b{color:#222}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.95rem}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
th{background:#f0f0f0}\
code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.85rem}\
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow-x:auto}\
details{margin:8px 0}summary{cursor:pointer}\
ul.warn li{color:#8a4b00}\
@media (max-width:640px){\
table.stack thead{display:none}\
table.stack tr{display:block;border:1px solid #ddd;margin-bottom:8px}\
table.stack td{display:block;border:none;border-bottom:1px solid #eee;text-align:right}\
table.stack td::before{content:attr(data-label);float:left;font-weight:600;color:#444;padding-right:8px}\
}";

/// A table that stacks on a phone: each cell carries its column name.
pub(crate) fn table(out: &mut String, header: &[&str], rows: &[Vec<String>], numeric_from: usize) {
    // Two columns read well on a phone as they are; wider tables stack.
    let class = if header.len() > 2 { "stack" } else { "kv" };
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, cell) in r.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<td{class} data-label=\"{}\">{}</td>",
                esc(header.get(i).copied().unwrap_or("")),
                esc(cell)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

pub(crate) fn kv(rows: &mut Vec<Vec<String>>, k: &str, v: String) {
    rows.push(vec![k.to_string(), v]);
}

fn headline(run: &Run) -> Vec<Vec<String>> {
    let s = &run.summary;
    let r = &s.requests;
    let mut t = Vec::new();
    kv(
        &mut t,
        "requests",
        format!(
            "{} arrived · {} completed · {} dropped · {} in flight at the horizon",
            count(r.arrived, "request"),
            r.completed,
            r.dropped,
            r.in_flight
        ),
    );
    kv(
        &mut t,
        "throughput",
        qty(Some(s.throughput_rps), 2, "req/s"),
    );
    let l = &s.latency_s;
    kv(
        &mut t,
        "latency",
        format!(
            "mean {} · p50 {} · p90 {} · p99 {} · p99.9 {} · max {}",
            duration(l.mean),
            duration(l.p50),
            duration(l.p90),
            duration(l.p99),
            duration(l.p999),
            duration(l.max)
        ),
    );
    kv(
        &mut t,
        "queue wait",
        format!(
            "mean {} · p99 {}",
            duration(s.queue_wait_s.mean),
            duration(s.queue_wait_s.p99)
        ),
    );
    if let Some(target) = s.slo.latency_target_s {
        kv(
            &mut t,
            "latency SLO",
            format!(
                "≤ {}: {} of requests met it",
                duration(Some(target)),
                percent(s.slo.attainment_ratio)
            ),
        );
    }
    if let Some(k) = &s.tokens {
        kv(
            &mut t,
            "time to first token",
            format!(
                "mean {} · p50 {} · p99 {}",
                duration(k.ttft_s.mean),
                duration(k.ttft_s.p50),
                duration(k.ttft_s.p99)
            ),
        );
        kv(
            &mut t,
            "time per output token",
            format!(
                "mean {} · p50 {} · p99 {}",
                duration(k.tpot_s.mean),
                duration(k.tpot_s.p50),
                duration(k.tpot_s.p99)
            ),
        );
        kv(
            &mut t,
            "tokens",
            format!(
                "{} prompt · {} output · {}",
                qty(Some(k.prompt_tokens_per_s), 0, "tokens/s"),
                qty(Some(k.output_tokens_per_s), 0, "tokens/s"),
                count(k.preemptions, "preemption")
            ),
        );
        if k.attainment_ratio.is_some() {
            kv(
                &mut t,
                "token SLO",
                format!(
                    "TTFT ≤ {} and TPOT ≤ {}: {} of requests met both",
                    duration(k.ttft_target_s),
                    duration(k.tpot_target_s),
                    percent(k.attainment_ratio)
                ),
            );
        }
    }
    kv(
        &mut t,
        "replicas",
        format!(
            "{} on average · {} busy · {} per batch",
            qty(Some(s.replicas_mean), 2, "replicas"),
            percent(Some(s.replica_util_ratio)),
            qty(s.batch_size_mean, 2, "requests")
        ),
    );
    if let Some(c) = &s.cluster {
        kv(
            &mut t,
            "nodes",
            format!(
                "{} launched · {} at the horizon · {} · {} (of which idle {})",
                count(c.nodes_launched.into(), "node"),
                count(c.nodes_at_horizon.into(), "node"),
                qty(Some(c.node_hours), 2, "node-hours"),
                qty(Some(c.gpu_hours), 2, "GPU-hours"),
                qty(Some(c.idle_gpu_hours), 2, "GPU-hours")
            ),
        );
        kv(
            &mut t,
            "cost",
            format!(
                "{} in total · {} per hour · {} per million requests",
                usd(Some(c.cost_usd)),
                usd(Some(c.cost_usd_per_hour)),
                usd(c.cost_usd_per_million_requests)
            ),
        );
    } else {
        kv(
            &mut t,
            "cost",
            "no node pools in this scenario, so nothing is billed ($ 0.00 per hour)".to_string(),
        );
    }
    t
}

pub(crate) fn figure(out: &mut String, c: &Chart) {
    let _ = write!(out, "<figure id=\"fig-{}\">", esc(&c.id));
    out.push_str(&crate::svg::render(c));
    let _ = writeln!(
        out,
        "<figcaption><b>{}.</b> {}</figcaption></figure>",
        esc(&c.title),
        esc(&c.caption)
    );
}

fn comparison(res: &Results) -> Vec<Vec<String>> {
    res.policies
        .iter()
        .map(|r| {
            let s = &r.summary;
            let c = s.cluster.as_ref();
            vec![
                r.name.clone(),
                duration(s.latency_s.p50),
                duration(s.latency_s.p99),
                duration(s.latency_s.p999),
                percent(s.attainment()),
                qty(Some(s.replica_hours()), 2, "replica-h"),
                qty(c.map(|c| c.node_hours), 2, "node-h"),
                usd(c.map(|c| c.cost_usd_per_hour)),
                usd(c.and_then(|c| c.cost_usd_per_million_requests)),
            ]
        })
        .collect()
}

/// Starts a page: the document head with the inline CSS and the `<h1>` title.
pub(crate) fn open(o: &mut String, name: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"capsim {ver}\">\n\
         <title>capsim report: {name}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <h1>capsim report: {name}</h1>\n",
        ver = esc(crate::VERSION),
        name = esc(name),
    );
}

/// Ends a page.
pub(crate) fn close(o: &mut String) {
    o.push_str("</body>\n</html>\n");
}

/// The whole page for a results folder. The same folder always gives the same bytes: no clock,
/// no absolute paths, fixed decimals.
pub fn page(res: &Results) -> String {
    let run = &res.main;
    let s = &run.summary;
    let charts = all_charts(res);
    let mut o = String::with_capacity(64 * 1024);
    open(&mut o, &run.name);
    let _ = writeln!(
        o,
        "<p class=\"meta\">seed {seed} · horizon {h} (warm-up {w}) · capsim {run_ver} · statistics cover requests that arrived after the warm-up</p>",
        seed = s.seed,
        h = qty(Some(s.horizon_s), 0, "s"),
        w = qty(Some(s.warmup_s), 0, "s"),
        run_ver = esc(&s.capsim_version),
    );
    o.push_str("<h2 id=\"summary\">Summary</h2>\n");
    table(&mut o, &["measure", "value"], &headline(run), 2);
    if let Some(c) = &s.cluster {
        o.push_str("<h2 id=\"pools\">Node pools</h2>\n");
        let rows: Vec<Vec<String>> = c
            .pools
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.instance_type.clone(),
                    p.capacity_type.clone(),
                    p.gpu.clone().unwrap_or_else(|| NONE.to_string()),
                    format!("{}/h", usd(Some(p.price_usd_per_hour))),
                    count(p.nodes_launched.into(), "node"),
                    usd(Some(p.cost_usd)),
                ]
            })
            .collect();
        table(
            &mut o,
            &[
                "pool",
                "instance type",
                "capacity",
                "GPU",
                "price",
                "launched",
                "cost",
            ],
            &rows,
            4,
        );
    }
    crate::services::section(&mut o, run, &charts);
    crate::tenants::section(&mut o, run, &res.policies);
    if let Some(c) = &s.cluster {
        crate::batch::section(&mut o, c);
    }
    let shared = crate::mig::sharings(res);
    if !shared.is_empty() {
        o.push_str("<h2 id=\"gpu-layouts\">How the GPUs are shared</h2>\n<div class=\"charts\">\n");
        for g in &shared {
            let users: Vec<String> = g
                .used_by
                .iter()
                .map(|(run, pool)| format!("{run} (pool {pool})"))
                .collect();
            let what = match &g.kind {
                crate::mig::SharingKind::Mig(l) => format!("{}: MIG layout {}", g.gpu, l.layout),
                crate::mig::SharingKind::TimeSliced(n) => format!("{}: time-sliced ×{n}", g.gpu),
            };
            let _ = writeln!(
                o,
                "<figure id=\"fig-{}\">{}<figcaption><b>{}.</b> Used by {}.</figcaption></figure>",
                esc(&g.id),
                crate::mig::render(g),
                esc(&what),
                esc(&users.join(", "))
            );
        }
        o.push_str("</div>\n");
    }
    if !s.warnings.is_empty() {
        o.push_str("<h2 id=\"warnings\">Warnings</h2>\n<ul class=\"warn\">");
        for w in &s.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>\n");
    }
    if !res.policies.is_empty() {
        o.push_str("<h2 id=\"policies\">Policies compared</h2>\n");
        table(
            &mut o,
            &[
                "policy",
                "latency p50",
                "latency p99",
                "latency p99.9",
                "SLO attainment",
                "replica-hours",
                "node-hours",
                "cost per hour",
                "cost per million requests",
            ],
            &comparison(res),
            1,
        );
        crate::services::policy_table(&mut o, &res.policies);
        o.push_str("<div class=\"charts\">\n");
        for c in charts.iter().filter(|c| c.id.starts_with("policy-")) {
            figure(&mut o, c);
        }
        o.push_str("</div>\n");
        if let Some((header, rows)) = &res.comparison {
            o.push_str("<details><summary>comparison.csv as written by the run</summary>\n");
            let h: Vec<&str> = header.iter().map(String::as_str).collect();
            // With several services, `service` follows `policy` (and `namespace`, with several
            // namespaces) and the numbers start after them.
            let from = 1
                + usize::from(h.get(1) == Some(&"service"))
                + usize::from(h.get(2) == Some(&"namespace"));
            table(&mut o, &h, rows, from);
            o.push_str("</details>\n");
        }
    }
    let _ = writeln!(
        o,
        "<h2 id=\"charts\">Over time{}</h2>",
        if res.policies.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&run.name))
        }
    );
    o.push_str("<div class=\"charts\">\n");
    for c in charts
        .iter()
        .filter(|c| !c.id.starts_with("policy-") && !c.id.starts_with("service-"))
    {
        figure(&mut o, c);
    }
    o.push_str("</div>\n");
    o.push_str("<h2 id=\"provenance\">Provenance</h2>\n");
    let mut p = Vec::new();
    kv(
        &mut p,
        "capsim that ran the scenario",
        s.capsim_version.clone(),
    );
    kv(
        &mut p,
        "capsim that wrote this report",
        crate::VERSION.to_string(),
    );
    kv(&mut p, "scenario", s.scenario.clone());
    kv(&mut p, "seed", s.seed.to_string());
    table(&mut o, &["what", "value"], &p, 2);
    o.push_str(
        "<p>Files, each with its size and 64-bit FNV-1a hash (16 hex digits) of its bytes:</p>\n",
    );
    let mut rows: Vec<Vec<String>> = res
        .inputs
        .iter()
        .map(|f| {
            vec![
                format!("input: {}", f.role),
                f.path.clone(),
                format!("{} bytes", f.bytes),
                f.fnv1a64.clone(),
            ]
        })
        .collect();
    if res.inputs.is_empty() {
        rows.push(vec![
            "input".to_string(),
            "not recorded (inputs.csv missing: rerun with this capsim)".to_string(),
            NONE.to_string(),
            NONE.to_string(),
        ]);
    }
    rows.extend(res.result_files.iter().map(|f| {
        vec![
            "result".to_string(),
            f.path.clone(),
            format!("{} bytes", f.bytes),
            f.fnv1a64.clone(),
        ]
    }));
    table(&mut o, &["kind", "file", "size", "FNV-1a 64"], &rows, 2);
    match &res.scenario_text {
        Some(t) => {
            let _ = writeln!(
                o,
                "<details><summary>the scenario ({} lines)</summary><pre>{}</pre></details>",
                t.lines().count(),
                esc(t)
            );
        }
        None => o.push_str("<p>The scenario text was not recorded (scenario.toml missing).</p>\n"),
    }
    close(&mut o);
    o
}
