//! One service's state: its Deployment's engines, router, traffic, per-service controllers and
//! statistics. Cluster state (nodes, pods, the scheduler, quotas, node autoscalers) is in
//! [`super::kube::Kube`]; a pod names its service and its engine's slot there.

use super::{autoscale, client, gateway, keda, knative, kube, tenants, SharedPrefixes, WakeSlot};
use crate::engine::RngStreams;
use crate::ids::{EngineId, ServiceId};
use crate::metrics::Recorder;
use crate::scenario::{EngineSpec, Scenario, ServiceSpec};
use crate::serving::{Engine, PrefixTable, Router};
use crate::traffic::{Arrival, TokenSampler, TrafficSource};
use std::sync::Arc;

/// A service: one Deployment, its traffic and its controllers.
#[derive(Debug)]
pub(super) struct Svc {
    /// Its id (its index in the scenario).
    pub(super) id: ServiceId,
    /// Its name (`[service] name`).
    pub(super) name: String,
    /// Its Deployment's namespace.
    pub(super) namespace: String,
    /// Its validated spec.
    pub(super) spec: ServiceSpec,
    /// Engines by slot (a pod's engine, or the one shared queue).
    pub(super) engines: Vec<Engine>,
    /// Wake-ups by slot.
    pub(super) wake: Vec<WakeSlot>,
    /// `None`: a shared queue (one engine, no pods).
    pub(super) router: Option<Router>,
    pub(super) source: TrafficSource,
    pub(super) tokens: Option<TokenSampler>,
    /// Per-tenant limits at the gateway (traffic that can carry tenant labels).
    pub(super) tenant_gate: Option<tenants::TenantGate>,
    /// Every request's prefix hash ids (trace or synthetic), when there are any.
    pub(super) prefix_table: Option<Arc<PrefixTable>>,
    pub(super) shared_prefixes: Option<SharedPrefixes>,
    pub(super) pending: Option<Arrival>,
    /// Its own statistics, with several services (the run's recorder serves a single one).
    pub(super) recorder: Option<Recorder>,
    pub(super) queued: u32,
    pub(super) in_service: u32,
    pub(super) busy: u32,
    /// Output tokens of its completed requests (whole run), for cost per token.
    pub(super) output_tokens: u64,
    pub(super) gauges: autoscale::Gauges,
    pub(super) autoscaler: Option<autoscale::Autoscaler>,
    /// Requests waiting for a Ready pod (KEDA, Knative).
    pub(super) gateway: gateway::Gateway,
    pub(super) keda: Option<keda::KedaLoop>,
    pub(super) kpa: Option<knative::KpaLoop>,
    pub(super) vpa: Option<kube::vpa::Vpa>,
    /// Clients with timeouts and retries, if the traffic has them.
    pub(super) client: Option<client::Client>,
    /// Model versions and their rollouts, if the scenario has `[[rollout]]`s.
    pub(super) rollout: Option<kube::rollout::Rollouts>,
}

/// The name of service `svc`'s random stream `what`: today's names for the first service, so a
/// single-service scenario draws what it always drew; `service/{name}/…` for the others.
pub(super) fn stream_name(svc: ServiceId, name: &str, what: &str) -> String {
    if svc.0 == 0 {
        what.to_string()
    } else {
        format!("service/{name}/{what}")
    }
}

impl Svc {
    /// The service's own recorder (with several services), first brought up to `now`: it is
    /// advanced only when its service is touched, which closes the same intervals with the same
    /// state as advancing it at every event.
    #[inline]
    pub(super) fn recorder_at(&mut self, now: crate::engine::SimTime) -> Option<&mut Recorder> {
        let r = self.recorder.as_mut()?;
        r.advance_to(now);
        Some(r)
    }

    /// A service's own recorder (with several services).
    pub(super) fn own_recorder(s: &Scenario) -> Recorder {
        let r = Recorder::new(s.warmup, s.horizon, s.sample_interval, s.slo_latency);
        match s.service.engine {
            EngineSpec::Vllm(_) => r.with_tokens(s.slo_ttft, s.slo_tpot),
            EngineSpec::Triton { .. } => r,
        }
    }

    /// A random stream of this service (see [`stream_name`]).
    pub(super) fn stream(&self, streams: &RngStreams, what: &str) -> crate::engine::Rng {
        streams.stream(&stream_name(self.id, &self.name, what))
    }

    /// The slot of a new engine.
    pub(super) fn next_slot(&self) -> EngineId {
        EngineId(self.engines.len() as u32)
    }
}
