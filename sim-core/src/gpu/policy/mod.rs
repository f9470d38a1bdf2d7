//! The six placement policies of the FGD paper's evaluation, one file each. Every policy is a
//! function of the cluster state: given a node that passes the filter and a pod, it returns the
//! node's score (higher is better, on the kube-scheduler's 0-100 scale) and the GPU a shared pod
//! would take. The scheduler picks the highest-scoring node; ties go to the node that comes first in
//! the seed-permuted node order, as in the paper's simulator (its `selectHost` takes the smallest
//! node name among equal scores, and node names carry a seed-permuted prefix).

pub mod bestfit;
pub mod clustering;
pub mod dotprod;
pub mod fgd;
pub mod packing;
pub mod random;

use super::share::{GpuNode, PodShape};
use std::fmt;
use std::str::FromStr;

/// The kube-scheduler's highest node score.
pub const MAX_SCORE: i64 = 100;
/// CPU of the largest node in the artifact's normalisation, in milli-cores.
pub const MAX_SPEC_CPU: f64 = 128_000.0;
/// GPU of the largest node in the artifact's normalisation, in milli-GPU (8 GPUs).
pub const MAX_SPEC_GPU: i64 = 8_000;

/// A placement policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// A uniformly random feasible node.
    Random,
    /// Tetris-style dot product of free and requested resources.
    DotProd,
    /// Keep pods of the same GPU class together.
    Clustering,
    /// Fill partly used GPUs, then partly used nodes, then free nodes.
    Packing,
    /// The node left with the least free resources.
    BestFit,
    /// Fragmentation Gradient Descent.
    Fgd,
}

impl Policy {
    /// Every policy, in the paper's order.
    pub const ALL: [Policy; 6] = [
        Policy::Random,
        Policy::DotProd,
        Policy::Clustering,
        Policy::Packing,
        Policy::BestFit,
        Policy::Fgd,
    ];

    /// The name used on the command line and in `pack.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Random => "random",
            Policy::DotProd => "dotprod",
            Policy::Clustering => "clustering",
            Policy::Packing => "packing",
            Policy::BestFit => "bestfit",
            Policy::Fgd => "fgd",
        }
    }

    /// The name the paper uses.
    pub fn paper_name(self) -> &'static str {
        match self {
            Policy::Random => "Random",
            Policy::DotProd => "DotProduct",
            Policy::Clustering => "GPU Clustering",
            Policy::Packing => "GPU Packing",
            Policy::BestFit => "Best Fit",
            Policy::Fgd => "FGD",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        Policy::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown policy `{s}` (expected random, dotprod, clustering, packing, bestfit, fgd or all)")
            })
    }
}

/// A node's score for a pod, and the GPU a shared pod would take there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scored {
    /// The score, higher is better.
    pub score: i64,
    /// For a shared pod, the GPU index; whole-GPU pods take the lowest-numbered free GPUs.
    pub gpu: Option<u8>,
}

/// The artifact's default GPU choice ("best"): a shared pod goes to the GPU with the least milli
/// left that still holds it.
pub fn best_gpu(node: &GpuNode, pod: &PodShape) -> Option<u8> {
    if pod.is_shared() {
        node.best_fit_gpu(pod.gpu_milli)
    } else {
        None
    }
}
