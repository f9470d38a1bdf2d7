//! Pod templates: what a Deployment's pods request, how they start, where they may run.

use super::resources::Resources;
use super::selector::{LabelSelector, Labels, Term};
use super::taint::Toleration;
use crate::engine::SimDuration;

/// A validated pod template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodTemplate {
    /// Requests and limits.
    pub resources: Resources,
    /// Container image size, bytes (pulled unless the node has it).
    pub image_bytes: u64,
    /// Model weights loaded after the container starts, bytes.
    pub model_bytes: u64,
    /// Readiness probe: delay after container start before the first probe.
    pub readiness_initial_delay: SimDuration,
    /// Readiness probe period.
    pub readiness_period: SimDuration,
    /// Readiness probe: consecutive failures before the pod is NotReady.
    pub readiness_failure_threshold: u32,
    /// Liveness probe: (initial delay, period, failure threshold), if the pod has one.
    pub liveness: Option<(SimDuration, SimDuration, u32)>,
    /// Grace period for termination.
    pub termination_grace: SimDuration,
    /// Required node labels.
    pub node_selector: Labels,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Required node-affinity terms (ORed); empty means no requirement.
    pub required_terms: Vec<Term>,
    /// Preferred node-affinity terms with weights.
    pub preferred_terms: Vec<(i64, Term)>,
    /// GPU memory the pod allocates, bytes (checked against what is free on a time-sliced GPU;
    /// 0: not accounted).
    pub gpu_memory_bytes: u64,
    /// The pods' labels (`service.pod.labels`; default `app = <service name>`), which other
    /// pods' `labelSelector`s match.
    pub labels: Labels,
    /// Explicit topology spread constraints (empty: the scheduler's system defaults apply).
    pub spread: Vec<SpreadConstraint>,
    /// Required pod anti-affinity terms.
    pub anti_affinity_required: Vec<PodAffinityTerm>,
    /// Preferred pod anti-affinity terms with weights (1 to 100).
    pub anti_affinity_preferred: Vec<(i64, PodAffinityTerm)>,
}

/// What the scheduler does when a spread constraint cannot be met (`whenUnsatisfiable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WhenUnsatisfiable {
    /// A filter: nodes that would break the skew are infeasible.
    DoNotSchedule,
    /// A score: nodes that keep the skew low are preferred.
    ScheduleAnyway,
}

impl WhenUnsatisfiable {
    /// The Kubernetes name.
    pub fn name(self) -> &'static str {
        match self {
            WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
            WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
        }
    }
}

/// Whether a spread constraint's domains honour a node property (`nodeAffinityPolicy`,
/// `nodeTaintsPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InclusionPolicy {
    /// Only nodes passing the pod's node affinity (or tolerating the node's taints) count.
    Honor,
    /// Every node counts.
    Ignore,
}

/// Which pods a spread constraint or pod anti-affinity term counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PodSelector {
    /// No `labelSelector`: the Deployment's own pods (capsim's default; upstream a missing
    /// selector selects nothing), or a selector that selects exactly those.
    #[default]
    Own,
    /// A `labelSelector` that selects other services' pods: the pods, of any service in the
    /// namespaces, whose labels match it.
    Labels {
        /// The selector as written.
        selector: LabelSelector,
        /// The namespaces searched (a term's `namespaces`; empty: the pod's own).
        namespaces: Vec<String>,
        /// Per service (by index), whether its pods are selected (filled once every service is
        /// known, so the scheduler never matches labels).
        services: Vec<bool>,
        /// Whether the pod's own service is among them.
        own: bool,
    },
}

impl PodSelector {
    /// Whether the pod's own Deployment's pods are selected.
    pub fn selects_own(&self) -> bool {
        match self {
            PodSelector::Own => true,
            PodSelector::Labels { own, .. } => *own,
        }
    }
}

/// One `topologySpreadConstraints` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    /// Largest allowed difference between a domain's matching pods and the global minimum.
    pub max_skew: u32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// Filter or score.
    pub when: WhenUnsatisfiable,
    /// With fewer eligible domains than this, the global minimum is taken as 0 (default 1).
    pub min_domains: u32,
    /// Default Honor: nodes failing the pod's nodeSelector/required node affinity are no domain.
    pub node_affinity_policy: InclusionPolicy,
    /// Default Ignore: tainted nodes still count as domains.
    pub node_taints_policy: InclusionPolicy,
    /// `matchLabelKeys` names `pod-template-hash`: only the pod's own ReplicaSet (model
    /// version) counts.
    pub own_replica_set: bool,
    /// The pods it counts.
    pub selector: PodSelector,
}

/// One pod (anti-)affinity term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAffinityTerm {
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// The pods it counts.
    pub selector: PodSelector,
}

/// Upstream default readiness probe period (10 s).
pub const DEFAULT_PROBE_PERIOD: SimDuration = SimDuration::from_secs(10);
/// Upstream default termination grace period (30 s).
pub const DEFAULT_GRACE: SimDuration = SimDuration::from_secs(30);
