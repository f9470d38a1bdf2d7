//! A first pass over a manifest's YAML events that refuses what the mapping never needs and a
//! few hundred bytes could abuse: anchors, aliases and tags (an alias expands, so nested aliases
//! grow exponentially), mappings nested deeper than [`MAX_DEPTH`], and duplicate keys. The
//! same pass records where each field is ([`Positions`]), so errors found later in the mapping
//! name the line and column of the field they are about.

use crate::scenario::ScenarioError;
use std::collections::{BTreeMap, BTreeSet};
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::Event;

/// Deepest nesting of mappings and sequences accepted (Kubernetes objects need about 12).
pub const MAX_DEPTH: usize = 64;

/// Where each field of one YAML document is: its path (`spec.template.spec.containers[0].name`,
/// as the mapping names fields) to the 1-based line and column of its key (of the item, in a
/// sequence; of the document's first node, for the empty path).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Positions(BTreeMap<String, (usize, usize)>);

impl Positions {
    /// The line and column of `path`, or of its nearest enclosing field that the document has
    /// (a missing field is reported where it would go).
    pub fn at(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(&lc) = self.0.get(p) {
                return Some(lc);
            }
            if p.is_empty() {
                return None;
            }
            // Drop the last segment: `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``. A key holding a
            // dot (`nvidia.com/gpu`) is tried whole first, then cut at its dot: still a parent.
            p = match p.rfind(['.', '[']) {
                Some(i) => &p[..i],
                None => "",
            };
        }
    }
}

enum Frame {
    Seq {
        path: String,
        next: usize,
    },
    Map {
        key_next: bool,
        keys: BTreeSet<String>,
        path: String,
        /// The path of the value to come (set when its key is read).
        value: Option<String>,
    },
}

#[derive(Default)]
struct Guard {
    stack: Vec<Frame>,
    error: Option<(Marker, String)>,
    docs: Vec<Positions>,
}

/// Longest field path recorded, in bytes: deeper fields are found at their nearest recorded
/// parent, so a file of long keys nested deep cannot make the positions outgrow it many times.
pub(super) const MAX_PATH: usize = 1024;

/// What stands for a path that is not recorded (under a collection used as a key, or too long).
const UNRECORDED: &str = "?";

/// `path` joined with mapping key `key`, as the mapping writes field paths.
fn join(path: &str, key: &str) -> String {
    if path == UNRECORDED || path.len() + key.len() + 1 > MAX_PATH {
        UNRECORDED.to_string()
    } else if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Guard {
    fn fail(&mut self, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some((mark, message));
        }
    }

    fn node(&mut self, anchor: usize, tag: Option<&yaml_rust2::parser::Tag>, mark: Marker) {
        if anchor != 0 {
            self.fail(
                mark,
                "a YAML anchor (`&name`): anchors and aliases are not accepted; write the value out"
                    .into(),
            );
        }
        if let Some(t) = tag {
            self.fail(
                mark,
                format!(
                    "a YAML tag (`{}{}`): tags are not accepted; write the plain value",
                    t.handle, t.suffix
                ),
            );
        }
    }

    /// Records `path` at `mark` in the current document.
    fn record(&mut self, path: String, mark: Marker) {
        if path == UNRECORDED {
            return;
        }
        if let Some(d) = self.docs.last_mut() {
            d.0.entry(path).or_insert((mark.line(), mark.col() + 1));
        }
    }

    /// A node in the current collection: a key or a value of a mapping, or an item. Returns the
    /// node's path when it is a value or an item (`None` for a key).
    fn entry(&mut self, key: Option<&str>, mark: Marker) -> Option<String> {
        let mut dup = None;
        let mut at = None;
        let mut path = None;
        match self.stack.last_mut() {
            Some(Frame::Map {
                key_next,
                keys,
                path: p,
                value,
            }) => {
                if *key_next {
                    if let Some(k) = key {
                        if !keys.insert(k.to_string()) {
                            dup = Some(k.to_string());
                        }
                        let v = join(p, k);
                        at = Some(v.clone());
                        *value = Some(v);
                    } else {
                        *value = None;
                    }
                } else {
                    path = value.take();
                }
                *key_next = !*key_next;
            }
            Some(Frame::Seq { path: p, next }) => {
                let item = if p == UNRECORDED || p.len() + 22 > MAX_PATH {
                    UNRECORDED.to_string()
                } else {
                    format!("{p}[{next}]")
                };
                *next += 1;
                at = Some(item.clone());
                path = Some(item);
            }
            None => {
                at = Some(String::new());
                path = Some(String::new());
            }
        }
        if let Some(a) = at {
            self.record(a, mark);
        }
        if let Some(k) = dup {
            self.fail(
                mark,
                format!("duplicate key `{k}`: each key once per mapping"),
            );
        }
        path
    }

    fn open(&mut self, frame: Frame, mark: Marker) {
        self.stack.push(frame);
        if self.stack.len() > MAX_DEPTH {
            self.fail(
                mark,
                format!("nested deeper than {MAX_DEPTH} levels of mappings and sequences"),
            );
        }
    }
}

