//! Routers: which replica's queue a request joins.

use super::engine::{Engine, ReplicaEngine};
use super::prefix::Prefix;
use crate::engine::Rng;
use crate::ids::EngineId;
use crate::scenario::RouterPolicy;
use rand::RngExt;

/// A router over replicas with their own queues.
#[derive(Clone, Debug)]
pub struct Router {
    policy: RouterPolicy,
    next: usize,
    rng: Rng,
}

impl Router {
    /// A router with the given policy; `rng` is used only by `random`.
    pub fn new(policy: RouterPolicy, rng: Rng) -> Self {
        Router {
            policy,
            next: 0,
            rng,
        }
    }

    /// Picks one of `candidates` (engine indices of Ready replicas, in a stable order) for a
    /// request with prefix `prefix` naming adapter `adapter` (0: the base model); `None` when
    /// there is none.
    #[inline]
    pub fn pick(
        &mut self,
        candidates: &[EngineId],
        engines: &[Engine],
        prefix: Prefix,
        adapter: u16,
    ) -> Option<EngineId> {
        let n = candidates.len();
        if n == 0 {
            return None;
        }
        Some(match self.policy {
            RouterPolicy::RoundRobin => {
                let i = self.next % n;
                self.next = (i + 1) % n;
                candidates[i]
            }
            RouterPolicy::Random => candidates[self.rng.random_range(0..n)],
            RouterPolicy::LeastOutstanding => {
                // Fewest queued plus executing requests, ties from a rotating start.
                let best = self.scan_best(
                    n,
                    |i| {
                        let e = &engines[candidates[i].index()];
                        e.queued() + e.in_service()
                    },
                    |a, b| a < b,
                );
                candidates[best]
            }
            RouterPolicy::LeastTokens => {
                // SplitwiseSim's token_jsq: the prompt tokens a replica has still to prefill
                // plus one per outstanding request; lowest wins, ties from a rotating start.
                let best = self.scan_best(
                    n,
                    |i| {
                        let e = &engines[candidates[i].index()];
                        e.unprefilled_tokens() + u64::from(e.queued() + e.in_service())
                    },
                    |a, b| a < b,
                );
                candidates[best]
            }
            RouterPolicy::LeastKv => {
                // The lowest share of KV blocks held (compared exactly as used × other total),
                // then fewest outstanding requests, ties from a rotating start.
                let best = self.scan_best(
                    n,
                    |i| {
                        let e = &engines[candidates[i].index()];
                        let (used, total) = e.kv_usage();
                        (used, total, e.queued() + e.in_service())
                    },
                    |&(used, total, load), &(b_used, b_total, b_load)| {
                        let a = u64::from(used) * u64::from(b_total);
                        let b = u64::from(b_used) * u64::from(total);
                        a < b || (a == b && load < b_load)
                    },
                );
                candidates[best]
            }
            RouterPolicy::LoraAffinity => {
                let best = self.lora_affinity(candidates, engines, adapter);
                candidates[best]
            }
            RouterPolicy::Prefix => {
                // Longest cached prefix first, then fewest outstanding, ties in turn.
                let start = self.next % n;
                let mut best = start;
                let mut best_key = (0u32, u32::MAX);
                for k in 0..n {
                    let i = (start + k) % n;
                    let e = &engines[candidates[i].index()];
                    let hits = if prefix.is_empty() {
                        0
                    } else {
                        e.cached_prefix_units(prefix)
                    };
                    let load = e.queued() + e.in_service();
                    let key = (hits, load);
                    if k == 0 || key.0 > best_key.0 || (key.0 == best_key.0 && key.1 < best_key.1) {
                        best = i;
                        best_key = key;
                    }
                }
                self.next = (best + 1) % n;
                candidates[best]
            }
        })
    }

