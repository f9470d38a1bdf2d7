//! The FGD artifact's packing experiment, as `capsim pack` runs it.
//!
//! For each (policy, seed): the GPU nodes are put in an order permuted by the seed; the workload is
//! every original pod plus copies drawn with replacement from the originals, appended while the
//! next copy keeps the total GPU request within `inflate` × the cluster's GPU capacity (if the
//! originals alone exceed it, random pods are dropped until they fit; a workload that requests no
//! GPU at all is not inflated); the list is shuffled; pods
//! arrive one at a time and are placed by the policy or fail; nothing departs. Among equally scored
//! nodes the first in the permuted order wins (the paper's simulator takes the smallest node name,
//! names being prefixed with a seed-permuted number). After each arrival,
//! once the arrived pods' cumulative GPU request first reaches another whole percent of capacity,
//! the allocated and fragmented GPU shares are recorded.
//!
//! Every random choice draws from a named stream of the seed ([`crate::engine::rng`]): `pack/nodes`,
//! `pack/inflate`, `pack/shuffle`, and `pack/random` for the Random policy's draws, so all policies
//! see the same cluster and workload for a seed. Runs are independent and run in parallel with rayon;
//! results are collected in (policy, seed) order, identical for any thread count.

use super::frag::TargetWorkload;
use super::place::Placer;
use super::policy::Policy;
use super::share::{GpuNode, PodShape};
use super::trace::PackTrace;
use crate::engine::rng::RngStreams;
use rand::seq::SliceRandom;
use rand::RngExt;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct PackConfig {
    /// Policies, in output order.
    pub policies: Vec<Policy>,
    /// Seeds, in output order.
    pub seeds: Vec<u64>,
    /// Target total GPU request as a multiple of GPU capacity (the artifact uses 1.3).
    pub inflate: f64,
}

/// The cluster's state when the arrived GPU request first reached `arrived_pct` of capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PackRow {
    /// Arrived GPU request, whole percent of capacity.
    pub arrived_pct: u32,
    /// Allocated milli-GPU, percent of capacity.
    pub alloc_gpu_pct: f64,
    /// Fragmented milli-GPU (against the target workload), percent of capacity.
    pub frag_gpu_pct: f64,
}

/// One (policy, seed) run.
#[derive(Clone, Debug, PartialEq)]
pub struct PackRun {
    /// The policy.
    pub policy: Policy,
    /// The seed.
    pub seed: u64,
    /// Pods that arrived (originals plus copies).
    pub pods: usize,
    /// Pods that found no node.
    pub failed: usize,
    /// One row per whole percent reached, from 0.
    pub rows: Vec<PackRow>,
}

impl PackRun {
    /// The row at `pct` arrived, if the run reached it.
    pub fn at(&self, pct: u32) -> Option<&PackRow> {
        self.rows.iter().find(|r| r.arrived_pct == pct)
    }
}

/// Pods with their shape index (shapes that score alike share an index).
pub(crate) struct Workload {
    pub(crate) shapes: Vec<PodShape>,
    pub(crate) shape_of: Vec<u32>,
    pub(crate) kinds: usize,
}

pub(crate) fn index_shapes(pods: &[PodShape]) -> Workload {
    let mut ids: BTreeMap<(u32, u16, u8, super::share::ModelSet), u32> = BTreeMap::new();
    let mut shape_of = Vec::with_capacity(pods.len());
    for p in pods {
        let next = ids.len() as u32;
        let id = *ids
            .entry((p.cpu_milli, p.gpu_milli, p.num_gpu, p.models))
            .or_insert(next);
        shape_of.push(id);
    }
    Workload {
        shapes: pods.to_vec(),
        shape_of,
        kinds: ids.len(),
    }
}

