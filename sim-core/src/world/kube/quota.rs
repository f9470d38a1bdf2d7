//! ResourceQuota admission: a pod whose creation would take its namespace's usage over a hard
//! limit is refused (as the API server's quota admission plugin does), so its controller cannot
//! create it. Usage counts every pod not yet gone (pending, running and terminating ones).

use crate::cluster::{Quantity, ResVec, ResourceNames};
use crate::results::QuotaOutcome;
use crate::scenario::batch::AdmissionSpec;

/// Namespaces' hard limits and usage.
#[derive(Clone, Debug, Default)]
pub(in crate::world) struct Quotas {
    names: Vec<String>,
    /// Per namespace: the resources it limits and their limits (milli-units).
    hard: Vec<Vec<(usize, u64)>>,
    used: Vec<ResVec>,
    peak: Vec<ResVec>,
    refusals: Vec<u64>,
    first_refusal: Vec<Option<String>>,
    /// Set when a refusal happened and not yet retried since usage fell.
    pub(in crate::world) retry: bool,
}

/// Why a pod was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::world) enum Refusal {
    /// The limit on this resource would be exceeded: (resource, requested, used, limit).
    Exceeded(usize, u64, u64, u64),
    /// The quota limits a compute resource the pod does not request.
    MustSpecify(usize),
}

impl Quotas {
    /// Quotas of the scenario's namespaces, with resource names interned in `names`.
    pub(in crate::world) fn new(a: &AdmissionSpec, names: &ResourceNames) -> Quotas {
        let n = names.len();
        let hard = a
            .namespaces
            .iter()
            .map(|ns| {
                ns.hard
                    .iter()
                    .filter_map(|(r, q)| names.index(r).map(|i| (i, q.milli() as u64)))
                    .collect()
            })
            .collect();
        let k = a.namespaces.len();
        Quotas {
            names: a.namespaces.iter().map(|ns| ns.name.clone()).collect(),
            hard,
            used: vec![ResVec::zeros(n); k],
            peak: vec![ResVec::zeros(n); k],
            refusals: vec![0; k],
            first_refusal: vec![None; k],
            retry: false,
        }
    }

    /// Upstream's check for a pod with `req` in namespace `ns` (`None`: no quota).
    pub(in crate::world) fn check(&self, ns: Option<usize>, req: &ResVec) -> Result<(), Refusal> {
        let Some(ns) = ns else { return Ok(()) };
        for &(r, limit) in &self.hard[ns] {
            let want = req.0[r];
            if want == 0 {
                if r == ResourceNames::CPU || r == ResourceNames::MEMORY {
                    return Err(Refusal::MustSpecify(r));
                }
                continue;
            }
            let used = self.used[ns].0[r];
            if used.saturating_add(want) > limit {
                return Err(Refusal::Exceeded(r, want, used, limit));
            }
        }
        Ok(())
    }

    /// Admits a pod (charging its requests) or refuses it (counting the refusal).
    pub(in crate::world) fn admit(
        &mut self,
        ns: Option<usize>,
        req: &ResVec,
        names: &ResourceNames,
    ) -> bool {
        let Some(i) = ns else { return true };
        match self.check(ns, req) {
            Ok(()) => {
                self.used[i].add(req);
                let (u, p) = (&self.used[i], &mut self.peak[i]);
                for (x, y) in p.0.iter_mut().zip(&u.0) {
                    *x = (*x).max(*y);
                }
                true
            }
            Err(why) => {
                self.refusals[i] += 1;
                self.retry = true;
                if self.first_refusal[i].is_none() {
                    self.first_refusal[i] = Some(self.message(i, &why, names));
                }
                false
            }
        }
    }

    /// A pod charged to `ns` is gone.
    pub(in crate::world) fn release(&mut self, ns: Option<usize>, req: &ResVec) {
        if let Some(i) = ns {
            self.used[i].sub(req);
        }
    }

