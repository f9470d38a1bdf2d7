//! Reading a scenario and the files it names.

use super::error::CliError;
use sim_core::catalog::Catalog;
use sim_core::costmodel::{table_for_model, ProfileKind, ProfiledCost, SplitwiseProfile, StepCost};
use sim_core::scenario::ProfileSpec;
use sim_core::scenario::TraceFormat;
use sim_core::scenario::{catalog_paths, parse_variants};
use sim_core::scenario::{EngineSpec, ScenarioError, TokenSpec, TrafficSpec};
use sim_core::serving::StepModel;
use sim_core::traffic::formats::rates::{read_genai_qps, read_servegen};
use sim_core::traffic::formats::LineLimit;
use sim_core::traffic::formats::{count_plain_csv_records, scan, RecordStream, Watch, Watched};
use sim_core::traffic::read_mooncake;
use sim_core::traffic::{read_trace, OpenTrace, TraceError, TraceFeed, TraceReader};
use sim_core::{parse_scenario_with, Inputs, Scenario};
use std::fs::File;
use std::io::BufReader;

/// Opens an input file; a folder is an error (opening one succeeds on Unix, reading fails).
fn open_file(path: &Path) -> std::io::Result<File> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::other("it is a folder, not a file"));
    }
    Ok(file)
}
use std::path::Path;
use std::sync::Arc;

/// A scenario with its inputs, ready to run.
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Scenario,
    /// Files it refers to, read.
    pub inputs: Inputs,
    /// Its `[[policy]]` variants, each with its inputs (empty without variants).
    pub variants: Vec<(String, Scenario, Inputs)>,
    /// The scenario's text.
    pub text: String,
    /// Requests read from the scenario's traces (expected requests of rate traces), `None`
    /// without traces: what `validate`'s estimate counts.
    pub trace_requests: Option<u64>,
    /// Every input file: (role, path as the scenario names it, path to read it from).
    pub files: Vec<InputFile>,
    /// What the manifests hold that is not modelled.
    pub warnings: Vec<String>,
    /// Per-request traces whose rows the run checks as it reads them ([`load_for_run`]), in the
    /// order they were named: [`DeferredTrace::finish`] each after the run, before any output.
    pub deferred: Vec<DeferredTrace>,
}

/// A per-request trace whose rows are checked by the run that replays it instead of by a pass
/// of their own before it: [`load_for_run`] reads its header (and rows until one has token counts,
/// where the engine needs them) and counts its rows from its lines, and the run's reading reports
/// the first bad row here. A run that read through the whole trace has then checked every row
/// once; one that stopped before its end (its horizon or `traffic.end`) has the trace read
/// through here, as the pass before the run would have.
pub struct DeferredTrace {
    open: OpenTrace,
    watch: Arc<Watch>,
}

impl DeferredTrace {
    /// The trace's first bad row (the error a pass before the run would have refused it with),
    /// or `Ok` when every row is sound.
    pub fn finish(&self) -> Result<(), TraceError> {
        if let Some(e) = self.watch.error() {
            return Err(e);
        }
        if self.watch.ended() {
            return Ok(());
        }
        scan((self.open)()?.as_mut()).map(drop)
    }
}

/// One file a run reads, for provenance.
pub struct InputFile {
    /// `scenario`, `gpu_catalog`, `instance_catalog`, `trace`, `token_sample`, `profile` or
    /// `manifest`.
    pub role: &'static str,
    /// The path as written (the scenario's file name; others relative to its folder).
    pub named: String,
    /// Where it was read from.
    pub full: std::path::PathBuf,
}

/// Reads and validates `path` and the trace it names (relative to the scenario's folder), with
/// Kubernetes manifests (files, or folders of `*.yaml`/`*.yml`) applied over the
/// scenario; warnings list what the manifests hold that capsim does not model.
pub fn load_with(
    path: &Path,
    manifests: &[std::path::PathBuf],
    sets: &[String],
) -> Result<Loaded, CliError> {
    load_checking(path, manifests, sets, false)
}

