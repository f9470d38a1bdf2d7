//! `summary.json`'s `cluster`: node pools, pods, cost, and what Karpenter, the VPA, quotas,
//! preemption and batch work did.

use crate::{BatchOutcome, LayoutView, PreemptionOutcome, QuotaOutcome};
use serde::{Deserialize, Serialize};

/// Node pools, pods and cost.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterSummary {
    /// Nodes launched over the run (initial ones included).
    pub nodes_launched: u32,
    /// Nodes still billed at the horizon.
    pub nodes_at_horizon: u32,
    /// Node-hours billed.
    pub node_hours: f64,
    /// GPU-hours of billed nodes.
    pub gpu_hours: f64,
    /// GPU-hours of billed nodes that no pod requested (stranded or idle capacity).
    pub idle_gpu_hours: f64,
    /// Pods waiting for a node at the horizon.
    #[serde(default)]
    pub pods_pending_at_horizon: u32,
    /// Pods OOM-killed on time-sliced GPUs (each restart after a kill counts again).
    #[serde(default)]
    pub gpu_oom_kills: u64,
    /// Most pods waiting at once.
    pub pods_pending_max: u32,
    /// The scheduler's last reason for leaving a pod Pending, upstream style.
    pub last_unschedulable_reason: Option<String>,
    /// Total cost: each node billed per second (rounded up) from launch to termination or horizon.
    pub cost_usd: f64,
    /// Total cost over the horizon, per hour.
    pub cost_usd_per_hour: f64,
    /// Total cost per million completed requests (`null` when none completed).
    pub cost_usd_per_million_requests: Option<f64>,
    /// The part of `cost_usd` no pod requested (after `share_idle`, what it could not place).
    #[serde(default)]
    pub idle_cost_usd: f64,
    /// `idle_cost_usd` by resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_cost: Option<crate::ResourceCost>,
    /// What Kueue's batch pods were charged, by resource (with batch work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_cost: Option<crate::ResourceCost>,
    /// Whether idle cost was spread over the services (`[cost_allocation] share_idle`).
    #[serde(default)]
    pub share_idle: bool,
    /// Per pool.
    pub pools: Vec<PoolOutcome>,
    /// Karpenter's counters, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub karpenter: Option<KarpenterOutcome>,
    /// The VPA's evictions and last recommendation, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpa: Option<VpaOutcome>,
    /// Namespaces with ResourceQuotas: limits, peak usage and refusals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<QuotaOutcome>,
    /// Scheduler preemptions, when there was batch work to preempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption: Option<PreemptionOutcome>,
    /// Kueue-style batch jobs, when the scenario had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchOutcome>,
}

/// One pool's billing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PoolOutcome {
    /// Pool name.
    pub name: String,
    /// Instance type.
    pub instance_type: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// GPU model id, if any.
    pub gpu: Option<String>,
    /// Price per node-hour, USD.
    pub price_usd_per_hour: f64,
    /// Nodes launched.
    pub nodes_launched: u32,
    /// Nodes billed at the horizon.
    #[serde(default)]
    pub nodes_at_horizon: u32,
    /// Seconds billed over all nodes.
    #[serde(default)]
    pub billed_seconds: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// The MIG layout each GPU starts with (absent for whole GPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mig_layout: Option<LayoutView>,
    /// Shares each GPU is advertised as under time-slicing (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_slicing_replicas: Option<u32>,
}

/// What Karpenter did over a run (a missing counter reads as 0).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KarpenterOutcome {
    /// Provisioning batches that launched nodes.
    pub provisioning_batches: u64,
    /// Nodes launched (replacements included).
    pub nodes_launched: u64,
    /// Empty nodes deleted by consolidation.
    pub empty_deleted: u64,
    /// Underutilised nodes deleted (their pods fit elsewhere).
    pub underutilized_deleted: u64,
    /// Nodes replaced by a cheaper one.
    pub nodes_replaced: u64,
    /// Nodes drained because they reached `expireAfter`.
    pub nodes_expired: u64,
    /// Drifted nodes deleted or replaced after a NodePool change.
    pub nodes_drifted: u64,
}

/// One VPA recommendation for the Deployment's container.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct VpaResources {
    /// CPU, millicores.
    pub cpu_millicores: i64,
    /// Memory, bytes.
    pub memory_bytes: i64,
}

/// What the VPA did over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct VpaOutcome {
    /// `updatePolicy.updateMode`.
    pub update_mode: String,
    /// Pods evicted by the updater.
    pub evictions: u64,
    /// Pods resized in place.
    pub in_place_updates: u64,
    /// The last recommendation's target (`None` before the first).
    pub target: Option<VpaResources>,
    /// Its lower bound.
    pub lower_bound: Option<VpaResources>,
    /// Its upper bound.
    pub upper_bound: Option<VpaResources>,
}
