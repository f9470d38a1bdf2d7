//! The report's per-tenant tables: each tenant's arrivals, gateway rejections, latency, SLO
//! attainment and throughput against its fair share, and the fairness index; with policies, one
//! row per policy and tenant.

use crate::fmt::{count, duration, percent, qty};
use crate::html::table;
use crate::model::{Fairness, Run, TenantSummary};
use std::fmt::Write as _;

fn row(policy: Option<&str>, t: &TenantSummary) -> Vec<String> {
    let mut r: Vec<String> = policy.map(str::to_string).into_iter().collect();
    r.extend([
        t.name.clone(),
        count(t.arrived, "request"),
        t.rejected.to_string(),
        t.rejected_attempts
            .map_or_else(|| "–".to_string(), |n| n.to_string()),
        t.completed.to_string(),
        t.dropped.to_string(),
        qty(Some(t.demand_rps), 2, "req/s"),
        qty(Some(t.throughput_rps), 2, "req/s"),
        qty(Some(t.fair_share_rps), 2, "req/s"),
        duration(t.latency_s.p50),
        duration(t.latency_s.p99),
        duration(t.ttft_s.as_ref().and_then(|p| p.p99)),
        percent(t.slo.attainment_ratio),
    ]);
    r
}

const HEADER: [&str; 13] = [
    "tenant",
    "arrived",
    "rejected (429)",
    "429 attempts",
    "completed",
    "dropped",
    "demand",
    "throughput",
    "fair share",
    "latency p50",
    "latency p99",
    "TTFT p99",
    "SLO attainment",
];

fn fairness_line(o: &mut String, f: Option<&Fairness>) {
    if let Some(f) = f {
        let j = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
        let _ = writeln!(
            o,
            "<p>Jain's fairness index: {} over each tenant's throughput ÷ its weighted max-min fair share, {} over throughput ÷ demand (1 is perfectly fair).</p>",
            j(f.jain_index),
            j(f.jain_index_over_demand)
        );
    }
}

/// The "Tenants" section: the main run's table, and one over policies when there are any.
pub fn section(o: &mut String, main: &Run, policies: &[Run]) {
    if main.summary.tenants.is_empty() && policies.iter().all(|p| p.summary.tenants.is_empty()) {
        return;
    }
    o.push_str("<h2 id=\"tenants\">Tenants</h2>\n");
    if policies.is_empty() {
        let rows: Vec<Vec<String>> = main.summary.tenants.iter().map(|t| row(None, t)).collect();
        table(o, &HEADER, &rows, 1);
        fairness_line(o, main.summary.fairness.as_ref());
        return;
    }
    let mut header = vec!["policy"];
    header.extend(HEADER);
    let rows: Vec<Vec<String>> = policies
        .iter()
        .flat_map(|p| p.summary.tenants.iter().map(|t| row(Some(&p.name), t)))
        .collect();
    table(o, &header, &rows, 2);
    for p in policies {
        if let Some(f) = &p.summary.fairness {
            let _ = write!(o, "<p><b>{}</b>: ", crate::fmt::esc(&p.name));
            let mut line = String::new();
            fairness_line(&mut line, Some(f));
            o.push_str(line.trim_start_matches("<p>"));
        }
    }
}
