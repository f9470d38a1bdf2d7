//! TaintToleration score: counts untolerated `PreferNoSchedule` taints (normalised, reversed).

use super::{NodeView, PodView};
use crate::cluster::taint::{Effect, TolerationOperator};

/// Raw score: untolerated PreferNoSchedule taints, counting only tolerations whose effect is empty
/// or PreferNoSchedule.
pub fn score(pod: &PodView, node: &NodeView) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == Effect::PreferNoSchedule)
        .filter(|t| {
            !pod.template.tolerations.iter().any(|tol| {
                matches!(tol.effect, None | Some(Effect::PreferNoSchedule))
                    && (tol.key.is_empty() || tol.key == t.key)
                    && (tol.operator == TolerationOperator::Exists || tol.value == t.value)
            })
        })
        .count() as i64
}
