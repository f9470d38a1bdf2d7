//! Reading a scenario and the files it names.

use super::error::CliError;
use sim_core::scenario::TrafficSpec;
use sim_core::traffic::read_trace;
use sim_core::{parse_scenario, Inputs, Scenario};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A scenario with its inputs, ready to run.
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Scenario,
    /// Files it refers to, read.
    pub inputs: Inputs,
}

/// Reads and validates `path` and the trace it names (relative to the scenario's folder).
pub fn load(path: &Path) -> Result<Loaded, CliError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{shown}: cannot read the scenario: {e}")))?;
    let mut scenario = parse_scenario(&text, &shown).map_err(|e| CliError::Input(e.to_string()))?;
    if scenario.name.is_empty() {
        scenario.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string());
    }
    let mut inputs = Inputs::default();
    if let TrafficSpec::Trace {
        path: trace,
        format,
    } = &scenario.traffic
    {
        let base = path.parent().unwrap_or(Path::new("."));
        let full = base.join(trace);
        let trace_shown = full.display().to_string();
        let file = File::open(&full).map_err(|e| {
            CliError::Input(format!(
                "{shown}: key `traffic.path`: cannot open the trace `{trace_shown}`: {e}"
            ))
        })?;
        let records = read_trace(BufReader::new(file), &trace_shown, *format)
            .map_err(|e| CliError::Input(e.to_string()))?;
        inputs.trace = Some(records);
    }
    Ok(Loaded { scenario, inputs })
}
