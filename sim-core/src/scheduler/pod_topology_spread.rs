//! PodTopologySpread: the system default constraints (a Deployment's pods spread over hostnames
//! with maxSkew 3 and zones with maxSkew 5, both ScheduleAnyway) for pods without constraints of
//! their own, and a pod's explicit `topologySpreadConstraints`: DoNotSchedule ones as a filter
//! ([`SpreadFilter`]), ScheduleAnyway ones as a score ([`explicit_scores`]). A constraint
//! without a `labelSelector` counts the Deployment's own pods (`NodeView::matching_pods`); one
//! whose selector selects other services' pods counts theirs too (`NodeView::service_pods`);
//! terminating pods are excluded.

use super::filter::Rejection;
use super::{node_affinity, selected_pods, NodeView, PodView, MAX_NODE_SCORE};
use crate::cluster::taint::{tolerated, Effect};
use crate::cluster::{
    InclusionPolicy, PodSelector, PodTemplate, SpreadConstraint, Toleration, WhenUnsatisfiable,
};
use std::collections::BTreeMap;

/// One default constraint: topology key and maxSkew.
pub const SYSTEM_DEFAULTS: [(&str, i64); 2] = [
    ("kubernetes.io/hostname", 3),
    ("topology.kubernetes.io/zone", 5),
];

/// The hostname label: every node is its own domain.
pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// Raw score of one node: Σ over constraints of `count × ln(domains + 2) + (maxSkew − 1)`, rounded
/// once. `counts[i]` is the matching pods in the node's domain for constraint `i`, `domains[i]` the
/// number of domains.
pub fn raw_score(counts: &[u32; 2], domains: &[usize; 2]) -> i64 {
    let mut s = 0.0;
    for (i, &(_, max_skew)) in SYSTEM_DEFAULTS.iter().enumerate() {
        s += score_for_count(counts[i], max_skew, domains[i]);
    }
    s.round() as i64
}

/// Upstream `scoreForCount` with `topologyNormalizingWeight`: `count × ln(domains + 2) +
/// (maxSkew − 1)`.
pub fn score_for_count(count: u32, max_skew: i64, domains: usize) -> f64 {
    count as f64 * ((domains + 2) as f64).ln() + (max_skew - 1) as f64
}

/// Upstream normalisation: `100 × (max + min − s) / max` over non-ignored nodes; all 100 when
/// every score is zero; ignored nodes (lacking a topology label) get 0.
pub fn normalize(scores: &mut [i64], ignored: &[bool]) {
    let live = scores
        .iter()
        .zip(ignored)
        .filter(|(_, &ig)| !ig)
        .map(|(s, _)| *s);
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for s in live {
        min = min.min(s);
        max = max.max(s);
    }
    for (s, &ig) in scores.iter_mut().zip(ignored) {
        *s = if ig {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *s) / max
        };
    }
}

impl SpreadConstraint {
    /// The pods on `node` this constraint counts: the Deployment's (or those of every service
    /// its `labelSelector` selects), or only the placed pod's own ReplicaSet's under
    /// `matchLabelKeys: [pod-template-hash]` (no other service's pod shares its hash).
    fn counted(&self, node: &NodeView) -> u32 {
        match &self.selector {
            PodSelector::Labels { own: false, .. } if self.own_replica_set => 0,
            PodSelector::Labels { services, own, .. } if !self.own_replica_set => {
                selected_pods(services, *own, node, false)
            }
            _ if self.own_replica_set => node.version_pods,
            _ => node.matching_pods,
        }
    }
}

/// Whether a toleration list tolerates a `key:NoSchedule` taint with an empty value.
fn tolerates_no_schedule(tolerations: &[Toleration], key: &str) -> bool {
    tolerations.iter().any(|t| {
        t.effect.is_none_or(|e| e == Effect::NoSchedule)
            && (t.key.is_empty() || t.key == key)
            && (t.operator == crate::cluster::TolerationOperator::Exists || t.value.is_empty())
    })
}

/// Whether the node has a NoSchedule/NoExecute taint the pod does not tolerate: the pool's
/// taints, `node.kubernetes.io/unreachable` on a NotReady node and
/// `node.kubernetes.io/unschedulable` on a cordoned one (as the node lifecycle controller sets).
pub fn untolerated_taint(t: &PodTemplate, node: &NodeView) -> bool {
    node.taints.iter().any(|taint| {
        matches!(taint.effect, Effect::NoSchedule | Effect::NoExecute)
            && !tolerated(&t.tolerations, taint)
    }) || (node.not_ready
        && !tolerates_no_schedule(&t.tolerations, "node.kubernetes.io/unreachable"))
        || (node.unschedulable
            && !tolerates_no_schedule(&t.tolerations, "node.kubernetes.io/unschedulable"))
}

