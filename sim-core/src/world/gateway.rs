//! The gateway in front of a service that scales to zero: while no pod is Ready, requests wait
//! here (Knative's activator; for KEDA, the queue or the HTTP add-on's interceptor) instead of
//! being refused, and go to the router in arrival order as soon as a pod is Ready. Their wait
//! counts in their latency. A held request counts as queued in the world's totals.

use super::{Event, World};
use crate::engine::SimDuration;
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
    /// Holds `request` at the gateway.
    pub(super) fn hold<S: RequestSink>(&mut self, request: Request, sink: &mut S) {
        let g = &mut self.gateway;
        g.held.push_back(request);
        g.waited += 1;
        self.queued += 1;
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
        self.arm_gateway_timeout();
        self.kpa_poke(sink);
    }

    fn arm_gateway_timeout(&mut self) {
        let g = &mut self.gateway;
        if g.armed {
            return;
        }
        if let (Some(t), Some(head)) = (g.timeout, g.held.front()) {
            let at = head.arrival + t;
            if at < self.horizon {
                g.armed = true;
                self.queue.push(at.max(self.now), Event::GatewayTimeout);
            }
        }
    }

    /// Fails the requests that have waited longer than the timeout.
    pub(super) fn on_gateway_timeout<S: RequestSink>(&mut self, sink: &mut S) {
        self.gateway.armed = false;
        let Some(t) = self.gateway.timeout else {
            return;
        };
        while let Some(head) = self.gateway.held.front().copied() {
            if head.arrival + t > self.now {
                break;
            }
            self.gateway.held.pop_front();
            self.gateway.timed_out += 1;
            self.queued -= 1;
            self.fail_request(&head, DropReason::NoReadyReplica, sink);
        }
        self.recorder
            .set_state(self.queued, self.in_service, self.busy);
        self.arm_gateway_timeout();
    }

    /// Sends every held request to the router while a pod is Ready.
    pub(super) fn release_gateway<S: RequestSink>(&mut self, sink: &mut S) {
        while let Some(r) = self.gateway.held.front().copied() {
            let Some(router) = &mut self.router else {
                return;
            };
            let Some(e) = router.pick(self.kube.ready(), &self.engines, r.prefix) else {
                return;
            };
            self.gateway.held.pop_front();
            if self.kube.fail.is_hung(crate::ids::PodId(e.0)) {
                self.queued -= 1;
                self.fail_request(&r, DropReason::PodFailed, sink);
                continue;
            }
            match self.engines[e.index()].admit(self.now, r) {
                // Already counted as queued while it waited.
                Ok(()) => self.advance_engine(e, sink),
                Err(reason) => {
                    self.queued -= 1;
                    self.fail_request(&r, reason, sink);
                    self.recorder
                        .set_state(self.queued, self.in_service, self.busy);
                }
            }
        }
    }

    /// Whether held requests can go now.
    #[inline]
    pub(super) fn gateway_ready(&self) -> bool {
        !self.gateway.held.is_empty() && !self.kube.ready().is_empty()
    }
}
