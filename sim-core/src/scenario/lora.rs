//! `[service.vllm.lora]`: LoRA adapters served beside a vLLM replica's base model, with vLLM's
//! `LoRAConfig` knobs (`vllm/config/lora.py`), the cost of loading an adapter and of running
//! one, and how popular each adapter is among requests that do not name one.

use super::error::ScenarioError;
use super::limits;
use super::model::Validator;
use super::raw::RawQuantity;
use crate::catalog::{GpuModel, LlmModel};
use crate::engine::SimDuration;
use crate::serving::vllm::{Adapter, LoraConfig};
use serde::Deserialize;

/// vLLM's allowed `max_lora_rank` values (`vllm/config/lora.py`, `LoRAConfig`).
pub const RANKS: [u32; 9] = [1, 8, 16, 32, 64, 128, 256, 320, 512];

/// Local NVMe read rate, bytes/s: AWS p4d's per-device figure (AWS Compute blog "P4d deep
/// dive"), the default disk an adapter is read from.
pub const DISK_BYTES_PER_S: f64 = 2.7e9;

/// Host-to-GPU copy rate, bytes/s: the measured PCIe Gen4 x16 H2D rate of an A100 (nvbandwidth,
/// NVIDIA developer forum thread 352186), the default.
pub const HOST_TO_GPU_BYTES_PER_S: f64 = 24.8e9;

/// `[service.vllm.lora]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLora {
    /// Most distinct adapters in one batch (vLLM's default 1).
    pub max_loras: Option<u32>,
    /// Adapters kept in host memory (vLLM's default: `max_loras`).
    pub max_cpu_loras: Option<u32>,
    /// Highest adapter rank the engine allows (vLLM's default 16).
    pub max_lora_rank: Option<u32>,
    /// Adapter bytes per unit of rank (derived from the catalog model when absent).
    pub bytes_per_rank: Option<RawQuantity>,
    /// Disk read rate, GB/s.
    pub disk_gb_per_s: Option<f64>,
    /// Host-to-GPU copy rate, GB/s.
    pub host_to_gpu_gb_per_s: Option<f64>,
    /// Extra step time per unit of rank of each distinct adapter in a step.
    pub step_overhead_per_rank: Option<String>,
    /// How requests that name no adapter are spread over the adapters.
    pub popularity: Option<RawPopularity>,
    /// Zipf's exponent for `popularity = "zipf"` (default 1).
    pub zipf_exponent: Option<f64>,
    /// `[[service.vllm.lora.adapter]]`.
    pub adapter: Option<Vec<RawAdapter>>,
}

/// Popularity laws.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawPopularity {
    /// Every adapter equally likely.
    Uniform,
    /// The k-th adapter (file order, from 1) with weight 1 / k^s.
    Zipf,
}

/// One `[[service.vllm.lora.adapter]]` (or `count` of them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdapter {
    /// The name requests carry in their `model` field.
    pub name: Option<String>,
    /// Its rank.
    pub rank: Option<u32>,
    /// Several adapters of the same rank, named `<name>-0` to `<name>-<count − 1>`.
    pub count: Option<u32>,
}

/// One adapter of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSpec {
    /// The name requests carry.
    pub name: String,
    /// Its rank.
    pub rank: u32,
    /// The `[[service.vllm.lora.adapter]]` table it comes from (for error locations).
    pub item: usize,
}

/// A service's LoRA adapters and knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraSpec {
    /// Most distinct adapters in one batch, and GPU adapter slots.
    pub max_loras: u32,
    /// Adapters kept in host memory.
    pub max_cpu_loras: u32,
    /// Highest rank allowed.
    pub max_lora_rank: u32,
    /// The adapters, in file order (a request's `adapter` is an index here plus one).
    pub adapters: Vec<AdapterSpec>,
    /// Adapter bytes per unit of rank.
    pub bytes_per_rank: f64,
    /// Disk read rate, bytes/s.
    pub disk_bytes_per_s: f64,
    /// Host-to-GPU copy rate, bytes/s.
    pub host_to_gpu_bytes_per_s: f64,
    /// Extra step time per unit of rank of each distinct adapter in a step.
    pub step_overhead_per_rank: SimDuration,
    /// Zipf exponent of the adapters' popularity among requests naming none (0: uniform);
    /// `None`: such requests use the base model.
    pub popularity: Option<f64>,
}

