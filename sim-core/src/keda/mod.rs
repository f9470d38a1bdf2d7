//! KEDA's ScaledObject, as `kedacore/keda` runs it.
//!
//! [`spec`] reads and checks a ScaledObject spec (upstream field names and defaults) and builds the
//! HPA KEDA would create for it (one External metric per trigger, `AverageValue` = the trigger's
//! threshold); [`executor`] is the scale loop's 0↔1 logic (`RequestScale`): activation, cooldown,
//! idle and minimum replica counts. The world (`world/keda.rs`) polls the triggers and runs both.

pub mod executor;
pub mod spec;

pub use executor::ScaleExecutor;
pub use spec::{Query, QueryAgg, ScaledObject, ScaledObjectSpec, Trigger, TriggerKind};
