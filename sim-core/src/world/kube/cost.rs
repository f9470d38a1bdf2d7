//! Cost allocation: each node's billed cost split into CPU, memory and GPU at its pool's rates
//! (`scenario/cost.rs`), each pod charged for what it requests while bound, to the nanosecond,
//! and what no pod requests left as idle (OpenCost's allocation model; see the book's cost page).

use super::Kube;
use crate::cluster::{NodePoolSpec, ResVec, ResourceNames};
use crate::engine::SimTime;
use crate::ids::{NodeId, PodId};
use crate::scenario::cost::{mig_fraction, pool_rates, CostAllocationSpec, Rates};

/// Adds `b` to `a`, bill by bill.
fn add(a: &mut [f64; 3], b: [f64; 3]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Nanoseconds per hour.
const NS_PER_HOUR: f64 = 3.6e12;

/// Which bill a resource is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Cpu = 0,
    Memory = 1,
    Gpu = 2,
}

/// What the cluster's pods have been charged, and the rates they are charged at.
#[derive(Debug)]
pub(in crate::world) struct CostBook {
    /// Per pool, per resource index: the bill and USD per milli-unit-hour (`None`: not charged).
    per_unit: Vec<Vec<Option<(Kind, f64)>>>,
    /// Per pool: its nodes' rates.
    rates: Vec<Rates>,
    share_idle: bool,
    /// Per service: CPU, memory and GPU USD charged so far.
    charged: Vec<[f64; 3]>,
    /// Kueue's batch pods: CPU, memory and GPU USD charged so far.
    batch: [f64; 3],
}

/// The allocation at the horizon: per service, batch work and idle, USD by resource.
#[derive(Clone, Debug, Default)]
pub(in crate::world) struct Allocation {
    /// Per service: CPU, memory, GPU (idle shared in, with `share_idle`).
    pub(in crate::world) services: Vec<[f64; 3]>,
    /// Kueue's batch pods (idle shared in, with `share_idle`).
    pub(in crate::world) batch: Option<[f64; 3]>,
    /// What no pod requested (what `share_idle` could not place, with it).
    pub(in crate::world) idle: [f64; 3],
}

impl CostBook {
    /// Rates for each pool of `pools` (their allocatable resources named by `names`).
    pub(in crate::world) fn new(
        spec: &CostAllocationSpec,
        pools: &[&NodePoolSpec],
        names: &ResourceNames,
        services: usize,
    ) -> Self {
        let mut rates = Vec::with_capacity(pools.len());
        let mut per_unit = Vec::with_capacity(pools.len());
        for p in pools {
            let r = pool_rates(p, spec.split);
            let shares = p.time_slicing.as_ref();
            let units: Vec<Option<(Kind, f64)>> = (0..names.len())
                .map(|i| {
                    let name = names.name(i);
                    let gpu = |fraction: f64| Some((Kind::Gpu, r.gpu * fraction / 1000.0));
                    match name {
                        "cpu" => Some((Kind::Cpu, r.cpu / 1000.0)),
                        "memory" => Some((Kind::Memory, r.memory / 1000.0 / (1u64 << 30) as f64)),
                        _ if shares.is_some_and(|(_, n)| n == name) => {
                            gpu(1.0 / f64::from(shares.map_or(1, |s| s.0)))
                        }
                        "nvidia.com/gpu" => gpu(1.0),
                        _ => name
                            .strip_prefix("nvidia.com/mig-")
                            .and_then(|profile| gpu(mig_fraction(profile, &spec.mig_fractions))),
                    }
                })
                .collect();
            rates.push(r);
            per_unit.push(units);
        }
        CostBook {
            per_unit,
            rates,
            share_idle: spec.share_idle,
            charged: vec![[0.0; 3]; services],
            batch: [0.0; 3],
        }
    }

    /// What `req` on a node of pool `pool` costs over `ns` nanoseconds, by bill.
    fn cost(&self, pool: usize, req: &ResVec, ns: u64) -> [f64; 3] {
        let mut out = [0.0; 3];
        let h = ns as f64 / NS_PER_HOUR;
        for (q, unit) in req.0.iter().zip(&self.per_unit[pool]) {
            if let (Some((kind, usd)), true) = (unit, *q > 0) {
                out[*kind as usize] += *q as f64 * usd * h;
            }
        }
        out
    }

