//! The openb trace replayed in time: each pod arrives at its creation time and leaves at its
//! deletion time, placed by one policy, and the cluster's allocation and fragmentation are sampled
//! at a fixed interval.
//!
//! For each (policy, seed): the GPU nodes are put in the order the seed permutes them to, exactly as
//! in [`crate::gpu::pack`] (stream `pack/nodes`), so a seed's cluster is the same in both; there is
//! no inflation and no shuffle, only the original pods at their own times. Arrivals and departures
//! go through an [`EventQueue`]. The trace's times are whole seconds; within one second every
//! departure comes before every arrival (a departure is scheduled at the second's first nanosecond,
//! an arrival at its second), and arrivals of one second come in file order. An arriving pod is
//! placed by the policy (the same code as `pack`, [`Placer`]) or, if no node holds it, counted as
//! failed and dropped: it is not retried when capacity frees up later (the paper's simulator also
//! counts a pod it cannot place as failed and moves on). A pod without a deletion time stays to the
//! end. A pod deleted in the second it was created is placed and taken off again at once, after the
//! arrivals already queued for that second.
//!
//! A sample at time `T` (0, one interval, two, ... up to the first multiple of the interval at or
//! after the last event) shows the state after every event of the seconds up to and including `T`.
//! Fragmentation is measured as `pack` measures it, against the target workload made from the pod
//! list. The Random policy draws from stream `replay/random`. Runs are independent, run in parallel
//! with rayon, and come back in (policy, seed) order, identical for any thread count.

use super::frag::TargetWorkload;
use super::pack::{index_shapes, permuted_nodes, Workload};
use super::place::{Placement, Placer};
use super::policy::Policy;
use super::trace::{PackTrace, PodTimes};
use crate::engine::queue::EventQueue;
use crate::engine::rng::RngStreams;
use crate::engine::time::{SimTime, NANOS_PER_SEC};
use rayon::prelude::*;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    /// Policies, in output order.
    pub policies: Vec<Policy>,
    /// Seeds, in output order.
    pub seeds: Vec<u64>,
    /// Seconds between samples (at least 1).
    pub interval_s: u64,
}

/// The cluster at one sample time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayRow {
    /// Seconds from the trace's start.
    pub time_s: u64,
    /// Pods placed and not yet deleted.
    pub pods_running: u32,
    /// Pods that found no node, since the start.
    pub pods_failed_total: u32,
    /// Allocated milli-GPU, percent of capacity.
    pub alloc_gpu_pct: f64,
    /// Fragmented milli-GPU (against the target workload), percent of capacity.
    pub frag_gpu_pct: f64,
}

/// One (policy, seed) replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRun {
    /// The policy.
    pub policy: Policy,
    /// The seed.
    pub seed: u64,
    /// Pods that arrived.
    pub pods: usize,
    /// Pods that found no node.
    pub failed: usize,
    /// One row per sample time, in time order.
    pub rows: Vec<ReplayRow>,
}

/// A policy's replays summarised: time-averaged over samples, then averaged over seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplaySummary {
    /// Runs summarised.
    pub runs: usize,
    /// Mean allocated GPU percent over the samples.
    pub mean_alloc_gpu_pct: f64,
    /// Mean fragmented GPU percent over the samples.
    pub mean_frag_gpu_pct: f64,
    /// Highest allocated GPU percent of any sample, averaged over seeds.
    pub peak_alloc_gpu_pct: f64,
    /// Failed pods per run.
    pub mean_failed: f64,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Depart(u32),
    Arrive(u32),
}

const DEPART_PHASE: u64 = 0;
const ARRIVE_PHASE: u64 = 1;

fn at(second: u64, phase: u64) -> SimTime {
    SimTime(second.saturating_mul(NANOS_PER_SEC).saturating_add(phase))
}

/// The samples a replay of pods with `times` takes every `interval_s` seconds (one per interval up
/// to the last creation or deletion, and one at 0), or why there would be too many
/// ([`crate::scenario::limits::REPLAY_SAMPLES`]).
pub fn samples(times: &[PodTimes], interval_s: u64) -> Result<u64, String> {
    let end = times
        .iter()
        .map(|t| t.deletion_s.unwrap_or(t.creation_s).max(t.creation_s))
        .max()
        .unwrap_or(0);
    let n = end.div_ceil(interval_s.max(1)) + 1;
    crate::scenario::limits::REPLAY_SAMPLES
        .check(n)
        .map(|()| n)
        .map_err(|m| {
            format!("--interval {interval_s}s: the pods span {end} s; {m}; sample less often")
        })
}

