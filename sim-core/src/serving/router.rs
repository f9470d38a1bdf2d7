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
    /// The candidates' keys for least-outstanding (and prefix routing without a prefix),
    /// least-tokens and least-kv; only the policy's own is kept up to date.
    outstanding: Index<Outstanding>,
    tokens: Index<Tokens>,
    kv: Index<Kv>,
    /// Scan every candidate, as before the index (the tests' reference).
    scan: bool,
}

impl Router {
    /// A router with the given policy; `rng` is used only by `random`.
    pub fn new(policy: RouterPolicy, rng: Rng) -> Self {
        Router {
            policy,
            next: 0,
            rng,
            outstanding: Index::new(),
            tokens: Index::new(),
            kv: Index::new(),
            scan: false,
        }
    }

    /// Engine `id`'s load may have changed (it admitted, stepped, completed or stopped): the
    /// world calls this after each of those, and the policy's index re-reads its key, O(1)
    /// when unchanged and O(log n) when changed. Engines that are not candidates are ignored
    /// until the candidate list that holds them is next seen.
    #[inline]
    pub fn touch(&mut self, id: EngineId, engine: &Engine) {
        match self.policy {
            RouterPolicy::LeastOutstanding | RouterPolicy::Prefix => {
                self.outstanding.touch(id, engine)
            }
            RouterPolicy::LeastTokens => self.tokens.touch(id, engine),
            RouterPolicy::LeastKv => self.kv.touch(id, engine),
            RouterPolicy::RoundRobin | RouterPolicy::Random | RouterPolicy::LoraAffinity => {}
        }
    }

    /// The candidate whose key `K` no other beats, ties from the rotating start: from the
    /// policy's index in O(log n), or by scanning every candidate (the reference, and
    /// least-kv while a replica has no KV blocks, where the order is not a strict one).
    #[inline]
    fn pick_load<K: LoadKey>(
        &mut self,
        candidates: &[EngineId],
        version: Option<u64>,
        engines: &[Engine],
    ) -> usize {
        let n = candidates.len();
        if !self.scan {
            let index = K::index(self);
            index.sync(candidates, version, engines);
            let start = self.next % n;
            if let Some(best) = K::index(self).best_from(start) {
                self.next = if best + 1 == n { 0 } else { best + 1 };
                return best;
            }
        }
        self.scan_best(n, |i| K::of(&engines[candidates[i].index()]), K::better)
    }

    /// Picks one of `candidates` (engine indices of Ready replicas, in a stable order) for a
    /// request with prefix `prefix` naming adapter `adapter` (0: the base model); `None` when
    /// there is none. `version` names the list (equal versions, equal lists: the Ready list's
    /// version) so the index need not compare it; `None` when unknown (then it compares).
    #[inline]
    pub fn pick(
        &mut self,
        candidates: &[EngineId],
        version: Option<u64>,
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
            // Fewest queued plus executing requests, ties from a rotating start.
            RouterPolicy::LeastOutstanding => {
                candidates[self.pick_load::<Outstanding>(candidates, version, engines)]
            }
            // SplitwiseSim's token_jsq: the prompt tokens a replica has still to prefill plus
            // one per outstanding request; lowest wins, ties from a rotating start.
            RouterPolicy::LeastTokens => {
                candidates[self.pick_load::<Tokens>(candidates, version, engines)]
            }
            // The lowest share of KV blocks held (compared exactly as used × other total), then
            // fewest outstanding requests, ties from a rotating start.
            RouterPolicy::LeastKv => candidates[self.pick_load::<Kv>(candidates, version, engines)],
            // Without a prefix every replica has 0 units cached: fewest outstanding wins.
            RouterPolicy::Prefix if prefix.is_empty() => {
                candidates[self.pick_load::<Outstanding>(candidates, version, engines)]
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
                    let hits = e.cached_prefix_units(prefix);
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

/// A replica's load key under an indexed policy: a function of its engine alone, compared by
/// `better` (a strict weak order: `a` beats `b`).
trait LoadKey: Copy + PartialEq + std::fmt::Debug {
    /// The key of `engine` now.
    fn of(engine: &Engine) -> Self;
    /// Whether `self` beats `other`.
    fn better(&self, other: &Self) -> bool;
    /// The router's index of this key.
    fn index(r: &mut Router) -> &mut Index<Self>;
    /// Whether `better` orders this key exactly (a least-kv key over no blocks does not).
    #[inline]
    fn exact(&self) -> bool {
        true
    }
}

/// least-outstanding (and prefix routing for a request without a prefix): queued plus executing.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Outstanding(u32);

impl LoadKey for Outstanding {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.outstanding
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        Outstanding(e.queued() + e.in_service())
    }
    #[inline]
    fn better(&self, other: &Self) -> bool {
        self.0 < other.0
    }
}

/// least-tokens: prompt tokens still to prefill plus one per outstanding request.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tokens(u64);

impl LoadKey for Tokens {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.tokens
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        Tokens(e.unprefilled_tokens() + u64::from(e.queued() + e.in_service()))
    }
    #[inline]
    fn better(&self, other: &Self) -> bool {
        self.0 < other.0
    }
}

/// least-kv: blocks held, blocks in all, outstanding requests.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Kv {
    used: u32,
    total: u32,
    load: u32,
}

