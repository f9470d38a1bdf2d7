//! The recorder: turns what happens to requests and replicas into statistics and a time series.
//!
//! It never stores a request: latencies go into histograms, and per-request rows go to a
//! [`RequestSink`] only when one is given. Requests that arrive during the warm-up are left out of
//! the summary statistics (they still appear in the time series).

use super::histogram::LogHistogram;
use super::series::SeriesRow;
use super::tenants::TenantRecorder;
use super::tokens::TokenRecorder;
use super::windows::Windows;
use crate::engine::{SimDuration, SimTime};
use crate::serving::{Completion, DropReason, Request};

/// Number of time batches used for batch-means standard errors.
pub const BATCHES: usize = 32;

/// One row of `requests.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRow {
    /// The request.
    pub request: Request,
    /// What happened to it.
    pub outcome: Outcome,
}

/// What happened to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served.
    Completed {
        /// When its batch started.
        start: SimTime,
        /// When its first output token came (for engines without tokens, `finish`).
        first_token: SimTime,
        /// When it finished.
        finish: SimTime,
        /// Its batch's size.
        batch_size: u32,
        /// The replica that served it.
        replica: u32,
    },
    /// Refused.
    Dropped {
        /// When.
        at: SimTime,
        /// Why.
        reason: DropReason,
    },
}

/// Receives one row per finished request (the CLI streams them to `requests.csv`).
pub trait RequestSink {
    /// Called once per completed or dropped request, in event order.
    fn record(&mut self, row: &RequestRow);
}

/// A sink that keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSink;

impl RequestSink for NoSink {
    #[inline]
    fn record(&mut self, _row: &RequestRow) {}
}

impl RequestSink for Vec<RequestRow> {
    fn record(&mut self, row: &RequestRow) {
        self.push(*row);
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct BatchAcc {
    count: u64,
    wait_ns: u128,
    latency_ns: u128,
}

/// The cluster's state as the recorder sees it (all zero for replicas without nodes, except the
/// replica counts).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterGauge {
    /// Replicas the Deployment wants.
    pub desired: u32,
    /// Replicas serving (Ready pods, or instances of a shared queue).
    pub ready: u32,
    /// Billed nodes (provisioning, ready or draining).
    pub nodes: u32,
    /// Ready nodes.
    pub nodes_ready: u32,
    /// Pods waiting for a node.
    pub pods_pending: u32,
    /// CPU requested on ready and draining nodes, millicores.
    pub cpu_requested: u64,
    /// CPU allocatable on ready and draining nodes, millicores.
    pub cpu_allocatable: u64,
    /// GPUs requested on nodes, milli-GPUs.
    pub gpu_requested: u64,
    /// GPUs allocatable on ready and draining nodes, milli-GPUs.
    pub gpu_allocatable: u64,
    /// GPUs on billed nodes, milli-GPUs.
    pub gpus_billed: u64,
    /// Price of the billed nodes, USD per hour.
    pub cost_usd_per_hour: f64,
    /// GPU-equivalents held by bound pods (a service's gauge only: whole GPUs, MIG slices as
    /// compute slices over 7, time-sliced shares as 1 over the shares per GPU).
    pub gpus_held: f64,
}

#[derive(Debug, Default)]
#[repr(C)]
struct Areas {
    /// GPU-equivalents held × nanoseconds.
    gpus_held: f64,
    cost_usd: f64,
    cpu_req: u128,
    cpu_alloc: u128,
    gpu_req: u128,
    gpu_alloc: u128,
}

/// Completion histograms of one sample interval.
#[derive(Debug, Default)]
struct Parts {
    latency: LogHistogram,
    /// Time to first token and per output token (LLM engines).
    ttft: LogHistogram,
    tpot: LogHistogram,
}

impl Parts {
    fn merge(&mut self, other: &Parts) {
        self.latency.merge(&other.latency);
        self.ttft.merge(&other.ttft);
        self.tpot.merge(&other.tpot);
    }

