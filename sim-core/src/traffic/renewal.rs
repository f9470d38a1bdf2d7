//! Renewal arrivals with Gamma inter-arrival times, and the same process run window by window
//! over a table of rates (ServeGen's per-client windows, Alibaba's QPS).
//!
//! Gamma gaps with mean `1/λ` and coefficient of variation `c` have shape `k = 1/c²` and scale
//! `θ = c²/λ`; `c = 1` is the Poisson process, `c > 1` is burstier, `c < 1` more regular.
//!
//! Processes start in equilibrium: the first arrival comes after a forward-recurrence time, drawn
//! as `U × G` with `U` uniform and `G ~ Gamma(k + 1, θ)` (a length-biased gap), so the expected
//! count in any interval of length `t` is exactly `λt`. (An ordinary renewal process started with a
//! full gap would expect `λt + (c² − 1)/2` for long `t`: far too many when `c` is large.)

use crate::engine::{Rng, SimTime, NANOS_PER_SEC};
use rand_distr::{Distribution, Gamma};

/// Draws a stationary renewal process with Gamma gaps.
#[derive(Clone, Debug)]
pub struct GammaRenewal {
    gap: Gaps,
    /// The previous arrival, in seconds.
    now: f64,
    started: bool,
    rng: Rng,
}

impl GammaRenewal {
    /// `rate` per second (above zero) with gap coefficient of variation `cv` (above zero).
    pub fn new(rate: f64, cv: f64, rng: Rng) -> Self {
        GammaRenewal {
            gap: Gaps::new(rate, cv),
            now: 0.0,
            started: false,
            rng,
        }
    }

    /// The next arrival (renewal: independent of `t`, which only bounds it from below).
    pub fn next_after(&mut self, t: SimTime) -> Option<SimTime> {
        self.now += if self.started {
            self.gap.gap.sample(&mut self.rng)
        } else {
            self.started = true;
            self.gap.first(&mut self.rng)
        };
        to_time(self.now, t)
    }
}

/// Gamma gaps and the length-biased Gamma the first (forward-recurrence) gap is drawn from.
#[derive(Clone, Copy, Debug)]
struct Gaps {
    gap: Gamma<f64>,
    biased: Gamma<f64>,
}

impl Gaps {
    fn new(rate: f64, cv: f64) -> Self {
        let (shape, scale) = (1.0 / (cv * cv), cv * cv / rate);
        Gaps {
            gap: Gamma::new(shape, scale).expect("rate and cv validated above zero"),
            biased: Gamma::new(shape + 1.0, scale).expect("rate and cv validated above zero"),
        }
    }

    /// The time from an arbitrary instant of a stationary process to its next arrival.
    fn first(&self, rng: &mut Rng) -> f64 {
        let u: f64 = rand::RngExt::random(rng);
        u * self.biased.sample(rng)
    }
}

fn to_time(s: f64, floor: SimTime) -> Option<SimTime> {
    let ns = (s * NANOS_PER_SEC as f64).round();
    if ns >= u64::MAX as f64 {
        return None;
    }
    Some(SimTime((ns as u64).max(floor.0)))
}

/// One window of a rate table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateWindow {
    /// Start, seconds from time zero.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Requests per second.
    pub rate: f64,
    /// Coefficient of variation of gaps (1 is Poisson).
    pub cv: f64,
}

/// Rates over time, read from a rate trace (small: one row per window, not per request).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateTable {
    /// Windows in increasing order of start, not overlapping.
    pub windows: Vec<RateWindow>,
}

impl RateTable {
    /// Expected requests: `Σ rate × width`.
    pub fn expected_requests(&self) -> f64 {
        self.windows
            .iter()
            .map(|w| w.rate * (w.end - w.start))
            .sum()
    }

    /// Keeps `[start, end)` seconds of the table, moves `start` to time zero, divides times by
    /// `speed_up` and multiplies rates by `speed_up × scale`.
    pub fn select(&self, start: f64, end: Option<f64>, speed_up: f64, scale: f64) -> RateTable {
        let end = end.unwrap_or(f64::INFINITY);
        let windows = self
            .windows
            .iter()
            .filter_map(|w| {
                let (a, b) = (w.start.max(start), w.end.min(end));
                (b > a).then(|| RateWindow {
                    start: (a - start) / speed_up,
                    end: (b - start) / speed_up,
                    rate: w.rate * speed_up * scale,
                    cv: w.cv,
                })
            })
            .collect();
        RateTable { windows }
    }
}

