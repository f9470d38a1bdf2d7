//! `[[rollout]]`: a change of the Deployment's model version at a given time, rolled out with
//! the Deployment's `RollingUpdate` (`maxSurge`, `maxUnavailable`, `minReadySeconds`) or
//! `Recreate` strategy, or as a canary with a weighted traffic split. The new version is the
//! `[service]` table with the rollout's `[rollout.service]` keys merged in (tables key by key,
//! other values replaced), so it may name another catalog model, other step or service times,
//! other requests or another pod template; `speed` divides its step (or batch) times.

use super::error::ScenarioError;
use super::model::{parse_raw, EngineSpec, ServiceSpec, Validator};
use super::raw::RawService;
use super::ClusterSpec;
use crate::catalog::Catalog;
use crate::engine::{parse_duration, SimDuration, SimTime};
use crate::serving::StepModel;
use serde::Deserialize;
use toml::{Table, Value};

/// Upstream defaults of a Deployment's rolling update.
pub mod defaults {
    /// `maxSurge` (25%, rounded up).
    pub const MAX_SURGE_PERCENT: u32 = 25;
    /// `maxUnavailable` (25%, rounded down).
    pub const MAX_UNAVAILABLE_PERCENT: u32 = 25;
}

/// The names `strategy` accepts for a rolling update.
const ROLLING_NAMES: [&str; 3] = ["RollingUpdate", "rolling-update", "rolling"];

/// `[service.strategy]`: a Deployment's `spec.strategy`, with upstream field names.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeploymentStrategy {
    /// `RollingUpdate` (upstream's default) or `Recreate`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `maxSurge` and `maxUnavailable`.
    #[serde(rename = "rollingUpdate")]
    pub rolling_update: Option<RawRollingUpdate>,
}

/// `spec.strategy.rollingUpdate`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollingUpdate {
    /// A count or a percentage.
    #[serde(rename = "maxSurge")]
    pub max_surge: Option<Value>,
    /// A count or a percentage.
    #[serde(rename = "maxUnavailable")]
    pub max_unavailable: Option<Value>,
}

/// `[[rollout]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    /// When the Deployment's template changes.
    pub at: Option<String>,
    /// `RollingUpdate` (default), `Recreate` or `Canary`.
    pub strategy: Option<String>,
    /// Pods above the desired count during a rolling update: a count or a percentage.
    #[serde(alias = "maxSurge")]
    pub max_surge: Option<Value>,
    /// Pods below the desired count during a rolling update: a count or a percentage.
    #[serde(alias = "maxUnavailable")]
    pub max_unavailable: Option<Value>,
    /// Seconds a new pod must be Ready before it counts as available.
    #[serde(alias = "minReadySeconds")]
    pub min_ready_seconds: Option<u32>,
    /// The new version's speed relative to the times its spec gives (2: steps take half as long).
    pub speed: Option<f64>,
    /// A canary's first traffic weight for the new version, percent.
    pub weight: Option<f64>,
    /// `[[rollout.step]]`: later canary weights.
    pub step: Option<Vec<RawCanaryStep>>,
    /// `[rollout.service]`: the keys of `[service]` the new version changes.
    pub service: Option<Table>,
}

/// `[[rollout.step]]`: a canary's weight from a given time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanaryStep {
    /// When (absolute simulated time, after the rollout's `at`).
    pub at: Option<String>,
    /// The new version's share of requests from then on, percent (100 promotes it).
    pub weight: Option<f64>,
}

/// An `IntOrString` of the Deployment API: a pod count or a percentage of the desired replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    /// Pods.
    Int(u32),
    /// Percent of the desired replicas.
    Percent(u32),
}

impl IntOrPercent {
    /// Resolves against `total` replicas, rounding up or down as upstream's
    /// `GetScaledValueFromIntOrPercent`.
    pub fn resolve(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = p as u64 * total as u64;
                (if round_up { x.div_ceil(100) } else { x / 100 }) as u32
            }
        }
    }

    /// Whether it is literally zero (`0` or `"0%"`).
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

/// How the new version replaces the old.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// The Deployment's `RollingUpdate`.
    RollingUpdate {
        /// `maxSurge`.
        max_surge: IntOrPercent,
        /// `maxUnavailable`.
        max_unavailable: IntOrPercent,
    },
    /// The Deployment's `Recreate`: every old pod gone before a new one is created.
    Recreate,
    /// A canary (as Argo Rollouts with traffic routing): the new version gets
    /// ceil(weight × replicas) pods and `weight` of the requests, the old version keeps all its
    /// pods until the weight reaches 100.
    Canary {
        /// (from when, weight in [0, 1]), the first at the rollout's start, ascending in time.
        steps: Vec<(SimTime, f64)>,
    },
}

