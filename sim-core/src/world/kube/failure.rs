//! Failures and self-healing as Kubernetes does it.
//!
//! A failed node (`kind = "node"`, or every node of a zone) goes silent: its pods' processes are
//! gone (their requests fail `pod_failed`) but they stay in the Service's endpoints until the node
//! lifecycle controller marks the node NotReady after `node-monitor-grace-period` (40 s) and
//! their Ready condition false. The pods' default `unreachable`/`not-ready` tolerations (300 s)
//! then run out and they are evicted: the ReplicaSet creates replacements, which the scheduler
//! places on other nodes (or which stay Pending for the Cluster Autoscaler or Karpenter). A repair
//! brings the node back; pods not yet evicted restart on it.
//!
//! A GPU (XID-style) fault hangs the pod using that GPU or MIG slice: its requests fail, its
//! readiness probe fails `failureThreshold` times (then it leaves the endpoints) and, with a
//! liveness probe, the kubelet restarts its container after the liveness threshold; without one
//! it stays hung. A spot interruption cordons and drains the node during its notice (evictions
//! that respect the PodDisruptionBudget), then terminates it; a pool no autoscaler manages
//! launches a replacement, as a cloud node group does.

use super::{NodePhase, PodPhase};
use crate::engine::{Rng, RngStreams, SimDuration, SimTime};
use crate::ids::{NodeId, PodId, PoolId};
use crate::metrics::incident::Incident;
use crate::metrics::RequestSink;
use crate::scenario::failure::{FailureKind, FailureSpec};
use crate::serving::DropReason;
use crate::world::{Event, World};
use rand::RngExt;

/// A failure's step, carried by [`Event::Failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::world) enum FailureEvent {
    /// `[[failure]]` number `index` happens.
    Scheduled { index: u32 },
    /// `[[random_failure]]` number `which` strikes `node`.
    Random { node: NodeId, which: u32 },
    /// The node-monitor grace period of a silent node ran out.
    NodeNotReady { node: NodeId, epoch: u32 },
    /// The pods' toleration of the NotReady node ran out.
    Evict { node: NodeId, epoch: u32 },
    /// The node is repaired.
    Repaired { node: NodeId, epoch: u32 },
    /// A spot node's notice ran out.
    SpotTerminate { node: NodeId },
    /// A hung pod's readiness probe failed `failureThreshold` times.
    PodNotReady { pod: PodId, epoch: u32 },
    /// A hung pod's liveness probe failed `failureThreshold` times.
    Restart { pod: PodId, epoch: u32 },
}

/// Failure state of the cluster.
#[derive(Debug)]
pub(in crate::world) struct FailState {
    pub(in crate::world) spec: FailureSpec,
    rngs: Vec<Rng>,
    /// Per node: bumped on each failure and repair (stale events are ignored).
    node_epoch: Vec<u32>,
    /// Per pod: its process is dead or hung (requests sent to it fail).
    hung: Vec<bool>,
    /// Per pod: bumped on each fault and restart.
    pod_epoch: Vec<u32>,
    /// Everything that happened.
    pub(in crate::world) incidents: Vec<Incident>,
    /// When the first failure happened.
    pub(in crate::world) first_failure: Option<SimTime>,
    /// Whether ready replicas fell below desired after the first failure, and when they were
    /// last back at desired.
    degraded: bool,
    pub(in crate::world) recovered_at: Option<SimTime>,
    /// Pods evicted from NotReady nodes.
    pub(in crate::world) pods_evicted: u64,
    /// Containers restarted by a liveness probe or a repair.
    pub(in crate::world) restarts: u64,
    /// Pods left hung without a liveness probe.
    pub(in crate::world) hung_for_good: u64,
}

impl FailState {
    pub(in crate::world) fn new(spec: &FailureSpec, streams: &RngStreams) -> FailState {
        FailState {
            rngs: (0..spec.random.len())
                .map(|i| streams.stream(&format!("failure/random/{i}")))
                .collect(),
            spec: spec.clone(),
            node_epoch: Vec::new(),
            hung: Vec::new(),
            pod_epoch: Vec::new(),
            incidents: Vec::new(),
            first_failure: None,
            degraded: false,
            recovered_at: None,
            pods_evicted: 0,
            restarts: 0,
            hung_for_good: 0,
        }
    }

    /// Whether pod `pod`'s process is dead or hung.
    #[inline]
    pub(in crate::world) fn is_hung(&self, pod: PodId) -> bool {
        self.hung.get(pod.index()).copied().unwrap_or(false)
    }

