//! The ScaledObject spec as written (`keda.sh/v1alpha1`, camelCase field names, trigger metadata
//! as a map), its checks and defaults, and the HPA KEDA generates from it.

use crate::hpa::spec::{
    BehaviorSpec, ExternalSource, HpaSpec, MetricIdentifier, MetricSourceType, MetricSpec,
    MetricTarget, MilliQuantity, ObjectReference, SpecError, TargetType,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `pollingInterval` default, seconds.
pub const POLLING_INTERVAL: i64 = 30;
/// `cooldownPeriod` default, seconds.
pub const COOLDOWN_PERIOD: i64 = 300;
/// `maxReplicaCount` default.
pub const MAX_REPLICA_COUNT: i32 = 100;
/// The queue scaler's `queueLength` default (as KEDA's aws-sqs-queue scaler).
pub const QUEUE_LENGTH: i64 = 5;

/// `advanced.horizontalPodAutoscalerConfig`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaConfigSpec {
    /// The generated HPA's name (kept for messages only).
    pub name: Option<String>,
    /// Passed through to the HPA's `behavior`.
    pub behavior: Option<BehaviorSpec>,
}

/// `advanced`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdvancedSpec {
    /// Settings of the HPA KEDA creates.
    pub horizontal_pod_autoscaler_config: Option<HpaConfigSpec>,
}

/// One trigger as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    /// The scaler: `prometheus` or `queue`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Optional trigger name (names its metric).
    pub name: Option<String>,
    /// The scaler's settings; values strings (as in YAML) or numbers and booleans.
    pub metadata: Option<BTreeMap<String, toml::Value>>,
}

/// `ScaledObjectSpec` as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// The Deployment scaled (optional here; names it in messages).
    pub scale_target_ref: Option<ObjectReference>,
    /// Seconds between checks of the triggers (30).
    pub polling_interval: Option<i64>,
    /// Seconds after the last active trigger before scaling to zero (300).
    pub cooldown_period: Option<i64>,
    /// Seconds after creation before a never-active object may scale to zero (0).
    pub initial_cooldown_period: Option<i64>,
    /// Replicas while no trigger is active, when set (below `minReplicaCount`).
    pub idle_replica_count: Option<i32>,
    /// Fewest replicas (0).
    pub min_replica_count: Option<i32>,
    /// Most replicas (100).
    pub max_replica_count: Option<i32>,
    /// The generated HPA's settings.
    pub advanced: Option<AdvancedSpec>,
    /// The scalers.
    pub triggers: Option<Vec<TriggerSpec>>,
}

/// How a Prometheus query aggregates a per-pod series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryAgg {
    /// `sum(...)`.
    Sum,
    /// `avg(...)`.
    Avg,
    /// `max(...)`.
    Max,
    /// `min(...)`.
    Min,
}

/// A checked query: an aggregation of one per-pod metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The aggregation.
    pub agg: QueryAgg,
    /// A pod metric name (see `scenario::autoscaling::POD_METRICS`).
    pub metric: String,
}

/// A checked trigger.
#[derive(Clone, Debug, PartialEq)]
pub enum TriggerKind {
    /// KEDA's `prometheus` scaler over the simulated Prometheus (pods scraped on the metrics
    /// interval): `query`, `threshold`, `activationThreshold`.
    Prometheus {
        /// The query.
        query: Query,
    },
    /// A queue scaler (as KEDA's aws-sqs-queue, azure-queue, rabbitmq): requests not yet
    /// answered, read when polled: those waiting at the gateway or in a pod's queue, and with
    /// `scaleOnInFlight` those being served too.
    Queue {
        /// `scaleOnInFlight` (true).
        scale_on_in_flight: bool,
    },
}

/// A checked trigger with its targets (milli-units).
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    /// The scaler.
    pub kind: TriggerKind,
    /// The External metric name in the generated HPA (`s{i}-{type}` as KEDA names it).
    pub metric_name: String,
    /// Target value per replica (`threshold` / `queueLength`), milli-units.
    pub threshold: i64,
    /// The trigger is active when its value is above this (milli-units).
    pub activation: i64,
}

