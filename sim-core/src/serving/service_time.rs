//! Batch service times: a mean `base + per_item × batch`, drawn from a chosen distribution.

use crate::engine::{Rng, SimDuration};
use crate::scenario::{Distribution as Family, ServiceTimeSpec};
use rand_distr::{Distribution, Exp1, Gamma, LogNormal};

/// A unit-mean random factor; the service time is the mean times this factor.
#[derive(Clone, Copy, Debug)]
enum UnitShape {
    One,
    Exp,
    LogNormal(LogNormal<f64>),
    Gamma(Gamma<f64>),
}

/// Samples batch service times.
#[derive(Clone, Debug)]
pub struct ServiceTime {
    base_ns: f64,
    per_item_ns: f64,
    /// Mean of a batch of `i + 1`, when from a profile (shared by every replica's sampler).
    curve: std::sync::Arc<[SimDuration]>,
    shape: UnitShape,
}

impl ServiceTime {
    /// A sampler for `spec`. The spec is validated, so the distributions always build.
    pub fn new(spec: &ServiceTimeSpec) -> Self {
        let shape = match spec.distribution {
            Family::Deterministic => UnitShape::One,
            Family::Exponential => UnitShape::Exp,
            Family::Lognormal { cv } => {
                let sigma2 = (1.0 + cv * cv).ln();
                UnitShape::LogNormal(
                    LogNormal::new(-sigma2 / 2.0, sigma2.sqrt()).expect("validated cv"),
                )
            }
            Family::Gamma { cv } => {
                let k = 1.0 / (cv * cv);
                UnitShape::Gamma(Gamma::new(k, 1.0 / k).expect("validated cv"))
            }
        };
        ServiceTime {
            base_ns: spec.base.0 as f64,
            per_item_ns: spec.per_item.0 as f64,
            curve: spec.curve.clone(),
            shape,
        }
    }

    #[inline]
    fn mean_ns(&self, n: u32) -> f64 {
        match self.curve.len() {
            0 => self.base_ns + self.per_item_ns * n as f64,
            len => self.curve[(n.max(1) as usize).min(len) - 1].0 as f64,
        }
    }

    /// Mean service time of a batch of `n`.
    pub fn mean(&self, n: u32) -> SimDuration {
        SimDuration(self.mean_ns(n).round() as u64)
    }

    /// One draw for a batch of `n` (at least one nanosecond).
    #[inline]
    pub fn sample(&self, n: u32, rng: &mut Rng) -> SimDuration {
        let mean = self.mean_ns(n);
        let factor = match &self.shape {
            UnitShape::One => 1.0,
            UnitShape::Exp => Exp1.sample(rng),
            UnitShape::LogNormal(d) => d.sample(rng),
            UnitShape::Gamma(d) => d.sample(rng),
        };
        SimDuration(((mean * factor).round() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn replicas_share_one_batch_time_table() {
        let spec = ServiceTimeSpec {
            distribution: Family::Deterministic,
            base: SimDuration(0),
            per_item: SimDuration(0),
            curve: vec![SimDuration(10), SimDuration(15)].into(),
        };
        let (a, b) = (ServiceTime::new(&spec), ServiceTime::new(&spec));
        assert!(std::sync::Arc::ptr_eq(&a.curve, &b.curve));
        assert_eq!(a.mean(2), SimDuration(15));
        assert_eq!(a.mean(9), SimDuration(15));
    }

    use super::*;
    use crate::engine::RngStreams;

    fn moments(d: Family) -> (f64, f64) {
        let st = ServiceTime::new(&ServiceTimeSpec {
            distribution: d,
            base: SimDuration::from_millis(4),
            per_item: SimDuration::from_millis(1),
            curve: Vec::new().into(),
        });
        let mut rng = RngStreams::new(11).stream("st");
        let n = 200_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| st.sample(2, &mut rng).0 as f64 / 1e6)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn each_family_has_the_mean_and_cv() {
        for (d, cv) in [
            (Family::Deterministic, 0.0),
            (Family::Exponential, 1.0),
            (Family::Lognormal { cv: 0.5 }, 0.5),
            (Family::Gamma { cv: 2.0 }, 2.0),
        ] {
            let (mean, got_cv) = moments(d);
            assert!((mean / 6.0 - 1.0).abs() < 0.02, "{d:?} mean {mean}");
            assert!(
                (got_cv - cv).abs() < 0.05 * cv.max(0.2),
                "{d:?} cv {got_cv}"
            );
        }
    }
}
