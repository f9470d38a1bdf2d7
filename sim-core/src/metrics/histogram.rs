//! A mergeable log-linear histogram of nanosecond values with at most 0.8% relative error.
//!
//! Values below 128 ns are kept exactly; above, each power of two is split into 64 equal buckets,
//! so a bucket's midpoint is within 1/128 of any value in it. Memory is fixed (32 KiB)
//! whatever the number of values, and two histograms merge by adding counts.

const SUB_BITS: u32 = 6; // 64 sub-buckets per power of two
const SUB: u64 = 1 << SUB_BITS;
const EXACT: u64 = 2 * SUB; // values below this are their own bucket
const BUCKETS: usize = (EXACT + (63 - SUB_BITS as u64 - 1) * SUB + SUB) as usize;
/// Counts kept: a power of two, so that masking an index (below [`BUCKETS`]) with `SLOTS - 1`
/// shows it in bounds without a check.
const SLOTS: usize = BUCKETS.next_power_of_two();

/// Latency histogram over `u64` nanoseconds.
///
/// The range of buckets in use is not kept: it runs from the bucket of the smallest value to that
/// of the largest ([`index_of`] is monotonic), so recording a value only updates its bucket, the
/// count, the sum, the minimum and the maximum.
#[derive(Clone, Debug)]
pub struct LogHistogram {
    counts: Box<[u64; SLOTS]>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn index_of(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= 7
    let shift = msb - SUB_BITS;
    let sub = v >> shift; // in [64, 128)
    (EXACT + (shift as u64 - 1) * SUB + (sub - SUB)) as usize
}

/// The smallest value and the width of bucket `i`.
#[inline]
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < EXACT {
        return (i, 1);
    }
    let j = i - EXACT;
    let shift = j / SUB + 1;
    let sub = j % SUB + SUB;
    (sub << shift, 1u64 << shift)
}

impl LogHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LogHistogram {
            counts: vec![0; SLOTS]
                .into_boxed_slice()
                .try_into()
                .expect("SLOTS counts"),
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// The buckets in use: from the smallest value's to the largest's (without values, the last
    /// bucket to the first: empty to iterate, not to slice).
    #[inline]
    fn used(&self) -> std::ops::RangeInclusive<usize> {
        index_of(self.min)..=index_of(self.max)
    }

    /// Adds one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index_of(v) & (SLOTS - 1)] += 1;
        self.total += 1;
        self.sum += v as u128;
        // Rarely a new extreme: stored only then.
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LogHistogram) {
        if other.total == 0 {
            return;
        }
        for i in other.used() {
            self.counts[i] += other.counts[i];
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Empties the histogram; costs only the range of buckets used.
    pub fn clear(&mut self) {
        if self.total > 0 {
            let used = self.used();
            self.counts[used].fill(0);
        }
        self.total = 0;
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean of the values (not bucketed), or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum as f64 / self.total as f64)
    }

    /// Exact sum of the values.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Smallest value recorded.
    pub fn min(&self) -> Option<u64> {
        (self.total > 0).then_some(self.min)
    }

    /// Largest value recorded.
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) by nearest rank: the midpoint of the bucket holding the
    /// ⌈q·n⌉-th smallest value, clamped to the observed range; the smallest and largest ranks give
    /// the exact minimum and maximum. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == 1 {
            return Some(self.min);
        }
        if rank == self.total {
            return Some(self.max);
        }
        let mut seen = 0;
        for i in self.used() {
            seen += self.counts[i];
            if seen >= rank {
                let (low, width) = bucket_range(i);
                let mid = low + (width - 1) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Fraction of values at or below `v` (bucket resolution: values sharing `v`'s bucket count
    /// as at or below it).
    pub fn fraction_at_or_below(&self, v: u64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let used = self.used();
        let iv = index_of(v);
        let n: u64 = if iv < *used.start() {
            0
        } else {
            self.counts[*used.start()..=iv.min(*used.end())]
                .iter()
                .sum()
        };
        Some(n as f64 / self.total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_line() {
        let mut expected_low = 0u64;
        for i in 0..BUCKETS {
            let (low, width) = bucket_range(i);
            assert_eq!(low, expected_low, "bucket {i}");
            assert_eq!(index_of(low), i);
            assert_eq!(index_of(low + (width - 1)), i);
            expected_low = low.wrapping_add(width);
        }
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn exact_mean_and_quantiles() {
        let mut h = LogHistogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1_000_000);
        }
        assert_eq!(h.mean().unwrap(), 500.5e6);
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p99 / 990e6 - 1.0).abs() < 0.01, "{p99}");
        assert_eq!(h.quantile(1.0), Some(1_000_000_000));
        assert_eq!(h.quantile(0.0), Some(1_000_000));
    }

    #[test]
    fn clear_and_merge() {
        let mut a = LogHistogram::new();
        let mut b = LogHistogram::new();
        a.record(5);
        b.record(5_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.max(), Some(5_000_000));
        a.clear();
        assert_eq!(a.count(), 0);
        assert!(a.counts.iter().all(|&c| c == 0));
        // Empty ones too.
        a.clear();
        a.merge(&LogHistogram::new());
        assert_eq!(
            (a.count(), a.quantile(0.5), a.fraction_at_or_below(9)),
            (0, None, None)
        );
    }

    proptest! {
        #[test]
        fn relative_error_below_one_percent(v in 1u64..u64::MAX / 2) {
            let mut h = LogHistogram::new();
            h.record(v);
            h.record(v); // min == max would clamp; use the bucket directly too
            let (low, width) = bucket_range(index_of(v));
            let mid = low + (width - 1) / 2;
            let err = (mid as f64 - v as f64).abs() / v as f64;
            prop_assert!(err <= 0.01, "v={} mid={} err={}", v, mid, err);
        }

        #[test]
        fn used_buckets_run_from_the_smallest_to_the_largest(
            xs in proptest::collection::vec(0u64..1u64 << 40, 1..100),
        ) {
            let mut h = LogHistogram::new();
            for &x in &xs { h.record(x); }
            let used = h.used();
            let (lo, hi) = (*used.start(), *used.end());
            prop_assert!(h.counts[lo] > 0 && h.counts[hi] > 0);
            prop_assert!(h.counts[..lo].iter().chain(&h.counts[hi + 1..]).all(|&c| c == 0));
            prop_assert_eq!(h.counts[used].iter().sum::<u64>(), h.count());
            h.clear();
            prop_assert!(h.counts.iter().all(|&c| c == 0));
            prop_assert_eq!(h.quantile(0.5), None);
        }

        #[test]
        fn merge_equals_recording_both(xs in proptest::collection::vec(0u64..1u64 << 40, 0..100),
                                       ys in proptest::collection::vec(0u64..1u64 << 40, 0..100)) {
            let mut a = LogHistogram::new();
            let mut b = LogHistogram::new();
            let mut all = LogHistogram::new();
            for &x in &xs { a.record(x); all.record(x); }
            for &y in &ys { b.record(y); all.record(y); }
            a.merge(&b);
            for q in [0.1, 0.5, 0.9, 0.99] {
                prop_assert_eq!(a.quantile(q), all.quantile(q));
            }
            prop_assert_eq!(a.sum(), all.sum());
        }
    }
}
