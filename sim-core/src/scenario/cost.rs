//! `[cost_allocation]` and a pool's `cost_rates`: how the cluster bill is charged to services,
//! in the manner of OpenCost's allocation model (a node's price split into CPU, memory and GPU
//! rates; pods pay for what they request; what nobody requests is idle).
//!
//! Two choices OpenCost leaves open are capsim's own, documented in the book's cost page:
//! how a node's price splits into rates when a pool gives none (`split`), and what share of a GPU a
//! MIG slice (compute slices / 7 unless `mig_fractions` says otherwise) and a time-sliced share
//! (1 / replicas) pay.

use super::cluster::ClusterSpec;
use super::error::ScenarioError;
use super::model::Validator;
use super::raw::RawCostAllocation;
use crate::cluster::NodePoolSpec;
use std::collections::BTreeMap;

/// CPU price of a general-purpose instance, USD per vCPU-hour: AWS m6i.2xlarge ($0.384/h, 8 vCPU,
/// 32 GiB) split with OpenCost's default CPU-to-memory weight (0.031611 / 0.004237).
pub const GENERAL_PURPOSE_CPU_USD_PER_HOUR: f64 = 0.031247;
/// Memory price of the same general-purpose instance, USD per GiB-hour.
pub const GENERAL_PURPOSE_MEMORY_USD_PER_GIB_HOUR: f64 = 0.004188;
/// OpenCost's default weights (its shipped `default.json`): USD per vCPU-, GiB- and GPU-hour,
/// used only as ratios.
pub const OPENCOST_WEIGHTS: (f64, f64, f64) = (0.031611, 0.004237, 0.95);

/// How a node's price splits into per-resource rates when its pool gives no `cost_rates`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CostSplit {
    /// CPU and memory at a general-purpose instance's rates; the rest of the price is the GPUs'
    /// (a CPU-only node: the whole price, split by OpenCost's weights).
    #[default]
    GeneralPurpose,
    /// OpenCost's default: the price split by its default weights (an 8×H100 node then puts about
    /// a third of its price on its GPUs).
    OpenCost,
}

/// `[cost_allocation]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostAllocationSpec {
    /// Spread idle cost over services in proportion to their cost of each resource (OpenCost's
    /// `shareIdle`); otherwise idle is its own row.
    pub share_idle: bool,
    /// How a pool without `cost_rates` splits its price.
    pub split: CostSplit,
    /// A MIG profile's share of its GPU, where it is not compute slices / 7.
    pub mig_fractions: BTreeMap<String, f64>,
}

/// A node's per-resource rates: USD per vCPU-hour, per GiB-hour and per GPU-hour. The three times
/// the node's vCPUs, GiB and GPUs add up to its price.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// USD per vCPU-hour.
    pub cpu: f64,
    /// USD per GiB-hour of memory.
    pub memory: f64,
    /// USD per GPU-hour.
    pub gpu: f64,
}

/// A pool's vCPUs, memory (GiB) and GPUs per node, from its capacity.
pub fn node_size(p: &NodePoolSpec) -> (f64, f64, f64) {
    let q = |name: &str| {
        p.capacity
            .get(name)
            .map_or(0.0, |q| q.milli() as f64 / 1000.0)
    };
    (
        q("cpu"),
        q("memory") / (1u64 << 30) as f64,
        f64::from(p.gpus_per_node),
    )
}

/// The per-resource rates of one node of pool `p`.
pub fn pool_rates(p: &NodePoolSpec, split: CostSplit) -> Rates {
    let price = p.price_usd_per_hour;
    let (v, m, g) = node_size(p);
    let weights = || {
        let (c, r, gw) = OPENCOST_WEIGHTS;
        let gw = if g > 0.0 { gw } else { 0.0 };
        let units = v * c + m * r + g * gw;
        if units <= 0.0 {
            return Rates::default();
        }
        let k = price / units;
        Rates {
            cpu: c * k,
            memory: r * k,
            gpu: gw * k,
        }
    };
    let (cpu, memory) = match (p.cost_rates, split) {
        (Some(r), _) => r,
        (None, CostSplit::OpenCost) => return weights(),
        (None, CostSplit::GeneralPurpose) => (
            GENERAL_PURPOSE_CPU_USD_PER_HOUR,
            GENERAL_PURPOSE_MEMORY_USD_PER_GIB_HOUR,
        ),
    };
    let rest = price - v * cpu - m * memory;
    if g == 0.0 || (p.cost_rates.is_none() && rest <= 0.0) {
        // No GPUs to take the rest (or a price below the general-purpose rates): the whole
        // price over CPU and memory.
        return if p.cost_rates.is_some() && g == 0.0 && v * cpu + m * memory > 0.0 {
            let k = price / (v * cpu + m * memory);
            Rates {
                cpu: cpu * k,
                memory: memory * k,
                gpu: 0.0,
            }
        } else {
            weights()
        };
    }
    Rates {
        cpu,
        memory,
        gpu: rest / g,
    }
}