    fn clear(&mut self) {
        self.latency.clear();
        self.ttft.clear();
        self.tpot.clear();
    }
}

#[derive(Debug)]
#[repr(C)]
struct Interval {
    start: SimTime,
    end: SimTime,
    arrivals: u64,
    completions: u64,
    drops: u64,
    slo_met: u64,
    slo_total: u64,
    token_met: u64,
    /// The run's busy-replica area at the interval's start.
    busy_from: u128,
    areas: Areas,
    /// Completions in the interval of requests that arrived after the warm-up: folded into the
    /// run's histograms when the interval closes, so each value is recorded once.
    measured: Parts,
    /// Completions in the interval of requests that arrived during the warm-up (made at the
    /// first).
    early: Option<Box<Parts>>,
}

/// Counts over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Totals {
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests served.
    pub completed: u64,
    /// Requests dropped, by reason (indexed as [`DropReason::ALL`]).
    pub dropped: [u64; DropReason::ALL.len()],
}

impl Totals {
    /// All drops.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Collects statistics during a run.
///
/// Laid out in declaration order (`repr(C)`): what every event and request touches first and
/// together, so that a service's recorder, with many services, costs a few cache lines per
/// request rather than one per field.
#[derive(Debug)]
#[repr(C)]
pub struct Recorder {
    // State, integrated over time: at every event while the gauge has a floating-point area to
    // add (GPUs held, cost), else (the integer areas are exact whatever the steps) only when the
    // state changes, an interval closes or the run ends.
    /// Time up to which the state is integrated.
    last_t: SimTime,
    /// The latest time the recorder was advanced to.
    now: SimTime,
    warmup: SimTime,
    horizon: SimTime,
    queued: u32,
    in_flight: u32,
    busy: u32,
    /// Whether its gauge is the cluster's (nodes, CPU and GPU capacity), not one service's.
    cluster: bool,
    /// Whether any of the gauge's node, CPU or GPU capacity figures is not zero (a cluster's
    /// gauge only): integrating zeros adds nothing, so `integrate` skips them.
    capacity: bool,
    /// Whether the gauge holds GPUs or costs money: floating-point areas, which are integrated at
    /// every event (adding them in fewer, longer steps would round differently).
    floats: bool,
    tokens: Option<Box<TokenRecorder>>,
    tenants: Option<Box<TenantRecorder>>,
    /// Per-window statistics for windowed checks, when asked for.
    windows: Option<Box<Windows>>,
    cost_usd: f64,
    slo_ns: Option<u64>,
    interval: Interval,
    /// Busy replicas, queue length and Ready replicas × nanoseconds since time 0.
    busy_area: u128,
    queue_area: u128,
    replica_area: u128,
    /// The end of the warm-up until the state is integrated past it, then [`SimTime::MAX`].
    warmup_mark: SimTime,
    /// `busy_area`, `queue_area` and `replica_area` at the end of the warm-up.
    at_warmup: [u128; 3],
    gauge: ClusterGauge,
    // Per request.
    /// Whole-run counts.
    pub totals: Totals,
    /// Counts for requests that arrived after the warm-up.
    pub measured: Totals,
    measured_slo_met: u64,
    latency: LogHistogram,
    wait: LogHistogram,
    batches: [BatchAcc; BATCHES],
    // The cluster's own, and what is read at the end.
    service: LogHistogram,
    gpu_billed_area: u128,
    gpu_idle_area: u128,
    node_area: u128,
    pods_pending_max: u32,
    interval_len: SimDuration,
    rows: Vec<SeriesRow>,
}

impl Recorder {
    /// A recorder for a run to `horizon`, leaving out arrivals before `warmup`.
    pub fn new(
        warmup: SimDuration,
        horizon: SimDuration,
        interval_len: SimDuration,
        slo: Option<SimDuration>,
    ) -> Self {
        let interval_len = SimDuration(interval_len.0.max(1));
        let end = if horizon.0 > 0 {
            SimTime(interval_len.0.min(horizon.0))
        } else {
            // No interval to close.
            SimTime::MAX
        };
        Recorder {
            warmup: SimTime(warmup.0),
            horizon: SimTime(horizon.0),
            interval_len,
            slo_ns: slo.map(|d| d.0),
            totals: Totals::default(),
            measured: Totals::default(),
            measured_slo_met: 0,
            latency: LogHistogram::new(),
            wait: LogHistogram::new(),
            service: LogHistogram::new(),
            tokens: None,
            tenants: None,
            windows: None,
            batches: [BatchAcc::default(); BATCHES],
            last_t: SimTime::ZERO,
            now: SimTime::ZERO,
            floats: false,
            queued: 0,
            in_flight: 0,
            busy: 0,
            gauge: ClusterGauge::default(),
            busy_area: 0,
            queue_area: 0,
            replica_area: 0,
            warmup_mark: SimTime(warmup.0),
            at_warmup: [0; 3],
            gpu_billed_area: 0,
            gpu_idle_area: 0,
            node_area: 0,
            cost_usd: 0.0,
            pods_pending_max: 0,
            interval: Interval {
                start: SimTime::ZERO,
                end,
                arrivals: 0,
                completions: 0,
                drops: 0,
                slo_met: 0,
                slo_total: 0,
                token_met: 0,
                busy_from: 0,
                areas: Areas::default(),
                measured: Parts::default(),
                early: None,
            },
            // Reserved for a typical run only: the row count comes from the input.
            rows: Vec::with_capacity(((horizon.0 / interval_len.0.max(1)) as usize + 1).min(4096)),
            cluster: true,
            capacity: false,
        }
    }

