//! GEMM micro-benchmarks (`gemm.csv`: `m,k,n,ms,…`, one bf16 GEMM timed alone with CUDA events,
//! not in a CUDA graph): reading them, predicting them with the GEMM model plus the launch gap
//! such a timing includes, and fitting the GEMM constants to them.

use super::gemm::{GemmDevice, GemmShape};
use super::profile::{error, line_at, ProfileError};
use crate::catalog::GpuModel;

/// One measured GEMM.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmRow {
    /// Rows (tokens).
    pub m: u64,
    /// Inputs.
    pub k: u64,
    /// Outputs.
    pub n: u64,
    /// Measured milliseconds.
    pub ms: f64,
    /// 1-based line in the file.
    pub line: u64,
}

/// Reads a `gemm.csv` (header `m,k,n,ms` first, more columns allowed); `file` names it in errors.
pub fn read_gemm_csv(text: &str, file: &str) -> Result<Vec<GemmRow>, ProfileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| error(file, Some(1), None, format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let cols = ["m", "k", "n", "ms"];
    let mut idx = [0usize; 4];
    for (slot, name) in idx.iter_mut().zip(cols) {
        *slot = headers.iter().position(|h| h == name).ok_or_else(|| {
            error(
                file,
                Some(1),
                Some(name),
                format!("missing column: expected a header with `m,k,n,ms`, no `{name}`"),
            )
        })?;
    }
    let mut out = Vec::new();
    for record in rdr.records() {
        let record = record.map_err(|e| {
            error(
                file,
                e.position().map(|p| line_at(text, p.byte())),
                None,
                format!("malformed CSV row: {e}"),
            )
        })?;
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        let get = |c: usize| record.get(idx[c]).unwrap_or("");
        let count = |c: usize| -> Result<u64, ProfileError> {
            match get(c).parse::<u64>() {
                Ok(x) if x > 0 => Ok(x),
                _ => Err(error(
                    file,
                    Some(line),
                    Some(cols[c]),
                    format!("expected a whole number above 0, found `{}`", get(c)),
                )),
            }
        };
        let (m, k, n) = (count(0)?, count(1)?, count(2)?);
        let ms = match get(3).parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => x,
            _ => {
                return Err(error(
                    file,
                    Some(line),
                    Some("ms"),
                    format!("expected milliseconds above 0, found `{}`", get(3)),
                ))
            }
        };
        out.push(GemmRow { m, k, n, ms, line });
    }
    if out.is_empty() {
        return Err(error(
            file,
            None,
            None,
            "no rows: expected measured GEMMs".into(),
        ));
    }
    Ok(out)
}

/// The GEMM model's constants as a micro-benchmark table gives them.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmFit {
    /// Fraction of the dense peak whole waves of tiles reach.
    pub gemm_efficiency: f64,
    /// Smooth-maximum exponent.
    pub overlap_exponent: u32,
    /// Microseconds between the start event and the kernel in an eager (not graphed) timing.
    pub launch_us: f64,
    /// Largest |predicted − measured| / measured over the rows, in percent.
    pub max_abs_pct: f64,
}

/// Predicted milliseconds of `row` as the benchmark times it: `launch_us` plus the kernel of a
/// bf16 GEMM on one whole `gpu`, with `efficiency` and `overlap_exponent` in place of the
/// catalog's.
pub fn predict_ms(
    gpu: &GpuModel,
    row: &GemmRow,
    efficiency: f64,
    overlap_exponent: u32,
    launch_us: f64,
) -> f64 {
    let dev = GemmDevice {
        flops: gpu.bf16_dense_tflops * 1e12 * efficiency,
        bandwidth: gpu.memory_bandwidth_gb_per_s * 1e9 * gpu.perf.bandwidth_efficiency,
        sms: f64::from(gpu.sms),
        squarings: overlap_exponent.trailing_zeros(),
    };
    let shape = GemmShape::new(&dev, row.k as f64, row.n as f64, 2.0);
    launch_us * 1e-3 + shape.time(row.m as f64, &dev) * 1e3
}

/// Efficiencies the fit tries: 0.60 to 0.90 by 0.0025.
pub fn efficiency_grid() -> Vec<f64> {
    (0..=120u32).map(|i| 0.60 + 0.0025 * f64::from(i)).collect()
}

