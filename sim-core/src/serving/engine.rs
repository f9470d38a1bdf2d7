//! The replica-engine interface: what the world asks of anything that serves requests.
//!
//! An engine owns its queue and its executing work. The world hands it requests and wakes it at the
//! time it asked for; the engine reports completions and the next time it needs waking. One pending
//! wake-up per engine keeps the event queue small whatever the load. The LLM engines of the cost-model
//! issue (continuous batching) plug in as further variants of [`Engine`].

use super::request::{Completion, DropReason, Request};
use super::splitwise_batch::SplitwiseEngine;
use super::static_batch::StaticEngine;
use super::triton::TritonEngine;
use super::vllm::VllmEngine;
use crate::engine::{SimDuration, SimTime};

/// `d` of work left, re-timed when the share of the GPU changes: `factor` is old share / new.
pub(super) fn stretch(d: SimDuration, factor: f64) -> SimDuration {
    if factor == 1.0 {
        d
    } else {
        SimDuration((d.0 as f64 * factor).round() as u64)
    }
}

/// What a serving engine must do.
pub trait ReplicaEngine {
    /// Offers a request at `now`; an engine with a full queue refuses it.
    fn admit(&mut self, now: SimTime, request: Request) -> Result<(), DropReason>;
    /// Finishes work due by `now` (pushing completions to `done`), starts what can start, and
    /// returns when it next needs waking (`None`: only a new request can change its state).
    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime>;
    /// [`ReplicaEngine::advance`], then [`ReplicaEngine::state`] (one dispatch for both).
    #[inline]
    fn advance_state(
        &mut self,
        now: SimTime,
        done: &mut Vec<Completion>,
    ) -> (Option<SimTime>, (u32, u32, u32)) {
        let next = self.advance(now, done);
        (next, self.state())
    }
    /// Called right after [`ReplicaEngine::admit`] succeeded. When advancing now would only
    /// move the engine's next wake-up (a step is in progress and none ends by `now`), does
    /// what [`ReplicaEngine::advance_state`] would and returns the same; `None`, with nothing
    /// changed, when the caller must advance as usual.
    #[inline]
    fn admit_wake(&mut self, _now: SimTime) -> Option<(Option<SimTime>, (u32, u32, u32))> {
        None
    }
    /// Requests waiting, not yet executing.
    fn queued(&self) -> u32;
    /// Requests executing.
    fn in_service(&self) -> u32;
    /// Execution units (model instances) currently busy.
    fn busy_units(&self) -> u32;
    /// Requests waiting, requests executing and busy units, together.
    #[inline]
    fn state(&self) -> (u32, u32, u32) {
        (self.queued(), self.in_service(), self.busy_units())
    }
    /// Execution units in all.
    fn units(&self) -> u32;
    /// Batches started so far and the requests in them.
    fn batch_counts(&self) -> (u64, u64);
    /// Stops at once: every queued and executing request is moved to `out` (they fail).
    fn abort(&mut self, out: &mut Vec<Request>);
    /// The share of its GPU's time the replica gets from `now` on (1: alone; below 1:
    /// time-sliced with others): work started from now on takes `1 / share` times as long, and
    /// work in progress is re-timed (what is left of a Triton or static batch stretches or
    /// shrinks by old share / new share; a vLLM run of steps is cut at the end of the step in
    /// progress and planned again). The caller wakes the engine at `now` to pick up the change.
    fn set_time_share(&mut self, now: SimTime, share: f64);
}

/// The engines capsim has; an enum so the hot path needs no dynamic dispatch.
// Engines sit side by side in one Vec, touched on every event: inline beats boxing the larger.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Engine {
    /// Triton-style dynamic batching over one or more instances.
    Triton(TritonEngine),
    /// vLLM-style continuous batching on one replica.
    Vllm(VllmEngine),
    /// Static batching of an LLM on one replica.
    Static(StaticEngine),
    /// SplitwiseSim's iteration-level batching (whole prompts first) on one replica.
    Splitwise(SplitwiseEngine),
}

impl Engine {
    /// Leading prefix hash units of `prefix` the replica has cached (0 without a prefix cache).
    #[inline]
    pub fn cached_prefix_units(&self, prefix: super::Prefix) -> u32 {
        match self {
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => 0,
            Engine::Vllm(v) => v.cached_prefix_units(prefix),
        }
    }

    /// Prompt tokens admitted and not yet prefilled (0 for engines without tokens' state:
    /// Triton and static batching).
    #[inline]
    pub fn unprefilled_tokens(&self) -> u64 {
        match self {
            Engine::Triton(_) | Engine::Static(_) => 0,
            Engine::Vllm(v) => v.unprefilled_tokens(),
            Engine::Splitwise(s) => s.unprefilled_tokens(),
        }
    }

    /// Tokens the replica's KV cache holds (0 for engines other than vLLM's continuous batching,
    /// which a disaggregated service does not have).
    #[inline]
    pub fn kv_capacity_tokens(&self) -> u64 {
        match self {
            Engine::Vllm(v) => v.kv_capacity_tokens(),
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => 0,
        }
    }

