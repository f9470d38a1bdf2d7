//! The VPA recommender's histograms: exponential or linear buckets, weights that decay with a
//! half-life, and percentiles that return the end of the bucket the percentile falls in
//! (upstream `pkg/recommender/util/histogram.go`, `decaying_histogram.go`).

/// Bucket layout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Buckets {
    /// Bucket `n` starts at `first × (ratio^n − 1) / (ratio − 1)`.
    Exponential {
        /// Size of the first bucket.
        first: f64,
        /// Each bucket is this much larger than the one before.
        ratio: f64,
    },
    /// Buckets of equal size.
    Linear {
        /// Size of each bucket.
        size: f64,
    },
}

/// A histogram's bucket layout, bucket count and smallest weight that counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramOptions {
    buckets: Buckets,
    num_buckets: usize,
    epsilon: f64,
}

impl HistogramOptions {
    /// Exponential buckets up to `max`, the first of size `first`.
    pub fn exponential(max: f64, first: f64, ratio: f64, epsilon: f64) -> Self {
        let n = ((max * (ratio - 1.0) / first + 1.0).ln() / ratio.ln()).ceil() as usize + 1;
        HistogramOptions {
            buckets: Buckets::Exponential { first, ratio },
            num_buckets: n,
            epsilon,
        }
    }

    /// Linear buckets of `size` up to `max`.
    pub fn linear(max: f64, size: f64, epsilon: f64) -> Self {
        HistogramOptions {
            buckets: Buckets::Linear { size },
            num_buckets: (max / size).ceil() as usize + 1,
            epsilon,
        }
    }

    /// Buckets.
    pub fn num_buckets(&self) -> usize {
        self.num_buckets
    }

    /// Where bucket `n` starts.
    pub fn bucket_start(&self, n: usize) -> f64 {
        match self.buckets {
            Buckets::Exponential { first, ratio } => {
                if n == 0 {
                    0.0
                } else {
                    first * (ratio.powi(n as i32) - 1.0) / (ratio - 1.0)
                }
            }
            Buckets::Linear { size } => n as f64 * size,
        }
    }

    /// The bucket `v` falls in (the last for values beyond it).
    pub fn find_bucket(&self, v: f64) -> usize {
        let b = match self.buckets {
            Buckets::Exponential { first, ratio } => {
                if v < first {
                    return 0;
                }
                ((v * (ratio - 1.0) / first + 1.0).ln() / ratio.ln()) as usize
            }
            Buckets::Linear { size } => {
                if v < 0.0 {
                    return 0;
                }
                (v / size) as usize
            }
        };
        b.min(self.num_buckets - 1)
    }
}

/// `a − b`, or 0 when that is below `eps`.
fn safe_sub(a: f64, b: f64, eps: f64) -> f64 {
    let r = a - b;
    if r < eps {
        0.0
    } else {
        r
    }
}

/// Weights per bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    opts: HistogramOptions,
    weights: Vec<f64>,
    total: f64,
    min_bucket: usize,
    max_bucket: usize,
}

impl Histogram {
    /// An empty histogram.
    pub fn new(opts: HistogramOptions) -> Self {
        Histogram {
            opts,
            weights: vec![0.0; opts.num_buckets],
            total: 0.0,
            min_bucket: opts.num_buckets - 1,
            max_bucket: 0,
        }
    }

    /// Adds `w` to the bucket of `v`.
    pub fn add_sample(&mut self, v: f64, w: f64) {
        let b = self.opts.find_bucket(v);
        self.weights[b] += w;
        self.total += w;
        if b < self.min_bucket && self.weights[b] >= self.opts.epsilon {
            self.min_bucket = b;
        }
        if b > self.max_bucket && self.weights[b] >= self.opts.epsilon {
            self.max_bucket = b;
        }
    }

    /// Takes `w` from the bucket of `v`.
    pub fn subtract_sample(&mut self, v: f64, w: f64) {
        let b = self.opts.find_bucket(v);
        let eps = self.opts.epsilon;
        self.total = safe_sub(self.total, w, eps);
        self.weights[b] = safe_sub(self.weights[b], w, eps);
        self.update_min_max();
    }

