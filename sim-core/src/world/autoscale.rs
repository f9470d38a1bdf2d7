//! The HPA control loop: a metrics pipeline that scrapes every pod on an interval (each sample
//! an average over the interval, as old as the last scrape), and the HorizontalPodAutoscaler,
//! reconciled every sync period with upstream's algorithm, scaling the Deployment.

use super::kube::PodPhase;
use super::{Event, World};
use crate::engine::{SimDuration, SimTime};
use crate::hpa::state::{
    ConditionStatus, ContainerKind, ContainerState, MetricSample, NamedValue, PodPhase as HpaPhase,
};
use crate::hpa::{reconcile, HpaHistory, Observation, PodState};
use crate::ids::ServiceId;
use crate::metrics::RequestSink;
use crate::scenario::{AutoscalingSpec, Scenario};
use crate::serving::Engine;
use std::collections::BTreeMap;

/// Time-integrals of one engine's state, kept for every engine.
#[derive(Clone, Copy, Debug, Default)]
struct Gauge {
    last: SimTime,
    queued: u32,
    outstanding: u32,
    busy: u32,
    queued_area: u128,
    outstanding_area: u128,
    busy_area: u128,
    completions: u64,
    output_tokens: u64,
}

impl Gauge {
    #[inline]
    fn integrate(&mut self, now: SimTime) {
        if now == self.last {
            // Nothing elapsed (a second change at the same instant): the areas stay.
            return;
        }
        let dt = now.0.saturating_sub(self.last.0) as u128;
        self.queued_area += self.queued as u128 * dt;
        self.outstanding_area += self.outstanding as u128 * dt;
        self.busy_area += self.busy as u128 * dt;
        self.last = now;
    }
}

/// A gauge's integrals at the last scrape.
#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    at: SimTime,
    queued_area: u128,
    outstanding_area: u128,
    busy_area: u128,
    completions: u64,
    output_tokens: u64,
}

/// One scrape of one pod: averages over the window, in milli-units.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: SimTime,
    window: SimDuration,
    queue: i64,
    in_flight: i64,
    rps: i64,
    tps: i64,
    busy_ratio: f64,
    kv: i64,
}

impl Sample {
    /// The pod metrics this sample serves (`POD_METRICS`), milli-units; `mig`: DCGM's device
    /// utilisation reads 0.
    fn values(&self, mig: bool) -> [(&'static str, i64); 8] {
        let busy_pct = (self.busy_ratio * 100_000.0).round() as i64;
        [
            ("queue_length", self.queue),
            ("in_flight", self.in_flight),
            ("requests_per_second", self.rps),
            ("output_tokens_per_second", self.tps),
            ("gpu_utilization", busy_pct),
            ("DCGM_FI_DEV_GPU_UTIL", if mig { 0 } else { busy_pct }),
            (
                "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
                (self.busy_ratio * 1000.0).round() as i64,
            ),
            ("kv_cache_usage", self.kv),
        ]
    }
}

/// Per-engine integrals and the latest scrape of each.
#[derive(Debug, Default)]
pub(super) struct Gauges {
    /// Whether anything reads them (the HPA's scrapes, the VPA): without a reader, serving
    /// events skip [`Gauges::update`].
    read: bool,
    gauges: Vec<Gauge>,
    snaps: Vec<Snapshot>,
    samples: Vec<Option<Sample>>,
}

impl Gauges {
    /// Gauges for a service whose HPA or VPA reads them (`read`), or that nothing reads.
    pub(super) fn new(read: bool) -> Self {
        Gauges {
            read,
            ..Gauges::default()
        }
    }

    #[inline]
    fn ensure(&mut self, e: usize) {
        if self.gauges.len() <= e {
            self.grow(e);
        }
    }

    /// Makes room for engine `e` (a new replica).
    #[cold]
    fn grow(&mut self, e: usize) {
        self.gauges.resize(e + 1, Gauge::default());
        self.snaps.resize(e + 1, Snapshot::default());
        self.samples.resize(e + 1, None);
    }

    /// Records engine `e`'s state from `now` on, after `done` completions with `tokens` output
    /// tokens.
    #[inline]
    pub(super) fn update(
        &mut self,
        e: usize,
        now: SimTime,
        state: (u32, u32, u32),
        done: u64,
        tokens: u64,
    ) {
        if !self.read {
            return;
        }
        self.ensure(e);
        let g = &mut self.gauges[e];
        g.integrate(now);
        g.queued = state.0;
        g.outstanding = state.0 + state.1;
        g.busy = state.2;
        g.completions += done;
        g.output_tokens += tokens;
    }

