//! Filters, in upstream order: NodeUnschedulable, TaintToleration, NodeAffinity (with nodeSelector), NodeResourcesFit.

use super::{NodeView, PodView};
use crate::cluster::taint::{tolerated, Effect};
use crate::cluster::ResourceNames;

/// Why a node cannot take a pod.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// The node is cordoned.
    Unschedulable,
    /// Not enough of this resource (index into [`ResourceNames`]).
    Insufficient(usize),
    /// nodeSelector or required node affinity does not match.
    Affinity,
    /// A NoSchedule/NoExecute taint is not tolerated.
    Taint,
}

impl Rejection {
    /// Upstream-style message, e.g. `Insufficient nvidia.com/gpu`.
    pub fn describe(&self, names: &ResourceNames) -> String {
        match self {
            Rejection::Unschedulable => "node(s) were unschedulable".into(),
            Rejection::Insufficient(i) => format!("Insufficient {}", names.name(*i)),
            Rejection::Affinity => "node(s) didn't match Pod's node affinity/selector".into(),
            Rejection::Taint => "node(s) had untolerated taint".into(),
        }
    }
}

/// Runs the filters in upstream order; `Ok` when the node can take the pod.
pub fn filter(pod: &PodView, node: &NodeView) -> Result<(), Rejection> {
    if node.unschedulable {
        return Err(Rejection::Unschedulable);
    }
    let t = pod.template;
    for taint in node.taints {
        if matches!(taint.effect, Effect::NoSchedule | Effect::NoExecute)
            && !tolerated(&t.tolerations, taint)
        {
            return Err(Rejection::Taint);
        }
    }
    let selector_ok = t
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = t.required_terms.is_empty()
        || t.required_terms
            .iter()
            .any(|term| term.matches(node.labels));
    if !selector_ok || !affinity_ok {
        return Err(Rejection::Affinity);
    }
    for (i, ((req, used), cap)) in pod
        .requests
        .0
        .iter()
        .zip(&node.requested.0)
        .zip(&node.allocatable.0)
        .enumerate()
    {
        if *req > 0 && used.saturating_add(*req) > *cap {
            return Err(Rejection::Insufficient(i));
        }
    }
    Ok(())
}
