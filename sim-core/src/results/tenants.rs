//! Per-tenant results (`summary.json`'s `tenants`, `tenants.csv`) and fairness figures; the
//! serialised types and the CSV writer are `capsim_results::tenants`'s.
//!
//! Fairness is Jain's index `(Σx)² / (n·Σx²)` over the tenants' normalised throughputs `x`. The
//! headline normalises each tenant's throughput by its weighted max-min fair share of what the
//! service delivered (Jain's own suggestion: divide by the fair allocation): the completions per
//! second of all tenants are shared out by water-filling in proportion to the weights, no tenant
//! getting more than it asked for (its arrivals per second). 1 means every tenant got its fair
//! share; `1/n` that one tenant got everything. A second index normalises by demand alone
//! (throughput ÷ arrivals per second). Tenants with no measured arrivals are left out of both.

use super::percentiles;
use crate::metrics::TenantRecorder;
use crate::serving::DropReason;
pub use capsim_results::tenants::{to_csv, Fairness, TenantSlo, TenantSummary};
use std::collections::BTreeMap;

/// What a tenant's row is built from besides its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantInfo {
    /// Its label.
    pub name: String,
    /// Its fair-share weight.
    pub weight: f64,
    /// Its request rate limit's sustained rate, requests per second.
    pub rate_limit_rps: Option<f64>,
    /// Its tokens-per-minute limit.
    pub tokens_per_minute: Option<u64>,
}

/// Jain's fairness index of `xs`; `None` when empty or all zero.
pub fn jain(xs: &[f64]) -> Option<f64> {
    let n = xs.len() as f64;
    let sum: f64 = xs.iter().sum();
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    (n > 0.0 && sq > 0.0).then(|| sum * sum / (n * sq))
}

/// Weighted max-min fair shares of `capacity` among `demands` (water-filling): no one gets more
/// than its demand, and what is left is split in proportion to the weights.
pub fn max_min_shares(capacity: f64, demands: &[f64], weights: &[f64]) -> Vec<f64> {
    let mut share = vec![0.0; demands.len()];
    let mut open: Vec<usize> = (0..demands.len()).filter(|&i| demands[i] > 0.0).collect();
    let mut left = capacity.max(0.0);
    while !open.is_empty() {
        let w: f64 = open.iter().map(|&i| weights[i]).sum();
        let per_weight = left / w;
        let (done, rest): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| demands[i] <= weights[i] * per_weight);
        if done.is_empty() {
            for &i in &rest {
                share[i] = weights[i] * per_weight;
            }
            break;
        }
        for &i in &done {
            share[i] = demands[i];
            left -= demands[i];
        }
        open = rest;
    }
    share
}

/// Per-tenant rows and fairness from the recorded statistics; `infos` is by label index.
pub fn summarise_tenants(
    rec: &TenantRecorder,
    infos: &[TenantInfo],
    window_s: f64,
) -> (Vec<TenantSummary>, Fairness) {
    let n = infos.len();
    let empty = crate::metrics::tenants::TenantStats::empty();
    let stats = |i: usize| rec.tenants.get(i).unwrap_or(&empty);
    let demand: Vec<f64> = (0..n)
        .map(|i| stats(i).measured.arrived as f64 / window_s)
        .collect();
    let through: Vec<f64> = (0..n)
        .map(|i| stats(i).measured.completed as f64 / window_s)
        .collect();
    let weights: Vec<f64> = infos.iter().map(|t| t.weight).collect();
    let fair = max_min_shares(through.iter().sum(), &demand, &weights);
    let mut rows = Vec::with_capacity(n);
    for (i, info) in infos.iter().enumerate().take(n) {
        let s = stats(i);
        let t = &s.totals;
        let rejected_by_reason: BTreeMap<String, u64> = DropReason::ALL
            .iter()
            .filter(|r| r.is_rate_limit())
            .map(|r| (r.name().to_string(), t.dropped[*r as usize]))
            .collect();
        let rejected: u64 = rejected_by_reason.values().sum();
        let dropped = t.dropped_total() - rejected;
        let admitted = t.arrived - rejected;
        let m = &s.measured;
        let finished = m.completed + m.dropped_total();
        let g = s.targets;
        let secs = |v: Option<u64>| v.map(|ns| ns as f64 / 1e9);
        let llm = s.ttft.count() > 0 || g.ttft.is_some() || g.tpot.is_some();
        rows.push(TenantSummary {
            name: info.name.clone(),
            arrived: t.arrived,
            admitted,
            rejected,
            rejected_by_reason,
            rejected_attempts: Some(s.refused_attempts),
            completed: t.completed,
            dropped,
            in_flight: admitted - t.completed - dropped,
            weight: info.weight,
            rate_limit_rps: info.rate_limit_rps,
            tokens_per_minute: info.tokens_per_minute,
            demand_rps: demand[i],
            throughput_rps: through[i],
            fair_share_rps: fair[i],
            latency_s: percentiles(&s.latency, None),
            ttft_s: llm.then(|| percentiles(&s.ttft, None)),
            tpot_s: llm.then(|| percentiles(&s.tpot, None)),
            slo: TenantSlo {
                latency_target_s: secs(g.latency),
                ttft_target_s: secs(g.ttft),
                tpot_target_s: secs(g.tpot),
                attainment_ratio: (g.any() && finished > 0)
                    .then(|| s.slo_met as f64 / finished as f64),
            },
        });
    }
    let with_demand: Vec<usize> = (0..n).filter(|&i| demand[i] > 0.0).collect();
    let over_fair: Vec<f64> = with_demand
        .iter()
        .map(|&i| {
            if fair[i] > 0.0 {
                through[i] / fair[i]
            } else {
                0.0
            }
        })
        .collect();
    let over_demand: Vec<f64> = with_demand
        .iter()
        .map(|&i| through[i] / demand[i])
        .collect();
    let fairness = Fairness {
        jain_index: jain(&over_fair),
        jain_index_over_demand: jain(&over_demand),
    };
    (rows, fairness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_is_one_when_equal_and_one_over_n_when_one_takes_all() {
        assert_eq!(jain(&[2.0, 2.0, 2.0]), Some(1.0));
        assert_eq!(jain(&[3.0, 0.0, 0.0, 0.0]), Some(0.25));
        // (1 + 0.5)² / (2 · (1 + 0.25)) = 2.25 / 2.5
        assert!((jain(&[1.0, 0.5]).unwrap() - 0.9).abs() < 1e-12);
        assert_eq!(jain(&[]), None);
        assert_eq!(jain(&[0.0, 0.0]), None);
    }

    /// Capacity 30 among demands 5, 40, 40 with weights 1, 1, 2: the first asks for less than
    /// 10 (30/3) and gets its 5; 25 is left for weights 1 and 2: 8⅓ and 16⅔.
    #[test]
    fn water_filling_by_hand() {
        let s = max_min_shares(30.0, &[5.0, 40.0, 40.0], &[1.0, 1.0, 2.0]);
        assert!((s[0] - 5.0).abs() < 1e-12);
        assert!((s[1] - 25.0 / 3.0).abs() < 1e-12);
        assert!((s[2] - 50.0 / 3.0).abs() < 1e-12);
        // Enough for everyone: each gets its demand; no demand, no share.
        assert_eq!(
            max_min_shares(100.0, &[5.0, 0.0, 7.0], &[1.0, 1.0, 1.0]),
            [5.0, 0.0, 7.0]
        );
    }
}