/// Runs every (policy, seed) pair of `cfg` on `trace`, in parallel on the current rayon pool.
pub fn run_grid(trace: &PackTrace, cfg: &PackConfig) -> Vec<PackRun> {
    let target = TargetWorkload::from_pods(&trace.pods);
    let work = index_shapes(&trace.pods);
    let jobs: Vec<(Policy, u64)> = cfg
        .policies
        .iter()
        .flat_map(|&p| cfg.seeds.iter().map(move |&s| (p, s)))
        .collect();
    jobs.par_iter()
        .map(|&(p, s)| run_one(trace, &work, &target, p, s, cfg.inflate))
        .collect()
}

/// The arrival order for a seed: originals plus copies within `inflate` × capacity, shuffled.
fn arrivals(trace: &PackTrace, work: &Workload, streams: &RngStreams, inflate: f64) -> Vec<u32> {
    let cap = trace.capacity_milli() as f64;
    let limit = inflate * cap;
    let n = work.shapes.len();
    let mut list: Vec<u32> = (0..n as u32).collect();
    let mut total: f64 = work.shapes.iter().map(|p| p.total_milli() as f64).sum();
    let mut rng = streams.stream("pack/inflate");
    if total > limit {
        while total > limit && !list.is_empty() {
            let i = rng.random_range(0..list.len());
            total -= work.shapes[list[i] as usize].total_milli() as f64;
            list.remove(i);
        }
    } else if total > 0.0 {
        // (Without any GPU request there is nothing to inflate, and no copy could ever stop it.)
        loop {
            let i = rng.random_range(0..n);
            let req = work.shapes[i].total_milli() as f64;
            if total + req > limit {
                break;
            }
            total += req;
            list.push(i as u32);
        }
    }
    list.shuffle(&mut streams.stream("pack/shuffle"));
    list
}

fn run_one(
    trace: &PackTrace,
    work: &Workload,
    target: &TargetWorkload,
    policy: Policy,
    seed: u64,
    inflate: f64,
) -> PackRun {
    let streams = RngStreams::new(seed);
    let nodes = permuted_nodes(trace, &streams);
    let list = arrivals(trace, work, &streams, inflate);
    let rng = streams.stream(&format!("pack/{}", policy.name()));
    let mut placer = Placer::new(policy, target, nodes, work.kinds, rng);

    let cap = trace.capacity_milli();
    let mut rows = Vec::new();
    let mut next_pct: u64 = 0;
    let mut arrived: u64 = 0;
    let mut allocated: u64 = 0;
    let mut failed = 0usize;
    let mut record = |arrived: u64, allocated: u64, placer: &Placer, rows: &mut Vec<PackRow>| {
        while arrived * 100 >= next_pct * cap {
            rows.push(PackRow {
                arrived_pct: next_pct as u32,
                alloc_gpu_pct: allocated as f64 * 100.0 / cap as f64,
                frag_gpu_pct: placer.frag_total() * 100.0 / cap as f64,
            });
            next_pct += 1;
        }
    };
    record(0, 0, &placer, &mut rows);

    for &pi in &list {
        let pod = &work.shapes[pi as usize];
        let kind = work.shape_of[pi as usize] as usize;
        match placer.place(pod, kind) {
            Some(_) => allocated += pod.total_milli() as u64,
            None => failed += 1,
        }
        arrived += pod.total_milli() as u64;
        record(arrived, allocated, &placer, &mut rows);
    }
    PackRun {
        policy,
        seed,
        pods: list.len(),
        failed,
        rows,
    }
}

/// The trace's GPU nodes in the order the seed permutes them to (stream `pack/nodes`).
pub fn permuted_nodes(trace: &PackTrace, streams: &RngStreams) -> Vec<GpuNode> {
    let mut order: Vec<usize> = (0..trace.nodes.len()).collect();
    order.shuffle(&mut streams.stream("pack/nodes"));
    order.iter().map(|&i| trace.nodes[i].1.clone()).collect()
}

