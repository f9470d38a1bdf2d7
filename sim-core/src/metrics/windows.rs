//! Per-window statistics for windowed `[[check]]`s: for each window length asked for, the
//! measured requests that finished in each window, kept in one open window's histograms during
//! the run (so a window's percentiles come from its own requests, never from averaged interval
//! percentiles) and summarised when the window closes.
//!
//! Windows are `[k·len, (k+1)·len)`, aligned to time 0, the last one ending at the horizon. A
//! window length is a multiple of the sample interval, so windows close at the end of a sample
//! interval. Windows that end at or before the warm-up's end are not reported.

use super::histogram::LogHistogram;
use crate::engine::{SimDuration, SimTime};
use capsim_results::{WindowSeries, WindowSummary};

/// At most this many window lengths per run (each keeps three histograms of 32 KiB).
pub const MAX_LENGTHS: usize = 4;

#[derive(Debug)]
struct Open {
    len: u64,
    start: SimTime,
    end: SimTime,
    completed: u64,
    dropped: u64,
    slo_met: u64,
    token_met: u64,
    cost_usd: f64,
    latency: LogHistogram,
    ttft: LogHistogram,
    tpot: LogHistogram,
    rows: Vec<WindowSummary>,
}

/// The open window of each length and the closed windows' figures.
#[derive(Debug)]
pub struct Windows {
    open: Vec<Open>,
}

impl Windows {
    /// Windows of each of `lengths` (deduplicated, at most [`MAX_LENGTHS`]; zero lengths are
    /// ignored) over a run to `horizon`.
    pub fn new(lengths: &[SimDuration], horizon: SimTime) -> Self {
        let mut l: Vec<u64> = lengths.iter().map(|d| d.0).filter(|&n| n > 0).collect();
        l.sort_unstable();
        l.dedup();
        l.truncate(MAX_LENGTHS);
        Windows {
            open: l
                .into_iter()
                .map(|len| Open {
                    len,
                    start: SimTime::ZERO,
                    end: SimTime(len.min(horizon.0)),
                    completed: 0,
                    dropped: 0,
                    slo_met: 0,
                    token_met: 0,
                    cost_usd: 0.0,
                    latency: LogHistogram::new(),
                    ttft: LogHistogram::new(),
                    tpot: LogHistogram::new(),
                    // Bounded: the horizon over the sample interval is (`scenario::limits`).
                    rows: Vec::new(),
                })
                .collect(),
        }
    }

    /// A measured request completed: its latency, whether it met the latency target, its token
    /// times (LLM engines) and whether it met every token-level target.
    #[inline]
    pub fn on_completion(
        &mut self,
        latency: u64,
        slo_met: bool,
        times: Option<(u64, Option<u64>)>,
        token_met: bool,
    ) {
        for w in &mut self.open {
            w.completed += 1;
            w.slo_met += slo_met as u64;
            w.token_met += token_met as u64;
            w.latency.record(latency);
            if let Some((ttft, tpot)) = times {
                w.ttft.record(ttft);
                if let Some(t) = tpot {
                    w.tpot.record(t);
                }
            }
        }
    }

    /// A measured request was dropped.
    #[inline]
    pub fn on_drop(&mut self) {
        for w in &mut self.open {
            w.dropped += 1;
        }
    }

    /// Cost accrued after the warm-up, USD.
    #[inline]
    pub fn add_cost(&mut self, usd: f64) {
        for w in &mut self.open {
            w.cost_usd += usd;
        }
    }

    /// Closes every window that ends at `end` (the end of a sample interval). `slo` and `tokens`
    /// say whether there are latency and token-level targets.
    pub fn close_at(
        &mut self,
        end: SimTime,
        warmup: SimTime,
        horizon: SimTime,
        slo: bool,
        tokens: bool,
    ) {
        let s = |ns: u64| ns as f64 / 1e9;
        for w in self.open.iter_mut().filter(|w| w.end == end) {
            if w.end > warmup {
                let finished = w.completed + w.dropped;
                let ratio =
                    |met: u64, on: bool| (on && finished > 0).then(|| met as f64 / finished as f64);
                let span_h = w.end.since(w.start.max(warmup)).as_secs_f64() / 3600.0;
                w.rows.push(WindowSummary {
                    start_s: w.start.as_secs_f64(),
                    end_s: w.end.as_secs_f64(),
                    completed: w.completed,
                    dropped: w.dropped,
                    latency_p50_s: w.latency.quantile(0.5).map(s),
                    latency_p90_s: w.latency.quantile(0.9).map(s),
                    latency_p99_s: w.latency.quantile(0.99).map(s),
                    ttft_p99_s: w.ttft.quantile(0.99).map(s),
                    tpot_p99_s: w.tpot.quantile(0.99).map(s),
                    slo_attainment_ratio: ratio(w.slo_met, slo),
                    token_slo_attainment_ratio: ratio(w.token_met, tokens),
                    cost_usd_per_hour: w.cost_usd / span_h,
                });
            }
            w.start = w.end;
            w.end = SimTime(w.end.0.saturating_add(w.len).min(horizon.0));
            w.completed = 0;
            w.dropped = 0;
            w.slo_met = 0;
            w.token_met = 0;
            w.cost_usd = 0.0;
            w.latency.clear();
            w.ttft.clear();
            w.tpot.clear();
        }
    }

    /// The closed windows, by length (shortest first).
    pub fn finish(self) -> Vec<WindowSeries> {
        self.open
            .into_iter()
            .map(|w| WindowSeries {
                window_s: w.len as f64 / 1e9,
                windows: w.rows,
            })
            .collect()
    }
}
