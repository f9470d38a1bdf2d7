//! The scheduler: kube-scheduler's filters and scores over the cluster's nodes, one plugin a file.
//!
//! Every plugin is a pure function of a [`NodeView`] (and, for the normalised ones, of the scores
//! of all feasible nodes). [`framework::select`] runs the default plugin set with upstream weights.

pub mod balanced_allocation;
pub mod cache;
pub mod config;
pub mod filter;
pub mod framework;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod least_allocated;
pub mod most_allocated;
pub mod node_affinity;
pub mod pod_topology_spread;
pub mod preemption;
pub mod requested_to_capacity_ratio;
pub mod taint_toleration;

use crate::cluster::{Labels, PodTemplate, ResVec, Taint};

/// What the scheduler may look at on one node.
#[derive(Clone, Copy, Debug)]
pub struct NodeView<'a> {
    /// What pods may request.
    pub allocatable: &'a ResVec,
    /// What bound pods request.
    pub requested: &'a ResVec,
    /// Node labels (including `kubernetes.io/hostname`).
    pub labels: &'a Labels,
    /// Node taints.
    pub taints: &'a [Taint],
    /// Pods of the pod's own Deployment already on the node (terminating ones excluded).
    pub matching_pods: u32,
    /// Of those, the pods of the placed pod's own ReplicaSet (model version): what the system
    /// default spreading and a constraint with `matchLabelKeys: [pod-template-hash]` count.
    pub version_pods: u32,
    /// Pods of the pod's own Deployment terminating on the node (InterPodAffinity counts them).
    pub terminating_pods: u32,
    /// Pods on the node per service (by index), terminating ones excluded, for a pod whose
    /// constraints select other services' pods ([`crate::cluster::PodSelector::Labels`]);
    /// empty otherwise, and on an autoscaler's simulated nodes (which count the Deployment's
    /// own pods only).
    pub service_pods: &'a [u32],
    /// Terminating pods on the node per service (by index), as `service_pods`.
    pub service_terminating: &'a [u32],
    /// Whether the node has the pod's image.
    pub has_image: bool,
    /// Whether the node is cordoned (draining).
    pub unschedulable: bool,
    /// Registered but NotReady (failed): never a candidate nor counted in the unschedulable
    /// message, but its domain and pods count for topology spread and pod anti-affinity.
    pub not_ready: bool,
}

/// The pod being placed.
#[derive(Clone, Copy, Debug)]
pub struct PodView<'a> {
    /// Its template.
    pub template: &'a PodTemplate,
    /// Its requests (with one `pods`).
    pub requests: &'a ResVec,
    /// Its requests with upstream's non-zero defaults for scoring (100m CPU, 200Mi memory).
    pub nonzero_requests: &'a ResVec,
    /// Other services (by index) whose pods' required anti-affinity terms select this pod,
    /// with each term's topology key: upstream's symmetric check keeps the pod out of their
    /// domains (needs [`NodeView::service_pods`]; ignored without).
    pub held_off: &'a [(usize, String)],
}

/// The pods on `node` a [`crate::cluster::PodSelector::Labels`] selects: those of the services
/// `services` marks (`terminating`: terminating ones too). Without per-service counts (an
/// autoscaler's simulated node), the Deployment's own pods if `own`.
pub fn selected_pods(services: &[bool], own: bool, node: &NodeView, terminating: bool) -> u32 {
    if node.service_pods.is_empty() {
        return if !own {
            0
        } else if terminating {
            node.matching_pods + node.terminating_pods
        } else {
            node.matching_pods
        };
    }
    let mut n = 0;
    for (s, _) in services.iter().enumerate().filter(|(_, &on)| on) {
        n += node.service_pods.get(s).copied().unwrap_or(0);
        if terminating {
            n += node.service_terminating.get(s).copied().unwrap_or(0);
        }
    }
    n
}

/// The most pods of the Deployment one fresh node can take under the template's spread
/// constraints and required pod anti-affinity, as an autoscaler's simulated node sees it
/// (`u32::MAX`: no limit).
pub fn new_node_limit(t: &PodTemplate) -> u32 {
    pod_topology_spread::new_node_limit(t).min(inter_pod_affinity::new_node_limit(t))
}

/// Highest score a plugin gives (upstream `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Upstream `DefaultNormalizeScore`: scales scores so the largest is `MAX_NODE_SCORE`, reversed
/// on request.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = MAX_NODE_SCORE * *s / max;
        if reverse {
            *s = MAX_NODE_SCORE - *s;
        }
    }
}
