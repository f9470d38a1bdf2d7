//! What the autoscalers' simulations see when a pod's placement depends on other pods (a
//! DoNotSchedule spread constraint or a required pod anti-affinity): the registered nodes with
//! the Deployment's pods on them, as the scheduler sees them, plus nodes the simulation adds or
//! moves pods onto. A pod is placed on a simulated node only if the scheduler's filters pass
//! there, PodTopologySpread and InterPodAffinity included, with the counts of every node in the
//! snapshot (upstream's Cluster Autoscaler runs the scheduler framework on such a snapshot).

use super::{Kube, NodePhase};
use crate::cluster::{Labels, PodTemplate, ResVec, WhenUnsatisfiable};
use crate::ids::PodId;
use crate::scheduler::filter::filter;
use crate::scheduler::inter_pod_affinity::AntiAffinityFilter;
use crate::scheduler::pod_topology_spread::SpreadFilter;
use crate::scheduler::{NodeView, PodView};

/// Whether where a pod of `t` may go depends on where the Deployment's other pods are.
pub(super) fn topology_bound(t: &PodTemplate) -> bool {
    !t.anti_affinity_required.is_empty()
        || t.spread
            .iter()
            .any(|c| c.when == WhenUnsatisfiable::DoNotSchedule)
}

/// One node of a snapshot.
#[derive(Clone, Debug)]
struct SimNode {
    pool: usize,
    requested: ResVec,
    labels: Labels,
    /// The Deployment's pods on it (terminating ones excluded).
    matching: u32,
    terminating: u32,
    not_ready: bool,
    unschedulable: bool,
    /// Left out of the snapshot (a node a scale-down simulation removes).
    removed: bool,
}

/// The nodes a simulation places pods on.
#[derive(Clone, Debug)]
pub(super) struct Snapshot {
    nodes: Vec<SimNode>,
}

impl Kube {
    /// The registered nodes (Ready, cordoned or NotReady) as the scheduler sees them, then, if
    /// `provisioning`, the nodes still launching (with any pods already bound to them).
    /// Returns the snapshot and, per snapshot node, its index in `self.nodes`.
    pub(super) fn snapshot(&self, provisioning: bool) -> (Snapshot, Vec<usize>) {
        let registered = |p: NodePhase| {
            matches!(
                p,
                NodePhase::Ready | NodePhase::Draining | NodePhase::NotReady
            )
        };
        let launching = |p: NodePhase| provisioning && p == NodePhase::Provisioning;
        let mut index: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| registered(self.nodes[i].phase))
            .collect();
        index.extend((0..self.nodes.len()).filter(|&i| launching(self.nodes[i].phase)));
        let nodes = index
            .iter()
            .map(|&i| {
                let n = &self.nodes[i];
                SimNode {
                    pool: n.pool.index(),
                    requested: n.requested.clone(),
                    labels: n.labels.clone(),
                    matching: n.pods - n.terminating - n.batch_pods,
                    terminating: n.terminating,
                    not_ready: n.phase == NodePhase::NotReady,
                    unschedulable: n.phase == NodePhase::Draining,
                    removed: false,
                }
            })
            .collect();
        (Snapshot { nodes }, index)
    }

    /// Where `pods`, now on nodes `removed`, would go without them: each, first-fit and in
    /// order, onto the other Ready nodes `target` accepts, through the scheduler's filters on a
    /// snapshot that leaves `removed` out. Returns the pods that fit nowhere.
    pub(super) fn reschedule_elsewhere(
        &self,
        removed: &[usize],
        pods: &[PodId],
        target: impl Fn(usize) -> bool,
    ) -> Vec<PodId> {
        let (mut snap, index) = self.snapshot(false);
        let targets: Vec<usize> = (0..snap.len())
            .filter(|&s| {
                let j = index[s];
                !removed.contains(&j) && self.nodes[j].phase == NodePhase::Ready && target(j)
            })
            .collect();
        for (s, j) in index.iter().enumerate() {
            if removed.contains(j) {
                snap.remove(s);
            }
        }
        let mut left = Vec::new();
        for &pod in pods {
            match snap.fit(self, pod, targets.iter().copied()) {
                Some(s) => snap.place(self, pod, s),
                None => left.push(pod),
            }
        }
        left
    }
}

