//! InterPodAffinity for pod anti-affinity: required terms as a filter
//! ([`AntiAffinityFilter`]), preferred ones as a score ([`scores`]). A term without a
//! `labelSelector` selects the Deployment's own pods; one whose selector selects other
//! services' pods counts theirs too; terminating ones are included (upstream counts every pod on a node), on
//! every registered node (NotReady ones too, until their pods are evicted). As all the
//! Deployment's pods carry the same terms, the symmetric check of existing pods' anti-affinity
//! gives the same answer and is not repeated; for the score it doubles every raw score, which
//! normalisation cancels.

use super::filter::Rejection;
use super::{selected_pods, NodeView, PodView, MAX_NODE_SCORE};
use crate::cluster::{PodAffinityTerm, PodSelector, PodTemplate};
use std::collections::{BTreeMap, BTreeSet};

/// The pods on a node a term counts as InterPodAffinity does: the Deployment's (or those of
/// every service its `labelSelector` selects), terminating ones included.
fn pods_on(term: &PodAffinityTerm, node: &NodeView) -> u32 {
    match &term.selector {
        PodSelector::Own => node.matching_pods + node.terminating_pods,
        PodSelector::Labels { services, own, .. } => selected_pods(services, *own, node, true),
    }
}

/// The domains (per required term) that already hold a pod of the Deployment, computed once
/// per scheduling cycle (upstream `PreFilter`).
#[derive(Debug, Default)]
pub struct AntiAffinityFilter<'a> {
    taken: Vec<(&'a str, BTreeSet<&'a str>)>,
}

impl<'a> AntiAffinityFilter<'a> {
    /// Collects, for each required term, the topology values of nodes holding the Deployment's
    /// pods. `nodes` is every registered node.
    pub fn new(pod: &PodView<'a>, nodes: &[NodeView<'a>]) -> AntiAffinityFilter<'a> {
        let terms = &pod.template.anti_affinity_required;
        if terms.is_empty() && pod.held_off.is_empty() {
            return AntiAffinityFilter::default();
        }
        let mut taken: Vec<(&'a str, BTreeSet<&'a str>)> = terms
            .iter()
            .map(|t| (t.topology_key.as_str(), BTreeSet::new()))
            .collect();
        for n in nodes {
            for (term, (key, set)) in terms.iter().zip(taken.iter_mut()) {
                if pods_on(term, n) == 0 {
                    continue;
                }
                if let Some(v) = n.labels.get(*key) {
                    set.insert(v.as_str());
                }
            }
        }
        // Upstream's symmetric check: existing pods whose required terms select this pod.
        for (svc, key) in pod.held_off {
            let mut set = BTreeSet::new();
            for n in nodes {
                let pods = n.service_pods.get(*svc).copied().unwrap_or(0)
                    + n.service_terminating.get(*svc).copied().unwrap_or(0);
                if pods > 0 {
                    if let Some(v) = n.labels.get(key) {
                        set.insert(v.as_str());
                    }
                }
            }
            taken.push((key.as_str(), set));
        }
        AntiAffinityFilter { taken }
    }

    /// Upstream `satisfyPodAntiAffinity`: a node whose value of a term's key is taken fails; a
    /// node without the key passes that term.
    pub fn check(&self, node: &NodeView) -> Result<(), Rejection> {
        for (key, set) in &self.taken {
            if node
                .labels
                .get(*key)
                .is_some_and(|v| set.contains(v.as_str()))
            {
                return Err(Rejection::AntiAffinity);
            }
        }
        Ok(())
    }
}

