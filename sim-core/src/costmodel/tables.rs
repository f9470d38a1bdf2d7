//! Markdown tables of the cost model against measurements, as the book's "Cost model" page
//! includes them: step-time grids, the GEMM micro-benchmarks, and tensor parallelism against
//! SplitwiseSim's `perf_model.csv`.

use super::batch::{Placement, StepBatch};
use super::calibration::Evaluated;
use super::gemm_bench::{predict_ms, GemmRow};
use super::profile::{ProfileError, ProfileKind};
use super::roofline::Roofline;
use super::splitwise::SplitwiseProfile;
use crate::catalog::{GpuModel, LlmModel};
use std::fmt::Write as _;

/// Sorted distinct values.
fn distinct(v: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut out: Vec<u64> = v.collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A grid of `measured / predicted ms (error)` with one row per context (decode) or prompt
/// length (prefill) and one column per batch size; cells not measured show "—".
pub fn step_grid(kind: ProfileKind, rows: &[Evaluated]) -> String {
    let tokens = distinct(rows.iter().map(|r| r.row.tokens));
    let batches = distinct(rows.iter().map(|r| r.row.batch));
    let mut s = format!("| {} \\ batch |", kind.column());
    for b in &batches {
        let _ = write!(s, " {b} |");
    }
    s.push_str("\n| ---");
    s.push_str(&" | ---".repeat(batches.len()));
    s.push_str(" |\n");
    for t in &tokens {
        let _ = write!(s, "| {t} |");
        for b in &batches {
            match rows
                .iter()
                .find(|r| r.row.tokens == *t && r.row.batch == *b)
            {
                Some(r) => {
                    let _ = write!(
                        s,
                        " {:.2} / {:.2} ({:+.1}%) |",
                        r.row.ms, r.predicted_ms, r.error_pct
                    );
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s
}

/// The GEMM micro-benchmarks, `measured / predicted µs (error)`, one row per `m` and one column
/// per weight shape, predicted with the GPU's catalog constants and `launch_us` of launch gap.
pub fn gemm_table(gpu: &GpuModel, rows: &[GemmRow], launch_us: f64) -> String {
    let ms = distinct(rows.iter().map(|r| r.m));
    let mut shapes: Vec<(u64, u64)> = Vec::new();
    for r in rows {
        if !shapes.contains(&(r.k, r.n)) {
            shapes.push((r.k, r.n));
        }
    }
    let mut s = String::from("| m |");
    for (k, n) in &shapes {
        let _ = write!(s, " k {k}, n {n} |");
    }
    s.push_str("\n| ---");
    s.push_str(&" | ---".repeat(shapes.len()));
    s.push_str(" |\n");
    let p = &gpu.perf;
    for m in &ms {
        let _ = write!(s, "| {m} |");
        for (k, n) in &shapes {
            match rows.iter().find(|r| r.m == *m && r.k == *k && r.n == *n) {
                Some(r) => {
                    let pred = predict_ms(gpu, r, p.gemm_efficiency, p.overlap_exponent, launch_us);
                    let _ = write!(
                        s,
                        " {:.1} / {:.1} ({:+.1}%) |",
                        r.ms * 1e3,
                        pred * 1e3,
                        (pred - r.ms) / r.ms * 100.0
                    );
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s
}

/// Decode context the tensor-parallel table predicts SplitwiseSim's token times at: their
/// 512-token prompts plus half of the 128 tokens generated.
pub const TP_CONTEXT: u64 = 576;

/// Tensor parallelism against SplitwiseSim's measurements of `model_id` (its name in the file):
/// for each `(hardware name in the file, catalog GPU)` and each degree, decode iterations at
/// batch 1, 8 and 32 and prefills of one 512- and one 2048-token prompt, `measured / predicted
/// ms`; `perf_text` is the text of `perf_model.csv`, named `file` in errors.
pub fn tensor_parallel_table(
    perf_text: &str,
    file: &str,
    model_id: &str,
    model: &LlmModel,
    gpus: &[(&str, &GpuModel)],
    degrees: &[u32],
) -> Result<String, ProfileError> {
    let steps: [(&str, StepBatch); 5] = [
        ("decode, batch 1", StepBatch::decode(1, TP_CONTEXT)),
        ("decode, batch 8", StepBatch::decode(8, TP_CONTEXT)),
        ("decode, batch 32", StepBatch::decode(32, TP_CONTEXT)),
        ("prefill, 1 × 512", StepBatch::prefill(1, 512)),
        ("prefill, 1 × 2048", StepBatch::prefill(1, 2048)),
    ];
    let mut s = String::from("| GPU | TP |");
    for (name, _) in &steps {
        let _ = write!(s, " {name} |");
    }
    s.push_str(" predicted / measured |\n| --- | ---");
    s.push_str(&" | ---".repeat(steps.len() + 1));
    s.push_str(" |\n");
    for (hardware, gpu) in gpus {
        for &tp in degrees {
            let measured = SplitwiseProfile::parse(perf_text, file, model_id, hardware, tp)?;
            let roofline = Roofline::new(gpu, model, &Placement::tensor_parallel(tp));
            let _ = write!(s, "| {} | {tp} |", gpu.id);
            let mut ratios = Vec::with_capacity(steps.len());
            for (_, b) in &steps {
                let (m, p) = (measured.step_time(b) * 1e3, roofline.step_time(b) * 1e3);
                ratios.push(p / m);
                let _ = write!(s, " {m:.1} / {p:.1} |");
            }
            let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
                (lo.min(*r), hi.max(*r))
            });
            let _ = writeln!(s, " {lo:.2}–{hi:.2} |");
        }
    }
    Ok(s)
}
