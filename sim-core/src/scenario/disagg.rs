//! Disaggregated prefill and decode: `[service.disaggregated]`.
//!
//! One service, two pools: `[service.disaggregated.prefill]` and `[service.disaggregated.decode]`
//! each set what differs for their pods (replicas, resources, pod placement, vLLM knobs and GPU,
//! router, queue bound, scale steps, HPA); everything else in `[service]` is shared. The scenario
//! is validated as two views, the prefill pool's (which carries the traffic) and the decode
//! pool's, each as the single-service scenario it would be alone; errors point at the key in the
//! file, inside the pool's table when the pool set it. The world runs the two pools as two
//! Deployments (`<name>-prefill`, `<name>-decode`) linked by KV-cache transfers
//! (`world/disagg.rs`).

use super::error::ScenarioError;
use super::model::{Scenario, Validator};
use super::raw::{RawQuantity, RawScenario};
use crate::catalog::Catalog;
use crate::engine::{parse_duration, SimDuration};
use serde::Deserialize;
use toml::{Table, Value};

/// The keys a pool table may set for its own pods; the rest of `[service]` is shared.
pub const POOL_KEYS: &[&str] = &[
    "replicas",
    "router",
    "max_queue_size",
    "resources",
    "pod",
    "vllm",
    "scale",
    "hpa",
];

/// Pool keys whose tables are merged key by key into the service's (the others replace it).
const MERGED: &[&str] = &["resources", "pod", "vllm"];

/// Sections of the single-service form that a disaggregated service cannot have (yet).
const UNSUPPORTED: &[(&str, &str)] = &[
    ("hpa", "each pool has its own autoscaler: write it as [service.disaggregated.prefill.hpa] or [service.disaggregated.decode.hpa]"),
    ("keda", "KEDA is not available with [service.disaggregated] yet; give a pool an HPA ([service.disaggregated.<pool>.hpa])"),
    ("knative", "Knative is not available with [service.disaggregated] yet"),
    ("vpa", "the VPA is not available with [service.disaggregated] yet"),
    ("rollout", "[[rollout]] is not available with [service.disaggregated] yet"),
    ("tenant", "[[tenant]] is not available with [service.disaggregated] yet"),
    ("policy", "[[policy]] variants are not available with [service.disaggregated] yet; write each variant as its own scenario"),
];

/// A disaggregated service's P/D settings; its pools are the scenario's service (prefill) and
/// its first `others` entry (decode).
#[derive(Clone, Debug, PartialEq)]
pub struct DisaggSpec {
    /// The service's name (its pools are `<name>-prefill` and `<name>-decode`).
    pub name: String,
    /// Prompts of at most this many tokens are prefilled on the decode replica itself (Dynamo's
    /// `max_local_prefill_length`); 0: every prompt goes to the prefill pool.
    pub max_local_prefill_length: u32,
    /// Bytes per second one prefill replica sends KV caches at (its share of its node's network).
    pub link_bytes_per_s: f64,
    /// Fixed time added to every transfer (connection set-up, completion notice).
    pub transfer_latency: SimDuration,
    /// KV-cache bytes per prompt token (all layers, the whole replica).
    pub kv_bytes_per_token: f64,
    /// Where `link_bytes_per_s` comes from, for outputs.
    pub bandwidth_source: String,
    /// How a request's phases find their replicas.
    pub policy: DisaggPolicy,
}

/// How a disaggregated service places a request's prefill and decode (`policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisaggPolicy {
    /// Each pool's router picks among its own replicas (`"fixed-pools"`, the default).
    FixedPools,
    /// SplitwiseSim's mixed pool (`"mixed-pool"`): an overloaded pool borrows a replica of the
    /// other, which returns when idle; with no replica for a phase, both run on one replica.
    MixedPool {
        /// A prefill replica with queued requests is refused a prompt that would take its
        /// unprefilled prompt tokens above this (SplitwiseSim's `prompt_max_pending_batch_tokens`).
        prompt_max_pending_batch_tokens: u64,
    },
}

/// The values `policy` takes.
const POLICIES: &[&str] = &["fixed-pools", "mixed-pool"];

/// SplitwiseSim's default `prompt_max_pending_batch_tokens`
/// (`configs/orchestrator_repo/schedulers/mixed_pool.yml`).
pub const PROMPT_MAX_PENDING_BATCH_TOKENS: u64 = 8192;

