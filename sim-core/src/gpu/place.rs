//! Placing pods one at a time on GPU nodes with one policy, and taking them off again: the
//! scheduler loop that `pack` (arrivals only) and `replay` (arrivals and departures) share.
//!
//! Every node that passes the filter is scored; the highest score wins, ties going to the node that
//! comes first in the node order. Random draws one feasible node uniformly instead. Each node keeps
//! its fragmentation against the target workload, recomputed when the node changes, and FGD keeps a
//! per-(node, pod shape) score cache that a change to the node invalidates.

use super::frag::TargetWorkload;
use super::policy::{self, Policy, Scored};
use super::share::{GpuNode, PodShape};
use crate::engine::rng::Rng;
use rand::RngExt;

const NO_GPU: u8 = u8::MAX;
/// Affinity classes ([`PodShape::affinity_bit`] is at most bit 15).
const CLASSES: usize = 16;

/// Where a placed pod went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The node's index in the placer's node order.
    pub node: u32,
    /// The GPUs the pod holds there, as bits (bit `i` is GPU `i`).
    pub gpus: u8,
}

/// Cluster state under one policy, with the per-node caches that keep scoring cheap.
pub struct Placer<'a> {
    policy: Policy,
    target: &'a TargetWorkload,
    nodes: Vec<GpuNode>,
    frag: Vec<f64>,
    stamp: Vec<u32>,
    cache: Vec<(u32, i64, u8)>,
    kinds: usize,
    classes: Vec<[u32; CLASSES]>,
    rng: Rng,
}

impl<'a> Placer<'a> {
    /// A placer for `nodes` (in the order ties are broken), pods of `kinds` distinct shapes, and the
    /// generator the Random policy draws from.
    pub fn new(
        policy: Policy,
        target: &'a TargetWorkload,
        nodes: Vec<GpuNode>,
        kinds: usize,
        rng: Rng,
    ) -> Self {
        let frag: Vec<f64> = nodes.iter().map(|n| target.node_frag(n)).collect();
        let cache = if policy == Policy::Fgd {
            vec![(0, 0, NO_GPU); nodes.len() * kinds]
        } else {
            Vec::new()
        };
        Placer {
            policy,
            target,
            stamp: vec![1; nodes.len()],
            classes: vec![[0; CLASSES]; nodes.len()],
            frag,
            cache,
            kinds,
            nodes,
            rng,
        }
    }

    /// The nodes, in placer order.
    pub fn nodes(&self) -> &[GpuNode] {
        &self.nodes
    }

    /// Total fragmented milli-GPU over all nodes (summed in node order).
    pub fn frag_total(&self) -> f64 {
        self.frag.iter().sum()
    }

    /// Each node's fragmented milli-GPU.
    pub fn frag(&self) -> &[f64] {
        &self.frag
    }

    /// Places `pod` (of shape index `kind`, below `kinds`) by the policy; `None` when no node holds it.
    pub fn place(&mut self, pod: &PodShape, kind: usize) -> Option<Placement> {
        let (i, gpu) = self.choose(pod, kind)?;
        let mask = self.nodes[i].gpus_taken(pod, gpu);
        let placed = self.nodes[i].place(pod, gpu);
        debug_assert!(placed, "a node that passed the filter must take the pod");
        if !placed {
            return None;
        }
        let bit = pod.affinity_bit();
        if bit != 0 {
            self.classes[i][bit.trailing_zeros() as usize] += 1;
        }
        self.changed(i);
        Some(Placement {
            node: i as u32,
            gpus: mask,
        })
    }

