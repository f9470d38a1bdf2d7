//! Per-tenant results: `summary.json`'s `tenants` and `fairness`, and `tenants.csv`.

use crate::Percentiles;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tenant's SLO results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TenantSlo {
    /// End-to-end latency target, seconds.
    pub latency_target_s: Option<f64>,
    /// TTFT target, seconds.
    pub ttft_target_s: Option<f64>,
    /// TPOT target, seconds.
    pub tpot_target_s: Option<f64>,
    /// Measured requests that completed meeting every target, over measured requests completed,
    /// dropped or rejected (drops and rejections are misses); `null` without targets.
    pub attainment_ratio: Option<f64>,
}

/// One tenant's results. Counts cover the whole run; rates, percentiles and the SLO cover
/// requests that arrived after the warm-up.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TenantSummary {
    /// The label (a mix stream's name, a trace's tenant label).
    pub name: String,
    /// Requests that arrived; `arrived = admitted + rejected`.
    pub arrived: u64,
    /// Requests the gateway let through (with a client that retries 429s, those whose last
    /// attempt so far was let through, or that wait to retry).
    #[serde(default)]
    pub admitted: u64,
    /// Requests the gateway refused (HTTP 429), all reasons: requests whose last attempt was
    /// refused.
    pub rejected: u64,
    /// Refused, by reason (`rate_limited`, `token_limited`).
    #[serde(default)]
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Attempts the gateway refused, a client's retries included; equals `rejected` unless a
    /// `[traffic.client]` retries 429s (`None` only when read from a summary written before
    /// capsim counted them).
    #[serde(default)]
    pub rejected_attempts: Option<u64>,
    /// Admitted requests served.
    pub completed: u64,
    /// Admitted requests dropped (queue full, no ready replica, …).
    pub dropped: u64,
    /// Admitted requests still queued or executing at the horizon;
    /// `admitted = completed + dropped + in_flight`.
    #[serde(default)]
    pub in_flight: u64,
    /// Fair-share weight.
    #[serde(default)]
    pub weight: f64,
    /// Its request rate limit's sustained rate, requests per second (`null`: none).
    #[serde(default)]
    pub rate_limit_rps: Option<f64>,
    /// Its tokens-per-minute limit (`null`: none).
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    /// Measured arrivals per second of the measured window.
    pub demand_rps: f64,
    /// Measured completions per second of the measured window.
    pub throughput_rps: f64,
    /// Its weighted max-min fair share of all tenants' throughput, per second.
    pub fair_share_rps: f64,
    /// End-to-end latency of measured completions, seconds.
    pub latency_s: Percentiles,
    /// Time to first token, seconds (LLM engines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_s: Option<Percentiles>,
    /// Time per output token, seconds (LLM engines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_s: Option<Percentiles>,
    /// SLO attainment against the tenant's own targets.
    pub slo: TenantSlo,
}

/// Fairness across tenants.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Fairness {
    /// Jain's index over throughput ÷ weighted max-min fair share (`null`: no tenant had demand).
    pub jain_index: Option<f64>,
    /// Jain's index over throughput ÷ demand.
    pub jain_index_over_demand: Option<f64>,
}

/// `tenants.csv`: the header ([`crate::columns::TENANTS`]) and one row per tenant.
pub fn to_csv(rows: &[TenantSummary]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{}\n", crate::columns::TENANTS);
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
    for r in rows {
        let name = if r.name.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", r.name.replace('"', "\"\""))
        } else {
            r.name.clone()
        };
        let _ = writeln!(
            out,
            "{name},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.weight,
            r.arrived,
            r.admitted,
            r.rejected_by_reason
                .get("rate_limited")
                .copied()
                .unwrap_or(0),
            r.rejected_by_reason
                .get("token_limited")
                .copied()
                .unwrap_or(0),
            r.rejected_attempts.unwrap_or(r.rejected),
            r.completed,
            r.dropped,
            r.in_flight,
            r.demand_rps,
            r.throughput_rps,
            r.fair_share_rps,
            opt(r.latency_s.p50),
            opt(r.latency_s.p95),
            opt(r.latency_s.p99),
            opt(r.ttft_s.as_ref().and_then(|p| p.p99)),
            opt(r.tpot_s.as_ref().and_then(|p| p.p99)),
            opt(r.slo.attainment_ratio),
        );
    }
    out
}
