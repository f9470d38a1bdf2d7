//! The PodAutoscaler reconciler (`pkg/reconciler/autoscaling/kpa`): scale bounds, initial scale,
//! the scale-to-zero rules (`handleScaleToZero`) and the PA's Active condition.

use super::config::{KpaConfig, ACTIVATION_TIMEOUT_BUFFER};

/// The PA's `Active` condition, with the time of its last transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaStatus {
    /// `Active=Unknown`: pods are being brought up; requests wait at the activator.
    Activating {
        /// Since when.
        since: i64,
    },
    /// `Active=True`: enough pods are ready.
    Active {
        /// Since when.
        since: i64,
    },
    /// `Active=False`: no traffic; the activator is in the path (proxy mode).
    Inactive {
        /// Since when.
        since: i64,
    },
}

/// One PA reconcile's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaDecision {
    /// The scale the reconciler wants (`-1`: unknown yet).
    pub want: i32,
    /// Replicas to set on the Deployment, when the scale is applied.
    pub apply: Option<u32>,
}

/// A PodAutoscaler of class KPA and what it remembers.
#[derive(Clone, Debug, PartialEq)]
pub struct PodAutoscaler {
    min: i32,
    max: i32,
    initial: i32,
    enable_scale_to_zero: bool,
    stable_window: i64,
    to_zero_after: i64,
    activation_timeout: i64,
    /// Its Active condition.
    pub status: PaStatus,
    /// `ScaleTargetInitialized`: the initial scale was reached once.
    pub initialized: bool,
}

/// Clamps `x` to `[min, max]` (`max` 0: no bound set, so capsim's replica limit,
/// [`crate::scenario::limits::REPLICAS`], where upstream has none).
fn apply_bounds(min: i32, max: i32, x: i32) -> i32 {
    let max = if max == 0 {
        crate::scenario::limits::REPLICAS.max as i32
    } else {
        max
    };
    if x < min {
        min
    } else if x > max {
        max
    } else {
        x
    }
}

impl PodAutoscaler {
    /// A new PA at `now`, activating.
    pub fn new(c: &KpaConfig, now: i64) -> PodAutoscaler {
        PodAutoscaler {
            min: c.min_scale as i32,
            max: c.max_scale as i32,
            initial: c.initial_scale as i32,
            enable_scale_to_zero: c.enable_scale_to_zero,
            stable_window: c.stable_window,
            to_zero_after: c
                .scale_to_zero_grace_period
                .max(c.scale_to_zero_pod_retention_period),
            activation_timeout: c.progress_deadline + ACTIVATION_TIMEOUT_BUFFER,
            status: PaStatus::Activating { since: now },
            initialized: false,
        }
    }

    /// Whether the PA is inactive (the activator in the path, waiting to scale to zero or at zero).
    pub fn inactive(&self) -> bool {
        matches!(self.status, PaStatus::Inactive { .. })
    }

    /// `handleScaleToZero`: the scale to use for a desired 0 and whether to apply it.
    fn handle_scale_to_zero(&self, now: i64, desired: i32) -> (i32, bool) {
        if desired != 0 {
            return (desired, true);
        }
        if !self.enable_scale_to_zero {
            return (1, true);
        }
        match self.status {
            PaStatus::Activating { since } => {
                if since + self.activation_timeout < now {
                    (0, true) // activation timed out
                } else {
                    (-1, false)
                }
            }
            PaStatus::Active { since } => {
                if now - since >= self.stable_window {
                    (0, false) // marks the PA inactive; pods stay for the grace period
                } else {
                    (1, true) // at most one pod for the rest of the stable window
                }
            }
            PaStatus::Inactive { since } => (0, now - since >= self.to_zero_after),
        }
    }

    /// One reconcile at `now` with the decider's desired scale (`None`: no metrics yet) and the
    /// ready pod count.
    pub fn reconcile(&mut self, now: i64, desired: Option<i32>, ready: u32) -> PaDecision {
        let activating = matches!(self.status, PaStatus::Activating { .. });
        let d = desired.unwrap_or(-1);
        let (want, apply) = if d < 0 && !activating {
            (d, false)
        } else {
            let mut min = self.min;
            if self.initial > 1 && !self.initialized {
                min = min.max(self.initial);
            }
            self.handle_scale_to_zero(now, apply_bounds(min, self.max, d))
        };
        self.update_active(now, want, ready);
        PaDecision {
            want,
            apply: (apply && want >= 0).then_some(want as u32),
        }
    }

