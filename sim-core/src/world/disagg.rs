//! Disaggregated prefill and decode (`[service.disaggregated]`): one service run as two
//! Deployments, the prefill pool (the scenario's first service, which receives the traffic) and
//! the decode pool (the second).
//!
//! A request whose prompt is longer than `max_local_prefill_length` (all of them when it is 0)
//! and that wants more than one output token goes to a prefill replica, chosen by the prefill
//! pool's router, and runs there with one output token, as vLLM's disaggregation proxy sends it
//! with `max_tokens = 1`. When its first token is out, the decode pool's router picks a decode
//! replica and the prompt's KV cache (KV bytes per token × prompt tokens) goes to it over the
//! prefill replica's link: its share of its node's network, one transfer at a time in the order
//! the prefills finish. Between replicas on one node the cache moves over NVLink, counted as
//! instantaneous. Once it has arrived, the decode replica admits the request with its prompt
//! cached and its first token out ([`crate::serving::VllmEngine::admit_prefilled`]) and decodes
//! the rest. A shorter prompt is prefilled on a decode replica itself (Dynamo's conditional
//! disaggregation, llm-d's prefill decider).
//!
//! With `policy = "mixed-pool"` (SplitwiseSim's `MixedPoolScheduler`) the policy places both
//! phases itself when the request arrives: the prefill replica with the fewest unprefilled
//! prompt tokens, the decode replica with the least KV cache placed on it; a phase that no
//! replica of its pool takes borrows one of the other pool's (lent until idle), and the request
//! runs whole on one replica when both phases land there or a phase finds no replica at all.
//!
//! Statistics: the prefill pool's entry records each hand-off as a completion at its first token
//! (its TTFT); the decode pool's records the request from its hand-off (arrival) to its last
//! token with the prefill's first-token time, so its TPOT is the decode pool's (under the mixed
//! pool, each pool's entry records the phases its replicas ran, lent or not). The run's totals
//! see each request once, end to end.

use super::{Event, World};
use crate::engine::{SimDuration, SimTime};
use crate::ids::{EngineId, ServiceId};
use crate::metrics::RequestSink;
use crate::scenario::{DisaggPolicy, DisaggSpec};
use crate::serving::ReplicaEngine;
use crate::serving::{Completion, DropReason, Request};
use std::collections::BTreeMap;

/// The prefill pool is the scenario's first service, the decode pool its second.
pub(super) const PREFILL: ServiceId = ServiceId(0);
/// See [`PREFILL`].
pub(super) const DECODE: ServiceId = ServiceId(1);

/// A replica: its pool and its engine slot there.
pub(super) type Slot = (ServiceId, EngineId);

/// A KV cache on its way from a prefill replica to a decode replica.
#[derive(Clone, Copy, Debug)]
struct Transfer {
    /// The request as the decode replica sees it (its own output tokens, `service` the pool of
    /// the replica that decodes it).
    request: Request,
    /// The replica it goes to.
    to: Slot,
    /// When its prefill started and its first token came out.
    start: SimTime,
    first_token: SimTime,
}

/// The P/D state of a run.
#[derive(Debug)]
pub(super) struct Disagg {
    spec: DisaggSpec,
    /// Output tokens of the requests running on the prefill pool (sent there with one), by id.
    outputs: BTreeMap<u64, u32>,
    /// Transfers in flight, by their number.
    transfers: BTreeMap<u64, Transfer>,
    next_transfer: u64,
    /// When each replica's link is next free, by pool and engine slot.
    link_free: [Vec<SimTime>; 2],
    counts: Counts,
    /// SplitwiseSim's mixed pool, with `policy = "mixed-pool"`.
    mixed: Option<Box<Mixed>>,
}

/// SplitwiseSim's mixed pool (`splitwise-sim: scheduler.py::MixedPoolScheduler`): which replicas
/// are lent to the other pool, and the KV cache the policy has placed on each replica.
#[derive(Debug, Default)]
struct Mixed {
    threshold: u64,
    /// By pool and engine slot: the replica is lent to the other pool (in the mixed pool).
    lent: [Vec<bool>; 2],
    /// By pool and engine slot: KV tokens of the requests placed there and not yet gone
    /// (SplitwiseSim's `sched_memory`, less the weights).
    reserved: [Vec<u64>; 2],
    /// Requests placed and not yet finished, by id.
    placed: BTreeMap<u64, Placement>,
    counts: capsim_results::MixedPoolSummary,
}

