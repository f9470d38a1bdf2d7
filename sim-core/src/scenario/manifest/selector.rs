//! Whether a workload's topology spread constraints and pod anti-affinity terms select any pods:
//! upstream, a missing `labelSelector` selects nothing, and so does one that matches no pod's
//! labels (with one workload, its own pod template's; with several, any workload's in the
//! namespace). Such a constraint never refuses a node; the mapper leaves it out, with a
//! warning. The scenario then resolves the kept selectors against every service's labels.

// A label value as text: the scenario's selectors read label values the same way.
use crate::scenario::selectors::text;
use std::collections::BTreeMap;
use toml::Value;

/// Whether a Kubernetes `LabelSelector` (as TOML, `None` when absent) matches `labels`.
pub(super) fn selects(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector.and_then(Value::as_table) else {
        return false;
    };
    let match_labels = sel.get("matchLabels").and_then(Value::as_table);
    let labels_ok = match_labels.is_none_or(|m| {
        m.iter()
            .all(|(k, v)| text(v).is_some_and(|v| labels.get(k) == Some(&v)))
    });
    let expressions = sel.get("matchExpressions").and_then(Value::as_array);
    let expressions_ok = expressions.is_none_or(|es| {
        es.iter().all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().filter_map(text).collect())
                .unwrap_or_default();
            let have = labels.get(key);
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => have.is_some_and(|h| values.contains(h)),
                Some("NotIn") => have.is_none_or(|h| !values.contains(h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && expressions_ok
}

/// A weighted term's selector (`podAffinityTerm.labelSelector`).
pub(super) fn term_selector(w: &Value) -> Option<&Value> {
    w.get("podAffinityTerm")?.get("labelSelector")
}

/// Keeps the items of `list` that `keep` accepts (their selector selects some pods); returns
/// the indices of those left out.
pub(super) fn retain_selecting(list: &mut Vec<Value>, keep: impl Fn(&Value) -> bool) -> Vec<usize> {
    let mut dropped = Vec::new();
    let mut i = 0;
    list.retain(|item| {
        let keep = keep(item);
        if !keep {
            dropped.push(i);
        }
        i += 1;
        keep
    });
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "llm".to_string())])
    }

    fn sel(s: &str) -> Value {
        toml::from_str::<toml::Table>(&format!("s = {s}")).unwrap()["s"].clone()
    }

    #[test]
    fn selectors_match_as_upstream() {
        let l = labels();
        assert!(!selects(None, &l), "no selector selects nothing");
        assert!(
            selects(Some(&sel("{}")), &l),
            "an empty selector selects everything"
        );
        assert!(selects(
            Some(&sel("{ matchLabels = { app = \"llm\" } }")),
            &l
        ));
        assert!(!selects(
            Some(&sel("{ matchLabels = { app = \"other\" } }")),
            &l
        ));
        let mut v = l.clone();
        v.insert("tier".into(), "1".into());
        assert!(selects(Some(&sel("{ matchLabels = { tier = 1 } }")), &v));
        let e = |op: &str, vals: &str| {
            sel(&format!(
                "{{ matchExpressions = [{{ key = \"app\", operator = \"{op}\"{vals} }}] }}"
            ))
        };
        assert!(selects(Some(&e("In", ", values = [\"llm\", \"x\"]")), &l));
        assert!(!selects(Some(&e("NotIn", ", values = [\"llm\"]")), &l));
        assert!(selects(Some(&e("Exists", "")), &l));
        assert!(!selects(Some(&e("DoesNotExist", "")), &l));
    }
}
