//! `computeReplicasForMetric(s)`: each metric's proposal and the maximum over all of them, with
//! upstream's error messages and its rule for broken metrics (scale up on the valid ones, never down).

use super::config::{ControllerConfig, Tolerances};
use super::replica_calculator::{
    milli, per_pod_replicas, per_pod_value_replicas, usage_ratio_replica_count, PodInputs,
    PodTarget, ReplicaResult, Sample,
};
use super::spec::{Hpa, Metric, Target};
use super::state::Observation;

/// Why a metric could not be computed: the ScalingActive reason and upstream's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricError {
    /// Condition reason, e.g. `FailedGetResourceMetric`.
    pub reason: &'static str,
    /// Error message as upstream words it.
    pub message: String,
}

/// The tolerances in force: the flag, overridden per direction by `behavior.*.tolerance`.
pub fn tolerances(hpa: &Hpa, cfg: &ControllerConfig) -> Tolerances {
    let mut t = Tolerances::both(cfg.tolerance);
    if let Some(b) = &hpa.behavior {
        if let Some(up) = b.scale_up.tolerance {
            t.scale_up = up;
        }
        if let Some(down) = b.scale_down.tolerance {
            t.scale_down = down;
        }
    }
    t
}

/// One metric's proposal (`computeReplicasForMetric`).
pub fn compute_replicas_for_metric(
    metric: &Metric,
    obs: &Observation,
    cfg: &ControllerConfig,
    tol: Tolerances,
) -> Result<ReplicaResult, MetricError> {
    let inp = PodInputs {
        obs,
        cfg,
        tol,
        current: obs.spec_replicas,
    };
    let fail = |reason, message: String| MetricError { reason, message };
    match metric {
        Metric::Resource { name, target } | Metric::ContainerResource { name, target, .. } => {
            let container = match metric {
                Metric::ContainerResource { container, .. } => Some(container.as_str()),
                _ => None,
            };
            let samples: Vec<Option<Sample>> = obs
                .pods
                .iter()
                .map(|p| p.resource_metric(name, container))
                .collect();
            let inner = if samples.iter().all(Option::is_none) {
                Err(format!(
                    "unable to get metrics for resource {name}: no metrics returned from resource metrics API"
                ))
            } else {
                let t = match *target {
                    Target::Utilization(u) => PodTarget::Utilization(u),
                    Target::AverageValue(v) | Target::Value(v) => PodTarget::Usage(v),
                };
                per_pod_replicas(&inp, &samples, t, Some(name), container)
            };
            let what = match target {
                Target::Utilization(_) => "utilization",
                _ => "usage",
            };
            inner.map_err(|e| {
                let e = format!("failed to get {name} {what}: {e}");
                match container {
                    None => fail(
                        "FailedGetResourceMetric",
                        format!("failed to get {name} resource metric value: {e}"),
                    ),
                    Some(c) => fail(
                        "FailedGetContainerResourceMetric",
                        format!("failed to get {c} container metric value: {e}"),
                    ),
                }
            })
        }
        Metric::Pods { name, target } => {
            let samples: Vec<Option<Sample>> =
                obs.pods.iter().map(|p| p.pods_metric(name)).collect();
            let inner = if samples.iter().all(Option::is_none) {
                Err(format!(
                    "unable to get metric {name}: no metrics returned from custom metrics API"
                ))
            } else {
                let Target::AverageValue(v) = *target else {
                    unreachable!("validated: Pods metrics take AverageValue targets")
                };
                per_pod_replicas(&inp, &samples, PodTarget::Usage(v), None, None)
            };
            inner.map_err(|e| {
                fail(
                    "FailedGetPodsMetric",
                    format!("failed to get pods metric value: {e}"),
                )
            })
        }
        Metric::Object { name, kind, target } => {
            let value = sum_named(&obs.object_metrics, name);
            let Some(usage) = value else {
                let e = format!("unable to get metric {name}: no such metric on {kind}");
                let e = match target {
                    Target::AverageValue(_) => format!("failed to get {name} object metric: {e}"),
                    _ => e,
                };
                return Err(fail(
                    "FailedGetObjectMetric",
                    format!("failed to get object metric value: {e}"),
                ));
            };
            value_metric(&inp, usage, *target, obs.status_replicas).map_err(|e| {
                fail(
                    "FailedGetObjectMetric",
                    format!("failed to get object metric value: {e}"),
                )
            })
        }
        Metric::External { name, target } => {
            let Some(usage) = sum_named(&obs.external_metrics, name) else {
                return Err(fail(
                    "FailedGetExternalMetric",
                    format!("failed to get {name} external metric value: unable to get external metric default/{name}/nil: no metrics returned from external metrics API"),
                ));
            };
            value_metric(&inp, usage, *target, obs.status_replicas).map_err(|e| {
                fail(
                    "FailedGetExternalMetric",
                    format!("failed to get {name} external metric value: {e}"),
                )
            })
        }
    }
}

