//! The scheduling cycle: filter every node, score the feasible ones with the default plugins and
//! their upstream weights, and pick the best (ties broken at random, as upstream's `selectHost`).

use super::config::{SchedulerConfig, ScoringType};
use super::filter::{filter, Rejection};
use super::{
    balanced_allocation, default_normalize, image_locality, inter_pod_affinity, least_allocated,
    most_allocated, node_affinity, pod_topology_spread, requested_to_capacity_ratio,
    taint_toleration, NodeView, PodView,
};
use crate::cluster::ResourceNames;
use crate::engine::Rng;
use rand::RngExt;
use std::collections::BTreeMap;

/// Default plugin weights (kube-scheduler `getDefaultPlugins`).
pub mod weights {
    /// TaintToleration.
    pub const TAINT_TOLERATION: i64 = 3;
    /// NodeAffinity.
    pub const NODE_AFFINITY: i64 = 2;
    /// NodeResourcesFit.
    pub const NODE_RESOURCES_FIT: i64 = 1;
    /// PodTopologySpread.
    pub const POD_TOPOLOGY_SPREAD: i64 = 2;
    /// NodeResourcesBalancedAllocation.
    pub const BALANCED_ALLOCATION: i64 = 1;
    /// ImageLocality.
    pub const IMAGE_LOCALITY: i64 = 1;
    /// InterPodAffinity.
    pub const INTER_POD_AFFINITY: i64 = 2;
}

/// Why no node was chosen: how many nodes each filter turned away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unschedulable {
    /// Nodes considered.
    pub nodes: usize,
    /// Rejections by reason.
    pub reasons: BTreeMap<Rejection, usize>,
}

impl Unschedulable {
    /// Upstream-style message: `0/3 nodes are available: 3 Insufficient nvidia.com/gpu.`
    /// With no nodes at all, upstream's `no nodes available to schedule pods`.
    pub fn message(&self, names: &ResourceNames) -> String {
        if self.nodes == 0 {
            return "no nodes available to schedule pods".to_string();
        }
        let parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{n} {}", r.describe(names)))
            .collect();
        format!(
            "0/{} nodes are available: {}.",
            self.nodes,
            parts.join(", ")
        )
    }
}

/// NodeResourcesFit's score for one node under `cfg`.
pub fn fit_score(
    cfg: &SchedulerConfig,
    names: &ResourceNames,
    pod: &PodView,
    node: &NodeView,
) -> i64 {
    let mut sum = 0i64;
    let mut weights = 0i64;
    for (name, w) in &cfg.resources {
        let Some(r) = names.index(name) else { continue };
        let cap = node.allocatable.0[r];
        if cap == 0 {
            continue; // resources the node lacks are skipped
        }
        let req = node.requested.0[r] + pod.nonzero_requests.0[r];
        let s = match &cfg.scoring {
            ScoringType::LeastAllocated => least_allocated::resource_score(req, cap),
            ScoringType::MostAllocated => most_allocated::resource_score(req, cap),
            ScoringType::RequestedToCapacityRatio(shape) => {
                let s = requested_to_capacity_ratio::resource_score(shape, req, cap);
                if s == 0 {
                    continue; // upstream averages only resources with a positive score
                }
                s
            }
        };
        sum += s * w;
        weights += w;
    }
    if weights == 0 {
        0
    } else if matches!(cfg.scoring, ScoringType::RequestedToCapacityRatio(_)) {
        (sum as f64 / weights as f64).round() as i64
    } else {
        sum / weights
    }
}

