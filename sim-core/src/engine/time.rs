//! Simulated time: integer nanoseconds, and the duration strings scenarios use (`"250ms"`, `"5m"`).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// 2^52: below it a float's truncation and the fraction it leaves are exact in `i64`.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `x as f64` for a `u64`, by the signed conversion when `x` is below 2^63 (one instruction on
/// x86-64, where the unsigned one takes several); the same value for every `x`.
#[inline(always)]
pub fn f64_of(x: u64) -> f64 {
    if (x as i64) >= 0 {
        x as i64 as f64
    } else {
        x as f64
    }
}

/// `x.round() as u64` (halves away from zero; negative and NaN give 0, too large gives
/// `u64::MAX`) without the library call `f64::round` makes on x86-64: the truncation and the
/// fraction it leaves are exact, so the result is the same for every `x`.
#[inline]
pub fn round_u64(x: f64) -> u64 {
    if (0.0..TWO_52).contains(&x) {
        // The common case in signed conversions, which x86-64 does in one instruction each
        // (unsigned ones take several): the same truncation and fraction as below.
        let t = x as i64;
        let frac = x - t as f64;
        return (t + i64::from(frac >= 0.5)) as u64;
    }
    let t = x as u64;
    // Exact: below 2^53, `t` and `x` are within a factor of two (or `t` is 0); above, `x` is an
    // integer and the fraction is 0 (or `t` saturated).
    let frac = x - t as f64;
    if frac >= 0.5 {
        t.saturating_add(1)
    } else {
        t
    }
}

/// An instant of simulated time, in integer nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in integer nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event a run can hold.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Seconds as a float, for output.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        f64_of(self.0) / NANOS_PER_SEC as f64
    }

    /// Seconds as a float, to the nearest nanosecond (negative and NaN give zero).
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime(SimDuration::from_secs_f64(s).0)
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A whole number of seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }

    /// A whole number of milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }

    /// A whole number of microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }

    /// Seconds given as a float, rounded to the nearest nanosecond; negative and NaN give zero,
    /// and anything beyond the range saturates.
    #[inline]
    pub fn from_secs_f64(s: f64) -> Self {
        SimDuration(round_u64(s * NANOS_PER_SEC as f64))
    }

    /// Seconds as a float, for output and for rates.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        f64_of(self.0) / NANOS_PER_SEC as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(*self))
    }
}