    /// Pod `e`'s latest scraped value of the pod metric `name` (milli-units), if scraped.
    pub(super) fn pod_metric(&self, e: usize, name: &str, mig: bool) -> Option<i64> {
        let s = self.samples.get(e).copied().flatten()?;
        s.values(mig)
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Engine `e`'s time-integrals of busy units, of requests waiting or executing, and of
    /// requests waiting, up to `now` (count × nanoseconds).
    pub(super) fn integrals(&mut self, e: usize, now: SimTime) -> (u128, u128, u128) {
        self.ensure(e);
        let g = &mut self.gauges[e];
        g.integrate(now);
        (g.busy_area, g.outstanding_area, g.queued_area)
    }

    /// A pod became Ready: its first sample averages from now.
    pub(super) fn pod_ready(&mut self, e: usize, now: SimTime) {
        self.ensure(e);
        let g = &mut self.gauges[e];
        g.integrate(now);
        self.snaps[e] = Snapshot {
            at: now,
            queued_area: g.queued_area,
            outstanding_area: g.outstanding_area,
            busy_area: g.busy_area,
            completions: g.completions,
            output_tokens: g.output_tokens,
        };
        self.samples[e] = None;
    }

    /// Scrapes engine `e` at `now` (averages since its last scrape); `kv` its KV use ratio.
    fn scrape(&mut self, e: usize, now: SimTime, kv: f64) {
        self.ensure(e);
        let g = &mut self.gauges[e];
        g.integrate(now);
        let s = &mut self.snaps[e];
        let dt = now.0.saturating_sub(s.at.0);
        if dt > 0 {
            let per = |area: u128, prev: u128| ((area - prev) * 1000 / dt as u128) as i64;
            let rate = |n: u64, prev: u64| ((n - prev) as f64 * 1e12 / dt as f64).round() as i64;
            self.samples[e] = Some(Sample {
                at: now,
                window: SimDuration(dt),
                queue: per(g.queued_area, s.queued_area),
                in_flight: per(g.outstanding_area, s.outstanding_area),
                rps: rate(g.completions, s.completions),
                tps: rate(g.output_tokens, s.output_tokens),
                busy_ratio: (g.busy_area - s.busy_area) as f64 / dt as f64,
                kv: (kv * 1000.0).round() as i64,
            });
        }
        *s = Snapshot {
            at: now,
            queued_area: g.queued_area,
            outstanding_area: g.outstanding_area,
            busy_area: g.busy_area,
            completions: g.completions,
            output_tokens: g.output_tokens,
        };
    }
}

/// The HPA and what it remembers between syncs.
#[derive(Debug)]
pub(super) struct Autoscaler {
    spec: AutoscalingSpec,
    history: HpaHistory,
    cpu_request_milli: Option<i64>,
    memory_request_milli: Option<i64>,
    /// Syncs run, rescales made, syncs that failed.
    pub(super) syncs: u64,
    pub(super) rescales: u64,
    pub(super) failures: u64,
    pub(super) first_failure: Option<String>,
}

impl Autoscaler {
    pub(super) fn new(s: &Scenario) -> Option<Autoscaler> {
        let spec = s.autoscaling.clone()?;
        let req = &s.service.pod.resources.requests;
        let milli = |n: &str| req.get(n).map(|q| q.milli().min(i64::MAX as u128) as i64);
        Some(Autoscaler {
            spec,
            history: HpaHistory::default(),
            cpu_request_milli: milli("cpu"),
            memory_request_milli: milli("memory"),
            syncs: 0,
            rescales: 0,
            failures: 0,
            first_failure: None,
        })
    }

    /// When the first scrape and the first sync happen.
    pub(super) fn first_events(&self, svc: ServiceId) -> [(SimTime, Event); 2] {
        [
            (
                SimTime(self.spec.metrics.scrape_interval.0),
                Event::Scrape { svc },
            ),
            (
                SimTime(self.spec.controller.sync_period as u64),
                Event::HpaSync { svc },
            ),
        ]
    }
}

impl World {
    /// Scrapes every Ready or terminating pod.
    pub(super) fn on_scrape(&mut self, svc: ServiceId) {
        let sv = &mut self.svcs[svc.index()];
        let Some(a) = &sv.autoscaler else { return };
        let next = self.now + a.spec.metrics.scrape_interval;
        let now = self.now;
        for p in self.kube.pod_views(svc) {
            let (e, phase) = (p.slot.index(), p.phase);
            if matches!(phase, PodPhase::Ready | PodPhase::Terminating) {
                let kv = match sv.engines.get(e) {
                    Some(Engine::Vllm(v)) => {
                        let (used, total) = v.kv_blocks();
                        used as f64 / total.max(1) as f64
                    }
                    Some(Engine::Splitwise(s)) => {
                        let (used, total) = s.kv_blocks();
                        used as f64 / total.max(1) as f64
                    }
                    _ => 0.0,
                };
                sv.gauges.scrape(e, now, kv);
            }
        }
        if next < self.horizon {
            self.queue.push(next, Event::Scrape { svc });
        }
    }