    /// Whether any pod's hung flag was ever set or cleared (false: [`Self::is_hung`] is false
    /// for every pod, and the caller need not look the pod up).
    #[inline]
    pub(in crate::world) fn any_hung(&self) -> bool {
        !self.hung.is_empty()
    }

    fn set_hung(&mut self, pod: PodId, v: bool) -> u32 {
        let i = pod.index();
        if self.hung.len() <= i {
            self.hung.resize(i + 1, false);
            self.pod_epoch.resize(i + 1, 0);
        }
        self.hung[i] = v;
        self.pod_epoch[i] = self.pod_epoch[i].wrapping_add(1);
        self.pod_epoch[i]
    }

    fn pod_epoch(&self, pod: PodId) -> u32 {
        self.pod_epoch.get(pod.index()).copied().unwrap_or(0)
    }

    fn bump_node(&mut self, node: NodeId) -> u32 {
        let i = node.index();
        if self.node_epoch.len() <= i {
            self.node_epoch.resize(i + 1, 0);
        }
        self.node_epoch[i] = self.node_epoch[i].wrapping_add(1);
        self.node_epoch[i]
    }

    fn node_epoch(&self, node: NodeId) -> u32 {
        self.node_epoch.get(node.index()).copied().unwrap_or(0)
    }

    /// Tracks ready against desired replicas after the first failure.
    pub(in crate::world) fn observe(&mut self, now: SimTime, ready: u32, desired: u32) {
        if self.first_failure.is_none() {
            return;
        }
        if ready < desired {
            self.degraded = true;
        } else if self.degraded {
            self.degraded = false;
            self.recovered_at = Some(now);
        }
    }

    /// Whether ready replicas are below desired now (after a failure).
    pub(in crate::world) fn degraded(&self) -> bool {
        self.degraded
    }
}

impl World {
    pub(in crate::world) fn incident(&mut self, kind: &'static str, detail: String) {
        let f = &mut self.kube.fail;
        f.incidents.push(Incident {
            time_s: self.now.as_secs_f64(),
            kind: kind.to_string(),
            detail,
        });
    }

    pub(in crate::world) fn node_name(&self, node: NodeId) -> String {
        let n = &self.kube.nodes[node.index()];
        format!("{}-{node}", self.kube.pools[n.pool.index()].spec.name)
    }

    fn push_failure(&mut self, at: SimTime, ev: FailureEvent) {
        if at < self.horizon {
            self.queue.push(at, Event::Failure(ev));
        }
    }

    /// Schedules the `[[failure]]`s (called once at the start).
    pub(in crate::world) fn arm_failures(&mut self) {
        for i in 0..self.kube.fail.spec.scheduled.len() {
            let at = self.kube.fail.spec.scheduled[i].at;
            self.push_failure(at, FailureEvent::Scheduled { index: i as u32 });
        }
    }

    /// Draws a new node's time to failure from each `[[random_failure]]` of its pool.
    pub(in crate::world) fn arm_random_failures(&mut self, node: NodeId) {
        let pool = self.kube.nodes[node.index()].pool;
        for which in 0..self.kube.fail.spec.random.len() {
            let r = &self.kube.fail.spec.random[which];
            if r.pool != pool.0 {
                continue;
            }
            let mean = r.mtbf.as_secs_f64();
            let u: f64 = self.kube.fail.rngs[which].random();
            let dt = SimDuration::from_secs_f64(-mean * (1.0 - u).ln());
            self.push_failure(
                self.now + dt,
                FailureEvent::Random {
                    node,
                    which: which as u32,
                },
            );
        }
    }

    /// Handles a failure's step.
    pub(in crate::world) fn on_failure<S: RequestSink>(&mut self, ev: FailureEvent, sink: &mut S) {
        match ev {
            FailureEvent::Scheduled { index } => self.on_scheduled_failure(index as usize, sink),
            FailureEvent::Random { node, which } => self.on_random_failure(node, which, sink),
            FailureEvent::NodeNotReady { node, epoch } => {
                if self.kube.fail.node_epoch(node) == epoch {
                    self.on_node_not_ready(node);
                }
            }
            FailureEvent::Evict { node, epoch } => {
                if self.kube.fail.node_epoch(node) == epoch {
                    self.on_evict(node, sink);
                }
            }
            FailureEvent::Repaired { node, epoch } => {
                if self.kube.fail.node_epoch(node) == epoch {
                    self.on_repaired(node);
                }
            }
            FailureEvent::SpotTerminate { node } => self.on_spot_terminate(node, sink),
            FailureEvent::PodNotReady { pod, epoch } => {
                if self.kube.fail.pod_epoch(pod) == epoch && self.kube.fail.is_hung(pod) {
                    self.pod_not_ready(pod);
                    self.incident("pod_not_ready", format!("pod {}", pod.0));
                    self.publish_cluster();
                }
            }
            FailureEvent::Restart { pod, epoch } => {
                if self.kube.fail.pod_epoch(pod) == epoch && self.kube.fail.is_hung(pod) {
                    self.restart_pod(pod);
                    self.incident("pod_restarted", format!("pod {}", pod.0));
                    self.publish_cluster();
                }
            }
        }
    }