/// Where the mixed pool put a request's phases, and the KV tokens it reserved on each.
#[derive(Clone, Copy, Debug)]
struct Placement {
    prompt: Slot,
    /// Released when the prefill hands off (0 when both phases run on one replica).
    prompt_kv: u64,
    token: Slot,
    token_kv: u64,
}

impl Mixed {
    #[inline]
    fn lent(&self, (svc, e): Slot) -> bool {
        self.lent[svc.index()]
            .get(e.index())
            .copied()
            .unwrap_or(false)
    }

    #[inline]
    fn reserved(&self, (svc, e): Slot) -> u64 {
        self.reserved[svc.index()]
            .get(e.index())
            .copied()
            .unwrap_or(0)
    }

    fn reserve(&mut self, (svc, e): Slot, tokens: u64) {
        let v = &mut self.reserved[svc.index()];
        if v.len() <= e.index() {
            v.resize(e.index() + 1, 0);
        }
        v[e.index()] += tokens;
    }

    fn release(&mut self, (svc, e): Slot, tokens: u64) {
        let v = &mut self.reserved[svc.index()][e.index()];
        *v -= tokens;
    }

    fn lend(&mut self, (svc, e): Slot) {
        let v = &mut self.lent[svc.index()];
        if v.len() <= e.index() {
            v.resize(e.index() + 1, false);
        }
        v[e.index()] = true;
        if svc == PREFILL {
            self.counts.lent_to_decode += 1;
        } else {
            self.counts.lent_to_prefill += 1;
        }
    }

    /// A placed request is gone (finished or dropped): its reservations are released; the
    /// replicas it held, for the caller to check for idleness.
    fn forget(&mut self, id: u64) -> Option<[Slot; 2]> {
        let p = self.placed.remove(&id)?;
        if p.prompt_kv > 0 {
            self.release(p.prompt, p.prompt_kv);
        }
        self.release(p.token, p.token_kv);
        Some([p.prompt, p.token])
    }
}

/// What the run's `disaggregation` summary reports.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    transfers: u64,
    same_node: u64,
    bytes: f64,
    transfer_ns: u128,
    transfer_max_ns: u64,
    local: u64,
    prefill_only: u64,
}

impl Disagg {
    pub(super) fn new(spec: &DisaggSpec) -> Self {
        Disagg {
            spec: spec.clone(),
            outputs: BTreeMap::new(),
            transfers: BTreeMap::new(),
            next_transfer: 0,
            link_free: [Vec::new(), Vec::new()],
            counts: Counts::default(),
            mixed: match spec.policy {
                DisaggPolicy::FixedPools => None,
                DisaggPolicy::MixedPool {
                    prompt_max_pending_batch_tokens,
                } => Some(Box::new(Mixed {
                    threshold: prompt_max_pending_batch_tokens,
                    counts: capsim_results::MixedPoolSummary {
                        prompt_max_pending_batch_tokens,
                        ..Default::default()
                    },
                    ..Mixed::default()
                })),
            },
        }
    }

    /// Whether the mixed-pool policy places requests.
    #[inline]
    pub(super) fn is_mixed(&self) -> bool {
        self.mixed.is_some()
    }

    /// Requests between the pools (prefilled, their KV cache not yet at the decode replica).
    pub(super) fn in_transfer(&self) -> u64 {
        self.transfers.len() as u64
    }

    /// Where a new request for the service goes: the decode pool when its prompt is short
    /// enough to prefill there, else the prefill pool (recording its output tokens and sending
    /// it with one, unless it wants only one).
    pub(super) fn route(&mut self, request: &mut Request) -> ServiceId {
        let local = self.spec.max_local_prefill_length;
        if local > 0 && request.prompt_tokens <= local {
            self.counts.local += 1;
            request.service = DECODE.0 as u16;
            return DECODE;
        }
        request.service = PREFILL.0 as u16;
        if request.output_tokens > 1 {
            self.outputs.insert(request.id.0, request.output_tokens);
            request.output_tokens = 1;
        } else {
            self.counts.prefill_only += 1;
        }
        PREFILL
    }

    /// A request that failed: it leaves the P/D bookkeeping, with its own output tokens back;
    /// under the mixed pool, the replicas it held (to check for idleness).
    pub(super) fn forget(&mut self, request: &mut Request) -> Option<[Slot; 2]> {
        if request.service == PREFILL.0 as u16 || self.mixed.is_some() {
            if let Some(out) = self.outputs.remove(&request.id.0) {
                request.output_tokens = out;
            }
        }
        self.mixed.as_mut().and_then(|m| m.forget(request.id.0))
    }

