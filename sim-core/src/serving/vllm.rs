//! vLLM-style continuous batching: an iteration-level scheduler over a paged KV cache.
//!
//! Each step (one forward pass) the scheduler follows vLLM's V1 scheduler with chunked prefill and
//! FCFS priority: running sequences first, in admission order, each taking what it still needs (one
//! token when decoding, the rest of its prompt, up to the token budget, when prefilling); then
//! waiting sequences, while `max_num_seqs` and the token budget allow and their first chunk's KV
//! blocks are free. When a running sequence needs a block and none is free, the most recently
//! admitted running sequence is preempted by recompute: its blocks are freed and it returns to
//! the head of the queue, to be prefilled again (prompt plus what it had generated). No waiting
//! sequence is admitted in a step that preempted.
//!
//! A sequence's first output token is sampled by the step that completes its prefill; each later
//! step that schedules it adds one token. Step times come from a [`StepModel`].
//!
//! Prefix caching (vLLM's automatic prefix caching, on by default): when a table of request
//! prefixes is attached ([`VllmEngine::with_prefixes`]), a sequence taken from the queue first
//! looks up its prompt's leading hash units in the replica's cache; the hits are not prefilled
//! (at least the prompt's last token always is, as in vLLM). Each full unit a sequence computes
//! joins the cache; units no running sequence uses stay cached and are evicted, least recently
//! freed first, only when blocks run out. See [`prefix_cache`].
//!
//! KV-cache tiers (vLLM's CPU offloading, LMCache's CPU and disk tiers; off by default): with
//! [`VllmEngine::with_kv_tiers`], a sequence taken from the queue also looks up the units after
//! its HBM hits in the replica's lower tiers. When some are found it takes the blocks for them,
//! leaves the queue and waits, scheduled in no step, while their KV is loaded (vLLM's
//! `WAITING_FOR_REMOTE_KVS`); then it returns to the head of the queue with those tokens
//! computed, and only the rest of its prompt is prefilled. See [`kv_tiers`].
//!
//! Speed: while the batch is unchanged (every running sequence decoding, nothing admissible), the
//! engine plans the whole run of identical steps up to the next completion or block shortage as
//! one segment with one wake-up, each step timed at the segment's mean context. An arrival cuts
//! the segment at the end of the step in progress, so a new request joins at a step boundary as it
//! would in vLLM. Events therefore grow with requests, not with tokens.
//!
//! The leading running sequences that decode are held by a [`DecodeClock`]: while they all
//! decode in every step, a step advances one replica-wide counter instead of each of them, and
//! their share of a step's shape, KV blocks and fewest tokens left comes from sums the clock
//! keeps. Planning or finishing a step then costs O(1) for them plus O(1) per sequence that
//! joins, finishes or prefills; when they cannot all simply take their next token (the token
//! budget or the KV blocks run short), they are written back and scheduled one by one as below.

use super::engine::ReplicaEngine;
use super::prefix::{Prefix, PrefixTable};
use super::request::{Completion, DropReason, Request};
use super::step::StepModel;
use crate::costmodel::StepBatch;
use crate::engine::{SimDuration, SimTime};
use decode_clock::DecodeClock;
use kv_tiers::KvTiers;
pub use kv_tiers::{KvTierConfig, KvTierCounters};
use lora::Loras;
pub use lora::{Adapter, LoraConfig, LoraCounters};
use prefix_cache::PrefixCache;
use std::collections::VecDeque;
use std::sync::Arc;

mod decode_clock;
mod kv_tiers;
pub mod lora;
mod prefix_cache;

/// The knobs of a vLLM engine that the scheduler uses.
#[derive(Clone, Debug, PartialEq)]
pub struct VllmConfig {
    /// Most sequences in a step (`--max-num-seqs`).
    pub max_num_seqs: u32,
    /// Most tokens in a step (`--max-num-batched-tokens`).
    pub max_num_batched_tokens: u32,
    /// Tokens per KV-cache block (`--block-size`, 16).
    pub block_size: u32,
    /// KV-cache blocks on the replica (from `gpu_memory_utilization`, the GPU and the model).
    pub kv_blocks: u32,
    /// Longest waiting queue the router may fill; `None`: unbounded.
    pub max_queue_size: Option<u32>,
}

/// A sequence in the engine. For one held by the decode clock, `generated`, `computed` and
/// `blocks` are as of clock reading `sync`: each grows with the decode steps since.
#[derive(Clone, Copy, Debug)]
struct Seq {
    request: Request,
    /// Prompt tokens (at least 1).
    prompt: u32,
    /// Output tokens to generate (at least 1).
    output: u32,
    /// Output tokens generated so far.
    generated: u32,
    /// Tokens whose KV entries are cached.
    computed: u32,
    /// KV blocks held (its cached prefix units' blocks included).
    blocks: u32,
    /// Decode-clock reading its counts are as of, while the clock holds it.
    sync: u64,
    /// It finished while the clock held it and awaits removal from `running`.
    gone: bool,
    /// Its prompt's hash units.
    prefix: Prefix,
    /// Leading prefix units it uses from the cache.
    cached_units: u32,
    /// Tokens scheduled in the current step (0: not scheduled).
    scheduled: u32,
    /// When it was first scheduled.
    start: SimTime,
    /// When its first output token was sampled.
    first_token: SimTime,
}

impl Seq {
    /// Tokens the sequence has: its prompt and what it has generated.
    #[inline]
    fn len(&self) -> u32 {
        self.prompt + self.generated
    }
    /// Whether the sequence is decoding (its only uncached token is the last one sampled).
    #[inline]
    fn decoding(&self) -> bool {
        self.generated > 0 && self.computed + 1 == self.len()
    }
}

/// Steps planned at once: `steps` steps of `step` each from `start`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: SimTime,
    /// The first step's duration (it may hold prefill chunks).
    first: SimDuration,
    /// Each later step's duration (decode only).
    step: SimDuration,
    steps: u32,
    /// Sequences in each step.
    seqs: u32,
    end: SimTime,
}

