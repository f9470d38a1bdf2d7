//! Pod `labelSelector`s of spread constraints and pod anti-affinity terms: parsed as written
//! ([`parse`]), then resolved once every service is known ([`resolve`]) into which services'
//! pods they select, so the scheduler never matches labels.
//!
//! Upstream, PodTopologySpread and InterPodAffinity count the pods, of any workload, in the
//! pod's namespace (or a term's `namespaces`) whose labels match the selector. capsim's pods are
//! its services' (batch pods carry no labels and are never selected). A constraint or term
//! without a `labelSelector` counts the Deployment's own pods, as before selectors were
//! evaluated (upstream it would select nothing); one whose selector selects exactly the
//! Deployment's own pods is the same thing and becomes [`PodSelector::Own`]; one that selects
//! no service's pods is an error (it would never refuse a node).

use super::error::ScenarioError;
use super::model::Scenario;
use crate::cluster::{
    LabelSelector, Labels, PodSelector, PodTemplate, Requirement, SelectorOperator,
};
use toml::Value;

/// Parses a `labelSelector` table: `matchLabels` (label values as strings, or numbers and
/// booleans as their text) and `matchExpressions` (`key`, `operator` `In`/`NotIn`/`Exists`/
/// `DoesNotExist`, `values`). An error is (key below the selector, message).
pub fn parse(v: &Value) -> Result<LabelSelector, (String, String)> {
    let Value::Table(t) = v else {
        return Err((
            String::new(),
            "expected a table with `matchLabels` and/or `matchExpressions`".into(),
        ));
    };
    let mut requirements = Vec::new();
    for (k, v) in t {
        match k.as_str() {
            "matchLabels" => {
                let Value::Table(m) = v else {
                    return Err((k.clone(), "expected a table of label values".into()));
                };
                for (label, value) in m {
                    let Some(value) = text(value) else {
                        return Err((
                            format!("{k}.{label}"),
                            "expected a label value (a string)".into(),
                        ));
                    };
                    requirements.push(Requirement {
                        key: label.clone(),
                        operator: SelectorOperator::In,
                        values: vec![value],
                    });
                }
            }
            "matchExpressions" => {
                let Value::Array(es) = v else {
                    return Err((
                        k.clone(),
                        "expected an array of { key, operator, values }".into(),
                    ));
                };
                for (i, e) in es.iter().enumerate() {
                    requirements.push(expression(e).map_err(|(sub, m)| {
                        let at = if sub.is_empty() {
                            format!("{k}[{i}]")
                        } else {
                            format!("{k}[{i}].{sub}")
                        };
                        (at, m)
                    })?);
                }
            }
            other => {
                return Err((
                    other.to_string(),
                    "unknown key: a labelSelector holds `matchLabels` and `matchExpressions`"
                        .into(),
                ))
            }
        }
    }
    Ok(LabelSelector { requirements })
}

/// One `matchExpressions` entry.
fn expression(e: &Value) -> Result<Requirement, (String, String)> {
    let Value::Table(t) = e else {
        return Err((String::new(), "expected { key, operator, values }".into()));
    };
    if let Some(k) = t
        .keys()
        .find(|k| !matches!(k.as_str(), "key" | "operator" | "values"))
    {
        return Err((
            k.clone(),
            "unknown key: an expression holds `key`, `operator` and `values`".into(),
        ));
    }
    let key = match t.get("key") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        _ => return Err(("key".into(), "expected a label key (required)".into())),
    };
    let operator = match t.get("operator").and_then(Value::as_str) {
        Some("In") => SelectorOperator::In,
        Some("NotIn") => SelectorOperator::NotIn,
        Some("Exists") => SelectorOperator::Exists,
        Some("DoesNotExist") => SelectorOperator::DoesNotExist,
        _ => {
            return Err((
                "operator".into(),
                "expected \"In\", \"NotIn\", \"Exists\" or \"DoesNotExist\"".into(),
            ))
        }
    };
    let values: Vec<String> = match t.get("values") {
        None => Vec::new(),
        Some(Value::Array(vs)) => {
            let mut out = Vec::with_capacity(vs.len());
            for (i, v) in vs.iter().enumerate() {
                out.push(text(v).ok_or_else(|| {
                    (format!("values[{i}]"), "expected a label value".to_string())
                })?);
            }
            out
        }
        Some(_) => return Err(("values".into(), "expected an array of label values".into())),
    };
    let ok = match operator {
        SelectorOperator::In | SelectorOperator::NotIn => !values.is_empty(),
        _ => values.is_empty(),
    };
    if !ok {
        return Err((
            "values".into(),
            "expected one or more values for In/NotIn, none for Exists/DoesNotExist".into(),
        ));
    }
    Ok(Requirement {
        key,
        operator,
        values,
    })
}

