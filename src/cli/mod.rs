//! The subcommands and the file handling they share.

pub mod batch;
pub mod calibrate;
pub mod catalog;
pub mod check;
pub mod compare;
pub mod error;
pub mod hpa_eval;
pub mod load;
pub mod manifests;
pub mod output;
pub mod pack;
pub mod report;
pub mod run;
pub mod sweep;
pub mod tenants;
pub mod validate;
