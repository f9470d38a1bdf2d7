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