    /// The live (Ready or draining) nodes of `pool`, in launch order.
    fn live_nodes(&self, pool: PoolId) -> Vec<NodeId> {
        (0..self.kube.nodes.len() as u32)
            .map(NodeId)
            .filter(|&i| {
                let n = &self.kube.nodes[i.index()];
                n.pool == pool && matches!(n.phase, NodePhase::Ready | NodePhase::Draining)
            })
            .collect()
    }

    fn on_scheduled_failure<S: RequestSink>(&mut self, index: usize, sink: &mut S) {
        let f = self.kube.fail.spec.scheduled[index].clone();
        if f.kind == FailureKind::Zone {
            let zone = f.zone.clone().unwrap_or_default();
            let hit: Vec<NodeId> = (0..self.kube.nodes.len() as u32)
                .map(NodeId)
                .filter(|&i| {
                    let n = &self.kube.nodes[i.index()];
                    n.phase != NodePhase::Terminated
                        && n.phase != NodePhase::NotReady
                        && n.labels.get("topology.kubernetes.io/zone") == Some(&zone)
                })
                .collect();
            self.note_failure();
            self.incident("zone", format!("zone {zone}: {} nodes", hit.len()));
            if hit.is_empty() {
                self.kube.warnings.push(format!(
                    "the zone outage at {} hit no node: no live node is in zone \"{zone}\"",
                    f.at
                ));
            }
            for node in hit {
                self.fail_node(node, f.repair, sink);
            }
            self.finish_failure(sink);
            return;
        }
        let pool = PoolId(f.pool.unwrap_or(0));
        let live = self.live_nodes(pool);
        let Some(&node) = live.get(f.node as usize) else {
            self.kube.warnings.push(format!(
                "the {} failure at {} found no node {} in pool \"{}\" ({} live)",
                f.kind.name(),
                f.at,
                f.node,
                self.kube.pools[pool.index()].spec.name,
                live.len()
            ));
            return;
        };
        self.strike(node, f.kind, f.repair, f.notice, f.gpu as usize, sink);
    }

    fn on_random_failure<S: RequestSink>(&mut self, node: NodeId, which: u32, sink: &mut S) {
        if !matches!(
            self.kube.nodes[node.index()].phase,
            NodePhase::Ready | NodePhase::Draining
        ) {
            // Gone or already down: a node that comes back draws again.
            return;
        }
        let r = self.kube.fail.spec.random[which as usize].clone();
        let pods = self.kube.running_on(node).len().max(1);
        let gpu = self.kube.fail.rngs[which as usize].random_range(0..pods);
        self.strike(node, r.kind, r.repair, r.notice, gpu, sink);
        if r.kind == FailureKind::Gpu {
            // The node lives on: its next fault.
            let mean = r.mtbf.as_secs_f64();
            let u: f64 = self.kube.fail.rngs[which as usize].random();
            let dt = SimDuration::from_secs_f64(-mean * (1.0 - u).ln());
            self.push_failure(self.now + dt, FailureEvent::Random { node, which });
        }
    }

    fn note_failure(&mut self) {
        if self.kube.fail.first_failure.is_none() {
            self.kube.fail.first_failure = Some(self.now);
        }
    }

    fn strike<S: RequestSink>(
        &mut self,
        node: NodeId,
        kind: FailureKind,
        repair: Option<SimDuration>,
        notice: SimDuration,
        gpu: usize,
        sink: &mut S,
    ) {
        self.note_failure();
        let name = self.node_name(node);
        match kind {
            FailureKind::Node | FailureKind::Zone => {
                self.incident("node", name);
                self.fail_node(node, repair, sink);
            }
            FailureKind::Gpu => {
                let pods = self.kube.running_on(node);
                match pods.get(gpu % pods.len().max(1)) {
                    Some(&pod) => {
                        self.incident("gpu", format!("{name}: pod {}", pod.0));
                        self.gpu_fault(pod, sink);
                    }
                    None => self.incident("gpu", format!("{name}: no pod on it")),
                }
            }
            FailureKind::Spot => {
                self.incident("spot", format!("{name}: notice {notice}"));
                self.spot_notice(node, notice, sink);
            }
        }
        self.finish_failure(sink);
    }

