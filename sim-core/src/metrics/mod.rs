//! Metrics: latency histograms, the recorder and the time series.

pub mod histogram;
pub mod incident;
pub mod recorder;
pub mod rollout;
pub mod series;
pub mod tenants;
pub mod tokens;
pub mod windows;

pub use histogram::LogHistogram;
pub use recorder::{ClusterGauge, NoSink, Outcome, Recorded, Recorder, RequestRow, RequestSink};
pub use series::SeriesRow;
pub use tenants::{TenantRecorder, TenantTargets};
pub use tokens::TokenRecorder;