/// `pack.csv`: a header and one row per (policy, seed, arrived percent), in run order.
pub fn to_csv(runs: &[PackRun]) -> String {
    let mut out =
        String::from("policy,seed,arrived_pct,alloc_gpu_pct,frag_gpu_pct,unallocated_gpu_pct\n");
    for r in runs {
        for row in &r.rows {
            out.push_str(&format!(
                "{},{},{},{:.4},{:.4},{:.4}\n",
                r.policy.name(),
                r.seed,
                row.arrived_pct,
                row.alloc_gpu_pct,
                row.frag_gpu_pct,
                100.0 - row.alloc_gpu_pct
            ));
        }
    }
    out
}

/// Mean unallocated GPU percent at `pct` arrived over the runs of `policy` that reached it, with
/// the number of such runs.
pub fn mean_unallocated(runs: &[PackRun], policy: Policy, pct: u32) -> Option<(f64, usize)> {
    let vals: Vec<f64> = runs
        .iter()
        .filter(|r| r.policy == policy)
        .filter_map(|r| r.at(pct))
        .map(|row| 100.0 - row.alloc_gpu_pct)
        .collect();
    if vals.is_empty() {
        None
    } else {
        Some((vals.iter().sum::<f64>() / vals.len() as f64, vals.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::share::ModelSet;
    use proptest::prelude::*;

    fn trace(nodes: &[(u8, u8)], pods: &[(u32, u8, u16, bool)]) -> PackTrace {
        PackTrace {
            models: vec!["A".into(), "B".into()],
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, &(g, m))| (format!("n{i}"), GpuNode::new(32_000, 1 << 18, g, m)))
                .collect(),
            pods: pods
                .iter()
                .map(|&(cpu, num, milli, only_b)| PodShape {
                    cpu_milli: cpu,
                    memory_mib: 1024,
                    num_gpu: num,
                    gpu_milli: if num == 0 {
                        0
                    } else if num > 1 {
                        1000
                    } else {
                        milli
                    },
                    models: if only_b {
                        ModelSet {
                            any: false,
                            mask: 2,
                        }
                    } else {
                        ModelSet::ANY
                    },
                })
                .collect(),
            times: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn allocation_never_exceeds_capacity_or_arrivals(
            nodes in proptest::collection::vec((1u8..=8, 0u8..2), 1..12),
            pods in proptest::collection::vec((0u32..16_000, 0u8..5, 1u16..=1000, proptest::bool::ANY), 1..60),
            seed in 0u64..1000,
        ) {
            let t = trace(&nodes, &pods);
            let cfg = PackConfig { policies: Policy::ALL.to_vec(), seeds: vec![seed], inflate: 1.5 };
            for run in run_grid(&t, &cfg) {
                let mut prev = 0.0;
                for row in &run.rows {
                    prop_assert!(row.alloc_gpu_pct <= 100.0 + 1e-9);
                    prop_assert!(row.alloc_gpu_pct + 1e-9 >= prev);
                    prop_assert!(row.frag_gpu_pct >= -1e-9);
                    prop_assert!(row.frag_gpu_pct <= 100.0 - row.alloc_gpu_pct + 1e-6);
                    prev = row.alloc_gpu_pct;
                }
            }
        }
    }

    #[test]
    fn a_cpu_only_workload_is_not_inflated() {
        let t = trace(&[(8, 0)], &[(1000, 0, 0, false), (2000, 0, 0, false)]);
        let w = index_shapes(&t.pods);
        assert_eq!(arrivals(&t, &w, &RngStreams::new(1), 1.3).len(), 2);
    }

    #[test]
    fn seeds_and_inflation_follow_the_protocol() {
        let t = trace(
            &[(8, 0), (2, 1)],
            &[(1000, 1, 500, false), (1000, 2, 1000, false)],
        );
        let w = index_shapes(&t.pods);
        let list = arrivals(&t, &w, &RngStreams::new(1), 1.3);
        let total: u32 = list.iter().map(|&i| t.pods[i as usize].total_milli()).sum();
        assert!(total as f64 <= 1.3 * 10_000.0);
        assert!(total as f64 >= 1.3 * 10_000.0 - 2000.0);
        assert!(list.contains(&0) && list.contains(&1));
    }
}
