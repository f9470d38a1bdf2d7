//! Results of a run: the summary (`summary.json`) and the time series (`timeseries.csv`).

mod batch;

pub use batch::{BatchOutcome, PreemptionOutcome, QueueOutcome, QuotaOutcome, WaitTimes};

use crate::metrics::{series, LogHistogram, Recorded, SeriesRow};
use crate::serving::DropReason;
use serde::Serialize;
use std::collections::BTreeMap;

pub mod tenants;

pub use tenants::{Fairness, TenantInfo, TenantSummary};

/// capsim's version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A run's outputs.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Headline numbers.
    pub summary: Summary,
    /// One row per sample interval.
    pub series: Vec<SeriesRow>,
    /// Binds that left a node over-committed (an invariant: always zero).
    pub overcommits: u64,
    /// Each service's own rows, by name, with several services (empty with one).
    pub service_series: Vec<(String, Vec<SeriesRow>)>,
}

impl RunResult {
    /// `summary.json` text.
    pub fn summary_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.summary).expect("summary serialises");
        s.push('\n');
        s
    }

    /// `timeseries.csv` text.
    pub fn timeseries_csv(&self) -> String {
        series::to_csv(&self.series)
    }

    /// `services.csv` text (each service's own series), with several services.
    pub fn services_csv(&self) -> Option<String> {
        (!self.service_series.is_empty()).then(|| series::to_service_csv(&self.service_series))
    }

    /// `incidents.csv` text (`time_s,kind,detail`), when anything failed.
    pub fn incidents_csv(&self) -> Option<String> {
        let f = self.summary.failures.as_ref()?;
        let mut s = String::from("time_s,kind,detail\n");
        for i in &f.incidents {
            let d = if i.detail.contains([',', '"', '\n']) {
                format!("\"{}\"", i.detail.replace('"', "\"\""))
            } else {
                i.detail.clone()
            };
            s.push_str(&format!("{},{},{d}\n", i.time_s, i.kind));
        }
        Some(s)
    }

    /// `tenants.csv` text (`None` when the traffic has no tenant labels).
    pub fn tenants_csv(&self) -> Option<String> {
        (!self.summary.tenants.is_empty()).then(|| tenants::to_csv(&self.summary.tenants))
    }
}

/// Request counts.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Counts {
    /// Arrived.
    pub arrived: u64,
    /// Served.
    pub completed: u64,
    /// Dropped, all reasons.
    pub dropped: u64,
    /// Dropped, by reason.
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
    /// Still queued or executing at the horizon.
    pub in_flight: u64,
}

/// A distribution's mean and percentiles, in seconds (`null` when nothing was measured).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Percentiles {
    /// Exact mean.
    pub mean: Option<f64>,
    /// Batch-means standard error of the mean.
    pub mean_stderr: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Percentiles {
    /// The mean and percentiles of `h` (nanoseconds) in seconds.
    pub fn of(h: &LogHistogram, stderr: Option<f64>) -> Self {
        let s = |v: Option<u64>| v.map(|ns| ns as f64 / 1e9);
        Percentiles {
            mean: h.mean().map(|m| m / 1e9),
            mean_stderr: stderr,
            p50: s(h.quantile(0.5)),
            p90: s(h.quantile(0.9)),
            p95: s(h.quantile(0.95)),
            p99: s(h.quantile(0.99)),
            p999: s(h.quantile(0.999)),
            max: s(h.max()),
        }
    }
}

/// Service-level objective results.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SloResult {
    /// The latency target, seconds.
    pub latency_target_s: Option<f64>,
    /// Measured requests that completed within the target over measured requests completed or
    /// dropped (drops are misses).
    pub attainment_ratio: Option<f64>,
}

