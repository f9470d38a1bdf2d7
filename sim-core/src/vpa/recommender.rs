//! The VPA recommender: per-container CPU samples and per-interval memory peaks fed into the
//! Deployment's decaying histograms, OOM bumps, and the estimator chain (percentile, safety
//! margin, confidence, pod minimums) that turns them into a target and bounds
//! (upstream `pkg/recommender/model/`, `pkg/recommender/logic/`).

use super::histogram::{DecayingHistogram, HistogramOptions};

/// Nanoseconds per hour.
const HOUR_NS: i64 = 3_600_000_000_000;
/// Bytes per MiB.
pub const MIB: f64 = 1024.0 * 1024.0;
/// The largest resource amount a recommendation holds (`MaxResourceAmount`).
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;
/// A CPU sample's weight (`minSampleWeight`).
pub const MIN_SAMPLE_WEIGHT: f64 = 0.1;
/// Smallest bucket weight that counts (`0.001 × minSampleWeight`).
pub const EPSILON: f64 = 0.001 * MIN_SAMPLE_WEIGHT;

/// The recommender's flags, upstream defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommenderConfig {
    /// `--recommender-interval` (1 min), nanoseconds.
    pub interval_ns: i64,
    /// `--recommendation-margin-fraction` (0.15).
    pub margin_fraction: f64,
    /// `--pod-recommendation-min-cpu-millicores` (25).
    pub min_cpu_millicores: f64,
    /// `--pod-recommendation-min-memory-mb` (250, MiB).
    pub min_memory_mb: f64,
    /// `--target-cpu-percentile` (0.9).
    pub target_cpu_percentile: f64,
    /// `--recommendation-lower-bound-cpu-percentile` (0.5).
    pub lower_cpu_percentile: f64,
    /// `--recommendation-upper-bound-cpu-percentile` (0.95).
    pub upper_cpu_percentile: f64,
    /// `--target-memory-percentile` (0.9).
    pub target_memory_percentile: f64,
    /// `--recommendation-lower-bound-memory-percentile` (0.5).
    pub lower_memory_percentile: f64,
    /// `--recommendation-upper-bound-memory-percentile` (0.95).
    pub upper_memory_percentile: f64,
    /// `--cpu-histogram-decay-half-life` (24 h), nanoseconds.
    pub cpu_half_life_ns: i64,
    /// `--memory-histogram-decay-half-life` (24 h), nanoseconds.
    pub memory_half_life_ns: i64,
    /// `--memory-aggregation-interval` (24 h), nanoseconds.
    pub memory_interval_ns: i64,
    /// `--oom-bump-up-ratio` (1.2).
    pub oom_bump_ratio: f64,
    /// `--oom-min-bump-up-bytes` (100 MiB).
    pub oom_min_bump_bytes: f64,
    /// The interval the confidence counts samples in (24 h, `--confidence-interval-*`), ns.
    pub confidence_interval_ns: i64,
}

impl Default for RecommenderConfig {
    fn default() -> Self {
        RecommenderConfig {
            interval_ns: 60_000_000_000,
            margin_fraction: 0.15,
            min_cpu_millicores: 25.0,
            min_memory_mb: 250.0,
            target_cpu_percentile: 0.9,
            lower_cpu_percentile: 0.5,
            upper_cpu_percentile: 0.95,
            target_memory_percentile: 0.9,
            lower_memory_percentile: 0.5,
            upper_memory_percentile: 0.95,
            cpu_half_life_ns: 24 * HOUR_NS,
            memory_half_life_ns: 24 * HOUR_NS,
            memory_interval_ns: 24 * HOUR_NS,
            oom_bump_ratio: 1.2,
            oom_min_bump_bytes: 100.0 * MIB,
            confidence_interval_ns: 24 * HOUR_NS,
        }
    }
}

/// The histograms and counters of all containers of one name in the Deployment.
#[derive(Clone, Debug)]
pub struct AggregateState {
    /// CPU usage, cores.
    pub cpu: DecayingHistogram,
    /// Memory peaks, bytes.
    pub memory: DecayingHistogram,
    /// Start of the first CPU sample (ns), if any.
    pub first_sample_ns: Option<i64>,
    /// Start of the last CPU sample (ns).
    pub last_sample_ns: i64,
    /// CPU samples taken.
    pub total_samples: u64,
}

impl AggregateState {
    /// Empty histograms (176 exponential buckets each).
    pub fn new(cfg: &RecommenderConfig) -> Self {
        AggregateState {
            cpu: DecayingHistogram::new(
                HistogramOptions::exponential(1000.0, 0.01, 1.05, EPSILON),
                cfg.cpu_half_life_ns,
            ),
            memory: DecayingHistogram::new(
                HistogramOptions::exponential(1e12, 1e7, 1.05, EPSILON),
                cfg.memory_half_life_ns,
            ),
            first_sample_ns: None,
            last_sample_ns: 0,
            total_samples: 0,
        }
    }

