//! GPUs as the scheduler sees them: fractional (milli-GPU) shares, placement policies, the
//! fragmentation measure of the FGD paper, and the `pack` experiment that replays Alibaba's openb
//! trace against them.
//!
//! - [`share`]: per-node state, one milli-GPU counter per device, and what a pod asks for.
//! - [`trace`]: the openb node and pod CSV files, parsed with errors that name file, row and column.
//! - [`frag`]: the target workload (the trace's popular pod shapes) and a node's fragmentation.
//! - [`policy`]: the six placement policies, one file each.
//! - [`place`]: the scheduler loop shared by both experiments, with its per-node caches.
//! - [`pack`]: the artifact's protocol: inflate, shuffle, place one pod at a time, record.
//! - [`replay`]: the pods at their own creation and deletion times, sampled over time.
//! - [`mig`]: MIG profiles, placement rules, named layouts and device-plugin strategies.

pub mod frag;
pub mod mig;
pub mod pack;
pub mod place;
pub mod policy;
pub mod replay;
pub mod share;
pub mod trace;

pub use frag::TargetWorkload;
pub use pack::{run_grid, PackConfig, PackRow, PackRun};
pub use policy::Policy;
pub use replay::{run_replay, ReplayConfig, ReplayRow, ReplayRun};
pub use share::{GpuNode, ModelSet, PodShape, MAX_GPUS, MILLI};
pub use trace::{parse_nodes, parse_pods, PackTrace, PodTimes, TraceError};
