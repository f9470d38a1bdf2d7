//! Bursty arrivals: a Markov-modulated Poisson process (MMPP).
//!
//! A continuous-time Markov chain moves between states; in state `i` requests arrive as a Poisson
//! process of rate `λᵢ`. Each visit to `i` lasts an exponential time of mean `mᵢ`, after which the
//! next state is drawn uniformly from the others (with two states: on/off or high/low). The jump
//! chain is then uniform, so the stationary share of time in `i` is `πᵢ = mᵢ / Σ m`, and the mean
//! rate is `Σ πᵢ λᵢ`. The first state is drawn from `π`, so the process is stationary from time
//! zero. Arrivals and state changes draw from separate named streams.

use crate::engine::{Rng, SimTime, NANOS_PER_SEC};
use crate::scenario::MmppState;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

/// Draws the arrivals of an MMPP.
#[derive(Clone, Debug)]
pub struct MmppArrivals {
    /// `(rate per second, mean sojourn in seconds)` per state.
    states: Vec<(f64, f64)>,
    state: usize,
    /// When the current visit ends, in seconds.
    state_end: f64,
    /// The latest time reached, in seconds.
    now: f64,
    arrivals: Rng,
    switches: Rng,
}

impl MmppArrivals {
    /// A generator over `states` (at least two), arrivals from `arrivals`, state changes from
    /// `switches`.
    pub fn new(states: &[MmppState], arrivals: Rng, mut switches: Rng) -> Self {
        let states: Vec<(f64, f64)> = states
            .iter()
            .map(|s| (s.rate, s.mean_sojourn.as_secs_f64()))
            .collect();
        let total: f64 = states.iter().map(|s| s.1).sum();
        let mut u = switches.random::<f64>() * total;
        let mut state = states.len() - 1;
        for (i, s) in states.iter().enumerate() {
            if u < s.1 {
                state = i;
                break;
            }
            u -= s.1;
        }
        let e: f64 = Exp1.sample(&mut switches);
        let state_end = e * states[state].1;
        MmppArrivals {
            states,
            state,
            state_end,
            now: 0.0,
            arrivals,
            switches,
        }
    }

    /// The long-run mean rate, `Σ πᵢ λᵢ` with `πᵢ ∝ mᵢ`.
    pub fn mean_rate(states: &[MmppState]) -> f64 {
        let total: f64 = states.iter().map(|s| s.mean_sojourn.as_secs_f64()).sum();
        states
            .iter()
            .map(|s| s.rate * s.mean_sojourn.as_secs_f64() / total)
            .sum()
    }

    /// The state the chain is in.
    pub fn state(&self) -> usize {
        self.state
    }

    /// The first arrival after `t`; `None` when every state has rate zero.
    pub fn next_after(&mut self, t: SimTime) -> Option<SimTime> {
        if self.states.iter().all(|s| s.0 == 0.0) {
            return None;
        }
        self.now = self.now.max(t.as_secs_f64());
        loop {
            while self.now >= self.state_end {
                self.switch();
            }
            let rate = self.states[self.state].0;
            if rate > 0.0 {
                let gap: f64 = Exp1.sample(&mut self.arrivals);
                let at = self.now + gap / rate;
                if at < self.state_end {
                    self.now = at;
                    let ns = (at * NANOS_PER_SEC as f64).round();
                    if ns >= u64::MAX as f64 {
                        return None;
                    }
                    return Some(SimTime((ns as u64).max(t.0)));
                }
            }
            // Memoryless: the draw past the visit's end is discarded.
            self.now = self.state_end;
        }
    }

    fn switch(&mut self) {
        let n = self.states.len();
        let k = self.switches.random_range(0..n - 1);
        self.state = if k >= self.state { k + 1 } else { k };
        let e: f64 = Exp1.sample(&mut self.switches);
        self.state_end += e * self.states[self.state].1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimDuration};

    fn states() -> Vec<MmppState> {
        vec![
            MmppState {
                rate: 50.0,
                mean_sojourn: SimDuration::from_secs(10),
            },
            MmppState {
                rate: 2.0,
                mean_sojourn: SimDuration::from_secs(40),
            },
            MmppState {
                rate: 0.0,
                mean_sojourn: SimDuration::from_secs(5),
            },
        ]
    }

    /// The long-run rate equals the stationary-weighted rate, `Σ πᵢ λᵢ`.
    #[test]
    fn mean_rate_is_stationary_weighted() {
        let s = states();
        let expect = MmppArrivals::mean_rate(&s);
        assert!((expect - (50.0 * 10.0 + 2.0 * 40.0) / 55.0).abs() < 1e-12);
        let streams = RngStreams::new(9);
        let mut g = MmppArrivals::new(&s, streams.stream("a"), streams.stream("s"));
        let mut t = SimTime::ZERO;
        let mut n = 0u64;
        while t.as_secs_f64() < 200_000.0 {
            t = g.next_after(t).unwrap();
            n += 1;
        }
        let rate = n as f64 / t.as_secs_f64();
        assert!((rate / expect - 1.0).abs() < 0.03, "{rate} vs {expect}");
    }

    /// Bursty: counts in 1-second windows are over-dispersed (index of dispersion well above 1).
    #[test]
    fn counts_are_overdispersed() {
        let s = states();
        let streams = RngStreams::new(2);
        let mut g = MmppArrivals::new(&s, streams.stream("a"), streams.stream("s"));
        let mut counts = vec![0u64; 20_000];
        let mut t = SimTime::ZERO;
        loop {
            t = g.next_after(t).unwrap();
            let w = t.as_secs_f64() as usize;
            if w >= counts.len() {
                break;
            }
            counts[w] += 1;
        }
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<u64>() as f64 / n;
        let var = counts
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(var / mean > 5.0, "dispersion {}", var / mean);
    }
}
