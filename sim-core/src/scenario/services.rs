//! Several services in one scenario: the `[[service]]` form.
//!
//! A scenario holds either one `[service]` table (today's form, one service named by its `name`,
//! default `service`) or an array of `[[service]]` tables, each with a unique `name`. Each
//! `[[service]]` holds what a single-service scenario holds about its service: the service's own
//! keys (engine, resources, pod, replicas, …) and its own sections, written under the service
//! (`[service.traffic]`, `[service.slo]`, `[service.hpa]`, `[service.metrics]`, `[service.keda]`,
//! `[service.knative]`, `[service.vpa]`, `[service.pdb]`, `[[service.rollout]]`). Cluster-wide sections (`[simulation]`,
//! `[cluster]`, `[[node_pool]]`, `[scheduler]`, the node autoscalers, `[[namespace]]`,
//! `[[priority_class]]`, failures, `[batch]`) stay at the top level and are shared.
//!
//! Each service is validated as the scenario it would be alone (its *view*: the top level with
//! its own sections lifted up), so every rule of the single-service form holds per service; errors
//! point at the key in the file (`service[1].hpa.maxReplicas`).

use super::error::ScenarioError;
use super::model::{Scenario, Validator};
use super::raw::RawScenario;
use crate::catalog::Catalog;
use serde::Deserialize;
use toml::{Table, Value};

/// The sections a `[[service]]` holds for itself (top-level sections in the single-service form).
pub const SERVICE_SECTIONS: &[&str] = &[
    "traffic", "slo", "hpa", "metrics", "keda", "knative", "vpa", "pdb", "rollout",
];

/// Sections of the single-service form not yet available per service in the `[[service]]` form.
const NOT_YET: &[(&str, &str)] = &[("tenant", "[[tenant]]")];

/// Whether a scenario table uses the `[[service]]` form.
pub fn is_multi(t: &Table) -> bool {
    matches!(t.get("service"), Some(Value::Array(_)))
}

