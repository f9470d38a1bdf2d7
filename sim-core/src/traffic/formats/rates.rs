//! Rate traces: files of rates over time, from which arrivals are generated.
//!
//! - ServeGen (`chunk-N-trace.csv`, one client per file, no header): rows
//!   `window_start_s,rate,cv,family,param1,param2`; each window lasts until the next row's start
//!   (the last as long as the one before it). Arrivals: a Gamma renewal process per window with
//!   the row's rate and CV (ServeGen's fitted family and its parameters are not used).
//! - Alibaba GenAI 2026 `qps.csv`: `timestamp_anon,value,container_ip,request_type`, QPS sampled
//!   per container. Samples are grouped into buckets of `bucket` seconds; a bucket's rate is the
//!   sum over containers of each container's mean sample in it; buckets without samples have rate
//!   zero. Arrivals: Poisson per bucket.
//!
//! These files are small (a row per window or per sample, not per request) and are read whole.

use super::RecordLines;
use crate::engine::SimDuration;
use crate::traffic::renewal::{RateTable, RateWindow};
use crate::traffic::trace::TraceError;
use std::collections::BTreeMap;
use std::io::Read;

fn at(file: &str, row: Option<u64>, column: Option<&str>, message: String) -> TraceError {
    TraceError {
        file: file.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    }
}

fn number(file: &str, row: u64, column: &str, field: &str, what: &str) -> Result<f64, TraceError> {
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(at(
            file,
            Some(row),
            Some(column),
            format!("expected {what}, a number that is not negative, found `{field}`"),
        )),
    }
}

/// A rate column: a number that is not negative and at most one request per nanosecond (the
/// clock's tick; above it arrivals would pile up on one instant).
fn rate_number(file: &str, row: u64, column: &str, field: &str) -> Result<f64, TraceError> {
    let v = number(file, row, column, field, "requests per second")?;
    if v > crate::scenario::model::defaults::MAX_RATE {
        return Err(at(
            file,
            Some(row),
            Some(column),
            format!("expected a rate of at most 1e9 requests per second (one per nanosecond, the clock's resolution), found {v:e}"),
        ));
    }
    Ok(v)
}

/// Reads a ServeGen per-client trace into a rate table (times relative to the first window).
pub fn read_servegen<R: Read>(reader: R, file: &str) -> Result<RateTable, TraceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(RecordLines::new(reader));
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    let mut record = csv::StringRecord::new();
    while let Some(line) = next_row(&mut rdr, &mut record, file)? {
        if record.len() < 3 {
            return Err(at(
                file,
                Some(line),
                None,
                format!(
                    "expected at least 3 columns (window start in seconds, rate, cv), found {}",
                    record.len()
                ),
            ));
        }
        let start = number(file, line, "1 (window start)", &record[0], "seconds")?;
        let rate = rate_number(file, line, "2 (rate)", &record[1])?;
        let cv = if record[2].is_empty() {
            1.0
        } else {
            number(
                file,
                line,
                "3 (cv)",
                &record[2],
                "a coefficient of variation",
            )?
        };
        if let Some(&(prev, _, _)) = rows.last() {
            if start <= prev {
                return Err(at(
                    file,
                    Some(line),
                    Some("1 (window start)"),
                    format!("expected window starts to increase, found {start} after {prev}"),
                ));
            }
        }
        // A window without requests has no CV; Poisson stands in.
        let cv = if rate > 0.0 && cv > 0.0 {
            cv.clamp(0.01, 100.0)
        } else {
            1.0
        };
        rows.push((start, rate, cv));
    }
    if rows.is_empty() {
        return Err(at(
            file,
            None,
            None,
            "expected at least one window, found none".into(),
        ));
    }
    let origin = rows[0].0;
    let mut windows = Vec::with_capacity(rows.len());
    for (i, &(start, rate, cv)) in rows.iter().enumerate() {
        let end = match rows.get(i + 1) {
            Some(n) => n.0,
            None if i > 0 => start + (start - rows[i - 1].0),
            None => start + 600.0,
        };
        windows.push(RateWindow {
            start: start - origin,
            end: end - origin,
            rate,
            cv,
        });
    }
    Ok(RateTable { windows })
}

/// Reads an Alibaba GenAI `qps.csv` into a rate table of `bucket`-wide windows (times relative
/// to the first bucket), keeping only rows of `request_type` when given.
pub fn read_genai_qps<R: Read>(
    reader: R,
    file: &str,
    bucket: SimDuration,
    request_type: Option<&str>,
) -> Result<RateTable, TraceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(RecordLines::new(reader));
    let headers = rdr
        .headers()
        .map_err(|e| at(file, Some(1), None, format!("cannot read the header: {e}")))?
        .clone();
    let need = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            at(
                file,
                Some(1),
                Some(name),
                format!(
                    "missing column `{name}` (the header is \
                     `timestamp_anon,value,container_ip,request_type`); found `{}`",
                    headers.iter().collect::<Vec<_>>().join(",")
                ),
            )
        })
    };
    let (ti, vi, ci, ri) = (
        need("timestamp_anon")?,
        need("value")?,
        need("container_ip")?,
        need("request_type")?,
    );
    let width = bucket.as_secs_f64();
    // (bucket index, container) -> (sum, samples). Small: one entry per sample at most.
    let mut acc: BTreeMap<(u64, String), (f64, u32)> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    while let Some(line) = next_row(&mut rdr, &mut record, file)? {
        if request_type.is_some_and(|t| t != &record[ri]) {
            continue;
        }
        let ts = number(file, line, "timestamp_anon", &record[ti], "seconds")?;
        let v = rate_number(file, line, "value", &record[vi])?;
        let e = acc
            .entry(((ts / width).floor() as u64, record[ci].to_string()))
            .or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    let Some(&(first, _)) = acc.keys().next() else {
        return Err(at(
            file,
            None,
            Some("request_type"),
            match request_type {
                Some(t) => format!("no rows with request_type `{t}`"),
                None => "expected at least one row, found none".to_string(),
            },
        ));
    };
    let last = acc.keys().next_back().map_or(first, |k| k.0);
    let span = last.saturating_sub(first).saturating_add(1);
    if let Err(m) = crate::scenario::limits::RATE_WINDOWS.check(span) {
        return Err(at(
            file,
            None,
            Some("timestamp_anon"),
            format!(
                "the timestamps span {span} buckets of {bucket}: {m}; use a wider `traffic.bucket`"
            ),
        ));
    }
    let mut rates = vec![0.0; (last - first + 1) as usize];
    for ((b, _), (sum, n)) in &acc {
        rates[(b - first) as usize] += sum / *n as f64;
    }
    Ok(RateTable {
        windows: rates
            .into_iter()
            .enumerate()
            .map(|(i, rate)| RateWindow {
                start: i as f64 * width,
                end: (i + 1) as f64 * width,
                rate,
                cv: 1.0,
            })
            .collect(),
    })
}

