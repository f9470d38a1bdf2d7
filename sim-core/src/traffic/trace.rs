//! Trace files: arrival times (and token counts, when present) read from CSV.
//!
//! Formats: the Azure LLM inference trace 2023 (`TIMESTAMP,ContextTokens,GeneratedTokens`, times
//! like `2023-11-16 18:17:03.9799600`, replayed relative to the first row) and a generic CSV with a
//! `timestamp` column in seconds from the start and optional `prompt_tokens`, `output_tokens`.

use crate::engine::SimTime;
use crate::scenario::TraceFormat;
use std::fmt;
use std::io::Read;

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Arrival time from the start of the run.
    pub time: SimTime,
    /// Prompt tokens (0 when the trace has none).
    pub prompt_tokens: u32,
    /// Output tokens (0 when the trace has none).
    pub output_tokens: u32,
}

/// A problem in a trace file, naming the file, the row (the line number in the file) and the column.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceError {
    /// The file, as the user named it.
    pub file: String,
    /// Line number in the file (the header is line 1), when known.
    pub row: Option<u64>,
    /// The column, when the problem is in one.
    pub column: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(r) = self.row {
            write!(f, ":{r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ": column `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TraceError {}

struct Columns {
    time: usize,
    time_name: &'static str,
    prompt: Option<(usize, &'static str)>,
    output: Option<(usize, &'static str)>,
}

/// Reads a whole trace. Timestamps must not decrease; token counts must be whole numbers.
pub fn read_trace<R: Read>(
    reader: R,
    file: &str,
    format: TraceFormat,
) -> Result<Vec<TraceRecord>, TraceError> {
    let err = |row: Option<u64>, column: Option<&str>, message: String| TraceError {
        file: file.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    };
    if format == TraceFormat::Mooncake {
        let t = super::mooncake::read_mooncake(std::io::BufReader::new(reader), file)?;
        return Ok(t.records);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| err(Some(1), None, format!("cannot read the header: {e}")))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let cols = match format {
        TraceFormat::AzureLlm2023 => {
            let need = |name: &'static str| {
                find(name).map(|i| (i, name)).ok_or_else(|| {
                    err(
                        Some(1),
                        Some(name),
                        format!(
                            "missing column: expected the Azure LLM 2023 header \
                             `TIMESTAMP,ContextTokens,GeneratedTokens`, found `{}`",
                            headers.iter().collect::<Vec<_>>().join(",")
                        ),
                    )
                })
            };
            Columns {
                time: need("TIMESTAMP")?.0,
                time_name: "TIMESTAMP",
                prompt: Some(need("ContextTokens")?),
                output: Some(need("GeneratedTokens")?),
            }
        }
        TraceFormat::Csv | TraceFormat::Mooncake => Columns {
            time: find("timestamp").ok_or_else(|| {
                err(
                    Some(1),
                    Some("timestamp"),
                    format!(
                        "missing column: expected a `timestamp` column (seconds), found `{}`",
                        headers.iter().collect::<Vec<_>>().join(",")
                    ),
                )
            })?,
            time_name: "timestamp",
            prompt: find("prompt_tokens").map(|i| (i, "prompt_tokens")),
            output: find("output_tokens").map(|i| (i, "output_tokens")),
        },
    };
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut origin: Option<u64> = None;
    let mut last: Option<u64> = None;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let row = e.position().map(|p| p.line());
                return Err(err(row, None, format!("malformed CSV row: {e}")));
            }
        }
        let row = record.position().map(|p| p.line());
        let field = &record[cols.time];
        let ns = match format {
            TraceFormat::AzureLlm2023 => parse_datetime_ns(field),
            TraceFormat::Csv | TraceFormat::Mooncake => parse_seconds_ns(field),
        }
        .ok_or_else(|| {
            let expected = match format {
                TraceFormat::AzureLlm2023 => "a timestamp like `2023-11-16 18:17:03.9799600`",
                TraceFormat::Csv | TraceFormat::Mooncake => {
                    "seconds from the start, a number that is not negative"
                }
            };
            err(
                row,
                Some(cols.time_name),
                format!("expected {expected}, found `{field}`"),
            )
        })?;
        if let Some(prev) = last {
            if ns < prev {
                return Err(err(
                    row,
                    Some(cols.time_name),
                    format!(
                        "timestamps must not decrease: `{field}` is earlier than the row before"
                    ),
                ));
            }
        }
        last = Some(ns);
        let base = match format {
            TraceFormat::AzureLlm2023 => *origin.get_or_insert(ns),
            TraceFormat::Csv | TraceFormat::Mooncake => 0,
        };
        let tokens = |c: Option<(usize, &'static str)>| -> Result<u32, TraceError> {
            match c {
                None => Ok(0),
                Some((i, name)) => record[i].parse::<u32>().map_err(|_| {
                    err(
                        row,
                        Some(name),
                        format!("expected a whole number of tokens, found `{}`", &record[i]),
                    )
                }),
            }
        };
        out.push(TraceRecord {
            time: SimTime(ns - base),
            prompt_tokens: tokens(cols.prompt)?,
            output_tokens: tokens(cols.output)?,
        });
    }
    Ok(out)
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`) to nanoseconds since 1970, UTC.
pub fn parse_datetime_ns(s: &str) -> Option<u64> {
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let hh: u64 = t.next()?.parse().ok()?;
    let mm: u64 = t.next()?.parse().ok()?;
    let ss: u64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32)
    };
    let days = days_from_civil(y, m, day);
    if days < 0 {
        return None;
    }
    Some(((days as u64 * 86_400) + hh * 3_600 + mm * 60 + ss) * 1_000_000_000 + frac_ns)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds as a decimal number (exact to the nanosecond) to nanoseconds.
