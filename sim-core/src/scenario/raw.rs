//! The raw form of a scenario file: mirrors the TOML one to one, nothing checked but types and names.
//!
//! Every struct denies unknown fields, so a misspelt key is an error that names it. Defaults and
//! cross-checks live in [`super::model`], in one place.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Optional name for outputs; defaults to the file's stem.
    pub name: Option<String>,
    /// `[simulation]`: seed, horizon, warm-up, sampling.
    pub simulation: Option<RawSimulation>,
    /// `[slo]`: latency target.
    pub slo: Option<RawSlo>,
    /// `[service]`: the model server.
    pub service: Option<RawService>,
    /// `[traffic]`: where requests come from.
    pub traffic: Option<RawTraffic>,
    /// `[cluster]`: catalogs and start-up state.
    pub cluster: Option<RawCluster>,
    /// `[cost_allocation]`: how the bill is charged to services.
    pub cost_allocation: Option<RawCostAllocation>,
    /// `[[node_pool]]`: groups of identical nodes.
    pub node_pool: Option<Vec<RawNodePool>>,
    /// `[scheduler]`: kube-scheduler configuration.
    pub scheduler: Option<RawScheduler>,
    /// `[[policy]]`: variants of this scenario, each a `name` and keys that override the base.
    pub policy: Option<Vec<toml::Table>>,
    /// `[hpa]`: a HorizontalPodAutoscaler (autoscaling/v2 spec, upstream field names) on the
    /// Deployment.
    pub hpa: Option<crate::hpa::HpaSpec>,
    /// `[metrics]`: how the simulated cluster measures its pods for autoscalers.
    pub metrics: Option<RawMetrics>,
    /// `[cluster_autoscaler]`: the Cluster Autoscaler over the node pools (flag names as upstream).
    pub cluster_autoscaler: Option<RawClusterAutoscaler>,
    /// `[keda]`: a KEDA ScaledObject (upstream field names) on the Deployment.
    pub keda: Option<crate::keda::ScaledObjectSpec>,
    /// `[knative]`: Knative's KPA (config-autoscaler keys) and activator in front of the pods.
    pub knative: Option<super::scale_to_zero::RawKnative>,
    /// `[karpenter]`: Karpenter's NodePools launching nodes for pending pods.
    pub karpenter: Option<super::karpenter::RawKarpenter>,
    /// `[vpa]`: a VerticalPodAutoscaler on the Deployment (upstream field names).
    pub vpa: Option<super::vpa::RawVpa>,
    /// `[[check]]`: assertions on the results (checked by the CLI, not the simulator).
    pub check: Option<Vec<toml::Table>>,
    /// `[[failure]]`: scheduled node, GPU, zone and spot failures.
    pub failure: Option<Vec<super::failure::RawFailure>>,
    /// `[[random_failure]]`: seeded node failures per pool.
    pub random_failure: Option<Vec<super::failure::RawRandomFailure>>,
    /// `[node_lifecycle]`: the node lifecycle controller's timings.
    pub node_lifecycle: Option<super::failure::RawNodeLifecycle>,
    /// `[pdb]`: a PodDisruptionBudget over the Deployment's pods.
    pub pdb: Option<super::failure::RawPdb>,
    /// `[[rollout]]`: changes of the model version, rolled out or as a canary.
    pub rollout: Option<Vec<super::rollout::RawRollout>>,
    /// `[[tenant]]`: per-tenant rate limits, SLOs and weights at the gateway.
    pub tenant: Option<Vec<super::tenant::RawTenant>>,
    /// `[[namespace]]`: namespaces and their ResourceQuotas.
    pub namespace: Option<Vec<super::batch::RawNamespace>>,
    /// `[[priority_class]]`: PriorityClasses.
    pub priority_class: Option<Vec<super::batch::RawPriorityClass>>,
    /// `[batch]`: Kueue-style queues and batch jobs beside the service.
    pub batch: Option<super::batch::RawBatch>,
    /// `[[model]]`: LLM architectures that add to or replace the built-in model catalog's
    /// (applied to the catalog before validation; see [`super::model::scenario_catalog`]).
    pub model: Option<Vec<crate::catalog::RawModel>>,
}

