//! Scenario files: the raw TOML form, the validated model, and errors that point into the file.

pub mod autoscaling;
pub mod batch;
pub mod cluster;
pub mod cost;
pub mod disagg;
pub mod error;
pub mod failure;
pub mod karpenter;
pub mod limits;
pub mod lora;
pub mod manifest;
pub mod model;
pub mod policy;
pub mod raw;
pub mod rollout;
pub mod routes;
pub mod scale_to_zero;
pub mod schedulable;
pub mod selectors;
pub mod services;
pub mod tenant;
pub mod traffic;
pub mod vpa;

pub use autoscaling::{AutoscalingSpec, ClusterAutoscalerSpec, Expander, MetricsSpec};
pub use cluster::ClusterSpec;
pub use disagg::{DisaggPolicy, DisaggSpec};
pub use error::ScenarioError;
pub use failure::FailureSpec;
pub use karpenter::KarpenterSpec;
pub use lora::{AdapterSpec, LoraSpec};
pub use model::{
    catalog_paths, parse_scenario, parse_scenario_with, BatchPolicy, Dispatch, Distribution,
    EngineSpec, ProfileSpec, RouterPolicy, Scenario, ServiceSpec, ServiceTimeSpec, TokenDist,
    TokenSpec, TraceFormat, TrafficSpec, VllmSpec,
};
pub use policy::{parse_variants, Variant};
pub use rollout::{IntOrPercent, RolloutSpec, Strategy};
pub use routes::{AdapterRoute, Gateway, Route};
pub use scale_to_zero::{KedaSpec, KnativeSpec};
pub use tenant::TenantSpec;
pub use traffic::{
    traffic_has_tokens, ColumnMap, DiurnalSpec, MmppState, Spike, StreamSpec, TimeUnit,
    TraceOptions,
};
pub use vpa::VpaSpec;