impl Segment {
    /// Cuts a run of steps at the end of the step in progress at `now` (a request arrived, a
    /// load finished or the replica's time share changed, and is seen at that step boundary).
    #[inline]
    fn cut(&mut self, now: SimTime) {
        if self.steps > 1 && self.end > now {
            let elapsed = now.since(self.start).0;
            let m = if elapsed <= self.first.0 {
                1
            } else {
                1 + (elapsed - self.first.0).div_ceil(self.step.0) as u32
            };
            if m < self.steps {
                self.steps = m;
                self.end = self.start + self.first + SimDuration(self.step.0 * (m as u64 - 1));
            }
        }
    }
}

/// Counters an engine keeps for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VllmCounters {
    /// Steps run.
    pub steps: u64,
    /// Sequence-steps (the sum of batch sizes over steps).
    pub seq_steps: u64,
    /// Preemptions by recompute.
    pub preemptions: u64,
    /// Cached tokens (prompt and generated) discarded by preemptions, to be prefilled again.
    pub recomputed_tokens: u64,
    /// Tokens of sequences taken from the queue (each time, so a preempted one counts again).
    pub prefix_query_tokens: u64,
    /// Of those, tokens found in the prefix cache (not prefilled).
    pub prefix_hit_tokens: u64,
    /// Most KV blocks held by running sequences at once.
    pub kv_blocks_peak: u32,
    /// KV blocks held by running sequences, integrated over time (block-seconds), from the
    /// first request on.
    pub kv_block_seconds: f64,
    /// Seconds from the first request to the last step finished.
    pub kv_seconds: f64,
}

/// The prefix cache of an engine and the table its requests' prefixes index.
#[derive(Clone, Debug)]
struct PrefixState {
    table: Arc<PrefixTable>,
    cache: PrefixCache,
    /// Tokens per hash unit.
    unit: u32,
    /// KV blocks per hash unit.
    blocks_per_unit: u32,
}

impl PrefixState {
    /// Offers unit `k` of `prefix` to the cache (see [`PrefixCache::insert`]), with its slot
    /// when the cache journals slots.
    #[inline]
    fn insert(&mut self, prefix: Prefix, k: u32) -> bool {
        let pos = (prefix.start + k) as usize;
        let id = self.table.ids(prefix)[k as usize];
        let slot = if self.cache.tracking() {
            self.table.slot_at(pos)
        } else {
            super::prefix::NO_SLOT
        };
        self.cache.insert(id, slot)
    }
}

/// Takes `n` blocks, evicting cached units no sequence uses when too few are free; the caller
/// has checked that `n` fit in the free and evictable blocks.
#[inline]
fn take_blocks(free: &mut u32, prefix: &mut Option<PrefixState>, n: u32) {
    if let Some(p) = prefix {
        while *free < n && p.cache.evict() {
            *free += p.blocks_per_unit;
        }
    }
    *free -= n;
}

/// One replica running a vLLM-style engine.
#[derive(Clone, Debug)]
pub struct VllmEngine {
    cfg: VllmConfig,
    model: StepModel,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    free_blocks: u32,
    segment: Option<Segment>,
    /// A request arrived since the current segment was planned.
    fresh: bool,
    replica: u32,
    counters: VllmCounters,
    /// Share of the GPU's time (1 alone).
    share: f64,
    prefix: Option<PrefixState>,
    /// When the last KV-use sample was taken (`None` before the first request).
    kv_since: Option<SimTime>,
    /// The first `lazy` entries of `running` are decode sequences held by `clock`, or `dead`
    /// ones that finished there (removed in batches, not one `Vec::remove` each).
    lazy: usize,
    dead: usize,
    clock: DecodeClock,
    /// The planned segment schedules the clock's sequences (one token each per step).
    lazy_scheduled: bool,
    /// Positions in `running` of the clock's sequences finishing in a step (kept to reuse its
    /// allocation).
    finished: Vec<u64>,
    /// Scratch for [`VllmEngine::compact`]: finished entries before each of the clock's.
    shift: Vec<u64>,
    /// Prompt tokens of the admitted requests whose first token is not out yet.
    unprefilled_tokens: u64,
    /// Lower KV-cache tiers (`None`: HBM only).
    tiers: Option<KvTiers>,
    /// Sequences waiting for their KV to load from a lower tier, with when it is in HBM (in
    /// that order: loads go one after another).
    loading: VecDeque<(SimTime, Seq)>,
    /// LoRA adapters, when the replica serves them ([`lora`]).
    lora: Option<Box<Loras>>,
}

#[inline]
fn blocks_for(tokens: u32, block_size: u32) -> u32 {
    tokens.div_ceil(block_size)
}

/// Adds sequence `s`, scheduled for `new` tokens, to the step's batch; a decoding sequence also
/// lowers `until_done`, the fewest tokens any decoding sequence has left to generate.
#[inline]
fn add_to_step(shape: &mut StepBatch, until_done: &mut u32, s: &Seq, new: u32) {
    if s.decoding() {
        shape.add_decode(s.len() as u64);
        *until_done = (*until_done).min(s.output - s.generated);
    } else {
        let samples = s.computed + new == s.len();
        shape.add_prefill_chunk(new as u64, s.computed as u64, samples);
    }
}

/// Blocks to add to `held` so that `tokens` fit; divides only when a block is needed.
#[inline]
fn more_blocks(tokens: u32, held: u32, block_size: u32) -> u32 {
    if tokens as u64 <= held as u64 * block_size as u64 {
        0
    } else {
        blocks_for(tokens, block_size) - held
    }
}

