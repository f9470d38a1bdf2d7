//! The VPA in the world: every recommender interval each running pod's CPU and memory use over
//! the interval feed the recommender; every updater interval pods whose requests are off are
//! evicted (or resized in place); new pods get the target at admission.

use super::PodPhase;
use crate::cluster::{ResVec, ResourceNames};
use crate::engine::{SimDuration, SimTime};
use crate::ids::{PodId, ServiceId};
use crate::metrics::RequestSink;
use crate::results::{VpaOutcome, VpaResources};
use crate::scenario::{Scenario, VpaSpec};
use crate::vpa::updater::{disruptable, priority, wants_update};
use crate::vpa::{recommend, AggregateState, Amounts, ContainerState, Recommendation, UpdateMode};
use crate::world::{Event, World};

/// The VPA's state.
#[derive(Debug)]
pub(in crate::world) struct Vpa {
    spec: VpaSpec,
    agg: AggregateState,
    /// Per pod (by index): its container's memory window and last samples.
    containers: Vec<ContainerState>,
    /// Per pod: busy and executing integrals at its last sample, and when.
    last: Vec<Option<(u128, u128, SimTime)>>,
    rec: Option<Recommendation>,
    evictions: u64,
    in_place: u64,
}

impl Vpa {
    pub(in crate::world) fn new(s: &Scenario) -> Option<Vpa> {
        let spec = s.vpa.clone()?;
        Some(Vpa {
            agg: AggregateState::new(&spec.recommender),
            spec,
            containers: Vec::new(),
            last: Vec::new(),
            rec: None,
            evictions: 0,
            in_place: 0,
        })
    }

    /// The first recommender and updater runs.
    pub(in crate::world) fn first_events(&self, svc: ServiceId) -> [(SimTime, Event); 2] {
        [
            (
                SimTime(self.spec.recommender.interval_ns as u64),
                Event::VpaRecommend { svc },
            ),
            (
                SimTime(self.spec.updater.interval_ns as u64),
                Event::VpaUpdate { svc },
            ),
        ]
    }

    /// Counters and the last recommendation.
    pub(in crate::world) fn outcome(&self) -> VpaOutcome {
        let r = |a: Amounts| VpaResources {
            cpu_millicores: a.cpu,
            memory_bytes: a.memory,
        };
        VpaOutcome {
            update_mode: self.spec.mode.name().to_string(),
            evictions: self.evictions,
            in_place_updates: self.in_place,
            target: self.rec.map(|x| r(x.target)),
            lower_bound: self.rec.map(|x| r(x.lower)),
            upper_bound: self.rec.map(|x| r(x.upper)),
        }
    }

    /// `minAllowed` / `maxAllowed` applied to an amount.
    fn clamp(&self, a: Amounts) -> Amounts {
        let c = |v: i64, lo: Option<i64>, hi: Option<i64>| {
            let v = lo.map_or(v, |l| v.max(l));
            hi.map_or(v, |h| v.min(h))
        };
        let s = &self.spec;
        Amounts {
            cpu: c(a.cpu, s.min_allowed.0, s.max_allowed.0),
            memory: c(a.memory, s.min_allowed.1, s.max_allowed.1),
        }
    }

    /// The template's requests with the controlled resources set to `target`.
    fn apply(&self, template: &ResVec, target: Amounts) -> (ResVec, ResVec) {
        let mut req = template.clone();
        if self.spec.controlled.0 {
            req.0[ResourceNames::CPU] = target.cpu.max(0) as u64;
        }
        if self.spec.controlled.1 {
            req.0[ResourceNames::MEMORY] = (target.memory.max(0) as u64).saturating_mul(1000);
        }
        let mut nonzero = req.clone();
        if nonzero.0[ResourceNames::CPU] == 0 {
            nonzero.0[ResourceNames::CPU] = 100;
        }
        if nonzero.0[ResourceNames::MEMORY] == 0 {
            nonzero.0[ResourceNames::MEMORY] = 200 * 1024 * 1024 * 1000;
        }
        (req, nonzero)
    }
}

impl World {
    /// The admission controller: a new pod gets the current target (modes other than Off).
    pub(super) fn vpa_admit(&mut self, pod: PodId) {
        let svc = self.kube.svc_of(pod);
        let Some(v) = &self.svcs[svc.index()].vpa else {
            return;
        };
        let Some(rec) = v.rec else { return };
        if v.spec.mode == UpdateMode::Off {
            return;
        }
        let r = v.apply(self.kube.pod_req(svc), rec.target);
        self.kube.set_requests(pod, r);
    }

