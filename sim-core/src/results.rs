//! Results of a run: the summary (`summary.json`) and the time series (`timeseries.csv`).
//!
//! The serialised types live in the `capsim-results` crate (re-exported here), shared with the
//! reports; this module keeps what is not serialised ([`ClusterOutcome`], [`EngineTotals`]) and
//! [`summarise`], the one conversion from what a run measured to a [`Summary`].

pub use capsim_results::{
    BatchOutcome, ClientSummary, ClusterSummary, Counts, KarpenterOutcome, LoraSummary,
    NamespaceSummary, Percentiles, PoolOutcome, PreemptionOutcome, QueueOutcome, QuotaOutcome,
    ServiceSummary, SloResult, Summary, TokenSummary, VpaOutcome, VpaResources, WaitTimes,
    WindowSeries, WindowSummary,
};

use crate::metrics::{series, LogHistogram, Recorded, SeriesRow};
use crate::serving::DropReason;

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
        capsim_results::summary_json(&self.summary)
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
        Some(self.summary.failures.as_ref()?.incidents_csv())
    }

    /// `tenants.csv` text (`None` when the traffic has no tenant labels).
    pub fn tenants_csv(&self) -> Option<String> {
        (!self.summary.tenants.is_empty()).then(|| tenants::to_csv(&self.summary.tenants))
    }
}

/// The mean and percentiles of `h` (nanoseconds) in seconds, with `stderr` as the mean's
/// standard error.
pub fn percentiles(h: &LogHistogram, stderr: Option<f64>) -> Percentiles {
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
    /// What the KV-cache tiers below HBM did (`None`: no engine had them).
    pub kv_tiers: Option<TierTotals>,
    /// LoRA counters (`None` when no engine serves adapters): requests routed, router hits,
    /// and the engines' counters.
    pub lora: Option<LoraTotals>,
}

/// The KV-cache tiers' counters summed over engines.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TierTotals {
    /// Whether some engine had a local-disk tier.
    pub disk: bool,
    /// Prompt tokens loaded from host memory, and from local disk.
    pub hit_tokens: (u64, u64),
    /// Bytes loaded into HBM; bytes written to host memory, and to local disk.
    pub loaded_bytes: u64,
    /// Bytes written to host memory and to local disk.
    pub stored_bytes: (u64, u64),
    /// Loads, and the seconds sequences waited for them.
    pub loads: (u64, f64),
}

impl TierTotals {
    /// Adds one engine's counters.
    pub fn add(&mut self, c: &crate::serving::vllm::KvTierCounters) {
        self.disk |= c.has_disk;
        self.hit_tokens.0 += c.cpu_hit_tokens;
        self.hit_tokens.1 += c.disk_hit_tokens;
        self.loaded_bytes += c.loaded_bytes;
        self.stored_bytes.0 += c.cpu_stored_bytes;
        self.stored_bytes.1 += c.disk_stored_bytes;
        self.loads.0 += c.loads;
        self.loads.1 += c.load_wait_s;
    }

    /// Adds another set of totals.
    pub fn merge(&mut self, o: &TierTotals) {
        self.disk |= o.disk;
        self.hit_tokens.0 += o.hit_tokens.0;
        self.hit_tokens.1 += o.hit_tokens.1;
        self.loaded_bytes += o.loaded_bytes;
        self.stored_bytes.0 += o.stored_bytes.0;
        self.stored_bytes.1 += o.stored_bytes.1;
        self.loads.0 += o.loads.0;
        self.loads.1 += o.loads.1;
    }
}

/// LoRA counters of a set of engines and their router.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoraTotals {
    /// Adapter requests routed, and of those sent to a replica with the adapter in a slot.
    pub routed: (u64, u64),
    /// The engines' counters, summed.
    pub engines: crate::serving::vllm::LoraCounters,
}

impl LoraTotals {
    /// Adds another set's counters.
    pub fn merge(&mut self, o: &LoraTotals) {
        self.routed.0 += o.routed.0;
        self.routed.1 += o.routed.1;
        let (a, b) = (&mut self.engines, &o.engines);
        a.admissions += b.admissions;
        a.slot_hits += b.slot_hits;
        a.cold_loads += b.cold_loads;
        a.warm_loads += b.warm_loads;
        a.load_seconds += b.load_seconds;
    }