impl VllmEngine {
    /// An idle engine; completions name replica `replica`.
    pub fn new(cfg: VllmConfig, model: StepModel, replica: u32) -> Self {
        let capacity = cfg.max_num_seqs.min(1024) as usize;
        VllmEngine {
            free_blocks: cfg.kv_blocks,
            waiting: VecDeque::with_capacity(64),
            running: Vec::with_capacity(capacity),
            clock: DecodeClock::new(cfg.block_size, capacity),
            lazy: 0,
            dead: 0,
            lazy_scheduled: false,
            finished: Vec::with_capacity(capacity),
            shift: Vec::new(),
            cfg,
            model,
            segment: None,
            fresh: false,
            replica,
            counters: VllmCounters::default(),
            share: 1.0,
            prefix: None,
            kv_since: None,
            unprefilled_tokens: 0,
            tiers: None,
            loading: VecDeque::new(),
            lora: None,
        }
    }

    /// Adds lower KV-cache tiers (host memory, local disk) below the prefix cache; they need
    /// prefix caching (call after [`VllmEngine::with_prefixes`]), or stay off.
    pub fn with_kv_tiers(mut self, cfg: &KvTierConfig) -> Self {
        if let Some(p) = &self.prefix {
            self.tiers = Some(KvTiers::new(cfg, p.unit));
        }
        self
    }

    /// What the lower KV-cache tiers did (`None` without them).
    pub fn kv_tier_counters(&self) -> Option<KvTierCounters> {
        self.tiers.as_ref().map(|t| t.counters())
    }

    /// Serves LoRA adapters under `cfg` (requests name one in [`Request::adapter`]).
    pub fn with_lora(mut self, cfg: LoraConfig) -> Self {
        self.lora = Some(Box::new(Loras::new(cfg)));
        self
    }

    /// The adapter counters (`None` without adapters).
    pub fn lora_counters(&self) -> Option<LoraCounters> {
        self.lora.as_ref().map(|l| l.counters)
    }

    /// What a LoRA-aware router reads of `adapter` here, as vLLM's `vllm:lora_requests_info`
    /// publishes it: (it has a running request, it has a waiting request, distinct adapters
    /// running or waiting, `max_loras`); `None` without adapters.
    #[inline]
    pub fn lora_info(&self, adapter: u16) -> Option<(bool, bool, u32, u32)> {
        self.lora.as_ref().map(|l| {
            let (listed, max) = l.listed();
            (l.active(adapter), l.waiting(adapter), listed, max)
        })
    }

    /// Journals, from now on, what a router's holder sets need: the prefix slots that join or
    /// leave the prefix cache and the adapters that come to have or cease to have a running or
    /// waiting request (each where the replica has a prefix cache or adapters). Call before the
    /// first request; a router drains the journals with [`VllmEngine::drain_holders`].
    pub fn track_holders(&mut self) {
        if let Some(p) = &mut self.prefix {
            p.cache.track();
        }
        if let Some(l) = &mut self.lora {
            l.track();
        }
    }

    /// Whether every journal [`VllmEngine::track_holders`] can keep here is kept.
    pub fn tracks_holders(&self) -> bool {
        self.prefix.as_ref().is_none_or(|p| p.cache.tracking())
            && self.lora.as_ref().is_none_or(|l| l.tracks())
    }

    /// Empties the journals in order, the prefix cache's first: `slot(slot, joined)` for a
    /// prefix slot that joined or left the cache, `adapter(adapter, listed)` for an adapter
    /// that came to be or ceased to be running or waiting here.
    #[inline]
    pub fn drain_holders(
        &mut self,
        mut slot: impl FnMut(u32, bool),
        mut adapter: impl FnMut(u16, bool),
    ) {
        if let Some(j) = self.prefix.as_mut().and_then(|p| p.cache.journal()) {
            for (s, joined) in j.drain(..) {
                slot(s, joined);
            }
        }
        if let Some(j) = self.lora.as_mut().and_then(|l| l.journal()) {
            for (a, listed) in j.drain(..) {
                adapter(a, listed);
            }
        }
    }

    /// Whether `adapter` sits in one of the GPU's adapter slots (false without adapters).
    #[inline]
    pub fn lora_resident(&self, adapter: u16) -> bool {
        self.lora.as_ref().is_some_and(|l| l.resident(adapter))
    }

    /// Prompt tokens of the requests admitted whose prefill has not finished (each request's
    /// whole prompt until its first token, however much of it is cached or computed).
    #[inline]
    pub fn unprefilled_tokens(&self) -> u64 {
        self.unprefilled_tokens
    }

    /// Turns on prefix caching for requests whose prefixes index `table`. Its hash units must
    /// be whole KV blocks; otherwise the engine keeps caching off.
    pub fn with_prefixes(mut self, table: Arc<PrefixTable>) -> Self {
        let unit = table.unit_tokens();
        if unit % self.cfg.block_size == 0 {
            self.prefix = Some(PrefixState {
                table,
                cache: PrefixCache::new(),
                unit,
                blocks_per_unit: unit / self.cfg.block_size,
            });
        }
        self
    }

    /// The same engine scheduling every sequence one by one (no decode clock), for tests.
    #[cfg(test)]
    fn without_clock(mut self) -> Self {
        self.clock.disable();
        self
    }

    /// How many leading hash units of `ids` this replica has cached (0 without prefix caching).
    #[inline]
    pub fn cached_prefix_units(&self, prefix: Prefix) -> u32 {
        match &self.prefix {
            Some(p) if !prefix.is_empty() => p.cache.lookup(p.table.ids(prefix)).0,
            _ => 0,
        }
    }

    /// Blocks free or held only by the prefix cache (evictable).
    #[inline]
    fn available(&self) -> u32 {
        self.free_blocks
            + self
                .prefix
                .as_ref()
                .map_or(0, |p| p.cache.evictable() * p.blocks_per_unit)
    }

    /// Blocks held by running sequences.
    #[inline]
    fn used_blocks(&self) -> u32 {
        self.cfg.kv_blocks - self.available()
    }

