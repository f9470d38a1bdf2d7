//! `summary.json`: one run's headline numbers.

use crate::{ClusterSummary, FailureSummary, Fairness, RolloutSummary, TenantSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Request counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Arrived.
    pub arrived: u64,
    /// Served.
    pub completed: u64,
    /// Dropped, all reasons.
    pub dropped: u64,
    /// Dropped, by reason (every reason sim-core knows, zeros included).
    #[serde(default)]
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// Still queued or executing at the horizon.
    pub in_flight: u64,
}

/// A distribution's mean and percentiles, in seconds (`null` when nothing was measured).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
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

/// Service-level objective results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SloResult {
    /// The latency target, seconds.
    pub latency_target_s: Option<f64>,
    /// Measured requests that completed within the target over measured requests completed or
    /// dropped (drops are misses).
    pub attainment_ratio: Option<f64>,
}

/// `summary.json`: one run's headline numbers. Statistics cover requests that arrived after the
/// warm-up; `requests` counts the whole run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// capsim's version.
    pub capsim_version: String,
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
    #[serde(default)]
    pub measured: Counts,
    /// Measured completions per second of the measured window.
    pub throughput_rps: f64,
    /// End-to-end latency (arrival to completion), seconds.
    pub latency_s: Percentiles,
    /// Time in queue before the batch started, seconds.
    pub queue_wait_s: Percentiles,
    /// Time executing, seconds.
    #[serde(default)]
    pub service_s: Percentiles,
    /// SLO attainment.
    pub slo: SloResult,
    /// Time-averaged replicas.
    pub replicas_mean: f64,
    /// Time-averaged busy replicas over replicas.
    pub replica_util_ratio: f64,
    /// Time-averaged queue length.
    #[serde(default)]
    pub queue_length_mean: f64,
    /// Requests per batch, over all batches started.
    pub batch_size_mean: Option<f64>,
    /// Token-level results of LLM engines; `null` for Triton-style replicas.
    #[serde(default)]
    pub tokens: Option<TokenSummary>,
    /// Nodes, pods and cost; `null` for replicas without nodes.
    #[serde(default)]
    pub cluster: Option<ClusterSummary>,
    /// Things the user should know (pods that can never fit, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Per tenant (a mix's streams, a trace's tenant or model labels): counts, rejections at the
    /// gateway, latency, SLO and throughput; absent when the traffic has no labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantSummary>,
    /// Fairness across the tenants; absent when the traffic has no labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<Fairness>,
    /// Failures and recovery; absent when nothing failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailureSummary>,
    /// Client timeouts and retries; absent without `[traffic.client]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSummary>,
    /// Rollouts of model versions; absent without `[[rollout]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSummary>,
    /// Per service, in scenario order (one entry, the run's own figures, with one service).
    #[serde(default)]
    pub services: Vec<ServiceSummary>,
    /// Per namespace of the services, by name: the sums of their services' requests,
    /// replica-hours and costs; absent unless the services span two or more namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceSummary>,
    /// Per window length that a windowed `[[check]]` asks for, the window-by-window figures;
    /// absent without windowed checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSeries>,
    /// Disaggregated prefill and decode: the KV-cache transfers between the pools and each
    /// pool's cost; absent without `[service.disaggregated]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<DisaggSummary>,
}

