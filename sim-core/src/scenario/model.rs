//! The validated scenario: plain data with every default filled in, built from [`super::raw`].

use super::cluster::ClusterSpec;
use super::error::{suggest_in_message, ScenarioError};
use super::raw::*;
pub use super::traffic::{TraceFormat, TrafficSpec};
use crate::catalog::Catalog;
use crate::cluster::{PodTemplate, Quantity, Resources};
use crate::engine::{parse_duration, SimDuration, SimTime};
use crate::serving::{LinearStep, StepModel};
use std::collections::BTreeMap;

/// Defaults, in one place (the book's scenario reference lists the same values).
pub mod defaults {
    use crate::engine::SimDuration;
    /// `simulation.seed`.
    pub const SEED: u64 = 1;
    /// `simulation.horizon`.
    pub const HORIZON: SimDuration = SimDuration::from_secs(600);
    /// `simulation.warmup`.
    pub const WARMUP: SimDuration = SimDuration::ZERO;
    /// `simulation.sample_interval`.
    pub const SAMPLE_INTERVAL: SimDuration = SimDuration::from_secs(10);
    /// `service.replicas`.
    pub const REPLICAS: u32 = 1;
    /// The key of a service's default pod label, `service.pod.labels = { app = <name> }`.
    pub const POD_LABEL: &str = "app";
    /// `service.triton.max_batch_size` (Triton: 0 means no batching).
    pub const MAX_BATCH_SIZE: u32 = 0;
    /// `service.triton.dynamic_batching.max_queue_delay_microseconds` (Triton's default).
    pub const MAX_QUEUE_DELAY_US: u64 = 0;
    /// Largest `traffic.rate` (and schedule step rate): one request per nanosecond.
    pub const MAX_RATE: f64 = 1e9;
    /// The vLLM version whose defaults capsim follows.
    pub const VLLM_VERSION: &str = "0.34.0";
    /// `service.vllm.block_size`: vLLM 0.34's `CacheConfig.DEFAULT_BLOCK_SIZE`.
    pub const VLLM_BLOCK_SIZE: u32 = 64;
    /// SplitwiseSim's batching: `max_batch_size` of SplitwiseSim's shipped configurations
    /// (`configs/start_state/*.yaml`).
    pub const SPLITWISE_MAX_BATCH_SIZE: u32 = 512;
    /// SplitwiseSim's batching: `max_batch_tokens` of its configurations.
    pub const SPLITWISE_MAX_BATCH_TOKENS: u32 = 2048;
    /// SplitwiseSim's batching: `max_preemptions` of its configurations.
    pub const SPLITWISE_MAX_PREEMPTIONS: u32 = 4;
    /// Bytes vLLM keeps back per GPU besides weights, KV cache and activations (CUDA context,
    /// graphs): 1 GiB.
    pub const VLLM_RESERVED_BYTES: f64 = 1073741824.0;
    /// `service.vllm.gpu_memory_utilization`: what vLLM 0.34 resolves its unset value to on CUDA,
    /// where the extensible KV cache is on by default (`CacheConfig.resolved_gpu_memory_utilization`).
    pub const VLLM_GPU_MEMORY_UTILIZATION: f64 = 1.0;

    /// `vllm serve`'s defaults of (`max_num_seqs`, `max_num_batched_tokens`) for a device that
    /// reports `memory_bytes` of memory under `name` (vLLM 0.34, `EngineArgs.get_batch_defaults`
    /// for the OpenAI server): 1024 and 16384 from 160 GiB; 1024 and 8192 from 70 GiB unless the
    /// name says A100; otherwise, and for an unknown device, 256 and 2048.
    pub fn vllm_batch(memory_bytes: Option<f64>, name: &str) -> (u32, u32) {
        const GIB: f64 = (1u64 << 30) as f64;
        match memory_bytes {
            Some(m) if m >= 160.0 * GIB => (1024, 16384),
            Some(m) if m >= 70.0 * GIB && !name.to_ascii_lowercase().contains("a100") => {
                (1024, 8192)
            }
            _ => (256, 2048),
        }
    }
}

/// A scenario ready to build a world from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name used in outputs.
    pub name: String,
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated time to run.
    pub horizon: SimDuration,
    /// Initial period excluded from statistics.
    pub warmup: SimDuration,
    /// Width of a time-series row.
    pub sample_interval: SimDuration,
    /// Latency target, if any.
    pub slo_latency: Option<SimDuration>,
    /// Time-to-first-token target, if any.
    pub slo_ttft: Option<SimDuration>,
    /// Time-per-output-token target, if any.
    pub slo_tpot: Option<SimDuration>,
    /// Token counts drawn per request (`[traffic.tokens]`), overriding a trace's.
    pub tokens: Option<TokenSpec>,
    /// The HPA on the Deployment and the metrics it reads, if any.
    pub autoscaling: Option<super::AutoscalingSpec>,
    /// A KEDA ScaledObject, if any (its generated HPA is `autoscaling`).
    pub keda: Option<super::KedaSpec>,
    /// Knative's KPA and activator, if any.
    pub knative: Option<super::KnativeSpec>,
    /// The Cluster Autoscaler over the node pools, if any.
    pub cluster_autoscaler: Option<super::ClusterAutoscalerSpec>,
    /// The VPA on the Deployment, if any.
    pub vpa: Option<super::VpaSpec>,
    /// Karpenter, if any (its candidate pools are in `cluster`).
    pub karpenter: Option<super::KarpenterSpec>,
    /// The model server.
    pub service: ServiceSpec,
    /// Where requests come from.
    pub traffic: TrafficSpec,
    /// Nodes and scheduling; `None` for abstract replicas that need no nodes.
    pub cluster: Option<ClusterSpec>,
    /// `[cost_allocation]`: how the bill is charged to services.
    pub cost_allocation: super::cost::CostAllocationSpec,
    /// Failures, the node lifecycle, the PodDisruptionBudget and client retries.
    pub failures: super::FailureSpec,
    /// Changes of the model version (`[[rollout]]`), in time order.
    pub rollouts: Vec<super::RolloutSpec>,
    /// `[[tenant]]`s: per-tenant limits, SLOs and weights at the gateway (empty without any).
    pub tenants: Vec<super::TenantSpec>,
    /// Namespaces with quotas and the serving pods' priority.
    pub admission: super::batch::AdmissionSpec,
    /// Kueue-style batch jobs beside the service, if any.
    pub batch: Option<super::batch::BatchSpec>,
    /// The other services of a `[[service]]` scenario, in file order (empty in the `[service]`
    /// form). The first service is this scenario's own `service` and per-service sections; each
    /// other is the scenario that service would be alone, its cluster-wide fields equal to these.
    pub others: Vec<Scenario>,
    /// The model-aware gateway of a `[[service]]` scenario: the top-level `[traffic]` and its
    /// `[[route]]` tables (`None` without routes).
    pub gateway: Option<super::routes::Gateway>,
    /// Window lengths the run keeps per-window statistics for (`summary.json`'s `windows`):
    /// set by the command line from windowed `[[check]]`s, each a multiple of
    /// `sample_interval`; empty from a scenario file.
    pub windows: Vec<SimDuration>,
    /// `[service.disaggregated]`: this scenario's service is the prefill pool and `others[0]`
    /// the decode pool of one service (`None`: not disaggregated).
    pub disagg: Option<Box<super::disagg::DisaggSpec>>,
}

impl Scenario {
    /// Every service's view, in file order: this scenario, then [`Scenario::others`].
    pub fn services(&self) -> impl Iterator<Item = &Scenario> {
        std::iter::once(self).chain(self.others.iter())
    }
}

/// How requests reach replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// One FCFS queue feeding all replicas (a Triton model with an instance group).
    Shared,
    /// Per-replica queues behind a router.
    Router(RouterPolicy),
}

/// How a router picks a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouterPolicy {
    /// Each replica in turn.
    RoundRobin,
    /// Fewest queued plus in-service requests (ties broken in turn).
    LeastOutstanding,
    /// Uniformly at random.
    Random,
    /// The replica with the longest cached prefix of the request; ties and misses go to the
    /// fewest queued plus in-service requests.
    Prefix,
    /// Fewest prompt tokens not yet prefilled plus outstanding requests, SplitwiseSim's
    /// `token_jsq` (ties broken in turn).
    LeastTokens,
    /// Lowest KV-cache utilisation (blocks held / blocks), then fewest outstanding requests
    /// (ties broken in turn).
    LeastKv,
    /// The Gateway API inference extension's LoRA-affinity score (the adapter running, a free
    /// adapter slot, the adapter waiting) plus its queue-depth score; highest wins.
    LoraAffinity,
}

impl RouterPolicy {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            RouterPolicy::RoundRobin => "round-robin",
            RouterPolicy::LeastOutstanding => "least-outstanding",
            RouterPolicy::Random => "random",
            RouterPolicy::Prefix => "prefix",
            RouterPolicy::LeastTokens => "least-tokens",
            RouterPolicy::LeastKv => "least-kv",
            RouterPolicy::LoraAffinity => "lora-affinity",
        }
    }
}

/// Triton's batching rules for one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Largest batch (`max_batch_size`; at least 1 here: Triton's 0 is stored as 1 with no dynamic batching).
    pub max_batch_size: u32,
    /// Whether the dynamic batcher is on; off means every request runs alone.
    pub dynamic: bool,
    /// Preferred sizes, ascending, each at most `max_batch_size`.
    pub preferred_batch_size: Vec<u32>,
    /// Longest the oldest request waits for a larger batch.
    pub max_queue_delay: SimDuration,
}

