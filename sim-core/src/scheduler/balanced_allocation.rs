//! NodeResourcesBalancedAllocation: prefers nodes whose CPU and memory would be used evenly.

use super::{NodeView, PodView, MAX_NODE_SCORE};
use crate::cluster::ResourceNames;

/// `(1 − std(fractions)) × 100` over cpu and memory, with the pod's actual requests added.
pub fn score(pod: &PodView, node: &NodeView) -> i64 {
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    for r in [ResourceNames::CPU, ResourceNames::MEMORY] {
        let alloc = node.allocatable.0[r];
        if alloc == 0 {
            continue;
        }
        let req = node.requested.0[r] + pod.requests.0[r];
        fractions[n] = (req as f64 / alloc as f64).min(1.0);
        n += 1;
    }
    let std = match n {
        2 => (fractions[0] - fractions[1]).abs() / 2.0,
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