/// A disaggregated service's transfers and pools (`summary.json`'s `disaggregation`). Each
/// pool's own figures (TTFT from the prefill pool, TPOT from the decode pool, replica-hours,
/// cost) are its entry in `services`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DisaggSummary {
    /// The service's name.
    pub service: String,
    /// The prefill pool's entry in `services`.
    pub prefill_service: String,
    /// The decode pool's entry in `services`.
    pub decode_service: String,
    /// Requests prefilled on the prefill pool and handed to the decode pool.
    pub kv_transfers: u64,
    /// Of those, transfers between replicas on one node (no network).
    pub kv_transfers_same_node: u64,
    /// KV-cache bytes sent between the pools.
    pub kv_bytes: f64,
    /// Mean time from a prefill's first token to its KV cache at the decode replica, seconds
    /// (waiting for the prefill replica's link included).
    pub kv_transfer_mean_s: f64,
    /// Longest such time, seconds.
    pub kv_transfer_max_s: f64,
    /// Requests whose prompt was prefilled on the decode replica (`max_local_prefill_length`).
    pub local_prefills: u64,
    /// Requests with one output token, served whole by the prefill pool.
    pub prefill_only: u64,
    /// Bytes per second one prefill replica sends at.
    pub link_bytes_per_s: f64,
    /// Where that bandwidth comes from.
    pub bandwidth_source: String,
    /// The prefill pool's share of the bill, US dollars; absent without nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_cost_usd: Option<f64>,
    /// The decode pool's share of the bill, US dollars; absent without nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_cost_usd: Option<f64>,
    /// What SplitwiseSim's mixed pool did; absent unless `policy = "mixed-pool"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed_pool: Option<MixedPoolSummary>,
}

/// The paths requests took under SplitwiseSim's mixed-pool policy, and the replicas it lent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MixedPoolSummary {
    /// The threshold on a prefill replica's unprefilled prompt tokens.
    pub prompt_max_pending_batch_tokens: u64,
    /// Requests prefilled on one replica and decoded on another (their KV cache sent).
    pub split: u64,
    /// Of those, prefilled on a decode-pool replica (one lent to prefill).
    pub prefill_on_decode_pool: u64,
    /// Of those, decoded on a prefill-pool replica (one lent to decode).
    pub decode_on_prefill_pool: u64,
    /// Requests prefilled and decoded on one replica (mixed batching).
    pub colocated: u64,
    /// Of those, because neither pool had a replica for one of the phases.
    pub colocated_fallback: u64,
    /// Times a decode-pool replica was lent to prefill.
    pub lent_to_prefill: u64,
    /// Times a prefill-pool replica was lent to decode.
    pub lent_to_decode: u64,
    /// Times a lent replica went back to its pool, idle.
    pub returned: u64,
}

/// The figures of consecutive windows of one length, aligned to time 0 (what a windowed
/// `[[check]]` reads).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WindowSeries {
    /// The window length, seconds.
    pub window_s: f64,
    /// Each window that ends after the warm-up, in time order.
    pub windows: Vec<WindowSummary>,
}

/// One window: the measured requests (arrived after the warm-up) that finished (completed or
/// were dropped) within it, and the cost over its part after the warm-up.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WindowSummary {
    /// Start of the window, seconds (a multiple of the window length).
    pub start_s: f64,
    /// End of the window, seconds (the horizon for a last, shorter window).
    pub end_s: f64,
    /// Measured requests completed in the window.
    pub completed: u64,
    /// Measured requests dropped in the window.
    pub dropped: u64,
    /// Median latency of the window's measured completions, seconds.
    pub latency_p50_s: Option<f64>,
    /// 90th-percentile latency, seconds.
    pub latency_p90_s: Option<f64>,
    /// 99th-percentile latency, seconds.
    pub latency_p99_s: Option<f64>,
    /// 99th-percentile time to first token, seconds (LLM engines).
    pub ttft_p99_s: Option<f64>,
    /// 99th-percentile time per output token, seconds (LLM engines).
    pub tpot_p99_s: Option<f64>,
    /// Completions within the latency target over completions and drops (with a target).
    pub slo_attainment_ratio: Option<f64>,
    /// Completions meeting every token-level target over completions and drops (with targets).
    pub token_slo_attainment_ratio: Option<f64>,
    /// Cost over the window's part after the warm-up, USD per hour (as `timeseries.csv`'s
    /// `cost_usd_per_hour`).
    pub cost_usd_per_hour: f64,
}

