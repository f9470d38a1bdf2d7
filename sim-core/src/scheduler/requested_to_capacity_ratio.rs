//! NodeResourcesFit score, `RequestedToCapacityRatio`: a broken-linear function of utilisation.

use super::MAX_NODE_SCORE;

/// Upstream `MaxCustomPriorityScore`: shape scores run 0–10.
const MAX_CUSTOM_SCORE: i64 = 10;

/// Evaluates the broken-linear shape (points scaled to 0–100) at utilisation `p` percent.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    let scale = MAX_NODE_SCORE / MAX_CUSTOM_SCORE;
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s * scale;
            }
            let (u0, s0) = shape[i - 1];
            return s0 * scale + (s * scale - s0 * scale) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |&(_, s)| s * scale)
}

/// Per-resource score for `shape` (points of utilisation % and score 0–10).
pub fn resource_score(shape: &[(i64, i64)], requested: u64, capacity: u64) -> i64 {
    if capacity == 0 || requested > capacity {
        return broken_linear(shape, 100);
    }
    broken_linear(shape, (requested as u128 * 100 / capacity as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_interpolates_and_clamps() {
        // Bin packing shape: 0% → 0, 100% → 10.
        let shape = [(0, 0), (100, 10)];
        assert_eq!(resource_score(&shape, 0, 100), 0);
        assert_eq!(resource_score(&shape, 50, 100), 50);
        assert_eq!(resource_score(&shape, 100, 100), 100);
        assert_eq!(resource_score(&shape, 200, 100), 100);
        let spread = [(0, 10), (100, 0)];
        assert_eq!(resource_score(&spread, 25, 100), 75);
    }
}
