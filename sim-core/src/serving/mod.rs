//! Serving: requests, replica engines (Triton-style batching), service times and routers.

pub mod engine;
pub mod request;
pub mod router;
pub mod service_time;
pub mod triton;

pub use engine::{Engine, ReplicaEngine};
pub use request::{Completion, DropReason, Request, RequestId};
pub use router::Router;
pub use service_time::ServiceTime;
pub use triton::TritonEngine;
