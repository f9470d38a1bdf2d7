//! kube-scheduler's PostFilter for serving pods: a pending pod that fits no node may preempt
//! lower-priority (batch) pods on one node, chosen by [`crate::scheduler::preemption`]. The
//! victims' jobs are evicted (their pods get their grace period) and the pod is nominated to the
//! node: batch pods are not placed into the room it waits for. Lower-priority pods already
//! terminating on a node count as leaving, and pods nominated to it as coming, so a node where
//! earlier victims make room enough takes the nomination without new victims.

use super::snapshot::topology_bound;
use super::NodePhase;
use crate::cluster::ResVec;
use crate::ids::{NodeId, PodId};
use crate::scheduler::filter::{filter, Rejection};
use crate::scheduler::preemption::{pick_node, victims_on_node, RunningPod, Victims};
use crate::scheduler::{NodeView, PodView};
use crate::world::World;

/// One candidate node's victims and the running pods they index.
type Candidate = (Victims, Vec<RunningPod>);

impl World {
    /// Tries to make room for a pending serving pod by preempting; true if it did (or is
    /// already waiting for earlier victims to leave its nominated node).
    pub(super) fn try_preempt(&mut self, pod: PodId) -> bool {
        let kube = &self.kube;
        let Some(k) = &kube.kueue else { return false };
        let prio = k.service_priority;
        if !prio.preempts {
            return false;
        }
        // Upstream's PodEligibleToPreemptOthers: not again while victims still terminate on the
        // node it was nominated to.
        if let Some(&(_, node)) = k.nominated.iter().find(|(p, _)| *p == pod) {
            if k.lower_terminating_on(node, prio.value) {
                return true;
            }
        }
        let (req, nonzero) = kube.requests_of(pod);
        let view = PodView {
            template: kube.template_of(pod),
            requests: req,
            nonzero_requests: nonzero,
        };
        // Upstream re-runs every filter with the victims gone: a node that spread constraints or
        // anti-affinity keep the pod off gets no victims (batch pods do not count for either).
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
        let mut found: Vec<(NodeId, Vec<u32>, Candidate)> = Vec::new();
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
            for r in k.terminating_on(node, prio.value) {
                requested.sub(r);
            }
            for (p, nn) in &k.nominated {
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
            let running: Vec<(u32, RunningPod, &ResVec)> = k
                .running_on(node)
                .map(|(id, priority, bound, r)| {
                    (
                        id,
                        RunningPod {
                            priority,
                            start: bound.0,
                            violates_pdb: false,
                        },
                        r,
                    )
                })
                .collect();
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
        let k = self.kube.kueue.as_mut().expect("batch");
        k.preemptions += u64::from(!victims.pods.is_empty());
        let mut jobs = Vec::new();
        for &v in &victims.pods {
            *k.victims_by_priority.entry(rp[v].priority).or_default() += 1;
            jobs.push(k.job_of(ids[v]));
        }
        k.nominated.retain(|(p, _)| *p != pod);
        k.nominated.push((pod, node));
        jobs.sort_unstable();
        jobs.dedup();
        for j in jobs {
            self.evict_job(j);
        }
        true
    }
}
