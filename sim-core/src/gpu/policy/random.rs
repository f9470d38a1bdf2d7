//! Random: every feasible node is equally likely; a shared pod takes a random GPU among those
//! with room for it.

use super::super::share::{GpuNode, PodShape};
use crate::engine::rng::Rng;
use rand::RngExt;

/// A uniformly random GPU (among those that hold the pod) for a shared pod; `None` otherwise.
pub fn pick_gpu(node: &GpuNode, pod: &PodShape, rng: &mut Rng) -> Option<u8> {
    if !pod.is_shared() {
        return None;
    }
    let fitting = node.left().iter().filter(|&&m| m >= pod.gpu_milli).count();
    if fitting == 0 {
        return None;
    }
    let k = rng.random_range(0..fitting);
    node.left()
        .iter()
        .enumerate()
        .filter(|(_, &m)| m >= pod.gpu_milli)
        .nth(k)
        .map(|(i, _)| i as u8)
}