    /// What `req` on a node of pool `pool` costs per hour, all bills together.
    pub(in crate::world) fn usd_per_hour(&self, pool: usize, req: &ResVec) -> f64 {
        self.cost(pool, req, NS_PER_HOUR as u64).iter().sum()
    }

    /// Charges a batch pod's `req` on a node of `pool` for `ns` nanoseconds.
    pub(in crate::world) fn charge_batch(&mut self, pool: usize, req: &ResVec, ns: u64) {
        let c = self.cost(pool, req, ns);
        add(&mut self.batch, c);
    }
}

impl Kube {
    /// Charges a bound pod's service for its requests from its last charge until `now`.
    pub(in crate::world) fn charge(&mut self, pod: PodId, now: SimTime) {
        let p = &self.pods[pod.index()];
        let Some(node) = p.node else { return };
        let (from, svc) = (p.cost_from, p.svc.index());
        if now <= from {
            return;
        }
        let pool = self.nodes[node.index()].pool.index();
        let c = self
            .cost
            .cost(pool, self.requests_of(pod).0, now.since(from).0);
        for (k, v) in c.iter().enumerate() {
            self.cost.charged[svc][k] += v;
        }
        self.pods[pod.index()].cost_from = now;
    }

    /// The allocation at `horizon` (`None` without nodes).
    pub(in crate::world) fn cost_allocation(&self, horizon: SimTime) -> Option<Allocation> {
        if !self.has_nodes {
            return None;
        }
        let batch = self
            .kueue
            .as_ref()
            .map(|k| k.bound_pods())
            .unwrap_or_default();
        Some(self.allocation(horizon, &batch))
    }

    /// Whether idle cost is spread over the services.
    pub(in crate::world) fn shares_idle(&self) -> bool {
        self.cost.share_idle
    }

    /// The allocation at `horizon`: pods still bound are charged up to it; each node's billed
    /// seconds times its rates are the bill; idle is the bill less what pods were charged.
    fn allocation(
        &self,
        horizon: SimTime,
        batch_bound: &[(NodeId, ResVec, SimTime)],
    ) -> Allocation {
        let mut services = self.cost.charged.clone();
        for (i, p) in self.pods.iter().enumerate() {
            if let (Some(node), true) = (p.node, p.gone_at.is_none()) {
                if horizon > p.cost_from {
                    let pool = self.nodes[node.index()].pool.index();
                    let req = self.requests_of(PodId(i as u32)).0;
                    let c = self.cost.cost(pool, req, horizon.since(p.cost_from).0);
                    add(&mut services[p.svc.index()], c);
                }
            }
        }
        let mut batch = self.cost.batch;
        for (node, req, from) in batch_bound {
            let pool = self.nodes[node.index()].pool.index();
            let c = self.cost.cost(pool, req, horizon.since(*from).0);
            add(&mut batch, c);
        }
        // The bill, per resource: each node's billed seconds (rounded up, as `cluster.pools`).
        let mut bill = [0.0; 3];
        for n in &self.nodes {
            let h = n.billed_seconds(horizon) as f64 / 3600.0;
            let pool = n.pool.index();
            let (v, m, g) = crate::scenario::cost::node_size(&self.pools[pool].spec);
            let r = &self.cost.rates[pool];
            bill[0] += r.cpu * v * h;
            bill[1] += r.memory * m * h;
            bill[2] += r.gpu * g * h;
        }
        let has_batch = self.kueue.is_some();
        let mut used = batch;
        for s in &services {
            add(&mut used, *s);
        }
        let mut idle = [0.0; 3];
        for k in 0..3 {
            idle[k] = bill[k] - used[k];
        }
        if self.cost.share_idle {
            // OpenCost's shareIdle: each allocation gets idle × its share of that resource's
            // allocated cost; a resource nobody was charged for stays idle.
            for k in 0..3 {
                let used = used[k];
                if used <= 0.0 {
                    continue;
                }
                let share = idle[k] / used;
                for s in &mut services {
                    s[k] += s[k] * share;
                }
                batch[k] += batch[k] * share;
                idle[k] = 0.0;
            }
        }
        Allocation {
            services,
            batch: has_batch.then_some(batch),
            idle,
        }
    }
}
