//! `reconcileAutoscaler`: one whole HPA sync in upstream's order.

use super::config::ControllerConfig;
use super::metrics::{compute_replicas_for_metrics, MetricsOutcome};
use super::normalize::{normalize_desired_replicas, store_scale_event};
use super::spec::Hpa;
use super::state::{HpaHistory, Observation, Recommendation};

/// What one sync decided.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    /// The replicas the target is (or stays) scaled to.
    pub desired: i32,
    /// Whether the scale subresource is updated.
    pub rescale: bool,
    /// The condition reason: the ScalingLimited reason after normalisation (`ScaleUpLimit`,
    /// `TooManyReplicas`, `ScaleDownLimit`, `TooFewReplicas`, `DesiredWithinRange`), or for the
    /// out-of-range shortcuts `TooManyReplicas` / `TooFewReplicas`, or `ScalingDisabled`.
    pub reason: &'static str,
    /// The AbleToScale reason set by normalisation (`ReadyForNewScale`, `ScaleUpStabilized`,
    /// `ScaleDownStabilized`), when normalisation ran.
    pub able_reason: Option<&'static str>,
    /// The metrics' outcome, when metrics were computed.
    pub metrics: Option<MetricsOutcome>,
    /// One line per step, for people.
    pub explanation: Vec<String>,
}

/// Why a sync aborted without scaling: upstream's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncError {
    /// The ScalingActive reason (e.g. `FailedGetResourceMetric`).
    pub reason: &'static str,
    /// `failed to compute desired number of replicas based on listed metrics for ...: ...`.
    pub message: String,
}