    /// Releases a leaving sequence's blocks: its own are freed, its cached units become
    /// evictable (last unit first, so a chain's tail is evicted before its head, as in vLLM).
    #[inline]
    fn release(&mut self, s: &Seq) {
        if s.cached_units == 0 || self.prefix.is_none() {
            self.free_blocks += s.blocks;
        } else {
            self.release_cached(s);
        }
    }

    /// [`Self::release`] for a sequence holding cached prefix units.
    #[inline(never)]
    fn release_cached(&mut self, s: &Seq) {
        let p = self.prefix.as_mut().expect("cached units need a cache");
        let ids = p.table.ids(s.prefix);
        for &id in ids[..s.cached_units as usize].iter().rev() {
            p.cache.release(id);
        }
        self.free_blocks += s.blocks - s.cached_units * p.blocks_per_unit;
    }

    /// Prefix units `s` (taken from the queue) finds cached, and how many of those are
    /// evictable now (taking them uses their blocks). At least the last token is computed.
    #[inline]
    fn prefix_hits(&self, s: &Seq) -> (u32, u32) {
        match &self.prefix {
            Some(p) if !s.prefix.is_empty() => {
                let most = s
                    .prefix
                    .len
                    .min(s.prompt / p.unit)
                    .min((s.len() - 1) / p.unit);
                let ids = p.table.ids(s.prefix);
                p.cache.lookup(&ids[..most as usize])
            }
            _ => (0, 0),
        }
    }

    /// Units after the `hits` HBM hits of `s` (taken from the queue) that its lower tiers hold,
    /// by tier; at least the last token is computed.
    #[inline]
    fn lower_hits(&self, s: &Seq, hits: u32) -> [u32; 2] {
        match (&self.tiers, &self.prefix) {
            (Some(t), Some(p)) if !s.prefix.is_empty() => {
                let most = s
                    .prefix
                    .len
                    .min(s.prompt / p.unit)
                    .min((s.len() - 1) / p.unit);
                if most > hits {
                    t.lookup(&p.table.ids(s.prefix)[hits as usize..most as usize])
                } else {
                    [0, 0]
                }
            }
            _ => [0, 0],
        }
    }

    /// Touches, in the lower tiers, the prompt units of `s` (taken from the queue) they hold.
    #[inline]
    fn touch_tiers(&mut self, s: &Seq) {
        if let (Some(t), Some(p)) = (&mut self.tiers, &self.prefix) {
            let stored = s.prefix.len.min(s.prompt / p.unit);
            t.touch(&p.table.ids(s.prefix)[..stored as usize]);
        }
    }

    /// Takes waiting sequence `w` (the head, but for those skipped for their adapter), with
    /// `hits` units cached in HBM (`idle` of
    /// them evictable) and `lower` units found in the lower tiers, to wait for their load; false
    /// (nothing done) when the blocks for them are not available.
    fn start_load(
        &mut self,
        now: SimTime,
        w: usize,
        hits: u32,
        idle: u32,
        lower: [u32; 2],
    ) -> bool {
        let p = self.prefix.as_ref().expect("tiers need a prefix cache");
        let (unit, bpu) = (p.unit, p.blocks_per_unit);
        let loaded = lower[0] + lower[1];
        if (loaded + idle) * bpu > self.available() {
            return false;
        }
        let mut s = self.take_waiting(w);
        self.counters.prefix_query_tokens += s.len() as u64;
        self.touch_tiers(&s);
        let units = hits + loaded;
        let p = self.prefix.as_mut().expect("tiers need a prefix cache");
        let ids = p.table.ids(s.prefix);
        for &id in &ids[..hits as usize] {
            p.cache.acquire(id);
        }
        take_blocks(&mut self.free_blocks, &mut self.prefix, loaded * bpu);
        let p = self.prefix.as_mut().expect("tiers need a prefix cache");
        for k in hits..units {
            if !p.insert(s.prefix, k) {
                self.free_blocks += bpu;
            }
        }
        let ids = p.table.ids(s.prefix);
        self.counters.prefix_hit_tokens += (hits * unit) as u64;
        s.computed = units * unit;
        s.blocks = units * bpu;
        s.cached_units = units;
        if s.start == SimTime::MAX {
            s.start = now;
        }
        let t = self.tiers.as_mut().expect("a load needs tiers");
        // A hit from disk is written back to host memory (LMCache's `StorageManager.get`).
        t.store(&ids[..units as usize]);
        let ready = t.load(now, lower, unit);
        self.loading.push_back((ready, s));
        true
    }

    /// Takes waiting sequence `w` out of the queue (those before it were skipped for their
    /// adapter and keep their places).
    fn take_waiting(&mut self, w: usize) -> Seq {
        if w == 0 {
            self.waiting.pop_front()
        } else {
            self.waiting.remove(w)
        }
        .expect("the sequence exists")
    }

    /// Returns the sequences whose loads are done by `now` to the head of the queue, in order.
    fn finish_loads(&mut self, now: SimTime) {
        let mut k = 0;
        while self.loading.front().is_some_and(|l| l.0 <= now) {
            let (_, s) = self.loading.pop_front().expect("front exists");
            self.waiting.insert(k, s);
            k += 1;
        }
    }

    /// Integrates the KV blocks in use up to `now`.
    #[inline]
    fn sample_kv(&mut self, now: SimTime) {
        let used = self.used_blocks();
        self.counters.kv_blocks_peak = self.counters.kv_blocks_peak.max(used);
        // A second sample at the same instant (a finish, then the plan) adds exactly 0.
        if let Some(t) = self.kv_since.filter(|&t| t != now) {
            let dt = now.since(t).as_secs_f64();
            self.counters.kv_block_seconds += used as f64 * dt;
            self.counters.kv_seconds += dt;
        }
        self.kv_since = Some(now);
    }

    /// The engine's counters so far.
    pub fn counters(&self) -> VllmCounters {
        self.counters
    }