impl Snapshot {
    /// Nodes in the snapshot (removed ones included).
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Adds an empty node of `pool` named `name` (a template node); returns its index.
    pub(super) fn add(&mut self, k: &Kube, pool: usize, name: &str) -> usize {
        self.nodes.push(SimNode {
            pool,
            requested: ResVec::zeros(k.names.len()),
            labels: k.node_labels(pool, name),
            matching: 0,
            terminating: 0,
            not_ready: false,
            unschedulable: false,
            removed: false,
        });
        self.nodes.len() - 1
    }

    /// Drops the last node added.
    pub(super) fn pop(&mut self) {
        self.nodes.pop();
    }

    /// Leaves node `i` and its pods out of the snapshot.
    pub(super) fn remove(&mut self, i: usize) {
        self.nodes[i].removed = true;
    }

    /// The first of the nodes `among` where `pod` passes every filter, if any.
    pub(super) fn fit(
        &self,
        k: &Kube,
        pod: PodId,
        among: impl IntoIterator<Item = usize>,
    ) -> Option<usize> {
        let (requests, nonzero_requests) = k.requests_of(pod);
        let view = PodView {
            template: k.template_of(pod),
            requests,
            nonzero_requests,
            held_off: &[],
        };
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].removed)
            .collect();
        let views: Vec<NodeView> = live.iter().map(|&i| self.view(k, i)).collect();
        let spread = SpreadFilter::new(&view, &views);
        let anti = AntiAffinityFilter::new(&view, &views);
        among.into_iter().find(|&i| {
            let n = &self.nodes[i];
            if n.removed || n.not_ready {
                return false;
            }
            let v = self.view(k, i);
            filter(&view, &v)
                .and_then(|()| spread.check(&v))
                .and_then(|()| anti.check(&v))
                .is_ok()
        })
    }

    /// Per node: whether PodTopologySpread and InterPodAffinity let `pod` onto it (resources
    /// aside, as preemption asks); false for a removed node, whose pods count for neither.
    pub(super) fn topology_allows(&self, k: &Kube, pod: PodId) -> Vec<bool> {
        let (requests, nonzero_requests) = k.requests_of(pod);
        let view = PodView {
            template: k.template_of(pod),
            requests,
            nonzero_requests,
            held_off: &[],
        };
        let views: Vec<NodeView> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].removed)
            .map(|i| self.view(k, i))
            .collect();
        let spread = SpreadFilter::new(&view, &views);
        let anti = AntiAffinityFilter::new(&view, &views);
        (0..self.nodes.len())
            .map(|i| {
                let v = self.view(k, i);
                !self.nodes[i].removed && spread.check(&v).and_then(|()| anti.check(&v)).is_ok()
            })
            .collect()
    }

    /// Places `pod` on node `i`.
    pub(super) fn place(&mut self, k: &Kube, pod: PodId, i: usize) {
        let n = &mut self.nodes[i];
        n.requested.add(k.requests_of(pod).0);
        n.matching += 1;
    }

    /// What node `i` requests.
    pub(super) fn requested(&self, i: usize) -> &ResVec {
        &self.nodes[i].requested
    }

    fn view<'a>(&'a self, k: &'a Kube, i: usize) -> NodeView<'a> {
        let n = &self.nodes[i];
        let pool = &k.pools[n.pool];
        NodeView {
            allocatable: &pool.allocatable,
            requested: &n.requested,
            labels: &n.labels,
            taints: &pool.spec.taints,
            matching_pods: n.matching,
            version_pods: n.matching,
            terminating_pods: n.terminating,
            service_pods: &[],
            service_terminating: &[],
            has_image: false,
            unschedulable: n.unschedulable,
            not_ready: n.not_ready,
        }
    }
}
