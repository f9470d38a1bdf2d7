//! Evaluating the roofline's constants against measured step times: predicted versus measured
//! for every row, and the median and largest absolute error. It never fits the constants.

use super::batch::{Placement, StepBatch};
use super::profile::{error, ProfileError, ProfileKind, ProfileRow};
use super::roofline::Roofline;
use crate::catalog::{GpuModel, LlmModel};

/// One measured row with the roofline's prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// The measured row.
    pub row: ProfileRow,
    /// Predicted milliseconds.
    pub predicted_ms: f64,
    /// (predicted − measured) / measured × 100.
    pub error_pct: f64,
}

/// Absolute-error statistics of a set of rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorSummary {
    /// Rows evaluated.
    pub rows: usize,
    /// Median absolute error in percent.
    pub median_abs_pct: f64,
    /// Largest absolute error in percent.
    pub max_abs_pct: f64,
    /// Index (into the evaluated rows) of the row with the largest error.
    pub worst: usize,
}

/// Predicts every row of one measured file on `gpu` (one whole GPU). `model` finds a catalog
/// model by id; an unknown id is an error naming the row and the `model` column.
pub fn evaluate<'m>(
    gpu: &GpuModel,
    kind: ProfileKind,
    rows: &[ProfileRow],
    file: &str,
    model: impl Fn(&str) -> Option<&'m LlmModel>,
    known: &[&str],
) -> Result<Vec<Evaluated>, ProfileError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut cached: Option<(&str, Roofline)> = None;
    for row in rows {
        if cached.as_ref().map(|c| c.0) != Some(row.model.as_str()) {
            let m = model(&row.model).ok_or_else(|| {
                error(
                    file,
                    Some(row.line),
                    Some("model"),
                    format!(
                        "unknown model `{}`: expected a catalog id, one of {}",
                        row.model,
                        known.join(", ")
                    ),
                )
            })?;
            cached = Some((
                row.model.as_str(),
                Roofline::new(gpu, m, &Placement::whole()),
            ));
        }
        let roofline = &cached.as_ref().expect("set above").1;
        let batch = match kind {
            ProfileKind::Decode => StepBatch::decode(row.batch, row.tokens),
            ProfileKind::Prefill => StepBatch::prefill(row.batch, row.tokens),
        };
        let predicted_ms = roofline.step_time(&batch) * 1e3;
        out.push(Evaluated {
            row: row.clone(),
            predicted_ms,
            error_pct: (predicted_ms - row.ms) / row.ms * 100.0,
        });
    }
    Ok(out)
}

/// Median and largest absolute error of `rows` (not empty).
pub fn summarize(rows: &[Evaluated]) -> ErrorSummary {
    let mut abs: Vec<f64> = rows.iter().map(|r| r.error_pct.abs()).collect();
    let worst = abs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    abs.sort_by(f64::total_cmp);
    let n = abs.len();
    let median_abs_pct = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        abs[n / 2]
    } else {
        (abs[n / 2 - 1] + abs[n / 2]) / 2.0
    };
    ErrorSummary {
        rows: n,
        median_abs_pct,
        max_abs_pct: abs.last().copied().unwrap_or(0.0),
        worst,
    }
}

/// The measured rows of one file, for [`fit`].
pub struct MeasuredFile<'a> {
    /// Decode or prefill.
    pub kind: ProfileKind,
    /// Its rows (every model id known to the lookup).
    pub rows: &'a [ProfileRow],
}

/// What [`fit`] suggests.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// The GPU with the suggested constants.
    pub gpu: GpuModel,
    /// Each file's errors under them.
    pub summaries: Vec<ErrorSummary>,
}

/// The score [`fit`] minimises: each file's median absolute error plus a quarter of its largest.
fn score(summaries: &[ErrorSummary]) -> f64 {
    summaries
        .iter()
        .map(|s| s.median_abs_pct + 0.25 * s.max_abs_pct)
        .sum()
}

