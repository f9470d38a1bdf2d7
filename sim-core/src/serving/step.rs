//! How long one iteration (step) of an LLM engine takes, from the shape of its batch.
//!
//! A step runs every scheduled sequence through the model once: prefill chunks (many tokens of one
//! prompt) and decode sequences (one token each) together. Its time depends on the batch only
//! through a few sums, collected in [`BatchShape`], so engines can describe a batch without
//! allocating and step-time models stay cheap, pure functions.

use crate::engine::SimDuration;

/// The aggregate shape of one engine step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchShape {
    /// Sequences with a prefill chunk in this step.
    pub prefill_seqs: u32,
    /// Tokens in all prefill chunks together.
    pub prefill_tokens: u32,
    /// Attention work of the prefill chunks: for each chunk, its length times the context it
    /// attends to at its end (tokens already cached plus the chunk).
    pub prefill_attention: u64,
    /// Sequences decoding one token in this step.
    pub decode_seqs: u32,
    /// Context the decode sequences attend to, summed (each sequence's cached tokens plus one).
    pub decode_context: u64,
}

impl BatchShape {
    /// Tokens processed in the step (prefill chunks plus one per decode sequence).
    pub fn tokens(&self) -> u32 {
        self.prefill_tokens + self.decode_seqs
    }
    /// Sequences in the step.
    pub fn seqs(&self) -> u32 {
        self.prefill_seqs + self.decode_seqs
    }
}

/// A step-time model with explicit per-unit costs: `base + per_token × tokens + per_seq × seqs +
/// per_context_token × decode context`. The context term is the KV cache each decode sequence
/// reads; prefill attention (quadratic in the chunk) is left to the roofline model, so keep
/// chunks moderate or fold their attention into `per_token`. Useful when a user has measured
/// their own engine, and as a transparent model for tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearStep {
    /// Fixed cost of a step (weights read, kernel launches), seconds.
    pub base: f64,
    /// Cost per token processed, seconds.
    pub per_token: f64,
    /// Cost per sequence in the step, seconds.
    pub per_seq: f64,
    /// Cost per token of KV context read by a decode sequence, seconds.
    pub per_context_token: f64,
}

/// The step-time models capsim has; an enum so the hot path needs no dynamic dispatch.
#[derive(Clone, Debug, PartialEq)]
pub enum StepModel {
    /// Explicit linear costs.
    Linear(LinearStep),
}

impl StepModel {
    /// The duration of a step of this shape (at least one nanosecond).
    #[inline]
    pub fn step_time(&self, shape: &BatchShape) -> SimDuration {
        let secs = match self {
            StepModel::Linear(l) => {
                l.base
                    + l.per_token * shape.tokens() as f64
                    + l.per_seq * shape.seqs() as f64
                    + l.per_context_token * shape.decode_context as f64
            }
        };
        SimDuration((secs * 1e9).round().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_costs_add_up() {
        let m = StepModel::Linear(LinearStep {
            base: 0.005,
            per_token: 1e-5,
            per_seq: 1e-4,
            per_context_token: 1e-7,
        });
        let shape = BatchShape {
            prefill_seqs: 1,
            prefill_tokens: 100,
            prefill_attention: 100 * 100,
            decode_seqs: 2,
            decode_context: 300,
        };
        // 5 ms + 102 × 10 µs + 3 × 100 µs + 300 × 0.1 µs (prefill attention is not in it)
        assert_eq!(
            m.step_time(&shape),
            SimDuration(5_000_000 + 1_020_000 + 300_000 + 30_000)
        );
        assert_eq!(shape.tokens(), 102);
        assert_eq!(shape.seqs(), 3);
    }
}