/// A checked ScaledObject, times in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaledObject {
    /// `pollingInterval`.
    pub polling_interval: i64,
    /// `cooldownPeriod`.
    pub cooldown_period: i64,
    /// `initialCooldownPeriod`.
    pub initial_cooldown_period: i64,
    /// `idleReplicaCount`.
    pub idle_replica_count: Option<i32>,
    /// `minReplicaCount`.
    pub min_replica_count: i32,
    /// `maxReplicaCount`.
    pub max_replica_count: i32,
    /// The triggers, in order.
    pub triggers: Vec<Trigger>,
    /// The HPA KEDA creates (min = max(minReplicaCount, 1)).
    pub hpa: HpaSpec,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        key: key.into(),
        message: message.into(),
    }
}

/// A metadata value as text (KEDA's metadata is a string map).
fn text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a quantity into milli-units (KEDA parses thresholds as floats).
fn milli(v: &toml::Value, key: &str) -> Result<i64, SpecError> {
    let t = text(v);
    let x: f64 = t
        .trim()
        .parse()
        .map_err(|_| err(key, format!("expected a number, found \"{t}\"")))?;
    if !x.is_finite() || x.abs() > 9.0e15 {
        return Err(err(key, format!("expected a finite number, found {t}")));
    }
    Ok((x * 1000.0).round() as i64)
}

fn boolean(v: &toml::Value, key: &str) -> Result<bool, SpecError> {
    match text(v).trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(err(
            key,
            format!("expected true or false, found \"{other}\""),
        )),
    }
}

/// Parses `agg(metric)` (or a bare metric name, summed over pods).
pub fn parse_query(q: &str, pod_metrics: &[&str]) -> Result<Query, String> {
    let q = q.trim();
    let (agg, inner) = match q.find('(') {
        None => (QueryAgg::Sum, q),
        Some(open) => {
            let Some(inner) = q[open + 1..].strip_suffix(')') else {
                return Err(format!("expected `sum(METRIC)`, `avg(METRIC)`, `max(METRIC)` or `min(METRIC)`, found \"{q}\""));
            };
            let agg = match q[..open].trim() {
                "sum" => QueryAgg::Sum,
                "avg" => QueryAgg::Avg,
                "max" => QueryAgg::Max,
                "min" => QueryAgg::Min,
                other => {
                    return Err(format!(
                        "capsim evaluates sum, avg, max and min over a pod metric, not `{other}`"
                    ))
                }
            };
            (agg, inner.trim())
        }
    };
    if !pod_metrics.contains(&inner) {
        let hint = crate::scenario::error::closest(inner, pod_metrics)
            .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
        return Err(format!(
            "unknown pod metric `{inner}`: expected one of {}{hint}",
            pod_metrics.join(", ")
        ));
    }
    Ok(Query {
        agg,
        metric: inner.to_string(),
    })
}