/// `[cluster_autoscaler]`: cluster-autoscaler's flags, named as on its command line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawClusterAutoscaler {
    /// How often it runs.
    pub scan_interval: Option<String>,
    /// `random`, `most-pods`, `least-waste`, `price` or `priority`.
    pub expander: Option<String>,
    /// For the priority expander: `{ "10" = ["pool", ...], ... }` (exact node-pool names).
    pub priorities: Option<BTreeMap<String, Vec<String>>>,
    /// Utilisation (max of CPU and memory requests) below which a node may go.
    pub scale_down_utilization_threshold: Option<f64>,
    /// GPU-request utilisation below which a GPU node may go.
    pub scale_down_gpu_utilization_threshold: Option<f64>,
    /// How long a node must be unneeded before it goes.
    pub scale_down_unneeded_time: Option<String>,
    /// How long after a scale-up scale-down waits.
    pub scale_down_delay_after_add: Option<String>,
    /// Most nodes in the cluster (0: no limit).
    pub max_nodes_total: Option<u32>,
    /// Whether it removes nodes at all.
    pub scale_down_enabled: Option<bool>,
    /// How long a new node may take to become ready before the scale-up counts as failed.
    pub max_node_provision_time: Option<String>,
    /// How long an unready node must be unneeded before it goes.
    pub scale_down_unready_time: Option<String>,
    /// Whether unready nodes are removed at all.
    pub scale_down_unready_enabled: Option<bool>,
    /// Unready nodes, percent of registered ones, above which the autoscaler stops.
    pub max_total_unready_percentage: Option<f64>,
    /// Unready nodes always tolerated, whatever their share.
    pub ok_total_unready_count: Option<u32>,
}

/// `[metrics]`: the metrics pipeline and the pods' resource usage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// How often pods are scraped (metrics-server's resolution, the adapter's scrape interval).
    pub scrape_interval: Option<String>,
    /// CPU a pod uses when idle.
    pub cpu_idle: Option<RawQuantity>,
    /// CPU a pod uses on top of `cpu_idle` when its engine is busy all the time.
    pub cpu_busy: Option<RawQuantity>,
    /// Memory a pod uses when idle.
    pub memory: Option<RawQuantity>,
    /// Memory a pod uses per request executing in it (default 0).
    pub memory_per_request: Option<RawQuantity>,
}

/// `[simulation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulation {
    /// Scenario seed for every random stream.
    pub seed: Option<u64>,
    /// Simulated time to run, as a duration string.
    pub horizon: Option<String>,
    /// Initial period excluded from statistics.
    pub warmup: Option<String>,
    /// Width of a `timeseries.csv` row.
    pub sample_interval: Option<String>,
}

/// `[slo]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// End-to-end latency target.
    pub latency: Option<String>,
    /// Time-to-first-token target (token-level engines).
    pub ttft: Option<String>,
    /// Time-per-output-token target (token-level engines).
    pub tpot: Option<String>,
}

/// How requests reach replicas.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawDispatch {
    /// One FCFS queue feeding every replica.
    Shared,
    /// A router in front of per-replica queues.
    Router,
}

/// Router policies.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawRouter {
    /// Each replica in turn.
    RoundRobin,
    /// The replica with the fewest queued plus in-service requests.
    LeastOutstanding,
    /// A uniformly random replica.
    Random,
    /// The replica holding the longest cached prefix of the request (vLLM prefix caching).
    Prefix,
    /// The fewest pending prompt tokens plus outstanding requests (SplitwiseSim's `token_jsq`).
    LeastTokens,
    /// The lowest KV-cache utilisation (llm-d's and the vLLM production stack's KV scoring).
    LeastKv,
    /// LoRA affinity and queue depth (llm-d's and the Gateway API inference extension's scorers).
    LoraAffinity,
}

/// `[service]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Display name.
    pub name: Option<String>,
    /// Number of replicas (model instances).
    pub replicas: Option<u32>,
    /// `shared` or `router`.
    pub dispatch: Option<RawDispatch>,
    /// Router policy when `dispatch = "router"`.
    pub router: Option<RawRouter>,
    /// Bound on queued requests (per replica behind a router, total for a shared queue); 0 = none.
    pub max_queue_size: Option<u32>,
    /// `triton` (default) or `vllm`: how a replica batches.
    pub engine: Option<RawEngineKind>,
    /// `[service.triton]`: Triton's model-configuration batching knobs.
    pub triton: Option<RawTriton>,
    /// `[service.vllm]`: vLLM's scheduler knobs and the step-time model.
    pub vllm: Option<RawVllm>,
    /// `[service.service_time]`: how long a batch takes.
    pub service_time: Option<RawServiceTime>,
    /// `[service.resources]`: the pod template's requests and limits.
    pub resources: Option<RawResources>,
    /// `[service.pod]`: the rest of the pod template (start-up, placement, termination).
    pub pod: Option<RawPodTemplate>,
    /// `[[service.scale]]`: scheduled changes of the Deployment's replicas.
    pub scale: Option<Vec<RawServiceScale>>,
    /// The Deployment's namespace (default `default`).
    pub namespace: Option<String>,
    /// Its pods' `priorityClassName`.
    pub priority_class: Option<String>,
    /// `[service.strategy]`: the Deployment's `spec.strategy`, the default of every
    /// `[[rollout]]` that does not choose its own.
    pub strategy: Option<super::rollout::RawDeploymentStrategy>,
    /// The Deployment's `spec.minReadySeconds`, the default of every `[[rollout]]`.
    #[serde(rename = "minReadySeconds")]
    pub min_ready_seconds: Option<u32>,
}