    /// Takes a pod placed at `at` off its node.
    pub fn remove(&mut self, pod: &PodShape, at: Placement) {
        let i = at.node as usize;
        self.nodes[i].release(pod, at.gpus);
        let bit = pod.affinity_bit();
        if bit != 0 {
            let c = &mut self.classes[i][bit.trailing_zeros() as usize];
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.nodes[i].affinity &= !bit;
            }
        }
        self.changed(i);
    }

    fn changed(&mut self, i: usize) {
        self.frag[i] = self.target.node_frag(&self.nodes[i]);
        self.stamp[i] = self.stamp[i].wrapping_add(1).max(1);
    }

    /// The node (and GPU, for a shared pod) the policy picks, without placing.
    fn choose(&mut self, pod: &PodShape, kind: usize) -> Option<(usize, Option<u8>)> {
        let mut best = i64::MIN;
        let mut chosen: Option<(usize, Option<u8>)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if !node.fits(pod) {
                continue;
            }
            let s = match self.policy {
                Policy::Random => {
                    chosen = Some((i, None));
                    break;
                }
                Policy::DotProd => policy::dotprod::score(node, pod),
                Policy::Clustering => policy::clustering::score(node, pod),
                Policy::Packing => policy::packing::score(node, pod),
                Policy::BestFit => policy::bestfit::score(node, pod),
                Policy::Fgd => {
                    let slot = &mut self.cache[i * self.kinds + kind];
                    if slot.0 == self.stamp[i] {
                        Scored {
                            score: slot.1,
                            gpu: (slot.2 != NO_GPU).then_some(slot.2),
                        }
                    } else {
                        let s = policy::fgd::score(node, pod, self.target, self.frag[i]);
                        *slot = (self.stamp[i], s.score, s.gpu.unwrap_or(NO_GPU));
                        s
                    }
                }
            };
            if s.score > best {
                best = s.score;
                chosen = Some((i, s.gpu));
            }
        }
        let (first, gpu) = chosen?;
        if self.policy != Policy::Random {
            return Some((first, gpu));
        }
        // The Random policy draws one feasible node uniformly, then a GPU with room.
        let feasible = self.nodes.iter().filter(|n| n.fits(pod)).count();
        let k = self.rng.random_range(0..feasible);
        let i = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.fits(pod))
            .nth(k)
            .map(|(j, _)| j)
            .unwrap_or(first);
        let gpu = policy::random::pick_gpu(&self.nodes[i], pod, &mut self.rng);
        Some((i, gpu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::RngStreams;
    use crate::gpu::share::ModelSet;

    fn pod(num: u8, milli: u16) -> PodShape {
        PodShape {
            cpu_milli: 1000,
            memory_mib: 1024,
            num_gpu: num,
            gpu_milli: milli,
            models: ModelSet::ANY,
        }
    }

    #[test]
    fn removing_every_pod_restores_the_empty_cluster_for_every_policy() {
        let pods = [
            pod(1, 300),
            pod(2, 1000),
            pod(1, 700),
            pod(0, 0),
            pod(1, 1000),
        ];
        let target = TargetWorkload::from_pods(&pods);
        let nodes = vec![
            GpuNode::new(16_000, 1 << 20, 2, 0),
            GpuNode::new(16_000, 1 << 20, 4, 0),
        ];
        for policy in Policy::ALL {
            let rng = RngStreams::new(7).stream("test");
            let mut p = Placer::new(policy, &target, nodes.clone(), pods.len(), rng);
            let empty_frag = p.frag().to_vec();
            let mut placed = Vec::new();
            for round in 0..3 {
                for (k, s) in pods.iter().enumerate() {
                    if let Some(at) = p.place(s, k) {
                        placed.push((k, at));
                    }
                }
                // Take off every other pod, then place again on the changed cluster.
                if round < 2 {
                    let mut keep = Vec::new();
                    for (j, (k, at)) in placed.drain(..).enumerate() {
                        if j % 2 == 0 {
                            p.remove(&pods[k], at);
                        } else {
                            keep.push((k, at));
                        }
                    }
                    placed = keep;
                }
            }
            for (k, at) in placed.drain(..).rev() {
                p.remove(&pods[k], at);
            }
            assert_eq!(p.nodes(), &nodes[..], "{policy}");
            assert_eq!(p.frag(), &empty_frag[..], "{policy}");
        }
    }
}