    /// KV-cache blocks held by sequences and in all (cached blocks no sequence uses are free).
    pub fn kv_blocks(&self) -> (u32, u32) {
        (self.used_blocks(), self.cfg.kv_blocks)
    }

    /// Tokens the whole KV cache holds (its blocks × the block size).
    pub fn kv_capacity_tokens(&self) -> u64 {
        u64::from(self.cfg.kv_blocks) * u64::from(self.cfg.block_size)
    }

    /// Writes the counts of the decode clock's sequences back, as of the clock's reading, and
    /// empties the clock. When the planned step scheduled them, each is left scheduled for its
    /// next token with the block that token needs, as the per-sequence path would have it.
    fn materialize(&mut self) {
        self.remove_finished();
        let now = self.clock.now();
        let bs = self.cfg.block_size;
        let scheduled = self.lazy_scheduled as u32;
        for s in &mut self.running[..self.lazy] {
            let d = (now - s.sync) as u32;
            s.computed += d;
            s.generated += d;
            s.blocks = blocks_for(s.computed + scheduled, bs);
            s.scheduled = scheduled;
        }
        self.lazy = 0;
        self.lazy_scheduled = false;
        self.clock.clear();
    }

    /// Removes the finished entries from the clock's part of `running`, and moves the clock's
    /// positions of the entries after them down to match.
    fn compact(&mut self) {
        if self.dead > 0 && self.clock.held() > 0 {
            let mut shift = std::mem::take(&mut self.shift);
            shift.clear();
            let mut gone = 0;
            for s in &self.running[..self.lazy] {
                shift.push(gone);
                gone += u64::from(s.gone);
            }
            self.clock.renumber(|p| p - shift[p as usize]);
            self.shift = shift;
        }
        self.remove_finished();
    }

    /// Removes the finished entries from the clock's part of `running`, leaving the clock's
    /// positions as they were (for a caller about to empty the clock).
    fn remove_finished(&mut self) {
        if self.dead > 0 {
            self.running.retain(|s| !s.gone);
            self.lazy -= self.dead;
            self.dead = 0;
        }
    }

    /// Sequences running.
    #[inline]
    fn running_seqs(&self) -> usize {
        self.running.len() - self.dead
    }

    /// Hands the decode sequences right after those the clock holds to the clock.
    fn absorb(&mut self) {
        if !self.clock.enabled() {
            return;
        }
        let now = self.clock.now();
        while let Some(s) = self.running.get_mut(self.lazy) {
            if !s.decoding() {
                break;
            }
            debug_assert_eq!(s.blocks, blocks_for(s.computed, self.cfg.block_size));
            s.sync = now;
            // Its position in `running` stays put until `compact` renumbers the clock.
            self.clock
                .join(s.computed, s.output - s.generated, self.lazy as u64);
            self.lazy += 1;
        }
    }

    /// The completion of a finished sequence whose last step ended at `end`.
    #[inline]
    fn completion(&self, s: &Seq, end: SimTime, batch: u32) -> Completion {
        Completion {
            request: s.request,
            start: s.start,
            first_token: s.first_token,
            finish: end,
            batch_size: batch,
            replica: self.replica,
        }
    }

    /// Frees a running sequence's blocks and returns it to the head of the queue.
    fn preempt(&mut self, mut victim: Seq) {
        self.release(&victim);
        if let Some(l) = &mut self.lora {
            l.preempted(victim.request.adapter);
        }
        self.counters.preemptions += 1;
        self.counters.recomputed_tokens += victim.computed as u64;
        victim.blocks = 0;
        victim.cached_units = 0;
        victim.computed = 0;
        victim.scheduled = 0;
        self.waiting.push_front(victim);
    }

