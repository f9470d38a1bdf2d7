//! GPU Packing: a pod first fills GPUs that are already partly used (the fuller the better), then
//! free GPUs on nodes already in use (the fewer it must open the better), and only then a node
//! whose GPUs are all free (smaller nodes first). The score bands follow the paper's simulator:
//! 50-100 for shared GPUs, 33-50 for free GPUs on a used node, up to 33 for an unused node.
//! CPU-only pods score 0 everywhere.

use super::super::share::{GpuNode, PodShape, MILLI};
use super::{best_gpu, Scored, MAX_SCORE};

/// The node's GPU Packing score for `pod`.
pub fn score(node: &GpuNode, pod: &PodShape) -> Scored {
    let gpu = best_gpu(node, pod);
    if pod.num_gpu == 0 {
        return Scored { score: 0, gpu };
    }
    let free = node.free_gpus() as i64;
    if free == node.gpus as i64 {
        // The simulator keeps max(33 - free, free) here.
        return Scored {
            score: (MAX_SCORE / 3 - free).max(free),
            gpu,
        };
    }
    // GPUs in ascending order of milli left (stable), taking those that hold one pod GPU.
    let mut order: [u8; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
    let n = node.gpus as usize;
    order[..n].sort_by_key(|&i| node.gpu_left[i as usize]);
    let mut need = pod.num_gpu as usize;
    let mut opened = 0i64;
    let mut left_pct_on_used = 0i64;
    for &i in &order[..n] {
        if need == 0 {
            break;
        }
        let m = node.gpu_left[i as usize];
        if pod.gpu_milli <= m {
            need -= 1;
            if m == MILLI {
                opened += 1;
            }
            left_pct_on_used += m as i64 * 100 / MILLI as i64;
        }
    }
    if need != 0 {
        return Scored { score: 0, gpu };
    }
    let score = if opened > 0 {
        (MAX_SCORE / 2 - opened).max(MAX_SCORE / 3)
    } else {
        (MAX_SCORE - left_pct_on_used / 10).max(MAX_SCORE / 2)
    };
    Scored { score, gpu }
}