    fn finish_failure<S: RequestSink>(&mut self, sink: &mut S) {
        self.reconcile_all(sink);
        self.schedule_pending();
        self.publish_cluster();
    }

    /// Kills a pod's process: its requests fail and later ones sent to it fail too.
    fn kill_process<S: RequestSink>(&mut self, pod: PodId, sink: &mut S) -> u32 {
        let (svc, slot) = (self.kube.svc_of(pod), self.kube.slot_of(pod));
        self.abort_engine(svc, slot, DropReason::PodFailed, sink);
        self.kube.fail.set_hung(pod, true)
    }

    /// A node goes silent.
    fn fail_node<S: RequestSink>(
        &mut self,
        node: NodeId,
        repair: Option<SimDuration>,
        sink: &mut S,
    ) {
        let phase = self.kube.nodes[node.index()].phase;
        if matches!(phase, NodePhase::Terminated | NodePhase::NotReady) {
            return;
        }
        let epoch = self.kube.fail.bump_node(node);
        let n = &mut self.kube.nodes[node.index()];
        n.phase = NodePhase::NotReady;
        n.version += 1;
        let pods: Vec<PodId> = (0..self.kube.pods.len() as u32)
            .map(PodId)
            .filter(|&i| {
                let p = &self.kube.pods[i.index()];
                p.node == Some(node)
                    && matches!(
                        p.phase,
                        PodPhase::Starting | PodPhase::Ready | PodPhase::Terminating
                    )
            })
            .collect();
        for pod in pods {
            self.kill_process(pod, sink);
            let p = &mut self.kube.pods[pod.index()];
            match p.phase {
                // Its readiness probe will never pass.
                PodPhase::Starting => p.generation = p.generation.wrapping_add(1),
                // Already deleted: nothing waits for it.
                PodPhase::Terminating => self.pod_gone(pod, sink),
                _ => {}
            }
        }
        let grace = self.kube.fail.spec.node_monitor_grace;
        let toleration = self.kube.fail.spec.toleration;
        self.push_failure(self.now + grace, FailureEvent::NodeNotReady { node, epoch });
        self.push_failure(
            self.now + grace + toleration,
            FailureEvent::Evict { node, epoch },
        );
        if let Some(r) = repair {
            self.push_failure(self.now + r, FailureEvent::Repaired { node, epoch });
        }
    }

    /// Takes a pod out of the Service's endpoints (its Ready condition turns false).
    fn pod_not_ready(&mut self, pod: PodId) {
        let p = &mut self.kube.pods[pod.index()];
        if p.phase != PodPhase::Ready {
            return;
        }
        p.phase = PodPhase::Starting;
        p.generation = p.generation.wrapping_add(1);
        let (svc, slot) = (p.svc, p.slot);
        let ready = self.kube.deps[svc.index()].ready_mut();
        if let Ok(i) = ready.binary_search(&slot) {
            ready.remove(i);
        }
    }

    fn on_node_not_ready(&mut self, node: NodeId) {
        if self.kube.nodes[node.index()].phase != NodePhase::NotReady {
            return;
        }
        for pod in self.kube.running_on(node) {
            self.pod_not_ready(pod);
        }
        let name = self.node_name(node);
        self.incident("node_not_ready", name);
        self.publish_cluster();
    }

    fn on_evict<S: RequestSink>(&mut self, node: NodeId, sink: &mut S) {
        if self.kube.nodes[node.index()].phase != NodePhase::NotReady {
            return;
        }
        let pods = self.kube.running_on(node);
        for &pod in &pods {
            self.pod_gone(pod, sink);
        }
        self.kube.fail.pods_evicted += pods.len() as u64;
        let name = self.node_name(node);
        self.incident("pods_evicted", format!("{name}: {} pods", pods.len()));
        self.finish_failure(sink);
    }

    fn on_repaired(&mut self, node: NodeId) {
        let n = &mut self.kube.nodes[node.index()];
        if n.phase != NodePhase::NotReady {
            return;
        }
        n.phase = NodePhase::Ready;
        n.version += 1;
        n.last_pod_event = self.now;
        self.kube.fail.bump_node(node);
        // Pods not yet evicted: the kubelet restarts their containers.
        for pod in self.kube.running_on(node) {
            self.restart_pod(pod);
        }
        let name = self.node_name(node);
        self.incident("node_repaired", name);
        self.arm_random_failures(node);
        self.schedule_pending();
        self.publish_cluster();
    }

