//! Static batching for an LLM replica: the scheduling that came before continuous batching
//! (FasterTransformer, early Hugging Face serving). The replica collects up to `batch_size`
//! requests, or fewer once the oldest has waited `timeout`, and runs them as one batch to the end:
//! one prefill step over every prompt padded to the longest, then one decode step per output
//! token of the longest request, every sequence staying in the batch (padding) until then.
//! Nothing joins a running batch; every request of a batch completes when the batch ends (its
//! first token at the end of the prefill step).
//!
//! The KV cache is reserved for the padded batch: a batch takes requests in arrival order while
//! `n × ⌈(longest prompt + longest output) / block_size⌉` blocks fit.

use super::engine::ReplicaEngine;
use super::request::{Completion, DropReason, Request};
use super::step::StepModel;
use crate::costmodel::StepBatch;
use crate::engine::{SimDuration, SimTime};
use std::collections::VecDeque;

/// The knobs of a static batcher.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticConfig {
    /// Most requests in a batch.
    pub batch_size: u32,
    /// Longest the oldest waiting request waits for a full batch.
    pub timeout: SimDuration,
    /// Tokens per KV-cache block.
    pub block_size: u32,
    /// KV-cache blocks on the replica.
    pub kv_blocks: u32,
    /// Longest waiting queue the router may fill; `None`: unbounded.
    pub max_queue_size: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
struct Running {
    start: SimTime,
    first_token: SimTime,
    end: SimTime,
}

/// One LLM replica with a static batcher.
#[derive(Clone, Debug)]
pub struct StaticEngine {
    cfg: StaticConfig,
    model: StepModel,
    queue: VecDeque<Request>,
    batch: Vec<Request>,
    running: Option<Running>,
    replica: u32,
    share: f64,
    batches: u64,
    items: u64,
}

#[inline]
fn padded_blocks(n: u64, prompt: u32, output: u32, block_size: u32) -> u64 {
    n * (prompt.max(1) as u64 + output.max(1) as u64).div_ceil(block_size as u64)
}

impl StaticEngine {
    /// An idle engine; completions name replica `replica`.
    pub fn new(cfg: StaticConfig, model: StepModel, replica: u32) -> Self {
        StaticEngine {
            batch: Vec::with_capacity(cfg.batch_size.min(1024) as usize),
            cfg,
            model,
            queue: VecDeque::new(),
            running: None,
            replica,
            share: 1.0,
            batches: 0,
            items: 0,
        }
    }

    fn scale(&self, d: SimDuration) -> SimDuration {
        if self.share < 1.0 {
            SimDuration((d.0 as f64 / self.share).round().max(1.0) as u64)
        } else {
            d
        }
    }

    /// How many requests from the head of the queue the next batch takes (0: none queued).
    fn batch_len(&self) -> usize {
        let (mut prompt, mut output) = (0, 0);
        let mut n = 0;
        for r in self.queue.iter().take(self.cfg.batch_size as usize) {
            let (p, o) = (prompt.max(r.prompt_tokens), output.max(r.output_tokens));
            if n > 0
                && padded_blocks(n as u64 + 1, p, o, self.cfg.block_size)
                    > self.cfg.kv_blocks as u64
            {
                break;
            }
            (prompt, output) = (p, o);
            n += 1;
        }
        n
    }

    /// Starts a batch of the first `n` queued requests at `now`.
    fn start(&mut self, now: SimTime, n: usize) {
        self.batch.clear();
        self.batch.extend(self.queue.drain(..n));
        let prompt = self.batch.iter().map(|r| r.prompt_tokens.max(1)).max();
        let output = self.batch.iter().map(|r| r.output_tokens.max(1)).max();
        let (prompt, output) = (prompt.unwrap_or(1), output.unwrap_or(1));
        let mut prefill = StepBatch::new();
        let mut decode = StepBatch::new();
        // Decode steps k = 1 … output − 1 read contexts prompt + k: timed at their mean.
        let steps = output as u64 - 1;
        for _ in 0..n {
            prefill.add_prefill_chunk(prompt as u64, 0, true);
            decode.add_decode(prompt as u64 + 1);
        }
        decode.decode_context_tokens += n as u64 * steps.saturating_sub(1) / 2;
        let first = self.scale(self.model.step_time(&prefill));
        let step = if steps == 0 {
            SimDuration::ZERO
        } else {
            self.scale(self.model.step_time(&decode))
        };
        let first_token = now + first;
        self.running = Some(Running {
            start: now,
            first_token,
            end: first_token + SimDuration(step.0 * steps),
        });
        self.batches += 1;
        self.items += n as u64;
    }
}

