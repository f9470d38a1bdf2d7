//! A gateway's token bucket, as Envoy's local rate limit filter keeps one (`type.v3.TokenBucket`):
//! the bucket starts full with `max_tokens`; at every whole multiple of `fill_interval` since the
//! start it gains `tokens_per_fill`, never holding more than `max_tokens`; a request takes its cost
//! in tokens, and one that finds too few is refused (HTTP 429) and takes nothing.
//!
//! Fills are computed when the bucket is next asked, not on a timer, so the bucket costs nothing
//! between requests and allocates nothing.

use crate::engine::{SimDuration, SimTime};

/// A token bucket's configuration (Envoy's field names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketSpec {
    /// Most tokens the bucket holds; also what it starts with (the burst).
    pub max_tokens: u64,
    /// Tokens added at each fill.
    pub tokens_per_fill: u64,
    /// Time between fills (longer than zero).
    pub fill_interval: SimDuration,
}

impl BucketSpec {
    /// The sustained rate, tokens per second.
    pub fn rate_per_s(&self) -> f64 {
        self.tokens_per_fill as f64 / self.fill_interval.as_secs_f64()
    }
}

/// A token bucket in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    spec: BucketSpec,
    tokens: u64,
    /// Fills applied so far (fill `k` happens at `k · fill_interval`).
    fills: u64,
}

impl TokenBucket {
    /// A full bucket at time zero.
    pub fn new(spec: BucketSpec) -> Self {
        TokenBucket {
            spec,
            tokens: spec.max_tokens,
            fills: 0,
        }
    }

    /// Applies the fills due by `now`.
    #[inline]
    fn refill(&mut self, now: SimTime) {
        let due = now.0 / self.spec.fill_interval.0.max(1);
        if due > self.fills {
            let added = (due - self.fills).saturating_mul(self.spec.tokens_per_fill);
            self.tokens = self.tokens.saturating_add(added).min(self.spec.max_tokens);
            self.fills = due;
        }
    }

    /// Tokens in the bucket at `now` (times must not go backwards).
    #[inline]
    pub fn available(&mut self, now: SimTime) -> u64 {
        self.refill(now);
        self.tokens
    }

    /// Takes `cost` tokens at `now` if the bucket holds that many; `false` (and nothing taken)
    /// otherwise.
    #[inline]
    pub fn try_take(&mut self, now: SimTime, cost: u64) -> bool {
        self.refill(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Takes `cost` tokens, which the caller has checked are there with [`TokenBucket::available`].
    #[inline]
    pub fn take(&mut self, cost: u64) {
        self.tokens -= cost.min(self.tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at(ms: u64) -> SimTime {
        SimTime(ms * MS)
    }

    /// max_tokens 3, 2 tokens every 100 ms. By hand:
    ///   t=0:   full (3): requests at 0, 10, 20 take 3 → 0; the one at 30 is refused.
    ///   t=100: fill → 2: requests at 100, 150 admitted → 0; 199 refused.
    ///   t=200: fill → 2; no request until 450, where fills at 300 and 400 have come too:
    ///          2 + 2 + 2 = 6 capped at 3; requests at 450 ×4: three admitted, the fourth refused.
    #[test]
    fn admits_and_refuses_as_computed_by_hand() {
        let mut b = TokenBucket::new(BucketSpec {
            max_tokens: 3,
            tokens_per_fill: 2,
            fill_interval: SimDuration(100 * MS),
        });
        let got: Vec<bool> = [0, 10, 20, 30, 100, 150, 199, 450, 450, 450, 450]
            .into_iter()
            .map(|t| b.try_take(at(t), 1))
            .collect();
        assert_eq!(
            got,
            [true, true, true, false, true, true, false, true, true, true, false]
        );
        assert_eq!(b.available(at(499)), 0);
        assert_eq!(b.available(at(500)), 2);
    }

    /// A cost larger than what is left takes nothing; a cost above `max_tokens` never passes.
    #[test]
    fn a_refused_request_takes_nothing() {
        let mut b = TokenBucket::new(BucketSpec {
            max_tokens: 1000,
            tokens_per_fill: 100,
            fill_interval: SimDuration(1000 * MS),
        });
        assert!(b.try_take(at(0), 700));
        assert!(!b.try_take(at(1), 400));
        assert_eq!(b.available(at(2)), 300);
        assert!(b.try_take(at(1000), 400)); // 300 + 100
        assert!(!b.try_take(at(1_000_000), 1001));
        assert_eq!(b.available(at(1_000_000)), 1000);
    }

    #[test]
    fn rate_is_tokens_per_fill_over_the_interval() {
        let s = BucketSpec {
            max_tokens: 10,
            tokens_per_fill: 5,
            fill_interval: SimDuration(250 * MS),
        };
        assert_eq!(s.rate_per_s(), 20.0);
    }
}
