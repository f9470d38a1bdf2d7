//! Normalisation of the metrics' recommendation: `normalizeDesiredReplicas` (no behavior: scale-up
//! limit max(2 × current, 4), then min/max) and `normalizeDesiredReplicasWithBehaviors` (scaling
//! policies over their periods from the stored scale events, selectPolicy, min/max); and
//! `storeScaleEvent`.

use super::spec::{Behavior, Hpa, PolicyType, ScalingRules, SelectPolicy};
use super::stabilize::{stabilize_recommendation, stabilize_with_behaviors};
use super::state::{HpaHistory, Nanos, ScaleEvent, SECOND};

/// A normalised count and the ScalingLimited condition's reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Replicas after the limits.
    pub replicas: i32,
    /// `ScaleUpLimit`, `TooManyReplicas`, `ScaleDownLimit`, `TooFewReplicas` or `DesiredWithinRange`.
    pub reason: &'static str,
    /// Upstream's message for that reason.
    pub message: &'static str,
}

const WITHIN: (&str, &str) = (
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
);
const UP_LIMIT: (&str, &str) = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
);
const TOO_MANY: (&str, &str) = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
);
const DOWN_LIMIT: (&str, &str) = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
);
const TOO_FEW: (&str, &str) = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
);

fn limited(replicas: i32, (reason, message): (&'static str, &'static str)) -> Limited {
    Limited {
        replicas,
        reason,
        message,
    }
}

/// `calculateScaleUpLimit`: `int32(max(2 × current, 4))`.
pub fn scale_up_limit_without_behavior(current: i32) -> i32 {
    (2.0 * current as f64).max(4.0) as i32
}

/// `convertDesiredReplicasWithRules`: no-behavior limits.
pub fn convert_with_rules(current: i32, desired: i32, min: i32, max: i32) -> Limited {
    let up = scale_up_limit_without_behavior(current);
    let (max_allowed, why) = if max > up {
        (up, UP_LIMIT)
    } else {
        (max, TOO_MANY)
    };
    if desired < min {
        return limited(min, TOO_FEW);
    }
    if desired > max_allowed {
        return limited(max_allowed, why);
    }
    limited(desired, WITHIN)
}

/// `getReplicasChangePerPeriod`: the sum of the changes of events strictly newer than `now - period`.
pub fn change_in_period(events: &[ScaleEvent], now: Nanos, period_seconds: i32) -> i32 {
    let cutoff = now.saturating_sub(period_seconds as Nanos * SECOND);
    events
        .iter()
        .filter(|e| e.at > cutoff)
        .fold(0i32, |a, e| a.saturating_add(e.change))
}

/// `calculateScaleUpLimitWithScalingRules`.
pub fn scale_up_limit(current: i32, history: &HpaHistory, rules: &ScalingRules, now: Nanos) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MAX, i32::min),
        SelectPolicy::Max => (i32::MIN, i32::max),
    };
    for p in &rules.policies {
        let added = change_in_period(&history.scale_up_events, now, p.period_seconds);
        let deleted = change_in_period(&history.scale_down_events, now, p.period_seconds);
        let start = current - added + deleted;
        let proposed = match p.kind {
            PolicyType::Pods => start.saturating_add(p.value),
            PolicyType::Percent => (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i32,
        };
        result = pick(result, proposed);
    }
    result
}

/// `calculateScaleDownLimitWithBehaviors`.
pub fn scale_down_limit(
    current: i32,
    history: &HpaHistory,
    rules: &ScalingRules,
    now: Nanos,
) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MIN, i32::max),
        SelectPolicy::Max => (i32::MAX, i32::min),
    };
    for p in &rules.policies {
        let added = change_in_period(&history.scale_up_events, now, p.period_seconds);
        let deleted = change_in_period(&history.scale_down_events, now, p.period_seconds);
        let start = current - added + deleted;
        let proposed = match p.kind {
            PolicyType::Pods => start.saturating_sub(p.value),
            PolicyType::Percent => (start as f64 * (1.0 - p.value as f64 / 100.0)) as i32,
        };
        result = pick(result, proposed);
    }
    result
}

