//! A first pass over a manifest's YAML events that refuses what the mapping never needs and a
//! few hundred bytes could abuse: anchors, aliases and tags (an alias expands, so nested aliases
//! grow exponentially), mappings nested deeper than [`MAX_DEPTH`], and duplicate keys.

use crate::scenario::ScenarioError;
use std::collections::BTreeSet;
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::Event;

/// Deepest nesting of mappings and sequences accepted (Kubernetes objects need about 12).
pub const MAX_DEPTH: usize = 64;

enum Frame {
    Seq,
    Map {
        key_next: bool,
        keys: BTreeSet<String>,
    },
}

#[derive(Default)]
struct Guard {
    stack: Vec<Frame>,
    error: Option<(Marker, String)>,
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

    /// A node in the current collection: a key or a value of a mapping, or an item.
    fn entry(&mut self, key: Option<&str>, mark: Marker) {
        let mut dup = None;
        if let Some(Frame::Map { key_next, keys }) = self.stack.last_mut() {
            if *key_next {
                if let Some(k) = key {
                    if !keys.insert(k.to_string()) {
                        dup = Some(k.to_string());
                    }
                }
            }
            *key_next = !*key_next;
        }
        if let Some(k) = dup {
            self.fail(
                mark,
                format!("duplicate key `{k}`: each key once per mapping"),
            );
        }
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
            Event::Scalar(v, _, anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                self.entry(Some(&v), mark);
            }
            Event::SequenceStart(anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                self.entry(None, mark);
                self.open(Frame::Seq, mark);
            }
            Event::MappingStart(anchor, tag) => {
                self.node(anchor, tag.as_ref(), mark);
                self.entry(None, mark);
                self.open(
                    Frame::Map {
                        key_next: true,
                        keys: BTreeSet::new(),
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

/// Checks `text` (the manifest `file`) before it is loaded; a syntax error is left to the loader.
pub fn check(file: &str, text: &str) -> Result<(), ScenarioError> {
    let mut guard = Guard::default();
    let _ = Parser::new_from_str(text).load(&mut guard, true);
    match guard.error {
        None => Ok(()),
        Some((mk, message)) => Err(ScenarioError {
            file: file.to_string(),
            line: Some(mk.line()),
            column: Some(mk.col() + 1),
            key: String::new(),
            message,
        }),
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
}
