//! Streaming trace readers: one request at a time, memory constant in the trace's length.
//!
//! | format | rows | time |
//! |---|---|---|
//! | `azure-llm-2023`, `azure-llm-2024` | CSV `TIMESTAMP,ContextTokens,GeneratedTokens` | date-time, relative to the first row |
//! | `burstgpt` | CSV `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type` | seconds |
//! | `mooncake` | JSONL `{"timestamp", "input_length", "output_length", "hash_ids"}` | milliseconds |
//! | `csv` | CSV, columns named by [`ColumnMap`] | seconds (or another unit, or date-time) |
//!
//! Rate formats (`servegen`, `alibaba-genai-qps`) hold rates, not requests: see [`rates`].

mod csv_rows;
mod jsonl;
pub mod rates;

use super::trace::{TraceError, TraceRecord};
use crate::scenario::{ColumnMap, TraceFormat};
use std::collections::BTreeMap;
use std::io::BufRead;

/// Longest line a trace may hold, bytes: a file without newlines is refused, never buffered whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A reader that fails (with the line number) once a line passes [`MAX_LINE_BYTES`].
pub struct LineLimit<R> {
    inner: R,
    since_newline: usize,
    line: u64,
}

impl<R> LineLimit<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        LineLimit {
            inner,
            since_newline: 0,
            line: 1,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.since_newline + n <= MAX_LINE_BYTES {
            // No line can pass the limit here: count lines and keep the last one's length.
            let read = &buf[..n];
            match memchr::memrchr(b'\n', read) {
                Some(last) => {
                    self.line += memchr::memchr_iter(b'\n', read).count() as u64;
                    self.since_newline = n - last - 1;
                }
                None => self.since_newline += n,
            }
            return Ok(n);
        }
        // Line by line (memchr), not byte by byte: the same counts and the same error.
        let mut rest = &buf[..n];
        loop {
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            if self.since_newline + len > MAX_LINE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {} is longer than {} bytes (is this a trace file?)",
                        self.line, MAX_LINE_BYTES
                    ),
                ));
            }
            if len == rest.len() {
                self.since_newline += len;
                break;
            }
            self.line += 1;
            self.since_newline = 0;
            rest = &rest[len + 1..];
        }
        Ok(n)
    }
}

/// A reader under a CSV reader that keeps the bytes it has handed on, so that a record's line
/// can be told from its position. The csv crate's position of a record is where the record
/// before it ended: it counts neither the blank lines before the record nor, in a file with CRLF
/// line ends, the `\n` of the line before. Bytes before the last record asked about are dropped
/// in blocks, so it holds about [`RecordLines::KEEP`] bytes, the CSV reader's look-ahead and one
/// record.
pub struct RecordLines<R> {
    inner: R,
    /// The bytes from offset `start` on.
    kept: Vec<u8>,
    start: u64,
    /// How many of `kept` are before the last record asked about, and the line after them.
    done: usize,
    line: u64,
}

impl<R> RecordLines<R> {
    /// Bytes before the last record asked about that may stay kept.
    pub const KEEP: usize = 1 << 16;

    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        RecordLines {
            inner,
            kept: Vec::new(),
            start: 0,
            done: 0,
            line: 1,
        }
    }

    /// The line of a record whose CSV position is byte `at`: the line of the first byte from
    /// `at` on that does not end a line. Calls must come in the order of the records.
    pub fn line_at(&mut self, at: u64) -> u64 {
        let at = at.saturating_sub(self.start) as usize;
        let mut i = at.clamp(self.done, self.kept.len());
        while i < self.kept.len() && matches!(self.kept[i], b'\r' | b'\n') {
            i += 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.kept[self.done..i]).count() as u64;
        self.done = i;
        self.line
    }
}

impl<R: std::io::Read> std::io::Read for RecordLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done > Self::KEEP && 2 * self.done > self.kept.len() {
            self.kept.drain(..self.done);
            self.start += self.done as u64;
            self.done = 0;
        }
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Most distinct tenant or model labels one trace may hold.
pub const MAX_LABELS: usize = 4096;

/// Tenant or model labels, numbered in order of first appearance.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    names: Vec<String>,
    index: BTreeMap<String, u16>,
}

