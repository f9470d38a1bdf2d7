//! kube-controller-manager's HPA flags and their upstream defaults.

use super::state::{Nanos, SECOND};

/// `--horizontal-pod-autoscaler-*` flags (`RecommendedDefaultHPAControllerConfiguration`).
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerConfig {
    /// `--horizontal-pod-autoscaler-sync-period`: how often each HPA is reconciled (15 s).
    pub sync_period: Nanos,
    /// `--horizontal-pod-autoscaler-tolerance`: usage ratios within 1 ± this do not scale (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: Nanos,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: Nanos,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
    pub downscale_stabilization: Nanos,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            sync_period: 15 * SECOND,
            tolerance: 0.1,
            cpu_initialization_period: 300 * SECOND,
            initial_readiness_delay: 30 * SECOND,
            downscale_stabilization: 300 * SECOND,
        }
    }
}

/// Scale-up and scale-down tolerances (`Tolerances` in `replica_calculator.go`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// A ratio at or above `1 - scale_down` does not scale down.
    pub scale_down: f64,
    /// A ratio at or below `1 + scale_up` does not scale up.
    pub scale_up: f64,
}

impl Tolerances {
    /// Both directions equal to `t`.
    pub fn both(t: f64) -> Self {
        Tolerances {
            scale_down: t,
            scale_up: t,
        }
    }

    /// Whether `ratio` is close enough to 1 that no scaling happens (bounds inclusive).
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_bounds_are_inclusive() {
        let t = Tolerances::both(0.1);
        assert!(t.is_within(1.1));
        assert!(t.is_within(0.9));
        assert!(!t.is_within(1.1000001));
        assert!(!t.is_within(0.8999999));
    }
}
