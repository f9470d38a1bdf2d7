//! The simulation engine: integer time, the event queue, named random streams, periodic timers.

pub mod queue;
pub mod rng;
pub mod time;
pub mod timer;
mod wakes;

pub use queue::{EventQueue, Next};
pub use rng::{Rng, RngStreams};
pub use time::{f64_of, parse_duration, round_u64, SimDuration, SimTime, NANOS_PER_SEC};
pub use timer::Periodic;
