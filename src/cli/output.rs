//! Output files: written under a temporary name and renamed, so a failure never leaves half a file.

use super::error::CliError;
use sim_core::metrics::{Outcome, RequestRow, RequestSink};
use sim_core::serving::Completion;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary name used while `path` is being written.
pub fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Temporary files being written now: an interrupted process removes them
/// ([`remove_in_progress`]).
static IN_PROGRESS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn track(tmp: PathBuf) {
    if let Ok(mut v) = IN_PROGRESS.lock() {
        v.push(tmp);
    }
}

fn untrack(tmp: &Path) {
    if let Ok(mut v) = IN_PROGRESS.lock() {
        v.retain(|p| p != tmp);
    }
}

/// Removes every temporary file still being written (on Ctrl-C or SIGTERM).
pub fn remove_in_progress() {
    if let Ok(mut v) = IN_PROGRESS.lock() {
        for p in v.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Names of the files capsim writes into an output folder (charts go under `charts/`).
pub const OUTPUT_NAMES: [&str; 20] = [
    "calibration.csv",
    "comparison.csv",
    "cost_attribution.csv",
    "incidents.csv",
    "inputs.csv",
    "manifest.json",
    "optimize.csv",
    "pack.csv",
    "replay.csv",
    "replay.html",
    "report.html",
    "requests.csv",
    "rollout.csv",
    "scenario.toml",
    "services.csv",
    "summary.json",
    "sweep.csv",
    "sweep.toml",
    "tenants.csv",
    "timeseries.csv",
];

/// Refuses an output folder `out` where writing would replace one of the run's input `files`
/// (a trace replayed from an earlier run's `requests.csv`, a scenario named `summary.json`, a
/// scenario named `scenario.toml` that its provenance copy would replace).
pub fn refuse_inputs_in(out: &Path, files: &[super::load::InputFile]) -> Result<(), CliError> {
    let Ok(out_full) = out.canonicalize() else {
        // A folder that does not exist yet holds no inputs.
        return Ok(());
    };
    for f in files {
        let Ok(full) = f.full.canonicalize() else {
            continue;
        };
        let Some(parent) = full.parent() else {
            continue;
        };
        let name = full.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let written = (parent == out_full && OUTPUT_NAMES.contains(&name))
            || (parent == out_full.join("charts") && name.ends_with(".png"))
            || full == out_full;
        if written {
            return Err(CliError::Input(format!(
                "--out {}: the run would overwrite its input {} (the {}): choose another folder",
                out.display(),
                f.named,
                f.role
            )));
        }
    }
    Ok(())
}

/// Files being written into one output folder; nothing appears under its final name until
/// [`Staged::commit`], and dropping it uncommitted removes the temporary files.
pub struct Staged {
    pending: Vec<PathBuf>,
    committed: bool,
}

impl Staged {
    /// Nothing staged yet.
    pub fn new() -> Self {
        Staged {
            pending: Vec::new(),
            committed: false,
        }
    }

    /// Writes `contents` to the temporary name of `path`.
    pub fn write(&mut self, path: &Path, contents: impl AsRef<[u8]>) -> Result<(), CliError> {
        let tmp = temp_name(path);
        self.pending.push(path.to_path_buf());
        track(tmp.clone());
        std::fs::write(&tmp, contents)
            .map_err(|e| CliError::Io(format!("{}: cannot write: {e}", tmp.display())))
    }

    /// Registers a file whose temporary version the caller writes itself.
    pub fn add(&mut self, path: &Path) {
        self.pending.push(path.to_path_buf());
        track(temp_name(path));
    }

    /// Renames every temporary file to its final name.
    pub fn commit(mut self) -> Result<(), CliError> {
        for path in &self.pending {
            std::fs::rename(temp_name(path), path).map_err(|e| {
                CliError::Io(format!("{}: cannot rename into place: {e}", path.display()))
            })?;
            untrack(&temp_name(path));
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for path in &self.pending {
                let _ = std::fs::remove_file(temp_name(path));
                untrack(&temp_name(path));
            }
        }
    }
}

/// Streams `requests.csv` rows to a temporary file; the first write error is kept and reported.
pub struct CsvRequestSink {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
    line: String,
    /// Service names by index (`Request::service`).
    services: Vec<String>,
    /// Whether each service's engine produces tokens (the `ttft_s` and `tpot_s` columns).
    tokens: Vec<bool>,
}

/// Column names of `requests.csv`.
pub use capsim_results::columns::REQUESTS as REQUEST_COLUMNS;

impl CsvRequestSink {
    /// Creates the temporary file for `path` and writes the header; `services` names the
    /// scenario's services in order (the `service` column) and `tokens` says which of them
    /// produce tokens (an LLM engine: the `ttft_s` and `tpot_s` columns).
    pub fn create(path: &Path, services: Vec<String>, tokens: Vec<bool>) -> Result<Self, CliError> {
        let tmp = temp_name(path);
        let file = File::create(&tmp)
            .map_err(|e| CliError::Io(format!("{}: cannot create: {e}", tmp.display())))?;
        let mut sink = CsvRequestSink {
            out: BufWriter::with_capacity(1 << 16, file),
            error: None,
            line: String::with_capacity(128),
            services,
            tokens,
        };
        if let Err(e) = writeln!(sink.out, "{REQUEST_COLUMNS}") {
            sink.error = Some(e);
        }
        Ok(sink)
    }

    /// Flushes and reports the first error, if any.
    pub fn finish(mut self, path: &Path) -> Result<(), CliError> {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        match self.error {
            None => Ok(()),
            Some(e) => Err(CliError::Io(format!(
                "{}: cannot write: {e}",
                temp_name(path).display()
            ))),
        }
    }
}

/// `ttft_s,tpot_s` of a completed request: both empty for an engine without tokens, `tpot_s`
/// empty for a request of one output token.
struct TokenTimes(Option<(u64, Option<u64>)>);

impl std::fmt::Display for TokenTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str(","),
            Some((ttft, tpot)) => {
                write!(f, "{},", secs(ttft))?;
                tpot.map_or(Ok(()), |t| f.write_str(&secs(t)))
            }
        }
    }
}