impl Strategy {
    /// The name used in scenario files and outputs.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::RollingUpdate { .. } => "RollingUpdate",
            Strategy::Recreate => "Recreate",
            Strategy::Canary { .. } => "Canary",
        }
    }
}

/// A validated `[[rollout]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutSpec {
    /// When the template changes.
    pub at: SimTime,
    /// How.
    pub strategy: Strategy,
    /// `minReadySeconds`.
    pub min_ready: SimDuration,
    /// The new version's service (engine and pod template); its `replicas` and `scale` are the
    /// base's and unused.
    pub service: ServiceSpec,
    /// The factor its step times were divided by.
    pub speed: f64,
}

impl Validator<'_> {
    /// Checks `[service.strategy]` as upstream validates a Deployment's `spec.strategy`, whether or
    /// not a rollout uses it.
    pub(super) fn deployment_strategy(
        &self,
        raw: Option<&RawDeploymentStrategy>,
    ) -> Result<(), ScenarioError> {
        let Some(s) = raw else { return Ok(()) };
        let recreate = match s.kind.as_deref() {
            None | Some("RollingUpdate") => false,
            Some("Recreate") => true,
            Some(other) => {
                return Err(self.err(
                    "service.strategy.type",
                    format!("expected \"RollingUpdate\" or \"Recreate\", found \"{other}\""),
                ))
            }
        };
        let Some(r) = &s.rolling_update else {
            return Ok(());
        };
        if recreate {
            return Err(self.err(
                "service.strategy.rollingUpdate",
                "only with `type = \"RollingUpdate\"` (upstream refuses it beside Recreate)",
            ));
        }
        let surge = self.int_or_percent(
            "service.strategy.rollingUpdate.maxSurge",
            r.max_surge.as_ref(),
            defaults::MAX_SURGE_PERCENT,
        )?;
        let unavailable = self.int_or_percent(
            "service.strategy.rollingUpdate.maxUnavailable",
            r.max_unavailable.as_ref(),
            defaults::MAX_UNAVAILABLE_PERCENT,
        )?;
        if surge.is_zero() && unavailable.is_zero() {
            return Err(self.err(
                "service.strategy.rollingUpdate.maxUnavailable",
                "`maxSurge` and `maxUnavailable` cannot both be 0 (the rollout could never make progress; upstream rejects it too)",
            ));
        }
        Ok(())
    }

    /// The scenario's `[[rollout]]`s, each version built on the one before.
    pub(super) fn rollouts(
        &self,
        raw: Option<&Vec<RawRollout>>,
        base: &ServiceSpec,
        cluster: Option<&ClusterSpec>,
        catalog: &Catalog,
    ) -> Result<Vec<RolloutSpec>, ScenarioError> {
        let Some(list) = raw else {
            return Ok(Vec::new());
        };
        if list.is_empty() {
            return Ok(Vec::new());
        }
        if !matches!(base.dispatch, super::Dispatch::Router(_)) {
            return Err(self.err("rollout", "a rollout replaces pods: expected `dispatch = \"router\"` in [service] (each replica a pod)"));
        }
        // The base [service] as a table, with a variant's overrides (with several services,
        // this service's [[service]] table).
        let mut table: Table = parse_raw(self.source, self.file)?;
        let multi = super::services::is_multi(&table);
        if let Some((v, over)) = self.variant {
            if multi {
                let at = format!("policy[{v}]");
                super::services::merge_variant(&mut table, over, &at, self.file, self.source)?;
            } else {
                super::policy::merge(&mut table, over);
            }
        }
        let own = match (table.get("service"), self.service) {
            (Some(Value::Array(a)), Some((i, _))) => a.get(i),
            (v, _) => v,
        };
        let mut service_table = match own {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        };
        // A [[service]] table's own sections are no keys of the new version's [service].
        if multi {
            for k in super::services::SERVICE_SECTIONS {
                service_table.remove(*k);
            }
        }
        // The Deployment's own strategy and minReadySeconds: defaults for every rollout.
        let deployment: RawDeploymentStrategy = match service_table.get("strategy") {
            Some(v) => RawDeploymentStrategy::deserialize(v.clone())
                .map_err(|e| self.err("service.strategy", e.to_string()))?,
            None => RawDeploymentStrategy::default(),
        };
        let deployment_min_ready = service_table
            .get("minReadySeconds")
            .and_then(Value::as_integer)
            .map(|v| v as u32);
        let mut out: Vec<RolloutSpec> = Vec::with_capacity(list.len());
        for (i, r) in list.iter().enumerate() {
            // A rollout that names no strategy takes the Deployment's (its rollingUpdate only
            // with it: upstream refuses rollingUpdate beside Recreate).
            let strategy_owned = r.strategy.clone().or_else(|| deployment.kind.clone());
            let is_rolling = |k: Option<&str>| k.is_none_or(|k| ROLLING_NAMES.contains(&k));
            let inherit =
                is_rolling(strategy_owned.as_deref()) && is_rolling(deployment.kind.as_deref());
            let rolling = deployment.rolling_update.clone().unwrap_or_default();
            let pick = |own: &Option<Value>, dep: Option<Value>| {
                own.clone().or(if inherit { dep } else { None })
            };
            let max_surge_v = pick(&r.max_surge, rolling.max_surge);
            let max_unavailable_v = pick(&r.max_unavailable, rolling.max_unavailable);
            let min_ready_seconds = r.min_ready_seconds.or(deployment_min_ready);
            let key = |k: &str| format!("rollout[{i}].{k}");
            let at_s = self.required(&key("at"), r.at.as_ref(), "a time such as \"10m\"")?;
            let at = SimTime(
                parse_duration(at_s)
                    .map_err(|e| self.err(&key("at"), e.0))?
                    .0,
            );
            if let Some(prev) = out.last() {
                if at <= prev.at {
                    return Err(self.err(
                        &key("at"),
                        format!(
                            "expected a time after the previous rollout's ({})",
                            SimDuration(prev.at.0)
                        ),
                    ));
                }
            }
            let strategy_name = strategy_owned.as_deref().unwrap_or("RollingUpdate");
            let canary_only = [("weight", r.weight.is_some()), ("step", r.step.is_some())];
            let rolling_only = [
                ("max_surge", max_surge_v.is_some()),
                ("max_unavailable", max_unavailable_v.is_some()),
            ];
            let strategy = match strategy_name {
                name if ROLLING_NAMES.contains(&name) => {
                    for (k, present) in canary_only {
                        if present {
                            return Err(self.err(&key(k), format!("`{k}` is for `strategy = \"Canary\"`; a rolling update sends requests to every Ready pod")));
                        }
                    }
                    let max_surge = self.int_or_percent(
                        &key("max_surge"),
                        max_surge_v.as_ref(),
                        defaults::MAX_SURGE_PERCENT,
                    )?;
                    let max_unavailable = self.int_or_percent(
                        &key("max_unavailable"),
                        max_unavailable_v.as_ref(),
                        defaults::MAX_UNAVAILABLE_PERCENT,
                    )?;
                    if max_surge.is_zero() && max_unavailable.is_zero() {
                        return Err(self.err(&key("max_unavailable"), "`max_surge` and `max_unavailable` cannot both be 0 (the rollout could never make progress; upstream rejects it too)"));
                    }
                    Strategy::RollingUpdate {
                        max_surge,
                        max_unavailable,
                    }
                }
                "Recreate" | "recreate" => {
                    for (k, present) in canary_only.into_iter().chain(rolling_only) {
                        if present {
                            return Err(self.err(&key(k), format!("`{k}` does not apply to `strategy = \"Recreate\"` (every old pod goes before the new ones start)")));
                        }
                    }
                    Strategy::Recreate
                }
                "Canary" | "canary" => {
                    for (k, present) in rolling_only {
                        if present {
                            return Err(self.err(&key(k), format!("`{k}` is for `strategy = \"RollingUpdate\"`; a canary is sized by its `weight`")));
                        }
                    }
                    let first = self.weight(
                        &key("weight"),
                        Some(*self.required(
                            &key("weight"),
                            r.weight.as_ref(),
                            "the new version's first share of requests, percent (such as 10)",
                        )?),
                    )?;
                    let mut steps = vec![(at, first)];
                    for (j, s) in r.step.iter().flatten().enumerate() {
                        let sk = |k: &str| format!("rollout[{i}].step[{j}].{k}");
                        let t =
                            self.required(&sk("at"), s.at.as_ref(), "a time such as \"20m\"")?;
                        let t = SimTime(parse_duration(t).map_err(|e| self.err(&sk("at"), e.0))?.0);
                        let prev = steps.last().map_or(at, |s| s.0);
                        if t <= prev {
                            return Err(self.err(
                                &sk("at"),
                                format!(
                                    "expected a time after {} (the step before)",
                                    SimDuration(prev.0)
                                ),
                            ));
                        }
                        let w = self.weight(&sk("weight"), s.weight)?;
                        steps.push((t, w));
                    }
                    Strategy::Canary { steps }
                }
                other => {
                    return Err(self.err(
                        &key("strategy"),
                        format!(
                        "expected \"RollingUpdate\", \"Recreate\" or \"Canary\", found \"{other}\""
                    ),
                    ))
                }
            };
            let min_ready = SimDuration::from_secs(min_ready_seconds.unwrap_or(0) as u64);
            let speed = r.speed.unwrap_or(1.0);
            if !(speed.is_finite() && speed > 0.0) {
                return Err(self.err(
                    &key("speed"),
                    format!(
                        "expected a factor above zero (2 halves the step times), found {speed}"
                    ),
                ));
            }
            if let Some(over) = &r.service {
                for forbidden in ["replicas", "scale", "dispatch", "router", "engine", "name"] {
                    if over.contains_key(forbidden) {
                        return Err(self.err(
                            &key(&format!("service.{forbidden}")),
                            format!("a rollout changes the pod template (model, times, resources, pod), not `service.{forbidden}`"),
                        ));
                    }
                }
                super::policy::merge(&mut service_table, over);
            }
            let raw_service: RawService =
                Value::Table(service_table.clone())
                    .try_into()
                    .map_err(|e: toml::de::Error| {
                        self.err(
                            &key("service"),
                            format!(
                                "the new version's [service] is not valid: {}",
                                e.message().trim()
                            ),
                        )
                    })?;
            let mut service = self
                .service(&raw_service, cluster, catalog)
                .map_err(|e| {
                    self.err(
                        &key("service"),
                        format!("the new version's [service] (with this rollout's keys merged in) is not valid: key `{}`: {}", e.key, e.message),
                    )
                })?;
            if let (EngineSpec::Vllm(new), EngineSpec::Vllm(old)) = (&service.engine, &base.engine)
            {
                if new.profile.is_some() && new.profile != old.profile {
                    return Err(self.err(&key("service.vllm.profile"), "a new version can keep the base's measured profile but not name another one (its tables are read once)"));
                }
            }
            apply_speed(&mut service, speed);
            out.push(RolloutSpec {
                at,
                strategy,
                min_ready,
                service,
                speed,
            });
        }
        Ok(out)
    }

    fn int_or_percent(
        &self,
        key: &str,
        v: Option<&Value>,
        default_percent: u32,
    ) -> Result<IntOrPercent, ScenarioError> {
        match v {
            None => Ok(IntOrPercent::Percent(default_percent)),
            Some(Value::Integer(n)) if *n >= 0 && *n <= u32::MAX as i64 => {
                Ok(IntOrPercent::Int(*n as u32))
            }
            Some(Value::String(s)) => s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<u32>().ok())
                .filter(|&p| p <= 100)
                .map(IntOrPercent::Percent)
                .ok_or_else(|| {
                    self.err(key, format!("expected a pod count or a percentage from \"0%\" to \"100%\", found \"{s}\""))
                }),
            Some(other) => Err(self.err(
                key,
                format!("expected a pod count (such as 1) or a percentage (such as \"25%\"), found {other}"),
            )),
        }
    }

    fn weight(&self, key: &str, w: Option<f64>) -> Result<f64, ScenarioError> {
        let w = *self.required(key, w.as_ref(), "a share of requests, percent (0 to 100)")?;
        if !(w.is_finite() && (0.0..=100.0).contains(&w)) {
            return Err(self.err(
                key,
                format!("expected a percentage from 0 to 100, found {w}"),
            ));
        }
        Ok(w / 100.0)
    }
}