    /// Admits a request another replica prefilled (see [`VllmEngine::admit_prefilled`]); only
    /// a vLLM engine with continuous batching can (validation sees to it).
    pub fn admit_prefilled(
        &mut self,
        now: SimTime,
        request: Request,
        start: SimTime,
        first_token: SimTime,
    ) -> Result<(), DropReason> {
        match self {
            Engine::Vllm(v) => v.admit_prefilled(now, request, start, first_token),
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => {
                unreachable!("validation gives a disaggregated service vLLM engines")
            }
        }
    }

    /// Whether `adapter` sits in one of the replica's GPU adapter slots (false for engines
    /// without adapters).
    #[inline]
    pub fn lora_resident(&self, adapter: u16) -> bool {
        match self {
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => false,
            Engine::Vllm(v) => v.lora_resident(adapter),
        }
    }

    /// What vLLM publishes of `adapter` for LoRA-aware routing (see
    /// [`VllmEngine::lora_info`]); `None` for engines without adapters.
    #[inline]
    pub fn lora_info(&self, adapter: u16) -> Option<(bool, bool, u32, u32)> {
        match self {
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => None,
            Engine::Vllm(v) => v.lora_info(adapter),
        }
    }

    /// Starts the journals a router's holder sets need (see [`VllmEngine::track_holders`]);
    /// other engines hold no prefixes or adapters.
    pub fn track_holders(&mut self) {
        if let Engine::Vllm(v) = self {
            v.track_holders();
        }
    }

    /// Whether the journals a router's holder sets need are kept (true for engines without
    /// prefix caches or adapters).
    pub fn tracks_holders(&self) -> bool {
        match self {
            Engine::Vllm(v) => v.tracks_holders(),
            Engine::Triton(_) | Engine::Static(_) | Engine::Splitwise(_) => true,
        }
    }

    /// Empties the holder journals (see [`VllmEngine::drain_holders`]).
    #[inline]
    pub fn drain_holders(&mut self, slot: impl FnMut(u32, bool), adapter: impl FnMut(u16, bool)) {
        if let Engine::Vllm(v) = self {
            v.drain_holders(slot, adapter);
        }
    }

    /// Whether the replica serves adapters and lists fewer than `max_loras` of them (running
    /// plus waiting, see [`VllmEngine::lora_info`]): the llm-d affinity scorer's free slot.
    #[inline]
    pub fn lora_free(&self) -> bool {
        matches!(self.lora_info(0), Some((_, _, listed, max)) if listed < max)
    }

    /// KV-cache blocks held by sequences (reserved, for SplitwiseSim's batching) and in all;
    /// `(0, 1)` for engines without a block cache.
    #[inline]
    pub fn kv_usage(&self) -> (u32, u32) {
        match self {
            Engine::Triton(_) | Engine::Static(_) => (0, 1),
            Engine::Vllm(v) => v.kv_blocks(),
            Engine::Splitwise(s) => s.kv_blocks(),
        }
    }
}

macro_rules! forward {
    ($self:ident, $e:ident => $body:expr) => {
        match $self {
            Engine::Triton($e) => $body,
            Engine::Vllm($e) => $body,
            Engine::Static($e) => $body,
            Engine::Splitwise($e) => $body,
        }
    };
}

impl ReplicaEngine for Engine {
    #[inline]
    fn admit(&mut self, now: SimTime, request: Request) -> Result<(), DropReason> {
        forward!(self, e => e.admit(now, request))
    }
    #[inline]
    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime> {
        forward!(self, e => e.advance(now, done))
    }
    #[inline]
    fn advance_state(
        &mut self,
        now: SimTime,
        done: &mut Vec<Completion>,
    ) -> (Option<SimTime>, (u32, u32, u32)) {
        forward!(self, e => e.advance_state(now, done))
    }
    #[inline]
    fn admit_wake(&mut self, now: SimTime) -> Option<(Option<SimTime>, (u32, u32, u32))> {
        forward!(self, e => e.admit_wake(now))
    }
    #[inline]
    fn queued(&self) -> u32 {
        forward!(self, e => e.queued())
    }
    #[inline]
    fn in_service(&self) -> u32 {
        forward!(self, e => e.in_service())
    }
    #[inline]
    fn busy_units(&self) -> u32 {
        forward!(self, e => e.busy_units())
    }
    #[inline]
    fn state(&self) -> (u32, u32, u32) {
        forward!(self, e => e.state())
    }
    #[inline]
    fn units(&self) -> u32 {
        forward!(self, e => e.units())
    }
    fn batch_counts(&self) -> (u64, u64) {
        forward!(self, e => e.batch_counts())
    }
    fn abort(&mut self, out: &mut Vec<Request>) {
        forward!(self, e => e.abort(out))
    }
    fn set_time_share(&mut self, now: SimTime, share: f64) {
        forward!(self, e => e.set_time_share(now, share))
    }
}