/// Replays every (policy, seed) pair of `cfg` on `trace`, in parallel on the current rayon pool.
/// Fails when the pod list has no `creation_time`/`deletion_time` columns, the interval is 0 or
/// the samples would pass [`crate::scenario::limits::REPLAY_SAMPLES`].
pub fn run_replay(trace: &PackTrace, cfg: &ReplayConfig) -> Result<Vec<ReplayRun>, String> {
    let times = trace.times.as_deref().ok_or_else(|| {
        "the pod list has no creation_time and deletion_time columns, which the replay needs"
            .to_string()
    })?;
    if cfg.interval_s == 0 {
        return Err("the sampling interval must be at least 1 s".into());
    }
    samples(times, cfg.interval_s)?;
    let target = TargetWorkload::from_pods(&trace.pods);
    let work = index_shapes(&trace.pods);
    let jobs: Vec<(Policy, u64)> = cfg
        .policies
        .iter()
        .flat_map(|&p| cfg.seeds.iter().map(move |&s| (p, s)))
        .collect();
    Ok(jobs
        .par_iter()
        .map(|&(p, s)| run_one(trace, times, &work, &target, p, s, cfg.interval_s))
        .collect())
}

fn run_one(
    trace: &PackTrace,
    times: &[PodTimes],
    work: &Workload,
    target: &TargetWorkload,
    policy: Policy,
    seed: u64,
    interval: u64,
) -> ReplayRun {
    let streams = RngStreams::new(seed);
    let nodes = permuted_nodes(trace, &streams);
    let rng = streams.stream(&format!("replay/{}", policy.name()));
    let mut placer = Placer::new(policy, target, nodes, work.kinds, rng);
    let cap = trace.capacity_milli() as f64;

    let mut order: Vec<u32> = (0..times.len() as u32).collect();
    order.sort_by_key(|&i| (times[i as usize].creation_s, i));
    let mut queue = EventQueue::with_capacity(2 * times.len());
    for &i in &order {
        queue.push(
            at(times[i as usize].creation_s, ARRIVE_PHASE),
            Event::Arrive(i),
        );
    }
    let end = times
        .iter()
        .map(|t| t.deletion_s.unwrap_or(t.creation_s).max(t.creation_s))
        .max()
        .unwrap_or(0);
    let last_sample = end.div_ceil(interval) * interval;

    let mut placed: Vec<Option<Placement>> = vec![None; times.len()];
    let mut running = 0u32;
    let mut failed = 0u32;
    let mut allocated = 0u64;
    let mut rows = Vec::with_capacity((last_sample / interval + 1) as usize);
    let mut next = 0u64;
    let mut sample = |t: u64, running: u32, failed: u32, allocated: u64, placer: &Placer| {
        rows.push(ReplayRow {
            time_s: t,
            pods_running: running,
            pods_failed_total: failed,
            alloc_gpu_pct: allocated as f64 * 100.0 / cap,
            frag_gpu_pct: placer.frag_total() * 100.0 / cap,
        });
    };

    while let Some(t) = queue.peek_time() {
        let second = t.0 / NANOS_PER_SEC;
        while next < second {
            sample(next, running, failed, allocated, &placer);
            next += interval;
        }
        let Some((now, event)) = queue.pop() else {
            break;
        };
        match event {
            Event::Arrive(i) => {
                let pod = &work.shapes[i as usize];
                let kind = work.shape_of[i as usize] as usize;
                match placer.place(pod, kind) {
                    Some(p) => {
                        placed[i as usize] = Some(p);
                        running += 1;
                        allocated += pod.total_milli() as u64;
                        if let Some(d) = times[i as usize].deletion_s {
                            queue.push(at(d, DEPART_PHASE).max(now), Event::Depart(i));
                        }
                    }
                    None => failed += 1,
                }
            }
            Event::Depart(i) => {
                if let Some(p) = placed[i as usize].take() {
                    let pod = &work.shapes[i as usize];
                    placer.remove(pod, p);
                    running -= 1;
                    allocated -= pod.total_milli() as u64;
                }
            }
        }
    }
    while next <= last_sample {
        sample(next, running, failed, allocated, &placer);
        next += interval;
    }
    ReplayRun {
        policy,
        seed,
        pods: times.len(),
        failed: failed as usize,
        rows,
    }
}

/// `replay.csv`: a header and one row per (policy, seed, sample time), in run order.
pub fn to_csv(runs: &[ReplayRun]) -> String {
    let mut out = String::from(
        "policy,seed,time_s,pods_running,pods_failed_total,alloc_gpu_pct,frag_gpu_pct,unallocated_gpu_pct\n",
    );
    for r in runs {
        for row in &r.rows {
            out.push_str(&format!(
                "{},{},{},{},{},{:.4},{:.4},{:.4}\n",
                r.policy.name(),
                r.seed,
                row.time_s,
                row.pods_running,
                row.pods_failed_total,
                row.alloc_gpu_pct,
                row.frag_gpu_pct,
                100.0 - row.alloc_gpu_pct
            ));
        }
    }
    out
}

