//! Errors the CLI reports: bad input (exit 2) or a failure while writing (exit 1).

use std::fmt;

/// A CLI failure, already phrased for the user.
#[derive(Debug)]
pub enum CliError {
    /// The input (scenario, trace, flag) is wrong: exit code 2.
    Input(String),
    /// Something failed while running or writing: exit code 1.
    Io(String),
    /// The run finished but some `[[check]]`s failed: exit code 3.
    Checks(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Io(_) => 1,
            CliError::Checks(_) => 3,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(m) | CliError::Io(m) | CliError::Checks(m) => f.write_str(m),
        }
    }
}