/// Upstream `matchNodeInclusionPolicies`: whether `node` is one of `c`'s domains.
fn included(c: &SpreadConstraint, t: &PodTemplate, node: &NodeView) -> bool {
    (c.node_affinity_policy == InclusionPolicy::Ignore
        || node_affinity::required_matches(t, node.labels))
        && (c.node_taints_policy == InclusionPolicy::Ignore || !untolerated_taint(t, node))
}

/// Whether `node` carries every constraint's topology key.
fn has_all_keys<'c>(
    node: &NodeView,
    mut constraints: impl Iterator<Item = &'c SpreadConstraint>,
) -> bool {
    constraints.all(|c| node.labels.contains_key(&c.topology_key))
}

/// One DoNotSchedule constraint's matching pods per domain and its global minimum.
#[derive(Debug)]
struct HardCounts<'a> {
    constraint: &'a SpreadConstraint,
    counts: BTreeMap<&'a str, u32>,
    min: u32,
}

/// The DoNotSchedule constraints' domain counts, computed once per scheduling cycle over every
/// registered node (upstream `PreFilter`); [`SpreadFilter::check`] is the per-node `Filter`.
#[derive(Debug, Default)]
pub struct SpreadFilter<'a> {
    hard: Vec<HardCounts<'a>>,
}

impl<'a> SpreadFilter<'a> {
    /// Counts the Deployment's pods per domain of each DoNotSchedule constraint. `nodes` is
    /// every registered node, NotReady ones included (their pods count until evicted).
    pub fn new(pod: &PodView<'a>, nodes: &[NodeView<'a>]) -> SpreadFilter<'a> {
        let t = pod.template;
        let hard_of = || {
            t.spread
                .iter()
                .filter(|c| c.when == WhenUnsatisfiable::DoNotSchedule)
        };
        if hard_of().next().is_none() {
            return SpreadFilter::default();
        }
        let mut hard: Vec<HardCounts<'a>> = hard_of()
            .map(|c| HardCounts {
                constraint: c,
                counts: BTreeMap::new(),
                min: 0,
            })
            .collect();
        for n in nodes {
            if !has_all_keys(n, hard_of()) {
                continue;
            }
            for h in hard.iter_mut() {
                if !included(h.constraint, t, n) {
                    continue;
                }
                let v = n.labels[&h.constraint.topology_key].as_str();
                *h.counts.entry(v).or_default() += h.constraint.counted(n);
            }
        }
        for h in hard.iter_mut() {
            h.min = if (h.counts.len() as u64) < u64::from(h.constraint.min_domains) {
                0
            } else {
                h.counts.values().copied().min().unwrap_or(0)
            };
        }
        SpreadFilter { hard }
    }

    /// Upstream `Filter`: the node needs every key, and for each constraint
    /// `count(domain) + 1 − global minimum ≤ maxSkew`.
    pub fn check(&self, node: &NodeView) -> Result<(), Rejection> {
        for h in &self.hard {
            let Some(v) = node.labels.get(&h.constraint.topology_key) else {
                return Err(Rejection::SpreadLabelMissing);
            };
            let count = h.counts.get(v.as_str()).copied().unwrap_or(0);
            if i64::from(count) + 1 - i64::from(h.min) > i64::from(h.constraint.max_skew) {
                return Err(Rejection::Spread);
            }
        }
        Ok(())
    }
}

