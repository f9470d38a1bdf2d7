//! capsim's integration and validation tests, in one test binary.

mod bad_input;
mod cluster;
mod common;
mod determinism;
mod llm;
mod report;
mod validation;
