//! Failures and recovery: `summary.json`'s `failures` and `incidents.csv`.

use serde::{Deserialize, Serialize};

/// One thing that happened, for the report's markers and `incidents.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// When, seconds from the start.
    pub time_s: f64,
    /// `node`, `gpu`, `zone` or `spot` (a failure), or `node_not_ready`, `pods_evicted`,
    /// `node_repaired`, `spot_terminated`, `pod_not_ready`, `pod_restarted` (a response).
    pub kind: String,
    /// What it hit.
    #[serde(default)]
    pub detail: String,
}

impl Incident {
    /// Whether this is a failure (not the cluster's response to one).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind.as_str(), "node" | "gpu" | "zone" | "spot")
    }
}

/// What failed over a run and how the service recovered (a missing key reads as zero or
/// empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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

impl FailureSummary {
    /// `incidents.csv`: the header ([`crate::columns::INCIDENTS`]) and one row per incident.
    pub fn incidents_csv(&self) -> String {
        let mut s = format!("{}\n", crate::columns::INCIDENTS);
        for i in &self.incidents {
            let d = if i.detail.contains([',', '"', '\n']) {
                format!("\"{}\"", i.detail.replace('"', "\"\""))
            } else {
                i.detail.clone()
            };
            s.push_str(&format!("{},{},{d}\n", i.time_s, i.kind));
        }
        s
    }
}
