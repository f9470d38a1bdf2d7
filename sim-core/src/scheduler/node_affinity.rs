//! NodeAffinity score: the summed weights of matching preferred terms (normalised).

use super::{NodeView, PodView};
use crate::cluster::{Labels, PodTemplate};

/// Raw score: Σ weight of the preferred terms the node matches.
pub fn score(pod: &PodView, node: &NodeView) -> i64 {
    pod.template
        .preferred_terms
        .iter()
        .filter(|(_, term)| term.matches(node.labels))
        .map(|(w, _)| *w)
        .sum()
}

/// Upstream `GetRequiredNodeAffinity(pod).Match(node)`: the nodeSelector and the required
/// node-affinity terms (ORed; none means no requirement).
pub fn required_matches(t: &PodTemplate, labels: &Labels) -> bool {
    t.node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && (t.required_terms.is_empty() || t.required_terms.iter().any(|term| term.matches(labels)))
}
