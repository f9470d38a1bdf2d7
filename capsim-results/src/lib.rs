//! capsim's results schema: every type written to `summary.json`, and the column list of every
//! CSV a run writes. `sim-core` builds these values (its `results::summarise` is the one
//! conversion from what a run measured); `reports` reads them back. Both use the same types, so
//! a field is added in one place.
//!
//! Compatibility rules: the serialised form of a shipped scenario never changes by accident (the
//! golden tests compare bytes); a field a reader of older folders may not find gets
//! `#[serde(default)]`; unknown keys are ignored (no `deny_unknown_fields`), so newer folders
//! still read.

#![warn(missing_docs)]

pub mod batch;
pub mod cluster;
pub mod columns;
pub mod cost;
pub mod failures;
pub mod mig;
pub mod rollout;
pub mod summary;
pub mod tenants;

pub use batch::{BatchOutcome, PreemptionOutcome, QueueOutcome, QuotaOutcome, WaitTimes};
pub use cluster::{ClusterSummary, KarpenterOutcome, PoolOutcome, VpaOutcome, VpaResources};
pub use cost::{cost_attribution_csv, ResourceCost};
pub use failures::{FailureSummary, Incident};
pub use mig::{InstanceView, LayoutView};
pub use rollout::{ReadyPoint, RolloutRecord, RolloutSummary, VersionSummary};
pub use summary::{
    namespaces, ClientSummary, Counts, DisaggSummary, KvTierSummary, LoraSummary, MixedPoolSummary,
    NamespaceSummary, Percentiles, ServiceSummary, SloResult, Summary, TokenSummary, WindowSeries,
    WindowSummary,
};
pub use tenants::{Fairness, TenantSlo, TenantSummary};

/// `summary.json` text of `summary`: pretty-printed with two-space indents, ending in a newline.
pub fn summary_json(summary: &Summary) -> String {
    let mut s = serde_json::to_string_pretty(summary).expect("a summary serialises");
    s.push('\n');
    s
}