/// Replica engines.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawEngineKind {
    /// Triton-style dynamic batching with a service-time distribution per batch.
    Triton,
    /// vLLM-style continuous batching with step times from a step-time model.
    Vllm,
}

/// `[service.vllm]`: names as vLLM's engine arguments, with `_` for `-`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVllm {
    /// Most sequences per step.
    pub max_num_seqs: Option<u32>,
    /// Most tokens per step.
    pub max_num_batched_tokens: Option<u32>,
    /// Tokens per KV-cache block.
    pub block_size: Option<u32>,
    /// KV-cache blocks per replica (derived from the model and the GPU when absent).
    pub num_gpu_blocks: Option<u32>,
    /// `[service.vllm.step_time]`: a linear step-time model (instead of `model`).
    pub step_time: Option<RawLinearStep>,
    /// A model catalog id: step times from the roofline cost model (instead of `step_time`).
    pub model: Option<String>,
    /// A GPU catalog id; defaults to the GPU of the first node pool that has one.
    pub gpu: Option<String>,
    /// GPUs a replica spans with tensor parallelism.
    pub tensor_parallel_size: Option<u32>,
    /// Precision of the weights (`bf16`, `fp16`, `fp8`, `int8`, `int4`); the model's own when absent.
    pub weight_dtype: Option<crate::catalog::WeightDtype>,
    /// Precision of the KV cache, as vLLM's `--kv-cache-dtype` (`auto`, `fp8`, ...).
    pub kv_cache_dtype: Option<crate::catalog::KvCacheDtype>,
    /// Fraction of the GPU's (or MIG slice's) memory vLLM may use.
    pub gpu_memory_utilization: Option<f64>,
    /// Automatic prefix caching (vLLM's default: on).
    pub enable_prefix_caching: Option<bool>,
    /// `[service.vllm.profile]`: measured step times that override the roofline.
    pub profile: Option<RawProfile>,
    /// `continuous` (vLLM's scheduler, default), `static` (static batching) or `splitwise`
    /// (SplitwiseSim's batching).
    pub scheduler: Option<RawLlmScheduler>,
    /// SplitwiseSim's batching: waits after which a task is scheduled first.
    pub max_preemptions: Option<u32>,
    /// Static batching: most requests per batch.
    pub batch_size: Option<u32>,
    /// Static batching: longest the oldest request waits for a full batch.
    pub batch_timeout: Option<String>,
    /// Host-memory KV tier, GiB over all tensor-parallel ranks (vLLM's `--kv-offloading-size`).
    pub kv_offloading_size: Option<f64>,
    /// Which connector holds it (vLLM's `--kv-offloading-backend`).
    pub kv_offloading_backend: Option<RawKvOffloadingBackend>,
    /// Local-disk KV tier, GiB (LMCache's `max_local_disk_size`; `lmcache` backend only).
    pub max_local_disk_size: Option<f64>,
    /// `[service.vllm.lora]`: LoRA adapters beside the base model.
    pub lora: Option<super::lora::RawLora>,
}

/// `[service.vllm] kv_offloading_backend`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawKvOffloadingBackend {
    /// vLLM's own `OffloadingConnector` (host memory only).
    Native,
    /// LMCache's connector (host memory, and local disk with `max_local_disk_size`).
    Lmcache,
}

/// The scheduler of an LLM replica.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawLlmScheduler {
    /// vLLM's iteration-level scheduler.
    Continuous,
    /// Static batching: whole batches run to the end.
    Static,
    /// SplitwiseSim's iteration-level batching: whole prompts first.
    Splitwise,
}

/// `[service.vllm.profile]`: measured step-time tables, paths relative to the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Decode table in the calibration format (`model,params_gb,batch,context,ms`).
    pub decode: Option<String>,
    /// Prefill table in the calibration format (`model,params_gb,batch,prompt,ms`).
    pub prefill: Option<String>,
    /// SplitwiseSim's `perf_model.csv`.
    pub splitwise: Option<String>,
    /// The `model` column's value to take from the SplitwiseSim file.
    pub splitwise_model: Option<String>,
    /// The `hardware` column's value to take from the SplitwiseSim file.
    pub splitwise_hardware: Option<String>,
    /// How steps are looked up in the SplitwiseSim file.
    pub lookup: Option<RawLookup>,
}