impl LoraSpec {
    /// The engine's view: each adapter's load and step costs.
    pub fn engine_config(&self) -> LoraConfig {
        let adapters = self
            .adapters
            .iter()
            .map(|a| {
                let bytes = self.bytes_per_rank * f64::from(a.rank);
                let copy = bytes / self.host_to_gpu_bytes_per_s;
                let read = bytes / self.disk_bytes_per_s;
                Adapter {
                    rank: a.rank,
                    cold_load: SimDuration::from_secs_f64(read + copy),
                    warm_load: SimDuration::from_secs_f64(copy),
                    step_extra: SimDuration(self.step_overhead_per_rank.0 * u64::from(a.rank)),
                }
            })
            .collect();
        LoraConfig {
            max_loras: self.max_loras,
            max_cpu_loras: self.max_cpu_loras,
            adapters,
        }
    }

    /// Each adapter's share of the requests that name none (empty without a popularity law).
    pub fn weights(&self) -> Vec<f64> {
        match self.popularity {
            None => Vec::new(),
            Some(s) => (1..=self.adapters.len())
                .map(|k| (k as f64).powf(-s))
                .collect(),
        }
    }
}

/// Adapter bytes per unit of rank for `model`: vLLM wraps every attention and MLP projection
/// of each layer (q, k, v, o, gate, up, down), and a rank-r adapter of an `in × out` linear
/// holds `r × (in + out)` weights (A and B, `vllm/lora/layers/base_linear.py`,
/// `create_lora_weights`), in the base model's precision (`lora_dtype = auto`).
pub fn bytes_per_rank(model: &LlmModel) -> f64 {
    let h = model.hidden_size;
    let per_layer = (h + model.q_dim())
        + 2 * (h + model.kv_dim())
        + (model.q_dim() + h)
        + 3 * (h + model.ffn_size);
    (per_layer * model.layers) as f64 * model.bytes_per_weight
}