    /// Also records token-level statistics (TTFT, TPOT) against optional targets.
    pub fn with_tokens(
        mut self,
        slo_ttft: Option<SimDuration>,
        slo_tpot: Option<SimDuration>,
    ) -> Self {
        self.tokens = Some(Box::new(TokenRecorder::new(slo_ttft, slo_tpot)));
        self
    }

    /// Records one service: its gauge carries no nodes, CPU or GPU capacity, so their areas are
    /// not integrated (they would stay zero), and time in service, which a service's entry does
    /// not report, is not recorded.
    pub fn for_service(mut self) -> Self {
        self.cluster = false;
        self.capacity = false;
        self
    }

    /// Also records the statistics of consecutive windows of each of `lengths` (multiples of
    /// the sample interval) for windowed checks; none without lengths.
    pub fn with_windows(mut self, lengths: &[SimDuration]) -> Self {
        if !lengths.is_empty() {
            self.windows = Some(Box::new(Windows::new(lengths, self.horizon)));
        }
        self
    }

    /// Also records per-tenant statistics (slots are made with [`Recorder::tenants_mut`]).
    pub fn with_tenants(mut self) -> Self {
        self.tenants = Some(Box::default());
        self
    }

    /// The per-tenant statistics, when recorded.
    pub fn tenants_mut(&mut self) -> Option<&mut TenantRecorder> {
        self.tenants.as_deref_mut()
    }

    #[inline]
    fn measured_arrival(&self, r: &Request) -> bool {
        r.arrival >= self.warmup
    }

    /// Moves the recorder's clock to `t` (integrating the state up to it when it must) and closes
    /// every sample interval that ends at or before `t`.
    #[inline]
    pub fn advance_to(&mut self, t: SimTime) {
        let t = t.min(self.horizon);
        // After the last interval its end is `SimTime::MAX`.
        while self.interval.end <= t {
            let end = self.interval.end;
            self.integrate(end);
            self.close_interval();
        }
        self.now = self.now.max(t);
        if self.floats {
            self.integrate(t);
        }
    }

    /// Integrates the state, unchanged since `last_t`, up to `t`.
    #[inline]
    fn integrate(&mut self, t: SimTime) {
        if t <= self.last_t {
            return;
        }
        if self.floats || t > self.warmup_mark {
            // Apart, so that the common step saves no registers.
            return self.integrate_slow(t);
        }
        self.integrate_ints(t);
    }

    /// [`Recorder::integrate`] with floating-point areas, or past the end of the warm-up.
    #[inline(never)]
    fn integrate_slow(&mut self, t: SimTime) {
        if self.floats {
            self.integrate_floats(t);
        }
        if t > self.warmup_mark {
            self.pass_warmup();
        }
        self.integrate_ints(t);
    }