impl Labels {
    /// The index of `name`, adding it if new; `Err` past [`MAX_LABELS`].
    pub fn intern(&mut self, name: &str) -> Result<u16, String> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if self.names.len() >= MAX_LABELS {
            return Err(format!(
                "expected at most {MAX_LABELS} distinct tenant or model labels, found more \
                 (`{name}` is one too many)"
            ));
        }
        let i = self.names.len() as u16;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        Ok(i)
    }

    /// The labels, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A source of trace records, read one at a time.
pub trait RecordStream: Send {
    /// The next record, `Ok(None)` at the end.
    fn next_record(&mut self) -> Result<Option<TraceRecord>, TraceError>;
    /// Tenant or model labels seen so far, by index.
    fn labels(&self) -> &[String];
}

/// One parsed row before the reader's checks: its line, time (ns, as written), tokens, label.
struct Row {
    line: u64,
    ns: u64,
    prompt: u32,
    output: u32,
    tenant: u16,
}

enum Inner<R: BufRead> {
    Csv(Box<csv_rows::CsvRows<R>>),
    Jsonl(jsonl::JsonlRows<R>),
}

/// Reads a per-request trace row by row. Times must not decrease; date-time formats are made
/// relative to the first row, numeric ones are taken as time from the start.
pub struct TraceReader<R: BufRead> {
    inner: Inner<R>,
    file: String,
    /// Subtract the first row's time.
    relative: bool,
    origin: Option<u64>,
    last: Option<u64>,
    labels: Labels,
    time_column: String,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader of `reader` (named `file` in errors) in `format`; `columns` maps a generic CSV's
    /// columns. Reads the header (CSV) at once, so a missing column fails here.
    pub fn new(
        reader: R,
        file: &str,
        format: TraceFormat,
        columns: &ColumnMap,
    ) -> Result<Self, TraceError> {
        let (inner, relative, time_column) = match format {
            TraceFormat::Mooncake => (
                Inner::Jsonl(jsonl::JsonlRows::new(reader, file)),
                false,
                "timestamp".to_string(),
            ),
            TraceFormat::ServeGen | TraceFormat::AlibabaGenaiQps => {
                return Err(TraceError {
                    file: file.to_string(),
                    row: None,
                    column: None,
                    message: format!(
                        "`{}` holds rates, not requests: read it with the rate reader",
                        format.name()
                    ),
                })
            }
            _ => {
                let rows = csv_rows::CsvRows::new(reader, file, format, columns)?;
                let relative = rows.is_datetime();
                let col = rows.time_column().to_string();
                (Inner::Csv(Box::new(rows)), relative, col)
            }
        };
        Ok(TraceReader {
            inner,
            file: file.to_string(),
            relative,
            origin: None,
            last: None,
            labels: Labels::default(),
            time_column,
        })
    }

    /// The `hash_ids` of the last record read (Mooncake's prefix-block hashes; empty for other
    /// formats and for rows without them). The buffer is reused from row to row.
    pub fn hash_ids(&self) -> &[u64] {
        match &self.inner {
            Inner::Jsonl(j) => j.hash_ids(),
            Inner::Csv(_) => &[],
        }
    }

    /// The next record, `Ok(None)` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<TraceRecord>, TraceError> {
        let row = match &mut self.inner {
            Inner::Csv(c) => c.next_row(&mut self.labels)?,
            Inner::Jsonl(j) => j.next_row()?,
        };
        let Some(row) = row else { return Ok(None) };
        if let Some(prev) = self.last {
            if row.ns < prev {
                return Err(TraceError {
                    file: self.file.clone(),
                    row: Some(row.line),
                    column: Some(self.time_column.clone()),
                    message: format!(
                        "timestamps must not decrease: `{}` is earlier than the row before",
                        match &self.inner {
                            Inner::Csv(c) => c.time_text(),
                            Inner::Jsonl(j) => j.time_text(),
                        }
                    ),
                });
            }
        }
        self.last = Some(row.ns);
        let base = if self.relative {
            *self.origin.get_or_insert(row.ns)
        } else {
            0
        };
        Ok(Some(TraceRecord {
            time: crate::engine::SimTime(row.ns - base),
            prompt_tokens: row.prompt,
            output_tokens: row.output,
            tenant: row.tenant,
            prefix: crate::serving::Prefix::NONE,
        }))
    }
}

impl<R: BufRead + Send> RecordStream for TraceReader<R> {
    fn next_record(&mut self) -> Result<Option<TraceRecord>, TraceError> {
        TraceReader::next_record(self)
    }
    fn labels(&self) -> &[String] {
        self.labels.names()
    }
}

