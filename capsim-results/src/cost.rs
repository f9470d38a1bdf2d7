//! Cost allocation: what each service (and idle capacity) costs, as `summary.json` holds it and
//! `cost_attribution.csv` lists it.

use crate::Summary;
use serde::{Deserialize, Serialize};

/// USD by resource, OpenCost's `gpuCost`, `cpuCost` and `ramCost` in snake case.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ResourceCost {
    /// GPU part.
    pub gpu_usd: f64,
    /// CPU part.
    pub cpu_usd: f64,
    /// Memory part.
    pub memory_usd: f64,
    /// The three together.
    pub total_usd: f64,
}

impl ResourceCost {
    /// From the CPU, memory and GPU parts.
    pub fn new(cpu: f64, memory: f64, gpu: f64) -> Self {
        ResourceCost {
            gpu_usd: gpu,
            cpu_usd: cpu,
            memory_usd: memory,
            total_usd: cpu + memory + gpu,
        }
    }
}

/// `cost_attribution.csv`'s header.
pub const COST_ATTRIBUTION: &str = "service,namespace,gpu_usd,cpu_usd,memory_usd,total_usd";

/// `cost_attribution.csv`: one row per service, then `(batch)` (Kueue's batch pods, when there
/// are any) and `(idle)`; `None` without nodes. The `total_usd` column sums to the cluster's
/// `cost_usd`.
pub fn cost_attribution_csv(s: &Summary) -> Option<String> {
    let c = s.cluster.as_ref()?;
    let idle = c.idle_cost?;
    let mut out = String::from(COST_ATTRIBUTION);
    out.push('\n');
    let mut row = |name: &str, ns: &str, r: &ResourceCost| {
        out.push_str(&format!(
            "{name},{ns},{:.6},{:.6},{:.6},{:.6}\n",
            r.gpu_usd, r.cpu_usd, r.memory_usd, r.total_usd
        ));
    };
    for sv in &s.services {
        if let Some(r) = &sv.cost {
            row(&sv.name, &sv.namespace, r);
        }
    }
    if let Some(b) = &c.batch_cost {
        row("(batch)", "", b);
    }
    row("(idle)", "", &idle);
    Some(out)
}