    /// Integrates the integer areas from `last_t` up to `t`.
    #[inline(always)]
    fn integrate_ints(&mut self, t: SimTime) {
        let dt = (t.0 - self.last_t.0) as u128;
        self.busy_area += dt * self.busy as u128;
        self.queue_area += dt * self.queued as u128;
        self.replica_area += dt * self.gauge.ready as u128;
        let g = &self.gauge;
        let a = &mut self.interval.areas;
        if self.capacity {
            // Zeros add nothing (a service's gauge has no nodes, CPU or GPU capacity).
            a.cpu_req += dt * g.cpu_requested as u128;
            a.cpu_alloc += dt * g.cpu_allocatable as u128;
            a.gpu_req += dt * g.gpu_requested as u128;
            a.gpu_alloc += dt * g.gpu_allocatable as u128;
            self.gpu_billed_area += dt * g.gpus_billed as u128;
            self.gpu_idle_area += dt * g.gpus_billed.saturating_sub(g.gpu_requested) as u128;
            self.node_area += dt * g.nodes as u128;
        }
        self.last_t = t;
    }

    /// Notes the areas at the end of the warm-up (at or after `last_t`), where the measured window
    /// `[warmup, horizon)` starts.
    #[cold]
    fn pass_warmup(&mut self) {
        let dt = (self.warmup.0 - self.last_t.0) as u128;
        self.at_warmup = [
            self.busy_area + dt * self.busy as u128,
            self.queue_area + dt * self.queued as u128,
            self.replica_area + dt * self.gauge.ready as u128,
        ];
        self.warmup_mark = SimTime::MAX;
    }

    /// The busy-replica, queue-length and Ready-replica areas of the measured window so far.
    fn measured_areas(&self) -> [u128; 3] {
        if self.warmup_mark < SimTime::MAX {
            // Not integrated past the warm-up.
            return [0; 3];
        }
        let w = &self.at_warmup;
        [
            self.busy_area - w[0],
            self.queue_area - w[1],
            self.replica_area - w[2],
        ]
    }

    /// Integrates the floating-point areas (GPUs held, cost) from `last_t` up to `t`.
    #[inline(never)]
    fn integrate_floats(&mut self, t: SimTime) {
        let dt = (t.0 - self.last_t.0) as u128;
        let g = &self.gauge;
        let a = &mut self.interval.areas;
        if g.gpus_held != 0.0 {
            // Adding a zero area would change nothing.
            a.gpus_held += g.gpus_held * dt as f64;
        }
        if g.cost_usd_per_hour != 0.0 {
            let cost = g.cost_usd_per_hour * dt as f64 / 3.6e12;
            a.cost_usd += cost;
            self.cost_usd += cost;
            if let Some(w) = &mut self.windows {
                let from = self.last_t.max(self.warmup);
                if t > from {
                    w.add_cost(g.cost_usd_per_hour * (t.0 - from.0) as f64 / 3.6e12);
                }
            }
        }
    }

