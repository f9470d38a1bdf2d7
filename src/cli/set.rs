//! `--set KEY=VALUE`: scenario keys overridden on the command line, addressed as in a
//! `[[policy]]` variant (with `[[service]]` tables, `service.<name>.<key>` is that service's key).

use super::error::CliError;
use sim_core::scenario::manifest::{Origin, Overlay};
use sim_core::scenario::ScenarioError;
use toml::{Table, Value};

/// One `--set`: as written, the key it sets in the file's table, and the value.
#[derive(Clone, Debug)]
pub struct Set {
    /// `KEY=VALUE` as written.
    pub written: String,
    /// The key in the file: `service[1].replicas` for `service.chat.replicas`.
    pub key: String,
    /// The value: TOML (`4`, `"1h"`, `true`, `{ cpu = "2" }`), or else the text as a string.
    pub value: Value,
}

/// The `--set` arguments against the scenario's table.
fn parse(args: &[String], table: &Table) -> Result<Vec<Set>, CliError> {
    let bad = |a: &str, m: &str| CliError::Input(format!("--set {a}: {m}"));
    let names = sim_core::scenario::services::service_names(table);
    let multi = sim_core::scenario::services::is_multi(table);
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let Some((key, raw)) = a.split_once('=') else {
            return Err(bad(a, "expected KEY=VALUE, such as `service.replicas=4`"));
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|s| s.trim().is_empty()) {
            return Err(bad(
                a,
                "expected a dotted scenario key, such as `simulation.horizon`",
            ));
        }
        let key = match key.strip_prefix("service.") {
            Some(rest) if multi => {
                let (name, tail) = rest.split_once('.').unwrap_or((rest, ""));
                let Some(i) = names.iter().position(|n| n == name) else {
                    return Err(bad(
                        a,
                        &format!(
                            "no [[service]] is named \"{name}\"; the services are: {} (address one as `service.<name>.<key>`)",
                            names.join(", ")
                        ),
                    ));
                };
                if tail.is_empty() || tail == "name" {
                    return Err(bad(
                        a,
                        "expected a key of the service, such as `service.<name>.replicas` (a service cannot be renamed)",
                    ));
                }
                format!("service[{i}].{tail}")
            }
            _ => key.to_string(),
        };
        let value = match toml::from_str::<Table>(&format!("v = {raw}")) {
            Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.into())),
            Err(_) => Value::String(raw.to_string()),
        };
        out.push(Set {
            written: a.clone(),
            key,
            value,
        });
    }
    Ok(out)
}

/// Applies the `--set` arguments to the scenario's text: the text to validate (the file's
/// table with the keys set, written out again) and the sets, for [`blame`]. Without any, the
/// text is returned as it is.
pub fn apply(text: &str, shown: &str, args: &[String]) -> Result<(String, Vec<Set>), CliError> {
    if args.is_empty() {
        return Ok((text.to_string(), Vec::new()));
    }
    let mut table: Table = sim_core::scenario::model::parse_raw(text, shown)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let sets = parse(args, &table)?;
    let mut overlay = Overlay::default();
    for s in &sets {
        overlay.keys.push((s.key.clone(), s.value.clone()));
        overlay.origins.push(Origin {
            file: format!("--set {}", s.written),
            ..Origin::default()
        });
    }
    overlay.apply(&mut table);
    let text = toml::to_string(&table)
        .map_err(|e| CliError::Input(format!("{shown}: the scenario with --set: {e}")))?;
    Ok((text, sets))
}

/// An error at a key a `--set` set (or inside it) names the `--set` instead of a line.
pub fn blame(sets: &[Set], e: ScenarioError) -> ScenarioError {
    let hit = sets
        .iter()
        .filter(|s| {
            e.key == s.key
                || e.key.starts_with(&format!("{}.", s.key))
                || e.key.starts_with(&format!("{}[", s.key))
        })
        .max_by_key(|s| s.key.len());
    match hit {
        Some(s) => {
            let mut e = e;
            e.file = format!("--set {}", s.written);
            e.line = None;
            e.column = None;
            e
        }
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_address_services_by_name_and_values_are_toml_or_text() {
        let t: Table = toml::from_str(
            "[[service]]\nname = \"chat\"\n[[service]]\nname = \"coder\"\nreplicas = 1\n",
        )
        .unwrap();
        let s = parse(
            &[
                "service.coder.replicas=4".into(),
                "simulation.horizon=1h".into(),
                "service.chat.hpa.maxReplicas=8".into(),
            ],
            &t,
        )
        .unwrap();
        assert_eq!(s[0].key, "service[1].replicas");
        assert_eq!(s[0].value, Value::Integer(4));
        assert_eq!(s[1].value, Value::String("1h".into()));
        assert_eq!(s[2].key, "service[0].hpa.maxReplicas");
        let e = parse(&["service.nobody.replicas=1".into()], &t).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("\"nobody\"") && m.contains("chat, coder"), "{m}");
        assert!(parse(&["replicas".into()], &t).is_err());
        assert!(parse(&["service..x=1".into()], &t).is_err());
    }
}
