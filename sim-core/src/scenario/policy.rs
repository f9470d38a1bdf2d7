//! Policy variants: each `[[policy]]` table names a variant and overrides keys of the base
//! scenario. Tables merge key by key; any other value (arrays included) replaces the base's
//! whole. Every variant runs with the base's seed, so all draw the same random numbers (common
//! random numbers) and differ only by what they override.

use super::error::{split_path, Seg};
use super::model::{parse_raw, Scenario, Validator};
use super::raw::RawScenario;
use super::ScenarioError;
use crate::catalog::Catalog;
use serde::Deserialize;
use toml::{Table, Value};

/// One variant of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The `name` of its `[[policy]]` table.
    pub name: String,
    /// The base scenario with the variant's overrides, validated.
    pub scenario: Scenario,
}

/// The variants a scenario's `[[policy]]` tables define, in file order (empty without any).
/// Catalog files come from the base scenario; a variant may not name its own.
pub fn parse_variants(
    source: &str,
    file: &str,
    catalog: &Catalog,
) -> Result<Vec<Variant>, ScenarioError> {
    let table: Table = parse_raw(source, file)?;
    if super::disagg::is_disaggregated(&table) {
        // A disaggregated service has no variants yet (its validation refuses [[policy]]).
        return Ok(Vec::new());
    }
    let policies = if super::services::is_multi(&table) {
        match table.get("policy") {
            None => None,
            Some(p) => Some(Vec::<Table>::deserialize(p.clone()).map_err(|e| {
                ScenarioError::at_key(file, source, "policy", e.to_string().trim().to_string())
            })?),
        }
    } else {
        parse_raw::<RawScenario>(source, file)?.policy
    };
    let Some(policies) = policies else {
        return Ok(Vec::new());
    };
    let base_err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
    if policies.is_empty() {
        return Err(base_err(
            "policy",
            "expected at least one [[policy]] table".into(),
        ));
    }
    let catalog = &super::model::scenario_catalog(source, file, catalog)?;
    let mut base = table;
    base.remove("policy");
    let mut names: Vec<String> = Vec::with_capacity(policies.len());
    let mut out = Vec::with_capacity(policies.len());
    for (i, p) in policies.iter().enumerate() {
        let key = format!("policy[{i}]");
        let name = match p.get("name") {
            None => {
                return Err(base_err(
                    &key,
                    "missing: expected `name`, the variant's name".into(),
                ))
            }
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(base_err(&format!("{key}.name"), "expected a string".into())),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            return Err(base_err(
                &format!("{key}.name"),
                format!("expected a name of letters, digits, `-`, `_` and `.` (it names an output folder), found \"{name}\""),
            ));
        }
        if names.contains(&name) {
            return Err(base_err(
                &format!("{key}.name"),
                format!("expected a name no other [[policy]] has, found \"{name}\" again"),
            ));
        }
        names.push(name.clone());
        let mut overrides = p.clone();
        overrides.remove("name");
        if overrides.contains_key("model") {
            return Err(base_err(
                &format!("{key}.model"),
                "[[model]] tables come from the base scenario; a [[policy]] cannot define its own (change `weight_dtype` or `kv_cache_dtype` of the service's vllm table instead)".into(),
            ));
        }
        for forbidden in ["policy", "name"] {
            if overrides.contains_key(forbidden) {
                return Err(base_err(
                    &format!("{key}.{forbidden}"),
                    format!("a [[policy]] cannot override `{forbidden}`"),
                ));
            }
        }
        if let Some(Value::Table(c)) = overrides.get("cluster") {
            for k in ["instance_catalog", "gpu_catalog"] {
                if c.contains_key(k) {
                    return Err(base_err(
                        &format!("{key}.cluster.{k}"),
                        "catalog files come from the base scenario; a [[policy]] cannot name its own".into(),
                    ));
                }
            }
        }
        let mut merged = base.clone();
        if super::services::is_multi(&base) {
            super::services::merge_variant(&mut merged, &overrides, &key, file, source)?;
            let scenario = super::services::validate_multi(
                &merged,
                file,
                source,
                Some((i, &overrides)),
                catalog,
            )?;
            out.push(Variant { name, scenario });
            continue;
        }
        merge(&mut merged, &overrides);
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(Value::Table(merged), &mut track);
        let raw_variant = RawScenario::deserialize(de).map_err(|e| {
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let shown = if overrides_key(&overrides, &path) {
                format!("{key}.{path}")
            } else {
                path
            };
            let message = super::error::serde_message(&e);
            ScenarioError::at_key(file, source, &shown, message)
        })?;
        let scenario = Validator {
            file,
            source,
            variant: Some((i, &overrides)),
            service: None,
            gateway_traffic: false,
        }
        .scenario(raw_variant, catalog)?;
        out.push(Variant { name, scenario });
    }
    Ok(out)
}