impl LoadKey for Kv {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.kv
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        let (used, total) = e.kv_usage();
        Kv {
            used,
            total,
            load: e.queued() + e.in_service(),
        }
    }
    /// The lower share held (`used / total`, compared exactly as used × other total), then
    /// fewer outstanding requests.
    #[inline]
    fn better(&self, o: &Self) -> bool {
        let a = u64::from(self.used) * u64::from(o.total);
        let b = u64::from(o.used) * u64::from(self.total);
        a < b || (a == b && self.load < o.load)
    }
    /// With every total positive the cross-multiplied comparison is exact rational order, so
    /// `better` is a strict weak order; a zero total compares equal to every share.
    #[inline]
    fn exact(&self) -> bool {
        self.total > 0
    }
}

/// A node of the tournament tree: the best key of its range and the leftmost position with it.
#[derive(Clone, Copy, Debug)]
struct Node<K> {
    key: K,
    pos: u32,
}

/// Not a candidate (in [`Index::pos`]).
const NOT_CANDIDATE: u32 = u32::MAX;

/// The candidates' load keys in a tournament (segment) tree over their positions: `2n` nodes in
/// one vector, leaf `i` at `n + i`, node `j` the better of `2j` and `2j + 1` (the left one on a
/// tie). A key change is a point update, O(log n); "the leftmost best in positions `l..r`" is
/// a bottom-up range query, O(log n), that keeps the order of its parts, so the combine need
/// not commute and `n` need not be a power of two. Rebuilt, O(n), only when the candidate list
/// differs from the one it was built for.
#[derive(Clone, Debug)]
struct Index<K> {
    /// The candidates it was built for, in their order.
    cands: Vec<EngineId>,
    /// Each engine's position in `cands` (by engine index; `NOT_CANDIDATE` if none).
    pos: Vec<u32>,
    /// The tree; empty until built.
    tree: Vec<Node<K>>,
    /// Leaves whose key `better` does not order exactly (see [`LoadKey::exact`]).
    inexact: u32,
    /// The version of the list it was built for (`None`: not known).
    version: Option<u64>,
}

impl<K: LoadKey> Index<K> {
    fn new() -> Self {
        Index {
            cands: Vec::new(),
            pos: Vec::new(),
            tree: Vec::new(),
            inexact: 0,
            version: None,
        }
    }

    /// The better of two nodes, the left one on a tie.
    #[inline]
    fn combine(a: Node<K>, b: Node<K>) -> Node<K> {
        if b.key.better(&a.key) {
            b
        } else {
            a
        }
    }

    /// Rebuilds for `candidates` if they are not the list it holds: known at once when both
    /// carry the same version, else by comparing the lists (a canary's split draws a subset
    /// per request). The Ready list changes on scaling and readiness, not per request.
    #[inline]
    fn sync(&mut self, candidates: &[EngineId], version: Option<u64>, engines: &[Engine]) {
        let same = match version {
            Some(v) => self.version == Some(v),
            None => self.cands[..] == *candidates,
        };
        if !same || self.tree.is_empty() {
            self.rebuild(candidates, engines);
        }
        self.version = version;
    }

    #[cold]
    fn rebuild(&mut self, candidates: &[EngineId], engines: &[Engine]) {
        for c in &self.cands {
            self.pos[c.index()] = NOT_CANDIDATE;
        }
        self.cands.clear();
        self.cands.extend_from_slice(candidates);
        let n = candidates.len();
        if let Some(max) = candidates.iter().map(|c| c.index()).max() {
            if self.pos.len() <= max {
                self.pos.resize(max + 1, NOT_CANDIDATE);
            }
        }
        self.tree.clear();
        self.inexact = 0;
        // Internal nodes are placeholders until the pass below fills them.
        let placeholder = |i: usize| Node {
            key: K::of(&engines[candidates[i].index()]),
            pos: i as u32,
        };
        if n == 0 {
            return;
        }
        self.tree.resize(n, placeholder(0));
        for (i, c) in candidates.iter().enumerate() {
            self.pos[c.index()] = i as u32;
            let leaf = placeholder(i);
            self.inexact += u32::from(!leaf.key.exact());
            self.tree.push(leaf);
        }
        for j in (1..n).rev() {
            self.tree[j] = Self::combine(self.tree[2 * j], self.tree[2 * j + 1]);
        }
    }

