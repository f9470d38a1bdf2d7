//! The gateway's per-tenant admission: each tenant's request rate limit and tokens-per-minute
//! limit (token buckets, as Envoy's local rate limit filter keeps them) are checked before a
//! request is routed; a request over a limit is refused with `rate_limited` or `token_limited`
//! (HTTP 429) and never reaches a replica. Every attempt passes the gate, a client's retries
//! too; a `[traffic.client]` with retries retries a refusal like any failed attempt unless
//! `retry_rate_limited = false`. Tenants are label indices (a mix's streams, a trace's labels in
//! order of first appearance); a label no `[[tenant]]` names has no limits and the scenario's
//! SLO.

use super::World;
use crate::engine::SimTime;
use crate::metrics::TenantTargets;
use crate::results::TenantInfo;
use crate::scenario::{Scenario, TenantSpec};
use crate::serving::ratelimit::TokenBucket;
use crate::serving::{DropReason, Request};

/// A tenant's buckets.
#[derive(Clone, Copy, Debug, Default)]
struct Buckets {
    requests: Option<TokenBucket>,
    tokens: Option<TokenBucket>,
}

/// Per-tenant limits at the gateway, by label index.
#[derive(Debug)]
pub(super) struct TenantGate {
    /// The `[[tenant]]` tables.
    specs: Vec<TenantSpec>,
    /// The scenario's own targets, for labels no `[[tenant]]` names.
    default_targets: TenantTargets,
    /// By label index: the `[[tenant]]` it is (`None`: unnamed, no limits).
    spec_of: Vec<Option<usize>>,
    buckets: Vec<Buckets>,
}

impl TenantGate {
    /// A gate for `s`, when its traffic can carry tenant labels (a mix or a trace).
    pub(super) fn new(s: &Scenario) -> Option<Self> {
        use crate::scenario::TrafficSpec;
        if !matches!(
            s.traffic,
            TrafficSpec::Mix { .. } | TrafficSpec::Trace { .. }
        ) {
            return None;
        }
        Some(TenantGate {
            specs: s.tenants.clone(),
            default_targets: TenantTargets::new(s.slo_latency, s.slo_ttft, s.slo_tpot),
            spec_of: Vec::new(),
            buckets: Vec::new(),
        })
    }

    /// Labels known so far.
    pub(super) fn known(&self) -> usize {
        self.spec_of.len()
    }

    /// Adds the next label, called `name`, and returns its targets.
    pub(super) fn push_label(&mut self, name: Option<&str>) -> TenantTargets {
        let spec = name.and_then(|n| self.specs.iter().position(|t| t.name == n));
        self.spec_of.push(spec);
        let t = spec.map(|i| &self.specs[i]);
        self.buckets.push(Buckets {
            requests: t.and_then(|t| t.rate_limit).map(TokenBucket::new),
            tokens: t.and_then(|t| t.token_limit).map(TokenBucket::new),
        });
        match t {
            Some(t) => TenantTargets::new(t.slo_latency, t.slo_ttft, t.slo_tpot),
            None => self.default_targets,
        }
    }

    /// Whether tenant `label` may send a request costing `tokens` LLM tokens at `now`; takes from
    /// its buckets only when it may. The request bucket is asked first.
    #[inline]
    pub(super) fn admit(
        &mut self,
        label: u16,
        now: SimTime,
        tokens: u64,
    ) -> Result<(), DropReason> {
        let Some(b) = self.buckets.get_mut(label as usize) else {
            return Ok(());
        };
        if let Some(r) = &mut b.requests {
            if r.available(now) < 1 {
                return Err(DropReason::RateLimited);
            }
        }
        if let Some(t) = &mut b.tokens {
            if t.available(now) < tokens {
                return Err(DropReason::TokenLimited);
            }
            t.take(tokens);
        }
        if let Some(r) = &mut b.requests {
            r.take(1);
        }
        Ok(())
    }

