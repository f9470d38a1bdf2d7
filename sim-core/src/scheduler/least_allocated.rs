//! NodeResourcesFit score, `LeastAllocated`: prefers nodes with more free capacity.

use super::MAX_NODE_SCORE;

/// Per-resource score: `(capacity − requested) × 100 / capacity`, 0 when over capacity.
pub fn resource_score(requested: u64, capacity: u64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    ((capacity - requested) as u128 * MAX_NODE_SCORE as u128 / capacity as u128) as i64
}
