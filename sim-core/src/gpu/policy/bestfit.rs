//! Best Fit: the node left with the least free resources after placing the pod, measured as the
//! equally weighted sum of free CPU (out of 128 CPUs) and free GPU (total milli, out of 8 GPUs).
//! The score is `100 × (1 − that sum)`; the simulator's min-max normalisation across nodes keeps
//! the order, so it is left out. A shared pod takes the best-fitting GPU.

use super::super::share::{GpuNode, PodShape};
use super::{best_gpu, Scored, MAX_SCORE, MAX_SPEC_CPU, MAX_SPEC_GPU};

/// The node's Best Fit score for `pod`.
pub fn score(node: &GpuNode, pod: &PodShape) -> Scored {
    let cpu_after = node.cpu_left as f64 - pod.cpu_milli as f64;
    let gpu_after = node.total_left() as f64 - pod.total_milli() as f64;
    let waste = 0.5 * cpu_after / MAX_SPEC_CPU + 0.5 * gpu_after / MAX_SPEC_GPU as f64;
    Scored {
        score: ((1.0 - waste) * MAX_SCORE as f64) as i64,
        gpu: best_gpu(node, pod),
    }
}
