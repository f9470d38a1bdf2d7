//! `TimedFloat64Buckets`: values summed into fixed-width time buckets over a window, and their
//! window average as the KPA reads it.

/// A ring of `window / granularity` buckets (rounded up). Times are nanoseconds from any epoch.
#[derive(Clone, Debug)]
pub struct WindowBuckets {
    granularity: i64,
    buckets: Vec<f64>,
    total: f64,
    /// Bucket indices (time / granularity) of the first and the last write.
    first: Option<i64>,
    last: i64,
}

/// `roundToNDigits(6, x)`: upstream floors window averages to six decimals.
fn floor6(x: f64) -> f64 {
    (x * 1e6).floor() / 1e6
}

impl WindowBuckets {
    /// Buckets of width `granularity` covering `window` (both nanoseconds, positive).
    pub fn new(window: i64, granularity: i64) -> WindowBuckets {
        let granularity = granularity.max(1);
        let n = (window.max(1) as u64).div_ceil(granularity as u64).max(1) as usize;
        WindowBuckets {
            granularity,
            buckets: vec![0.0; n],
            total: 0.0,
            first: None,
            last: 0,
        }
    }

    fn len(&self) -> i64 {
        self.buckets.len() as i64
    }

    fn slot(&self, idx: i64) -> usize {
        idx.rem_euclid(self.len()) as usize
    }

    /// Adds `value` to the bucket holding `now`. Values older than the window are ignored.
    pub fn record(&mut self, now: i64, value: f64) {
        let idx = now.div_euclid(self.granularity);
        let n = self.len();
        match self.first {
            None => {
                self.first = Some(idx);
                self.last = idx;
            }
            Some(_) if idx + n <= self.last => return,
            Some(_) if idx > self.last => {
                if idx - self.last >= n {
                    // Nothing written for a whole window: start afresh.
                    self.buckets.iter_mut().for_each(|b| *b = 0.0);
                    self.total = 0.0;
                    self.first = Some(idx);
                } else {
                    for i in self.last + 1..=idx {
                        let s = self.slot(i);
                        self.total -= self.buckets[s];
                        self.buckets[s] = 0.0;
                    }
                }
                self.last = idx;
            }
            Some(f) if idx < f => self.first = Some(idx),
            Some(_) => {}
        }
        let s = self.slot(idx);
        self.buckets[s] += value;
        self.total += value;
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The average over the window ending at `now`: the sum of the buckets still in the window
    /// divided by the buckets since the first write (at most the window's); 0 when nothing was
    /// written for a whole window. Floored to six decimals as upstream.
    pub fn window_average(&self, now: i64) -> f64 {
        let Some(first) = self.first else { return 0.0 };
        let idx = now.div_euclid(self.granularity);
        let n = self.len();
        let d = idx - self.last;
        let written = self.last - first + 1;
        if d <= 0 {
            floor6(self.total / written.min(n) as f64)
        } else if d < n {
            let mut ret = self.total;
            for i in self.last + 1..=idx {
                ret -= self.buckets[self.slot(i)];
            }
            floor6(ret / written.min(n - d) as f64)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn averages_over_buckets_since_the_first_write() {
        let mut b = WindowBuckets::new(60 * S, S);
        b.record(0, 10.0);
        b.record(S, 20.0);
        b.record(S + 1, 10.0); // same bucket: summed
        assert_eq!(b.window_average(S), 20.0); // (10 + 30) / 2
        for t in 2..60 {
            b.record(t * S, 0.0);
        }
        assert_eq!(b.window_average(59 * S), 40.0 / 60.0 - (40.0 / 60.0) % 1e-6);
        b.record(60 * S, 0.0); // bucket 0 drops out
        assert_eq!(b.window_average(60 * S), 0.5);
    }

    #[test]
    fn stale_buckets_leave_the_average_and_a_silent_window_reads_zero() {
        let mut b = WindowBuckets::new(6 * S, S);
        for t in 0..6 {
            b.record(t * S, 6.0);
        }
        assert_eq!(b.window_average(5 * S), 6.0);
        // Two seconds without writes: the two oldest buckets leave, the rest average.
        assert_eq!(b.window_average(7 * S), 6.0);
        assert_eq!(b.window_average(11 * S), 0.0);
        b.record(20 * S, 3.0); // a new start after a silent window
        assert_eq!(b.window_average(20 * S), 3.0);
    }
}