impl ReplicaEngine for StaticEngine {
    fn admit(&mut self, _now: SimTime, request: Request) -> Result<(), DropReason> {
        if padded_blocks(
            1,
            request.prompt_tokens,
            request.output_tokens,
            self.cfg.block_size,
        ) > self.cfg.kv_blocks as u64
        {
            return Err(DropReason::ExceedsKvCache);
        }
        if self
            .cfg
            .max_queue_size
            .is_some_and(|m| self.queue.len() as u32 >= m)
        {
            return Err(DropReason::QueueFull);
        }
        self.queue.push_back(request);
        Ok(())
    }

    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime> {
        if let Some(r) = self.running {
            if r.end > now {
                return Some(r.end);
            }
            let n = self.batch.len() as u32;
            for &request in &self.batch {
                done.push(Completion {
                    request,
                    start: r.start,
                    first_token: r.first_token,
                    finish: r.end,
                    batch_size: n,
                    replica: self.replica,
                });
            }
            self.batch.clear();
            self.running = None;
        }
        let oldest = self.queue.front()?.arrival;
        let n = self.batch_len();
        // Full: the batch size is reached, or the next request does not fit beside the others.
        let full = n == self.cfg.batch_size as usize || n < self.queue.len();
        let deadline = oldest + self.cfg.timeout;
        if !full && now < deadline {
            return Some(deadline);
        }
        self.start(now, n);
        self.running.map(|r| r.end)
    }

