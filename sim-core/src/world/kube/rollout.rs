//! Rollouts of model versions: the Deployment controller over one ReplicaSet per version
//! (upstream's `RollingUpdate` with `maxSurge`/`maxUnavailable`/`minReadySeconds`, proportional
//! scaling when the replicas change mid-rollout, and `Recreate`), a canary with a weighted
//! traffic split (as Argo Rollouts with traffic routing), and what they cost.

use super::super::{Event, World};
use super::{Kube, PodPhase};
use crate::engine::{Rng, SimDuration, SimTime};
use crate::ids::{EngineId, ServiceId};
use crate::metrics::rollout::{ReadyPoint, RolloutRecord, RolloutSummary, VersionSummary};
use crate::metrics::{LogHistogram, RequestSink};
use crate::results::percentiles;
use crate::scenario::{EngineSpec, RolloutSpec, Scenario, ServiceSpec, Strategy};
use crate::serving::{Completion, StepModel};
use rand::RngExt;

/// Most Deployment/ReplicaSet passes in one sync (each pass is one upstream sync; the loop
/// stops as soon as nothing changes).
const MAX_PASSES: usize = 16;

/// One rollout's progress and measurements.
#[derive(Debug)]
struct Progress {
    start: SimTime,
    finish: Option<SimTime>,
    /// Whether it is still being measured (started, not finished, not superseded).
    open: bool,
    min_ready: u32,
    min_margin: i64,
    extra_pod_ns: u128,
    surge: Option<u32>,
    unavailable: Option<u32>,
}

/// The Deployment with its versions, the canary split and the rollout measurements.
#[derive(Debug)]
pub(in crate::world) struct Rollouts {
    specs: Vec<RolloutSpec>,
    /// Services of versions 1, 2, … (engines are built from them).
    services: Vec<ServiceSpec>,
    /// `spec.replicas` of each version's ReplicaSet.
    rs: Vec<u32>,
    /// The Deployment's current template (the newest version started).
    current: u32,
    /// The desired replicas and `desired + maxSurge` at the last sync (upstream's annotations).
    annotated_desired: u32,
    annotated_max: u32,
    /// A canary's target weight and the weight in force (it rises once the canary is available).
    target_weight: f64,
    weight: f64,
    split_rng: Rng,
    scratch: Vec<EngineId>,
    /// A pod's state changed since the last sync.
    pub(in crate::world) dirty: bool,
    /// A `DeploymentSync` is pending at this time (a pod becoming available).
    armed: Option<SimTime>,
    progress: Vec<Progress>,
    latency: Vec<LogHistogram>,
    warmup: SimTime,
    ready: Vec<ReadyPoint>,
    last: (SimTime, u32, u32),
    counts: Vec<u32>,
}

impl Rollouts {
    /// The rollouts of `s` (one service's view), if it has any; `base` is the world's service
    /// (its measured step model, if any, already built); `split_rng` draws a canary's split.
    pub(in crate::world) fn new(
        s: &Scenario,
        base: &ServiceSpec,
        split_rng: Rng,
    ) -> Option<Rollouts> {
        if s.rollouts.is_empty() {
            return None;
        }
        let services = s
            .rollouts
            .iter()
            .map(|r| {
                let mut svc = r.service.clone();
                if let (EngineSpec::Vllm(v), EngineSpec::Vllm(b)) = (&mut svc.engine, &base.engine)
                {
                    if v.profile.is_some() {
                        // The base's tables, loaded once, at this version's speed.
                        v.step = if r.speed == 1.0 {
                            b.step.clone()
                        } else {
                            StepModel::Scaled(Box::new(b.step.clone()), 1.0 / r.speed)
                        };
                    }
                }
                svc
            })
            .collect();
        Some(Rollouts {
            specs: s.rollouts.clone(),
            services,
            rs: vec![s.service.replicas],
            current: 0,
            annotated_desired: s.service.replicas,
            annotated_max: s.service.replicas,
            target_weight: 0.0,
            weight: 0.0,
            split_rng,
            scratch: Vec::new(),
            dirty: true,
            armed: None,
            progress: Vec::new(),
            latency: vec![LogHistogram::new(); s.rollouts.len() + 1],
            warmup: SimTime(s.warmup.0),
            ready: Vec::new(),
            last: (SimTime::ZERO, 0, 0),
            counts: Vec::new(),
        })
    }

