//! `capsim sweep`: run a base scenario at every point of a sweep (in parallel, resumably, or one
//! shard of it) and write one `sweep.csv` row per point and policy variant.

pub mod k8s;
pub mod optimize;
pub mod points;
pub mod shard;
pub mod spec;
pub mod stats;

use super::check::{failures, parse_checks, secs, sweep_failure, verdict, Check, Row};
use super::compare::METRICS;
use super::error::CliError;
use super::load::{load_catalog, load_inputs};
use super::output::Staged;
use points::{PointResult, Progress};
use shard::{Manifest, Shard};
use sim_core::catalog::Catalog;
use sim_core::scenario::{catalog_paths, parse_variants};
use sim_core::{parse_scenario_with, Inputs, Scenario, ScenarioError};
use spec::{cell, Sweep};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Arguments of `capsim sweep`.
pub struct SweepArgs {
    /// The sweep file.
    pub sweep: PathBuf,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Output folder (default `results/<sweep file stem>`).
    pub out: Option<PathBuf>,
    /// `I/N`: run only shard I of N.
    pub shard: Option<String>,
    /// Print a ConfigMap of the sweep's files and an Indexed Job for this many shards instead
    /// of running.
    pub emit_k8s_job: Option<usize>,
    /// Container image for `--emit-k8s-job`.
    pub image: Option<String>,
    /// `--inputs-pvc`: the claim holding the large input files, for `--emit-k8s-job`.
    pub inputs_pvc: Option<String>,
    /// `--pvc-input`: input files taken from that claim whatever their size.
    pub pvc_inputs: Vec<PathBuf>,
    /// Also write `OUT/report.html` and `OUT/charts/*.png`.
    pub report: bool,
    /// `--set KEY=VALUE` overrides of the base scenario, applied before the sweep's axes.
    pub sets: Vec<String>,
}

/// A sweep file with its base scenario read and its checks parsed, ready to run points.
pub struct Plan {
    /// The sweep.
    pub sweep: Sweep,
    /// The base scenario's path.
    pub base_path: PathBuf,
    base_shown: String,
    base_dir: PathBuf,
    base_table: Table,
    stem: String,
    catalog: Catalog,
    /// The sweep's and the base scenario's `[[check]]`s.
    pub checks: Vec<Check>,
    /// Hash of the sweep file's bytes.
    pub sweep_hash: String,
    /// Hash of the base scenario file's bytes.
    pub scenario_hash: String,
    /// The sweep file's text, copied into the output as `sweep.toml`.
    pub sweep_text: String,
    /// The base scenario's text (with any `--set` applied), copied into the output as
    /// `scenario.toml`.
    pub base_text: String,
    /// The `--set KEY=VALUE` arguments applied to the base scenario, as written.
    pub sets: Vec<String>,
}

/// Copies of the sweep file and its base scenario written beside `sweep.csv`, for provenance.
pub const PROVENANCE_COPIES: [&str; 2] = ["sweep.toml", "scenario.toml"];

/// FNV-1a (64-bit) of `bytes`, as 16 hex digits: a fixed algorithm, stable across releases.
pub fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn input(e: ScenarioError) -> CliError {
    CliError::Input(e.to_string())
}

