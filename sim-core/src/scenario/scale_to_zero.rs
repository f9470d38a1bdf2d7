//! `[keda]` (a KEDA ScaledObject) and `[knative]` (Knative's KPA and activator): autoscalers that
//! scale the Deployment to zero, with requests held at a gateway while no pod is ready. A scenario
//! (or a `[[policy]]` variant) has at most one autoscaler: `[hpa]`, `[keda]` or `[knative]`.

use super::autoscaling::{AutoscalingSpec, POD_METRICS};
use super::model::{ServiceSpec, Validator};
use super::raw::RawScenario;
use super::{Dispatch, ScenarioError};
use crate::engine::{parse_duration, SimDuration};
use crate::hpa::ControllerConfig;
use crate::keda::{ScaledObject, TriggerKind};
use crate::knative::config::SECOND;
use crate::knative::KpaConfig;
use serde::Deserialize;

/// A KEDA ScaledObject on the Deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct KedaSpec {
    /// The checked ScaledObject (its HPA is the scenario's `autoscaling`).
    pub scaled_object: ScaledObject,
}

/// Knative's KPA on the revision's Deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct KnativeSpec {
    /// The autoscaler's settings.
    pub kpa: KpaConfig,
}

/// `[knative]`: `config-autoscaler` keys and the revision's annotations, kebab-case as upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawKnative {
    /// The revision's `containerConcurrency` (0: unlimited).
    pub container_concurrency: Option<u32>,
    /// `autoscaling.knative.dev/target`: per-pod concurrency target.
    pub target: Option<f64>,
    /// `container-concurrency-target-default`.
    pub container_concurrency_target_default: Option<f64>,
    /// `autoscaling.knative.dev/target-utilization-percentage`.
    pub target_utilization_percentage: Option<f64>,
    /// `stable-window`.
    pub stable_window: Option<String>,
    /// `panic-window-percentage`.
    pub panic_window_percentage: Option<f64>,
    /// `panic-threshold-percentage`.
    pub panic_threshold_percentage: Option<f64>,
    /// `max-scale-up-rate`.
    pub max_scale_up_rate: Option<f64>,
    /// `max-scale-down-rate`.
    pub max_scale_down_rate: Option<f64>,
    /// `enable-scale-to-zero`.
    pub enable_scale_to_zero: Option<bool>,
    /// `scale-to-zero-grace-period`.
    pub scale_to_zero_grace_period: Option<String>,
    /// `scale-to-zero-pod-retention-period`.
    pub scale_to_zero_pod_retention_period: Option<String>,
    /// `initial-scale`.
    pub initial_scale: Option<u32>,
    /// `allow-zero-initial-scale`.
    pub allow_zero_initial_scale: Option<bool>,
    /// `min-scale`.
    pub min_scale: Option<u32>,
    /// `max-scale` (0: unbounded).
    pub max_scale: Option<u32>,
    /// `activation-scale`.
    pub activation_scale: Option<u32>,
    /// `target-burst-capacity` (-1: the activator always in the path).
    pub target_burst_capacity: Option<f64>,
    /// The revision's `timeoutSeconds`: how long the activator holds a request.
    pub timeout_seconds: Option<u64>,
}

