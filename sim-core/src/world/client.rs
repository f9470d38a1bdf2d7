//! Clients with timeouts and retries (`[traffic.client]`).
//!
//! A client waits `timeout` for each attempt; when it runs out, or the attempt fails (dropped
//! for any reason but a prompt too large for the KV cache, or refused by the tenant gateway with
//! HTTP 429 unless `retry_rate_limited = false`), the client waits `backoff * 2^(n-1)` (capped
//! at `max_backoff`, then randomised by `jitter`, from the `traffic/client/jitter` stream) and
//! sends attempt `n + 1`, up to `retries` retries. Every attempt passes
//! the tenant gateway, taking from its tenant's buckets only when admitted; a refusal is
//! immediate, so a refused attempt has no timeout. The service does not learn of an abandoned
//! attempt: it still queues and serves it (wasted work that adds load exactly when the service
//! is slow). A request counts once: it arrives once and ends once, as the outcome of its last
//! attempt, with its latency measured from its first arrival.

use super::{Event, World};
use crate::engine::{Rng, SimTime};
use crate::ids::ServiceId;
use crate::metrics::RequestSink;
use crate::results::ClientSummary;
use crate::scenario::failure::ClientSpec;
use crate::serving::{DropReason, Request, RequestId};
use rand::RngExt;
use std::collections::HashMap;

/// A client's step, carried by [`Event::Client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClientEvent {
    /// Attempt `id`'s timeout runs out.
    Timeout { id: u64 },
    /// Attempt `id` (a retry) is sent.
    Retry { id: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    request: Request,
    /// 0 for the first attempt.
    tries: u32,
    /// Sent (false while it waits out its backoff).
    sent: bool,
}

/// Outstanding attempts and the client's counters.
#[derive(Debug)]
pub(super) struct Client {
    spec: ClientSpec,
    /// Attempts the client waits for (looked up by id, never iterated).
    live: HashMap<u64, Attempt>,
    /// Attempts the client gave up on that the service still holds.
    abandoned: HashMap<u64, ()>,
    pub(super) counts: ClientSummary,
    /// Draws for the backoff's jitter.
    rng: Rng,
}

impl Client {
    pub(super) fn new(spec: ClientSpec, rng: Rng) -> Client {
        Client {
            rng,
            spec,
            live: HashMap::new(),
            abandoned: HashMap::new(),
            counts: ClientSummary::default(),
        }
    }

    /// Requests the client still waits for (sent or waiting to be retried).
    pub(super) fn outstanding(&self) -> u64 {
        self.live.len() as u64
    }
}

impl World {
    fn push_client(&mut self, svc: ServiceId, at: SimTime, ev: ClientEvent) {
        if at < self.horizon {
            self.queue.push(at, Event::Client(svc, ev));
        }
    }

    /// Records a request dropped with `reason`, in the run's and its service's statistics.
    pub(super) fn record_drop<S: RequestSink>(
        &mut self,
        r: &Request,
        reason: DropReason,
        sink: &mut S,
    ) {
        let mut own = *r;
        if let Some(d) = &mut self.disagg {
            if let Some(held) = d.forget(&mut own) {
                for slot in held {
                    self.settle_lent(slot);
                }
            }
        }
        let r = &own;
        self.recorder.on_drop(r, self.now, reason, sink);
        // A request the gateway could not route belongs to no service.
        let now = self.now;
        if let Some(rec) = self
            .svcs
            .get_mut(usize::from(r.service))
            .and_then(|s| s.recorder_at(now))
        {
            rec.on_drop(r, self.now, reason, &mut crate::metrics::NoSink);
        }
    }

    /// A request's first attempt is sent.
    #[inline]
    pub(super) fn client_sent(&mut self, svc: ServiceId, r: &Request) {
        let Some(c) = &mut self.svcs[svc.index()].client else {
            return;
        };
        c.live.insert(
            r.id.0,
            Attempt {
                request: *r,
                tries: 0,
                sent: true,
            },
        );
        if let Some(t) = c.spec.timeout {
            self.push_client(svc, self.now + t, ClientEvent::Timeout { id: r.id.0 });
        }
    }