impl Plan {
    /// Reads the sweep file, draws its points, reads the base scenario, applies `sets`
    /// (`--set KEY=VALUE`, as `capsim run`'s) to it and validates it.
    pub fn load(path: &Path, sets: &[String]) -> Result<Plan, CliError> {
        let shown = path.display().to_string();
        let source = crate::cli::read_text(path)
            .map_err(|e| CliError::Input(format!("{shown}: cannot read the sweep file: {e}")))?;
        let sweep = Sweep::parse(&source, &shown).map_err(input)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let base_path = dir.join(&sweep.scenario);
        let base_shown = base_path.display().to_string();
        let base_text = crate::cli::read_text(&base_path).map_err(|e| {
            input(ScenarioError::at_key(
                &shown,
                &source,
                "scenario",
                format!("cannot read the base scenario `{base_shown}`: {e}"),
            ))
        })?;
        let base_dir = base_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        // Checks are read from the file as written, so their errors point at its lines.
        let mut checks = parse_checks(&base_text, &base_shown, None).map_err(input)?;
        let (base_text, applied) = super::set::apply(&base_text, &base_shown, sets)?;
        let input = |e: ScenarioError| input(super::set::blame(&applied, e));
        let catalog = load_catalog(&base_text, &base_shown, &base_dir)?;
        // The base on its own first, so its errors point into its own file (or at a --set).
        parse_scenario_with(&base_text, &base_shown, &catalog).map_err(input)?;
        parse_variants(&base_text, &base_shown, &catalog).map_err(input)?;
        let base_table: Table =
            sim_core::scenario::model::parse_raw(&base_text, &base_shown).map_err(input)?;
        checks.extend(parse_checks(&source, &shown, Some(sweep.points.len())).map_err(input)?);
        if let Some(c) = checks
            .iter()
            .find(|c| c.service.is_some() || c.namespace.is_some())
        {
            let what = if c.service.is_some() {
                "per-service"
            } else {
                "per-namespace"
            };
            return Err(CliError::Input(format!(
                "{}: {}: {what} metrics are checked by `capsim run`, not yet in sweeps",
                c.origin,
                c.describe()
            )));
        }
        let stem = base_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string());
        Ok(Plan {
            sweep_hash: fnv1a(source.as_bytes()),
            scenario_hash: fnv1a(base_text.as_bytes()),
            sweep_text: source.clone(),
            base_text: base_text.clone(),
            sweep,
            base_path,
            base_shown,
            base_dir,
            base_table,
            stem,
            catalog,
            checks,
            sets: sets.to_vec(),
        })
    }

    /// The scenario text of point `p`: the base with every axis's value set.
    fn point_text(&self, p: usize) -> Result<String, CliError> {
        let mut t = self.base_table.clone();
        for (i, (axis, v)) in self
            .sweep
            .axes
            .iter()
            .zip(&self.sweep.points[p])
            .enumerate()
        {
            let key = service_key(&t, &axis.key);
            key.and_then(|k| set_path(&mut t, &k, v.clone()))
                .map_err(|m| {
                    input(ScenarioError::at_key(
                        &self.sweep.file,
                        &self.sweep.source,
                        &format!("axis[{i}].key"),
                        format!(
                            "`{}` cannot be set in the scenario {}: {m}",
                            axis.key, self.base_shown
                        ),
                    ))
                })?;
        }
        toml::to_string(&t)
            .map_err(|e| CliError::Io(format!("point {p}: cannot write its scenario: {e}")))
    }

    /// An error validating point `p`, pointed at the axis that caused it when one did.
    fn point_error(&self, p: usize, e: ScenarioError) -> CliError {
        let inner = if e.key.is_empty() {
            e.message.clone()
        } else {
            format!("key `{}`: {}", e.key, e.message)
        };
        let blamed = self.sweep.axes.iter().position(|a| {
            let k = &a.key;
            *k == e.key
                || (!e.key.is_empty() && k.starts_with(&format!("{}.", e.key)))
                || e.key.starts_with(&format!("{k}."))
                || e.key.starts_with(&format!("{k}["))
                || e.key.is_empty()
                    && e.message
                        .contains(&format!("`{}`", k.split('.').next().unwrap_or("")))
        });
        match blamed {
            Some(i) => input(ScenarioError::at_key(
                &self.sweep.file,
                &self.sweep.source,
                &self.blame_key(i, &e),
                format!(
                    "point {p} sets `{}` = {}, which the scenario {} rejects: {inner}",
                    self.sweep.axes[i].key,
                    cell(&self.sweep.points[p][i]),
                    self.base_shown
                ),
            )),
            None => CliError::Input(format!(
                "{}: point {p} ({}): the scenario {} rejects it: {inner}",
                self.sweep.file,
                self.describe(p),
                self.base_shown
            )),
        }
    }

    /// Where in the sweep file an error of axis `i` points: at its values when the scenario
    /// rejected a value, at its key otherwise (an unknown key).
    fn blame_key(&self, i: usize, e: &ScenarioError) -> String {
        if e.key == self.sweep.axes[i].key && !e.message.starts_with("unknown field") {
            for k in ["values", "range", "min"] {
                let key = format!("axis[{i}].{k}");
                if sim_core::scenario::error::locate(&self.sweep.source, &key).is_some() {
                    return key;
                }
            }
        }
        format!("axis[{i}].key")
    }

    /// `key=value` for each axis of point `p`.
    pub fn describe(&self, p: usize) -> String {
        self.sweep
            .axes
            .iter()
            .zip(&self.sweep.points[p])
            .map(|(a, v)| format!("{}={}", a.key, cell(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Point `p`'s scenarios with their inputs: the base (named `base`) or each policy variant.
    pub fn point_scenarios(&self, p: usize) -> Result<Vec<(String, Scenario, Inputs)>, CliError> {
        let text = self.point_text(p)?;
        let shown = format!("{} (sweep point {p})", self.base_shown);
        let mut base = parse_scenario_with(&text, &shown, &self.catalog)
            .map_err(|e| self.point_error(p, e))?;
        let variants =
            parse_variants(&text, &shown, &self.catalog).map_err(|e| self.point_error(p, e))?;
        let mut out = Vec::new();
        if variants.is_empty() {
            if base.name.is_empty() {
                base.name = self.stem.clone();
            }
            self.windows(p, &mut base)?;
            let inputs = load_inputs(&base, &self.base_dir, &shown, &text)?;
            out.push(("base".to_string(), base, inputs));
        }
        for v in variants {
            let mut s = v.scenario;
            if s.name.is_empty() {
                s.name = self.stem.clone();
            }
            self.windows(p, &mut s)?;
            let inputs = load_inputs(&s, &self.base_dir, &shown, &text)?;
            out.push((v.name, s, inputs));
        }
        Ok(out)
    }

    /// Validates every point in `indices`, in order, so the first bad one is reported.
    pub fn validate(&self, indices: &[usize]) -> Result<(), CliError> {
        for &p in indices {
            let text = self.point_text(p)?;
            let shown = format!("{} (sweep point {p})", self.base_shown);
            let mut base = parse_scenario_with(&text, &shown, &self.catalog)
                .map_err(|e| self.point_error(p, e))?;
            let variants =
                parse_variants(&text, &shown, &self.catalog).map_err(|e| self.point_error(p, e))?;
            self.windows(p, &mut base)?;
            for mut v in variants {
                self.windows(p, &mut v.scenario)?;
            }
        }
        Ok(())
    }

    /// Sets the window lengths of point `p`'s scenario `s` from the windowed checks, which must
    /// fit its horizon and sample interval.
    fn windows(&self, p: usize, s: &mut Scenario) -> Result<(), CliError> {
        super::check::prepare_windows(&self.checks, s).map_err(|mut e| {
            if self.sweep.points.len() > 1 {
                e.message = format!("at point {p} ({}): {}", self.describe(p), e.message);
            }
            CliError::Input(e.to_string())
        })
    }

    /// The `sweep.csv` header.
    pub fn header(&self) -> String {
        let mut t = String::from("point");
        for a in &self.sweep.axes {
            t.push(',');
            t.push_str(&spec::cell(&Value::String(a.key.clone())));
        }
        t.push_str(",policy");
        for m in METRICS {
            if self.sweep.replications > 1 {
                let _ = write!(t, ",{m}_mean,{m}_ci95");
            } else {
                let _ = write!(t, ",{m}");
            }
        }
        if !self.checks.is_empty() {
            t.push_str(",checks");
        }
        if self.windowed() {
            t.push_str(",worst_window_start_s");
        }
        t
    }

    /// Whether any check is windowed: then `sweep.csv` gets `worst_window_start_s` after
    /// `checks`.
    fn windowed(&self) -> bool {
        self.checks.iter().any(|c| c.window.is_some())
    }

    /// The `sweep.csv` rows of one point's result, with its check failures.
    pub fn rows(&self, r: &PointResult) -> (String, Vec<String>) {
        let mut t = String::new();
        let mut failed = Vec::new();
        for (policy, runs) in &r.rows {
            let _ = write!(t, "{}", r.point);
            for v in &self.sweep.points[r.point] {
                let _ = write!(t, ",{}", cell(v));
            }
            let _ = write!(t, ",{policy}");
            let means = points::means(runs);
            for (j, m) in means.iter().take(METRICS.len()).enumerate() {
                if self.sweep.replications > 1 {
                    match m {
                        Some((mean, ci)) => {
                            let _ = write!(t, ",{mean:.6},");
                            if let Some(h) = ci {
                                let _ = write!(t, "{h:.6}");
                            }
                        }
                        None => t.push_str(",,"),
                    }
                } else {
                    match m {
                        Some((v, _)) if j < 2 => {
                            let _ = write!(t, ",{}", *v as u64);
                        }
                        Some((v, _)) => {
                            let _ = write!(t, ",{v:.6}");
                        }
                        None => t.push(','),
                    }
                }
            }
            if !self.checks.is_empty() {
                let values: Vec<Option<f64>> = means.iter().map(|m| m.map(|x| x.0)).collect();
                let mut f = Vec::new();
                let mut starts = Vec::new();
                for (j, c) in self.checks.iter().enumerate() {
                    if !c.applies(Some(r.point), policy) {
                        continue;
                    }
                    let (why, start) = sweep_failure(&self.checks, j, &values);
                    if let Some(m) = why {
                        f.push(format!(
                            "{} (point {}, policy {policy}): {m}",
                            c.origin, r.point
                        ));
                    }
                    if c.window.is_some() {
                        starts.push(start.map(secs).unwrap_or_default());
                    }
                }
                t.push_str(if f.is_empty() { ",pass" } else { ",fail" });
                if self.windowed() {
                    let _ = write!(t, ",{}", starts.join(";"));
                }
                failed.extend(f);
            }
            t.push('\n');
        }
        (t, failed)
    }

    /// Checks that no row concerns (a `point` or `policy` filter that matches nothing).
    pub fn unmatched_checks(&self, results: &BTreeMap<usize, PointResult>) -> Vec<String> {
        let empty = vec![None; METRICS.len()];
        let rows: Vec<Row> = results
            .values()
            .flat_map(|r| {
                r.rows.iter().map(|(p, _)| Row {
                    point: Some(r.point),
                    policy: p,
                    values: &empty,
                    namespaces: &[],
                    summary: None,
                })
            })
            .collect();
        self.checks
            .iter()
            .filter(|c| c.point.is_none_or(|p| results.contains_key(&p)))
            .filter(|c| !rows.iter().any(|r| c.applies(r.point, r.policy)))
            .flat_map(|c| failures(std::slice::from_ref(c), &[]))
            .collect()
    }
}

/// With `[[service]]` tables, `service.<name>.<key>` addresses the service of that name
/// (`service[i].<key>`); other keys are as written.
pub fn service_key(t: &Table, key: &str) -> Result<String, String> {
    let names = sim_core::scenario::services::service_names(t);
    let Some(rest) = key.strip_prefix("service.").filter(|_| !names.is_empty()) else {
        return Ok(key.to_string());
    };
    let (name, tail) = rest.split_once('.').unwrap_or((rest, ""));
    match names.iter().position(|n| n == name) {
        Some(i) if !tail.is_empty() => Ok(format!("service[{i}].{tail}")),
        Some(_) => Err(format!("expected a key of the service, as `service.{name}.replicas`")),
        None => Err(format!(
            "no [[service]] is named \"{name}\"; the services are: {} (a service's key is `service.<name>.<key>`)",
            names.join(", ")
        )),
    }
}

/// Sets `key` (dotted, with `name[i]` for an array element) in `t` to `v`, creating tables.
pub fn set_path(t: &mut Table, key: &str, v: Value) -> Result<(), String> {
    let segs: Vec<&str> = key.split('.').collect();
    let mut cur = t;
    for (n, seg) in segs.iter().enumerate() {
        let last = n + 1 == segs.len();
        let (name, index) = match seg.split_once('[') {
            Some((name, rest)) => {
                let i: usize = rest
                    .strip_suffix(']')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| format!("expected `name[index]`, found `{seg}`"))?;
                (name, Some(i))
            }
            None => (*seg, None),
        };
        let here = segs[..=n].join(".");
        match index {
            None if last => {
                cur.insert(name.to_string(), v);
                return Ok(());
            }
            None => {
                let next = cur
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Table(Table::new()));
                cur = match next {
                    Value::Table(x) => x,
                    _ => return Err(format!("`{here}` is a value, not a table")),
                };
            }
            Some(i) => {
                let Some(Value::Array(a)) = cur.get_mut(name) else {
                    return Err(format!("`{name}` is not an array in the scenario"));
                };
                let len = a.len();
                let Some(el) = a.get_mut(i) else {
                    return Err(format!("`{here}`: the array has {len} elements"));
                };
                if last {
                    *el = v;
                    return Ok(());
                }
                cur = match el {
                    Value::Table(x) => x,
                    _ => return Err(format!("`{here}` is a value, not a table")),
                };
            }
        }
    }
    Ok(())
}

/// Runs `f` on a pool of `threads` workers (the global pool without).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, CliError> {
    match threads {
        Some(0) => Err(CliError::Input("--threads 0: expected at least 1".into())),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| CliError::Io(format!("cannot start {n} threads: {e}")))?
            .install(f)),
        None => Ok(f()),
    }
}

