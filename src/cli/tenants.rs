//! The per-tenant lines of the printed summary.

use sim_core::results::Summary;
use std::fmt::Write as _;

fn secs(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(s) if s >= 10.0 => format!("{s:.1} s"),
        Some(s) => format!("{:.1} ms", s * 1e3),
    }
}

/// One line per tenant and one for fairness (empty without tenants).
pub fn render(s: &Summary) -> String {
    let mut t = String::new();
    if s.tenants.is_empty() {
        return t;
    }
    let llm = s.tenants.iter().any(|r| r.ttft_s.is_some());
    let width = s
        .tenants
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let _ = writeln!(
        t,
        "tenants      {:<width$}  {:>8}  {:>8}  {:>9}  {:>8}  {:>10}  {:>10}{}  {:>8}",
        "tenant",
        "arrived",
        "rejected",
        "completed",
        "req/s",
        "p50",
        "p99",
        if llm { "   TTFT p99" } else { "" },
        "SLO met",
    );
    for r in &s.tenants {
        let _ = writeln!(
            t,
            "             {:<width$}  {:>8}  {:>8}  {:>9}  {:>8.2}  {:>10}  {:>10}{}  {:>8}",
            r.name,
            r.arrived,
            r.rejected,
            r.completed,
            r.throughput_rps,
            secs(r.latency_s.p50),
            secs(r.latency_s.p99),
            if llm {
                format!("  {:>10}", secs(r.ttft_s.as_ref().and_then(|p| p.p99)))
            } else {
                String::new()
            },
            r.slo
                .attainment_ratio
                .map_or("-".to_string(), |a| format!("{:.2}%", a * 100.0)),
        );
    }
    if let Some(f) = &s.fairness {
        let j = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
        let _ = writeln!(
            t,
            "fairness     Jain's index {} (throughput over weighted max-min fair share), {} (over demand)",
            j(f.jain_index),
            j(f.jain_index_over_demand)
        );
    }
    t
}