/// Records held in memory, as a stream (tests, and traces built by a program).
#[derive(Clone, Debug)]
pub struct RecordsStream {
    records: std::sync::Arc<Vec<TraceRecord>>,
    next: usize,
}

impl RecordsStream {
    /// A stream over `records` (in time order).
    pub fn new(records: std::sync::Arc<Vec<TraceRecord>>) -> Self {
        RecordsStream { records, next: 0 }
    }
}

impl RecordStream for RecordsStream {
    fn next_record(&mut self) -> Result<Option<TraceRecord>, TraceError> {
        let r = self.records.get(self.next).copied();
        self.next += 1;
        Ok(r)
    }
    fn labels(&self) -> &[String] {
        &[]
    }
}

/// What a pass over a whole trace found: checked once before a run, in constant memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Records.
    pub requests: u64,
    /// First arrival (after the format's origin).
    pub first: Option<crate::engine::SimTime>,
    /// Last arrival.
    pub last: Option<crate::engine::SimTime>,
    /// Whether any record has an output token count above zero.
    pub has_tokens: bool,
    /// Tenant or model labels.
    pub labels: Vec<String>,
}

/// Reads every record of `stream`, keeping only counts: the check a run makes before it starts.
pub fn scan(stream: &mut dyn RecordStream) -> Result<TraceStats, TraceError> {
    let mut st = TraceStats::default();
    while let Some(r) = stream.next_record()? {
        st.requests += 1;
        st.first.get_or_insert(r.time);
        st.last = Some(r.time);
        st.has_tokens |= r.output_tokens > 0;
    }
    st.labels = stream.labels().to_vec();
    Ok(st)
}

/// The records of a CSV trace (its rows after the header) as a CSV reader counts them, from its
/// lines alone, without reading a field: a line ends at a line feed or a carriage return (alone
/// or before a line feed), as the CSV reader's lines do, and blank lines are skipped, as it skips
/// them. `None` when a record may span lines (the file has a quote) or the file starts with a
/// byte order mark, so the caller reads it with [`scan`] instead. Whether the rows are valid is
/// not looked at. Reads in blocks, in constant memory.
pub fn count_plain_csv_records<R: std::io::Read>(mut reader: R) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 1 << 16];
    // Lines with at least one byte, and whether the last byte read ended a line (the file's
    // start counts as one).
    let (mut lines, mut after_end, mut first) = (0u64, true, true);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let block = &buf[..n];
        if memchr::memchr(b'"', block).is_some() || (first && block[0] == 0xEF) {
            return Ok(None);
        }
        first = false;
        lines += line_starts(block, &mut after_end);
    }
    // The header is the first line with a byte.
    Ok(lines.checked_sub(1))
}

/// Bytes of `block` that start a line: neither a line feed nor a carriage return, and first in
/// the file or after one of those (`after_end` says whether the byte before `block` was; it is
/// left saying so of `block`'s last byte). Eight bytes at a time.
fn line_starts(block: &[u8], after_end: &mut bool) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `v` that is zero, exactly (no carries between bytes).
    let zero = |v: u64| !(((v & !HI).wrapping_add(!HI)) | v) & HI;
    let mut count = 0u64;
    // The high bit of byte 0 set when the byte before is a line end.
    let mut carry = if *after_end { 0x80 } else { 0 };
    let mut words = block.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        let ends = zero(v ^ (LO * u64::from(b'\n'))) | zero(v ^ (LO * u64::from(b'\r')));
        let before = (ends << 8) | carry;
        count += u64::from((!ends & HI & before).count_ones());
        carry = ends >> 56;
    }
    let mut end = carry != 0;
    for &c in words.remainder() {
        let is_end = c == b'\n' || c == b'\r';
        count += u64::from(!is_end && end);
        end = is_end;
    }
    *after_end = end;
    count
}

/// What a [`Watched`] stream met: the end of its trace, or an error.
#[derive(Debug, Default)]
pub struct Watch {
    ended: std::sync::atomic::AtomicBool,
    error: std::sync::Mutex<Option<TraceError>>,
}

