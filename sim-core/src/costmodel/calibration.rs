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