/// The share of a GPU one unit of MIG profile `profile` pays: `overrides`' value, else its
/// compute slices (the number before `g`) over 7.
pub fn mig_fraction(profile: &str, overrides: &BTreeMap<String, f64>) -> f64 {
    if let Some(f) = overrides.get(profile) {
        return *f;
    }
    let g: u32 = profile
        .split('g')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    f64::from(g.min(7)) / 7.0
}

impl Validator<'_> {
    /// `[cost_allocation]`, checked against the pools' MIG layouts.
    pub(super) fn cost_allocation(
        &self,
        raw: Option<&RawCostAllocation>,
        cluster: Option<&ClusterSpec>,
    ) -> Result<CostAllocationSpec, ScenarioError> {
        let Some(raw) = raw else {
            return Ok(CostAllocationSpec::default());
        };
        let split = match raw.split.as_deref() {
            None | Some("general-purpose") => CostSplit::GeneralPurpose,
            Some("opencost") => CostSplit::OpenCost,
            Some(other) => {
                return Err(self.err(
                    "cost_allocation.split",
                    format!("expected \"general-purpose\" or \"opencost\", found \"{other}\""),
                ))
            }
        };
        let mig_fractions = raw.mig_fractions.clone().unwrap_or_default();
        for (profile, f) in &mig_fractions {
            if !(f.is_finite() && *f > 0.0 && *f <= 1.0) {
                return Err(self.err(
                    &format!("cost_allocation.mig_fractions.{profile}"),
                    format!("expected a share of one GPU above 0 and at most 1, found {f}"),
                ));
            }
        }
        for (i, p) in cluster.iter().flat_map(|c| c.pools.iter()).enumerate() {
            let Some(layout) = &p.mig_view else { continue };
            let sum: f64 = layout
                .instances
                .iter()
                .map(|x| mig_fraction(&x.profile, &mig_fractions))
                .sum();
            if sum > 1.0 + 1e-9 {
                let parts: Vec<String> = layout
                    .instances
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {:.3}",
                            x.profile,
                            mig_fraction(&x.profile, &mig_fractions)
                        )
                    })
                    .collect();
                return Err(self.err(
                    "cost_allocation.mig_fractions",
                    format!(
                        "the slices of one GPU of node_pool[{i}] (`{}`, layout {}) would pay {sum:.3} GPUs ({}): expected at most 1",
                        p.name,
                        layout.layout,
                        parts.join(" + ")
                    ),
                ));
            }
        }
        Ok(CostAllocationSpec {
            share_idle: raw.share_idle.unwrap_or(false),
            split,
            mig_fractions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mig_fractions_are_compute_slices_unless_overridden() {
        let none = BTreeMap::new();
        assert_eq!(mig_fraction("1g.10gb", &none), 1.0 / 7.0);
        assert_eq!(mig_fraction("3g.40gb", &none), 3.0 / 7.0);
        assert_eq!(mig_fraction("7g.80gb", &none), 1.0);
        assert_eq!(mig_fraction("1g.10gb+me", &none), 1.0 / 7.0);
        let o = BTreeMap::from([("3g.40gb".to_string(), 0.5)]);
        assert_eq!(mig_fraction("3g.40gb", &o), 0.5);
    }

    #[test]
    fn general_purpose_rates_come_from_m6i_2xlarge() {
        // 8 vCPU and 32 GiB at the two rates make m6i.2xlarge's $0.384/h.
        let total =
            8.0 * GENERAL_PURPOSE_CPU_USD_PER_HOUR + 32.0 * GENERAL_PURPOSE_MEMORY_USD_PER_GIB_HOUR;
        assert!((total - 0.384).abs() < 1e-4, "{total}");
        let (c, r, _) = OPENCOST_WEIGHTS;
        assert!(
            (GENERAL_PURPOSE_CPU_USD_PER_HOUR / GENERAL_PURPOSE_MEMORY_USD_PER_GIB_HOUR - c / r)
                .abs()
                < 0.01
        );
    }
}
