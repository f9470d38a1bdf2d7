//! Kubernetes manifests given beside a scenario (`capsim run SCENARIO MANIFEST...`): read, mapped
//! onto scenario keys by `sim_core::scenario::manifest`, and applied over the scenario's text.

use super::error::CliError;
use sim_core::scenario::manifest::{read_manifests, Overlay};
use std::path::PathBuf;

/// The manifest files named: files as given, folders expanded to their `*.yaml` and `*.yml`
/// files in name order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| CliError::Input(format!("{}: cannot list: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            v.sort();
            if v.is_empty() {
                return Err(CliError::Input(format!(
                    "{}: no *.yaml or *.yml manifests in this folder",
                    p.display()
                )));
            }
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The scenario text with the manifests' keys applied (unchanged without manifests), the overlay
/// (to blame errors on manifest fields, and its warnings), and the manifest files read.
pub fn apply(
    text: &str,
    shown: &str,
    manifests: &[PathBuf],
) -> Result<(String, Overlay, Vec<PathBuf>), CliError> {
    if manifests.is_empty() {
        return Ok((text.to_string(), Overlay::default(), Vec::new()));
    }
    let files = expand(manifests)?;
    let mut docs = Vec::with_capacity(files.len());
    for f in &files {
        let t = crate::cli::read_text(f).map_err(|e| {
            CliError::Input(format!("{}: cannot read the manifest: {e}", f.display()))
        })?;
        docs.push((f.display().to_string(), t));
    }
    let mut overlay = read_manifests(&docs).map_err(|e| CliError::Input(e.to_string()))?;
    let mut table = sim_core::scenario::model::parse_raw(text, shown)
        .map_err(|e| CliError::Input(e.to_string()))?;
    // Each workload onto its service, each autoscaler onto its target's.
    overlay
        .bind(&table, shown, text)
        .map_err(|e| CliError::Input(e.to_string()))?;
    overlay.apply(&mut table);
    let merged = toml::to_string(&table)
        .map_err(|e| CliError::Input(format!("{shown}: the scenario with its manifests: {e}")))?;
    Ok((merged, overlay, files))
}

/// Prints the overlay's warnings to stderr.
pub fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}
