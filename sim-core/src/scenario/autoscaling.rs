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
    /// Memory in use by an idle pod, bytes × 1000 (milli-bytes, as the HPA counts).
    pub memory_milli: i64,
    /// Memory added per request executing in the pod (in its running batch), milli-bytes.
    pub memory_per_request_milli: i64,
}

/// Cluster Autoscaler expanders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expander {
    /// Uniformly at random.
    Random,
    /// The option that schedules the most pending pods.
    MostPods,
    /// The option that wastes the least CPU and memory (upstream's default).
    LeastWaste,
    /// The cheapest option per pod placed (a simplification of upstream's price expander).
    Price,
    /// The highest-priority node pools, as listed.
    Priority(Vec<(i64, Vec<String>)>),
}

/// The Cluster Autoscaler's settings, upstream defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterAutoscalerSpec {
    /// `--scan-interval` (10 s).
    pub scan_interval: SimDuration,
    /// `--expander` (least-waste).
    pub expander: Expander,
    /// `--scale-down-utilization-threshold` (0.5).
    pub utilization_threshold: f64,
    /// `--scale-down-gpu-utilization-threshold` (0.5).
    pub gpu_utilization_threshold: f64,
    /// `--scale-down-unneeded-time` (10 min).
    pub unneeded_time: SimDuration,
    /// `--scale-down-delay-after-add` (10 min).
    pub delay_after_add: SimDuration,
    /// `--max-nodes-total` (0: none).
    pub max_nodes_total: u32,
    /// `--scale-down-enabled` (true).
    pub scale_down: bool,
    /// `--max-node-provision-time` (15 min): a node not ready by then is removed and its pool
    /// backed off (5 min, doubling to 30 min).
    pub max_node_provision_time: SimDuration,
    /// `--scale-down-unready-time` (20 min): how long a NotReady node must be unneeded before it
    /// is removed.
    pub unready_time: SimDuration,
    /// `--scale-down-unready-enabled` (true).
    pub unready_scale_down: bool,
    /// `--max-total-unready-percentage` (45) and `--ok-total-unready-count` (3): with more
    /// NotReady nodes than both allow, the cluster is unhealthy and the autoscaler does nothing.
    pub max_unready_percentage: f64,
    /// See `max_unready_percentage`.
    pub ok_unready_count: u32,
}

/// `[metrics] scrape_interval` default: metrics-server's `--metric-resolution`.
pub const SCRAPE_INTERVAL: SimDuration = SimDuration::from_secs(15);
/// `[metrics] cpu_idle` default, milli-cores.
pub const CPU_IDLE_MILLI: i64 = 100;