/// `summary.json`: one run's headline numbers. Statistics cover requests that arrived after the
/// warm-up; `requests` counts the whole run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// capsim's version.
    pub capsim_version: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Scenario seed.
    pub seed: u64,
    /// Simulated time, seconds.
    pub horizon_s: f64,
    /// Warm-up excluded from statistics, seconds.
    pub warmup_s: f64,
    /// Whole-run request counts; `arrived = completed + dropped + in_flight`.
    pub requests: Counts,
    /// Counts for requests that arrived after the warm-up.
    pub measured: Counts,
    /// Measured completions per second of the measured window.
    pub throughput_rps: f64,
    /// End-to-end latency (arrival to completion), seconds.
    pub latency_s: Percentiles,
    /// Time in queue before the batch started, seconds.
    pub queue_wait_s: Percentiles,
    /// Time executing, seconds.
    pub service_s: Percentiles,
    /// SLO attainment.
    pub slo: SloResult,
    /// Time-averaged replicas.
    pub replicas_mean: f64,
    /// Time-averaged busy replicas over replicas.
    pub replica_util_ratio: f64,
    /// Time-averaged queue length.
    pub queue_length_mean: f64,
    /// Requests per batch, over all batches started.
    pub batch_size_mean: Option<f64>,
    /// Token-level results of LLM engines; `null` for Triton-style replicas.
    pub tokens: Option<TokenSummary>,
    /// Nodes, pods and cost; `null` for replicas without nodes.
    pub cluster: Option<ClusterSummary>,
    /// Things the user should know (pods that can never fit, …).
    pub warnings: Vec<String>,
    /// Per tenant (a mix's streams, a trace's tenant or model labels): counts, rejections at the
    /// gateway, latency, SLO and throughput; absent when the traffic has no labels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantSummary>,
    /// Fairness across the tenants; absent when the traffic has no labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<Fairness>,
    /// Failures and recovery; absent when nothing failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<crate::metrics::incident::FailureSummary>,
    /// Client timeouts and retries; absent without `[traffic.client]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSummary>,
    /// Rollouts of model versions; absent without `[[rollout]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::metrics::rollout::RolloutSummary>,
    /// Per service, in scenario order (one entry, the run's own figures, with one service).
    pub services: Vec<ServiceSummary>,
}

/// One service's results: its requests, latency, tokens, SLO and replicas.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServiceSummary {
    /// The service's name.
    pub name: String,
    /// Its Deployment's namespace.
    pub namespace: String,
    /// Whole-run request counts; `arrived = completed + dropped + in_flight`.
    pub requests: Counts,
    /// Counts for requests that arrived after the warm-up.
    pub measured: Counts,
    /// Measured completions per second of the measured window.
    pub throughput_rps: f64,
    /// End-to-end latency, seconds.
    pub latency_s: Percentiles,
    /// Time in queue before the batch started, seconds.
    pub queue_wait_s: Percentiles,
    /// SLO attainment.
    pub slo: SloResult,
    /// Token-level results of LLM engines; `null` for Triton-style replicas.
    pub tokens: Option<TokenSummary>,
    /// Time-averaged Ready replicas over the measured window.
    pub replicas_mean: f64,
    /// Pod-hours of the service's pods from binding to termination (whole run).
    pub replica_hours: f64,
}

impl ServiceSummary {
    /// A service's entry from the summary of its own statistics.
    pub fn from_summary(name: &str, namespace: &str, s: Summary, replica_hours: f64) -> Self {
        ServiceSummary {
            name: name.to_string(),
            namespace: namespace.to_string(),
            requests: s.requests,
            measured: s.measured,
            throughput_rps: s.throughput_rps,
            latency_s: s.latency_s,
            queue_wait_s: s.queue_wait_s,
            slo: s.slo,
            tokens: s.tokens,
            replicas_mean: s.replicas_mean,
            replica_hours,
        }
    }
}

