//! Rollouts of model versions: `summary.json`'s `rollout` and `rollout.csv`.

use crate::Percentiles;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// `summary.json`'s `rollout` object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RolloutSummary {
    /// One entry per `[[rollout]]` that started before the horizon.
    pub rollouts: Vec<RolloutRecord>,
    /// Per model version (0: `[service]`), measured requests only.
    #[serde(default)]
    pub versions: Vec<VersionSummary>,
    /// Ready pods per version and desired replicas, at every change.
    pub ready: Vec<ReadyPoint>,
}

/// One rollout's timeline and cost.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RolloutRecord {
    /// The version it rolled out.
    pub version: u32,
    /// `RollingUpdate`, `Recreate` or `Canary`.
    pub strategy: String,
    /// `maxSurge` resolved against the desired replicas at the start (rolling updates).
    #[serde(default)]
    pub max_surge: Option<u32>,
    /// `maxUnavailable` resolved (after upstream's fencepost rule) at the start.
    #[serde(default)]
    pub max_unavailable: Option<u32>,
    /// When the Deployment's template changed, seconds.
    pub start_s: f64,
    /// When the new version had every desired replica available and no old pod remained
    /// (terminating ones aside), seconds; `null` if not by the horizon (or superseded).
    pub finish_s: Option<f64>,
    /// `finish_s − start_s`.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Fewest Ready pods (all versions) seen after any event during the rollout.
    pub min_ready_replicas: u32,
    /// Fewest Ready pods minus desired replicas after any event during the rollout.
    #[serde(default)]
    pub min_ready_minus_desired: i64,
    /// Pod-hours above the desired replicas (pending, starting, ready or terminating pods)
    /// during the rollout.
    #[serde(default)]
    pub extra_pod_hours: f64,
    /// Node-hours above the node count at the start, from the start until the cluster is back
    /// to that count after the finish (or the horizon).
    pub extra_node_hours: f64,
    /// The same excess in node prices, USD.
    pub extra_cost_usd: f64,
    /// When the extra-capacity window closed, seconds.
    #[serde(default)]
    pub extra_until_s: f64,
}

/// Requests one model version served.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VersionSummary {
    /// 0 for `[service]`, n for the n-th `[[rollout]]`.
    pub version: u32,
    /// Measured requests it completed.
    pub completed: u64,
    /// Their end-to-end latency, seconds.
    pub latency_s: Percentiles,
}

/// Ready pods at a moment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReadyPoint {
    /// Seconds.
    pub t_s: f64,
    /// The Deployment's desired replicas.
    pub desired: u32,
    /// Ready pods per version (index = version).
    pub ready: Vec<u32>,
}

impl RolloutSummary {
    /// `rollout.csv`: `time_s,desired,ready_v0,ready_v1,…`, one row per change.
    pub fn ready_csv(&self) -> String {
        let versions = self.versions.len().max(1);
        let mut s = String::from(crate::columns::ROLLOUT_PREFIX);
        for v in 0..versions {
            let _ = write!(s, ",ready_v{v}");
        }
        s.push('\n');
        for p in &self.ready {
            let _ = write!(s, "{},{}", p.t_s, p.desired);
            for v in 0..versions {
                let _ = write!(s, ",{}", p.ready.get(v).copied().unwrap_or(0));
            }
            s.push('\n');
        }
        s
    }
}
