//! Diurnal arrivals: a Poisson process whose rate follows an hourly profile, optionally shaped by
//! day of the week.
//!
//! The rate is piecewise constant per hour, `rate × hourly[h] × weekly[d]`, and repeats every
//! week. Arrivals come by exact time change (inversion of the integrated rate): one unit-exponential
//! draw per arrival, spent hour by hour, so no thinning and no table of steps to the horizon.

use crate::engine::{Rng, SimTime, NANOS_PER_SEC};
use crate::scenario::DiurnalSpec;
use rand_distr::{Distribution, Exp1};

const HOUR_S: f64 = 3_600.0;
const WEEK_HOURS: u64 = 168;

/// Draws the arrivals of a diurnal profile.
#[derive(Clone, Debug)]
pub struct DiurnalArrivals {
    /// Rate of each hour of the profile's week.
    week: [f64; WEEK_HOURS as usize],
    /// Seconds into the profile's week at time zero.
    phase_s: f64,
    rng: Rng,
}

impl DiurnalArrivals {
    /// A generator for `spec` drawing from `rng`.
    pub fn new(spec: &DiurnalSpec, rng: Rng) -> Self {
        let mut week = [0.0; WEEK_HOURS as usize];
        for (h, r) in week.iter_mut().enumerate() {
            *r = spec.rate * spec.hourly[h % 24] * spec.weekly[h / 24];
        }
        DiurnalArrivals {
            week,
            phase_s: spec.phase.as_secs_f64(),
            rng,
        }
    }

    /// The rate (requests per second) at `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        let h = ((t + self.phase_s) / HOUR_S).floor() as u64 % WEEK_HOURS;
        self.week[h as usize]
    }

    /// The first arrival after `t`; `None` when the whole profile is zero.
    pub fn next_after(&mut self, t: SimTime) -> Option<SimTime> {
        if self.week.iter().all(|&r| r == 0.0) {
            return None;
        }
        let mut remaining: f64 = Exp1.sample(&mut self.rng);
        // Profile clock, in seconds from the start of the profile's week 0.
        let mut now = t.as_secs_f64() + self.phase_s;
        loop {
            let hour = (now / HOUR_S).floor();
            let rate = self.week[(hour as u64 % WEEK_HOURS) as usize];
            let seg_end = (hour + 1.0) * HOUR_S;
            let capacity = rate * (seg_end - now);
            if rate > 0.0 && capacity >= remaining {
                now += remaining / rate;
                let ns = ((now - self.phase_s) * NANOS_PER_SEC as f64).round();
                if ns >= u64::MAX as f64 {
                    return None;
                }
                return Some(SimTime((ns as u64).max(t.0)));
            }
            remaining -= capacity;
            now = seg_end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimDuration};

    fn profile() -> DiurnalSpec {
        let hourly: Vec<f64> = (0..24)
            .map(|h| {
                0.2 + 0.8 * (((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos() + 1.0) / 2.0
            })
            .collect();
        DiurnalSpec {
            rate: 5.0,
            hourly,
            weekly: vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.25],
            phase: SimDuration::ZERO,
        }
    }

    /// Counts per hour over a week match `rate × hourly × weekly × 3600` (Poisson: within 5σ).
    #[test]
    fn hourly_counts_follow_the_profile() {
        let spec = profile();
        let mut g = DiurnalArrivals::new(&spec, RngStreams::new(11).stream("t"));
        let mut counts = vec![0u64; 168];
        let mut t = SimTime::ZERO;
        loop {
            t = g.next_after(t).unwrap();
            let h = (t.as_secs_f64() / 3600.0) as usize;
            if h >= 168 {
                break;
            }
            counts[h] += 1;
        }
        for (h, &c) in counts.iter().enumerate() {
            let expect = spec.rate * spec.hourly[h % 24] * spec.weekly[h / 24] * 3600.0;
            assert!(
                (c as f64 - expect).abs() < 5.0 * expect.sqrt(),
                "hour {h}: {c} vs {expect}"
            );
        }
    }

    #[test]
    fn phase_shifts_the_profile() {
        let mut spec = profile();
        spec.phase = SimDuration::from_secs(14 * 3600);
        let g = DiurnalArrivals::new(&spec, RngStreams::new(1).stream("t"));
        assert_eq!(g.rate_at(0.0), spec.rate * spec.hourly[14]);
        assert_eq!(g.rate_at(10.0 * 3600.0 + 1.0), spec.rate * spec.hourly[0]);
    }
}