/// Suggests cost-model constants for a GPU with no measured constants yet: coordinate search over
/// `bandwidth_efficiency`, `gemm_efficiency`, `attention_efficiency` and `layer_overhead_us`
/// (other constants kept) minimising, over all files, each file's median absolute error plus a
/// quarter of its largest. A suggestion for a new GPU's catalog entry, never applied by itself.
pub fn fit<'m>(
    gpu: &GpuModel,
    files: &[MeasuredFile],
    model: impl Fn(&str) -> Option<&'m LlmModel> + Copy,
) -> Fitted {
    let summaries_for = |g: &GpuModel| -> Vec<ErrorSummary> {
        files
            .iter()
            .map(|f| match evaluate(g, f.kind, f.rows, "", model, &[]) {
                Ok(rows) => summarize(&rows),
                Err(_) => ErrorSummary {
                    rows: 0,
                    median_abs_pct: f64::INFINITY,
                    max_abs_pct: f64::INFINITY,
                    worst: 0,
                },
            })
            .collect()
    };
    let mut best = gpu.clone();
    let mut best_score = score(&summaries_for(&best));
    // (field, lowest, highest) searched on a grid that narrows each round.
    let ranges: [(usize, f64, f64); 4] = [
        (0, 0.3, 1.0),
        (1, 0.2, 0.95),
        (2, 0.05, 0.9),
        (3, 0.0, 150.0),
    ];
    let get = |g: &GpuModel, i: usize| match i {
        0 => g.perf.bandwidth_efficiency,
        1 => g.perf.gemm_efficiency,
        2 => g.perf.attention_efficiency,
        _ => g.perf.layer_overhead_us,
    };
    let set = |g: &mut GpuModel, i: usize, v: f64| match i {
        0 => g.perf.bandwidth_efficiency = v,
        1 => g.perf.gemm_efficiency = v,
        2 => g.perf.attention_efficiency = v,
        _ => g.perf.layer_overhead_us = v,
    };
    let mut width = 1.0;
    for _round in 0..6 {
        for &(i, lo, hi) in &ranges {
            let centre = get(&best, i);
            let span = (hi - lo) * width;
            for step in 0..=20 {
                let v = (centre - span / 2.0 + span * f64::from(step) / 20.0).clamp(lo, hi);
                let mut g = best.clone();
                set(&mut g, i, v);
                let s = score(&summaries_for(&g));
                if s < best_score {
                    best_score = s;
                    best = g;
                }
            }
        }
        width *= 0.5;
    }
    let summaries = summaries_for(&best);
    Fitted {
        gpu: best,
        summaries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{builtin_model, Catalog};
    use crate::costmodel::read_profile_csv;

    #[test]
    fn fit_recovers_constants_that_generated_the_data() {
        // Timings generated by the roofline with known constants are fitted back closely.
        let mut truth = Catalog::builtin().gpu("h100-sxm").unwrap().clone();
        truth.perf.bandwidth_efficiency = 0.7;
        truth.perf.layer_overhead_us = 60.0;
        let m = builtin_model("llama-3.1-8b").unwrap();
        let r = Roofline::new(&truth, m, &Placement::whole());
        let mut text = String::from("model,params_gb,batch,context,ms\n");
        for b in [1, 8, 64] {
            for c in [256, 2048] {
                let ms = r.step_time(&StepBatch::decode(b, c)) * 1e3;
                text.push_str(&format!("llama-3.1-8b,16,{b},{c},{ms}\n"));
            }
        }
        let (kind, rows) = read_profile_csv(&text, "gen.csv").unwrap();
        let catalog = Catalog::builtin();
        let start = catalog.gpu("h100-sxm").unwrap();
        let before = summarize(&evaluate(start, kind, &rows, "", builtin_model, &[]).unwrap());
        let fitted = fit(start, &[MeasuredFile { kind, rows: &rows }], builtin_model);
        assert!(before.median_abs_pct > 10.0);
        assert!(
            fitted.summaries[0].max_abs_pct < 5.0,
            "{:?}",
            fitted.summaries
        );
    }
}
