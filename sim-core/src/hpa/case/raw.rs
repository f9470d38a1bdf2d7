//! The raw form of a CASE file: mirrors the TOML one to one (upstream field names, camelCase).

use crate::hpa::spec::{HpaSpec, MilliQuantity};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which part of the controller a CASE runs.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// One whole sync (`reconcileAutoscaler`).
    #[default]
    Reconcile,
    /// The replica calculator for the first metric.
    Replicas,
    /// Rate limits and min/max (`convertDesiredReplicasWithRules` / `...WithBehaviorRate`).
    Normalize,
    /// Stabilization over stored recommendations.
    Stabilize,
}

/// A whole CASE file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    /// `stage` (default `reconcile`).
    pub stage: Option<Stage>,
    /// `now`, RFC 3339.
    pub now: String,
    /// `[controller]`: kube-controller-manager flags.
    pub controller: Option<RawController>,
    /// `[hpa]`: a HorizontalPodAutoscalerSpec.
    pub hpa: HpaSpec,
    /// `[state]`: the target and its pods.
    pub state: RawState,
    /// `[history]`: what the controller remembers.
    pub history: Option<RawHistory>,
}

/// A duration: a string such as `"5m"` or `"30s"`, or a number of seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    /// Seconds.
    Seconds(i64),
    /// Go-style duration text.
    Text(String),
}

/// `[controller]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawController {
    /// `--horizontal-pod-autoscaler-tolerance`.
    pub tolerance: Option<f64>,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`.
    pub cpu_initialization_period: Option<RawDuration>,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub initial_readiness_delay: Option<RawDuration>,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`.
    pub downscale_stabilization: Option<RawDuration>,
    /// `--horizontal-pod-autoscaler-sync-period` (not used by one sync; accepted).
    pub sync_period: Option<RawDuration>,
}

/// `[state]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawState {
    /// `scale.spec.replicas`.
    pub spec_replicas: i32,
    /// `scale.status.replicas` (default: `specReplicas`).
    pub status_replicas: Option<i32>,
    /// The pre-normalisation recommendation (stages `normalize` and `stabilize`).
    pub desired_replicas: Option<i32>,
    /// `[[state.pods]]`.
    pub pods: Option<Vec<RawPod>>,
    /// `[[state.objectMetrics]]`.
    pub object_metrics: Option<Vec<RawNamed>>,
    /// `[[state.externalMetrics]]`.
    pub external_metrics: Option<Vec<RawNamed>>,
}

/// A Ready condition status: `true`/`false`, or `"True"`, `"False"`, `"Unknown"`, `"None"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawReady {
    /// `true` / `false`.
    Bool(bool),
    /// A status name.
    Text(String),
}

/// `[[state.pods]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPod {
    /// Pod name (default `pod-<index>`).
    pub name: Option<String>,
    /// `false`: the pod is not in the pod list; only the metrics API reports it.
    pub listed: Option<bool>,
    /// `status.phase` (default `Running`).
    pub phase: Option<String>,
    /// Ready condition (default `true`).
    pub ready: Option<RawReady>,
    /// The Ready condition's `lastTransitionTime` (default: Go's zero time).
    #[serde(alias = "readyTransitionTime", alias = "lastTransitionTime")]
    pub ready_transition: Option<String>,
    /// `status.startTime` (default: Go's zero time; `"none"` for unset).
    #[serde(alias = "startTime")]
    pub start: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: Option<bool>,
    /// `spec.containers`.
    pub containers: Option<Vec<RawContainer>>,
    /// `spec.initContainers`.
    pub init_containers: Option<Vec<RawContainer>>,
    /// Pod-level `spec.resources.requests`.
    pub requests: Option<BTreeMap<String, MilliQuantity>>,
    /// Per-metric samples, keyed by resource or metric name.
    pub metrics: Option<BTreeMap<String, RawSample>>,
}

/// A container.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawContainer {
    /// Container name (default `c<index>`).
    pub name: Option<String>,
    /// `resources.requests`.
    pub requests: Option<BTreeMap<String, MilliQuantity>>,
    /// Usage reported by metrics-server.
    pub usage: Option<BTreeMap<String, MilliQuantity>>,
    /// Init containers only: `Always` makes it a sidecar whose requests count.
    pub restart_policy: Option<String>,
}

/// A metric sample: a bare quantity, or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSample {
    /// Just the value.
    Value(MilliQuantity),
    /// Value, timestamp and window.
    Full(RawSampleTable),
}

/// `{ value, timestamp, window }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSampleTable {
    /// The value (resource metrics: default is the sum of the containers' usage).
    pub value: Option<MilliQuantity>,
    /// Sample time (default: Go's zero time).
    pub timestamp: Option<String>,
    /// Sample window (default 1m).
    pub window: Option<RawDuration>,
}

/// `[[state.objectMetrics]]` / `[[state.externalMetrics]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNamed {
    /// Metric name.
    pub name: String,
    /// The reading.
    pub value: Option<MilliQuantity>,
    /// A per-pod reading, multiplied by `statusReplicas`.
    pub average_value: Option<MilliQuantity>,
    /// The described object (accepted, not matched).
    pub described_object: Option<toml::Value>,
    /// Label selector (accepted, not matched).
    pub selector: Option<toml::Value>,
}

/// `[history]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHistory {
    /// Stored recommendations, oldest slot first.
    pub recommendations: Option<Vec<RawEntry>>,
    /// Stored scale-up events.
    pub scale_up_events: Option<Vec<RawEntry>>,
    /// Stored scale-down events.
    pub scale_down_events: Option<Vec<RawEntry>>,
}

/// `{ replicas | change, age }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// A recommendation's replicas.
    pub replicas: Option<i32>,
    /// A scale event's change.
    pub change: Option<i32>,
    /// How long ago: `"2m"` or `"-2m"` (both mean two minutes before `now`), or seconds.
    pub age: Option<RawDuration>,
    /// Or the instant itself (RFC 3339 or an offset from `now`); also spelt `time` or `timestamp`.
    #[serde(alias = "time", alias = "timestamp")]
    pub at: Option<String>,
    /// A scale event already marked outdated.
    pub outdated: Option<bool>,
}
