//! Time-sliced GPUs: the device plugin advertises each GPU as several shares; pods that land on
//! the same GPU share its time (each gets its share of the steps, at the efficiency measured on
//! an H100) but not its memory: a pod whose allocation does not fit in what is free on its GPU
//! when it loads is OOM-killed and restarted with Kubernetes' CrashLoopBackOff.

use super::{NodePhase, PodPhase, World};
use crate::engine::{SimDuration, SimTime};
use crate::ids::{EngineId, NodeId, PodId, ServiceId};
use crate::serving::ReplicaEngine;
use crate::world::Event;

/// Aggregate throughput of `n` processes time-slicing one GPU, relative to one alone: the mean of
/// capsim's H100 measurements (llama-3.2-1b decode, batches 8 and 64, 2 to 4 processes: 0.89 to
/// 0.98, mean 0.93).
pub const TIME_SLICE_EFFICIENCY: f64 = 0.93;

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
    /// Whether its memory is allocated.
    pub(in crate::world) holds_memory: bool,
    /// Restarts after OOM kills.
    pub(in crate::world) restarts: u32,
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
            self.kube.pods[pod.index()].share.gpu = Some((node, i as u32 / s.replicas));
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

    /// Gives each Ready pod on GPU `g` of `node` its share of the GPU's time.
    pub(in crate::world) fn rebalance(&mut self, node: NodeId, g: u32) {
        if self.kube.nodes[node.index()].phase == NodePhase::Terminated {
            return;
        }
        let on_gpu: Vec<(ServiceId, EngineId)> = self
            .kube
            .pods
            .iter()
            .filter(|p| p.phase == PodPhase::Ready && p.share.gpu == Some((node, g)))
            .map(|p| (p.svc, p.slot))
            .collect();
        let n = on_gpu.len();
        let share = if n <= 1 {
            1.0
        } else {
            TIME_SLICE_EFFICIENCY / n as f64
        };
        for (svc, slot) in on_gpu {
            self.svcs[svc.index()].engines[slot.index()].set_time_share(share);
        }
    }
}
