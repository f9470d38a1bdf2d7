//! The world: builds the cluster, the service and the traffic from a scenario, then runs events to
//! the horizon. Serving events live in `serving.rs`, node and pod lifecycles in `kube.rs`.

mod autoscale;
mod client;
mod disagg;
mod gateway;
mod keda;
mod knative;
mod kube;
mod routes;
mod service;
mod serving;
mod tenants;
mod traffic;

pub use kube::{share_of, MEASURED_SHARES};

use crate::engine::{EventQueue, Next, RngStreams, SimDuration, SimTime};
use crate::ids::{EngineId, NodeId, PodId, PoolId, ServiceId};
use crate::metrics::{Recorder, RequestSink};
use crate::results::{summarise, ClusterOutcome, EngineTotals, RunResult};
use crate::scenario::{Dispatch, EngineSpec, Scenario, TrafficSpec, VllmSpec};
use crate::serving::{
    Completion, DropReason, Engine, Prefix, PrefixTable, Request, Router, ServiceTime,
    SplitwiseConfig, SplitwiseEngine, StaticConfig, StaticEngine, TritonEngine, VllmConfig,
    VllmEngine,
};
use crate::traffic::TraceFeed;
use crate::traffic::{TokenSampler, TraceError, TraceRecord};
use kube::Kube;
use service::Svc;
use std::fmt;
use std::sync::Arc;

/// Data the scenario refers to that the caller has read (the core never opens files).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The trace's records held in memory, for `kind = "trace"` (used when `feeds` is empty).
    pub trace: Option<Vec<TraceRecord>>,
    /// Every trace the traffic names, in order (see [`TrafficSpec::traces`]): streamed,
    /// in memory, or rate tables.
    pub feeds: Vec<TraceFeed>,
    /// (prompt, output) token pairs of `[traffic.tokens] sample`.
    pub token_sample: Option<Vec<(u32, u32)>>,
    /// The table of the trace's prefix hash ids (a Mooncake trace read for prefix caching);
    /// each record's span into it is in the record.
    pub trace_prefixes: Option<PrefixTable>,
    /// The measured step-time model `[service.vllm.profile]` names, built from its files.
    pub step_cost: Option<crate::costmodel::StepCost>,
}

/// Shared prompt prefixes drawn per request (`[traffic.tokens.prefix]`).
#[derive(Debug)]
struct SharedPrefixes {
    /// Each group's span in the prefix table.
    groups: Vec<Prefix>,
    tokens: u32,
    share: f64,
    rng: crate::engine::Rng,
}

/// A world could not be built from a scenario and its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The scenario replays a trace but no records were given.
    MissingTrace,
    /// The scenario draws token counts from a sample but no pairs were given.
    MissingTokenSample,
    /// A trace could not be opened or its header read.
    Trace(TraceError),
    /// The scenario names a measured profile but no step-time model was given.
    MissingProfile,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingTrace => {
                f.write_str("the scenario replays a trace, but no trace records were loaded")
            }
            BuildError::MissingTokenSample => f.write_str(
                "the scenario draws token counts from a sample trace, but no pairs were loaded",
            ),
            BuildError::Trace(e) => write!(f, "{e}"),
            BuildError::MissingProfile => f.write_str(
                "the scenario names a measured profile, but no step-time tables were loaded",
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Events: a plain, small enum; components are addressed by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// The pending arrival of a service's traffic source.
    Arrival { svc: ServiceId },
    /// The pending arrival of the model-aware gateway's traffic.
    GatewayArrival,
    /// A replaced engine wake-up, left in the queue only to visit its time as before (see
    /// [`World::keeps_superseded`]); nothing happens.
    Superseded,
    /// A node finished provisioning.
    NodeReady { node: NodeId },
    /// A pod's readiness probe first succeeds; stale if `generation` no longer matches.
    PodReady { pod: PodId, generation: u32 },
    /// A terminating pod's grace period ends.
    PodGraceExpired { pod: PodId, generation: u32 },
    /// A `[[service.scale]]` step.
    ScaleDeployment { svc: ServiceId, step: u32 },
    /// A `[[node_pool.scale]]` step.
    ScalePool { pool: PoolId, step: u32 },
    /// The metrics pipeline scrapes every pod of a service.
    Scrape { svc: ServiceId },
    /// A service's HPA reconciles.
    HpaSync { svc: ServiceId },
    /// The Cluster Autoscaler scans.
    CaScan,
    /// A `mig_reconfigure` step of a node pool.
    MigReconfigure { pool: PoolId, step: u32 },
    /// KEDA's scale loop checks the triggers.
    KedaPoll { svc: ServiceId },
    /// Knative's autoscaler collects the pods' and the activator's concurrency.
    KpaScrape { svc: ServiceId },
    /// Knative's decider and PodAutoscaler run.
    KpaTick { svc: ServiceId },
    /// The oldest request held at the gateway may have waited too long.
    GatewayTimeout { svc: ServiceId },
    /// Karpenter's provisioning batch timer.
    KarpenterBatch,
    /// Karpenter's disruption controller polls.
    KarpenterDisrupt,
    /// A Karpenter disruption command's validation delay ends.
    KarpenterExecute,
    /// The VPA recommender runs.
    VpaRecommend { svc: ServiceId },
    /// The VPA updater runs.
    VpaUpdate { svc: ServiceId },
    /// A failure's step (`kube/failure.rs`).
    Failure(kube::failure::FailureEvent),
    /// A client's timeout or retry (`client.rs`).
    Client(ServiceId, client::ClientEvent),
    /// A `[[rollout]]` starts (`step` 0) or its canary weight changes (`step` ≥ 1).
    Rollout {
        svc: ServiceId,
        rollout: u32,
        step: u32,
    },
    /// The Deployment controller syncs (a pod's `minReadySeconds` ran out).
    DeploymentSync { svc: ServiceId },
    /// Kueue-style batch work.
    Batch(kube::kueue::BatchEvent),
    /// A KV cache reached its decode replica (`disagg.rs`).
    KvArrived { transfer: u64 },
}

