//! One service's state: its Deployment's engines, router, traffic, per-service controllers and
//! statistics. Cluster state (nodes, pods, the scheduler, quotas, node autoscalers) is in
//! [`super::kube::Kube`]; a pod names its service and its engine's slot there.

use super::{autoscale, client, gateway, keda, knative, kube, tenants, SharedPrefixes};
use crate::engine::RngStreams;
use crate::ids::{EngineId, ServiceId};
use crate::metrics::Recorder;
use crate::scenario::{EngineSpec, Scenario, ServiceSpec};
use crate::serving::{Engine, PrefixTable, Router};
use crate::traffic::{Arrival, TokenSampler, TrafficSource};
use std::sync::Arc;

/// A service: one Deployment, its traffic and its controllers.
///
/// Laid out in declaration order (`repr(C)`), the fields every request touches first and
/// together: with many services, each request reaches a service whose state is not in the
/// cache, and a few cache lines per request instead of one per field keep a shared cluster of
/// many small services about as fast per request as one large one. Large, rarely used parts
/// are boxed so that they do not spread the hot fields apart.
#[derive(Debug)]
#[repr(C, align(64))]
pub(super) struct Svc {
    // First line: the serving state.
    /// Engines by slot (a pod's engine, or the one shared queue).
    pub(super) engines: Vec<Engine>,
    /// Each engine's wake slot in the world's queue.
    pub(super) wake: Vec<u32>,
    /// Output tokens of its completed requests (whole run), for cost per token.
    pub(super) output_tokens: u64,
    pub(super) queued: u32,
    pub(super) in_service: u32,
    // Second line: what a request checks on its way.
    pub(super) busy: u32,
    /// Its id (its index in the scenario).
    pub(super) id: ServiceId,
    /// Its own statistics, with several services (the run's recorder serves a single one).
    pub(super) recorder: Option<Box<Recorder>>,
    pub(super) tokens: Option<Box<TokenSampler>>,
    /// Per-tenant limits at the gateway (traffic that can carry tenant labels).
    pub(super) tenant_gate: Option<Box<tenants::TenantGate>>,
    /// Every request's prefix hash ids (trace or synthetic), when there are any.
    pub(super) prefix_table: Option<Arc<PrefixTable>>,
    pub(super) shared_prefixes: Option<Box<SharedPrefixes>>,
    /// LoRA adapters' popularity and routing counters, when the service serves adapters.
    pub(super) lora: Option<Box<LoraTraffic>>,
    /// Clients with timeouts and retries, if the traffic has them.
    pub(super) client: Option<Box<client::Client>>,
    /// Model versions and their rollouts, if the scenario has `[[rollout]]`s.
    pub(super) rollout: Option<Box<kube::rollout::Rollouts>>,
    // Then the traffic, the per-engine gauges, the gateway and the router.
    pub(super) source: TrafficSource,
    pub(super) pending: Option<Arrival>,
    pub(super) gauges: autoscale::Gauges,
    /// Requests waiting for a Ready pod (KEDA, Knative).
    pub(super) gateway: gateway::Gateway,
    /// `None`: a shared queue (one engine, no pods).
    pub(super) router: Option<Router>,
    // Cold: read at set-up, by controllers' periodic loops, or at the end.
    /// Its validated spec.
    pub(super) spec: Box<ServiceSpec>,
    pub(super) autoscaler: Option<Box<autoscale::Autoscaler>>,
    pub(super) keda: Option<Box<keda::KedaLoop>>,
    pub(super) kpa: Option<Box<knative::KpaLoop>>,
    pub(super) vpa: Option<Box<kube::vpa::Vpa>>,
    /// Its name (`[service] name`).
    pub(super) name: String,
    /// Its Deployment's namespace.
    pub(super) namespace: String,
}

/// What the world keeps of a service's LoRA adapters.
#[derive(Debug)]
pub(super) struct LoraTraffic {
    /// Cumulative popularity weights of the adapters (empty: requests naming no adapter use
    /// the base model).
    cumulative: Vec<f64>,
    rng: crate::engine::Rng,
    /// Adapter requests routed to a replica, and of those to one with the adapter in a slot.
    pub(super) routed: (u64, u64),
}

impl LoraTraffic {
    /// Popularity `weights` (one per adapter, may be empty), drawn from `rng`.
    pub(super) fn new(weights: &[f64], rng: crate::engine::Rng) -> Self {
        let mut sum = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                sum += w;
                sum
            })
            .collect();
        LoraTraffic {
            cumulative,
            rng,
            routed: (0, 0),
        }
    }

    /// The `adapter` value of a request that names no adapter: one drawn by popularity, or 0.
    #[inline]
    pub(super) fn draw(&mut self) -> u16 {
        use rand::RngExt;
        let Some(&total) = self.cumulative.last() else {
            return 0;
        };
        let u = self.rng.random::<f64>() * total;
        let k = self.cumulative.partition_point(|&c| c <= u);
        (k.min(self.cumulative.len() - 1) + 1) as u16
    }

    /// Counts an adapter request routed to a replica that had (`hit`) or lacked its adapter.
    #[inline]
    pub(super) fn routed(&mut self, hit: bool) {
        self.routed.0 += 1;
        self.routed.1 += u64::from(hit);
    }
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
    /// Whether the event loop checks this service after every event (a rollout, or a gateway
    /// holding requests for a Ready pod).
    #[inline]
    pub(super) fn watched(&self) -> bool {
        self.rollout.is_some() || self.gateway.enabled
    }

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
    pub(super) fn own_recorder(s: &Scenario) -> Box<Recorder> {
        let mut r = Recorder::new(s.warmup, s.horizon, s.sample_interval, s.slo_latency)
            .for_service()
            .with_windows(&s.windows);
        if super::tenants::TenantGate::new(s).is_some() {
            r = r.with_tenants();
        }
        match s.service.engine {
            EngineSpec::Vllm(_) => Box::new(r.with_tokens(s.slo_ttft, s.slo_tpot)),
            EngineSpec::Triton { .. } => Box::new(r),
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