/// `[service.vllm.profile] lookup`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawLookup {
    /// capsim's lookup (token time over batch size).
    Capsim,
    /// SplitwiseSim's `get_iteration_duration`.
    Splitwise,
}

/// `[service.vllm.step_time]`: each field a duration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinearStep {
    /// Fixed cost of a step.
    pub base: Option<String>,
    /// Cost per token processed.
    pub per_token: Option<String>,
    /// Cost per sequence in the step.
    pub per_seq: Option<String>,
    /// Cost per token of KV context a decode sequence reads.
    pub per_context_token: Option<String>,
}

/// `[traffic.tokens]`: token counts drawn for each request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    /// Prompt tokens.
    pub prompt: Option<RawTokenDist>,
    /// Output tokens.
    pub output: Option<RawTokenDist>,
    /// A trace whose (prompt, output) pairs are drawn with replacement, relative to the scenario.
    pub sample: Option<String>,
    /// The sample trace's format.
    pub sample_format: Option<RawTraceFormat>,
    /// `[traffic.tokens.prefix]`: a shared prompt prefix among groups of requests.
    pub prefix: Option<RawPrefix>,
}

/// `[traffic.tokens.prefix]`: each request (or a share of them) starts with one of `groups`
/// shared prefixes of `tokens` tokens (a system prompt), chosen at random.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrefix {
    /// Tokens of each shared prefix.
    pub tokens: Option<u32>,
    /// Distinct prefixes.
    pub groups: Option<u32>,
    /// Fraction of requests that carry a shared prefix (default 1).
    pub share: Option<f64>,
}

/// Token-count distribution families.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawTokenFamily {
    /// Always `value`.
    Fixed,
    /// Uniform on `min..=max`.
    Uniform,
    /// Lognormal with `mean` and `cv`, rounded, clamped to `min..=max`.
    Lognormal,
}

/// One token-count distribution.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenDist {
    /// Family.
    pub distribution: Option<RawTokenFamily>,
    /// `fixed`: the count.
    pub value: Option<u32>,
    /// `uniform`, `lognormal`: smallest count.
    pub min: Option<u32>,
    /// `uniform`, `lognormal`: largest count.
    pub max: Option<u32>,
    /// `lognormal`: mean.
    pub mean: Option<f64>,
    /// `lognormal`: coefficient of variation.
    pub cv: Option<f64>,
}

/// `[service.triton]`: names as in Triton's `config.pbtxt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTriton {
    /// Largest batch; 0 means the model does not batch.
    pub max_batch_size: Option<u32>,
    /// Present to enable the dynamic batcher.
    pub dynamic_batching: Option<RawDynamicBatching>,
}

/// `[service.triton.dynamic_batching]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDynamicBatching {
    /// Batch sizes to send as soon as they can be formed.
    pub preferred_batch_size: Option<Vec<u32>>,
    /// How long the oldest request may wait for a larger batch.
    pub max_queue_delay_microseconds: Option<u64>,
}

/// Service-time distribution families.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawDistribution {
    /// Exactly the mean.
    Deterministic,
    /// Exponential with the mean.
    Exponential,
    /// Lognormal with the mean and a coefficient of variation.
    Lognormal,
    /// Gamma with the mean and a coefficient of variation.
    Gamma,
}

/// `[service.service_time]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceTime {
    /// Distribution family.
    pub distribution: Option<RawDistribution>,
    /// Fixed part of a batch's mean time.
    pub base: Option<String>,
    /// Added to the mean for each request in the batch.
    pub per_item: Option<String>,
    /// Coefficient of variation for `lognormal` and `gamma`.
    pub cv: Option<f64>,
    /// A model catalog id: each batch's mean time from the roofline (instead of `base`, `per_item`).
    pub model: Option<String>,
    /// The GPU catalog id the roofline uses.
    pub gpu: Option<String>,
    /// Tokens of each request in a batch (one forward pass over all of them).
    pub tokens: Option<u32>,
    /// Precision of the weights (`bf16`, `fp16`, `fp8`, `int8`, `int4`); the model's own when absent.
    pub weight_dtype: Option<crate::catalog::WeightDtype>,
    /// Measured mean batch times by batch size, such as `{ 1 = "8ms", 8 = "15ms" }`.
    pub batch_times: Option<BTreeMap<String, String>>,
}

/// `[service.resources]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// Resource name to quantity.
    pub requests: Option<BTreeMap<String, RawQuantity>>,
    /// Resource name to quantity.
    pub limits: Option<BTreeMap<String, RawQuantity>>,
}

/// A quantity as written: a string (`"500m"`) or a bare number (`1`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawQuantity {
    /// `"4Gi"`.
    Text(String),
    /// `2`.
    Int(i64),
    /// `0.5`.
    Float(f64),
}