/// One service's results: its requests, latency, tokens, SLO and replicas.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    /// The service's share of the cluster bill, USD (`null` without nodes): what its pods
    /// requested, at their nodes' rates (plus its share of idle with `share_idle`).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// `cost_usd` by resource.
    #[serde(default)]
    pub cost: Option<crate::ResourceCost>,
    /// `cost_usd` per million completed requests (whole run).
    #[serde(default)]
    pub usd_per_million_requests: Option<f64>,
    /// `cost_usd` per million output tokens of completed requests (LLM engines).
    #[serde(default)]
    pub usd_per_million_output_tokens: Option<f64>,
    /// The service's rollouts of model versions (its `[[service.rollout]]`s), with several
    /// services; absent otherwise (the single-service form has them at the top level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::RolloutSummary>,
    /// Per tenant of the service's own traffic (a mix's streams, a trace's labels), with several
    /// services; absent when its traffic has no labels (the single-service form has them at the
    /// top level).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantSummary>,
    /// Fairness across the service's tenants; absent when its traffic has no labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<Fairness>,
    /// The service's windows for windowed `[[check]]`s (absent without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSeries>,
}

/// One namespace: the sums of its services' figures (what adds up; percentiles and ratios do
/// not, so there are none).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NamespaceSummary {
    /// The namespace's name.
    pub name: String,
    /// Its services, in scenario order.
    pub services: Vec<String>,
    /// Whole-run request counts, summed over its services.
    pub requests: Counts,
    /// Counts for requests that arrived after the warm-up, summed over its services.
    pub measured: Counts,
    /// Pod-hours of its services' pods (whole run).
    pub replica_hours: f64,
    /// Its services' share of the cluster bill, USD (`null` without nodes).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// `cost_usd` by resource.
    #[serde(default)]
    pub cost: Option<crate::ResourceCost>,
    /// `cost_usd` over the horizon, per hour.
    #[serde(default)]
    pub cost_usd_per_hour: Option<f64>,
    /// `cost_usd` per million completed requests (whole run).
    #[serde(default)]
    pub usd_per_million_requests: Option<f64>,
}

impl Counts {
    /// Adds `other`'s counts, reason by reason.
    pub fn add(&mut self, other: &Counts) {
        self.arrived += other.arrived;
        self.completed += other.completed;
        self.dropped += other.dropped;
        self.in_flight += other.in_flight;
        for (r, n) in &other.dropped_by_reason {
            *self.dropped_by_reason.entry(r.clone()).or_insert(0) += n;
        }
    }
}

/// Every namespace of `services`, by name, each with the sums of its services' figures; costs
/// per hour are over `horizon_s`.
pub fn namespaces(services: &[ServiceSummary], horizon_s: f64) -> Vec<NamespaceSummary> {
    let mut by_name: BTreeMap<&str, NamespaceSummary> = BTreeMap::new();
    for v in services {
        let n = by_name
            .entry(v.namespace.as_str())
            .or_insert_with(|| NamespaceSummary {
                name: v.namespace.clone(),
                services: Vec::new(),
                requests: Counts::default(),
                measured: Counts::default(),
                replica_hours: 0.0,
                cost_usd: None,
                cost: None,
                cost_usd_per_hour: None,
                usd_per_million_requests: None,
            });
        n.services.push(v.name.clone());
        n.requests.add(&v.requests);
        n.measured.add(&v.measured);
        n.replica_hours += v.replica_hours;
        if let Some(c) = &v.cost {
            let mut sum = n.cost.unwrap_or_default();
            sum.gpu_usd += c.gpu_usd;
            sum.cpu_usd += c.cpu_usd;
            sum.memory_usd += c.memory_usd;
            sum.total_usd += c.total_usd;
            n.cost = Some(sum);
        }
    }
    by_name
        .into_values()
        .map(|mut n| {
            n.cost_usd = n.cost.map(|c| c.total_usd);
            n.cost_usd_per_hour = n
                .cost_usd
                .filter(|_| horizon_s > 0.0)
                .map(|c| c / (horizon_s / 3600.0));
            let done = n.requests.completed;
            n.usd_per_million_requests = n
                .cost_usd
                .filter(|_| done > 0)
                .map(|c| c / done as f64 * 1e6);
            n
        })
        .collect()
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
            cost_usd: None,
            cost: None,
            usd_per_million_requests: None,
            usd_per_million_output_tokens: None,
            rollout: None,
            tenants: Vec::new(),
            fairness: None,
            windows: s.windows,
        }
    }
}