/// Overlap exponents the fit tries.
pub const EXPONENTS: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// Fits `gemm_efficiency`, `overlap_exponent` and the launch gap to `rows` (the GPU's bandwidth
/// efficiency kept), over the given candidates and launch gaps of 10 to 30 µs by 0.2 µs: the
/// fit with the smallest largest relative error (to 0.1 percentage point), ties broken by the
/// sum of squared log errors. [`efficiency_grid`] and [`EXPONENTS`] give the constants as
/// `gemm.csv` sets them; the catalog's own values alone evaluate them.
pub fn fit_gemm(
    gpu: &GpuModel,
    rows: &[GemmRow],
    efficiencies: &[f64],
    exponents: &[u32],
) -> GemmFit {
    let mut best: Option<((i64, f64), GemmFit)> = None;
    for &overlap_exponent in exponents {
        for &gemm_efficiency in efficiencies {
            for launch_i in 0..=100u32 {
                let launch_us = 10.0 + 0.2 * f64::from(launch_i);
                let (mut max, mut ls) = (0.0f64, 0.0);
                for r in rows {
                    let ratio =
                        predict_ms(gpu, r, gemm_efficiency, overlap_exponent, launch_us) / r.ms;
                    max = max.max((ratio - 1.0).abs() * 100.0);
                    ls += ratio.ln() * ratio.ln();
                }
                let key = ((max * 10.0).round() as i64, ls);
                if best.as_ref().is_none_or(|(k, _)| key < *k) {
                    best = Some((
                        key,
                        GemmFit {
                            gemm_efficiency,
                            overlap_exponent,
                            launch_us,
                            max_abs_pct: max,
                        },
                    ));
                }
            }
        }
    }
    best.expect("the candidates are not empty").1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    const GEMM_CSV: &str = include_str!("../../calibration/h100/gemm.csv");

    #[test]
    fn the_catalog_reproduces_every_h100_gemm_within_10_percent() {
        let catalog = Catalog::builtin();
        let gpu = catalog.gpu("h100-sxm").unwrap();
        let rows = read_gemm_csv(GEMM_CSV, "gemm.csv").unwrap();
        assert_eq!(rows.len(), 45);
        let p = &gpu.perf;
        let fit = fit_gemm(gpu, &rows, &[p.gemm_efficiency], &[p.overlap_exponent]);
        for r in &rows {
            let predicted =
                predict_ms(gpu, r, p.gemm_efficiency, p.overlap_exponent, fit.launch_us);
            let err = (predicted - r.ms) / r.ms * 100.0;
            assert!(
                err.abs() <= 10.0,
                "line {}: m {} k {} n {}: measured {} ms, predicted {predicted:.5} ({err:+.1}%)",
                r.line,
                r.m,
                r.k,
                r.n,
                r.ms
            );
        }
        // The launch gap is what an eager launch costs, not something larger hiding the kernels.
        assert!(fit.launch_us > 15.0 && fit.launch_us < 25.0, "{fit:?}");
    }

    #[test]
    fn the_catalogs_gemm_constants_are_what_gemm_csv_gives() {
        let catalog = Catalog::builtin();
        let gpu = catalog.gpu("h100-sxm").unwrap();
        let rows = read_gemm_csv(GEMM_CSV, "gemm.csv").unwrap();
        let fit = fit_gemm(gpu, &rows, &efficiency_grid(), &EXPONENTS);
        assert!(
            (fit.gemm_efficiency - gpu.perf.gemm_efficiency).abs() < 1e-9,
            "{fit:?}"
        );
        assert_eq!(fit.overlap_exponent, gpu.perf.overlap_exponent, "{fit:?}");
        // The H200 shares the H100's die and so its GEMM constants.
        let h200 = catalog.gpu("h200").unwrap();
        assert_eq!(h200.perf.gemm_efficiency, gpu.perf.gemm_efficiency);
        assert_eq!(h200.perf.overlap_exponent, gpu.perf.overlap_exponent);
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let e =
            read_gemm_csv("m,k,n,ms\n1,4096,4096,0.03\n0,4096,4096,0.03\n", "g.csv").unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(3), Some("m")));
        let e = read_gemm_csv("m,k,n,ms\n1,4096,4096,fast\n", "g.csv").unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(2), Some("ms")));
        let e = read_gemm_csv("m,k,ms\n1,2,3\n", "g.csv").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("n"));
        assert!(read_gemm_csv("m,k,n,ms\n", "g.csv").is_err());
    }
}
