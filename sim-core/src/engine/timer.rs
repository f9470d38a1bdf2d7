//! Periodic timers with a phase offset, for control loops and sampling.

use super::time::{SimDuration, SimTime};

/// A timer that fires at `phase`, `phase + period`, `phase + 2·period`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periodic {
    /// Time between firings; never zero.
    pub period: SimDuration,
    /// Time of the first firing.
    pub phase: SimDuration,
}

impl Periodic {
    /// A timer with the given period and phase. A zero period is raised to one nanosecond so a
    /// timer can never fire twice at the same instant.
    pub fn new(period: SimDuration, phase: SimDuration) -> Self {
        Periodic {
            period: SimDuration(period.0.max(1)),
            phase,
        }
    }

    /// The first firing.
    pub fn first(&self) -> SimTime {
        SimTime(self.phase.0)
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: SimTime) -> SimTime {
        if t.0 < self.phase.0 {
            return SimTime(self.phase.0);
        }
        let k = (t.0 - self.phase.0) / self.period.0 + 1;
        SimTime(self.phase.0.saturating_add(k.saturating_mul(self.period.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_on_phase_grid() {
        let t = Periodic::new(SimDuration::from_secs(15), SimDuration::from_secs(2));
        assert_eq!(t.first(), SimTime(2_000_000_000));
        assert_eq!(t.next_after(SimTime(0)), SimTime(2_000_000_000));
        assert_eq!(
            t.next_after(SimTime(2_000_000_000)),
            SimTime(17_000_000_000)
        );
        assert_eq!(
            t.next_after(SimTime(16_999_999_999)),
            SimTime(17_000_000_000)
        );
    }
}