    /// A request completed (its last token out): under the mixed pool, its reservations go.
    #[inline]
    pub(super) fn finished(&mut self, id: u64) {
        if let Some(m) = &mut self.mixed {
            m.forget(id);
        }
    }

    /// The summary of the run's transfers; costs are filled in by the caller.
    pub(super) fn summary(&self, prefill: &str, decode: &str) -> capsim_results::DisaggSummary {
        let c = &self.counts;
        let s = 1e-9;
        capsim_results::DisaggSummary {
            service: self.spec.name.clone(),
            prefill_service: prefill.to_string(),
            decode_service: decode.to_string(),
            kv_transfers: c.transfers,
            kv_transfers_same_node: c.same_node,
            kv_bytes: c.bytes,
            kv_transfer_mean_s: if c.transfers > 0 {
                c.transfer_ns as f64 / c.transfers as f64 * s
            } else {
                0.0
            },
            kv_transfer_max_s: c.transfer_max_ns as f64 * s,
            local_prefills: c.local,
            prefill_only: c.prefill_only,
            link_bytes_per_s: self.spec.link_bytes_per_s,
            bandwidth_source: self.spec.bandwidth_source.clone(),
            prefill_cost_usd: None,
            decode_cost_usd: None,
            mixed_pool: self.mixed.as_ref().map(|m| m.counts.clone()),
        }
    }
}

/// The Ready replicas of pool `svc` not lent to the other pool, in endpoint order.
fn own_replicas<'a>(
    kube: &'a super::kube::Kube,
    m: &'a Mixed,
    svc: ServiceId,
) -> impl Iterator<Item = Slot> + 'a {
    kube.ready(svc)
        .iter()
        .map(move |&e| (svc, e))
        .filter(move |&s| !m.lent(s))
}

/// The Ready replicas lent to the other pool (SplitwiseSim's mixed pool): the prefill pool's,
/// then the decode pool's, in endpoint order.
fn lent_replicas<'a>(kube: &'a super::kube::Kube, m: &'a Mixed) -> impl Iterator<Item = Slot> + 'a {
    [PREFILL, DECODE]
        .into_iter()
        .flat_map(move |svc| kube.ready(svc).iter().map(move |&e| (svc, e)))
        .filter(move |&s| m.lent(s))
}

/// The first replica with the least `key` (`Iterator::min_by_key` keeps the last).
fn first_min<I: Iterator<Item = Slot>>(it: I, key: impl Fn(Slot) -> u64) -> Option<Slot> {
    let mut best: Option<(u64, Slot)> = None;
    for s in it {
        let k = key(s);
        if best.is_none_or(|(b, _)| k < b) {
            best = Some((k, s));
        }
    }
    best.map(|b| b.1)
}

/// Time to send `bytes` at `bytes_per_s`, rounded up to the nanosecond.
pub(super) fn transfer_time(bytes: f64, bytes_per_s: f64) -> SimDuration {
    SimDuration((bytes / bytes_per_s * 1e9).ceil() as u64)
}

impl World {
    /// Whether completion `c` of service `svc` is a prefill to hand to a decode replica.
    #[inline]
    pub(super) fn is_handoff(&self, svc: ServiceId, c: &Completion) -> bool {
        self.disagg.as_ref().is_some_and(|d| {
            (svc == PREFILL || d.mixed.is_some()) && d.outputs.contains_key(&c.request.id.0)
        })
    }