/// A running simulation.
#[derive(Debug)]
pub struct World {
    name: String,
    seed: u64,
    horizon: SimTime,
    warmup_s: f64,
    now: SimTime,
    queue: EventQueue<Event>,
    streams: RngStreams,
    /// Every service, by id.
    svcs: Vec<Svc>,
    /// The model-aware gateway, when `[[route]]` tables send it traffic.
    routes: Option<Box<routes::ModelGateway>>,
    next_id: u64,
    /// The whole run's statistics (every service).
    recorder: Recorder,
    done: Vec<Completion>,
    failed: Vec<Request>,
    /// Requests queued, in service and busy units over every service.
    queued: u32,
    in_service: u32,
    busy: u32,
    events: u64,
    /// The service and engine of each of the queue's wake slots.
    wake_owner: Vec<(ServiceId, EngineId)>,
    kube: Kube,
    /// Disaggregated prefill and decode, if the service has it.
    disagg: Option<Box<disagg::Disagg>>,
}

impl World {
    /// Builds a world. `Inputs` must hold the trace for trace-driven scenarios.
    pub fn new(s: &Scenario, mut inputs: Inputs) -> Result<World, BuildError> {
        let streams = RngStreams::new(s.seed);
        let multi = !s.others.is_empty();
        let mut feeds = traffic::Feeds::new(&mut inputs);
        let mut svcs = Vec::with_capacity(1 + s.others.len());
        for (i, v) in s.services().enumerate() {
            let svc = build_service(ServiceId(i as u32), v, &streams, &mut inputs, &mut feeds)?;
            svcs.push(Svc {
                recorder: multi.then(|| Svc::own_recorder(v)),
                ..svc
            });
        }
        // The gateway's traces come after every service's.
        let routes = match &s.gateway {
            None => None,
            Some(g) => {
                let source = traffic::build(
                    &g.view.traffic,
                    &streams,
                    "gateway/traffic",
                    &mut feeds,
                    g.view.tokens.as_ref(),
                    &[],
                )?;
                Some(Box::new(routes::ModelGateway::new(g, source, &streams)))
            }
        };
        let mut world = World {
            name: s.name.clone(),
            seed: s.seed,
            horizon: SimTime(s.horizon.0),
            warmup_s: s.warmup.as_secs_f64(),
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(64),
            streams,
            svcs,
            routes,
            next_id: 0,
            recorder: {
                // With several services, targets are each service's own: the run's totals have
                // none (each service's attainment is in its entry).
                let (latency, ttft, tpot) = if multi && s.disagg.is_none() {
                    (None, None, None)
                } else {
                    (s.slo_latency, s.slo_ttft, s.slo_tpot)
                };
                let mut r = Recorder::new(s.warmup, s.horizon, s.sample_interval, latency)
                    .with_windows(&s.windows);
                if tenants::TenantGate::new(s).is_some() {
                    r = r.with_tenants();
                }
                if s.services()
                    .any(|v| matches!(v.service.engine, EngineSpec::Vllm(_)))
                {
                    r.with_tokens(ttft, tpot)
                } else {
                    r
                }
            },
            done: Vec::with_capacity(64),
            failed: Vec::new(),
            queued: 0,
            in_service: 0,
            busy: 0,
            events: 0,
            wake_owner: Vec::new(),
            kube: Kube::new(s, &streams),
            disagg: s
                .disagg
                .as_deref()
                .map(|d| Box::new(disagg::Disagg::new(d))),
        };
        for (i, v) in s.services().enumerate() {
            let svc = ServiceId(i as u32);
            let split = world.svcs[i].stream(&world.streams, "rollout/canary-split");
            let r = kube::rollout::Rollouts::new(v, &world.svcs[i].spec, split);
            world.svcs[i].rollout = r.map(Box::new);
            for (t, ev) in world.svcs[i]
                .rollout
                .iter()
                .flat_map(|r| r.first_events(svc))
            {
                if t < world.horizon {
                    world.queue.push(t, ev);
                }
            }
        }
        for i in 0..world.svcs.len() {
            for e in 0..world.svcs[i].engines.len() {
                world.add_wake_slot(ServiceId(i as u32), EngineId(e as u32));
            }
        }
        if world.keeps_superseded() {
            world.queue.keep_superseded(Event::Superseded);
        }
        world.start();
        for i in 0..world.svcs.len() {
            let svc = ServiceId(i as u32);
            if world.svcs[i].rollout.is_some() {
                world.observe_rollout(svc);
            }
            world.learn_mix_labels(svc);
        }
        if let Some(ca) = &world.kube.ca {
            let t = ca.first_scan();
            if t < world.horizon {
                world.queue.push(t, Event::CaScan);
            }
        }
        if world.kube.karpenter.is_some() {
            let t = SimTime(crate::scenario::karpenter::defaults::DISRUPTION_POLL.0);
            if t < world.horizon {
                world.queue.push(t, Event::KarpenterDisrupt);
            }
        }
        for i in 0..world.svcs.len() {
            let svc = ServiceId(i as u32);
            let sv = &world.svcs[i];
            let mut first: Vec<(SimTime, Event)> = Vec::new();
            first.extend(sv.vpa.iter().flat_map(|v| v.first_events(svc)));
            first.extend(sv.autoscaler.iter().flat_map(|a| a.first_events(svc)));
            for (t, ev) in first {
                if t < world.horizon {
                    world.queue.push(t, ev);
                }
            }
            if let Some(t) = world.keda_first_poll(svc) {
                world.queue.push(t, Event::KedaPoll { svc });
            }
            let first: Vec<(SimTime, Event)> = world.svcs[i]
                .kpa
                .iter()
                .flat_map(|k| k.first_events(svc))
                .collect();
            for (t, ev) in first {
                if t < world.horizon {
                    world.queue.push(t, ev);
                }
            }
        }
        Ok(world)
    }