/// Upstream InterPodAffinity score for preferred anti-affinity, normalised: each term takes its
/// weight off every node per Deployment pod in the node's domain; then `100 × (s − min) /
/// (max − min)` over the feasible nodes (0 when all are equal or no pod matches). Writes one
/// score per feasible node (`feasible` indexes `nodes`) into `out`; false when the pod has no
/// preferred terms (the plugin is skipped and `out` is left empty).
pub fn scores(pod: &PodView, nodes: &[NodeView], feasible: &[usize], out: &mut Vec<i64>) -> bool {
    let terms = &pod.template.anti_affinity_preferred;
    out.clear();
    if terms.is_empty() {
        return false;
    }
    out.resize(feasible.len(), 0);
    let mut any = false;
    let mut per_domain: BTreeMap<&str, i64> = BTreeMap::new();
    for (w, term) in terms {
        let key = term.topology_key.as_str();
        per_domain.clear();
        for n in nodes {
            let pods = pods_on(term, n);
            if pods == 0 {
                continue;
            }
            if let Some(v) = n.labels.get(key) {
                *per_domain.entry(v.as_str()).or_default() += i64::from(pods);
            }
        }
        any |= !per_domain.is_empty();
        for (k, &i) in feasible.iter().enumerate() {
            if let Some(pods) = nodes[i]
                .labels
                .get(key)
                .and_then(|v| per_domain.get(v.as_str()))
            {
                out[k] -= w * pods;
            }
        }
    }
    if !any {
        out.iter_mut().for_each(|s| *s = 0);
        return true;
    }
    let min = out.iter().copied().min().unwrap_or(0);
    let max = out.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    for s in out.iter_mut() {
        *s = if diff > 0 {
            (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
    true
}

/// The most pods of the Deployment a fresh, empty node can take under the pod's required
/// anti-affinity when an autoscaler simulates one (`u32::MAX`: no limit): one, whatever the
/// term's key, if a term counts the Deployment's own pods (the new node's domain holds none
/// of them before the first).
pub fn new_node_limit(t: &PodTemplate) -> u32 {
    if t.anti_affinity_required
        .iter()
        .any(|term| term.selector.selects_own())
    {
        1
    } else {
        u32::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Labels, ResVec};

    fn labels(host: &str, zone: &str) -> Labels {
        let mut l = Labels::new();
        l.insert("kubernetes.io/hostname".into(), host.into());
        l.insert("topology.kubernetes.io/zone".into(), zone.into());
        l
    }

    fn node<'a>(r: &'a ResVec, labels: &'a Labels, pods: u32, terminating: u32) -> NodeView<'a> {
        NodeView {
            allocatable: r,
            requested: r,
            labels,
            taints: &[],
            matching_pods: pods,
            version_pods: pods,
            terminating_pods: terminating,
            service_pods: &[],
            service_terminating: &[],
            has_image: false,
            unschedulable: false,
            not_ready: false,
        }
    }

    fn term(key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            topology_key: key.into(),
            selector: PodSelector::Own,
        }
    }

    #[test]
    fn required_terms_block_domains_holding_a_pod_terminating_ones_too() {
        let r = ResVec(vec![0; 4]);
        let (la, lb, lc) = (labels("a", "z1"), labels("b", "z1"), labels("c", "z2"));
        let nodes = [
            node(&r, &la, 1, 0),
            node(&r, &lb, 0, 1),
            node(&r, &lc, 0, 0),
        ];
        let host = PodTemplate {
            anti_affinity_required: vec![term("kubernetes.io/hostname")],
            ..PodTemplate::default()
        };
        let p = PodView {
            template: &host,
            requests: &r,
            nonzero_requests: &r,
            held_off: &[],
        };
        let f = AntiAffinityFilter::new(&p, &nodes);
        let got: Vec<_> = nodes.iter().map(|n| f.check(n)).collect();
        assert_eq!(
            got,
            [
                Err(Rejection::AntiAffinity),
                Err(Rejection::AntiAffinity),
                Ok(())
            ]
        );
        // By zone: z1 holds pods, z2 none. A node without the key passes.
        let zone = PodTemplate {
            anti_affinity_required: vec![term("topology.kubernetes.io/zone")],
            ..PodTemplate::default()
        };
        let pz = PodView {
            template: &zone,
            requests: &r,
            nonzero_requests: &r,
            held_off: &[],
        };
        let fz = AntiAffinityFilter::new(&pz, &nodes[..1]);
        assert_eq!(fz.check(&nodes[1]), Err(Rejection::AntiAffinity));
        assert_eq!(fz.check(&nodes[2]), Ok(()));
        let bare = Labels::new();
        assert_eq!(fz.check(&node(&r, &bare, 0, 0)), Ok(()));
        assert_eq!(new_node_limit(&zone), 1);
    }

    #[test]
    fn preferred_terms_score_against_crowded_domains() {
        let r = ResVec(vec![0; 4]);
        let (la, lb, lc) = (labels("a", "z1"), labels("b", "z2"), labels("c", "z3"));
        let nodes = [
            node(&r, &la, 2, 0),
            node(&r, &lb, 1, 0),
            node(&r, &lc, 0, 0),
        ];
        let t = PodTemplate {
            anti_affinity_preferred: vec![(10, term("topology.kubernetes.io/zone"))],
            ..PodTemplate::default()
        };
        let p = PodView {
            template: &t,
            requests: &r,
            nonzero_requests: &r,
            held_off: &[],
        };
        let mut out = Vec::new();
        assert!(scores(&p, &nodes, &[0, 1, 2], &mut out));
        // Raw −20, −10, 0; 100 × (s − min) / (max − min): 0, 50, 100.
        assert_eq!(out, [0, 50, 100]);
        // No pod anywhere: every node 0.
        let empty = [node(&r, &la, 0, 0), node(&r, &lb, 0, 0)];
        assert!(scores(&p, &empty, &[0, 1], &mut out));
        assert_eq!(out, [0, 0]);
        // No preferred terms: skipped.
        let none = PodTemplate::default();
        let pn = PodView {
            template: &none,
            requests: &r,
            nonzero_requests: &r,
            held_off: &[],
        };
        assert!(!scores(&pn, &nodes, &[0, 1, 2], &mut out));
    }
}
