//! Knative Serving's Pod Autoscaler (KPA), as `knative/serving` computes it.
//!
//! Pure functions of plain data, times in nanoseconds: [`buckets::WindowBuckets`] keeps the
//! observed concurrency in 1 s buckets and averages it over the stable and panic windows,
//! [`decider::Decider`] turns the two averages into a desired pod count (panic mode, rate limits),
//! and [`pa::PodAutoscaler`] applies the scale bounds, initial scale and the scale-to-zero rules of
//! the PodAutoscaler reconciler. The world (`world/knative.rs`) feeds them and owns the activator.

pub mod buckets;
pub mod config;
pub mod decider;
pub mod pa;

pub use config::KpaConfig;
pub use decider::{Decider, ScaleResult};
pub use pa::{PaStatus, PodAutoscaler};