/// Reads the next CSV row into `record` and returns the line it starts on: `None` at the end,
/// an error naming the row's line when the CSV is malformed.
fn next_row<R: Read>(
    rdr: &mut csv::Reader<RecordLines<R>>,
    record: &mut csv::StringRecord,
    file: &str,
) -> Result<Option<u64>, TraceError> {
    match rdr.read_record(record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let at = record.position().map_or(0, |p| p.byte());
            Ok(Some(rdr.get_mut().line_at(at)))
        }
        Err(e) => {
            let row = e.position().map(|p| rdr.get_mut().line_at(p.byte()));
            Err(at(file, row, None, format!("malformed CSV row: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows are named by their own line, past blank lines and with CRLF line ends.
    #[test]
    fn errors_name_the_bad_row_after_blank_lines_and_crlf() {
        let row = |text: &str| read_servegen(text.as_bytes(), "c.csv").unwrap_err().row;
        assert_eq!(row("600,0,0\n1200,x,1\n"), Some(2));
        assert_eq!(row("600,0,0\n\n\n1200,x,1\n"), Some(4));
        assert_eq!(row("600,0,0\r\n1200,x,1\r\n"), Some(2));
        assert_eq!(row("\r\n\r\n600,0,0\r\n\r\n1200,x,1"), Some(5));
        assert_eq!(row("\n\n600,x,0\n"), Some(3));
        assert_eq!(row("600,0,0\n  \n"), Some(2));
        let qps = |text: &str| {
            read_genai_qps(text.as_bytes(), "q.csv", SimDuration::from_secs(1), None)
                .unwrap_err()
                .row
        };
        let head = "timestamp_anon,value,container_ip,request_type";
        assert_eq!(qps(&format!("{head}\n1,2,a,t\n\n1,x,a,t\n")), Some(4));
        assert_eq!(qps(&format!("{head}\r\n1,2,a,t\r\n1,x,a,t\r\n")), Some(3));
        // A malformed row (a wrong number of fields) is named by its line too.
        assert_eq!(qps(&format!("{head}\r\n\r\n1,2,a\r\n")), Some(3));
    }

    #[test]
    fn servegen_windows() {
        let text = "600,0,0,,0,0\n1200,2.5,1.2,Gamma,0.7,0.1\n1800,1.0,3.0,Weibull,0.3,0.2\n";
        let t = read_servegen(text.as_bytes(), "c.csv").unwrap();
        assert_eq!(t.windows.len(), 3);
        assert_eq!(
            t.windows[1],
            RateWindow {
                start: 600.0,
                end: 1200.0,
                rate: 2.5,
                cv: 1.2
            }
        );
        assert_eq!(t.windows[2].end, 1800.0);
        assert_eq!(t.windows[0].cv, 1.0);
        let e = read_servegen("0,1,1\n0,1,1\n".as_bytes(), "c.csv").unwrap_err();
        assert_eq!(e.row, Some(2));
        let e = read_servegen("0,fast,1\n".as_bytes(), "c.csv").unwrap_err();
        assert!(
            e.to_string().starts_with("c.csv:1: column `2 (rate)`"),
            "{e}"
        );
    }

    #[test]
    fn qps_buckets_sum_containers() {
        let text = "timestamp_anon,value,container_ip,request_type\n\
                    1000.0,1.0,a,Generative Requests\n\
                    1010.0,3.0,a,Generative Requests\n\
                    1020.0,2.0,b,Generative Requests\n\
                    1030.0,9.0,,API Requests\n\
                    1190.0,4.0,a,Generative Requests\n";
        let t = read_genai_qps(
            text.as_bytes(),
            "q.csv",
            SimDuration::from_secs(60),
            Some("Generative Requests"),
        )
        .unwrap();
        // Buckets 16 (960-1020: a's mean 2.0), 17 (b: 2.0), 18 (none), 19 (a: 4.0).
        let rates: Vec<f64> = t.windows.iter().map(|w| w.rate).collect();
        assert_eq!(rates, vec![2.0, 2.0, 0.0, 4.0]);
        let e = read_genai_qps(
            "time,value\n".as_bytes(),
            "q.csv",
            SimDuration::from_secs(60),
            None,
        )
        .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("timestamp_anon"));
    }
}