impl ScaledObjectSpec {
    /// Checks the spec and fills upstream defaults; `pod_metrics` are the names a Prometheus
    /// query may aggregate. Errors name the key below the spec.
    pub fn check(&self, pod_metrics: &[&str]) -> Result<ScaledObject, SpecError> {
        let polling_interval = self.polling_interval.unwrap_or(POLLING_INTERVAL);
        if polling_interval < 1 {
            return Err(err(
                "pollingInterval",
                format!(
                    "expected a whole number of seconds of at least 1, found {polling_interval}"
                ),
            ));
        }
        let secs = |k: &str, v: Option<i64>, d: i64| -> Result<i64, SpecError> {
            let x = v.unwrap_or(d);
            if x < 0 {
                Err(err(k, format!("expected seconds, 0 or more, found {x}")))
            } else {
                Ok(x)
            }
        };
        let cooldown_period = secs("cooldownPeriod", self.cooldown_period, COOLDOWN_PERIOD)?;
        let initial_cooldown_period =
            secs("initialCooldownPeriod", self.initial_cooldown_period, 0)?;
        let min = self.min_replica_count.unwrap_or(0);
        let max = self.max_replica_count.unwrap_or(MAX_REPLICA_COUNT);
        if min < 0 {
            return Err(err(
                "minReplicaCount",
                format!("expected 0 or more, found {min}"),
            ));
        }
        if max < 1 {
            return Err(err(
                "maxReplicaCount",
                format!("expected 1 or more, found {max}"),
            ));
        }
        if min > max {
            return Err(err(
                "minReplicaCount",
                format!("MinReplicaCount={min} must be less than MaxReplicaCount={max}"),
            ));
        }
        if let Some(idle) = self.idle_replica_count {
            if idle < 0 || idle >= min {
                return Err(err(
                    "idleReplicaCount",
                    format!("IdleReplicaCount={idle} must be lower than MinReplicaCount={min} (and 0 or more)"),
                ));
            }
        }
        let raw = self.triggers.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(err(
                "triggers",
                "missing: expected at least one trigger, e.g. [[keda.triggers]] type = \"queue\"",
            ));
        }
        let mut triggers = Vec::with_capacity(raw.len());
        for (i, t) in raw.iter().enumerate() {
            triggers.push(check_trigger(t, i, pod_metrics)?);
        }
        let behavior = self
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|h| h.behavior.clone());
        let hpa = HpaSpec {
            scale_target_ref: self.scale_target_ref.clone(),
            min_replicas: Some(min.max(1)),
            max_replicas: max,
            metrics: Some(
                triggers
                    .iter()
                    .map(|t| MetricSpec {
                        kind: MetricSourceType::External,
                        resource: None,
                        container_resource: None,
                        pods: None,
                        object: None,
                        external: Some(ExternalSource {
                            metric: MetricIdentifier {
                                name: t.metric_name.clone(),
                                selector: None,
                            },
                            target: MetricTarget {
                                kind: TargetType::AverageValue,
                                value: None,
                                average_value: Some(MilliQuantity(t.threshold)),
                                average_utilization: None,
                            },
                        }),
                    })
                    .collect(),
            ),
            behavior,
        };
        Ok(ScaledObject {
            polling_interval,
            cooldown_period,
            initial_cooldown_period,
            idle_replica_count: self.idle_replica_count,
            min_replica_count: min,
            max_replica_count: max,
            triggers,
            hpa,
        })
    }
}