/// What clients with timeouts and retries did over the run.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ClientSummary {
    /// Attempts beyond each request's first (each one extra load on the service).
    pub retries: u64,
    /// Attempts the client gave up on at its timeout.
    pub timeouts: u64,
    /// Abandoned attempts the service still finished (wasted work).
    pub abandoned_completions: u64,
    /// Requests that completed only after one or more retries.
    pub completed_after_retry: u64,
    /// Of `retries`, those after the tenant gateway refused an attempt (HTTP 429:
    /// `rate_limited`, `token_limited`).
    pub rate_limited_retries: u64,
}

/// Token-level results of an LLM engine, over measured completions.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TokenSummary {
    /// Time to first token (arrival to first output token), seconds.
    pub ttft_s: Percentiles,
    /// Time per output token after the first, seconds.
    pub tpot_s: Percentiles,
    /// Prompt tokens of measured completions per second of the measured window.
    pub prompt_tokens_per_s: f64,
    /// Output tokens of measured completions per second of the measured window.
    pub output_tokens_per_s: f64,
    /// The TTFT target, seconds.
    pub ttft_target_s: Option<f64>,
    /// The TPOT target, seconds.
    pub tpot_target_s: Option<f64>,
    /// Measured requests that met every token-level target, over measured requests completed or
    /// dropped (`null` without targets).
    pub attainment_ratio: Option<f64>,
    /// Sequences preempted (by recompute) over the run.
    pub preemptions: u64,
    /// Tokens prefilled again after preemptions.
    pub recomputed_tokens: u64,
    /// Prompt tokens found in the prefix cache over tokens of sequences taken from the queue
    /// (a preempted sequence counts again); `null` when none was taken.
    pub prefix_cache_hit_ratio: Option<f64>,
    /// KV-cache blocks held by running sequences over all blocks, time-weighted mean over
    /// replicas from each replica's first request (cached blocks no sequence uses are free).
    pub kv_cache_use_mean_ratio: Option<f64>,
    /// Most KV-cache blocks one replica's running sequences held at once, over its blocks.
    pub kv_cache_use_peak_ratio: Option<f64>,
}

/// What the engines hand the summary at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineTotals {
    /// Batches (or steps) started and the requests in them.
    pub batches: (u64, u64),
    /// Preemptions.
    pub preemptions: u64,
    /// Tokens recomputed after preemptions.
    pub recomputed_tokens: u64,
    /// Tokens of sequences taken from the queue, and of those found in the prefix cache.
    pub prefix_tokens: (u64, u64),
    /// KV block-seconds held, and block-seconds available, over replicas.
    pub kv_block_seconds: (f64, f64),
    /// Highest share of one replica's KV blocks held at once.
    pub kv_peak_ratio: Option<f64>,
}

impl EngineTotals {
    /// Adds another set of engines' totals.
    pub fn merge(&mut self, o: EngineTotals) {
        self.batches.0 += o.batches.0;
        self.batches.1 += o.batches.1;
        self.preemptions += o.preemptions;
        self.recomputed_tokens += o.recomputed_tokens;
        self.prefix_tokens.0 += o.prefix_tokens.0;
        self.prefix_tokens.1 += o.prefix_tokens.1;
        self.kv_block_seconds.0 += o.kv_block_seconds.0;
        self.kv_block_seconds.1 += o.kv_block_seconds.1;
        self.kv_peak_ratio = match (self.kv_peak_ratio, o.kv_peak_ratio) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Node pools, pods and cost.
#[derive(Clone, Debug, Serialize, PartialEq)]
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
    pub pods_pending_at_horizon: u32,
    /// Pods OOM-killed on time-sliced GPUs (each restart after a kill counts again).
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
    /// Per pool.
    pub pools: Vec<PoolOutcome>,
    /// Karpenter's counters, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub karpenter: Option<KarpenterOutcome>,
    /// The VPA's evictions and last recommendation, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpa: Option<VpaOutcome>,
    /// Namespaces with ResourceQuotas: limits, peak usage and refusals.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<QuotaOutcome>,
    /// Scheduler preemptions, when there was batch work to preempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption: Option<PreemptionOutcome>,
    /// Kueue-style batch jobs, when the scenario had any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchOutcome>,
}

/// One pool's billing.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PoolOutcome {
    /// Pool name.
    pub name: String,
    /// Instance type.
    pub instance_type: String,
    /// `on-demand` or `spot`.
    pub capacity_type: &'static str,
    /// GPU model id, if any.
    pub gpu: Option<String>,
    /// Price per node-hour, USD.
    pub price_usd_per_hour: f64,
    /// Nodes launched.
    pub nodes_launched: u32,
    /// Nodes billed at the horizon.
    pub nodes_at_horizon: u32,
    /// Seconds billed over all nodes.
    pub billed_seconds: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// The MIG layout each GPU starts with (absent for whole GPUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mig_layout: Option<crate::gpu::mig::LayoutView>,
    /// Shares each GPU is advertised as under time-slicing (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_slicing_replicas: Option<u32>,
}