/// The output folder: `--out`, or `results/<sweep file stem>`.
pub fn out_dir(out: &Option<PathBuf>, sweep: &Path) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let stem = sweep
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        Path::new("results").join(super::run::folder_name(&stem))
    })
}

/// Whether `path` looks like a sweep file (a top-level `scenario` string and `[[axis]]`) rather
/// than a scenario; unreadable or malformed files are left to the scenario reader's errors.
pub fn is_sweep_file(path: &Path) -> bool {
    crate::cli::read_text(path)
        .ok()
        .and_then(|t| toml::from_str::<Table>(&t).ok())
        .is_some_and(|t| t.get("scenario").is_some_and(Value::is_str) && t.contains_key("axis"))
}

/// `capsim validate` on a sweep file: reads it, its base scenario and checks, and validates
/// every point's scenario without running any; `sets` (`--set`) apply to the base scenario.
pub fn validate(path: &Path, sets: &[String]) -> Result<(), CliError> {
    let plan = Plan::load(path, sets)?;
    let n = plan.sweep.points.len();
    plan.validate(&(0..n).collect::<Vec<_>>())?;
    println!(
        "ok: {}: sweep of {n} points ({} design, {} axes, {} replication(s)) over {}; {} checks",
        path.display(),
        plan.sweep.design.name(),
        plan.sweep.axes.len(),
        plan.sweep.replications,
        plan.base_path.display(),
        plan.checks.len()
    );
    Ok(())
}