    /// The first events: each rollout's start and its canary steps.
    pub(in crate::world) fn first_events(&self, svc: ServiceId) -> Vec<(SimTime, Event)> {
        let mut out = Vec::new();
        for (i, r) in self.specs.iter().enumerate() {
            out.push((
                r.at,
                Event::Rollout {
                    svc,
                    rollout: i as u32,
                    step: 0,
                },
            ));
            if let Strategy::Canary { steps } = &r.strategy {
                for (j, (t, _)) in steps.iter().enumerate().skip(1) {
                    out.push((
                        *t,
                        Event::Rollout {
                            svc,
                            rollout: i as u32,
                            step: j as u32,
                        },
                    ));
                }
            }
        }
        out
    }

    /// The service of `version` (`None` for version 0, the world's own).
    pub(in crate::world) fn service(&self, version: u32) -> Option<&ServiceSpec> {
        (version > 0).then(|| &self.services[version as usize - 1])
    }

    fn strategy(&self) -> Option<&RolloutSpec> {
        (self.current > 0).then(|| &self.specs[self.current as usize - 1])
    }

    /// Whether requests are split by weight between the canary and the rest.
    fn splitting(&self) -> bool {
        self.strategy()
            .is_some_and(|r| matches!(r.strategy, Strategy::Canary { .. }))
            && self.progress.last().is_some_and(|p| p.open)
    }

    /// Records a completion's latency under the version of the pod that served it.
    pub(in crate::world) fn on_completion(&mut self, kube: &Kube, svc: ServiceId, c: &Completion) {
        if c.request.arrival < self.warmup {
            return;
        }
        let v = kube.deps[svc.index()]
            .slots
            .get(c.replica as usize)
            .and_then(|p| kube.pods.get(p.index()))
            .map_or(0, |p| p.version as usize);
        self.latency[v].record(c.finish.since(c.request.arrival).0);
    }

    /// The summary at the horizon.
    fn summary(&self, kube: &Kube, horizon: SimTime) -> RolloutSummary {
        let rollouts = self
            .progress
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (node_s, cost, until) = extra_nodes(kube, p.start, p.finish, horizon);
                RolloutRecord {
                    version: i as u32 + 1,
                    strategy: self.specs[i].strategy.name().to_string(),
                    max_surge: p.surge,
                    max_unavailable: p.unavailable,
                    start_s: p.start.as_secs_f64(),
                    finish_s: p.finish.map(|f| f.as_secs_f64()),
                    duration_s: p.finish.map(|f| f.since(p.start).as_secs_f64()),
                    min_ready_replicas: p.min_ready,
                    min_ready_minus_desired: p.min_margin,
                    extra_pod_hours: p.extra_pod_ns as f64 / 1e9 / 3600.0,
                    extra_node_hours: node_s / 3600.0,
                    extra_cost_usd: cost,
                    extra_until_s: until.as_secs_f64(),
                }
            })
            .collect();
        let versions = self
            .latency
            .iter()
            .enumerate()
            .map(|(v, h)| VersionSummary {
                version: v as u32,
                completed: h.count(),
                latency_s: percentiles(h, None),
            })
            .collect();
        RolloutSummary {
            rollouts,
            versions,
            ready: self.ready.clone(),
        }
    }
}

