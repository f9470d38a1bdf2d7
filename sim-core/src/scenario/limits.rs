//! Hard limits on the numbers a scenario may set, and the estimate of a run's work.
//!
//! A number that sizes memory or work (replicas, batch sizes, the horizon, rows of the time
//! series, rounds of a periodic controller, state changes of a generator) has a hard limit here:
//! `validate` refuses a value above it (exit 2) naming the key, the limit and why. The limits sit
//! far above real plans (10,000 replicas in one service, 100 services, a simulated week, a billion
//! requests all pass); work that is large but legitimate is only estimated ([`Estimate`]).
//! Limits are per service, so a scenario with many services applies each to each.

use super::model::{EngineSpec, Scenario};
use super::traffic::TrafficSpec;
use crate::engine::time::format_duration;
use crate::engine::{SimDuration, NANOS_PER_SEC};
use crate::traffic::spikes::spike_steps;

/// What a limit counts, for its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count of things (the word names them).
    Count(&'static str),
    /// A length of simulated time, in nanoseconds.
    Duration,
}

/// One hard limit: the keys it bounds, the largest value allowed and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The scenario keys (or derived quantity) it bounds, as the book lists them.
    pub keys: &'static str,
    /// The largest value allowed.
    pub max: u64,
    /// What the value counts.
    pub unit: Unit,
    /// Why the limit is there.
    pub why: &'static str,
}

impl Limit {
    /// The limit as text: `100,000 replicas`, `366d`.
    pub fn shown(&self) -> String {
        self.show(self.max)
    }

    fn show(&self, v: u64) -> String {
        match self.unit {
            Unit::Count(what) => format!("{} {what}", grouped(v)),
            Unit::Duration => format_duration(SimDuration(v)),
        }
    }

    /// `Ok` when `found` is within the limit, else the message an error at the key carries.
    pub fn check(&self, found: u64) -> Result<(), String> {
        if found <= self.max {
            Ok(())
        } else {
            Err(self.message(found))
        }
    }

    /// The message for a value above the limit.
    pub fn message(&self, found: u64) -> String {
        self.message_as_written(&self.show(found))
    }

    /// The error for a value over the limit, quoted as the input wrote it (a value too large
    /// to hold is shown as written, not as where it saturated).
    pub fn message_as_written(&self, found: &str) -> String {
        format!(
            "expected at most {} ({}), found {found}",
            self.shown(),
            self.why
        )
    }
}

/// Replicas of one service: `service.replicas`, every scaling step and autoscaler maximum.
pub const REPLICAS: Limit = Limit {
    keys: "service.replicas, service.scale[].replicas, hpa.maxReplicas, keda.maxReplicaCount, knative initial-scale, min-scale and max-scale",
    max: 100_000,
    unit: Unit::Count("replicas"),
    why: "each replica holds an engine and queue in memory; ten times the largest Deployments in use",
};

/// Nodes of one node pool.
pub const NODES_PER_POOL: Limit = Limit {
    keys: "node_pool[].initial_size (or min_size), node_pool[].scale[].size (max_size is free: autoscalers add nodes only for pods)",
    max: 100_000,
    unit: Unit::Count("nodes"),
    why: "each node is kept in memory; above the largest Kubernetes clusters (65,000 nodes)",
};

/// Pods of one batch Job (`parallelism`).
pub const PODS_PER_JOB: Limit = Limit {
    keys: "batch.job[].parallelism",
    max: 100_000,
    unit: Unit::Count("pods"),
    why: "each pod is kept in memory; as many as the replicas of a service",
};

/// Largest Triton batch.
pub const MAX_BATCH_SIZE: Limit = Limit {
    keys: "service.triton.max_batch_size, service.service_time.batch_times keys",
    max: 65_536,
    unit: Unit::Count("requests per batch"),
    why: "a batch time is tabulated for every size up to it",
};

