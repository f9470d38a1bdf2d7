//! A mix: several streams (tenants or models) merged by time, each request tagged with its
//! stream's index and given its stream's token counts.

use super::{Arrival, TokenSampler, TrafficSource};
use crate::engine::SimTime;

/// One stream of a mix.
#[derive(Debug)]
pub struct MixStream {
    /// Its name (the tenant label).
    pub name: String,
    /// Its arrivals.
    pub source: TrafficSource,
    /// Its token counts, if it draws them.
    pub tokens: Option<TokenSampler>,
    last: SimTime,
    pending: Option<Arrival>,
    ended: bool,
}

impl MixStream {
    /// A stream called `name`.
    pub fn new(name: String, source: TrafficSource, tokens: Option<TokenSampler>) -> Self {
        MixStream {
            name,
            source,
            tokens,
            last: SimTime::ZERO,
            pending: None,
            ended: false,
        }
    }
}

/// Streams merged by time; ties go to the earlier stream. One arrival per stream is pending.
#[derive(Debug)]
pub struct Mix {
    streams: Vec<MixStream>,
}

impl Mix {
    /// A mix of `streams` (at most 65536).
    pub fn new(streams: Vec<MixStream>) -> Self {
        Mix { streams }
    }

    /// The streams.
    pub fn streams(&self) -> &[MixStream] {
        &self.streams
    }

    /// The next arrival of any stream.
    pub fn next_arrival(&mut self) -> Option<Arrival> {
        let mut best: Option<(SimTime, usize)> = None;
        for (i, s) in self.streams.iter_mut().enumerate() {
            if s.pending.is_none() && !s.ended {
                s.pending = s.source.next_arrival(s.last);
                s.ended = s.pending.is_none();
            }
            if let Some(a) = s.pending {
                if best.is_none_or(|(t, _)| a.time < t) {
                    best = Some((a.time, i));
                }
            }
        }
        let (_, i) = best?;
        let s = &mut self.streams[i];
        let mut a = s
            .pending
            .take()
            .expect("chosen stream has a pending arrival");
        s.last = a.time;
        a.tenant = i as u16;
        if let Some(t) = &mut s.tokens {
            t.apply(&mut a.prompt_tokens, &mut a.output_tokens);
        }
        Some(a)
    }
}
