//! Time-sliced GPUs: the device plugin advertises each GPU as several shares; pods that land on
//! the same GPU share its time but not its memory: a pod whose allocation does not fit in what is
//! free on its GPU when it loads is OOM-killed and restarted with Kubernetes' CrashLoopBackOff.
//!
//! Time is shared work-conservingly: at each moment the Ready pods on a GPU that have work (a
//! request queued or executing) split it, each getting the share measured on an H100 for that
//! many busy processes ([`share_of`]); a busy pod beside idle ones has the whole GPU. When a pod
//! becomes busy or idle, the work its co-tenants have in progress is re-timed from that moment.

use super::{NodePhase, World};
use crate::engine::{SimDuration, SimTime};
use crate::ids::{EngineId, NodeId, PodId, ServiceId};
use crate::serving::ReplicaEngine;
use crate::world::Event;

/// The share of a GPU's time each of `k` busy processes gets (index `k - 1`), measured on an H100
/// (`calibration/h100/timeslice.csv`: llama-3.2-1b decode steps per second of each process,
/// relative to one process alone, the mean of batches 8 and 64 where both were measured).
pub const MEASURED_SHARES: [f64; 4] = [1.0, 0.467180, 0.325153, 0.233273];

/// The share of its GPU's time each of `k` busy processes gets: measured up to 4; beyond, the
/// aggregate throughput measured for 4 (0.933 of one alone) divided evenly.
pub fn share_of(k: u32) -> f64 {
    match k {
        0 | 1 => 1.0,
        k if (k as usize) <= MEASURED_SHARES.len() => MEASURED_SHARES[k as usize - 1],
        k => MEASURED_SHARES[3] * 4.0 / f64::from(k),
    }
}

/// CrashLoopBackOff: the first restart after 10 s, doubling to at most 300 s.
const BACKOFF_FIRST: SimDuration = SimDuration::from_secs(10);
const BACKOFF_MAX: SimDuration = SimDuration::from_secs(300);

/// The shares of one node's GPUs and their memory.
#[derive(Clone, Debug)]
pub(in crate::world) struct SharedGpus {
    replicas: u32,
    /// Pod holding each share; shares `g * replicas ..` belong to GPU `g` (the device plugin's
    /// order, which kubelet fills from the first).
    slots: Vec<Option<PodId>>,
    /// Bytes allocated on each GPU.
    used: Vec<u64>,
    memory: u64,
}

impl SharedGpus {
    pub(in crate::world) fn new(gpus: u32, replicas: u32, memory: u64) -> Self {
        SharedGpus {
            replicas,
            slots: vec![None; (gpus * replicas) as usize],
            used: vec![0; gpus as usize],
            memory,
        }
    }
}

/// What a pod holds on a shared GPU.
#[derive(Clone, Copy, Debug, Default)]
pub(in crate::world) struct GpuShare {
    /// The node and GPU index, once bound to a time-sliced node.
    pub(in crate::world) gpu: Option<(NodeId, u32)>,
    /// Its first share's slot on the node (where a pod holding several counts once).
    pub(in crate::world) first_slot: u32,
    /// Whether its memory is allocated.
    pub(in crate::world) holds_memory: bool,
    /// Restarts after OOM kills.
    pub(in crate::world) restarts: u32,
    /// Whether its engine has work (a request queued or executing).
    pub(in crate::world) busy: bool,
    /// The share of the GPU's time its engine was last given (0 before the first).
    pub(in crate::world) time: f64,
}

impl World {
    /// On binding to a time-sliced node: takes the pod's shares, lowest first.
    pub(in crate::world) fn take_shares(&mut self, pod: PodId, node: NodeId) {
        let want = self.kube.deps[self.kube.svc_of(pod).index()].shared_request as usize;
        if want == 0 {
            return;
        }
        let Some(s) = self.kube.nodes[node.index()].shared.as_mut() else {
            return;
        };
        let mut first = None;
        let mut taken = 0;
        for (i, slot) in s.slots.iter_mut().enumerate() {
            if taken == want {
                break;
            }
            if slot.is_none() {
                *slot = Some(pod);
                first.get_or_insert(i);
                taken += 1;
            }
        }
        if let Some(i) = first {
            let share = &mut self.kube.pods[pod.index()].share;
            share.gpu = Some((node, i as u32 / s.replicas));
            share.first_slot = i as u32;
        }
    }

    /// Allocates the pod's GPU memory as it loads; false if it does not fit (an OOM kill).
    pub(in crate::world) fn allocate_gpu_memory(&mut self, pod: PodId) -> bool {
        let need = self.kube.template_of(pod).gpu_memory_bytes;
        let share = self.kube.pods[pod.index()].share;
        let (Some((node, g)), false) = (share.gpu, share.holds_memory) else {
            return true;
        };
        let Some(s) = self.kube.nodes[node.index()].shared.as_mut() else {
            return true;
        };
        if need == 0 {
            return true;
        }
        if s.used[g as usize] + need > s.memory {
            return false;
        }
        s.used[g as usize] += need;
        self.kube.pods[pod.index()].share.holds_memory = true;
        true
    }

