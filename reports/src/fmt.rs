//! Deterministic number formatting: fixed decimals, a unit on every number, `–` for no value.

/// Joins a number to its unit so the two never wrap apart (a no-break space).
pub const NBSP: char = '\u{a0}';

/// The text shown where there is no value.
pub const NONE: &str = "–";

/// `v` with exactly `decimals` decimals; never `-0`.
pub fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A duration in seconds shown in ms below 10 s, else in s, with 2 decimals.
pub fn duration(v: Option<f64>) -> String {
    match v {
        None => NONE.to_string(),
        Some(s) if s.abs() >= 10.0 => format!("{}{NBSP}s", fixed(s, 2)),
        Some(s) => format!("{}{NBSP}ms", fixed(s * 1e3, 2)),
    }
}

/// A ratio shown as a percentage with 2 decimals.
pub fn percent(v: Option<f64>) -> String {
    v.map_or(NONE.to_string(), |r| {
        format!("{}{NBSP}%", fixed(r * 100.0, 2))
    })
}

/// US dollars with 2 decimals.
pub fn usd(v: Option<f64>) -> String {
    v.map_or(NONE.to_string(), |d| format!("${NBSP}{}", fixed(d, 2)))
}

/// A plain quantity with `decimals` decimals and a unit.
pub fn qty(v: Option<f64>, decimals: usize, unit: &str) -> String {
    v.map_or(NONE.to_string(), |x| {
        if unit.is_empty() {
            fixed(x, decimals)
        } else {
            format!("{}{NBSP}{unit}", fixed(x, decimals))
        }
    })
}

/// A whole count with its noun, singular for 1: `count(1, "node")` is `1 node`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1{NBSP}{noun}")
    } else {
        format!("{n}{NBSP}{noun}s")
    }
}

/// Escapes text for HTML and XML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_fixed() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(2.5, 0), "2");
        assert_eq!(duration(Some(0.0123)), "12.30\u{a0}ms");
        assert_eq!(duration(Some(12.0)), "12.00\u{a0}s");
        assert_eq!(percent(Some(0.99)), "99.00\u{a0}%");
        assert_eq!(usd(Some(1.5)), "$\u{a0}1.50");
        assert_eq!(usd(None), "–");
        assert_eq!(count(1, "node"), "1\u{a0}node");
        assert_eq!(count(0, "node"), "0\u{a0}nodes");
        assert_eq!(esc("<a&'\">"), "&lt;a&amp;&#39;&quot;&gt;");
    }
}
