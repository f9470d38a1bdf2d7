//! The Cluster Autoscaler: every scan it adds nodes for pods that fit nowhere (bin-packing them
//! into each node pool's template node and letting the expander choose a pool), and removes nodes
//! that have been unneeded (requests at or below the utilisation threshold; GPU nodes judged by
//! their GPU requests) for the unneeded time, once the delay after the last scale-up has passed.
//! A NotReady node (a failed one) is judged the same way (empty once its pods are evicted) over
//! the longer unready time. With too many NotReady nodes the cluster is unhealthy and a scan does
//! nothing, as upstream's cluster state registry decides.

use super::snapshot::{topology_bound, Snapshot};
use super::{NodePhase, World};
use crate::cluster::{ResVec, ResourceNames};
use crate::engine::{Rng, RngStreams, SimDuration, SimTime};
use crate::ids::{NodeId, PodId, PoolId, ServiceId};
use crate::metrics::RequestSink;
use crate::scenario::{ClusterAutoscalerSpec, Expander};
use crate::scheduler::filter::filter;
use crate::scheduler::{NodeView, PodView};
use crate::world::Event;
use rand::RngExt;

/// Most nodes being removed at once, empty ones first (`--max-scale-down-parallelism`).
const MAX_SCALE_DOWN_PARALLELISM: usize = 10;
/// Most nodes being drained at once (`--max-drain-parallelism`).
const MAX_DRAIN_PARALLELISM: usize = 1;
/// How long a node whose removal simulation failed is left out of scale-down
/// (`--unremovable-node-recheck-timeout`).
const UNREMOVABLE_RECHECK: SimDuration = SimDuration::from_secs(300);
/// A node group's first backoff after a failed scale-up (`InitialNodeGroupBackoffDuration`).
const INITIAL_BACKOFF: SimDuration = SimDuration::from_secs(300);
/// The longest backoff (`MaxNodeGroupBackoffDuration`).
const MAX_BACKOFF: SimDuration = SimDuration::from_secs(1800);

/// What the Cluster Autoscaler remembers.
#[derive(Debug)]
pub(in crate::world) struct ClusterAutoscaler {
    spec: ClusterAutoscalerSpec,
    rng: Rng,
    /// Since when each node has been unneeded (by node index).
    unneeded_since: Vec<Option<SimTime>>,
    /// Until when each node is left out after a failed removal simulation (by node index).
    unremovable_until: Vec<Option<SimTime>>,
    /// Nodes this autoscaler is draining (deletions in progress).
    draining: Vec<NodeId>,
    last_scale_up: Option<SimTime>,
    /// Scale-ups made, nodes added, nodes removed.
    pub(in crate::world) scale_ups: u64,
    pub(in crate::world) nodes_added: u64,
    pub(in crate::world) nodes_removed: u64,
    /// Per pool: backed off until, and the backoff to use after the next failure.
    backoff: Vec<(SimTime, SimDuration)>,
    /// Nodes removed because they were not ready within `max-node-provision-time`.
    pub(in crate::world) provision_timeouts: u64,
    /// NotReady nodes removed after the unready time.
    pub(in crate::world) unready_removed: u64,
    /// Scans skipped because the cluster was unhealthy (too many NotReady nodes).
    pub(in crate::world) unhealthy_scans: u64,
}

impl ClusterAutoscaler {
    pub(in crate::world) fn new(spec: ClusterAutoscalerSpec, streams: &RngStreams) -> Self {
        ClusterAutoscaler {
            spec,
            rng: streams.stream("cluster-autoscaler/expander"),
            unneeded_since: Vec::new(),
            unremovable_until: Vec::new(),
            draining: Vec::new(),
            last_scale_up: None,
            scale_ups: 0,
            nodes_added: 0,
            nodes_removed: 0,
            backoff: Vec::new(),
            provision_timeouts: 0,
            unready_removed: 0,
            unhealthy_scans: 0,
        }
    }

