//! The KPA decider (`pkg/autoscaler/scaling/autoscaler.go: Scale`): desired pods from the stable
//! and panic averages of observed concurrency, with panic mode and the scale-up/down rate limits.

use super::config::KpaConfig;

/// What one decision produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleResult {
    /// Desired pods.
    pub desired: i32,
    /// `ExcessBurstCapacity`: spare concurrency beyond the target burst capacity (negative: the
    /// activator should stay in the path).
    pub excess_burst_capacity: i32,
    /// Whether the decider is in panic mode after this decision.
    pub panicking: bool,
}

/// The decider's inputs that do not change between ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeciderSpec {
    /// Per-pod concurrency target.
    pub target: f64,
    /// Per-pod concurrency a pod can take.
    pub total: f64,
    /// Panic when desired panic pods / ready pods reaches this.
    pub panic_threshold: f64,
    /// Most pods per ready pod after one decision.
    pub max_scale_up_rate: f64,
    /// Ready pods divided by this is the fewest pods one decision may leave.
    pub max_scale_down_rate: f64,
    /// Stable window, nanoseconds: how long panic mode lasts after the last over-threshold tick.
    pub stable_window: i64,
    /// Fewest pods when scaling from zero.
    pub activation_scale: i32,
    /// Target burst capacity (0: none, -1: unlimited).
    pub target_burst_capacity: f64,
}

impl DeciderSpec {
    /// The spec a [`KpaConfig`] implies.
    pub fn from_config(c: &KpaConfig) -> DeciderSpec {
        DeciderSpec {
            target: c.target_value(),
            total: c.total_value(),
            panic_threshold: c.panic_threshold(),
            max_scale_up_rate: c.max_scale_up_rate,
            max_scale_down_rate: c.max_scale_down_rate,
            stable_window: c.stable_window,
            activation_scale: c.activation_scale as i32,
            target_burst_capacity: c.target_burst_capacity,
        }
    }
}

/// The decider and its panic state.
#[derive(Clone, Debug, PartialEq)]
pub struct Decider {
    /// Its fixed inputs.
    pub spec: DeciderSpec,
    /// When panic mode was last (re)entered; `None` when not panicking.
    panic_time: Option<i64>,
    max_panic_pods: i32,
}

impl Decider {
    /// A decider out of panic mode.
    pub fn new(spec: DeciderSpec) -> Decider {
        Decider {
            spec,
            panic_time: None,
            max_panic_pods: 0,
        }
    }

    /// Whether the decider is in panic mode.
    pub fn panicking(&self) -> bool {
        self.panic_time.is_some()
    }