impl MarkedEventReceiver for Guard {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Alias(_) => self.fail(
                mark,
                "a YAML alias (`*name`): anchors and aliases are not accepted; write the value out"
                    .into(),
            ),
            Event::DocumentStart => {
                self.docs.push(Positions::default());
                self.record(String::new(), mark);
            }
            Event::Scalar(v, _, anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                self.entry(Some(&v), mark);
            }
            Event::SequenceStart(anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                // A collection as a key has no path: its fields are not recorded.
                let path = self.entry(None, mark).unwrap_or_else(|| UNRECORDED.into());
                self.open(Frame::Seq { path, next: 0 }, mark);
            }
            Event::MappingStart(anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                let path = self.entry(None, mark).unwrap_or_else(|| UNRECORDED.into());
                self.open(
                    Frame::Map {
                        key_next: true,
                        keys: BTreeSet::new(),
                        path,
                        value: None,
                    },
                    mark,
                );
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// Checks `text` (the manifest `file`) before it is loaded, and returns where each document's
/// fields are, one [`Positions`] per document; a syntax error is left to the loader.
pub fn check(file: &str, text: &str) -> Result<Vec<Positions>, ScenarioError> {
    let mut guard = Guard::default();
    let _ = Parser::new_from_str(text).load(&mut guard, true);
    match guard.error {
        None => Ok(guard.docs),
        Some((mk, message)) => {
            let mut e = ScenarioError::at_span(file, "", None, "", message);
            (e.line, e.column) = (Some(mk.line()), Some(mk.col() + 1));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn refuses_anchors_aliases_tags_depth_and_duplicates() {
        let e = check("m.yaml", "a: &x [1, 2]\nb: *x\n").unwrap_err();
        assert_eq!(
            (e.line, e.column),
            (Some(1), Some(7)),
            "at the anchored value"
        );
        assert!(e.message.contains("anchor"), "{}", e.message);
        let e = check("m.yaml", "a: !!binary aGk=\n").unwrap_err();
        assert!(
            e.message
                .contains("a YAML tag (`tag:yaml.org,2002:binary`)"),
            "{}",
            e.message
        );
        let e = check("m.yaml", "spec:\n  replicas: 1\n  replicas: 2\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.message.contains("duplicate key `replicas`"),
            "{}",
            e.message
        );
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(check("m.yaml", &deep)
            .unwrap_err()
            .message
            .contains("deeper"));
        assert!(check("m.yaml", "a: {b: [1, {c: d}], e: f}\n---\na: 1\n").is_ok());
    }

    #[test]
    fn positions_name_each_field_and_fall_back_to_its_parent() {
        let p = check(
            "m.yaml",
            "a: 1\n---\nspec:\n  list:\n    - x: 1\n      y: {z: 2}\n",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].at("a"), Some((1, 1)));
        assert_eq!(p[1].at("spec.list[0].y.z"), Some((6, 11)));
        assert_eq!(p[1].at("spec.list[0].x"), Some((5, 7)));
        // Missing: its nearest parent; a dotted key (`nvidia.com/gpu`) falls back the same way.
        assert_eq!(p[1].at("spec.list[0].w"), p[1].at("spec.list[0]"));
        assert_eq!(p[1].at("spec.limits.nvidia.com/gpu"), Some((3, 1)));
        // Paths past MAX_PATH are not recorded: a long key's fields are found at the document.
        let long = "k".repeat(super::MAX_PATH);
        let p = check("m.yaml", &format!("{long}:\n  a: 1\n")).unwrap();
        assert_eq!(p[0].at(&format!("{long}.a")), p[0].at(""));
    }
}