    /// Whether `pool` is backed off at `now` after a failed scale-up.
    fn backed_off(&self, pool: usize, now: SimTime) -> bool {
        self.backoff.get(pool).is_some_and(|b| b.0 > now)
    }

    /// When the first scan happens.
    pub(in crate::world) fn first_scan(&self) -> SimTime {
        SimTime(self.spec.scan_interval.0)
    }
}

/// A scale-up option: `nodes` new nodes of `pool` for `pods` pending pods, which request
/// `cpu` and `memory` (in whole units) in all.
#[derive(Clone, Copy, Debug)]
struct Option_ {
    pool: PoolId,
    nodes: u32,
    pods: u32,
    cpu: f64,
    memory: f64,
}

/// Pending pods that schedule alike (upstream's equivalence groups): the same template (model
/// version) and requests. `pod` is one of them.
#[derive(Clone, Copy, Debug)]
struct Group {
    pod: PodId,
    count: u32,
}

/// Whether a node in `phase` counts in its node group's size: a failed (NotReady) node is still
/// an instance of the group until it is deleted.
fn in_group(phase: NodePhase) -> bool {
    matches!(
        phase,
        NodePhase::Provisioning | NodePhase::Ready | NodePhase::NotReady
    )
}

/// How many more pods of `req` fit on a node with `alloc` of which `used` is requested.
fn fits(req: &ResVec, alloc: &ResVec, used: &ResVec) -> u32 {
    let mut n = u64::MAX;
    for (i, &r) in req.0.iter().enumerate() {
        if let Some(k) = alloc.0[i].saturating_sub(used.0[i]).checked_div(r) {
            n = n.min(k);
        }
    }
    n.min(u32::MAX as u64) as u32
}

impl World {
    /// Pods like `pod` (its template and requests) that fit on an empty node of `pool`, passing
    /// the scheduler's filters (those that look at other pods aside: pods under them are
    /// estimated on a snapshot, see `estimate_on_snapshot`).
    fn pods_per_template_node(&self, pool: PoolId, pod: PodId) -> u32 {
        let k = &self.kube;
        let p = &k.pools[pool.index()];
        let zeros = ResVec::zeros(k.names.len());
        let node = NodeView {
            allocatable: &p.allocatable,
            requested: &zeros,
            labels: &p.spec.labels,
            taints: &p.spec.taints,
            matching_pods: 0,
            version_pods: 0,
            has_image: false,
            unschedulable: false,
            terminating_pods: 0,
            service_pods: &[],
            service_terminating: &[],
            not_ready: false,
        };
        let (requests, nonzero_requests) = k.requests_of(pod);
        let view = PodView {
            template: k.template_of(pod),
            requests,
            nonzero_requests,
            held_off: &[],
        };
        if filter(&view, &node).is_err() {
            return 0;
        }
        fits(requests, &p.allocatable, &zeros)
    }

    /// Packs the pods left in `left` (by group) first-fit onto one node of `pool` with `used`
    /// already requested, skipping groups the pool cannot hold; returns how many it placed.
    fn pack_node(
        &self,
        pool: usize,
        groups: &[Group],
        holds: &[bool],
        left: &mut [u32],
        used: &mut ResVec,
    ) -> u32 {
        let alloc = &self.kube.pools[pool].allocatable;
        let mut placed = 0;
        for (g, group) in groups.iter().enumerate() {
            if left[g] == 0 || !holds[g] {
                continue;
            }
            let req = self.kube.requests_of(group.pod).0;
            let n = fits(req, alloc, used).min(left[g]);
            for _ in 0..n {
                used.add(req);
            }
            left[g] -= n;
            placed += n;
        }
        placed
    }

