//! Routers: which replica's queue a request joins.

use super::engine::{Engine, ReplicaEngine};
use super::prefix::{Prefix, PrefixTable, NO_SLOT};
use crate::engine::Rng;
use crate::ids::EngineId;
use crate::scenario::RouterPolicy;
use rand::RngExt;
use std::sync::Arc;

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
    /// lora-affinity: queue lengths of the candidates with a free adapter slot, of the others,
    /// and the longest.
    free: Index<Free>,
    busy: Index<Busy>,
    most: Index<Most>,
    /// prefix: the table the requests' prefixes index (`None`: unknown, then it scans), and
    /// the replicas whose prefix cache holds each slot (a prefix's first unit).
    table: Option<Arc<PrefixTable>>,
    slot_holders: Holders,
    /// lora-affinity: the replicas with a running or waiting request of each adapter.
    adapter_holders: Holders,
    /// A candidate keeps no holder journals: prefix and lora-affinity scan.
    untracked: bool,
    /// Scan every candidate, as before the index (the tests' reference).
    scan: bool,
    /// Picks by prefix_scan or lora_affinity_scan (the tests check the index needed none).
    #[cfg(test)]
    scans: u64,
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
            free: Index::new(),
            busy: Index::new(),
            most: Index::new(),
            table: None,
            slot_holders: Holders::default(),
            adapter_holders: Holders::default(),
            untracked: false,
            scan: false,
            #[cfg(test)]
            scans: 0,
        }
    }

    /// Whether the policy keeps holder sets: its replicas' engines must journal them
    /// ([`Engine::track_holders`], before their first request), else it scans.
    pub fn needs_holders(&self) -> bool {
        matches!(
            self.policy,
            RouterPolicy::Prefix | RouterPolicy::LoraAffinity
        )
    }

    /// The table the requests' prefixes index (prefix routing without it scans).
    pub fn set_prefix_table(&mut self, table: Arc<PrefixTable>) {
        self.table = Some(table);
    }

    /// Engine `id`'s load may have changed (it admitted, stepped, completed or stopped): the
    /// world calls this after each of those, and the policy's index re-reads its key, O(1)
    /// when unchanged and O(log n) when changed. Engines that are not candidates are ignored
    /// until the candidate list that holds them is next seen.
    ///
    /// Prefix and lora-affinity routing also drain the engine's holder journals here, whether
    /// or not it is a candidate now.
    #[inline]
    pub fn touch(&mut self, id: EngineId, engine: &mut Engine) {
        match self.policy {
            RouterPolicy::LeastOutstanding => self.outstanding.touch(id, engine),
            RouterPolicy::Prefix => {
                self.drain_holders(id, engine);
                self.outstanding.touch(id, engine)
            }
            RouterPolicy::LeastTokens => self.tokens.touch(id, engine),
            RouterPolicy::LeastKv => self.kv.touch(id, engine),
            RouterPolicy::LoraAffinity => {
                self.drain_holders(id, engine);
                self.free.touch(id, engine);
                self.busy.touch(id, engine);
                self.most.touch(id, engine);
            }
            RouterPolicy::RoundRobin | RouterPolicy::Random => {}
        }
    }

    /// [`Router::touch`] for an engine whose requests waiting plus executing the caller has
    /// just read (`outstanding`): least-outstanding routing then need not read them again.
    #[inline]
    pub fn touch_outstanding(&mut self, id: EngineId, engine: &mut Engine, outstanding: u32) {
        if self.policy == RouterPolicy::LeastOutstanding {
            debug_assert_eq!(Outstanding::of(engine), Outstanding(outstanding));
            self.outstanding.set(id, Outstanding(outstanding));
        } else {
            self.touch(id, engine);
        }
    }

    /// Applies engine `id`'s holder journals to the holder sets.
    #[inline]
    fn drain_holders(&mut self, id: EngineId, engine: &mut Engine) {
        let (slots, adapters) = (&mut self.slot_holders, &mut self.adapter_holders);
        engine.drain_holders(
            |slot, joined| slots.set(slot as usize, id, joined),
            |adapter, listed| adapters.set(usize::from(adapter), id, listed),
        );
    }

    /// Notes, after an index was rebuilt for `candidates`, whether one of them keeps no
    /// holder journals.
    #[cold]
    fn check_tracked(&mut self, candidates: &[EngineId], engines: &[Engine]) {
        self.untracked = candidates
            .iter()
            .any(|c| !engines[c.index()].tracks_holders());
    }

    /// The candidate whose key `K` no other beats, ties from the rotating start: from the
    /// policy's index in O(log n), or by scanning every candidate (the reference, and
    /// least-kv while a replica has no KV blocks, where the order is not a strict one).
    #[inline(always)]
    fn pick_load<K: LoadKey>(
        &mut self,
        candidates: &[EngineId],
        version: Option<u64>,
        engines: &[Engine],
    ) -> usize {
        let n = candidates.len();
        if !self.scan {
            if K::index(self).sync(candidates, version, engines) && self.needs_holders() {
                self.check_tracked(candidates, engines);
            }
            let start = if self.next < n {
                self.next
            } else {
                self.next % n
            };
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
                candidates[self.lora_affinity(candidates, version, engines, adapter)]
            }
            // Longest cached prefix first, then fewest outstanding, ties in turn.
            RouterPolicy::Prefix => candidates[self.prefix(candidates, version, engines, prefix)],
        })
    }

    /// Prefix routing for a request with a prefix: the candidate with the most leading units
    /// of `prefix` cached, then the fewest outstanding requests, ties from the rotating start.
    ///
    /// Indexed: a candidate with a unit cached has the prefix's first unit cached (a hit is a
    /// run of leading units), so it is in the slot's holder set. If some candidate has a hit,
    /// every best one does, and the first best in cyclic order among the holders is the
    /// scan's pick; if none has, every key's first part is 0 and the scan's pick is the
    /// least-outstanding index's. O(holders × prefix length + log n).
    #[inline]
    fn prefix(
        &mut self,
        candidates: &[EngineId],
        version: Option<u64>,
        engines: &[Engine],
        prefix: Prefix,
    ) -> usize {
        let n = candidates.len();
        if !self.scan {
            if self.outstanding.sync(candidates, version, engines) {
                self.check_tracked(candidates, engines);
            }
            let slot = match &self.table {
                Some(t) if !self.untracked && (prefix.start as usize) < t.len() => {
                    t.first_slot(prefix)
                }
                _ => NO_SLOT,
            };
            if slot != NO_SLOT {
                let start = self.next % n;
                let turn = |p: usize| if p >= start { p - start } else { p + n - start };
                // (turn, hits, load) of the best holder so far.
                let mut best: Option<(usize, u32, u32)> = None;
                for &h in self.slot_holders.of(slot as usize) {
                    let p = self.outstanding.position(h);
                    if p == NOT_CANDIDATE {
                        continue;
                    }
                    let e = &engines[h.index()];
                    let hits = e.cached_prefix_units(prefix);
                    let load = e.queued() + e.in_service();
                    let t = turn(p as usize);
                    let wins = match best {
                        None => hits > 0,
                        Some((bt, bh, bl)) => {
                            hits > bh || (hits == bh && (load < bl || (load == bl && t < bt)))
                        }
                    };
                    if wins {
                        best = Some((t, hits, load));
                    }
                }
                let pick = match best {
                    Some((t, _, _)) => (start + t) % n,
                    None => self
                        .outstanding
                        .best_from(start)
                        .expect("an exact, non-empty index"),
                };
                self.next = if pick + 1 == n { 0 } else { pick + 1 };
                return pick;
            }
        }
        self.prefix_scan(candidates, engines, prefix)
    }

    /// The reference for [`Router::prefix`]: every candidate's key, from the rotating start.
    fn prefix_scan(
        &mut self,
        candidates: &[EngineId],
        engines: &[Engine],
        prefix: Prefix,
    ) -> usize {
        #[cfg(test)]
        {
            self.scans += 1;
        }
        let n = candidates.len();
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
        best
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
    ///
    /// Indexed, in O(holders + log n): split the candidates into the replicas listing the
    /// adapter (running or waiting: its holders), each scored as the scan does; those with a
    /// free slot (0.8 each unless a holder, and a holder scores at least that); and the rest
    /// (0 each unless a holder). Within the last two groups the score `c + queue` falls
    /// strictly as the queue grows (queue scores of distinct queues differ by at least
    /// 1/(most − fewest) ≥ 2⁻³², far more than the f64 rounding of a sum below 2), so each
    /// group's best is its index's first shortest queue in cyclic order. A score taken below a
    /// holder's own never wins: that holder's exact score is higher. So the best of the group
    /// winners by score, ties to the first in cyclic order, is the first best candidate in
    /// cyclic order: the scan's pick, equal f64 scores across groups and most = fewest
    /// included. Fewest and most queued are the indices' roots.
    fn lora_affinity(
        &mut self,
        candidates: &[EngineId],
        version: Option<u64>,
        engines: &[Engine],
        adapter: u16,
    ) -> usize {
        let n = candidates.len();
        if !self.scan {
            if self.free.sync(candidates, version, engines) {
                self.check_tracked(candidates, engines);
            }
            self.busy.sync(candidates, version, engines);
            self.most.sync(candidates, version, engines);
        }
        if self.scan || self.untracked {
            return self.lora_affinity_scan(candidates, engines, adapter);
        }
        let hi = self.most.root().0;
        let (f, b) = (self.free.root(), self.busy.root());
        let lo = match (f.member, b.member) {
            (true, true) => f.queued.min(b.queued),
            (true, false) => f.queued,
            _ => b.queued,
        };
        let start = self.next % n;
        let turn = |p: usize| if p >= start { p - start } else { p + n - start };
        // (turn, score) of the best so far.
        let mut best: Option<(usize, f64)> = None;
        let mut consider = |p: usize, score: f64| {
            let t = turn(p);
            if best.is_none_or(|(bt, bs)| score > bs || (score == bs && t < bt)) {
                best = Some((t, score));
            }
        };
        // A base-model request scores 0 everywhere: both groups score `0 + queue` exactly.
        let free_affinity = if adapter == 0 { 0.0 } else { 0.8 };
        if let Some(p) = self.free.best_from(start) {
            let k = self.free.key_at(p);
            if k.member {
                consider(p, free_affinity + queue_score(k.queued, lo, hi));
            }
        }
        if let Some(p) = self.busy.best_from(start) {
            let k = self.busy.key_at(p);
            if k.member {
                consider(p, 0.0 + queue_score(k.queued, lo, hi));
            }
        }
        if adapter != 0 {
            for &h in self.adapter_holders.of(usize::from(adapter)) {
                let p = self.free.position(h);
                if p != NOT_CANDIDATE {
                    consider(p as usize, lora_score(&engines[h.index()], adapter, lo, hi));
                }
            }
        }
        let (t, _) = best.expect("every candidate is in a group");
        let pick = (start + t) % n;
        self.next = if pick + 1 == n { 0 } else { pick + 1 };
        pick
    }

    /// The reference for [`Router::lora_affinity`]: every candidate's score.
    fn lora_affinity_scan(
        &mut self,
        candidates: &[EngineId],
        engines: &[Engine],
        adapter: u16,
    ) -> usize {
        #[cfg(test)]
        {
            self.scans += 1;
        }
        let n = candidates.len();
        let (mut lo, mut hi) = (u32::MAX, 0);
        for c in candidates {
            let q = engines[c.index()].queued();
            lo = lo.min(q);
            hi = hi.max(q);
        }
        let score = |i: usize| lora_score(&engines[candidates[i].index()], adapter, lo, hi);
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

/// llm-d's queue-depth score of a replica with `queued` waiting when the candidates have
/// `lo` to `hi` waiting: (hi − queued) / (hi − lo), 1 when all are equal.
#[inline]
fn queue_score(queued: u32, lo: u32, hi: u32) -> f64 {
    if hi == lo {
        1.0
    } else {
        f64::from(hi - queued) / f64::from(hi - lo)
    }
}

/// A replica's lora-affinity score for a request naming `adapter` (see
/// [`Router::lora_affinity`]): its affinity class plus its queue score.
#[inline]
fn lora_score(e: &Engine, adapter: u16, lo: u32, hi: u32) -> f64 {
    let affinity = match e.lora_info(adapter) {
        Some(_) if adapter == 0 => 0.0,
        Some((true, _, _, _)) => 1.0,
        Some((false, _, listed, max)) if listed < max => 0.8,
        Some((false, true, _, _)) => 0.6,
        _ => 0.0,
    };
    affinity + queue_score(e.queued(), lo, hi)
}

/// For each key (a prefix slot, an adapter), the engines holding it, in no particular order
/// (a pick's rule does not depend on it). Adding and removing cost O(holders of the key).
#[derive(Clone, Debug, Default)]
struct Holders {
    of: Vec<Vec<EngineId>>,
}

impl Holders {
    /// Engine `id` holds `key` (`on`) or no longer does.
    #[inline]
    fn set(&mut self, key: usize, id: EngineId, on: bool) {
        if on {
            if self.of.len() <= key {
                self.of.resize_with(key + 1, Vec::new);
            }
            debug_assert!(!self.of[key].contains(&id));
            self.of[key].push(id);
        } else if let Some(list) = self.of.get_mut(key) {
            if let Some(k) = list.iter().position(|&h| h == id) {
                list.swap_remove(k);
            }
        }
    }

    /// The engines holding `key`.
    #[inline]
    fn of(&self, key: usize) -> &[EngineId] {
        self.of.get(key).map_or(&[], Vec::as_slice)
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
    /// A key that beats no key (exactly ordered): the index's padding leaves.
    fn worst() -> Self;
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
    fn worst() -> Self {
        Outstanding(u32::MAX)
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
    fn worst() -> Self {
        Tokens(u64::MAX)
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
    /// A share of `u32::MAX` (no replica holds more blocks than it has).
    fn worst() -> Self {
        Kv {
            used: u32::MAX,
            total: 1,
            load: u32::MAX,
        }
    }
}

/// lora-affinity: a candidate's queue, if it has a free adapter slot ([`Engine::lora_free`]);
/// shorter wins, members beat the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Free {
    member: bool,
    queued: u32,
}

/// lora-affinity: a candidate's queue, if it has no free adapter slot (or no adapters).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Busy {
    member: bool,
    queued: u32,
}

#[inline]
fn group_better(a: (bool, u32), b: (bool, u32)) -> bool {
    a.0 && (!b.0 || a.1 < b.1)
}

impl LoadKey for Free {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.free
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        Free {
            member: e.lora_free(),
            queued: e.queued(),
        }
    }
    fn worst() -> Self {
        Free {
            member: false,
            queued: u32::MAX,
        }
    }
    #[inline]
    fn better(&self, o: &Self) -> bool {
        group_better((self.member, self.queued), (o.member, o.queued))
    }
}

impl LoadKey for Busy {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.busy
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        Busy {
            member: !e.lora_free(),
            queued: e.queued(),
        }
    }
    fn worst() -> Self {
        Busy {
            member: false,
            queued: u32::MAX,
        }
    }
    #[inline]
    fn better(&self, o: &Self) -> bool {
        group_better((self.member, self.queued), (o.member, o.queued))
    }
}

/// lora-affinity: a candidate's queue; longer wins (the root is the most queued).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Most(u32);

impl LoadKey for Most {
    #[inline]
    fn index(r: &mut Router) -> &mut Index<Self> {
        &mut r.most
    }
    #[inline]
    fn of(e: &Engine) -> Self {
        Most(e.queued())
    }
    fn worst() -> Self {
        Most(0)
    }
    #[inline]
    fn better(&self, o: &Self) -> bool {
        self.0 > o.0
    }
}

/// Not a candidate (in [`Index::pos`]).
const NOT_CANDIDATE: u32 = u32::MAX;

/// The candidates' load keys in a tournament (segment) tree over their positions: `2s` keys in
/// one vector for `s` the power of two at or above `n`, leaf `i` at `s + i` (the leaves past
/// `n` hold [`LoadKey::worst`]), node `j` the better of `2j` and `2j + 1` (the left one on a
/// tie), so the root holds the best key of all. Nodes hold keys only, no positions: a node
/// depends on its children's keys alone, so a key change walks up only while a node's key
/// changes, which among many equal loads (balanced replicas) is rarely far. "The first
/// position at or after `start` with a best key" climbs from `start` to the first subtree
/// holding one and descends to its leftmost, O(log n). Rebuilt, O(n), only when the
/// candidate list differs from the one it was built for.
#[derive(Clone, Debug)]
struct Index<K> {
    /// The candidates it was built for, in their order.
    cands: Vec<EngineId>,
    /// Each engine's position in `cands` (by engine index; `NOT_CANDIDATE` if none).
    pos: Vec<u32>,
    /// The tree's keys; empty until built.
    tree: Vec<K>,
    /// Leaves in the tree (`s`, a power of two at or above the candidates).
    size: usize,
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
            size: 0,
            inexact: 0,
            version: None,
        }
    }

    /// The better of two keys, the left one on a tie.
    #[inline]
    fn combine(a: K, b: K) -> K {
        if b.better(&a) {
            b
        } else {
            a
        }
    }

    /// Rebuilds for `candidates` if they are not the list it holds: known at once when both
    /// carry the same version, else by comparing the lists (a canary's split draws a subset
    /// per request). The Ready list changes on scaling and readiness, not per request.
    /// Returns whether it rebuilt.
    #[inline]
    fn sync(&mut self, candidates: &[EngineId], version: Option<u64>, engines: &[Engine]) -> bool {
        let same = match version {
            Some(v) => self.version == Some(v),
            None => self.cands[..] == *candidates,
        };
        let rebuild = !same || self.tree.is_empty();
        if rebuild {
            self.rebuild(candidates, engines);
        }
        self.version = version;
        rebuild
    }

    /// The best key of all (built for at least one candidate).
    #[inline]
    fn root(&self) -> K {
        self.tree[1]
    }

    /// The key of the candidate at position `p`.
    #[inline]
    fn key_at(&self, p: usize) -> K {
        self.tree[self.size + p]
    }

    /// Engine `id`'s position among the candidates (`NOT_CANDIDATE`: none).
    #[inline]
    fn position(&self, id: EngineId) -> u32 {
        self.pos.get(id.index()).copied().unwrap_or(NOT_CANDIDATE)
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
        if n == 0 {
            return;
        }
        self.size = n.next_power_of_two();
        // Internal nodes are placeholders until the pass below fills them.
        self.tree.resize(self.size, K::worst());
        for (i, c) in candidates.iter().enumerate() {
            self.pos[c.index()] = i as u32;
            let key = K::of(&engines[c.index()]);
            self.inexact += u32::from(!key.exact());
            self.tree.push(key);
        }
        self.tree.resize(2 * self.size, K::worst());
        for j in (1..self.size).rev() {
            self.tree[j] = Self::combine(self.tree[2 * j], self.tree[2 * j + 1]);
        }
    }

    /// Engine `id`'s key may have changed: re-reads it and updates the tree if it did.
    #[inline]
    fn touch(&mut self, id: EngineId, engine: &Engine) {
        self.set_with(id, || K::of(engine));
    }

    /// Engine `id`'s key is now `key` (see [`Index::touch`]).
    #[inline]
    fn set(&mut self, id: EngineId, key: K) {
        self.set_with(id, || key);
    }

    /// Engine `id`'s key is now `key()`, read only when `id` is a candidate.
    #[inline]
    fn set_with(&mut self, id: EngineId, key: impl FnOnce() -> K) {
        let Some(&p) = self.pos.get(id.index()) else {
            return;
        };
        if p == NOT_CANDIDATE || self.tree.is_empty() {
            return;
        }
        let key = key();
        let mut j = self.size + p as usize;
        let old = self.tree[j];
        if old == key {
            return;
        }
        self.inexact = self.inexact - u32::from(!old.exact()) + u32::from(!key.exact());
        let mask = self.mask();
        let tree = &mut self.tree[..];
        tree[j] = key;
        // The best key below each node, carried up: only the sibling is read at each level.
        let mut best = key;
        while j > 1 {
            let sibling = tree[(j ^ 1) & mask];
            best = if j & 1 == 0 {
                Self::combine(best, sibling)
            } else {
                Self::combine(sibling, best)
            };
            j >>= 1;
            let was = &mut tree[j & mask];
            if *was == best {
                // Each node depends on its children's keys only: nothing above changes either.
                break;
            }
            *was = best;
        }
    }

    /// A mask for the tree's node indices: its length, `2 * size`, is a power of two above
    /// every index into it, so `j & mask` is `j`; indexing through it lets the compiler drop
    /// the bounds checks of the tree walks.
    #[inline(always)]
    fn mask(&self) -> usize {
        self.tree.len().wrapping_sub(1)
    }

    /// The leftmost leaf below node `j` whose key `top` accepts, as a position; `top` accepts
    /// node `j`'s key. A node's key is one of its children's, the left one's unless the right
    /// one beats it, so the descent takes the left child whenever `top` accepts its key.
    #[inline]
    fn leftmost(&self, mut j: usize, top: impl Fn(&K) -> bool) -> usize {
        let mask = self.mask();
        while j < self.size {
            j *= 2;
            if !top(&self.tree[j & mask]) {
                j += 1;
            }
        }
        j - self.size
    }

    /// The position `scan_best` picks from `start`: the first in cyclic order from `start`
    /// whose key no other beats (the first such at or after `start`, else the first of all).
    /// `None` when a key is not ordered exactly (the caller scans).
    #[inline]
    fn best_from(&self, start: usize) -> Option<usize> {
        if self.inexact > 0 {
            return None;
        }
        let root = *self.tree.get(1)?;
        // The keys no other beats: in a strict weak order, those the best of all does not
        // beat; a subtree holds one exactly when its own best is one.
        let top = |k: &K| !root.better(k);
        if start < self.cands.len() {
            let mask = self.mask();
            let mut j = self.size + start;
            loop {
                if top(&self.tree[j & mask]) {
                    let p = self.leftmost(j, top);
                    if p < self.cands.len() {
                        return Some(p);
                    }
                    // Padding ties a best key only when every key does, and then `start`'s own
                    // leaf is taken above: a guard, not a case that arises.
                    break;
                }
                // The subtree just right of `j`'s: climb past right children first.
                while j & 1 == 1 {
                    j >>= 1;
                }
                if j == 0 {
                    break;
                }
                j += 1;
            }
        }
        Some(self.leftmost(1, top))
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
    use crate::serving::request::{Completion, Request, RequestId};

    use crate::serving::step::{LinearStep, StepModel};
    use crate::serving::vllm::{VllmConfig, VllmEngine};

    /// Advances replica `e` at `now`, then lets the indexed router re-read it.
    pub(super) fn step(
        e: usize,
        now: SimTime,
        engines: &mut [Engine],
        wake: &mut [Option<SimTime>],
        indexed: &mut Router,
        done: &mut Vec<Completion>,
    ) {
        wake[e] = engines[e].advance(now, done);
        done.clear();
        indexed.touch(EngineId(e as u32), &mut engines[e]);
    }

    /// Steps every replica due by `arrival`, earliest first (ties by index).
    pub(super) fn step_due(
        arrival: SimTime,
        engines: &mut [Engine],
        wake: &mut [Option<SimTime>],
        indexed: &mut Router,
        done: &mut Vec<Completion>,
    ) {
        while let Some((e, t)) = wake
            .iter()
            .enumerate()
            .filter_map(|(e, w)| w.map(|t| (e, t)))
            .filter(|&(_, t)| t <= arrival)
            .min_by_key(|&(e, t)| (t, e))
        {
            step(e, t, engines, wake, indexed, done);
        }
    }

    /// A vLLM replica of `kv_blocks` 16-token blocks, at most 4 sequences and 64 tokens a
    /// step (so requests queue and prompts take several steps to prefill).
    pub(super) fn vllm_engine(kv_blocks: u32) -> VllmEngine {
        VllmEngine::new(
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
        )
    }

    /// [`vllm_engine`] as an [`Engine`].
    fn vllm(kv_blocks: u32) -> Engine {
        Engine::Vllm(vllm_engine(kv_blocks))
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
        while (sent as usize) < requests {
            // Step every replica due before the next arrival, earliest first.
            let arrival = SimTime(now.0 + rng.random_range(0..4_000_000u64));
            step_due(arrival, &mut engines, &mut wake, &mut indexed, &mut done);
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

    /// The first position in cyclic order from `start` whose key no other beats, by scanning.
    fn first_best<K: LoadKey>(keys: &[K], start: usize) -> usize {
        let n = keys.len();
        (0..n)
            .map(|t| (start + t) % n)
            .find(|&p| !keys.iter().any(|k| k.better(&keys[p])))
            .expect("a key no other beats")
    }

    /// The index's keys and picks after random point updates agree with a scan: few distinct
    /// keys (many ties), any width (padding), any start, and a most-wins key whose padding
    /// ties with a candidate's.
    #[test]
    fn index_best_from_matches_a_scan_of_its_keys() {
        let mut rng = RngStreams::new(3).stream("test");
        for n in 1..=19usize {
            let engines: Vec<Engine> = (0..n).map(|_| vllm(64)).collect();
            let ids: Vec<EngineId> = (0..n as u32).map(EngineId).collect();
            let mut least = Index::<Outstanding>::new();
            let mut most = Index::<Most>::new();
            let mut free = Index::<Free>::new();
            least.sync(&ids, None, &engines);
            most.sync(&ids, None, &engines);
            free.sync(&ids, None, &engines);
            let mut lk = vec![Outstanding(0); n];
            let mut mk = vec![Most(0); n];
            let mut fk: Vec<Free> = ids.iter().map(|&i| free.key_at(i.index())).collect();
            for _ in 0..300 {
                let e = rng.random_range(0..n);
                lk[e] = Outstanding(rng.random_range(0..3));
                mk[e] = Most(rng.random_range(0..3));
                // Non-members tie whatever their queues: equivalent keys that are not equal.
                fk[e] = Free {
                    member: rng.random_range(0..3) == 0,
                    queued: rng.random_range(0..3),
                };
                least.set(ids[e], lk[e]);
                most.set(ids[e], mk[e]);
                free.set(ids[e], fk[e]);
                for start in 0..n {
                    assert_eq!(least.best_from(start), Some(first_best(&lk, start)));
                    assert_eq!(most.best_from(start), Some(first_best(&mk, start)));
                    assert_eq!(free.best_from(start), Some(first_best(&fk, start)));
                }
                assert_eq!(least.root(), *lk.iter().min_by_key(|k| k.0).unwrap());
                assert_eq!(most.root(), *mk.iter().max_by_key(|k| k.0).unwrap());
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

#[cfg(test)]
mod holder_tests {
    use super::index_tests::{step, step_due, vllm_engine};
    use super::*;
    use crate::engine::{RngStreams, SimDuration, SimTime};
    use crate::serving::engine::ReplicaEngine;
    use crate::serving::request::{Request, RequestId};
    use crate::serving::vllm::{Adapter, LoraConfig};

    const ADAPTERS: u16 = 6;

    /// A vLLM replica of `kv_blocks` 16-token blocks (few, so cached units are evicted), at
    /// most 4 sequences and 64 tokens a step, with prefix caching over `table` and 6 adapters
    /// (2 GPU slots) where asked, journaling its holders.
    fn vllm(kv_blocks: u32, table: Option<&Arc<PrefixTable>>, lora: bool) -> Engine {
        let e = vllm_engine(kv_blocks);
        let e = match table {
            Some(t) => e.with_prefixes(t.clone()),
            None => e,
        };
        let adapter = Adapter {
            rank: 16,
            cold_load: SimDuration(5_000_000),
            warm_load: SimDuration(1_000_000),
            step_extra: SimDuration(100_000),
        };
        let e = if lora {
            e.with_lora(LoraConfig {
                max_loras: 2,
                max_cpu_loras: 4,
                adapters: vec![adapter; ADAPTERS as usize].into(),
            })
        } else {
            e
        };
        let mut e = Engine::Vllm(e);
        e.track_holders();
        e
    }

    /// Prefixes of 1 to 6 units in 5 families (a shared first unit, then their own chains),
    /// and a few whose first unit appears later in another (the table must still find them).
    fn table() -> (Arc<PrefixTable>, Vec<Prefix>) {
        let mut t = PrefixTable::new(16);
        let mut ps = Vec::new();
        for f in 0..5u64 {
            for c in 0..4u64 {
                let len = 1 + ((f + c) % 6);
                ps.push(t.push(
                    std::iter::once(f << 40).chain((1..len).map(|j| (f << 40) | (c << 20) | j)),
                ));
            }
        }
        // 0 << 40 (family 0's first unit) second, and unit 2 of family 1 first.
        ps.push(t.push([7 << 40, 0, 1 << 40 | 1]));
        ps.push(t.push([(1 << 40) | (1 << 20) | 1, 9]));
        (Arc::new(t), ps)
    }

    /// Requests with random prefixes and adapters, each routed by the indexed router and by
    /// the scanning one (which must agree), admitted and stepped as the world does (touching
    /// the indexed router after each change); replicas leave and rejoin the candidates, and
    /// now and then one is stopped (its cache and adapters cleared). Returns how many picks
    /// had their best score shared by candidates of different affinity classes.
    fn agree(policy: RouterPolicy, seed: u64, replicas: usize, requests: usize) -> u32 {
        let streams = RngStreams::new(seed);
        let mut rng = streams.stream("test");
        let (table, prefixes) = table();
        // Every fifth replica has no prefix cache, every seventh no adapters.
        let mut engines: Vec<Engine> = (0..replicas)
            .map(|i| {
                vllm(
                    24 + 8 * (i as u32 % 4),
                    (i % 5 != 4).then_some(&table),
                    i % 7 != 6,
                )
            })
            .collect();
        let mut wake: Vec<Option<SimTime>> = vec![None; replicas];
        let mut ready = vec![true; replicas];
        let mut indexed = Router::new(policy, streams.stream("router"));
        indexed.set_prefix_table(table.clone());
        let mut scanning = Router::new(policy, streams.stream("router"));
        scanning.scan = true;
        let mut candidates = Vec::new();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        let mut now = SimTime(0);
        let mut sent = 0u64;
        let mut version = 0u64;
        let mut cross_ties = 0;
        let mut hit_picks = 0;
        while (sent as usize) < requests {
            let arrival = SimTime(now.0 + rng.random_range(0..3_000_000u64));
            step_due(arrival, &mut engines, &mut wake, &mut indexed, &mut done);
            now = arrival;
            if rng.random_range(0..50) == 0 {
                let e = rng.random_range(0..replicas);
                ready[e] = !ready[e];
                version += 1;
            }
            if rng.random_range(0..300) == 0 {
                let e = rng.random_range(0..replicas);
                engines[e].abort(&mut failed);
                failed.clear();
                wake[e] = None;
                indexed.touch(EngineId(e as u32), &mut engines[e]);
            }
            candidates.clear();
            candidates.extend(
                (0..replicas)
                    .filter(|&e| ready[e])
                    .map(|e| EngineId(e as u32)),
            );
            let prefix = if rng.random_range(0..6) == 0 {
                Prefix::NONE
            } else {
                prefixes[rng.random_range(0..prefixes.len())]
            };
            let adapter = rng.random_range(0..ADAPTERS + 2);
            if policy == RouterPolicy::LoraAffinity && !candidates.is_empty() {
                cross_ties += u32::from(cross_class_tie(&candidates, &engines, adapter));
            }
            let v = (rng.random_range(0..4) != 0).then_some(version);
            let a = indexed.pick(&candidates, v, &engines, prefix, adapter);
            let b = scanning.pick(&candidates, v, &engines, prefix, adapter);
            assert_eq!(a, b, "{policy:?} seed {seed} request {sent}");
            let Some(e) = a else { continue };
            hit_picks += u32::from(engines[e.index()].cached_prefix_units(prefix) > 0);
            let units = prefix.len * 16;
            let prompt = if rng.random_range(0..8) == 0 {
                units + 200
            } else {
                units + rng.random_range(1..40)
            };
            let r = Request {
                id: RequestId(sent),
                arrival: now,
                prompt_tokens: prompt,
                output_tokens: rng.random_range(1..30),
                prefix,
                tenant: 0,
                service: 0,
                adapter,
            };
            sent += 1;
            let e = e.index();
            if engines[e].admit(now, r).is_ok() {
                step(e, now, &mut engines, &mut wake, &mut indexed, &mut done);
            }
        }
        assert_eq!(indexed.scans, 0, "the index fell back to the scan");
        if policy == RouterPolicy::Prefix && replicas > 1 {
            assert!(hit_picks as usize > requests / 4, "{hit_picks} hits");
        }
        cross_ties
    }

    /// Whether the best lora-affinity score is shared by candidates of different classes.
    fn cross_class_tie(candidates: &[EngineId], engines: &[Engine], adapter: u16) -> bool {
        let qs = candidates.iter().map(|c| engines[c.index()].queued());
        let (lo, hi) = (qs.clone().min().unwrap(), qs.max().unwrap());
        let scored: Vec<(f64, f64)> = candidates
            .iter()
            .map(|c| {
                let e = &engines[c.index()];
                let s = lora_score(e, adapter, lo, hi);
                (s, s - queue_score(e.queued(), lo, hi))
            })
            .collect();
        let best = scored.iter().map(|s| s.0).fold(f64::MIN, f64::max);
        let mut classes = scored.iter().filter(|s| s.0 == best).map(|s| s.1);
        let first = classes.next().unwrap();
        classes.any(|c| (c - first).abs() > 0.1)
    }

    #[test]
    fn indexed_prefix_routing_matches_the_scan() {
        for seed in 0..8 {
            agree(RouterPolicy::Prefix, seed, 1 + seed as usize * 4, 3000);
        }
    }

    #[test]
    fn indexed_lora_affinity_matches_the_scan() {
        let mut ties = 0;
        for seed in 0..8 {
            ties += agree(
                RouterPolicy::LoraAffinity,
                seed,
                1 + seed as usize * 4,
                3000,
            );
        }
        // Equal f64 scores across classes (1 + 0 = 0.8 + 0.2, ...) did occur.
        assert!(ties > 0);
    }
}