    /// What the results say of each label, `names` by label index.
    pub(super) fn infos(&self, names: &[String]) -> Vec<TenantInfo> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let t = self
                    .spec_of
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|s| &self.specs[s]);
                TenantInfo {
                    name: name.clone(),
                    weight: t.map_or(1.0, |t| t.weight),
                    rate_limit_rps: t.and_then(|t| t.rate_limit).map(|b| b.rate_per_s()),
                    tokens_per_minute: t.and_then(|t| t.token_limit).map(|b| b.max_tokens),
                }
            })
            .collect()
    }

    /// `[[tenant]]` names no label matched.
    pub(super) fn unmatched<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a str> {
        self.specs
            .iter()
            .map(|t| t.name.as_str())
            .filter(move |n| !names.iter().any(|m| m == n))
    }
}

use crate::ids::ServiceId;

impl World {
    /// Makes the gateway's and the recorder's slots for labels up to `label` (a trace shows its
    /// labels as it goes; this allocates only when a new one appears).
    #[inline]
    pub(super) fn learn_labels(&mut self, svc: ServiceId, label: u16) {
        let sv = &self.svcs[svc.index()];
        if sv
            .tenant_gate
            .as_ref()
            .is_some_and(|g| label as usize >= g.known())
        {
            self.learn_new_labels(svc, label);
        }
    }

    /// [`World::learn_labels`] for a label past those known.
    #[cold]
    fn learn_new_labels(&mut self, svc: ServiceId, label: u16) {
        let sv = &mut self.svcs[svc.index()];
        let Some(g) = &mut sv.tenant_gate else {
            return;
        };
        let names = sv.source.labels();
        while g.known() <= label as usize {
            let i = g.known();
            let targets = g.push_label(names.get(i).map(String::as_str));
            if let Some(r) = self.recorder.tenants_mut() {
                r.ensure(i, targets);
            }
            // With several services, the service's own recorder keeps its tenants too.
            if let Some(r) = sv.recorder.as_mut().and_then(|r| r.tenants_mut()) {
                r.ensure(i, targets);
            }
        }
    }

    /// Whether the gateway lets an attempt of `request` (its first or a client's retry) through
    /// now: its tenant's buckets are taken from when it does; the refusal (HTTP 429) is counted
    /// against the tenant when it does not. The request's label must be known
    /// ([`World::learn_labels`]).
    #[inline]
    pub(super) fn pass_gate(
        &mut self,
        svc: ServiceId,
        request: &Request,
    ) -> Result<(), DropReason> {
        if self.svcs[svc.index()].tenant_gate.is_none() {
            return Ok(());
        }
        self.pass_tenant_gate(svc, request)
    }

    /// [`World::pass_gate`] for a service with a tenant gate.
    fn pass_tenant_gate(&mut self, svc: ServiceId, request: &Request) -> Result<(), DropReason> {
        let Some(g) = &mut self.svcs[svc.index()].tenant_gate else {
            return Ok(());
        };
        let cost = request.prompt_tokens as u64 + request.output_tokens as u64;
        let verdict = g.admit(request.tenant, self.now, cost);
        if verdict.is_err() {
            if let Some(t) = self.recorder.tenants_mut() {
                t.on_refused_attempt(request.tenant);
            }
        }
        verdict
    }

    /// Makes every label's slots now when the traffic names them all up front (a mix).
    pub(super) fn learn_mix_labels(&mut self, svc: ServiceId) {
        let source = &self.svcs[svc.index()].source;
        let n = source.labels().len();
        if matches!(source, crate::traffic::TrafficSource::Mix(_)) && n > 0 {
            self.learn_labels(svc, (n - 1) as u16);
        }
    }
}

