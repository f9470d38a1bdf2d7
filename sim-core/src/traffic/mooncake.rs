//! Mooncake traces (FAST'25 release, `kvcache-ai/Mooncake`): JSON lines with `timestamp`
//! (milliseconds from the start), `input_length`, `output_length` and `hash_ids`, the remapped
//! hash chain of the prompt's 512-token blocks. Read line by line; each request's hash ids go
//! to one shared [`PrefixTable`].

use super::trace::{TraceError, TraceRecord};
use crate::engine::SimTime;
use crate::serving::{Prefix, PrefixTable};
use serde::Deserialize;
use std::io::BufRead;

/// Tokens each Mooncake hash id covers.
pub const BLOCK_TOKENS: u32 = 512;

/// A Mooncake trace: its requests, their prefixes and the table those index.
#[derive(Clone, Debug, PartialEq)]
pub struct MooncakeTrace {
    /// Arrivals and token counts, in file order.
    pub records: Vec<TraceRecord>,
    /// Each record's prefix in `table`.
    pub prefixes: Vec<Prefix>,
    /// Every record's hash ids.
    pub table: PrefixTable,
}

#[derive(Deserialize)]
struct Row {
    timestamp: Option<f64>,
    input_length: Option<u32>,
    output_length: Option<u32>,
    hash_ids: Option<Vec<u64>>,
}

/// Reads a Mooncake trace. Timestamps must not decrease; blank lines are skipped.
pub fn read_mooncake<R: BufRead>(reader: R, file: &str) -> Result<MooncakeTrace, TraceError> {
    let err = |row: u64, column: Option<&str>, message: String| TraceError {
        file: file.to_string(),
        row: Some(row),
        column: column.map(str::to_string),
        message,
    };
    let mut out = MooncakeTrace {
        records: Vec::new(),
        prefixes: Vec::new(),
        table: PrefixTable::new(BLOCK_TOKENS),
    };
    let mut last = 0u64;
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| err(n, None, format!("cannot read the line: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line).map_err(|e| {
            err(
                n,
                None,
                format!(
                    "expected a JSON object with `timestamp`, `input_length`, `output_length` \
                     and `hash_ids`: {e}"
                ),
            )
        })?;
        let missing = |c: &str, what: &str| err(n, Some(c), format!("missing: expected {what}"));
        let ts = row
            .timestamp
            .ok_or_else(|| missing("timestamp", "milliseconds from the start"))?;
        if !(ts.is_finite() && ts >= 0.0) {
            return Err(err(
                n,
                Some("timestamp"),
                format!("expected milliseconds from the start, not negative, found {ts}"),
            ));
        }
        let ns = (ts * 1e6).round() as u64;
        if ns < last {
            return Err(err(
                n,
                Some("timestamp"),
                format!("timestamps must not decrease: {ts} is earlier than the line before"),
            ));
        }
        last = ns;
        let prompt = row
            .input_length
            .ok_or_else(|| missing("input_length", "prompt tokens"))?;
        let output = row
            .output_length
            .ok_or_else(|| missing("output_length", "output tokens"))?;
        let ids = row
            .hash_ids
            .ok_or_else(|| missing("hash_ids", "a list of block hash ids"))?;
        let prefix = out.table.push(ids);
        out.records.push(TraceRecord {
            time: SimTime(ns),
            prompt_tokens: prompt,
            output_tokens: output,
            tenant: 0,
            prefix,
        });
        out.prefixes.push(prefix);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_shared_hashes() {
        let text = "{\"timestamp\": 0, \"input_length\": 1100, \"output_length\": 5, \"hash_ids\": [0, 1, 2]}\n\
                    \n\
                    {\"timestamp\": 27.5, \"input_length\": 600, \"output_length\": 2, \"hash_ids\": [0, 7]}\n";
        let t = read_mooncake(text.as_bytes(), "m.jsonl").unwrap();
        assert_eq!(t.records.len(), 2);
        assert_eq!(t.records[1].time, SimTime(27_500_000));
        assert_eq!(t.records[1].prompt_tokens, 600);
        assert_eq!(t.records[1].output_tokens, 2);
        assert_eq!(t.table.ids(t.prefixes[0]), &[0, 1, 2]);
        assert_eq!(t.table.ids(t.prefixes[1]), &[0, 7]);
        assert_eq!(t.table.unit_tokens(), 512);
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n\
                    {\"timestamp\": 4, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}\n";
        let e = read_mooncake(text.as_bytes(), "m.jsonl").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("m.jsonl:2: column `timestamp`: timestamps must not decrease"));
        let text = "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n";
        let e = read_mooncake(text.as_bytes(), "m.jsonl").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("hash_ids"));
        let e = read_mooncake("{\"timestamp\": 5,".as_bytes(), "m.jsonl").unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(e.message.contains("expected a JSON object"));
        let text =
            "{\"timestamp\": 5, \"input_length\": -1, \"output_length\": 1, \"hash_ids\": []}";
        assert!(read_mooncake(text.as_bytes(), "m.jsonl").is_err());
    }
}