/// Node-seconds and node cost above the count at `start`, from `start` until the count is back
/// at it after `finish` (or the horizon); and when that window closed.
fn extra_nodes(
    kube: &Kube,
    start: SimTime,
    finish: Option<SimTime>,
    horizon: SimTime,
) -> (f64, f64, SimTime) {
    let price = |n: &super::Node| kube.pools[n.pool.index()].spec.price_usd_per_hour / 3600.0;
    let alive = |n: &super::Node, t: SimTime| n.launched <= t && n.ended.is_none_or(|e| e > t);
    let base_n = kube.nodes.iter().filter(|n| alive(n, start)).count() as i64;
    let base_c: f64 = kube
        .nodes
        .iter()
        .filter(|n| alive(n, start))
        .map(price)
        .sum();
    // Changes after the start, in time order (ends before launches at the same instant).
    let mut changes: Vec<(SimTime, bool, usize)> = Vec::new();
    for (i, n) in kube.nodes.iter().enumerate() {
        if n.launched > start && n.launched < horizon {
            changes.push((n.launched, true, i));
        }
        if let Some(e) = n.ended.filter(|&e| e > start && e < horizon) {
            changes.push((e, false, i));
        }
    }
    changes.sort_by_key(|&(t, up, i)| (t, up, i));
    let (mut n, mut c, mut t) = (base_n, base_c, start);
    let (mut node_s, mut cost) = (0.0, 0.0);
    let mut until = horizon;
    for (at, up, i) in changes {
        if finish.is_some_and(|f| at >= f) && n <= base_n {
            until = t.max(finish.unwrap_or(t));
            break;
        }
        let dt = at.since(t).as_secs_f64();
        node_s += (n - base_n).max(0) as f64 * dt;
        cost += (c - base_c).max(0.0) * dt;
        let p = price(&kube.nodes[i]);
        if up {
            n += 1;
            c += p;
        } else {
            n -= 1;
            c -= p;
        }
        t = at;
        until = horizon;
    }
    if until == horizon {
        if finish.is_some() && n <= base_n {
            until = t.max(finish.unwrap_or(t)).min(horizon);
        } else {
            let dt = horizon.since(t).as_secs_f64();
            node_s += (n - base_n).max(0) as f64 * dt;
            cost += (c - base_c).max(0.0) * dt;
        }
    }
    (node_s, cost, until)
}

/// The ready pods a request may go to: a canary's or the others' by weight while a canary is
/// in progress (the other group if the drawn one has none), else every ready pod.
#[inline]
pub(in crate::world) fn candidates<'a>(
    rollout: &'a mut Option<Box<Rollouts>>,
    kube: &'a Kube,
    svc: ServiceId,
) -> (&'a [EngineId], Option<u64>) {
    match rollout.as_mut().filter(|r| r.splitting()) {
        None => (kube.ready(svc), Some(kube.ready_version(svc))),
        Some(r) => (split_candidates(r, kube, svc), None),
    }
}

/// [`candidates`] while a canary is in progress: one group's ready pods, drawn by weight (the
/// other group's when the drawn one has none).
fn split_candidates<'a>(r: &'a mut Rollouts, kube: &Kube, svc: ServiceId) -> &'a [EngineId] {
    let to_new = r.weight >= 1.0 || (r.weight > 0.0 && r.split_rng.random::<f64>() < r.weight);
    let current = r.current;
    let pick =
        |want_new: bool, out: &mut Vec<EngineId>| {
            out.clear();
            out.extend(kube.ready(svc).iter().filter(|&&e| {
                (kube.pods[kube.pod_at(svc, e).index()].version == current) == want_new
            }));
        };
    pick(to_new, &mut r.scratch);
    if r.scratch.is_empty() {
        pick(!to_new, &mut r.scratch);
    }
    &r.scratch
}

