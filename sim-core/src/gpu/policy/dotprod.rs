//! DotProduct (Tetris): the dot product of the node's free resources and the pod's request, with
//! the GPU dimensions merged into one (total milli-GPU free) and both dimensions divided by the
//! largest node's capacity (128 CPUs, 8 GPUs). As in the paper's simulator, the score is
//! `100 × (1 − dot/2)`, so among feasible nodes the one with the *least* aligned free capacity wins,
//! which favours fuller nodes. A shared pod takes the best-fitting GPU.

use super::super::share::{GpuNode, PodShape};
use super::{best_gpu, Scored, MAX_SCORE, MAX_SPEC_CPU, MAX_SPEC_GPU};

/// The node's DotProduct score for `pod`.
pub fn score(node: &GpuNode, pod: &PodShape) -> Scored {
    let gpu_max = MAX_SPEC_GPU as f64;
    let node_vec = [
        node.cpu_left as f64 / MAX_SPEC_CPU,
        node.total_left() as f64 / gpu_max,
    ];
    let pod_vec = [
        pod.cpu_milli as f64 / MAX_SPEC_CPU,
        pod.total_milli() as f64 / gpu_max,
    ];
    let dot = (node_vec[0] * pod_vec[0] + node_vec[1] * pod_vec[1]) / 2.0;
    Scored {
        score: (MAX_SCORE as f64 * (1.0 - dot)) as i64,
        gpu: best_gpu(node, pod),
    }
}