/// [`load_with`] for `capsim run` of one scenario: per-request CSV traces are not read through
/// before the run but checked by the run's own reading of them ([`DeferredTrace`]; the caller
/// finishes [`Loaded::deferred`] before writing anything), so the run reads each trace once. A
/// scenario with `[[policy]]` variants is checked as [`load_with`] checks it.
pub fn load_for_run(
    path: &Path,
    manifests: &[std::path::PathBuf],
    sets: &[String],
) -> Result<Loaded, CliError> {
    load_checking(path, manifests, sets, true)
}

fn load_checking(
    path: &Path,
    manifests: &[std::path::PathBuf],
    sets: &[String],
    defer: bool,
) -> Result<Loaded, CliError> {
    let shown = path.display().to_string();
    let text = crate::cli::read_text(path)
        .map_err(|e| CliError::Input(format!("{shown}: cannot read the scenario: {e}")))?;
    let (text, overlay, manifest_files) = super::manifests::apply(&text, &shown, manifests)?;
    let (text, sets) = super::set::apply(&text, &shown, sets)?;
    let input = |e: sim_core::ScenarioError| {
        CliError::Input(overlay.blame(super::set::blame(&sets, e)).to_string())
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let (instances, gpus) = catalog_paths(&text, &shown).map_err(input)?;
    let mut files = vec![InputFile {
        role: "scenario",
        named: path
            .file_name()
            .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned()),
        full: path.to_path_buf(),
    }];
    let mut note = |role, named: &str| {
        if !files.iter().any(|f| f.role == role && f.named == named) {
            files.push(InputFile {
                role,
                named: named.to_string(),
                full: base.join(named),
            })
        }
    };
    if let Some(g) = &gpus {
        note("gpu_catalog", g);
    }
    if let Some(i) = &instances {
        note("instance_catalog", i);
    }
    let catalog = load_catalog(&text, &shown, base)?;
    let mut scenario = parse_scenario_with(&text, &shown, &catalog).map_err(input)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    if scenario.name.is_empty() {
        scenario.name = stem.clone();
    }
    // Variants run through their own path, which checks traces before running: defer only
    // without them (and when they parse; their errors come after the trace's, as before).
    let defer = defer && parse_variants(&text, &shown, &catalog).is_ok_and(|v| v.is_empty());
    let mut deferred = Vec::new();
    let (inputs, checks) = load_inputs_checking(
        &scenario,
        base,
        &shown,
        &text,
        defer.then_some(&mut deferred),
    )?;
    let trace_requests = (!checks.is_empty()).then(|| checks.iter().map(|c| c.requests).sum());
    let mut variants = Vec::new();
    for v in parse_variants(&text, &shown, &catalog).map_err(input)? {
        let mut s = v.scenario;
        if s.name.is_empty() {
            s.name = stem.clone();
        }
        let inputs = load_inputs(&s, base, &shown, &text)?;
        variants.push((v.name, s, inputs));
    }
    let all = std::iter::once(&scenario).chain(variants.iter().map(|v| &v.1));
    for (role, named) in named_files(all) {
        note(role, &named);
    }
    for m in manifest_files {
        files.push(InputFile {
            role: "manifest",
            named: m.display().to_string(),
            full: m,
        });
    }
    Ok(Loaded {
        scenario,
        inputs,
        variants,
        text,
        trace_requests,
        files,
        warnings: overlay.warnings,
        deferred,
    })
}