/// Service-time distribution families.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Exactly the mean.
    Deterministic,
    /// Exponential.
    Exponential,
    /// Lognormal with coefficient of variation `cv`.
    Lognormal {
        /// Standard deviation over mean.
        cv: f64,
    },
    /// Gamma with coefficient of variation `cv`.
    Gamma {
        /// Standard deviation over mean.
        cv: f64,
    },
}

/// How long a batch of `n` takes: mean `base + per_item × n`, or `curve[n − 1]` from a profile,
/// drawn from `distribution`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceTimeSpec {
    /// Family.
    pub distribution: Distribution,
    /// Fixed part of the mean.
    pub base: SimDuration,
    /// Per-request part of the mean.
    pub per_item: SimDuration,
    /// Mean time of a batch of 1, 2, … `max_batch_size` requests from the roofline or measured
    /// `batch_times` (replaces `base` and `per_item` when not empty). Shared, not copied, by
    /// every replica's sampler.
    pub curve: std::sync::Arc<[SimDuration]>,
}

/// The model server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    /// Display name.
    pub name: String,
    /// The Deployment's namespace (`service.namespace`, default `default`).
    pub namespace: String,
    /// Replicas (model instances).
    pub replicas: u32,
    /// Shared queue or router.
    pub dispatch: Dispatch,
    /// Queue bound (per replica behind a router, total for a shared queue); `None` = unbounded.
    pub max_queue_size: Option<u32>,
    /// How each replica batches and how long its work takes.
    pub engine: EngineSpec,
    /// The Deployment's pod template.
    pub pod: PodTemplate,
    /// Scheduled replica changes (`kubectl scale`), in time order.
    pub scale: Vec<(SimTime, u32)>,
}

/// A replica's engine.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineSpec {
    /// Triton-style dynamic batching; each batch's time drawn from a distribution.
    Triton {
        /// Batching rules.
        batching: BatchPolicy,
        /// Batch service time.
        service_time: ServiceTimeSpec,
    },
    /// vLLM-style continuous batching.
    Vllm(VllmSpec),
}

/// A vLLM engine's knobs and step-time model.
#[derive(Clone, Debug, PartialEq)]
pub struct VllmSpec {
    /// Most sequences per step.
    pub max_num_seqs: u32,
    /// Most tokens per step.
    pub max_num_batched_tokens: u32,
    /// Tokens per KV-cache block.
    pub block_size: u32,
    /// KV-cache blocks per replica.
    pub num_gpu_blocks: u32,
    /// Step times.
    pub step: StepModel,
    /// Automatic prefix caching.
    pub prefix_caching: bool,
    /// Measured step times that replace the roofline (read by the caller, see
    /// [`crate::Inputs::step_cost`]).
    pub profile: Option<ProfileSpec>,
    /// Static batching instead of continuous: (batch size, timeout).
    pub static_batching: Option<(u32, SimDuration)>,
    /// SplitwiseSim's batching instead of vLLM's: its `max_preemptions` (`max_num_seqs` and
    /// `max_num_batched_tokens` are its `max_batch_size` and `max_batch_tokens`).
    pub splitwise_batching: Option<u32>,
    /// GPU memory the engine takes (`gpu_memory_utilization` × the GPU's or slice's memory),
    /// bytes; 0 when unknown (a linear step model).
    pub gpu_memory_bytes: u64,
    /// KV-cache tiers below HBM (`kv_offloading_size`, `max_local_disk_size`); `None`: off.
    pub kv_tiers: Option<Box<crate::serving::vllm::KvTierConfig>>,
    /// LoRA adapters served beside the base model (`[service.vllm.lora]`).
    pub lora: Option<Box<super::lora::LoraSpec>>,
}

/// Measured step-time tables named by `[service.vllm.profile]` (paths relative to the scenario).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileSpec {
    /// Calibration-format tables, the roofline for a phase without one.
    Tables {
        /// The catalog model whose rows are taken.
        model: String,
        /// Decode table path.
        decode: Option<String>,
        /// Prefill table path.
        prefill: Option<String>,
    },
    /// SplitwiseSim's `perf_model.csv`, for one model, hardware and tensor-parallel degree.
    Splitwise {
        /// File path.
        path: String,
        /// `model` column value.
        model: String,
        /// `hardware` column value.
        hardware: String,
        /// `tensor_parallel` column value (the replica's `tensor_parallel_size`).
        tensor_parallel: u32,
        /// How steps are looked up (`lookup`).
        lookup: crate::costmodel::SplitwiseLookup,
    },
}

/// A token-count distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TokenDist {
    /// Always this many.
    Fixed(u32),
    /// Uniform on `min..=max`.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// Lognormal with this mean and coefficient of variation, rounded and clamped to `min..=max`.
    Lognormal {
        /// Mean.
        mean: f64,
        /// Coefficient of variation.
        cv: f64,
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
}

/// Token counts drawn per request; a `None` side keeps the trace's counts.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSpec {
    /// Prompt tokens.
    pub prompt: Option<TokenDist>,
    /// Output tokens.
    pub output: Option<TokenDist>,
    /// A trace (path relative to the scenario, format) whose (prompt, output) pairs are drawn
    /// with replacement; excludes `prompt` and `output`.
    pub sample: Option<(String, TraceFormat)>,
    /// Shared prompt prefixes (`[traffic.tokens.prefix]`).
    pub prefix: Option<PrefixSpec>,
}

/// Shared prompt prefixes: a request (with probability `share`) starts with one of `groups`
/// prefixes of `tokens` tokens, chosen uniformly; the prefix is prepended to its drawn prompt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrefixSpec {
    /// Tokens of each prefix.
    pub tokens: u32,
    /// Distinct prefixes.
    pub groups: u32,
    /// Fraction of requests with a prefix.
    pub share: f64,
}

impl TokenSpec {
    /// Whether every request gets both counts.
    pub fn complete(&self) -> bool {
        self.sample.is_some() || (self.prompt.is_some() && self.output.is_some())
    }
}

/// Parses and validates a scenario against the built-in catalogs. `file` names the source in
/// error messages.
pub fn parse_scenario(source: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario_with(source, file, &Catalog::builtin())
}

/// Parses and validates a scenario against `catalog` (the built-in one with the scenario's own
/// catalog files applied; see [`catalog_paths`]).
pub fn parse_scenario_with(
    source: &str,
    file: &str,
    catalog: &Catalog,
) -> Result<Scenario, ScenarioError> {
    let table: toml::Table = parse_raw(source, file)?;
    let catalog = &scenario_catalog(source, file, catalog)?;
    if super::services::is_multi(&table) {
        return super::services::validate_multi(&table, file, source, None, catalog);
    }
    super::services::single_form_checks(&table, file, source)?;
    if super::disagg::is_disaggregated(&table) {
        return super::disagg::validate(&table, file, source, catalog);
    }
    let raw = parse_raw(source, file)?;
    Validator {
        file,
        source,
        variant: None,
        service: None,
        gateway_traffic: false,
    }
    .scenario(raw, catalog)
}

/// `catalog` with the scenario's own `[[model]]` tables applied (a copy of it when there are
/// none). Every view of the scenario (its services, its `[[policy]]` variants) sees these models.
pub fn scenario_catalog(
    source: &str,
    file: &str,
    catalog: &Catalog,
) -> Result<Catalog, ScenarioError> {
    /// Only `[[model]]`, so both service forms read alike.
    #[derive(serde::Deserialize)]
    struct ModelsOnly {
        model: Option<Vec<crate::catalog::RawModel>>,
    }
    let raw: ModelsOnly = parse_raw(source, file)?;
    match raw.model {
        None => Ok(catalog.clone()),
        Some(entries) => catalog.with_model_entries(entries, file, source),
    }
}

/// The catalog files a scenario names in `[cluster]`: `(instance_catalog, gpu_catalog)`, as written
/// (relative to the scenario file).
pub fn catalog_paths(
    source: &str,
    file: &str,
) -> Result<(Option<String>, Option<String>), ScenarioError> {
    /// Only `[cluster]`, so both service forms read alike.
    #[derive(serde::Deserialize)]
    struct ClusterOnly {
        cluster: Option<super::raw::RawCluster>,
    }
    let raw: ClusterOnly = parse_raw(source, file)?;
    Ok(raw
        .cluster
        .map(|c| (c.instance_catalog, c.gpu_catalog))
        .unwrap_or_default())
}

/// Deserialises TOML into `T`, reporting the key path and location of the first problem.
pub fn parse_raw<T: serde::de::DeserializeOwned>(
    source: &str,
    file: &str,
) -> Result<T, ScenarioError> {
    let de = toml::Deserializer::parse(source).map_err(|e| {
        let message = clean_message(e.message());
        // A repeated key or a too deeply nested value: name the key, not only its position.
        let named = message.starts_with("duplicate key") || message.contains("recursion");
        let key = match e.span() {
            Some(r) if named => syntax_key(source, r.start),
            _ => String::new(),
        };
        ScenarioError::at_span(file, source, e.span(), &key, message)
    })?;
    let mut track = serde_path_to_error::Track::new();
    let result = T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track));
    result.map_err(|e| {
        let path = track.path().to_string();
        let key = if path == "." { String::new() } else { path };
        let message = suggest_in_message(&clean_message(e.message()));
        ScenarioError::at_span(file, source, e.span(), &key, message)
    })
}