    /// The summary's `tokens.lora`.
    pub fn summary(&self) -> LoraSummary {
        let e = &self.engines;
        LoraSummary {
            adapter_requests: self.routed.0,
            router_hit_ratio: (self.routed.0 > 0)
                .then(|| self.routed.1 as f64 / self.routed.0 as f64),
            admissions: e.admissions,
            slot_hit_ratio: (e.admissions > 0).then(|| e.slot_hits as f64 / e.admissions as f64),
            cold_loads: e.cold_loads,
            warm_loads: e.warm_loads,
            load_seconds: e.load_seconds,
        }
    }
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
        if let Some(t) = &o.kv_tiers {
            self.kv_tiers.get_or_insert_with(Default::default).merge(t);
        }
        self.kv_peak_ratio = match (self.kv_peak_ratio, o.kv_peak_ratio) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(l) = &o.lora {
            self.lora.get_or_insert_with(LoraTotals::default).merge(l);
        }
    }
}
/// The summary of the KV-cache tiers, with `prefix` the (queried, HBM-hit) prompt tokens.
fn tier_summary(t: &TierTotals, prefix: (u64, u64)) -> capsim_results::KvTierSummary {
    let ratio = |n: u64| (prefix.0 > 0).then(|| n as f64 / prefix.0 as f64);
    capsim_results::KvTierSummary {
        query_tokens: prefix.0,
        hbm_hit_tokens: prefix.1,
        cpu_hit_tokens: t.hit_tokens.0,
        disk_hit_tokens: t.disk.then_some(t.hit_tokens.1),
        hbm_hit_ratio: ratio(prefix.1),
        cpu_hit_ratio: ratio(t.hit_tokens.0),
        disk_hit_ratio: if t.disk { ratio(t.hit_tokens.1) } else { None },
        loaded_bytes: t.loaded_bytes,
        cpu_stored_bytes: t.stored_bytes.0,
        disk_stored_bytes: t.disk.then_some(t.stored_bytes.1),
        loads: t.loads.0,
        load_wait_mean_s: (t.loads.0 > 0).then(|| t.loads.1 / t.loads.0 as f64),
    }
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
fn counts(t: &crate::metrics::recorder::Totals, in_flight: u64) -> Counts {
    Counts {
        arrived: t.arrived,
        completed: t.completed,
        dropped: t.dropped_total(),
        dropped_by_reason: DropReason::ALL
            .iter()
            .map(|r| (r.name().to_string(), t.dropped[*r as usize]))
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
            idle_cost_usd: 0.0,
            idle_cost: None,
            batch_cost: None,
            share_idle: false,
            pools: cluster.pools.clone(),
            karpenter: cluster.karpenter.clone(),
            vpa: cluster.vpa.clone(),
            quotas: cluster.quotas.clone(),
            preemption: cluster.preemption.clone(),
            batch: cluster.batch.clone(),
        }
    });
    let summary = Summary {
        capsim_version: VERSION.to_string(),
        scenario: scenario.to_string(),
        seed,
        horizon_s,
        warmup_s,
        requests: counts(t, in_flight),
        measured: counts(m, m_in_flight),
        throughput_rps: m.completed as f64 / rec.window_s,
        latency_s: percentiles(&rec.latency, rec.latency_mean_stderr_s),
        queue_wait_s: percentiles(&rec.wait, rec.wait_mean_stderr_s),
        service_s: percentiles(&rec.service, None),
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
                ttft_s: percentiles(&tr.ttft, None),
                tpot_s: percentiles(&tr.tpot, None),
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
                kv_tiers: engines
                    .kv_tiers
                    .map(|t| tier_summary(&t, engines.prefix_tokens)),
                lora: engines.lora.as_ref().map(LoraTotals::summary),
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
        namespaces: Vec::new(),
        disaggregation: None,
        windows: rec.windows,
    };
    RunResult {
        summary,
        series: rec.series,
        overcommits: cluster.overcommits,
        service_series: Vec::new(),
    }
}