/// The names of a `[[service]]` table's services, in file order (empty for the `[service]` form).
pub fn service_names(t: &Table) -> Vec<String> {
    match t.get("service") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| match s.get("name") {
                Some(Value::String(n)) => n.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where a key of service `i`'s view lies in the file: its own keys and sections under
/// `service[i]`, cluster-wide keys where they are.
pub fn file_key(i: usize, key: &str) -> String {
    let first = key.split(['.', '[']).next().unwrap_or("");
    if first == "service" {
        format!("service[{i}]{}", &key["service".len()..])
    } else if SERVICE_SECTIONS.contains(&first) {
        format!("service[{i}].{key}")
    } else {
        key.to_string()
    }
}

/// Checks a name that appears in outputs, stream names and key paths.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Validates a scenario table in the `[[service]]` form: the first service's view is the returned
/// scenario, the others are in its `others`.
pub(super) fn validate_multi(
    table: &Table,
    file: &str,
    source: &str,
    variant: Option<(usize, &Table)>,
    catalog: &Catalog,
) -> Result<Scenario, ScenarioError> {
    let err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
    let Some(Value::Array(services)) = table.get("service") else {
        unreachable!("validate_multi is called on the [[service]] form")
    };
    if services.is_empty() {
        return Err(err(
            "service",
            "expected at least one [[service]] table".into(),
        ));
    }
    let names = service_names(table);
    let routes = match table.get("route") {
        None => None,
        Some(v) => Some(super::routes::parse_routes(v, &names, file, source)?),
    };
    let mut routed: Vec<usize> = match &routes {
        None => Vec::new(),
        Some((r, d)) => super::routes::targets(r, *d),
    };
    if routes.is_some() {
        // The gateway also sends a service the requests that name its adapters.
        for (i, s) in services.iter().enumerate() {
            let adapters = s
                .get("vllm")
                .and_then(|v| v.get("lora"))
                .and_then(|l| l.get("adapter"));
            if adapters.is_some() && !routed.contains(&i) {
                routed.push(i);
            }
        }
    }
    match (&routes, table.contains_key("traffic")) {
        (Some(_), false) => {
            return Err(err(
                "route",
                "[[route]] tables route the gateway's traffic: expected a top-level [traffic] table (each request names its model)".into(),
            ))
        }
        (None, true) => {
            return Err(err(
                "traffic",
                "with [[service]] tables, a top-level [traffic] goes through the model-aware gateway: add [[route]] tables from model names to services, or write each service's own traffic as [service.traffic]".into(),
            ))
        }
        _ => {}
    }
    for k in SERVICE_SECTIONS {
        if *k != "traffic" && table.contains_key(*k) {
            let (open, close) = if *k == "rollout" {
                ("[[", "]]")
            } else {
                ("[", "]")
            };
            return Err(err(
                k,
                format!("with [[service]] tables, {open}{k}{close} belongs to a service: write it under each [[service]] as {open}service.{k}{close}"),
            ));
        }
    }
    for (k, what) in NOT_YET {
        if table.contains_key(*k) {
            return Err(err(
                k,
                format!("{what} is not available with several [[service]] tables yet; use the single [service] form"),
            ));
        }
    }
    let mut names: Vec<String> = Vec::with_capacity(services.len());
    // Each service's view; whether its [traffic] is the gateway's (it has none of its own);
    // then, for the gateway, the view of the first routed service with the gateway's traffic.
    let mut views: Vec<(Table, bool)> = Vec::with_capacity(services.len() + 1);
    let mut gateway_views: Vec<(usize, Table)> = Vec::new();
    for (i, s) in services.iter().enumerate() {
        let Value::Table(s) = s else {
            return Err(err(&format!("service[{i}]"), "expected a table".into()));
        };
        let name =
            match s.get("name") {
                None => return Err(err(
                    &format!("service[{i}]"),
                    "missing: expected `name`, the service's name (each [[service]] needs its own)"
                        .into(),
                )),
                Some(Value::String(n)) => n.clone(),
                Some(_) => {
                    return Err(err(
                        &format!("service[{i}].name"),
                        "expected a string".into(),
                    ))
                }
            };
        if !valid_name(&name) {
            return Err(err(
                &format!("service[{i}].name"),
                format!("expected a name of letters, digits, `-`, `_` and `.` (it names output rows and keys), found \"{name}\""),
            ));
        }
        if let Some(j) = names.iter().position(|n| *n == name) {
            return Err(err(
                &format!("service[{i}].name"),
                format!("expected a name no other [[service]] has, found \"{name}\" again (service[{j}] has it)"),
            ));
        }
        names.push(name);
        let mut view = table.clone();
        view.remove("service");
        view.remove("route");
        let mut own = s.clone();
        let own_traffic = own.contains_key("traffic");
        if !own_traffic && !routed.contains(&i) {
            return Err(err(
                &format!("service[{i}]"),
                "missing: expected [service.traffic], the service's own traffic (or a [[route]] that sends it the gateway's)".into(),
            ));
        }
        for k in SERVICE_SECTIONS {
            if let Some(v) = own.remove(*k) {
                view.insert((*k).to_string(), v);
            }
        }
        view.insert("service".into(), Value::Table(own));
        if routed.contains(&i) {
            let mut g = view.clone();
            g.insert("traffic".into(), table["traffic"].clone());
            gateway_views.push((i, g));
        }
        views.push((view, !own_traffic));
    }
    let validate =
        |i: usize, view: Table, gateway_traffic: bool| -> Result<Scenario, ScenarioError> {
            let mut track = serde_path_to_error::Track::new();
            let de = serde_path_to_error::Deserializer::new(Value::Table(view), &mut track);
            let raw = RawScenario::deserialize(de).map_err(|e| {
                let path = track.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let key = if gateway_traffic && is_traffic_key(&path) {
                    path
                } else {
                    file_key(i, &path)
                };
                let message = super::error::serde_message(&e);
                let shown = match variant {
                    Some((v, o)) if overrides_service_key(o, &names, &key) => {
                        format!("policy[{v}].{key}")
                    }
                    _ => key,
                };
                ScenarioError::at_key(file, source, &shown, message)
            })?;
            Validator {
                file,
                source,
                variant,
                service: Some((i, &names)),
                gateway_traffic,
            }
            .scenario(raw, catalog)
        };
    let mut out: Vec<Scenario> = Vec::with_capacity(views.len());
    let mut routed_only = Vec::with_capacity(views.len());
    for (i, (view, gw)) in views.into_iter().enumerate() {
        routed_only.push(gw);
        out.push(validate(i, view, gw)?);
    }
    // The gateway's traffic is validated against every service it reaches (their engines may
    // need token counts); the first such view is kept.
    let mut gateway_first: Option<Scenario> = None;
    for (i, view) in gateway_views {
        let v = validate(i, view, true)?;
        gateway_first.get_or_insert(v);
    }
    let gateway = match (routes, gateway_first) {
        (Some((routes, default)), Some(mut v)) => {
            gateway_only_checks(&v, file, source)?;
            // A trace's labels are its model column: the gateway routes on them.
            if let super::TrafficSpec::Trace { options, .. } = &mut v.traffic {
                options.columns.model_only = true;
            }
            let adapters = adapter_routes(&out, &routes, file, source)?;
            Some(super::routes::Gateway {
                view: Box::new(v),
                routes,
                default,
                adapters,
            })
        }
        _ => None,
    };
    // A service fed only by the gateway has no arrivals of its own.
    for (v, gw) in out.iter_mut().zip(&routed_only) {
        if *gw {
            v.traffic = super::TrafficSpec::Poisson { rate: 0.0 };
            v.tokens = None;
        }
    }
    for (i, v) in out.iter().enumerate() {
        if !routed_only[i] {
            if let Some(j) = stream_with_model(&v.traffic) {
                return Err(err(
                    &format!("service[{i}].traffic.stream[{j}].model"),
                    "a stream's `model` is read by the model-aware gateway: a service's own traffic goes to that service; route the top-level [traffic] with [[route]] tables instead".into(),
                ));
            }
        }
    }
    // Inputs a run holds once (a token sample, trace prefix ids, a measured profile) serve
    // the first service only.
    for (i, v) in out.iter().enumerate().skip(1) {
        let once = if v.tokens.as_ref().is_some_and(|t| t.sample.is_some()) {
            Some(("traffic.tokens.sample", "a token sample"))
        } else if matches!(&v.service.engine, super::EngineSpec::Vllm(x) if x.profile.is_some()) {
            Some(("vllm.profile", "a measured profile"))
        } else if matches!(v.service.engine, super::EngineSpec::Vllm(_))
            && v.traffic
                .traces()
                .iter()
                .any(|(_, f, _)| *f == super::TraceFormat::Mooncake)
        {
            Some(("traffic.format", "a Mooncake trace's prefix ids"))
        } else {
            None
        };
        if let Some((key, what)) = once {
            return Err(err(
                &format!("service[{i}].{key}"),
                format!("{what} is available to the first [[service]] only, for now"),
            ));
        }
    }
    // Selectors select across services: resolved once every service's labels are known.
    super::selectors::resolve(&mut out, |i, key, m| {
        let key = file_key(i, key);
        let shown = match variant {
            Some((v, o)) if overrides_service_key(o, &names, &key) => format!("policy[{v}].{key}"),
            _ => key,
        };
        ScenarioError::at_key(file, source, &shown, m)
    })?;
    let mut first = out.remove(0);
    // The cluster's series and each service's: the rows limit holds for them all together.
    let series = 2 + out.len() as u64;
    if let Err((key, m)) = super::limits::check_series_rows(table, &first, series) {
        return Err(err(
            &key,
            format!(
                "{m} ({series} series of the cluster and {} services)",
                series - 1
            ),
        ));
    }
    first.others = out;
    first.gateway = gateway;
    super::limits::check_cluster(&first).map_err(|(key, m)| err(&key, m))?;
    Ok(first)
}

/// Whether a view's key lies in its `[traffic]` table.
pub(super) fn is_traffic_key(key: &str) -> bool {
    key == "traffic" || key.starts_with("traffic.") || key.starts_with("traffic[")
}

/// The index of a mix stream that names a `model`, if any.
fn stream_with_model(t: &super::TrafficSpec) -> Option<usize> {
    match t {
        super::TrafficSpec::Mix { streams } => streams.iter().position(|s| s.model.is_some()),
        _ => None,
    }
}

/// What the gateway's traffic cannot have yet: inputs a run reads once per service.
fn gateway_only_checks(v: &Scenario, file: &str, source: &str) -> Result<(), ScenarioError> {
    let err = |key: &str, m: &str| Err(ScenarioError::at_key(file, source, key, m));
    if let Some(t) = &v.tokens {
        if t.sample.is_some() {
            return err(
                "traffic.tokens.sample",
                "a token sample is not available for the gateway's traffic yet: give `prompt` and `output` distributions",
            );
        }
        if t.prefix.is_some() {
            return err(
                "traffic.tokens.prefix",
                "shared prefixes are not available for the gateway's traffic yet",
            );
        }
    }
    if v.traffic
        .traces()
        .iter()
        .any(|(_, f, _)| *f == super::TraceFormat::Mooncake)
    {
        return err(
            "traffic.format",
            "a Mooncake trace is not available for the gateway's traffic yet (its prefix ids serve one service)",
        );
    }
    Ok(())
}

/// Checks of a scenario in the single `[service]` form that concern the `[[service]]` form's
/// keys: `[[route]]` and a stream's `model` need several services.
pub(super) fn single_form_checks(t: &Table, file: &str, source: &str) -> Result<(), ScenarioError> {
    let err = |key: &str, m: &str| Err(ScenarioError::at_key(file, source, key, m));
    if t.contains_key("route") {
        return err(
            "route",
            "[[route]] tables send the gateway's traffic to services by model: they need [[service]] tables (the single [service] form serves every request itself)",
        );
    }
    if let Some(Value::Array(streams)) = t.get("traffic").and_then(|t| t.get("stream")) {
        if let Some(j) = streams.iter().position(|s| s.get("model").is_some()) {
            return err(
                &format!("traffic.stream[{j}].model"),
                "a stream's `model` is read by the model-aware gateway, which needs [[service]] tables and [[route]] tables; name the stream with `name`",
            );
        }
    }
    Ok(())
}

/// Whether the file key `key` (`service[i]…` or a cluster key) lies in what a variant's
/// `overrides` set, where a variant addresses a service as `service.<name>`.
pub(super) fn overrides_service_key(overrides: &Table, names: &[String], key: &str) -> bool {
    if let Some(rest) = key.strip_prefix("service[") {
        let Some((n, tail)) = rest.split_once(']') else {
            return false;
        };
        let Some(name) = n.parse::<usize>().ok().and_then(|i| names.get(i)) else {
            return false;
        };
        let Some(Value::Table(svc)) = overrides.get("service") else {
            return false;
        };
        let Some(Value::Table(own)) = svc.get(name) else {
            return false;
        };
        let tail = tail.trim_start_matches('.');
        return tail.is_empty() || super::policy::overrides_key(own, tail);
    }
    super::policy::overrides_key(overrides, key)
}

/// Applies a variant's overrides to a `[[service]]` base table: `service.<name>.<key>` merges
/// into the service of that name; every other key merges as in the single-service form.
pub(super) fn merge_variant(
    base: &mut Table,
    overrides: &Table,
    at: &str,
    file: &str,
    source: &str,
) -> Result<(), ScenarioError> {
    let mut rest = overrides.clone();
    if let Some(svc) = rest.remove("service") {
        let Value::Table(svc) = svc else {
            return Err(ScenarioError::at_key(
                file,
                source,
                &format!("{at}.service"),
                "with [[service]] tables, a [[policy]] addresses a service by name: expected a table such as [policy.service.<name>]",
            ));
        };
        let names = service_names(base);
        let Some(Value::Array(services)) = base.get_mut("service") else {
            unreachable!("a [[service]] base")
        };
        for (name, v) in &svc {
            let Some(i) = names.iter().position(|n| n == name) else {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    &format!("{at}.service.{name}"),
                    format!(
                        "no [[service]] is named \"{name}\"; the services are: {}",
                        names.join(", ")
                    ),
                ));
            };
            let Value::Table(o) = v else {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    &format!("{at}.service.{name}"),
                    "expected a table of the service's keys to override",
                ));
            };
            if o.contains_key("name") {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    &format!("{at}.service.{name}.name"),
                    "a [[policy]] cannot rename a service",
                ));
            }
            if let Value::Table(t) = &mut services[i] {
                super::policy::merge(t, o);
            }
        }
    }
    super::policy::merge(base, &rest);
    Ok(())
}