/// `capsim sweep`.
impl Plan {
    /// Every file the sweep reads, `sweep` (the sweep file) first, then its base scenario and
    /// the catalogs and input files of every point and policy variant (repeats included).
    pub fn input_files(&self, sweep: &Path) -> Result<Vec<crate::cli::load::InputFile>, CliError> {
        use crate::cli::load::InputFile;
        let file = |full: PathBuf, role: &'static str| InputFile {
            role,
            named: full.display().to_string(),
            full,
        };
        let mut files = vec![
            file(sweep.to_path_buf(), "sweep file"),
            file(self.base_path.clone(), "base scenario"),
        ];
        for p in 0..self.sweep.points.len() {
            let text = self.point_text(p)?;
            let shown = format!("{} (sweep point {p})", self.base_shown);
            let base = parse_scenario_with(&text, &shown, &self.catalog)
                .map_err(|e| self.point_error(p, e))?;
            let variants =
                parse_variants(&text, &shown, &self.catalog).map_err(|e| self.point_error(p, e))?;
            let (instances, gpus) =
                catalog_paths(&text, &shown).map_err(|e| CliError::Input(e.to_string()))?;
            for c in gpus.iter().chain(&instances) {
                files.push(file(self.base_dir.join(c), "catalog"));
            }
            let all: Vec<&Scenario> = std::iter::once(&base)
                .chain(variants.iter().map(|v| &v.scenario))
                .collect();
            for (_, named) in crate::cli::load::named_files(all) {
                files.push(file(self.base_dir.join(named), "input file"));
            }
        }
        Ok(files)
    }
}

