//! The world: builds the cluster, the service and the traffic from a scenario, then runs events to
//! the horizon. Serving events live in `serving.rs`, node and pod lifecycles in `kube.rs`.

mod autoscale;
mod client;
mod gateway;
mod keda;
mod knative;
mod kube;
mod serving;
mod tenants;
mod traffic;

use crate::engine::{EventQueue, RngStreams, SimDuration, SimTime};
use crate::ids::{EngineId, NodeId, PodId, PoolId};
use crate::metrics::{Recorder, RequestSink};
use crate::results::{summarise, EngineTotals, RunResult};
use crate::scenario::{Dispatch, EngineSpec, Scenario, ServiceSpec, TrafficSpec};
use crate::serving::{
    Completion, DropReason, Engine, Prefix, PrefixTable, Request, Router, ServiceTime,
    StaticConfig, StaticEngine, TritonEngine, VllmConfig, VllmEngine,
};
use crate::traffic::TraceFeed;
use crate::traffic::{Arrival, TokenSampler, TraceError, TraceRecord, TrafficSource};
use kube::Kube;
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
    /// The pending arrival of the traffic source.
    Arrival,
    /// An engine asked to be woken; stale if `generation` no longer matches.
    Wake { engine: EngineId, generation: u32 },
    /// A node finished provisioning.
    NodeReady { node: NodeId },
    /// A pod's readiness probe first succeeds; stale if `generation` no longer matches.
    PodReady { pod: PodId, generation: u32 },
    /// A terminating pod's grace period ends.
    PodGraceExpired { pod: PodId, generation: u32 },
    /// A `[[service.scale]]` step.
    ScaleDeployment { step: u32 },
    /// A `[[node_pool.scale]]` step.
    ScalePool { pool: PoolId, step: u32 },
    /// The metrics pipeline scrapes every pod.
    Scrape,
    /// The HPA reconciles.
    HpaSync,
    /// The Cluster Autoscaler scans.
    CaScan,
    /// A `mig_reconfigure` step of a node pool.
    MigReconfigure { pool: PoolId, step: u32 },
    /// KEDA's scale loop checks the triggers.
    KedaPoll,
    /// Knative's autoscaler collects the pods' and the activator's concurrency.
    KpaScrape,
    /// Knative's decider and PodAutoscaler run.
    KpaTick,
    /// The oldest request held at the gateway may have waited too long.
    GatewayTimeout,
    /// Karpenter's provisioning batch timer.
    KarpenterBatch,
    /// Karpenter's disruption controller polls.
    KarpenterDisrupt,
    /// A Karpenter disruption command's validation delay ends.
    KarpenterExecute,
    /// The VPA recommender runs.
    VpaRecommend,
    /// The VPA updater runs.
    VpaUpdate,
    /// A failure's step (`kube/failure.rs`).
    Failure(kube::failure::FailureEvent),
    /// A client's timeout or retry (`client.rs`).
    Client(client::ClientEvent),
    /// A `[[rollout]]` starts (`step` 0) or its canary weight changes (`step` ≥ 1).
    Rollout { rollout: u32, step: u32 },
    /// The Deployment controller syncs (a pod's `minReadySeconds` ran out).
    DeploymentSync,
    /// Kueue-style batch work.
    Batch(kube::kueue::BatchEvent),
}

