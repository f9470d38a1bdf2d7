//! Token-level statistics of LLM engines: time to first token, time per output token, tokens.

use super::histogram::LogHistogram;
use crate::engine::SimDuration;
use crate::serving::Completion;

/// Collects token-level statistics of measured completions.
#[derive(Clone, Debug)]
pub struct TokenRecorder {
    /// Time to first token (arrival to first output token), ns.
    pub ttft: LogHistogram,
    /// Time per output token after the first, ns (requests with at least two output tokens).
    pub tpot: LogHistogram,
    /// Prompt tokens of measured completions.
    pub prompt_tokens: u64,
    /// Output tokens of measured completions.
    pub output_tokens: u64,
    /// TTFT target.
    pub slo_ttft: Option<SimDuration>,
    /// TPOT target.
    pub slo_tpot: Option<SimDuration>,
    /// Measured completions meeting every token-level target.
    pub met: u64,
}

impl TokenRecorder {
    /// A recorder with optional targets.
    pub fn new(slo_ttft: Option<SimDuration>, slo_tpot: Option<SimDuration>) -> Self {
        TokenRecorder {
            ttft: LogHistogram::new(),
            tpot: LogHistogram::new(),
            prompt_tokens: 0,
            output_tokens: 0,
            slo_ttft,
            slo_tpot,
            met: 0,
        }
    }

    /// Counts one measured completion's tokens and whether it `met` every token-level target
    /// ([`TokenRecorder::meets`]). Its TTFT and TPOT go into [`TokenRecorder::ttft`] and
    /// [`TokenRecorder::tpot`] separately (the recorder adds each sample interval's at once).
    #[inline]
    pub fn record(&mut self, c: &Completion, met: bool) {
        let out = c.request.output_tokens.max(1);
        self.prompt_tokens += c.request.prompt_tokens as u64;
        self.output_tokens += out as u64;
        self.met += met as u64;
    }

    /// Whether a completion with these token times meets every token-level target.
    #[inline]
    pub fn meets(&self, (ttft, tpot): (u64, Option<u64>)) -> bool {
        self.slo_ttft.is_none_or(|t| ttft <= t.0)
            && tpot.is_none_or(|tpot| self.slo_tpot.is_none_or(|t| tpot <= t.0))
    }

    /// Whether there is a TTFT or TPOT target.
    pub fn has_targets(&self) -> bool {
        self.slo_ttft.is_some() || self.slo_tpot.is_some()
    }
}