/// A label value as text (numbers and booleans, as a YAML manifest may give them, by their
/// text).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Resolves the selectors of every service's pod templates (its own and its rollouts') against
/// every service's namespace and pod labels; `views` are the services in order. `err` builds
/// an error for service `i` at a key of its view (`service.pod…`).
pub(super) fn resolve(
    views: &mut [Scenario],
    err: impl Fn(usize, &str, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let pods: Vec<(String, Labels)> = views
        .iter()
        .map(|v| (v.service.namespace.clone(), v.service.pod.labels.clone()))
        .collect();
    for (i, v) in views.iter_mut().enumerate() {
        if let Err((key, m)) = resolve_template(i, &mut v.service.pod, &pods) {
            return Err(err(i, &key, m));
        }
        // A new version's template is the service's with its keys merged in: a selector that
        // selects nothing there was one of the base's, or of the rollout's own choosing.
        for r in &mut v.rollouts {
            let _ = resolve_template(i, &mut r.service.pod, &pods);
        }
    }
    Ok(())
}

/// Resolves one template's selectors for service `i`: the first one selecting no pods is an
/// error (its key, message); every selector is resolved.
fn resolve_template(
    i: usize,
    t: &mut PodTemplate,
    pods: &[(String, Labels)],
) -> Result<(), (String, String)> {
    let base = "service.pod";
    let anti = format!("{base}.affinity.podAntiAffinity");
    let mut first: Option<(String, String)> = None;
    let mut note = |key: String, r: Result<(), String>| {
        if let (Err(m), None) = (r, &first) {
            first = Some((key, m));
        }
    };
    for (j, c) in t.spread.iter_mut().enumerate() {
        let key = format!("{base}.topologySpreadConstraints[{j}].labelSelector");
        note(key, resolve_one(&mut c.selector, i, pods));
    }
    for (j, term) in t.anti_affinity_required.iter_mut().enumerate() {
        let key =
            format!("{anti}.requiredDuringSchedulingIgnoredDuringExecution[{j}].labelSelector");
        note(key, resolve_one(&mut term.selector, i, pods));
    }
    for (j, (_, term)) in t.anti_affinity_preferred.iter_mut().enumerate() {
        let key = format!(
            "{anti}.preferredDuringSchedulingIgnoredDuringExecution[{j}].podAffinityTerm.labelSelector"
        );
        note(key, resolve_one(&mut term.selector, i, pods));
    }
    first.map_or(Ok(()), Err)
}

/// Which services' pods one selector of service `i` selects; [`PodSelector::Own`] when exactly
/// its own; an error message when none.
fn resolve_one(sel: &mut PodSelector, i: usize, pods: &[(String, Labels)]) -> Result<(), String> {
    let PodSelector::Labels {
        selector,
        namespaces,
        services,
        own,
    } = sel
    else {
        return Ok(());
    };
    let own_ns = &pods[i].0;
    let in_scope = |ns: &String| {
        if namespaces.is_empty() {
            ns == own_ns
        } else {
            namespaces.contains(ns)
        }
    };
    *services = pods
        .iter()
        .map(|(ns, labels)| in_scope(ns) && selector.matches(labels))
        .collect();
    *own = services[i];
    if services.iter().all(|&s| !s) {
        let scope = if namespaces.is_empty() {
            format!("namespace {own_ns}")
        } else {
            format!("namespaces {}", namespaces.join(", "))
        };
        let labels: Vec<String> = pods
            .iter()
            .filter(|(ns, _)| in_scope(ns))
            .map(|(_, l)| {
                let kv: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{{{}}}", kv.join(", "))
            })
            .collect();
        let have = if labels.is_empty() {
            "no service runs there".to_string()
        } else {
            format!("the pods there are labelled {}", labels.join(", "))
        };
        return Err(format!(
            "this labelSelector selects the pods of no service in {scope} ({have}), so it would never refuse or prefer a node; set `service.pod.labels` or fix the selector (leave it out to count the Deployment's own pods)"
        ));
    }
    if services.iter().enumerate().all(|(k, &s)| s == (k == i)) {
        *sel = PodSelector::Own;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Value {
        toml::from_str::<toml::Table>(&format!("s = {s}")).unwrap()["s"].clone()
    }

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_parse_and_match() {
        let a = labels(&[("app", "a"), ("tier", "gpu")]);
        let b = labels(&[("app", "b")]);
        let p = |s: &str| parse(&sel(s)).unwrap();
        assert!(p("{}").matches(&a) && p("{}").matches(&b));
        assert!(p("{ matchLabels = { app = \"a\" } }").matches(&a));
        assert!(!p("{ matchLabels = { app = \"a\" } }").matches(&b));
        let either = p("{ matchExpressions = [{ key = \"app\", operator = \"In\", values = [\"a\", \"b\"] }] }");
        assert!(either.matches(&a) && either.matches(&b));
        let not_a = p(
            "{ matchExpressions = [{ key = \"app\", operator = \"NotIn\", values = [\"a\"] }] }",
        );
        assert!(!not_a.matches(&a) && not_a.matches(&b));
        let tiered = p("{ matchExpressions = [{ key = \"tier\", operator = \"Exists\" }] }");
        assert!(tiered.matches(&a) && !tiered.matches(&b));
        let untiered =
            p("{ matchExpressions = [{ key = \"tier\", operator = \"DoesNotExist\" }] }");
        assert!(!untiered.matches(&a) && untiered.matches(&b));
        // Both parts ANDed; a number as its text.
        let n = labels(&[("app", "a"), ("v", "2")]);
        let both = p("{ matchLabels = { v = 2 }, matchExpressions = [{ key = \"app\", operator = \"In\", values = [\"a\"] }] }");
        assert!(both.matches(&n) && !both.matches(&a));
    }

    #[test]
    fn malformed_selectors_name_the_key() {
        let e = |s: &str| parse(&sel(s)).unwrap_err();
        assert_eq!(e("\"app=a\"").0, "");
        assert_eq!(e("{ matchLabel = { app = \"a\" } }").0, "matchLabel");
        assert_eq!(e("{ matchLabels = { app = [1] } }").0, "matchLabels.app");
        assert_eq!(
            e("{ matchExpressions = [{ key = \"app\", operator = \"Gt\", values = [\"1\"] }] }").0,
            "matchExpressions[0].operator"
        );
        assert_eq!(
            e("{ matchExpressions = [{ key = \"app\", operator = \"In\" }] }").0,
            "matchExpressions[0].values"
        );
        assert_eq!(
            e("{ matchExpressions = [{ operator = \"Exists\" }] }").0,
            "matchExpressions[0].key"
        );
        assert_eq!(
            e("{ matchExpressions = [{ key = \"app\", operator = \"Exists\", values = [\"x\"] }] }").0,
            "matchExpressions[0].values"
        );
    }

    #[test]
    fn resolution_marks_services_by_labels_and_namespace() {
        let pods = vec![
            (
                "default".to_string(),
                labels(&[("app", "a"), ("tier", "gpu")]),
            ),
            (
                "default".to_string(),
                labels(&[("app", "b"), ("tier", "gpu")]),
            ),
            (
                "other".to_string(),
                labels(&[("app", "c"), ("tier", "gpu")]),
            ),
        ];
        let labelled = |s: &str, ns: &[&str]| PodSelector::Labels {
            selector: parse(&sel(s)).unwrap(),
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
            services: Vec::new(),
            own: false,
        };
        // b's selector of a's pods: a only, not b's own.
        let mut s = labelled("{ matchLabels = { app = \"a\" } }", &[]);
        resolve_one(&mut s, 1, &pods).unwrap();
        assert!(
            matches!(&s, PodSelector::Labels { services, own: false, .. } if services == &[true, false, false])
        );
        // tier=gpu in the pod's namespace: a and b (c is in another namespace).
        let mut s = labelled("{ matchLabels = { tier = \"gpu\" } }", &[]);
        resolve_one(&mut s, 0, &pods).unwrap();
        assert!(
            matches!(&s, PodSelector::Labels { services, own: true, .. } if services == &[true, true, false])
        );
        // Named namespaces: c only.
        let mut s = labelled("{ matchLabels = { tier = \"gpu\" } }", &["other"]);
        resolve_one(&mut s, 0, &pods).unwrap();
        assert!(
            matches!(&s, PodSelector::Labels { services, .. } if services == &[false, false, true])
        );
        // Exactly its own pods: the same as no selector.
        let mut s = labelled("{ matchLabels = { app = \"b\" } }", &[]);
        resolve_one(&mut s, 1, &pods).unwrap();
        assert_eq!(s, PodSelector::Own);
        // Nothing: an error.
        let mut s = labelled("{ matchLabels = { app = \"z\" } }", &[]);
        let m = resolve_one(&mut s, 0, &pods).unwrap_err();
        assert!(m.contains("no service in namespace default"), "{m}");
    }
}
