//! The Vertical Pod Autoscaler's algorithms: the recommender's decaying histograms and
//! estimators, and the updater's priority and eviction rules. The world drives them
//! (`world/vpa.rs`).

pub mod histogram;
pub mod recommender;
pub mod updater;

pub use recommender::{
    recommend, AggregateState, Amounts, ContainerState, Recommendation, RecommenderConfig,
};
pub use updater::{UpdateMode, UpdaterConfig};