impl Summary {
    /// The SLO attainment that applies: token-level for LLM engines with targets, else latency.
    pub fn attainment(&self) -> Option<f64> {
        self.tokens
            .as_ref()
            .and_then(|t| t.attainment_ratio)
            .or(self.slo.attainment_ratio)
    }

    /// Replica-hours: time-averaged replicas times the horizon.
    pub fn replica_hours(&self) -> f64 {
        self.replicas_mean * self.horizon_s / 3600.0
    }
}

/// What clients with timeouts and retries did over the run (a missing counter reads as 0).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    #[serde(default)]
    pub recomputed_tokens: u64,
    /// Prompt tokens found in the prefix cache over tokens of sequences taken from the queue
    /// (a preempted sequence counts again); `null` when none was taken.
    pub prefix_cache_hit_ratio: Option<f64>,
    /// KV-cache blocks held by running sequences over all blocks, time-weighted mean over
    /// replicas from each replica's first request (cached blocks no sequence uses are free).
    pub kv_cache_use_mean_ratio: Option<f64>,
    /// Most KV-cache blocks one replica's running sequences held at once, over its blocks.
    pub kv_cache_use_peak_ratio: Option<f64>,
    /// The KV-cache tiers below HBM; absent unless `kv_offloading_size` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_tiers: Option<KvTierSummary>,
    /// LoRA adapters' counters, when the service serves adapters (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraSummary>,
}

/// What the KV-cache tiers below HBM did, whole run, all replicas. Hit ratios are over the
/// prompt tokens of sequences taken from the queue (as `prefix_cache_hit_ratio`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KvTierSummary {
    /// Tokens of sequences taken from the queue (each time).
    pub query_tokens: u64,
    /// Of those, found in HBM (the prefix cache).
    pub hbm_hit_tokens: u64,
    /// Of those, loaded from host memory.
    pub cpu_hit_tokens: u64,
    /// Of those, loaded from local disk (`null` without a disk tier).
    pub disk_hit_tokens: Option<u64>,
    /// `hbm_hit_tokens` over `query_tokens`.
    pub hbm_hit_ratio: Option<f64>,
    /// `cpu_hit_tokens` over `query_tokens`.
    pub cpu_hit_ratio: Option<f64>,
    /// `disk_hit_tokens` over `query_tokens` (`null` without a disk tier).
    pub disk_hit_ratio: Option<f64>,
    /// KV bytes loaded into HBM from the tiers.
    pub loaded_bytes: u64,
    /// KV bytes written to host memory.
    pub cpu_stored_bytes: u64,
    /// KV bytes written to local disk (`null` without a disk tier).
    pub disk_stored_bytes: Option<u64>,
    /// Loads: sequences that waited for KV from a tier.
    pub loads: u64,
    /// Mean seconds a load took, waiting for the loads before it included.
    pub load_wait_mean_s: Option<f64>,
}

/// What LoRA adapters did over the whole run, all replicas.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LoraSummary {
    /// Requests naming an adapter that the router sent to a replica.
    pub adapter_requests: u64,
    /// Of those, the share sent to a replica that had the adapter in a GPU slot.
    pub router_hit_ratio: Option<f64>,
    /// Adapter requests taken into a running batch (a preempted one counts again).
    pub admissions: u64,
    /// Of those, the share whose adapter was in a GPU slot already (no load).
    pub slot_hit_ratio: Option<f64>,
    /// Adapters read from disk (not in host memory), then copied to the GPU.
    pub cold_loads: u64,
    /// Adapters copied to the GPU from host memory.
    pub warm_loads: u64,
    /// Seconds of steps spent waiting for adapter loads, summed over replicas.
    pub load_seconds: f64,
}
