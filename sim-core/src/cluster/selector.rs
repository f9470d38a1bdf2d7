//! Node selector terms (node affinity): label requirements as in the Kubernetes API.

use std::collections::BTreeMap;

/// Labels of a node, in key order.
pub type Labels = BTreeMap<String, String>;

/// A requirement's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOperator {
    /// Value in the list.
    In,
    /// Label absent or value not in the list.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Integer value greater than the single value.
    Gt,
    /// Integer value less than the single value.
    Lt,
}

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values (one integer for `Gt`/`Lt`, none for `Exists`/`DoesNotExist`).
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => v.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => v.is_some(),
            SelectorOperator::DoesNotExist => v.is_none(),
            SelectorOperator::Gt | SelectorOperator::Lt => {
                let (Some(v), Some(bound)) = (v, self.values.first()) else {
                    return false;
                };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.operator == SelectorOperator::Gt {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// A node selector term: its requirements are ANDed; a term with none matches no node (upstream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Term {
    /// Requirements.
    pub requirements: Vec<Requirement>,
}

impl Term {
    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.requirements.is_empty() && self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// A pod label selector (a `labelSelector`): `matchLabels` (each an `In` with one value) and
/// `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`), ANDed. Unlike a node selector
/// term, an empty selector matches every pod (upstream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Requirements.
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Whether a pod with `labels` is selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators() {
        let labels: Labels = [
            ("gpu".to_string(), "h100".to_string()),
            ("n".to_string(), "8".to_string()),
        ]
        .into();
        let r = |k: &str, op, vals: &[&str]| Requirement {
            key: k.into(),
            operator: op,
            values: vals.iter().map(|s| s.to_string()).collect(),
        };
        assert!(r("gpu", SelectorOperator::In, &["a100", "h100"]).matches(&labels));
        assert!(!r("gpu", SelectorOperator::NotIn, &["h100"]).matches(&labels));
        assert!(r("zone", SelectorOperator::NotIn, &["a"]).matches(&labels));
        assert!(r("gpu", SelectorOperator::Exists, &[]).matches(&labels));
        assert!(r("zone", SelectorOperator::DoesNotExist, &[]).matches(&labels));
        assert!(r("n", SelectorOperator::Gt, &["4"]).matches(&labels));
        assert!(!r("n", SelectorOperator::Lt, &["4"]).matches(&labels));
        assert!(!Term::default().matches(&labels));
    }

    #[test]
    fn label_selectors_match_pods_as_upstream() {
        let pod: Labels = [
            ("app".to_string(), "llm".to_string()),
            ("tier".to_string(), "gpu".to_string()),
        ]
        .into();
        let r = |k: &str, op, vals: &[&str]| Requirement {
            key: k.into(),
            operator: op,
            values: vals.iter().map(|s| s.to_string()).collect(),
        };
        let sel = |rs: Vec<Requirement>| LabelSelector { requirements: rs };
        // Empty: every pod (a node selector term with no requirement matches none).
        assert!(sel(vec![]).matches(&pod));
        assert!(sel(vec![]).matches(&Labels::new()));
        // matchLabels app=llm, tier=gpu: both needed.
        let both = sel(vec![
            r("app", SelectorOperator::In, &["llm"]),
            r("tier", SelectorOperator::In, &["gpu"]),
        ]);
        assert!(both.matches(&pod));
        let mut other = pod.clone();
        other.insert("tier".into(), "cpu".into());
        assert!(!both.matches(&other));
        assert!(sel(vec![r("app", SelectorOperator::In, &["x", "llm"])]).matches(&pod));
        assert!(!sel(vec![r("app", SelectorOperator::NotIn, &["llm"])]).matches(&pod));
        assert!(sel(vec![r("team", SelectorOperator::NotIn, &["a"])]).matches(&pod));
        assert!(sel(vec![r("tier", SelectorOperator::Exists, &[])]).matches(&pod));
        assert!(!sel(vec![r("tier", SelectorOperator::DoesNotExist, &[])]).matches(&pod));
        assert!(sel(vec![r("team", SelectorOperator::DoesNotExist, &[])]).matches(&pod));
    }
}