/// Simulated time.
pub const HORIZON: Limit = Limit {
    keys: "simulation.horizon",
    max: 366 * 86_400 * NANOS_PER_SEC,
    unit: Unit::Duration,
    why: "a year of simulated time; plan longer periods as several runs",
};

/// Rows of the time series (`horizon / sample_interval`).
pub const SERIES_ROWS: Limit = Limit {
    keys: "simulation.sample_interval (rows = horizon / sample_interval, times 1 + services with several services: the cluster's series and each service's)",
    max: 1_000_000,
    unit: Unit::Count("time-series rows"),
    why:
        "rows are kept in memory and timeseries.csv would pass 200 MB; a week at 1s is 604,800 rows",
};

/// Rounds of one periodic controller or probe over the horizon (`horizon / interval`).
pub const ROUNDS: Limit = Limit {
    keys: "metrics.scrape_interval, cluster_autoscaler.scan-interval, vpa.recommender.recommender-interval, vpa.updater.updater-interval, batch.job[].checkpoint_interval (rounds = horizon, or the job's duration, / interval)",
    max: 100_000_000,
    unit: Unit::Count("rounds"),
    why: "each round is an event with work over every pod; a week at 10ms is 60,480,000 rounds",
};

/// State changes of an MMPP over the horizon (`horizon / shortest mean_sojourn`).
pub const SOJOURNS: Limit = Limit {
    keys: "traffic.state[].mean_sojourn (changes = horizon / shortest mean sojourn)",
    max: 100_000_000,
    unit: Unit::Count("state changes"),
    why: "each change is an event; a week at 10ms sojourns is 60,480,000",
};

/// Expected node failures over the horizon (`horizon / mtbf × nodes`).
pub const FAILURES: Limit = Limit {
    keys: "random_failure[].mtbf (failures = horizon / mtbf × the pool's nodes at most)",
    max: 10_000_000,
    unit: Unit::Count("expected failures"),
    why: "each failure reschedules the node's pods",
};

/// Expected requests of one run (mean rate × horizon, at the peak rate of the traffic).
pub const REQUESTS: Limit = Limit {
    keys: "traffic.rate and the other rates (requests = peak rate × horizon; spikes over their windows), traffic.path of a rate trace (its expected requests)",
    max: 100_000_000_000,
    unit: Unit::Count("requests"),
    why:
        "at about ten million events a second, a day of computing; a billion requests take minutes",
};

/// Windows of a rate table built from a trace of samples (Alibaba GenAI `qps.csv`).
pub const RATE_WINDOWS: Limit = Limit {
    keys: "traffic.bucket over a qps trace's time span (windows = span / bucket)",
    max: 10_000_000,
    unit: Unit::Count("rate windows"),
    why: "each window is kept in memory; a year of 5s buckets is 6,307,200",
};

/// KV blocks of the shared prompt prefixes (`groups × tokens / block_size`).
pub const PREFIX_BLOCKS: Limit = Limit {
    keys: "traffic.tokens.prefix.groups × traffic.tokens.prefix.tokens / service.vllm.block_size",
    max: 10_000_000,
    unit: Unit::Count("prefix blocks"),
    why: "each block of each prefix gets a hash in memory",
};

/// Shares per GPU of a time-sliced node pool.
pub const TIME_SLICE_REPLICAS: Limit = Limit {
    keys: "node_pool[].time_slicing.replicas",
    max: 64,
    unit: Unit::Count("shares per GPU"),
    why: "every share of every GPU of every node is a slot in memory; NVIDIA's device plugin sets no cap, but configurations in use share a GPU among a few to a few dozen pods",
};

/// GPUs of one instance type in an instance catalog.
pub const GPUS_PER_NODE: Limit = Limit {
    keys: "instance[].gpu_count of an instance catalog (cluster.instance_catalog)",
    max: 64,
    unit: Unit::Count("GPUs per node"),
    why: "each GPU of each node keeps its shares and MIG slices in memory; the largest GPU instance types carry 16",
};

