//! Spikes: a base Poisson rate multiplied over given intervals, turned into rate steps that
//! [`super::PoissonArrivals`] draws from exactly.

use crate::engine::SimTime;
use crate::scenario::Spike;

/// The piecewise-constant rate of a base rate with spikes: `(start, rate)` steps in increasing
/// order of start, the first at time zero. Overlapping spikes multiply.
pub fn spike_steps(base: f64, spikes: &[Spike]) -> Vec<(SimTime, f64)> {
    let mut bounds: Vec<SimTime> = vec![SimTime::ZERO];
    for s in spikes {
        bounds.push(s.at);
        bounds.push(s.at + s.duration);
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut steps: Vec<(SimTime, f64)> = Vec::with_capacity(bounds.len());
    for b in bounds {
        let rate = spikes
            .iter()
            .filter(|s| s.at <= b && b < s.at + s.duration)
            .fold(base, |r, s| r * s.multiplier);
        if steps.last().is_none_or(|&(_, r)| r != rate) {
            steps.push((b, rate));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimDuration};
    use crate::traffic::PoissonArrivals;

    #[test]
    fn steps_and_counts() {
        let spikes = [
            Spike {
                at: SimTime::from_secs_f64(100.0),
                duration: SimDuration::from_secs(50),
                multiplier: 10.0,
            },
            Spike {
                at: SimTime::from_secs_f64(120.0),
                duration: SimDuration::from_secs(10),
                multiplier: 2.0,
            },
        ];
        let steps = spike_steps(4.0, &spikes);
        let secs: Vec<(f64, f64)> = steps.iter().map(|s| (s.0.as_secs_f64(), s.1)).collect();
        assert_eq!(
            secs,
            vec![
                (0.0, 4.0),
                (100.0, 40.0),
                (120.0, 80.0),
                (130.0, 40.0),
                (150.0, 4.0)
            ]
        );
        let mut p = PoissonArrivals::schedule(steps, RngStreams::new(5).stream("t"));
        let (mut inside, mut outside) = (0u64, 0u64);
        let mut t = SimTime::ZERO;
        loop {
            t = p.next_after(t).unwrap();
            let s = t.as_secs_f64();
            if s >= 1000.0 {
                break;
            }
            if (100.0..150.0).contains(&s) {
                inside += 1;
            } else {
                outside += 1;
            }
        }
        // Expected: 40×20 + 80×10 + 40×20 = 2400 inside, 4 × 950 = 3800 outside.
        assert!(
            (inside as f64 - 2400.0).abs() < 5.0 * 2400f64.sqrt(),
            "{inside}"
        );
        assert!(
            (outside as f64 - 3800.0).abs() < 5.0 * 3800f64.sqrt(),
            "{outside}"
        );
    }
}
