//! capsim's integration and validation tests, in one test binary.

mod bad_input;
mod book;
mod calibrate;
mod cluster;
mod cluster_autoscaler;
mod common;
mod determinism;
mod hpa_eval;
mod hpa_loop;
mod karpenter;
mod llm;
mod manifests;
mod mig;
mod pack;
mod policy;
mod replay;
mod report;
mod scale_to_zero;
mod sweep;
mod timeslice;
mod traffic;
mod validation;
mod vpa;