    /// One decision at `now` (nanoseconds) from the stable and panic averages of observed
    /// concurrency and the ready pod count.
    pub fn scale(&mut self, now: i64, stable: f64, panic: f64, ready_pods: u32) -> ScaleResult {
        let s = &self.spec;
        let ready = (ready_pods as f64).max(1.0);
        let max_scale_up = (s.max_scale_up_rate * ready).ceil();
        // The revision is reachable (routed to), so scale-down is rate limited.
        let max_scale_down = (ready / s.max_scale_down_rate).floor();
        let dspc = (stable / s.target).ceil();
        let dppc = (panic / s.target).ceil();
        let mut desired_stable = dspc.max(max_scale_down).min(max_scale_up) as i32;
        let mut desired_panic = dppc.max(max_scale_down).min(max_scale_up) as i32;
        if s.activation_scale > 1 {
            if dspc > 0.0 && s.activation_scale > desired_stable {
                desired_stable = s.activation_scale;
            }
            if dppc > 0.0 && s.activation_scale > desired_panic {
                desired_panic = s.activation_scale;
            }
        }
        let over = dppc / ready >= s.panic_threshold;
        if over {
            // Enter panic mode, or extend it.
            self.panic_time = Some(now);
        } else if let Some(t) = self.panic_time {
            if t + s.stable_window < now {
                // The surge has made its way into the stable metric.
                self.panic_time = None;
                self.max_panic_pods = 0;
            }
        }
        let mut desired = desired_stable;
        if self.panic_time.is_some() {
            desired = desired.max(desired_panic);
            // Never scale down while panicking.
            if desired > self.max_panic_pods {
                self.max_panic_pods = desired;
            }
            desired = self.max_panic_pods;
        }
        let tbc = s.target_burst_capacity;
        let excess_burst_capacity = if tbc == 0.0 {
            0
        } else if tbc > 0.0 {
            (ready_pods as f64 * s.total - tbc - panic).floor() as i32
        } else {
            -1
        };
        ScaleResult {
            desired,
            excess_burst_capacity,
            panicking: self.panic_time.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Cases from upstream's `autoscaler_test.go` (the harness: TotalValue = target / 0.75,
    //! PanicThreshold 2, MaxScaleUpRate = MaxScaleDownRate = 10, stable window 60 s).
    use super::*;

    const S: i64 = 1_000_000_000;
    const TICK: i64 = 2 * S;

    fn decider(target: f64) -> Decider {
        Decider::new(DeciderSpec {
            target,
            total: target / 0.75,
            panic_threshold: 2.0,
            max_scale_up_rate: 10.0,
            max_scale_down_rate: 10.0,
            stable_window: 60 * S,
            activation_scale: 1,
            target_burst_capacity: 0.0,
        })
    }

    #[test]
    fn stable_mode_increase_with_concurrency_default() {
        let mut a = decider(10.0);
        assert_eq!(a.scale(0, 50.0, 10.0, 1).desired, 5);
        assert_eq!(a.scale(TICK, 100.0, 100.0, 1).desired, 10);
    }

    #[test]
    fn stable_mode_decrease() {
        let mut a = decider(10.0);
        assert_eq!(a.scale(0, 100.0, 100.0, 8).desired, 10);
        assert_eq!(a.scale(TICK, 50.0, 50.0, 8).desired, 5);
    }

    #[test]
    fn stable_mode_no_traffic_scales_to_zero() {
        let mut a = decider(10.0);
        assert_eq!(a.scale(0, 1.0, 1.0, 1).desired, 1);
        assert_eq!(a.scale(TICK, 0.0, 0.0, 1).desired, 0);
    }

    #[test]
    fn activation_scale() {
        let mut a = decider(10.0);
        a.spec.activation_scale = 2;
        assert_eq!(a.scale(0, 0.0, 0.0, 1).desired, 0);
        assert_eq!(a.scale(TICK, 1.0, 1.0, 1).desired, 2);
    }

    #[test]
    fn panic_mode_exponential_track_and_stabilize() {
        let mut a = decider(1.0);
        let r = a.scale(0, 6.0, 6.0, 1);
        assert_eq!((r.desired, r.panicking), (6, true));
        let r = a.scale(TICK, 36.0, 36.0, 6);
        assert_eq!((r.desired, r.panicking), (36, true));
    }

    #[test]
    fn unpanic_after_slow_increase() {
        let mut a = decider(1.0);
        let r = a.scale(0, 11.0, 25.0, 10);
        assert_eq!((r.desired, r.panicking), (25, true));
        let r = a.scale(30 * S, 30.0, 41.0, 40);
        assert_eq!((r.desired, r.panicking), (41, true), "still panicking");
        let r = a.scale(60 * S + TICK, 50.0, 56.0, 55);
        assert_eq!((r.desired, r.panicking), (50, false), "panic ended");
    }

    #[test]
    fn extend_panic_window() {
        let mut a = decider(1.0);
        assert_eq!(a.scale(0, 11.0, 25.0, 10).desired, 25);
        let r = a.scale(30 * S, 30.0, 80.0, 40);
        assert_eq!((r.desired, r.panicking), (80, true));
        // Still panicking a stable window after the first entry: it was extended at 30 s.
        let r = a.scale(60 * S + TICK, 50.0, 50.0, 80);
        assert_eq!(
            (r.desired, r.panicking),
            (80, true),
            "no scale-down in panic"
        );
        let r = a.scale(90 * S + TICK, 50.0, 50.0, 80);
        assert_eq!((r.desired, r.panicking), (50, false));
    }

    #[test]
    fn rate_limits_bound_each_decision() {
        let mut a = decider(1.0);
        // 10 ready pods, no load: at most 10x down (floor(10 / 10) = 1).
        assert_eq!(a.scale(0, 0.0, 0.0, 10).desired, 1);
        // One ready pod, a huge stable load, below the panic threshold... cannot be: the panic
        // value follows. With the default rates (1000 up, 2 down):
        let mut d = Decider::new(DeciderSpec::from_config(&KpaConfig::default()));
        assert_eq!(d.scale(0, 0.0, 0.0, 8).desired, 4, "halves at most");
        assert_eq!(d.scale(TICK, 7000.0, 0.0, 1).desired, 100);
    }

    #[test]
    fn excess_burst_capacity() {
        let mut d = Decider::new(DeciderSpec::from_config(&KpaConfig::default()));
        // 2 ready pods × 100 - 211 - 10 = -21: the activator stays in the path.
        assert_eq!(d.scale(0, 10.0, 10.0, 2).excess_burst_capacity, -21);
        assert_eq!(d.scale(TICK, 10.0, 10.0, 3).excess_burst_capacity, 79);
    }
}
