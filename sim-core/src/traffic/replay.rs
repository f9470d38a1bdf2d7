//! Replay of a record stream with the trace options: a time window, a speed-up and rate scaling.

use super::formats::RecordStream;
use super::trace::{TraceError, TraceRecord};
use crate::engine::{Rng, SimTime};
use crate::scenario::TraceOptions;
use rand::RngExt;
use std::fmt;

/// Streams records from a trace, one pending at a time.
///
/// Records before `start` are skipped and reading stops at the first at or after `end` (times
/// never decrease); the rest are moved so `start` is time zero and divided by `speed_up`. With
/// `scale` ≠ 1 each record is emitted `⌊scale⌋` times plus once more with probability
/// `scale − ⌊scale⌋` (seeded), so a scale below 1 thins the trace and above 1 duplicates requests
/// at the same instant.
pub struct Replay {
    stream: Box<dyn RecordStream>,
    start: u64,
    end: Option<u64>,
    speed_up: f64,
    scale: f64,
    rng: Rng,
    repeat: Option<(TraceRecord, u32)>,
    error: Option<TraceError>,
    done: bool,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("speed_up", &self.speed_up)
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// A replay of `stream` with `options`; `rng` draws the thinning and duplication.
    pub fn new(stream: Box<dyn RecordStream>, options: &TraceOptions, rng: Rng) -> Self {
        Replay {
            stream,
            start: options.start.0,
            end: options.end.map(|e| e.0),
            speed_up: options.speed_up,
            scale: options.scale,
            rng,
            repeat: None,
            error: None,
            done: false,
        }
    }

    /// The next record; `None` at the end (or at the first error, kept for [`Replay::error`]).
    pub fn next_record(&mut self) -> Option<TraceRecord> {
        if let Some((r, n)) = &mut self.repeat {
            if *n > 0 {
                *n -= 1;
                return Some(*r);
            }
        }
        while !self.done {
            let r = match self.stream.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            };
            if r.time.0 < self.start {
                continue;
            }
            if self.end.is_some_and(|e| r.time.0 >= e) {
                break;
            }
            let copies = if self.scale == 1.0 {
                1
            } else {
                let whole = self.scale.floor();
                whole as u32 + u32::from(self.rng.random::<f64>() < self.scale - whole)
            };
            if copies == 0 {
                continue;
            }
            let offset = r.time.0 - self.start;
            let time = if self.speed_up == 1.0 {
                SimTime(offset)
            } else {
                SimTime((offset as f64 / self.speed_up).round() as u64)
            };
            let out = TraceRecord { time, ..r };
            self.repeat = Some((out, copies - 1));
            return Some(out);
        }
        self.done = true;
        None
    }

    /// The error that ended the stream early, if any.
    pub fn error(&self) -> Option<&TraceError> {
        self.error.as_ref()
    }

    /// Tenant or model labels the trace has shown so far.
    pub fn labels(&self) -> &[String] {
        self.stream.labels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimDuration};
    use crate::traffic::formats::RecordsStream;
    use std::sync::Arc;

    fn records(n: u64) -> Box<dyn RecordStream> {
        let v: Vec<TraceRecord> = (0..n)
            .map(|i| TraceRecord {
                time: SimTime(i * 1_000_000_000),
                prompt_tokens: i as u32,
                output_tokens: 1,
                tenant: 0,
                prefix: crate::serving::Prefix::NONE,
            })
            .collect();
        Box::new(RecordsStream::new(Arc::new(v)))
    }

    fn drain(r: &mut Replay) -> Vec<TraceRecord> {
        std::iter::from_fn(|| r.next_record()).collect()
    }

    #[test]
    fn window_and_speed_up() {
        let o = TraceOptions {
            start: SimDuration::from_secs(10),
            end: Some(SimDuration::from_secs(20)),
            speed_up: 2.0,
            ..TraceOptions::default()
        };
        let mut r = Replay::new(records(100), &o, RngStreams::new(1).stream("s"));
        let out = drain(&mut r);
        assert_eq!(out.len(), 10);
        assert_eq!(out[0].time, SimTime(0));
        assert_eq!(out[0].prompt_tokens, 10);
        assert_eq!(out[9].time, SimTime(4_500_000_000));
    }

    #[test]
    fn scale_thins_and_duplicates() {
        for (scale, expect) in [(0.25, 25_000.0), (2.5, 250_000.0), (3.0, 300_000.0)] {
            let o = TraceOptions {
                scale,
                ..TraceOptions::default()
            };
            let mut r = Replay::new(records(100_000), &o, RngStreams::new(1).stream("s"));
            let n = drain(&mut r).len() as f64;
            assert!((n - expect).abs() < 0.01 * expect, "{scale}: {n}");
        }
    }
}
