//! Knative's KPA in the loop: every second the pods' queue-proxies and the activator report the
//! average concurrency over that second (requests waiting or in service, held ones included); every
//! two seconds the decider and the PodAutoscaler set the Deployment's scale. A request that reaches
//! the activator while the scale is zero pokes the autoscaler to decide at once.

use super::{Event, World};
use crate::engine::{SimDuration, SimTime};
use crate::ids::ServiceId;
use crate::knative::buckets::WindowBuckets;
use crate::knative::decider::DeciderSpec;
use crate::knative::{Decider, KpaConfig, PodAutoscaler};
use crate::metrics::RequestSink;

/// The KPA of the one revision and the concurrency it has observed.
#[derive(Debug)]
pub(super) struct KpaLoop {
    cfg: KpaConfig,
    decider: Decider,
    pa: PodAutoscaler,
    stable: WindowBuckets,
    panic: WindowBuckets,
    /// ∫ concurrency dt (request-nanoseconds) up to `last`.
    area: u128,
    last: SimTime,
    /// `area` at the last scrape.
    scraped_area: u128,
    scraped_at: SimTime,
    /// The decider's latest desired scale (-1 before the first decision).
    latest: i32,
    /// Decisions made, pokes from the activator, scale-downs to zero.
    pub(super) ticks: u64,
    pub(super) pokes: u64,
    pub(super) to_zero: u64,
}

impl KpaLoop {
    /// The KPA of a revision created at time 0, activating.
    pub(super) fn new(cfg: &KpaConfig) -> KpaLoop {
        KpaLoop {
            decider: Decider::new(DeciderSpec::from_config(cfg)),
            pa: PodAutoscaler::new(cfg, 0),
            stable: WindowBuckets::new(cfg.stable_window, cfg.scrape_interval),
            panic: WindowBuckets::new(cfg.panic_window(), cfg.scrape_interval),
            cfg: cfg.clone(),
            area: 0,
            last: SimTime::ZERO,
            scraped_area: 0,
            scraped_at: SimTime::ZERO,
            latest: -1,
            ticks: 0,
            pokes: 0,
            to_zero: 0,
        }
    }

    /// Accounts the concurrency up to `now`: `level` held since the last call (call before an
    /// event changes it).
    #[inline]
    pub(super) fn integrate(&mut self, now: SimTime, level: u32) {
        let dt = now.0.saturating_sub(self.last.0) as u128;
        self.area += level as u128 * dt;
        self.last = now;
    }

    /// The first scrape and the first decision.
    pub(super) fn first_events(&self, svc: ServiceId) -> [(SimTime, Event); 2] {
        [
            (
                SimTime(self.cfg.scrape_interval as u64),
                Event::KpaScrape { svc },
            ),
            (
                SimTime(self.cfg.tick_interval as u64),
                Event::KpaTick { svc },
            ),
        ]
    }
}

impl World {
    fn kpa_level(&self, svc: ServiceId) -> u32 {
        let sv = &self.svcs[svc.index()];
        sv.queued + sv.in_service
    }

    /// Records the average concurrency of the last scrape interval.
    pub(super) fn on_kpa_scrape(&mut self, svc: ServiceId) {
        let level = self.kpa_level(svc);
        let ready = self.kube.ready(svc).len();
        let Some(k) = &mut self.svcs[svc.index()].kpa else {
            return;
        };
        k.integrate(self.now, level);
        let dt = self.now.0.saturating_sub(k.scraped_at.0);
        let delta = k.area - k.scraped_area;
        k.scraped_area = k.area;
        k.scraped_at = self.now;
        // Ready pods report every second (zeros too); without pods only the activator reports,
        // and only while it holds requests.
        if dt > 0 && (ready > 0 || delta > 0) {
            k.stable.record(self.now.0 as i64, delta as f64 / dt as f64);
            k.panic.record(self.now.0 as i64, delta as f64 / dt as f64);
        }
        let next = self.now + SimDuration(k.cfg.scrape_interval as u64);
        if next < self.horizon {
            self.queue.push(next, Event::KpaScrape { svc });
        }
    }

    /// A decision on the tick.
    pub(super) fn on_kpa_tick<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let Some(k) = &self.svcs[svc.index()].kpa else {
            return;
        };
        let next = self.now + SimDuration(k.cfg.tick_interval as u64);
        self.kpa_decide(svc, sink);
        if next < self.horizon {
            self.queue.push(next, Event::KpaTick { svc });
        }
    }

    /// The decider, then the PodAutoscaler; scales the Deployment when the PA applies a scale.
    fn kpa_decide<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let ready = self.kube.ready(svc).len() as u32;
        let current = self.kube.desired(svc);
        let now = self.now.0 as i64;
        let Some(k) = &mut self.svcs[svc.index()].kpa else {
            return;
        };
        k.ticks += 1;
        let desired = if k.stable.is_empty() {
            None
        } else {
            let stable = k.stable.window_average(now);
            let panic = k.panic.window_average(now);
            let r = k.decider.scale(now, stable, panic, ready);
            k.latest = r.desired;
            Some(r.desired)
        };
        let d = k.pa.reconcile(now, desired, ready);
        if let Some(n) = d.apply {
            if n != current {
                if n == 0 {
                    k.to_zero += 1;
                }
                self.scale_deployment_to(svc, n, sink);
            }
        }
    }

    /// The activator holds a request: at scale zero it reports at once and the autoscaler decides
    /// without waiting for the tick (`MultiScaler.Poke`).
    pub(super) fn kpa_poke<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        let Some(k) = &mut self.svcs[svc.index()].kpa else {
            return;
        };
        if k.latest != 0 {
            return;
        }
        k.pokes += 1;
        k.stable.record(self.now.0 as i64, 1.0);
        k.panic.record(self.now.0 as i64, 1.0);
        self.kpa_decide(svc, sink);
    }
}