/// Upstream `PreScore`/`Score`/`NormalizeScore` for a pod with explicit constraints: only its
/// ScheduleAnyway ones score (none: every node 0, the plugin skipped). Feasible nodes lacking
/// a key are ignored (0); domains are those of the feasible nodes, weighted `ln(domains + 2)`;
/// pods count on every registered node in those domains (hostname: the node's own pods).
/// `feasible` indexes `nodes`; writes one score per feasible node into `out`.
pub fn explicit_scores(
    pod: &PodView,
    nodes: &[NodeView],
    feasible: &[usize],
    out: &mut Vec<i64>,
    ignored: &mut Vec<bool>,
) {
    let t = pod.template;
    out.clear();
    out.resize(feasible.len(), 0);
    ignored.clear();
    ignored.resize(feasible.len(), false);
    let soft_of = || {
        t.spread
            .iter()
            .filter(|c| c.when == WhenUnsatisfiable::ScheduleAnyway)
    };
    if soft_of().next().is_none() {
        return;
    }
    let soft: Vec<&SpreadConstraint> = soft_of().collect();
    let mut domains: Vec<BTreeMap<&str, u32>> = vec![BTreeMap::new(); soft.len()];
    let mut scored = 0usize;
    for (k, &i) in feasible.iter().enumerate() {
        let n = &nodes[i];
        if !has_all_keys(n, soft.iter().copied()) {
            ignored[k] = true;
            continue;
        }
        scored += 1;
        for (c, d) in soft.iter().zip(domains.iter_mut()) {
            if c.topology_key != HOSTNAME {
                d.insert(n.labels[&c.topology_key].as_str(), 0);
            }
        }
    }
    for n in nodes {
        if !has_all_keys(n, soft.iter().copied()) {
            continue;
        }
        for (c, d) in soft.iter().zip(domains.iter_mut()) {
            if c.topology_key == HOSTNAME || !included(c, t, n) {
                continue;
            }
            if let Some(count) = d.get_mut(n.labels[&c.topology_key].as_str()) {
                *count += c.counted(n);
            }
        }
    }
    for (k, &i) in feasible.iter().enumerate() {
        if ignored[k] {
            continue;
        }
        let n = &nodes[i];
        let mut s = 0.0;
        for (c, d) in soft.iter().zip(&domains) {
            let (count, size) = if c.topology_key == HOSTNAME {
                (c.counted(n), scored)
            } else {
                let v = n.labels[&c.topology_key].as_str();
                (d.get(v).copied().unwrap_or(0), d.len())
            };
            s += score_for_count(count, i64::from(c.max_skew), size);
        }
        out[k] = s.round() as i64;
    }
    normalize(out, ignored);
}