/// Samples of `capsim pack --replay` (`the pods' time span / --interval`).
pub const REPLAY_SAMPLES: Limit = Limit {
    keys: "capsim pack --replay --interval (samples = the pod list's time span / interval)",
    max: 1_000_000,
    unit: Unit::Count("samples"),
    why: "samples are kept in memory for every policy and seed, as many as the time series' rows",
};

/// Kubernetes quantities (requests, limits, capacities): its `int64`.
pub const QUANTITY: Limit = Limit {
    keys: "every Kubernetes quantity (service.resources, node capacities, quotas)",
    max: i64::MAX as u64,
    unit: Unit::Count("units"),
    why: "Kubernetes's largest quantity, 2^63 - 1",
};

/// Requests waiting in one queue (a replica's, or a service's shared one).
pub const QUEUE: Limit = Limit {
    keys: "service.max_queue_size; a queue without one stops at this many waiting requests (later arrivals are dropped as queue_full)",
    max: 1_000_000,
    unit: Unit::Count("waiting requests"),
    why: "each waiting request is held in memory; a million is days of backlog for a busy replica",
};

/// Replicas of every service of a `[[service]]` scenario together.
pub const CLUSTER_REPLICAS: Limit = Limit {
    keys: "the services' most replicas together (each service's replicas, scale steps and autoscaler maximum, summed over [[service]])",
    max: 1_000_000,
    unit: Unit::Count("replicas"),
    why: "each replica holds an engine and queue in memory; 100 services of 10,000 replicas each",
};

/// Each size of a `[[model]]` (hidden size, layers, heads, FFN size, vocabulary, experts).
pub const MODEL_DIMENSION: Limit = Limit {
    keys: "model[].hidden_size, layers, attention_heads, kv_heads, head_dim, ffn_size, vocab_size, experts",
    max: 1 << 24,
    unit: Unit::Count("per size"),
    why: "the largest published models stay below 2^18 in every size; the cost model's byte and FLOP counts must not overflow",
};

/// Parameters of a `[[model]]`, derived from its sizes.
pub const MODEL_PARAMS: Limit = Limit {
    keys: "the parameters a [[model]]'s sizes imply",
    max: 100_000_000_000_000,
    unit: Unit::Count("parameters"),
    why: "a hundred times the largest published model; its bytes and FLOPs must stay exact in 64-bit arithmetic",
};

/// Size of a KV-cache tier below HBM, GiB.
pub const KV_TIER_SIZE: Limit = Limit {
    keys: "service.vllm.kv_offloading_size, service.vllm.max_local_disk_size",
    max: 1 << 20,
    unit: Unit::Count("GiB"),
    why: "a tier's capacity in blocks must stay exact in 64-bit arithmetic; 1 PiB is hundreds of times the memory or local disk of any node",
};

/// LoRA adapters of one service.
pub const ADAPTERS: Limit = Limit {
    keys: "service.vllm.lora.adapter (each table's `count`, summed)",
    max: 10_000,
    unit: Unit::Count("adapters"),
    why: "each replica keeps a few counters per adapter; S-LoRA serves about 2,000 on one GPU",
};

/// Every limit, in the order the book lists them.
pub const ALL: [Limit; 22] = [
    REPLICAS,
    NODES_PER_POOL,
    PODS_PER_JOB,
    MAX_BATCH_SIZE,
    HORIZON,
    SERIES_ROWS,
    ROUNDS,
    SOJOURNS,
    FAILURES,
    REQUESTS,
    RATE_WINDOWS,
    PREFIX_BLOCKS,
    TIME_SLICE_REPLICAS,
    GPUS_PER_NODE,
    REPLAY_SAMPLES,
    QUANTITY,
    QUEUE,
    CLUSTER_REPLICAS,
    MODEL_DIMENSION,
    MODEL_PARAMS,
    KV_TIER_SIZE,
    ADAPTERS,
];