    fn close_interval(&mut self) {
        let iv = &mut self.interval;
        // The interval's figures are of all its completions: with the warm-up's among them, those
        // after it are added to the warm-up's part first.
        let all = match &mut iv.early {
            Some(e) if e.latency.count() > 0 => {
                e.merge(&iv.measured);
                &**e
            }
            _ => &iv.measured,
        };
        let len_s = iv.end.since(iv.start).as_secs_f64().max(1e-9);
        let busy_mean = (self.busy_area - iv.busy_from) as f64 / 1e9 / len_s;
        let s = |ns: u64| ns as f64 / 1e9;
        let ratio = |a: u128, b: u128| (b > 0).then(|| a as f64 / b as f64);
        let g = &self.gauge;
        self.rows.push(SeriesRow {
            time_s: iv.end.as_secs_f64(),
            arrivals_per_s: iv.arrivals as f64 / len_s,
            completions_per_s: iv.completions as f64 / len_s,
            drops_per_s: iv.drops as f64 / len_s,
            queue_length: self.queued,
            in_flight: self.in_flight,
            desired_replicas: g.desired,
            ready_replicas: g.ready,
            busy_replicas_mean: busy_mean,
            replica_util_ratio: if g.ready > 0 {
                (busy_mean / g.ready as f64).min(1.0)
            } else {
                0.0
            },
            latency_mean_s: all.latency.mean().map(|m| m / 1e9),
            latency_p50_s: all.latency.quantile(0.5).map(s),
            latency_p99_s: all.latency.quantile(0.99).map(s),
            slo_attainment_ratio: (self.slo_ns.is_some() && iv.slo_total > 0)
                .then(|| iv.slo_met as f64 / iv.slo_total as f64),
            nodes: g.nodes,
            nodes_ready: g.nodes_ready,
            pods_pending: g.pods_pending,
            cpu_alloc_ratio: ratio(iv.areas.cpu_req, iv.areas.cpu_alloc),
            gpu_alloc_ratio: ratio(iv.areas.gpu_req, iv.areas.gpu_alloc),
            cost_usd_per_hour: iv.areas.cost_usd / (len_s / 3600.0),
            cost_usd: self.cost_usd,
            ttft_p99_s: all.ttft.quantile(0.99).map(s),
            tpot_p99_s: all.tpot.quantile(0.99).map(s),
            gpus: iv.areas.gpus_held / 1e9 / len_s,
            token_slo_attainment_ratio: (self.tokens.as_ref().is_some_and(|t| t.has_targets())
                && iv.completions + iv.drops > 0)
                .then(|| iv.token_met as f64 / (iv.completions + iv.drops) as f64),
        });
        if let Some(w) = &mut self.windows {
            let tokens = self.tokens.as_ref().is_some_and(|t| t.has_targets());
            w.close_at(
                iv.end,
                self.warmup,
                self.horizon,
                self.slo_ns.is_some(),
                tokens,
            );
        }
        iv.start = iv.end;
        iv.end = if iv.start < self.horizon {
            SimTime(
                iv.end
                    .0
                    .saturating_add(self.interval_len.0)
                    .min(self.horizon.0),
            )
        } else {
            // The last: no more to close.
            SimTime::MAX
        };
        iv.busy_from = self.busy_area;
        iv.arrivals = 0;
        iv.completions = 0;
        iv.drops = 0;
        iv.slo_met = 0;
        iv.slo_total = 0;
        iv.token_met = 0;
        iv.areas = Areas::default();
        if let Some(e) = &mut iv.early {
            e.clear();
        }
        self.fold_measured();
    }

    /// Adds the open interval's measured completions to the run's histograms and clears them.
    fn fold_measured(&mut self) {
        let m = &mut self.interval.measured;
        self.latency.merge(&m.latency);
        if let Some(t) = &mut self.tokens {
            t.ttft.merge(&m.ttft);
            t.tpot.merge(&m.tpot);
        }
        m.clear();
    }

    /// Sets the serving state from now on (call after [`Recorder::advance_to`] for the same time).
    #[inline]
    pub fn set_state(&mut self, queued: u32, in_service: u32, busy: u32) {
        if queued != self.queued || busy != self.busy {
            // The integrated state changes.
            self.integrate(self.now);
        }
        self.queued = queued;
        self.in_flight = queued + in_service;
        self.busy = busy;
    }

    /// Sets the cluster state from now on (call after [`Recorder::advance_to`] for the same time).
    pub fn set_cluster(&mut self, gauge: ClusterGauge) {
        self.integrate(self.now);
        self.pods_pending_max = self.pods_pending_max.max(gauge.pods_pending);
        let g = &gauge;
        self.capacity = self.cluster
            && (u64::from(g.nodes)
                | g.cpu_requested
                | g.cpu_allocatable
                | g.gpu_requested
                | g.gpu_allocatable
                | g.gpus_billed)
                != 0;
        self.floats = g.gpus_held != 0.0 || g.cost_usd_per_hour != 0.0;
        self.gauge = gauge;
    }

    /// A request arrived.
    #[inline]
    pub fn on_arrival(&mut self, r: &Request) {
        self.totals.arrived += 1;
        self.interval.arrivals += 1;
        let measured = self.measured_arrival(r);
        if measured {
            self.measured.arrived += 1;
        }
        if let Some(t) = &mut self.tenants {
            t.on_arrival(r, measured);
        }
    }

    /// A request was dropped at `at`.
    #[inline]
    pub fn on_drop<S: RequestSink>(
        &mut self,
        r: &Request,
        at: SimTime,
        reason: DropReason,
        sink: &mut S,
    ) {
        let i = reason as usize;
        self.totals.dropped[i] += 1;
        self.interval.drops += 1;
        if self.slo_ns.is_some() {
            self.interval.slo_total += 1;
        }
        let measured = self.measured_arrival(r);
        if measured {
            self.measured.dropped[i] += 1;
            if let Some(w) = &mut self.windows {
                w.on_drop();
            }
        }
        if let Some(t) = &mut self.tenants {
            t.on_drop(r, reason, measured);
        }
        sink.record(&RequestRow {
            request: *r,
            outcome: Outcome::Dropped { at, reason },
        });
    }

