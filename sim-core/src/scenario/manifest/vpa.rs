//! A VerticalPodAutoscaler (`autoscaling.k8s.io/v1`) onto `[vpa]`, whose keys keep the upstream
//! field names: `updatePolicy` and each container policy's modelled fields.

use super::{get, present, to_toml, Mapper};
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

/// Maps the VPA at `doc` (its `apiVersion` and `targetRef` checked by the caller).
pub(super) fn map(m: &mut Mapper, doc: &Yaml) -> Result<(), ScenarioError> {
    let start = m.out.keys.len();
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
                if let Some(v) = to_toml(get(doc, &path), &m.loc(), &path)? {
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
        return Err(m.loc().bad(
            "spec.resourcePolicy.containerPolicies",
            "a list of container policies",
        ));
    }
    // A VPA with no modelled field still turns the VPA on, with its defaults.
    if m.out.keys.len() == start {
        m.push("vpa", Value::Table(Table::new()), "spec");
    }
    Ok(())
}
