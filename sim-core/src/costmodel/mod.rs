//! Step-time cost models for batched LLM inference: how long one engine iteration (a batch of
//! prefill chunks and decode sequences) takes on a GPU, a MIG slice or a share of one.
//!
//! [`Roofline`] predicts from the GPU's and the model's figures alone; [`ProfileTable`] and
//! [`SplitwiseProfile`] replace it with measured timings where a user has them. Every model
//! takes a [`StepBatch`], an aggregate an engine keeps up to date as requests join and leave, so
//! a step costs a handful of arithmetic operations and no allocation.

mod batch;
pub mod calibration;
pub mod gemm;
pub mod gemm_bench;
mod profile;
mod roofline;
mod splitwise;
pub mod tables;

pub use batch::{Placement, StepBatch};

pub use roofline::{Roofline, StepBreakdown};

pub use profile::{
    read_profile_csv, table_for_model, ProfileError, ProfileKind, ProfileRow, ProfileTable,
    ProfiledCost,
};
pub use splitwise::{SplitwiseLookup, SplitwiseProfile};

/// The step-time model a replica uses: the roofline, measured tables over it, or SplitwiseSim's
/// curves. One call per engine step.
// The roofline (a few hundred bytes of precomputed GEMM shapes) is the hot variant and stays
// inline; holders box the whole `StepCost`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum StepCost {
    /// Predicted from the GPU's and the model's figures.
    Roofline(Roofline),
    /// Measured decode and/or prefill tables, the roofline for any phase without one.
    Profiled(Box<ProfiledCost>),
    /// SplitwiseSim's `perf_model.csv` curves.
    Splitwise(SplitwiseProfile),
}

impl StepCost {
    /// Seconds one step of `batch` takes (0 for an empty batch).
    pub fn step_time(&self, batch: &StepBatch) -> f64 {
        match self {
            StepCost::Roofline(r) => r.step_time(batch),
            StepCost::Profiled(p) => p.step_time(batch),
            StepCost::Splitwise(s) => s.step_time(batch),
        }
    }
}