/// `convertDesiredReplicasWithBehaviorRate`: policy rate limits, then min/max. When
/// `desired == current` nothing is re-applied (upstream's behaviour).
pub fn convert_with_behavior_rate(
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    behavior: &Behavior,
    history: &HpaHistory,
    now: Nanos,
) -> Limited {
    if desired > current {
        let limit = scale_up_limit(current, history, &behavior.scale_up, now).max(current);
        let (max_allowed, why) = if max > limit {
            (limit, UP_LIMIT)
        } else {
            (max, TOO_MANY)
        };
        if desired > max_allowed {
            return limited(max_allowed, why);
        }
    } else if desired < current {
        let limit = scale_down_limit(current, history, &behavior.scale_down, now).min(current);
        let (min_allowed, why) = if min < limit {
            (limit, DOWN_LIMIT)
        } else {
            (min, TOO_FEW)
        };
        if desired < min_allowed {
            return limited(min_allowed, why);
        }
    }
    limited(desired, WITHIN)
}

/// The result of a whole normalisation (stabilization, then limits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The stabilized recommendation (before the limits).
    pub stabilized: i32,
    /// The AbleToScale reason: `ScaleUpStabilized`/`ScaleDownStabilized` when stabilization changed
    /// the recommendation, else `ReadyForNewScale`.
    pub able_reason: &'static str,
    /// The limits' outcome.
    pub limited: Limited,
}

/// `normalizeDesiredReplicas` or `normalizeDesiredReplicasWithBehaviors`, as `hpa.behavior` says.
/// Updates the stored recommendations.
pub fn normalize_desired_replicas(
    hpa: &Hpa,
    history: &mut HpaHistory,
    now: Nanos,
    downscale_window: Nanos,
    current: i32,
    pre: i32,
) -> Normalized {
    let recs = history.recommendations.get_or_insert_with(Vec::new);
    match &hpa.behavior {
        None => {
            let stabilized = stabilize_recommendation(recs, now, downscale_window, pre);
            let able_reason = if stabilized != pre {
                "ScaleDownStabilized"
            } else {
                "ReadyForNewScale"
            };
            let limited =
                convert_with_rules(current, stabilized, hpa.min_replicas, hpa.max_replicas);
            Normalized {
                stabilized,
                able_reason,
                limited,
            }
        }
        Some(b) => {
            let (stabilized, why) = stabilize_with_behaviors(
                recs,
                now,
                current,
                pre,
                b.scale_up.window(),
                b.scale_down.window(),
            );
            let able_reason = if stabilized != pre {
                why
            } else {
                "ReadyForNewScale"
            };
            let limited = convert_with_behavior_rate(
                current,
                stabilized,
                hpa.min_replicas,
                hpa.max_replicas,
                b,
                history,
                now,
            );
            Normalized {
                stabilized,
                able_reason,
                limited,
            }
        }
    }
}

