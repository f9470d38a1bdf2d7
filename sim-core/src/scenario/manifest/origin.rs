//! Where a manifest field is: its file, its object (`Kind/name`), its path and its line and
//! column, so an error about it, found while mapping or later against the scenario, points into
//! the YAML.

use super::guard::Positions;
use crate::scenario::ScenarioError;
use std::fmt;

/// One field of one manifest object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The manifest file, as the user named it.
    pub file: String,
    /// The object, `Kind/name`.
    pub object: String,
    /// The field's path in the object (`spec.maxReplicas`); empty for the whole object.
    pub path: String,
    /// 1-based line and column of the field (or of its nearest enclosing field), when known.
    pub at: Option<(usize, usize)>,
}

impl Origin {
    /// An error about this field.
    pub fn error(&self, message: impl Into<String>) -> ScenarioError {
        let mut e = ScenarioError::at_span(&self.file, "", None, &self.path, message);
        e.object = self.object.as_str().into();
        e.line = self.at.map(|a| a.0);
        e.column = self.at.map(|a| a.1);
        e
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((l, c)) = self.at {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.object)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        Ok(())
    }
}

/// One manifest object being read: its file, its `Kind/name` and where its fields are.
#[derive(Clone, Copy, Debug)]
pub struct Locator<'a> {
    /// The manifest file.
    pub file: &'a str,
    /// `Kind/name`.
    pub object: &'a str,
    /// Its document's field positions.
    pub positions: &'a Positions,
}

impl Locator<'_> {
    /// The field at `path`.
    pub fn origin(&self, path: &str) -> Origin {
        Origin {
            file: self.file.to_string(),
            object: self.object.to_string(),
            path: path.to_string(),
            at: self.positions.at(path),
        }
    }

    /// An error about the field at `path`: it was not `expected`.
    pub fn bad(&self, path: &str, expected: &str) -> ScenarioError {
        self.origin(path).error(format!("expected {expected}"))
    }
}
