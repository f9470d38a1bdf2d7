//! Policy objects around the workload: a PodDisruptionBudget onto `[pdb]`, a ResourceQuota onto
//! its namespace's `[[namespace]]` quota, a PriorityClass onto a `[[priority_class]]`.

use super::{get, present, to_toml, Mapper};
use crate::scenario::ScenarioError;
use toml::{Table, Value};
use yaml_rust2::Yaml;

/// Checks a PodDisruptionBudget's `apiVersion` (`policy/v1`).
pub(super) fn pdb_api(m: &Mapper, api: &str) -> Result<(), ScenarioError> {
    if api != "policy/v1" {
        return Err(m
            .loc()
            .bad("apiVersion", "policy/v1 for a PodDisruptionBudget"));
    }
    Ok(())
}

/// Maps a PodDisruptionBudget onto the `[pdb]` of the service the mapper's keys go to: the one
/// workload, or (with several) each workload its selector selects, chosen by the caller.
pub(super) fn pdb(m: &mut Mapper, doc: &Yaml) -> Result<(), ScenarioError> {
    // The budget's selector and namespace chose its workload.
    m.consume("spec.selector");
    m.consume("metadata.namespace");
    for f in ["minAvailable", "maxUnavailable"] {
        m.set(&format!("pdb.{f}"), doc, &format!("spec.{f}"))?;
    }
    Ok(())
}

/// Whether a ResourceQuota `spec.hard` key is one capsim enforces: requests (`requests.<r>`,
/// or the bare `cpu` and `memory` that mean the same) and `pods`.
fn quota_key_modelled(k: &str) -> bool {
    k.starts_with("requests.") || matches!(k, "cpu" | "memory" | "pods")
}

/// Maps a ResourceQuota (`v1`) onto the `[[namespace]]` of its namespace (`default` when the
/// object names none).
pub(super) fn resource_quota(m: &mut Mapper, doc: &Yaml, api: &str) -> Result<(), ScenarioError> {
    if api != "v1" {
        return Err(m.loc().bad("apiVersion", "v1 for a ResourceQuota"));
    }
    let ns = get(doc, "metadata.namespace").as_str().unwrap_or("default");
    m.consume("metadata.namespace");
    let hard = get(doc, "spec.hard");
    let Some(h) = hard.as_hash() else {
        return Err(m
            .loc()
            .bad("spec.hard", "a map of resource names to quantities"));
    };
    let mut quota = Table::new();
    for (k, _) in h {
        let Some(k) = k.as_str() else {
            return Err(m.loc().bad("spec.hard", "string keys"));
        };
        if !quota_key_modelled(k) {
            continue;
        }
        let path = format!("spec.hard.{k}");
        if let Some(v) = to_toml(&h[&Yaml::String(k.to_string())], &m.loc(), &path)? {
            quota.insert(k.to_string(), v);
            m.consume(&path);
        }
    }
    let mut t = Table::new();
    t.insert("name".into(), Value::String(ns.into()));
    t.insert("quota".into(), Value::Table(quota));
    m.push("namespace[]", Value::Table(t), "spec.hard");
    Ok(())
}

/// Maps a PriorityClass (`scheduling.k8s.io/v1`).
pub(super) fn priority_class(
    m: &mut Mapper,
    doc: &Yaml,
    api: &str,
    name: &str,
) -> Result<(), ScenarioError> {
    if api != "scheduling.k8s.io/v1" {
        return Err(m
            .loc()
            .bad("apiVersion", "scheduling.k8s.io/v1 for a PriorityClass"));
    }
    let Some(value) = get(doc, "value").as_i64() else {
        return Err(m.loc().bad("value", "the class's integer priority"));
    };
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.into()));
    t.insert("value".into(), Value::Integer(value));
    m.consume("value");
    for (field, key) in [
        ("preemptionPolicy", "preemption_policy"),
        ("globalDefault", "global_default"),
    ] {
        let y = get(doc, field);
        if present(y) {
            if let Some(v) = to_toml(y, &m.loc(), field)? {
                t.insert(key.into(), v);
                m.consume(field);
            }
        }
    }
    // Words for people; nothing to simulate.
    m.consume("description");
    m.push("priority_class[]", Value::Table(t), "value");
    Ok(())
}
