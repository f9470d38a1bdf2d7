//! Scenario files: the raw TOML form, the validated model, and errors that point into the file.

pub mod error;
pub mod model;
pub mod raw;

pub use error::ScenarioError;
pub use model::{
    parse_scenario, BatchPolicy, Dispatch, Distribution, RouterPolicy, Scenario, ServiceSpec,
    ServiceTimeSpec, TraceFormat, TrafficSpec,
};
