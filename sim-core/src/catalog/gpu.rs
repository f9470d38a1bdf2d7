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
    /// Streaming multiprocessors.
    pub sms: u32,
    /// Whether the GPU supports Multi-Instance GPU partitioning.
    pub mig: bool,
    /// Where the figures come from.
    pub source: String,
    /// Whether every figure was confirmed from a primary source.
    pub verified: bool,
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
    sms: Option<u32>,
    mig: Option<bool>,
    source: Option<String>,
    verified: Option<bool>,
}

/// Parses and checks a GPU catalog file, keeping the entries in file order.
pub(super) fn parse_gpus(src: &str, file: &str) -> Result<Vec<GpuModel>, ScenarioError> {
    let raw: RawGpuFile = parse_raw(src, file)?;
    let c = Checker { file, src };
    let entries = raw.gpu.unwrap_or_default();
    let mut out: Vec<GpuModel> = Vec::with_capacity(entries.len());
    for (i, g) in entries.into_iter().enumerate() {
        let k = |field: &str| format!("gpu[{i}].{field}");
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
        let sms = c.required(&k("sms"), g.sms, "the number of streaming multiprocessors")?;
        if sms == 0 {
            return Err(c.err(&k("sms"), "expected at least 1 streaming multiprocessor"));
        }
        let mig = c.required(&k("mig"), g.mig, "`mig = true` or `mig = false`")?;
        let source = c.text(&k("source"), g.source, "where the figures come from")?;
        out.push(GpuModel {
            id,
            name,
            memory_bytes,
            memory_bandwidth_gb_per_s,
            bf16_dense_tflops,
            sms,
            mig,
            source,
            verified: g.verified.unwrap_or(false),
        });
    }
    Ok(out)
}