/// The files `scenarios` name besides catalogs, as (role, path as named relative to the
/// scenario's folder), in first-seen order: traces (of every service and the gateway), token
/// samples and vLLM profiles.
pub fn named_files<'a>(
    scenarios: impl IntoIterator<Item = &'a Scenario>,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut note = |role: &'static str, named: &str| {
        if !out.iter().any(|(r, n)| *r == role && n == named) {
            out.push((role, named.to_string()));
        }
    };
    for scenario in scenarios {
        let views = scenario
            .services()
            .chain(scenario.gateway.iter().map(|g| &*g.view));
        for s in views {
            for (trace, _, _) in s.traffic.traces() {
                note("trace", trace);
            }
            if let Some((sample, _)) = s.tokens.as_ref().and_then(|t| t.sample.as_ref()) {
                note("token_sample", sample);
            }
            if let EngineSpec::Vllm(v) = &s.service.engine {
                match &v.profile {
                    Some(ProfileSpec::Tables {
                        decode, prefill, ..
                    }) => {
                        for f in decode.iter().chain(prefill) {
                            note("profile", f);
                        }
                    }
                    Some(ProfileSpec::Splitwise { path, .. }) => note("profile", path),
                    None => {}
                }
            }
        }
    }
    out
}

/// The built-in catalog with the catalog files a scenario's `[cluster]` names (relative to `base`).
pub fn load_catalog(text: &str, shown: &str, base: &Path) -> Result<Catalog, CliError> {
    let input = |e: sim_core::ScenarioError| CliError::Input(e.to_string());
    let (instances, gpus) = catalog_paths(text, shown).map_err(input)?;
    let mut catalog = Catalog::builtin();
    if let Some(g) = gpus {
        let (src, file) = read_named(base, &g, shown, "cluster.gpu_catalog")?;
        catalog = catalog.with_gpus(&src, &file).map_err(input)?;
    }
    if let Some(i) = instances {
        let (src, file) = read_named(base, &i, shown, "cluster.instance_catalog")?;
        catalog = catalog.with_instances(&src, &file).map_err(input)?;
    }
    Ok(catalog)
}

/// Reads the files `scenario` names (its trace, its token sample), relative to `base`.
pub fn load_inputs(
    scenario: &Scenario,
    base: &Path,
    shown: &str,
    text: &str,
) -> Result<Inputs, CliError> {
    load_inputs_with_stats(scenario, base, shown, text).map(|(i, _)| i)
}

/// A trace the scenario replays, as checked before a run.
pub struct TraceCheck {
    /// The path as the scenario names it.
    pub named: String,
    /// Requests (per-request formats) or expected requests (rate formats, rounded).
    pub requests: u64,
}

/// Like [`load_inputs`], also saying what each trace holds. Per-request traces are read through
/// once here (row by row, in constant memory) so a bad row fails before the run; each run then
/// streams the file again. Rate traces are small and read whole.
pub fn load_inputs_with_stats(
    scenario: &Scenario,
    base: &Path,
    shown: &str,
    text: &str,
) -> Result<(Inputs, Vec<TraceCheck>), CliError> {
    load_inputs_checking(scenario, base, shown, text, None)
}

/// [`load_inputs_with_stats`], with per-request CSV traces' rows left to the run to check when
/// `deferred` is given (each such trace is added to it).
fn load_inputs_checking(
    scenario: &Scenario,
    base: &Path,
    shown: &str,
    text: &str,
    mut deferred: Option<&mut Vec<DeferredTrace>>,
) -> Result<(Inputs, Vec<TraceCheck>), CliError> {
    if scenario.others.is_empty() && scenario.gateway.is_none() {
        return load_service_inputs(scenario, base, shown, text, deferred);
    }
    // Several services: each one's traces in service order (the world hands them out so); the
    // one-per-run inputs (a token sample, prefix ids, a measured profile) are the first
    // service's (validation refuses them elsewhere).
    let mut inputs = Inputs::default();
    let mut checks = Vec::new();
    for (i, v) in scenario.services().enumerate() {
        let (mut one, c) = load_service_inputs(v, base, shown, text, deferred.as_deref_mut())?;
        inputs.feeds.append(&mut one.feeds);
        checks.extend(c);
        if i == 0 {
            inputs.token_sample = one.token_sample;
            inputs.trace_prefixes = one.trace_prefixes;
            inputs.step_cost = one.step_cost;
        }
    }
    // The gateway's traces last (validation refuses its one-per-run inputs).
    if let Some(g) = &scenario.gateway {
        let (mut one, c) = load_service_inputs(&g.view, base, shown, text, deferred)?;
        inputs.feeds.append(&mut one.feeds);
        checks.extend(c);
    }
    // Each trace was held to the requests limit on its own; the run's requests are their sum
    // and the generators'.
    let limit = sim_core::scenario::limits::REQUESTS;
    let generated: f64 = scenario
        .services()
        .chain(scenario.gateway.as_ref().map(|g| g.view.as_ref()))
        .filter_map(|v| sim_core::scenario::limits::expected_requests(&v.traffic, v.horizon))
        .sum();
    let total = generated + checks.iter().map(|c| c.requests as f64).sum::<f64>();
    if total > limit.max as f64 {
        let message = format!(
            "{}, over every service's traces and generators together",
            limit.message(total.min(u64::MAX as f64) as u64)
        );
        return Err(CliError::Input(
            ScenarioError::at_key(shown, text, "service", message).to_string(),
        ));
    }
    Ok((inputs, checks))
}

