//! RFC 3339 timestamps (`2026-01-02T03:04:05.5Z`, `1969-07-20T20:17:40-05:00`) to and from
//! nanoseconds since the Unix epoch, as `i128` so that every year 0000–9999 fits.

/// Nanoseconds per second.
const NS: i128 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an RFC 3339 date-time into nanoseconds since 1970-01-01T00:00:00Z.
pub fn parse(text: &str) -> Result<i128, String> {
    let bad = |why: &str| {
        format!(
            "expected an RFC 3339 time such as \"2026-01-02T03:04:05Z\" or \"2026-01-02T03:04:05.25+01:00\" ({why}), found \"{text}\""
        )
    };
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, String> {
        let s = b.get(from..from + len).ok_or_else(|| bad("too short"))?;
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(bad("digits expected"));
        }
        Ok(s.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0')))
    };
    let sep = |at: usize, chars: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if chars.contains(c) => Ok(()),
            _ => Err(bad("wrong separator")),
        }
    };
    let year = num(0, 4)? as i64;
    sep(4, b"-")?;
    let month = num(5, 2)?;
    sep(7, b"-")?;
    let day = num(8, 2)?;
    sep(10, b"Tt ")?;
    let hour = num(11, 2)?;
    sep(13, b":")?;
    let minute = num(14, 2)?;
    sep(16, b":")?;
    let second = num(17, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    // A leap second (60) is accepted and folded into the next second, as Go's parser rejects it
    // and most systems smear it.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time of day"));
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + i128::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(bad("digits expected after the decimal point"));
        }
        for _ in (i - start)..9 {
            frac *= 10;
        }
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() => {
            let h = num(i + 1, 2)?;
            sep(i + 3, b":")?;
            let m = num(i + 4, 2)?;
            if h > 23 || m > 59 {
                return Err(bad("offset out of range"));
            }
            let o = i64::from(h * 3600 + m * 60);
            if c == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad("a time zone Z or ±hh:mm must end it")),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_s;
    Ok(i128::from(secs) * NS + frac)
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC, with the fraction only when non-zero.
pub fn format(ns: i128) -> String {
    let secs = ns.div_euclid(NS);
    let frac = ns.rem_euclid(NS);
    let days = secs.div_euclid(86_400) as i64;
    let sod = secs.rem_euclid(86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse("2000-03-01T00:00:00Z").unwrap(), 951_868_800 * NS);
        assert_eq!(parse("1969-12-31T23:59:59Z").unwrap(), -NS);
        assert_eq!(
            parse("1969-07-20T20:17:40-05:00").unwrap(),
            (-14_182_940 + 5 * 3600) * NS
        );
        assert_eq!(
            parse("2026-01-02T03:04:05.25+01:00").unwrap(),
            (1_767_323_045 - 3600) * NS + NS / 4
        );
        assert_eq!(parse("0001-01-01T00:00:00Z").unwrap(), -62_135_596_800 * NS);
    }

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "0001-01-01T00:00:00Z",
            "2024-02-29T12:00:00.5Z",
            "1900-03-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "2026-02-30T00:00:00Z",
            "2026-01-01 00:00:00",
            "2026-01-01T24:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0100",
            "yesterday",
        ] {
            assert!(parse(s).is_err(), "{s}");
        }
        assert!(parse("1900-02-29T00:00:00Z").is_err());
    }
}
