//! Incidents (failures and the cluster's responses to them) and how a run recovered from them;
//! the serialised types are `capsim_results::failures`'s.

use super::series::SeriesRow;
pub use capsim_results::failures::{FailureSummary, Incident};

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