    /// `computeActiveCondition`.
    fn update_active(&mut self, now: i64, want: i32, ready: u32) {
        let min_ready = if self.initialized {
            self.min.max(1)
        } else {
            self.min.max(self.initial)
        };
        let ready = ready as i32;
        if ready >= min_ready {
            self.initialized = true;
        }
        let inactive = self.inactive();
        if want == 0 || min_ready == 0 {
            if !inactive {
                self.status = PaStatus::Inactive { since: now };
            }
        } else if ready < min_ready {
            if (want > 0 || !inactive) && !matches!(self.status, PaStatus::Activating { .. }) {
                self.status = PaStatus::Activating { since: now };
            }
        } else if (want > 0 || !inactive) && !matches!(self.status, PaStatus::Active { .. }) {
            self.status = PaStatus::Active { since: now };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn scales_to_zero_after_stable_window_then_grace_period() {
        let c = KpaConfig::default();
        let mut pa = PodAutoscaler::new(&c, 0);
        // The first pod is ready at 10 s with traffic.
        assert_eq!(pa.reconcile(10 * S, Some(1), 1).apply, Some(1));
        assert_eq!(pa.status, PaStatus::Active { since: 10 * S });
        // Traffic stops; the decider says 0 at 40 s: active for 30 s < 60 s, so stay at 1.
        assert_eq!(pa.reconcile(40 * S, Some(0), 1).apply, Some(1));
        // At 70 s: active 60 s: the PA goes inactive, pods stay.
        let d = pa.reconcile(70 * S, Some(0), 1);
        assert_eq!((d.want, d.apply), (0, None));
        assert!(pa.inactive());
        // The grace period (30 s) in proxy mode, then zero.
        assert_eq!(pa.reconcile(98 * S, Some(0), 1).apply, None);
        assert_eq!(pa.reconcile(100 * S, Some(0), 1).apply, Some(0));
        assert!(pa.inactive());
        // A request at zero: the decider wants 1; the PA activates, then is active.
        assert_eq!(pa.reconcile(200 * S, Some(1), 0).apply, Some(1));
        assert_eq!(pa.status, PaStatus::Activating { since: 200 * S });
        pa.reconcile(260 * S, Some(1), 1);
        assert_eq!(pa.status, PaStatus::Active { since: 260 * S });
    }

    #[test]
    fn bounds_initial_scale_and_no_scale_to_zero() {
        let c = KpaConfig {
            min_scale: 1,
            max_scale: 3,
            initial_scale: 2,
            ..KpaConfig::default()
        };
        let mut pa = PodAutoscaler::new(&c, 0);
        // Until the initial scale is reached it is the floor.
        assert_eq!(pa.reconcile(2 * S, Some(1), 1).apply, Some(2));
        // Reached at 4 s: this reconcile still floors (the condition is set after scaling).
        assert_eq!(pa.reconcile(4 * S, Some(1), 2).apply, Some(2));
        assert_eq!(pa.reconcile(5 * S, Some(1), 2).apply, Some(1));
        assert_eq!(pa.reconcile(6 * S, Some(9), 1).apply, Some(3));
        assert_eq!(
            pa.reconcile(600 * S, Some(0), 1).apply,
            Some(1),
            "min-scale 1"
        );
        let off = KpaConfig {
            enable_scale_to_zero: false,
            ..KpaConfig::default()
        };
        let mut pa = PodAutoscaler::new(&off, 0);
        pa.reconcile(2 * S, Some(1), 1);
        assert_eq!(pa.reconcile(600 * S, Some(0), 1).apply, Some(1));
    }

    #[test]
    fn no_metrics_no_scaling_and_stuck_activation_gives_up() {
        let c = KpaConfig::default();
        let mut pa = PodAutoscaler::new(&c, 0);
        assert_eq!(pa.reconcile(2 * S, None, 0).apply, None);
        assert_eq!(pa.reconcile(600 * S, Some(0), 0).apply, None);
        assert_eq!(pa.reconcile(631 * S, Some(0), 0).apply, Some(0));
    }
}