    /// An OOM kill: the container restarts after its CrashLoopBackOff delay, loads again and is
    /// probed again.
    pub(in crate::world) fn oom_kill(&mut self, pod: PodId) {
        self.kube.oom_kills += 1;
        let p = &mut self.kube.pods[pod.index()];
        p.share.restarts += 1;
        let backoff =
            SimDuration((BACKOFF_FIRST.0 << (p.share.restarts - 1).min(16)).min(BACKOFF_MAX.0));
        let generation = p.generation;
        let node = p.node.expect("a killed pod is bound");
        let spec = &self.kube.pools[self.kube.nodes[node.index()].pool.index()].spec;
        let load = SimDuration::from_secs_f64(
            self.kube.template_of(pod).model_bytes as f64 / spec.model_load_bytes_per_s,
        );
        let at: SimTime =
            self.now + backoff + load + self.kube.template_of(pod).readiness_initial_delay;
        self.queue.push(at, Event::PodReady { pod, generation });
    }

    /// Releases what a departing pod held and rebalances its GPU's time.
    pub(in crate::world) fn release_shares(&mut self, pod: PodId) {
        let share = std::mem::take(&mut self.kube.pods[pod.index()].share);
        let Some((node, g)) = share.gpu else { return };
        let need = self.kube.template_of(pod).gpu_memory_bytes;
        if let Some(s) = self.kube.nodes[node.index()].shared.as_mut() {
            for slot in s.slots.iter_mut().filter(|x| **x == Some(pod)) {
                *slot = None;
            }
            if share.holds_memory {
                s.used[g as usize] -= need;
            }
        }
        self.rebalance(node, g);
    }

    /// The pod behind engine `id` of `svc` when the service's pods time-slice GPUs.
    #[inline]
    pub(in crate::world) fn time_sliced_pod(&self, svc: ServiceId, id: EngineId) -> Option<PodId> {
        let d = &self.kube.deps[svc.index()];
        if d.shared_request == 0 {
            return None;
        }
        d.slots.get(id.index()).copied()
    }

    /// Records whether `pod` has work; when that changes, re-divides its GPU's time.
    #[inline]
    pub(in crate::world) fn set_busy(&mut self, pod: PodId, busy: bool) {
        let share = &mut self.kube.pods[pod.index()].share;
        if share.busy == busy {
            return;
        }
        share.busy = busy;
        if let Some((node, g)) = share.gpu {
            self.rebalance(node, g);
        }
    }

    /// Gives each pod on GPU `g` of `node` its share of the GPU's time: the measured share for
    /// the number of pods with work (an idle pod is given what it would get on becoming busy).
    /// Pods whose share changes while they have work in progress are woken now to re-time it.
    pub(in crate::world) fn rebalance(&mut self, node: NodeId, g: u32) {
        let n = &self.kube.nodes[node.index()];
        if n.phase == NodePhase::Terminated {
            return;
        }
        let Some(s) = n.shared.as_ref() else { return };
        let (r, g) = (s.replicas as usize, g as usize);
        // Each pod once (a pod holding several shares, at its first).
        let distinct = |k: &super::Kube, i: usize| -> Option<PodId> {
            let slot = g * r + i;
            let pod = k.nodes[node.index()].shared.as_ref()?.slots[slot]?;
            (k.pods[pod.index()].share.first_slot as usize == slot).then_some(pod)
        };
        let busy = (0..r)
            .filter_map(|i| distinct(&self.kube, i))
            .filter(|p| self.kube.pods[p.index()].share.busy)
            .count() as u32;
        for i in 0..r {
            let Some(pod) = distinct(&self.kube, i) else {
                continue;
            };
            let p = &self.kube.pods[pod.index()];
            let share = share_of(if p.share.busy { busy } else { busy + 1 });
            if p.share.time == share {
                continue;
            }
            let (svc, e) = (p.svc, p.slot);
            self.kube.pods[pod.index()].share.time = share;
            let now = self.now;
            let sv = &mut self.svcs[svc.index()];
            let engine = &mut sv.engines[e.index()];
            engine.set_time_share(now, share);
            let busy = engine.in_service() > 0;
            if let Some(r) = &mut sv.router {
                r.touch(e, &mut sv.engines[e.index()]);
            }
            if busy {
                let slot = sv.wake[e.index()];
                self.queue.set_wake(slot, Some(now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_the_calibration_files_measurements() {
        // steps/s by (batch, processes), each process's mean, relative to one process alone.
        let text = include_str!("../../../calibration/h100/timeslice.csv");
        let mut rows = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (batch, k, steps): (u32, u32, f64) = (
                f[1].parse().unwrap(),
                f[3].parse().unwrap(),
                f[5].parse().unwrap(),
            );
            rows.push((batch, k, steps));
        }
        let mean = |batch: u32, k: u32| -> Option<f64> {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.0 == batch && r.1 == k)
                .map(|r| r.2)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        for k in 2..=4u32 {
            let rel: Vec<f64> = [8, 64]
                .iter()
                .filter_map(|&b| Some(mean(b, k)? / mean(b, 1)?))
                .collect();
            let want = rel.iter().sum::<f64>() / rel.len() as f64;
            assert!((share_of(k) - want).abs() < 1e-6, "{k}: {want}");
        }
        assert_eq!(share_of(0), 1.0);
        assert_eq!(share_of(1), 1.0);
        // Beyond the measurements: the aggregate of 4 divided evenly, never more in all.
        assert!((share_of(8) * 8.0 - share_of(4) * 4.0).abs() < 1e-12);
        assert!((2..=16).all(|k| share_of(k) * f64::from(k) <= 1.0));
    }
}
