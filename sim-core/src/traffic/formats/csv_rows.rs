//! CSV trace formats: Azure LLM 2023 and 2024, BurstGPT, and a generic CSV with mapped columns.

use super::{Labels, Row};
use crate::scenario::{ColumnMap, TimeUnit, TraceFormat};
use crate::traffic::trace::{parse_datetime_ns, PlainDateTimes, TraceError};
use std::io::BufRead;

/// How a time column is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeKind {
    DateTime,
    /// A decimal number of units of `10^exp` nanoseconds (9: seconds, 6: milliseconds).
    Decimal {
        exp: u32,
    },
}

/// A column in use: its index and its name (for errors).
#[derive(Clone, Debug)]
struct Col {
    index: usize,
    name: String,
}

/// Rows of a CSV trace.
///
/// Rows are read as byte records and their fields trimmed when used: `csv::Trim::All` on a
/// `StringRecord` allocates two records per row. What a row reads as, and the error for a row
/// that is not UTF-8, are those of a `StringRecord` reader with `Trim::All`.
pub(super) struct CsvRows<R: BufRead> {
    rdr: csv::Reader<R>,
    record: csv::ByteRecord,
    file: String,
    time: Col,
    time_kind: TimeKind,
    prompt: Option<Col>,
    output: Option<Col>,
    /// Label columns (tenant, then model); joined with `/` when both are present.
    labels: Vec<Col>,
    label_buf: String,
    /// Date-times read with the last row's date and hour remembered.
    dates: PlainDateTimes,
    /// 1 when lines end in CRLF, else 0: the csv crate's record position is where the record
    /// before it ended, which in a CRLF file is before that line's `\n`, a line too early.
    crlf: u64,
}

impl<R: BufRead> CsvRows<R> {
    pub(super) fn new(
        reader: R,
        file: &str,
        format: TraceFormat,
        map: &ColumnMap,
    ) -> Result<Self, TraceError> {
        let err = |column: Option<&str>, message: String| TraceError {
            file: file.to_string(),
            row: Some(1),
            column: column.map(str::to_string),
            message,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::Headers)
            .from_reader(reader);
        let headers = rdr
            .headers()
            .map_err(|e| err(None, format!("cannot read the header: {e}")))?
            .clone();
        // A header read whole without passing a `\n` ended at the `\r` of a CRLF.
        let crlf = u64::from(rdr.position().line() == 1 && rdr.position().byte() > 0);
        let found = || headers.iter().collect::<Vec<_>>().join(",");
        let find = |name: &str| headers.iter().position(|h| h == name);
        let need = |name: &str, why: &str| -> Result<Col, TraceError> {
            find(name)
                .map(|index| Col {
                    index,
                    name: name.to_string(),
                })
                .ok_or_else(|| {
                    err(
                        Some(name),
                        format!(
                            "missing column `{name}` ({why}); the header is `{}`",
                            found()
                        ),
                    )
                })
        };
        let maybe = |name: &str| {
            find(name).map(|index| Col {
                index,
                name: name.to_string(),
            })
        };
        let azure = "the Azure LLM header is `TIMESTAMP,ContextTokens,GeneratedTokens`";
        let burst = "the BurstGPT header is \
                     `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`";
        let (time, time_kind, prompt, output, labels) = match format {
            TraceFormat::AzureLlm2023 | TraceFormat::AzureLlm2024 => (
                need("TIMESTAMP", azure)?,
                TimeKind::DateTime,
                Some(need("ContextTokens", azure)?),
                Some(need("GeneratedTokens", azure)?),
                Vec::new(),
            ),
            TraceFormat::BurstGpt => (
                need("Timestamp", burst)?,
                TimeKind::Decimal { exp: 9 },
                Some(need("Request tokens", burst)?),
                Some(need("Response tokens", burst)?),
                vec![need("Model", burst)?],
            ),
            TraceFormat::Csv => {
                let mapped = |c: &Option<String>, key: &str, default: &str| match c {
                    Some(name) => {
                        need(name, &format!("mapped by `traffic.columns.{key}`")).map(Some)
                    }
                    None => Ok(maybe(default)),
                };
                let time = if map.timestamp == "timestamp" {
                    need(
                        "timestamp",
                        "the arrival time, mapped by `traffic.columns.timestamp`",
                    )?
                } else {
                    need(&map.timestamp, "mapped by `traffic.columns.timestamp`")?
                };
                let kind = match map.time_unit {
                    TimeUnit::DateTime => TimeKind::DateTime,
                    TimeUnit::Seconds => TimeKind::Decimal { exp: 9 },
                    TimeUnit::Millis => TimeKind::Decimal { exp: 6 },
                    TimeUnit::Micros => TimeKind::Decimal { exp: 3 },
                    TimeUnit::Nanos => TimeKind::Decimal { exp: 0 },
                };
                let mut labels = Vec::new();
                if !map.model_only {
                    if let Some(c) = mapped(&map.tenant, "tenant", "tenant")? {
                        labels.push(c);
                    }
                }
                if let Some(c) = mapped(&map.model, "model", "model")? {
                    labels.push(c);
                }
                (
                    time,
                    kind,
                    mapped(&map.prompt_tokens, "prompt_tokens", "prompt_tokens")?,
                    mapped(&map.output_tokens, "output_tokens", "output_tokens")?,
                    labels,
                )
            }
            TraceFormat::Mooncake | TraceFormat::ServeGen | TraceFormat::AlibabaGenaiQps => {
                unreachable!("not a per-request CSV format")
            }
        };
        Ok(CsvRows {
            rdr,
            record: csv::ByteRecord::new(),
            file: file.to_string(),
            time,
            time_kind,
            prompt,
            output,
            labels,
            label_buf: String::new(),
            dates: PlainDateTimes::default(),
            crlf,
        })
    }