/// Arrivals over a rate table: in each window a stationary Gamma renewal process with the
/// window's rate and CV, started afresh (in equilibrium) at the window's start. Simplifications:
/// the process does not carry its phase across windows, and ServeGen's fitted families are
/// replaced by a Gamma of the same CV.
#[derive(Clone, Debug)]
pub struct WindowedRenewal {
    table: RateTable,
    window: usize,
    gap: Option<Gaps>,
    fresh: bool,
    now: f64,
    rng: Rng,
}

impl WindowedRenewal {
    /// A generator over `table` drawing from `rng`.
    pub fn new(table: RateTable, rng: Rng) -> Self {
        let mut g = WindowedRenewal {
            table,
            window: 0,
            gap: None,
            fresh: true,
            now: 0.0,
            rng,
        };
        g.enter(0);
        g
    }

    fn enter(&mut self, w: usize) {
        self.window = w;
        if let Some(win) = self.table.windows.get(w) {
            self.now = win.start;
            self.fresh = true;
            self.gap = (win.rate > 0.0).then(|| Gaps::new(win.rate, win.cv));
        }
    }

    /// The next arrival; `None` after the last window.
    pub fn next_after(&mut self, t: SimTime) -> Option<SimTime> {
        loop {
            let win = *self.table.windows.get(self.window)?;
            if let Some(g) = &self.gap {
                let gap = if self.fresh {
                    self.fresh = false;
                    g.first(&mut self.rng)
                } else {
                    g.gap.sample(&mut self.rng)
                };
                let at = self.now + gap;
                if at < win.end {
                    self.now = at;
                    return to_time(at, t);
                }
            }
            self.enter(self.window + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    /// The CV of the gaps is the one asked for, and the mean gap is `1/rate`.
    #[test]
    fn gap_cv_and_mean() {
        for &cv in &[0.5, 1.0, 2.0, 4.0] {
            let mut g = GammaRenewal::new(10.0, cv, RngStreams::new(4).stream("t"));
            let n = 200_000;
            let mut prev = 0.0;
            let (mut s, mut s2) = (0.0, 0.0);
            let mut t = SimTime::ZERO;
            for _ in 0..n {
                t = g.next_after(t).unwrap();
                let x = g.now - prev;
                prev = g.now;
                s += x;
                s2 += x * x;
            }
            let mean = s / n as f64;
            let sd = (s2 / n as f64 - mean * mean).sqrt();
            assert!((mean * 10.0 - 1.0).abs() < 0.03, "cv {cv}: mean {mean}");
            assert!(
                (sd / mean / cv - 1.0).abs() < 0.05,
                "cv {cv}: {}",
                sd / mean
            );
        }
    }

    /// Started in equilibrium: the mean count in a short interval is `λt` even for a large CV.
    #[test]
    fn stationary_from_time_zero() {
        let (rate, cv, t) = (1.0, 10.0, 5.0);
        let runs = 40_000;
        let mut total = 0u64;
        for i in 0..runs {
            let mut g = GammaRenewal::new(rate, cv, RngStreams::new(i).stream("t"));
            let mut at = SimTime::ZERO;
            loop {
                at = g.next_after(at).unwrap();
                if at.as_secs_f64() >= t {
                    break;
                }
                total += 1;
            }
        }
        let mean = total as f64 / runs as f64;
        // An ordinary renewal process would give about 5 + 49.5.
        assert!((mean / (rate * t) - 1.0).abs() < 0.15, "{mean}");
    }

    #[test]
    fn windows_give_their_counts() {
        let table = RateTable {
            windows: vec![
                RateWindow {
                    start: 0.0,
                    end: 100.0,
                    rate: 20.0,
                    cv: 1.0,
                },
                RateWindow {
                    start: 100.0,
                    end: 200.0,
                    rate: 0.0,
                    cv: 1.0,
                },
                RateWindow {
                    start: 200.0,
                    end: 300.0,
                    rate: 50.0,
                    cv: 2.0,
                },
            ],
        };
        assert_eq!(table.expected_requests(), 7000.0);
        let mut g = WindowedRenewal::new(table.clone(), RngStreams::new(8).stream("t"));
        let mut counts = [0u64; 3];
        let mut t = SimTime::ZERO;
        while let Some(n) = g.next_after(t) {
            t = n;
            counts[(t.as_secs_f64() / 100.0) as usize] += 1;
        }
        assert!((counts[0] as f64 - 2000.0).abs() < 250.0, "{counts:?}");
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f64 - 5000.0).abs() < 900.0, "{counts:?}");
        let half = table.select(50.0, Some(250.0), 2.0, 0.5);
        assert_eq!(
            half.windows[0],
            RateWindow {
                start: 0.0,
                end: 25.0,
                rate: 20.0,
                cv: 1.0
            }
        );
        assert_eq!(half.windows[2].end, 100.0);
    }
}
