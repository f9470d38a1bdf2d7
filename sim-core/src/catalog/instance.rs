//! Instance types: a node's vCPUs, memory, GPUs and price, read from `[[instance]]` entries.

use super::{Checker, GpuModel};
use crate::scenario::error::closest;
use crate::scenario::model::parse_raw;
use crate::scenario::ScenarioError;
use serde::Deserialize;

/// The providers an instance type may name; `other` covers on-premises machines and other clouds.
pub const PROVIDERS: [&str; 4] = ["aws", "gcp", "azure", "other"];

/// An instance type, as one `[[instance]]` entry of an instance catalog describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceType {
    /// The provider's name for the type, such as `p5.48xlarge`.
    pub id: String,
    /// `aws`, `gcp`, `azure` or `other`.
    pub provider: String,
    /// The region the prices are for.
    pub region: String,
    /// vCPUs of a node.
    pub vcpu: u32,
    /// Memory of a node in bytes.
    pub memory_bytes: u64,
    /// The GPU model's id in the GPU catalog; `None` for CPU-only types.
    pub gpu: Option<String>,
    /// GPUs per node: at least 1 with a GPU model, 0 without.
    pub gpu_count: u32,
    /// On-demand price in US dollars per node-hour.
    pub on_demand_usd_per_hour: f64,
    /// Spot price in US dollars per node-hour, if the catalog gives one; at most the on-demand price.
    pub spot_usd_per_hour: Option<f64>,
    /// When the prices were observed, `YYYY-MM-DD`.
    pub price_date: String,
    /// Where the prices come from, and whether they are estimates.
    pub price_source: String,
    /// Whether a primary source (the provider's own price list) confirmed the prices.
    pub price_verified: bool,
    /// Local NVMe storage of the node, bytes (`None`: not in the entry).
    pub local_nvme_bytes: Option<u64>,
    /// Sequential read rate of the node's local NVMe, decimal GB/s (`None`: not in the entry).
    pub local_nvme_read_gb_per_s: Option<f64>,
    /// The node's network bandwidth to other nodes (EFA, InfiniBand, GPUDirect) in Gbit/s, if
    /// the catalog gives it; disaggregated serving moves KV caches over it.
    pub network_gbps: Option<f64>,
}

/// An instance catalog file: `[[instance]]` entries and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstanceFile {
    instance: Option<Vec<RawInstance>>,
}

/// One `[[instance]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    id: Option<String>,
    provider: Option<String>,
    region: Option<String>,
    vcpu: Option<u32>,
    memory: Option<String>,
    gpu: Option<String>,
    gpu_count: Option<u32>,
    on_demand_usd_per_hour: Option<f64>,
    spot_usd_per_hour: Option<f64>,
    price_date: Option<String>,
    price_source: Option<String>,
    price_verified: Option<bool>,
    local_nvme: Option<String>,
    local_nvme_read_gb_per_s: Option<f64>,
    network_gbps: Option<f64>,
}

