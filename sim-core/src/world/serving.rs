//! Serving events: arrivals, routing, engine wake-ups and failed requests.

use super::{Event, World};
use crate::engine::SimTime;
use crate::ids::{EngineId, ServiceId};
use crate::metrics::RequestSink;
use crate::serving::{DropReason, ReplicaEngine, Request, RequestId};
use rand::RngExt;

impl World {
    pub(super) fn schedule_next_arrival(&mut self, svc: ServiceId, after: SimTime) {
        let sv = &mut self.svcs[svc.index()];
        sv.pending = sv.source.next_arrival(after);
        if let Some(a) = sv.pending {
            if a.time < self.horizon {
                // The first service's arrivals (never two pending) skip the heap.
                if svc.0 == 0 {
                    self.queue.push_spare(a.time, Event::Arrival { svc });
                } else {
                    self.queue.push(a.time, Event::Arrival { svc });
                }
            }
        }
    }

    pub(super) fn on_arrival<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let sv = &mut self.svcs[svc.index()];
        let a = sv
            .pending
            .take()
            .expect("an arrival event has a pending arrival");
        let mut request = Request {
            id: RequestId(self.next_id),
            arrival: self.now,
            prompt_tokens: a.prompt_tokens,
            output_tokens: a.output_tokens,
            prefix: a.prefix,
            tenant: a.tenant,
            service: svc.0 as u16,
            adapter: 0,
        };
        if let Some(t) = &mut sv.tokens {
            t.apply(&mut request.prompt_tokens, &mut request.output_tokens);
        }
        if let Some(p) = &mut sv.shared_prefixes {
            if p.share >= 1.0 || p.rng.random::<f64>() < p.share {
                let g = p.rng.random_range(0..p.groups.len());
                request.prefix = p.groups[g];
                request.prompt_tokens += p.tokens;
            }
        }
        self.next_id += 1;
        self.arrive(svc, request, sink);
        self.schedule_next_arrival(svc, a.time);
    }

    /// A new request for service `svc` (from its own traffic or the gateway's) arrives.
    pub(super) fn arrive<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        mut request: Request,
        sink: &mut S,
    ) {
        let mut pin = None;
        let svc = match &mut self.disagg {
            Some(d) if svc == super::disagg::PREFILL && d.is_mixed() => {
                match self.place_mixed(&mut request) {
                    Some((s, e)) => {
                        pin = Some(e);
                        s
                    }
                    // No Ready replica in either pool: the prefill pool's router finds none.
                    None => svc,
                }
            }
            Some(d) if svc == super::disagg::PREFILL => d.route(&mut request),
            _ => svc,
        };
        if let Some(l) = &mut self.svcs[svc.index()].lora {
            if request.adapter == 0 {
                request.adapter = l.draw();
            }
        }
        self.learn_labels(svc, request.tenant);
        self.recorder.on_arrival(&request);
        let now = self.now;
        if let Some(r) = self.svcs[svc.index()].recorder_at(now) {
            r.on_arrival(&request);
        }
        match self.pass_gate(svc, &request) {
            Ok(()) => {
                self.client_sent(svc, &request);
                self.dispatch_to(request, pin, sink);
            }
            Err(reason) => self.client_refused(&request, reason, sink),
        }
    }

    /// Sends a request (or a client's retry) to a replica of its service.
    #[inline]
    pub(super) fn dispatch<S: RequestSink>(&mut self, request: Request, sink: &mut S) {
        self.dispatch_to(request, None, sink);
    }

    /// Sends a request to replica `pin` of its service when given (a replica a policy chose),
    /// else to the one the service's router picks.
    pub(super) fn dispatch_to<S: RequestSink>(
        &mut self,
        request: Request,
        pin: Option<EngineId>,
        sink: &mut S,
    ) {
        let svc = ServiceId(u32::from(request.service));
        let sv = &mut self.svcs[svc.index()];
        let target = match &mut sv.router {
            _ if pin.is_some() => pin,
            None => Some(EngineId(0)),
            Some(r) => {
                let (candidates, version) =
                    super::kube::rollout::candidates(&mut sv.rollout, &self.kube, svc);
                r.pick(
                    candidates,
                    version,
                    &sv.engines,
                    request.prefix,
                    request.adapter,
                )
            }
        };
        if let (Some(e), Some(l)) = (target, &mut sv.lora) {
            if request.adapter > 0 {
                l.routed(sv.engines[e.index()].lora_resident(request.adapter));
            }
        }
        match target {
            None if sv.gateway.enabled => self.hold(svc, request, sink),
            None => self.fail_request(&request, DropReason::NoReadyReplica, sink),
            // A failed pod still in the endpoints: the connection fails.
            Some(e)
                if sv.router.is_some()
                    && self.kube.fail.any_hung()
                    && self.kube.fail.is_hung(self.kube.pod_at(svc, e)) =>
            {
                self.fail_request(&request, DropReason::PodFailed, sink)
            }
            Some(e) => match sv.engines[e.index()].admit(self.now, request) {
                Ok(()) => {
                    sv.queued += 1;
                    self.queued += 1;
                    self.admitted(svc, e, sink);
                }
                Err(reason) => self.fail_request(&request, reason, sink),
            },
        }
    }

    /// Sets the serving state of the run's recorder and of the service's own.
    pub(super) fn publish_state(&mut self, svc: ServiceId) {
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
        let now = self.now;
        let sv = &mut self.svcs[svc.index()];
        let state = (sv.queued, sv.in_service, sv.busy);
        if let Some(r) = sv.recorder_at(now) {
            r.set_state(state.0, state.1, state.2);
        }
    }

    /// Engine `id` of service `svc` just admitted a request: [`World::advance_engine`], or,
    /// when the engine only moves its wake-up (mid-step, on a GPU of its own), that alone with
    /// the router, recorders and gauges told of the request.
    #[inline]
    fn admitted<S: RequestSink>(&mut self, svc: ServiceId, id: EngineId, sink: &mut S) {
        let e = id.index();
        let now = self.now;
        if self.time_sliced_pod(svc, id).is_some() {
            return self.advance_engine(svc, id, sink);
        }
        let sv = &mut self.svcs[svc.index()];
        let engine = &mut sv.engines[e];
        let Some((next, (q, s, b))) = engine.admit_wake(now) else {
            return self.advance_engine(svc, id, sink);
        };
        if let Some(r) = &mut sv.router {
            r.touch_outstanding(id, engine, q + s);
        }
        // The same as `advance_engine` with the state unchanged by the advance: the admitted
        // request was counted by the caller; nothing finished and the engine is not idle.
        self.publish_engine(svc, e, (q, s, b), (0, 0), next);
    }

    /// After engine `e` of service `svc` advanced: tells the recorders the totals, its gauges
    /// its state (after `done`, the completions and their output tokens), and its wake-up slot
    /// its next wake-up.
    #[inline(always)]
    fn publish_engine(
        &mut self,
        svc: ServiceId,
        e: usize,
        state: (u32, u32, u32),
        done: (u64, u64),
        next: Option<SimTime>,
    ) {
        let now = self.now;
        // `publish_state`, with the service borrowed once.
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
        let sv = &mut self.svcs[svc.index()];
        sv.gauges.update(e, now, state, done.0, done.1);
        let totals = (sv.queued, sv.in_service, sv.busy);
        if let Some(r) = sv.recorder_at(now) {
            r.set_state(totals.0, totals.1, totals.2);
        }
        let slot = sv.wake[e];
        if next != self.queue.wake_at(slot) {
            self.queue.set_wake(slot, next);
        }
    }

    /// Advances engine `id` of service `svc` to now: hands on what it finished, and tells the
    /// router, the recorders, the gauges and its wake-up slot its new state.
    pub(super) fn advance_engine<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        id: EngineId,
        sink: &mut S,
    ) {
        self.advance_engine_inline(svc, id, sink);
    }

    /// [`World::advance_engine`], inlined into the event loop's wake-ups.
    #[inline(always)]
    pub(super) fn advance_engine_inline<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        id: EngineId,
        sink: &mut S,
    ) {
        let e = id.index();
        let now = self.now;
        let shared = self.time_sliced_pod(svc, id);
        if let Some(pod) = shared {
            // A request admitted to an idle replica: its GPU is divided before it starts.
            let (q0, s0, _) = self.svcs[svc.index()].engines[e].state();
            self.set_busy(pod, q0 + s0 > 0);
        }
        let sv = &mut self.svcs[svc.index()];
        let engine = &mut sv.engines[e];
        let (q0, s0, b0) = engine.state();
        let (next, (q1, s1, b1)) = engine.advance_state(now, &mut self.done);
        if let Some(r) = &mut sv.router {
            r.touch_outstanding(id, engine, q1 + s1);
        }
        self.queued = self.queued + q1 - q0;
        self.in_service = self.in_service + s1 - s0;
        self.busy = self.busy + b1 - b0;
        sv.queued = sv.queued + q1 - q0;
        sv.in_service = sv.in_service + s1 - s0;
        sv.busy = sv.busy + b1 - b0;
        // Most advances finish nothing (a step boundary, or an arrival cutting a run).
        let done = if self.done.is_empty() {
            (0, 0)
        } else {
            self.finish_requests(svc, sink)
        };
        if let Some(pod) = shared {
            self.set_busy(pod, q1 + s1 > 0);
        }
        self.publish_engine(svc, e, (q1, s1, b1), done, next);
        let idle = q1 + s1 == 0;
        let terminating = idle && self.svcs[svc.index()].router.is_some();
        if idle && self.disagg.as_ref().is_some_and(|d| d.is_mixed()) {
            self.settle_lent((svc, id));
        }
        if terminating {
            let pod = self.kube.pod_at(svc, id);
            if self.kube.is_terminating(pod) {
                self.pod_gone(pod, sink);
            }
        }
    }

    /// Hands on the requests an engine of `svc` just finished (in `self.done`): a prefill to
    /// the decode pool, a completion to the client and the recorders. Returns how many finished
    /// and their output tokens.
    #[inline(never)]
    fn finish_requests<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) -> (u64, u64) {
        let (mut done, mut tokens) = (0u64, 0u64);
        let mut finished = std::mem::take(&mut self.done);
        for &c in &finished {
            if self.is_handoff(svc, &c) {
                // A prefill: its first token is out, the decode pool does the rest.
                done += 1;
                tokens += 1;
                self.hand_off(svc, c, sink);
                continue;
            }
            if let Some(d) = &mut self.disagg {
                d.finished(c.request.id.0);
            }
            if let Some(r) = &mut self.svcs[svc.index()].rollout {
                r.on_completion(&self.kube, svc, &c);
            }
            done += 1;
            tokens += c.request.output_tokens as u64;
            self.svcs[svc.index()].output_tokens += c.request.output_tokens as u64;
            if self.client_completed(svc, &c.request) {
                self.recorder.on_completion(&c, sink);
                let now = self.now;
                if let Some(r) = self.svcs[svc.index()].recorder_at(now) {
                    r.on_completion(&c, &mut crate::metrics::NoSink);
                }
            }
        }
        finished.clear();
        self.done = finished;
        (done, tokens)
    }

    /// Stops engine `id` of service `svc` at once; its requests fail with `reason`.
    pub(super) fn abort_engine<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        id: EngineId,
        reason: DropReason,
        sink: &mut S,
    ) {
        let e = id.index();
        let sv = &mut self.svcs[svc.index()];
        let engine = &mut sv.engines[e];
        let (q0, s0, b0) = engine.state();
        engine.abort(&mut self.failed);
        if let Some(r) = &mut sv.router {
            r.touch(id, &mut sv.engines[e]);
        }
        sv.gauges.update(e, self.now, (0, 0, 0), 0, 0);
        if let Some(pod) = self.time_sliced_pod(svc, id) {
            self.set_busy(pod, false);
        }
        let sv = &mut self.svcs[svc.index()];
        self.queued -= q0;
        self.in_service -= s0;
        self.busy -= b0;
        sv.queued -= q0;
        sv.in_service -= s0;
        sv.busy -= b0;
        let slot = sv.wake[e];
        self.queue.set_wake(slot, None);
        let mut failed = std::mem::take(&mut self.failed);
        for r in failed.drain(..) {
            self.fail_request(&r, reason, sink);
        }
        self.failed = failed;
        self.publish_state(svc);
    }
}
