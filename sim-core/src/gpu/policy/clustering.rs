//! GPU Clustering: pods are grouped by GPU class (shared, 1 whole GPU, 2, 4, 8 ...), and a pod
//! prefers nodes already running only its class, then nodes running its class among others, then
//! empty nodes, then nodes running other classes only. Within each band of 25 points, fuller nodes
//! (less GPU left, out of 8 GPUs) score higher. CPU-only pods score 0 everywhere.

use super::super::share::{GpuNode, PodShape};
use super::{best_gpu, Scored, MAX_SCORE, MAX_SPEC_GPU};

/// The node's GPU Clustering score for `pod`.
pub fn score(node: &GpuNode, pod: &PodShape) -> Scored {
    let gpu = best_gpu(node, pod);
    let class = pod.affinity_bit();
    if class == 0 {
        return Scored { score: 0, gpu };
    }
    let fullness = MAX_SCORE / 4 * (MAX_SPEC_GPU - node.total_left() as i64) / MAX_SPEC_GPU;
    let classes = node.affinity.count_ones();
    let band = if node.affinity & class != 0 {
        if classes == 1 {
            3
        } else {
            2
        }
    } else if classes == 0 {
        1
    } else {
        0
    };
    Scored {
        score: fullness + band * MAX_SCORE / 4,
        gpu,
    }
}