/// `[service.disaggregated]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisagg {
    prefill: Option<Value>,
    decode: Option<Value>,
    max_local_prefill_length: Option<u32>,
    kv_transfer_bandwidth: Option<RawQuantity>,
    kv_transfer_latency: Option<String>,
    kv_bytes_per_token: Option<f64>,
    policy: Option<String>,
    prompt_max_pending_batch_tokens: Option<u64>,
}

/// Whether a single-form scenario table has `[service.disaggregated]`.
pub fn is_disaggregated(t: &Table) -> bool {
    matches!(t.get("service"), Some(Value::Table(s)) if s.contains_key("disaggregated"))
}

/// The file key of `key` in pool `pool`'s view: keys the pool's table set lie under it.
fn file_key(pool: &str, table: &Table, key: &str) -> String {
    let in_pool = |rest: &str| {
        let first = rest.split(['.', '[']).next().unwrap_or("");
        table.contains_key(first)
    };
    if let Some(rest) = key.strip_prefix("service.") {
        if in_pool(rest) && rest.split(['.', '[']).next() != Some("hpa") {
            return format!("service.disaggregated.{pool}.{rest}");
        }
    }
    if (key == "hpa" || key.starts_with("hpa.")) && table.contains_key("hpa") {
        return format!("service.disaggregated.{pool}.{key}");
    }
    key.to_string()
}

