//! kube-scheduler configuration: NodeResourcesFit's scoring strategy.

/// NodeResourcesFit scoring strategies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringType {
    /// `(allocatable − requested) × 100 / allocatable`: spreads pods.
    LeastAllocated,
    /// `requested × 100 / allocatable`: packs pods.
    MostAllocated,
    /// A broken-linear function of utilisation: points `(utilisation %, score 0–10)`.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

/// Scheduler configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// NodeResourcesFit's strategy.
    pub scoring: ScoringType,
    /// Resources scored, with weights (upstream default: cpu 1, memory 1).
    pub resources: Vec<(String, i64)>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scoring: ScoringType::LeastAllocated,
            resources: vec![("cpu".into(), 1), ("memory".into(), 1)],
        }
    }
}