    /// A request completed.
    #[inline]
    pub fn on_completion<S: RequestSink>(&mut self, c: &Completion, sink: &mut S) {
        let latency = c.finish.since(c.request.arrival).0;
        let measured = self.measured_arrival(&c.request);
        self.totals.completed += 1;
        let iv = &mut self.interval;
        iv.completions += 1;
        // Each value goes into one of the interval's parts; the measured part is added to the
        // run's histograms when the interval closes.
        let parts = if measured {
            &mut iv.measured
        } else {
            &mut **iv.early.get_or_insert_with(Box::default)
        };
        parts.latency.record(latency);
        let mut times = None;
        let mut token_met = false;
        if let Some(k) = &mut self.tokens {
            let (ttft, tpot) = c.token_times();
            parts.ttft.record(ttft);
            if let Some(t) = tpot {
                parts.tpot.record(t);
            }
            token_met = k.meets((ttft, tpot));
            iv.token_met += token_met as u64;
            if measured {
                k.record(c, token_met);
            }
            times = Some((ttft, tpot));
        }
        if let Some(t) = &mut self.tenants {
            t.on_completion(c, times, measured);
        }
        let met = self.slo_ns.is_some_and(|slo| latency <= slo);
        if self.slo_ns.is_some() {
            self.interval.slo_total += 1;
            self.interval.slo_met += met as u64;
        }
        if measured {
            let wait = c.start.since(c.request.arrival).0;
            self.measured.completed += 1;
            self.measured_slo_met += met as u64;
            if let Some(w) = &mut self.windows {
                w.on_completion(latency, met, times, token_met);
            }
            self.wait.record(wait);
            if self.cluster {
                // A service's entry reports no time-in-service statistics.
                self.service.record(c.finish.since(c.start).0);
            }
            let span = self.horizon.0 - self.warmup.0;
            let off = c.request.arrival.0 - self.warmup.0;
            // The same integer quotient in u64 when it cannot overflow (u128 division is slow).
            let b = match off.checked_mul(BATCHES as u64) {
                Some(x) => (x / span) as usize,
                None => (off as u128 * BATCHES as u128 / span as u128) as usize,
            };
            let acc = &mut self.batches[b.min(BATCHES - 1)];
            acc.count += 1;
            acc.wait_ns += wait as u128;
            acc.latency_ns += latency as u128;
        }
        sink.record(&RequestRow {
            request: c.request,
            outcome: Outcome::Completed {
                start: c.start,
                first_token: c.first_token,
                finish: c.finish,
                batch_size: c.batch_size,
                replica: c.replica,
            },
        });
    }

    /// Closes the run at the horizon and hands back what was measured.
    pub fn finish(mut self) -> Recorded {
        self.advance_to(self.horizon);
        self.integrate(self.horizon);
        if self.interval.start < self.horizon {
            // A last, partial interval.
            self.interval.end = self.horizon;
            self.close_interval();
        }
        // Completions after the last interval closed, if any (none in a run of the world).
        self.fold_measured();
        let window_s = self.horizon.since(self.warmup).as_secs_f64();
        let window_ns = (self.horizon.0 - self.warmup.0) as f64;
        let measured = self.measured_areas();
        let stderr = |f: fn(&BatchAcc) -> u128| -> Option<f64> {
            let means: Vec<f64> = self
                .batches
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| f(b) as f64 / b.count as f64 / 1e9)
                .collect();
            if means.len() < 2 {
                return None;
            }
            let n = means.len() as f64;
            let m = means.iter().sum::<f64>() / n;
            let var = means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
            Some((var / n).sqrt())
        };
        Recorded {
            totals: self.totals,
            measured: self.measured,
            measured_slo_met: self.measured_slo_met,
            slo_target: self.slo_ns.map(SimDuration),
            window_s,
            wait_mean_stderr_s: stderr(|b| b.wait_ns),
            latency_mean_stderr_s: stderr(|b| b.latency_ns),
            busy_mean: measured[0] as f64 / window_ns,
            gpu_hours: self.gpu_billed_area as f64 / 1e3 / 3.6e12,
            idle_gpu_hours: self.gpu_idle_area as f64 / 1e3 / 3.6e12,
            node_hours: self.node_area as f64 / 3.6e12,
            pods_pending_max: self.pods_pending_max,
            pods_pending_at_horizon: self.gauge.pods_pending,
            queue_mean: measured[1] as f64 / window_ns,
            replicas_mean: measured[2] as f64 / window_ns,
            latency: self.latency,
            wait: self.wait,
            service: self.service,
            tokens: self.tokens.map(|t| *t),
            tenants: self.tenants.map(|t| *t),
            windows: self.windows.map_or_else(Vec::new, |w| w.finish()),
            series: self.rows,
        }
    }
}

