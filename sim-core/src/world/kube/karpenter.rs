//! Karpenter: batches pending pods (the batch closes after `batchIdleDuration` without a new one,
//! or `batchMaxDuration` after it opened), packs them onto new NodeClaims and launches each as
//! the cheapest instance type (on-demand or spot) of its NodePool that fits its pods; every 10 s
//! the disruption controller runs its methods in upstream's order (Emptiness, Drift, multi-node
//! then single-node consolidation, the last two in [`consolidation`], Drift in [`drift`]) within
//! the disruption budgets, consolidation commands executed 15 s later if still valid. Expired
//! nodes are drained.

use super::snapshot::topology_bound;
use super::{NodePhase, World};
use crate::cluster::ResVec;
use crate::engine::{SimDuration, SimTime};
use crate::ids::{NodeId, PodId};
use crate::metrics::RequestSink;
use crate::results::KarpenterOutcome;
use crate::scenario::karpenter::{defaults, DisruptionReason, KarpenterSpec};
use crate::scheduler::filter::filter;
use crate::scheduler::{new_node_limit, NodeView, PodView};
use crate::world::Event;

mod consolidation;
mod drift;

/// Cheaper spot types single-node spot-to-spot consolidation needs, and the most it launches
/// among (`MinInstanceTypesForSpotToSpotConsolidation`).
const MIN_SPOT_TO_SPOT_TYPES: usize = 15;
/// How long an interrupted spot offering stays unavailable (`UnavailableOfferingsTTL`).
const UNAVAILABLE_OFFERING_TTL: SimDuration = SimDuration::from_secs(180);

/// The open provisioning batch.
#[derive(Clone, Copy, Debug)]
struct Batch {
    start: SimTime,
    last: SimTime,
}

/// A disruption command awaiting validation.
#[derive(Clone, Debug)]
enum Command {
    /// Delete these nodes (their last pod event when chosen), for this reason.
    Delete(Vec<(NodeId, SimTime)>, DisruptionReason),
    /// Replace these nodes (their last pod events when chosen) with one new node of a cheaper
    /// pool.
    Replace(Vec<(NodeId, SimTime)>, usize),
}

/// Replacement nodes launching, and the nodes drained once they are all Ready.
#[derive(Clone, Debug)]
struct Replacement {
    new: Vec<NodeId>,
    old: Vec<NodeId>,
    reason: DisruptionReason,
}

/// What Karpenter remembers.
#[derive(Debug)]
pub(in crate::world) struct Karpenter {
    spec: KarpenterSpec,
    /// NodePool of each cluster pool (None: a `[[node_pool]]` Karpenter does not manage).
    nodepool_of: Vec<Option<usize>>,
    batch: Option<Batch>,
    /// Newest pending pod that has triggered a batch.
    last_seen: Option<PodId>,
    command: Option<Command>,
    /// The cluster's state (node versions, nodes, candidates) when single-node consolidation
    /// last found nothing.
    unchanged_since_failure: Option<(u64, usize, usize)>,
    /// Replacements in flight.
    replacing: Vec<Replacement>,
    /// Candidate pools (spot offerings) unavailable until a time, after an interruption.
    unavailable: Vec<(usize, SimTime)>,
    outcome: KarpenterOutcome,
}

impl Karpenter {
    pub(in crate::world) fn new(spec: KarpenterSpec) -> Self {
        let pools = spec
            .nodepools
            .iter()
            .flat_map(|n| n.all_candidates())
            .max()
            .map_or(0, |m| m + 1);
        let mut nodepool_of = vec![None; pools];
        for (i, np) in spec.nodepools.iter().enumerate() {
            for c in np.all_candidates() {
                nodepool_of[c] = Some(i);
            }
        }
        Karpenter {
            spec,
            nodepool_of,
            batch: None,
            last_seen: None,
            command: None,
            unchanged_since_failure: None,
            replacing: Vec::new(),
            unavailable: Vec::new(),
            outcome: KarpenterOutcome::default(),
        }
    }

    /// Something to provision at `now`: extends the open batch, or opens one and returns when
    /// its idle timer fires (`None` when a batch was already open).
    fn extend_batch(&mut self, now: SimTime) -> Option<SimTime> {
        match &mut self.batch {
            Some(b) => {
                b.last = now;
                None
            }
            None => {
                self.batch = Some(Batch {
                    start: now,
                    last: now,
                });
                Some(now + self.spec.batch_idle)
            }
        }
    }