impl Validator<'_> {
    /// `[service.vllm.lora]`; `model` and `gpu` (with the tensor-parallel degree) are the
    /// roofline's, when the engine has one, for the derived defaults.
    pub(super) fn lora(
        &self,
        raw: &RawLora,
        model: Option<(&LlmModel, &GpuModel, u32)>,
    ) -> Result<LoraSpec, ScenarioError> {
        let key = |k: &str| format!("service.vllm.lora.{k}");
        let max_loras = match raw.max_loras {
            Some(0) => return Err(self.err(&key("max_loras"), "expected at least 1")),
            Some(n) => n,
            None => 1,
        };
        let max_cpu_loras = match raw.max_cpu_loras {
            Some(n) if n < max_loras => {
                return Err(self.err(
                    &key("max_cpu_loras"),
                    format!("expected at least max_loras ({max_loras}): host memory holds every adapter a batch uses (vLLM refuses a smaller value), found {n}"),
                ))
            }
            Some(n) => n,
            None => max_loras,
        };
        let max_lora_rank = match raw.max_lora_rank {
            None => 16,
            Some(r) if RANKS.contains(&r) => r,
            Some(r) => {
                return Err(self.err(
                    &key("max_lora_rank"),
                    format!(
                    "expected one of vLLM's ranks 1, 8, 16, 32, 64, 128, 256, 320, 512, found {r}"
                ),
                ))
            }
        };
        let Some(items) = raw.adapter.as_ref().filter(|a| !a.is_empty()) else {
            return Err(self.err(
                "service.vllm.lora",
                "missing: expected [[service.vllm.lora.adapter]] tables, each with `name` and `rank`",
            ));
        };
        let mut adapters: Vec<AdapterSpec> = Vec::new();
        for (i, a) in items.iter().enumerate() {
            let at = |k: &str| key(&format!("adapter[{i}].{k}"));
            let name =
                match &a.name {
                    None => return Err(self.err(
                        &key(&format!("adapter[{i}]")),
                        "missing: expected `name`, the model name requests for the adapter carry",
                    )),
                    Some(n) if !super::services::valid_name(n) => {
                        return Err(self.err(
                            &at("name"),
                            format!(
                            "expected a name of letters, digits, `-`, `_` and `.`, found \"{n}\""
                        ),
                        ))
                    }
                    Some(n) => n,
                };
            let rank = match a.rank {
                None => {
                    return Err(self.err(
                        &key(&format!("adapter[{i}]")),
                        "missing: expected `rank`, the adapter's LoRA rank",
                    ))
                }
                Some(0) => return Err(self.err(&at("rank"), "expected at least 1")),
                Some(r) if r > max_lora_rank => {
                    return Err(self.err(
                        &at("rank"),
                        format!("expected at most max_lora_rank ({max_lora_rank}): vLLM refuses to load an adapter of a higher rank; found {r} (raise max_lora_rank to one of 1, 8, 16, 32, 64, 128, 256, 320, 512)"),
                    ))
                }
                Some(r) => r,
            };
            let count = match a.count {
                Some(0) => return Err(self.err(&at("count"), "expected at least 1")),
                c => c,
            };
            let total = adapters.len() as u64 + u64::from(count.unwrap_or(1));
            limits::ADAPTERS
                .check(total)
                .map_err(|m| self.err(&at("count"), m))?;
            let names: Vec<String> = match count {
                None => vec![name.clone()],
                Some(c) => (0..c).map(|k| format!("{name}-{k}")).collect(),
            };
            for n in names {
                if let Some(j) = adapters.iter().position(|x| x.name == n) {
                    return Err(self.err(
                        &at("name"),
                        format!("expected each adapter named once; \"{n}\" is adapter {j} already"),
                    ));
                }
                adapters.push(AdapterSpec {
                    name: n,
                    rank,
                    item: i,
                });
            }
        }
        let bytes_per_rank = match (&raw.bytes_per_rank, model) {
            (Some(q), _) => {
                let b = self.quantity(&key("bytes_per_rank"), q)?.units_ceil();
                if b == 0 {
                    return Err(self.err(&key("bytes_per_rank"), "expected more than 0 bytes"));
                }
                b as f64
            }
            (None, Some((m, _, _))) => bytes_per_rank(m),
            (None, None) => {
                return Err(self.err(
                    &key("bytes_per_rank"),
                    "missing: with a linear [service.vllm.step_time] capsim cannot derive an adapter's size: expected `bytes_per_rank`, such as \"5M\"",
                ))
            }
        };
        let rate = |k: &str, v: Option<f64>, default: f64| -> Result<f64, ScenarioError> {
            match v {
                None => Ok(default),
                Some(r) if r.is_finite() && r > 0.0 && r <= 1e6 => Ok(r * 1e9),
                Some(r) => Err(self.err(
                    &key(k),
                    format!("expected a rate in GB/s above 0 and at most 1,000,000, found {r}"),
                )),
            }
        };
        let disk_bytes_per_s = rate("disk_gb_per_s", raw.disk_gb_per_s, DISK_BYTES_PER_S)?;
        let host_to_gpu_bytes_per_s = rate(
            "host_to_gpu_gb_per_s",
            raw.host_to_gpu_gb_per_s,
            HOST_TO_GPU_BYTES_PER_S,
        )?;
        // Default: each distinct adapter's weights are read once per step from HBM, as a decode
        // step reads the base weights (memory bound), each GPU its 1/tp share.
        let derived = model.map_or(SimDuration::ZERO, |(_, gpu, tp)| {
            let bw = gpu.memory_bandwidth_gb_per_s * 1e9 * gpu.perf.bandwidth_efficiency;
            SimDuration::from_secs_f64(bytes_per_rank / (bw * f64::from(tp.max(1))))
        });
        let step_overhead_per_rank = self.duration(
            &key("step_overhead_per_rank"),
            raw.step_overhead_per_rank.as_ref(),
            derived,
        )?;
        if step_overhead_per_rank > SimDuration::from_secs(1) {
            return Err(self.err(
                &key("step_overhead_per_rank"),
                "expected at most 1s per unit of rank",
            ));
        }
        let popularity = match (raw.popularity, raw.zipf_exponent) {
            (None, Some(_)) | (Some(RawPopularity::Uniform), Some(_)) => {
                return Err(self.err(
                    &key("zipf_exponent"),
                    "`zipf_exponent` is for `popularity = \"zipf\"`",
                ))
            }
            (None, None) => None,
            (Some(RawPopularity::Uniform), None) => Some(0.0),
            (Some(RawPopularity::Zipf), s) => {
                let s = s.unwrap_or(1.0);
                if !(s.is_finite() && (0.0..=10.0).contains(&s)) {
                    return Err(self.err(
                        &key("zipf_exponent"),
                        format!("expected an exponent from 0 to 10, found {s}"),
                    ));
                }
                Some(s)
            }
        };
        Ok(LoraSpec {
            max_loras,
            max_cpu_loras,
            max_lora_rank,
            adapters,
            bytes_per_rank,
            disk_bytes_per_s,
            host_to_gpu_bytes_per_s,
            step_overhead_per_rank,
            popularity,
        })
    }
}
