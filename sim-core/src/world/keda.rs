//! KEDA in the loop: the scale loop polls the triggers every `pollingInterval` (the first check
//! at creation) and moves the Deployment between zero (or the idle count) and its minimum; the HPA
//! KEDA generated (the world's HPA loop) reads the triggers as External metrics at each sync.

use super::kube::PodPhase;
use super::{Event, World};
use crate::engine::{SimDuration, SimTime};
use crate::hpa::state::NamedValue;
use crate::ids::ServiceId;
use crate::keda::{QueryAgg, ScaleExecutor, ScaledObject, TriggerKind};
use crate::metrics::RequestSink;

/// KEDA's scale loop for the one ScaledObject.
#[derive(Debug)]
pub(super) struct KedaLoop {
    so: ScaledObject,
    exec: ScaleExecutor,
    /// Checks run; scalings KEDA itself made (from zero, to zero or idle, to min).
    pub(super) polls: u64,
    pub(super) activations: u64,
    pub(super) deactivations: u64,
}

impl KedaLoop {
    /// The scale loop of `so`, created at time 0.
    pub(super) fn new(so: &ScaledObject) -> KedaLoop {
        KedaLoop {
            exec: ScaleExecutor::new(so, 0),
            so: so.clone(),
            polls: 0,
            activations: 0,
            deactivations: 0,
        }
    }
}

impl World {
    /// The current value of trigger `i` (milli-units), as its scaler reports it.
    fn trigger_value(&self, svc: ServiceId, i: usize) -> i64 {
        let sv = &self.svcs[svc.index()];
        let Some(k) = &sv.keda else { return 0 };
        match &k.so.triggers[i].kind {
            TriggerKind::Queue { scale_on_in_flight } => {
                // Requests held at the gateway are counted in `queued`.
                let n = sv.queued
                    + if *scale_on_in_flight {
                        sv.in_service
                    } else {
                        0
                    };
                n as i64 * 1000
            }
            TriggerKind::Prometheus { query } => {
                let mut n = 0i64;
                let mut acc: Option<i64> = None;
                for p in self.kube.pod_views(svc) {
                    if !matches!(p.phase, PodPhase::Ready | PodPhase::Terminating) {
                        continue;
                    }
                    let mig = self.kube.on_mig(p.id);
                    let Some(v) = sv.gauges.pod_metric(p.slot.index(), &query.metric, mig) else {
                        continue;
                    };
                    n += 1;
                    acc = Some(match (acc, query.agg) {
                        (None, _) => v,
                        (Some(a), QueryAgg::Sum | QueryAgg::Avg) => a.saturating_add(v),
                        (Some(a), QueryAgg::Max) => a.max(v),
                        (Some(a), QueryAgg::Min) => a.min(v),
                    });
                }
                // An empty result reads 0 (ignoreNullValues); negative values become 0.
                let v = match (acc, query.agg) {
                    (None, _) => 0,
                    (Some(a), QueryAgg::Avg) => a / n,
                    (Some(a), _) => a,
                };
                v.max(0)
            }
        }
    }

    /// The triggers' values as the External metrics of KEDA's HPA (empty without KEDA).
    pub(super) fn keda_metrics(&self, svc: ServiceId) -> Vec<NamedValue> {
        let Some(k) = &self.svcs[svc.index()].keda else {
            return Vec::new();
        };
        (0..k.so.triggers.len())
            .map(|i| NamedValue {
                name: k.so.triggers[i].metric_name.clone(),
                value: self.trigger_value(svc, i),
            })
            .collect()
    }

    /// One check of the scale loop: is any trigger active; KEDA's own 0↔1 scaling.
    pub(super) fn on_keda_poll<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let Some(k) = &self.svcs[svc.index()].keda else {
            return;
        };
        let active = (0..k.so.triggers.len())
            .any(|i| self.trigger_value(svc, i) > k.so.triggers[i].activation);
        let next = self.now + SimDuration::from_secs(k.so.polling_interval as u64);
        let current = self.kube.desired(svc) as i32;
        let k = self.svcs[svc.index()].keda.as_mut().expect("checked above");
        k.polls += 1;
        let to = k.exec.request_scale(self.now.0 as i64, active, current);
        if let Some(to) = to {
            if current == 0 && to > 0 {
                k.activations += 1;
            }
            if to < current && to <= k.so.idle_replica_count.unwrap_or(0) {
                k.deactivations += 1;
            }
            self.scale_deployment_to(svc, to.max(0) as u32, sink);
        }
        if next < self.horizon {
            self.queue.push(next, Event::KedaPoll { svc });
        }
    }

    /// When a service's KEDA first checks its triggers.
    pub(super) fn keda_first_poll(&self, svc: ServiceId) -> Option<SimTime> {
        self.svcs[svc.index()].keda.as_ref().map(|_| SimTime::ZERO)
    }
}