    /// A new engine for service `svc`'s replica in `slot`, of model version `version`.
    fn new_engine(&self, svc: ServiceId, slot: EngineId, version: u32) -> Engine {
        let sv = &self.svcs[svc.index()];
        let id = slot.0;
        let spec = sv
            .rollout
            .as_ref()
            .and_then(|r| r.service(version))
            .unwrap_or(&sv.spec);
        match &spec.engine {
            EngineSpec::Triton {
                batching,
                service_time,
            } => Engine::Triton(TritonEngine::new(
                batching.clone(),
                waiting_limit(spec.max_queue_size),
                1,
                ServiceTime::new(service_time),
                sv.stream(&self.streams, &format!("service/pod/{id}/service-time")),
                id,
            )),
            EngineSpec::Vllm(v) if v.static_batching.is_some() => {
                let (batch_size, timeout) = v.static_batching.unwrap_or_default();
                Engine::Static(StaticEngine::new(
                    StaticConfig {
                        batch_size,
                        timeout,
                        block_size: v.block_size,
                        kv_blocks: v.num_gpu_blocks,
                        max_queue_size: waiting_limit(spec.max_queue_size),
                    },
                    v.step.clone(),
                    id,
                ))
            }
            EngineSpec::Vllm(v) if v.splitwise_batching.is_some() => {
                Engine::Splitwise(SplitwiseEngine::new(
                    SplitwiseConfig {
                        max_batch_size: v.max_num_seqs,
                        max_batch_tokens: v.max_num_batched_tokens,
                        max_preemptions: v.splitwise_batching.unwrap_or_default(),
                        block_size: v.block_size,
                        kv_blocks: v.num_gpu_blocks,
                        max_queue_size: waiting_limit(spec.max_queue_size),
                    },
                    v.step.clone(),
                    id,
                ))
            }
            EngineSpec::Vllm(v) => {
                let e = VllmEngine::new(
                    VllmConfig {
                        max_num_seqs: v.max_num_seqs,
                        max_num_batched_tokens: v.max_num_batched_tokens,
                        block_size: v.block_size,
                        kv_blocks: v.num_gpu_blocks,
                        max_queue_size: waiting_limit(spec.max_queue_size),
                    },
                    v.step.clone(),
                    id,
                );
                let e = match &v.lora {
                    Some(l) => e.with_lora(l.engine_config()),
                    None => e,
                };
                let e = match &sv.prefix_table {
                    Some(t) if v.prefix_caching => e.with_prefixes(t.clone()),
                    _ => e,
                };
                let mut e = Engine::Vllm(match &v.kv_tiers {
                    Some(tiers) => e.with_kv_tiers(tiers),
                    None => e,
                });
                if sv.router.as_ref().is_some_and(Router::needs_holders) {
                    e.track_holders();
                }
                e
            }
        }
    }

