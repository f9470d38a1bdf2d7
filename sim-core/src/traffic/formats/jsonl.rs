//! Mooncake's JSONL trace: one object per line with `timestamp` (milliseconds from the start),
//! `input_length`, `output_length` and optionally `hash_ids` (prefix-block hashes).

use super::Row;
use crate::traffic::trace::TraceError;
use serde::Deserialize;
use std::io::BufRead;

#[derive(Deserialize)]
struct Line {
    timestamp: Option<serde_json::Number>,
    input_length: Option<u32>,
    output_length: Option<u32>,
    #[serde(default)]
    hash_ids: Option<Vec<u64>>,
}

/// Rows of a JSONL trace.
pub(super) struct JsonlRows<R: BufRead> {
    reader: R,
    file: String,
    line: u64,
    buf: String,
    hash_ids: Vec<u64>,
}

impl<R: BufRead> JsonlRows<R> {
    pub(super) fn new(reader: R, file: &str) -> Self {
        JsonlRows {
            reader,
            file: file.to_string(),
            line: 0,
            buf: String::new(),
            hash_ids: Vec::new(),
        }
    }

    /// The last row's `timestamp`, as written.
    pub(super) fn time_text(&self) -> String {
        serde_json::from_str::<Line>(self.buf.trim())
            .ok()
            .and_then(|l| l.timestamp)
            .map_or_else(String::new, |t| t.to_string())
    }

    pub(super) fn hash_ids(&self) -> &[u64] {
        &self.hash_ids
    }

    pub(super) fn next_row(&mut self) -> Result<Option<Row>, TraceError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|e| TraceError {
                    file: self.file.clone(),
                    row: Some(self.line),
                    column: None,
                    message: format!("cannot read the line: {e}"),
                })?;
            if n == 0 {
                return Ok(None);
            }
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let err = |column: Option<&str>, message: String| TraceError {
            file: self.file.clone(),
            row: Some(self.line),
            column: column.map(str::to_string),
            message,
        };
        let l: Line = serde_json::from_str(self.buf.trim()).map_err(|e| {
            err(
                None,
                format!(
                    "expected a JSON object with `timestamp` (ms), `input_length` and \
                     `output_length`: {e}"
                ),
            )
        })?;
        let ts = l.timestamp.ok_or_else(|| {
            err(
                Some("timestamp"),
                "missing: expected `timestamp`, milliseconds from the start".to_string(),
            )
        })?;
        let ns = ts
            .as_u64()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .or_else(|| {
                ts.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e13)
                    .map(|f| (f * 1e6).round() as u64)
            })
            .ok_or_else(|| {
                err(
                    Some("timestamp"),
                    format!("expected milliseconds from the start, not negative, found `{ts}`"),
                )
            })?;
        let need = |v: Option<u32>, name: &str| {
            v.ok_or_else(|| {
                err(
                    Some(name),
                    format!("missing: expected `{name}`, a whole number of tokens"),
                )
            })
        };
        let prompt = need(l.input_length, "input_length")?;
        let output = need(l.output_length, "output_length")?;
        self.hash_ids.clear();
        if let Some(h) = l.hash_ids {
            self.hash_ids.extend_from_slice(&h);
        }
        Ok(Some(Row {
            line: self.line,
            ns,
            prompt,
            output,
            tenant: 0,
        }))
    }
}