#[derive(Clone, Copy, Debug, Default)]
struct WakeSlot {
    at: Option<SimTime>,
    generation: u32,
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
    service: ServiceSpec,
    engines: Vec<Engine>,
    wake: Vec<WakeSlot>,
    /// `None`: a shared queue (one engine, no pods).
    router: Option<Router>,
    source: TrafficSource,
    tokens: Option<TokenSampler>,
    /// Per-tenant limits at the gateway (traffic that can carry tenant labels).
    tenant_gate: Option<tenants::TenantGate>,
    /// Every request's prefix hash ids (trace or synthetic), when there are any.
    prefix_table: Option<Arc<PrefixTable>>,
    shared_prefixes: Option<SharedPrefixes>,
    pending: Option<Arrival>,
    next_id: u64,
    recorder: Recorder,
    done: Vec<Completion>,
    failed: Vec<Request>,
    queued: u32,
    in_service: u32,
    busy: u32,
    events: u64,
    kube: Kube,
    gauges: autoscale::Gauges,
    autoscaler: Option<autoscale::Autoscaler>,
    /// Requests waiting for a Ready pod (KEDA, Knative).
    gateway: gateway::Gateway,
    keda: Option<keda::KedaLoop>,
    kpa: Option<knative::KpaLoop>,
    vpa: Option<kube::vpa::Vpa>,
    /// Clients with timeouts and retries, if the traffic has them.
    client: Option<client::Client>,
    /// Model versions and their rollouts, if the scenario has `[[rollout]]`s.
    rollout: Option<kube::rollout::Rollouts>,
}

