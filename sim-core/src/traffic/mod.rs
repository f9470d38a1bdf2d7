//! Traffic: where requests come from: generators (Poisson, diurnal, MMPP, spikes, Gamma
//! renewal), mixes of streams, and trace replay (streamed row by row, or generated from rates).

pub mod diurnal;
pub mod formats;
pub mod mix;
pub mod mmpp;
pub mod mooncake;
pub mod poisson;
pub mod renewal;
pub mod replay;
pub mod spikes;
pub mod tokens;
pub mod trace;

use crate::engine::SimTime;
use crate::serving::Prefix;
pub use diurnal::DiurnalArrivals;
pub use formats::{RecordStream, TraceReader};
pub use mix::{Mix, MixStream};
pub use mmpp::MmppArrivals;
pub use mooncake::{read_mooncake, MooncakeTrace};
pub use poisson::PoissonArrivals;
pub use renewal::{GammaRenewal, RateTable, RateWindow, WindowedRenewal};
pub use replay::Replay;
pub use tokens::TokenSampler;
pub use trace::{read_trace, TraceError, TraceRecord};

use std::fmt;
use std::sync::Arc;

/// One arrival produced by a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When the request arrives.
    pub time: SimTime,
    /// Prompt tokens (0 when unknown).
    pub prompt_tokens: u32,
    /// Output tokens (0 when unknown).
    pub output_tokens: u32,
    /// Tenant (or model) index: a mix's stream, or a trace's label.
    pub tenant: u16,
    /// Prefix hash ids, when the source has them.
    pub prefix: Prefix,
}

/// Opens a trace afresh for one run (the caller's I/O; the core never opens files).
pub type OpenTrace = Arc<dyn Fn() -> Result<Box<dyn RecordStream>, TraceError> + Send + Sync>;

/// A trace's data as the caller hands it to a run.
#[derive(Clone)]
pub enum TraceFeed {
    /// A per-request trace, opened and streamed row by row by each run.
    Stream(OpenTrace),
    /// Per-request records held in memory.
    Records(Arc<Vec<TraceRecord>>),
    /// A table of rates to generate arrivals from.
    Rates(Arc<RateTable>),
}

impl fmt::Debug for TraceFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceFeed::Stream(_) => f.write_str("Stream(..)"),
            TraceFeed::Records(r) => write!(f, "Records({} records)", r.len()),
            TraceFeed::Rates(r) => write!(f, "Rates({} windows)", r.windows.len()),
        }
    }
}

/// A traffic source, asked for one arrival at a time so only one arrival per source is pending.
#[derive(Debug)]
pub enum TrafficSource {
    /// Poisson with constant or piecewise-constant rate (also spikes).
    Poisson(Box<PoissonArrivals>),
    /// Poisson with a diurnal profile.
    Diurnal(Box<DiurnalArrivals>),
    /// Markov-modulated Poisson.
    Mmpp(Box<MmppArrivals>),
    /// Gamma renewal.
    Gamma(Box<GammaRenewal>),
    /// Renewal per window of a rate table.
    Rates(Box<WindowedRenewal>),
    /// Replay of recorded arrivals.
    Replay(Box<Replay>),
    /// Several streams merged by time.
    Mix(Box<Mix>),
}

impl TrafficSource {
    /// The next arrival after the one at `last` (or from time zero on the first call).
    pub fn next_arrival(&mut self, last: SimTime) -> Option<Arrival> {
        let at = |time| Arrival {
            time,
            prompt_tokens: 0,
            output_tokens: 0,
            tenant: 0,
            prefix: Prefix::NONE,
        };
        match self {
            TrafficSource::Poisson(p) => p.next_after(last).map(at),
            TrafficSource::Diurnal(p) => p.next_after(last).map(at),
            TrafficSource::Mmpp(p) => p.next_after(last).map(at),
            TrafficSource::Gamma(p) => p.next_after(last).map(at),
            TrafficSource::Rates(p) => p.next_after(last).map(at),
            TrafficSource::Replay(r) => r.next_record().map(|r| Arrival {
                time: r.time,
                prompt_tokens: r.prompt_tokens,
                output_tokens: r.output_tokens,
                tenant: r.tenant,
                prefix: r.prefix,
            }),
            TrafficSource::Mix(m) => m.next_arrival(),
        }
    }

    /// Tenant labels by index: a mix's stream names, or a trace's labels seen so far.
    pub fn labels(&self) -> Vec<String> {
        match self {
            TrafficSource::Replay(r) => r.labels().to_vec(),
            TrafficSource::Mix(m) => m.streams().iter().map(|s| s.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// The errors that ended trace streams early (a file changed or damaged mid-run).
    pub fn errors(&self) -> Vec<String> {
        match self {
            TrafficSource::Replay(r) => r.error().map(|e| e.to_string()).into_iter().collect(),
            TrafficSource::Mix(m) => m.streams().iter().flat_map(|s| s.source.errors()).collect(),
            _ => Vec::new(),
        }
    }
}