    /// Whether times are date-times (replayed relative to the first row).
    pub(super) fn is_datetime(&self) -> bool {
        self.time_kind == TimeKind::DateTime
    }

    /// The last row's time field, as written.
    pub(super) fn time_text(&self) -> String {
        self.field(self.time.index).to_string()
    }

    /// Field `index` of the last row, trimmed of whitespace as `csv::Trim::All` trims a
    /// `StringRecord`'s fields; empty if the row has no such field.
    #[inline]
    fn field(&self, index: usize) -> &str {
        record_field(&self.record, index)
    }

    /// The error a `StringRecord` reader with `csv::Trim::All` reports for the last row, which
    /// is not UTF-8 (read from `pos`): its fields are trimmed of ASCII whitespace first.
    #[cold]
    fn utf8_error(&self, pos: &csv::Position) -> TraceError {
        let mut trimmed = self.record.clone();
        trimmed.trim();
        let (field, cause) = match csv::StringRecord::from_byte_record(trimmed) {
            Err(e) => (e.utf8_error().field(), e.utf8_error().to_string()),
            Ok(_) => (0, "invalid utf-8".to_string()),
        };
        TraceError {
            file: self.file.clone(),
            row: Some(pos.line()),
            column: None,
            message: format!(
                "malformed CSV row: CSV parse error: record {} (line {}, field: {}, byte: {}): {cause}",
                pos.record(),
                pos.line(),
                field,
                pos.byte(),
            ),
        }
    }

    /// The error for the last row (at `line`), whose time does not read.
    #[cold]
    fn time_error(&self, line: u64) -> TraceError {
        let field = self.field(self.time.index);
        let expected = match self.time_kind {
            TimeKind::DateTime => {
                "a date-time like `2023-11-16 18:17:03.9799600` (optionally with `+00:00`)"
                    .to_string()
            }
            TimeKind::Decimal { exp } => format!(
                "{} from the start, a number that is not negative",
                match exp {
                    9 => "seconds",
                    6 => "milliseconds",
                    3 => "microseconds",
                    _ => "nanoseconds",
                }
            ),
        };
        TraceError {
            file: self.file.clone(),
            row: Some(line),
            column: Some(self.time.name.clone()),
            message: format!("expected {expected}, found `{field}`"),
        }
    }

    /// The error for the last row (at `line`), whose token count in `col` does not read.
    #[cold]
    fn tokens_error(&self, col: &Col, line: u64) -> TraceError {
        TraceError {
            file: self.file.clone(),
            row: Some(line),
            column: Some(col.name.clone()),
            message: format!(
                "expected a whole number of tokens, found `{}`",
                self.field(col.index)
            ),
        }
    }

    /// The time column's name.
    pub(super) fn time_column(&self) -> &str {
        &self.time.name
    }

