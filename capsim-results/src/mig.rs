//! A GPU's MIG layout as results show it (`cluster.pools[].mig_layout`) and reports draw it.

use serde::{Deserialize, Serialize};

/// One GPU instance of a layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// Profile name, such as `3g.40gb`.
    pub profile: String,
    /// First memory slot (0 to 7).
    pub start: u8,
    /// Memory slots occupied, of 8.
    pub memory_slices: u8,
    /// Compute slices, of 7.
    pub compute_slices: u8,
    /// Memory of the instance, GiB.
    pub memory_gib: f64,
}

/// A GPU's MIG layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayoutView {
    /// The mig-parted layout name.
    pub layout: String,
    /// The MIG table's product name, such as `H100 80GB`.
    pub gpu: String,
    /// The instances, in placement order.
    pub instances: Vec<InstanceView>,
}
