//! `capsim hpa-eval CASE.toml`: the HPA dry-run calculator. All the work is in
//! `sim_core::hpa::case`; this reads the file and prints the report.

use super::error::CliError;
use sim_core::hpa::case::{run_case, CaseError};
use std::path::Path;

/// Runs the CASE at `path` and prints its report to standard output.
pub fn hpa_eval(path: &Path) -> Result<(), CliError> {
    let shown = path.display().to_string();
    let text = crate::cli::read_text(path)
        .map_err(|e| CliError::Input(format!("{shown}: cannot read the CASE file: {e}")))?;
    match run_case(&text, &shown) {
        Ok(report) => {
            print!("{report}");
            Ok(())
        }
        Err(CaseError::Input(e)) => Err(CliError::Input(e.to_string())),
        Err(CaseError::Hpa(m)) => Err(CliError::Input(format!("{shown}: {m}"))),
    }
}