impl TenantGate {
    /// Per-tenant rows and fairness into `result`, and a warning for each `[[tenant]]` no
    /// request carried.
    pub(super) fn results(
        &self,
        source: &crate::traffic::TrafficSource,
        rec: Option<&crate::metrics::TenantRecorder>,
        window_s: f64,
        result: &mut crate::results::RunResult,
    ) {
        let (g, Some(rec)) = (self, rec) else {
            return;
        };
        let names = source.labels();
        for n in g.unmatched(&names) {
            result.summary.warnings.push(format!(
                "[[tenant]] \"{n}\" was named, but no request carried that label"
            ));
        }
        let (rows, fairness) = g.service_results(source, Some(rec), window_s);
        result.summary.tenants = rows;
        result.summary.fairness = fairness;
    }

    /// One service's per-tenant rows and fairness (with several services), from its own
    /// recorder's tenant statistics; empty when its traffic carries no labels.
    pub(super) fn service_results(
        &self,
        source: &crate::traffic::TrafficSource,
        rec: Option<&crate::metrics::TenantRecorder>,
        window_s: f64,
    ) -> (
        Vec<capsim_results::TenantSummary>,
        Option<capsim_results::Fairness>,
    ) {
        let names = source.labels();
        match rec {
            Some(rec) if !names.is_empty() => {
                let (rows, fairness) =
                    crate::results::tenants::summarise_tenants(rec, &self.infos(&names), window_s);
                (rows, Some(fairness))
            }
            _ => (Vec::new(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::serving::ratelimit::BucketSpec;

    fn spec(name: &str, rate: Option<BucketSpec>, tokens: Option<BucketSpec>) -> TenantSpec {
        TenantSpec {
            name: name.into(),
            weight: 1.0,
            rate_limit: rate,
            token_limit: tokens,
            slo_latency: None,
            slo_ttft: None,
            slo_tpot: None,
        }
    }

    /// Tenant 0 has 2 requests per second (burst 2); tenant 1 500 tokens per second (burst 1000);
    /// tenant 2 is not named and passes everything.
    #[test]
    fn each_tenant_has_its_own_buckets() {
        let mut g = TenantGate {
            specs: vec![
                spec(
                    "a",
                    Some(BucketSpec {
                        max_tokens: 2,
                        tokens_per_fill: 2,
                        fill_interval: SimDuration::from_secs(1),
                    }),
                    None,
                ),
                spec(
                    "b",
                    None,
                    Some(BucketSpec {
                        max_tokens: 1000,
                        tokens_per_fill: 500,
                        fill_interval: SimDuration::from_secs(1),
                    }),
                ),
            ],
            default_targets: TenantTargets::default(),
            spec_of: Vec::new(),
            buckets: Vec::new(),
        };
        for n in ["a", "b", "c"] {
            g.push_label(Some(n));
        }
        let t = |s: f64| SimTime::from_secs_f64(s);
        use DropReason::*;
        let a: Vec<_> = [0.0, 0.1, 0.2, 1.0, 1.5, 1.9]
            .into_iter()
            .map(|s| g.admit(0, t(s), 10_000))
            .collect();
        assert_eq!(
            a,
            [
                Ok(()),
                Ok(()),
                Err(RateLimited),
                Ok(()),
                Ok(()),
                Err(RateLimited)
            ]
        );
        let b: Vec<_> = [
            (0.0, 600),
            (0.5, 600),
            (0.9, 400),
            (1.0, 600),
            (1.0, 500),
            (1.0, 1),
        ]
        .into_iter()
        .map(|(s, c)| g.admit(1, t(s), c))
        .collect();
        // 1000 - 600 = 400; 600 refused; 400 taken → 0; +500 at 1 s: 600 refused, 500 taken → 0;
        // then 1 refused.
        assert_eq!(
            b,
            [
                Ok(()),
                Err(TokenLimited),
                Ok(()),
                Err(TokenLimited),
                Ok(()),
                Err(TokenLimited)
            ]
        );
        assert!((0..100).all(|i| g.admit(2, t(0.0), i).is_ok()));
    }
}
