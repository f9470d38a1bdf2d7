//! Consolidation (`WhenEmptyOrUnderutilized`): multi-node, then single-node, as upstream's
//! `multinodeconsolidation.go` and `singlenodeconsolidation.go` run them.

use super::{Command, MIN_SPOT_TO_SPOT_TYPES};
use crate::cluster::CapacityType;
use crate::engine::SimTime;
use crate::ids::NodeId;
use crate::scenario::karpenter::{ConsolidationPolicy, DisruptionReason};
use crate::world::World;

/// Most candidates a multi-node command considers (`MultiNodeConsolidation`'s
/// `maxParallel`): the binary search's prefix is at most this plus one.
const MAX_MULTI_NODE_CANDIDATES: usize = 100;

impl World {
    /// Consolidation: multi-node first, then single-node; skipped while nothing changed since
    /// both last found nothing (`IsConsolidated`).
    pub(super) fn consolidation(&mut self) -> Option<Command> {
        let k = &self.kube;
        let karp = k.karpenter.as_ref()?;
        let cands: Vec<(usize, usize)> = (0..k.nodes.len())
            .filter_map(|i| {
                let np = self.consolidatable(i)?;
                (k.nodes[i].pods > 0
                    && karp.spec.nodepools[np].policy
                        == ConsolidationPolicy::WhenEmptyOrUnderutilized)
                    .then_some((i, np))
            })
            .collect();
        if cands.is_empty() {
            return None;
        }
        let state = (
            k.nodes.iter().map(|n| n.version).sum::<u64>(),
            k.nodes.len(),
            cands.len(),
        );
        if karp.unchanged_since_failure == Some(state) {
            return None;
        }
        let found = self
            .multi_node_consolidation(&cands)
            .or_else(|| self.single_node_consolidation(&cands));
        let karp = self.kube.karpenter.as_mut()?;
        karp.unchanged_since_failure = if found.is_none() { Some(state) } else { None };
        found
    }

    /// Multi-node consolidation (`MultiNodeConsolidation.ComputeCommands`): candidates by
    /// savings ratio, highest first, each kept while its NodePool's budget lasts; then a binary
    /// search (`firstNConsolidationOption`) for the longest prefix of 2 to 101 of them that can
    /// be deleted or replaced by one cheaper node.
    fn multi_node_consolidation(&self, cands: &[(usize, usize)]) -> Option<Command> {
        let k = &self.kube;
        let karp = k.karpenter.as_ref()?;
        // `SavingsRatio`: price / (1 + the pods' eviction costs), each pod costing 1.
        let ratio = |i: usize| {
            let n = &k.nodes[i];
            k.pools[n.pool.index()].spec.price_usd_per_hour / (1.0 + n.pods as f64)
        };
        let mut sorted = cands.to_vec();
        sorted.sort_by(|&(a, _), &(b, _)| ratio(b).total_cmp(&ratio(a)).then(a.cmp(&b)));
        let mut left: Vec<Option<u32>> = vec![None; karp.spec.nodepools.len()];
        let mut kept = Vec::new();
        for (i, np) in sorted {
            let l = left[np]
                .get_or_insert_with(|| self.budget_left(np, DisruptionReason::Underutilized));
            if *l > 0 {
                *l -= 1;
                kept.push((i, np));
            }
        }
        if kept.len() < 2 {
            return None;
        }
        let order: Vec<usize> = (0..karp.spec.nodepools.len()).collect();
        let (mut lo, mut hi) = (1, MAX_MULTI_NODE_CANDIDATES.min(kept.len() - 1));
        let mut last = None;
        while lo <= hi {
            let mid = (lo + hi) / 2;
            match self.consolidation_option(&kept[..=mid], &order, true) {
                Some(c) => {
                    last = Some(c);
                    lo = mid + 1;
                }
                None => hi = mid - 1,
            }
        }
        last
    }