    pub(super) fn next_row(&mut self, labels: &mut Labels) -> Result<Option<Row>, TraceError> {
        let pos = self.rdr.position().clone();
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                return Err(TraceError {
                    file: self.file.clone(),
                    row: e.position().map(|p| p.line()),
                    column: None,
                    message: format!("malformed CSV row: {e}"),
                })
            }
        }
        let r = &self.record;
        let ascii = r.as_slice().is_ascii();
        if !(ascii || r.iter().all(|f| std::str::from_utf8(f).is_ok())) {
            return Err(self.utf8_error(&pos));
        }
        // The row's own line (malformed rows keep the csv crate's, which its message quotes).
        let line = self.record.position().map_or(0, |p| p.line()) + self.crlf;
        let err = |col: &Col, message: String| TraceError {
            file: self.file.clone(),
            row: Some(line),
            column: Some(col.name.clone()),
            message,
        };
        let ns = match self.time_kind {
            TimeKind::DateTime => {
                let b = record_field_bytes(&self.record, self.time.index, ascii);
                match self.dates.read(b) {
                    Some(ns) => ns,
                    None => parse_datetime_ns(self.field(self.time.index)),
                }
            }
            TimeKind::Decimal { exp } => parse_scaled(self.field(self.time.index), exp),
        };
        let Some(ns) = ns else {
            return Err(self.time_error(line));
        };
        let tokens = |c: &Option<Col>| -> Result<u32, TraceError> {
            match c {
                None => Ok(0),
                Some(col) => match parse_u32(record_field_bytes(&self.record, col.index, ascii)) {
                    Some(n) => Ok(n),
                    None => Err(self.tokens_error(col, line)),
                },
            }
        };
        let prompt = tokens(&self.prompt)?;
        let output = tokens(&self.output)?;
        let tenant = match self.labels.as_slice() {
            [] => 0,
            [one] => {
                let v = self.field(one.index);
                labels.intern(v).map_err(|m| err(one, m))?
            }
            many => {
                self.label_buf.clear();
                for (i, c) in many.iter().enumerate() {
                    if i > 0 {
                        self.label_buf.push('/');
                    }
                    let v = self
                        .record
                        .get(c.index)
                        .and_then(|f| std::str::from_utf8(f).ok());
                    self.label_buf.push_str(v.unwrap_or("").trim());
                }
                labels
                    .intern(&self.label_buf)
                    .map_err(|m| err(&many[0], m))?
            }
        };
        Ok(Some(Row {
            line,
            ns,
            prompt,
            output,
            tenant,
        }))
    }
}

/// Field `index` of `record`, trimmed of whitespace as `csv::Trim::All` trims a
/// `StringRecord`'s fields; empty if the row has no such field.
#[inline]
fn record_field(record: &csv::ByteRecord, index: usize) -> &str {
    record
        .get(index)
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
        .trim()
}

/// [`record_field`] as bytes; `ascii` says the record is ASCII (then whitespace is ASCII
/// whitespace, and no `str` is made).
#[inline]
fn record_field_bytes(record: &csv::ByteRecord, index: usize, ascii: bool) -> &[u8] {
    if ascii {
        trim_ascii_whitespace(record.get(index).unwrap_or(b""))
    } else {
        record_field(record, index).as_bytes()
    }
}

/// `s` less leading and trailing ASCII whitespace as `str::trim` sees it (tab, line feed,
/// vertical tab, form feed, carriage return, space); for ASCII text, what `str::trim` gives.
#[inline]
fn trim_ascii_whitespace(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// What `str::parse::<u32>` gives for `s` (as text), read from bytes: decimal digits after an
/// optional `+`, and no overflow.
#[inline]
fn parse_u32(s: &[u8]) -> Option<u32> {
    let digits = match s {
        [] | [b'+'] => return None,
        [b'+', rest @ ..] => rest,
        _ => s,
    };
    digits.iter().try_fold(0u32, |n, &c| {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            n.checked_mul(10)?.checked_add(u32::from(d))
        } else {
            None
        }
    })
}