    #[inline]
    fn queued(&self) -> u32 {
        self.queue.len() as u32
    }
    #[inline]
    fn in_service(&self) -> u32 {
        self.batch.len() as u32
    }
    #[inline]
    fn busy_units(&self) -> u32 {
        self.running.is_some() as u32
    }
    #[inline]
    fn units(&self) -> u32 {
        1
    }
    fn batch_counts(&self) -> (u64, u64) {
        (self.batches, self.items)
    }
    fn abort(&mut self, out: &mut Vec<Request>) {
        out.append(&mut self.batch);
        out.extend(self.queue.drain(..));
        self.running = None;
    }
    fn set_time_share(&mut self, now: SimTime, share: f64) {
        let share = share.clamp(1e-6, 1.0);
        let stretch = self.share / share;
        self.share = share;
        if let Some(r) = self.running.as_mut() {
            use super::engine::stretch as s;
            if r.first_token > now {
                let first = now + s(r.first_token.since(now), stretch);
                r.end = first + s(r.end.since(r.first_token), stretch);
                r.first_token = first;
            } else if r.end > now {
                r.end = now + s(r.end.since(now), stretch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::step::LinearStep;
    use crate::serving::{Prefix, RequestId};

    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;

    fn request(id: u64, at_ms: u64, prompt: u32, output: u32) -> Request {
        Request {
            id: RequestId(id),
            arrival: SimTime(at_ms * MS),
            prompt_tokens: prompt,
            output_tokens: output,
            prefix: Prefix::NONE,
            tenant: 0,
            service: 0,
            adapter: 0,
        }
    }

    #[test]
    fn batches_run_to_their_longest_request_and_nothing_joins() {
        // Batch size 2, timeout 50 ms; a step takes 10 ms + 0.1 ms per token.
        let mut e = StaticEngine::new(
            StaticConfig {
                batch_size: 2,
                timeout: SimDuration(50 * MS),
                block_size: 16,
                kv_blocks: 100,
                max_queue_size: None,
            },
            StepModel::Linear(LinearStep {
                base: 0.010,
                per_token: 0.0001,
                per_seq: 0.0,
                per_context_token: 0.0,
            }),
            0,
        );
        let mut done = Vec::new();
        // A (prompt 10, output 3) at 0 waits for a second request or its timeout (50 ms).
        e.admit(SimTime(0), request(0, 0, 10, 3)).unwrap();
        assert_eq!(e.advance(SimTime(0), &mut done), Some(SimTime(50 * MS)));
        // B (prompt 20, output 2) at 5 ms fills the batch: prefill of 2 × 20 padded tokens,
        // 10 + 4 = 14 ms, first tokens at 19 ms; then 3 − 1 = 2 decode steps of 2 tokens,
        // 10.2 ms each: the batch ends at 39.4 ms, B (2 tokens) included.
        e.admit(SimTime(5 * MS), request(1, 5, 20, 2)).unwrap();
        assert_eq!(
            e.advance(SimTime(5 * MS), &mut done),
            Some(SimTime(39 * MS + 400 * US))
        );
        // C (prompt 10, output 1) at 10 ms waits: nothing joins a running batch.
        e.admit(SimTime(10 * MS), request(2, 10, 10, 1)).unwrap();
        assert_eq!(
            e.advance(SimTime(10 * MS), &mut done),
            Some(SimTime(39 * MS + 400 * US))
        );
        // At 39.4 ms A and B complete; C is alone and waits until 10 + 50 = 60 ms.
        assert_eq!(
            e.advance(SimTime(39 * MS + 400 * US), &mut done),
            Some(SimTime(60 * MS))
        );
        assert_eq!(done.len(), 2);
        for c in &done {
            assert_eq!(c.start, SimTime(5 * MS));
            assert_eq!(c.first_token, SimTime(19 * MS));
            assert_eq!(c.finish, SimTime(39 * MS + 400 * US));
            assert_eq!(c.batch_size, 2);
        }
        // C runs alone from 60 ms: prefill 10 + 1 = 11 ms, no decode step; done at 71 ms.
        assert_eq!(
            e.advance(SimTime(60 * MS), &mut done),
            Some(SimTime(71 * MS))
        );
        // D at 62 ms waits for C's batch, then for its own timeout (112 ms).
        e.admit(SimTime(62 * MS), request(3, 62, 10, 1)).unwrap();
        assert_eq!(
            e.advance(SimTime(62 * MS), &mut done),
            Some(SimTime(71 * MS))
        );
        assert_eq!(
            e.advance(SimTime(71 * MS), &mut done),
            Some(SimTime(112 * MS))
        );
        assert_eq!(done[2].request.id, RequestId(2));
        assert_eq!(done[2].first_token, SimTime(71 * MS));
        assert_eq!(
            e.advance(SimTime(112 * MS), &mut done),
            Some(SimTime(123 * MS))
        );
        assert_eq!(e.advance(SimTime(123 * MS), &mut done), None);
        assert_eq!(done.len(), 4);
        assert_eq!(e.batch_counts(), (3, 4));
    }

    #[test]
    fn the_padded_kv_cache_limits_a_batch() {
        // 10 blocks of 16 tokens: a padded request of 60 + 20 tokens takes 5, so two fit.
        let mut e = StaticEngine::new(
            StaticConfig {
                batch_size: 8,
                timeout: SimDuration(MS),
                block_size: 16,
                kv_blocks: 10,
                max_queue_size: Some(3),
            },
            StepModel::Linear(LinearStep {
                base: 0.010,
                per_token: 0.0,
                per_seq: 0.0,
                per_context_token: 0.0,
            }),
            0,
        );
        assert_eq!(
            e.admit(SimTime(0), request(9, 0, 150, 20)),
            Err(DropReason::ExceedsKvCache)
        );
        for i in 0..3 {
            e.admit(SimTime(0), request(i, 0, 60, 20)).unwrap();
        }
        assert_eq!(
            e.admit(SimTime(0), request(4, 0, 1, 1)),
            Err(DropReason::QueueFull)
        );
        let mut done = Vec::new();
        // Two fit, the third does not: the batch is full at once (no timeout wait).
        assert!(e.advance(SimTime(0), &mut done).is_some());
        assert_eq!((e.in_service(), e.queued()), (2, 1));
        let mut out = Vec::new();
        e.abort(&mut out);
        assert_eq!(out.len(), 3);
    }
}