impl World {
    /// A `[[rollout]]` starts (`step` 0) or a canary's weight changes (`step` ≥ 1).
    pub(in crate::world) fn on_rollout<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        rollout: u32,
        step: u32,
        sink: &mut S,
    ) {
        let now = self.now;
        let desired = self.kube.deps[svc.index()].desired;
        let ready = self.kube.deps[svc.index()].ready.len() as u32;
        let Some(r) = self.svcs[svc.index()].rollout.as_mut() else {
            return;
        };
        let spec = &r.specs[rollout as usize];
        if step == 0 {
            if let Some(p) = r.progress.last_mut() {
                p.open = false; // superseded
            }
            r.current = rollout + 1;
            r.rs.push(0);
            r.weight = 0.0;
            let (surge, unavailable) = match spec.strategy {
                Strategy::RollingUpdate {
                    max_surge,
                    max_unavailable,
                } => {
                    let (s, u) = resolve(max_surge, max_unavailable, desired);
                    (Some(s), Some(u))
                }
                _ => (None, None),
            };
            r.progress.push(Progress {
                start: now,
                finish: None,
                open: true,
                min_ready: ready,
                min_margin: ready as i64 - desired as i64,
                extra_pod_ns: 0,
                surge,
                unavailable,
            });
        }
        if let Strategy::Canary { steps } = &spec.strategy {
            if r.current == rollout + 1 {
                r.target_weight = steps[step as usize].1;
            }
        }
        r.dirty = true;
        self.sync_deployment(svc, sink);
    }

    /// A pod's `minReadySeconds` ran out.
    pub(in crate::world) fn on_deployment_sync<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        sink: &mut S,
    ) {
        if let Some(r) = &mut self.svcs[svc.index()].rollout {
            r.armed = None;
        }
        self.sync_deployment(svc, sink);
    }

    /// After every event: when a pod changed, the controllers sync and the rollout is measured.
    pub(in crate::world) fn after_rollout_event<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        sink: &mut S,
    ) {
        if self.svcs[svc.index()]
            .rollout
            .as_ref()
            .is_some_and(|r| r.dirty)
        {
            self.sync_deployment(svc, sink);
        }
    }

    fn min_ready_of(&self, svc: ServiceId) -> SimDuration {
        self.svcs[svc.index()]
            .rollout
            .as_ref()
            .and_then(|r| r.strategy())
            .map_or(SimDuration::ZERO, |s| s.min_ready)
    }

    /// Ready pods of `version` that have been Ready for `minReadySeconds`.
    fn available(&self, svc: ServiceId, version: u32) -> u32 {
        let min_ready = self.min_ready_of(svc);
        self.kube
            .pods
            .iter()
            .filter(|p| {
                p.svc == svc
                    && p.version == version
                    && p.phase == PodPhase::Ready
                    && p.ready_since.is_some_and(|t| t + min_ready <= self.now)
            })
            .count() as u32
    }

    /// Pods of `version` counted by its ReplicaSet (not terminating or gone).
    fn active_of(&self, svc: ServiceId, version: u32) -> u32 {
        self.kube
            .pods
            .iter()
            .filter(|p| {
                p.svc == svc
                    && p.version == version
                    && matches!(
                        p.phase,
                        PodPhase::Pending | PodPhase::Starting | PodPhase::Ready
                    )
            })
            .count() as u32
    }

    /// The Deployment controller, then each ReplicaSet's, until nothing changes; then the
    /// rollout's measurements.
    pub(in crate::world) fn sync_deployment<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        sink: &mut S,
    ) {
        if self.svcs[svc.index()].rollout.is_none() {
            return;
        }
        for _ in 0..MAX_PASSES {
            let before = self.svcs[svc.index()]
                .rollout
                .as_ref()
                .map(|r| r.rs.clone())
                .unwrap_or_default();
            self.deployment_pass(svc);
            let mut changed = false;
            for v in 0..before.len().max(self.rs_len(svc)) as u32 {
                changed |= self.reconcile_version(svc, v, sink);
            }
            let after = self.svcs[svc.index()]
                .rollout
                .as_ref()
                .map(|r| r.rs.clone())
                .unwrap_or_default();
            if !changed && before == after {
                break;
            }
        }
        self.schedule_pending();
        self.arm_min_ready(svc);
        self.check_finished(svc);
        self.observe_rollout(svc);
        self.publish_cluster();
        if let Some(r) = &mut self.svcs[svc.index()].rollout {
            r.dirty = false;
        }
    }

    fn rs_len(&self, svc: ServiceId) -> usize {
        self.svcs[svc.index()]
            .rollout
            .as_ref()
            .map_or(0, |r| r.rs.len())
    }

    /// One pass of the Deployment controller: sets each version's ReplicaSet size.
    fn deployment_pass(&mut self, svc: ServiceId) {
        let d = self.kube.deps[svc.index()].desired;
        let r = self.svcs[svc.index()].rollout.as_ref().expect("a rollout");
        let new = r.current as usize;
        let n = r.rs.len();
        let avail: Vec<u32> = (0..n as u32).map(|v| self.available(svc, v)).collect();
        let old_running = (0..n as u32).filter(|&v| v as usize != new).any(|v| {
            self.kube
                .pods
                .iter()
                .any(|p| p.svc == svc && p.version == v && p.phase != PodPhase::Gone)
        });
        let r = self.svcs[svc.index()].rollout.as_mut().expect("a rollout");
        let strategy = r.strategy().map(|s| s.strategy.clone());
        let rolling = match strategy {
            Some(Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            }) => Some(resolve(max_surge, max_unavailable, d)),
            None => Some((0, 0)),
            _ => None,
        };
        // A scaling event (the replicas changed since the last sync): upstream's `scale`.
        if r.annotated_desired != d {
            let active: Vec<usize> = (0..n).filter(|&v| r.rs[v] > 0).collect();
            if active.len() <= 1 {
                let v = active.first().copied().unwrap_or(new);
                r.rs[v] = d;
            } else if r.rs[new] == d && avail[new] >= d {
                // Saturated: the old ones go.
                for (v, x) in r.rs.iter_mut().enumerate() {
                    if v != new {
                        *x = 0;
                    }
                }
            } else if let Some((surge, _)) = rolling {
                proportional(r, d, surge);
            }
            r.annotated_desired = d;
        }
        r.annotated_max = d + rolling.map_or(0, |x| x.0);
        match strategy {
            None => r.rs[0] = d,
            Some(Strategy::RollingUpdate { .. }) => {
                let (surge, unavailable) = rolling.unwrap_or((0, 1));
                rolling_update(r, d, surge, unavailable, &avail);
            }
            Some(Strategy::Recreate) => {
                for (v, x) in r.rs.iter_mut().enumerate() {
                    if v != new {
                        *x = 0;
                    }
                }
                if !old_running {
                    r.rs[new] = d;
                }
            }
            Some(Strategy::Canary { .. }) => {
                let w = r.target_weight;
                let canary = if w >= 1.0 {
                    d
                } else if w > 0.0 {
                    ((w * d as f64).ceil() as u32).max(1).min(d)
                } else {
                    0
                };
                r.rs[new] = canary;
                // A weight rises once the canary has every pod it needs available (it may
                // fall at once).
                if avail[new] >= canary || w < r.weight {
                    r.weight = w;
                }
                let stable = new - 1;
                for v in 0..new {
                    r.rs[v] = if v == stable && r.weight < 1.0 { d } else { 0 };
                }
            }
        }
    }

    /// The ReplicaSet controller of `version`: creates or deletes pods to its size (deleting
    /// in upstream order); true if it did anything.
    fn reconcile_version<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        version: u32,
        sink: &mut S,
    ) -> bool {
        let target = self.svcs[svc.index()]
            .rollout
            .as_ref()
            .and_then(|r| r.rs.get(version as usize).copied())
            .unwrap_or(0);
        let active = self.active_of(svc, version);
        if active < target {
            for _ in active..target {
                self.create_pod_of(svc, version);
            }
            return true;
        }
        if active == target {
            return false;
        }
        self.terminate_surplus(
            svc,
            |p| p.version == version,
            (active - target) as usize,
            sink,
        );
        true
    }

    /// Schedules a sync for when the next Ready pod becomes available.
    fn arm_min_ready(&mut self, svc: ServiceId) {
        let min_ready = self.min_ready_of(svc);
        if min_ready == SimDuration::ZERO {
            return;
        }
        let next = self
            .kube
            .pods
            .iter()
            .filter(|p| p.svc == svc && p.phase == PodPhase::Ready)
            .filter_map(|p| p.ready_since.map(|t| t + min_ready))
            .filter(|&t| t > self.now)
            .min();
        let Some(t) = next.filter(|&t| t < self.horizon) else {
            return;
        };
        let r = self.svcs[svc.index()].rollout.as_mut().expect("a rollout");
        if r.armed.is_none_or(|a| t < a) {
            r.armed = Some(t);
            self.queue.push(t, Event::DeploymentSync { svc });
        }
    }

    /// Marks the open rollout finished once the new version has every desired replica
    /// available and no old pod is active.
    fn check_finished(&mut self, svc: ServiceId) {
        let Some(r) = self.svcs[svc.index()].rollout.as_ref() else {
            return;
        };
        if !r.progress.last().is_some_and(|p| p.open) {
            return;
        }
        let new = r.current;
        let d = self.kube.deps[svc.index()].desired;
        let n = r.rs.len() as u32;
        let done = r.rs[new as usize] == d
            && self.available(svc, new) >= d
            && (0..n)
                .filter(|&v| v != new)
                .all(|v| self.active_of(svc, v) == 0);
        if done {
            self.observe_rollout(svc);
            let now = self.now;
            let r = self.svcs[svc.index()].rollout.as_mut().expect("a rollout");
            let p = r.progress.last_mut().expect("a rollout in progress");
            p.finish = Some(now);
            p.open = false;
        }
    }

    /// Integrates the extra pods, tracks the fewest Ready pods and records Ready pods per
    /// version when they change.
    pub(in crate::world) fn observe_rollout(&mut self, svc: ServiceId) {
        let now = self.now;
        let desired = self.kube.deps[svc.index()].desired;
        let live = self
            .kube
            .pods
            .iter()
            .filter(|p| p.svc == svc && p.phase != PodPhase::Gone)
            .count() as u32;
        let ready_total = self.kube.deps[svc.index()].ready.len() as u32;
        let Some(r) = self.svcs[svc.index()].rollout.as_mut() else {
            return;
        };
        let n = r.rs.len();
        r.counts.clear();
        r.counts.resize(n, 0);
        for &e in &self.kube.deps[svc.index()].ready {
            let v = self.kube.pods[self.kube.pod_at(svc, e).index()].version as usize;
            r.counts[v] += 1;
        }
        let (t0, live0, desired0) = r.last;
        if let Some(p) = r.progress.last_mut().filter(|p| p.open) {
            let from = t0.max(p.start);
            if now > from {
                p.extra_pod_ns +=
                    live0.saturating_sub(desired0) as u128 * now.since(from).0 as u128;
            }
            p.min_ready = p.min_ready.min(ready_total);
            p.min_margin = p.min_margin.min(ready_total as i64 - desired as i64);
        }
        r.last = (now, live, desired);
        let changed = r
            .ready
            .last()
            .is_none_or(|l| l.desired != desired || l.ready != r.counts);
        if changed {
            let point = ReadyPoint {
                t_s: now.as_secs_f64(),
                desired,
                ready: r.counts.clone(),
            };
            match r.ready.last_mut() {
                Some(l) if l.t_s == point.t_s => *l = point,
                _ => r.ready.push(point),
            }
        }
    }

    /// The rollout summary at the horizon.
    pub(in crate::world) fn rollout_summary(&mut self, svc: ServiceId) -> Option<RolloutSummary> {
        let horizon = self.horizon;
        if let Some(r) = self.svcs[svc.index()].rollout.as_mut() {
            // Close the open integral at the horizon.
            let (t0, live0, desired0) = r.last;
            if let Some(p) = r.progress.last_mut().filter(|p| p.open) {
                let from = t0.max(p.start);
                if horizon > from {
                    p.extra_pod_ns +=
                        live0.saturating_sub(desired0) as u128 * horizon.since(from).0 as u128;
                }
            }
        }
        self.svcs[svc.index()]
            .rollout
            .as_ref()
            .map(|r| r.summary(&self.kube, horizon))
    }
}

