//! Scenario errors that name the file, the line and column, the key and what was expected.

use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A problem with a scenario file (or any TOML input capsim reads).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScenarioError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line, when the position is known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the position is known.
    pub column: Option<usize>,
    /// The object in the file the error is about (a manifest's `Kind/name`); empty when the file
    /// holds one thing.
    pub object: Box<str>,
    /// The key path, such as `traffic.rate` or `traffic.schedule[1].start`; empty for the whole file.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl ScenarioError {
    /// An error at a byte range of `source`.
    pub fn at_span(
        file: &str,
        source: &str,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match span {
            Some(r) => {
                let (l, c) = line_col(source, r.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            object: Box::default(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// An error about the value at `key` (a dotted path), located in `source` when the key is there.
    pub fn at_key(file: &str, source: &str, key: &str, message: impl Into<String>) -> Self {
        let span = locate(source, key);
        Self::at_span(file, source, span, key, message)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if !self.object.is_empty() {
            write!(f, ": {}", self.object)?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": key `{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of byte offset `pos` in `source`.
pub fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let before = &source[..floor_char_boundary(source, pos)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, l)| l)
        .chars()
        .count()
        + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `a.b[2].c` into segments. Keys containing dots (`"nvidia.com/gpu"`) may be quoted.
pub(crate) fn split_path(path: &str) -> Vec<Seg<'_>> {
    let mut segs = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => i += 1,
            b'[' => {
                let end = path[i..].find(']').map_or(path.len(), |e| i + e);
                if let Ok(n) = path[i + 1..end].parse() {
                    segs.push(Seg::Index(n));
                }
                i = end + 1;
            }
            b'"' => {
                let end = path[i + 1..].find('"').map_or(path.len(), |e| i + 1 + e);
                segs.push(Seg::Key(&path[i + 1..end]));
                i = end + 1;
            }
            _ => {
                let end = path[i..].find(['.', '[']).map_or(path.len(), |e| i + e);
                segs.push(Seg::Key(&path[i..end]));
                i = end;
            }
        }
    }
    segs
}

/// The byte range of the value at `path` in the TOML `source`, or of the nearest enclosing key
/// that exists. `None` if the source does not parse.
pub fn locate(source: &str, path: &str) -> Option<Range<usize>> {
    let root = DeTable::parse(source).ok()?;
    let mut best: Option<Range<usize>> = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for seg in split_path(path) {
        match seg {
            Seg::Key(k) => {
                let t = match (table, value) {
                    (Some(t), _) => t,
                    (None, Some(v)) => match v.get_ref() {
                        DeValue::Table(t) => t,
                        _ => break,
                    },
                    _ => break,
                };
                let Some((key, v)) = t.get_key_value(k) else {
                    break;
                };
                // Prefer the value's span; fall back to the key's when the value is a table header.
                best = Some(if v.span().is_empty() {
                    key.span()
                } else {
                    v.span()
                });
                table = None;
                value = Some(v);
            }
            Seg::Index(n) => {
                let Some(v) = value else { break };
                let DeValue::Array(a) = v.get_ref() else {
                    break;
                };
                let Some(item) = a.get(n) else { break };
                best = Some(item.span());
                value = Some(item);
            }
        }
    }
    best
}

/// A serde error's message as capsim shows it: the first line (the TOML value deserialiser
/// appends "in `table`" lines, which the key path says already), trimmed, on one line, with the
/// closest valid name added ([`suggest_in_message`]).
pub fn serde_message(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let first = text.split("\nin ").next().unwrap_or(&text);
    suggest_in_message(
        first
            .trim()
            .trim_end_matches('.')
            .replace('\n', " ")
            .as_str(),
    )
}

/// Rewrites a serde message (`unknown field `rat`, expected one of `rate`, `kind``) to add the
/// closest valid name, if one is close enough.
pub fn suggest_in_message(message: &str) -> String {
    let Some((given, candidates)) = parse_unknown(message) else {
        return message.to_string();
    };
    match closest(given, &candidates) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
}

/// Extracts the unknown name and the expected names from serde's standard messages.
fn parse_unknown(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (given, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected")?.1;
    let names: Vec<&str> = list
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    Some((given, names))
}

/// The candidate nearest to `given` by edit distance, if it is within a third of its length.
pub fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let g = given.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&g, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len().max(given.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn locates_nested_keys_and_array_items() {
        let src = "[traffic]\nkind = \"schedule\"\n[[traffic.schedule]]\nrate = 1.0\n[[traffic.schedule]]\nrate = -2.0\n";
        let span = locate(src, "traffic.schedule[1].rate").unwrap();
        assert_eq!(&src[span.clone()], "-2.0");
        assert_eq!(line_col(src, span.start), (6, 8));
        let span = locate(src, "traffic.kind").unwrap();
        assert_eq!(&src[span], "\"schedule\"");
        // A missing key falls back to its nearest existing parent.
        assert!(locate(src, "traffic.missing").is_some());
    }

    #[test]
    fn suggests_nearest_name() {
        let m = "unknown field `rat`, expected one of `kind`, `rate`, `path`";
        assert!(suggest_in_message(m).ends_with("did you mean `rate`?"));
        let m = "unknown variant `posson`, expected one of `poisson`, `schedule`, `trace`";
        assert!(suggest_in_message(m).ends_with("did you mean `poisson`?"));
        let m = "unknown field `zzzzzz`, expected `rate`";
        assert_eq!(suggest_in_message(m), m);
        assert_eq!(
            closest("replicass", &["replicas", "router"]),
            Some("replicas")
        );
    }

    #[test]
    fn splits_quoted_keys() {
        assert_eq!(
            split_path("service.resources.requests.\"nvidia.com/gpu\""),
            vec![
                Seg::Key("service"),
                Seg::Key("resources"),
                Seg::Key("requests"),
                Seg::Key("nvidia.com/gpu")
            ]
        );
    }
}
