//! NodeAffinity score: the summed weights of matching preferred terms (normalised).

use super::{NodeView, PodView};

/// Raw score: Σ weight of the preferred terms the node matches.
pub fn score(pod: &PodView, node: &NodeView) -> i64 {
    pod.template
        .preferred_terms
        .iter()
        .filter(|(_, term)| term.matches(node.labels))
        .map(|(w, _)| *w)
        .sum()
}
