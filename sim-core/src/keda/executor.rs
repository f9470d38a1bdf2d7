//! The ScaledObject scale executor (`pkg/scaling/executor/scale_scaledobjects.go: RequestScale`):
//! KEDA itself moves the target between zero (or the idle count) and its minimum; the HPA it
//! created does the rest.

use super::spec::ScaledObject;

/// Nanoseconds per second.
const SECOND: i64 = 1_000_000_000;

/// What the executor remembers (`status.lastActiveTime`) and the settings it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleExecutor {
    min: i32,
    idle: Option<i32>,
    cooldown: i64,
    initial_cooldown: i64,
    created: i64,
    /// When a trigger was last seen active (nanoseconds), if ever.
    pub last_active: Option<i64>,
}

impl ScaleExecutor {
    /// The executor of `so`, created at `created` (nanoseconds).
    pub fn new(so: &ScaledObject, created: i64) -> ScaleExecutor {
        ScaleExecutor {
            min: so.min_replica_count,
            idle: so.idle_replica_count,
            cooldown: so.cooldown_period * SECOND,
            initial_cooldown: so.initial_cooldown_period * SECOND,
            created,
            last_active: None,
        }
    }

    /// One check at `now`: `active` whether any trigger is active, `current` the target's
    /// replicas. Returns the replicas to set, if KEDA changes them.
    pub fn request_scale(&mut self, now: i64, active: bool, current: i32) -> Option<i32> {
        if active {
            self.last_active = Some(now);
            let below_min_in_idle_mode = self.idle.is_some() && current < self.min;
            if current == 0 || below_min_in_idle_mode {
                // scaleFromZeroOrIdle
                return Some(if self.min > 0 { self.min } else { 1 });
            }
            return None;
        }
        let above_idle = self.idle.is_some_and(|i| current > i);
        if above_idle || (current > 0 && self.min == 0) {
            // scaleToZeroOrIdle, once the cooldown has passed (strictly).
            let cooled = match self.last_active {
                None => self.created + self.initial_cooldown < now,
                Some(t) => t + self.cooldown < now,
            };
            if cooled {
                let to = self.idle.unwrap_or(self.min);
                return (to != current).then_some(to);
            }
            return None;
        }
        if current < self.min && self.idle.is_none() {
            return Some(self.min);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keda::ScaledObjectSpec;

    const S: i64 = SECOND;

    fn exec(extra: &str) -> ScaleExecutor {
        let spec: ScaledObjectSpec =
            toml::from_str(&format!("{extra}\n[[triggers]]\ntype = \"queue\"\n")).unwrap();
        ScaleExecutor::new(&spec.check(&[]).unwrap(), 0)
    }

    #[test]
    fn zero_to_one_and_back_after_cooldown() {
        let mut e = exec("");
        // Never active: scales to zero once the initial cooldown (0 s) has passed, strictly.
        assert_eq!(e.request_scale(0, false, 2), None);
        assert_eq!(e.request_scale(30 * S, false, 2), Some(0));
        // Activity at zero: to one; while active, only the last-active time moves.
        assert_eq!(e.request_scale(60 * S, true, 0), Some(1));
        assert_eq!(e.request_scale(90 * S, true, 3), None);
        assert_eq!(e.last_active, Some(90 * S));
        // Inactive: zero only when last active + cooldown (300 s) < now.
        assert_eq!(e.request_scale(390 * S, false, 3), None);
        assert_eq!(e.request_scale(391 * S, false, 3), Some(0));
    }

    #[test]
    fn minimum_and_idle_counts() {
        let mut e = exec("minReplicaCount = 2");
        assert_eq!(e.request_scale(0, false, 2), None, "never below min");
        assert_eq!(e.request_scale(30 * S, false, 1), Some(2));
        assert_eq!(e.request_scale(60 * S, true, 0), Some(2));
        let mut e = exec("minReplicaCount = 3\nidleReplicaCount = 0\ncooldownPeriod = 60");
        assert_eq!(e.request_scale(0, true, 0), Some(3));
        assert_eq!(e.request_scale(30 * S, false, 5), None);
        assert_eq!(
            e.request_scale(61 * S, false, 5),
            Some(0),
            "to the idle count"
        );
        assert_eq!(e.request_scale(90 * S, false, 0), None);
    }
}