    /// Plans the next step (or run of identical decode steps) at `now`; false when idle.
    fn plan(&mut self, now: SimTime) -> bool {
        self.sample_kv(now);
        if !self.loading.is_empty() {
            self.finish_loads(now);
        }
        let bs = self.cfg.block_size;
        let mut budget = self.cfg.max_num_batched_tokens;
        let mut preempted = false;
        let mut shape = StepBatch::new();
        // Fewest tokens any running decode sequence still has to generate.
        let mut until_done = u32::MAX;
        let mut i = 0;
        let held = self.clock.held();
        if held > 0 {
            // The clock's sequences each take one token, in one go when the budget and the
            // blocks allow it for all of them (then none is preempted).
            let first = self.clock.blocks_next();
            if held as u32 <= budget && first <= self.available() as u64 {
                take_blocks(&mut self.free_blocks, &mut self.prefix, first as u32);
                budget -= held as u32;
                shape.add_decodes(held as u64, self.clock.context_tokens());
                until_done = self.clock.min_left();
                self.lazy_scheduled = true;
                i = self.lazy;
            } else {
                self.materialize();
            }
        } else {
            self.compact();
        }
        'running: while i < self.running.len() && budget > 0 {
            let s = self.running[i];
            let new = (s.len() - s.computed).min(budget);
            let need = more_blocks(s.computed + new, s.blocks, bs);
            while need > self.available() {
                let victim = self.running.pop().expect("running is not empty");
                let itself = self.running.len() == i;
                self.preempt(victim);
                preempted = true;
                if itself {
                    break 'running;
                }
            }
            take_blocks(&mut self.free_blocks, &mut self.prefix, need);
            let s = &mut self.running[i];
            s.blocks += need;
            s.scheduled = new;
            budget -= new;
            add_to_step(&mut shape, &mut until_done, s, new);
            i += 1;
        }
        let all_running_scheduled = i == self.running.len();
        if !preempted {
            // Index of the next waiting sequence to try: those before it were skipped for
            // their adapter (vLLM re-queues them at the head, in order).
            let mut w = 0;
            while budget > 0 && (self.running_seqs() as u32) < self.cfg.max_num_seqs {
                let Some(s) = self.waiting.get(w) else { break };
                if let Some(l) = &self.lora {
                    if !l.admissible(s.request.adapter) {
                        w += 1;
                        continue;
                    }
                }
                if s.computed > 0 {
                    // Back from a load (it holds the blocks of its hits), or prefilled on
                    // another replica (disaggregated: it holds none yet).
                    let new = (s.len() - s.computed).min(budget);
                    let need = more_blocks(s.computed + new, s.blocks, bs);
                    if need > self.available() {
                        break;
                    }
                    let mut s = self.take_waiting(w);
                    if let Some(l) = &mut self.lora {
                        l.admit(s.request.adapter);
                    }
                    take_blocks(&mut self.free_blocks, &mut self.prefix, need);
                    s.blocks += need;
                    s.scheduled = new;
                    budget -= new;
                    add_to_step(&mut shape, &mut until_done, &s, new);
                    self.running.push(s);
                    continue;
                }
                // A queued sequence holds nothing; its prefix hits are cached already.
                let (hits, idle) = self.prefix_hits(s);
                let lower = self.lower_hits(s, hits);
                if lower[0] + lower[1] > 0 {
                    if !self.start_load(now, w, hits, idle, lower) {
                        break;
                    }
                    continue;
                }
                let (hit_tokens, hit_blocks) = match &self.prefix {
                    Some(p) => (hits * p.unit, hits * p.blocks_per_unit),
                    None => (0, 0),
                };
                // A sequence prefilled elsewhere (disaggregated) arrives with its prompt cached.
                let done = hit_tokens.max(s.computed);
                let new = (s.len() - done).min(budget);
                let need = more_blocks(done + new, hit_blocks, bs);
                let pinned = match &self.prefix {
                    Some(p) => idle * p.blocks_per_unit,
                    None => 0,
                };
                if need + pinned > self.available() {
                    break;
                }
                // Moved to `running` first and set there (one copy of the sequence, not two).
                let taken = self.take_waiting(w);
                self.running.push(taken);
                let k = self.running.len() - 1;
                let (adapter, prefix, len) = {
                    let s = &self.running[k];
                    (s.request.adapter, s.prefix, s.len())
                };
                if let Some(l) = &mut self.lora {
                    l.admit(adapter);
                }
                self.counters.prefix_query_tokens += len as u64;
                if self.tiers.is_some() {
                    let s = self.running[k];
                    self.touch_tiers(&s);
                }
                if hits > 0 {
                    let p = self.prefix.as_mut().expect("hits need a cache");
                    for &id in &p.table.ids(prefix)[..hits as usize] {
                        p.cache.acquire(id);
                    }
                    let s = &mut self.running[k];
                    s.computed = hit_tokens;
                    s.blocks = hit_blocks;
                    s.cached_units = hits;
                    self.counters.prefix_hit_tokens += hit_tokens as u64;
                }
                take_blocks(&mut self.free_blocks, &mut self.prefix, need);
                let s = &mut self.running[k];
                s.blocks += need;
                s.scheduled = new;
                if s.start == SimTime::MAX {
                    s.start = now;
                }
                budget -= new;
                add_to_step(&mut shape, &mut until_done, s, new);
            }
        }
        if shape.is_empty() {
            return false;
        }
        // Adapters: each distinct one in the batch adds its time to every step; a newly
        // activated one's load delays the first (not stretched by a time share: a copy).
        let (extra, stall) = match &mut self.lora {
            Some(l) => l.step_costs(),
            None => (SimDuration::ZERO, SimDuration::ZERO),
        };
        let scale = |d: SimDuration| -> SimDuration {
            if self.share < 1.0 {
                SimDuration(crate::engine::round_u64(d.0 as f64 / self.share).max(1))
            } else {
                d
            }
        };
        let time = |model: &StepModel, shape: &StepBatch| -> SimDuration {
            scale(model.step_time(shape) + extra)
        };
        let seqs = (shape.prefill_seqs + shape.decode_seqs) as u32;
        let (first, step, steps) = if shape.prefill_seqs == 0 && all_running_scheduled && !preempted
        {
            // Identical decode steps until a sequence finishes or the blocks run out.
            let steps = self.steps_within_blocks(until_done, false);
            let n = shape.decode_seqs;
            shape.decode_context_tokens += n * (steps as u64 - 1) / 2;
            let d = time(&self.model, &shape);
            (d + stall, d, steps)
        } else {
            let first = time(&self.model, &shape) + stall;
            // When every prefill chunk finishes its prompt, nothing waits and nothing was
            // preempted, the steps after this one decode every running sequence until one
            // finishes: plan them now, in the same segment.
            let eligible = !preempted
                && all_running_scheduled
                && self.waiting.is_empty()
                && self.running[self.lazy..]
                    .iter()
                    .all(|s| s.decoding() || s.computed + s.scheduled == s.len());
            let rest = if eligible {
                // The clock's sequences decode; `running` is not empty.
                let lazy_rest = if self.clock.held() > 0 {
                    self.clock.min_left() - 1
                } else {
                    u32::MAX
                };
                self.running[self.lazy..]
                    .iter()
                    .map(|s| s.output - s.generated - 1)
                    .min()
                    .unwrap_or(u32::MAX)
                    .min(lazy_rest)
            } else {
                0
            };
            let tail = if rest == 0 {
                0
            } else {
                self.steps_within_blocks(rest, true)
            };
            if tail == 0 {
                (first, first, 1)
            } else {
                let mut decode = StepBatch::new();
                let lazy = self.clock.held() as u64;
                decode.add_decodes(lazy, self.clock.context_tokens() + lazy);
                for s in &self.running[self.lazy..] {
                    decode.add_decode((s.computed + s.scheduled + 1) as u64);
                }
                decode.decode_context_tokens += decode.decode_seqs * (tail as u64 - 1) / 2;
                (first, time(&self.model, &decode), 1 + tail)
            }
        };
        self.segment = Some(Segment {
            start: now,
            first,
            step,
            steps,
            seqs,
            end: now + first + SimDuration(step.0 * (steps as u64 - 1)),
        });
        true
    }

    /// The most decode steps, at most `limit`, whose extra KV blocks fit in the free blocks:
    /// counted from the tokens cached now (`after_first`: after the planned first step too).
    #[inline]
    fn steps_within_blocks(&self, limit: u32, after_first: bool) -> u32 {
        // Each sequence needs at most ceil(limit / bs) more blocks: often there is room for all.
        let available = self.available() as u64;
        if available >= self.running_seqs() as u64 * limit.div_ceil(self.cfg.block_size) as u64 {
            return limit;
        }
        self.steps_within_few_blocks(limit, after_first, available)
    }

    /// [`Self::steps_within_blocks`] when the free blocks may not cover every sequence's.
    #[inline(never)]
    fn steps_within_few_blocks(&self, limit: u32, after_first: bool, available: u64) -> u32 {
        let bs = self.cfg.block_size;
        let base = |s: &Seq| s.computed + if after_first { s.scheduled } else { 0 };
        // The clock's sequences hold the blocks for their next token already.
        let lazy_first = if self.clock.held() > 0 {
            self.clock.blocks_next()
        } else {
            0
        };
        let extra = |k: u32| -> u64 {
            let lazy = if self.clock.held() > 0 {
                self.clock.blocks_over(k + after_first as u32) - lazy_first
            } else {
                0
            };
            lazy + self.running[self.lazy..]
                .iter()
                .map(|s| blocks_for(base(s) + k, bs).saturating_sub(s.blocks) as u64)
                .sum::<u64>()
        };
        if extra(limit) <= available {
            return limit;
        }
        if after_first && extra(1) > available {
            // Not even one more step fits: the scheduler must decide (and preempt) first.
            return 0;
        }
        let (mut lo, mut hi) = (1, limit); // extra(lo) fits, extra(hi) does not
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if extra(mid) <= available {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Applies the first `steps` steps (of `batch` sequences each) of the segment whose first step
    /// ends at `first_end` and whose last applied step ends at `end`.
    fn finish(
        &mut self,
        steps: u32,
        batch: u32,
        first_end: SimTime,
        end: SimTime,
        done: &mut Vec<Completion>,
    ) {
        let bs = self.cfg.block_size;
        self.sample_kv(end);
        self.counters.steps += steps as u64;
        self.counters.seq_steps += steps as u64 * batch as u64;
        let mut i = 0;
        let mut prefilled = 0u64;
        if self.lazy_scheduled {
            // The clock's sequences decoded `steps` tokens each. When the free blocks cover
            // theirs, none is evicted from the prefix cache, so taking them at once and
            // releasing the finished ones after is what one by one would do.
            let more = if steps == 1 {
                0
            } else {
                self.clock.blocks_over(steps) - self.clock.blocks_next()
            };
            if more <= self.free_blocks as u64 {
                self.lazy_scheduled = false;
                self.free_blocks -= more as u32;
                self.clock.tick(steps);
                let now = self.clock.now();
                self.clock.pop_finished(&mut self.finished);
                for k in 0..self.finished.len() {
                    let at = self.finished[k] as usize;
                    debug_assert!(at < self.lazy && !self.running[at].gone);
                    self.running[at].gone = true;
                    self.dead += 1;
                    let mut s = self.running[at];
                    self.clock.leave(s.computed, s.sync);
                    let d = (now - s.sync) as u32;
                    s.computed += d;
                    s.generated += d;
                    s.blocks = blocks_for(s.computed, bs);
                    debug_assert_eq!(s.generated, s.output);
                    self.release(&s);
                    if let Some(l) = &mut self.lora {
                        l.left(s.request.adapter);
                    }
                    done.push(self.completion(&s, end, batch));
                }
                // Finished entries cost only memory until removed (nothing walks the clock's
                // part of `running` per step): remove them when three in four are finished.
                if self.dead * 4 > self.lazy * 3 {
                    self.compact();
                }
                i = self.lazy;
            } else {
                self.materialize();
            }
        }
        while i < self.running.len() {
            let s = &mut self.running[i];
            if s.scheduled == 0 {
                i += 1;
                continue;
            }
            if s.decoding() {
                s.computed += 1;
                s.generated += 1;
            } else {
                s.computed += s.scheduled;
                if s.computed == s.len() {
                    s.generated += 1;
                    if s.generated == 1 {
                        s.first_token = first_end;
                        prefilled += s.prompt as u64;
                    }
                }
                if let Some(p) = &mut self.prefix {
                    // Full prompt units computed join the cache (or share a cached copy).
                    let units = s.prefix.len.min(s.prompt / p.unit).min(s.computed / p.unit);
                    if units > s.cached_units {
                        for k in s.cached_units..units {
                            if !p.insert(s.prefix, k) {
                                self.free_blocks += p.blocks_per_unit;
                            }
                        }
                        s.cached_units = units;
                        if let Some(t) = &mut self.tiers {
                            t.store(&p.table.ids(s.prefix)[..units as usize]);
                        }
                    }
                }
            }
            if steps > 1 {
                // The decode steps after the first.
                debug_assert!(s.decoding());
                s.computed += steps - 1;
                s.generated += steps - 1;
            }
            s.scheduled = 0;
            let more = more_blocks(s.computed, s.blocks, bs);
            s.blocks += more;
            take_blocks(&mut self.free_blocks, &mut self.prefix, more);
            if self.running[i].generated >= self.running[i].output {
                let s = self.running.remove(i);
                self.release(&s);
                if let Some(l) = &mut self.lora {
                    l.left(s.request.adapter);
                }
                done.push(self.completion(&s, end, batch));
            } else {
                i += 1;
            }
        }
        self.unprefilled_tokens -= prefilled;
        self.absorb();
    }
}

impl VllmEngine {
    /// Admits a request whose prompt another replica prefilled (disaggregated serving): its KV
    /// cache has arrived and its first token came out at `first_token`, its prefill having
    /// started at `start`. It waits in the queue like any request; once scheduled it holds
    /// blocks for its prompt and first token and decodes (preempted, it is recomputed here).
    pub fn admit_prefilled(
        &mut self,
        now: SimTime,
        request: Request,
        start: SimTime,
        first_token: SimTime,
    ) -> Result<(), DropReason> {
        self.admit(now, request)?;
        let s = self.waiting.back_mut().expect("just admitted");
        s.computed = s.prompt;
        s.generated = 1;
        s.start = start;
        s.first_token = first_token;
        // Prefix caching does not apply: the blocks come filled from the prefill replica.
        s.prefix = Prefix::default();
        self.unprefilled_tokens -= s.prompt as u64;
        if s.generated >= s.output {
            // Nothing left to decode: the caller completes one-token requests itself.
            debug_assert!(false, "a one-token request needs no decode replica");
        }
        Ok(())
    }
}

impl ReplicaEngine for VllmEngine {
    fn admit(&mut self, now: SimTime, request: Request) -> Result<(), DropReason> {
        let output = request.output_tokens.max(1);
        let tokens = request.prompt_tokens.max(1) + output;
        // `blocks_for(tokens) > kv_blocks`, without the division.
        if u64::from(tokens) > self.kv_capacity_tokens() {
            return Err(DropReason::ExceedsKvCache);
        }
        if self
            .cfg
            .max_queue_size
            .is_some_and(|m| self.waiting.len() as u32 >= m)
        {
            return Err(DropReason::QueueFull);
        }
        self.waiting.push_back(Seq {
            request,
            prompt: request.prompt_tokens.max(1),
            output,
            generated: 0,
            computed: 0,
            blocks: 0,
            prefix: request.prefix,
            cached_units: 0,
            scheduled: 0,
            sync: 0,
            gone: false,
            start: SimTime::MAX,
            first_token: SimTime::MAX,
        });
        self.unprefilled_tokens += request.prompt_tokens.max(1) as u64;
        if let Some(l) = &mut self.lora {
            l.queued(request.adapter);
        }
        self.fresh = true;
        if self.kv_since.is_none() {
            self.kv_since = Some(now);
        }
        Ok(())
    }

    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime> {
        loop {
            let due = self.loading.front().map(|l| l.0);
            if let Some(seg) = self.segment.as_mut() {
                // A finished load is seen at a step boundary, as an arrival is.
                let cut = self.fresh || due.is_some_and(|t| t <= now);
                if cut {
                    seg.cut(now);
                }
                self.fresh = false;
                if seg.end > now {
                    return Some(match due {
                        Some(t) if t > now => seg.end.min(t),
                        _ => seg.end,
                    });
                }
                let (steps, seqs, end) = (seg.steps, seg.seqs, seg.end);
                let first_end = seg.start + seg.first;
                self.segment = None;
                self.finish(steps, seqs, first_end, end, done);
            }
            self.fresh = false;
            if !self.plan(now) {
                // Idle until a load is done (or a request arrives).
                return self.loading.front().map(|l| l.0);
            }
            if self.loading.is_empty() {
                // What the next pass would return: the new segment ends after `now` (its first
                // step takes at least a nanosecond) and no load can cut it.
                debug_assert!(self.segment.is_some_and(|s| s.end > now));
                return self.segment.map(|s| s.end);
            }
        }
    }

    #[inline]
    fn admit_wake(&mut self, now: SimTime) -> Option<(Option<SimTime>, (u32, u32, u32))> {
        // As `advance` with a request just admitted (`fresh`) and no load pending: the run is
        // cut at the end of the step in progress, and nothing else happens unless that step
        // ends now.
        debug_assert!(self.fresh, "called right after an admit");
        let seg = self.segment.as_mut()?;
        if !self.loading.is_empty() || seg.end <= now {
            return None;
        }
        let mut cut = *seg;
        cut.cut(now);
        if cut.end <= now {
            return None;
        }
        *seg = cut;
        self.fresh = false;
        Some((Some(cut.end), self.state()))
    }
    #[inline]
    fn queued(&self) -> u32 {
        self.waiting.len() as u32
    }
    #[inline]
    fn in_service(&self) -> u32 {
        (self.running_seqs() + self.loading.len()) as u32
    }
    #[inline]
    fn busy_units(&self) -> u32 {
        self.segment.is_some() as u32
    }
    #[inline]
    fn units(&self) -> u32 {
        1
    }
    fn batch_counts(&self) -> (u64, u64) {
        (self.counters.steps, self.counters.seq_steps)
    }

    fn set_time_share(&mut self, _now: SimTime, share: f64) {
        let share = share.clamp(1e-6, 1.0);
        if share != self.share && self.segment.is_some() {
            // Re-plan at the end of the step in progress, as an arrival does.
            self.fresh = true;
        }
        self.share = share;
    }

    fn abort(&mut self, out: &mut Vec<Request>) {
        self.remove_finished();
        out.extend(self.running.drain(..).map(|s| s.request));
        out.extend(self.waiting.drain(..).map(|s| s.request));
        out.extend(self.loading.drain(..).map(|(_, s)| s.request));
        self.free_blocks = self.cfg.kv_blocks;
        if let Some(p) = &mut self.prefix {
            p.cache.clear();
        }
        if let Some(t) = &mut self.tiers {
            t.clear();
        }
        self.segment = None;
        self.fresh = false;
        self.unprefilled_tokens = 0;
        if let Some(l) = &mut self.lora {
            l.clear();
        }
        self.lazy = 0;
        self.dead = 0;
        self.lazy_scheduled = false;
        self.clock.clear();
    }
}

#[cfg(test)]
mod tests;
