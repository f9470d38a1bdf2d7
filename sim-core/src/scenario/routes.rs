//! The model-aware gateway: `[[route]]` tables send the requests of the top-level `[traffic]` of
//! a `[[service]]` scenario to services by the model each request names, as an
//! OpenAI-compatible gateway (KServe, the vLLM production stack's router, llm-d) routes on the
//! request body's `model` field. A request names its model by its mix stream's `model` key (the
//! stream's `name` when it has none) or by its trace's model column; several model names may
//! route to one service; one route may be the default. A request whose model no route names,
//! and no default takes, is dropped with the reason `unknown_model`.

use super::error::ScenarioError;
use super::model::Scenario;
use toml::{Table, Value};

/// One `[[route]]`: requests for `model` go to service `service`.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The model name requests carry.
    pub model: String,
    /// The index of the service (in file order) that serves it.
    pub service: usize,
}

/// A LoRA adapter's name as a route: requests naming it go to its base model's service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterRoute {
    /// The adapter's name.
    pub model: String,
    /// The index of the service that serves it.
    pub service: usize,
    /// The request's `adapter` value: the adapter's index in the service plus one.
    pub adapter: u16,
}

/// The gateway's traffic and routes.
#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    /// The gateway's traffic (`traffic`, `tokens`) as validated against the first service a
    /// route targets; its other fields are that service's.
    pub view: Box<Scenario>,
    /// Routes by model name, in file order.
    pub routes: Vec<Route>,
    /// The service that takes requests for models no route names, if any.
    pub default: Option<usize>,
    /// The services' LoRA adapters by name.
    pub adapters: Vec<AdapterRoute>,
}

impl Gateway {
    /// The service and adapter (0: the base model) that serve requests for `model`: a route
    /// by its name, else an adapter by its name, else the default route.
    pub fn resolve(&self, model: Option<&str>) -> Option<(usize, u16)> {
        let Some(m) = model else {
            return self.default.map(|s| (s, 0));
        };
        if let Some(r) = self.routes.iter().find(|r| r.model == m) {
            return Some((r.service, 0));
        }
        if let Some(a) = self.adapters.iter().find(|a| a.model == m) {
            return Some((a.service, a.adapter));
        }
        self.default.map(|s| (s, 0))
    }

    /// The service that serves requests for `model` (`None`: the request has no model name).
    pub fn route(&self, model: Option<&str>) -> Option<usize> {
        model
            .and_then(|m| self.routes.iter().find(|r| r.model == m))
            .map(|r| r.service)
            .or(self.default)
    }

    /// The services routes lead to, each once, in the order first named (the default last).
    pub fn targets(&self) -> Vec<usize> {
        targets(&self.routes, self.default)
    }
}