    /// Whether cluster pool `pool` is one of Karpenter's candidates.
    pub(in crate::world) fn manages(&self, pool: usize) -> bool {
        self.nodepool_of.get(pool).is_some_and(Option::is_some)
    }

    /// Counters for the summary.
    pub(in crate::world) fn outcome(&self) -> KarpenterOutcome {
        self.outcome.clone()
    }

    /// The NodePool that launches nodes of cluster pool `pool`, if any.
    fn nodepool(&self, pool: usize) -> Option<usize> {
        self.nodepool_of.get(pool).copied().flatten()
    }

    /// Whether node `i` is launching as, or waiting to be drained for, a replacement.
    fn busy(&self, i: usize) -> bool {
        self.replacing
            .iter()
            .any(|r| r.new.iter().chain(&r.old).any(|n| n.index() == i))
    }
}

/// Takes room for a pod on the first launching node (of `room`: node, requested, pods meant for
/// it) that accepts it, within `limit` pods per node; false if none does.
fn take_room(w: &World, room: &mut [(usize, ResVec, u32)], pod: &PodView, limit: u32) -> bool {
    let slot = room
        .iter_mut()
        .find(|(i, used, n)| *n < limit && accepts(w, pod, w.kube.nodes[*i].pool.index(), used));
    match slot {
        Some((_, used, n)) => {
            used.add(pod.requests);
            *n += 1;
            true
        }
        None => false,
    }
}

