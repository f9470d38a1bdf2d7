//! The cluster: resources and quantities, node pools, taints and selectors, pod templates, and the
//! live state of nodes and pods.

pub mod pod;
pub mod pool;
pub mod quantity;
pub mod resources;
pub mod selector;
pub mod taint;

pub use pod::{
    InclusionPolicy, PodAffinityTerm, PodSelector, PodTemplate, SpreadConstraint, WhenUnsatisfiable,
};
pub use pool::{CapacityType, NodePoolSpec};
pub use quantity::{parse_quantity, Quantity};
pub use resources::{ResVec, ResourceNames, Resources};
pub use selector::{LabelSelector, Labels, Requirement, SelectorOperator, Term};
pub use taint::{Effect, Taint, Toleration, TolerationOperator};