/// Picks a node for `pod` among `nodes`; `Err` explains why none fits. `rng` breaks ties.
pub fn select(
    cfg: &SchedulerConfig,
    names: &ResourceNames,
    pod: &PodView,
    nodes: &[NodeView],
    rng: &mut Rng,
    scratch: &mut Vec<(usize, i64)>,
) -> Result<usize, Unschedulable> {
    scratch.clear();
    let mut why = Unschedulable::default();
    // PreFilter: domain counts once per cycle, over every registered node.
    let spread_filter = pod_topology_spread::SpreadFilter::new(pod, nodes);
    let anti_filter = inter_pod_affinity::AntiAffinityFilter::new(pod, nodes);
    for (i, n) in nodes.iter().enumerate() {
        if n.not_ready {
            continue;
        }
        why.nodes += 1;
        let verdict = filter(pod, n)
            .and_then(|()| spread_filter.check(n))
            .and_then(|()| anti_filter.check(n));
        match verdict {
            Ok(()) => scratch.push((i, 0)),
            Err(r) => *why.reasons.entry(r).or_default() += 1,
        }
    }
    let registered = why.nodes;
    if scratch.is_empty() {
        return Err(why);
    }
    if scratch.len() == 1 {
        return Ok(scratch[0].0);
    }
    let feasible: Vec<usize> = scratch.iter().map(|&(i, _)| i).collect();
    let view = |i: usize| &nodes[feasible[i]];
    let k = feasible.len();
    // Normalised plugins.
    let mut taint: Vec<i64> = (0..k)
        .map(|i| taint_toleration::score(pod, view(i)))
        .collect();
    default_normalize(&mut taint, true);
    let mut affinity: Vec<i64> = (0..k).map(|i| node_affinity::score(pod, view(i))).collect();
    default_normalize(&mut affinity, false);
    let mut spread = Vec::new();
    let mut ignored = Vec::new();
    if pod.template.spread.is_empty() {
        default_spread(nodes, &feasible, &mut spread, &mut ignored);
    } else {
        pod_topology_spread::explicit_scores(pod, nodes, &feasible, &mut spread, &mut ignored);
    }
    let mut anti = Vec::new();
    let anti_scored = inter_pod_affinity::scores(pod, nodes, &feasible, &mut anti);
    let with_image = nodes.iter().filter(|n| n.has_image && !n.not_ready).count();
    let image_bytes = pod.template.image_bytes;
    let mut best_score = i64::MIN;
    let mut best = 0usize;
    let mut ties = 0u32;
    for i in 0..k {
        let n = view(i);
        let mut total = weights::TAINT_TOLERATION * taint[i]
            + weights::NODE_AFFINITY * affinity[i]
            + weights::NODE_RESOURCES_FIT * fit_score(cfg, names, pod, n)
            + weights::POD_TOPOLOGY_SPREAD * spread[i]
            + weights::BALANCED_ALLOCATION * balanced_allocation::score(pod, n)
            + weights::IMAGE_LOCALITY
                * image_locality::score(n, image_bytes, with_image, registered);
        if anti_scored {
            total += weights::INTER_POD_AFFINITY * anti[i];
        }
        if total > best_score {
            best_score = total;
            best = feasible[i];
            ties = 1;
        } else if total == best_score {
            // Reservoir sampling over equal scores, as upstream's selectHost.
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = feasible[i];
            }
        }
    }
    Ok(best)
}