/// Traffic kinds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawTrafficKind {
    /// Constant-rate Poisson arrivals.
    Poisson,
    /// Poisson with a piecewise-constant rate.
    Schedule,
    /// Arrival times replayed from a file.
    Trace,
    /// Poisson with a daily (and optionally weekly) rate profile.
    Diurnal,
    /// Markov-modulated Poisson: states with rates and mean sojourn times.
    Mmpp,
    /// A base Poisson rate with spikes that multiply it for a while.
    Spikes,
    /// A renewal process with Gamma inter-arrival times of a chosen coefficient of variation.
    Gamma,
    /// Several streams (tenants or models) merged by time.
    Mix,
}

/// Trace file formats.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawTraceFormat {
    /// Azure LLM inference trace 2023: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    #[serde(rename = "azure-llm-2023")]
    AzureLlm2023,
    /// Azure LLM inference trace 2024: `TIMESTAMP,ContextTokens,GeneratedTokens`, times with a
    /// UTC offset.
    #[serde(rename = "azure-llm-2024")]
    AzureLlm2024,
    /// BurstGPT: `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`.
    #[serde(rename = "burstgpt")]
    BurstGpt,
    /// Mooncake JSONL: `timestamp` (ms), `input_length`, `output_length`, `hash_ids`.
    Mooncake,
    /// A CSV with a `timestamp` column in seconds and optional `prompt_tokens`, `output_tokens`.
    Csv,
    /// Alibaba ServeGen per-client rate windows (`chunk-N-trace.csv`).
    #[serde(rename = "servegen")]
    ServeGen,
    /// Alibaba GenAI 2026 `qps.csv`: sampled QPS per container.
    #[serde(rename = "alibaba-genai-qps")]
    AlibabaGenaiQps,
}

/// `[traffic]` (and each `[[traffic.stream]]` of a mix).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// `[traffic.client]`: client timeouts and retries.
    pub client: Option<super::failure::RawClient>,
    /// `poisson`, `schedule`, `trace`, `diurnal`, `mmpp`, `spikes`, `gamma` or `mix`.
    pub kind: Option<RawTrafficKind>,
    /// A stream's name (tenant or model) in a mix.
    pub name: Option<String>,
    /// The model a mix stream's requests name, for the model-aware gateway.
    pub model: Option<String>,
    /// Requests per second (`poisson`, `gamma`, `spikes`' base, `diurnal`'s scale).
    pub rate: Option<f64>,
    /// Coefficient of variation of inter-arrival times (`gamma`).
    pub cv: Option<f64>,
    /// 24 multipliers of `rate`, one per hour of the day (`diurnal`).
    pub hourly: Option<Vec<f64>>,
    /// 7 multipliers of `rate`, one per day of the week (`diurnal`).
    pub weekly: Option<Vec<f64>>,
    /// Where in the profile's week the run starts (`diurnal`).
    pub phase: Option<String>,
    /// `[[traffic.state]]`: the modulating chain's states (`mmpp`).
    pub state: Option<Vec<RawMmppState>>,
    /// `[[traffic.spike]]`: spikes over the base rate (`spikes`).
    pub spike: Option<Vec<RawSpike>>,
    /// `[[traffic.stream]]`: the merged streams (`mix`).
    pub stream: Option<Vec<RawTraffic>>,
    /// `[traffic.columns]`: which CSV columns hold what (`trace` with `format = "csv"`).
    pub columns: Option<RawColumns>,
    /// Replay only from this far into the trace (`trace`).
    pub start: Option<String>,
    /// Replay only up to this far into the trace (`trace`).
    pub end: Option<String>,
    /// Divide the trace's times by this (`trace`).
    pub speed_up: Option<f64>,
    /// Multiply the trace's rate by this, thinning or duplicating requests (`trace`).
    pub scale: Option<f64>,
    /// Width of the windows QPS samples are summed over (`alibaba-genai-qps`).
    pub bucket: Option<String>,
    /// Keep only rows of this `request_type` (`alibaba-genai-qps`).
    pub request_type: Option<String>,
    /// Steps of the rate (`schedule`).
    pub schedule: Option<Vec<RawRateStep>>,
    /// Trace file, relative to the scenario file (`trace`).
    pub path: Option<String>,
    /// Trace format (`trace`).
    pub format: Option<RawTraceFormat>,
    /// `[traffic.tokens]`: token counts per request (override a trace's).
    pub tokens: Option<RawTokens>,
}

/// One `[[traffic.state]]` of an MMPP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMmppState {
    /// Requests per second while in this state.
    pub rate: Option<f64>,
    /// Mean time spent in the state per visit (exponentially distributed).
    pub mean_sojourn: Option<String>,
}

