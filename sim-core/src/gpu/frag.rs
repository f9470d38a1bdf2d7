//! GPU fragmentation as the FGD paper measures it: against a *target workload*, the distribution of
//! pod shapes the cluster expects.
//!
//! The target workload is built from the original pod list: pods are grouped by shape (CPU,
//! milli-GPU per GPU, GPU count, accepted models; memory is not part of the shape), shapes are
//! ranked by popularity, and the most popular shapes covering 95% of the pods are kept, their
//! frequencies renormalised to sum to 1 (the artifact's `podPopularityThreshold = 95`).
//!
//! For one pod shape, a node's idle GPU milli counts as fragmented when that pod could not use it:
//! all of it when the pod cannot run on the node at all (too little CPU, too few GPUs with enough
//! room, a model it does not accept, or a CPU-only pod, which uses no GPU), and otherwise the milli
//! left on GPUs too full for one of the pod's GPUs. A node's fragmentation is the
//! frequency-weighted sum over the target shapes, in milli-GPU.

use super::share::{GpuNode, ModelSet, PodShape};

/// The share of pods (percent) the kept shapes must cover.
pub const POPULARITY_THRESHOLD_PCT: f64 = 95.0;

/// One target shape and its frequency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetShape {
    /// CPU request in milli-cores.
    pub cpu_milli: u32,
    /// GPUs requested.
    pub num_gpu: u8,
    /// Milli-GPU per GPU.
    pub gpu_milli: u16,
    /// Accepted models.
    pub models: ModelSet,
    /// Frequency, the kept shapes summing to 1.
    pub freq: f64,
}

/// The target workload: popular pod shapes with their frequencies, most popular first.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TargetWorkload {
    /// The kept shapes.
    pub shapes: Vec<TargetShape>,
}

impl TargetWorkload {
    /// Builds the target workload from the original pods.
    pub fn from_pods(pods: &[PodShape]) -> TargetWorkload {
        type Key = (u32, u16, u8, ModelSet);
        let mut counts: std::collections::BTreeMap<Key, u64> = Default::default();
        for p in pods {
            *counts
                .entry((p.cpu_milli, p.gpu_milli, p.num_gpu, p.models))
                .or_insert(0) += 1;
        }
        let mut ranked: Vec<(Key, u64)> = counts.into_iter().collect();
        // Most popular first; equal counts by larger shape first (the artifact's reverse order).
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let total = pods.len() as f64;
        let wanted = POPULARITY_THRESHOLD_PCT * total / 100.0;
        let mut kept = 0usize;
        let mut cum = 0.0;
        while cum < wanted && kept < ranked.len() {
            cum += ranked[kept].1 as f64;
            kept += 1;
        }
        let shapes = ranked[..kept]
            .iter()
            .map(|&((cpu, milli, num, models), n)| TargetShape {
                cpu_milli: cpu,
                num_gpu: num,
                gpu_milli: milli,
                models,
                freq: n as f64 / cum,
            })
            .collect();
        TargetWorkload { shapes }
    }

    /// The node's fragmentation in milli-GPU, given its CPU left and per-GPU milli left.
    pub fn frag_of(&self, cpu_left: u32, model: u8, left: &[u16]) -> f64 {
        let total: u32 = left.iter().map(|&m| m as u32).sum();
        if total == 0 {
            return 0.0;
        }
        let mut frag = 0.0;
        for s in &self.shapes {
            if s.gpu_milli == 0 || !s.models.allows(model) {
                frag += s.freq * total as f64;
                continue;
            }
            let mut fitting = 0u32;
            let mut too_full = 0u32;
            for &m in left {
                if m >= s.gpu_milli {
                    fitting += 1;
                } else {
                    too_full += m as u32;
                }
            }
            if fitting >= s.num_gpu as u32 && cpu_left >= s.cpu_milli {
                frag += s.freq * too_full as f64;
            } else {
                frag += s.freq * total as f64;
            }
        }
        frag
    }

    /// The node's fragmentation in milli-GPU.
    pub fn node_frag(&self, node: &GpuNode) -> f64 {
        self.frag_of(node.cpu_left, node.model, node.left())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cpu: u32, num: u8, milli: u16) -> PodShape {
        PodShape {
            cpu_milli: cpu,
            memory_mib: 0,
            num_gpu: num,
            gpu_milli: milli,
            models: ModelSet::ANY,
        }
    }

    #[test]
    fn target_keeps_popular_shapes_and_renormalises() {
        let mut pods = vec![shape(1000, 1, 500); 60];
        pods.extend(vec![shape(2000, 1, 1000); 38]);
        pods.extend(vec![shape(3000, 2, 1000); 2]);
        let t = TargetWorkload::from_pods(&pods);
        assert_eq!(t.shapes.len(), 2);
        assert!((t.shapes[0].freq - 60.0 / 98.0).abs() < 1e-12);
    }

    #[test]
    fn frag_counts_unusable_milli() {
        let t = TargetWorkload {
            shapes: vec![TargetShape {
                cpu_milli: 1000,
                num_gpu: 1,
                gpu_milli: 500,
                models: ModelSet::ANY,
                freq: 1.0,
            }],
        };
        // GPU 0 has 300 left (too little), GPU 1 has 600 (usable): 300 fragmented.
        assert_eq!(t.frag_of(4000, 0, &[300, 600]), 300.0);
        // Not enough CPU: everything idle is fragmented.
        assert_eq!(t.frag_of(500, 0, &[300, 600]), 900.0);
        assert_eq!(t.frag_of(500, 0, &[0, 0]), 0.0);
    }
}