    /// Engine `id`'s key may have changed: re-reads it and updates the tree if it did.
    #[inline]
    fn touch(&mut self, id: EngineId, engine: &Engine) {
        let Some(&p) = self.pos.get(id.index()) else {
            return;
        };
        if p == NOT_CANDIDATE || self.tree.is_empty() {
            return;
        }
        let key = K::of(engine);
        let n = self.cands.len();
        let mut j = n + p as usize;
        let old = self.tree[j].key;
        if old == key {
            return;
        }
        self.inexact = self.inexact - u32::from(!old.exact()) + u32::from(!key.exact());
        self.tree[j].key = key;
        while j > 1 {
            j >>= 1;
            let best = Self::combine(self.tree[2 * j], self.tree[2 * j + 1]);
            let was = self.tree[j];
            if best.pos == was.pos && best.key == was.key {
                // Each node depends on its children only: nothing above changes either.
                break;
            }
            self.tree[j] = best;
        }
    }

    /// The leftmost best in positions `l..r` (`None` when empty).
    #[inline]
    fn query(&self, l: usize, r: usize) -> Option<Node<K>> {
        let n = self.cands.len();
        let (mut l, mut r) = (l + n, r + n);
        let (mut left, mut right): (Option<Node<K>>, Option<Node<K>>) = (None, None);
        while l < r {
            if l & 1 == 1 {
                let t = self.tree[l];
                left = Some(left.map_or(t, |a| Self::combine(a, t)));
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                let t = self.tree[r];
                right = Some(right.map_or(t, |b| Self::combine(t, b)));
            }
            l >>= 1;
            r >>= 1;
        }
        match (left, right) {
            (Some(a), Some(b)) => Some(Self::combine(a, b)),
            (a, b) => a.or(b),
        }
    }

    /// The position `scan_best` picks from `start`: the first in cyclic order from `start`
    /// whose key no other beats (the leftmost best of `start..n` unless the leftmost best of
    /// `0..start` beats it). `None` when a key is not ordered exactly (the caller scans).
    #[inline]
    fn best_from(&self, start: usize) -> Option<usize> {
        if self.inexact > 0 {
            return None;
        }
        let n = self.cands.len();
        let a = self.query(start, n)?;
        Some(match self.query(0, start) {
            Some(b) if b.key.better(&a.key) => b.pos as usize,
            _ => a.pos as usize,
        })
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
            router(RouterPolicy::LeastTokens).pick(ids, None, &es, Prefix::NONE, 0),
            Some(ids[1])
        );
        let lo = router(RouterPolicy::LeastOutstanding).pick(ids, None, &es, Prefix::NONE, 0);
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
            .map(|_| r.pick(ids, None, &empty, Prefix::NONE, 0))
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
        assert_eq!(r.pick(&IDS, None, &es, Prefix::NONE, 0), Some(IDS[3]));
        // Without replica 3, replica 2 (0.02) beats replica 0 (0.07) and replica 1 (0.08).
        assert_eq!(r.pick(&IDS[..3], None, &es, Prefix::NONE, 0), Some(IDS[2]));
        // Empty replicas tie: picked in turn.
        let empty = vec![vllm(100), vllm(100), vllm(100)];
        let mut r = router(RouterPolicy::LeastKv);
        let picks: Vec<_> = (0..4)
            .map(|_| r.pick(&IDS[..3], None, &empty, Prefix::NONE, 0))
            .collect();
        assert_eq!(
            picks,
            [Some(IDS[0]), Some(IDS[1]), Some(IDS[2]), Some(IDS[0])]
        );
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::engine::{RngStreams, SimTime};
    use crate::serving::engine::ReplicaEngine;
    use crate::serving::request::{Request, RequestId};
    use crate::serving::step::{LinearStep, StepModel};
    use crate::serving::vllm::{VllmConfig, VllmEngine};

    /// A vLLM replica of `kv_blocks` 16-token blocks, at most 4 sequences and 64 tokens a
    /// step (so requests queue and prompts take several steps to prefill).
    fn vllm(kv_blocks: u32) -> Engine {
        Engine::Vllm(VllmEngine::new(
            VllmConfig {
                max_num_seqs: 4,
                max_num_batched_tokens: 64,
                block_size: 16,
                kv_blocks,
                max_queue_size: None,
            },
            StepModel::Linear(LinearStep {
                base: 0.010,
                per_token: 0.0001,
                per_seq: 0.0,
                per_context_token: 0.0,
            }),
            0,
        ))
    }

