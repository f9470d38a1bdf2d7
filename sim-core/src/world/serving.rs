//! Serving events: arrivals, routing, engine wake-ups and failed requests.

use super::{Event, World};
use crate::engine::SimTime;
use crate::ids::{EngineId, PodId};
use crate::metrics::RequestSink;
use crate::serving::{DropReason, ReplicaEngine, Request, RequestId};
use rand::RngExt;

impl World {
    pub(super) fn schedule_next_arrival(&mut self, after: SimTime) {
        self.pending = self.source.next_arrival(after);
        if let Some(a) = self.pending {
            if a.time < self.horizon {
                self.queue.push(a.time, Event::Arrival);
            }
        }
    }

    pub(super) fn on_arrival<S: RequestSink>(&mut self, sink: &mut S) {
        let a = self
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
        };
        if let Some(t) = &mut self.tokens {
            t.apply(&mut request.prompt_tokens, &mut request.output_tokens);
        }
        if let Some(p) = &mut self.shared_prefixes {
            if p.share >= 1.0 || p.rng.random::<f64>() < p.share {
                let g = p.rng.random_range(0..p.groups.len());
                request.prefix = p.groups[g];
                request.prompt_tokens += p.tokens;
            }
        }
        self.next_id += 1;
        self.learn_labels(request.tenant);
        self.recorder.on_arrival(&request);
        match self.pass_gate(&request) {
            Ok(()) => {
                self.client_sent(&request);
                self.dispatch(request, sink);
            }
            Err(reason) => self.client_refused(&request, reason, sink),
        }
        self.schedule_next_arrival(a.time);
    }

    /// Sends a request (or a client's retry) to a replica.
    pub(super) fn dispatch<S: RequestSink>(&mut self, request: Request, sink: &mut S) {
        let target = match &mut self.router {
            None => Some(EngineId(0)),
            Some(r) => r.pick(
                super::kube::rollout::candidates(&mut self.rollout, &self.kube),
                &self.engines,
                request.prefix,
            ),
        };
        match target {
            None if self.gateway.enabled => self.hold(request, sink),
            None => self.fail_request(&request, DropReason::NoReadyReplica, sink),
            // A failed pod still in the endpoints: the connection fails.
            Some(e) if self.kube.fail.is_hung(PodId(e.0)) => {
                self.fail_request(&request, DropReason::PodFailed, sink)
            }
            Some(e) => match self.engines[e.index()].admit(self.now, request) {
                Ok(()) => {
                    self.queued += 1;
                    self.advance_engine(e, sink);
                }
                Err(reason) => self.fail_request(&request, reason, sink),
            },
        }
    }

    pub(super) fn advance_engine<S: RequestSink>(&mut self, id: EngineId, sink: &mut S) {
        let e = id.index();
        let engine = &mut self.engines[e];
        let (q0, s0, b0) = (engine.queued(), engine.in_service(), engine.busy_units());
        let next = engine.advance(self.now, &mut self.done);
        let (q1, s1, b1) = (engine.queued(), engine.in_service(), engine.busy_units());
        self.queued = self.queued + q1 - q0;
        self.in_service = self.in_service + s1 - s0;
        self.busy = self.busy + b1 - b0;
        let (mut done, mut tokens) = (0u64, 0u64);
        let mut finished = std::mem::take(&mut self.done);
        for c in finished.drain(..) {
            if let Some(r) = &mut self.rollout {
                r.on_completion(&self.kube, &c);
            }
            done += 1;
            tokens += c.request.output_tokens as u64;
            if self.client_completed(&c.request) {
                self.recorder.on_completion(&c, sink);
            }
        }
        self.done = finished;
        self.gauges.update(e, self.now, (q1, s1, b1), done, tokens);
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
        let slot = &mut self.wake[e];
        if next != slot.at {
            slot.generation = slot.generation.wrapping_add(1);
            slot.at = next;
            if let Some(t) = next {
                self.queue.push(
                    t,
                    Event::Wake {
                        engine: id,
                        generation: slot.generation,
                    },
                );
            }
        }
        // A pod's engine has the pod's index.
        let pod = PodId(id.0); // a pod's engine has the pod's index
        if self.router.is_some() && q1 + s1 == 0 && self.kube.is_terminating(pod) {
            self.pod_gone(pod, sink);
        }
    }

    /// Stops engine `e` at once; its requests fail with `reason`.
    pub(super) fn abort_engine<S: RequestSink>(
        &mut self,
        id: EngineId,
        reason: DropReason,
        sink: &mut S,
    ) {
        let e = id.index();
        let engine = &mut self.engines[e];
        let (q0, s0, b0) = (engine.queued(), engine.in_service(), engine.busy_units());
        engine.abort(&mut self.failed);
        self.gauges.update(e, self.now, (0, 0, 0), 0, 0);
        self.queued -= q0;
        self.in_service -= s0;
        self.busy -= b0;
        let slot = &mut self.wake[e];
        slot.generation = slot.generation.wrapping_add(1);
        slot.at = None;
        let mut failed = std::mem::take(&mut self.failed);
        for r in failed.drain(..) {
            self.fail_request(&r, reason, sink);
        }
        self.failed = failed;
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
    }
}