    /// An attempt completed; true if its request completes now (false: the client had given
    /// up on this attempt).
    #[inline]
    pub(super) fn client_completed(&mut self, svc: ServiceId, r: &Request) -> bool {
        let Some(c) = &mut self.svcs[svc.index()].client else {
            return true;
        };
        if c.abandoned.remove(&r.id.0).is_some() {
            c.counts.abandoned_completions += 1;
            return false;
        }
        if let Some(a) = c.live.remove(&r.id.0) {
            if a.tries > 0 {
                c.counts.completed_after_retry += 1;
            }
        }
        true
    }

    /// An attempt failed with `reason`: the client retries it or the request ends dropped.
    pub(super) fn fail_request<S: RequestSink>(
        &mut self,
        r: &Request,
        reason: DropReason,
        sink: &mut S,
    ) {
        let Some(c) = &mut self.svcs[usize::from(r.service)].client else {
            self.record_drop(r, reason, sink);
            return;
        };
        if c.abandoned.remove(&r.id.0).is_some() {
            return;
        }
        let Some(a) = c.live.remove(&r.id.0) else {
            self.record_drop(r, reason, sink);
            return;
        };
        if reason == DropReason::ExceedsKvCache || a.tries >= c.spec.retries {
            self.record_drop(&a.request, reason, sink);
            return;
        }
        self.retry(a);
    }

    /// The tenant gateway refused a request's first attempt with `reason` (HTTP 429): the client
    /// retries it or the request ends refused.
    pub(super) fn client_refused<S: RequestSink>(
        &mut self,
        r: &Request,
        reason: DropReason,
        sink: &mut S,
    ) {
        let a = Attempt {
            request: *r,
            tries: 0,
            sent: true,
        };
        self.refused(a, reason, sink);
    }

    /// Attempt `a` (no longer live) was refused at the gateway with `reason`.
    fn refused<S: RequestSink>(&mut self, a: Attempt, reason: DropReason, sink: &mut S) {
        match &mut self.svcs[usize::from(a.request.service)].client {
            Some(c) if c.spec.retry_rate_limited && a.tries < c.spec.retries => {
                c.counts.rate_limited_retries += 1;
                self.retry(a);
            }
            _ => self.record_drop(&a.request, reason, sink),
        }
    }

    fn retry(&mut self, a: Attempt) {
        let id = self.next_id;
        self.next_id += 1;
        let svc = ServiceId(u32::from(a.request.service));
        let c = self.svcs[svc.index()].client.as_mut().expect("a client");
        let tries = a.tries + 1;
        c.counts.retries += 1;
        let cap = c.spec.backoff_before(tries);
        let wait = c.spec.jitter.apply(cap, c.rng.random::<f64>());
        c.live.insert(
            id,
            Attempt {
                request: Request {
                    id: RequestId(id),
                    ..a.request
                },
                tries,
                sent: false,
            },
        );
        self.push_client(svc, self.now + wait, ClientEvent::Retry { id });
    }

    /// A client's timeout or retry.
    pub(super) fn on_client<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        ev: ClientEvent,
        sink: &mut S,
    ) {
        let Some(c) = &mut self.svcs[svc.index()].client else {
            return;
        };
        match ev {
            ClientEvent::Timeout { id } => {
                let Some(a) = c.live.get(&id).copied() else {
                    return;
                };
                if !a.sent {
                    return;
                }
                c.live.remove(&id);
                c.abandoned.insert(id, ());
                c.counts.timeouts += 1;
                if a.tries >= c.spec.retries {
                    self.record_drop(&a.request, DropReason::ClientTimeout, sink);
                } else {
                    self.retry(a);
                }
            }
            ClientEvent::Retry { id } => {
                let Some(a) = c.live.get_mut(&id) else { return };
                a.sent = true;
                let a = *a;
                let timeout = c.spec.timeout;
                // The retry passes the tenant gateway again (it is no new arrival).
                if let Err(reason) = self.pass_gate(svc, &a.request) {
                    if let Some(c) = &mut self.svcs[svc.index()].client {
                        c.live.remove(&id);
                    }
                    self.refused(a, reason, sink);
                    return;
                }
                if let Some(t) = timeout {
                    self.push_client(svc, self.now + t, ClientEvent::Timeout { id });
                }
                self.dispatch(a.request, sink);
            }
        }
    }
}