    /// How many days of history back the recommendation (upstream `getConfidence`).
    pub fn confidence(&self, cfg: &RecommenderConfig) -> f64 {
        let Some(first) = self.first_sample_ns else {
            return 0.0;
        };
        let span = (self.last_sample_ns - first) as f64 / cfg.confidence_interval_ns as f64;
        let per_day = cfg.confidence_interval_ns as f64 / 60_000_000_000.0;
        span.min(self.total_samples as f64 / per_day)
    }
}

/// One container's own memory window and its last samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerState {
    last_cpu_sample_ns: Option<i64>,
    last_memory_sample_ns: Option<i64>,
    memory_peak: f64,
    oom_peak: f64,
    window_end_ns: Option<i64>,
}

/// An OOM event older than the current memory window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomTooOld;

impl ContainerState {
    /// A CPU sample of `cores` measured from `start_ns`: kept only if newer than the last.
    pub fn add_cpu(&mut self, agg: &mut AggregateState, cores: f64, start_ns: i64) -> bool {
        if self.last_cpu_sample_ns.is_some_and(|l| start_ns <= l) {
            return false;
        }
        self.last_cpu_sample_ns = Some(start_ns);
        agg.cpu.add_sample(cores, MIN_SAMPLE_WEIGHT, start_ns);
        if agg.first_sample_ns.is_none_or(|f| start_ns < f) {
            agg.first_sample_ns = Some(start_ns);
        }
        agg.last_sample_ns = agg.last_sample_ns.max(start_ns);
        agg.total_samples += 1;
        true
    }

    /// A memory sample: one peak per aggregation interval, added at the window's end.
    pub fn add_memory(
        &mut self,
        agg: &mut AggregateState,
        cfg: &RecommenderConfig,
        bytes: f64,
        ts_ns: i64,
        is_oom: bool,
    ) -> bool {
        if !is_oom && self.last_memory_sample_ns.is_some_and(|l| ts_ns < l) {
            return false;
        }
        self.last_memory_sample_ns = Some(ts_ns);
        let end = *self.window_end_ns.get_or_insert(ts_ns);
        let mut add = false;
        if ts_ns < end {
            let old = self.memory_peak.max(self.oom_peak);
            if old != 0.0 && bytes > old {
                agg.memory.subtract_sample(old, 1.0, end);
                add = true;
            }
        } else {
            let i = cfg.memory_interval_ns;
            let shift = (ts_ns - end) / i * i + i;
            self.window_end_ns = Some(end + shift);
            self.memory_peak = 0.0;
            self.oom_peak = 0.0;
            add = true;
        }
        if add {
            let end = self.window_end_ns.expect("set above");
            agg.memory.add_sample(bytes, 1.0, end);
            if is_oom {
                self.oom_peak = bytes;
            } else {
                self.memory_peak = bytes;
            }
        }
        add
    }

    /// An OOM kill at `ts_ns` of a container that requested `request` bytes: a memory sample
    /// of `max(used + 100 MiB, used × 1.2)`, `used` the larger of the request and the peak.
    pub fn record_oom(
        &mut self,
        agg: &mut AggregateState,
        cfg: &RecommenderConfig,
        ts_ns: i64,
        request: f64,
    ) -> Result<bool, OomTooOld> {
        if self
            .last_memory_sample_ns
            .is_some_and(|l| ts_ns < l - cfg.memory_interval_ns)
        {
            return Err(OomTooOld);
        }
        let used = request.max(self.memory_peak);
        let needed = (used + cfg.oom_min_bump_bytes).max(used * cfg.oom_bump_ratio);
        Ok(self.add_memory(agg, cfg, needed, ts_ns, true))
    }
}

/// CPU in millicores and memory in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub memory: i64,
}

/// A recommendation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// What pods should request.
    pub target: Amounts,
    /// Requests below this are too low.
    pub lower: Amounts,
    /// Requests above this are too high.
    pub upper: Amounts,
}

/// A float amount as an integer amount, truncated and capped (`resourceAmountFromFloat`).
fn amount(x: f64) -> i64 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= MAX_RESOURCE_AMOUNT as f64 {
        MAX_RESOURCE_AMOUNT
    } else {
        x as i64
    }
}

/// `ScaleResource`: `a × f`, truncated and capped.
fn scale(a: i64, f: f64) -> i64 {
    amount(a as f64 * f)
}

