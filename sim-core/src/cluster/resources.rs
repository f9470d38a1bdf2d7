//! Resources: a pod template's requests and limits by name, and the fixed-size vectors of
//! milli-units the scheduler works with.

use super::quantity::Quantity;
use std::collections::BTreeMap;

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `pods` (a node's pod-count capacity).
pub const PODS: &str = "pods";
/// The NVIDIA device plugin's whole-GPU resource.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";

/// Requests and limits of a pod template, keyed by Kubernetes resource name, in name order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: BTreeMap<String, Quantity>,
    /// Hard caps.
    pub limits: BTreeMap<String, Quantity>,
}

impl Resources {
    /// The request for `name`, zero when absent.
    pub fn request(&self, name: &str) -> Quantity {
        self.requests.get(name).copied().unwrap_or(Quantity::ZERO)
    }

    /// Effective requests: Kubernetes defaults a missing request to its limit.
    pub fn effective_requests(&self) -> BTreeMap<String, Quantity> {
        let mut r = self.requests.clone();
        for (k, v) in &self.limits {
            r.entry(k.clone()).or_insert(*v);
        }
        r
    }
}

/// The resource names a run knows, each with a fixed index; the first four are always
/// `cpu`, `memory`, `pods`, `nvidia.com/gpu`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceNames {
    names: Vec<String>,
}

impl Default for ResourceNames {
    fn default() -> Self {
        ResourceNames {
            names: vec![CPU.into(), MEMORY.into(), PODS.into(), NVIDIA_GPU.into()],
        }
    }
}

impl ResourceNames {
    /// Index of `cpu`.
    pub const CPU: usize = 0;
    /// Index of `memory`.
    pub const MEMORY: usize = 1;
    /// Index of `pods`.
    pub const PODS: usize = 2;
    /// Index of `nvidia.com/gpu`.
    pub const GPU: usize = 3;

    /// The index of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> usize {
        match self.index(name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }

    /// The index of `name`, if known.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Name at index `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: the four standard resources are always present.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A vector from a name → quantity map (names must have been interned).
    pub fn vector(&self, map: &BTreeMap<String, Quantity>) -> ResVec {
        let mut v = ResVec::zeros(self.len());
        for (k, q) in map {
            if let Some(i) = self.index(k) {
                v.0[i] = q.milli().min(u64::MAX as u128) as u64;
            }
        }
        v
    }
}

/// Amounts of every known resource, in milli-units (milli-cores, milli-bytes, milli-GPUs).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResVec(pub Vec<u64>);

impl ResVec {
    /// All zero, for `n` resources.
    pub fn zeros(n: usize) -> Self {
        ResVec(vec![0; n])
    }

    /// Whether `self + add <= cap` on every resource.
    #[inline]
    pub fn fits_within(&self, add: &ResVec, cap: &ResVec) -> bool {
        self.0
            .iter()
            .zip(&add.0)
            .zip(&cap.0)
            .all(|((u, a), c)| u.saturating_add(*a) <= *c)
    }

    /// Adds `other`.
    #[inline]
    pub fn add(&mut self, other: &ResVec) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    /// Subtracts `other` (saturating at zero).
    #[inline]
    pub fn sub(&mut self, other: &ResVec) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.saturating_sub(*b);
        }
    }

    /// Whether `self <= cap` on every resource.
    #[inline]
    pub fn le(&self, cap: &ResVec) -> bool {
        self.0.iter().zip(&cap.0).all(|(a, c)| a <= c)
    }
}
