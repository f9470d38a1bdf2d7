//! Token counts drawn for each request from `[traffic.tokens]` distributions.

use crate::engine::Rng;
use crate::scenario::{TokenDist, TokenSpec};
use rand::RngExt;
use rand_distr::{Distribution, LogNormal};

/// A prepared distribution.
#[derive(Clone, Copy, Debug)]
enum Draw {
    Fixed(u32),
    Uniform(u32, u32),
    LogNormal(LogNormal<f64>, u32, u32),
}

impl Draw {
    fn new(d: TokenDist) -> Self {
        match d {
            TokenDist::Fixed(v) => Draw::Fixed(v),
            TokenDist::Uniform { min, max } => Draw::Uniform(min, max),
            TokenDist::Lognormal { mean, cv, min, max } => {
                let sigma2 = (1.0 + cv * cv).ln();
                let d = LogNormal::new(mean.ln() - sigma2 / 2.0, sigma2.sqrt())
                    .expect("validated mean and cv");
                Draw::LogNormal(d, min, max)
            }
        }
    }

    #[inline]
    fn sample(&self, rng: &mut Rng) -> u32 {
        match *self {
            Draw::Fixed(v) => v,
            Draw::Uniform(lo, hi) => rng.random_range(lo..=hi),
            Draw::LogNormal(d, lo, hi) => (d.sample(rng).round() as u32).clamp(lo, hi),
        }
    }
}

/// Draws prompt and output token counts, one request at a time, from its own random stream.
#[derive(Clone, Debug)]
pub struct TokenSampler {
    prompt: Option<Draw>,
    output: Option<Draw>,
    /// (prompt, output) pairs drawn with replacement, when the spec names a sample.
    pairs: Vec<(u32, u32)>,
    rng: Rng,
}

impl TokenSampler {
    /// A sampler for `spec` drawing from `rng`; `pairs` holds the sample trace's (prompt,
    /// output) pairs when the spec names one (it must then not be empty).
    pub fn new(spec: &TokenSpec, pairs: Vec<(u32, u32)>, rng: Rng) -> Self {
        TokenSampler {
            prompt: spec.prompt.map(Draw::new),
            output: spec.output.map(Draw::new),
            pairs,
            rng,
        }
    }

    /// Replaces the counts the spec draws (prompt first, then output).
    #[inline]
    pub fn apply(&mut self, prompt: &mut u32, output: &mut u32) {
        if !self.pairs.is_empty() {
            let (p, o) = self.pairs[self.rng.random_range(0..self.pairs.len())];
            *prompt = p;
            *output = o;
            return;
        }
        if let Some(d) = &self.prompt {
            *prompt = d.sample(&mut self.rng);
        }
        if let Some(d) = &self.output {
            *output = d.sample(&mut self.rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    #[test]
    fn families_have_their_ranges_and_means() {
        let spec = TokenSpec {
            sample: None,
            prompt: Some(TokenDist::Uniform { min: 10, max: 20 }),
            output: Some(TokenDist::Lognormal {
                mean: 200.0,
                cv: 1.0,
                min: 1,
                max: 100_000,
            }),
            prefix: None,
        };
        let mut s = TokenSampler::new(&spec, Vec::new(), RngStreams::new(3).stream("t"));
        let (mut psum, mut osum) = (0u64, 0u64);
        let n = 200_000;
        for _ in 0..n {
            let (mut p, mut o) = (0, 0);
            s.apply(&mut p, &mut o);
            assert!((10..=20).contains(&p));
            assert!(o >= 1);
            psum += p as u64;
            osum += o as u64;
        }
        assert!((psum as f64 / n as f64 - 15.0).abs() < 0.05);
        assert!((osum as f64 / n as f64 - 200.0).abs() < 3.0);
        let fixed = TokenSpec {
            prompt: None,
            output: Some(TokenDist::Fixed(7)),
            sample: None,
            prefix: None,
        };
        let mut s = TokenSampler::new(&fixed, Vec::new(), RngStreams::new(3).stream("t"));
        let (mut p, mut o) = (42, 0);
        s.apply(&mut p, &mut o);
        assert_eq!((p, o), (42, 7));
        let pairs = vec![(1, 2), (3, 4)];
        let mut s = TokenSampler::new(&fixed, pairs.clone(), RngStreams::new(3).stream("t"));
        for _ in 0..20 {
            s.apply(&mut p, &mut o);
            assert!(pairs.contains(&(p, o)));
        }
    }
}
