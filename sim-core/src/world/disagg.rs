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
//! Statistics: the prefill pool's entry records each hand-off as a completion at its first token
//! (its TTFT); the decode pool's records the request from its hand-off (arrival) to its last
//! token with the prefill's first-token time, so its TPOT is the decode pool's. The run's totals
//! see each request once, end to end.

use super::{Event, World};
use crate::engine::{SimDuration, SimTime};
use crate::ids::{EngineId, ServiceId};
use crate::metrics::RequestSink;
use crate::scenario::DisaggSpec;
use crate::serving::{Completion, DropReason, Request};
use std::collections::BTreeMap;

/// The prefill pool is the scenario's first service, the decode pool its second.
pub(super) const PREFILL: ServiceId = ServiceId(0);
/// See [`PREFILL`].
pub(super) const DECODE: ServiceId = ServiceId(1);

/// A KV cache on its way from a prefill replica to a decode replica.
#[derive(Clone, Copy, Debug)]
struct Transfer {
    /// The request as the decode pool sees it (its own output tokens, `service` the decode pool).
    request: Request,
    /// The decode replica it goes to.
    to: EngineId,
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
    /// When each prefill replica's link is next free, by engine slot.
    link_free: Vec<SimTime>,
    counts: Counts,
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
            link_free: Vec::new(),
            counts: Counts::default(),
        }
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

    /// A request of the prefill pool that failed: it leaves the P/D bookkeeping, with its own
    /// output tokens back.
    pub(super) fn forget(&mut self, request: &mut Request) {
        if request.service == PREFILL.0 as u16 {
            if let Some(out) = self.outputs.remove(&request.id.0) {
                request.output_tokens = out;
            }
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
        }
    }
}

/// Time to send `bytes` at `bytes_per_s`, rounded up to the nanosecond.
pub(super) fn transfer_time(bytes: f64, bytes_per_s: f64) -> SimDuration {
    SimDuration((bytes / bytes_per_s * 1e9).ceil() as u64)
}

impl World {
    /// Whether completion `c` of service `svc` is a prefill to hand to the decode pool.
    #[inline]
    pub(super) fn is_handoff(&self, svc: ServiceId, c: &Completion) -> bool {
        svc == PREFILL
            && self
                .disagg
                .as_ref()
                .is_some_and(|d| d.outputs.contains_key(&c.request.id.0))
    }

    /// A prefill finished (its first token is out): the prefill pool records its TTFT, the
    /// decode pool's router picks a replica, and the KV cache starts on its way there.
    pub(super) fn hand_off<S: RequestSink>(&mut self, c: Completion, sink: &mut S) {
        let now = self.now;
        if let Some(r) = self.svcs[PREFILL.index()].recorder_at(now) {
            r.on_completion(&c, &mut crate::metrics::NoSink);
        }
        let d = self.disagg.as_mut().expect("a hand-off has P/D state");
        let out = d
            .outputs
            .remove(&c.request.id.0)
            .expect("a hand-off has its output tokens");
        let mut request = c.request;
        request.output_tokens = out;
        request.service = DECODE.0 as u16;
        if let Some(r) = self.svcs[DECODE.index()].recorder_at(now) {
            r.on_arrival(&request);
        }
        let Some(to) = self.pick_decode(&request) else {
            self.fail_request(&request, DropReason::NoReadyReplica, sink);
            return;
        };
        let from = EngineId(c.replica);
        let same_node = {
            let a = self.kube.node_of(self.kube.pod_at(PREFILL, from));
            let b = self.kube.node_of(self.kube.pod_at(DECODE, to));
            a.is_some() && a == b
        };
        let d = self.disagg.as_mut().expect("a hand-off has P/D state");
        let bytes = d.spec.kv_bytes_per_token * f64::from(request.prompt_tokens.max(1));
        let arrive = if same_node {
            d.counts.same_node += 1;
            now + d.spec.transfer_latency
        } else {
            let slot = from.index();
            if d.link_free.len() <= slot {
                d.link_free.resize(slot + 1, SimTime::ZERO);
            }
            let start = d.link_free[slot].max(now);
            let end =
                start + d.spec.transfer_latency + transfer_time(bytes, d.spec.link_bytes_per_s);
            d.link_free[slot] = end;
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

    /// A decode replica for `request`, by the decode pool's router.
    fn pick_decode(&mut self, request: &Request) -> Option<EngineId> {
        let sv = &mut self.svcs[DECODE.index()];
        match &mut sv.router {
            Some(r) => r.pick(
                self.kube.ready(DECODE),
                Some(self.kube.ready_version(DECODE)),
                &sv.engines,
                request.prefix,
                request.adapter,
            ),
            None => Some(EngineId(0)),
        }
    }

    /// A KV cache reached its decode replica: the replica admits the request (another replica
    /// of the pool if that one is no longer ready).
    pub(super) fn on_kv_arrived<S: RequestSink>(&mut self, transfer: u64, sink: &mut S) {
        let d = self.disagg.as_mut().expect("a transfer has P/D state");
        let t = d
            .transfers
            .remove(&transfer)
            .expect("each transfer arrives once");
        let to = if self.kube.ready(DECODE).contains(&t.to) {
            Some(t.to)
        } else {
            self.pick_decode(&t.request)
        };
        let Some(to) = to else {
            self.fail_request(&t.request, DropReason::NoReadyReplica, sink);
            return;
        };
        let sv = &mut self.svcs[DECODE.index()];
        match sv.engines[to.index()].admit_prefilled(self.now, t.request, t.start, t.first_token) {
            Ok(()) => {
                sv.queued += 1;
                self.queued += 1;
                self.advance_engine(DECODE, to, sink);
            }
            Err(reason) => self.fail_request(&t.request, reason, sink),
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