    /// A prefill finished on a replica of `svc` (its first token is out): that pool records its
    /// TTFT, the decode replica is picked (by the decode pool's router, or the one the mixed
    /// pool placed it on) and the KV cache starts on its way there.
    pub(super) fn hand_off<S: RequestSink>(&mut self, svc: ServiceId, c: Completion, sink: &mut S) {
        let now = self.now;
        if let Some(r) = self.svcs[svc.index()].recorder_at(now) {
            r.on_completion(&c, &mut crate::metrics::NoSink);
        }
        let d = self.disagg.as_mut().expect("a hand-off has P/D state");
        let out = d
            .outputs
            .remove(&c.request.id.0)
            .expect("a hand-off has its output tokens");
        let placed = d.mixed.as_mut().map(|m| {
            let p = m
                .placed
                .get_mut(&c.request.id.0)
                .expect("the mixed pool placed each split request");
            let freed = std::mem::take(&mut p.prompt_kv);
            let token = p.token;
            let prompt = p.prompt;
            m.release(prompt, freed);
            token
        });
        let mut request = c.request;
        request.output_tokens = out;
        let to = match placed {
            Some(slot) => Some(slot),
            None => self.pick_in(DECODE, &request).map(|e| (DECODE, e)),
        };
        if let Some((to_svc, _)) = to {
            request.service = to_svc.0 as u16;
        } else {
            request.service = DECODE.0 as u16;
        }
        if let Some(r) = self.svcs[usize::from(request.service)].recorder_at(now) {
            r.on_arrival(&request);
        }
        let Some(to) = to else {
            self.fail_request(&request, DropReason::NoReadyReplica, sink);
            return;
        };
        let from = (svc, EngineId(c.replica));
        let same_node = {
            let a = self.kube.node_of(self.kube.pod_at(from.0, from.1));
            let b = self.kube.node_of(self.kube.pod_at(to.0, to.1));
            a.is_some() && a == b
        };
        let d = self.disagg.as_mut().expect("a hand-off has P/D state");
        let bytes = d.spec.kv_bytes_per_token * f64::from(request.prompt_tokens.max(1));
        let arrive = if same_node {
            d.counts.same_node += 1;
            now + d.spec.transfer_latency
        } else {
            let links = &mut d.link_free[from.0.index()];
            let slot = from.1.index();
            if links.len() <= slot {
                links.resize(slot + 1, SimTime::ZERO);
            }
            let start = links[slot].max(now);
            let end =
                start + d.spec.transfer_latency + transfer_time(bytes, d.spec.link_bytes_per_s);
            links[slot] = end;
            end
        };
        d.counts.transfers += 1;
        d.counts.bytes += bytes;
        let took = arrive.since(now).0;
        d.counts.transfer_ns += took as u128;
        d.counts.transfer_max_ns = d.counts.transfer_max_ns.max(took);
        let n = d.next_transfer;
        d.next_transfer += 1;
        d.transfers.insert(
            n,
            Transfer {
                request,
                to,
                start: c.start,
                first_token: c.first_token,
            },
        );
        self.queue.push(arrive, Event::KvArrived { transfer: n });
    }

    /// A replica of pool `svc` for `request`, by the pool's router.
    fn pick_in(&mut self, svc: ServiceId, request: &Request) -> Option<EngineId> {
        let sv = &mut self.svcs[svc.index()];
        match &mut sv.router {
            Some(r) => r.pick(
                self.kube.ready(svc),
                Some(self.kube.ready_version(svc)),
                &sv.engines,
                request.prefix,
                request.adapter,
            ),
            None => Some(EngineId(0)),
        }
    }

    /// A KV cache reached its decode replica: the replica admits the request (another replica
    /// of its pool, by the pool's router, if that one is no longer ready).
    pub(super) fn on_kv_arrived<S: RequestSink>(&mut self, transfer: u64, sink: &mut S) {
        let d = self.disagg.as_mut().expect("a transfer has P/D state");
        let t = d
            .transfers
            .remove(&transfer)
            .expect("each transfer arrives once");
        let (svc, planned) = t.to;
        let to = if self.kube.ready(svc).contains(&planned) {
            Some(planned)
        } else {
            self.pick_in(svc, &t.request)
        };
        let Some(to) = to else {
            self.fail_request(&t.request, DropReason::NoReadyReplica, sink);
            return;
        };
        if to != planned {
            self.replace_token_replica(t.request.id.0, (svc, to));
        }
        let sv = &mut self.svcs[svc.index()];
        match sv.engines[to.index()].admit_prefilled(self.now, t.request, t.start, t.first_token) {
            Ok(()) => {
                sv.queued += 1;
                self.queued += 1;
                self.advance_engine(svc, to, sink);
            }
            Err(reason) => self.fail_request(&t.request, reason, sink),
        }
    }

    /// Under the mixed pool, moves request `id`'s decode reservation to replica `to`.
    fn replace_token_replica(&mut self, id: u64, to: Slot) {
        let Some(m) = self.disagg.as_mut().and_then(|d| d.mixed.as_mut()) else {
            return;
        };
        let Some(p) = m.placed.get_mut(&id) else {
            return;
        };
        let (old, kv) = (p.token, p.token_kv);
        p.token = to;
        m.release(old, kv);
        m.reserve(to, kv);
        self.settle_lent(old);
    }