/// `maxSurge` (rounded up) and `maxUnavailable` (rounded down) against `desired`, with
/// upstream's fencepost (both 0: unavailable 1) and cap (unavailable at most desired).
fn resolve(
    surge: crate::scenario::IntOrPercent,
    unavailable: crate::scenario::IntOrPercent,
    desired: u32,
) -> (u32, u32) {
    let s = surge.resolve(desired, true);
    let mut u = unavailable.resolve(desired, false);
    if s == 0 && u == 0 {
        u = 1;
    }
    (s, u.min(desired))
}

/// Upstream's `rolloutRolling`: scale the new ReplicaSet up as far as the surge allows; if it
/// did not grow, scale old ones down as far as availability allows (unhealthy pods first).
fn rolling_update(r: &mut Rollouts, d: u32, surge: u32, unavailable: u32, avail: &[u32]) {
    let new = r.current as usize;
    // reconcileNewReplicaSet
    if r.rs[new] > d {
        r.rs[new] = d;
        return;
    }
    if r.rs[new] < d {
        let total: u32 = r.rs.iter().sum();
        let max_total = d + surge;
        if total < max_total {
            let up = (max_total - total).min(d - r.rs[new]);
            if up > 0 {
                r.rs[new] += up;
                return;
            }
        }
    }
    // reconcileOldReplicaSets
    let old_total: u32 = (0..r.rs.len()).filter(|&v| v != new).map(|v| r.rs[v]).sum();
    if old_total == 0 {
        return;
    }
    let all: i64 = r.rs.iter().map(|&x| x as i64).sum();
    let min_available = d as i64 - unavailable as i64;
    let new_unavailable = (r.rs[new] as i64 - avail[new] as i64).max(0);
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    // cleanupUnhealthyReplicas, oldest first
    let mut cleaned = 0i64;
    for v in (0..r.rs.len()).filter(|&v| v != new) {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = r.rs[v] as i64 - avail[v] as i64;
        if r.rs[v] == 0 || unhealthy <= 0 {
            continue;
        }
        let k = (max_scaled_down - cleaned).min(unhealthy);
        r.rs[v] -= k as u32;
        cleaned += k;
    }
    // scaleDownOldReplicaSetsForRollingUpdate
    let available: i64 = avail.iter().map(|&x| x as i64).sum();
    if available <= min_available {
        return;
    }
    let total_down = available - min_available;
    let mut done = 0i64;
    for v in (0..r.rs.len()).filter(|&v| v != new) {
        if done >= total_down {
            break;
        }
        if r.rs[v] == 0 {
            continue;
        }
        let k = (r.rs[v] as i64).min(total_down - done);
        r.rs[v] -= k as u32;
        done += k;
    }
}

