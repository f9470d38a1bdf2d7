//! The gateway in front of a service that scales to zero: while no pod is Ready, requests wait
//! here (Knative's activator; for KEDA, the queue or the HTTP add-on's interceptor) instead of
//! being refused, and go to the router in arrival order as soon as a pod is Ready. Their wait
//! counts in their latency. A held request counts as queued in the world's totals.

use super::{Event, World};
use crate::engine::SimDuration;
use crate::ids::ServiceId;
use crate::metrics::RequestSink;
use crate::serving::{DropReason, ReplicaEngine, Request};
use std::collections::VecDeque;

/// Requests waiting for a Ready pod.
#[derive(Debug, Default)]
pub(super) struct Gateway {
    /// Whether requests wait here at all (a KEDA or Knative scenario).
    pub(super) enabled: bool,
    /// How long a request may wait before it fails (`None`: as long as it takes).
    timeout: Option<SimDuration>,
    held: VecDeque<Request>,
    /// Whether a timeout event is pending.
    armed: bool,
    /// Requests that ever waited here, and those that timed out.
    pub(super) waited: u64,
    pub(super) timed_out: u64,
}

impl Gateway {
    /// A gateway that holds requests, failing those that wait longer than `timeout`.
    pub(super) fn holding(timeout: Option<SimDuration>) -> Gateway {
        Gateway {
            enabled: true,
            timeout,
            ..Gateway::default()
        }
    }

    /// Requests waiting.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.held.len()
    }
}

impl World {
    /// Holds `request` at its service's gateway.
    pub(super) fn hold<S: RequestSink>(&mut self, svc: ServiceId, request: Request, sink: &mut S) {
        let sv = &mut self.svcs[svc.index()];
        let g = &mut sv.gateway;
        g.held.push_back(request);
        g.waited += 1;
        sv.queued += 1;
        self.queued += 1;
        self.publish_state(svc);
        self.arm_gateway_timeout(svc);
        self.kpa_poke(svc, sink);
    }

    fn arm_gateway_timeout(&mut self, svc: ServiceId) {
        let g = &mut self.svcs[svc.index()].gateway;
        if g.armed {
            return;
        }
        if let (Some(t), Some(head)) = (g.timeout, g.held.front()) {
            let at = head.arrival + t;
            if at < self.horizon {
                g.armed = true;
                self.queue
                    .push(at.max(self.now), Event::GatewayTimeout { svc });
            }
        }
    }

    /// Fails the requests that have waited longer than the timeout.
    pub(super) fn on_gateway_timeout<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let g = &mut self.svcs[svc.index()].gateway;
        g.armed = false;
        let Some(t) = g.timeout else {
            return;
        };
        while let Some(head) = self.svcs[svc.index()].gateway.held.front().copied() {
            if head.arrival + t > self.now {
                break;
            }
            let sv = &mut self.svcs[svc.index()];
            sv.gateway.held.pop_front();
            sv.gateway.timed_out += 1;
            sv.queued -= 1;
            self.queued -= 1;
            self.fail_request(&head, DropReason::NoReadyReplica, sink);
        }
        self.publish_state(svc);
        self.arm_gateway_timeout(svc);
    }

    /// Sends every held request to the router while a pod is Ready.
    pub(super) fn release_gateway<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        loop {
            let sv = &mut self.svcs[svc.index()];
            let Some(r) = sv.gateway.held.front().copied() else {
                return;
            };
            let Some(router) = &mut sv.router else {
                return;
            };
            let version = Some(self.kube.ready_version(svc));
            let Some(e) = router.pick(
                self.kube.ready(svc),
                version,
                &sv.engines,
                r.prefix,
                r.adapter,
            ) else {
                return;
            };
            if let Some(l) = &mut sv.lora {
                if r.adapter > 0 {
                    l.routed(sv.engines[e.index()].lora_resident(r.adapter));
                }
            }
            sv.gateway.held.pop_front();
            if self.kube.fail.is_hung(self.kube.pod_at(svc, e)) {
                sv.queued -= 1;
                self.queued -= 1;
                self.fail_request(&r, DropReason::PodFailed, sink);
                continue;
            }
            match sv.engines[e.index()].admit(self.now, r) {
                // Already counted as queued while it waited.
                Ok(()) => self.advance_engine(svc, e, sink),
                Err(reason) => {
                    sv.queued -= 1;
                    self.queued -= 1;
                    self.fail_request(&r, reason, sink);
                    self.publish_state(svc);
                }
            }
        }
    }

    /// Whether a service's held requests can go now.
    #[inline]
    pub(super) fn gateway_ready(&self, svc: ServiceId) -> bool {
        !self.svcs[svc.index()].gateway.held.is_empty() && !self.kube.ready(svc).is_empty()
    }
}