    /// SplitwiseSim's mixed pool places a new request's phases
    /// (`splitwise-sim: scheduler.py::MixedPoolScheduler.schedule`): the replica that prefills
    /// it (with `service` set to its pool, and one output token when another replica decodes),
    /// or `None` when neither pool has a Ready replica.
    pub(super) fn place_mixed(&mut self, request: &mut Request) -> Option<Slot> {
        let d = self.disagg.as_mut()?;
        let m = d.mixed.as_mut()?;
        let kube = &self.kube;
        let engines = |svc: ServiceId| &self.svcs[svc.index()].engines;
        let prompt = u64::from(request.prompt_tokens.max(1));
        let output = u64::from(request.output_tokens.max(1));
        let need = prompt + output;
        let pending = |(svc, e): Slot| engines(svc)[e.index()].unprefilled_tokens();
        // A prefill replica: the fewest unprefilled prompt tokens, refused when it has requests
        // waiting and this prompt would take it above the threshold.
        let takes_prompt = |s: Slot| {
            let e = &engines(s.0)[s.1.index()];
            e.queued() == 0 || e.unprefilled_tokens() + prompt <= m.threshold
        };
        // A decode replica: the least KV placed on it, refused when this request's would fill it.
        let takes_tokens =
            |s: Slot| m.reserved(s) + need < engines(s.0)[s.1.index()].kv_capacity_tokens();
        let single = request.output_tokens <= 1;
        // Each phase looks in its own pool's replicas, then in the lent ones (the mixed pool).
        let mut p = first_min(own_replicas(kube, m, PREFILL), pending)
            .filter(|&s| takes_prompt(s))
            .or_else(|| first_min(lent_replicas(kube, m), pending).filter(|&s| takes_prompt(s)));
        let mut t = if single {
            None
        } else {
            first_min(own_replicas(kube, m, DECODE), |s| m.reserved(s))
                .filter(|&s| takes_tokens(s))
                .or_else(|| {
                    first_min(lent_replicas(kube, m), |s| m.reserved(s))
                        .filter(|&s| takes_tokens(s))
                })
        };
        // None takes it: borrow the other pool's best replica into the mixed pool.
        if p.is_none() {
            if let Some(s) = first_min(own_replicas(kube, m, DECODE), pending) {
                m.lend(s);
                p = Some(s);
            }
        }
        if t.is_none() && !single {
            if let Some(s) = first_min(own_replicas(kube, m, PREFILL), |s| m.reserved(s)) {
                m.lend(s);
                t = Some(s);
            }
        }
        let mut fallback = false;
        let (p, t) = match (p, t) {
            (Some(p), _) if single => (p, p),
            (Some(p), Some(t)) => (p, t),
            // Still nothing: both phases on the replica with the fewest unprefilled tokens.
            _ => {
                fallback = true;
                let all = own_replicas(kube, m, PREFILL)
                    .chain(lent_replicas(kube, m))
                    .chain(own_replicas(kube, m, DECODE));
                let s = first_min(all, pending)?;
                (s, s)
            }
        };
        request.service = p.0 .0 as u16;
        let c = &mut m.counts;
        if single {
            d.counts.prefill_only += 1;
        } else if p == t {
            c.colocated += 1;
            c.colocated_fallback += u64::from(fallback);
        } else {
            c.split += 1;
            c.prefill_on_decode_pool += u64::from(p.0 == DECODE);
            c.decode_on_prefill_pool += u64::from(t.0 == PREFILL);
            d.outputs.insert(request.id.0, request.output_tokens);
            request.output_tokens = 1;
        }
        let prompt_kv = if p == t { 0 } else { prompt + 1 };
        let token_kv = if single { prompt + 1 } else { need };
        m.reserve(p, prompt_kv);
        m.reserve(t, token_kv);
        m.placed.insert(
            request.id.0,
            Placement {
                prompt: p,
                prompt_kv,
                token: t,
                token_kv,
            },
        );
        Some(p)
    }

    /// A lent replica that is idle (nothing queued or running, no KV cache placed on it) goes
    /// back to its pool (`splitwise-sim: scheduler.py::MixedPoolScheduler.notify_free_instance`).
    pub(super) fn settle_lent(&mut self, slot: Slot) {
        let Some(m) = self.disagg.as_mut().and_then(|d| d.mixed.as_mut()) else {
            return;
        };
        if !m.lent(slot) || m.reserved(slot) > 0 {
            return;
        }
        let e = &self.svcs[slot.0.index()].engines[slot.1.index()];
        if e.queued() + e.in_service() == 0 {
            m.lent[slot.0.index()][slot.1.index()] = false;
            m.counts.returned += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_time_rounds_up_to_the_nanosecond() {
        // 1,000 bytes at 3 bytes per ns: 333.3 ns, rounded up.
        assert_eq!(transfer_time(1000.0, 3e9), SimDuration(334));
        assert_eq!(transfer_time(0.0, 1e9), SimDuration(0));
    }
}
