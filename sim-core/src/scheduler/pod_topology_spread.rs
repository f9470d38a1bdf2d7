//! PodTopologySpread score with the system default constraints (a Deployment's pods spread over
//! hostnames with maxSkew 3 and zones with maxSkew 5, both ScheduleAnyway).

use super::MAX_NODE_SCORE;

/// One default constraint: topology key and maxSkew.
pub const SYSTEM_DEFAULTS: [(&str, i64); 2] = [
    ("kubernetes.io/hostname", 3),
    ("topology.kubernetes.io/zone", 5),
];

/// Raw score of one node: Σ over constraints of `count × ln(domains + 2) + (maxSkew − 1)`, rounded
/// once. `counts[i]` is the matching pods in the node's domain for constraint `i`, `domains[i]` the
/// number of domains.
pub fn raw_score(counts: &[u32; 2], domains: &[usize; 2]) -> i64 {
    let mut s = 0.0;
    for (i, &(_, max_skew)) in SYSTEM_DEFAULTS.iter().enumerate() {
        s += counts[i] as f64 * ((domains[i] + 2) as f64).ln() + (max_skew - 1) as f64;
    }
    s.round() as i64
}

/// Upstream normalisation: `100 × (max + min − s) / max` over non-ignored nodes; all 100 when
/// every score is zero; ignored nodes (lacking a topology label) get 0.
pub fn normalize(scores: &mut [i64], ignored: &[bool]) {
    let live = scores
        .iter()
        .zip(ignored)
        .filter(|(_, &ig)| !ig)
        .map(|(s, _)| *s);
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for s in live {
        min = min.min(s);
        max = max.max(s);
    }
    for (s, &ig) in scores.iter_mut().zip(ignored) {
        *s = if ig {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *s) / max
        };
    }
}