/// The inputs of one service's view of a scenario.
fn load_service_inputs(
    scenario: &Scenario,
    base: &Path,
    shown: &str,
    text: &str,
    mut deferred: Option<&mut Vec<DeferredTrace>>,
) -> Result<(Inputs, Vec<TraceCheck>), CliError> {
    let mut inputs = Inputs::default();
    let mut checks = Vec::new();
    let vllm = matches!(scenario.service.engine, EngineSpec::Vllm(_));
    let global = scenario.tokens.as_ref();
    // For each trace, in order: whether its rows must supply the token counts.
    let mut needs_tokens = Vec::new();
    match &scenario.traffic {
        TrafficSpec::Trace { .. } => needs_tokens.push(!global.is_some_and(TokenSpec::complete)),
        TrafficSpec::Mix { streams } => {
            for st in streams {
                if matches!(st.traffic, TrafficSpec::Trace { .. }) {
                    needs_tokens.push(match &st.tokens {
                        Some(t) => !t.complete(),
                        None => !global.is_some_and(TokenSpec::complete),
                    });
                }
            }
        }
        _ => {}
    }
    for (i, (trace, format, options)) in scenario.traffic.traces().into_iter().enumerate() {
        let key = if matches!(scenario.traffic, TrafficSpec::Mix { .. }) {
            "traffic.stream"
        } else {
            "traffic.path"
        };
        let full = base.join(trace);
        let trace_shown = full.display().to_string();
        let open_err = |e: std::io::Error| {
            let message = format!("cannot open the trace `{trace_shown}`: {e}");
            CliError::Input(ScenarioError::at_key(shown, text, key, message).to_string())
        };
        let bad = |e: TraceError| CliError::Input(e.to_string());
        if format.is_rates() {
            let file = open_file(&full).map_err(open_err)?;
            let table = match format {
                TraceFormat::ServeGen => {
                    read_servegen(BufReader::new(LineLimit::new(file)), &trace_shown)
                }
                _ => read_genai_qps(
                    BufReader::new(LineLimit::new(file)),
                    &trace_shown,
                    options.bucket,
                    options.request_type.as_deref(),
                ),
            }
            .map_err(bad)?;
            let expected = table
                .select(
                    options.start.as_secs_f64(),
                    options.end.map(|e| e.as_secs_f64()),
                    options.speed_up,
                    options.scale,
                )
                .expected_requests();
            // A rate table is held to the requests limit like a generator's rate.
            let limit = sim_core::scenario::limits::REQUESTS;
            if expected.is_nan() || expected > limit.max as f64 {
                let found = if expected.is_nan() {
                    u64::MAX
                } else {
                    expected.min(u64::MAX as f64) as u64
                };
                let message = format!("`{trace_shown}`: {}", limit.message(found));
                return Err(CliError::Input(
                    ScenarioError::at_key(shown, text, key, message).to_string(),
                ));
            }
            checks.push(TraceCheck {
                named: trace.to_string(),
                requests: expected.round() as u64,
            });
            inputs.feeds.push(TraceFeed::Rates(Arc::new(table)));
            continue;
        }
        if format == TraceFormat::Mooncake && vllm {
            // Read whole, for the prefix hash ids prefix caching uses (small traces).
            if inputs.trace_prefixes.is_some() {
                return Err(CliError::Input(
                    ScenarioError::at_key(
                        shown,
                        text,
                        key,
                        "only one Mooncake trace per scenario can carry prefix hash ids",
                    )
                    .to_string(),
                ));
            }
            let file = open_file(&full).map_err(open_err)?;
            let t =
                read_mooncake(BufReader::new(LineLimit::new(file)), &trace_shown).map_err(bad)?;
            checks.push(TraceCheck {
                named: trace.to_string(),
                requests: t.records.len() as u64,
            });
            inputs.trace_prefixes = Some(t.table);
            inputs.feeds.push(TraceFeed::Records(Arc::new(t.records)));
            continue;
        }
        let open: OpenTrace = {
            let (full, trace_shown, columns) =
                (full.clone(), trace_shown.clone(), options.columns.clone());
            Arc::new(move || {
                let file = open_file(&full).map_err(|e| {
                    TraceError::new(
                        &trace_shown,
                        None,
                        None,
                        format!("cannot open the trace: {e}"),
                    )
                })?;
                let r = TraceReader::new(
                    BufReader::new(LineLimit::new(file)),
                    &trace_shown,
                    format,
                    &columns,
                )?;
                Ok(Box::new(r) as Box<dyn RecordStream>)
            })
        };
        open_file(&full).map_err(open_err)?;
        let needs = vllm && needs_tokens.get(i).copied().unwrap_or(false);
        let (requests, has_tokens, open) = match deferred.as_deref_mut() {
            Some(deferred) if format != TraceFormat::Mooncake => {
                let (requests, has_tokens) = quick_stats(&open, &full, needs).map_err(bad)?;
                let watch = Arc::new(Watch::default());
                deferred.push(DeferredTrace {
                    open: open.clone(),
                    watch: watch.clone(),
                });
                let watched: OpenTrace = Arc::new(move || {
                    Ok(Box::new(Watched::new(open()?, watch.clone())) as Box<dyn RecordStream>)
                });
                (requests, has_tokens, watched)
            }
            _ => {
                let stats = scan(open().map_err(bad)?.as_mut()).map_err(bad)?;
                (stats.requests, stats.has_tokens, open)
            }
        };
        if needs && !has_tokens {
            let message = format!(
                "the vllm engine needs token counts, but the trace `{trace_shown}` has none \
                 (expected `prompt_tokens` and `output_tokens` columns): add them, or draw counts \
                 with [traffic.tokens]"
            );
            return Err(CliError::Input(
                ScenarioError::at_key(shown, text, key, message).to_string(),
            ));
        }
        checks.push(TraceCheck {
            named: trace.to_string(),
            requests,
        });
        inputs.feeds.push(TraceFeed::Stream(open));
    }
    if let Some((sample, format)) = scenario.tokens.as_ref().and_then(|t| t.sample.as_ref()) {
        let full = base.join(sample);
        let sample_shown = full.display().to_string();
        let file = open_file(&full).map_err(|e| {
            let message = format!("cannot open the token sample `{sample_shown}`: {e}");
            CliError::Input(
                ScenarioError::at_key(shown, text, "traffic.tokens.sample", message).to_string(),
            )
        })?;
        let records = read_trace(BufReader::new(LineLimit::new(file)), &sample_shown, *format)
            .map_err(|e| CliError::Input(e.to_string()))?;
        if !records.iter().any(|r| r.output_tokens > 0) {
            return Err(CliError::Input(format!(
                "{sample_shown}: expected token counts to draw from (prompt and output columns with \
                 counts above zero), found none in {} rows",
                records.len()
            )));
        }
        inputs.token_sample = Some(
            records
                .iter()
                .map(|r| (r.prompt_tokens, r.output_tokens))
                .collect(),
        );
    }
    if let EngineSpec::Vllm(v) = &scenario.service.engine {
        if let Some(p) = &v.profile {
            inputs.step_cost = Some(load_profile(p, &v.step, base, shown)?);
        }
    }
    Ok((inputs, checks))
}

