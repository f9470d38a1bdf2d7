//! A VerticalPodAutoscaler (`autoscaling.k8s.io/v1`) onto `[vpa]`, whose keys keep the upstream
//! field names: `updatePolicy` and each container policy's modelled fields.

use super::{bad, get, present, to_toml, Mapper};
use crate::scenario::ScenarioError;
use toml::{Table, Value};
use yaml_rust2::Yaml;

/// The container-policy fields `[vpa]` models.
const CONTAINER_FIELDS: [&str; 5] = [
    "containerName",
    "mode",
    "minAllowed",
    "maxAllowed",
    "controlledResources",
];

/// Maps the VPA at `doc`.
pub(super) fn map(m: &mut Mapper, doc: &Yaml, api: &str) -> Result<(), ScenarioError> {
    if api != "autoscaling.k8s.io/v1" {
        return Err(bad(
            m.file,
            "apiVersion",
            "autoscaling.k8s.io/v1 for a VerticalPodAutoscaler",
        ));
    }
    let target = get(doc, "spec.targetRef.kind").as_str().unwrap_or("");
    if target != "Deployment" {
        return Err(bad(
            m.file,
            "spec.targetRef.kind",
            "Deployment (the scenario's one workload)",
        ));
    }
    m.consume("spec.targetRef");
    for f in ["updateMode", "minReplicas"] {
        m.set(
            &format!("vpa.updatePolicy.{f}"),
            doc,
            &format!("spec.updatePolicy.{f}"),
        )?;
    }
    let policies = get(doc, "spec.resourcePolicy.containerPolicies");
    if let Some(list) = policies.as_vec() {
        let mut out = Vec::with_capacity(list.len());
        for (i, _) in list.iter().enumerate() {
            let mut t = Table::new();
            for f in CONTAINER_FIELDS {
                let path = format!("spec.resourcePolicy.containerPolicies[{i}].{f}");
                if let Some(v) = to_toml(get(doc, &path), m.file, &path)? {
                    t.insert(f.to_string(), v);
                    m.consume(&path);
                }
            }
            out.push(Value::Table(t));
        }
        m.push(
            "vpa.resourcePolicy.containerPolicies",
            Value::Array(out),
            "spec.resourcePolicy.containerPolicies",
        );
    } else if present(policies) {
        return Err(bad(
            m.file,
            "spec.resourcePolicy.containerPolicies",
            "a list of container policies",
        ));
    }
    // A VPA with no modelled field still turns the VPA on, with its defaults.
    if !m.out.keys.iter().any(|(k, _)| k.starts_with("vpa.")) {
        m.push("vpa", Value::Table(Table::new()), "spec");
    }
    Ok(())
}