    /// The candidate with the highest sum of two scorers of llm-d's inference scheduler (the
    /// Gateway API inference extension's), each weight 1:
    /// - LoRA affinity (`scorer/loraaffinity/lora_affinity.go`, `LoraAffinityScorer.Score`):
    ///   1 when the adapter has a running request there, else 0.8 when the replica's running
    ///   and waiting adapters together are fewer than `max_loras`, else 0.6 when the adapter
    ///   has a waiting request there, else 0; a base-model request scores 0 everywhere;
    /// - queue depth (`scorer/queuedepth/queue.go`, `QueueScorer.Score`): (most waiting − its
    ///   waiting) / (most − fewest), 1 when all are equal.
    ///
    /// Ties go in turn from a rotating start.
    fn lora_affinity(
        &mut self,
        candidates: &[EngineId],
        engines: &[Engine],
        adapter: u16,
    ) -> usize {
        let n = candidates.len();
        let (mut lo, mut hi) = (u32::MAX, 0);
        for c in candidates {
            let q = engines[c.index()].queued();
            lo = lo.min(q);
            hi = hi.max(q);
        }
        let score = |i: usize| -> f64 {
            let e = &engines[candidates[i].index()];
            let affinity = match e.lora_info(adapter) {
                Some(_) if adapter == 0 => 0.0,
                Some((true, _, _, _)) => 1.0,
                Some((false, _, listed, max)) if listed < max => 0.8,
                Some((false, true, _, _)) => 0.6,
                _ => 0.0,
            };
            let queue = if hi == lo {
                1.0
            } else {
                f64::from(hi - e.queued()) / f64::from(hi - lo)
            };
            affinity + queue
        };
        self.scan_best(n, score, |a, b| a > b)
    }

    /// The index in `0..n` whose `key` no other beats (`better(a, b)`: `a` beats `b`),
    /// scanning from a rotating start so ties are shared in turn; advances the start past the
    /// pick.
    #[inline]
    fn scan_best<K>(
        &mut self,
        n: usize,
        key: impl Fn(usize) -> K,
        better: impl Fn(&K, &K) -> bool,
    ) -> usize {
        let start = self.next % n;
        let mut best = start;
        let mut best_key = key(start);
        // Two plain passes, not `(start + k) % n`: a division per replica shows in profiles.
        for range in [start + 1..n, 0..start] {
            for i in range {
                let k = key(i);
                if better(&k, &best_key) {
                    best = i;
                    best_key = k;
                }
            }
        }
        self.next = if best + 1 == n { 0 } else { best + 1 };
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimTime};
    use crate::serving::engine::ReplicaEngine;
    use crate::serving::request::{Request, RequestId};
    use crate::serving::step::{LinearStep, StepModel};
    use crate::serving::vllm::{VllmConfig, VllmEngine};

    /// A vLLM replica of `kv_blocks` 16-token blocks, budget 100 tokens, 10 ms steps.
    fn vllm(kv_blocks: u32) -> Engine {
        Engine::Vllm(VllmEngine::new(
            VllmConfig {
                max_num_seqs: 8,
                max_num_batched_tokens: 100,
                block_size: 16,
                kv_blocks,
                max_queue_size: None,
            },
            StepModel::Linear(LinearStep {
                base: 0.010,
                per_token: 0.0,
                per_seq: 0.0,
                per_context_token: 0.0,
            }),
            0,
        ))
    }

    fn admit(e: &mut Engine, id: u64, prompt: u32) {
        let r = Request {
            id: RequestId(id),
            arrival: SimTime(0),
            prompt_tokens: prompt,
            output_tokens: 10,
            prefix: Prefix::NONE,
            tenant: 0,
            service: 0,
            adapter: 0,
        };
        e.admit(SimTime(0), r).unwrap();
    }

    fn router(policy: RouterPolicy) -> Router {
        Router::new(policy, RngStreams::new(1).stream("router"))
    }

    const IDS: [EngineId; 4] = [EngineId(0), EngineId(1), EngineId(2), EngineId(3)];

