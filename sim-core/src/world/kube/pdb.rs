//! The PodDisruptionBudget: voluntary evictions (a Cluster Autoscaler or Karpenter drain, the
//! VPA updater, a spot notice's drain) go through the eviction API, which refuses one that would
//! leave fewer healthy (Ready) pods than the budget's minimum. Involuntary losses (a failed node,
//! its pods' taint-based eviction) ignore it, as upstream.

use super::PodPhase;
use crate::ids::{NodeId, PodId};
use crate::world::World;

impl World {
    /// Fewest healthy pods the budget allows (0 without a budget).
    fn pdb_min_healthy(&self) -> Option<u32> {
        self.kube
            .fail
            .spec
            .pdb
            .map(|b| b.min_healthy(self.kube.desired))
    }

    /// Whether the budget lets `ready_pods` more Ready pods be evicted now.
    pub(in crate::world) fn pdb_allows_eviction(&self, ready_pods: u32) -> bool {
        match self.pdb_min_healthy() {
            None => true,
            // Upstream's IfHealthyBudget: with the budget met, unready pods may go too.
            Some(min) => {
                (self.kube.ready.len() as u32).saturating_sub(ready_pods) >= min
                    && self.kube.ready.len() as u32 >= min
            }
        }
    }

    /// Whether the budget lets `pod` be evicted now.
    pub(in crate::world) fn pdb_allows_pod(&self, pod: PodId) -> bool {
        let ready = u32::from(self.kube.pods[pod.index()].phase == PodPhase::Ready);
        self.pdb_allows_eviction(ready)
    }

    /// Whether the budget lets every pod on `node` be evicted now (a drain).
    pub(in crate::world) fn pdb_allows_drain(&self, node: NodeId) -> bool {
        let ready = self
            .kube
            .running_on(node)
            .iter()
            .filter(|p| self.kube.pods[p.index()].phase == PodPhase::Ready)
            .count() as u32;
        self.pdb_allows_eviction(ready)
    }
}