/// Writes a duration the way scenario files spell them: `"250ms"`, `"1h30m"`, `"0s"`.
pub fn format_duration(d: SimDuration) -> String {
    let ns = d.0;
    if ns == 0 {
        return "0s".to_string();
    }
    const UNITS: [(u64, &str); 7] = [
        (3_600 * NANOS_PER_SEC, "h"),
        (60 * NANOS_PER_SEC, "m"),
        (NANOS_PER_SEC, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
        (0, ""),
    ];
    let mut out = String::new();
    let mut rest = ns;
    for &(unit, name) in UNITS.iter().take(6) {
        if rest >= unit {
            out.push_str(&format!("{}{}", rest / unit, name));
            rest %= unit;
        }
    }
    out
}

/// Why a duration string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError(pub String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a duration such as `"250ms"`, `"15s"`, `"1.5s"`, `"5m"`, `"24h"`, `"1h30m"` or `"100us"`.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. Decimal fractions are exact to the
/// nanosecond (no floating point). Negative durations are rejected.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationError> {
    let expected = || {
        DurationError(format!(
            "expected a duration such as \"250ms\", \"15s\", \"5m\" or \"1h30m\" \
             (units ns, us, ms, s, m, h, d), found \"{text}\""
        ))
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(expected());
    }
    if s.starts_with('-') {
        return Err(DurationError(format!(
            "expected a duration that is not negative, found \"{text}\""
        )));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        // Number: digits with an optional fraction.
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let number = &s[start..i];
        if number.is_empty() || number.matches('.').count() > 1 || number == "." {
            return Err(expected());
        }
        let ustart = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit = &s[ustart..i];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(expected()),
        };
        let (int_part, frac_part) = match number.split_once('.') {
            Some((a, b)) => (a, b),
            None => (number, ""),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| expected())?
        };
        let mut value = int.checked_mul(scale).ok_or_else(expected)?;
        if !frac_part.is_empty() {
            if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            // Digits beyond the 18th are far below a nanosecond for every unit.
            let digits = frac_part.len().min(18) as u32;
            let frac: u128 = frac_part[..digits as usize]
                .parse()
                .map_err(|_| expected())?;
            let denom = 10u128.pow(digits);
            let part = frac.checked_mul(scale).ok_or_else(expected)?;
            value = value
                .checked_add((part + denom / 2) / denom)
                .ok_or_else(expected)?;
        }
        total = total.checked_add(value).ok_or_else(expected)?;
    }
    u64::try_from(total)
        .map(SimDuration)
        .map_err(|_| DurationError(format!("duration \"{text}\" is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_u64_matches_f64_round_at_the_edges() {
        let edges = [
            0.0,
            -0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            -0.5,
            -0.7,
            -3.0,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            // The largest float below 2^64, and 2^64.
            2f64.powi(64) - 2048.0,
            2f64.powi(64),
            1e30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            1e-300,
        ];
        for x in edges {
            assert_eq!(round_u64(x), x.round() as u64, "{x}");
        }
        // What `from_secs_f64` promises: negative and NaN give zero, beyond the range saturates.
        assert_eq!(SimDuration::from_secs_f64(-1.0), SimDuration(0));
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration(0));
        assert_eq!(SimDuration::from_secs_f64(1e300), SimDuration(u64::MAX));
        assert_eq!(SimDuration::from_secs_f64(1.5e-9), SimDuration(2));
    }

    proptest! {
        #[test]
        fn round_u64_matches_f64_round(bits in any::<u64>(), small in -1e12f64..1e12) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(round_u64(x), x.round() as u64);
            prop_assert_eq!(round_u64(small), small.round() as u64);
            let half = small.trunc() + 0.5;
            prop_assert_eq!(round_u64(half), half.round() as u64);
        }

        #[test]
        fn f64_of_is_the_conversion(x in any::<u64>(), small in 0u64..1 << 40) {
            prop_assert_eq!(f64_of(x).to_bits(), (x as f64).to_bits());
            prop_assert_eq!(f64_of(small).to_bits(), (small as f64).to_bits());
        }
    }

    #[test]
    fn f64_of_at_the_edges() {
        for x in [
            0,
            1,
            (1 << 53) + 1,
            (1 << 63) - 1,
            1 << 63,
            (1 << 63) + 1,
            u64::MAX,
        ] {
            assert_eq!(f64_of(x).to_bits(), (x as f64).to_bits(), "{x}");
        }
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SimDuration::from_millis(250)
        );
        assert_eq!(parse_duration("15s").unwrap(), SimDuration::from_secs(15));
        assert_eq!(parse_duration("5m").unwrap(), SimDuration::from_secs(300));
        assert_eq!(
            parse_duration("24h").unwrap(),
            SimDuration::from_secs(86_400)
        );
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            SimDuration::from_secs(5_400)
        );
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration::from_millis(1_500)
        );
        assert_eq!(
            parse_duration("100us").unwrap(),
            SimDuration::from_micros(100)
        );
        assert_eq!(parse_duration("0.000000001s").unwrap(), SimDuration(1));
        assert_eq!(parse_duration("0s").unwrap(), SimDuration::ZERO);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "5", "ms", "5 parsecs", "-3s", "1..2s", "5mss", "."] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["250ms", "15s", "5m", "1h30m", "100us", "1s500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(SimDuration::from_secs(5_400)), "1h30m");
    }

    #[test]
    fn long_fractions_neither_overflow_nor_wrap() {
        let d = parse_duration("10.999999999999999999999999999999d").unwrap();
        assert_eq!(d, SimDuration(950_400_000_000_000)); // 11 days to the nanosecond
        assert!(parse_duration("99999999999999999999999999h").is_err());
    }
}