    /// least-tokens counts prompt tokens not yet prefilled plus requests: 300 + 1 = 301,
    /// 2 × 10 + 2 = 22 and 50 + 1 = 51 pick replica 1, where least-outstanding (1, 2, 1) picks
    /// replica 0. Replica 1 plans its prefill step and the nine decode steps after it as one
    /// 100 ms run; its prompt tokens count until that run is done.
    #[test]
    fn least_tokens_counts_pending_prompt_tokens() {
        let mut es = vec![vllm(100), vllm(100), vllm(100)];
        admit(&mut es[0], 0, 300);
        admit(&mut es[1], 1, 10);
        admit(&mut es[1], 2, 10);
        admit(&mut es[2], 3, 50);
        let ids = &IDS[..3];
        assert_eq!(
            router(RouterPolicy::LeastTokens).pick(ids, &es, Prefix::NONE, 0),
            Some(ids[1])
        );
        let lo = router(RouterPolicy::LeastOutstanding).pick(ids, &es, Prefix::NONE, 0);
        assert_eq!(lo, Some(ids[0]));
        let mut done = Vec::new();
        let wake = es[1].advance(SimTime(0), &mut done).unwrap();
        assert_eq!(wake, SimTime(100_000_000));
        assert_eq!(es[1].unprefilled_tokens(), 20);
        es[1].advance(wake, &mut done);
        assert_eq!((es[1].unprefilled_tokens(), done.len()), (0, 2));
        // Empty replicas tie: picked in turn.
        let empty = vec![vllm(100), vllm(100), vllm(100)];
        let mut r = router(RouterPolicy::LeastTokens);
        let picks: Vec<_> = (0..4)
            .map(|_| r.pick(ids, &empty, Prefix::NONE, 0))
            .collect();
        assert_eq!(
            picks,
            [Some(ids[0]), Some(ids[1]), Some(ids[2]), Some(ids[0])]
        );
    }

    /// least-kv compares blocks held / blocks: a 160-token prompt's first 100-token chunk holds 7
    /// of 100 blocks (0.07), a 64-token one 4 of 50 (0.08), two 16-token ones 2 of 100 (0.02, 2 requests)
    /// and one 32-token one 2 of 100 (0.02, 1 request): the last wins on fewer requests.
    #[test]
    fn least_kv_picks_the_lowest_utilisation() {
        let mut es = vec![vllm(100), vllm(50), vllm(100), vllm(100)];
        admit(&mut es[0], 0, 160);
        admit(&mut es[1], 1, 64);
        admit(&mut es[2], 2, 16);
        admit(&mut es[2], 3, 16);
        admit(&mut es[3], 4, 32);
        let mut done = Vec::new();
        for e in &mut es {
            e.advance(SimTime(0), &mut done);
        }
        let usage: Vec<_> = es.iter().map(Engine::kv_usage).collect();
        assert_eq!(usage, [(7, 100), (4, 50), (2, 100), (2, 100)]);
        let mut r = router(RouterPolicy::LeastKv);
        assert_eq!(r.pick(&IDS, &es, Prefix::NONE, 0), Some(IDS[3]));
        // Without replica 3, replica 2 (0.02) beats replica 0 (0.07) and replica 1 (0.08).
        assert_eq!(r.pick(&IDS[..3], &es, Prefix::NONE, 0), Some(IDS[2]));
        // Empty replicas tie: picked in turn.
        let empty = vec![vllm(100), vllm(100), vllm(100)];
        let mut r = router(RouterPolicy::LeastKv);
        let picks: Vec<_> = (0..4)
            .map(|_| r.pick(&IDS[..3], &empty, Prefix::NONE, 0))
            .collect();
        assert_eq!(
            picks,
            [Some(IDS[0]), Some(IDS[1]), Some(IDS[2]), Some(IDS[0])]
        );
    }
}