impl Validator<'_> {
    /// At most one of `[hpa]`, `[keda]`, `[knative]`.
    pub(super) fn one_autoscaler(&self, raw: &RawScenario) -> Result<(), ScenarioError> {
        let present: Vec<&str> = [
            ("hpa", raw.hpa.is_some()),
            ("keda", raw.keda.is_some()),
            ("knative", raw.knative.is_some()),
        ]
        .iter()
        .filter(|(_, p)| *p)
        .map(|(n, _)| *n)
        .collect();
        if present.len() > 1 {
            return Err(self.err(
                present[1],
                format!(
                    "one autoscaler scales the Deployment: found [{}] and [{}]; put each in its own [[policy]] variant (and none in the base scenario)",
                    present[0], present[1]
                ),
            ));
        }
        Ok(())
    }

    fn serverless_service(&self, key: &str, service: &ServiceSpec) -> Result<(), ScenarioError> {
        if !matches!(service.dispatch, Dispatch::Router(_)) {
            return Err(self.err(key, "it scales pods: expected `dispatch = \"router\"` in [service] (a shared queue has no pods)"));
        }
        if !service.scale.is_empty() {
            return Err(self.err(
                "service.scale",
                format!(
                    "scheduled scaling and [{key}] would fight over the replica count: use one"
                ),
            ));
        }
        Ok(())
    }

    /// `[keda]`: the ScaledObject and the HPA it generates.
    pub(super) fn keda(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
    ) -> Result<Option<(KedaSpec, AutoscalingSpec)>, ScenarioError> {
        let Some(spec) = &raw.keda else {
            return Ok(None);
        };
        self.serverless_service("keda", service)?;
        let names: Vec<&str> = POD_METRICS.iter().map(|m| m.0).collect();
        let so = spec
            .check(&names)
            .map_err(|e| self.err(&format!("keda.{}", e.key), e.message))?;
        let lowest = so.idle_replica_count.unwrap_or(so.min_replica_count);
        if lowest == 0
            && so
                .triggers
                .iter()
                .all(|t| matches!(t.kind, TriggerKind::Prometheus { .. }))
        {
            return Err(self.err(
                "keda.triggers",
                "with minReplicaCount (or idleReplicaCount) 0 and only prometheus triggers over pod metrics, nothing could wake the service from zero (no pod reports at zero replicas): add a `queue` trigger, which counts requests waiting at the gateway, or keep at least one replica",
            ));
        }
        let controller = ControllerConfig::default();
        let window_s = (controller.downscale_stabilization / 1_000_000_000) as i32;
        let hpa = so.hpa.check(window_s).map_err(|e| {
            let key = match e.key.as_str() {
                k if k.starts_with("behavior") => {
                    format!("keda.advanced.horizontalPodAutoscalerConfig.{k}")
                }
                _ => "keda".to_string(),
            };
            self.err(&key, e.message)
        })?;
        let metrics = self.metrics_spec(raw, service)?;
        Ok(Some((
            KedaSpec { scaled_object: so },
            AutoscalingSpec {
                hpa,
                controller,
                metrics,
            },
        )))
    }

    /// `[knative]`: the KPA's settings, upstream defaults and checks.
    pub(super) fn knative(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
    ) -> Result<Option<KnativeSpec>, ScenarioError> {
        let Some(k) = &raw.knative else {
            return Ok(None);
        };
        self.serverless_service("knative", service)?;
        let key = |k: &str| format!("knative.{k}");
        let d = KpaConfig::default();
        let dur = |k: &str, v: Option<&String>, def: i64| -> Result<i64, ScenarioError> {
            match v {
                None => Ok(def),
                Some(s) => parse_duration(s)
                    .map(|x: SimDuration| x.0 as i64)
                    .map_err(|e| self.err(&key(k), e.0)),
            }
        };
        let num = |k: &str, v: Option<f64>, def: f64, ok: &dyn Fn(f64) -> bool, what: &str| {
            let x = v.unwrap_or(def);
            if x.is_finite() && ok(x) {
                Ok(x)
            } else {
                Err(self.err(&key(k), format!("expected {what}, found {x}")))
            }
        };
        let stable_window = dur("stable-window", k.stable_window.as_ref(), d.stable_window)?;
        if !(6 * SECOND..=3600 * SECOND).contains(&stable_window) || stable_window % SECOND != 0 {
            return Err(self.err(
                &key("stable-window"),
                "expected whole seconds from 6s to 1h",
            ));
        }
        let grace = dur(
            "scale-to-zero-grace-period",
            k.scale_to_zero_grace_period.as_ref(),
            d.scale_to_zero_grace_period,
        )?;
        if grace < 6 * SECOND {
            return Err(self.err(&key("scale-to-zero-grace-period"), "expected at least 6s"));
        }
        let retention = dur(
            "scale-to-zero-pod-retention-period",
            k.scale_to_zero_pod_retention_period.as_ref(),
            d.scale_to_zero_pod_retention_period,
        )?;
        let cc = k.container_concurrency.unwrap_or(0);
        if cc > 1000 {
            return Err(self.err(
                &key("container-concurrency"),
                format!("expected 0 (unlimited) to 1000, found {cc}"),
            ));
        }
        let target = match k.target {
            None => None,
            Some(t) => Some(num(
                "target",
                Some(t),
                0.0,
                &|x| x >= 0.01,
                "a target of at least 0.01",
            )?),
        };
        let allow_zero = k.allow_zero_initial_scale.unwrap_or(false);
        let initial_scale = k.initial_scale.unwrap_or(1);
        if initial_scale == 0 && !allow_zero {
            return Err(self.err(
                &key("initial-scale"),
                "expected at least 1 (or set `allow-zero-initial-scale = true`)",
            ));
        }
        let min_scale = k.min_scale.unwrap_or(0);
        let max_scale = k.max_scale.unwrap_or(0);
        for (name, v) in [
            ("initial-scale", initial_scale),
            ("min-scale", min_scale),
            ("max-scale", max_scale),
        ] {
            super::limits::REPLICAS
                .check(v.into())
                .map_err(|m| self.err(&key(name), m))?;
        }
        if max_scale != 0 && min_scale > max_scale {
            return Err(self.err(
                &key("min-scale"),
                format!("expected min-scale ({min_scale}) at most max-scale ({max_scale})"),
            ));
        }
        let tbc = num(
            "target-burst-capacity",
            k.target_burst_capacity,
            d.target_burst_capacity,
            &|x| x >= 0.0 || x == -1.0,
            "0 or more, or -1",
        )?;
        let timeout_s = k.timeout_seconds.unwrap_or(300);
        if timeout_s == 0 {
            return Err(self.err(&key("timeout-seconds"), "expected at least 1 second"));
        }
        let kpa = KpaConfig {
            container_concurrency: cc,
            target,
            container_concurrency_target_default: num(
                "container-concurrency-target-default",
                k.container_concurrency_target_default,
                d.container_concurrency_target_default,
                &|x| x >= 0.01,
                "a target of at least 0.01",
            )?,
            target_utilization_percentage: num(
                "target-utilization-percentage",
                k.target_utilization_percentage,
                d.target_utilization_percentage,
                &|x| x > 0.0 && x <= 100.0,
                "a percentage above 0, at most 100",
            )?,
            stable_window,
            panic_window_percentage: num(
                "panic-window-percentage",
                k.panic_window_percentage,
                d.panic_window_percentage,
                &|x| (1.0..=100.0).contains(&x),
                "a percentage from 1 to 100",
            )?,
            panic_threshold_percentage: num(
                "panic-threshold-percentage",
                k.panic_threshold_percentage,
                d.panic_threshold_percentage,
                &|x| (110.0..=1000.0).contains(&x),
                "a percentage from 110 to 1000",
            )?,
            max_scale_up_rate: num(
                "max-scale-up-rate",
                k.max_scale_up_rate,
                d.max_scale_up_rate,
                &|x| x > 1.0,
                "a rate above 1",
            )?,
            max_scale_down_rate: num(
                "max-scale-down-rate",
                k.max_scale_down_rate,
                d.max_scale_down_rate,
                &|x| x > 1.0,
                "a rate above 1",
            )?,
            enable_scale_to_zero: k.enable_scale_to_zero.unwrap_or(true),
            scale_to_zero_grace_period: grace,
            scale_to_zero_pod_retention_period: retention,
            initial_scale,
            allow_zero_initial_scale: allow_zero,
            min_scale,
            max_scale,
            activation_scale: {
                let a = k.activation_scale.unwrap_or(1);
                if a == 0 {
                    return Err(self.err(&key("activation-scale"), "expected at least 1"));
                }
                a
            },
            target_burst_capacity: tbc,
            timeout: timeout_s as i64 * SECOND,
            ..d
        };
        Ok(Some(KnativeSpec { kpa }))
    }
}