pub fn parse_seconds_ns(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let digits = frac.len().min(9);
    let frac_ns: u64 = if digits == 0 {
        0
    } else {
        frac[..digits].parse::<u64>().ok()? * 10u64.pow(9 - digits as u32)
    };
    whole.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_rows_relative_to_first() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:17:03.9799600,4808,10\n\
                    2023-11-16 18:17:04.0319600,3180,8\n";
        let rows = read_trace(text.as_bytes(), "t.csv", TraceFormat::AzureLlm2023).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].time, SimTime(0));
        assert_eq!(rows[1].time, SimTime(52_000_000));
        assert_eq!(rows[1].prompt_tokens, 3180);
        assert_eq!(rows[1].output_tokens, 8);
    }

    #[test]
    fn epoch_arithmetic() {
        assert_eq!(
            parse_datetime_ns("1970-01-01 00:00:01"),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_datetime_ns("2000-03-01 00:00:00"),
            Some(951_868_800_000_000_000)
        );
        assert_eq!(parse_datetime_ns("2023-13-01 00:00:00"), None);
    }

    #[test]
    fn decreasing_timestamp_names_row_and_column() {
        let text = "timestamp\n0.5\n1.0\n0.9\n";
        let e = read_trace(text.as_bytes(), "t.csv", TraceFormat::Csv).unwrap_err();
        assert_eq!(e.row, Some(4));
        assert_eq!(e.column.as_deref(), Some("timestamp"));
        assert!(e
            .to_string()
            .starts_with("t.csv:4: column `timestamp`: timestamps must not decrease"));
    }

    #[test]
    fn unparsable_timestamp() {
        let text = "timestamp,prompt_tokens\n0.5,10\nsoon,3\n";
        let e = read_trace(text.as_bytes(), "t.csv", TraceFormat::Csv).unwrap_err();
        assert_eq!(e.row, Some(3));
        assert!(e.message.contains("found `soon`"));
        let text = "timestamp,prompt_tokens\n0.5,ten\n";
        let e = read_trace(text.as_bytes(), "t.csv", TraceFormat::Csv).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("prompt_tokens"));
    }
}