/// The most pods of the Deployment a fresh, empty node can take under the pod's constraints
/// when an autoscaler simulates one (`u32::MAX`: no limit): a DoNotSchedule hostname constraint
/// that counts the Deployment's own pods allows `maxSkew` (the new node's domain starts at the
/// global minimum, 0 once it is empty).
pub fn new_node_limit(t: &PodTemplate) -> u32 {
    t.spread
        .iter()
        .filter(|c| {
            c.when == WhenUnsatisfiable::DoNotSchedule
                && c.topology_key == HOSTNAME
                && c.selector.selects_own()
        })
        .map(|c| c.max_skew)
        .min()
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Labels, ResVec};

    fn labels(host: &str, zone: Option<&str>) -> Labels {
        let mut l = Labels::new();
        l.insert(HOSTNAME.into(), host.into());
        if let Some(z) = zone {
            l.insert("topology.kubernetes.io/zone".into(), z.into());
        }
        l
    }

    fn node<'a>(r: &'a ResVec, labels: &'a Labels, pods: u32) -> NodeView<'a> {
        NodeView {
            allocatable: r,
            requested: r,
            labels,
            taints: &[],
            matching_pods: pods,
            version_pods: pods,
            terminating_pods: 0,
            service_pods: &[],
            service_terminating: &[],
            has_image: false,
            unschedulable: false,
            not_ready: false,
        }
    }

    fn constraint(key: &str, skew: u32, when: WhenUnsatisfiable) -> SpreadConstraint {
        SpreadConstraint {
            max_skew: skew,
            topology_key: key.into(),
            when,
            min_domains: 1,
            node_affinity_policy: InclusionPolicy::Honor,
            node_taints_policy: InclusionPolicy::Ignore,
            own_replica_set: false,
            selector: PodSelector::Own,
        }
    }

    fn pod<'a>(t: &'a PodTemplate, r: &'a ResVec) -> PodView<'a> {
        PodView {
            template: t,
            requests: r,
            nonzero_requests: r,
            held_off: &[],
        }
    }

    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn do_not_schedule_filters_by_skew_and_missing_label() {
        let r = ResVec(vec![0; 4]);
        let (la, lb, lc, ld) = (
            labels("a", Some("a")),
            labels("b", Some("b")),
            labels("c", Some("c")),
            labels("d", None),
        );
        // Zone counts a 2, b 0, c 1; the node without a zone is no domain. Global min 0.
        let nodes = [
            node(&r, &la, 2),
            node(&r, &lb, 0),
            node(&r, &lc, 1),
            node(&r, &ld, 0),
        ];
        let t = PodTemplate {
            spread: vec![constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule)],
            ..PodTemplate::default()
        };
        let p = pod(&t, &r);
        let f = SpreadFilter::new(&p, &nodes);
        // 2 + 1 − 0 = 3 > 1; 0 + 1 − 0 = 1; 1 + 1 − 0 = 2 > 1; no key.
        let got: Vec<_> = nodes.iter().map(|n| f.check(n)).collect();
        assert_eq!(
            got,
            [
                Err(Rejection::Spread),
                Ok(()),
                Err(Rejection::Spread),
                Err(Rejection::SpreadLabelMissing)
            ]
        );
        // With maxSkew 2 zone c (1 + 1 − 0 = 2) passes too.
        let t2 = PodTemplate {
            spread: vec![constraint(ZONE, 2, WhenUnsatisfiable::DoNotSchedule)],
            ..PodTemplate::default()
        };
        let p2 = pod(&t2, &r);
        let f2 = SpreadFilter::new(&p2, &nodes);
        assert_eq!(f2.check(&nodes[2]), Ok(()));
        assert_eq!(f2.check(&nodes[0]), Err(Rejection::Spread));
    }

    #[test]
    fn pod_template_hash_in_match_label_keys_counts_only_the_pods_own_version() {
        // Mid-rollout: zone a holds 2 old-version pods, zone b 1 new-version pod. Counting every
        // version, a is at 2 and refused (2 + 1 − 1 > 1); counting the new version only (as
        // `matchLabelKeys: [pod-template-hash]` does), a is at 0 and b at 1, so a passes and b
        // does not (1 + 1 − 0 > 1).
        let r = ResVec(vec![0; 4]);
        let (la, lb) = (labels("a", Some("a")), labels("b", Some("b")));
        let mut a = node(&r, &la, 2);
        a.version_pods = 0;
        let b = node(&r, &lb, 1);
        let nodes = [a, b];
        let mut c = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
        let all = PodTemplate {
            spread: vec![c.clone()],
            ..PodTemplate::default()
        };
        let f = SpreadFilter::new(&pod(&all, &r), &nodes);
        assert_eq!(f.check(&nodes[0]), Err(Rejection::Spread));
        assert_eq!(f.check(&nodes[1]), Ok(()));
        c.own_replica_set = true;
        let own = PodTemplate {
            spread: vec![c],
            ..PodTemplate::default()
        };
        let f = SpreadFilter::new(&pod(&own, &r), &nodes);
        assert_eq!(f.check(&nodes[0]), Ok(()));
        assert_eq!(f.check(&nodes[1]), Err(Rejection::Spread));
    }

    #[test]
    fn min_domains_and_taint_policy_change_the_global_minimum() {
        let r = ResVec(vec![0; 4]);
        let (la, lb, lc, ld) = (
            labels("a", Some("a")),
            labels("b", Some("b")),
            labels("c", Some("c")),
            labels("d", Some("d")),
        );
        // a 2, b 1, c 1: global minimum 1, so b: 1 + 1 − 1 = 1 ≤ 1 passes.
        let nodes = [node(&r, &la, 2), node(&r, &lb, 1), node(&r, &lc, 1)];
        let mut c = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
        let t = PodTemplate {
            spread: vec![c.clone()],
            ..PodTemplate::default()
        };
        let p = pod(&t, &r);
        let f = SpreadFilter::new(&p, &nodes);
        assert_eq!(f.check(&nodes[1]), Ok(()));
        assert_eq!(f.check(&nodes[0]), Err(Rejection::Spread));
        // minDomains 4 > 3 eligible domains: the global minimum is 0 and b (1 + 1 − 0) fails.
        c.min_domains = 4;
        let t4 = PodTemplate {
            spread: vec![c.clone()],
            ..PodTemplate::default()
        };
        let p4 = pod(&t4, &r);
        let f4 = SpreadFilter::new(&p4, &nodes);
        assert_eq!(f4.check(&nodes[1]), Err(Rejection::Spread));
        // A NotReady node of an empty zone d: a domain under nodeTaintsPolicy Ignore (minimum
        // 0, b fails), none under Honor (minimum 1, b passes).
        let mut dead = node(&r, &ld, 0);
        dead.not_ready = true;
        let with_dead = [nodes[0], nodes[1], nodes[2], dead];
        c.min_domains = 1;
        let ignore = PodTemplate {
            spread: vec![c.clone()],
            ..PodTemplate::default()
        };
        let pi = pod(&ignore, &r);
        assert_eq!(
            SpreadFilter::new(&pi, &with_dead).check(&nodes[1]),
            Err(Rejection::Spread)
        );
        c.node_taints_policy = InclusionPolicy::Honor;
        let honor = PodTemplate {
            spread: vec![c],
            ..PodTemplate::default()
        };
        let ph = pod(&honor, &r);
        assert_eq!(SpreadFilter::new(&ph, &with_dead).check(&nodes[1]), Ok(()));
    }

    #[test]
    fn node_affinity_policy_honor_drops_domains_the_pod_cannot_use() {
        let r = ResVec(vec![0; 4]);
        let mut la = labels("a", Some("a"));
        la.insert("pool".into(), "gpu".into());
        let lb = labels("b", Some("b"));
        // Zone b's node fails the pod's nodeSelector: under Honor zone b is no domain and the
        // minimum is a's 1; under Ignore it is b's 0.
        let nodes = [node(&r, &la, 1), node(&r, &lb, 0)];
        let mut c = constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule);
        let mut sel = Labels::new();
        sel.insert("pool".into(), "gpu".into());
        let t = PodTemplate {
            spread: vec![c.clone()],
            node_selector: sel.clone(),
            ..PodTemplate::default()
        };
        let p = pod(&t, &r);
        assert_eq!(SpreadFilter::new(&p, &nodes).check(&nodes[0]), Ok(()));
        c.node_affinity_policy = InclusionPolicy::Ignore;
        let ti = PodTemplate {
            spread: vec![c],
            node_selector: sel,
            ..PodTemplate::default()
        };
        let pi = pod(&ti, &r);
        assert_eq!(
            SpreadFilter::new(&pi, &nodes).check(&nodes[0]),
            Err(Rejection::Spread)
        );
    }

    #[test]
    fn schedule_anyway_scores_by_domain_counts() {
        let r = ResVec(vec![0; 4]);
        let (la, lb, lc, le) = (
            labels("a", Some("a")),
            labels("b", Some("b")),
            labels("c", Some("c")),
            labels("e", None),
        );
        let nodes = [
            node(&r, &la, 2),
            node(&r, &lb, 1),
            node(&r, &lc, 0),
            node(&r, &le, 0),
        ];
        let t = PodTemplate {
            spread: vec![constraint(ZONE, 1, WhenUnsatisfiable::ScheduleAnyway)],
            ..PodTemplate::default()
        };
        let p = pod(&t, &r);
        let (mut out, mut ignored) = (Vec::new(), Vec::new());
        explicit_scores(&p, &nodes, &[0, 1, 2, 3], &mut out, &mut ignored);
        // 3 domains: weight ln 5 = 1.609; raw a round(3.22) = 3, b round(1.61) = 2, c 0; the
        // node without a zone is ignored. 100 × (3 + 0 − s) / 3: 0, 33, 100; ignored 0.
        assert_eq!(out, [0, 33, 100, 0]);
        assert_eq!(ignored, [false, false, false, true]);
        // Only DoNotSchedule constraints: the score is skipped (all 0).
        let hard = PodTemplate {
            spread: vec![constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule)],
            ..PodTemplate::default()
        };
        let ph = pod(&hard, &r);
        explicit_scores(&ph, &nodes, &[0, 1, 2], &mut out, &mut ignored);
        assert_eq!(out, [0, 0, 0]);
    }

    #[test]
    fn hostname_scores_use_the_nodes_own_pods_and_skew() {
        let r = ResVec(vec![0; 4]);
        let (la, lb) = (labels("a", Some("z")), labels("b", Some("z")));
        let nodes = [node(&r, &la, 3), node(&r, &lb, 1)];
        let t = PodTemplate {
            spread: vec![constraint(HOSTNAME, 2, WhenUnsatisfiable::ScheduleAnyway)],
            ..PodTemplate::default()
        };
        let p = pod(&t, &r);
        let (mut out, mut ignored) = (Vec::new(), Vec::new());
        explicit_scores(&p, &nodes, &[0, 1], &mut out, &mut ignored);
        // 2 hostnames: ln 4 = 1.386; raw round(3 × 1.386 + 1) = 5, round(1.386 + 1) = 2;
        // 100 × (5 + 2 − s) / 5: 40, 100.
        assert_eq!(out, [40, 100]);
    }

    #[test]
    fn new_nodes_take_max_skew_pods_under_a_hostname_constraint() {
        let t = PodTemplate {
            spread: vec![
                constraint(HOSTNAME, 2, WhenUnsatisfiable::DoNotSchedule),
                constraint(ZONE, 1, WhenUnsatisfiable::DoNotSchedule),
            ],
            ..PodTemplate::default()
        };
        assert_eq!(new_node_limit(&t), 2);
        assert_eq!(new_node_limit(&PodTemplate::default()), u32::MAX);
    }
}
