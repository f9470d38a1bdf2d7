//! kube-scheduler's PostFilter for serving pods: a pending pod that fits no node may preempt
//! lower-priority pods on one node (batch pods, or pods of services of lower priority), chosen
//! by [`crate::scheduler::preemption`]. The victims' jobs are evicted, victim serving pods
//! terminate (both get their grace period; a victim's ReplicaSet replaces it), and the pod is
//! nominated to the node: batch pods are not placed into the room it waits for. Lower-priority pods already
//! terminating on a node count as leaving, and pods nominated to it as coming, so a node where
//! earlier victims make room enough takes the nomination without new victims.

use super::snapshot::topology_bound;
use super::{NodePhase, PodPhase};
use crate::cluster::ResVec;
use crate::ids::{NodeId, PodId};
use crate::results::PreemptionOutcome;
use crate::scheduler::filter::{filter, Rejection};
use crate::scheduler::preemption::{pick_node, victims_on_node, RunningPod, Victims};
use crate::scheduler::{NodeView, PodView};
use crate::world::World;
use std::collections::BTreeMap;

/// One candidate node's victims and the running pods they index.
type Candidate = (Victims, Vec<RunningPod>);

/// A victim: a batch pod (by its index in Kueue) or another service's serving pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    Batch(u32),
    Serving(PodId),
}

/// Preemptions and the pods that wait for the room their victims leave.
#[derive(Debug, Default)]
pub(in crate::world) struct Preemption {
    /// Pending pods that preempted, and the node each was nominated to.
    pub(in crate::world) nominated: Vec<(PodId, NodeId)>,
    /// Times a pending pod preempted others.
    pub(in crate::world) preemptions: u64,
    /// Victims by their priority.
    pub(in crate::world) victims_by_priority: BTreeMap<i32, u64>,
    /// A serving pod was preempted: its ReplicaSet replaces it after this scheduling pass.
    pub(in crate::world) serving_victims: bool,
}

