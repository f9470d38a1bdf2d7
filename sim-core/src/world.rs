//! The world: builds the service and traffic from a scenario, then runs events to the horizon.

use crate::engine::{EventQueue, RngStreams, SimTime};
use crate::metrics::{Recorder, RequestSink};
use crate::results::{summarise, RunResult};
use crate::scenario::{Dispatch, Scenario, TrafficSpec};
use crate::serving::{
    Completion, Engine, ReplicaEngine, Request, RequestId, Router, ServiceTime, TritonEngine,
};
use crate::traffic::{Arrival, PoissonArrivals, TraceRecord, TrafficSource};
use std::fmt;

/// Data the scenario refers to that the caller has read (the core never opens files).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The trace's records, for `kind = "trace"`.
    pub trace: Option<Vec<TraceRecord>>,
}

/// A world could not be built from a scenario and its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The scenario replays a trace but no records were given.
    MissingTrace,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingTrace => {
                f.write_str("the scenario replays a trace, but no trace records were loaded")
            }
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
    Wake { engine: u32, generation: u32 },
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
    engines: Vec<Engine>,
    wake: Vec<WakeSlot>,
    router: Option<Router>,
    source: TrafficSource,
    pending: Option<Arrival>,
    next_id: u64,
    recorder: Recorder,
    done: Vec<Completion>,
    queued: u32,
    in_service: u32,
    busy: u32,
    units: u32,
    events: u64,
}

impl World {
    /// Builds a world. `Inputs` must hold the trace for trace-driven scenarios.
    pub fn new(s: &Scenario, inputs: Inputs) -> Result<World, BuildError> {
        let streams = RngStreams::new(s.seed);
        let svc = &s.service;
        let st = ServiceTime::new(&svc.service_time);
        let (engines, router) = match svc.dispatch {
            Dispatch::Shared => (
                vec![Engine::Triton(TritonEngine::new(
                    svc.batching.clone(),
                    svc.max_queue_size,
                    svc.replicas,
                    st,
                    streams.stream("service/shared/service-time"),
                    0,
                ))],
                None,
            ),
            Dispatch::Router(policy) => (
                (0..svc.replicas)
                    .map(|i| {
                        Engine::Triton(TritonEngine::new(
                            svc.batching.clone(),
                            svc.max_queue_size,
                            1,
                            st,
                            streams.stream(&format!("service/replica/{i}/service-time")),
                            i,
                        ))
                    })
                    .collect(),
                Some(Router::new(policy, streams.stream("service/router"))),
            ),
        };
        let source = match &s.traffic {
            TrafficSpec::Poisson { rate } => TrafficSource::Poisson(Box::new(PoissonArrivals::constant(
                *rate,
                streams.stream("traffic/arrivals"),
            ))),
            TrafficSpec::Schedule { steps } => TrafficSource::Poisson(Box::new(PoissonArrivals::schedule(
                steps.clone(),
                streams.stream("traffic/arrivals"),
            ))),
            TrafficSpec::Trace { .. } => TrafficSource::Replay {
                records: inputs.trace.ok_or(BuildError::MissingTrace)?,
                next: 0,
            },
        };
        let units = svc.replicas;
        let n = engines.len();
        Ok(World {
            name: s.name.clone(),
            seed: s.seed,
            horizon: SimTime(s.horizon.0),
            warmup_s: s.warmup.as_secs_f64(),
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(n + 4),
            engines,
            wake: vec![WakeSlot::default(); n],
            router,
            source,
            pending: None,
            next_id: 0,
            recorder: Recorder::new(s.warmup, s.horizon, s.sample_interval, s.slo_latency, units),
            done: Vec::with_capacity(64),
            queued: 0,
            in_service: 0,
            busy: 0,
            units,
            events: 0,
        })
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Runs to the horizon, streaming per-request rows to `sink`.
    pub fn run<S: RequestSink>(mut self, sink: &mut S) -> RunResult {
        self.recorder.set_state(0, 0, 0, self.units);
        self.schedule_next_arrival(SimTime::ZERO);
        while let Some((t, ev)) = self.queue.pop() {
            if t >= self.horizon {
                break;
            }
            self.now = t;
            self.events += 1;
            self.recorder.advance_to(t);
            match ev {
                Event::Arrival => self.on_arrival(sink),
                Event::Wake { engine, generation } => {
                    let slot = &mut self.wake[engine as usize];
                    if slot.generation == generation {
                        slot.at = None;
                        self.advance_engine(engine as usize, sink);
                    }
                }
            }
        }
        let batches = self
            .engines
            .iter()
            .map(|e| e.batch_counts())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let in_flight = (self.queued + self.in_service) as u64;
        let totals = self.recorder.totals;
        debug_assert_eq!(
            totals.arrived,
            totals.completed + totals.dropped_total() + in_flight,
            "conservation: arrived = completed + dropped + in flight"
        );
        let horizon_s = self.horizon.as_secs_f64();
        let rec = self.recorder.finish();
        summarise(
            &self.name,
            self.seed,
            horizon_s,
            self.warmup_s,
            rec,
            batches,
        )
    }

    fn schedule_next_arrival(&mut self, after: SimTime) {
        self.pending = self.source.next_arrival(after);
        if let Some(a) = self.pending {
            if a.time < self.horizon {
                self.queue.push(a.time, Event::Arrival);
            }
        }
    }

    fn on_arrival<S: RequestSink>(&mut self, sink: &mut S) {
        let a = self
            .pending
            .take()
            .expect("an arrival event has a pending arrival");
        let request = Request {
            id: RequestId(self.next_id),
            arrival: self.now,
            prompt_tokens: a.prompt_tokens,
            output_tokens: a.output_tokens,
        };
        self.next_id += 1;
        self.recorder.on_arrival(&request);
        let e = match &mut self.router {
            None => 0,
            Some(r) => r.pick(&self.engines),
        };
        match self.engines[e].admit(self.now, request) {
            Ok(()) => {
                self.queued += 1;
                self.advance_engine(e, sink);
            }
            Err(reason) => {
                self.recorder.on_drop(&request, self.now, reason, sink);
            }
        }
        self.schedule_next_arrival(a.time);
    }

    fn advance_engine<S: RequestSink>(&mut self, e: usize, sink: &mut S) {
        let engine = &mut self.engines[e];
        let (q0, s0, b0) = (engine.queued(), engine.in_service(), engine.busy_units());
        let next = engine.advance(self.now, &mut self.done);
        let (q1, s1, b1) = (engine.queued(), engine.in_service(), engine.busy_units());
        // Completions left the engine: in_service drops by them, then new batches add.
        self.queued = self.queued + q1 - q0;
        self.in_service = self.in_service + s1 - s0;
        self.busy = self.busy + b1 - b0;
        for c in self.done.drain(..) {
            self.recorder.on_completion(&c, sink);
        }
        self.recorder
            .set_state(self.queued, self.in_service, self.busy, self.units);
        let slot = &mut self.wake[e];
        if next != slot.at {
            slot.generation = slot.generation.wrapping_add(1);
            slot.at = next;
            if let Some(t) = next {
                self.queue.push(
                    t,
                    Event::Wake {
                        engine: e as u32,
                        generation: slot.generation,
                    },
                );
            }
        }
    }
}

/// Builds and runs a scenario without a request sink.
pub fn run(s: &Scenario, inputs: Inputs) -> Result<RunResult, BuildError> {
    Ok(World::new(s, inputs)?.run(&mut crate::metrics::NoSink))
}