/// A decimal number of units of `10^exp` nanoseconds (`exp` 9: seconds) to nanoseconds, exactly
/// (digits past the nanosecond are dropped); `None` for anything but digits with one optional
/// point, or on overflow.
pub(crate) fn parse_scaled(s: &str, exp: u32) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ns: u64 = 0;
    for b in int.bytes() {
        ns = ns.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    ns = ns.checked_mul(10u64.pow(exp))?;
    let digits = frac.len().min(exp as usize);
    let mut f: u64 = 0;
    for b in frac.bytes().take(digits) {
        f = f * 10 + (b - b'0') as u64;
    }
    ns.checked_add(f * 10u64.pow(exp - digits as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_decimals() {
        assert_eq!(parse_scaled("1.5", 9), Some(1_500_000_000));
        assert_eq!(parse_scaled("1500", 6), Some(1_500_000_000));
        assert_eq!(parse_scaled("0.0000000019", 9), Some(1));
        assert_eq!(parse_scaled(".25", 9), Some(250_000_000));
        assert_eq!(parse_scaled("1e3", 9), None);
        assert_eq!(parse_scaled("-1", 9), None);
        assert_eq!(parse_scaled("", 9), None);
        assert_eq!(parse_scaled("99999999999999999999", 9), None);
    }

    #[test]
    fn byte_readings_match_the_str_ones() {
        for s in [
            "",
            "+",
            "-",
            "0",
            "+0",
            "-0",
            "007",
            "+12",
            "4294967295",
            "4294967296",
            "99999999999",
            "1 2",
            "12a",
            "a",
            "++1",
            "+-1",
            " 1",
            "1.0",
            "\u{663}",
        ] {
            assert_eq!(parse_u32(s.as_bytes()), s.parse::<u32>().ok(), "{s:?}");
        }
        for s in [
            "",
            " ",
            "\t\x0b\x0c\r\n x \x0b",
            "x",
            " x y ",
            "\x1c1\x1f",
            "\x0b\x0b",
        ] {
            assert_eq!(
                trim_ascii_whitespace(s.as_bytes()),
                s.trim().as_bytes(),
                "{s:?}"
            );
        }
    }

    /// A bad row's error names its own line, whether lines end in LF or CRLF.
    #[test]
    fn a_bad_row_names_its_line_with_lf_and_crlf() {
        for eol in ["\n", "\r\n"] {
            let text = [
                "timestamp,prompt_tokens,output_tokens",
                "1,7,9",
                "2,8,10",
                "3,x,5",
                "",
            ]
            .join(eol);
            let mut rows = CsvRows::new(
                text.as_bytes(),
                "t.csv",
                TraceFormat::Csv,
                &ColumnMap::default(),
            )
            .expect("header");
            let mut labels = Labels::default();
            assert!(rows.next_row(&mut labels).expect("row 2").is_some());
            assert!(rows.next_row(&mut labels).expect("row 3").is_some());
            let err = match rows.next_row(&mut labels) {
                Err(e) => e,
                Ok(_) => panic!("line 4 is bad"),
            };
            assert_eq!(err.row, Some(4), "lines ending in {eol:?}");
        }
    }

    /// Fields trimmed on use, and the error for a row that is not UTF-8, are those of a
    /// `StringRecord` reader with `csv::Trim::All`.
    #[test]
    fn reads_as_a_trimming_string_record_reader() {
        let rows: [&[u8]; 5] = [
            "  1.5 ,\t7 , 9\u{a0}\n".as_bytes(),
            "2,\u{3000}8\u{3000},10\n".as_bytes(),
            b"3, 4 \xff,5\n",
            b"4,\x0b6,\xc3 \n",
            b"  \xe2\x82 ,1,1\n",
        ];
        for row in rows {
            let mut text = b"timestamp,prompt_tokens, output_tokens \n".to_vec();
            text.extend_from_slice(row);
            let mut ours =
                CsvRows::new(&text[..], "t.csv", TraceFormat::Csv, &ColumnMap::default())
                    .expect("header");
            let got = ours.next_row(&mut Labels::default());
            let mut reference = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(&text[..]);
            reference.headers().expect("header");
            let mut record = csv::StringRecord::new();
            match reference.read_record(&mut record) {
                Ok(_) => {
                    let row = got.expect("reads").expect("a row");
                    assert_eq!(ours.time_text(), &record[0]);
                    assert_eq!(row.prompt, record[1].parse::<u32>().unwrap_or(u32::MAX));
                    assert_eq!(row.output, record[2].parse::<u32>().unwrap_or(u32::MAX));
                }
                Err(e) => {
                    let err = match got {
                        Err(err) => err,
                        Ok(_) => panic!("expected an error for {row:?}"),
                    };
                    assert_eq!(err.message, format!("malformed CSV row: {e}"));
                    assert_eq!(err.row, e.position().map(|p| p.line()));
                }
            }
        }
    }
}
