//! What a run with `[[rollout]]`s reports: each rollout's start, finish, the fewest Ready pods
//! and the extra capacity it took; latency per model version; Ready pods per version over time.
//! The types (and `rollout.csv`'s writer) are `capsim_results::rollout`'s.

pub use capsim_results::rollout::{ReadyPoint, RolloutRecord, RolloutSummary, VersionSummary};
