//! `capsim calibrate`: the roofline's predictions against measured step times, per row and per
//! file. It evaluates the GPU catalog's constants; it never fits them.

use super::error::CliError;
use super::output::Staged;
use sim_core::catalog::{builtin_model, builtin_models, Catalog};
use sim_core::costmodel::calibration::{
    evaluate, fit, summarize, ErrorSummary, Evaluated, MeasuredFile,
};
use sim_core::costmodel::gemm_bench::{efficiency_grid, fit_gemm, read_gemm_csv, EXPONENTS};
use sim_core::costmodel::{read_profile_csv, ProfileKind, ProfileRow};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The arguments of `capsim calibrate`.
#[derive(Debug)]
pub struct CalibrateArgs {
    /// GPU catalog id.
    pub gpu: String,
    /// Measured decode or prefill CSV files.
    pub measured: Vec<PathBuf>,
    /// GEMM micro-benchmarks to evaluate the GEMM model on.
    pub gemm: Option<PathBuf>,
    /// Output folder (default `results/calibration`).
    pub out: Option<PathBuf>,
    /// Also suggest constants that would fit these measurements (printed, never applied).
    pub fit: bool,
}

/// One file's evaluation.
pub struct FileResult {
    /// The file as named.
    pub file: String,
    /// Decode or prefill.
    pub kind: ProfileKind,
    /// Every row with its prediction.
    pub rows: Vec<Evaluated>,
    /// Its error statistics.
    pub summary: ErrorSummary,
    /// The measured rows, as read.
    pub measured: Vec<ProfileRow>,
}

/// Evaluates every file (no output written).
pub fn evaluate_files(gpu_id: &str, files: &[PathBuf]) -> Result<Vec<FileResult>, CliError> {
    let catalog = Catalog::builtin();
    let gpu = catalog.gpu(gpu_id).ok_or_else(|| {
        CliError::Input(format!(
            "--gpu: unknown GPU `{gpu_id}`: expected one of {}",
            catalog.gpu_ids().join(", ")
        ))
    })?;
    if files.is_empty() {
        return Err(CliError::Input(
            "--measured: expected at least one CSV file of measured step times".into(),
        ));
    }
    let known: Vec<&str> = builtin_models().iter().map(|m| m.id.as_str()).collect();
    let mut out = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = crate::cli::read_text(path)
            .map_err(|e| CliError::Input(format!("{name}: cannot read: {e}")))?;
        let (kind, rows) =
            read_profile_csv(&text, &name).map_err(|e| CliError::Input(e.to_string()))?;
        let measured = rows;
        let rows = evaluate(gpu, kind, &measured, &name, builtin_model, &known)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let summary = summarize(&rows);
        out.push(FileResult {
            file: name,
            kind,
            rows,
            summary,
            measured,
        });
    }
    Ok(out)
}

/// The text of `calibration.csv`.
pub fn render_csv(results: &[FileResult]) -> String {
    let mut s =
        String::from("file,model,params_gb,batch,context,prompt,ms,predicted_ms,error_pct\n");
    for f in results {
        for r in &f.rows {
            let (context, prompt) = match f.kind {
                ProfileKind::Decode => (r.row.tokens.to_string(), String::new()),
                ProfileKind::Prefill => (String::new(), r.row.tokens.to_string()),
            };
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{:.4},{:.2}",
                csv_field(&f.file),
                csv_field(&r.row.model),
                r.row.params_gb,
                r.row.batch,
                context,
                prompt,
                r.row.ms,
                r.predicted_ms,
                r.error_pct
            );
        }
    }
    s
}

/// A CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Evaluates the GEMM model on the micro-benchmarks in `path` and prints the errors (and, with
/// `fit`, the constants the file gives).
fn calibrate_gemm(gpu_id: &str, path: &Path, fit: bool) -> Result<(), CliError> {
    let catalog = Catalog::builtin();
    let gpu = catalog.gpu(gpu_id).ok_or_else(|| {
        CliError::Input(format!(
            "--gpu: unknown GPU `{gpu_id}`: expected one of {}",
            catalog.gpu_ids().join(", ")
        ))
    })?;
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{name}: cannot read: {e}")))?;
    let rows = read_gemm_csv(&text, &name).map_err(|e| CliError::Input(e.to_string()))?;
    let p = &gpu.perf;
    let own = fit_gemm(gpu, &rows, &[p.gemm_efficiency], &[p.overlap_exponent]);
    println!(
        "{name}: {} GEMMs on {gpu_id} (gemm_efficiency = {}, overlap_exponent = {}, launch gap {:.1} us fitted): max |error| {:.1}%",
        rows.len(),
        p.gemm_efficiency,
        p.overlap_exponent,
        own.launch_us,
        own.max_abs_pct
    );
    if fit {
        let f = fit_gemm(gpu, &rows, &efficiency_grid(), &EXPONENTS);
        println!(
            "  fitted to them: gemm_efficiency = {:.4}, overlap_exponent = {}, launch gap {:.1} us: max |error| {:.1}%",
            f.gemm_efficiency, f.overlap_exponent, f.launch_us, f.max_abs_pct
        );
    }
    Ok(())
}

/// Runs `capsim calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<(), CliError> {
    if let Some(gemm) = &args.gemm {
        calibrate_gemm(&args.gpu, gemm, args.fit)?;
        if args.measured.is_empty() {
            return Ok(());
        }
    }
    let results = evaluate_files(&args.gpu, &args.measured)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/calibration"));
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::Io(format!("{}: cannot create folder: {e}", out.display())))?;
    let path: &Path = &out.join("calibration.csv");
    let mut staged = Staged::new();
    staged.write(path, render_csv(&results))?;
    staged.commit()?;
    for f in &results {
        let s = &f.summary;
        let w = &f.rows[s.worst].row;
        println!(
            "{}: {} {} rows on {}: median |error| {:.1}%, max |error| {:.1}% (line {}: {} batch {} {} {})",
            f.file,
            s.rows,
            match f.kind {
                ProfileKind::Decode => "decode",
                ProfileKind::Prefill => "prefill",
            },
            args.gpu,
            s.median_abs_pct,
            s.max_abs_pct,
            w.line,
            w.model,
            w.batch,
            f.kind.column(),
            w.tokens
        );
    }
    println!("wrote {}", path.display());
    if args.fit {
        print_fit(&args.gpu, &results);
    }
    Ok(())
}

/// Prints the constants `fit` suggests and the errors they would give.
fn print_fit(gpu_id: &str, results: &[FileResult]) {
    let catalog = Catalog::builtin();
    let Some(gpu) = catalog.gpu(gpu_id) else {
        return;
    };
    let files: Vec<MeasuredFile> = results
        .iter()
        .map(|f| MeasuredFile {
            kind: f.kind,
            rows: &f.measured,
        })
        .collect();
    let fitted = fit(gpu, &files, builtin_model);
    let p = &fitted.gpu.perf;
    println!(
        "\nsuggested constants for [[gpu]] id = \"{gpu_id}\" (fitted to these files; not applied):"
    );
    println!("bandwidth_efficiency = {:.3}", p.bandwidth_efficiency);
    println!("gemm_efficiency = {:.3}", p.gemm_efficiency);
    println!("attention_efficiency = {:.3}", p.attention_efficiency);
    println!("layer_overhead_us = {:.1}", p.layer_overhead_us);
    for (f, s) in results.iter().zip(&fitted.summaries) {
        println!(
            "  with them, {}: median |error| {:.1}%, max |error| {:.1}%",
            f.file, s.median_abs_pct, s.max_abs_pct
        );
    }
}
