//! Serving: requests, replica engines (Triton-style batching), service times and routers.

pub mod engine;
pub mod prefix;
pub mod ratelimit;
pub mod request;
pub mod router;
pub mod service_time;
pub mod splitwise_batch;
pub mod static_batch;
pub mod step;
pub mod triton;
pub mod vllm;

pub use engine::{Engine, ReplicaEngine};
pub use prefix::{Prefix, PrefixTable};
pub use request::{Completion, DropReason, Request, RequestId};
pub use router::Router;
pub use service_time::ServiceTime;
pub use splitwise_batch::{SplitwiseConfig, SplitwiseEngine};
pub use static_batch::{StaticConfig, StaticEngine};
pub use step::{LinearStep, StepModel};
pub use triton::TritonEngine;
pub use vllm::{VllmConfig, VllmCounters, VllmEngine};