/// Everything the recorder measured, ready to summarise.
#[derive(Debug)]
pub struct Recorded {
    /// Whole-run counts.
    pub totals: Totals,
    /// Counts for requests that arrived after the warm-up.
    pub measured: Totals,
    /// Measured requests that completed within the SLO.
    pub measured_slo_met: u64,
    /// The SLO target.
    pub slo_target: Option<SimDuration>,
    /// Length of the measured window, seconds.
    pub window_s: f64,
    /// Batch-means standard error of the mean queue wait.
    pub wait_mean_stderr_s: Option<f64>,
    /// Batch-means standard error of the mean latency.
    pub latency_mean_stderr_s: Option<f64>,
    /// Time-averaged busy replicas over the measured window.
    pub busy_mean: f64,
    /// GPU-hours of billed nodes over the whole run.
    pub gpu_hours: f64,
    /// GPU-hours of billed nodes that no pod requested.
    pub idle_gpu_hours: f64,
    /// Node-hours billed.
    pub node_hours: f64,
    /// Most pods pending at once.
    pub pods_pending_max: u32,
    /// Pods pending at the horizon.
    pub pods_pending_at_horizon: u32,
    /// Time-averaged queue length over the measured window.
    pub queue_mean: f64,
    /// Time-averaged replicas over the measured window.
    pub replicas_mean: f64,
    /// End-to-end latency of measured completions (ns).
    pub latency: LogHistogram,
    /// Queue wait of measured completions (ns).
    pub wait: LogHistogram,
    /// Time in service of measured completions (ns).
    pub service: LogHistogram,
    /// Token-level statistics, for token-level engines.
    pub tokens: Option<TokenRecorder>,
    /// Per-tenant statistics, when recorded.
    pub tenants: Option<TenantRecorder>,
    /// The time series.
    pub series: Vec<SeriesRow>,
    /// Per window length asked for ([`Recorder::with_windows`]), each window's figures.
    pub windows: Vec<capsim_results::WindowSeries>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::{Prefix, RequestId};

    /// A small deterministic generator for the tests' inputs.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    const S: u64 = 1_000_000_000;

    fn completion(
        id: u64,
        arrival: u64,
        start: u64,
        first: u64,
        finish: u64,
        out: u32,
    ) -> Completion {
        Completion {
            request: Request {
                id: RequestId(id),
                arrival: SimTime(arrival),
                prompt_tokens: 100,
                output_tokens: out,
                prefix: Prefix::NONE,
                tenant: 0,
                service: 0,
                adapter: 0,
            },
            start: SimTime(start),
            first_token: SimTime(first),
            finish: SimTime(finish),
            batch_size: 1,
            replica: 0,
        }
    }

    /// The folding tests' run: a 15 s warm-up, 60 s, intervals of 10 s.
    const WARMUP: u64 = 15 * S;
    const HORIZON: u64 = 60 * S;
    const INTERVAL: u64 = 10 * S;

    fn recorder() -> Recorder {
        Recorder::new(
            SimDuration(WARMUP),
            SimDuration(HORIZON),
            SimDuration(INTERVAL),
            None,
        )
    }