fn check_trigger(t: &TriggerSpec, i: usize, pod_metrics: &[&str]) -> Result<Trigger, SpecError> {
    let key = format!("triggers[{i}]");
    let empty = BTreeMap::new();
    let meta = t.metadata.as_ref().unwrap_or(&empty);
    let mkey = |k: &str| format!("{key}.metadata.{k}");
    let allowed: &[&str] = match t.kind.as_str() {
        "prometheus" => &["serverAddress", "query", "threshold", "activationThreshold"],
        "queue" => &["queueLength", "activationQueueLength", "scaleOnInFlight"],
        other => {
            let names = ["prometheus", "queue"];
            let hint = crate::scenario::error::closest(other, &names)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            return Err(err(
                format!("{key}.type"),
                format!("unknown trigger type `{other}`: capsim simulates `prometheus` (a query over pod metrics) and `queue` (requests waiting for a pod){hint}"),
            ));
        }
    };
    for k in meta.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = crate::scenario::error::closest(k, allowed)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            return Err(err(
                mkey(k),
                format!(
                    "unknown metadata `{k}` for a {} trigger: expected {}{hint}",
                    t.kind,
                    allowed.join(", ")
                ),
            ));
        }
    }
    let (kind, threshold, activation) = if t.kind == "prometheus" {
        let q = meta.get("query").ok_or_else(|| {
            err(
                mkey("query"),
                "missing: expected a query such as \"sum(queue_length)\"",
            )
        })?;
        let query = parse_query(&text(q), pod_metrics).map_err(|m| err(mkey("query"), m))?;
        let th = meta.get("threshold").ok_or_else(|| {
            err(
                mkey("threshold"),
                "missing: expected the target value per replica",
            )
        })?;
        let threshold = milli(th, &mkey("threshold"))?;
        let activation = match meta.get("activationThreshold") {
            None => 0,
            Some(v) => milli(v, &mkey("activationThreshold"))?,
        };
        (TriggerKind::Prometheus { query }, threshold, activation)
    } else {
        let threshold = match meta.get("queueLength") {
            None => QUEUE_LENGTH * 1000,
            Some(v) => milli(v, &mkey("queueLength"))?,
        };
        let activation = match meta.get("activationQueueLength") {
            None => 0,
            Some(v) => milli(v, &mkey("activationQueueLength"))?,
        };
        let scale_on_in_flight = match meta.get("scaleOnInFlight") {
            None => true,
            Some(v) => boolean(v, &mkey("scaleOnInFlight"))?,
        };
        (
            TriggerKind::Queue { scale_on_in_flight },
            threshold,
            activation,
        )
    };
    let tkey = if t.kind == "prometheus" {
        "threshold"
    } else {
        "queueLength"
    };
    if threshold <= 0 {
        return Err(err(
            mkey(tkey),
            format!(
                "expected a target above 0, found {}",
                threshold as f64 / 1000.0
            ),
        ));
    }
    if activation < 0 {
        return Err(err(
            mkey(if t.kind == "prometheus" {
                "activationThreshold"
            } else {
                "activationQueueLength"
            }),
            "expected 0 or more",
        ));
    }
    let suffix = t.name.clone().unwrap_or_else(|| t.kind.clone());
    Ok(Trigger {
        kind,
        metric_name: format!("s{i}-{suffix}"),
        threshold,
        activation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: [&str; 2] = ["queue_length", "in_flight"];

    fn spec(toml_text: &str) -> ScaledObjectSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_and_generated_hpa() {
        let s = spec("[[triggers]]\ntype = \"queue\"\n")
            .check(&METRICS)
            .unwrap();
        assert_eq!(
            (s.polling_interval, s.cooldown_period, s.min_replica_count),
            (30, 300, 0)
        );
        assert_eq!(s.max_replica_count, 100);
        assert_eq!(s.triggers[0].threshold, 5000);
        assert_eq!(s.triggers[0].metric_name, "s0-queue");
        let hpa = s.hpa.check(300).unwrap();
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (1, 100));
        assert_eq!(
            hpa.metrics[0],
            crate::hpa::spec::Metric::External {
                name: "s0-queue".into(),
                target: crate::hpa::spec::Target::AverageValue(5000)
            }
        );
    }

    #[test]
    fn prometheus_queries() {
        let s = spec(
            "[[triggers]]\ntype = \"prometheus\"\nmetadata = { query = \"avg(in_flight)\", threshold = \"8\", activationThreshold = 0.5 }\n",
        )
        .check(&METRICS)
        .unwrap();
        assert_eq!(s.triggers[0].threshold, 8000);
        assert_eq!(s.triggers[0].activation, 500);
        assert_eq!(
            s.triggers[0].kind,
            TriggerKind::Prometheus {
                query: Query {
                    agg: QueryAgg::Avg,
                    metric: "in_flight".into()
                }
            }
        );
        assert!(parse_query("rate(x)", &METRICS)
            .unwrap_err()
            .contains("not `rate`"));
        assert!(parse_query("sum(queue_lenght)", &METRICS)
            .unwrap_err()
            .contains("did you mean `queue_length`?"));
    }

    #[test]
    fn bad_input_is_named() {
        let e = spec("pollingInterval = 0\n[[triggers]]\ntype = \"queue\"\n")
            .check(&METRICS)
            .unwrap_err();
        assert_eq!(e.key, "pollingInterval");
        let e = spec("minReplicaCount = 5\nmaxReplicaCount = 2\n[[triggers]]\ntype = \"queue\"\n")
            .check(&METRICS)
            .unwrap_err();
        assert_eq!(e.key, "minReplicaCount");
        assert!(e.message.contains("must be less than"), "{}", e.message);
        let e = spec("[[triggers]]\ntype = \"kafka\"\n")
            .check(&METRICS)
            .unwrap_err();
        assert_eq!(e.key, "triggers[0].type");
        let e = spec("[[triggers]]\ntype = \"queue\"\nmetadata = { queueLenght = 3 }\n")
            .check(&METRICS)
            .unwrap_err();
        assert!(
            e.message.contains("did you mean `queueLength`?"),
            "{}",
            e.message
        );
        let e = spec(
            "[[triggers]]\ntype = \"prometheus\"\nmetadata = { query = \"sum(in_flight)\" }\n",
        )
        .check(&METRICS)
        .unwrap_err();
        assert_eq!(e.key, "triggers[0].metadata.threshold");
        let e = spec("minReplicaCount = 1\nidleReplicaCount = 1\n[[triggers]]\ntype = \"queue\"\n")
            .check(&METRICS)
            .unwrap_err();
        assert_eq!(e.key, "idleReplicaCount");
        assert!(spec("").check(&METRICS).is_err());
    }
}