/// Upstream's proportional scaling of a rolling update's ReplicaSets when the replicas change:
/// each gets its share of the change (by its size over the last `desired + maxSurge`), the
/// rest goes to the largest.
fn proportional(r: &mut Rollouts, d: u32, surge: u32) {
    let total: i64 = r.rs.iter().map(|&x| x as i64).sum();
    let allowed: i64 = if d > 0 { (d + surge) as i64 } else { 0 };
    let to_add = allowed - total;
    if to_add == 0 {
        return;
    }
    let mut order: Vec<usize> = (0..r.rs.len()).filter(|&v| r.rs[v] > 0).collect();
    if to_add > 0 {
        // Larger first, newer on ties.
        order.sort_by_key(|&v| (std::cmp::Reverse(r.rs[v]), std::cmp::Reverse(v)));
    } else {
        // Larger first, older on ties.
        order.sort_by_key(|&v| (std::cmp::Reverse(r.rs[v]), v));
    }
    let annotated = r.annotated_max.max(1) as f64;
    let mut added = 0i64;
    let mut sizes: Vec<i64> = r.rs.iter().map(|&x| x as i64).collect();
    for &v in &order {
        let cur = r.rs[v] as i64;
        let proportion = if added == to_add {
            0
        } else {
            let fraction = if d == 0 {
                -cur
            } else {
                (cur as f64 * allowed as f64 / annotated).round() as i64 - cur
            };
            let left = to_add - added;
            if to_add > 0 {
                fraction.min(left)
            } else {
                fraction.max(left)
            }
        };
        added += proportion;
        sizes[v] = cur + proportion;
    }
    if let Some(&first) = order.first() {
        sizes[first] = (sizes[first] + to_add - added).max(0);
    }
    for (v, s) in sizes.into_iter().enumerate() {
        r.rs[v] = s.max(0) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::IntOrPercent;

    #[test]
    fn fenceposts_as_upstream() {
        // 25%/25% of 3: surge 1, unavailable 0.
        assert_eq!(
            resolve(IntOrPercent::Percent(25), IntOrPercent::Percent(25), 3),
            (1, 0)
        );
        // Both resolving to 0: unavailable 1.
        assert_eq!(
            resolve(IntOrPercent::Percent(0), IntOrPercent::Percent(10), 3),
            (0, 1)
        );
        // Unavailable capped at the replicas.
        assert_eq!(
            resolve(IntOrPercent::Int(0), IntOrPercent::Int(5), 2),
            (0, 2)
        );
    }
}
