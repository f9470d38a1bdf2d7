//! capsim's integration and validation tests, in one test binary.

mod bad_input;
mod calibrate;
mod cluster;
mod cluster_autoscaler;
mod common;
mod determinism;
mod hpa_eval;
mod hpa_loop;
mod llm;
mod mig;
mod pack;
mod policy;
mod prefix;
mod profile;
mod replay;
mod report;
mod static_batching;
mod sweep;
mod timeslice;
mod triton_profile;
mod validation;
