//! A results folder read into typed data: the summary, the time series, the provenance files and
//! any policy variants. Every malformed input is reported with its file, row and column. The
//! summary's types are `capsim_results`'s, the same ones `sim-core` writes.

pub use capsim_results::{
    ClusterSummary, FailureSummary, Fairness, Incident, InstanceView, LayoutView, Percentiles,
    PoolOutcome, ReadyPoint, RolloutRecord, RolloutSummary, ServiceSummary, Summary, TenantSummary,
    TokenSummary,
};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a results folder could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportError {
    /// The message, naming the file and where in it.
    pub message: String,
    /// True when the input is wrong (exit 2), false for an I/O failure (exit 1).
    pub bad_input: bool,
}

impl ReportError {
    fn input(message: String) -> Self {
        ReportError {
            message,
            bad_input: true,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReportError {}

/// `timeseries.csv`: named numeric columns; an empty cell is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Rows of values, one per column.
    pub rows: Vec<Vec<Option<f64>>>,
}

impl Series {
    /// The values of column `name`, or `None` when the file has no such column.
    pub fn column(&self, name: &str) -> Option<Vec<Option<f64>>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[i]).collect())
    }

    /// `time_s` of each row.
    pub fn times(&self) -> Vec<f64> {
        self.column("time_s")
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.unwrap_or(f64::NAN))
            .collect()
    }
}

/// One run: its summary and time series.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Name: the scenario's for the main run, the folder name for a policy variant.
    pub name: String,
    /// `summary.json`.
    pub summary: Summary,
    /// `timeseries.csv`.
    pub series: Series,
    /// `services.csv` (written with several services), split by service in file order: each
    /// service's own series, without the `service` column. Empty when the folder has none.
    pub services: Vec<(String, Series)>,
}

/// One input file recorded in `inputs.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// What it is: `scenario`, `trace`, `gpu_catalog`, ...
    pub role: String,
    /// Its path as the scenario named it.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// 64-bit FNV-1a of its contents, 16 hex digits.
    pub fnv1a64: String,
}

/// A results folder, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The folder.
    pub dir: PathBuf,
    /// The main run.
    pub main: Run,
    /// Policy variants under `policies/`, sorted by name.
    pub policies: Vec<Run>,
    /// `comparison.csv` as written, when present: header and rows of text cells.
    pub comparison: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// `scenario.toml`, when the run copied it.
    pub scenario_text: Option<String>,
    /// `inputs.csv`, when present.
    pub inputs: Vec<InputFile>,
    /// The files of the folder this report read, with their hashes (role `result`).
    pub result_files: Vec<InputFile>,
}

fn read_text(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| {
        let missing = e.kind() == std::io::ErrorKind::NotFound;
        ReportError {
            message: if missing {
                format!(
                    "{}: not found (expected a results folder written by `capsim run`)",
                    path.display()
                )
            } else {
                format!("{}: cannot read: {e}", path.display())
            },
            bad_input: missing,
        }
    })
}

/// Parses `summary.json` text; `shown` names the file in errors.
pub fn parse_summary(text: &str, shown: &str) -> Result<Summary, ReportError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ReportError::input(format!(
            "{shown}: line {}, column {}: key `{path}`: {inner}",
            inner.line(),
            inner.column()
        ))
    })
}

/// Splits simple CSV text (no quoted fields) into a header and rows, checking field counts.
fn split_csv(text: &str, shown: &str) -> Result<(Vec<String>, Vec<Vec<String>>), ReportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(ReportError::input(format!(
            "{shown}: empty file (expected a header row)"
        )));
    };
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let cells: Vec<String> = line.split(',').map(|c| c.trim().to_string()).collect();
        if cells.len() != columns.len() {
            return Err(ReportError::input(format!(
                "{shown}: line {}: expected {} fields ({}), found {}",
                i + 1,
                columns.len(),
                columns.join(","),
                cells.len()
            )));
        }
        rows.push(cells);
    }
    Ok((columns, rows))
}