/// The services `routes` and `default` lead to, each once, in the order first named.
pub(super) fn targets(routes: &[Route], default: Option<usize>) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for s in routes.iter().map(|r| r.service).chain(default) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The routes of a `[[route]]` array: (routes, default service), with every error located.
pub(super) fn parse_routes(
    value: &Value,
    names: &[String],
    file: &str,
    source: &str,
) -> Result<(Vec<Route>, Option<usize>), ScenarioError> {
    let err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
    let Value::Array(items) = value else {
        return Err(err(
            "route",
            "expected [[route]] tables, each with `model` (or `default = true`) and `service`"
                .into(),
        ));
    };
    if items.is_empty() {
        return Err(err("route", "expected at least one [[route]] table".into()));
    }
    let mut routes: Vec<Route> = Vec::with_capacity(items.len());
    let mut default: Option<(usize, usize)> = None;
    for (i, item) in items.iter().enumerate() {
        let at = format!("route[{i}]");
        let Value::Table(t) = item else {
            return Err(err(&at, "expected a table".into()));
        };
        check_keys(t, &at, file, source)?;
        let service = match t.get("service") {
            None => return Err(err(
                &at,
                "missing: expected `service`, the name of the [[service]] that serves the model"
                    .into(),
            )),
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(err(
                    &format!("{at}.service"),
                    "expected a string, a [[service]]'s name".into(),
                ))
            }
        };
        let Some(service) = names.iter().position(|n| n == service) else {
            return Err(err(
                &format!("{at}.service"),
                format!(
                    "no [[service]] is named \"{service}\"; the services are: {}",
                    names.join(", ")
                ),
            ));
        };
        let is_default = match t.get("default") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(_) => {
                return Err(err(
                    &format!("{at}.default"),
                    "expected true or false".into(),
                ))
            }
        };
        match (t.get("model"), is_default) {
            (Some(_), true) => {
                return Err(err(
                    &format!("{at}.default"),
                    "a route is either for one `model` or the default, not both: write the default as its own [[route]]"
                        .into(),
                ))
            }
            (None, false) => {
                return Err(err(
                    &at,
                    "missing: expected `model`, the model name requests carry (or `default = true`)"
                        .into(),
                ))
            }
            (None, true) => {
                if let Some((j, _)) = default {
                    return Err(err(
                        &format!("{at}.default"),
                        format!("expected one default route; route[{j}] is the default already"),
                    ));
                }
                default = Some((i, service));
            }
            (Some(Value::String(m)), false) => {
                if m.is_empty() {
                    return Err(err(
                        &format!("{at}.model"),
                        "expected a model name, found an empty string".into(),
                    ));
                }
                if let Some(j) = routes.iter().position(|r| r.model == *m) {
                    let j = items[..i]
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| x.get("model").is_some())
                        .nth(j)
                        .map_or(j, |(k, _)| k);
                    return Err(err(
                        &format!("{at}.model"),
                        format!("expected each model routed once; \"{m}\" is routed by route[{j}] already"),
                    ));
                }
                routes.push(Route {
                    model: m.clone(),
                    service,
                });
            }
            (Some(_), false) => {
                return Err(err(
                    &format!("{at}.model"),
                    "expected a string, the model name requests carry".into(),
                ))
            }
        }
    }
    Ok((routes, default.map(|(_, s)| s)))
}

fn check_keys(t: &Table, at: &str, file: &str, source: &str) -> Result<(), ScenarioError> {
    for k in t.keys() {
        if !matches!(k.as_str(), "model" | "service" | "default") {
            return Err(ScenarioError::at_key(
                file,
                source,
                &format!("{at}.{k}"),
                format!("unknown key `{k}`: a [[route]] takes `model`, `default` and `service`"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["chat".into(), "coder".into()]
    }

    fn parse(text: &str) -> Result<(Vec<Route>, Option<usize>), String> {
        let t: Table = toml::from_str(text).unwrap();
        parse_routes(&t["route"], &names(), "t.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn routes_map_names_to_services_and_one_default() {
        let (routes, default) = parse(
            r#"
[[route]]
model = "llama-3.1-8b"
service = "chat"
[[route]]
model = "meta-llama/Llama-3.1-8B-Instruct"
service = "chat"
[[route]]
model = "qwen2.5-coder-32b"
service = "coder"
[[route]]
default = true
service = "chat"
"#,
        )
        .unwrap();
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[2].service, 1);
        assert_eq!(default, Some(0));
    }

    #[test]
    fn bad_routes_are_located() {
        let e = parse("[[route]]\nmodel = \"x\"\nservice = \"nobody\"\n").unwrap_err();
        assert!(
            e.contains("route[0].service") && e.contains("\"nobody\"") && e.contains("chat, coder"),
            "{e}"
        );
        let e = parse("[[route]]\nmodel = \"x\"\nservice = \"chat\"\n[[route]]\nmodel = \"x\"\nservice = \"coder\"\n").unwrap_err();
        assert!(
            e.contains("route[1].model") && e.contains("route[0]"),
            "{e}"
        );
        let e = parse("[[route]]\nservice = \"chat\"\n").unwrap_err();
        assert!(e.contains("route[0]") && e.contains("`model`"), "{e}");
        let e = parse("[[route]]\ndefault = true\nservice = \"chat\"\n[[route]]\ndefault = true\nservice = \"coder\"\n").unwrap_err();
        assert!(e.contains("route[1].default"), "{e}");
        let e = parse("[[route]]\nmodel = \"x\"\nservice = \"chat\"\nweight = 2\n").unwrap_err();
        assert!(e.contains("route[0].weight"), "{e}");
    }
}