    /// The binpacking estimator on a snapshot, for pods whose placement depends on the others':
    /// pods left in `left` (by group) go first-fit onto new template nodes of `pool`, each
    /// passing the scheduler's filters (spread and anti-affinity with the whole snapshot's
    /// counts); a group that does not fit a fresh node is skipped. Returns (nodes, pods placed,
    /// what the new nodes request).
    fn estimate_on_snapshot(
        &self,
        base: &Snapshot,
        pool: usize,
        groups: &[Group],
        left: &[u32],
        room: u32,
    ) -> (u32, u32, ResVec) {
        let k = &self.kube;
        let mut snap = base.clone();
        let first = snap.len();
        let (mut nodes, mut pods) = (0u32, 0u32);
        'groups: for (g, group) in groups.iter().enumerate() {
            for _ in 0..left[g] {
                let s = match snap.fit(k, group.pod, first..snap.len()) {
                    Some(s) => s,
                    None if nodes < room => {
                        let name = format!("template-node-for-{}-{nodes}", k.pools[pool].spec.name);
                        let s = snap.add(k, pool, &name);
                        if snap.fit(k, group.pod, [s]).is_none() {
                            snap.pop();
                            continue 'groups;
                        }
                        nodes += 1;
                        s
                    }
                    None => continue 'groups,
                };
                snap.place(k, group.pod, s);
                pods += 1;
            }
        }
        let mut requested = ResVec::zeros(k.names.len());
        for s in first..snap.len() {
            requested.add(snap.requested(s));
        }
        (nodes, pods, requested)
    }

    /// One scan: scale up for unschedulable pods, else consider scaling down.
    pub(in crate::world) fn on_ca_scan<S: RequestSink>(&mut self, sink: &mut S) {
        let Some(ca) = &self.kube.ca else { return };
        let next = self.now + ca.spec.scan_interval;
        self.ca_provision_timeouts();
        if !self.ca_cluster_healthy() {
            // Upstream logs "cluster is not ready for autoscaling", forgets its unneeded nodes
            // and waits for the next scan.
            let ca = self.kube.ca.as_mut().expect("checked above");
            ca.unhealthy_scans += 1;
            ca.unneeded_since.iter_mut().for_each(|u| *u = None);
        } else if !self.ca_scale_up() {
            self.ca_scale_down(sink);
        }
        if next < self.horizon {
            self.queue.push(next, Event::CaScan);
        }
    }

    /// Upstream's `IsClusterHealthy`: unhealthy when the NotReady nodes number more than
    /// `ok-total-unready-count` and more than `max-total-unready-percentage` of the registered
    /// nodes (launched nodes still provisioning are not registered).
    fn ca_cluster_healthy(&self) -> bool {
        let ca = self.kube.ca.as_ref().expect("checked by the caller");
        let (mut registered, mut unready) = (0u32, 0u32);
        for n in &self.kube.nodes {
            match n.phase {
                NodePhase::Ready | NodePhase::Draining => registered += 1,
                NodePhase::NotReady => {
                    registered += 1;
                    unready += 1;
                }
                NodePhase::Provisioning | NodePhase::Terminated => {}
            }
        }
        !(unready > ca.spec.ok_unready_count
            && unready as f64 > ca.spec.max_unready_percentage / 100.0 * registered as f64)
    }

    /// Removes nodes still provisioning `max-node-provision-time` after launch (upstream counts
    /// the scale-up as failed and deletes them) and backs their pool off: 5 minutes, doubling on
    /// each further failure up to 30 minutes.
    fn ca_provision_timeouts(&mut self) {
        let now = self.now;
        let ca = self.kube.ca.as_mut().expect("checked by the caller");
        let limit = ca.spec.max_node_provision_time;
        let pools = self.kube.pools.len();
        if ca.backoff.len() < pools {
            ca.backoff.resize(pools, (SimTime::ZERO, INITIAL_BACKOFF));
        }
        let mut changed = false;
        for n in &mut self.kube.nodes {
            if n.phase != NodePhase::Provisioning || n.launched + limit > now {
                continue;
            }
            n.phase = NodePhase::Terminated;
            n.ended = Some(now);
            n.version += 1;
            ca.provision_timeouts += 1;
            let b = &mut ca.backoff[n.pool.index()];
            if b.0 <= now {
                *b = (now + b.1, SimDuration((b.1 .0 * 2).min(MAX_BACKOFF.0)));
            }
            changed = true;
        }
        if changed {
            self.publish_cluster();
        }
    }

    /// Adds nodes for pending pods beyond what provisioning nodes will hold; true if it did.
    fn ca_scale_up(&mut self) -> bool {
        if self.kube.pending.is_empty() {
            return false;
        }
        // Pending pods in groups that schedule alike: during a rollout the new version's pods
        // may request more than the old ones, and a VPA may have resized some.
        let k = &self.kube;
        let mut groups: Vec<Group> = Vec::new();
        for &pod in &k.pending {
            let alike = |g: &&mut Group| {
                k.pods[g.pod.index()].version == k.pods[pod.index()].version
                    && k.requests_of(g.pod).0 == k.requests_of(pod).0
            };
            match groups.iter_mut().find(alike) {
                Some(g) => g.count += 1,
                None => groups.push(Group { pod, count: 1 }),
            }
        }
        let pools = k.pools.len();
        // Where a pod may go depends on where the others are: simulate the scheduler's filters
        // on a snapshot of the cluster instead of packing by resources.
        let topo = groups.iter().any(|g| topology_bound(k.template_of(g.pod)));
        // Whether an empty node of each pool could hold a pod of each group (for packing by
        // resources; the snapshot's filters decide that themselves).
        let holds: Vec<Vec<bool>> = if topo {
            Vec::new()
        } else {
            (0..pools)
                .map(|p| {
                    groups
                        .iter()
                        .map(|g| self.pods_per_template_node(PoolId(p as u32), g.pod) > 0)
                        .collect()
                })
                .collect()
        };
        // Capacity already on its way: nodes still provisioning take pending pods first.
        let mut left: Vec<u32> = groups.iter().map(|g| g.count).collect();
        let mut live = vec![0u32; pools];
        let mut total = 0u32;
        for n in &self.kube.nodes {
            if n.phase != NodePhase::Terminated {
                total += 1;
            }
            if in_group(n.phase) {
                live[n.pool.index()] += 1;
            }
            if n.phase == NodePhase::Provisioning && !topo {
                let p = n.pool.index();
                let mut used = ResVec::zeros(k.names.len());
                self.pack_node(p, &groups, &holds[p], &mut left, &mut used);
            }
        }
        let base = topo.then(|| {
            let (mut snap, index) = k.snapshot(true);
            let upcoming: Vec<usize> = (0..snap.len())
                .filter(|&s| k.nodes[index[s]].phase == NodePhase::Provisioning)
                .collect();
            for (g, group) in groups.iter().enumerate() {
                while left[g] > 0 {
                    let Some(s) = snap.fit(k, group.pod, upcoming.iter().copied()) else {
                        break;
                    };
                    snap.place(k, group.pod, s);
                    left[g] -= 1;
                }
            }
            snap
        });
        if left.iter().all(|&n| n == 0) {
            return false;
        }
        let ca = self.kube.ca.as_ref().expect("checked by the caller");
        let mut options = Vec::new();
        for p in 0..pools {
            let max = self.kube.pools[p].spec.max_size;
            if live[p] >= max || ca.backed_off(p, self.now) {
                continue;
            }
            let mut room = max - live[p];
            if ca.spec.max_nodes_total > 0 {
                room = room.min(ca.spec.max_nodes_total.saturating_sub(total));
            }
            // Upstream's binpacking estimator: new template nodes, each filled first-fit.
            let (nodes, pods, requested) = match &base {
                Some(snap) => self.estimate_on_snapshot(snap, p, &groups, &left, room),
                None => {
                    let mut rest = left.clone();
                    let (mut nodes, mut pods) = (0u32, 0u32);
                    let mut requested = ResVec::zeros(k.names.len());
                    while nodes < room {
                        let mut used = ResVec::zeros(k.names.len());
                        let placed = self.pack_node(p, &groups, &holds[p], &mut rest, &mut used);
                        if placed == 0 {
                            break;
                        }
                        nodes += 1;
                        pods += placed;
                        requested.add(&used);
                    }
                    (nodes, pods, requested)
                }
            };
            if nodes > 0 {
                let unit = |r: usize| requested.0[r] as f64 / 1000.0;
                options.push(Option_ {
                    pool: PoolId(p as u32),
                    nodes,
                    pods,
                    cpu: unit(ResourceNames::CPU),
                    memory: unit(ResourceNames::MEMORY),
                });
            }
        }
        let Some(choice) = self.expand(&options) else {
            return false;
        };
        let delay = self.kube.pools[choice.pool.index()].spec.provisioning_delay;
        for _ in 0..choice.nodes {
            let id = self.new_node(choice.pool);
            self.queue
                .push(self.now + delay, Event::NodeReady { node: id });
        }
        let ca = self.kube.ca.as_mut().expect("checked by the caller");
        ca.scale_ups += 1;
        ca.nodes_added += choice.nodes as u64;
        ca.last_scale_up = Some(self.now);
        self.publish_cluster();
        true
    }

    /// The expander's choice among `options` (ties broken at random, as upstream).
    fn expand(&mut self, options: &[Option_]) -> Option<Option_> {
        if options.is_empty() {
            return None;
        }
        let k = &self.kube;
        let cap = |o: &Option_, r: usize| -> f64 {
            let name = k.names.name(r);
            k.pools[o.pool.index()]
                .spec
                .capacity
                .get(name)
                .map_or(0.0, |q| q.as_f64())
        };
        let score = |o: &Option_| -> f64 {
            let ca = k.ca.as_ref().expect("a cluster autoscaler");
            match &ca.spec.expander {
                Expander::Random => 0.0,
                Expander::MostPods => -(o.pods as f64),
                Expander::LeastWaste => {
                    let waste = |r: usize| {
                        let total = cap(o, r) * o.nodes as f64;
                        if total <= 0.0 {
                            0.0
                        } else {
                            let requested = if r == ResourceNames::CPU {
                                o.cpu
                            } else {
                                o.memory
                            };
                            (total - requested) / total
                        }
                    };
                    waste(ResourceNames::CPU) + waste(ResourceNames::MEMORY)
                }
                Expander::Price => {
                    k.pools[o.pool.index()].spec.price_usd_per_hour * o.nodes as f64
                        / o.pods.max(1) as f64
                }
                Expander::Priority(list) => {
                    let name = &k.pools[o.pool.index()].spec.name;
                    list.iter()
                        .find(|(_, pools)| pools.iter().any(|p| p == name))
                        .map_or(f64::INFINITY, |(prio, _)| -(*prio as f64))
                }
            }
        };
        let scores: Vec<f64> = options.iter().map(score).collect();
        let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let ties: Vec<usize> = (0..options.len())
            .filter(|&i| scores[i] == best || (best.is_infinite() && scores[i].is_infinite()))
            .collect();
        let ca = self.kube.ca.as_mut().expect("a cluster autoscaler");
        let pick = if ties.len() == 1 {
            ties[0]
        } else {
            ties[ca.rng.random_range(0..ties.len())]
        };
        Some(options[pick])
    }

    /// Whether node `i` is at or below its utilisation threshold (upstream's
    /// `isNodeAtOrBelowUtilizationThreshold`, `<=` as from Cluster Autoscaler 1.35.0): a node
    /// with GPUs is judged by its GPU requests alone, any other by the larger of its CPU and
    /// memory request ratios.
    fn ca_underutilized(&self, i: usize) -> bool {
        let k = &self.kube;
        let ca = k.ca.as_ref().expect("checked by the caller");
        let n = &k.nodes[i];
        let alloc = &k.pools[n.pool.index()].allocatable;
        let ratio = |r: usize| {
            if alloc.0[r] == 0 {
                0.0
            } else {
                n.requested.0[r] as f64 / alloc.0[r] as f64
            }
        };
        match k.names.index("nvidia.com/gpu").filter(|&g| alloc.0[g] > 0) {
            Some(g) => ratio(g) <= ca.spec.gpu_utilization_threshold,
            None => {
                ratio(ResourceNames::CPU).max(ratio(ResourceNames::MEMORY))
                    <= ca.spec.utilization_threshold
            }
        }
    }

    /// Upstream's removal simulation of node `i` (`RemovalSimulator.SimulateNodeRemoval`): its
    /// pods, with those earlier simulations moved onto it, must all fit on the other Ready nodes
    /// not already found removable in this scan, and the PodDisruptionBudgets must allow
    /// evicting them after the pods of the nodes already found removable. On success the moves
    /// are kept for the rest of the scan (upstream's planner commits each successful
    /// simulation), so the remaining nodes may receive the moved pods.
    fn ca_simulate_removal(&self, i: usize, sim: &mut RemovalSim) -> bool {
        let k = &self.kube;
        let own = sim.running[i].clone();
        // The budgets: this node's Ready pods on top of those already counted.
        let mut ready = vec![0u32; k.deps.len()];
        for &p in &own {
            if k.pods[p.index()].phase == super::PodPhase::Ready {
                ready[k.svc_of(p).index()] += 1;
            }
        }
        let pdb_ok = (0..ready.len()).all(|s| {
            ready[s] == 0
                || self.pdb_allows_eviction(ServiceId(s as u32), sim.evicted[s] + ready[s])
        });
        if !pdb_ok {
            return false;
        }
        let mut pods = own;
        pods.extend(sim.moved_in[i].iter().copied());
        let target = |j: usize| j != i && k.nodes[j].phase == NodePhase::Ready && !sim.gone[j];
        let mut moves: Vec<(PodId, usize)> = Vec::with_capacity(pods.len());
        match &sim.snap {
            // Placement depends on the other pods: the scheduler's filters on the snapshot.
            Some((snap, index, at)) => {
                let mut trial = snap.clone();
                if let Some(s) = at[i] {
                    trial.remove(s);
                }
                let targets: Vec<usize> = (0..index.len()).filter(|&s| target(index[s])).collect();
                for &pod in &pods {
                    let Some(s) = trial.fit(k, pod, targets.iter().copied()) else {
                        return false;
                    };
                    trial.place(k, pod, s);
                    moves.push((pod, index[s]));
                }
                sim.snap.as_mut().expect("matched above").0 = trial;
            }
            // Otherwise first-fit by requests.
            None => {
                for &pod in &pods {
                    let req = k.requests_of(pod).0;
                    let slot = (0..k.nodes.len()).find(|&j| {
                        target(j)
                            && sim.used[j]
                                .fits_within(req, &k.pools[k.nodes[j].pool.index()].allocatable)
                    });
                    let Some(j) = slot else {
                        for &(p, j) in &moves {
                            sim.used[j].sub(k.requests_of(p).0);
                        }
                        return false;
                    };
                    sim.used[j].add(req);
                    moves.push((pod, j));
                }
            }
        }
        for (e, r) in sim.evicted.iter_mut().zip(&ready) {
            *e += r;
        }
        sim.gone[i] = true;
        sim.moved_in[i].clear();
        for (pod, j) in moves {
            sim.moved_in[j].push(pod);
        }
        true
    }

    /// Scale-down as upstream's planner does it: finds the unneeded nodes (underutilised, and
    /// their removal simulation succeeds), keeps each one's unneeded clock only while it stays
    /// unneeded, and, outside the cooldown, removes those unneeded long enough: empty nodes
    /// first, then drains, within the per-scan parallelism limits.
    fn ca_scale_down<S: RequestSink>(&mut self, sink: &mut S) {
        let now = self.now;
        let ca = self.kube.ca.as_ref().expect("checked by the caller");
        if !ca.spec.scale_down {
            return;
        }
        let in_cooldown = ca
            .last_scale_up
            .is_some_and(|t| t + ca.spec.delay_after_add > now);
        let (unneeded_time, unready_time, scan) = (
            ca.spec.unneeded_time,
            ca.spec.unready_time,
            ca.spec.scan_interval,
        );
        let unready_scale_down = ca.spec.unready_scale_down;
        let k = &self.kube;
        let n_nodes = k.nodes.len();
        // Pods starting or serving on each node (`Kube::running_on` for every node at once).
        let mut running: Vec<Vec<PodId>> = vec![Vec::new(); n_nodes];
        let mut topo = false;
        for (p, pod) in k.pods.iter().enumerate() {
            if let (Some(n), super::PodPhase::Starting | super::PodPhase::Ready) =
                (pod.node, pod.phase)
            {
                running[n.index()].push(PodId(p as u32));
                topo = topo || topology_bound(k.template_of(PodId(p as u32)));
            }
        }
        let mut size = vec![0u32; k.pools.len()];
        for n in &k.nodes {
            if in_group(n.phase) {
                size[n.pool.index()] += 1;
            }
        }
        let since = |i: usize| ca.unneeded_since.get(i).copied().flatten();
        let recent = |i: usize| {
            ca.unremovable_until
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|t| t > now)
        };
        // Candidates: registered nodes of node groups above their minimum size (upstream's
        // `GetScaleDownCandidates`), at or below the threshold, not recently unremovable. A
        // NotReady node's pods are left to the node lifecycle controller's eviction: such a node
        // is a candidate once it is empty.
        let mut order: Vec<(bool, bool, usize)> = (0..n_nodes)
            .filter(|&i| {
                let n = &k.nodes[i];
                let judged = match n.phase {
                    NodePhase::Ready => true,
                    NodePhase::NotReady => unready_scale_down && n.pods == 0,
                    _ => false,
                };
                judged
                    && size[n.pool.index()] > k.pools[n.pool.index()].spec.min_size
                    && !recent(i)
                    && self.ca_underutilized(i)
            })
            .map(|i| {
                let empty = running[i].is_empty();
                // Empty nodes first, then those unneeded in the previous scan.
                (!empty, since(i).is_none(), i)
            })
            .collect();
        order.sort_unstable();
        // How many removable nodes one scan looks for (`Planner.unneededNodesLimit`).
        let n = MAX_SCALE_DOWN_PARALLELISM;
        let previous = (0..n_nodes).filter(|&i| since(i).is_some()).count();
        let per_scan = (unneeded_time.0 / scan.0.max(1)).max(1) as usize;
        let limit = (previous + 2 * n).min(n * per_scan + n);
        let mut sim = RemovalSim {
            running,
            used: k.nodes.iter().map(|n| n.requested.clone()).collect(),
            moved_in: vec![Vec::new(); n_nodes],
            gone: vec![false; n_nodes],
            evicted: vec![0; k.deps.len()],
            snap: topo.then(|| {
                let (snap, index) = k.snapshot(false);
                let mut at = vec![None; n_nodes];
                for (s, &j) in index.iter().enumerate() {
                    at[j] = Some(s);
                }
                (snap, index, at)
            }),
        };
        let mut removable: Vec<(usize, bool)> = Vec::new();
        let mut failed = Vec::new();
        for &(nonempty, _, i) in &order {
            if removable.len() >= limit {
                break;
            }
            if self.ca_simulate_removal(i, &mut sim) {
                removable.push((i, !nonempty));
            } else {
                failed.push(i);
            }
        }
        // The unneeded set is replaced: a node keeps its clock only if it is still in it.
        let ca = self.kube.ca.as_mut().expect("checked by the caller");
        ca.unneeded_since.resize(n_nodes, None);
        ca.unremovable_until.resize(n_nodes, None);
        let mut keep = vec![false; n_nodes];
        for &(i, _) in &removable {
            keep[i] = true;
        }
        for (i, u) in ca.unneeded_since.iter_mut().enumerate() {
            if keep[i] {
                u.get_or_insert(now);
            } else {
                *u = None;
            }
        }
        for &i in &failed {
            ca.unremovable_until[i] = Some(now + UNREMOVABLE_RECHECK);
        }
        if in_cooldown {
            return;
        }
        // Removable now (`Nodes.RemovableAt`): unneeded for longer than the unneeded (or
        // unready) time, strictly, and the node group stays above its minimum size.
        let nodes = &self.kube.nodes;
        ca.draining
            .retain(|d| nodes[d.index()].phase == NodePhase::Draining);
        let in_progress = ca.draining.len();
        removable.sort_unstable_by_key(|&(i, _)| i);
        let (mut empty, mut drain) = (Vec::new(), Vec::new());
        for (i, is_empty) in removable {
            let wait = if nodes[i].phase == NodePhase::NotReady {
                unready_time
            } else {
                unneeded_time
            };
            let p = nodes[i].pool.index();
            let long_enough = ca.unneeded_since[i].is_some_and(|t| t + wait < now);
            if !long_enough || size[p] <= self.kube.pools[p].spec.min_size {
                continue;
            }
            size[p] -= 1;
            if is_empty {
                empty.push(i);
            } else {
                drain.push(i);
            }
        }
        // The per-scan budgets (`ScaleDownBudgetProcessor.CropNodes`): deletions in progress
        // count against `--max-scale-down-parallelism`, empty nodes take it first, and drains
        // are further held to `--max-drain-parallelism`.
        let mut left = n.saturating_sub(in_progress);
        empty.truncate(left);
        left -= empty.len();
        drain.truncate(left.min(MAX_DRAIN_PARALLELISM.saturating_sub(in_progress)));
        if empty.is_empty() && drain.is_empty() {
            return;
        }
        let removed: Vec<usize> = empty.iter().chain(&drain).copied().collect();
        ca.nodes_removed += removed.len() as u64;
        for &i in &removed {
            ca.unneeded_since[i] = None;
            if self.kube.nodes[i].phase == NodePhase::NotReady {
                ca.unready_removed += 1;
            }
        }
        for &i in &drain {
            ca.draining.push(NodeId(i as u32));
        }
        for &i in &removed {
            if self.kube.nodes[i].phase == NodePhase::NotReady {
                let name = self.node_name(NodeId(i as u32));
                self.incident("unready_node_removed", name);
            }
        }
        for i in removed {
            self.remove_node(NodeId(i as u32), sink);
        }
        self.reconcile_all(sink);
        self.schedule_pending();
        self.publish_cluster();
    }
}

/// One scan's removal simulations, kept from one node to the next (upstream's planner forks
/// the cluster snapshot for the scan and commits each successful simulation to it).
struct RemovalSim {
    /// Per node: its pods starting or serving.
    running: Vec<Vec<PodId>>,
    /// Per node: what its pods request, with the pods moved onto it.
    used: Vec<ResVec>,
    /// Per node: pods earlier simulations moved onto it.
    moved_in: Vec<Vec<PodId>>,
    /// Per node: found removable in this scan (no longer a destination).
    gone: Vec<bool>,
    /// Per service: Ready pods the removable nodes' drains would evict.
    evicted: Vec<u32>,
    /// Where placement depends on other pods: the snapshot, its nodes' indices, and each
    /// node's place in it.
    snap: Option<(Snapshot, Vec<usize>, Vec<Option<usize>>)>,
}