impl Preemption {
    /// What preemption did over the run.
    pub(in crate::world) fn outcome(&self) -> PreemptionOutcome {
        PreemptionOutcome {
            preemptions: self.preemptions,
            victims: self.victims_by_priority.values().sum(),
            victims_by_priority: self
                .victims_by_priority
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}

impl World {
    /// Serving pods of services below `priority` on `node` in `phases`, with their priorities.
    fn lower_serving_on(
        &self,
        node: NodeId,
        priority: i32,
        terminating: bool,
    ) -> impl Iterator<Item = (PodId, i32)> + '_ {
        let k = &self.kube;
        k.pods.iter().enumerate().filter_map(move |(i, p)| {
            let prio = k.deps[p.svc.index()].priority.value;
            let phase_ok = if terminating {
                p.phase == PodPhase::Terminating
            } else {
                matches!(p.phase, PodPhase::Starting | PodPhase::Ready)
            };
            (p.node == Some(node) && phase_ok && prio < priority).then_some((PodId(i as u32), prio))
        })
    }

    /// Tries to make room for a pending serving pod by preempting lower-priority pods (batch
    /// pods, or other services' pods); true if it did (or is already waiting for earlier
    /// victims to leave its nominated node).
    pub(super) fn try_preempt(&mut self, pod: PodId) -> bool {
        let svc = self.kube.svc_of(pod);
        let prio = self.kube.priority(svc);
        if !prio.preempts {
            return false;
        }
        let lower_services = self.kube.deps.iter().any(|d| d.priority.value < prio.value);
        if self.kube.kueue.is_none() && !lower_services {
            return false;
        }
        let pods = &self.kube.pods;
        self.kube
            .preemption
            .nominated
            .retain(|(p, _)| pods[p.index()].phase == PodPhase::Pending);
        // Upstream's PodEligibleToPreemptOthers: not again while victims still terminate on the
        // node it was nominated to.
        let nominated = self
            .kube
            .preemption
            .nominated
            .iter()
            .find(|(p, _)| *p == pod);
        if let Some(&(_, node)) = nominated {
            let batch = self
                .kube
                .kueue
                .as_ref()
                .is_some_and(|k| k.lower_terminating_on(node, prio.value));
            if batch
                || self
                    .lower_serving_on(node, prio.value, true)
                    .next()
                    .is_some()
            {
                return true;
            }
        }
        let kube = &self.kube;
        let (req, nonzero) = kube.requests_of(pod);
        let view = PodView {
            template: kube.template_of(pod),
            requests: req,
            nonzero_requests: nonzero,
            held_off: &[],
        };
        // Upstream re-runs every filter with the victims gone: a node that spread constraints or
        // anti-affinity keep the pod off gets no victims.
        let topology: Option<Vec<bool>> = topology_bound(view.template).then(|| {
            let (snap, index) = kube.snapshot(false);
            let allows = snap.topology_allows(kube, pod);
            let mut by_node = vec![false; kube.nodes.len()];
            for (s, &i) in index.iter().enumerate() {
                by_node[i] = allows[s];
            }
            by_node
        });
        let zeros = ResVec::zeros(kube.names.len());
        let mut found: Vec<(NodeId, Vec<Victim>, Candidate)> = Vec::new();
        for (i, n) in kube.nodes.iter().enumerate() {
            if n.phase != NodePhase::Ready {
                continue;
            }
            let node = NodeId(i as u32);
            let pool = &kube.pools[n.pool.index()];
            // Only nodes where nothing but resources stands in the way.
            let empty = NodeView {
                allocatable: &pool.allocatable,
                requested: &zeros,
                labels: &n.labels,
                taints: &pool.spec.taints,
                matching_pods: 0,
                version_pods: 0,
                has_image: true,
                unschedulable: false,
                terminating_pods: 0,
                service_pods: &[],
                service_terminating: &[],
                not_ready: false,
            };
            if !matches!(
                filter(&view, &empty),
                Ok(()) | Err(Rejection::Insufficient(_))
            ) || topology.as_ref().is_some_and(|t| !t[i])
            {
                continue;
            }
            // Room already promised: lower-priority pods terminating here will leave (upstream
            // would pick them as victims again, a no-op); pods nominated here will come.
            let mut requested = n.requested.clone();
            if let Some(k) = &kube.kueue {
                for r in k.terminating_on(node, prio.value) {
                    requested.sub(r);
                }
            }
            for (p, _) in self.lower_serving_on(node, prio.value, true) {
                requested.sub(kube.requests_of(p).0);
            }
            for (p, nn) in &kube.preemption.nominated {
                if *nn == node && *p != pod {
                    requested.add(kube.requests_of(*p).0);
                }
            }
            if requested.fits_within(req, &pool.allocatable) {
                let none = Victims {
                    pods: Vec::new(),
                    pdb_violations: 0,
                };
                found.push((node, Vec::new(), (none, Vec::new())));
                continue;
            }
            let mut running: Vec<(Victim, RunningPod, &ResVec)> = Vec::new();
            if let Some(k) = &kube.kueue {
                running.extend(k.running_on(node).map(|(id, priority, bound, r)| {
                    (
                        Victim::Batch(id),
                        RunningPod {
                            priority,
                            start: bound.0,
                            violates_pdb: false,
                        },
                        r,
                    )
                }));
            }
            for (p, priority) in self.lower_serving_on(node, prio.value, false) {
                let bound = kube.pods[p.index()].bound.unwrap_or(self.now);
                running.push((
                    Victim::Serving(p),
                    RunningPod {
                        priority,
                        start: bound.0,
                        violates_pdb: !self.pdb_allows_pod(p),
                    },
                    kube.requests_of(p).0,
                ));
            }
            let pods: Vec<(RunningPod, &ResVec)> =
                running.iter().map(|(_, p, r)| (*p, *r)).collect();
            if let Some(v) = victims_on_node(prio.value, req, &pool.allocatable, &requested, &pods)
            {
                let ids = running.iter().map(|(id, _, _)| *id).collect();
                let rp = running.iter().map(|(_, p, _)| *p).collect();
                found.push((node, ids, (v, rp)));
            }
        }
        let cands: Vec<Candidate> = found.iter().map(|(_, _, c)| c.clone()).collect();
        let Some(best) = pick_node(&cands) else {
            return false;
        };
        let (node, ids, (victims, rp)) = found.swap_remove(best);
        let pre = &mut self.kube.preemption;
        pre.preemptions += u64::from(!victims.pods.is_empty());
        let mut jobs = Vec::new();
        let mut serving = Vec::new();
        for &v in &victims.pods {
            *pre.victims_by_priority.entry(rp[v].priority).or_default() += 1;
            match ids[v] {
                Victim::Batch(b) => {
                    jobs.push(self.kube.kueue.as_ref().expect("batch").job_of(b));
                }
                Victim::Serving(p) => serving.push(p),
            }
        }
        let pre = &mut self.kube.preemption;
        pre.nominated.retain(|(p, _)| *p != pod);
        pre.nominated.push((pod, node));
        jobs.sort_unstable();
        jobs.dedup();
        for j in jobs {
            self.evict_job(j);
        }
        // A serving victim terminates gracefully (its in-flight requests finish within its
        // grace period); its ReplicaSet replaces it after this scheduling pass.
        // The flag is set after the terminations: a victim gone at once runs the scheduler
        // (on an empty queue, the pending pods being this pass's), which must not replace it yet.
        let any = !serving.is_empty();
        for p in serving {
            self.terminate_pod(p, &mut crate::metrics::NoSink);
        }
        self.kube.preemption.serving_victims |= any;
        true
    }
}