/// The sum of the readings named `name` (saturating, as upstream caps at MaxInt64), if any.
fn sum_named(values: &[super::state::NamedValue], name: &str) -> Option<i64> {
    let mut it = values.iter().filter(|v| v.name == name).peekable();
    it.peek()?;
    Some(it.fold(0i64, |a, v| a.saturating_add(v.value)))
}

fn value_metric(
    inp: &PodInputs<'_>,
    usage: i64,
    target: Target,
    status_replicas: i32,
) -> Result<ReplicaResult, String> {
    let mut detail = Vec::new();
    match target {
        Target::Value(t) => {
            let ratio = usage as f64 / t as f64;
            detail.push(format!(
                "value {} against target {}: ratio {ratio}",
                milli(usage),
                milli(t)
            ));
            let replicas = usage_ratio_replica_count(inp, ratio, &mut detail)?;
            Ok(ReplicaResult {
                replicas,
                utilization: None,
                usage,
                detail,
            })
        }
        Target::AverageValue(t) => {
            detail.push(format!(
                "value {} against {} per pod x {status_replicas} status replicas",
                milli(usage),
                milli(t)
            ));
            let (replicas, per_pod) =
                per_pod_value_replicas(inp.tol, status_replicas, usage, t, &mut detail);
            Ok(ReplicaResult {
                replicas,
                utilization: None,
                usage: per_pod,
                detail,
            })
        }
        Target::Utilization(_) => unreachable!("validated: no Utilization on Object/External"),
    }
}

/// The outcome of `computeReplicasForMetrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsOutcome {
    /// The maximum proposal, or `-1` when the sync must not scale.
    pub replicas: i32,
    /// Description of the metric that gave the maximum.
    pub metric: String,
    /// Each metric's result, in spec order.
    pub per_metric: Vec<(String, Result<ReplicaResult, MetricError>)>,
    /// `invalid metrics (n invalid out of m), first error is: ...`, when any failed.
    pub error: Option<MetricError>,
}

/// `computeReplicasForMetrics`: the maximum over valid metrics; `-1` when every metric failed, or
/// when some failed and the valid ones would scale down.
pub fn compute_replicas_for_metrics(
    hpa: &Hpa,
    obs: &Observation,
    cfg: &ControllerConfig,
) -> MetricsOutcome {
    let tol = tolerances(hpa, cfg);
    let mut replicas = 0;
    let mut metric = String::new();
    let mut per_metric = Vec::new();
    let mut invalid = 0;
    let mut first: Option<MetricError> = None;
    for m in &hpa.metrics {
        let r = compute_replicas_for_metric(m, obs, cfg, tol);
        match &r {
            Err(e) => {
                if first.is_none() {
                    first = Some(e.clone());
                }
                invalid += 1;
            }
            Ok(res) => {
                if replicas == 0 || res.replicas > replicas {
                    replicas = res.replicas;
                    metric = m.describe();
                }
            }
        }
        per_metric.push((m.describe(), r));
    }
    let error = first.map(|e| MetricError {
        reason: e.reason,
        message: format!(
            "invalid metrics ({invalid} invalid out of {}), first error is: {}",
            hpa.metrics.len(),
            e.message
        ),
    });
    if invalid >= hpa.metrics.len() || (invalid > 0 && replicas < obs.spec_replicas) {
        replicas = -1;
        metric.clear();
    }
    MetricsOutcome {
        replicas,
        metric,
        per_metric,
        error,
    }
}
