//! capsim's engine and models.
//!
//! Data flows one way: a [`scenario`] is parsed and validated, a [`world::World`] is built from it,
//! events run through the [`engine`], the [`metrics`] recorder measures them, and [`results`] come
//! out. Nothing here reads files, prints, or looks at the clock: the `capsim` binary does I/O.

pub mod catalog;
pub mod cluster;
pub mod costmodel;
pub mod engine;
pub mod gpu;
pub mod hpa;
pub mod ids;
pub mod keda;
pub mod knative;
pub mod metrics;
pub mod results;
pub mod scenario;
pub mod scheduler;
pub mod serving;
pub mod traffic;
pub mod vpa;
pub mod world;

pub use results::{RunResult, Summary};
pub use scenario::{parse_scenario, parse_scenario_with, Scenario, ScenarioError};
pub use world::{run, Inputs, World};
