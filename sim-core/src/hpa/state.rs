//! What the HPA controller sees at one sync (the target's scale, its pods and their metrics) and
//! what it remembers between syncs (recommendations and scale events).

use std::collections::BTreeMap;

/// Nanoseconds on the caller's epoch (the simulator's clock, or `now` for a CASE file).
pub type Nanos = i64;

/// One second in [`Nanos`].
pub const SECOND: Nanos = 1_000_000_000;

/// `pod.status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    /// Accepted, not all containers running yet.
    Pending,
    /// Bound and running.
    Running,
    /// All containers exited successfully.
    Succeeded,
    /// All containers exited, at least one failed.
    Failed,
    /// State unknown.
    Unknown,
}

/// The status of the pod's `Ready` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

/// Which list of the pod spec a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// `spec.containers`.
    Regular,
    /// `spec.initContainers` with `restartPolicy: Always` (a sidecar): its requests count.
    RestartableInit,
    /// A plain init container: its requests do not count.
    Init,
}

/// One container: its requests and its measured usage (milli-units, keyed by resource name).
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerState {
    /// Container name.
    pub name: String,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// `resources.requests`, milli-units.
    pub requests: BTreeMap<String, i64>,
    /// Usage reported by metrics-server, milli-units (absent: not reported).
    pub usage: BTreeMap<String, i64>,
}

/// One metric sample as the metrics APIs return it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSample {
    /// Value in milli-units; `None` means "take the sum of the containers' usage".
    pub value: Option<i64>,
    /// When the sample was taken.
    pub timestamp: Nanos,
    /// The window the sample averages over.
    pub window: Nanos,
}

/// A pod matched by the target's selector, or (with `listed == false`) a pod that only the
/// metrics API still reports.
#[derive(Clone, Debug, PartialEq)]
pub struct PodState {
    /// Pod name.
    pub name: String,
    /// Whether the pod is in the pod lister's list (false: metrics only, e.g. a pod already gone).
    pub listed: bool,
    /// `status.phase`.
    pub phase: PodPhase,
    /// The `Ready` condition's status; `None` when the pod has no such condition.
    pub ready: Option<ConditionStatus>,
    /// The `Ready` condition's `lastTransitionTime`.
    pub ready_transition: Nanos,
    /// `status.startTime`; `None` when not set.
    pub start: Option<Nanos>,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Containers, regular and init.
    pub containers: Vec<ContainerState>,
    /// Pod-level `spec.resources.requests` (PodLevelResources), milli-units.
    pub pod_requests: Option<BTreeMap<String, i64>>,
    /// Per-metric samples keyed by metric or resource name.
    pub metrics: BTreeMap<String, MetricSample>,
    /// Timestamp and window of the containers' usage samples when `metrics` has no entry.
    pub usage_sample: (Nanos, Nanos),
}

impl PodState {
    /// Whether `IsPodReady`: the Ready condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.ready == Some(ConditionStatus::True)
    }

    /// The resource metric for this pod as metrics-server reports it: one container's usage when
    /// `container` is given, else the sum over all running containers (none if any lacks one).
    pub fn resource_metric(
        &self,
        resource: &str,
        container: Option<&str>,
    ) -> Option<(i64, Nanos, Nanos)> {
        let entry = self.metrics.get(resource);
        let (ts, window) = entry.map_or(self.usage_sample, |m| (m.timestamp, m.window));
        if let Some(c) = container {
            let c = self
                .containers
                .iter()
                .find(|x| x.name == c && x.kind != ContainerKind::Init)?;
            return c.usage.get(resource).map(|v| (*v, ts, window));
        }
        if let Some(v) = entry.and_then(|m| m.value) {
            return Some((v, ts, window));
        }
        let mut sum = 0i64;
        let mut count = 0;
        for c in self
            .containers
            .iter()
            .filter(|c| c.kind != ContainerKind::Init)
        {
            // metrics-server drops a pod when any of its containers lacks the resource.
            sum = sum.saturating_add(*c.usage.get(resource)?);
            count += 1;
        }
        if count == 0 {
            return None;
        }
        Some((sum, ts, window))
    }

    /// A custom (Pods) metric sample for this pod.
    pub fn pods_metric(&self, name: &str) -> Option<(i64, Nanos, Nanos)> {
        let m = self.metrics.get(name)?;
        m.value.map(|v| (v, m.timestamp, m.window))
    }
}

/// One reading of an Object or External metric.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedValue {
    /// Metric name.
    pub name: String,
    /// Value in milli-units.
    pub value: i64,
}

/// Everything one sync reads: the scale subresource, the pods and the metric APIs.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The instant of the sync.
    pub now: Nanos,
    /// `scale.spec.replicas`: the "current" replicas.
    pub spec_replicas: i32,
    /// `scale.status.replicas`: used by per-pod Object and External metrics.
    pub status_replicas: i32,
    /// Pods matching the selector (and metrics-only entries with `listed == false`).
    pub pods: Vec<PodState>,
    /// Object metric readings (`custom.metrics.k8s.io` on a described object).
    pub object_metrics: Vec<NamedValue>,
    /// External metric series (`external.metrics.k8s.io`); several with one name are summed.
    pub external_metrics: Vec<NamedValue>,
}

/// A stored recommendation (`timestampedRecommendation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// Recommended replicas (before normalisation).
    pub replicas: i32,
    /// When it was made.
    pub at: Nanos,
}

/// A stored scale event (`timestampedScaleEvent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleEvent {
    /// Replicas added (scale-up list) or removed (scale-down list); never negative.
    pub change: i32,
    /// When the scale happened.
    pub at: Nanos,
    /// Marked as older than the longest policy period, so the slot may be reused.
    pub outdated: bool,
}

/// What the controller remembers about one HPA between syncs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpaHistory {
    /// `recommendations[key]`; `None` until the first sync records the initial one.
    pub recommendations: Option<Vec<Recommendation>>,
    /// `scaleUpEvents[key]`.
    pub scale_up_events: Vec<ScaleEvent>,
    /// `scaleDownEvents[key]`.
    pub scale_down_events: Vec<ScaleEvent>,
}