/// Parses and checks an instance catalog file against the GPU models in `gpus`, keeping the
/// entries in file order.
pub(super) fn parse_instances(
    src: &str,
    file: &str,
    gpus: &[GpuModel],
) -> Result<Vec<InstanceType>, ScenarioError> {
    let raw: RawInstanceFile = parse_raw(src, file)?;
    let c = Checker { file, src };
    let entries = raw.instance.unwrap_or_default();
    let mut out: Vec<InstanceType> = Vec::with_capacity(entries.len());
    for (i, r) in entries.into_iter().enumerate() {
        let k = |field: &str| format!("instance[{i}].{field}");
        let id = c.id(
            &k("id"),
            r.id,
            out.iter().map(|o| o.id.as_str()),
            "instance",
        )?;
        let provider = c.required(&k("provider"), r.provider, "one of aws, gcp, azure, other")?;
        if !PROVIDERS.contains(&provider.as_str()) {
            let hint = closest(&provider, &PROVIDERS)
                .map(|p| format!("; did you mean `{p}`?"))
                .unwrap_or_default();
            return Err(c.err(
                &k("provider"),
                format!(
                    "unknown provider `{provider}`: expected one of aws, gcp, azure, other{hint}"
                ),
            ));
        }
        let region = c.text(&k("region"), r.region, "the region the prices are for")?;
        let vcpu = c.required(&k("vcpu"), r.vcpu, "the number of vCPUs")?;
        if vcpu == 0 {
            return Err(c.err(&k("vcpu"), "expected at least 1 vCPU"));
        }
        let memory = c.required(
            &k("memory"),
            r.memory,
            "the node's memory, such as \"64Gi\"",
        )?;
        let memory_bytes = c.memory(&k("memory"), &memory)?;
        let (gpu, gpu_count) = gpus_of(&c, i, r.gpu, r.gpu_count, gpus)?;
        let od_key = k("on_demand_usd_per_hour");
        let od = c.required(&od_key, r.on_demand_usd_per_hour, "the on-demand price")?;
        let on_demand_usd_per_hour = c.price(&od_key, od)?;
        let spot_usd_per_hour = match r.spot_usd_per_hour {
            None => None,
            Some(s) => {
                let s = c.price(&k("spot_usd_per_hour"), s)?;
                if s > on_demand_usd_per_hour {
                    return Err(c.err(
                        &k("spot_usd_per_hour"),
                        format!("expected a spot price at most the on-demand price ({on_demand_usd_per_hour}), found {s}"),
                    ));
                }
                Some(s)
            }
        };
        let price_date = c.required(
            &k("price_date"),
            r.price_date,
            "the date the prices were observed, YYYY-MM-DD",
        )?;
        if !is_date(&price_date) {
            return Err(c.err(
                &k("price_date"),
                format!("expected a date written YYYY-MM-DD, such as \"2026-11-22\", found \"{price_date}\""),
            ));
        }
        let price_source = c.text(
            &k("price_source"),
            r.price_source,
            "where the prices come from",
        )?;
        let local_nvme_bytes = match r.local_nvme {
            None => None,
            Some(q) => Some(c.memory(&k("local_nvme"), &q)?),
        };
        let local_nvme_read_gb_per_s = match r.local_nvme_read_gb_per_s {
            None => None,
            Some(x) => {
                Some(c.positive(&k("local_nvme_read_gb_per_s"), x, "a read rate in GB/s")?)
            }
        };
        let network_gbps = match r.network_gbps {
            Some(g) if !(g.is_finite() && g > 0.0 && g <= 1e6) => {
                return Err(c.err(
                    &k("network_gbps"),
                    format!(
                        "expected a bandwidth in Gbit/s above 0 and at most 1000000, found {g}"
                    ),
                ))
            }
            g => g,
        };
        out.push(InstanceType {
            id,
            provider,
            region,
            vcpu,
            memory_bytes,
            gpu,
            gpu_count,
            on_demand_usd_per_hour,
            spot_usd_per_hour,
            price_date,
            price_source,
            price_verified: r.price_verified.unwrap_or(false),
            local_nvme_bytes,
            local_nvme_read_gb_per_s,
            network_gbps,
        });
    }
    Ok(out)
}

/// Checks that `gpu` names a known GPU model and agrees with `gpu_count`.
fn gpus_of(
    c: &Checker<'_>,
    i: usize,
    gpu: Option<String>,
    gpu_count: Option<u32>,
    gpus: &[GpuModel],
) -> Result<(Option<String>, u32), ScenarioError> {
    let gpu_key = format!("instance[{i}].gpu");
    let count_key = format!("instance[{i}].gpu_count");
    match (gpu, gpu_count) {
        (None, None | Some(0)) => Ok((None, 0)),
        (None, Some(n)) => Err(c.err(
            &count_key,
            format!("gpu_count is {n} but no `gpu` is given: name a GPU id from the GPU catalog, or set gpu_count = 0 for a CPU-only type"),
        )),
        (Some(g), count) => {
            if !gpus.iter().any(|m| m.id == g) {
                let ids: Vec<&str> = gpus.iter().map(|m| m.id.as_str()).collect();
                let hint = gpu_hint(&g, &ids);
                return Err(c.err(
                    &gpu_key,
                    format!("unknown GPU `{g}`: expected one of the GPU catalog's ids ({}){hint}", ids.join(", ")),
                ));
            }
            match count {
                Some(n) if n >= 1 => {
                    crate::scenario::limits::GPUS_PER_NODE
                        .check(n.into())
                        .map_err(|m| c.err(&count_key, m))?;
                    Ok((Some(g), n))
                }
                Some(_) => Err(c.err(
                    &count_key,
                    format!("expected gpu_count of at least 1 with `gpu = \"{g}\"` (leave out `gpu` for a CPU-only type)"),
                )),
                None => Err(c.err(
                    &gpu_key,
                    format!("`gpu = \"{g}\"` needs `gpu_count`, the GPUs per node (at least 1)"),
                )),
            }
        }
    }
}

/// A suggestion for an unknown GPU id: the ids it is a prefix of (`h100` for `h100-sxm`,
/// `h100-pcie`), else the closest id, if one is close.
fn gpu_hint(given: &str, ids: &[&str]) -> String {
    let lower = given.to_ascii_lowercase();
    let extended: Vec<String> = ids
        .iter()
        .filter(|id| id.starts_with(&lower))
        .map(|id| format!("`{id}`"))
        .collect();
    match extended.len() {
        0 => closest(given, ids)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default(),
        1 => format!("; did you mean {}?", extended[0]),
        _ => format!("; did you mean one of {}?", extended.join(", ")),
    }
}

/// Whether `s` is a calendar date written `YYYY-MM-DD`.
pub(super) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| s[r].parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}