/// One `[[traffic.spike]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpike {
    /// When the spike begins.
    pub at: Option<String>,
    /// How long it lasts.
    pub duration: Option<String>,
    /// Factor on the base rate while it lasts.
    pub multiplier: Option<f64>,
}

/// `[traffic.columns]`: a generic CSV trace's column names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumns {
    /// The arrival time column (default `timestamp`).
    pub timestamp: Option<String>,
    /// Unit of the arrival times: `s`, `ms`, `us`, `ns` or `datetime`.
    pub time_unit: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: Option<String>,
    /// Output tokens.
    pub output_tokens: Option<String>,
    /// Tenant label.
    pub tenant: Option<String>,
    /// Model label.
    pub model: Option<String>,
}

/// One `[[traffic.schedule]]` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateStep {
    /// When this rate begins.
    pub start: Option<String>,
    /// Requests per second from `start` until the next step.
    pub rate: Option<f64>,
}

/// `[cluster]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// A TOML file of `[[instance]]` entries that override or extend the built-in catalog.
    pub instance_catalog: Option<String>,
    /// A TOML file of `[[gpu]]` entries that override or extend the built-in catalog.
    pub gpu_catalog: Option<String>,
    /// Whether the initial pods start Ready with their images cached (default true).
    pub warm_start: Option<bool>,
}

/// On-demand or spot.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawCapacityType {
    /// On-demand price.
    OnDemand,
    /// Spot price.
    Spot,
}

/// A taint or toleration effect, as in the Kubernetes API.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RawEffect {
    /// Pods that do not tolerate it are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node for pods that do not tolerate it.
    PreferNoSchedule,
    /// As NoSchedule (eviction of running pods is not modelled).
    NoExecute,
}

/// `[[node_pool]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodePool {
    /// Pool name.
    pub name: Option<String>,
    /// An instance-type id from the catalog.
    pub instance_type: Option<String>,
    /// `on-demand` (default) or `spot`.
    pub capacity_type: Option<RawCapacityType>,
    /// Smallest size (default 0).
    pub min_size: Option<u32>,
    /// Largest size (default: the larger of min and initial size).
    pub max_size: Option<u32>,
    /// Nodes Ready at time zero (default: min_size).
    pub initial_size: Option<u32>,
    /// Launch to Ready.
    pub provisioning_delay: Option<String>,
    /// Node labels added to the well-known ones.
    pub labels: Option<BTreeMap<String, String>>,
    /// Node taints.
    pub taints: Option<Vec<RawTaint>>,
    /// Resources held back from pods (capacity minus this is allocatable).
    pub system_reserved: Option<BTreeMap<String, RawQuantity>>,
    /// Most pods per node (default 110).
    pub max_pods: Option<u32>,
    /// Image pull bandwidth, bytes per second (a quantity such as "200Mi").
    pub image_pull_bandwidth: Option<RawQuantity>,
    /// Model-weight load bandwidth, bytes per second.
    pub model_load_bandwidth: Option<RawQuantity>,
    /// `[[node_pool.scale]]`: scheduled size changes.
    pub scale: Option<Vec<RawPoolScale>>,
    /// A named MIG layout for every GPU of the pool's nodes (mig-parted names, `all-1g.10gb`).
    pub mig_layout: Option<String>,
    /// The device plugin's MIG strategy: `none`, `single` or `mixed` (default `mixed`).
    pub mig_strategy: Option<String>,
    /// The device plugin's `sharing.timeSlicing` for the pool's GPUs.
    pub time_slicing: Option<RawTimeSlicing>,
    /// Per-resource rates for cost allocation: USD per vCPU-hour and per GiB-hour.
    pub cost_rates: Option<RawCostRates>,
    /// Scheduled MIG layout changes (the mig-manager applying a new `nvidia.com/mig.config`).
    pub mig_reconfigure: Option<Vec<RawMigChange>>,
    /// How long a node is out of service while its GPUs are repartitioned (default 2m).
    pub mig_reconfigure_time: Option<String>,
}

/// One `mig_reconfigure` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMigChange {
    /// When the new layout is applied.
    pub at: Option<String>,
    /// The new layout's mig-parted name.
    pub layout: Option<String>,
}

/// `sharing.timeSlicing` of NVIDIA's device plugin (for `nvidia.com/gpu`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeSlicing {
    /// Shares each GPU is advertised as.
    pub replicas: Option<u32>,
    /// Advertise `nvidia.com/gpu.shared` instead of `nvidia.com/gpu`.
    #[serde(rename = "renameByDefault")]
    pub rename_by_default: Option<bool>,
    /// Fail pods that request more than one share.
    #[serde(rename = "failRequestsGreaterThanOne")]
    pub fail_requests_greater_than_one: Option<bool>,
}

