//! A container's resource requests and limits, by resource name (`cpu`, `memory`, `nvidia.com/gpu`).

use super::quantity::Quantity;
use std::collections::BTreeMap;

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
}
