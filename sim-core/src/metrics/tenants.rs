//! Per-tenant statistics: counts, latency (and TTFT/TPOT) histograms and SLO attainment against
//! each tenant's own targets. Tenants are indexed by their label index; a tenant's slot is made
//! when its first request arrives (a mix's slots all at the start), so recording a request never
//! allocates.

use super::histogram::LogHistogram;
use super::recorder::Totals;
use crate::engine::SimDuration;
use crate::serving::{Completion, DropReason, Request};

/// A tenant's targets, nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantTargets {
    /// End-to-end latency.
    pub latency: Option<u64>,
    /// Time to first token.
    pub ttft: Option<u64>,
    /// Time per output token.
    pub tpot: Option<u64>,
}

impl TenantTargets {
    /// Targets from durations.
    pub fn new(
        latency: Option<SimDuration>,
        ttft: Option<SimDuration>,
        tpot: Option<SimDuration>,
    ) -> Self {
        TenantTargets {
            latency: latency.map(|d| d.0),
            ttft: ttft.map(|d| d.0),
            tpot: tpot.map(|d| d.0),
        }
    }

    /// Whether there is any target.
    pub fn any(&self) -> bool {
        self.latency.is_some() || self.ttft.is_some() || self.tpot.is_some()
    }
}

/// One tenant's statistics.
#[derive(Clone, Debug)]
pub struct TenantStats {
    /// Its targets.
    pub targets: TenantTargets,
    /// Whole-run counts (gateway rejections are drops with a rate-limit reason).
    pub totals: Totals,
    /// Counts of requests that arrived after the warm-up.
    pub measured: Totals,
    /// Measured completions that met every target.
    pub slo_met: u64,
    /// Attempts the gateway refused over the whole run (HTTP 429), a client's retries included.
    pub refused_attempts: u64,
    /// End-to-end latency of measured completions, ns.
    pub latency: LogHistogram,
    /// Time to first token of measured completions, ns (LLM engines).
    pub ttft: LogHistogram,
    /// Time per output token of measured completions, ns (LLM engines).
    pub tpot: LogHistogram,
}

impl TenantStats {
    /// A tenant that saw no request.
    pub fn empty() -> Self {
        Self::new(TenantTargets::default())
    }

    fn new(targets: TenantTargets) -> Self {
        TenantStats {
            targets,
            totals: Totals::default(),
            measured: Totals::default(),
            slo_met: 0,
            refused_attempts: 0,
            latency: LogHistogram::new(),
            ttft: LogHistogram::new(),
            tpot: LogHistogram::new(),
        }
    }
}

/// Statistics of every tenant, by label index.
#[derive(Clone, Debug, Default)]
pub struct TenantRecorder {
    /// By label index.
    pub tenants: Vec<TenantStats>,
}

impl TenantRecorder {
    /// Makes the slot of label `i` (and any before it, with no targets) if it is not there yet.
    pub fn ensure(&mut self, i: usize, targets: TenantTargets) {
        while self.tenants.len() <= i {
            let t = if self.tenants.len() == i {
                targets
            } else {
                TenantTargets::default()
            };
            self.tenants.push(TenantStats::new(t));
        }
    }

    /// A request arrived (`measured`: after the warm-up).
    #[inline]
    pub fn on_arrival(&mut self, r: &Request, measured: bool) {
        if let Some(t) = self.tenants.get_mut(r.tenant as usize) {
            t.totals.arrived += 1;
            t.measured.arrived += measured as u64;
        }
    }

    /// The gateway refused an attempt of a request of tenant `tenant` (a first attempt or a
    /// client's retry).
    #[inline]
    pub fn on_refused_attempt(&mut self, tenant: u16) {
        if let Some(t) = self.tenants.get_mut(tenant as usize) {
            t.refused_attempts += 1;
        }
    }

    /// A request was dropped or rejected.
    #[inline]
    pub fn on_drop(&mut self, r: &Request, reason: DropReason, measured: bool) {
        if let Some(t) = self.tenants.get_mut(r.tenant as usize) {
            t.totals.dropped[reason as usize] += 1;
            t.measured.dropped[reason as usize] += measured as u64;
        }
    }

    /// A request completed; `times` are its TTFT and TPOT (LLM engines).
    #[inline]
    pub fn on_completion(
        &mut self,
        c: &Completion,
        times: Option<(u64, Option<u64>)>,
        measured: bool,
    ) {
        let Some(t) = self.tenants.get_mut(c.request.tenant as usize) else {
            return;
        };
        t.totals.completed += 1;
        if !measured {
            return;
        }
        t.measured.completed += 1;
        let latency = c.finish.since(c.request.arrival).0;
        t.latency.record(latency);
        let g = t.targets;
        let mut met = g.latency.is_none_or(|x| latency <= x);
        if let Some((ttft, tpot)) = times {
            t.ttft.record(ttft);
            met &= g.ttft.is_none_or(|x| ttft <= x);
            if let Some(tpot) = tpot {
                t.tpot.record(tpot);
                met &= g.tpot.is_none_or(|x| tpot <= x);
            }
        }
        t.slo_met += met as u64;
    }
}
