//! Node-local filters, in upstream order: NodeUnschedulable, TaintToleration, NodeAffinity (with
//! nodeSelector), NodeResourcesFit. PodTopologySpread and InterPodAffinity, which look at other
//! nodes' pods, follow in [`super::framework::select`].

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
    /// PodTopologySpread: the node lacks a DoNotSchedule constraint's topology key.
    SpreadLabelMissing,
    /// PodTopologySpread: placing the pod there would exceed a DoNotSchedule maxSkew.
    Spread,
    /// InterPodAffinity: the node's domain already holds a pod the required anti-affinity
    /// selects.
    AntiAffinity,
}

impl Rejection {
    /// Upstream-style message, e.g. `Insufficient nvidia.com/gpu`.
    pub fn describe(&self, names: &ResourceNames) -> String {
        match self {
            Rejection::Unschedulable => "node(s) were unschedulable".into(),
            Rejection::Insufficient(i) => format!("Insufficient {}", names.name(*i)),
            Rejection::Affinity => "node(s) didn't match Pod's node affinity/selector".into(),
            Rejection::Taint => "node(s) had untolerated taint".into(),
            Rejection::SpreadLabelMissing => {
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .into()
            }
            Rejection::Spread => "node(s) didn't match pod topology spread constraints".into(),
            Rejection::AntiAffinity => "node(s) didn't match pod anti-affinity rules".into(),
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
    if !super::node_affinity::required_matches(t, node.labels) {
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
