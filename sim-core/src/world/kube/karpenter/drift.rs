//! Drift (`drift.go`): nodes whose NodePool's requirements, changed during the run, no longer
//! allow them are replaced, oldest drifted first and empty ones first, within the `Drifted`
//! budgets.

use super::Replacement;
use crate::engine::SimTime;
use crate::ids::NodeId;
use crate::metrics::RequestSink;
use crate::scenario::karpenter::DisruptionReason;
use crate::world::kube::NodePhase;
use crate::world::World;

impl World {
    /// Drifted candidates `(node, nodepool)`, empty first, then the oldest drifted first
    /// (`Drift.ComputeCommands`).
    fn drifted(&self) -> Vec<(usize, usize)> {
        let k = &self.kube;
        let Some(karp) = k.karpenter.as_ref() else {
            return Vec::new();
        };
        let now = self.now.since(SimTime::ZERO);
        let mut d: Vec<(bool, _, usize, usize)> = (0..k.nodes.len())
            .filter_map(|i| {
                let n = &k.nodes[i];
                let np = karp.nodepool(n.pool.index())?;
                if n.phase != NodePhase::Ready || karp.busy(i) {
                    return None;
                }
                let launched = n.launched.since(SimTime::ZERO);
                let since = karp.spec.nodepools[np].drifted_since(n.pool.index(), launched, now)?;
                Some((n.pods > 0, since, i, np))
            })
            .collect();
        d.sort_unstable();
        d.into_iter().map(|(_, _, i, np)| (i, np)).collect()
    }

    /// Drift's command, executed at once (drift has no validation delay): every empty drifted
    /// node the budgets allow is deleted; else the first drifted node whose pods fit on the
    /// other nodes plus new ones of the NodePools' current requirements is replaced (or deleted,
    /// if they need none). Whether a command was executed.
    pub(super) fn karpenter_drift<S: RequestSink>(&mut self, sink: &mut S) -> bool {
        let drifted = self.drifted();
        if drifted.is_empty() {
            return false;
        }
        let n_np = self
            .kube
            .karpenter
            .as_ref()
            .expect("karpenter")
            .spec
            .nodepools
            .len();
        let mut left: Vec<Option<u32>> = vec![None; n_np];
        let mut empty = Vec::new();
        for &(i, np) in &drifted {
            if self.kube.nodes[i].pods > 0 {
                break;
            }
            let l = left[np].get_or_insert_with(|| self.budget_left(np, DisruptionReason::Drifted));
            if *l > 0 {
                *l -= 1;
                empty.push(NodeId(i as u32));
            }
        }
        if !empty.is_empty() {
            for &n in &empty {
                self.remove_node(n, sink);
            }
            let k = self.kube.karpenter.as_mut().expect("karpenter");
            k.outcome.nodes_drifted += empty.len() as u64;
            self.publish_cluster();
            return true;
        }
        let order: Vec<usize> = (0..n_np).collect();
        for &(i, np) in drifted
            .iter()
            .filter(|&&(i, _)| self.kube.nodes[i].pods > 0)
        {
            if self.budget_left(np, DisruptionReason::Drifted) == 0 {
                continue;
            }
            let node = NodeId(i as u32);
            if !self.pdb_allows_drain(node) {
                continue;
            }
            let pods = self.reschedule_without(&[i]);
            let (claims, unfit) = self.karpenter_pack(&pods, &order);
            if unfit > 0 {
                continue;
            }
            // Each new node the cheapest of its options within its NodePool's limits.
            let mut usage: Vec<_> = (0..n_np).map(|p| self.nodepool_usage(p)).collect();
            usage[np].sub(&self.pool_capacity(self.kube.nodes[i].pool.index()));
            let mut launch = Vec::with_capacity(claims.len());
            for c in &claims {
                let Some(p) =
                    self.cheapest_within_limits(c.nodepool, &c.options, &usage[c.nodepool])
                else {
                    break;
                };
                usage[c.nodepool].add(&self.pool_capacity(p));
                launch.push(p);
            }
            if launch.len() != claims.len() {
                continue;
            }
            let k = self.kube.karpenter.as_mut().expect("karpenter");
            k.outcome.nodes_drifted += 1;
            if launch.is_empty() {
                self.remove_node(node, sink);
                self.reconcile_all(sink);
                self.schedule_pending();
            } else {
                let new: Vec<NodeId> = launch
                    .into_iter()
                    .map(|p| self.karpenter_launch(p))
                    .collect();
                let k = self.kube.karpenter.as_mut().expect("karpenter");
                k.replacing.push(Replacement {
                    new,
                    old: vec![node],
                    reason: DisruptionReason::Drifted,
                });
            }
            self.publish_cluster();
            return true;
        }
        false
    }
}