/// The estimator chain for one percentile pair, margin, confidence multiplier and minimums.
fn estimate(
    agg: &AggregateState,
    cfg: &RecommenderConfig,
    (pc, pm): (f64, f64),
    confidence_mult: Option<(f64, f64)>,
    containers: u32,
) -> Amounts {
    let base = Amounts {
        cpu: amount(agg.cpu.percentile(pc) * 1000.0),
        memory: amount(agg.memory.percentile(pm)),
    };
    let with_margin = |a: i64| {
        a.saturating_add(scale(a, cfg.margin_fraction))
            .min(MAX_RESOURCE_AMOUNT)
    };
    let mut a = Amounts {
        cpu: with_margin(base.cpu),
        memory: with_margin(base.memory),
    };
    if let Some((mult, exp)) = confidence_mult {
        let c = agg.confidence(cfg);
        let f = (1.0 + mult / c).powf(exp);
        a = Amounts {
            cpu: scale(a.cpu, f),
            memory: scale(a.memory, f),
        };
    }
    let n = containers.max(1) as f64;
    Amounts {
        cpu: a
            .cpu
            .max(amount(cfg.min_cpu_millicores / 1000.0 / n * 1000.0)),
        memory: a.memory.max(amount(cfg.min_memory_mb * MIB / n)),
    }
}

