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
    /// `[service.triton]`: Triton's model-configuration batching knobs.
    pub triton: Option<RawTriton>,
    /// `[service.service_time]`: how long a batch takes.
    pub service_time: Option<RawServiceTime>,
    /// `[service.resources]`: the pod template's requests and limits.
    pub resources: Option<RawResources>,
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
}

/// Trace file formats.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawTraceFormat {
    /// Azure LLM inference trace 2023: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    #[serde(rename = "azure-llm-2023")]
    AzureLlm2023,
    /// A CSV with a `timestamp` column in seconds and optional `prompt_tokens`, `output_tokens`.
    Csv,
}

/// `[traffic]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// `poisson`, `schedule` or `trace`.
    pub kind: Option<RawTrafficKind>,
    /// Requests per second (`poisson`).
    pub rate: Option<f64>,
    /// Steps of the rate (`schedule`).
    pub schedule: Option<Vec<RawRateStep>>,
    /// Trace file, relative to the scenario file (`trace`).
    pub path: Option<String>,
    /// Trace format (`trace`).
    pub format: Option<RawTraceFormat>,
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
