//! Incidents (failures and the cluster's responses to them) and how a run recovered from them.

use super::series::SeriesRow;
use serde::Serialize;

/// One thing that happened, for the report's markers and `incidents.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// When, seconds from the start.
    pub time_s: f64,
    /// `node`, `gpu`, `zone` or `spot` (a failure), or `node_not_ready`, `pods_evicted`,
    /// `node_repaired`, `spot_terminated`, `pod_not_ready`, `pod_restarted` (a response).
    pub kind: &'static str,
    /// What it hit.
    pub detail: String,
}

impl Incident {
    /// Whether this is a failure (not the cluster's response to one).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, "node" | "gpu" | "zone" | "spot")
    }
}

/// What failed over a run and how the service recovered (`summary.json`'s `failures`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailureSummary {
    /// Failures (nodes, GPUs, zones, spot interruptions).
    pub failures: u64,
    /// When the first failure happened, seconds.
    pub first_failure_s: f64,
    /// Pods evicted from NotReady nodes.
    pub pods_evicted: u64,
    /// Containers restarted (liveness probe, repaired node).
    pub container_restarts: u64,
    /// Pods left hung by a GPU fault with no liveness probe to restart them.
    pub pods_hung: u64,
    /// Requests that failed because of a failure or termination (`pod_failed`, `pod_terminated`,
    /// `client_timeout`), whole run.
    pub requests_failed: u64,
    /// Seconds from the first failure until ready replicas were back at desired (0 if they never
    /// fell below it; `None` if they were still below at the horizon).
    pub replicas_recovered_s: Option<f64>,
    /// Seconds from the first failure to the end of the first sample interval, once replicas are
    /// back, with no failed or dropped request and p99 latency within the SLO (`None`: never).
    pub time_to_recover_s: Option<f64>,
    /// The incident window, seconds: from the first failure to recovery (or the horizon).
    pub window_s: (f64, f64),
    /// Of the requests that finished in the window, the share that met the SLO (dropped and
    /// failed ones count as missed).
    pub slo_attainment_in_window: Option<f64>,
    /// Requests dropped or failed in the window.
    pub requests_lost_in_window: u64,
    /// Every incident, in time order.
    pub incidents: Vec<Incident>,
}

/// Inputs to [`summarise`] the world collects.
#[derive(Clone, Debug, Default)]
pub struct FailureCounts {
    /// Pods evicted.
    pub pods_evicted: u64,
    /// Containers restarted.
    pub restarts: u64,
    /// Pods hung for good.
    pub hung: u64,
    /// Requests failed (by the reasons above).
    pub requests_failed: u64,
    /// When ready replicas were last back at desired (seconds); `None` if never degraded.
    pub recovered_at_s: Option<f64>,
    /// Whether ready replicas were below desired at the horizon.
    pub degraded_at_horizon: bool,
}

/// Summarises the incidents of a run against its time series.
pub fn summarise(
    incidents: Vec<Incident>,
    counts: FailureCounts,
    series: &[SeriesRow],
    slo_s: Option<f64>,
    horizon_s: f64,
) -> Option<FailureSummary> {
    let first = incidents.iter().find(|i| i.is_failure())?.time_s;
    let replicas_back = if counts.degraded_at_horizon {
        None
    } else {
        Some(counts.recovered_at_s.unwrap_or(first))
    };
    let recovered_row = replicas_back.and_then(|back| {
        series.iter().find(|r| {
            r.time_s > back.max(first)
                && r.drops_per_s == 0.0
                && r.ready_replicas >= r.desired_replicas
                && match slo_s {
                    Some(slo) => r.latency_p99_s.is_some_and(|p| p <= slo),
                    None => true,
                }
        })
    });
    let end = recovered_row.map_or(horizon_s, |r| r.time_s);
    let (mut met, mut total, mut lost) = (0.0, 0.0, 0.0);
    let mut prev = 0.0;
    for r in series {
        let start = prev;
        let len = r.time_s - start;
        prev = r.time_s;
        if r.time_s <= first || start >= end {
            continue;
        }
        let finished = (r.completions_per_s + r.drops_per_s) * len;
        lost += r.drops_per_s * len;
        if let Some(a) = r.slo_attainment_ratio {
            met += a * finished;
            total += finished;
        }
    }
    Some(FailureSummary {
        failures: incidents.iter().filter(|i| i.is_failure()).count() as u64,
        first_failure_s: first,
        pods_evicted: counts.pods_evicted,
        container_restarts: counts.restarts,
        pods_hung: counts.hung,
        requests_failed: counts.requests_failed,
        replicas_recovered_s: replicas_back.map(|b| (b - first).max(0.0)),
        time_to_recover_s: recovered_row.map(|r| r.time_s - first),
        window_s: (first, end),
        slo_attainment_in_window: (slo_s.is_some() && total > 0.0).then(|| met / total),
        requests_lost_in_window: lost.round() as u64,
        incidents,
    })
}