/// What the cluster hands the summary at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterOutcome {
    /// Whether the scenario had node pools.
    pub has_nodes: bool,
    /// Per pool.
    pub pools: Vec<PoolOutcome>,
    /// Warnings found while building.
    pub warnings: Vec<String>,
    /// The last unschedulable message.
    pub last_unschedulable: Option<String>,
    /// Binds that left a node over-committed.
    pub overcommits: u64,
    /// Pods OOM-killed on time-sliced GPUs.
    pub gpu_oom_kills: u64,
    /// Karpenter's counters, if it ran.
    pub karpenter: Option<KarpenterOutcome>,
    /// The VPA's counters and last recommendation, if it ran.
    pub vpa: Option<VpaOutcome>,
    /// Namespaces with quotas.
    pub quotas: Vec<QuotaOutcome>,
    /// Scheduler preemptions, with batch work.
    pub preemption: Option<PreemptionOutcome>,
    /// Batch jobs, if any.
    pub batch: Option<BatchOutcome>,
}

impl ClusterOutcome {
    /// An outcome without nodes (a service's own results carry no cluster).
    pub fn none() -> Self {
        ClusterOutcome {
            has_nodes: false,
            pools: Vec::new(),
            warnings: Vec::new(),
            last_unschedulable: None,
            overcommits: 0,
            gpu_oom_kills: 0,
            karpenter: None,
            vpa: None,
            quotas: Vec::new(),
            preemption: None,
            batch: None,
        }
    }
}

/// What Karpenter did over a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
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
}

/// One VPA recommendation for the Deployment's container.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct VpaResources {
    /// CPU, millicores.
    pub cpu_millicores: i64,
    /// Memory, bytes.
    pub memory_bytes: i64,
}

/// What the VPA did over a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VpaOutcome {
    /// `updatePolicy.updateMode`.
    pub update_mode: &'static str,
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

fn counts(t: &crate::metrics::recorder::Totals, in_flight: u64) -> Counts {
    Counts {
        arrived: t.arrived,
        completed: t.completed,
        dropped: t.dropped_total(),
        dropped_by_reason: DropReason::ALL
            .iter()
            .map(|r| (r.name(), t.dropped[*r as usize]))
            .collect(),
        in_flight,
    }
}