/// The dotted key path of the TOML line holding byte `at`: the table header in effect followed
/// by the line's own key, or the header itself on a header line (empty when neither is plain).
fn syntax_key(source: &str, at: usize) -> String {
    let at = at.min(source.len());
    let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = source[start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| -> Option<String> {
        let inner = l
            .strip_prefix('[')?
            .split(']')
            .next()?
            .trim_start_matches('[')
            .trim();
        Some(inner.replace(' ', ""))
    };
    if line.starts_with('[') {
        return header(line).unwrap_or_default();
    }
    let table = source[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(header)
        .unwrap_or_default();
    let own = line
        .split_once('=')
        .map(|(k, _)| k.trim().replace(' ', ""))
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\''))
        })
        .unwrap_or_default();
    match (table.is_empty(), own.is_empty()) {
        (_, true) => table,
        (true, false) => own,
        (false, false) => format!("{table}.{own}"),
    }
}

fn clean_message(m: &str) -> String {
    m.trim().trim_end_matches('.').replace('\n', " ")
}

pub(super) struct Validator<'a> {
    pub(super) file: &'a str,
    pub(super) source: &'a str,
    /// When validating a `[[policy]]` variant: its index and its overrides. Errors at keys the
    /// variant overrides point into its `[[policy]]` table.
    pub(super) variant: Option<(usize, &'a toml::Table)>,
    /// When validating one service of a `[[service]]` scenario: its index and every service's
    /// name. Its keys are then located under `service[i]`.
    pub(super) service: Option<(usize, &'a [String])>,
    /// Whether the view's `[traffic]` is the gateway's (top-level) rather than the service's own:
    /// its keys are then located at the top level.
    pub(super) gateway_traffic: bool,
}

impl Validator<'_> {
    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        let top = self.gateway_traffic && super::services::is_traffic_key(key);
        if let (Some((s, names)), false) = (self.service, top) {
            let key = super::services::file_key(s, key);
            return match self.variant {
                Some((i, o)) if super::services::overrides_service_key(o, names, &key) => {
                    let key = format!("policy[{i}].{key}");
                    ScenarioError::at_key(self.file, self.source, &key, message)
                }
                _ => ScenarioError::at_key(self.file, self.source, &key, message),
            };
        }
        match self.variant {
            Some((i, overrides)) if super::policy::overrides_key(overrides, key) => {
                let key = format!("policy[{i}].{key}");
                ScenarioError::at_key(self.file, self.source, &key, message)
            }
            _ => ScenarioError::at_key(self.file, self.source, key, message),
        }
    }

    pub(super) fn duration(
        &self,
        key: &str,
        v: Option<&String>,
        default: SimDuration,
    ) -> Result<SimDuration, ScenarioError> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s).map_err(|e| self.err(key, e.0)),
        }
    }

    pub(super) fn required<'v, T>(
        &self,
        key: &str,
        v: Option<&'v T>,
        what: &str,
    ) -> Result<&'v T, ScenarioError> {
        v.ok_or_else(|| self.err(key, format!("missing: expected {what}")))
    }

    pub(super) fn rate(&self, key: &str, r: f64) -> Result<f64, ScenarioError> {
        if r.is_finite() && r >= 0.0 {
            // Above one arrival per nanosecond (the clock's tick) arrivals would pile up on one
            // instant and the run would never reach its horizon.
            if r > defaults::MAX_RATE {
                return Err(self.err(key, format!("expected a rate of at most 1e9 requests per second (one per nanosecond, the clock's resolution), found {r:e}")));
            }
            Ok(r)
        } else {
            Err(self.err(key, format!("expected a rate in requests per second that is finite and not negative, found {r}")))
        }
    }

    pub(super) fn scenario(
        &self,
        raw: RawScenario,
        catalog: &Catalog,
    ) -> Result<Scenario, ScenarioError> {
        let sim = raw.simulation.as_ref();
        let seed = sim.and_then(|s| s.seed).unwrap_or(defaults::SEED);
        let horizon = self.duration(
            "simulation.horizon",
            sim.and_then(|s| s.horizon.as_ref()),
            defaults::HORIZON,
        )?;
        if horizon == SimDuration::ZERO {
            return Err(self.err("simulation.horizon", "expected a horizon longer than zero"));
        }
        let warmup = self.duration(
            "simulation.warmup",
            sim.and_then(|s| s.warmup.as_ref()),
            defaults::WARMUP,
        )?;
        if warmup >= horizon {
            return Err(self.err(
                "simulation.warmup",
                format!("expected a warm-up shorter than the horizon ({horizon})"),
            ));
        }
        let sample_interval = self.duration(
            "simulation.sample_interval",
            sim.and_then(|s| s.sample_interval.as_ref()),
            defaults::SAMPLE_INTERVAL,
        )?;
        if sample_interval == SimDuration::ZERO {
            return Err(self.err(
                "simulation.sample_interval",
                "expected an interval longer than zero",
            ));
        }
        let slo_latency = match raw.slo.as_ref().and_then(|s| s.latency.as_ref()) {
            None => None,
            Some(s) => Some(parse_duration(s).map_err(|e| self.err("slo.latency", e.0))?),
        };
        let slo = |key: &str, v: Option<&String>| -> Result<Option<SimDuration>, ScenarioError> {
            v.map(|s| parse_duration(s).map_err(|e| self.err(key, e.0)))
                .transpose()
        };
        let slo_ttft = slo("slo.ttft", raw.slo.as_ref().and_then(|s| s.ttft.as_ref()))?;
        let slo_tpot = slo("slo.tpot", raw.slo.as_ref().and_then(|s| s.tpot.as_ref()))?;
        let service_raw = self.required("service", raw.service.as_ref(), "a [service] table")?;
        let cluster = self.cluster(&raw, catalog)?;
        let (cluster, karpenter) = self.karpenter(&raw, cluster, catalog)?;
        let service = self.service(service_raw, cluster.as_ref(), catalog)?;
        let traffic_raw = self.required("traffic", raw.traffic.as_ref(), "a [traffic] table")?;
        let traffic = self.traffic(traffic_raw, "traffic")?;
        let tokens = traffic_raw
            .tokens
            .as_ref()
            .map(|t| self.tokens_at(t, "traffic.tokens"))
            .transpose()?;
        if matches!(service.engine, EngineSpec::Vllm(_))
            && !super::traffic::traffic_has_tokens(&traffic, tokens.as_ref())
        {
            return Err(self.err(
                "traffic.tokens",
                "missing: the vllm engine needs token counts per request: expected \
                 [traffic.tokens] with `prompt` and `output` distributions or a `sample` trace \
                 (or replay a trace with token counts)",
            ));
        }
        self.prefix_caching(&service, &traffic, tokens.as_ref())?;
        let tenants = self.tenants(
            &raw,
            &traffic,
            &service.engine,
            (slo_latency, slo_ttft, slo_tpot),
        )?;
        if (slo_ttft.is_some() || slo_tpot.is_some())
            && !matches!(service.engine, EngineSpec::Vllm(_))
        {
            let key = if slo_ttft.is_some() {
                "slo.ttft"
            } else {
                "slo.tpot"
            };
            return Err(self.err(key, "token-level targets need `engine = \"vllm\"` (a Triton replica has no first token); use `slo.latency`"));
        }
        if cluster.is_some() && service.dispatch == Dispatch::Shared {
            let key = if service_raw.dispatch.is_some() {
                "service.dispatch"
            } else {
                "service"
            };
            return Err(self.err(
                key,
                "with [[node_pool]]s, replicas are pods behind a Kubernetes Service: \
                 expected `dispatch = \"router\"` (a shared queue models replicas without nodes)",
            ));
        }
        if service.dispatch == Dispatch::Shared && !service.scale.is_empty() {
            return Err(self.err("service.scale", "scaling replicas needs `dispatch = \"router\"` (each replica a pod with its own queue)"));
        }
        for (i, p) in raw.node_pool.iter().flatten().enumerate() {
            let Some(t) = &p.time_slicing else { continue };
            let name = if t.rename_by_default.unwrap_or(false) {
                "nvidia.com/gpu.shared"
            } else {
                "nvidia.com/gpu"
            };
            let asked = service
                .pod
                .resources
                .requests
                .get(name)
                .map_or(0, |q| q.units_ceil());
            if t.fail_requests_greater_than_one.unwrap_or(false) && asked > 1 {
                return Err(self.err(&format!("node_pool[{i}].time_slicing.failRequestsGreaterThanOne"), format!("the pods request {asked} of `{name}`: with failRequestsGreaterThanOne the device plugin fails them (request 1)")));
            }
        }
        self.one_autoscaler(&raw)?;
        let mut autoscaling = self.autoscaling(&raw, &service)?;
        let keda = match self.keda(&raw, &service)? {
            None => None,
            Some((k, hpa)) => {
                autoscaling = Some(hpa);
                Some(k)
            }
        };
        let knative = self.knative(&raw, &service)?;
        let mut service = service;
        if let Some(k) = &knative {
            // A Knative revision has no replica count: the autoscaler starts it at its initial
            // scale.
            service.replicas = k.kpa.initial();
        }
        let cluster_autoscaler = self.cluster_autoscaler(&raw, cluster.is_some())?;
        let vpa = self.vpa(&raw, &service, cluster.is_some())?;
        if let (Some(_), Some(c)) = (&cluster_autoscaler, &cluster) {
            for (i, p) in c.pools.iter().enumerate() {
                if !p.scale.is_empty() {
                    return Err(self.err(&format!("node_pool[{i}].scale"), "scheduled pool sizes and the Cluster Autoscaler would fight over the node count: use one"));
                }
            }
        }
        let failures = self.failures(&raw, cluster.as_ref())?;
        self.deployment_strategy(raw.service.as_ref().and_then(|s| s.strategy.as_ref()))?;
        let rollouts = self.rollouts(raw.rollout.as_ref(), &service, cluster.as_ref(), catalog)?;
        if !rollouts.is_empty() {
            for (k, present) in [("vpa", vpa.is_some()), ("knative", knative.is_some())] {
                if present {
                    return Err(self.err(k, format!("[{k}] with a [[rollout]] is not modelled: a rollout's pods take their requests from their version's template (and Knative rolls out revisions, not ReplicaSets)")));
                }
            }
        }
        let (admission, classes, default_priority) = self.admission(&raw)?;
        let batch = self.batch(
            &raw,
            &admission,
            &classes,
            default_priority,
            cluster.as_ref(),
        )?;
        let cost_allocation =
            self.cost_allocation(raw.cost_allocation.as_ref(), cluster.as_ref())?;
        let scenario = Scenario {
            others: Vec::new(),
            gateway: None,
            windows: Vec::new(),
            disagg: None,
            cost_allocation,
            failures,
            rollouts,
            admission,
            batch,
            autoscaling,
            keda,
            knative,
            cluster_autoscaler,
            karpenter,
            vpa,
            name: raw.name.clone().unwrap_or_default(),
            seed,
            horizon,
            warmup,
            sample_interval,
            slo_latency,
            slo_ttft,
            slo_tpot,
            tokens,
            service,
            traffic,
            cluster,
            tenants,
        };
        super::limits::check(&scenario).map_err(|(key, m)| {
            let written = sim.and_then(|s| s.sample_interval.as_ref()).is_some();
            if key == "simulation.sample_interval" && !written {
                let rows = super::limits::rounds(horizon, sample_interval);
                let (key, m) =
                    super::limits::series_rows_error(rows, false, defaults::SAMPLE_INTERVAL);
                self.err(&key, m)
            } else {
                self.err(&key, m)
            }
        })?;
        let mut scenario = scenario;
        if self.service.is_none() {
            // One service: its selectors select its own pods or none (with several, every
            // service's are resolved against all once each is validated).
            super::selectors::resolve(std::slice::from_mut(&mut scenario), |_, key, m| {
                self.err(key, m)
            })?;
        }
        Ok(scenario)
    }

    pub(super) fn service(
        &self,
        raw: &RawService,
        cluster: Option<&ClusterSpec>,
        catalog: &Catalog,
    ) -> Result<ServiceSpec, ScenarioError> {
        let replicas = raw.replicas.unwrap_or(defaults::REPLICAS);
        if replicas == 0 {
            return Err(self.err("service.replicas", "expected at least 1 replica"));
        }
        super::limits::REPLICAS
            .check(replicas.into())
            .map_err(|m| self.err("service.replicas", m))?;
        let dispatch = match raw.dispatch.unwrap_or(RawDispatch::Shared) {
            RawDispatch::Shared => {
                if raw.router.is_some() {
                    return Err(self.err(
                        "service.router",
                        "a router policy needs `dispatch = \"router\"`; a shared queue has no router",
                    ));
                }
                Dispatch::Shared
            }
            RawDispatch::Router => {
                Dispatch::Router(match raw.router.unwrap_or(RawRouter::RoundRobin) {
                    RawRouter::RoundRobin => RouterPolicy::RoundRobin,
                    RawRouter::LeastOutstanding => RouterPolicy::LeastOutstanding,
                    RawRouter::Random => RouterPolicy::Random,
                    RawRouter::Prefix => RouterPolicy::Prefix,
                    RawRouter::LeastTokens => RouterPolicy::LeastTokens,
                    RawRouter::LeastKv => RouterPolicy::LeastKv,
                    RawRouter::LoraAffinity => RouterPolicy::LoraAffinity,
                })
            }
        };
        let max_queue_size = raw.max_queue_size.filter(|&n| n > 0);
        if let Some(n) = max_queue_size {
            super::limits::QUEUE
                .check(u64::from(n))
                .map_err(|m| self.err("service.max_queue_size", m))?;
        }
        let resources = self.resources(raw.resources.as_ref())?;
        let mut pod = self.pod_template(resources, raw.pod.as_ref())?;
        let engine = match raw.engine.unwrap_or(RawEngineKind::Triton) {
            RawEngineKind::Triton => {
                if raw.vllm.is_some() {
                    return Err(self.err(
                        "service.vllm",
                        "[service.vllm] needs `engine = \"vllm\"` in [service]",
                    ));
                }
                let batching = self.batching(raw.triton.as_ref())?;
                let st = self.required(
                    "service.service_time",
                    raw.service_time.as_ref(),
                    "a [service.service_time] table",
                )?;
                let service_time = self.service_time(st, batching.max_batch_size, catalog)?;
                EngineSpec::Triton {
                    batching,
                    service_time,
                }
            }
            RawEngineKind::Vllm => {
                if raw.triton.is_some() {
                    return Err(self.err("service.triton", "[service.triton] is for `engine = \"triton\"`; a vllm engine batches continuously ([service.vllm])"));
                }
                if raw.service_time.is_some() {
                    return Err(self.err("service.service_time", "a vllm engine times each step with [service.vllm.step_time], not [service.service_time]"));
                }
                if matches!(raw.dispatch, None | Some(RawDispatch::Shared)) {
                    let key = if raw.dispatch.is_some() {
                        "service.dispatch"
                    } else {
                        "service"
                    };
                    return Err(self.err(key, "a vllm engine is one replica with its own queue: expected `dispatch = \"router\"`"));
                }
                let v =
                    self.required("service.vllm", raw.vllm.as_ref(), "a [service.vllm] table")?;
                let spec = self.vllm(v, cluster, &pod, catalog)?;
                if pod.gpu_memory_bytes == 0 {
                    pod.gpu_memory_bytes = spec.gpu_memory_bytes;
                }
                EngineSpec::Vllm(spec)
            }
        };
        let scale = self.service_scale(raw.scale.as_ref())?;
        let name = raw.name.clone().unwrap_or_else(|| "service".to_string());
        if raw.pod.as_ref().is_none_or(|p| p.labels.is_none()) {
            pod.labels
                .insert(defaults::POD_LABEL.to_string(), name.clone());
        }
        Ok(ServiceSpec {
            name,
            namespace: raw
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            replicas,
            dispatch,
            max_queue_size,
            engine,
            pod,
            scale,
        })
    }

    fn vllm(
        &self,
        raw: &RawVllm,
        cluster: Option<&ClusterSpec>,
        pod: &PodTemplate,
        catalog: &Catalog,
    ) -> Result<VllmSpec, ScenarioError> {
        let key = |k: &str| format!("service.vllm.{k}");
        let pool_gpu = cluster.and_then(|c| c.pools.iter().find(|p| p.gpu.is_some()));
        let gpu_id: Option<&str> = raw
            .gpu
            .as_deref()
            .or_else(|| pool_gpu.and_then(|p| p.gpu.as_deref()));
        // vLLM sizes its batch from the device it sees: a MIG slice in an unprivileged container
        // reports its own memory (and its parent GPU's name).
        let device = gpu_id.and_then(|g| catalog.gpu(g)).map(|gpu| {
            let memory = match mig_profile(pod, pool_gpu) {
                Some(profile) => crate::gpu::mig::MigCatalog::builtin()
                    .for_gpu(&gpu.id)
                    .ok()
                    .and_then(|m| m.profile(&profile).ok().map(|i| m.profiles[i].memory_gib))
                    .map(|gib| gib * (1u64 << 30) as f64),
                None => Some(gpu.memory_bytes as f64),
            };
            (memory, gpu.name.as_str())
        });
        let (seqs_default, tokens_default) = match device {
            Some((memory, name)) => defaults::vllm_batch(memory, name),
            None => defaults::vllm_batch(None, ""),
        };
        let positive = |k: &str, v: Option<u32>, default: u32| -> Result<u32, ScenarioError> {
            match v {
                None => Ok(default),
                Some(0) => Err(self.err(&key(k), "expected at least 1")),
                Some(n) => Ok(n),
            }
        };
        let scheduler = raw.scheduler.unwrap_or(RawLlmScheduler::Continuous);
        // SplitwiseSim's batching takes SplitwiseSim's configurations' limits by default.
        let (seqs_default, tokens_default) = match scheduler {
            RawLlmScheduler::Splitwise => (
                defaults::SPLITWISE_MAX_BATCH_SIZE,
                defaults::SPLITWISE_MAX_BATCH_TOKENS,
            ),
            _ => (seqs_default, tokens_default),
        };
        let max_num_batched_tokens = positive(
            "max_num_batched_tokens",
            raw.max_num_batched_tokens,
            tokens_default,
        )?;
        // vLLM: an unset max_num_seqs is at most the token budget.
        let max_num_seqs = positive(
            "max_num_seqs",
            raw.max_num_seqs,
            seqs_default.min(max_num_batched_tokens),
        )?;
        let block_size = positive("block_size", raw.block_size, defaults::VLLM_BLOCK_SIZE)?;
        if scheduler != RawLlmScheduler::Splitwise && raw.max_preemptions.is_some() {
            return Err(self.err(
                &key("max_preemptions"),
                "`max_preemptions` is for `scheduler = \"splitwise\"` (SplitwiseSim's batching)",
            ));
        }
        let static_only = |this: &Self, name: &str| -> Result<(), ScenarioError> {
            for (k, present) in [
                ("batch_size", raw.batch_size.is_some()),
                ("batch_timeout", raw.batch_timeout.is_some()),
            ] {
                if present {
                    return Err(this.err(&key(k), format!("`{k}` is for `scheduler = \"static\"`; the {name} scheduler is bounded by `max_num_seqs` and `max_num_batched_tokens`")));
                }
            }
            Ok(())
        };
        let mut splitwise_batching = None;
        let static_batching = match scheduler {
            RawLlmScheduler::Continuous => {
                static_only(self, "continuous")?;
                None
            }
            RawLlmScheduler::Splitwise => {
                static_only(self, "splitwise")?;
                if raw.enable_prefix_caching == Some(true) {
                    return Err(self.err(
                        &key("enable_prefix_caching"),
                        "SplitwiseSim's batching (`scheduler = \"splitwise\"`) has no prefix cache",
                    ));
                }
                splitwise_batching = Some(
                    raw.max_preemptions
                        .unwrap_or(defaults::SPLITWISE_MAX_PREEMPTIONS),
                );
                None
            }
            RawLlmScheduler::Static => {
                for (k, present) in [
                    ("max_num_seqs", raw.max_num_seqs.is_some()),
                    (
                        "max_num_batched_tokens",
                        raw.max_num_batched_tokens.is_some(),
                    ),
                    (
                        "enable_prefix_caching",
                        raw.enable_prefix_caching == Some(true),
                    ),
                ] {
                    if present {
                        return Err(self.err(&key(k), format!("`{k}` is a knob of the continuous scheduler, not used with `scheduler = \"static\"` (use `batch_size`)")));
                    }
                }
                let size = match raw.batch_size {
                    None => return Err(self.err(&key("batch_size"), "missing: `scheduler = \"static\"` needs `batch_size`, the most requests in a batch")),
                    Some(0) => return Err(self.err(&key("batch_size"), "expected at least 1")),
                    Some(n) => n,
                };
                let timeout = self.duration(
                    &key("batch_timeout"),
                    raw.batch_timeout.as_ref(),
                    SimDuration::ZERO,
                )?;
                Some((size, timeout))
            }
        };
        let blocks_given = match raw.num_gpu_blocks {
            Some(0) => return Err(self.err(&key("num_gpu_blocks"), "expected at least 1")),
            b => b,
        };
        let (step, num_gpu_blocks, gpu_memory_bytes) = match (&raw.model, &raw.step_time) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &key("step_time"),
                    "expected either `model` (the roofline cost model) or [service.vllm.step_time], not both",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    "service.vllm",
                    "missing: expected `model`, a model catalog id such as \"llama-3.1-8b\", or a [service.vllm.step_time] table",
                ))
            }
            (None, Some(st)) => {
                for (k, present) in [
                    ("gpu", raw.gpu.is_some()),
                    ("tensor_parallel_size", raw.tensor_parallel_size.is_some()),
                    ("gpu_memory_utilization", raw.gpu_memory_utilization.is_some()),
                    ("weight_dtype", raw.weight_dtype.is_some()),
                    ("kv_cache_dtype", raw.kv_cache_dtype.is_some()),
                ] {
                    if present {
                        return Err(self.err(&key(k), format!("`{k}` is used with `model` (the roofline); a linear [service.vllm.step_time] does not use it")));
                    }
                }
                let blocks = blocks_given.ok_or_else(|| {
                    self.err(
                        &key("num_gpu_blocks"),
                        "missing: expected `num_gpu_blocks`, the KV-cache blocks of one replica (with a linear step_time capsim cannot derive it)",
                    )
                })?;
                (StepModel::Linear(self.linear_step(st)?), blocks, 0)
            }
            (Some(model_id), None) => self.roofline(
                raw,
                model_id,
                gpu_id,
                pod,
                pool_gpu,
                catalog,
                block_size,
                max_num_batched_tokens,
                blocks_given,
            )?,
        };
        let prefix_caching = raw.enable_prefix_caching.unwrap_or(true)
            && static_batching.is_none()
            && splitwise_batching.is_none();
        let kv_tiers = self
            .kv_tiers(raw, gpu_id, pool_gpu, catalog, prefix_caching)?
            .map(Box::new);
        let lora = match &raw.lora {
            None => None,
            Some(_) if static_batching.is_some() || splitwise_batching.is_some() => {
                return Err(self.err(
                    &key("lora"),
                    "LoRA adapters are served by the continuous scheduler, not with `scheduler = \"static\"` or `\"splitwise\"`",
                ))
            }
            Some(l) => {
                let base = match (&raw.model, gpu_id) {
                    (Some(m), Some(g)) => {
                        let model = self
                            .catalog_model(catalog, &key("model"), m)?
                            .with_precision(raw.weight_dtype, raw.kv_cache_dtype);
                        catalog
                            .gpu(g)
                            .map(|gpu| (model, gpu, raw.tensor_parallel_size.unwrap_or(1)))
                    }
                    _ => None,
                };
                Some(Box::new(
                    self.lora(l, base.as_ref().map(|(m, g, tp)| (m, *g, *tp)))?,
                ))
            }
        };
        Ok(VllmSpec {
            kv_tiers,
            lora,
            max_num_seqs,
            max_num_batched_tokens,
            block_size,
            num_gpu_blocks,
            step,
            prefix_caching,
            profile: self.profile(raw)?,
            static_batching,
            splitwise_batching,
            gpu_memory_bytes,
        })
    }

    /// The KV-cache tiers below HBM (`kv_offloading_size`, `kv_offloading_backend`,
    /// `max_local_disk_size`), checked against the GPU's host link and the node's memory and
    /// disks.
    fn kv_tiers(
        &self,
        raw: &RawVllm,
        gpu_id: Option<&str>,
        pool: Option<&crate::cluster::NodePoolSpec>,
        catalog: &Catalog,
        prefix_caching: bool,
    ) -> Result<Option<crate::serving::vllm::KvTierConfig>, ScenarioError> {
        use super::limits::KV_TIER_SIZE;
        let key = |k: &str| format!("service.vllm.{k}");
        let lmcache = match raw.kv_offloading_backend {
            None | Some(RawKvOffloadingBackend::Native) => false,
            Some(RawKvOffloadingBackend::Lmcache) => true,
        };
        let Some(cpu_gib) = raw.kv_offloading_size else {
            for (k, present) in [
                ("kv_offloading_backend", raw.kv_offloading_backend.is_some()),
                ("max_local_disk_size", raw.max_local_disk_size.is_some()),
            ] {
                if present {
                    return Err(self.err(&key(k), format!("`{k}` configures the host-memory KV tier, which is off: expected `kv_offloading_size` (GiB) too")));
                }
            }
            return Ok(None);
        };
        let gib = |k: &str, v: f64| -> Result<u64, ScenarioError> {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.err(
                    &key(k),
                    format!("expected a size in GiB above 0, found {v}"),
                ));
            }
            KV_TIER_SIZE
                .check(v.ceil() as u64)
                .map_err(|m| self.err(&key(k), m))?;
            Ok((v * (1u64 << 30) as f64).round() as u64)
        };
        let cpu_bytes = gib("kv_offloading_size", cpu_gib)?;
        let disk_bytes = match raw.max_local_disk_size {
            None => 0,
            Some(_) if !lmcache => {
                return Err(self.err(&key("max_local_disk_size"), "a local-disk KV tier is LMCache's (vLLM's native offloading keeps host memory only): expected `kv_offloading_backend = \"lmcache\"`"));
            }
            Some(v) => gib("max_local_disk_size", v)?,
        };
        let size_key = key("kv_offloading_size");
        if raw.scheduler == Some(RawLlmScheduler::Static) {
            return Err(self.err(&size_key, "KV-cache tiers hold prefix blocks of vLLM's continuous scheduler: expected no `scheduler = \"static\"`"));
        }
        if !prefix_caching {
            return Err(self.err(&size_key, "the KV-cache tiers hold prefix blocks, found by the prefix cache's hashes: expected `enable_prefix_caching` on (vLLM's default)"));
        }
        let Some(model_id) = raw.model.as_deref() else {
            return Err(self.err(&size_key, "a tier's blocks are sized by the model's KV bytes per token: expected `model`, a model catalog id"));
        };
        let model = self
            .catalog_model(catalog, &key("model"), model_id)?
            .with_precision(raw.weight_dtype, raw.kv_cache_dtype);
        let tp = raw.tensor_parallel_size.unwrap_or(1).max(1);
        let gpu = gpu_id.and_then(|g| catalog.gpu(g));
        let link = gpu.and_then(|g| g.host_link_gb_per_s).ok_or_else(|| {
            self.err(&size_key, format!("loads from host memory move over the GPU's host link, but GPU `{}` has no `host_link_gb_per_s` in the GPU catalog: add it (decimal GB/s one way) to its entry", gpu_id.unwrap_or("?")))
        })?;
        // The node's memory and disks, shared by the replicas on it.
        let node = pool.and_then(|p| catalog.instance(&p.instance_type).map(|i| (p, i)));
        let mut disk_read = 0.0;
        if let Some((p, inst)) = node {
            let per_node = u64::from(inst.gpu_count.max(1) / tp).max(1);
            let gb = |b: u64| b as f64 / (1u64 << 30) as f64;
            if cpu_bytes.saturating_mul(per_node) > inst.memory_bytes {
                return Err(self.err(&size_key, format!(
                    "{cpu_gib} GiB of host memory per replica does not fit: node pool `{}` runs `{}` with {:.0} GiB of memory for {} replica(s) of {tp} GPU(s) each: expected at most {:.1} GiB",
                    p.name, inst.id, gb(inst.memory_bytes), per_node, gb(inst.memory_bytes / per_node)
                )));
            }
            if disk_bytes > 0 {
                let disk_key = key("max_local_disk_size");
                let (Some(nvme), Some(read)) =
                    (inst.local_nvme_bytes, inst.local_nvme_read_gb_per_s)
                else {
                    return Err(self.err(&disk_key, format!("instance type `{}` has no `local_nvme` and `local_nvme_read_gb_per_s` in the instance catalog: add them to its entry, or drop the disk tier", inst.id)));
                };
                if disk_bytes.saturating_mul(per_node) > nvme {
                    return Err(self.err(&disk_key, format!(
                        "{} GiB of local disk per replica does not fit: `{}` has {:.0} GiB of NVMe for {} replica(s): expected at most {:.1} GiB",
                        raw.max_local_disk_size.unwrap_or_default(), inst.id, gb(nvme), per_node, gb(nvme / per_node)
                    )));
                }
                disk_read = read * 1e9 / per_node as f64;
            }
        } else if disk_bytes > 0 {
            return Err(self.err(&key("max_local_disk_size"), "a local-disk tier reads the node's NVMe: expected a [[node_pool]] whose instance type gives `local_nvme` and `local_nvme_read_gb_per_s`"));
        }
        Ok(Some(crate::serving::vllm::KvTierConfig {
            cpu_bytes,
            disk_bytes,
            kv_bytes_per_token: model.kv_bytes_per_token(),
            tensor_parallel: tp,
            host_link_bytes_per_s: link * 1e9,
            disk_read_bytes_per_s: disk_read,
        }))
    }

    /// `[service.vllm.profile]`: which tables, checked for completeness (the files are read
    /// by the caller).
    fn profile(&self, raw: &RawVllm) -> Result<Option<ProfileSpec>, ScenarioError> {
        let Some(p) = &raw.profile else {
            return Ok(None);
        };
        let key = |k: &str| format!("service.vllm.profile.{k}");
        let Some(model) = &raw.model else {
            return Err(self.err("service.vllm.profile", "a measured profile replaces the roofline of a catalog model: expected `model` in [service.vllm] (it also sizes the KV cache and times any phase without a table)"));
        };
        if let Some(path) = &p.splitwise {
            for (k, present) in [
                ("decode", p.decode.is_some()),
                ("prefill", p.prefill.is_some()),
            ] {
                if present {
                    return Err(self.err(&key(k), "expected either calibration tables (`decode`, `prefill`) or `splitwise`, not both"));
                }
            }
            let need = |k: &str, v: &Option<String>, what: &str| {
                v.clone()
                    .ok_or_else(|| self.err(&key(k), format!("missing: expected {what}")))
            };
            return Ok(Some(ProfileSpec::Splitwise {
                path: path.clone(),
                model: need(
                    "splitwise_model",
                    &p.splitwise_model,
                    "`splitwise_model`, the file's `model` value such as \"llama2-70b\"",
                )?,
                hardware: need(
                    "splitwise_hardware",
                    &p.splitwise_hardware,
                    "`splitwise_hardware`, the file's `hardware` value such as \"h100-80gb\"",
                )?,
                tensor_parallel: raw.tensor_parallel_size.unwrap_or(1),
                lookup: match p.lookup {
                    None | Some(RawLookup::Capsim) => crate::costmodel::SplitwiseLookup::Capsim,
                    Some(RawLookup::Splitwise) => crate::costmodel::SplitwiseLookup::Splitwise,
                },
            }));
        }
        for (k, present) in [
            ("splitwise_model", p.splitwise_model.is_some()),
            ("splitwise_hardware", p.splitwise_hardware.is_some()),
            ("lookup", p.lookup.is_some()),
        ] {
            if present {
                return Err(self.err(&key(k), format!("`{k}` goes with `splitwise`")));
            }
        }
        if p.decode.is_none() && p.prefill.is_none() {
            return Err(self.err(
                "service.vllm.profile",
                "missing: expected `decode` or `prefill` (calibration-format tables) or `splitwise` (a perf_model.csv)",
            ));
        }
        Ok(Some(ProfileSpec::Tables {
            model: model.clone(),
            decode: p.decode.clone(),
            prefill: p.prefill.clone(),
        }))
    }

    /// Checks that prefix sources, the prefix router and the engine fit together.
    fn prefix_caching(
        &self,
        service: &ServiceSpec,
        traffic: &TrafficSpec,
        tokens: Option<&TokenSpec>,
    ) -> Result<(), ScenarioError> {
        let vllm = match &service.engine {
            EngineSpec::Vllm(v) => Some(v),
            EngineSpec::Triton { .. } => None,
        };
        let caching = vllm.is_some_and(|v| v.prefix_caching);
        let trace_unit = match traffic {
            TrafficSpec::Trace { format, .. } => format.prefix_unit_tokens(),
            _ => None,
        };
        if tokens.is_some_and(|t| t.prefix.is_some()) {
            if vllm.is_none() {
                return Err(self.err("traffic.tokens.prefix", "shared prefixes matter only to a prefix cache: expected `engine = \"vllm\"` in [service]"));
            }
            if trace_unit.is_some() {
                return Err(self.err("traffic.tokens.prefix", "the trace carries its own prefix hashes (`hash_ids`): expected either the trace's prefixes or [traffic.tokens.prefix], not both"));
            }
        }
        if let (Some(unit), Some(v)) = (trace_unit, vllm) {
            if caching && unit % v.block_size != 0 {
                return Err(self.err("service.vllm.block_size", format!("the trace's prefix hashes cover {unit} tokens each: expected a block size that divides {unit}, found {}", v.block_size)));
            }
        }
        if service.dispatch == Dispatch::Router(RouterPolicy::Prefix) && !caching {
            let why = if vllm.is_some() {
                "`enable_prefix_caching = false` in [service.vllm]"
            } else {
                "a triton engine has no prefix cache"
            };
            return Err(self.err("service.router", format!("`router = \"prefix\"` routes by the replicas' prefix caches, but {why}: expected `engine = \"vllm\"` with prefix caching on")));
        }
        Ok(())
    }

    fn linear_step(&self, st: &RawLinearStep) -> Result<LinearStep, ScenarioError> {
        let d = |k: &str, v: Option<&String>| -> Result<f64, ScenarioError> {
            Ok(self
                .duration(&format!("service.vllm.step_time.{k}"), v, SimDuration::ZERO)?
                .as_secs_f64())
        };
        let linear = LinearStep {
            base: d("base", st.base.as_ref())?,
            per_token: d("per_token", st.per_token.as_ref())?,
            per_seq: d("per_seq", st.per_seq.as_ref())?,
            per_context_token: d("per_context_token", st.per_context_token.as_ref())?,
        };
        if linear.base == 0.0 && linear.per_token == 0.0 && linear.per_seq == 0.0 {
            return Err(self.err(
                "service.vllm.step_time",
                "expected `base`, `per_token` or `per_seq` above zero: a step takes time",
            ));
        }
        Ok(linear)
    }

    /// The model `id` from the catalog (built-in models and the scenario's `[[model]]`), or an
    /// error at `key` listing the ids.
    fn catalog_model<'c>(
        &self,
        catalog: &'c Catalog,
        key: &str,
        id: &str,
    ) -> Result<&'c crate::catalog::LlmModel, ScenarioError> {
        catalog.model(id).ok_or_else(|| {
            let ids = catalog.model_ids();
            let hint = super::error::closest(id, &ids)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            self.err(
                key,
                format!(
                    "unknown model `{id}`: expected one of {}, or a [[model]] table of that id{hint}",
                    ids.join(", ")
                ),
            )
        })
    }

    /// The roofline step model and the KV blocks for `model_id` on the replica's GPU share.
    #[allow(clippy::too_many_arguments)]
    fn roofline(
        &self,
        raw: &RawVllm,
        model_id: &str,
        gpu_id: Option<&str>,
        pod: &PodTemplate,
        pool: Option<&crate::cluster::NodePoolSpec>,
        catalog: &Catalog,
        block_size: u32,
        max_num_batched_tokens: u32,
        blocks_given: Option<u32>,
    ) -> Result<(StepModel, u32, u64), ScenarioError> {
        use crate::costmodel::{Placement, Roofline, StepCost};
        use crate::gpu::mig::MigCatalog;
        let key = |k: &str| format!("service.vllm.{k}");
        let model = &self
            .catalog_model(catalog, &key("model"), model_id)?
            .with_precision(raw.weight_dtype, raw.kv_cache_dtype);
        let gpu_id = gpu_id.ok_or_else(|| {
            self.err(
                "service.vllm",
                "missing: expected `gpu`, a GPU catalog id such as \"h100-sxm\" (or a [[node_pool]] whose instance type has GPUs)",
            )
        })?;
        let gpu = catalog.gpu(gpu_id).ok_or_else(|| {
            let ids = catalog.gpu_ids();
            let hint = super::error::closest(gpu_id, &ids)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            self.err(&key("gpu"), format!("unknown GPU `{gpu_id}`{hint}"))
        })?;
        let tp = match raw.tensor_parallel_size {
            None => 1,
            Some(0) => return Err(self.err(&key("tensor_parallel_size"), "expected at least 1")),
            Some(n) => n,
        };
        // What the pods run on must be what the cost model assumes.
        if let (Some(named), Some(p)) = (raw.gpu.as_deref(), pool) {
            if let Some(actual) = p.gpu.as_deref().filter(|g| *g != named) {
                return Err(self.err(
                    &key("gpu"),
                    format!("the pods run on node pool `{}`, whose GPUs are `{actual}`: expected `gpu = \"{actual}\"` or no `gpu`", p.name),
                ));
            }
        }
        let whole = pod
            .resources
            .requests
            .get("nvidia.com/gpu")
            .map_or(0, |q| q.units_ceil());
        if pool.is_some_and(|p| p.time_slicing.is_none()) && whole > 0 && whole != u128::from(tp) {
            return Err(self.err(
                &key("tensor_parallel_size"),
                format!("a replica with tensor_parallel_size {tp} uses {tp} GPU(s), but its pods request {whole} `nvidia.com/gpu`: make them equal"),
            ));
        }
        let util = raw
            .gpu_memory_utilization
            .unwrap_or(defaults::VLLM_GPU_MEMORY_UTILIZATION);
        if !(util > 0.0 && util <= 1.0) {
            return Err(self.err(
                &key("gpu_memory_utilization"),
                format!("expected a fraction above 0 and at most 1, found {util}"),
            ));
        }
        let (placement, memory_bytes) = match mig_profile(pod, pool) {
            Some(profile) => {
                if tp > 1 {
                    return Err(self.err(&key("tensor_parallel_size"), "a replica on a MIG slice uses one slice: tensor parallelism needs whole GPUs"));
                }
                let mig = MigCatalog::builtin()
                    .for_gpu(&gpu.id)
                    .map_err(|e| self.err(&key("gpu"), e.0))?;
                let p = mig
                    .profile(&profile)
                    .map(|i| &mig.profiles[i])
                    .map_err(|e| self.err("service.resources.requests", e.0))?;
                (
                    Placement::mig(p.sms, gpu.sms, u32::from(p.memory_slices)),
                    p.memory_gib * (1u64 << 30) as f64,
                )
            }
            None => (Placement::tensor_parallel(tp), gpu.memory_bytes as f64),
        };
        let roofline = Roofline::new(gpu, model, &placement);
        let blocks = match blocks_given {
            Some(b) => b,
            None => {
                let tpf = f64::from(tp);
                // What vLLM keeps back besides weights and KV cache: CUDA context, graphs and the
                // activations of a full token budget (an approximation of its profiling run).
                let reserve = defaults::VLLM_RESERVED_BYTES
                    + max_num_batched_tokens as f64 * model.hidden_size as f64 * 8.0 / tpf;
                let free = memory_bytes * util - model.weight_bytes() / tpf - reserve;
                let per_block = block_size as f64 * model.kv_bytes_per_token() / tpf;
                let blocks = (free / per_block).floor();
                if blocks < 1.0 {
                    let gib = |b: f64| b / (1u64 << 30) as f64;
                    return Err(self.err(
                        &key("model"),
                        format!(
                            "`{model_id}` does not fit: {:.1} GiB of weights per GPU and {:.1} GiB reserved exceed {:.0}% of {:.1} GiB; use more GPUs (tensor_parallel_size), a larger GPU or slice, or a higher gpu_memory_utilization",
                            gib(model.weight_bytes() / tpf),
                            gib(reserve),
                            util * 100.0,
                            gib(memory_bytes)
                        ),
                    ));
                }
                blocks.min(u32::MAX as f64) as u32
            }
        };
        Ok((
            StepModel::Cost(Box::new(StepCost::Roofline(roofline))),
            blocks,
            (memory_bytes * util) as u64,
        ))
    }

    /// `[traffic.tokens]` (or a stream's `tokens`), at key prefix `at`.
    pub(super) fn tokens_at(&self, raw: &RawTokens, at: &str) -> Result<TokenSpec, ScenarioError> {
        let one = |side: &str,
                   d: Option<&RawTokenDist>|
         -> Result<Option<TokenDist>, ScenarioError> {
            let Some(d) = d else { return Ok(None) };
            let key = format!("{at}.{side}");
            let family = *self.required(
                &format!("{key}.distribution"),
                d.distribution.as_ref(),
                "a distribution: fixed, uniform or lognormal",
            )?;
            let need = |name: &str, v: Option<u32>| -> Result<u32, ScenarioError> {
                v.ok_or_else(|| {
                    self.err(
                        &format!("{key}.{name}"),
                        format!("missing: expected `{name}`, a token count"),
                    )
                })
            };
            let unused = |name: &str, present: bool| -> Result<(), ScenarioError> {
                if present {
                    Err(self.err(
                        &format!("{key}.{name}"),
                        format!("`{name}` is not used by this distribution"),
                    ))
                } else {
                    Ok(())
                }
            };
            Ok(Some(match family {
                RawTokenFamily::Fixed => {
                    unused("min", d.min.is_some())?;
                    unused("max", d.max.is_some())?;
                    unused("mean", d.mean.is_some())?;
                    unused("cv", d.cv.is_some())?;
                    TokenDist::Fixed(need("value", d.value)?)
                }
                RawTokenFamily::Uniform => {
                    unused("value", d.value.is_some())?;
                    unused("mean", d.mean.is_some())?;
                    unused("cv", d.cv.is_some())?;
                    let (min, max) = (need("min", d.min)?, need("max", d.max)?);
                    if min > max {
                        return Err(self.err(
                            &format!("{key}.max"),
                            format!("expected `max` of at least `min` ({min}), found {max}"),
                        ));
                    }
                    TokenDist::Uniform { min, max }
                }
                RawTokenFamily::Lognormal => {
                    unused("value", d.value.is_some())?;
                    let mean = d.mean.ok_or_else(|| {
                        self.err(&format!("{key}.mean"), "missing: expected `mean`, tokens")
                    })?;
                    if !(mean.is_finite() && mean >= 1.0) {
                        return Err(self.err(
                            &format!("{key}.mean"),
                            format!("expected a mean of at least 1 token, found {mean}"),
                        ));
                    }
                    let cv = d.cv.ok_or_else(|| {
                        self.err(
                            &format!("{key}.cv"),
                            "missing: expected `cv`, the coefficient of variation (e.g. 1.0)",
                        )
                    })?;
                    if !(cv.is_finite() && cv > 0.0) {
                        return Err(self.err(
                            &format!("{key}.cv"),
                            format!("expected a coefficient of variation above zero, found {cv}"),
                        ));
                    }
                    let (min, max) = (d.min.unwrap_or(1), d.max.unwrap_or(u32::MAX / 4));
                    if min > max {
                        return Err(self.err(
                            &format!("{key}.max"),
                            format!("expected `max` of at least `min` ({min}), found {max}"),
                        ));
                    }
                    TokenDist::Lognormal { mean, cv, min, max }
                }
            }))
        };
        let sample = match (&raw.sample, raw.sample_format) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(self.err(
                    "traffic.tokens.sample_format",
                    "`sample_format` needs `sample`, the trace to draw token counts from",
                ))
            }
            (Some(path), format) => {
                for (side, present) in [
                    ("prompt", raw.prompt.is_some()),
                    ("output", raw.output.is_some()),
                ] {
                    if present {
                        return Err(self.err(
                            &format!("traffic.tokens.{side}"),
                            "expected either `sample` or `prompt`/`output` distributions, not both",
                        ));
                    }
                }
                let format = TraceFormat::from_raw(format.unwrap_or(RawTraceFormat::AzureLlm2023));
                if format.is_rates() {
                    return Err(self.err(
                        "traffic.tokens.sample_format",
                        format!(
                            "expected a format with token counts per request, found `{}` (rates only)",
                            format.name()
                        ),
                    ));
                }
                Some((path.clone(), format))
            }
        };
        let prefix = match &raw.prefix {
            None => None,
            Some(p) => {
                let key = |k: &str| format!("traffic.tokens.prefix.{k}");
                let tokens = *self.required(
                    &key("tokens"),
                    p.tokens.as_ref(),
                    "`tokens`, the length of each shared prefix",
                )?;
                if tokens == 0 {
                    return Err(self.err(&key("tokens"), "expected at least 1 token"));
                }
                let groups = *self.required(
                    &key("groups"),
                    p.groups.as_ref(),
                    "`groups`, the number of distinct prefixes",
                )?;
                if groups == 0 {
                    return Err(self.err(&key("groups"), "expected at least 1 group"));
                }
                let share = p.share.unwrap_or(1.0);
                if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
                    return Err(self.err(
                        &key("share"),
                        format!("expected a fraction of requests from 0 to 1, found {share}"),
                    ));
                }
                Some(PrefixSpec {
                    tokens,
                    groups,
                    share,
                })
            }
        };
        Ok(TokenSpec {
            prompt: one("prompt", raw.prompt.as_ref())?,
            output: one("output", raw.output.as_ref())?,
            sample,
            prefix,
        })
    }

    fn batching(&self, raw: Option<&RawTriton>) -> Result<BatchPolicy, ScenarioError> {
        let max = raw
            .and_then(|t| t.max_batch_size)
            .unwrap_or(defaults::MAX_BATCH_SIZE);
        super::limits::MAX_BATCH_SIZE
            .check(max.into())
            .map_err(|m| self.err("service.triton.max_batch_size", m))?;
        let dynb = raw.and_then(|t| t.dynamic_batching.as_ref());
        let Some(db) = dynb else {
            return Ok(BatchPolicy {
                max_batch_size: max.max(1),
                dynamic: false,
                preferred_batch_size: Vec::new(),
                max_queue_delay: SimDuration::ZERO,
            });
        };
        if max == 0 {
            return Err(self.err(
                "service.triton.dynamic_batching",
                "dynamic batching needs `max_batch_size` of at least 1 (Triton: 0 means the model does not batch)",
            ));
        }
        let mut preferred = db.preferred_batch_size.clone().unwrap_or_default();
        for (i, &p) in preferred.iter().enumerate() {
            if p == 0 || p > max {
                return Err(self.err(
                    &format!("service.triton.dynamic_batching.preferred_batch_size[{i}]"),
                    format!("expected a preferred batch size from 1 to max_batch_size ({max}), found {p}"),
                ));
            }
        }
        preferred.sort_unstable();
        preferred.dedup();
        Ok(BatchPolicy {
            max_batch_size: max,
            dynamic: true,
            preferred_batch_size: preferred,
            max_queue_delay: SimDuration::from_micros(
                db.max_queue_delay_microseconds
                    .unwrap_or(defaults::MAX_QUEUE_DELAY_US),
            ),
        })
    }

    fn service_time(
        &self,
        raw: &RawServiceTime,
        max_batch_size: u32,
        catalog: &Catalog,
    ) -> Result<ServiceTimeSpec, ScenarioError> {
        let key = "service.service_time";
        let family = *self.required(
            &format!("{key}.distribution"),
            raw.distribution.as_ref(),
            "a distribution: deterministic, exponential, lognormal or gamma",
        )?;
        let curve = self.batch_curve(raw, max_batch_size, catalog)?;
        let base = self.duration(&format!("{key}.base"), raw.base.as_ref(), SimDuration::ZERO)?;
        let per_item = self.duration(
            &format!("{key}.per_item"),
            raw.per_item.as_ref(),
            SimDuration::ZERO,
        )?;
        if base.0 == 0 && per_item.0 == 0 && curve.is_empty() {
            return Err(self.err(
                key,
                "expected `base` or `per_item` (or both) to give a mean service time above zero, `model` (the roofline) or `batch_times` (measured)",
            ));
        }
        let cv = |name: &str| -> Result<f64, ScenarioError> {
            let k = format!("{key}.cv");
            let cv = raw.cv.ok_or_else(|| self.err(&k, format!("missing: a {name} service time needs `cv`, its coefficient of variation (e.g. 0.5)")))?;
            if cv.is_finite() && cv > 0.0 {
                Ok(cv)
            } else {
                Err(self.err(
                    &k,
                    format!("expected a coefficient of variation above zero, found {cv}"),
                ))
            }
        };
        let distribution = match family {
            RawDistribution::Deterministic => Distribution::Deterministic,
            RawDistribution::Exponential => Distribution::Exponential,
            RawDistribution::Lognormal => Distribution::Lognormal {
                cv: cv("lognormal")?,
            },
            RawDistribution::Gamma => Distribution::Gamma { cv: cv("gamma")? },
        };
        if raw.cv.is_some()
            && matches!(
                distribution,
                Distribution::Deterministic | Distribution::Exponential
            )
        {
            return Err(self.err(
                &format!("{key}.cv"),
                "`cv` applies only to lognormal and gamma service times",
            ));
        }
        Ok(ServiceTimeSpec {
            distribution,
            base,
            per_item,
            curve: curve.into(),
        })
    }

    /// `t(batch)` for batch sizes 1 … `max_batch_size` from the roofline of `model` on `gpu`:
    /// one forward pass over every request's `tokens` (empty without `model`).
    fn batch_curve(
        &self,
        raw: &RawServiceTime,
        max_batch_size: u32,
        catalog: &Catalog,
    ) -> Result<Vec<SimDuration>, ScenarioError> {
        use crate::costmodel::{Placement, Roofline, StepBatch};
        let key = |k: &str| format!("service.service_time.{k}");
        if let Some(table) = &raw.batch_times {
            return self.measured_batch_curve(raw, table, max_batch_size);
        }
        let Some(model_id) = &raw.model else {
            for (k, present) in [
                ("gpu", raw.gpu.is_some()),
                ("tokens", raw.tokens.is_some()),
                ("weight_dtype", raw.weight_dtype.is_some()),
            ] {
                if present {
                    return Err(
                        self.err(&key(k), format!("`{k}` goes with `model` (the roofline)"))
                    );
                }
            }
            return Ok(Vec::new());
        };
        for (k, present) in [
            ("base", raw.base.is_some()),
            ("per_item", raw.per_item.is_some()),
        ] {
            if present {
                return Err(self.err(&key(k), format!("expected either `model` (batch times from the roofline) or `{k}`, not both")));
            }
        }
        let model = &self
            .catalog_model(catalog, &key("model"), model_id)?
            .with_precision(raw.weight_dtype, None);
        let gpu_id = self.required(
            &key("gpu"),
            raw.gpu.as_ref(),
            "`gpu`, a GPU catalog id such as \"h100-sxm\"",
        )?;
        let gpu = catalog.gpu(gpu_id).ok_or_else(|| {
            let ids = catalog.gpu_ids();
            let hint = super::error::closest(gpu_id, &ids)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            self.err(&key("gpu"), format!("unknown GPU `{gpu_id}`{hint}"))
        })?;
        let tokens = match raw.tokens {
            None => return Err(self.err(&key("tokens"), "missing: expected `tokens`, the tokens of each request (one forward pass over the batch)")),
            Some(0) => return Err(self.err(&key("tokens"), "expected at least 1 token")),
            Some(t) => t,
        };
        let roofline = Roofline::new(gpu, model, &Placement::whole());
        Ok((1..=max_batch_size.max(1) as u64)
            .map(|n| {
                let secs = roofline.step_time(&StepBatch::prefill(n, tokens as u64));
                SimDuration((secs * 1e9).round().max(1.0) as u64)
            })
            .collect())
    }

    /// `batch_times`: measured mean times of some batch sizes (1 among them, and one at least
    /// `max_batch_size`), interpolated linearly in between.
    fn measured_batch_curve(
        &self,
        raw: &RawServiceTime,
        table: &BTreeMap<String, String>,
        max_batch_size: u32,
    ) -> Result<Vec<SimDuration>, ScenarioError> {
        let key = "service.service_time.batch_times";
        for (k, present) in [
            ("base", raw.base.is_some()),
            ("per_item", raw.per_item.is_some()),
            ("model", raw.model.is_some()),
        ] {
            if present {
                return Err(self.err(
                    &format!("service.service_time.{k}"),
                    format!("expected either `batch_times` (measured) or `{k}`, not both"),
                ));
            }
        }
        let mut points: Vec<(u32, SimDuration)> = Vec::with_capacity(table.len());
        for (size, t) in table {
            let k = format!("{key}.\"{size}\"");
            let n: u32 = size.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                self.err(
                    &k,
                    format!(
                        "expected a batch size (a whole number from 1) as the key, found `{size}`"
                    ),
                )
            })?;
            super::limits::MAX_BATCH_SIZE
                .check(n.into())
                .map_err(|m| self.err(&k, m))?;
            let d = self.duration(&k, Some(t), SimDuration::ZERO)?;
            if d.0 == 0 {
                return Err(self.err(&k, "expected a batch time above zero"));
            }
            points.push((n, d));
        }
        points.sort_by_key(|p| p.0);
        if points.first().map(|p| p.0) != Some(1) {
            return Err(self.err(key, "expected the time of a batch of 1 (key \"1\")"));
        }
        let largest = points.last().map_or(0, |p| p.0);
        if largest < max_batch_size {
            return Err(self.err(
                key,
                format!("measured up to batch size {largest}, but max_batch_size is {max_batch_size}: measure the larger sizes (no extrapolation)"),
            ));
        }
        Ok((1..=max_batch_size.max(1))
            .map(|n| {
                let i = points.partition_point(|p| p.0 < n);
                let (b, tb) = points[i];
                if b == n || i == 0 {
                    return tb;
                }
                let (a, ta) = points[i - 1];
                let f = (n - a) as f64 / (b - a) as f64;
                SimDuration((ta.0 as f64 + f * (tb.0 as f64 - ta.0 as f64)).round() as u64)
            })
            .collect())
    }

    fn resources(&self, raw: Option<&RawResources>) -> Result<Resources, ScenarioError> {
        let mut out = Resources::default();
        let Some(raw) = raw else { return Ok(out) };
        let convert = |section: &str,
                       map: &Option<BTreeMap<String, RawQuantity>>|
         -> Result<BTreeMap<String, Quantity>, ScenarioError> {
            let mut result = BTreeMap::new();
            for (name, q) in map.iter().flatten() {
                let key = if name.contains('.') || name.contains('/') {
                    format!("service.resources.{section}.\"{name}\"")
                } else {
                    format!("service.resources.{section}.{name}")
                };
                let parsed = self.quantity(&key, q)?;
                result.insert(name.clone(), parsed);
            }
            Ok(result)
        };
        out.requests = convert("requests", &raw.requests)?;
        out.limits = convert("limits", &raw.limits)?;
        for (name, req) in &out.requests {
            if let Some(lim) = out.limits.get(name) {
                if lim < req {
                    return Err(self.err(
                        &format!("service.resources.limits.\"{name}\""),
                        format!("expected a limit at least the request ({req}), found {lim}"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The MIG profile a replica runs on: requested as `nvidia.com/mig-<profile>` (the device
/// plugin's mixed strategy), or the pool's `all-<profile>` layout under the single strategy.
fn mig_profile(pod: &PodTemplate, pool: Option<&crate::cluster::NodePoolSpec>) -> Option<String> {
    let requested = pod
        .resources
        .requests
        .keys()
        .find_map(|r| r.strip_prefix("nvidia.com/mig-").map(str::to_string));
    requested.or_else(|| {
        let p = pool?;
        let strategy = p.labels.get("nvidia.com/mig.strategy")?;
        let layout = p.labels.get("nvidia.com/mig.config")?;
        (strategy == "single").then(|| layout.strip_prefix("all-").map(str::to_string))?
    })
}