    /// Restarts a pod's container on its node: it loads its model again and is Ready when its
    /// readiness probe next passes.
    fn restart_pod(&mut self, pod: PodId) {
        self.kube.fail.set_hung(pod, false);
        self.kube.fail.restarts += 1;
        self.pod_not_ready(pod);
        let t = self.kube.template(self.kube.svc_of(pod));
        let node = self.kube.pods[pod.index()].node.expect("a bound pod");
        let spec = &self.kube.pools[self.kube.nodes[node.index()].pool.index()].spec;
        let loaded = self.now
            + SimDuration::from_secs_f64(t.model_bytes as f64 / spec.model_load_bytes_per_s);
        let first_probe = self.now + t.readiness_initial_delay;
        let ready_at = if loaded <= first_probe {
            first_probe
        } else {
            let period = t.readiness_period.0.max(1);
            SimTime(first_probe.0 + (loaded.0 - first_probe.0).div_ceil(period) * period)
        };
        let p = &mut self.kube.pods[pod.index()];
        p.phase = PodPhase::Starting;
        p.generation = p.generation.wrapping_add(1);
        let generation = p.generation;
        if ready_at < self.horizon {
            self.queue
                .push(ready_at.max(self.now), Event::PodReady { pod, generation });
        }
    }

    /// An XID-style fault: the pod on that GPU or MIG slice hangs.
    fn gpu_fault<S: RequestSink>(&mut self, pod: PodId, sink: &mut S) {
        let epoch = self.kill_process(pod, sink);
        let t = self.kube.template(self.kube.svc_of(pod));
        let not_ready = SimDuration(t.readiness_period.0 * t.readiness_failure_threshold as u64);
        let restart = t
            .liveness
            .map(|(_, period, threshold)| SimDuration(period.0 * threshold as u64));
        self.push_failure(
            self.now + not_ready,
            FailureEvent::PodNotReady { pod, epoch },
        );
        match restart {
            Some(d) => self.push_failure(self.now + d, FailureEvent::Restart { pod, epoch }),
            None => self.kube.fail.hung_for_good += 1,
        }
    }

    fn spot_notice<S: RequestSink>(&mut self, node: NodeId, notice: SimDuration, sink: &mut S) {
        let n = &mut self.kube.nodes[node.index()];
        if !matches!(n.phase, NodePhase::Ready | NodePhase::Draining) {
            return;
        }
        // Cordon and drain: evictions through the PodDisruptionBudget.
        n.phase = NodePhase::Draining;
        n.version += 1;
        for pod in self.kube.running_on(node) {
            if self.pdb_allows_eviction(self.kube.svc_of(pod), 1) {
                self.terminate_pod(pod, sink);
            }
        }
        self.push_failure(self.now + notice, FailureEvent::SpotTerminate { node });
        self.karpenter_interrupted(node);
    }

    fn on_spot_terminate<S: RequestSink>(&mut self, node: NodeId, sink: &mut S) {
        let pool = self.kube.nodes[node.index()].pool;
        if self.kube.nodes[node.index()].phase != NodePhase::Terminated {
            let pods: Vec<PodId> = (0..self.kube.pods.len() as u32)
                .map(PodId)
                .filter(|&i| {
                    let p = &self.kube.pods[i.index()];
                    p.node == Some(node) && p.phase != PodPhase::Gone
                })
                .collect();
            for pod in pods {
                self.kill_process(pod, sink);
                self.pod_gone(pod, sink);
            }
            let n = &mut self.kube.nodes[node.index()];
            n.phase = NodePhase::Terminated;
            n.ended = Some(self.now);
            n.version += 1;
        }
        let name = self.node_name(node);
        self.incident("spot_terminated", name);
        let managed = self.kube.ca.is_some()
            || self
                .kube
                .karpenter
                .as_ref()
                .is_some_and(|k| k.manages(pool.index()));
        if !managed {
            // The node group keeps its size: a replacement instance.
            let delay = self.kube.pools[pool.index()].spec.provisioning_delay;
            let id = self.new_node(pool);
            if delay == SimDuration::ZERO {
                self.kube.nodes[id.index()].phase = NodePhase::Ready;
            } else {
                self.queue
                    .push(self.now + delay, Event::NodeReady { node: id });
            }
        }
        self.finish_failure(sink);
    }
}