/// Parses `timeseries.csv` text; `shown` names the file in errors. Rows are numbered from 1
/// after the header (line = row + 1).
pub fn parse_series(text: &str, shown: &str) -> Result<Series, ReportError> {
    let (columns, cells) = split_csv(text, shown)?;
    if !columns.iter().any(|c| c == "time_s") {
        return Err(ReportError::input(format!(
            "{shown}: line 1: expected a `time_s` column, found {}",
            columns.join(",")
        )));
    }
    let mut rows = Vec::with_capacity(cells.len());
    for (r, row) in cells.iter().enumerate() {
        let mut values = Vec::with_capacity(row.len());
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                values.push(None);
                continue;
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(Some(v)),
                _ => {
                    return Err(ReportError::input(format!(
                    "{shown}: row {} (line {}), column `{}`: expected a number, found \"{cell}\"",
                    r + 1,
                    r + 2,
                    columns[c]
                )))
                }
            }
        }
        rows.push(values);
    }
    Ok(Series { columns, rows })
}

/// Parses `services.csv` text (the long format: `time_s,service,...`) into one series per
/// service, in order of first appearance; `shown` names the file in errors.
pub fn parse_services(text: &str, shown: &str) -> Result<Vec<(String, Series)>, ReportError> {
    let (columns, cells) = split_csv(text, shown)?;
    let Some(at) = columns.iter().position(|c| c == "service") else {
        return Err(ReportError::input(format!(
            "{shown}: line 1: expected a `service` column, found {}",
            columns.join(",")
        )));
    };
    // Each row without its `service` cell, read as a `timeseries.csv` row would be.
    let mut numeric = columns.clone();
    numeric.remove(at);
    let mut body = numeric.join(",");
    body.push('\n');
    for row in &cells {
        let mut r = row.clone();
        r.remove(at);
        body.push_str(&r.join(","));
        body.push('\n');
    }
    let all = parse_series(&body, shown)?;
    let mut out: Vec<(String, Series)> = Vec::new();
    for (row, values) in cells.iter().zip(all.rows) {
        let name = &row[at];
        let i = match out.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                out.push((
                    name.clone(),
                    Series {
                        columns: numeric.clone(),
                        rows: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        out[i].1.rows.push(values);
    }
    Ok(out)
}

/// Parses `inputs.csv` (`role,path,bytes,fnv1a64`).
pub fn parse_inputs(text: &str, shown: &str) -> Result<Vec<InputFile>, ReportError> {
    let (columns, rows) = split_csv(text, shown)?;
    let want: Vec<&str> = capsim_results::columns::INPUTS.split(',').collect();
    if columns != want {
        return Err(ReportError::input(format!(
            "{shown}: line 1: expected the header {}, found {}",
            want.join(","),
            columns.join(",")
        )));
    }
    rows.into_iter()
        .enumerate()
        .map(|(r, c)| {
            let bytes = c[2].parse::<u64>().map_err(|_| {
                ReportError::input(format!(
                    "{shown}: row {} (line {}), column `bytes`: expected a whole number, found \"{}\"",
                    r + 1,
                    r + 2,
                    c[2]
                ))
            })?;
            Ok(InputFile {
                role: c[0].clone(),
                path: c[1].clone(),
                bytes,
                fnv1a64: c[3].clone(),
            })
        })
        .collect()
}

fn read_run(dir: &Path, name: Option<&str>) -> Result<Run, ReportError> {
    let sp = dir.join("summary.json");
    let summary = parse_summary(&read_text(&sp)?, &sp.display().to_string())?;
    let tp = dir.join("timeseries.csv");
    let series = parse_series(&read_text(&tp)?, &tp.display().to_string())?;
    let vp = dir.join("services.csv");
    let services = if vp.exists() {
        parse_services(&read_text(&vp)?, &vp.display().to_string())?
    } else {
        Vec::new()
    };
    Ok(Run {
        name: name.map_or_else(|| summary.scenario.clone(), str::to_string),
        summary,
        series,
        services,
    })
}

/// Reads a results folder: `summary.json` and `timeseries.csv` (required), `scenario.toml`,
/// `inputs.csv`, `comparison.csv` and `policies/<name>/` (when present).
pub fn load(dir: &Path) -> Result<Results, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::input(format!(
            "{}: not a folder (expected a results folder written by `capsim run`)",
            dir.display()
        )));
    }
    let mut policies = Vec::new();
    let pdir = dir.join("policies");
    if pdir.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&pdir)
            .map_err(|e| ReportError {
                message: format!("{}: cannot list: {e}", pdir.display()),
                bad_input: false,
            })?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            policies.push(read_run(&pdir.join(&n), Some(&n))?);
        }
    }
    // A `[[policy]]` run has no run of its own at the top: its first variant (in the order of
    // comparison.csv, else by name) stands for the scenario.
    let main = if !dir.join("summary.json").exists() && !policies.is_empty() {
        let first = std::fs::read_to_string(dir.join("comparison.csv"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .nth(1)
                    .map(|l| l.split(',').next().unwrap_or("").to_string())
            });
        let i = first
            .and_then(|f| policies.iter().position(|p: &Run| p.name == f))
            .unwrap_or(0);
        let mut m = policies[i].clone();
        m.name = m.summary.scenario.clone();
        m
    } else {
        read_run(dir, None)?
    };
    let optional = |name: &str| -> Result<Option<(String, String)>, ReportError> {
        let p = dir.join(name);
        if p.exists() {
            Ok(Some((read_text(&p)?, p.display().to_string())))
        } else {
            Ok(None)
        }
    };
    let comparison = match optional("comparison.csv")? {
        Some((t, shown)) => Some(split_csv(&t, &shown)?),
        None => None,
    };
    let scenario_text = optional("scenario.toml")?.map(|(t, _)| t);
    let inputs = match optional("inputs.csv")? {
        Some((t, shown)) => parse_inputs(&t, &shown)?,
        None => Vec::new(),
    };
    let mut names = Vec::new();
    for n in [
        "summary.json",
        "timeseries.csv",
        "services.csv",
        "scenario.toml",
        "inputs.csv",
        "comparison.csv",
    ] {
        if dir.join(n).exists() {
            names.push(n.to_string());
        }
    }
    for p in &policies {
        for f in ["summary.json", "timeseries.csv", "services.csv"] {
            let n = format!("policies/{}/{f}", p.name);
            if f != "services.csv" || dir.join(&n).exists() {
                names.push(n);
            }
        }
    }
    let mut result_files = Vec::new();
    for n in names {
        let p = dir.join(&n);
        let bytes = std::fs::read(&p).map_err(|e| ReportError {
            message: format!("{}: cannot read: {e}", p.display()),
            bad_input: false,
        })?;
        result_files.push(InputFile {
            role: "result".to_string(),
            path: n,
            bytes: bytes.len() as u64,
            fnv1a64: format!("{:016x}", fnv1a64(&bytes)),
        });
    }
    Ok(Results {
        result_files,
        dir: dir.to_path_buf(),
        main,
        policies,
        comparison,
        scenario_text,
        inputs,
    })
}

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn a_bad_cell_names_row_and_column() {
        let e = parse_series("time_s,queue_length\n1,2\n2,x\n", "ts.csv").unwrap_err();
        assert_eq!(
            e.message,
            "ts.csv: row 2 (line 3), column `queue_length`: expected a number, found \"x\""
        );
        let e = parse_series("time_s,a\n1\n", "ts.csv").unwrap_err();
        assert!(
            e.message.contains("line 2: expected 2 fields"),
            "{}",
            e.message
        );
    }

    #[test]
    fn inputs_csv_needs_the_schema_header() {
        let ok = parse_inputs("role,path,bytes,fnv1a64\nscenario,s.toml,3,00\n", "i.csv").unwrap();
        assert_eq!((ok[0].role.as_str(), ok[0].bytes), ("scenario", 3));
        let e = parse_inputs("role,path,size,hash\n", "i.csv").unwrap_err();
        assert_eq!(
            e.message,
            "i.csv: line 1: expected the header role,path,bytes,fnv1a64, found role,path,size,hash"
        );
    }

    #[test]
    fn services_csv_splits_by_service() {
        let v = parse_services(
            "time_s,service,latency_p99_s,gpus\n60,a,0.5,1\n60,b,,0.25\n120,a,0.7,2\n120,b,0.1,0\n",
            "s.csv",
        )
        .unwrap();
        let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(v[0].1.times(), vec![60.0, 120.0]);
        assert_eq!(
            v[1].1.column("latency_p99_s").unwrap(),
            vec![None, Some(0.1)]
        );
        assert_eq!(v[1].1.column("gpus").unwrap(), vec![Some(0.25), Some(0.0)]);
        let e = parse_services("time_s,gpus\n1,2\n", "s.csv").unwrap_err();
        assert!(e.message.contains("`service` column"), "{}", e.message);
        let e = parse_services("time_s,service,gpus\n1,a,x\n", "s.csv").unwrap_err();
        assert!(e.message.contains("column `gpus`"), "{}", e.message);
    }

    #[test]
    fn empty_cells_are_missing_values() {
        let s = parse_series("time_s,a\n1,\n2,0.5\n", "t").unwrap();
        assert_eq!(s.column("a").unwrap(), vec![None, Some(0.5)]);
        assert!(s.column("b").is_none());
    }
}