/// The recommendation from an aggregate (upstream `CreatePodResourceRecommender`).
pub fn recommend(agg: &AggregateState, cfg: &RecommenderConfig, containers: u32) -> Recommendation {
    Recommendation {
        target: estimate(
            agg,
            cfg,
            (cfg.target_cpu_percentile, cfg.target_memory_percentile),
            None,
            containers,
        ),
        lower: estimate(
            agg,
            cfg,
            (cfg.lower_cpu_percentile, cfg.lower_memory_percentile),
            Some((0.001, -2.0)),
            containers,
        ),
        upper: estimate(
            agg,
            cfg,
            (cfg.upper_cpu_percentile, cfg.upper_memory_percentile),
            Some((1.0, 1.0)),
            containers,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn confidence_multiplier_as_upstream() {
        // TestConfidenceMultiplier: 9 CPU samples 2 min apart: confidence min(16 min/24 h,
        // 9/1440) = 0.00625; 3.14 × (1 + 0.1/0.00625)^2 = 907.46.
        let cfg = RecommenderConfig::default();
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        for i in 0..9 {
            assert!(c.add_cpu(&mut agg, 1.0, i * 2 * MIN));
        }
        assert!((agg.confidence(&cfg) - 0.00625).abs() < 1e-12);
        let f = (1.0f64 + 0.1 / agg.confidence(&cfg)).powf(2.0);
        let base = 314.0 / 100.0; // the upstream test's 3.14 cores
        assert!((base * f - 907.46).abs() < 1e-6);
        // No history: confidence 0, upper bound capped, lower bound 0 (before minimums).
        let empty = AggregateState::new(&cfg);
        assert_eq!(empty.confidence(&cfg), 0.0);
        assert_eq!(
            scale(3140, (1.0f64 + 1.0 / 0.0).powf(1.0)),
            MAX_RESOURCE_AMOUNT
        );
        assert_eq!(scale(3140, (1.0f64 + 0.001 / 0.0).powf(-2.0)), 0);
    }

    #[test]
    fn confidence_with_an_18_minute_interval() {
        // TestConfidenceMultiplierWithCustomInterval: 9 samples over 16 min, interval 18 min.
        let cfg = RecommenderConfig {
            confidence_interval_ns: 18 * MIN,
            ..RecommenderConfig::default()
        };
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        for i in 0..9 {
            c.add_cpu(&mut agg, 1.0, i * 2 * MIN);
        }
        assert!(
            (agg.confidence(&cfg) - 0.5).abs() < 1e-12,
            "{}",
            agg.confidence(&cfg)
        );
        // 3.14 cores × (1 + 0.1/0.5)^2 = 4.5216 -> 4521 millicores (truncated).
        assert_eq!(scale(3140, (1.0f64 + 0.1 / 0.5).powf(2.0)), 4521);
    }

    #[test]
    fn margin_truncates() {
        // TestMarginEstimator with margin 0.1: 3.14 cores -> 3.454; 3.14e9 bytes -> 3.454e9.
        let m = |a: i64| a + scale(a, 0.1);
        assert_eq!(m(3140), 3454);
        assert_eq!(m(3_140_000_000), 3_454_000_000);
    }

    #[test]
    fn minimums_apply_and_split_across_containers() {
        let cfg = RecommenderConfig::default();
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        c.add_cpu(&mut agg, 0.001, 0);
        c.add_memory(&mut agg, &cfg, 1e6, 0, false);
        let r = recommend(&agg, &cfg, 1);
        assert_eq!(
            r.target,
            Amounts {
                cpu: 25,
                memory: 250 << 20
            }
        );
        let r = recommend(&agg, &cfg, 2);
        assert_eq!(
            r.target,
            Amounts {
                cpu: 12,
                memory: 125 << 20
            }
        );
    }

    #[test]
    fn oom_bumps_as_upstream() {
        let cfg = RecommenderConfig::default();
        let mi = |x: f64| x * MIB;
        // TestRecordOOMIncreasedByBumpUp: 1000Mi -> 1200Mi at WindowEnd = t + 24 h.
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        assert_eq!(c.record_oom(&mut agg, &cfg, 0, mi(1000.0)), Ok(true));
        assert_eq!(c.oom_peak, mi(1200.0));
        assert_eq!(c.window_end_ns, Some(24 * 60 * MIN));
        // TestRecordOOMIncreasedByMin: 1Mi -> 101Mi.
        let mut c = ContainerState::default();
        c.record_oom(&mut agg, &cfg, 0, mi(1.0)).unwrap();
        assert_eq!(c.oom_peak, mi(101.0));
        // TestRecordOOMMaxedWithKnownSample: usage 3000Mi then OOM(1000Mi) -> 3600Mi.
        let mut c = ContainerState::default();
        c.add_memory(&mut agg, &cfg, mi(3000.0), 0, false);
        c.record_oom(&mut agg, &cfg, MIN, mi(1000.0)).unwrap();
        assert_eq!(c.oom_peak, mi(3600.0));
        // TestRecordOOMDontRunAway: 1000 -> 1200; 999 twice: no change; 2000 -> 2400.
        let mut c = ContainerState::default();
        c.record_oom(&mut agg, &cfg, 0, mi(1000.0)).unwrap();
        assert_eq!(c.record_oom(&mut agg, &cfg, 0, mi(999.0)), Ok(false));
        assert_eq!(c.record_oom(&mut agg, &cfg, 0, mi(999.0)), Ok(false));
        assert_eq!(c.oom_peak, mi(1200.0));
        assert_eq!(c.record_oom(&mut agg, &cfg, 0, mi(2000.0)), Ok(true));
        assert_eq!(c.oom_peak, mi(2400.0));
        // TestRecordOOMDiscardsOldSample: a sample at t, an OOM at t − 30 h: too old.
        let t = 100 * 60 * MIN;
        let mut c = ContainerState::default();
        c.add_memory(&mut agg, &cfg, mi(1000.0), t, false);
        assert_eq!(
            c.record_oom(&mut agg, &cfg, t - 30 * 60 * MIN, mi(1000.0)),
            Err(OomTooOld)
        );
        // TestRecordOOMInNewWindow: 2000Mi at t (window end t+24h); OOM at t+48h -> 2400Mi
        // (1.2 × the old peak) at the new window's end, t+72h.
        let mut c = ContainerState::default();
        c.add_memory(&mut agg, &cfg, mi(2000.0), t, false);
        assert_eq!(c.window_end_ns, Some(t + 24 * 60 * MIN));
        c.record_oom(&mut agg, &cfg, t + 48 * 60 * MIN, mi(1000.0))
            .unwrap();
        assert_eq!(c.window_end_ns, Some(t + 72 * 60 * MIN));
        assert_eq!(c.oom_peak, mi(2400.0));
    }

    #[test]
    fn memory_keeps_one_peak_per_window() {
        let cfg = RecommenderConfig::default();
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        c.add_memory(&mut agg, &cfg, 1e9, 0, false);
        c.add_memory(&mut agg, &cfg, 3e9, MIN, false);
        c.add_memory(&mut agg, &cfg, 2e9, 2 * MIN, false);
        // One sample (3e9) remains: every percentile is its bucket's end, near 3e9.
        let p = agg.memory.percentile(0.1);
        assert!((3e9..3e9 * 1.06).contains(&p), "{p}");
    }

    #[test]
    fn steady_usage_recommends_usage_plus_margin() {
        let cfg = RecommenderConfig::default();
        let mut agg = AggregateState::new(&cfg);
        let mut c = ContainerState::default();
        for i in 0..600 {
            c.add_cpu(&mut agg, 0.5, i * MIN);
            c.add_memory(&mut agg, &cfg, 2e9, i * MIN, false);
        }
        let r = recommend(&agg, &cfg, 1);
        // The bucket holding 0.5 cores ends within 5% above it; then +15%.
        let cpu = r.target.cpu as f64;
        assert!(
            (500.0 * 1.15..=500.0 * 1.05 * 1.15 + 1.0).contains(&cpu),
            "{cpu}"
        );
        assert!(r.lower.cpu <= r.target.cpu && r.target.cpu <= r.upper.cpu);
        let mem = r.target.memory as f64;
        assert!((2e9 * 1.15..=2e9 * 1.05 * 1.15).contains(&mem), "{mem}");
    }
}
