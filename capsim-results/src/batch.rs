//! What quotas, preemption and Kueue-style batch work did over a run (`summary.json`'s
//! `cluster.quotas`, `cluster.preemption` and `cluster.batch`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One namespace's ResourceQuota over a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct QuotaOutcome {
    /// The namespace.
    pub namespace: String,
    /// Hard limits by resource (units: cores, bytes, GPUs, pods).
    pub hard: BTreeMap<String, f64>,
    /// Most of each limited resource its pods requested at once.
    pub peak_used: BTreeMap<String, f64>,
    /// Pod creations the quota refused (a controller retrying counts again).
    pub refusals: u64,
    /// The first refusal, upstream style.
    pub first_refusal: Option<String>,
}

/// Scheduler preemptions over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PreemptionOutcome {
    /// Times a pending pod preempted others.
    pub preemptions: u64,
    /// Pods evicted as victims.
    pub victims: u64,
    /// Victims by their priority (the value, as a string key).
    pub victims_by_priority: BTreeMap<String, u64>,
}

/// A job wait-time distribution (submission to first start), seconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WaitTimes {
    /// Mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl WaitTimes {
    /// Nearest-rank percentiles of `waits` (seconds).
    pub fn of(mut waits: Vec<f64>) -> WaitTimes {
        if waits.is_empty() {
            return WaitTimes::default();
        }
        waits.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let rank = ((p * waits.len() as f64).ceil() as usize).clamp(1, waits.len());
            Some(waits[rank - 1])
        };
        WaitTimes {
            mean: Some(waits.iter().sum::<f64>() / waits.len() as f64),
            p50: q(0.5),
            p90: q(0.9),
            max: waits.last().copied(),
        }
    }
}

/// Kueue-style batch jobs over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BatchOutcome {
    /// Jobs submitted before the horizon.
    pub jobs_submitted: u64,
    /// Admissions (a requeued job admitted again counts again).
    pub admissions: u64,
    /// Jobs that finished their work.
    pub jobs_completed: u64,
    /// Jobs evicted at least once (preempted, or their node drained).
    pub jobs_preempted: u64,
    /// Evictions; each put the job back in its queue.
    pub requeues: u64,
    /// Jobs running at the horizon.
    pub jobs_running_at_horizon: u64,
    /// Jobs admitted but with pods not yet all placed at the horizon.
    pub jobs_admitted_waiting_at_horizon: u64,
    /// Jobs queued (not admitted) at the horizon.
    pub jobs_queued_at_horizon: u64,
    /// GPU-hours batch pods held on nodes (bound until gone).
    pub gpu_hours_held: f64,
    /// GPU-hours of work of completed jobs.
    pub gpu_hours_useful: f64,
    /// GPU-hours of work thrown away by evictions (progress since the last checkpoint).
    pub gpu_hours_lost: f64,
    /// GPU-hours of work done by unfinished jobs and kept (running or checkpointed).
    pub gpu_hours_unfinished: f64,
    /// Submission to first start of every job that started, seconds.
    pub wait_s: WaitTimes,
    /// Per queue.
    #[serde(default)]
    pub queues: Vec<QueueOutcome>,
}

/// One ClusterQueue over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QueueOutcome {
    /// Name.
    pub name: String,
    /// Jobs submitted to it.
    pub jobs_submitted: u64,
    /// Jobs completed.
    pub jobs_completed: u64,
    /// Evictions of its jobs.
    pub requeues: u64,
}
