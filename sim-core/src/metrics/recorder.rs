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
    busy: u128,
    /// GPU-equivalents held × nanoseconds.
    gpus_held: f64,
    cost_usd: f64,
    cpu_req: u128,
    cpu_alloc: u128,
    gpu_req: u128,
    gpu_alloc: u128,
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
    areas: Areas,
    latency: LogHistogram,
    /// Time to first token and per output token of completions in the interval (LLM engines).
    ttft: LogHistogram,
    tpot: LogHistogram,
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
    // State, integrated over time at every event.
    last_t: SimTime,
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
    tokens: Option<Box<TokenRecorder>>,
    tenants: Option<Box<TenantRecorder>>,
    /// Per-window statistics for windowed checks, when asked for.
    windows: Option<Box<Windows>>,
    cost_usd: f64,
    slo_ns: Option<u64>,
    interval: Interval,
    measured_busy_area: u128,
    measured_queue_area: u128,
    measured_replica_area: u128,
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
        let end = SimTime(interval_len.0.min(horizon.0));
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
            queued: 0,
            in_flight: 0,
            busy: 0,
            gauge: ClusterGauge::default(),
            measured_busy_area: 0,
            measured_queue_area: 0,
            measured_replica_area: 0,
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
                areas: Areas::default(),
                latency: LogHistogram::new(),
                ttft: LogHistogram::new(),
                tpot: LogHistogram::new(),
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

    /// Integrates the state up to `t` and closes every sample interval that ends at or before `t`.
    #[inline]
    pub fn advance_to(&mut self, t: SimTime) {
        let t = t.min(self.horizon);
        while self.interval.end <= t && self.interval.start < self.horizon {
            let end = self.interval.end;
            self.integrate(end);
            self.close_interval();
        }
        self.integrate(t);
    }

    #[inline]
    fn integrate(&mut self, t: SimTime) {
        if t <= self.last_t {
            return;
        }
        let dt = (t.0 - self.last_t.0) as u128;
        let g = &self.gauge;
        let a = &mut self.interval.areas;
        a.busy += dt * self.busy as u128;
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
        // The measured window is [warmup, horizon).
        let from = self.last_t.max(self.warmup);
        if t > from {
            let mdt = (t.0 - from.0) as u128;
            self.measured_busy_area += mdt * self.busy as u128;
            self.measured_queue_area += mdt * self.queued as u128;
            self.measured_replica_area += mdt * self.gauge.ready as u128;
        }
        self.last_t = t;
    }

    fn close_interval(&mut self) {
        let iv = &mut self.interval;
        let len_s = iv.end.since(iv.start).as_secs_f64().max(1e-9);
        let busy_mean = iv.areas.busy as f64 / 1e9 / len_s;
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
            latency_mean_s: iv.latency.mean().map(|m| m / 1e9),
            latency_p50_s: iv.latency.quantile(0.5).map(s),
            latency_p99_s: iv.latency.quantile(0.99).map(s),
            slo_attainment_ratio: (self.slo_ns.is_some() && iv.slo_total > 0)
                .then(|| iv.slo_met as f64 / iv.slo_total as f64),
            nodes: g.nodes,
            nodes_ready: g.nodes_ready,
            pods_pending: g.pods_pending,
            cpu_alloc_ratio: ratio(iv.areas.cpu_req, iv.areas.cpu_alloc),
            gpu_alloc_ratio: ratio(iv.areas.gpu_req, iv.areas.gpu_alloc),
            cost_usd_per_hour: iv.areas.cost_usd / (len_s / 3600.0),
            cost_usd: self.cost_usd,
            ttft_p99_s: iv.ttft.quantile(0.99).map(s),
            tpot_p99_s: iv.tpot.quantile(0.99).map(s),
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
        iv.end = SimTime(
            iv.end
                .0
                .saturating_add(self.interval_len.0)
                .min(self.horizon.0),
        );
        iv.arrivals = 0;
        iv.completions = 0;
        iv.drops = 0;
        iv.slo_met = 0;
        iv.slo_total = 0;
        iv.token_met = 0;
        iv.areas = Areas::default();
        iv.latency.clear();
        iv.ttft.clear();
        iv.tpot.clear();
    }

    /// Sets the serving state from now on (call after [`Recorder::advance_to`] for the same time).
    #[inline]
    pub fn set_state(&mut self, queued: u32, in_service: u32, busy: u32) {
        self.queued = queued;
        self.in_flight = queued + in_service;
        self.busy = busy;
    }

    /// Sets the cluster state from now on (call after [`Recorder::advance_to`] for the same time).
    pub fn set_cluster(&mut self, gauge: ClusterGauge) {
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
        let wait = c.start.since(c.request.arrival).0;
        self.totals.completed += 1;
        self.interval.completions += 1;
        self.interval.latency.record(latency);
        let times = self.tokens.is_some().then(|| c.token_times());
        let mut token_met = false;
        if let Some((ttft, tpot)) = times {
            self.interval.ttft.record(ttft);
            if let Some(t) = tpot {
                self.interval.tpot.record(t);
            }
            if let Some(k) = &self.tokens {
                token_met = k.meets((ttft, tpot));
                self.interval.token_met += token_met as u64;
            }
        }
        if let Some(t) = &mut self.tenants {
            t.on_completion(c, times, c.request.arrival >= self.warmup);
        }
        let met = self.slo_ns.is_some_and(|slo| latency <= slo);
        if self.slo_ns.is_some() {
            self.interval.slo_total += 1;
            self.interval.slo_met += met as u64;
        }
        if self.measured_arrival(&c.request) {
            self.measured.completed += 1;
            self.measured_slo_met += met as u64;
            if let Some(w) = &mut self.windows {
                w.on_completion(latency, met, times, token_met);
            }
            self.latency.record(latency);
            self.wait.record(wait);
            if self.cluster {
                // A service's entry reports no time-in-service statistics.
                self.service.record(c.finish.since(c.start).0);
            }
            if let (Some(t), Some(times)) = (&mut self.tokens, times) {
                t.record(c, times);
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
        if self.interval.start < self.horizon {
            // A last, partial interval.
            self.interval.end = self.horizon;
            self.close_interval();
        }
        let window_s = self.horizon.since(self.warmup).as_secs_f64();
        let window_ns = (self.horizon.0 - self.warmup.0) as f64;
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
            busy_mean: self.measured_busy_area as f64 / window_ns,
            gpu_hours: self.gpu_billed_area as f64 / 1e3 / 3.6e12,
            idle_gpu_hours: self.gpu_idle_area as f64 / 1e3 / 3.6e12,
            node_hours: self.node_area as f64 / 3.6e12,
            pods_pending_max: self.pods_pending_max,
            pods_pending_at_horizon: self.gauge.pods_pending,
            queue_mean: self.measured_queue_area as f64 / window_ns,
            replicas_mean: self.measured_replica_area as f64 / window_ns,
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
