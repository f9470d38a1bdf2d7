//! Node pools: groups of identical nodes of one instance type.

use super::quantity::Quantity;
use super::selector::Labels;
use super::taint::Taint;
use crate::engine::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// How a pool's nodes are bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityType {
    /// On-demand price.
    OnDemand,
    /// Spot price (interruptions come with the operations issue).
    Spot,
}

impl CapacityType {
    /// The name used in scenarios and labels.
    pub fn name(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        }
    }
}

/// A validated node pool.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePoolSpec {
    /// Pool name.
    pub name: String,
    /// Instance-type id.
    pub instance_type: String,
    /// GPU model id of the instance type, if it has GPUs.
    pub gpu: Option<String>,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// Memory of one GPU, bytes (0 without GPUs).
    pub gpu_memory_bytes: u64,
    /// On-demand or spot.
    pub capacity_type: CapacityType,
    /// Price per node-hour at this capacity type, USD.
    pub price_usd_per_hour: f64,
    /// Smallest size.
    pub min_size: u32,
    /// Largest size.
    pub max_size: u32,
    /// Nodes Ready at time zero.
    pub initial_size: u32,
    /// Launch to Ready.
    pub provisioning_delay: SimDuration,
    /// Node labels: the pool's own plus the well-known ones.
    pub labels: Labels,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// Node capacity by resource name.
    pub capacity: BTreeMap<String, Quantity>,
    /// Capacity minus system-reserved: what pods may request.
    pub allocatable: BTreeMap<String, Quantity>,
    /// Image pull bandwidth, bytes per second.
    pub image_pull_bytes_per_s: f64,
    /// Model-weight load bandwidth, bytes per second.
    pub model_load_bytes_per_s: f64,
    /// Scheduled size changes, in time order.
    pub scale: Vec<(SimTime, u32)>,
    /// Time-slicing of the nodes' GPUs: (shares per GPU, the shared resource's name).
    pub time_slicing: Option<(u32, String)>,
    /// Scheduled MIG layout changes: when, the layout's name, and the allocatable it gives.
    pub mig_changes: Vec<(SimTime, String, BTreeMap<String, Quantity>)>,
    /// How long a node is out of service while its GPUs are repartitioned.
    pub mig_reconfigure_time: SimDuration,
    /// The starting MIG layout of every GPU of a node (`None`: whole GPUs, MIG off).
    pub mig_view: Option<crate::gpu::mig::LayoutView>,
    /// `cost_rates`: USD per vCPU-hour and per GiB-hour, the rest of the price the GPUs'.
    pub cost_rates: Option<(f64, f64)>,
}