impl Validator<'_> {
    pub(super) fn cluster_autoscaler(
        &self,
        raw: &RawScenario,
        has_pools: bool,
    ) -> Result<Option<ClusterAutoscalerSpec>, ScenarioError> {
        let Some(c) = &raw.cluster_autoscaler else {
            return Ok(None);
        };
        if !has_pools {
            return Err(self.err(
                "cluster_autoscaler",
                "the Cluster Autoscaler resizes node pools: expected at least one [[node_pool]]",
            ));
        }
        let key = |k: &str| format!("cluster_autoscaler.{k}");
        let dur =
            |k: &str, v: Option<&String>, d: SimDuration| -> Result<SimDuration, ScenarioError> {
                match v {
                    None => Ok(d),
                    Some(s) => parse_duration(s).map_err(|e| self.err(&key(k), e.0)),
                }
            };
        let scan_interval = dur(
            "scan-interval",
            c.scan_interval.as_ref(),
            SimDuration::from_secs(10),
        )?;
        if scan_interval == SimDuration::ZERO {
            return Err(self.err(
                &key("scan-interval"),
                "expected an interval longer than zero",
            ));
        }
        let ratio = |k: &str, v: Option<f64>| -> Result<f64, ScenarioError> {
            let x = v.unwrap_or(0.5);
            if (0.0..=1.0).contains(&x) {
                Ok(x)
            } else {
                Err(self.err(&key(k), format!("expected a ratio from 0 to 1, found {x}")))
            }
        };
        let expander = match c.expander.as_deref().unwrap_or("least-waste") {
            "random" => Expander::Random,
            "most-pods" => Expander::MostPods,
            "least-waste" => Expander::LeastWaste,
            "price" => Expander::Price,
            "priority" => {
                let p = c.priorities.as_ref().ok_or_else(|| {
                    self.err(&key("priorities"), "missing: the priority expander needs `priorities`, e.g. { \"10\" = [\"spot-pool\"], \"50\" = [\"h100\"] }")
                })?;
                let mut list = Vec::new();
                for (k, pools) in p {
                    let prio: i64 = k.parse().map_err(|_| {
                        self.err(
                            &format!("cluster_autoscaler.priorities.{k}"),
                            "expected an integer priority as the key",
                        )
                    })?;
                    list.push((prio, pools.clone()));
                }
                list.sort_by_key(|e| std::cmp::Reverse(e.0));
                Expander::Priority(list)
            }
            other => {
                let names = ["random", "most-pods", "least-waste", "price", "priority"];
                let hint = super::error::closest(other, &names)
                    .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                return Err(self.err(
                    &key("expander"),
                    format!(
                        "unknown expander `{other}`: expected one of {}{hint}",
                        names.join(", ")
                    ),
                ));
            }
        };
        if c.priorities.is_some() && !matches!(expander, Expander::Priority(_)) {
            return Err(self.err(
                &key("priorities"),
                "`priorities` is for `expander = \"priority\"`",
            ));
        }
        Ok(Some(ClusterAutoscalerSpec {
            scan_interval,
            expander,
            utilization_threshold: ratio(
                "scale-down-utilization-threshold",
                c.scale_down_utilization_threshold,
            )?,
            gpu_utilization_threshold: ratio(
                "scale-down-gpu-utilization-threshold",
                c.scale_down_gpu_utilization_threshold,
            )?,
            unneeded_time: dur(
                "scale-down-unneeded-time",
                c.scale_down_unneeded_time.as_ref(),
                SimDuration::from_secs(600),
            )?,
            delay_after_add: dur(
                "scale-down-delay-after-add",
                c.scale_down_delay_after_add.as_ref(),
                SimDuration::from_secs(600),
            )?,
            max_nodes_total: c.max_nodes_total.unwrap_or(0),
            scale_down: c.scale_down_enabled.unwrap_or(true),
            max_node_provision_time: {
                let d = dur(
                    "max-node-provision-time",
                    c.max_node_provision_time.as_ref(),
                    SimDuration::from_secs(900),
                )?;
                if d == SimDuration::ZERO {
                    return Err(self.err(
                        &key("max-node-provision-time"),
                        "expected a duration longer than zero",
                    ));
                }
                d
            },
            unready_time: dur(
                "scale-down-unready-time",
                c.scale_down_unready_time.as_ref(),
                SimDuration::from_secs(1200),
            )?,
            unready_scale_down: c.scale_down_unready_enabled.unwrap_or(true),
            max_unready_percentage: {
                let x = c.max_total_unready_percentage.unwrap_or(45.0);
                if !(0.0..=100.0).contains(&x) {
                    return Err(self.err(
                        &key("max-total-unready-percentage"),
                        format!("expected a percentage from 0 to 100, found {x}"),
                    ));
                }
                x
            },
            ok_unready_count: c.ok_total_unready_count.unwrap_or(3),
        }))
    }

    pub(super) fn autoscaling(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
    ) -> Result<Option<AutoscalingSpec>, ScenarioError> {
        let Some(spec) = &raw.hpa else {
            if raw.metrics.is_some() && raw.keda.is_none() && raw.vpa.is_none() {
                return Err(self.err(
                    "metrics",
                    "[metrics] configures what autoscalers read: expected an [hpa], a [keda] or a [vpa] to read it",
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
        let metrics = self.metrics_spec(raw, service)?;
        Ok(Some(AutoscalingSpec {
            hpa,
            controller,
            metrics,
        }))
    }

    /// `[metrics]`, defaults filled in: the pipeline the HPA (and KEDA's prometheus triggers)
    /// read, and the VPA's view of pod usage.
    pub(super) fn metrics_spec(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
    ) -> Result<MetricsSpec, ScenarioError> {
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
        let memory_per_request_milli = milli(
            "metrics.memory_per_request",
            m.and_then(|m| m.memory_per_request.as_ref()),
            0,
        )?;
        Ok(MetricsSpec {
            scrape_interval,
            cpu_idle_milli,
            cpu_busy_milli,
            memory_milli,
            memory_per_request_milli,
        })
    }
}
