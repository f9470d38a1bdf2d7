//! GPU models: the figures the cost model needs about a device, read from `[[gpu]]` entries.

use super::Checker;
use crate::scenario::model::parse_raw;
use crate::scenario::ScenarioError;
use serde::Deserialize;

/// A GPU model, as one `[[gpu]]` entry of a GPU catalog describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuModel {
    /// Short name that instance types and scenarios use, such as `h100-sxm`.
    pub id: String,
    /// Full product name, such as `NVIDIA H100 SXM5 80GB`.
    pub name: String,
    /// Device memory in bytes.
    pub memory_bytes: u64,
    /// Peak memory bandwidth in decimal GB/s.
    pub memory_bandwidth_gb_per_s: f64,
    /// Peak dense (not 2:4-sparse) BF16 tensor throughput in TFLOPS; FP16 where the GPU has no BF16.
    pub bf16_dense_tflops: f64,
    /// Peak dense FP8 tensor throughput in TFLOPS, where the GPU has FP8 tensor cores.
    pub fp8_dense_tflops: Option<f64>,
    /// Streaming multiprocessors.
    pub sms: u32,
    /// Whether the GPU supports Multi-Instance GPU partitioning.
    pub mig: bool,
    /// Where the figures come from.
    pub source: String,
    /// Whether every figure was confirmed from a primary source.
    pub verified: bool,
    /// The step-time cost model's constants for this GPU (optional fields, with defaults).
    pub perf: GpuPerf,
    /// Host-to-GPU bandwidth one direction reaches over the GPU's host link (PCIe or
    /// NVLink-C2C), decimal GB/s: what loads from a host-memory KV tier move at; `None` when the
    /// entry gives none.
    pub host_link_gb_per_s: Option<f64>,
}

/// The cost model's efficiency constants for one GPU: what fraction of the datasheet figures real
/// kernels reach, and fixed costs. They belong to the GPU, never to a model.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuPerf {
    /// Fraction of the datasheet memory bandwidth a streaming kernel reaches (0 to 1].
    pub bandwidth_efficiency: f64,
    /// Fraction of the dense tensor peak a GEMM's whole waves of tiles reach (0 to 1]; tile and
    /// wave quantisation over the SMs come on top (see `costmodel::gemm`).
    pub gemm_efficiency: f64,
    /// Exponent p of the smooth maximum (compute^p + memory^p)^(1/p) that times one kernel: how
    /// imperfectly compute and memory traffic overlap (1: not at all, large: perfectly). A power
    /// of two from 1 to 32.
    pub overlap_exponent: u32,
    /// Fraction of the dense BF16 peak that prefill attention (FlashAttention) reaches (0 to 1].
    pub attention_efficiency: f64,
    /// Fixed time per decoder layer per step, in microseconds: kernel launches and tails.
    pub layer_overhead_us: f64,
    /// GPU-to-GPU bandwidth per direction for tensor-parallel all-reduce, in decimal GB/s.
    pub interconnect_gb_per_s: f64,
    /// Fixed latency of one all-reduce, in microseconds.
    pub allreduce_latency_us: f64,
}

impl Default for GpuPerf {
    /// Defaults for a GPU whose entry gives none: typical fractions for current data-center GPUs,
    /// and PCIe Gen4 between GPUs.
    fn default() -> Self {
        GpuPerf {
            bandwidth_efficiency: 0.85,
            gemm_efficiency: 0.75,
            overlap_exponent: 8,
            attention_efficiency: 0.33,
            layer_overhead_us: 35.0,
            interconnect_gb_per_s: 25.0,
            allreduce_latency_us: 10.0,
        }
    }
}

/// A GPU catalog file: `[[gpu]]` entries and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpuFile {
    gpu: Option<Vec<RawGpu>>,
}

/// One `[[gpu]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpu {
    id: Option<String>,
    name: Option<String>,
    memory: Option<String>,
    memory_bandwidth_gb_per_s: Option<f64>,
    bf16_dense_tflops: Option<f64>,
    fp8_dense_tflops: Option<f64>,
    sms: Option<u32>,
    mig: Option<bool>,
    source: Option<String>,
    verified: Option<bool>,
    // Cost-model constants (GpuPerf); each optional with a default.
    bandwidth_efficiency: Option<f64>,
    gemm_efficiency: Option<f64>,
    overlap_exponent: Option<u32>,
    attention_efficiency: Option<f64>,
    layer_overhead_us: Option<f64>,
    interconnect_gb_per_s: Option<f64>,
    allreduce_latency_us: Option<f64>,
    host_link_gb_per_s: Option<f64>,
}