    /// A small world: requests arrive at random, each routed by the indexed router and by the
    /// scanning one (which must agree), admitted and stepped as the world does (touching the
    /// indexed router after each step); replicas leave and rejoin the candidates at random
    /// (a leaving one keeps draining, untracked, and is read afresh when it rejoins).
    fn agree(policy: RouterPolicy, seed: u64, replicas: usize, requests: usize) {
        let streams = RngStreams::new(seed);
        let mut rng = streams.stream("test");
        let mut engines: Vec<Engine> = (0..replicas)
            .map(|i| {
                vllm(if policy == RouterPolicy::LeastKv {
                    40 + 20 * (i as u32 % 3)
                } else {
                    64
                })
            })
            .collect();
        let mut wake: Vec<Option<SimTime>> = vec![None; replicas];
        let mut ready = vec![true; replicas];
        let mut indexed = Router::new(policy, streams.stream("router"));
        let mut scanning = Router::new(policy, streams.stream("router"));
        scanning.scan = true;
        let mut candidates = Vec::new();
        let mut done = Vec::new();
        let mut now = SimTime(0);
        let mut sent = 0u64;
        let mut version = 0u64;
        let step = |e: usize,
                    now: SimTime,
                    engines: &mut Vec<Engine>,
                    wake: &mut Vec<Option<SimTime>>,
                    indexed: &mut Router,
                    done: &mut Vec<_>| {
            wake[e] = engines[e].advance(now, done);
            done.clear();
            indexed.touch(EngineId(e as u32), &engines[e]);
        };
        while (sent as usize) < requests {
            // Step every replica due before the next arrival, earliest first.
            let arrival = SimTime(now.0 + rng.random_range(0..4_000_000u64));
            while let Some((e, t)) = wake
                .iter()
                .enumerate()
                .filter_map(|(e, w)| w.map(|t| (e, t)))
                .filter(|&(_, t)| t <= arrival)
                .min_by_key(|&(e, t)| (t, e))
            {
                now = t;
                step(e, now, &mut engines, &mut wake, &mut indexed, &mut done);
            }
            now = arrival;
            if rng.random_range(0..50) == 0 {
                let e = rng.random_range(0..replicas);
                ready[e] = !ready[e];
                version += 1;
            }
            candidates.clear();
            candidates.extend(
                (0..replicas)
                    .filter(|&e| ready[e])
                    .map(|e| EngineId(e as u32)),
            );
            // Mostly the list's version, sometimes none (the index compares the lists).
            let v = (rng.random_range(0..4) != 0).then_some(version);
            let a = indexed.pick(&candidates, v, &engines, Prefix::NONE, 0);
            let b = scanning.pick(&candidates, v, &engines, Prefix::NONE, 0);
            assert_eq!(a, b, "{policy:?} seed {seed} request {sent}");
            let Some(e) = a else { continue };
            // Small prompts and outputs make many ties; a few long prompts break them.
            let prompt = if rng.random_range(0..8) == 0 {
                200
            } else {
                rng.random_range(1..40)
            };
            let r = Request {
                id: RequestId(sent),
                arrival: now,
                prompt_tokens: prompt,
                output_tokens: rng.random_range(1..30),
                prefix: Prefix::NONE,
                tenant: 0,
                service: 0,
                adapter: 0,
            };
            sent += 1;
            let e = e.index();
            if engines[e].admit(now, r).is_ok() {
                step(e, now, &mut engines, &mut wake, &mut indexed, &mut done);
            }
        }
    }

    #[test]
    fn indexed_least_outstanding_matches_the_scan() {
        for seed in 0..6 {
            agree(
                RouterPolicy::LeastOutstanding,
                seed,
                1 + seed as usize * 5,
                3000,
            );
        }
    }

    #[test]
    fn indexed_least_tokens_matches_the_scan() {
        for seed in 0..6 {
            agree(RouterPolicy::LeastTokens, seed, 2 + seed as usize * 4, 3000);
        }
    }

    #[test]
    fn indexed_least_kv_matches_the_scan() {
        for seed in 0..6 {
            agree(RouterPolicy::LeastKv, seed, 3 + seed as usize * 3, 3000);
        }
    }

    #[test]
    fn indexed_prefix_without_a_prefix_matches_the_scan() {
        for seed in 0..4 {
            agree(RouterPolicy::Prefix, seed, 7 + seed as usize, 2000);
        }
    }
}
