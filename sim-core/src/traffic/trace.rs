//! Trace records and errors, the time parsers the trace formats share, and [`read_trace`], which
//! collects a whole (small) trace. The formats themselves are in [`super::formats`].

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
    /// Tenant (or model) index: a label's order of first appearance in the trace, or the
    /// stream's index in a mix; 0 when the trace has no labels.
    pub tenant: u16,
    /// Prefix hash ids (a Mooncake trace read for prefix caching); empty otherwise.
    pub prefix: crate::serving::Prefix,
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

impl TraceError {
    /// An error in `file`, at `row` and `column` when known.
    pub fn new(
        file: &str,
        row: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        TraceError {
            file: file.to_string(),
            row,
            column: column.map(str::to_string),
            message: message.into(),
        }
    }
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

/// Reads a whole trace into memory (for token samples and tests; replay streams instead, see
/// [`super::formats::TraceReader`]). Timestamps must not decrease; token counts must be whole
/// numbers.
pub fn read_trace<R: Read>(
    reader: R,
    file: &str,
    format: TraceFormat,
) -> Result<Vec<TraceRecord>, TraceError> {
    let mut rdr = super::formats::TraceReader::new(
        std::io::BufReader::new(reader),
        file,
        format,
        &crate::scenario::ColumnMap::default(),
    )?;
    let mut out = Vec::new();
    while let Some(r) = rdr.next_record()? {
        out.push(r);
    }
    Ok(out)
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`), optionally followed by `Z` or a UTC offset
/// `±HH:MM` (as in the Azure 2024 trace), to nanoseconds since 1970, UTC.
pub fn parse_datetime_ns(s: &str) -> Option<u64> {
    if let Some(plain) = plain_datetime_ns(s.as_bytes()) {
        return plain;
    }
    let (date, time) = s.split_once([' ', 'T'])?;
    let (time, offset_s): (&str, i64) = if let Some(t) = time.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (t, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
        if oh > 23 || om > 59 {
            return None;
        }
        (t, sign * (oh * 3_600 + om * 60))
    } else {
        (time, 0)
    };
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let hh: u64 = t.next()?.parse().ok()?;
    let mm: u64 = t.next()?.parse().ok()?;
    let ss: u64 = t.next()?.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32)
    };
    datetime_ns(
        [y, i64::from(m), i64::from(day)],
        [hh, mm, ss],
        frac_ns,
        offset_s,
    )
}

/// The layout of the Azure 2023 traces, `YYYY-MM-DD HH:MM:SS.f…` (or with `T`; one to nine
/// fraction digits, or none and no point; no zone), read digit by digit: the value (or `None`
/// for an invalid date) that [`parse_datetime_ns`]'s general reading gives; `None` for any other
/// layout, which that reading handles.
#[inline]
fn plain_datetime_ns(b: &[u8]) -> Option<Option<u64>> {
    if !(b.len() == 19 || (21..=29).contains(&b.len()))
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b' ' && b[10] != b'T')
        || b[13] != b':'
        || b[16] != b':'
        || (b.len() > 19 && b[19] != b'.')
    {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u64> {
        b[from..to].iter().try_fold(0u64, |n, &c| {
            let d = c.wrapping_sub(b'0');
            (d < 10).then_some(n * 10 + u64::from(d))
        })
    };
    let (y, m, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hh, mm, ss) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    let frac_ns = if b.len() > 19 {
        digits(20, b.len())? * 10u64.pow(29 - b.len() as u32)
    } else {
        0
    };
    Some(datetime_ns(
        [y as i64, m as i64, day as i64],
        [hh, mm, ss],
        frac_ns,
        0,
    ))
}

/// [`plain_datetime_ns`] remembering the date and hour of the last valid time it read: a row in
/// the same hour as the one before (most rows of a trace) reads only its minutes, seconds and
/// fraction. Gives what `plain_datetime_ns` gives for every input (anything but a valid time in
/// the remembered hour goes through `plain_datetime_ns` itself).
#[derive(Clone, Debug, Default)]
pub(crate) struct PlainDateTimes {
    /// `YYYY-MM-DD HH` (or with `T`) of the last valid time read, and the seconds from 1970 to
    /// the start of that hour.
    /// (Bytes 0–7 and 5–12 of it as two words, for a comparison in two loads.)
    hour: Option<((u64, u64), u64)>,
}

/// Bytes `at..at + 8` of `b` as a little-endian word (`b` must hold them).
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl PlainDateTimes {
    /// What `plain_datetime_ns(b)` gives.
    #[inline]
    pub(crate) fn read(&mut self, b: &[u8]) -> Option<Option<u64>> {
        if let Some((key, base)) = &self.hour {
            let n = b.len();
            if (n == 19 || (21..=29).contains(&n))
                && (word(b, 0), word(b, 5)) == *key
                && b[13] == b':'
                && b[16] == b':'
                && (n == 19 || b[19] == b'.')
            {
                let d = |i: usize| u64::from(b[i].wrapping_sub(b'0'));
                let (m1, m2, s1, s2) = (d(14), d(15), d(17), d(18));
                let mut frac = 0u64;
                let mut digits = m1 < 10 && m2 < 10 && s1 < 10 && s2 < 10;
                for &c in b.get(20..).unwrap_or(&[]) {
                    let x = c.wrapping_sub(b'0');
                    digits &= x < 10;
                    frac = frac.wrapping_mul(10).wrapping_add(u64::from(x));
                }
                let (mm, ss) = (m1 * 10 + m2, s1 * 10 + s2);
                if digits && mm <= 59 && ss <= 60 {
                    // Up to nine digits of fraction, in nanoseconds.
                    const SCALE: [u64; 10] = [
                        1_000_000_000,
                        100_000_000,
                        10_000_000,
                        1_000_000,
                        100_000,
                        10_000,
                        1_000,
                        100,
                        10,
                        1,
                    ];
                    let frac_ns = frac * SCALE[n.saturating_sub(20).min(9)];
                    let secs = base + mm * 60 + ss;
                    return Some(
                        secs.checked_mul(1_000_000_000)
                            .and_then(|ns| ns.checked_add(frac_ns)),
                    );
                }
            }
        }
        let r = plain_datetime_ns(b);
        if let Some(Some(_)) = r {
            // A valid time: its date and hour are valid too.
            let d = |from: usize, to: usize| {
                b[from..to]
                    .iter()
                    .fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'))
            };
            let days = days_from_civil(d(0, 4) as i64, d(5, 7) as u32, d(8, 10) as u32);
            let key = (word(b, 0), word(b, 5));
            self.hour = Some((key, days as u64 * 86_400 + d(11, 13) * 3_600));
        }
        r
    }
}

/// Nanoseconds since 1970, UTC, of a date, a time of day and an offset east of UTC, checked.
fn datetime_ns(
    [y, m, day]: [i64; 3],
    [hh, mm, ss]: [u64; 3],
    frac_ns: u64,
    offset_s: i64,
) -> Option<u64> {
    // Years from 1970 to 2500: nanoseconds since 1970 fit in 64 bits (to 2554).
    if !(1970..=2500).contains(&y) || !(1..=12).contains(&m) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    let days = days_from_civil(y, m as u32, day as u32);
    if days < 0 {
        return None;
    }
    let secs = (days as u64 * 86_400 + hh * 3_600 + mm * 60 + ss) as i64 - offset_s;
    if secs < 0 {
        return None;
    }
    (secs as u64)
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
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

    /// The digit-by-digit reading of the plain layout gives what the general reading gives (a
    /// `Z` suffix sends the same time through the latter).
    #[test]
    fn plain_datetimes_read_as_the_general_reading() {
        let cases = [
            "2023-11-16 18:15:46.6805900",
            "2023-11-16T18:15:46.680590012",
            "2023-11-16 18:15:46.6",
            "2023-11-16 18:15:46",
            "2024-02-29 23:59:60.999999999",
            "2023-02-29 00:00:00.1",
            "2023-13-01 00:00:00.1",
            "2023-00-01 00:00:00.1",
            "2023-04-31 00:00:00",
            "2023-04-00 00:00:00",
            "2023-11-16 24:00:00.5",
            "2023-11-16 23:60:00.5",
            "2023-11-16 23:59:61",
            "1969-12-31 23:59:59.9",
            "1970-01-01 00:00:00.0",
            "2500-12-31 23:59:59.999999999",
            "2501-01-01 00:00:00",
            "2023-1a-16 18:15:46.68",
            "2023-11-16 18:15:46.6x",
        ];
        for s in cases {
            assert_eq!(
                parse_datetime_ns(s),
                parse_datetime_ns(&format!("{s}Z")),
                "{s}"
            );
        }
        assert_eq!(
            plain_datetime_ns(cases[0].as_bytes()),
            Some(parse_datetime_ns(cases[0]))
        );
        for s in [
            "2023-11-16 18:15:46.",
            "2023-11-16 18:15:46.1234567890",
            "2023-11-16 18:15",
            "2023-1a-16 18:15:46.68",
        ] {
            assert!(plain_datetime_ns(s.as_bytes()).is_none(), "{s}");
        }
        assert_eq!(
            parse_datetime_ns("2023-11-16 18:15:46.6805900"),
            Some(1_700_158_546_680_590_000)
        );
    }

    /// Reading times with the date and hour remembered gives what reading each alone gives,
    /// in any order (same hour, next hour, invalid times between valid ones).
    #[test]
    fn remembered_hours_read_as_plain_datetimes() {
        let times = [
            "2023-11-16 18:15:46.6805900",
            "2023-11-16 18:15:47.1",
            "2023-11-16 18:59:60.999999999",
            "2023-11-16 18:60:00.5",
            "2023-11-16 18:15:61",
            "2023-11-16 18:1x:00.5",
            "2023-11-16 18:15:46.",
            "2023-11-16 18:15:46.1234567890",
            "2023-11-16 18:15:46",
            "2023-11-16T18:15:46.25",
            "2023-11-16 19:00:00.0",
            "2023-11-16 19:00:00.0Z",
            "2023-11-16 18:15:46.6x",
            "2023-02-29 18:15:46.6",
            "2023-02-29 18:15:47.6",
            "2024-02-29 23:59:59.5",
            "2024-02-29 23:59:58",
            "2500-12-31 23:59:59.999999999",
            "2500-12-31 23:00:00",
            "1970-01-01 00:00:00.0",
            "1970-01-01 00:00:01",
            "2023-11-16 18:15",
            "",
        ];
        // Every time read after every other (the first sets the remembered hour, or not).
        for before in times {
            for s in times {
                let mut remembered = PlainDateTimes::default();
                remembered.read(before.as_bytes());
                assert_eq!(
                    remembered.read(s.as_bytes()),
                    plain_datetime_ns(s.as_bytes()),
                    "{s} after {before}"
                );
            }
        }
    }

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
        // Impossible calendar dates and years past 64-bit nanoseconds are refused.
        assert_eq!(parse_datetime_ns("2023-02-29 00:00:00"), None);
        assert_eq!(parse_datetime_ns("2023-04-31 00:00:00"), None);
        assert!(parse_datetime_ns("2024-02-29 00:00:00").is_some());
        assert_eq!(parse_datetime_ns("99999999999-01-01 00:00:00"), None);
        assert_eq!(
            parse_datetime_ns("2000-03-01 02:00:00.5+02:00"),
            Some(951_868_800_500_000_000)
        );
        assert_eq!(
            parse_datetime_ns("2000-03-01 00:00:00Z"),
            parse_datetime_ns("2000-03-01 00:00:00")
        );
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
