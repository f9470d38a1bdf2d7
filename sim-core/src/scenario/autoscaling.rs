//! `[hpa]` and `[metrics]`: the HorizontalPodAutoscaler on the Deployment and the metrics
//! pipeline it reads.

use super::model::{ServiceSpec, Validator};
use super::raw::RawScenario;
use super::ScenarioError;
use crate::engine::{parse_duration, SimDuration};
use crate::hpa::spec::Metric;
use crate::hpa::{ControllerConfig, Hpa};

/// Per-pod metrics the simulated Prometheus adapter serves (`type: Pods`), averaged over the
/// scrape interval: name and meaning.
pub const POD_METRICS: [(&str, &str); 8] = [
    ("queue_length", "requests waiting in the pod's queue"),
    ("in_flight", "requests waiting or executing in the pod"),
    (
        "requests_per_second",
        "requests the pod completed per second",
    ),
    (
        "output_tokens_per_second",
        "output tokens the pod completed per second",
    ),
    (
        "gpu_utilization",
        "percent of time the pod's engine was busy",
    ),
    (
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM's GPU utilisation, percent (reads 0 on a MIG slice)",
    ),
    (
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM's graphics-engine activity, a ratio (per MIG instance too)",
    ),
    (
        "kv_cache_usage",
        "fraction of the pod's KV-cache blocks in use (vLLM's gpu_cache_usage_perc)",
    ),
];

/// External metrics (`type: External`): sums over the Deployment's pods.
pub const EXTERNAL_METRICS: [(&str, &str); 3] = [
    ("queue_length", "requests waiting in every pod's queue"),
    ("in_flight", "requests waiting or executing in every pod"),
    (
        "requests_per_second",
        "requests completed per second by every pod",
    ),
];

/// The autoscaling a scenario asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalingSpec {
    /// The checked HPA.
    pub hpa: Hpa,
    /// kube-controller-manager's HPA flags (upstream defaults).
    pub controller: ControllerConfig,
    /// The metrics pipeline.
    pub metrics: MetricsSpec,
}

/// How pods are measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsSpec {
    /// Scrape interval; each sample averages over it and is as old as the last scrape.
    pub scrape_interval: SimDuration,
    /// CPU of an idle pod, milli-cores.
    pub cpu_idle_milli: i64,
    /// CPU added when the engine is busy all the time, milli-cores.
    pub cpu_busy_milli: i64,
    /// Memory in use, bytes × 1000 (milli-bytes, as the HPA counts).
    pub memory_milli: i64,
}

/// `[metrics] scrape_interval` default: metrics-server's `--metric-resolution`.
pub const SCRAPE_INTERVAL: SimDuration = SimDuration::from_secs(15);
/// `[metrics] cpu_idle` default, milli-cores.
pub const CPU_IDLE_MILLI: i64 = 100;

impl Validator<'_> {
    pub(super) fn autoscaling(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
    ) -> Result<Option<AutoscalingSpec>, ScenarioError> {
        let Some(spec) = &raw.hpa else {
            if raw.metrics.is_some() {
                return Err(self.err(
                    "metrics",
                    "[metrics] configures what autoscalers read: expected an [hpa] to read it",
                ));
            }
            return Ok(None);
        };
        if !service.scale.is_empty() {
            return Err(self.err(
                "service.scale",
                "scheduled scaling and an [hpa] would fight over the replica count: use one",
            ));
        }
        if matches!(service.dispatch, super::Dispatch::Shared) {
            return Err(self.err("hpa", "an HPA scales pods: expected `dispatch = \"router\"` in [service] (a shared queue has no pods)"));
        }
        let controller = ControllerConfig::default();
        let window_s = (controller.downscale_stabilization / 1_000_000_000) as i32;
        let hpa = spec
            .check(window_s)
            .map_err(|e| self.err(&format!("hpa.{}", e.key), e.message))?;
        for (i, m) in hpa.metrics.iter().enumerate() {
            let key = format!("hpa.metrics[{i}]");
            match m {
                Metric::Resource { name, .. } | Metric::ContainerResource { name, .. } => {
                    if name != "cpu" && name != "memory" {
                        return Err(self.err(
                            &key,
                            format!("capsim measures the resources cpu and memory, not `{name}`"),
                        ));
                    }
                }
                Metric::Pods { name, .. } => {
                    if !POD_METRICS.iter().any(|(n, _)| n == name) {
                        let names: Vec<&str> = POD_METRICS.iter().map(|m| m.0).collect();
                        let hint = super::error::closest(name, &names)
                            .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                        return Err(self.err(
                            &key,
                            format!(
                                "unknown pods metric `{name}`: expected one of {}{hint}",
                                names.join(", ")
                            ),
                        ));
                    }
                }
                Metric::External { name, .. } => {
                    if !EXTERNAL_METRICS.iter().any(|(n, _)| n == name) {
                        let names: Vec<&str> = EXTERNAL_METRICS.iter().map(|m| m.0).collect();
                        let hint = super::error::closest(name, &names)
                            .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                        return Err(self.err(
                            &key,
                            format!(
                                "unknown external metric `{name}`: expected one of {}{hint}",
                                names.join(", ")
                            ),
                        ));
                    }
                }
                Metric::Object { .. } => {
                    return Err(self.err(
                        &key,
                        "capsim simulates no objects to describe: use a Pods or External metric",
                    ));
                }
            }
        }
        let m = raw.metrics.as_ref();
        let scrape_interval = match m.and_then(|m| m.scrape_interval.as_ref()) {
            None => SCRAPE_INTERVAL,
            Some(s) => parse_duration(s).map_err(|e| self.err("metrics.scrape_interval", e.0))?,
        };
        if scrape_interval == SimDuration::ZERO {
            return Err(self.err(
                "metrics.scrape_interval",
                "expected an interval longer than zero",
            ));
        }
        let milli = |key: &str,
                     q: Option<&super::raw::RawQuantity>,
                     default: i64|
         -> Result<i64, ScenarioError> {
            match q {
                None => Ok(default),
                Some(q) => Ok(self.quantity(key, q)?.milli().min(i64::MAX as u128) as i64),
            }
        };
        let requests = &service.pod.resources.requests;
        let req = |name: &str| {
            requests
                .get(name)
                .map_or(0, |q| q.milli().min(i64::MAX as u128) as i64)
        };
        let cpu_idle_milli = milli(
            "metrics.cpu_idle",
            m.and_then(|m| m.cpu_idle.as_ref()),
            CPU_IDLE_MILLI,
        )?;
        let cpu_busy_milli = milli(
            "metrics.cpu_busy",
            m.and_then(|m| m.cpu_busy.as_ref()),
            req("cpu"),
        )?;
        let memory_milli = milli(
            "metrics.memory",
            m.and_then(|m| m.memory.as_ref()),
            req("memory"),
        )?;
        Ok(Some(AutoscalingSpec {
            hpa,
            controller,
            metrics: MetricsSpec {
                scrape_interval,
                cpu_idle_milli,
                cpu_busy_milli,
                memory_milli,
            },
        }))
    }
}
