//! NodeResourcesFit score, `MostAllocated`: prefers fuller nodes (bin packing).

use super::MAX_NODE_SCORE;

/// Per-resource score: `min(requested, capacity) × 100 / capacity`.
pub fn resource_score(requested: u64, capacity: u64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    (requested.min(capacity) as u128 * MAX_NODE_SCORE as u128 / capacity as u128) as i64
}
