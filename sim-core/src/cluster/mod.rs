//! The cluster's vocabulary: resource quantities (nodes, pods and pools come with the cluster issue).

pub mod quantity;
pub mod resources;

pub use quantity::{parse_quantity, Quantity};
pub use resources::Resources;