fn secs(t: u64) -> String {
    sim_core::metrics::series::num(t as f64 / 1e9)
}

impl RequestSink for CsvRequestSink {
    fn record(&mut self, row: &RequestRow) {
        if self.error.is_some() {
            return;
        }
        use std::fmt::Write as _;
        let r = &row.request;
        self.line.clear();
        let arrival = r.arrival.0;
        let service = self
            .services
            .get(usize::from(r.service))
            .map_or("", String::as_str);
        let _ = match row.outcome {
            Outcome::Completed {
                start,
                first_token,
                finish,
                batch_size,
                replica,
            } => writeln!(
                self.line,
                "{},{},completed,{},{},{},{},{},{},,{},{},{},{}",
                r.id.0,
                secs(arrival),
                secs(start.0),
                secs(finish.0),
                secs(finish.0 - arrival),
                secs(start.0 - arrival),
                batch_size,
                replica,
                r.prompt_tokens,
                r.output_tokens,
                service,
                TokenTimes(
                    self.tokens
                        .get(usize::from(r.service))
                        .is_some_and(|&t| t)
                        .then(|| Completion::token_times_of(r, first_token, finish))
                )
            ),
            Outcome::Dropped { at, reason } => writeln!(
                self.line,
                "{},{},dropped,,{},,,,,{},{},{},{},,",
                r.id.0,
                secs(arrival),
                secs(at.0),
                reason.name(),
                r.prompt_tokens,
                r.output_tokens,
                service
            ),
        };
        if let Err(e) = self.out.write_all(self.line.as_bytes()) {
            self.error = Some(e);
        }
    }
}