impl Watch {
    /// Forgets what was met (a stream opened afresh).
    pub fn reset(&self) {
        self.ended
            .store(false, std::sync::atomic::Ordering::Relaxed);
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether the stream read to the end of its trace, without an error.
    pub fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The error the stream stopped at, if any.
    pub fn error(&self) -> Option<TraceError> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A record stream that tells its [`Watch`] when it reaches the end of its trace or an error, so
/// whoever opened it can tell afterwards whether every row was read and was sound.
pub struct Watched {
    inner: Box<dyn RecordStream>,
    watch: std::sync::Arc<Watch>,
}

impl Watched {
    /// Watches `inner` (resetting `watch`).
    pub fn new(inner: Box<dyn RecordStream>, watch: std::sync::Arc<Watch>) -> Self {
        watch.reset();
        Watched { inner, watch }
    }
}

impl RecordStream for Watched {
    #[inline]
    fn next_record(&mut self) -> Result<Option<TraceRecord>, TraceError> {
        let r = self.inner.next_record();
        match &r {
            Ok(Some(_)) => {}
            Ok(None) => self
                .watch
                .ended
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Err(e) => {
                let mut slot = self.watch.error.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert_with(|| e.clone());
            }
        }
        r
    }
    fn labels(&self) -> &[String] {
        self.inner.labels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting lines gives the records a full read finds, wherever it may.
    #[test]
    fn plain_counts_match_a_full_read() {
        let texts = [
            "timestamp\n",
            "timestamp",
            "timestamp\n1\n2\n3\n",
            "timestamp\n1\n2\n3",
            "\n\ntimestamp\n\n1\n\n\n2\n\n",
            "timestamp,prompt_tokens\n1,2\n 2 ,3\n",
            "timestamp,prompt_tokens\n1,2\n\n3,4",
            "timestamp\r\n1\r\n2\r\n",
            "timestamp\r1\r2",
            "timestamp\r\n\r\n1\r\r\n\n2\n\r3",
        ];
        for t in texts {
            let full = TraceReader::new(
                t.as_bytes(),
                "t.csv",
                TraceFormat::Csv,
                &ColumnMap::default(),
            )
            .and_then(|mut r| scan(&mut r))
            .map(|s| s.requests);
            assert_eq!(
                count_plain_csv_records(t.as_bytes()).unwrap(),
                Some(full.unwrap()),
                "{t:?}"
            );
        }
        // Quotes (a record may span lines) and a byte order mark are left to the full read.
        for t in [
            "timestamp\n\"1\"\n",
            "timestamp,prompt_tokens\n1,\"2\n3\"\n",
            "\u{feff}timestamp\n1\n",
        ] {
            assert_eq!(
                count_plain_csv_records(t.as_bytes()).unwrap(),
                None,
                "{t:?}"
            );
        }
        // Eight bytes at a time as byte by byte, from any offset and either state before.
        let bytes: Vec<u8> = (0..2_000u32)
            .map(|i| [b'a', b'\n', b'\r', b'x', b','][(i * i % 7 + i / 3) as usize % 5])
            .collect();
        for from in 0..20 {
            for before in [false, true] {
                let block = &bytes[from..];
                let mut end = before;
                let mut slow = 0;
                for &c in block {
                    let is_end = c == b'\n' || c == b'\r';
                    slow += u64::from(!is_end && end);
                    end = is_end;
                }
                let mut after = before;
                assert_eq!(line_starts(block, &mut after), slow, "{from} {before}");
                assert_eq!(after, end);
            }
        }
        // Blocks end anywhere: a line split over two reads counts once.
        let long = format!("timestamp\r\n{}\r\n\n{}", "1".repeat(70_000), "2".repeat(3));
        assert_eq!(count_plain_csv_records(long.as_bytes()).unwrap(), Some(2));
    }

    /// The line limit refuses the first line past [`MAX_LINE_BYTES`], naming it, however the
    /// reads split the file (counting whole reads at once where no line can pass the limit).
    #[test]
    fn line_limit_names_the_first_long_line() {
        use std::io::Read;
        let ok = "a".repeat(MAX_LINE_BYTES);
        let long = "b".repeat(MAX_LINE_BYTES + 1);
        for chunk in [1000, 8192, 70_000, 3 << 20] {
            let read_all = |text: &str| {
                let mut r = LineLimit::new(text.as_bytes());
                let mut buf = vec![0u8; chunk];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => return Ok(r.line),
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
            };
            assert_eq!(read_all(&format!("x\n\n{ok}\ny\n{ok}")), Ok(5), "{chunk}");
            let e = read_all(&format!("x\n{ok}\n\n{long}\n{long}")).unwrap_err();
            assert!(e.starts_with("line 4 is longer than"), "{chunk}: {e}");
            let e = read_all(&long).unwrap_err();
            assert!(e.starts_with("line 1 is longer than"), "{chunk}: {e}");
        }
    }

    /// Record lines stay right past the blocks of kept bytes it drops (rows far apart in a
    /// long file, blank lines and CRLF ends mixed).
    #[test]
    fn record_lines_count_past_dropped_blocks() {
        let mut text = String::new();
        let mut want = Vec::new();
        let mut line = 1;
        for i in 0..20_000u32 {
            for _ in 0..i % 3 {
                text.push_str(if i % 2 == 0 { "\r\n" } else { "\n" });
                line += 1;
            }
            text.push_str(&format!("{i},x{}", if i % 5 == 0 { "\r\n" } else { "\n" }));
            want.push(line);
            line += 1;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(RecordLines::new(text.as_bytes()));
        let mut record = csv::StringRecord::new();
        let mut got = Vec::new();
        while rdr.read_record(&mut record).unwrap() {
            let at = record.position().unwrap().byte();
            got.push(rdr.get_mut().line_at(at));
        }
        assert_eq!(got, want);
        assert!(rdr.get_ref().kept.len() < 4 * RecordLines::<&[u8]>::KEEP);
    }

    /// A watched stream says whether it read to the end, or the error it stopped at.
    #[test]
    fn watched_streams_report_the_end_or_the_error() {
        let open = |text: &'static str| {
            Box::new(
                TraceReader::new(
                    text.as_bytes(),
                    "t.csv",
                    TraceFormat::Csv,
                    &ColumnMap::default(),
                )
                .unwrap(),
            ) as Box<dyn RecordStream>
        };
        let watch = std::sync::Arc::new(Watch::default());
        let mut w = Watched::new(open("timestamp\n1\n2\n"), watch.clone());
        assert!(w.next_record().unwrap().is_some());
        assert!(!watch.ended());
        assert!(w.next_record().unwrap().is_some());
        assert!(w.next_record().unwrap().is_none());
        assert!(watch.ended() && watch.error().is_none());
        let mut w = Watched::new(open("timestamp\n1\nsoon\n"), watch.clone());
        assert!(!watch.ended());
        assert!(w.next_record().unwrap().is_some());
        let e = w.next_record().unwrap_err();
        assert_eq!(watch.error(), Some(e));
        assert!(!watch.ended());
    }

    #[test]
    fn mooncake_rows_expose_hash_ids() {
        let text = "{\"timestamp\": 0, \"input_length\": 700, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
                    \n\
                    {\"timestamp\": 1500, \"input_length\": 20, \"output_length\": 2}\n";
        let mut r = TraceReader::new(
            text.as_bytes(),
            "m.jsonl",
            TraceFormat::Mooncake,
            &ColumnMap::default(),
        )
        .unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.time.0, a.prompt_tokens, a.output_tokens), (0, 700, 5));
        assert_eq!(r.hash_ids(), &[0, 1]);
        let b = r.next_record().unwrap().unwrap();
        assert_eq!(b.time.0, 1_500_000_000);
        assert!(r.hash_ids().is_empty());
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn labels_are_numbered_in_order_of_first_appearance() {
        let text = "timestamp,tenant,model\n0,a,x\n1,b,x\n2,a,x\n3,a,y\n";
        let mut r = TraceReader::new(
            text.as_bytes(),
            "t.csv",
            TraceFormat::Csv,
            &ColumnMap::default(),
        )
        .unwrap();
        let tags: Vec<u16> = std::iter::from_fn(|| r.next_record().unwrap())
            .map(|x| x.tenant)
            .collect();
        assert_eq!(tags, vec![0, 1, 0, 2]);
        assert_eq!(RecordStream::labels(&r), ["a/x", "b/x", "a/y"]);
    }

    #[test]
    fn azure_2024_times_with_offsets_are_relative_to_the_first_row() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2024-05-10 00:00:00.009930+00:00,10,1\n\
                    2024-05-10 02:00:01.009930+02:00,10,1\n";
        let rows = crate::traffic::read_trace(text.as_bytes(), "a.csv", TraceFormat::AzureLlm2024)
            .unwrap();
        assert_eq!(rows[1].time.0, 1_000_000_000);
    }
}