/// Merges `over` into `base`: tables key by key, anything else replaced whole.
pub(super) fn merge(base: &mut Table, over: &Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Whether the key path `key` (as in error messages: `a.b[2].c`) lies in what `overrides` sets.
pub(super) fn overrides_key(overrides: &Table, key: &str) -> bool {
    let segs = split_path(key);
    if segs.is_empty() {
        return false;
    }
    let mut cur: Option<&Value> = None;
    for seg in segs {
        match (seg, cur) {
            (Seg::Key(k), None) => match overrides.get(k) {
                Some(v) => cur = Some(v),
                None => return false,
            },
            (Seg::Key(k), Some(Value::Table(t))) => match t.get(k) {
                Some(v) => cur = Some(v),
                None => return false,
            },
            (Seg::Index(n), Some(Value::Array(a))) => match a.get(n) {
                Some(v) => cur = Some(v),
                None => return true, // the override replaced the whole array
            },
            // A scalar or array replaced whatever lies below it.
            (_, Some(_)) => return true,
            (Seg::Index(_), None) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"name = "base"
[service]
replicas = 2
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "poisson"
rate = 10.0

[[policy]]
name = "two"

[[policy]]
name = "eight"
[policy.service]
replicas = 8
[policy.service.service_time]
base = "3ms"
"#;

    #[test]
    fn variants_merge_over_the_base() {
        let v = parse_variants(BASE, "p.toml", &Catalog::builtin()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "two");
        assert_eq!(v[0].scenario.service.replicas, 2);
        assert_eq!(v[1].scenario.service.replicas, 8);
        let base = crate::scenario::parse_scenario(BASE, "p.toml").unwrap();
        assert_eq!(v[0].scenario, base);
        assert_eq!(v[1].scenario.seed, base.seed);
        match (&v[1].scenario.service.engine, &base.service.engine) {
            (
                super::super::EngineSpec::Triton {
                    service_time: a, ..
                },
                super::super::EngineSpec::Triton {
                    service_time: b, ..
                },
            ) => {
                assert_eq!(a.base.0, 3_000_000);
                assert_eq!(
                    a.distribution, b.distribution,
                    "the rest of the table is kept"
                );
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn errors_point_into_the_policy_that_caused_them() {
        let bad = BASE.replace("replicas = 8", "replicas = 0");
        let e = parse_variants(&bad, "p.toml", &Catalog::builtin()).unwrap_err();
        assert_eq!(e.key, "policy[1].service.replicas");
        assert_eq!(
            e.line,
            Some(bad.lines().position(|l| l == "replicas = 0").unwrap() + 1)
        );
        let typo = BASE.replace("replicas = 8", "replicaz = 8");
        let e = parse_variants(&typo, "p.toml", &Catalog::builtin()).unwrap_err();
        assert!(e.key.starts_with("policy[1].service"), "{e}");
        assert!(e.message.contains("did you mean `replicas`?"), "{e}");
        let dup = BASE.replace("name = \"eight\"", "name = \"two\"");
        let e = parse_variants(&dup, "p.toml", &Catalog::builtin()).unwrap_err();
        assert_eq!(e.key, "policy[1].name");
        let slash = BASE.replace("name = \"eight\"", "name = \"a/b\"");
        assert!(parse_variants(&slash, "p.toml", &Catalog::builtin()).is_err());
        let unnamed = BASE.replace("name = \"eight\"\n", "");
        let e = parse_variants(&unnamed, "p.toml", &Catalog::builtin()).unwrap_err();
        assert_eq!(e.key, "policy[1]");
    }

    #[test]
    fn no_policies_no_variants() {
        let plain = &BASE[..BASE.find("[[policy]]").unwrap()];
        assert!(parse_variants(plain, "p.toml", &Catalog::builtin())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn override_paths() {
        let t: Table =
            toml::from_str("[service]\nreplicas = 3\nscale = [{ at = \"1m\" }]\n").unwrap();
        assert!(overrides_key(&t, "service.replicas"));
        assert!(overrides_key(&t, "service.scale[0].at"));
        assert!(overrides_key(&t, "service.scale[3].at"));
        assert!(!overrides_key(&t, "service.dispatch"));
        assert!(!overrides_key(&t, "traffic.rate"));
    }
}