/// The records of the trace `open` reads (at `full`) and, where `needs_tokens`, whether a row
/// has output token counts (else `false`), as [`scan`] finds them for a trace whose rows the run
/// checks: the header is read (a missing column fails here), rows are read until one has token
/// counts, and the rest are counted from the file's lines ([`count_plain_csv_records`]), or, for
/// a file whose lines and records may differ, read as `scan` reads them.
fn quick_stats(
    open: &OpenTrace,
    full: &Path,
    needs_tokens: bool,
) -> Result<(u64, bool), TraceError> {
    let mut stream = open()?;
    let mut has_tokens = false;
    if needs_tokens {
        let mut rows = 0u64;
        loop {
            match stream.next_record()? {
                None => return Ok((rows, false)),
                Some(r) if r.output_tokens > 0 => {
                    has_tokens = true;
                    break;
                }
                Some(_) => rows += 1,
            }
        }
    }
    drop(stream);
    match open_file(full).map(count_plain_csv_records) {
        Ok(Ok(Some(requests))) => Ok((requests, has_tokens)),
        _ => {
            let stats = scan(open()?.as_mut())?;
            Ok((stats.requests, stats.has_tokens))
        }
    }
}

/// Builds the measured step-time model `[service.vllm.profile]` names, over the roofline in
/// `step` (for phases without a table).
fn load_profile(
    p: &ProfileSpec,
    step: &StepModel,
    base: &Path,
    shown: &str,
) -> Result<StepCost, CliError> {
    let input = |e: sim_core::traffic::TraceError| CliError::Input(e.to_string());
    let read =
        |rel: &str, key: &str| read_named(base, rel, shown, &format!("service.vllm.profile.{key}"));
    match p {
        ProfileSpec::Tables {
            model,
            decode,
            prefill,
        } => {
            let StepModel::Cost(c) = step else {
                return Err(CliError::Input(format!(
                    "{shown}: key `service.vllm.profile`: a measured profile needs `model` (the roofline)"
                )));
            };
            let StepCost::Roofline(roofline) = c.as_ref() else {
                return Err(CliError::Input(format!(
                    "{shown}: key `service.vllm.profile`: a measured profile needs `model` (the roofline)"
                )));
            };
            let table = |path: &Option<String>, key: &str, kind| -> Result<_, CliError> {
                path.as_ref()
                    .map(|rel| {
                        let (text, file) = read(rel, key)?;
                        table_for_model(&text, &file, kind, model).map_err(input)
                    })
                    .transpose()
            };
            Ok(StepCost::Profiled(Box::new(ProfiledCost {
                roofline: roofline.clone(),
                decode: table(decode, "decode", ProfileKind::Decode)?,
                prefill: table(prefill, "prefill", ProfileKind::Prefill)?,
            })))
        }
        ProfileSpec::Splitwise {
            path,
            model,
            hardware,
            tensor_parallel,
            lookup,
        } => {
            let (text, file) = read(path, "splitwise")?;
            SplitwiseProfile::parse(&text, &file, model, hardware, *tensor_parallel)
                .map(|p| StepCost::Splitwise(p.with_lookup(*lookup)))
                .map_err(input)
        }
    }
}

/// Reads a file the scenario names at `key`, relative to the scenario's folder.
fn read_named(
    base: &Path,
    rel: &str,
    scenario: &str,
    key: &str,
) -> Result<(String, String), CliError> {
    let full = base.join(rel);
    let shown = full.display().to_string();
    let text = crate::cli::read_text(&full).map_err(|e| {
        CliError::Input(format!(
            "{scenario}: key `{key}`: cannot read `{shown}`: {e}"
        ))
    })?;
    Ok((text, shown))
}