    fn same(a: &LogHistogram, b: &LogHistogram) {
        assert_eq!(a.count(), b.count());
        assert_eq!(a.sum(), b.sum());
        assert_eq!(a.min(), b.min());
        assert_eq!(a.max(), b.max());
        assert_eq!(a.mean(), b.mean());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.quantile(q), b.quantile(q), "q {q}");
        }
    }

    /// Each value is recorded once, in its interval's measured or warm-up part, and the measured
    /// parts are added to the run's histograms as intervals close: the run's and each interval's
    /// figures are those of recording every value into both, as the recorder did before.
    #[test]
    fn interval_parts_fold_into_the_run_as_recording_twice_would() {
        let (warmup, horizon, len) = (WARMUP, HORIZON, INTERVAL);
        let mut r = recorder().with_tokens(None, None);
        let mut g = Lcg(7);
        let (mut run, mut ttft, mut tpot) = (
            LogHistogram::new(),
            LogHistogram::new(),
            LogHistogram::new(),
        );
        let mut rows: Vec<[LogHistogram; 3]> = (0..6).map(|_| Default::default()).collect();
        let mut t = 0;
        for id in 0..5_000 {
            t += g.below(20_000_000);
            if t >= horizon {
                break;
            }
            // Requests that arrived up to 20 s before they finish, some during the warm-up.
            let arrival = t.saturating_sub(g.below(20 * S));
            let first = arrival + (t - arrival) / (1 + g.below(4));
            let out = g.below(5) as u32;
            let c = completion(id, arrival, arrival, first, t, out);
            r.advance_to(SimTime(t));
            r.on_completion(&c, &mut NoSink);
            let (a, b) = c.token_times();
            let row = &mut rows[(t / len) as usize];
            row[0].record(t - arrival);
            row[1].record(a);
            if let Some(b) = b {
                row[2].record(b);
            }
            if arrival >= warmup {
                run.record(t - arrival);
                ttft.record(a);
                if let Some(b) = b {
                    tpot.record(b);
                }
            }
        }
        let rec = r.finish();
        same(&rec.latency, &run);
        let tokens = rec.tokens.unwrap();
        same(&tokens.ttft, &ttft);
        same(&tokens.tpot, &tpot);
        assert_eq!(rec.series.len(), 6);
        let s = |ns: u64| ns as f64 / 1e9;
        for (row, [lat, a, b]) in rec.series.iter().zip(&rows) {
            assert_eq!(row.latency_mean_s, lat.mean().map(|m| m / 1e9));
            assert_eq!(row.latency_p50_s, lat.quantile(0.5).map(s));
            assert_eq!(row.latency_p99_s, lat.quantile(0.99).map(s));
            assert_eq!(row.ttft_p99_s, a.quantile(0.99).map(s));
            assert_eq!(row.tpot_p99_s, b.quantile(0.99).map(s));
        }
    }

    /// Integrating the state only when it changes gives the areas of integrating it at every
    /// event.
    #[test]
    fn lazy_integration_matches_integrating_every_step() {
        let (warmup, horizon, len) = (WARMUP, HORIZON, INTERVAL);
        let mut r = recorder();
        r.set_cluster(ClusterGauge {
            ready: 3,
            ..Default::default()
        });
        let mut g = Lcg(11);
        let (mut busy, mut queue, mut iv_busy) = (0u128, 0u128, [0u128; 6]);
        let (mut q, mut b) = (0u32, 0u32);
        let mut t = 0;
        loop {
            let next = t + g.below(300_000_000);
            let end = next.min(horizon);
            // The reference: every step split at the warm-up and at interval ends.
            let mut from = t;
            while from < end {
                let to = end.min((from / len + 1) * len);
                let dt = (to - from) as u128;
                iv_busy[(from / len) as usize] += dt * b as u128;
                let m = to.saturating_sub(from.max(warmup)) as u128;
                busy += m * b as u128;
                queue += m * q as u128;
                from = to;
            }
            if next >= horizon {
                break;
            }
            t = next;
            r.advance_to(SimTime(t));
            // Often unchanged, as between a replica's steps.
            if g.below(3) == 0 {
                q = g.below(5) as u32;
                b = g.below(4) as u32;
            }
            r.set_state(q, 0, b);
        }
        let rec = r.finish();
        let window = (horizon - warmup) as f64;
        assert_eq!(rec.busy_mean, busy as f64 / window);
        assert_eq!(rec.queue_mean, queue as f64 / window);
        assert_eq!(rec.replicas_mean, 3.0 * 45e9 / window);
        for (row, area) in rec.series.iter().zip(iv_busy) {
            assert_eq!(row.busy_replicas_mean, area as f64 / 1e9 / 10.0);
        }
    }
}
