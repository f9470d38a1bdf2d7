//! Kubernetes resource quantities: `"500m"`, `"2"`, `"4Gi"`, `"1.5G"`, `"1e3"`.

use std::fmt;

/// A non-negative quantity held exactly in thousandths of its unit (milli-cores for CPU,
/// milli-bytes for memory), rounded up as Kubernetes rounds `MilliValue()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    milli: u128,
}

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { milli: 0 };

    /// A quantity from thousandths of the unit.
    pub const fn from_milli(milli: u128) -> Self {
        Quantity { milli }
    }

    /// A whole number of units.
    pub const fn from_units(units: u64) -> Self {
        Quantity {
            milli: units as u128 * 1000,
        }
    }

    /// Thousandths of the unit (milli-cores for CPU).
    pub fn milli(self) -> u128 {
        self.milli
    }

    /// Whole units, rounded up (bytes for memory, devices for GPUs).
    pub fn units_ceil(self) -> u128 {
        self.milli.div_ceil(1000)
    }

    /// The value as a float in units, for ratios and output.
    pub fn as_f64(self) -> f64 {
        self.milli as f64 / 1000.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.milli % 1000 == 0 {
            write!(f, "{}", self.milli / 1000)
        } else {
            write!(f, "{}m", self.milli)
        }
    }
}

/// Why a quantity string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a Kubernetes quantity: a decimal number, then an optional suffix: binary
/// (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), decimal (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`)
/// or a decimal exponent (`1e3`, `1E-3`). Negative quantities are rejected.
pub fn parse_quantity(text: &str) -> Result<Quantity, QuantityError> {
    let expected = || {
        QuantityError(format!(
            "expected a Kubernetes quantity such as \"500m\", \"2\", \"4Gi\" or \"1.5G\" \
             (suffixes n u m k M G T P E, Ki Mi Gi Ti Pi Ei), found \"{text}\""
        ))
    };
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(QuantityError(format!(
            "expected a quantity that is not negative, found \"{text}\""
        )));
    }
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(expected());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if frac_part.len() > 18 || int_part.len() > 24 {
        return Err(expected());
    }
    let digits = format!("{int_part}{frac_part}");
    let mantissa: u128 = digits.parse().map_err(|_| expected())?;
    // value = mantissa / 10^frac * num / den
    let mut num: u128 = 1000; // thousandths
    let mut den: u128 = 10u128.pow(frac_part.len() as u32);
    let pow = |b: u128, e: u32| b.checked_pow(e).ok_or_else(expected);
    match suffix {
        "" => {}
        "Ki" => num *= 1 << 10,
        "Mi" => num *= 1 << 20,
        "Gi" => num *= 1 << 30,
        "Ti" => num *= 1 << 40,
        "Pi" => num *= 1 << 50,
        "Ei" => num *= 1 << 60,
        "n" => den *= 1_000_000_000,
        "u" => den *= 1_000_000,
        "m" => den *= 1_000,
        "k" => num *= 1_000,
        "M" => num *= 1_000_000,
        "G" => num *= 1_000_000_000,
        "T" => num *= pow(10, 12)?,
        "P" => num *= pow(10, 15)?,
        "E" => num *= pow(10, 18)?,
        exp if exp.starts_with(['e', 'E']) => {
            let e: i32 = exp[1..].parse().map_err(|_| expected())?;
            if !(-18..=18).contains(&e) {
                return Err(expected());
            }
            if e >= 0 {
                num *= pow(10, e as u32)?;
            } else {
                den *= pow(10, (-e) as u32)?;
            }
        }
        _ => return Err(expected()),
    }
    let scaled = mantissa.checked_mul(num).ok_or_else(expected)?;
    Ok(Quantity {
        milli: scaled.div_ceil(den),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_forms() {
        assert_eq!(parse_quantity("500m").unwrap().milli(), 500);
        assert_eq!(parse_quantity("2").unwrap().milli(), 2000);
        assert_eq!(parse_quantity("1.5").unwrap().milli(), 1500);
        assert_eq!(parse_quantity("4Gi").unwrap().units_ceil(), 4 << 30);
        assert_eq!(parse_quantity("1.5G").unwrap().units_ceil(), 1_500_000_000);
        assert_eq!(parse_quantity("1e3").unwrap().units_ceil(), 1000);
        assert_eq!(parse_quantity("1E-3").unwrap().milli(), 1);
        assert_eq!(parse_quantity("100k").unwrap().units_ceil(), 100_000);
        // Rounded up to the milli, as Kubernetes does.
        assert_eq!(parse_quantity("1n").unwrap().milli(), 1);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["4GG", "", "Gi", "-1", "1.2.3", "4 Gi", "1e99", "abc"] {
            assert!(parse_quantity(bad).is_err(), "{bad} should fail");
        }
    }
}
