//! capsim's integration and validation tests, in one test binary.

mod bad_input;
mod calibrate;
mod cluster;
mod common;
mod determinism;
mod hpa_eval;
mod llm;
mod mig;
mod pack;
mod policy;
mod sweep;
mod validation;