    /// One HPA sync: observe, reconcile, scale.
    pub(super) fn on_hpa_sync<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let sv = &self.svcs[svc.index()];
        let Some(a) = &sv.autoscaler else { return };
        let now_ns = self.now.0 as i64;
        let ns = |t: SimTime| t.0 as i64;
        let m = a.spec.metrics;
        let mut requests = BTreeMap::new();
        if let Some(c) = a.cpu_request_milli {
            requests.insert("cpu".to_string(), c);
        }
        if let Some(mem) = a.memory_request_milli {
            requests.insert("memory".to_string(), mem);
        }
        let mut pods = Vec::new();
        let mut totals = [0i64; 3];
        let mut status_replicas = 0;
        for p in self.kube.pod_views(svc) {
            // A ReplicaSet's status.replicas counts active pods only (upstream
            // `FilterActivePods`: no deletion timestamp); the HPA still sees terminating pods.
            status_replicas += i32::from(p.phase != PodPhase::Terminating);
            let sample = sv.gauges.samples.get(p.slot.index()).copied().flatten();
            let mut usage = BTreeMap::new();
            let mut metrics = BTreeMap::new();
            let mut usage_sample = (0, 0);
            if let Some(s) = sample {
                let (at, window) = (ns(s.at), s.window.0 as i64);
                usage_sample = (at, window);
                let cpu =
                    m.cpu_idle_milli + (s.busy_ratio * m.cpu_busy_milli as f64).round() as i64;
                usage.insert("cpu".to_string(), cpu);
                let memory = m
                    .memory_milli
                    .saturating_add(m.memory_per_request_milli.saturating_mul(s.in_flight) / 1000);
                usage.insert("memory".to_string(), memory);
                // DCGM's device utilisation reads 0 for a pod on a MIG slice.
                for (name, v) in s.values(self.kube.on_mig(p.id)) {
                    metrics.insert(
                        name.to_string(),
                        MetricSample {
                            value: Some(v),
                            timestamp: at,
                            window,
                        },
                    );
                }
                totals[0] += s.queue;
                totals[1] += s.in_flight;
                totals[2] += s.rps;
            }
            let (phase, ready) = match p.phase {
                PodPhase::Pending => (HpaPhase::Pending, ConditionStatus::False),
                PodPhase::Starting => (HpaPhase::Running, ConditionStatus::False),
                PodPhase::Ready | PodPhase::Terminating => {
                    (HpaPhase::Running, ConditionStatus::True)
                }
                PodPhase::Gone => continue,
            };
            let ready = if p.phase == PodPhase::Pending && p.bound.is_none() {
                None
            } else {
                Some(ready)
            };
            pods.push(PodState {
                name: format!("pod-{}", p.id.0),
                listed: true,
                phase,
                ready,
                ready_transition: ns(p.ready_since.or(p.bound).unwrap_or(p.created)),
                // Pods without nodes start their containers when created.
                start: (p.phase != PodPhase::Pending).then(|| ns(p.bound.unwrap_or(p.created))),
                deleting: p.phase == PodPhase::Terminating,
                containers: vec![ContainerState {
                    name: "server".to_string(),
                    kind: ContainerKind::Regular,
                    requests: requests.clone(),
                    usage,
                }],
                pod_requests: None,
                metrics,
                usage_sample,
            });
        }
        let mut external: Vec<NamedValue> = ["queue_length", "in_flight", "requests_per_second"]
            .iter()
            .zip(totals)
            .map(|(n, v)| NamedValue {
                name: n.to_string(),
                value: v,
            })
            .collect();
        external.extend(self.keda_metrics(svc));
        let current = self.kube.desired(svc) as i32;
        let obs = Observation {
            now: now_ns,
            spec_replicas: current,
            status_replicas,
            pods,
            object_metrics: Vec::new(),
            external_metrics: external,
        };
        let a = self.svcs[svc.index()]
            .autoscaler
            .as_mut()
            .expect("checked above");
        let next = self.now + SimDuration(a.spec.controller.sync_period as u64);
        let outcome = reconcile(&a.spec.hpa, &a.spec.controller, &obs, &mut a.history);
        a.syncs += 1;
        match outcome {
            Ok(out) => {
                if out.rescale && out.desired != current && out.desired >= 0 {
                    a.rescales += 1;
                    self.scale_deployment_to(svc, out.desired as u32, sink);
                }
            }
            Err(e) => {
                a.failures += 1;
                if a.first_failure.is_none() {
                    a.first_failure = Some(format!(
                        "HPA sync at {:.0} s failed ({}): {}",
                        self.now.as_secs_f64(),
                        e.reason,
                        e.message
                    ));
                }
            }
        }
        if next < self.horizon {
            self.queue.push(next, Event::HpaSync { svc });
        }
    }
}