    /// Gives engine `e` of `svc` (its newest) a wake slot in the queue.
    fn add_wake_slot(&mut self, svc: ServiceId, e: EngineId) {
        let slot = self.queue.add_wake_slot();
        debug_assert_eq!(slot as usize, self.wake_owner.len());
        debug_assert_eq!(e.index(), self.svcs[svc.index()].wake.len());
        self.svcs[svc.index()].wake.push(slot);
        self.wake_owner.push((svc, e));
    }

    /// Whether a replaced engine wake-up must still be visited at its time: visiting a time
    /// integrates the recorder's floating-point areas (a cluster's cost and GPUs) and Knative's
    /// concurrency, and checks rollouts and gateways, so skipping it could move the last digits
    /// of their outputs. Without any of those, a visit does nothing that a later event would
    /// not do the same: integer areas and interval closes come out the same.
    fn keeps_superseded(&self) -> bool {
        self.kube.has_nodes || self.svcs.iter().any(|sv| sv.kpa.is_some() || sv.watched())
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Runs to the horizon, streaming per-request rows to `sink`.
    pub fn run<S: RequestSink>(mut self, sink: &mut S) -> RunResult {
        for i in 0..self.svcs.len() {
            self.schedule_next_arrival(ServiceId(i as u32), SimTime::ZERO);
        }
        self.schedule_next_gateway_arrival(SimTime::ZERO);
        // Per-event work touches only the services that need it: Knative's concurrency integral,
        // rollouts and activator hold queues. (A service's own recorder is advanced when the
        // service is touched: `Svc::recorder_at`.)
        let kpa: Vec<usize> = (0..self.svcs.len())
            .filter(|&i| self.svcs[i].kpa.is_some())
            .collect();
        let watched: Vec<usize> = (0..self.svcs.len())
            .filter(|&i| self.svcs[i].watched())
            .collect();
        while let Some((t, next)) = self.queue.pop_next() {
            if t >= self.horizon {
                break;
            }
            self.now = t;
            self.events += 1;
            self.recorder.advance_to(t);
            for &i in &kpa {
                let sv = &mut self.svcs[i];
                if let Some(k) = &mut sv.kpa {
                    k.integrate(t, sv.queued + sv.in_service);
                }
            }
            let ev = match next {
                Next::Wake(slot) => {
                    let (svc, engine) = self.wake_owner[slot as usize];
                    self.advance_engine_inline(svc, engine, sink);
                    Event::Superseded
                }
                Next::Event(ev) => ev,
            };
            match ev {
                Event::Superseded => {}
                Event::Arrival { svc } => self.on_arrival(svc, sink),
                Event::GatewayArrival => self.on_gateway_arrival(sink),
                Event::NodeReady { node } => self.on_node_ready(node, sink),
                Event::PodReady { pod, generation } => self.on_pod_ready(pod, generation),
                Event::PodGraceExpired { pod, generation } => {
                    self.on_grace_expired(pod, generation, sink)
                }
                Event::ScaleDeployment { svc, step } => self.on_scale_deployment(svc, step, sink),
                Event::ScalePool { pool, step } => self.on_scale_pool(pool, step, sink),
                Event::Scrape { svc } => self.on_scrape(svc),
                Event::HpaSync { svc } => self.on_hpa_sync(svc, sink),
                Event::CaScan => self.on_ca_scan(sink),
                Event::MigReconfigure { pool, step } => self.on_mig_reconfigure(pool, step, sink),
                Event::KedaPoll { svc } => self.on_keda_poll(svc, sink),
                Event::KpaScrape { svc } => self.on_kpa_scrape(svc),
                Event::KpaTick { svc } => self.on_kpa_tick(svc, sink),
                Event::GatewayTimeout { svc } => self.on_gateway_timeout(svc, sink),
                Event::KarpenterBatch => self.on_karpenter_batch(),
                Event::KarpenterDisrupt => self.on_karpenter_disrupt(sink),
                Event::KarpenterExecute => self.on_karpenter_execute(sink),
                Event::VpaRecommend { svc } => self.on_vpa_recommend(svc),
                Event::VpaUpdate { svc } => self.on_vpa_update(svc, sink),
                Event::Failure(ev) => self.on_failure(ev, sink),
                Event::Client(svc, ev) => self.on_client(svc, ev, sink),
                Event::Rollout { svc, rollout, step } => self.on_rollout(svc, rollout, step, sink),
                Event::DeploymentSync { svc } => self.on_deployment_sync(svc, sink),
                Event::Batch(e) => self.on_batch_event(e, sink),
                Event::KvArrived { transfer } => self.on_kv_arrived(transfer, sink),
            }
            for &i in &watched {
                let svc = ServiceId(i as u32);
                if self.svcs[i].rollout.is_some() {
                    self.after_rollout_event(svc, sink);
                }
                if self.gateway_ready(svc) {
                    self.release_gateway(svc, sink);
                }
            }
        }
        let totals_of = |engines: &[Engine]| {
            let mut totals = EngineTotals::default();
            for e in engines {
                let (b, n) = crate::serving::ReplicaEngine::batch_counts(e);
                totals.batches.0 += b;
                totals.batches.1 += n;
                let llm = match e {
                    Engine::Vllm(v) => Some((v.counters(), v.kv_blocks())),
                    Engine::Splitwise(s) => Some((s.counters(), s.kv_blocks())),
                    _ => None,
                };
                if let Some((c, (_, total))) = llm {
                    totals.preemptions += c.preemptions;
                    totals.recomputed_tokens += c.recomputed_tokens;
                    totals.prefix_tokens.0 += c.prefix_query_tokens;
                    totals.prefix_tokens.1 += c.prefix_hit_tokens;
                    if let Engine::Vllm(v) = e {
                        if let Some(k) = v.kv_tier_counters() {
                            totals.kv_tiers.get_or_insert_with(Default::default).add(&k);
                        }
                        if let Some(l) = v.lora_counters() {
                            let lt = crate::results::LoraTotals {
                                routed: (0, 0),
                                engines: l,
                            };
                            totals.lora.get_or_insert_with(Default::default).merge(&lt);
                        }
                    }
                    let total = total as f64;
                    totals.kv_block_seconds.0 += c.kv_block_seconds;
                    totals.kv_block_seconds.1 += total * c.kv_seconds;
                    let peak = c.kv_blocks_peak as f64 / total;
                    totals.kv_peak_ratio = Some(totals.kv_peak_ratio.map_or(peak, |p| p.max(peak)));
                }
            }
            totals
        };
        let totals_of = |sv: &Svc| {
            let mut totals = totals_of(&sv.engines);
            if let Some(l) = &sv.lora {
                totals.lora.get_or_insert_with(Default::default).routed = l.routed;
            }
            totals
        };
        let mut engines = EngineTotals::default();
        for sv in &self.svcs {
            engines.merge(totals_of(sv));
        }
        // With a client, a request is in flight while the client waits for it.
        let in_flight_of = |sv: &Svc| match &sv.client {
            Some(c) => c.outstanding(),
            None => (sv.queued + sv.in_service) as u64,
        };
        let in_flight: u64 = self.svcs.iter().map(in_flight_of).sum::<u64>()
            + self.disagg.as_ref().map_or(0, |d| d.in_transfer());
        let totals = self.recorder.totals;
        let unaccounted = totals.arrived as i128
            - (totals.completed + totals.dropped_total() + in_flight) as i128;
        debug_assert_eq!(
            unaccounted, 0,
            "conservation: arrived = completed + dropped + in flight"
        );
        let horizon_s = self.horizon.as_secs_f64();
        let mut cluster = self.kube.outcome(self.horizon);
        if let Some(k) = &self.kube.karpenter {
            // Candidate pools Karpenter never launched are left out.
            let mut i = 0;
            cluster.pools.retain(|p| {
                let keep = !k.manages(i) || p.nodes_launched > 0;
                i += 1;
                keep
            });
            cluster.karpenter = Some(k.outcome());
        }
        cluster.vpa = self.svcs[0].vpa.as_ref().map(|v| v.outcome());
        if let Some(k) = &self.kube.kueue {
            cluster.batch = Some(k.outcome(self.horizon));
        }
        if self.kube.kueue.is_some() || self.kube.preemption.preemptions > 0 {
            cluster.preemption = Some(self.kube.preemption.outcome());
        }
        let multi = self.svcs.len() > 1;
        for sv in &self.svcs {
            let who = if multi {
                format!("service `{}`: ", sv.name)
            } else {
                String::new()
            };
            if let Some(a) = &sv.autoscaler {
                if let Some(f) = &a.first_failure {
                    cluster.warnings.push(format!(
                        "{who}{} of {} HPA syncs failed; the first: {f}",
                        a.failures, a.syncs
                    ));
                }
            }
        }
        if let Some(ca) = self.kube.ca.as_ref().filter(|c| c.provision_timeouts > 0) {
            cluster.warnings.push(format!(
                "{} nodes were not ready within the Cluster Autoscaler's max-node-provision-time and were removed; their pools were backed off",
                ca.provision_timeouts
            ));
        }
        if let Some(ca) = self.kube.ca.as_ref().filter(|c| c.unhealthy_scans > 0) {
            cluster.warnings.push(format!(
                "the Cluster Autoscaler skipped {} scans: more nodes were NotReady than max-total-unready-percentage and ok-total-unready-count allow",
                ca.unhealthy_scans
            ));
        }
        for sv in &self.svcs {
            let who = if multi {
                format!("service `{}`: ", sv.name)
            } else {
                String::new()
            };
            if sv.gateway.timed_out > 0 {
                cluster.warnings.push(format!(
                    "{who}{} requests waited at the activator longer than its timeout and failed (no_ready_replica)",
                    sv.gateway.timed_out
                ));
            }
            if sv.gateway.len() > 0 {
                cluster.warnings.push(format!(
                    "{who}{} requests were still waiting at the gateway for a ready pod at the horizon",
                    sv.gateway.len()
                ));
            }
            for e in sv.source.errors() {
                cluster
                    .warnings
                    .push(format!("{who}the trace ended early at an error: {e}"));
            }
        }
        if let Some(g) = &self.routes {
            for (model, n) in &g.unknown {
                cluster.warnings.push(format!(
                    "the gateway dropped {n} requests for model `{model}` (unknown_model): no [[route]] names it and there is no default route"
                ));
            }
            for e in g.errors() {
                cluster
                    .warnings
                    .push(format!("the gateway's trace ended early at an error: {e}"));
            }
        }
        if unaccounted != 0 {
            cluster.warnings.push(format!(
                "internal error: {unaccounted} requests unaccounted for (arrived minus completed, dropped and in flight)"
            ));
        }
        let f = &self.kube.fail;
        if f.hung_for_good > 0 {
            cluster.warnings.push(format!(
                "{} pods hung after a GPU fault and stayed NotReady: without a livenessProbe nothing restarts them",
                f.hung_for_good
            ));
        }
        let failure_counts = crate::metrics::incident::FailureCounts {
            pods_evicted: f.pods_evicted,
            restarts: f.restarts,
            hung: f.hung_for_good,
            requests_failed: [
                DropReason::PodFailed,
                DropReason::PodTerminated,
                DropReason::ClientTimeout,
            ]
            .iter()
            .map(|&r| totals.dropped[r as usize])
            .sum(),
            recovered_at_s: f.recovered_at.map(|t| t.as_secs_f64()),
            degraded_at_horizon: f.degraded(),
        };
        let incidents = std::mem::take(&mut self.kube.fail.incidents);
        // The single-service form's rollout is the run's; with several services each service's
        // is in its own entry.
        let rollout = if multi {
            None
        } else {
            self.rollout_summary(ServiceId(0))
        };
        let service_rollouts: Vec<Option<capsim_results::RolloutSummary>> = if multi {
            (0..self.svcs.len())
                .map(|i| self.rollout_summary(ServiceId(i as u32)))
                .collect()
        } else {
            Vec::new()
        };
        // Per-service results, with several services (from each service's own recorder).
        let mut services = Vec::new();
        let mut service_series = Vec::new();
        let replica_hours = self.kube.replica_seconds(self.horizon);
        for (i, sv) in self.svcs.iter_mut().enumerate() {
            let Some(rec) = sv.recorder.take() else {
                continue;
            };
            let mut rec = rec.finish();
            let (tenants, fairness) = match &sv.tenant_gate {
                Some(g) => g.service_results(&sv.source, rec.tenants.take().as_ref(), rec.window_s),
                None => (Vec::new(), None),
            };
            service_series.push(std::mem::take(&mut rec_series(&rec)));
            let r = summarise(
                &sv.name,
                self.seed,
                horizon_s,
                self.warmup_s,
                rec,
                totals_of(sv),
                ClusterOutcome::none(),
            );
            let mut entry = crate::results::ServiceSummary::from_summary(
                &sv.name,
                &sv.namespace,
                r.summary,
                replica_hours[i] / 3600.0,
            );
            entry.rollout = service_rollouts.get(i).cloned().flatten();
            entry.tenants = tenants;
            entry.fairness = fairness;
            services.push(entry);
        }
        let mut rec = self.recorder.finish();
        let tenant_stats = rec.tenants.take();
        let window_s = rec.window_s;
        let failures = crate::metrics::incident::summarise(
            incidents,
            failure_counts,
            &rec.series,
            rec.slo_target.map(|d| d.as_secs_f64()),
            horizon_s,
        );
        let mut result = summarise(
            &self.name,
            self.seed,
            horizon_s,
            self.warmup_s,
            rec,
            engines,
            cluster,
        );
        result.summary.failures = failures;
        let sv0 = &self.svcs[0];
        result.summary.client = sv0.client.as_ref().map(|c| c.counts);
        result.summary.rollout = rollout;
        if let Some(g) = &sv0.tenant_gate {
            g.results(&sv0.source, tenant_stats.as_ref(), window_s, &mut result);
        }
        if !multi {
            // One service: its results are the run's (its windows are the run's too, so they
            // are not repeated).
            let mut own = crate::results::ServiceSummary::from_summary(
                &sv0.name,
                &sv0.namespace,
                result.summary.clone(),
                replica_hours[0] / 3600.0,
            );
            own.windows.clear();
            services.push(own);
        }
        result.summary.services = services;
        if let Some(a) = self.kube.cost_allocation(self.horizon) {
            use capsim_results::ResourceCost;
            let rc = |c: [f64; 3]| ResourceCost::new(c[0], c[1], c[2]);
            for (i, s) in result.summary.services.iter_mut().enumerate() {
                let r = rc(a.services[i]);
                let done = s.requests.completed;
                let tokens = self.svcs[i].output_tokens;
                s.cost_usd = Some(r.total_usd);
                s.cost = Some(r);
                s.usd_per_million_requests = (done > 0).then(|| r.total_usd / done as f64 * 1e6);
                s.usd_per_million_output_tokens =
                    (tokens > 0).then(|| r.total_usd / tokens as f64 * 1e6);
            }
            if let Some(c) = result.summary.cluster.as_mut() {
                let idle = rc(a.idle);
                c.idle_cost_usd = idle.total_usd;
                c.idle_cost = Some(idle);
                c.batch_cost = a.batch.map(rc);
                c.share_idle = self.kube.shares_idle();
            }
        }
        if let Some(d) = &self.disagg {
            let ss = &result.summary.services;
            let mut p = d.summary(&ss[0].name, &ss[1].name);
            p.prefill_cost_usd = ss[0].cost_usd;
            p.decode_cost_usd = ss[1].cost_usd;
            result.summary.disaggregation = Some(p);
        }
        // Per namespace only when the services span several (one would repeat their sum).
        let namespaces = capsim_results::namespaces(&result.summary.services, horizon_s);
        if namespaces.len() > 1 {
            result.summary.namespaces = namespaces;
        }
        result.service_series = self
            .svcs
            .iter()
            .map(|sv| sv.name.clone())
            .zip(service_series)
            .collect();
        result
    }
}

/// The series a recorder closed (taken by the per-service results).
fn rec_series(rec: &crate::metrics::Recorded) -> Vec<crate::metrics::SeriesRow> {
    rec.series.clone()
}

/// Builds one service's state from its view of the scenario.
fn build_service(
    id: ServiceId,
    s: &Scenario,
    streams: &RngStreams,
    inputs: &mut Inputs,
    feeds: &mut traffic::Feeds,
) -> Result<Svc, BuildError> {
    let svc = &s.service;
    let name = svc.name.clone();
    let sname = |what: &str| service::stream_name(id, &name, what);
    let (engines, router) = match (svc.dispatch, &svc.engine) {
        (
            Dispatch::Shared,
            EngineSpec::Triton {
                batching,
                service_time,
            },
        ) => (
            vec![Engine::Triton(TritonEngine::new(
                batching.clone(),
                waiting_limit(svc.max_queue_size),
                svc.replicas,
                ServiceTime::new(service_time),
                streams.stream(&sname("service/shared/service-time")),
                0,
            ))],
            None,
        ),
        (Dispatch::Shared, EngineSpec::Vllm(_)) => {
            unreachable!("validation puts a vllm engine behind a router")
        }
        (Dispatch::Router(policy), _) => (
            Vec::new(),
            Some(Router::new(
                policy,
                streams.stream(&sname("service/router")),
            )),
        ),
    };
    let mut service = svc.clone();
    if let EngineSpec::Vllm(v) = &mut service.engine {
        if v.profile.is_some() {
            let cost = inputs.step_cost.take().ok_or(BuildError::MissingProfile)?;
            v.step = crate::serving::StepModel::Cost(Box::new(cost));
        }
    }
    let mut prefix_table = None;
    if let Some(table) = inputs.trace_prefixes.take() {
        prefix_table = Some(Arc::new(table));
    }
    let mut shared_prefixes = None;
    if let (Some(p), EngineSpec::Vllm(v)) = (s.tokens.as_ref().and_then(|t| t.prefix), &svc.engine)
    {
        // Each group's prefix is a chain of block hashes; ids are distinct across groups.
        let mut table = PrefixTable::new(v.block_size);
        let units = p.tokens / v.block_size;
        let groups = (0..p.groups as u64)
            .map(|g| table.push((0..units as u64).map(|j| (g << 32) | j)))
            .collect();
        prefix_table = Some(Arc::new(table));
        shared_prefixes = Some(SharedPrefixes {
            groups,
            tokens: p.tokens,
            share: p.share,
            rng: streams.stream(&sname("traffic/prefix")),
        });
    }
    let mut router = router;
    if let (Some(r), Some(t)) = (&mut router, &prefix_table) {
        r.set_prefix_table(t.clone());
    }
    let pairs: Vec<(u32, u32)> = match &s.tokens {
        Some(t) if t.sample.is_some() => inputs
            .token_sample
            .take()
            .filter(|p| !p.is_empty())
            .ok_or(BuildError::MissingTokenSample)?,
        _ => Vec::new(),
    };
    let traffic_prefix = sname("traffic");
    let source = traffic::build(
        &s.traffic,
        streams,
        &traffic_prefix,
        feeds,
        s.tokens.as_ref(),
        &pairs,
    )?;
    let mix = matches!(s.traffic, TrafficSpec::Mix { .. });
    let n = engines.len();
    Ok(Svc {
        id,
        namespace: svc.namespace.clone(),
        name: name.clone(),
        spec: Box::new(service),
        engines,
        wake: Vec::with_capacity(n),
        router,
        source,
        // A mix's streams draw their own token counts.
        tokens: match &s.tokens {
            Some(t) if !mix => Some(Box::new(TokenSampler::new(
                t,
                pairs,
                streams.stream(&sname("traffic/tokens")),
            ))),
            _ => None,
        },
        tenant_gate: tenants::TenantGate::new(s).map(Box::new),
        prefix_table,
        shared_prefixes: shared_prefixes.map(Box::new),
        lora: match &svc.engine {
            EngineSpec::Vllm(VllmSpec { lora: Some(l), .. }) => Some(Box::new(
                service::LoraTraffic::new(&l.weights(), streams.stream(&sname("traffic/lora"))),
            )),
            _ => None,
        },
        pending: None,
        recorder: None,
        queued: 0,
        in_service: 0,
        busy: 0,
        output_tokens: 0,
        // The HPA's scrapes (which KEDA's pod metrics also read) and the VPA read the gauges.
        gauges: autoscale::Gauges::new(s.autoscaling.is_some() || s.vpa.is_some()),
        autoscaler: autoscale::Autoscaler::new(s).map(Box::new),
        gateway: match (&s.keda, &s.knative) {
            (_, Some(k)) => gateway::Gateway::holding(Some(SimDuration(k.kpa.timeout as u64))),
            (Some(_), None) => gateway::Gateway::holding(None),
            (None, None) => gateway::Gateway::default(),
        },
        keda: s
            .keda
            .as_ref()
            .map(|k| Box::new(keda::KedaLoop::new(&k.scaled_object))),
        kpa: s
            .knative
            .as_ref()
            .map(|k| Box::new(knative::KpaLoop::new(&k.kpa))),
        vpa: kube::vpa::Vpa::new(s).map(Box::new),
        client: s.failures.client.map(|c| {
            Box::new(client::Client::new(
                c,
                streams.stream(&sname("traffic/client/jitter")),
            ))
        }),
        rollout: None,
    })
}

/// Builds and runs a scenario without a request sink.
pub fn run(s: &Scenario, inputs: Inputs) -> Result<RunResult, BuildError> {
    Ok(World::new(s, inputs)?.run(&mut crate::metrics::NoSink))
}

/// A queue's bound: the scenario's `max_queue_size`, or the hard limit on waiting requests when
/// it sets none, so that arrivals far above what the replicas serve cannot exhaust memory.
fn waiting_limit(max_queue_size: Option<u32>) -> Option<u32> {
    let limit = u32::try_from(crate::scenario::limits::QUEUE.max).unwrap_or(u32::MAX);
    Some(max_queue_size.map_or(limit, |m| m.min(limit)))
}
