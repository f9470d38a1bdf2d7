//! The Kubernetes HorizontalPodAutoscaler, as `pkg/controller/podautoscaler` computes it.
//!
//! Everything here is a pure function of plain data: the [`spec::Hpa`] (an autoscaling/v2 spec,
//! validated and defaulted), the [`state::Observation`] of the target and its pods at one instant,
//! and the [`state::HpaHistory`] the controller keeps between syncs (stored recommendations and
//! scale events). Times are `i64` nanoseconds on any epoch the caller picks (they may be negative).
//! [`reconcile::reconcile`] runs one whole sync in upstream's order; the stages it is made of
//! ([`replica_calculator`], [`metrics`], [`stabilize`], [`normalize`]) are public so that
//! `capsim hpa-eval` can run each alone. [`case`] reads and runs that command's CASE files.

pub mod case;
pub mod config;
pub mod metrics;
pub mod normalize;
pub mod reconcile;
pub mod replica_calculator;
pub mod rfc3339;
pub mod spec;
pub mod stabilize;
pub mod state;

pub use config::ControllerConfig;
pub use reconcile::{reconcile, SyncOutcome};
pub use spec::{Hpa, HpaSpec};
pub use state::{HpaHistory, Nanos, Observation, PodState};