    /// Upstream's message, e.g. `exceeded quota: serving, requested: nvidia.com/gpu=1, used:
    /// nvidia.com/gpu=8, limited: nvidia.com/gpu=8`.
    fn message(&self, ns: usize, why: &Refusal, names: &ResourceNames) -> String {
        let q = |r: usize, v: u64| {
            let name = names.name(r);
            let key = if r == ResourceNames::PODS {
                "pods".to_string()
            } else {
                format!("requests.{name}")
            };
            format!("{key}={}", Quantity::from_milli(v as u128))
        };
        match why {
            Refusal::Exceeded(r, want, used, limit) => format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                self.names[ns],
                q(*r, *want),
                q(*r, *used),
                q(*r, *limit)
            ),
            Refusal::MustSpecify(r) => format!(
                "failed quota: {}: must specify requests.{}",
                self.names[ns],
                names.name(*r)
            ),
        }
    }

    /// Refusals and peak usage per namespace with a quota.
    pub(in crate::world) fn outcome(&self, names: &ResourceNames) -> Vec<QuotaOutcome> {
        (0..self.names.len())
            .filter(|&i| !self.hard[i].is_empty())
            .map(|i| QuotaOutcome {
                namespace: self.names[i].clone(),
                hard: self.hard[i]
                    .iter()
                    .map(|&(r, v)| (names.name(r).to_string(), v as f64 / 1000.0))
                    .collect(),
                peak_used: self.hard[i]
                    .iter()
                    .map(|&(r, _)| (names.name(r).to_string(), self.peak[i].0[r] as f64 / 1000.0))
                    .collect(),
                refusals: self.refusals[i],
                first_refusal: self.first_refusal[i].clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::batch::NamespaceSpec;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn names() -> ResourceNames {
        ResourceNames::default()
    }

    /// A quota on `ns` of `gpus` GPUs, `cpu` cores and `pods` pods.
    fn quotas(gpus: u64, cpu: u64, pods: u64) -> Quotas {
        let mut hard = BTreeMap::new();
        hard.insert("nvidia.com/gpu".to_string(), Quantity::from_units(gpus));
        hard.insert("cpu".to_string(), Quantity::from_units(cpu));
        hard.insert("pods".to_string(), Quantity::from_units(pods));
        let a = AdmissionSpec {
            namespaces: vec![NamespaceSpec {
                name: "team".into(),
                hard,
            }],
            ..AdmissionSpec::default()
        };
        Quotas::new(&a, &names())
    }

    fn pod(cpu_milli: u64, gpus: u64) -> ResVec {
        ResVec(vec![cpu_milli, 0, 1000, gpus * 1000])
    }

    #[test]
    fn admits_up_to_the_limit_then_refuses_with_upstream_message() {
        let n = names();
        let mut q = quotas(8, 100, 10);
        for _ in 0..4 {
            assert!(q.admit(Some(0), &pod(4000, 2), &n));
        }
        // 8 of 8 GPUs used: a fifth 2-GPU pod is refused.
        assert_eq!(
            q.check(Some(0), &pod(4000, 2)),
            Err(Refusal::Exceeded(ResourceNames::GPU, 2000, 8000, 8000))
        );
        assert!(!q.admit(Some(0), &pod(4000, 2), &n));
        let o = q.outcome(&n);
        assert_eq!(o[0].refusals, 1);
        assert_eq!(
            o[0].first_refusal.as_deref(),
            Some("exceeded quota: team, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8")
        );
        // A CPU-only pod still fits; one gone frees its share.
        assert!(q.admit(Some(0), &pod(1000, 0), &n));
        q.release(Some(0), &pod(4000, 2));
        assert!(q.admit(Some(0), &pod(4000, 2), &n));
    }

    #[test]
    fn pods_count_and_cpu_must_be_specified() {
        let n = names();
        let mut q = quotas(100, 100, 2);
        assert!(q.admit(Some(0), &pod(100, 0), &n));
        assert!(q.admit(Some(0), &pod(100, 0), &n));
        assert_eq!(
            q.check(Some(0), &pod(100, 0)),
            Err(Refusal::Exceeded(ResourceNames::PODS, 1000, 2000, 2000))
        );
        let q = quotas(100, 100, 20);
        assert_eq!(
            q.check(Some(0), &pod(0, 1)),
            Err(Refusal::MustSpecify(ResourceNames::CPU))
        );
        // A namespace without quota admits anything.
        assert_eq!(q.check(None, &pod(0, 50)), Ok(()));
    }

    proptest! {
        /// Whatever pods come and go, usage never exceeds a hard limit, and it always equals the
        /// sum of the admitted pods still present.
        #[test]
        fn quota_is_never_exceeded(ops in prop::collection::vec((0u64..4, 1u64..9000, any::<bool>()), 1..200)) {
            let n = names();
            let mut q = quotas(8, 32, 12);
            let mut live: Vec<ResVec> = Vec::new();
            for (gpus, cpu, release) in ops {
                if release && !live.is_empty() {
                    let r = live.remove((cpu as usize) % live.len());
                    q.release(Some(0), &r);
                } else {
                    let r = pod(cpu, gpus);
                    if q.admit(Some(0), &r, &n) {
                        live.push(r);
                    }
                }
                let mut sum = ResVec::zeros(n.len());
                for r in &live {
                    sum.add(r);
                }
                prop_assert_eq!(&q.used[0], &sum);
                for &(r, limit) in &q.hard[0] {
                    prop_assert!(q.used[0].0[r] <= limit);
                    prop_assert!(q.peak[0].0[r] <= limit);
                }
            }
        }
    }
}
