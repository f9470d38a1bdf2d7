//! PodDisruptionBudgets, one per service: voluntary evictions (a Cluster Autoscaler or Karpenter
//! drain, the VPA updater, a spot notice's drain) go through the eviction API, which refuses one
//! that would leave fewer healthy (Ready) pods of the budget's service than its minimum.
//! Involuntary losses (a failed node, its pods' taint-based eviction) ignore it, as upstream.

use super::PodPhase;
use crate::ids::{NodeId, PodId, ServiceId};
use crate::world::World;

impl World {
    /// Fewest healthy pods a service's budget allows (`None` without a budget).
    fn pdb_min_healthy(&self, svc: ServiceId) -> Option<u32> {
        let d = &self.kube.deps[svc.index()];
        d.pdb.map(|b| b.min_healthy(d.desired))
    }

    /// Whether service `svc`'s budget lets `ready_pods` more of its Ready pods be evicted now.
    pub(in crate::world) fn pdb_allows_eviction(&self, svc: ServiceId, ready_pods: u32) -> bool {
        match self.pdb_min_healthy(svc) {
            None => true,
            // Upstream's IfHealthyBudget: with the budget met, unready pods may go too.
            Some(min) => {
                let ready = self.kube.deps[svc.index()].ready.len() as u32;
                ready.saturating_sub(ready_pods) >= min && ready >= min
            }
        }
    }

    /// Whether its service's budget lets `pod` be evicted now.
    pub(in crate::world) fn pdb_allows_pod(&self, pod: PodId) -> bool {
        let ready = u32::from(self.kube.pods[pod.index()].phase == PodPhase::Ready);
        self.pdb_allows_eviction(self.kube.svc_of(pod), ready)
    }

    /// Whether every service's budget lets all its pods on `node` be evicted now (a drain).
    pub(in crate::world) fn pdb_allows_drain(&self, node: NodeId) -> bool {
        let mut ready = vec![0u32; self.kube.deps.len()];
        for p in self.kube.running_on(node) {
            let pod = &self.kube.pods[p.index()];
            if pod.phase == PodPhase::Ready {
                ready[pod.svc.index()] += 1;
            }
        }
        (0..ready.len()).all(|s| self.pdb_allows_eviction(ServiceId(s as u32), ready[s]))
    }
}