pub fn sweep(args: &SweepArgs) -> Result<(), CliError> {
    let plan = Plan::load(&args.sweep, &args.sets)?;
    let n = plan.sweep.points.len();
    if let Some(shards) = args.emit_k8s_job {
        plan.validate(&(0..n).collect::<Vec<_>>())?;
        let opts = k8s::JobOptions {
            shards,
            image: args.image.as_deref(),
            inputs_pvc: args.inputs_pvc.as_deref(),
            pvc_inputs: &args.pvc_inputs,
        };
        print!("{}", k8s::k8s_job(&args.sweep, &plan, &opts)?);
        return Ok(());
    }
    let shard = match &args.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard { index: 0, count: 1 },
    };
    let indices: Vec<usize> = (0..n).filter(|p| shard.owns(*p)).collect();
    plan.validate(&indices)?;
    let out = out_dir(&args.out, &args.sweep);
    crate::cli::output::refuse_inputs_in(&out, &plan.input_files(&args.sweep)?)?;
    let progress = Progress::new(indices.len(), "sweep");
    let results = points::evaluate(&plan, &indices, &out, args.threads, &progress)?;
    let mut csv = plan.header();
    csv.push('\n');
    let mut failed = Vec::new();
    for r in results.values() {
        let (rows, f) = plan.rows(r);
        csv.push_str(&rows);
        failed.extend(f);
    }
    failed.extend(plan.unmatched_checks(&results));
    let manifest = Manifest {
        capsim_version: sim_core::results::VERSION.to_string(),
        sweep_hash: plan.sweep_hash.clone(),
        scenario_hash: plan.scenario_hash.clone(),
        points: n,
        shard,
    };
    let mut staged = Staged::new();
    staged.write(&out.join("sweep.csv"), &csv)?;
    staged.write(&out.join("manifest.json"), manifest.to_json())?;
    staged.write(&out.join(PROVENANCE_COPIES[0]), &plan.sweep_text)?;
    staged.write(&out.join(PROVENANCE_COPIES[1]), &plan.base_text)?;
    staged.commit()?;
    let rows: usize = results.values().map(|r| r.rows.len()).sum();
    println!(
        "capsim sweep: {} · {} of {} points{} · {} rows · {} replication(s) each · {} run, {} reused",
        args.sweep.display(),
        indices.len(),
        n,
        if shard.count > 1 {
            format!(" (shard {}/{})", shard.index, shard.count)
        } else {
            String::new()
        },
        rows,
        plan.sweep.replications,
        progress.ran(),
        indices.len() - progress.ran()
    );
    println!(
        "wrote        {}/sweep.csv, manifest.json, sweep.toml, scenario.toml, points/<index>.json",
        out.display()
    );
    if args.report {
        let written = crate::cli::report::write_report(
            &out,
            &out.join("report.html"),
            Some(&out.join("charts")),
        )?;
        println!(
            "             {} and {} PNG charts",
            written[0],
            written.len() - 1
        );
    }
    verdict(failed, plan.checks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_creates_and_replaces() {
        let mut t: Table = toml::from_str("[service]\nreplicas = 2\n[[pool]]\nsize = 1\n").unwrap();
        set_path(&mut t, "service.replicas", Value::Integer(4)).unwrap();
        set_path(&mut t, "traffic.rate", Value::Float(5.0)).unwrap();
        set_path(&mut t, "pool[0].size", Value::Integer(3)).unwrap();
        assert_eq!(t["service"]["replicas"].as_integer(), Some(4));
        assert_eq!(t["traffic"]["rate"].as_float(), Some(5.0));
        assert_eq!(t["pool"][0]["size"].as_integer(), Some(3));
        assert!(set_path(&mut t, "service.replicas.x", Value::Integer(1)).is_err());
        assert!(set_path(&mut t, "pool[3].size", Value::Integer(1)).is_err());
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), "cbf29ce484222325");
        assert_eq!(fnv1a(b"a"), "af63dc4c8601ec8c");
    }
}