    /// The recommender's loop: one CPU and one memory sample per running pod, then a new
    /// recommendation.
    pub(in crate::world) fn on_vpa_recommend(&mut self, svc: ServiceId) {
        let sv = &mut self.svcs[svc.index()];
        let Some(v) = &mut sv.vpa else { return };
        let now = self.now;
        let next = now + SimDuration(v.spec.recommender.interval_ns as u64);
        let m = v.spec.metrics;
        for p in self.kube.pod_views(svc) {
            if !matches!(p.phase, PodPhase::Ready | PodPhase::Terminating) {
                continue;
            }
            let e = p.slot.index();
            if v.last.len() <= e {
                v.last.resize(e + 1, None);
                v.containers.resize(e + 1, ContainerState::default());
            }
            let (busy, out, queued) = sv.gauges.integrals(e, now);
            let executing = out - queued;
            let Some((b0, x0, at)) = v.last[e].replace((busy, executing, now)) else {
                continue;
            };
            let dt = now.0.saturating_sub(at.0);
            if dt == 0 {
                continue;
            }
            let busy_ratio = (busy - b0) as f64 / dt as f64;
            let executing = executing.saturating_sub(x0) as f64 / dt as f64;
            let cores = (m.cpu_idle_milli as f64 + busy_ratio * m.cpu_busy_milli as f64) / 1e3;
            let bytes =
                (m.memory_milli as f64 + executing * m.memory_per_request_milli as f64) / 1e3;
            let start = at.0 as i64;
            let c = &mut v.containers[e];
            c.add_cpu(&mut v.agg, cores, start);
            c.add_memory(&mut v.agg, &v.spec.recommender, bytes, start, false);
        }
        if v.agg.total_samples > 0 {
            let r = recommend(&v.agg, &v.spec.recommender, 1);
            v.rec = Some(Recommendation {
                target: v.clamp(r.target),
                lower: v.clamp(r.lower),
                upper: v.clamp(r.upper),
            });
        }
        if next < self.horizon {
            self.queue.push(next, Event::VpaRecommend { svc });
        }
    }

    /// The updater's loop: evicts (or resizes in place) pods whose requests are off, within the
    /// eviction tolerance.
    pub(in crate::world) fn on_vpa_update<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let Some(v) = &self.svcs[svc.index()].vpa else {
            return;
        };
        let now = self.now;
        let next = now + SimDuration(v.spec.updater.interval_ns as u64);
        if next < self.horizon {
            self.queue.push(next, Event::VpaUpdate { svc });
        }
        let Some(rec) = v.rec else { return };
        if !v.spec.mode.updates_running_pods() {
            return;
        }
        let cfg = v.spec.updater;
        let (mut live, mut pending) = (0u32, 0u32);
        let mut cands = Vec::new();
        for p in self.kube.pod_views(svc) {
            match p.phase {
                PodPhase::Pending => {
                    live += 1;
                    pending += 1;
                }
                PodPhase::Starting | PodPhase::Ready => {
                    live += 1;
                    let (req, _) = self.kube.requests_of(p.id);
                    let cpu = req.0[ResourceNames::CPU] as i64;
                    let mem = (req.0[ResourceNames::MEMORY] / 1000) as i64;
                    let pr = priority(
                        ((cpu > 0).then_some(cpu), (mem > 0).then_some(mem)),
                        &rec,
                        v.spec.controlled,
                    );
                    let age = p.bound.map(|b| now.0.saturating_sub(b.0) as i64);
                    if wants_update(&pr, age, &cfg) {
                        cands.push((pr, p.id));
                    }
                }
                _ => {}
            }
        }
        if live < cfg.min_replicas || cands.is_empty() {
            return;
        }
        cands.sort_by(|a, b| {
            b.0.scale_up
                .cmp(&a.0.scale_up)
                .then(b.0.resource_diff.total_cmp(&a.0.resource_diff))
                .then(a.1.cmp(&b.1))
        });
        let configured = self.kube.desired(svc);
        let running = live - pending;
        let new = v.apply(self.kube.pod_req(svc), rec.target);
        let in_place = v.spec.mode == UpdateMode::InPlaceOrRecreate;
        let mut evicted = 0;
        for (done, (_, pod)) in cands.into_iter().enumerate() {
            if !disruptable(configured, running, done as u32, cfg.eviction_tolerance) {
                break;
            }
            if in_place && self.kube.resize_in_place(pod, &new, self.now) {
                self.svcs[svc.index()]
                    .vpa
                    .as_mut()
                    .expect("checked")
                    .in_place += 1;
                continue;
            }
            // The eviction API refuses what the PodDisruptionBudget does not allow.
            if !self.pdb_allows_pod(pod) {
                break;
            }
            self.terminate_pod(pod, sink);
            evicted += 1;
        }
        self.svcs[svc.index()]
            .vpa
            .as_mut()
            .expect("checked")
            .evictions += evicted;
        if evicted > 0 {
            self.reconcile_replicas(svc, sink);
            self.schedule_pending();
        }
        self.publish_cluster();
    }
}
