//! ImageLocality score: prefers nodes that already have the pod's image, scaled by how widely the
//! image has spread (one container per pod).

use super::{NodeView, MAX_NODE_SCORE};

const MB: f64 = 1024.0 * 1024.0;
/// Upstream `minThreshold`: 23 MB.
const MIN_THRESHOLD: f64 = 23.0 * MB;
/// Upstream `maxContainerThreshold`: 1000 MB per container.
const MAX_THRESHOLD: f64 = 1000.0 * MB;

/// Score for a node, given the image size and the share of nodes that have it.
pub fn score(
    node: &NodeView,
    image_bytes: u64,
    nodes_with_image: usize,
    total_nodes: usize,
) -> i64 {
    if !node.has_image || image_bytes == 0 || total_nodes == 0 {
        return 0;
    }
    let spread = nodes_with_image as f64 / total_nodes as f64;
    let sum = (image_bytes as f64 * spread).clamp(MIN_THRESHOLD, MAX_THRESHOLD);
    (MAX_NODE_SCORE as f64 * (sum - MIN_THRESHOLD) / (MAX_THRESHOLD - MIN_THRESHOLD)) as i64
}
