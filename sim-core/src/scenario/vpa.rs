//! `[vpa]`: a VerticalPodAutoscaler on the Deployment, with upstream field names
//! (`updatePolicy`, `resourcePolicy.containerPolicies`) and the recommender's and updater's
//! flags under `[vpa.recommender]` and `[vpa.updater]`.

use super::autoscaling::MetricsSpec;
use super::error::closest;
use super::model::{ServiceSpec, Validator};
use super::raw::{RawQuantity, RawScenario};
use super::ScenarioError;
use crate::engine::SimDuration;
use crate::vpa::{RecommenderConfig, UpdateMode, UpdaterConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[vpa]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpa {
    /// `spec.updatePolicy`.
    #[serde(rename = "updatePolicy")]
    pub update_policy: Option<RawUpdatePolicy>,
    /// `spec.resourcePolicy`.
    #[serde(rename = "resourcePolicy")]
    pub resource_policy: Option<RawResourcePolicy>,
    /// The recommender's flags.
    pub recommender: Option<RawVpaRecommender>,
    /// The updater's flags.
    pub updater: Option<RawVpaUpdater>,
}

/// `spec.updatePolicy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpdatePolicy {
    /// `Off`, `Initial`, `Recreate`, `Auto` (default) or `InPlaceOrRecreate`.
    #[serde(rename = "updateMode")]
    pub update_mode: Option<String>,
    /// Fewest live replicas for the updater to evict any (default: `--min-replicas`, 2).
    #[serde(rename = "minReplicas")]
    pub min_replicas: Option<u32>,
}

/// `spec.resourcePolicy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResourcePolicy {
    /// Per-container policies (capsim's pods have one container).
    #[serde(rename = "containerPolicies")]
    pub container_policies: Option<Vec<RawContainerPolicy>>,
}

/// One container policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContainerPolicy {
    /// `*` or the container's name (capsim's pods have one container).
    #[serde(rename = "containerName")]
    pub container_name: Option<String>,
    /// `Auto` (default) or `Off`.
    pub mode: Option<String>,
    /// Lowest recommendation.
    #[serde(rename = "minAllowed")]
    pub min_allowed: Option<BTreeMap<String, RawQuantity>>,
    /// Highest recommendation.
    #[serde(rename = "maxAllowed")]
    pub max_allowed: Option<BTreeMap<String, RawQuantity>>,
    /// `["cpu", "memory"]` (default) or either.
    #[serde(rename = "controlledResources")]
    pub controlled_resources: Option<Vec<String>>,
}

/// `[vpa.recommender]`: the recommender's command-line flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawVpaRecommender {
    /// How often it runs (1m).
    pub recommender_interval: Option<String>,
    /// Safety margin (0.15).
    pub recommendation_margin_fraction: Option<f64>,
    /// Pod minimum CPU (25).
    pub pod_recommendation_min_cpu_millicores: Option<f64>,
    /// Pod minimum memory in MiB (250).
    pub pod_recommendation_min_memory_mb: Option<f64>,
    /// Target CPU percentile (0.9).
    pub target_cpu_percentile: Option<f64>,
    /// Target memory percentile (0.9).
    pub target_memory_percentile: Option<f64>,
    /// CPU histogram half-life (24h).
    pub cpu_histogram_decay_half_life: Option<String>,
    /// Memory histogram half-life (24h).
    pub memory_histogram_decay_half_life: Option<String>,
    /// Memory peak window (24h).
    pub memory_aggregation_interval: Option<String>,
    /// OOM bump ratio (1.2).
    pub oom_bump_up_ratio: Option<f64>,
}

/// `[vpa.updater]`: the updater's command-line flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawVpaUpdater {
    /// How often it runs (1m).
    pub updater_interval: Option<String>,
    /// Fewest live replicas for any eviction (2).
    pub min_replicas: Option<u32>,
    /// Fraction of replicas that may be evicted at once (0.5).
    pub eviction_tolerance: Option<f64>,
    /// Smallest relative change worth an update inside the bounds (0.1).
    pub pod_update_threshold: Option<f64>,
    /// How long a pod inside the bounds lives before an update (12h).
    pub in_recommendation_bounds_eviction_lifetime_threshold: Option<String>,
}