/// `storeScaleEvent`: records a rescale from `prev` to `new` (only when behavior is set), reusing
/// the last slot older than the direction's longest policy period.
pub fn store_scale_event(
    behavior: Option<&Behavior>,
    history: &mut HpaHistory,
    prev: i32,
    new: i32,
    now: Nanos,
) {
    let Some(b) = behavior else { return };
    let (events, rules, change) = if new > prev {
        (&mut history.scale_up_events, &b.scale_up, new - prev)
    } else {
        (&mut history.scale_down_events, &b.scale_down, prev - new)
    };
    let longest = rules
        .policies
        .iter()
        .map(|p| p.period_seconds)
        .max()
        .unwrap_or(0);
    let cutoff = now.saturating_sub(longest as Nanos * SECOND);
    let mut old = None;
    for (i, e) in events.iter_mut().enumerate() {
        if e.at < cutoff {
            e.outdated = true;
        }
        if e.outdated {
            old = Some(i);
        }
    }
    let ev = ScaleEvent {
        change,
        at: now,
        outdated: false,
    };
    match old {
        Some(i) => events[i] = ev,
        None => events.push(ev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpa::spec::{default_scale_down, default_scale_up, ScalingPolicy};

    fn gen(pods: i32, pods_p: i32, pct: i32, pct_p: i32, stab: i32) -> ScalingRules {
        let mut policies = Vec::new();
        if pods > 0 {
            policies.push(ScalingPolicy {
                kind: PolicyType::Pods,
                value: pods,
                period_seconds: pods_p,
            });
        }
        if pct > 0 {
            policies.push(ScalingPolicy {
                kind: PolicyType::Percent,
                value: pct,
                period_seconds: pct_p,
            });
        }
        ScalingRules {
            stabilization_window_seconds: stab,
            select_policy: SelectPolicy::Max,
            policies,
            tolerance: None,
        }
    }

    fn events(changes: &[i32], secs: &[i64]) -> Vec<ScaleEvent> {
        changes
            .iter()
            .zip(secs)
            .map(|(&change, &s)| ScaleEvent {
                change,
                at: s * SECOND,
                outdated: false,
            })
            .collect()
    }

    #[test]
    fn no_behavior_limits() {
        assert_eq!(convert_with_rules(5, 7, 3, 8).reason, "DesiredWithinRange");
        assert_eq!(convert_with_rules(3, 1, 2, 8).replicas, 2);
        assert_eq!(
            convert_with_rules(20, 1000, 1, 10).reason,
            "TooManyReplicas"
        );
        assert_eq!(convert_with_rules(1, 1000, 1, 100), limited(4, UP_LIMIT));
    }

    /// `TestCalculateScaleDownLimitWithBehaviors` tail (reference §1.8).
    #[test]
    fn select_min_scale_down() {
        let mut r = gen(2, 60, 50, 60, 300);
        r.select_policy = SelectPolicy::Min;
        assert_eq!(scale_down_limit(5, &HpaHistory::default(), &r, 0), 3);
    }

    #[test]
    fn events_shift_the_period_start() {
        let h = HpaHistory {
            recommendations: None,
            scale_up_events: events(&[1, 5, 9], &[-100, -60, -20]),
            scale_down_events: vec![],
        };
        let b = Behavior {
            scale_up: gen(150, 120, 0, 0, 0),
            scale_down: default_scale_down(300),
        };
        assert_eq!(
            convert_with_behavior_rate(100, 500, 1, 1000, &b, &h, 0).replicas,
            235
        );
        let b = Behavior {
            scale_up: gen(0, 0, 200, 120, 0),
            scale_down: default_scale_down(300),
        };
        assert_eq!(
            convert_with_behavior_rate(100, 500, 1, 1000, &b, &h, 0).replicas,
            255
        );
        let b = Behavior {
            scale_up: default_scale_up(),
            scale_down: default_scale_down(300),
        };
        assert_eq!(
            convert_with_behavior_rate(10, 50, 1, 1000, &b, &HpaHistory::default(), 0).replicas,
            20
        );
    }

    /// `TestStoreScaleEvents` (reference §1.8).
    #[test]
    fn store_scale_event_vectors() {
        let b = Behavior {
            scale_up: gen(10, 60, 0, 0, 0),
            scale_down: default_scale_down(300),
        };
        // The replicas added within the last 60 s before storing: 6 and 8 + 6 = 14.
        assert_eq!(change_in_period(&events(&[7, 6], &[-61, -59]), 0, 60), 6);
        assert_eq!(
            change_in_period(&events(&[8, 6, 7, 9], &[-29, -59, -61, -61]), 0, 60),
            14
        );
        let mut h = HpaHistory {
            scale_up_events: events(&[7, 6], &[-61, -59]),
            ..Default::default()
        };
        store_scale_event(Some(&b), &mut h, 10, 15, 0);
        assert_eq!(
            h.scale_up_events
                .iter()
                .map(|e| (e.change, e.at))
                .collect::<Vec<_>>(),
            vec![(5, 0), (6, -59 * SECOND)]
        );
        let b = Behavior {
            scale_up: gen(10, 60, 100, 30, 0),
            scale_down: default_scale_down(300),
        };
        let mut h = HpaHistory {
            scale_up_events: events(&[8, 6, 7, 9], &[-29, -59, -61, -61]),
            ..Default::default()
        };
        store_scale_event(Some(&b), &mut h, 10, 15, 0);
        let got: Vec<(i32, bool)> = h
            .scale_up_events
            .iter()
            .map(|e| (e.change, e.outdated))
            .collect();
        assert_eq!(got, vec![(8, false), (6, false), (7, true), (5, false)]);
        // No behavior: nothing stored.
        let mut h = HpaHistory::default();
        store_scale_event(None, &mut h, 1, 2, 0);
        assert!(h.scale_up_events.is_empty());
    }
}
