//! Traffic: where requests come from (Poisson generators and trace replay).

pub mod mooncake;
pub mod poisson;
pub mod tokens;
pub mod trace;

use crate::engine::SimTime;
use crate::serving::Prefix;
pub use mooncake::{read_mooncake, MooncakeTrace};
pub use poisson::PoissonArrivals;
pub use tokens::TokenSampler;
pub use trace::{read_trace, TraceError, TraceRecord};

/// One arrival produced by a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When the request arrives.
    pub time: SimTime,
    /// Prompt tokens (0 when unknown).
    pub prompt_tokens: u32,
    /// Output tokens (0 when unknown).
    pub output_tokens: u32,
    /// Prefix hash ids, when the source has them.
    pub prefix: Prefix,
}

/// A traffic source, asked for one arrival at a time so only one arrival per source is pending.
#[derive(Clone, Debug)]
pub enum TrafficSource {
    /// Poisson with constant or piecewise-constant rate.
    Poisson(Box<PoissonArrivals>),
    /// Replay of recorded arrivals.
    Replay {
        /// The records, in time order.
        records: Vec<TraceRecord>,
        /// Index of the next record to emit.
        next: usize,
        /// Each record's prefix (empty: the trace has none).
        prefixes: Vec<Prefix>,
    },
}

impl TrafficSource {
    /// The next arrival after the one at `last` (or from time zero on the first call).
    pub fn next_arrival(&mut self, last: SimTime) -> Option<Arrival> {
        match self {
            TrafficSource::Poisson(p) => p.next_after(last).map(|time| Arrival {
                time,
                prompt_tokens: 0,
                output_tokens: 0,
                prefix: Prefix::NONE,
            }),
            TrafficSource::Replay {
                records,
                next,
                prefixes,
            } => {
                let r = records.get(*next)?;
                let prefix = prefixes.get(*next).copied().unwrap_or_default();
                *next += 1;
                Some(Arrival {
                    time: r.time,
                    prompt_tokens: r.prompt_tokens,
                    output_tokens: r.output_tokens,
                    prefix,
                })
            }
        }
    }
}