    /// Single-node consolidation: candidates fewest pods first, skipping NodePools without
    /// budget; the first that can be deleted or replaced by a cheaper node.
    fn single_node_consolidation(&self, cands: &[(usize, usize)]) -> Option<Command> {
        let k = &self.kube;
        let mut sorted: Vec<(u32, usize, usize)> = cands
            .iter()
            .map(|&(i, np)| (k.nodes[i].pods, i, np))
            .collect();
        sorted.sort_unstable();
        sorted.into_iter().find_map(|(_, i, np)| {
            if self.budget_left(np, DisruptionReason::Underutilized) == 0 {
                return None;
            }
            self.consolidation_option(&[(i, np)], &[np], false)
        })
    }

    /// Whether nodes `nodes` (with their NodePools) can go (`computeConsolidation`): a delete
    /// if their pods fit on the other Ready nodes, else a replace by one new node of
    /// `nodepools` cheaper than them all together.
    fn consolidation_option(
        &self,
        nodes: &[(usize, usize)],
        nodepools: &[usize],
        multi: bool,
    ) -> Option<Command> {
        let k = &self.kube;
        let karp = k.karpenter.as_ref()?;
        let idx: Vec<usize> = nodes.iter().map(|&(i, _)| i).collect();
        let stamped: Vec<(NodeId, SimTime)> = idx
            .iter()
            .map(|&i| (NodeId(i as u32), k.nodes[i].last_pod_event))
            .collect();
        let left = self.reschedule_without(&idx);
        if left.is_empty() {
            return Some(Command::Delete(stamped, DisruptionReason::Underutilized));
        }
        let (claims, unfit) = self.karpenter_pack(&left, nodepools);
        if unfit > 0 || claims.len() != 1 {
            return None;
        }
        let pool_of = |i: usize| k.nodes[i].pool.index();
        let price_of = |p: usize| k.pools[p].spec.price_usd_per_hour;
        let spot = |p: usize| k.pools[p].spec.capacity_type == CapacityType::Spot;
        let price: f64 = idx.iter().map(|&i| price_of(pool_of(i))).sum();
        let options = &claims[0].options;
        let cheaper = |p: &usize| price_of(*p) < price;
        let mut chosen: Vec<usize> =
            if idx.iter().all(|&i| spot(pool_of(i))) && options.iter().any(|&p| spot(p)) {
                // Spot to spot (`computeSpotToSpotConsolidation`): only behind the feature
                // gate, only cheaper spot types and never a fall-back to on-demand; a single
                // node also needs at least 15 cheaper spot types, the launch then choosing
                // among the 15 cheapest.
                if !karp.spec.spot_to_spot {
                    return None;
                }
                let mut s: Vec<usize> = options
                    .iter()
                    .copied()
                    .filter(|&p| spot(p))
                    .filter(cheaper)
                    .collect();
                if !multi {
                    if s.len() < MIN_SPOT_TO_SPOT_TYPES {
                        return None;
                    }
                    s.sort_by(|&a, &b| price_of(a).total_cmp(&price_of(b)).then(a.cmp(&b)));
                    s.truncate(MIN_SPOT_TO_SPOT_TYPES);
                }
                s
            } else {
                let mut c: Vec<usize> = options.iter().copied().filter(cheaper).collect();
                // A replacement that may be spot or on-demand is pinned to spot, so that it
                // cannot fall back to a pricier on-demand node.
                if options.iter().any(|&p| spot(p)) && options.iter().any(|&p| !spot(p)) {
                    c.retain(|&p| spot(p));
                }
                c
            };
        if multi {
            // `filterOutSameInstanceType`: if the replacement may be the instance type of one
            // of the nodes, it must be cheaper than the cheapest such node (or keeping that
            // node and deleting the others would disrupt less).
            let type_of = |p: usize| k.pools[p].spec.instance_type.as_str();
            let max_price = idx
                .iter()
                .map(|&i| pool_of(i))
                .filter(|&p| chosen.iter().any(|&o| type_of(o) == type_of(p)))
                .map(price_of)
                .fold(f64::INFINITY, f64::min);
            chosen.retain(|&p| price_of(p) < max_price);
        }
        let np = claims[0].nodepool;
        let mut usage = self.nodepool_usage(np);
        for &(i, n) in nodes {
            if n == np {
                usage.sub(&self.pool_capacity(pool_of(i)));
            }
        }
        let best = self.cheapest_within_limits(np, &chosen, &usage)?;
        Some(Command::Replace(stamped, best))
    }
}
