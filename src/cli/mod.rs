//! The subcommands and the file handling they share.

pub mod error;
pub mod load;
pub mod output;
pub mod report;
pub mod run;
pub mod validate;
