//! Fragmentation Gradient Descent: place the pod where it increases the cluster's fragmentation
//! (measured against the target workload, see [`crate::gpu::frag`]) the least. For a shared pod
//! every GPU with room is tried and the best is kept; whole-GPU and CPU-only pods take the node's
//! lowest-numbered free GPUs. The fragmentation change `Δ` (milli-GPU) maps to a score
//! `⌊100 · sigmoid(−Δ / 1000)⌋`, the simulator's integer score, so nearly equal choices tie (and the
//! first node in the permuted order wins).

use super::super::frag::TargetWorkload;
use super::super::share::{GpuNode, PodShape};
use super::{Scored, MAX_SCORE};

fn to_score(frag_before: f64, frag_after: f64) -> i64 {
    let x = (frag_before - frag_after) / 1000.0;
    (MAX_SCORE as f64 / (1.0 + (-x).exp())) as i64
}

/// The node's FGD score for `pod`, given the node's current fragmentation `frag_now`.
pub fn score(node: &GpuNode, pod: &PodShape, target: &TargetWorkload, frag_now: f64) -> Scored {
    if pod.is_shared() {
        let cpu_after = node.cpu_left.saturating_sub(pod.cpu_milli);
        let mut left = node.gpu_left;
        let n = node.gpus as usize;
        let mut best: Option<Scored> = None;
        for g in 0..n {
            if node.gpu_left[g] < pod.gpu_milli {
                continue;
            }
            left[g] = node.gpu_left[g] - pod.gpu_milli;
            let s = to_score(frag_now, target.frag_of(cpu_after, node.model, &left[..n]));
            left[g] = node.gpu_left[g];
            if best.is_none_or(|b| s > b.score) {
                best = Some(Scored {
                    score: s,
                    gpu: Some(g as u8),
                });
            }
        }
        best.unwrap_or(Scored {
            score: 0,
            gpu: None,
        })
    } else {
        let mut after = node.clone();
        after.cpu_left = after.cpu_left.saturating_sub(pod.cpu_milli);
        let mut need = pod.num_gpu as usize;
        for m in after.gpu_left.iter_mut().take(after.gpus as usize) {
            if need == 0 {
                break;
            }
            if *m >= pod.gpu_milli && pod.gpu_milli > 0 {
                *m -= pod.gpu_milli;
                need -= 1;
            }
        }
        Scored {
            score: to_score(frag_now, target.node_frag(&after)),
            gpu: None,
        }
    }
}