/// PodTopologySpread's score with the system default constraints, over the feasible nodes'
/// domains and pods (a simplification: upstream also counts pods on infeasible nodes of those
/// zones). Writes one score per feasible node.
fn default_spread(
    nodes: &[NodeView],
    feasible: &[usize],
    spread: &mut Vec<i64>,
    ignored: &mut Vec<bool>,
) {
    let view = |i: usize| &nodes[feasible[i]];
    let k = feasible.len();
    ignored.clear();
    ignored.resize(k, false);
    let mut domains = [0usize; 2];
    let mut zone_counts: BTreeMap<&str, u32> = BTreeMap::new();
    for (i, ig) in ignored.iter_mut().enumerate() {
        let n = view(i);
        match n.labels.get(pod_topology_spread::SYSTEM_DEFAULTS[1].0) {
            Some(z) => *zone_counts.entry(z.as_str()).or_default() += n.version_pods,
            None => *ig = true,
        }
        if !n
            .labels
            .contains_key(pod_topology_spread::SYSTEM_DEFAULTS[0].0)
        {
            *ig = true;
        }
    }
    domains[0] = ignored.iter().filter(|&&ig| !ig).count();
    domains[1] = zone_counts.len();
    spread.clear();
    spread.extend((0..k).map(|i| {
        if ignored[i] {
            return 0;
        }
        let n = view(i);
        let zone = n
            .labels
            .get(pod_topology_spread::SYSTEM_DEFAULTS[1].0)
            .map(String::as_str);
        let zc = zone.and_then(|z| zone_counts.get(z)).copied().unwrap_or(0);
        pod_topology_spread::raw_score(&[n.version_pods, zc], &domains)
    }));
    pod_topology_spread::normalize(spread, ignored);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Effect, Labels, PodTemplate, ResVec, Taint};
    use crate::engine::RngStreams;

    fn names() -> ResourceNames {
        ResourceNames::default()
    }

    fn node<'a>(
        alloc: &'a ResVec,
        used: &'a ResVec,
        labels: &'a Labels,
        taints: &'a [Taint],
    ) -> NodeView<'a> {
        NodeView {
            allocatable: alloc,
            requested: used,
            labels,
            taints,
            matching_pods: 0,
            version_pods: 0,
            has_image: false,
            unschedulable: false,
            terminating_pods: 0,
            service_pods: &[],
            service_terminating: &[],
            not_ready: false,
        }
    }

    #[test]
    fn least_allocated_spreads_and_most_allocated_packs() {
        let names = names();
        let alloc = ResVec(vec![8_000, 32_000_000_000_000, 110_000, 0]);
        let empty = ResVec(vec![0, 0, 0, 0]);
        let half = ResVec(vec![4_000, 16_000_000_000_000, 1_000, 0]);
        let mut labels_a = Labels::new();
        labels_a.insert("kubernetes.io/hostname".into(), "a".into());
        let mut labels_b = Labels::new();
        labels_b.insert("kubernetes.io/hostname".into(), "b".into());
        let req = ResVec(vec![1_000, 1_000_000_000_000, 1_000, 0]);
        let t = PodTemplate::default();
        let pod = PodView {
            template: &t,
            requests: &req,
            nonzero_requests: &req,
            held_off: &[],
        };
        let nodes = [
            node(&alloc, &empty, &labels_a, &[]),
            node(&alloc, &half, &labels_b, &[]),
        ];
        let mut rng = RngStreams::new(1).stream("s");
        let mut scratch = Vec::new();
        let spread = SchedulerConfig::default();
        assert_eq!(
            select(&spread, &names, &pod, &nodes, &mut rng, &mut scratch),
            Ok(0)
        );
        let pack = SchedulerConfig {
            scoring: ScoringType::MostAllocated,
            ..SchedulerConfig::default()
        };
        assert_eq!(
            select(&pack, &names, &pod, &nodes, &mut rng, &mut scratch),
            Ok(1)
        );
    }

    #[test]
    fn unschedulable_explains_itself() {
        let names = names();
        let alloc = ResVec(vec![8_000, 1_000, 110_000, 0]);
        let used = ResVec(vec![0, 0, 0, 0]);
        let labels = Labels::new();
        let taints = [Taint {
            key: "nvidia.com/gpu".into(),
            value: String::new(),
            effect: Effect::NoSchedule,
        }];
        let gpu_req = ResVec(vec![1_000, 0, 1_000, 1_000]);
        let t = PodTemplate::default();
        let pod = PodView {
            template: &t,
            requests: &gpu_req,
            nonzero_requests: &gpu_req,
            held_off: &[],
        };
        let nodes = [
            node(&alloc, &used, &labels, &[]),
            node(&alloc, &used, &labels, &taints),
        ];
        let mut rng = RngStreams::new(1).stream("s");
        let err = select(
            &SchedulerConfig::default(),
            &names,
            &pod,
            &nodes,
            &mut rng,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.message(&names), "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint.");
    }

    #[test]
    fn spread_and_anti_affinity_reasons_read_as_upstream() {
        use crate::cluster::{
            InclusionPolicy, PodAffinityTerm, PodSelector, SpreadConstraint, WhenUnsatisfiable,
        };
        let names = names();
        let alloc = ResVec(vec![8_000, 32_000_000_000_000, 110_000, 0]);
        let used = ResVec(vec![0, 0, 0, 0]);
        let lab = |h: &str, z: &str| {
            let mut l = Labels::new();
            l.insert("kubernetes.io/hostname".into(), h.into());
            l.insert("topology.kubernetes.io/zone".into(), z.into());
            l
        };
        let (la, lb, lc, ld) = (
            lab("a", "z1"),
            lab("b", "z1"),
            lab("c", "z2"),
            lab("d", "z3"),
        );
        let mut nodes = [
            node(&alloc, &used, &la, &[]),
            node(&alloc, &used, &lb, &[]),
            node(&alloc, &used, &lc, &[]),
            node(&alloc, &used, &ld, &[]),
        ];
        nodes[0].matching_pods = 1;
        nodes[0].version_pods = 1;
        nodes[2].matching_pods = 1;
        nodes[2].version_pods = 1;
        // A NotReady node in z3: its empty zone is the global minimum (nodeTaintsPolicy
        // Ignore), and it is not counted among the nodes considered.
        nodes[3].not_ready = true;
        let req = ResVec(vec![1_000, 1_000_000_000, 1_000, 0]);
        let t = PodTemplate {
            spread: vec![SpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when: WhenUnsatisfiable::DoNotSchedule,
                min_domains: 1,
                node_affinity_policy: InclusionPolicy::Honor,
                node_taints_policy: InclusionPolicy::Ignore,
                own_replica_set: false,
                selector: PodSelector::Own,
            }],
            ..PodTemplate::default()
        };
        let pod = PodView {
            template: &t,
            requests: &req,
            nonzero_requests: &req,
            held_off: &[],
        };
        let mut rng = RngStreams::new(1).stream("s");
        let cfg = SchedulerConfig::default();
        let err = select(&cfg, &names, &pod, &nodes, &mut rng, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.message(&names),
            "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints."
        );
        let anti = PodTemplate {
            anti_affinity_required: vec![PodAffinityTerm {
                topology_key: "kubernetes.io/hostname".into(),
                selector: PodSelector::Own,
            }],
            ..PodTemplate::default()
        };
        let pa = PodView {
            template: &anti,
            requests: &req,
            nonzero_requests: &req,
            held_off: &[],
        };
        // Nodes a and c hold a pod: b is the only choice.
        assert_eq!(
            select(&cfg, &names, &pa, &nodes, &mut rng, &mut Vec::new()),
            Ok(1)
        );
        nodes[1].matching_pods = 1;
        nodes[1].version_pods = 1;
        let err = select(&cfg, &names, &pa, &nodes, &mut rng, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.message(&names),
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
        );
    }
}
