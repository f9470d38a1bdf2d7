//! How long one iteration (step) of an LLM engine takes, from the shape of its batch.
//!
//! A step runs every scheduled sequence through the model once: prefill chunks (many tokens of one
//! prompt) and decode sequences (one token each) together. Its time depends on the batch only
//! through a few sums, collected in a [`StepBatch`], so engines describe a batch without
//! allocating and step-time models stay cheap, pure functions.

use crate::costmodel::{StepBatch, StepCost};
use crate::engine::{f64_of, round_u64, SimDuration};

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

/// The step-time models a replica can use; an enum so the hot path needs no dynamic dispatch.
#[derive(Clone, Debug, PartialEq)]
pub enum StepModel {
    /// Explicit linear costs.
    Linear(LinearStep),
    /// The cost model: a roofline from the GPU's and the model's figures, or measured tables.
    Cost(Box<StepCost>),
    /// Another model's times multiplied by a factor (a rollout's new version with a `speed`).
    Scaled(Box<StepModel>, f64),
}

impl StepModel {
    /// The duration of a step of this shape (at least one nanosecond).
    #[inline]
    pub fn step_time(&self, batch: &StepBatch) -> SimDuration {
        let secs = match self {
            StepModel::Linear(l) => {
                l.base
                    + l.per_token * f64_of(batch.tokens())
                    + l.per_seq * f64_of(batch.prefill_seqs + batch.decode_seqs)
                    + l.per_context_token * f64_of(batch.decode_context_tokens)
            }
            StepModel::Cost(c) => c.step_time(batch),
            StepModel::Scaled(m, f) => {
                return SimDuration(round_u64((m.step_time(batch).0 as f64) * f).max(1))
            }
        };
        SimDuration(SimDuration::from_secs_f64(secs).0.max(1))
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
        let mut b = StepBatch::new();
        b.add_prefill_chunk(100, 0, true);
        b.add_decode(100);
        b.add_decode(200);
        // 5 ms + 102 × 10 µs + 3 × 100 µs + 300 × 0.1 µs (prefill attention is not in it)
        assert_eq!(
            m.step_time(&b),
            SimDuration(5_000_000 + 1_020_000 + 300_000 + 30_000)
        );
    }
}
