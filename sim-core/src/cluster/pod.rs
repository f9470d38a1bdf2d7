//! Pod templates: what a Deployment's pods request, how they start, where they may run.

use super::resources::Resources;
use super::selector::{Labels, Term};
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
}

/// Upstream default readiness probe period (10 s).
pub const DEFAULT_PROBE_PERIOD: SimDuration = SimDuration::from_secs(10);
/// Upstream default termination grace period (30 s).
pub const DEFAULT_GRACE: SimDuration = SimDuration::from_secs(30);