    fn update_min_max(&mut self) {
        let last = self.opts.num_buckets - 1;
        while self.weights[self.min_bucket] < self.opts.epsilon && self.min_bucket < last {
            self.min_bucket += 1;
        }
        while self.weights[self.max_bucket] < self.opts.epsilon && self.max_bucket > 0 {
            self.max_bucket -= 1;
        }
    }

    /// Multiplies every weight by `factor`.
    pub fn scale(&mut self, factor: f64) {
        for w in &mut self.weights {
            *w *= factor;
        }
        self.total *= factor;
        self.update_min_max();
    }

    /// Whether no bucket holds a weight that counts.
    pub fn is_empty(&self) -> bool {
        self.weights[self.min_bucket] < self.opts.epsilon
    }

    /// The end of the bucket where the cumulative weight first reaches `p` of the total (the
    /// last bucket's start for the last bucket); 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let threshold = p * self.total;
        let mut partial = 0.0;
        let mut b = self.min_bucket;
        while b < self.max_bucket {
            partial += self.weights[b];
            if partial >= threshold {
                break;
            }
            b += 1;
        }
        if b < self.opts.num_buckets - 1 {
            self.opts.bucket_start(b + 1)
        } else {
            self.opts.bucket_start(b)
        }
    }
}

/// Most half-lives between the reference time and a sample before the weights are renormalised.
const MAX_DECAY_EXPONENT: i64 = 100;

/// A histogram whose samples weigh `2^((t − reference) / halfLife)`: newer samples count more.
#[derive(Clone, Debug, PartialEq)]
pub struct DecayingHistogram {
    hist: Histogram,
    half_life_ns: i64,
    reference_ns: i64,
}

impl DecayingHistogram {
    /// An empty histogram with the given half-life (nanoseconds); the reference time is zero.
    pub fn new(opts: HistogramOptions, half_life_ns: i64) -> Self {
        DecayingHistogram {
            hist: Histogram::new(opts),
            half_life_ns,
            reference_ns: 0,
        }
    }

    fn decay_factor(&mut self, t_ns: i64) -> f64 {
        let max_allowed = self.reference_ns + self.half_life_ns * MAX_DECAY_EXPONENT;
        if t_ns > max_allowed {
            // Shift the reference to `t` rounded to a whole half-life, rescaling the weights.
            let h = self.half_life_ns;
            let new_ref = (t_ns + h / 2).div_euclid(h) * h;
            let exponent = ((self.reference_ns - new_ref) as f64 / h as f64).round();
            self.hist.scale(exponent.exp2());
            self.reference_ns = new_ref;
        }
        ((t_ns - self.reference_ns) as f64 / self.half_life_ns as f64).exp2()
    }

    /// Adds a sample of `v` with weight `w` at time `t_ns`.
    pub fn add_sample(&mut self, v: f64, w: f64, t_ns: i64) {
        let f = self.decay_factor(t_ns);
        self.hist.add_sample(v, w * f);
    }

    /// Takes back a sample of `v` with weight `w` added at time `t_ns`.
    pub fn subtract_sample(&mut self, v: f64, w: f64, t_ns: i64) {
        let f = self.decay_factor(t_ns);
        self.hist.subtract_sample(v, w * f);
    }

    /// The percentile `p` (see [`Histogram::percentile`]).
    pub fn percentile(&self, p: f64) -> f64 {
        self.hist.percentile(p)
    }