/// The VPA, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaSpec {
    /// `updatePolicy.updateMode`.
    pub mode: UpdateMode,
    /// Whether it controls (cpu, memory).
    pub controlled: (bool, bool),
    /// `minAllowed` as (millicores, bytes).
    pub min_allowed: (Option<i64>, Option<i64>),
    /// `maxAllowed` as (millicores, bytes).
    pub max_allowed: (Option<i64>, Option<i64>),
    /// The recommender's flags.
    pub recommender: RecommenderConfig,
    /// The updater's flags.
    pub updater: UpdaterConfig,
    /// How pods use CPU and memory.
    pub metrics: MetricsSpec,
}

impl Validator<'_> {
    pub(super) fn vpa(
        &self,
        raw: &RawScenario,
        service: &ServiceSpec,
        has_nodes: bool,
    ) -> Result<Option<VpaSpec>, ScenarioError> {
        let Some(v) = &raw.vpa else { return Ok(None) };
        if !has_nodes {
            return Err(self.err(
                "vpa",
                "the VPA sets pods' requests: expected [[node_pool]]s or [karpenter] to run pods on",
            ));
        }
        let mk = "vpa.updatePolicy.updateMode";
        let mode = match v
            .update_policy
            .as_ref()
            .and_then(|p| p.update_mode.as_deref())
        {
            None => UpdateMode::Auto,
            Some(s) => match UpdateMode::ALL.iter().find(|(n, _)| *n == s) {
                Some((_, m)) => *m,
                None => {
                    let names: Vec<&str> = UpdateMode::ALL.iter().map(|m| m.0).collect();
                    let hint = closest(s, &names)
                        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                    return Err(self.err(
                        mk,
                        format!(
                            "unknown updateMode `{s}`: expected one of {}{hint}",
                            names.join(", ")
                        ),
                    ));
                }
            },
        };
        let policies = v
            .resource_policy
            .as_ref()
            .and_then(|r| r.container_policies.as_deref())
            .unwrap_or_default();
        if policies.len() > 1 {
            return Err(self.err(
                "vpa.resourcePolicy.containerPolicies[1]",
                "capsim's pods have one container: expected at most one container policy",
            ));
        }
        let mut controlled = (true, true);
        let mut min_allowed = (None, None);
        let mut max_allowed = (None, None);
        let mut mode = mode;
        if let Some(p) = policies.first() {
            let key = "vpa.resourcePolicy.containerPolicies[0]";
            match p.mode.as_deref() {
                None | Some("Auto") => {}
                Some("Off") => mode = UpdateMode::Off,
                Some(other) => {
                    return Err(self.err(
                        &format!("{key}.mode"),
                        format!("unknown container mode `{other}`: expected Auto or Off"),
                    ))
                }
            }
            if let Some(list) = &p.controlled_resources {
                controlled = (false, false);
                for (i, r) in list.iter().enumerate() {
                    match r.as_str() {
                        "cpu" => controlled.0 = true,
                        "memory" => controlled.1 = true,
                        other => {
                            return Err(self.err(
                                &format!("{key}.controlledResources[{i}]"),
                                format!("the VPA controls cpu and memory, not `{other}`"),
                            ))
                        }
                    }
                }
            }
            let limits = |k: &str,
                          m: Option<&BTreeMap<String, RawQuantity>>|
             -> Result<(Option<i64>, Option<i64>), ScenarioError> {
                let mut out = (None, None);
                for (r, q) in m.into_iter().flatten() {
                    let rk = format!("{key}.{k}.{r}");
                    let q = self.quantity(&rk, q)?;
                    match r.as_str() {
                        "cpu" => out.0 = Some(q.milli().min(i64::MAX as u128) as i64),
                        "memory" => out.1 = Some(q.units_ceil().min(i64::MAX as u128) as i64),
                        other => {
                            return Err(
                                self.err(&rk, format!("expected cpu or memory, found `{other}`"))
                            )
                        }
                    }
                }
                Ok(out)
            };
            min_allowed = limits("minAllowed", p.min_allowed.as_ref())?;
            max_allowed = limits("maxAllowed", p.max_allowed.as_ref())?;
            for (i, name) in [(0, "cpu"), (1, "memory")] {
                let (lo, hi) = if i == 0 {
                    (min_allowed.0, max_allowed.0)
                } else {
                    (min_allowed.1, max_allowed.1)
                };
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    if lo > hi {
                        return Err(self.err(
                            &format!("{key}.minAllowed.{name}"),
                            "expected minAllowed at most maxAllowed",
                        ));
                    }
                }
            }
        }
        let mut rc = RecommenderConfig::default();
        let ns = |k: &str, v: Option<&String>, d: i64| -> Result<i64, ScenarioError> {
            let x = self.duration(k, v, SimDuration(d as u64))?;
            if x == SimDuration::ZERO {
                return Err(self.err(k, "expected a duration longer than zero"));
            }
            Ok(x.0.min(i64::MAX as u64) as i64)
        };
        let ratio = |k: &str, v: Option<f64>, d: f64, hi: f64| -> Result<f64, ScenarioError> {
            match v {
                None => Ok(d),
                Some(x) if x.is_finite() && (0.0..=hi).contains(&x) => Ok(x),
                Some(x) => Err(self.err(k, format!("expected a number from 0 to {hi}, found {x}"))),
            }
        };
        if let Some(r) = &v.recommender {
            let k = |s: &str| format!("vpa.recommender.{s}");
            rc.interval_ns = ns(
                &k("recommender-interval"),
                r.recommender_interval.as_ref(),
                rc.interval_ns,
            )?;
            rc.margin_fraction = ratio(
                &k("recommendation-margin-fraction"),
                r.recommendation_margin_fraction,
                rc.margin_fraction,
                10.0,
            )?;
            rc.min_cpu_millicores = ratio(
                &k("pod-recommendation-min-cpu-millicores"),
                r.pod_recommendation_min_cpu_millicores,
                rc.min_cpu_millicores,
                1e9,
            )?;
            rc.min_memory_mb = ratio(
                &k("pod-recommendation-min-memory-mb"),
                r.pod_recommendation_min_memory_mb,
                rc.min_memory_mb,
                1e9,
            )?;
            rc.target_cpu_percentile = ratio(
                &k("target-cpu-percentile"),
                r.target_cpu_percentile,
                rc.target_cpu_percentile,
                1.0,
            )?;
            rc.target_memory_percentile = ratio(
                &k("target-memory-percentile"),
                r.target_memory_percentile,
                rc.target_memory_percentile,
                1.0,
            )?;
            rc.cpu_half_life_ns = ns(
                &k("cpu-histogram-decay-half-life"),
                r.cpu_histogram_decay_half_life.as_ref(),
                rc.cpu_half_life_ns,
            )?;
            rc.memory_half_life_ns = ns(
                &k("memory-histogram-decay-half-life"),
                r.memory_histogram_decay_half_life.as_ref(),
                rc.memory_half_life_ns,
            )?;
            rc.memory_interval_ns = ns(
                &k("memory-aggregation-interval"),
                r.memory_aggregation_interval.as_ref(),
                rc.memory_interval_ns,
            )?;
            rc.oom_bump_ratio = ratio(
                &k("oom-bump-up-ratio"),
                r.oom_bump_up_ratio,
                rc.oom_bump_ratio,
                100.0,
            )?;
        }
        let mut uc = UpdaterConfig::default();
        if let Some(u) = &v.updater {
            let k = |s: &str| format!("vpa.updater.{s}");
            uc.interval_ns = ns(
                &k("updater-interval"),
                u.updater_interval.as_ref(),
                uc.interval_ns,
            )?;
            uc.min_replicas = u.min_replicas.unwrap_or(uc.min_replicas);
            uc.eviction_tolerance = ratio(
                &k("eviction-tolerance"),
                u.eviction_tolerance,
                uc.eviction_tolerance,
                1.0,
            )?;
            uc.pod_update_threshold = ratio(
                &k("pod-update-threshold"),
                u.pod_update_threshold,
                uc.pod_update_threshold,
                1e9,
            )?;
            uc.lifetime_threshold_ns = ns(
                &k("in-recommendation-bounds-eviction-lifetime-threshold"),
                u.in_recommendation_bounds_eviction_lifetime_threshold
                    .as_ref(),
                uc.lifetime_threshold_ns,
            )?;
        }
        if let Some(n) = v.update_policy.as_ref().and_then(|p| p.min_replicas) {
            uc.min_replicas = n;
        }
        Ok(Some(VpaSpec {
            mode,
            controlled,
            min_allowed,
            max_allowed,
            recommender: rc,
            updater: uc,
            metrics: self.metrics_spec(raw, service)?,
        }))
    }
}