/// A whole number with thousands separated by commas.
pub fn grouped(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many `interval`s fit in `horizon` (rounded up; an interval of zero counts as one
/// nanosecond).
pub fn rounds(horizon: SimDuration, interval: SimDuration) -> u64 {
    horizon.0.div_ceil(interval.0.max(1))
}

/// The largest rate `traffic` can reach, requests per second (`None` for a replayed trace, whose
/// requests are counted when it is read).
pub fn peak_rate(traffic: &TrafficSpec) -> Option<f64> {
    let max = |it: &mut dyn Iterator<Item = f64>| it.fold(0.0_f64, f64::max);
    Some(match traffic {
        TrafficSpec::Poisson { rate } | TrafficSpec::Gamma { rate, .. } => *rate,
        TrafficSpec::Schedule { steps } => max(&mut steps.iter().map(|s| s.1)),
        TrafficSpec::Diurnal(d) => {
            d.rate * max(&mut d.hourly.iter().copied()) * max(&mut d.weekly.iter().copied())
        }
        TrafficSpec::Mmpp { states } => max(&mut states.iter().map(|s| s.rate)),
        // Overlapping spikes multiply: the highest step of the rate they make.
        TrafficSpec::Spikes { rate, spikes } => {
            max(&mut spike_steps(*rate, spikes).into_iter().map(|s| s.1))
        }
        TrafficSpec::Mix { streams } => {
            let mut sum = 0.0;
            for s in streams {
                sum += peak_rate(&s.traffic)?;
            }
            sum
        }
        TrafficSpec::Trace { .. } => return None,
    })
}

/// Expected requests of `traffic` over `horizon`: the peak rate over the whole horizon, except
/// that spikes count over their own windows (`None` for a replayed trace).
pub fn expected_requests(traffic: &TrafficSpec, horizon: SimDuration) -> Option<f64> {
    match traffic {
        TrafficSpec::Spikes { rate, spikes } => {
            let steps = spike_steps(*rate, spikes);
            let end = horizon.as_secs_f64();
            let mut total = 0.0;
            for (i, &(at, r)) in steps.iter().enumerate() {
                let from = at.as_secs_f64().min(end);
                let to = steps.get(i + 1).map_or(end, |n| n.0.as_secs_f64().min(end));
                total += r * (to - from);
            }
            Some(total)
        }
        TrafficSpec::Mix { streams } => {
            let mut sum = 0.0;
            for s in streams {
                sum += expected_requests(&s.traffic, horizon)?;
            }
            Some(sum)
        }
        other => Some(peak_rate(other)? * horizon.as_secs_f64()),
    }
}

/// The work a run will do, estimated before it starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Requests, at the peak rate over the whole horizon, spikes over their windows (`None` for
    /// a replayed trace).
    pub requests: Option<f64>,
    /// Rows of the time series.
    pub rows: u64,
    /// Events: a few per request, one per row and per controller round.
    pub events: f64,
    /// Bytes the run holds for replicas, nodes, bounded queues and the time series.
    pub memory_bytes: f64,
    /// Bytes more if the queues without `max_queue_size` filled to [`QUEUE`] (or held every
    /// request of the run, if fewer) at once (0 when every queue sets its bound).
    pub unbounded_queue_bytes: f64,
}

/// Bytes held per replica (engine, queue, pod) and per node, and per waiting request: rough
/// figures measured on the shipped scenarios, for the estimate only.
const BYTES_PER_REPLICA: f64 = 4096.0;
const BYTES_PER_NODE: f64 = 2048.0;
const BYTES_PER_ROW: f64 = 512.0;
const BYTES_PER_QUEUED_REQUEST: f64 = 128.0;
/// Events per request (arrival, dispatch, batch start and end, completion).
const EVENTS_PER_REQUEST: f64 = 4.0;

impl Estimate {
    /// The estimate for `s` (with `trace_requests` requests read from its traces, if any).
    pub fn of(s: &Scenario, trace_requests: Option<u64>) -> Estimate {
        // Every service's own traffic and the gateway's: generators by their peak rate, traces
        // by the requests `trace_requests` counted in them.
        let traffic = s
            .services()
            .map(|v| &v.traffic)
            .chain(s.gateway.iter().map(|g| &g.view.traffic));
        let (mut generated, mut any_trace) = (0.0, false);
        for t in traffic {
            match expected_requests(t, s.horizon) {
                Some(r) => generated += r,
                None => any_trace = true,
            }
        }
        let requests = match (any_trace, trace_requests) {
            (true, None) if generated == 0.0 => None,
            (true, n) => Some(generated + n.unwrap_or(0) as f64),
            (false, _) => Some(generated),
        };
        let services = 1 + s.others.len();
        // With several services each has its own series besides the cluster's.
        let series: u64 = if services > 1 { 1 + services as u64 } else { 1 };
        let rows = rounds(s.horizon, s.sample_interval);
        let replicas: f64 = s.services().map(|v| max_replicas(v) as f64).sum();
        // A pool grows past its initial size only for pods (Karpenter's pools are unbounded).
        let nodes: f64 = s.cluster.as_ref().map_or(0.0, |c| {
            c.pools
                .iter()
                .map(|p| (p.max_size as f64).min(p.initial_size as f64 + replicas))
                .sum()
        });
        let (mut bounded, mut unbounded) = (0.0, 0.0);
        for v in s.services() {
            // A queue without `max_queue_size` stops at the hard limit.
            let per = v.service.max_queue_size.map_or(QUEUE.max, u64::from);
            let queues = max_replicas(v) as f64;
            match v.service.max_queue_size {
                Some(_) => bounded += per as f64 * queues,
                None => unbounded += (per as f64 * queues).min(requests.unwrap_or(0.0)),
            }
        }
        let events = requests.unwrap_or(0.0) * EVENTS_PER_REQUEST + (rows * series) as f64;
        let memory_bytes = replicas * BYTES_PER_REPLICA
            + nodes * BYTES_PER_NODE
            + (rows * series) as f64 * BYTES_PER_ROW
            + bounded * BYTES_PER_QUEUED_REQUEST;
        Estimate {
            requests,
            rows,
            events,
            memory_bytes,
            unbounded_queue_bytes: unbounded * BYTES_PER_QUEUED_REQUEST,
        }
    }

    /// Whether the run is large enough to say so before it starts: above a billion events, a
    /// gigabyte held, or ten gigabytes should an unbounded queue hold every request.
    pub fn is_large(&self) -> bool {
        self.events > 1e9 || self.memory_bytes > 1e9 || self.unbounded_queue_bytes > 1e10
    }

    /// One line: `estimate: about 6.05e8 requests, 2.42e9 events, 60,480 time-series rows,
    /// 0.1 GB of memory (up to 0.4 GB more if the queues filled to their limit of 1,000,000
    /// waiting requests each: set service.max_queue_size to bound them lower)`.
    pub fn line(&self) -> String {
        let requests = match self.requests {
            Some(r) => format!("about {r:.2e} requests, "),
            None => String::new(),
        };
        let queue = if self.unbounded_queue_bytes > 1e8 {
            format!(
                " (up to {:.1} GB more if the queues filled to their limit of {} each: set \
                 service.max_queue_size to bound them lower)",
                self.unbounded_queue_bytes / 1e9,
                QUEUE.shown()
            )
        } else {
            String::new()
        };
        format!(
            "estimate: {requests}{:.2e} events, {} time-series rows, {:.1} GB of memory{queue}",
            self.events,
            grouped(self.rows),
            self.memory_bytes / 1e9
        )
    }
}

/// The most replicas the service can reach (its initial count, steps and autoscaler maxima).
fn max_replicas(s: &Scenario) -> u32 {
    let mut m = s.service.replicas;
    for &(_, r) in &s.service.scale {
        m = m.max(r);
    }
    if let Some(a) = &s.autoscaling {
        m = m.max(a.hpa.max_replicas.max(0) as u32);
    }
    m
}

/// Where and how to refuse a time series of `found` rows, past [`SERIES_ROWS`]: at
/// `simulation.sample_interval` when the file sets it, else at `simulation.horizon`, saying to
/// set the interval (whose default is `default`).
pub fn series_rows_error(
    found: u64,
    interval_written: bool,
    default: SimDuration,
) -> (String, String) {
    let m = SERIES_ROWS.message(found);
    if interval_written {
        ("simulation.sample_interval".to_string(), m)
    } else {
        (
            "simulation.horizon".to_string(),
            format!(
                "{m}: set simulation.sample_interval (by default {default}) to sample less often"
            ),
        )
    }
}

/// Checks the rows of `series` time series sampled over `s`'s horizon together against
/// [`SERIES_ROWS`]; `Err((key, message))` located as [`series_rows_error`] says, `table` being
/// the scenario file's table (whether it sets the interval).
pub fn check_series_rows(
    table: &toml::Table,
    s: &Scenario,
    series: u64,
) -> Result<(), (String, String)> {
    let rows = rounds(s.horizon, s.sample_interval).saturating_mul(series);
    if SERIES_ROWS.check(rows).is_ok() {
        return Ok(());
    }
    let written = table
        .get("simulation")
        .and_then(|t| t.get("sample_interval"))
        .is_some();
    Err(series_rows_error(
        rows,
        written,
        super::model::defaults::SAMPLE_INTERVAL,
    ))
}

/// Checks the limits that hold for a `[[service]]` scenario's services together (each service
/// is held to [`check`] on its own): their replicas, and the requests of their own traffic and
/// the gateway's. `Err((key, message))` at the first breach; a breach of the requests limit is
/// located at the traffic that contributes most: the gateway's (`traffic`), a service's own
/// (`service[i].traffic`), or `traffic` in a disaggregated service, whose pools share it.
pub fn check_cluster(s: &Scenario) -> Result<(), (String, String)> {
    let n = s.services().count();
    let replicas: u64 = s.services().map(|v| u64::from(max_replicas(v))).sum();
    CLUSTER_REPLICAS
        .check(replicas)
        .map_err(|m| ("service".to_string(), format!("{m}, over {n} services")))?;
    let gateway = s.gateway.as_ref().map(|g| g.view.as_ref());
    let mut requests = 0.0;
    // (requests, which): `None` is the gateway, `Some(i)` the i-th service.
    let mut largest: (f64, Option<usize>) = (-1.0, None);
    let contributors = s
        .services()
        .map(Some)
        .enumerate()
        .map(|(i, v)| (Some(i), v));
    for (which, v) in contributors.chain(gateway.map(|g| (None, Some(g)))) {
        let Some(r) = v.and_then(|v| expected_requests(&v.traffic, v.horizon)) else {
            continue;
        };
        requests += r;
        if r > largest.0 {
            largest = (r, which);
        }
    }
    if requests > REQUESTS.max as f64 {
        let key = match largest.1 {
            Some(i) if s.disagg.is_none() => format!("service[{i}].traffic"),
            _ => "traffic".to_string(),
        };
        return Err((
            key,
            format!(
                "{}, over {n} services and the gateway together",
                REQUESTS.message(requests.min(u64::MAX as f64) as u64)
            ),
        ));
    }
    Ok(())
}

/// Checks the limits that need the whole scenario: `Err((key, message))` at the first breach.
pub fn check(s: &Scenario) -> Result<(), (String, String)> {
    let at = |key: &str, r: Result<(), String>| r.map_err(|m| (key.to_string(), m));
    at("simulation.horizon", HORIZON.check(s.horizon.0))?;
    at(
        "simulation.sample_interval",
        SERIES_ROWS.check(rounds(s.horizon, s.sample_interval)),
    )?;
    if let Some(v) = &s.vpa {
        let ns = |x: i64| SimDuration(x.max(0) as u64);
        at(
            "vpa.recommender.recommender-interval",
            ROUNDS.check(rounds(s.horizon, ns(v.recommender.interval_ns))),
        )?;
        at(
            "vpa.updater.updater-interval",
            ROUNDS.check(rounds(s.horizon, ns(v.updater.interval_ns))),
        )?;
    }
    if let Some(a) = &s.autoscaling {
        at(
            "metrics.scrape_interval",
            ROUNDS.check(rounds(s.horizon, a.metrics.scrape_interval)),
        )?;
        let key = if s.keda.is_some() {
            "keda.maxReplicaCount"
        } else {
            "hpa.maxReplicas"
        };
        at(key, REPLICAS.check(a.hpa.max_replicas.max(0) as u64))?;
    }
    if let Some(ca) = &s.cluster_autoscaler {
        at(
            "cluster_autoscaler.scan-interval",
            ROUNDS.check(rounds(s.horizon, ca.scan_interval)),
        )?;
    }
    let mut traffics = vec![("traffic".to_string(), &s.traffic)];
    if let TrafficSpec::Mix { streams } = &s.traffic {
        for (i, st) in streams.iter().enumerate() {
            traffics.push((format!("traffic.stream[{i}]"), &st.traffic));
        }
    }
    for (key, t) in traffics {
        if let TrafficSpec::Mmpp { states } = t {
            for (i, st) in states.iter().enumerate() {
                at(
                    &format!("{key}.state[{i}].mean_sojourn"),
                    SOJOURNS.check(rounds(s.horizon, st.mean_sojourn)),
                )?;
            }
        }
    }
    if let Some(c) = &s.cluster {
        for (i, f) in s.failures.random.iter().enumerate() {
            // A pool grows past its initial size only for pods.
            let nodes = c.pools.get(f.pool as usize).map_or(1, |p| {
                p.max_size
                    .min(p.initial_size.saturating_add(max_replicas(s)))
                    .max(1)
            }) as u64;
            at(
                &format!("random_failure[{i}].mtbf"),
                FAILURES.check(rounds(s.horizon, f.mtbf).saturating_mul(nodes)),
            )?;
        }
    }
    if let (Some(p), EngineSpec::Vllm(v)) = (
        s.tokens.as_ref().and_then(|t| t.prefix.as_ref()),
        &s.service.engine,
    ) {
        let blocks = u64::from(p.groups) * u64::from(p.tokens / v.block_size.max(1));
        at("traffic.tokens.prefix.groups", PREFIX_BLOCKS.check(blocks))?;
    }
    if let Some(requests) = expected_requests(&s.traffic, s.horizon) {
        if requests > REQUESTS.max as f64 {
            let key = match &s.traffic {
                TrafficSpec::Poisson { .. }
                | TrafficSpec::Gamma { .. }
                | TrafficSpec::Spikes { .. }
                | TrafficSpec::Diurnal(_) => "traffic.rate",
                TrafficSpec::Schedule { .. } => "traffic.schedule",
                TrafficSpec::Mmpp { .. } => "traffic.state",
                _ => "traffic",
            };
            return Err((
                key.to_string(),
                REQUESTS.message(requests.min(u64::MAX as f64) as u64),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_the_value() {
        assert_eq!(
            REPLICAS.check(1_000_000).unwrap_err(),
            "expected at most 100,000 replicas (each replica holds an engine and queue in memory; \
             ten times the largest Deployments in use), found 1,000,000 replicas"
        );
        assert!(REPLICAS.check(10_000).is_ok());
        assert_eq!(HORIZON.shown(), "8784h");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn real_plans_pass() {
        let week = SimDuration::from_secs(7 * 86_400);
        assert!(HORIZON.check(week.0).is_ok());
        assert!(SERIES_ROWS
            .check(rounds(week, SimDuration::from_secs(1)))
            .is_ok());
        assert!(ROUNDS
            .check(rounds(week, SimDuration::from_millis(10)))
            .is_ok());
        assert!(REQUESTS.check(1_000_000_000).is_ok());
        assert!(NODES_PER_POOL.check(65_000).is_ok());
    }
}