/// Parses and checks a GPU catalog file, keeping the entries in file order.
pub(super) fn parse_gpus(src: &str, file: &str) -> Result<Vec<GpuModel>, ScenarioError> {
    let raw: RawGpuFile = parse_raw(src, file)?;
    let c = Checker { file, src };
    let entries = raw.gpu.unwrap_or_default();
    let mut out: Vec<GpuModel> = Vec::with_capacity(entries.len());
    for (i, g) in entries.into_iter().enumerate() {
        let k = |field: &str| format!("gpu[{i}].{field}");
        let perf = parse_perf(&c, &g, &k)?;
        let id = c.id(&k("id"), g.id, out.iter().map(|o| o.id.as_str()), "gpu")?;
        let name = c.text(&k("name"), g.name, "the full product name")?;
        let memory = c.required(
            &k("memory"),
            g.memory,
            "the device memory, such as \"80Gi\"",
        )?;
        let memory_bytes = c.memory(&k("memory"), &memory)?;
        let bw_key = k("memory_bandwidth_gb_per_s");
        let bw = c.required(
            &bw_key,
            g.memory_bandwidth_gb_per_s,
            "the memory bandwidth in GB/s",
        )?;
        let memory_bandwidth_gb_per_s = c.positive(&bw_key, bw, "a bandwidth in GB/s")?;
        let tf_key = k("bf16_dense_tflops");
        let tf = c.required(&tf_key, g.bf16_dense_tflops, "the dense BF16 TFLOPS")?;
        let bf16_dense_tflops = c.positive(&tf_key, tf, "a throughput in TFLOPS")?;
        let fp8_key = k("fp8_dense_tflops");
        let fp8_dense_tflops = match g.fp8_dense_tflops {
            None => None,
            Some(x) => Some(c.positive(&fp8_key, x, "a throughput in TFLOPS")?),
        };
        let sms = c.required(&k("sms"), g.sms, "the number of streaming multiprocessors")?;
        if sms == 0 {
            return Err(c.err(&k("sms"), "expected at least 1 streaming multiprocessor"));
        }
        let mig = c.required(&k("mig"), g.mig, "`mig = true` or `mig = false`")?;
        let source = c.text(&k("source"), g.source, "where the figures come from")?;
        let host_link_gb_per_s = match g.host_link_gb_per_s {
            None => None,
            Some(x) => Some(c.positive(&k("host_link_gb_per_s"), x, "a bandwidth in GB/s")?),
        };
        out.push(GpuModel {
            id,
            name,
            memory_bytes,
            memory_bandwidth_gb_per_s,
            bf16_dense_tflops,
            fp8_dense_tflops,
            sms,
            mig,
            source,
            verified: g.verified.unwrap_or(false),
            perf,
            host_link_gb_per_s,
        });
    }
    Ok(out)
}

/// The cost-model constants of one entry, defaults filled in.
fn parse_perf(
    c: &Checker,
    g: &RawGpu,
    k: &dyn Fn(&str) -> String,
) -> Result<GpuPerf, ScenarioError> {
    let d = GpuPerf::default();
    let fraction = |field: &str, v: Option<f64>, default: f64| match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x > 0.0 && x <= 1.0 => Ok(x),
        Some(x) => Err(c.err(
            &k(field),
            format!("expected a fraction above 0 and at most 1, found {x}"),
        )),
    };
    let non_negative = |field: &str, v: Option<f64>, default: f64, what: &str| match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) => Err(c.err(
            &k(field),
            format!("expected {what} that is finite and not negative, found {x}"),
        )),
    };
    let bandwidth_efficiency = fraction(
        "bandwidth_efficiency",
        g.bandwidth_efficiency,
        d.bandwidth_efficiency,
    )?;
    let gemm_efficiency = fraction("gemm_efficiency", g.gemm_efficiency, d.gemm_efficiency)?;
    let attention_efficiency = fraction(
        "attention_efficiency",
        g.attention_efficiency,
        d.attention_efficiency,
    )?;
    let overlap_exponent = match g.overlap_exponent {
        None => d.overlap_exponent,
        Some(x) if x.is_power_of_two() && x <= 32 => x,
        Some(x) => {
            return Err(c.err(
                &k("overlap_exponent"),
                format!("expected 1, 2, 4, 8, 16 or 32, found {x}"),
            ))
        }
    };
    let layer_overhead_us = non_negative(
        "layer_overhead_us",
        g.layer_overhead_us,
        d.layer_overhead_us,
        "a time in microseconds",
    )?;
    let allreduce_latency_us = non_negative(
        "allreduce_latency_us",
        g.allreduce_latency_us,
        d.allreduce_latency_us,
        "a time in microseconds",
    )?;
    let interconnect_gb_per_s = match g.interconnect_gb_per_s {
        None => d.interconnect_gb_per_s,
        Some(x) => c.positive(&k("interconnect_gb_per_s"), x, "a bandwidth in GB/s")?,
    };
    Ok(GpuPerf {
        bandwidth_efficiency,
        gemm_efficiency,
        overlap_exponent,
        attention_efficiency,
        layer_overhead_us,
        interconnect_gb_per_s,
        allreduce_latency_us,
    })
}
