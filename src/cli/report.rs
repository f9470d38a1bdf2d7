//! `capsim report`: a results folder (of `capsim run`, `sweep` or `pack`) turned into one
//! self-contained HTML page and PNG charts.

use super::error::CliError;
use super::output::Staged;
use reports::{chart, html, png};
use std::path::Path;

fn err(e: reports::ReportError) -> CliError {
    if e.bad_input {
        CliError::Input(e.message)
    } else {
        CliError::Io(e.message)
    }
}

/// Creates `dir` (and its parents) for output.
fn create_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Io(format!("{}: cannot create the folder: {e}", dir.display())))
}

/// Reads `results` and writes the page to `html_out` and, with `png_dir`, one PNG per chart
/// named `<chart id>.png`. Nothing appears under its final name unless everything was written.
pub fn write_report(
    results: &Path,
    html_out: &Path,
    png_dir: Option<&Path>,
) -> Result<Vec<String>, CliError> {
    let (page, charts) = if reports::pack::pack_kind(results).is_some() {
        let res = reports::pack::load_pack(results).map_err(err)?;
        (
            reports::pack::pack_page(&res),
            reports::pack::pack_charts(&res),
        )
    } else if reports::sweep::is_sweep_dir(results) {
        let res = reports::sweep::load_sweep(results).map_err(err)?;
        (
            reports::sweep_page::sweep_page(&res),
            reports::sweep::sweep_charts(&res),
        )
    } else {
        let res = reports::load(results).map_err(err)?;
        (html::page(&res), chart::all_charts(&res))
    };
    let mut staged = Staged::new();
    if let Some(parent) = html_out.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    staged.write(html_out, page)?;
    let mut written = vec![html_out.display().to_string()];
    if let Some(dir) = png_dir {
        create_dir(dir)?;
        for c in charts {
            let bytes = png::render(&c).map_err(CliError::Io)?;
            let path = dir.join(format!("{}.png", c.id));
            staged.write(&path, bytes)?;
            written.push(path.display().to_string());
        }
    }
    staged.commit()?;
    Ok(written)
}

/// `capsim pack --report`: `OUT/report.html` (or `replay.html`) and `OUT/charts/*.png` for the
/// experiment just run, even when the folder also holds the other experiment's file.
pub fn write_pack_report(
    dir: &Path,
    kind: reports::pack::PackKind,
) -> Result<Vec<String>, CliError> {
    let res = reports::pack::load_pack_kind(dir, kind).map_err(err)?;
    let html_out = dir.join(match kind {
        reports::pack::PackKind::Pack => "report.html",
        reports::pack::PackKind::Replay => "replay.html",
    });
    let mut staged = Staged::new();
    staged.write(&html_out, reports::pack::pack_page(&res))?;
    let mut written = vec![html_out.display().to_string()];
    let charts = dir.join("charts");
    create_dir(&charts)?;
    for c in reports::pack::pack_charts(&res) {
        let path = charts.join(format!("{}.png", c.id));
        staged.write(&path, png::render(&c).map_err(CliError::Io)?)?;
        written.push(path.display().to_string());
    }
    staged.commit()?;
    Ok(written)
}

/// `capsim report RESULTS --out FILE [--png DIR]`.
pub fn report(results: &Path, out: &Path, png_dir: Option<&Path>) -> Result<(), CliError> {
    let written = write_report(results, out, png_dir)?;
    println!("wrote        {}", written[0]);
    if written.len() > 1 {
        println!(
            "             {} PNG charts in {}",
            written.len() - 1,
            png_dir.map(|d| d.display().to_string()).unwrap_or_default()
        );
    }
    Ok(())
}
