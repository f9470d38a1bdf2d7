//! Stabilization over stored recommendations: `stabilizeRecommendation` (no behavior: scale-down
//! only, window from the controller flag) and `stabilizeRecommendationWithBehaviors` (a window per
//! direction). Both store the new, unstabilized recommendation, reusing the slot of an old one.

use super::state::{Nanos, Recommendation};

/// Without behavior: the maximum of `pre` and every recommendation not older than `window`; then
/// `pre` is stored at `now` (over the last entry older than the window, or appended).
pub fn stabilize_recommendation(
    recs: &mut Vec<Recommendation>,
    now: Nanos,
    window: Nanos,
    pre: i32,
) -> i32 {
    let cutoff = now.saturating_sub(window);
    let mut max = pre;
    let mut old = None;
    for (i, r) in recs.iter().enumerate() {
        if r.at < cutoff {
            old = Some(i);
        } else if r.replicas > max {
            max = r.replicas;
        }
    }
    store(recs, old, pre, now);
    max
}

/// With behavior: the lowest recommendation of the scale-up window and the highest of the
/// scale-down window bound the current replicas; returns the stabilized count and the reason
/// upstream would give if it differs from `desired` (`ScaleUpStabilized` or `ScaleDownStabilized`).
pub fn stabilize_with_behaviors(
    recs: &mut Vec<Recommendation>,
    now: Nanos,
    current: i32,
    desired: i32,
    up_window: Nanos,
    down_window: Nanos,
) -> (i32, &'static str) {
    let up_cutoff = now.saturating_sub(up_window);
    let down_cutoff = now.saturating_sub(down_window);
    let (mut up, mut down) = (desired, desired);
    let mut old = None;
    for (i, r) in recs.iter().enumerate() {
        if r.at > up_cutoff {
            up = up.min(r.replicas);
        }
        if r.at > down_cutoff {
            down = down.max(r.replicas);
        }
        if r.at < up_cutoff && r.at < down_cutoff {
            old = Some(i);
        }
    }
    let mut rec = current;
    if rec < up {
        rec = up;
    }
    if rec > down {
        rec = down;
    }
    store(recs, old, desired, now);
    let reason = if desired >= current {
        "ScaleUpStabilized"
    } else {
        "ScaleDownStabilized"
    };
    (rec, reason)
}

fn store(recs: &mut Vec<Recommendation>, old: Option<usize>, replicas: i32, now: Nanos) {
    let r = Recommendation { replicas, at: now };
    match old {
        Some(i) => recs[i] = r,
        None => recs.push(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpa::state::SECOND;

    const M: Nanos = 60 * SECOND;

    fn recs(v: &[(i32, Nanos)]) -> Vec<Recommendation> {
        v.iter()
            .map(|&(replicas, at)| Recommendation { replicas, at })
            .collect()
    }

    fn values(r: &[Recommendation]) -> Vec<i32> {
        r.iter().map(|r| r.replicas).collect()
    }

    /// `TestNormalizeDesiredReplicas` (reference §1.8): window 5 min.
    #[test]
    fn without_behavior_vectors() {
        type Case<'a> = (&'a [(i32, Nanos)], i32, i32, usize);
        let cases: [Case<'_>; 5] = [
            (&[], 5, 5, 1),
            (&[(4, -2 * M), (5, -M)], 3, 5, 3),
            (&[(1, -2 * M), (2, -M)], 3, 3, 3),
            (&[(10, -10 * M), (9, -9 * M)], 3, 3, 2),
            (&[(10, -10 * M), (4, -M), (5, -2 * M), (9, -9 * M)], 3, 5, 4),
        ];
        for (r, pre, want, len) in cases {
            let mut r = recs(r);
            assert_eq!(stabilize_recommendation(&mut r, 0, 5 * M, pre), want);
            assert_eq!(r.len(), len);
        }
    }

    /// `TestNormalizeDesiredReplicasWithBehavior` (reference §1.8).
    #[test]
    fn with_behavior_vectors() {
        let s = |r: &[(i32, Nanos)], cur, des, up: i64, down: i64| {
            let mut r = recs(r);
            let (v, _) = stabilize_with_behaviors(&mut r, 0, cur, des, up * SECOND, down * SECOND);
            (v, values(&r))
        };
        assert_eq!(s(&[], 100, 5, 0, 0), (5, vec![5]));
        assert_eq!(
            s(&[(4, -2 * M), (5, -M)], 100, 3, 0, 180),
            (5, vec![4, 5, 3])
        );
        assert_eq!(s(&[(1, -2 * M), (2, -M)], 100, 3, 300, 0).0, 3);
        assert_eq!(s(&[(4, -2 * M), (5, -M)], 1, 3, 0, 300).0, 3);
        assert_eq!(
            s(&[(10, -10 * M), (9, -9 * M)], 100, 3, 0, 0),
            (3, vec![10, 3])
        );
        assert_eq!(
            s(&[(10, -10 * M), (9, -9 * M)], 1, 100, 0, 0),
            (100, vec![10, 100])
        );
        assert_eq!(s(&[(2, -100 * M), (3, -3 * M)], 2, 1, 300, 300).0, 2);
    }
}
