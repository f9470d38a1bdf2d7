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
use crate::ids::{NodeId, PodId, PoolId};
use crate::metrics::RequestSink;
use crate::scenario::{ClusterAutoscalerSpec, Expander};
use crate::scheduler::filter::filter;
use crate::scheduler::{NodeView, PodView};
use crate::world::Event;
use rand::RngExt;

/// Most empty nodes removed in one scan (`--max-scale-down-parallelism`).
const MAX_EMPTY_REMOVALS: usize = 10;
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

    /// Whether every pod on node `i` fits first-fit, with its own requests, on the other Ready
    /// nodes that are not scale-down candidates themselves; where a pod's placement depends on
    /// the others' (spread, anti-affinity), on a snapshot without node `i`, through the
    /// scheduler's filters.
    fn drain_fits(&self, i: usize, candidates: &[usize]) -> bool {
        let k = &self.kube;
        let pods = k.running_on(NodeId(i as u32));
        if pods.iter().any(|&p| topology_bound(k.template_of(p))) {
            return k
                .reschedule_elsewhere(i, &pods, |j| !candidates.contains(&j))
                .is_empty();
        }
        let mut free: Vec<(ResVec, &ResVec)> = k
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, n)| *j != i && n.phase == NodePhase::Ready && !candidates.contains(j))
            .map(|(_, n)| (n.requested.clone(), &k.pools[n.pool.index()].allocatable))
            .collect();
        pods.iter().all(|&pod| {
            let req = k.requests_of(pod).0;
            match free
                .iter_mut()
                .find(|(used, alloc)| used.fits_within(req, alloc))
            {
                Some((used, _)) => {
                    used.add(req);
                    true
                }
                None => false,
            }
        })
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

    /// Marks unneeded nodes and removes those unneeded long enough.
    fn ca_scale_down<S: RequestSink>(&mut self, sink: &mut S) {
        let now = self.now;
        let ca = self.kube.ca.as_ref().expect("checked by the caller");
        if !ca.spec.scale_down {
            return;
        }
        let in_cooldown = ca
            .last_scale_up
            .is_some_and(|t| t + ca.spec.delay_after_add > now);
        let (threshold, gpu_threshold, unneeded_time, unready_time) = (
            ca.spec.utilization_threshold,
            ca.spec.gpu_utilization_threshold,
            ca.spec.unneeded_time,
            ca.spec.unready_time,
        );
        let unready_scale_down = ca.spec.unready_scale_down;
        let names = &self.kube.names;
        let gpu = names.index("nvidia.com/gpu");
        let n_nodes = self.kube.nodes.len();
        let mut unneeded = vec![false; n_nodes];
        for (i, n) in self.kube.nodes.iter().enumerate() {
            let judged = match n.phase {
                NodePhase::Ready => true,
                NodePhase::NotReady => unready_scale_down,
                _ => false,
            };
            if !judged {
                continue;
            }
            let alloc = &self.kube.pools[n.pool.index()].allocatable;
            let ratio = |r: usize| {
                if alloc.0[r] == 0 {
                    0.0
                } else {
                    n.requested.0[r] as f64 / alloc.0[r] as f64
                }
            };
            let util_ok = match gpu.filter(|&g| alloc.0[g] > 0) {
                Some(g) => ratio(g) <= gpu_threshold,
                None => ratio(ResourceNames::CPU).max(ratio(ResourceNames::MEMORY)) <= threshold,
            };
            unneeded[i] = util_ok;
        }
        let ca = self.kube.ca.as_mut().expect("checked by the caller");
        ca.unneeded_since.resize(n_nodes, None);
        for (i, &u) in unneeded.iter().enumerate() {
            if u {
                ca.unneeded_since[i].get_or_insert(now);
            } else {
                ca.unneeded_since[i] = None;
            }
        }
        if in_cooldown {
            return;
        }
        let nodes = &self.kube.nodes;
        let candidates: Vec<usize> = (0..n_nodes)
            .filter(|&i| {
                let wait = if nodes[i].phase == NodePhase::NotReady {
                    unready_time
                } else {
                    unneeded_time
                };
                ca.unneeded_since[i].is_some_and(|t| t + wait <= now)
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let mut live = vec![0u32; self.kube.pools.len()];
        for n in &self.kube.nodes {
            if in_group(n.phase) {
                live[n.pool.index()] += 1;
            }
        }
        let mut removed = Vec::new();
        // Empty nodes first (several per scan), then one node whose pods fit elsewhere.
        for &i in candidates.iter().filter(|&&i| self.kube.nodes[i].pods == 0) {
            let p = self.kube.nodes[i].pool.index();
            if removed.len() < MAX_EMPTY_REMOVALS && live[p] > self.kube.pools[p].spec.min_size {
                live[p] -= 1;
                removed.push(i);
            }
        }
        if removed.is_empty() {
            // A NotReady node's pods are evicted by the node lifecycle controller, not drained.
            let drainable = |&&i: &&usize| {
                self.kube.nodes[i].pods > 0 && self.kube.nodes[i].phase == NodePhase::Ready
            };
            for &i in candidates.iter().filter(drainable) {
                let p = self.kube.nodes[i].pool.index();
                if live[p] <= self.kube.pools[p].spec.min_size {
                    continue;
                }
                let all_fit = self.drain_fits(i, &candidates);
                // A drain the PodDisruptionBudget would refuse makes the node not removable.
                if all_fit && self.pdb_allows_drain(NodeId(i as u32)) {
                    removed.push(i);
                    break;
                }
            }
        }
        if removed.is_empty() {
            return;
        }
        let ca = self.kube.ca.as_mut().expect("checked by the caller");
        ca.nodes_removed += removed.len() as u64;
        for &i in &removed {
            ca.unneeded_since[i] = None;
            if self.kube.nodes[i].phase == NodePhase::NotReady {
                ca.unready_removed += 1;
            }
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