/// A node taint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaint {
    /// Taint key.
    pub key: Option<String>,
    /// Taint value (may be empty).
    pub value: Option<String>,
    /// Effect: required.
    pub effect: Option<RawEffect>,
}

/// A scheduled node-pool size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoolScale {
    /// When.
    pub at: Option<String>,
    /// The pool's new size.
    pub size: Option<u32>,
}

/// A scheduled Deployment replica count.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceScale {
    /// When.
    pub at: Option<String>,
    /// The Deployment's new replica count.
    pub replicas: Option<u32>,
}

/// `[service.pod]`: names as in the Kubernetes Pod API where one exists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodTemplate {
    /// Container image size, bytes (a quantity such as "8Gi").
    pub image_size: Option<RawQuantity>,
    /// Model weights loaded at start, bytes.
    pub model_size: Option<RawQuantity>,
    /// The readiness probe.
    #[serde(rename = "readinessProbe")]
    pub readiness_probe: Option<RawProbe>,
    /// The liveness probe.
    #[serde(rename = "livenessProbe")]
    pub liveness_probe: Option<RawProbe>,
    /// Grace period for a terminating pod, seconds (default 30).
    #[serde(rename = "terminationGracePeriodSeconds")]
    pub termination_grace_period_seconds: Option<u64>,
    /// The pods' labels, which `labelSelector`s match (default `app = <service name>`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Required node labels.
    #[serde(rename = "nodeSelector")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations.
    pub tolerations: Option<Vec<RawToleration>>,
    /// Node affinity and pod anti-affinity.
    pub affinity: Option<RawAffinity>,
    /// Topology spread constraints.
    #[serde(rename = "topologySpreadConstraints")]
    pub topology_spread_constraints: Option<Vec<RawSpreadConstraint>>,
    /// GPU memory the pod allocates on a time-sliced GPU (derived for a vLLM engine with `model`).
    pub gpu_memory: Option<RawQuantity>,
}

/// One `topologySpreadConstraints` entry (Kubernetes names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpreadConstraint {
    /// Largest allowed skew (at least 1).
    #[serde(rename = "maxSkew")]
    pub max_skew: Option<i64>,
    /// Node label whose values are the domains.
    #[serde(rename = "topologyKey")]
    pub topology_key: Option<String>,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    #[serde(rename = "whenUnsatisfiable")]
    pub when_unsatisfiable: Option<String>,
    /// Fewest eligible domains before the global minimum counts (DoNotSchedule only).
    #[serde(rename = "minDomains")]
    pub min_domains: Option<i64>,
    /// `Honor` (default) or `Ignore`.
    #[serde(rename = "nodeAffinityPolicy")]
    pub node_affinity_policy: Option<String>,
    /// `Honor` or `Ignore` (default).
    #[serde(rename = "nodeTaintsPolicy")]
    pub node_taints_policy: Option<String>,
    /// The pods counted, of every service in the pod's namespace (absent: the Deployment's own).
    #[serde(rename = "labelSelector")]
    pub label_selector: Option<toml::Value>,
    /// `pod-template-hash` narrows the count to the pod's own ReplicaSet; others are accepted.
    #[serde(rename = "matchLabelKeys")]
    pub match_label_keys: Option<Vec<String>>,
}

/// `podAntiAffinity` (or `podAffinity`, which is rejected).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodAffinity {
    /// Hard terms.
    #[serde(rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Option<Vec<RawPodAffinityTerm>>,
    /// Weighted soft terms.
    #[serde(rename = "preferredDuringSchedulingIgnoredDuringExecution")]
    pub preferred: Option<Vec<RawWeightedPodAffinityTerm>>,
}

/// A pod (anti-)affinity term (Kubernetes names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodAffinityTerm {
    /// Node label whose values are the domains.
    #[serde(rename = "topologyKey")]
    pub topology_key: Option<String>,
    /// The pods counted, of every service in `namespaces` (absent: the Deployment's own).
    #[serde(rename = "labelSelector")]
    pub label_selector: Option<toml::Value>,
    /// Accepted; not evaluated.
    #[serde(rename = "matchLabelKeys")]
    pub match_label_keys: Option<Vec<String>>,
    /// The namespaces whose pods `labelSelector` selects (absent or empty: the pod's own).
    pub namespaces: Option<Vec<String>>,
}

/// A weighted pod (anti-)affinity term.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeightedPodAffinityTerm {
    /// 1 to 100.
    pub weight: Option<i64>,
    /// The term.
    #[serde(rename = "podAffinityTerm")]
    pub pod_affinity_term: Option<RawPodAffinityTerm>,
}

