//! Mooncake traces (FAST'25 release, `kvcache-ai/Mooncake`): JSON lines with `timestamp`
//! (milliseconds from the start), `input_length`, `output_length` and `hash_ids`, the remapped
//! hash chain of the prompt's 512-token blocks. Read whole here, each request's hash ids going to
//! one shared [`PrefixTable`], for prefix caching; the row parsing is `formats::jsonl`'s.

use super::formats::TraceReader;
use super::trace::{TraceError, TraceRecord};
use crate::scenario::{ColumnMap, TraceFormat};
use crate::serving::{Prefix, PrefixTable};
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

/// Reads a whole Mooncake trace with the streaming reader of [`super::formats`] (same rows, same
/// errors), storing each row's hash ids in one table. Used when prefix caching needs the ids.
pub fn read_mooncake<R: BufRead>(reader: R, file: &str) -> Result<MooncakeTrace, TraceError> {
    let mut rdr = TraceReader::new(reader, file, TraceFormat::Mooncake, &ColumnMap::default())?;
    let mut out = MooncakeTrace {
        records: Vec::new(),
        prefixes: Vec::new(),
        table: PrefixTable::new(BLOCK_TOKENS),
    };
    while let Some(mut r) = rdr.next_record()? {
        let prefix = out.table.push(rdr.hash_ids().iter().copied());
        r.prefix = prefix;
        out.records.push(r);
        out.prefixes.push(prefix);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;

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
        // A row without hash ids carries no prefix.
        let text = "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n";
        let t = read_mooncake(text.as_bytes(), "m.jsonl").unwrap();
        assert!(t.prefixes[0].is_empty());
        let e = read_mooncake("{\"timestamp\": 5,".as_bytes(), "m.jsonl").unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(e.message.contains("expected a JSON object"));
        let text =
            "{\"timestamp\": 5, \"input_length\": -1, \"output_length\": 1, \"hash_ids\": []}";
        assert!(read_mooncake(text.as_bytes(), "m.jsonl").is_err());
    }
}
