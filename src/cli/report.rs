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

/// The file in a charts folder that lists the PNGs the last report wrote there, one name a line,
/// so that the next report removes those it does not draw again (a chart that no longer applies,
/// such as the Pareto chart of a run without cost, leaves no stale file). Files the list does not
/// name are never touched. `capsim pack --report` keeps one list per experiment
/// (`.capsim-charts-pack`, `.capsim-charts-replay`), since both share `charts/`.
const CHART_LIST: &str = ".capsim-charts";

/// Stages `list` (a file name in `dir`) naming the chart files `names` written to `dir`, and
/// returns the paths of those the previous list named that are not written again (to remove
/// once the new files are in).
fn stage_chart_list(
    staged: &mut Staged,
    dir: &Path,
    list: &str,
    names: &[String],
) -> Result<Vec<std::path::PathBuf>, CliError> {
    let list = dir.join(list);
    let before = std::fs::read_to_string(&list).unwrap_or_default();
    let stale = before
        .lines()
        // Only plain `*.png` names in this folder: a hand-edited list cannot reach elsewhere.
        .filter(|n| n.ends_with(".png") && !n.contains(['/', '\\']) && !n.starts_with('.'))
        .filter(|n| !names.iter().any(|w| w == n))
        .map(|n| dir.join(n))
        .collect();
    let mut text = names.join("\n");
    text.push('\n');
    staged.write(&list, text)?;
    Ok(stale)
}

/// Removes the chart files a previous report wrote and this one did not.
fn remove_stale(stale: &[std::path::PathBuf]) -> Result<(), CliError> {
    for path in stale {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(CliError::Io(format!(
                    "{}: cannot remove a chart the report no longer draws: {e}",
                    path.display()
                )))
            }
            _ => {}
        }
    }
    Ok(())
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
    let mut stale = Vec::new();
    if let Some(dir) = png_dir {
        create_dir(dir)?;
        let mut names = Vec::new();
        for c in charts {
            let bytes = png::render(&c).map_err(CliError::Io)?;
            let name = format!("{}.png", c.id);
            let path = dir.join(&name);
            staged.write(&path, bytes)?;
            written.push(path.display().to_string());
            names.push(name);
        }
        stale = stage_chart_list(&mut staged, dir, CHART_LIST, &names)?;
    }
    staged.commit()?;
    remove_stale(&stale)?;
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
    let mut names = Vec::new();
    for c in reports::pack::pack_charts(&res) {
        let name = format!("{}.png", c.id);
        let path = charts.join(&name);
        staged.write(&path, png::render(&c).map_err(CliError::Io)?)?;
        written.push(path.display().to_string());
        names.push(name);
    }
    let list = match kind {
        reports::pack::PackKind::Pack => ".capsim-charts-pack",
        reports::pack::PackKind::Replay => ".capsim-charts-replay",
    };
    let stale = stage_chart_list(&mut staged, &charts, list, &names)?;
    staged.commit()?;
    remove_stale(&stale)?;
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