/// A readiness probe's timing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// Seconds after the container starts before the first probe (default 0).
    #[serde(rename = "initialDelaySeconds")]
    pub initial_delay_seconds: Option<u64>,
    /// Seconds between probes (default 10).
    #[serde(rename = "periodSeconds")]
    pub period_seconds: Option<u64>,
    /// Consecutive failed probes before the pod is NotReady (readiness) or restarted
    /// (liveness); default 3.
    #[serde(rename = "failureThreshold")]
    pub failure_threshold: Option<u32>,
}

/// Toleration operators.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RawTolerationOperator {
    /// Key and value must match.
    Equal,
    /// The key must match (any value).
    Exists,
}

/// A toleration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToleration {
    /// Taint key; empty with `Exists` tolerates everything.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<RawTolerationOperator>,
    /// Value for `Equal`.
    pub value: Option<String>,
    /// Effect tolerated; absent means all effects.
    pub effect: Option<RawEffect>,
}

/// `affinity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAffinity {
    /// Node affinity.
    #[serde(rename = "nodeAffinity")]
    pub node_affinity: Option<RawNodeAffinity>,
    /// Pod anti-affinity.
    #[serde(rename = "podAntiAffinity")]
    pub pod_anti_affinity: Option<RawPodAffinity>,
    /// Pod affinity: read only to be rejected with a clear error (not modelled).
    #[serde(rename = "podAffinity")]
    pub pod_affinity: Option<toml::Value>,
}

/// `nodeAffinity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeAffinity {
    /// Hard requirement: terms ORed.
    #[serde(rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Option<RawNodeSelector>,
    /// Soft preferences with weights.
    #[serde(rename = "preferredDuringSchedulingIgnoredDuringExecution")]
    pub preferred: Option<Vec<RawPreferredTerm>>,
}

/// `nodeSelectorTerms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeSelector {
    /// Terms, ORed.
    #[serde(rename = "nodeSelectorTerms")]
    pub node_selector_terms: Vec<RawTerm>,
}

/// A node selector term: expressions ANDed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerm {
    /// Label requirements.
    #[serde(rename = "matchExpressions")]
    pub match_expressions: Option<Vec<RawRequirement>>,
}

/// Node selector operators.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RawSelectorOperator {
    /// Label value in the list.
    In,
    /// Label absent or value not in the list.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Integer label value greater than the one value.
    Gt,
    /// Integer label value less than the one value.
    Lt,
}

/// One label requirement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: RawSelectorOperator,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// A weighted preference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreferredTerm {
    /// 1 to 100.
    pub weight: i64,
    /// The term.
    pub preference: RawTerm,
}

/// `[scheduler]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    /// NodeResourcesFit's `scoringStrategy`.
    #[serde(rename = "scoringStrategy")]
    pub scoring_strategy: Option<RawScoringStrategy>,
}

/// Scoring strategy types of NodeResourcesFit.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RawScoringType {
    /// Prefer emptier nodes (spread).
    LeastAllocated,
    /// Prefer fuller nodes (pack).
    MostAllocated,
    /// A piecewise-linear function of utilisation.
    RequestedToCapacityRatio,
}

/// `scoringStrategy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScoringStrategy {
    /// Strategy type.
    #[serde(rename = "type")]
    pub kind: Option<RawScoringType>,
    /// Resources and weights (default cpu 1, memory 1).
    pub resources: Option<Vec<RawResourceWeight>>,
    /// Shape for `RequestedToCapacityRatio`.
    #[serde(rename = "requestedToCapacityRatio")]
    pub requested_to_capacity_ratio: Option<RawRtcr>,
}

/// A scored resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResourceWeight {
    /// Resource name.
    pub name: String,
    /// Weight (0 means 1, as upstream).
    pub weight: Option<i64>,
}

/// `requestedToCapacityRatio`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRtcr {
    /// Points (utilisation 0–100, score 0–10), utilisation increasing.
    pub shape: Vec<RawShapePoint>,
}

/// A shape point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShapePoint {
    /// Utilisation percent.
    pub utilization: i64,
    /// Score 0–10.
    pub score: i64,
}

/// A pool's `cost_rates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCostRates {
    /// USD per vCPU-hour.
    pub cpu: Option<f64>,
    /// USD per GiB-hour of memory.
    pub memory: Option<f64>,
}

/// `[cost_allocation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCostAllocation {
    /// Spread idle cost over services (OpenCost's `shareIdle`).
    pub share_idle: Option<bool>,
    /// `general-purpose` or `opencost`.
    pub split: Option<String>,
    /// A MIG profile's share of its GPU.
    pub mig_fractions: Option<std::collections::BTreeMap<String, f64>>,
}
