//! Poisson arrivals: constant rate, or a piecewise-constant rate by exact time change.

use crate::engine::{round_u64, Rng, SimTime, NANOS_PER_SEC};
use rand_distr::{Distribution, Exp1};

/// Draws the next arrival of a Poisson process with piecewise-constant rate.
///
/// A unit-exponential draw is spent against the integrated rate, segment by segment, so the
/// process is exact (no thinning) and costs one draw per arrival.
#[derive(Clone, Debug)]
pub struct PoissonArrivals {
    /// `(start, rate per second)`; zero rate before the first start; the last rate holds forever.
    steps: Vec<(SimTime, f64)>,
    /// Index of the step holding the last arrival.
    cursor: usize,
    /// The rate of step `cursor` and the start of the next step (`None`: the last step), kept
    /// beside the random stream so that a draw reads no other memory.
    rate: f64,
    next_start: Option<SimTime>,
    rng: Rng,
}

impl PoissonArrivals {
    /// A constant rate from time zero.
    pub fn constant(rate: f64, rng: Rng) -> Self {
        Self::schedule(vec![(SimTime::ZERO, rate)], rng)
    }

    /// A piecewise-constant rate; `steps` must be in increasing order of start time.
    pub fn schedule(mut steps: Vec<(SimTime, f64)>, rng: Rng) -> Self {
        if steps.first().is_none_or(|s| s.0 > SimTime::ZERO) {
            steps.insert(0, (SimTime::ZERO, 0.0));
        }
        PoissonArrivals {
            rate: steps[0].1,
            next_start: steps.get(1).map(|s| s.0),
            steps,
            cursor: 0,
            rng,
        }
    }

    /// The first arrival after `t`.
    #[inline]
    pub fn next_after(&mut self, t: SimTime) -> Option<SimTime> {
        let mut remaining: f64 = Exp1.sample(&mut self.rng);
        while self.next_start.is_some_and(|s| s <= t) {
            self.next_step();
        }
        let mut now = t.as_secs_f64();
        loop {
            let rate = self.rate;
            let seg_end = self.next_start.map_or(f64::INFINITY, |s| s.as_secs_f64());
            let capacity = rate * (seg_end - now);
            if rate > 0.0 && capacity >= remaining {
                now += remaining / rate;
                let ns = now * NANOS_PER_SEC as f64;
                // Below 2^64 ns its rounding is below 2^64 too (floats there are integers).
                if ns >= u64::MAX as f64 {
                    return None;
                }
                return Some(SimTime(round_u64(ns).max(t.0)));
            }
            if !seg_end.is_finite() {
                return None; // zero rate from here on
            }
            if rate > 0.0 {
                remaining -= capacity;
            }
            now = seg_end;
            self.next_step();
        }
    }

    /// Moves to the next step of the schedule.
    fn next_step(&mut self) {
        self.cursor += 1;
        self.rate = self.steps[self.cursor].1;
        self.next_start = self.steps.get(self.cursor + 1).map(|s| s.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    #[test]
    fn constant_rate_matches_mean() {
        let mut p = PoissonArrivals::constant(100.0, RngStreams::new(7).stream("t"));
        let mut t = SimTime::ZERO;
        let n = 200_000;
        for _ in 0..n {
            t = p.next_after(t).unwrap();
        }
        let rate = n as f64 / t.as_secs_f64();
        assert!((rate / 100.0 - 1.0).abs() < 0.01, "{rate}");
    }

    #[test]
    fn schedule_counts_follow_rates() {
        let steps = vec![
            (SimTime::from_secs_f64(10.0), 50.0),
            (SimTime::from_secs_f64(110.0), 0.0),
            (SimTime::from_secs_f64(210.0), 200.0),
            (SimTime::from_secs_f64(310.0), 0.0),
        ];
        let mut p = PoissonArrivals::schedule(steps, RngStreams::new(3).stream("t"));
        let mut counts = [0u32; 4];
        let mut t = SimTime::ZERO;
        while let Some(next) = p.next_after(t) {
            t = next;
            let s = t.as_secs_f64();
            assert!(
                (10.0..110.0).contains(&s) || (210.0..310.0).contains(&s),
                "{s}"
            );
            counts[((s - 10.0) / 100.0) as usize] += 1;
        }
        assert!((counts[0] as f64 - 5_000.0).abs() < 300.0, "{counts:?}");
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f64 - 20_000.0).abs() < 600.0, "{counts:?}");
    }
}