/// Runs one sync of `hpa` at `obs.now`, updating `history` (recommendations, scale events).
pub fn reconcile(
    hpa: &Hpa,
    cfg: &ControllerConfig,
    obs: &Observation,
    history: &mut HpaHistory,
) -> Result<SyncOutcome, SyncError> {
    let now = obs.now;
    let current = obs.spec_replicas;
    let mut explanation = Vec::new();
    if history.recommendations.is_none() {
        history.recommendations = Some(vec![Recommendation {
            replicas: current,
            at: now,
        }]);
        explanation.push(format!(
            "first sync: recorded the initial recommendation {current}"
        ));
    }
    let min = hpa.min_replicas;
    let mut out = SyncOutcome {
        desired: 0,
        rescale: true,
        reason: "DesiredWithinRange",
        able_reason: None,
        metrics: None,
        explanation,
    };
    if current == 0 && min != 0 {
        out.rescale = false;
        out.reason = "ScalingDisabled";
        out.explanation
            .push("scaling is disabled since the replica count of the target is zero".into());
    } else if current > hpa.max_replicas {
        out.desired = hpa.max_replicas;
        out.reason = "TooManyReplicas";
        out.explanation.push(format!(
            "Current number of replicas above Spec.MaxReplicas: {current} > {}; no metrics, stabilization or rate limits",
            hpa.max_replicas
        ));
    } else if current < min {
        out.desired = min;
        out.reason = "TooFewReplicas";
        out.explanation.push(format!(
            "Current number of replicas below Spec.MinReplicas: {current} < {min}; no metrics, stabilization or rate limits"
        ));
    } else {
        let m = compute_replicas_for_metrics(hpa, obs, cfg);
        for (name, r) in &m.per_metric {
            match r {
                Ok(r) => {
                    out.explanation
                        .push(format!("metric {name}: proposes {}", r.replicas));
                    out.explanation
                        .extend(r.detail.iter().map(|d| format!("  {d}")));
                }
                Err(e) => out
                    .explanation
                    .push(format!("metric {name}: {}", e.message)),
            }
        }
        if m.replicas == -1 {
            let e = m.error.clone().expect("-1 only with an error");
            return Err(SyncError {
                reason: e.reason,
                message: format!(
                    "failed to compute desired number of replicas based on listed metrics for {}: {}",
                    hpa.reference, e.message
                ),
            });
        }
        if let Some(e) = &m.error {
            out.explanation.push(format!(
                "some metrics failed but the valid ones scale up, so they are used ({})",
                e.message
            ));
        }
        let pre = m.replicas.max(0);
        out.explanation.push(format!(
            "metrics recommend {pre} (maximum over metrics: {})",
            m.metric
        ));
        if pre > current {
            out.explanation
                .push(format!("rescale reason: {} above target", m.metric));
        } else if pre < current {
            out.explanation
                .push("rescale reason: All metrics below target".to_string());
        }
        let n = normalize_desired_replicas(
            hpa,
            history,
            now,
            cfg.downscale_stabilization,
            current,
            pre,
        );
        out.explanation.push(match &hpa.behavior {
            None => format!(
                "stabilized (no behavior: highest recommendation of the last {} s) to {}",
                cfg.downscale_stabilization / super::state::SECOND,
                n.stabilized
            ),
            Some(b) => format!(
                "stabilized (windows: scale-up {} s, scale-down {} s) to {}",
                b.scale_up.stabilization_window_seconds,
                b.scale_down.stabilization_window_seconds,
                n.stabilized
            ),
        });
        out.explanation.push(format!(
            "limited to {} ({}: {})",
            n.limited.replicas, n.limited.reason, n.limited.message
        ));
        out.desired = n.limited.replicas;
        out.reason = n.limited.reason;
        out.able_reason = Some(n.able_reason);
        out.rescale = out.desired != current;
        out.metrics = Some(m);
    }
    if out.rescale {
        store_scale_event(hpa.behavior.as_ref(), history, current, out.desired, now);
        out.explanation
            .push(format!("rescale {current} -> {}", out.desired));
    } else {
        out.desired = current;
        out.explanation
            .push(format!("no rescale: stays at {current}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpa::spec::HpaSpec;
    use crate::hpa::state::{
        ConditionStatus, ContainerKind, ContainerState, MetricSample, Nanos, PodPhase, PodState,
        SECOND,
    };
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn seed_hpa() -> Hpa {
        let spec: HpaSpec = toml::from_str(
            "minReplicas = 2\nmaxReplicas = 20\n[[metrics]]\ntype = \"Resource\"\n\
             resource = { name = \"cpu\", target = { type = \"Utilization\", averageUtilization = 70 } }\n",
        )
        .unwrap();
        spec.check(300).unwrap()
    }

    /// `n` long-running ready pods sharing `load_milli` of CPU, each requesting one core.
    fn observe(now: Nanos, n: i32, load_milli: i64) -> Observation {
        let pods = (0..n)
            .map(|i| PodState {
                name: format!("p{i}"),
                listed: true,
                phase: PodPhase::Running,
                ready: Some(ConditionStatus::True),
                ready_transition: now - 3600 * SECOND,
                start: Some(now - 3600 * SECOND),
                deleting: false,
                containers: vec![ContainerState {
                    name: "c".into(),
                    kind: ContainerKind::Regular,
                    requests: BTreeMap::from([("cpu".to_string(), 1000)]),
                    usage: BTreeMap::new(),
                }],
                pod_requests: None,
                metrics: BTreeMap::from([(
                    "cpu".to_string(),
                    MetricSample {
                        value: Some(load_milli / i64::from(n)),
                        timestamp: now,
                        window: 15 * SECOND,
                    },
                )]),
                usage_sample: (now, 15 * SECOND),
            })
            .collect();
        Observation {
            now,
            spec_replicas: n,
            status_replicas: n,
            pods,
            object_metrics: vec![],
            external_metrics: vec![],
        }
    }

    /// The seed articles' HPA (cpu 70 %, min 2, max 20, no behavior) under a step up in load grows
    /// by at most max(2 x current, 4) per 15 s sync, and shrinks no sooner than 300 s after the
    /// load drops. (Pods here are ready at once: only the controller is under test.)
    #[test]
    fn seed_hpa_step_load_respects_rate_limit_and_stabilization() {
        let hpa = seed_hpa();
        let cfg = ControllerConfig::default();
        let mut history = HpaHistory::default();
        let (up_at, down_at) = (60 * SECOND, 600 * SECOND);
        let load = |t: Nanos| {
            if (up_at..down_at).contains(&t) {
                12_000
            } else {
                1_000
            }
        };
        let mut replicas = 2;
        let mut first_decrease = None;
        let mut grew = false;
        for k in 0..=80i64 {
            let now = k * 15 * SECOND;
            let obs = observe(now, replicas, load(now));
            let out = reconcile(&hpa, &cfg, &obs, &mut history).unwrap();
            if out.desired > replicas {
                grew = true;
                assert!(
                    out.desired <= (2 * replicas).max(4),
                    "sync {k}: {replicas} -> {}",
                    out.desired
                );
            }
            if out.desired < replicas && first_decrease.is_none() {
                first_decrease = Some(now);
            }
            assert!((2..=20).contains(&out.desired));
            replicas = out.desired;
        }
        assert!(grew);
        let first = first_decrease.expect("scales down after the load drops");
        assert!(
            first >= down_at + 300 * SECOND,
            "first decrease at {} s",
            first / SECOND
        );
        assert!(
            first <= down_at + 330 * SECOND,
            "first decrease at {} s",
            first / SECOND
        );
        assert_eq!(replicas, 2);
    }

    proptest! {
        /// With the target inside [min, max], one sync ends inside [min, max]; without behavior a
        /// scale-up is at most max(2 x current, 4), and the result is never below the highest
        /// recommendation of the last five minutes, as far as the limits allow.
        #[test]
        fn sync_stays_within_bounds(
            current in 2i32..=20,
            load in 0i64..100_000,
            recs in proptest::collection::vec((1i32..40, 0i64..600), 0..6),
        ) {
            let hpa = seed_hpa();
            let cfg = ControllerConfig::default();
            let now = 10_000 * SECOND;
            let stored = recs
                .iter()
                .map(|&(r, age)| Recommendation { replicas: r, at: now - age * SECOND })
                .collect();
            let mut history = HpaHistory { recommendations: Some(stored), ..HpaHistory::default() };
            let recent = recs.iter().filter(|&&(_, age)| age <= 300).map(|&(r, _)| r).max().unwrap_or(0);
            let out = reconcile(&hpa, &cfg, &observe(now, current, load), &mut history).unwrap();
            let up_limit = (2 * current).max(4);
            prop_assert!((2..=20).contains(&out.desired));
            prop_assert!(out.desired <= up_limit.max(current));
            prop_assert!(out.desired >= recent.min(20).min(up_limit));
        }
    }
}