/// The runs of `policy` summarised, or `None` if there are none.
pub fn summarise(runs: &[ReplayRun], policy: Policy) -> Option<ReplaySummary> {
    let mine: Vec<&ReplayRun> = runs
        .iter()
        .filter(|r| r.policy == policy && !r.rows.is_empty())
        .collect();
    if mine.is_empty() {
        return None;
    }
    let n = mine.len() as f64;
    let mean = |f: &dyn Fn(&ReplayRow) -> f64| {
        mine.iter()
            .map(|r| r.rows.iter().map(f).sum::<f64>() / r.rows.len() as f64)
            .sum::<f64>()
            / n
    };
    Some(ReplaySummary {
        runs: mine.len(),
        mean_alloc_gpu_pct: mean(&|row| row.alloc_gpu_pct),
        mean_frag_gpu_pct: mean(&|row| row.frag_gpu_pct),
        peak_alloc_gpu_pct: mine
            .iter()
            .map(|r| r.rows.iter().map(|x| x.alloc_gpu_pct).fold(0.0, f64::max))
            .sum::<f64>()
            / n,
        mean_failed: mine.iter().map(|r| r.failed as f64).sum::<f64>() / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::share::{GpuNode, ModelSet, PodShape};
    use proptest::prelude::*;

    fn trace(nodes: &[u8], pods: &[(u8, u16, u64, Option<u64>)]) -> PackTrace {
        PackTrace {
            models: vec!["A".into()],
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, &g)| (format!("n{i}"), GpuNode::new(64_000, 1 << 20, g, 0)))
                .collect(),
            pods: pods
                .iter()
                .map(|&(num, milli, _, _)| PodShape {
                    cpu_milli: 1000,
                    memory_mib: 1024,
                    num_gpu: num,
                    gpu_milli: milli,
                    models: ModelSet::ANY,
                })
                .collect(),
            times: Some(
                pods.iter()
                    .map(|&(_, _, c, d)| PodTimes {
                        creation_s: c,
                        deletion_s: d,
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn departures_free_room_for_arrivals_in_the_same_second() {
        // One GPU: a whole-GPU pod leaves at 10 just as another arrives at 10; it fits.
        let t = trace(&[1], &[(1, 1000, 0, Some(10)), (1, 1000, 10, None)]);
        let cfg = ReplayConfig {
            policies: Policy::ALL.to_vec(),
            seeds: vec![1],
            interval_s: 5,
        };
        for r in run_replay(&t, &cfg).unwrap() {
            assert_eq!(r.failed, 0, "{}", r.policy);
            let times: Vec<u64> = r.rows.iter().map(|x| x.time_s).collect();
            assert_eq!(times, vec![0, 5, 10]);
            assert!(r.rows.iter().all(|x| x.pods_running == 1));
        }
    }

    #[test]
    fn a_pod_list_without_times_is_refused() {
        let mut t = trace(&[1], &[(1, 1000, 0, None)]);
        t.times = None;
        let cfg = ReplayConfig {
            policies: vec![Policy::Fgd],
            seeds: vec![1],
            interval_s: 5,
        };
        assert!(run_replay(&t, &cfg).unwrap_err().contains("creation_time"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn state_stays_consistent(
            nodes in proptest::collection::vec(1u8..=8, 1..6),
            pods in proptest::collection::vec((0u8..4, 1u16..=1000, 0u64..50, proptest::option::of(0u64..60)), 1..60),
            seed in 0u64..100,
        ) {
            let pods: Vec<(u8, u16, u64, Option<u64>)> = pods
                .into_iter()
                .map(|(num, milli, c, d)| {
                    let milli = match num { 0 => 0, 1 => milli, _ => 1000 };
                    (num, milli, c, d.map(|d| d.max(c)))
                })
                .collect();
            let t = trace(&nodes, &pods);
            let cfg = ReplayConfig { policies: Policy::ALL.to_vec(), seeds: vec![seed], interval_s: 7 };
            for run in run_replay(&t, &cfg).unwrap() {
                let mut failed = 0;
                for row in &run.rows {
                    prop_assert!(row.alloc_gpu_pct <= 100.0 + 1e-9 && row.alloc_gpu_pct >= -1e-9);
                    prop_assert!(row.frag_gpu_pct >= -1e-9);
                    prop_assert!(row.frag_gpu_pct <= 100.0 - row.alloc_gpu_pct + 1e-6);
                    prop_assert!(row.pods_failed_total >= failed);
                    failed = row.pods_failed_total;
                }
                // At the end only the pods without a deletion time can still run.
                let last = run.rows.last().unwrap();
                let stay = pods.iter().filter(|p| p.3.is_none()).count() as u32;
                prop_assert!(last.pods_running <= stay);
                prop_assert_eq!(last.pods_running + last.pods_failed_total >= stay, true);
            }
        }
    }
}