/// Whether a pod with `req` (and the template's selectors and tolerations) may go on a node of
/// pool `pool` with `used` already requested.
fn accepts(w: &World, pod: &PodView, pool: usize, used: &ResVec) -> bool {
    let p = &w.kube.pools[pool];
    let node = NodeView {
        allocatable: &p.allocatable,
        requested: used,
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
    filter(pod, &node).is_ok() && used.fits_within(pod.requests, &p.allocatable)
}

/// A NodeClaim being packed: its pods' requests and the pools that still fit them.
struct Claim {
    nodepool: usize,
    used: ResVec,
    options: Vec<usize>,
    /// Pods packed onto it (capped by [`new_node_limit`]).
    pods: u32,
}

impl World {
    /// A scheduling pass left pods pending: a new one opens (or extends) the provisioning batch.
    pub(super) fn karpenter_notice_pending(&mut self) {
        let now = self.now;
        let Some(k) = &mut self.kube.karpenter else {
            return;
        };
        let Some(&newest) = self.kube.pending.last() else {
            return;
        };
        if k.last_seen.is_some_and(|s| newest <= s) {
            return;
        }
        k.last_seen = Some(newest);
        if let Some(at) = k.extend_batch(now) {
            self.queue.push(at, Event::KarpenterBatch);
        }
    }

    /// A spot interruption notice for `node` (upstream's interruption controller deletes its
    /// NodeClaim): the offering is unavailable for 3 minutes, and the provisioner, which counts
    /// the pods of a deleting node as pending, is triggered at once, so the replacement capacity
    /// launches while the node drains.
    pub(super) fn karpenter_interrupted(&mut self, node: NodeId) {
        let now = self.now;
        let pool = self.kube.nodes[node.index()].pool.index();
        let Some(k) = &mut self.kube.karpenter else {
            return;
        };
        if !k.manages(pool) {
            return;
        }
        k.unavailable.retain(|&(_, until)| until > now);
        k.unavailable.push((pool, now + UNAVAILABLE_OFFERING_TTL));
        if let Some(at) = k.extend_batch(now) {
            self.queue.push(at, Event::KarpenterBatch);
        }
    }

    /// The batch timer fired: close the batch if idle or full long enough, then provision.
    pub(in crate::world) fn on_karpenter_batch(&mut self) {
        let Some(k) = &mut self.kube.karpenter else {
            return;
        };
        let Some(b) = k.batch else { return };
        let close = (b.last + k.spec.batch_idle).min(b.start + k.spec.batch_max);
        if self.now < close {
            self.queue.push(close, Event::KarpenterBatch);
            return;
        }
        k.batch = None;
        self.karpenter_provision();
    }

    /// Capacity of a pool's node by resource (for NodePool limits).
    fn pool_capacity(&self, pool: usize) -> ResVec {
        let k = &self.kube;
        k.names.vector(&k.pools[pool].spec.capacity)
    }

    /// Packs `pods` onto new claims of the NodePools (highest weight first); returns the claims
    /// and how many pods fit none.
    fn karpenter_pack(&self, pods: &[PodId], nodepools: &[usize]) -> (Vec<Claim>, u32) {
        let k = &self.kube;
        let karp = k.karpenter.as_ref().expect("karpenter");
        let mut claims: Vec<Claim> = Vec::new();
        let mut unfit = 0;
        for &pod in pods {
            let (requests, nonzero_requests) = k.requests_of(pod);
            let view = PodView {
                template: k.template_of(pod),
                requests,
                nonzero_requests,
                held_off: &[],
            };
            let limit = new_node_limit(view.template);
            let mut placed = false;
            for c in claims.iter_mut().filter(|c| c.pods < limit) {
                let opts: Vec<usize> = c
                    .options
                    .iter()
                    .copied()
                    .filter(|&p| accepts(self, &view, p, &c.used))
                    .collect();
                if !opts.is_empty() {
                    c.options = opts;
                    c.used.add(requests);
                    c.pods += 1;
                    placed = true;
                    break;
                }
            }
            if placed {
                continue;
            }
            let zeros = ResVec::zeros(k.names.len());
            for &np in nodepools {
                let opts: Vec<usize> = karp.spec.nodepools[np]
                    .candidates_at(self.now.since(SimTime::ZERO))
                    .iter()
                    .copied()
                    .filter(|&p| accepts(self, &view, p, &zeros))
                    .collect();
                if !opts.is_empty() {
                    let mut used = zeros.clone();
                    used.add(requests);
                    claims.push(Claim {
                        nodepool: np,
                        used,
                        options: opts,
                        pods: 1,
                    });
                    placed = true;
                    break;
                }
            }
            if !placed {
                unfit += 1;
            }
        }
        (claims, unfit)
    }

    /// Capacity of the NodePool's live nodes.
    fn nodepool_usage(&self, np: usize) -> ResVec {
        let k = &self.kube;
        let karp = k.karpenter.as_ref().expect("karpenter");
        let mut used = ResVec::zeros(k.names.len());
        for n in &k.nodes {
            if n.phase != NodePhase::Terminated
                && karp.nodepool_of.get(n.pool.index()).copied().flatten() == Some(np)
            {
                used.add(&self.pool_capacity(n.pool.index()));
            }
        }
        used
    }

    /// The cheapest option (price, then pool order) that keeps the NodePool within its limits.
    fn cheapest_within_limits(&self, np: usize, options: &[usize], used: &ResVec) -> Option<usize> {
        let k = &self.kube;
        let karp = k.karpenter.as_ref().expect("karpenter");
        let limits = &karp.spec.nodepools[np].limits;
        let mut best: Option<usize> = None;
        for &p in options {
            if karp
                .unavailable
                .iter()
                .any(|&(u, until)| u == p && until > self.now)
            {
                continue;
            }
            let cap = self.pool_capacity(p);
            let ok = limits.iter().all(|(name, q)| {
                let Some(i) = k.names.index(name) else {
                    return true;
                };
                (used.0[i] as u128 + cap.0[i] as u128) <= q.milli()
            });
            if !ok {
                continue;
            }
            let price = k.pools[p].spec.price_usd_per_hour;
            if best.is_none_or(|b| price < k.pools[b].spec.price_usd_per_hour) {
                best = Some(p);
            }
        }
        best
    }

    /// Launches a node of `pool`, Ready after the pool's provisioning delay.
    fn karpenter_launch(&mut self, pool: usize) -> NodeId {
        let id = self.new_node(crate::ids::PoolId(pool as u32));
        let delay = self.kube.pools[pool].spec.provisioning_delay;
        self.queue
            .push(self.now + delay, Event::NodeReady { node: id });
        let k = self.kube.karpenter.as_mut().expect("karpenter");
        k.outcome.nodes_launched += 1;
        id
    }

    /// Provisions for the pending pods that will not fit on nodes already launching.
    fn karpenter_provision(&mut self) {
        let k = &self.kube;
        // Room on launching nodes: pods nominated there are not provisioned for again.
        let mut room: Vec<(usize, ResVec, u32)> = k
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.phase == NodePhase::Provisioning)
            .map(|(i, n)| (i, n.requested.clone(), 0))
            .collect();
        let mut pods: Vec<PodId> = Vec::new();
        for &pod in &k.pending {
            let (requests, nonzero_requests) = k.requests_of(pod);
            let view = PodView {
                template: k.template_of(pod),
                requests,
                nonzero_requests,
                held_off: &[],
            };
            if !take_room(self, &mut room, &view, new_node_limit(view.template)) {
                pods.push(pod);
            }
        }
        // Pods still on a deleting node (a spot interruption's drain the PodDisruptionBudget
        // holds back) count as pending, as upstream's provisioner counts them: room on Ready
        // nodes first, then on launching ones, else new capacity.
        let mut ready_room: Vec<(usize, ResVec)> = k
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.phase == NodePhase::Ready)
            .map(|(i, n)| (i, n.requested.clone()))
            .collect();
        for (d, dn) in k.nodes.iter().enumerate() {
            if dn.phase != NodePhase::Draining {
                continue;
            }
            for pod in k.running_on(NodeId(d as u32)) {
                let (requests, nonzero_requests) = k.requests_of(pod);
                let view = PodView {
                    template: k.template_of(pod),
                    requests,
                    nonzero_requests,
                    held_off: &[],
                };
                if let Some((_, used)) = ready_room
                    .iter_mut()
                    .find(|(i, used)| accepts(self, &view, k.nodes[*i].pool.index(), used))
                {
                    used.add(requests);
                    continue;
                }
                if !take_room(self, &mut room, &view, new_node_limit(view.template)) {
                    pods.push(pod);
                }
            }
        }
        if pods.is_empty() {
            return;
        }
        // Largest first, as upstream's queue orders pods (GPU, then CPU, then memory).
        pods.sort_by_key(|&p| {
            let r = k.requests_of(p).0;
            let g = |i: usize| r.0.get(i).copied().unwrap_or(0);
            (
                std::cmp::Reverse(g(crate::cluster::ResourceNames::GPU)),
                std::cmp::Reverse(g(crate::cluster::ResourceNames::CPU)),
                std::cmp::Reverse(g(crate::cluster::ResourceNames::MEMORY)),
                p,
            )
        });
        let order: Vec<usize> = (0..k
            .karpenter
            .as_ref()
            .expect("karpenter")
            .spec
            .nodepools
            .len())
            .collect();
        let (claims, _unfit) = self.karpenter_pack(&pods, &order);
        let mut usage: Vec<Option<ResVec>> = vec![None; order.len()];
        let mut launched = 0;
        for c in claims {
            let used = usage[c.nodepool].get_or_insert_with(|| self.nodepool_usage(c.nodepool));
            let used_now = used.clone();
            let Some(pool) = self.cheapest_within_limits(c.nodepool, &c.options, &used_now) else {
                continue;
            };
            let cap = self.pool_capacity(pool);
            usage[c.nodepool].as_mut().expect("set above").add(&cap);
            self.karpenter_launch(pool);
            launched += 1;
        }
        if launched > 0 {
            let k = self.kube.karpenter.as_mut().expect("karpenter");
            k.outcome.provisioning_batches += 1;
            self.publish_cluster();
        }
    }

    /// Disruption budget left for `reason` in NodePool `np`.
    fn budget_left(&self, np: usize, reason: DisruptionReason) -> u32 {
        let k = &self.kube;
        let karp = k.karpenter.as_ref().expect("karpenter");
        let (mut nodes, mut disrupting) = (0u32, 0u32);
        for n in &k.nodes {
            if karp.nodepool(n.pool.index()) != Some(np) {
                continue;
            }
            match n.phase {
                NodePhase::Ready => nodes += 1,
                NodePhase::Draining => {
                    nodes += 1;
                    disrupting += 1;
                }
                _ => {}
            }
        }
        // A replacement in flight counts its old nodes as disrupting.
        disrupting += karp
            .replacing
            .iter()
            .flat_map(|r| &r.old)
            .filter(|old| {
                let n = &k.nodes[old.index()];
                n.phase == NodePhase::Ready && karp.nodepool(n.pool.index()) == Some(np)
            })
            .count() as u32;
        let allowed = karp.spec.nodepools[np]
            .budgets
            .iter()
            .filter(|b| b.reasons.is_empty() || b.reasons.contains(&reason))
            .map(|b| b.nodes.allowed(nodes))
            .min()
            .unwrap_or(u32::MAX);
        allowed.saturating_sub(disrupting)
    }

    /// Whether a managed node may be consolidated now (Ready, quiet for `consolidateAfter`).
    fn consolidatable(&self, i: usize) -> Option<usize> {
        let k = &self.kube;
        let karp = k.karpenter.as_ref()?;
        let n = &k.nodes[i];
        let np = karp.nodepool(n.pool.index())?;
        let after = karp.spec.nodepools[np].consolidate_after?;
        (n.phase == NodePhase::Ready && !karp.busy(i) && self.now >= n.last_pod_event + after)
            .then_some(np)
    }

    /// The disruption controller's poll: expiration, then the first method that yields a
    /// command, in upstream's order (`NewMethods`): Emptiness, Drift, multi-node then
    /// single-node consolidation.
    pub(in crate::world) fn on_karpenter_disrupt<S: RequestSink>(&mut self, sink: &mut S) {
        let Some(k) = &self.kube.karpenter else {
            return;
        };
        let n_np = k.spec.nodepools.len();
        let now = self.now;
        // Expiration: forceful, not subject to budgets.
        let expired: Vec<usize> = (0..self.kube.nodes.len())
            .filter(|&i| {
                let n = &self.kube.nodes[i];
                let np = k.nodepool(n.pool.index());
                np.and_then(|np| k.spec.nodepools[np].expire_after)
                    .is_some_and(|e| n.phase == NodePhase::Ready && n.launched + e <= now)
            })
            .collect();
        if !expired.is_empty() {
            for &i in &expired {
                self.remove_node(NodeId(i as u32), sink);
            }
            let k = self.kube.karpenter.as_mut().expect("karpenter");
            k.outcome.nodes_expired += expired.len() as u64;
            self.reconcile_all(sink);
            self.schedule_pending();
            self.publish_cluster();
        }
        let mut command = None;
        // Emptiness, for every policy.
        for np in 0..n_np {
            let left = self.budget_left(np, DisruptionReason::Empty) as usize;
            let empty: Vec<(NodeId, SimTime)> = (0..self.kube.nodes.len())
                .filter(|&i| self.consolidatable(i) == Some(np) && self.kube.nodes[i].pods == 0)
                .map(|i| (NodeId(i as u32), self.kube.nodes[i].last_pod_event))
                .take(left)
                .collect();
            if !empty.is_empty() {
                command = Some(Command::Delete(empty, DisruptionReason::Empty));
                break;
            }
        }
        // Drift: executed at once, without the consolidation methods' validation delay.
        if command.is_none() && self.karpenter_drift(sink) {
            let next = now + defaults::DISRUPTION_POLL;
            if next < self.horizon {
                self.queue.push(next, Event::KarpenterDisrupt);
            }
            return;
        }
        if command.is_none() {
            command = self.consolidation();
        }
        let next = match command {
            Some(c) => {
                let k = self.kube.karpenter.as_mut().expect("karpenter");
                k.command = Some(c);
                let at = now + defaults::COMMAND_VALIDATION_DELAY;
                self.queue.push(at, Event::KarpenterExecute);
                return;
            }
            None => now + defaults::DISRUPTION_POLL,
        };
        if next < self.horizon {
            self.queue.push(next, Event::KarpenterDisrupt);
        }
    }

    /// Where the pods of nodes `cands` would go without them (upstream's `SimulateScheduling`:
    /// every other Ready node, the other candidates of a multi-node probe excluded): the pods
    /// left over for new nodes.
    fn reschedule_without(&self, cands: &[usize]) -> Vec<PodId> {
        let k = &self.kube;
        let moving: Vec<PodId> = cands
            .iter()
            .flat_map(|&c| k.running_on(NodeId(c as u32)))
            .collect();
        // Pods whose placement depends on the others' (spread, anti-affinity): the scheduler's
        // filters on a snapshot without the candidates.
        if moving.iter().any(|&p| topology_bound(k.template_of(p))) {
            return k.reschedule_elsewhere(cands, &moving, |_| true);
        }
        let mut used: Vec<(usize, ResVec)> = k
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| !cands.contains(i) && n.phase == NodePhase::Ready)
            .map(|(i, n)| (i, n.requested.clone()))
            .collect();
        let mut left = Vec::new();
        for pod in moving {
            let (requests, nonzero_requests) = k.requests_of(pod);
            let view = PodView {
                template: k.template_of(pod),
                requests,
                nonzero_requests,
                held_off: &[],
            };
            let slot = used.iter_mut().find(|(i, u)| {
                let n = &k.nodes[*i];
                let p = &k.pools[n.pool.index()];
                let nv = NodeView {
                    allocatable: &p.allocatable,
                    requested: u,
                    labels: &n.labels,
                    taints: &p.spec.taints,
                    matching_pods: n.pods,
                    version_pods: n.pods,
                    has_image: false,
                    unschedulable: false,
                    terminating_pods: 0,
                    service_pods: &[],
                    service_terminating: &[],
                    not_ready: false,
                };
                filter(&view, &nv).is_ok() && u.fits_within(requests, &p.allocatable)
            });
            match slot {
                Some((_, u)) => u.add(requests),
                None => left.push(pod),
            }
        }
        left
    }

    /// The command's validation delay is over: execute it if its nodes are unchanged (a
    /// multi-node command only if all are; `validation.go`).
    pub(in crate::world) fn on_karpenter_execute<S: RequestSink>(&mut self, sink: &mut S) {
        let Some(k) = &mut self.kube.karpenter else {
            return;
        };
        let Some(cmd) = k.command.take() else { return };
        let still = |w: &World, node: NodeId, stamp: SimTime| {
            let n = &w.kube.nodes[node.index()];
            n.phase == NodePhase::Ready && n.last_pod_event == stamp
        };
        match cmd {
            Command::Delete(nodes, reason) => {
                let valid = |w: &World| nodes.iter().all(|&(n, s)| still(w, n, s));
                let nodes: Vec<NodeId> = match reason {
                    // Empty nodes are deleted each if still empty; a consolidation all or none.
                    DisruptionReason::Empty => nodes
                        .iter()
                        .filter(|&&(n, s)| still(self, n, s))
                        .map(|&(n, _)| n)
                        .collect(),
                    _ if valid(self) => nodes.iter().map(|&(n, _)| n).collect(),
                    _ => Vec::new(),
                };
                // Each drain goes through the PodDisruptionBudget.
                let mut drained = Vec::with_capacity(nodes.len());
                for n in nodes {
                    if self.pdb_allows_drain(n) {
                        self.remove_node(n, sink);
                        drained.push(n);
                    }
                }
                let nodes = drained;
                if !nodes.is_empty() {
                    let k = self.kube.karpenter.as_mut().expect("karpenter");
                    match reason {
                        DisruptionReason::Empty => k.outcome.empty_deleted += nodes.len() as u64,
                        _ => k.outcome.underutilized_deleted += nodes.len() as u64,
                    }
                    self.reconcile_all(sink);
                    self.schedule_pending();
                    self.publish_cluster();
                }
            }
            Command::Replace(old, pool) => {
                if old
                    .iter()
                    .all(|&(n, s)| still(self, n, s) && self.pdb_allows_drain(n))
                {
                    let new = self.karpenter_launch(pool);
                    let k = self.kube.karpenter.as_mut().expect("karpenter");
                    k.replacing.push(Replacement {
                        new: vec![new],
                        old: old.iter().map(|&(n, _)| n).collect(),
                        reason: DisruptionReason::Underutilized,
                    });
                    self.publish_cluster();
                }
            }
        }
        let next = self.now + defaults::DISRUPTION_POLL;
        if next < self.horizon {
            self.queue.push(next, Event::KarpenterDisrupt);
        }
    }

    /// A node became Ready: once all the replacements of a command are, its old nodes are
    /// drained.
    pub(super) fn karpenter_node_ready<S: RequestSink>(&mut self, node: NodeId, sink: &mut S) {
        let Some(k) = &mut self.kube.karpenter else {
            return;
        };
        let Some(pos) = k.replacing.iter().position(|r| r.new.contains(&node)) else {
            return;
        };
        k.replacing[pos].new.retain(|&n| n != node);
        if !k.replacing[pos].new.is_empty() {
            return;
        }
        let r = k.replacing.remove(pos);
        if r.reason == DisruptionReason::Underutilized {
            k.outcome.nodes_replaced += r.old.len() as u64;
        }
        let mut drained = false;
        for old in r.old {
            if self.kube.nodes[old.index()].phase == NodePhase::Ready {
                self.remove_node(old, sink);
                drained = true;
            }
        }
        if drained {
            self.reconcile_all(sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::karpenter::BudgetNodes;

    #[test]
    fn budgets_round_percentages_up() {
        // nodepool_budgets_test.go: "10" of 100 nodes -> 10; "100%" of 100 -> 100.
        assert_eq!(BudgetNodes::Count(10).allowed(100), 10);
        assert_eq!(BudgetNodes::Percent(100).allowed(100), 100);
        assert_eq!(BudgetNodes::Percent(10).allowed(1), 1);
        assert_eq!(BudgetNodes::Percent(10).allowed(0), 0);
        assert_eq!(BudgetNodes::Percent(10).allowed(11), 2);
    }
}