impl World {
    /// Builds a world. `Inputs` must hold the trace for trace-driven scenarios.
    pub fn new(s: &Scenario, mut inputs: Inputs) -> Result<World, BuildError> {
        let streams = RngStreams::new(s.seed);
        let svc = &s.service;
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
                    svc.max_queue_size,
                    svc.replicas,
                    ServiceTime::new(service_time),
                    streams.stream("service/shared/service-time"),
                    0,
                ))],
                None,
            ),
            (Dispatch::Shared, EngineSpec::Vllm(_)) => {
                unreachable!("validation puts a vllm engine behind a router")
            }
            (Dispatch::Router(policy), _) => (
                Vec::new(),
                Some(Router::new(policy, streams.stream("service/router"))),
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
        if let (Some(p), EngineSpec::Vllm(v)) =
            (s.tokens.as_ref().and_then(|t| t.prefix), &svc.engine)
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
                rng: streams.stream("traffic/prefix"),
            });
        }
        let pairs: Vec<(u32, u32)> = match &s.tokens {
            Some(t) if t.sample.is_some() => inputs
                .token_sample
                .take()
                .filter(|p| !p.is_empty())
                .ok_or(BuildError::MissingTokenSample)?,
            _ => Vec::new(),
        };
        let mut feeds = traffic::Feeds::new(&mut inputs);
        let source = traffic::build(
            &s.traffic,
            &streams,
            "traffic",
            &mut feeds,
            s.tokens.as_ref(),
            &pairs,
        )?;
        let mix = matches!(s.traffic, TrafficSpec::Mix { .. });
        let n = engines.len();
        let mut world = World {
            name: s.name.clone(),
            seed: s.seed,
            horizon: SimTime(s.horizon.0),
            warmup_s: s.warmup.as_secs_f64(),
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(64),
            streams,
            service,
            engines,
            wake: vec![WakeSlot::default(); n],
            router,
            source,
            // A mix's streams draw their own token counts.
            tokens: match &s.tokens {
                Some(t) if !mix => Some(TokenSampler::new(
                    t,
                    pairs,
                    streams.stream("traffic/tokens"),
                )),
                _ => None,
            },
            tenant_gate: tenants::TenantGate::new(s),
            prefix_table,
            shared_prefixes,
            pending: None,
            next_id: 0,
            recorder: {
                let mut r = Recorder::new(s.warmup, s.horizon, s.sample_interval, s.slo_latency);
                if tenants::TenantGate::new(s).is_some() {
                    r = r.with_tenants();
                }
                match svc.engine {
                    EngineSpec::Vllm(_) => r.with_tokens(s.slo_ttft, s.slo_tpot),
                    EngineSpec::Triton { .. } => r,
                }
            },
            done: Vec::with_capacity(64),
            failed: Vec::new(),
            queued: 0,
            in_service: 0,
            busy: 0,
            events: 0,
            kube: Kube::new(s, &streams),
            gauges: autoscale::Gauges::default(),
            autoscaler: autoscale::Autoscaler::new(s),
            gateway: match (&s.keda, &s.knative) {
                (_, Some(k)) => gateway::Gateway::holding(Some(SimDuration(k.kpa.timeout as u64))),
                (Some(_), None) => gateway::Gateway::holding(None),
                (None, None) => gateway::Gateway::default(),
            },
            keda: s
                .keda
                .as_ref()
                .map(|k| keda::KedaLoop::new(&k.scaled_object)),
            kpa: s.knative.as_ref().map(|k| knative::KpaLoop::new(&k.kpa)),
            vpa: kube::vpa::Vpa::new(s),
            client: s
                .failures
                .client
                .map(|c| client::Client::new(c, streams.stream("traffic/client/jitter"))),
            rollout: None,
        };
        world.rollout = kube::rollout::Rollouts::new(s, &world.service, &world.streams);
        for (t, ev) in world.rollout.iter().flat_map(|r| r.first_events()) {
            if t < world.horizon {
                world.queue.push(t, ev);
            }
        }
        world.start();
        if world.rollout.is_some() {
            world.observe_rollout();
        }
        world.learn_mix_labels();
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
        for (t, ev) in world.vpa.iter().flat_map(|v| v.first_events()) {
            if t < world.horizon {
                world.queue.push(t, ev);
            }
        }
        if let Some(a) = &world.autoscaler {
            for (t, ev) in a.first_events() {
                if t < world.horizon {
                    world.queue.push(t, ev);
                }
            }
        }
        if let Some(t) = world.keda_first_poll() {
            world.queue.push(t, Event::KedaPoll);
        }
        if let Some(k) = &world.kpa {
            for (t, ev) in k.first_events() {
                if t < world.horizon {
                    world.queue.push(t, ev);
                }
            }
        }
        Ok(world)
    }

    /// A new engine for the replica with index `id` (a pod's engine has the pod's index).
    fn new_engine(&self, id: u32, version: u32) -> Engine {
        let svc = self
            .rollout
            .as_ref()
            .and_then(|r| r.service(version))
            .unwrap_or(&self.service);
        match &svc.engine {
            EngineSpec::Triton {
                batching,
                service_time,
            } => Engine::Triton(TritonEngine::new(
                batching.clone(),
                svc.max_queue_size,
                1,
                ServiceTime::new(service_time),
                self.streams
                    .stream(&format!("service/pod/{id}/service-time")),
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
                        max_queue_size: svc.max_queue_size,
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
                        max_queue_size: svc.max_queue_size,
                    },
                    v.step.clone(),
                    id,
                );
                Engine::Vllm(match &self.prefix_table {
                    Some(t) if v.prefix_caching => e.with_prefixes(t.clone()),
                    _ => e,
                })
            }
        }
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Runs to the horizon, streaming per-request rows to `sink`.
    pub fn run<S: RequestSink>(mut self, sink: &mut S) -> RunResult {
        self.schedule_next_arrival(SimTime::ZERO);
        while let Some((t, ev)) = self.queue.pop() {
            if t >= self.horizon {
                break;
            }
            self.now = t;
            self.events += 1;
            self.recorder.advance_to(t);
            if let Some(k) = &mut self.kpa {
                k.integrate(t, self.queued + self.in_service);
            }
            match ev {
                Event::Arrival => self.on_arrival(sink),
                Event::Wake { engine, generation } => {
                    let slot = &mut self.wake[engine.index()];
                    if slot.generation == generation {
                        slot.at = None;
                        self.advance_engine(engine, sink);
                    }
                }
                Event::NodeReady { node } => self.on_node_ready(node, sink),
                Event::PodReady { pod, generation } => self.on_pod_ready(pod, generation),
                Event::PodGraceExpired { pod, generation } => {
                    self.on_grace_expired(pod, generation, sink)
                }
                Event::ScaleDeployment { step } => self.on_scale_deployment(step, sink),
                Event::ScalePool { pool, step } => self.on_scale_pool(pool, step, sink),
                Event::Scrape => self.on_scrape(),
                Event::HpaSync => self.on_hpa_sync(sink),
                Event::CaScan => self.on_ca_scan(sink),
                Event::MigReconfigure { pool, step } => self.on_mig_reconfigure(pool, step, sink),
                Event::KedaPoll => self.on_keda_poll(sink),
                Event::KpaScrape => self.on_kpa_scrape(),
                Event::KpaTick => self.on_kpa_tick(sink),
                Event::GatewayTimeout => self.on_gateway_timeout(sink),
                Event::KarpenterBatch => self.on_karpenter_batch(),
                Event::KarpenterDisrupt => self.on_karpenter_disrupt(sink),
                Event::KarpenterExecute => self.on_karpenter_execute(sink),
                Event::VpaRecommend => self.on_vpa_recommend(),
                Event::VpaUpdate => self.on_vpa_update(sink),
                Event::Failure(ev) => self.on_failure(ev, sink),
                Event::Client(ev) => self.on_client(ev, sink),
                Event::Rollout { rollout, step } => self.on_rollout(rollout, step, sink),
                Event::DeploymentSync => self.on_deployment_sync(sink),
                Event::Batch(e) => self.on_batch_event(e, sink),
            }
            if self.rollout.is_some() {
                self.after_rollout_event(sink);
            }
            if self.gateway_ready() {
                self.release_gateway(sink);
            }
        }
        let mut engines = EngineTotals::default();
        for e in &self.engines {
            let (b, n) = crate::serving::ReplicaEngine::batch_counts(e);
            engines.batches.0 += b;
            engines.batches.1 += n;
            if let Engine::Vllm(v) = e {
                let c = v.counters();
                engines.preemptions += c.preemptions;
                engines.recomputed_tokens += c.recomputed_tokens;
                engines.prefix_tokens.0 += c.prefix_query_tokens;
                engines.prefix_tokens.1 += c.prefix_hit_tokens;
                let total = v.kv_blocks().1 as f64;
                engines.kv_block_seconds.0 += c.kv_block_seconds;
                engines.kv_block_seconds.1 += total * c.kv_seconds;
                let peak = c.kv_blocks_peak as f64 / total;
                engines.kv_peak_ratio = Some(engines.kv_peak_ratio.map_or(peak, |p| p.max(peak)));
            }
        }
        // With a client, a request is in flight while the client waits for it.
        let in_flight = match &self.client {
            Some(c) => c.outstanding(),
            None => (self.queued + self.in_service) as u64,
        };
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
        cluster.vpa = self.vpa.as_ref().map(|v| v.outcome());
        if let Some(k) = &self.kube.kueue {
            let (p, b) = k.outcome(self.horizon);
            cluster.preemption = Some(p);
            cluster.batch = Some(b);
        }
        if let Some(a) = &self.autoscaler {
            if let Some(f) = &a.first_failure {
                cluster.warnings.push(format!(
                    "{} of {} HPA syncs failed; the first: {f}",
                    a.failures, a.syncs
                ));
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
        if self.gateway.timed_out > 0 {
            cluster.warnings.push(format!(
                "{} requests waited at the activator longer than its timeout and failed (no_ready_replica)",
                self.gateway.timed_out
            ));
        }
        if self.gateway.len() > 0 {
            cluster.warnings.push(format!(
                "{} requests were still waiting at the gateway for a ready pod at the horizon",
                self.gateway.len()
            ));
        }
        for e in self.source.errors() {
            cluster
                .warnings
                .push(format!("the trace ended early at an error: {e}"));
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
        let rollout = self.rollout_summary();
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
        result.summary.client = self.client.as_ref().map(|c| c.counts);
        result.summary.rollout = rollout;
        if let Some(g) = &self.tenant_gate {
            g.results(&self.source, tenant_stats.as_ref(), window_s, &mut result);
        }
        result
    }
}

/// Builds and runs a scenario without a request sink.
pub fn run(s: &Scenario, inputs: Inputs) -> Result<RunResult, BuildError> {
    Ok(World::new(s, inputs)?.run(&mut crate::metrics::NoSink))
}