/// Assembles a summary from what the recorder measured.
pub fn summarise(
    scenario: &str,
    seed: u64,
    horizon_s: f64,
    warmup_s: f64,
    rec: Recorded,
    engines: EngineTotals,
    cluster: ClusterOutcome,
) -> RunResult {
    let batches = engines.batches;
    let t = &rec.totals;
    let in_flight = t.arrived - t.completed - t.dropped_total();
    let m = &rec.measured;
    let m_in_flight = m.arrived - m.completed - m.dropped_total();
    let finished = m.completed + m.dropped_total();
    let cluster_summary = cluster.has_nodes.then(|| {
        let cost: f64 = cluster.pools.iter().map(|p| p.cost_usd).sum();
        ClusterSummary {
            nodes_launched: cluster.pools.iter().map(|p| p.nodes_launched).sum(),
            nodes_at_horizon: cluster.pools.iter().map(|p| p.nodes_at_horizon).sum(),
            node_hours: cluster.pools.iter().map(|p| p.billed_seconds).sum::<u64>() as f64 / 3600.0,
            gpu_hours: rec.gpu_hours,
            idle_gpu_hours: rec.idle_gpu_hours,
            pods_pending_at_horizon: rec.pods_pending_at_horizon,
            gpu_oom_kills: cluster.gpu_oom_kills,
            pods_pending_max: rec.pods_pending_max,
            last_unschedulable_reason: cluster.last_unschedulable.clone(),
            cost_usd: cost,
            cost_usd_per_hour: cost / (horizon_s / 3600.0),
            cost_usd_per_million_requests: (t.completed > 0)
                .then(|| cost / t.completed as f64 * 1e6),
            pools: cluster.pools.clone(),
            karpenter: cluster.karpenter.clone(),
            vpa: cluster.vpa.clone(),
            quotas: cluster.quotas.clone(),
            preemption: cluster.preemption.clone(),
            batch: cluster.batch.clone(),
        }
    });
    let summary = Summary {
        capsim_version: VERSION,
        scenario: scenario.to_string(),
        seed,
        horizon_s,
        warmup_s,
        requests: counts(t, in_flight),
        measured: counts(m, m_in_flight),
        throughput_rps: m.completed as f64 / rec.window_s,
        latency_s: Percentiles::of(&rec.latency, rec.latency_mean_stderr_s),
        queue_wait_s: Percentiles::of(&rec.wait, rec.wait_mean_stderr_s),
        service_s: Percentiles::of(&rec.service, None),
        slo: SloResult {
            latency_target_s: rec.slo_target.map(|d| d.as_secs_f64()),
            attainment_ratio: (rec.slo_target.is_some() && finished > 0)
                .then(|| rec.measured_slo_met as f64 / finished as f64),
        },
        replicas_mean: rec.replicas_mean,
        replica_util_ratio: if rec.replicas_mean > 0.0 {
            rec.busy_mean / rec.replicas_mean
        } else {
            0.0
        },
        queue_length_mean: rec.queue_mean,
        batch_size_mean: (batches.0 > 0).then(|| batches.1 as f64 / batches.0 as f64),
        tokens: rec.tokens.as_ref().map(|tr| {
            let targets = tr.slo_ttft.is_some() || tr.slo_tpot.is_some();
            TokenSummary {
                ttft_s: Percentiles::of(&tr.ttft, None),
                tpot_s: Percentiles::of(&tr.tpot, None),
                prompt_tokens_per_s: tr.prompt_tokens as f64 / rec.window_s,
                output_tokens_per_s: tr.output_tokens as f64 / rec.window_s,
                ttft_target_s: tr.slo_ttft.map(|d| d.as_secs_f64()),
                tpot_target_s: tr.slo_tpot.map(|d| d.as_secs_f64()),
                attainment_ratio: (targets && finished > 0)
                    .then(|| tr.met as f64 / finished as f64),
                preemptions: engines.preemptions,
                recomputed_tokens: engines.recomputed_tokens,
                prefix_cache_hit_ratio: (engines.prefix_tokens.0 > 0)
                    .then(|| engines.prefix_tokens.1 as f64 / engines.prefix_tokens.0 as f64),
                kv_cache_use_mean_ratio: (engines.kv_block_seconds.1 > 0.0)
                    .then(|| engines.kv_block_seconds.0 / engines.kv_block_seconds.1),
                kv_cache_use_peak_ratio: engines.kv_peak_ratio,
            }
        }),
        cluster: cluster_summary,
        warnings: cluster.warnings,
        tenants: Vec::new(),
        failures: None,
        client: None,
        rollout: None,
        fairness: None,
        services: Vec::new(),
    };
    RunResult {
        summary,
        series: rec.series,
        overcommits: cluster.overcommits,
        service_series: Vec::new(),
    }
}