    /// Whether it holds no weight that counts.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn exponential_options_as_upstream() {
        let o = HistogramOptions::exponential(500.0, 40.0, 1.5, 0.001);
        assert_eq!(o.num_buckets(), 6);
        let starts: Vec<f64> = (0..6).map(|n| o.bucket_start(n)).collect();
        let want = [0.0, 40.0, 100.0, 190.0, 325.0, 527.5];
        for (a, b) in starts.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{starts:?}");
        }
        for (v, b) in [(-1.0, 0), (39.99, 0), (40.0, 1), (100.0, 2), (900.0, 5)] {
            assert_eq!(o.find_bucket(v), b, "{v}");
        }
    }

    #[test]
    fn linear_options_as_upstream() {
        let o = HistogramOptions::linear(5.0, 0.3, 0.001);
        assert_eq!(o.num_buckets(), 18);
        assert!((o.bucket_start(17) - 5.1).abs() < 1e-9);
        for (v, b) in [(-1.0, 0), (0.0, 0), (1.3, 4), (100.0, 17)] {
            assert_eq!(o.find_bucket(v), b, "{v}");
        }
    }

    #[test]
    fn vpa_histograms_have_176_buckets() {
        let cpu = HistogramOptions::exponential(1000.0, 0.01, 1.05, 1e-4);
        let mem = HistogramOptions::exponential(1e12, 1e7, 1.05, 1e-4);
        assert_eq!((cpu.num_buckets(), mem.num_buckets()), (176, 176));
    }

    #[test]
    fn percentile_is_the_end_of_the_bucket() {
        // TestPercentileEstimator: samples 1, 2, 3 cores of weight 1: P20 about 1.0 (±5%).
        let mut h = Histogram::new(HistogramOptions::exponential(1000.0, 0.01, 1.05, 1e-4));
        for v in [1.0, 2.0, 3.0] {
            h.add_sample(v, 1.0);
        }
        let p = h.percentile(0.2);
        assert!((p - 1.0).abs() <= 0.05, "{p}");
        let mut m = Histogram::new(HistogramOptions::exponential(1e12, 1e7, 1.05, 1e-4));
        for v in [1e9, 2e9, 3e9] {
            m.add_sample(v, 1.0);
        }
        let p = m.percentile(0.5);
        assert!((p - 2e9).abs() <= 0.05 * 2e9, "{p}");
        assert_eq!(
            Histogram::new(HistogramOptions::linear(10.0, 1.0, 1e-4)).percentile(0.5),
            0.0
        );
    }

    #[test]
    fn subtracting_everything_empties_it() {
        let mut h = Histogram::new(HistogramOptions::linear(10.0, 1.0, 1e-4));
        h.add_sample(3.0, 1.0);
        h.add_sample(5.0, 2.0);
        h.subtract_sample(5.0, 2.0);
        assert_eq!(h.percentile(1.0), 4.0);
        h.subtract_sample(3.0, 1.0);
        assert!(h.is_empty());
    }

    #[test]
    fn simple_decay() {
        // TestSimpleDecay: half-life 1 h; 2 with weight 1000 at t0, 1 with weight 1 at t0+20h.
        let mut h = DecayingHistogram::new(HistogramOptions::linear(10.0, 1.0, 1e-4), H);
        h.add_sample(2.0, 1000.0, 0);
        h.add_sample(1.0, 1.0, 20 * H);
        assert_eq!(h.percentile(0.999), 2.0);
        assert_eq!(h.percentile(1.0), 3.0);
    }

    #[test]
    fn decaying_percentiles() {
        // TestDecayingHistogramPercentiles: value i with weight i, one hour apart.
        let mut h = DecayingHistogram::new(HistogramOptions::linear(10.0, 1.0, 1e-4), H);
        for i in 1..=4 {
            h.add_sample(i as f64, i as f64, (i - 1) * H);
        }
        for (p, want) in [
            (0.0, 2.0),
            (0.02, 2.0),
            (0.03, 3.0),
            (0.10, 3.0),
            (0.11, 4.0),
            (0.34, 4.0),
            (0.35, 5.0),
            (1.0, 5.0),
        ] {
            assert_eq!(h.percentile(p), want, "P{p}");
        }
    }

    #[test]
    fn long_term_decay_renormalises() {
        // TestLongtermDecay: 2 at t0, 1 at t0+101h: the old sample decays to nothing.
        let mut h = DecayingHistogram::new(HistogramOptions::linear(10.0, 1.0, 1e-4), H);
        h.add_sample(2.0, 1.0, 0);
        h.add_sample(1.0, 1.0, 101 * H);
        assert_eq!(h.percentile(1.0), 2.0);
    }
}