/// Divides a version's step (or batch) times by `speed`.
fn apply_speed(service: &mut ServiceSpec, speed: f64) {
    if speed == 1.0 {
        return;
    }
    let div = |d: SimDuration| SimDuration((d.0 as f64 / speed).round() as u64);
    match &mut service.engine {
        EngineSpec::Triton { service_time, .. } => {
            service_time.base = div(service_time.base);
            service_time.per_item = div(service_time.per_item);
            service_time.curve = service_time.curve.iter().map(|&c| div(c)).collect();
        }
        EngineSpec::Vllm(v) => {
            let inner = std::mem::replace(
                &mut v.step,
                StepModel::Linear(crate::serving::LinearStep {
                    base: 0.0,
                    per_token: 0.0,
                    per_seq: 0.0,
                    per_context_token: 0.0,
                }),
            );
            v.step = match inner {
                StepModel::Linear(mut l) => {
                    l.base /= speed;
                    l.per_token /= speed;
                    l.per_seq /= speed;
                    l.per_context_token /= speed;
                    StepModel::Linear(l)
                }
                other => StepModel::Scaled(Box::new(other), 1.0 / speed),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_upstream() {
        // 25% of 10: surge rounds up to 3, unavailable down to 2.
        assert_eq!(IntOrPercent::Percent(25).resolve(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).resolve(10, false), 2);
        assert_eq!(IntOrPercent::Percent(25).resolve(3, true), 1);
        assert_eq!(IntOrPercent::Percent(25).resolve(3, false), 0);
        assert_eq!(IntOrPercent::Int(2).resolve(3, false), 2);
    }
}