/// Validates a single-form scenario table with `[service.disaggregated]`: the prefill pool's view
/// is returned, the decode pool's is its `others[0]`, the P/D settings its `disagg`.
pub(super) fn validate(
    table: &Table,
    file: &str,
    source: &str,
    catalog: &Catalog,
) -> Result<Scenario, ScenarioError> {
    let err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
    let Some(Value::Table(svc)) = table.get("service") else {
        unreachable!("is_disaggregated checked [service]")
    };
    for (k, why) in UNSUPPORTED {
        if table.contains_key(*k) {
            return Err(err(k, (*why).to_string()));
        }
    }
    if table
        .get("failures")
        .and_then(|f| f.get("client"))
        .is_some()
    {
        return Err(err(
            "failures.client",
            "client timeouts and retries are not available with [service.disaggregated] yet".into(),
        ));
    }
    let Some(Value::Table(d)) = svc.get("disaggregated") else {
        return Err(err(
            "service.disaggregated",
            "expected a table with [service.disaggregated.prefill] and [service.disaggregated.decode]".into(),
        ));
    };
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(Value::Table(d.clone()), &mut track);
    let raw = RawDisagg::deserialize(de).map_err(|e| {
        let path = track.path().to_string();
        let text = e.to_string();
        let first = text.split("\nin ").next().unwrap_or(&text);
        err(
            &format!("service.disaggregated.{path}"),
            super::error::suggest_in_message(first.trim().trim_end_matches('.')),
        )
    })?;
    let pool_table = |name: &str, v: Option<&Value>| -> Result<Table, ScenarioError> {
        let key = format!("service.disaggregated.{name}");
        let t = match v {
            None if name == "decode" => return Err(err("service.disaggregated", "missing: a disaggregated service needs a decode pool: expected [service.disaggregated.decode] (with its `replicas`, and what else differs for its pods)".into())),
            None => return Err(err("service.disaggregated", "missing: a disaggregated service needs a prefill pool: expected [service.disaggregated.prefill] (with its `replicas`, and what else differs for its pods)".into())),
            Some(Value::Table(t)) => t.clone(),
            Some(_) => return Err(err(&key, "expected a table".into())),
        };
        for k in t.keys() {
            if !POOL_KEYS.contains(&k.as_str()) {
                let hint = super::error::closest(k, POOL_KEYS)
                    .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                return Err(err(
                    &format!("{key}.{k}"),
                    format!(
                        "unknown pool key `{k}`: expected one of {}{hint} (the rest of [service] is shared by both pools)",
                        POOL_KEYS.join(", ")
                    ),
                ));
            }
        }
        Ok(t)
    };
    let prefill = pool_table("prefill", raw.prefill.as_ref())?;
    let decode = pool_table("decode", raw.decode.as_ref())?;
    let base_name = match svc.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => "service".to_string(),
    };
    let view_of = |pool: &str, t: &Table| -> Table {
        let mut view = table.clone();
        let mut own = svc.clone();
        own.remove("disaggregated");
        own.insert("name".into(), Value::String(format!("{base_name}-{pool}")));
        for (k, v) in t {
            if k == "hpa" {
                view.insert(k.clone(), v.clone());
                continue;
            }
            match (MERGED.contains(&k.as_str()), own.get_mut(k), v) {
                (true, Some(Value::Table(base)), Value::Table(over)) => {
                    for (kk, vv) in over {
                        base.insert(kk.clone(), vv.clone());
                    }
                }
                _ => {
                    own.insert(k.clone(), v.clone());
                }
            }
        }
        view.insert("service".into(), Value::Table(own));
        view
    };
    let validate_view = |pool: &str, t: &Table| -> Result<Scenario, ScenarioError> {
        let view = view_of(pool, t);
        let relocate = |e: ScenarioError| -> ScenarioError {
            let key = file_key(pool, t, &e.key);
            ScenarioError::at_key(file, source, &key, e.message)
        };
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(Value::Table(view), &mut track);
        let raw = RawScenario::deserialize(de).map_err(|e| {
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = super::error::serde_message(&e);
            ScenarioError::at_key(file, source, &file_key(pool, t, &path), message)
        })?;
        Validator {
            file,
            source,
            variant: None,
            service: None,
            gateway_traffic: false,
        }
        .scenario(raw, catalog)
        .map_err(relocate)
    };
    let mut first = validate_view("prefill", &prefill)?;
    let mut second = validate_view("decode", &decode)?;
    for (s, pool, t) in [(&first, "prefill", &prefill), (&second, "decode", &decode)] {
        match &s.service.engine {
            super::EngineSpec::Vllm(v)
                if v.static_batching.is_none()
                    && v.splitwise_batching.is_none()
                    && v.profile.is_none()
                    && v.lora.is_none() => {}
            super::EngineSpec::Vllm(v) if v.lora.is_some() => {
                return Err(err(
                    &file_key(pool, t, "service.vllm.lora"),
                    "LoRA adapters are not available with [service.disaggregated] yet".into(),
                ))
            }
            super::EngineSpec::Vllm(v) if v.profile.is_some() => {
                return Err(err(
                    &file_key(pool, t, "service.vllm.profile"),
                    "a measured profile is not available with [service.disaggregated] yet"
                        .into(),
                ))
            }
            _ => {
                return Err(err(
                    &file_key(pool, t, "service.engine"),
                    "expected engine = \"vllm\" with continuous batching: disaggregation splits an LLM's prefill from its decode".into(),
                ))
            }
        }
    }
    // Both pools serve one model: the decode pool continues the prefill pool's KV cache.
    let vllm_of = |view: &Table| -> Table {
        match view.get("service").and_then(|s| s.get("vllm")) {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        }
    };
    let pv = vllm_of(&view_of("prefill", &prefill));
    let dv = vllm_of(&view_of("decode", &decode));
    for k in ["model", "weight_dtype", "kv_cache_dtype", "block_size"] {
        if pv.get(k) != dv.get(k) {
            return Err(err(
                &file_key("decode", &decode, &format!("service.vllm.{k}")),
                format!("expected the prefill pool's `{k}` ({}): the decode pool continues the prefill pool's KV cache", pv.get(k).map_or("none".to_string(), |v| v.to_string())),
            ));
        }
    }
    let kv_bytes_per_token = match (raw.kv_bytes_per_token, pv.get("model")) {
        (Some(b), _) if b.is_finite() && b > 0.0 && b <= 1e9 => b,
        (Some(b), _) => {
            return Err(err(
                "service.disaggregated.kv_bytes_per_token",
                format!("expected bytes per token above 0 and at most 1e9, found {b}"),
            ))
        }
        (None, Some(Value::String(m))) => {
            let wd = pv.get("weight_dtype").and_then(|v| v.clone().try_into().ok());
            let kd = pv.get("kv_cache_dtype").and_then(|v| v.clone().try_into().ok());
            let model = catalog
                .model(m)
                .expect("the view's validation found the model")
                .with_precision(wd, kd);
            model.kv_bytes_per_token()
        }
        (None, _) => {
            return Err(err(
                "service.disaggregated",
                "missing: expected `kv_bytes_per_token` (a linear [service.vllm.step_time] names no model to derive it from)".into(),
            ))
        }
    };
    let (link_bytes_per_s, bandwidth_source) = match &raw.kv_transfer_bandwidth {
        Some(q) => {
            let key = "service.disaggregated.kv_transfer_bandwidth";
            let v = Validator {
                file,
                source,
                variant: None,
                service: None,
                gateway_traffic: false,
            };
            let b = v.quantity(key, q)?.units_ceil().min(u64::MAX as u128) as f64;
            if b <= 0.0 {
                return Err(err(
                    key,
                    "expected a bandwidth above zero (bytes per second, e.g. \"50Gi\")".into(),
                ));
            }
            (b, "kv_transfer_bandwidth".to_string())
        }
        None => {
            let gpu = pv.get("gpu").and_then(|g| g.as_str());
            let pools = first
                .cluster
                .as_ref()
                .map(|c| c.pools.as_slice())
                .unwrap_or(&[]);
            let pool = pools
                .iter()
                .find(|p| p.gpu.is_some() && (gpu.is_none() || p.gpu.as_deref() == gpu));
            let tp = pv
                .get("tensor_parallel_size")
                .and_then(|v| v.as_integer())
                .unwrap_or(1)
                .max(1) as f64;
            match pool.and_then(|p| {
                catalog
                    .instance(&p.instance_type)
                    .and_then(|i| i.network_gbps)
                    .map(|g| (p, g))
            }) {
                Some((p, gbps)) => (
                    gbps * 1e9 / 8.0 * tp.min(p.gpus_per_node as f64) / p.gpus_per_node.max(1) as f64,
                    format!("{} network_gbps {gbps}", p.instance_type),
                ),
                None => {
                    return Err(err(
                        "service.disaggregated",
                        format!(
                            "missing: expected `kv_transfer_bandwidth` (bytes per second): {}",
                            match pool {
                                Some(p) => format!("the catalog gives no network bandwidth (network_gbps) for instance type `{}`", p.instance_type),
                                None => "no node pool with the prefill pool's GPUs names an instance type to read it from".to_string(),
                            }
                        ),
                    ))
                }
            }
        }
    };
    let transfer_latency = match &raw.kv_transfer_latency {
        None => SimDuration::ZERO,
        Some(s) => {
            parse_duration(s).map_err(|e| err("service.disaggregated.kv_transfer_latency", e.0))?
        }
    };
    let max_local_prefill_length = raw.max_local_prefill_length.unwrap_or(0);
    let policy = match raw.policy.as_deref() {
        None | Some("fixed-pools") => {
            if raw.prompt_max_pending_batch_tokens.is_some() {
                return Err(err(
                    "service.disaggregated.prompt_max_pending_batch_tokens",
                    "applies only to policy = \"mixed-pool\": set it, or remove this key".into(),
                ));
            }
            DisaggPolicy::FixedPools
        }
        Some("mixed-pool") => {
            let t = raw
                .prompt_max_pending_batch_tokens
                .unwrap_or(PROMPT_MAX_PENDING_BATCH_TOKENS);
            if t == 0 {
                return Err(err(
                    "service.disaggregated.prompt_max_pending_batch_tokens",
                    "expected a number of prompt tokens above 0, found 0".into(),
                ));
            }
            if max_local_prefill_length > 0 {
                return Err(err(
                    "service.disaggregated.max_local_prefill_length",
                    "not available with policy = \"mixed-pool\", which places every prompt itself: remove it, or use policy = \"fixed-pools\"".into(),
                ));
            }
            DisaggPolicy::MixedPool {
                prompt_max_pending_batch_tokens: t,
            }
        }
        Some(other) => {
            let hint = super::error::closest(other, POLICIES)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            return Err(err(
                "service.disaggregated.policy",
                format!(
                    "unknown policy `{other}`: expected \"fixed-pools\" or \"mixed-pool\"{hint}"
                ),
            ));
        }
    };
    // The decode pool has no arrivals of its own: requests reach it from the prefill pool.
    second.traffic = super::TrafficSpec::Poisson { rate: 0.0 };
    second.tokens = None;
    // The cluster's series and each pool's: the rows limit holds for them all together.
    if let Err((key, m)) = super::limits::check_series_rows(table, &first, 3) {
        return Err(err(
            &key,
            format!("{m} (3 series: the cluster's and each pool's)"),
        ));
    }
    first.others = vec![second];
    first.disagg = Some(Box::new(DisaggSpec {
        name: base_name,
        max_local_prefill_length,
        link_bytes_per_s,
        transfer_latency,
        kv_bytes_per_token,
        bandwidth_source,
        policy,
    }));
    super::limits::check_cluster(&first).map_err(|(key, m)| err(&key, m))?;
    Ok(first)
}