/// The gateway's routes by adapter name: each adapter of each service, its name neither a
/// [[route]]'s model nor another adapter's.
fn adapter_routes(
    services: &[Scenario],
    routes: &[super::routes::Route],
    file: &str,
    source: &str,
) -> Result<Vec<super::routes::AdapterRoute>, ScenarioError> {
    let mut out: Vec<super::routes::AdapterRoute> = Vec::new();
    for (i, v) in services.iter().enumerate() {
        let super::EngineSpec::Vllm(x) = &v.service.engine else {
            continue;
        };
        let Some(lora) = &x.lora else {
            continue;
        };
        for (k, a) in lora.adapters.iter().enumerate() {
            let key = format!("service[{i}].vllm.lora.adapter[{}].name", a.item);
            if let Some(j) = routes.iter().position(|r| r.model == a.name) {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    &key,
                    format!("expected an adapter name that no [[route]] names; \"{}\" is the model of route {j}, to service \"{}\"", a.name, services[routes[j].service].service.name),
                ));
            }
            if let Some(o) = out.iter().find(|o| o.model == a.name) {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    &key,
                    format!("expected each adapter name on one service; \"{}\" is an adapter of service[{}] (\"{}\") already, and the gateway routes on the name", a.name, o.service, services[o.service].service.name),
                ));
            }
            out.push(super::routes::AdapterRoute {
                model: a.name.clone(),
                service: i,
                adapter: (k + 1) as u16,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_put_service_keys_under_their_service() {
        assert_eq!(file_key(1, "service.replicas"), "service[1].replicas");
        assert_eq!(file_key(0, "service"), "service[0]");
        assert_eq!(file_key(2, "hpa.maxReplicas"), "service[2].hpa.maxReplicas");
        assert_eq!(file_key(2, "traffic.rate"), "service[2].traffic.rate");
        assert_eq!(file_key(1, "node_pool[0].gpu"), "node_pool[0].gpu");
        assert_eq!(file_key(1, "simulation.horizon"), "simulation.horizon");
    }

    #[test]
    fn names_for_outputs() {
        assert!(valid_name("llama-3.1-8b"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(".x"));
    }
}
