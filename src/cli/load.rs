//! Reading a scenario and the files it names.

use super::error::CliError;
use sim_core::catalog::Catalog;
use sim_core::costmodel::{table_for_model, ProfileKind, ProfiledCost, SplitwiseProfile, StepCost};
use sim_core::scenario::{catalog_paths, parse_variants};
use sim_core::scenario::{EngineSpec, ScenarioError, TokenSpec, TrafficSpec};
use sim_core::scenario::{ProfileSpec, TraceFormat};
use sim_core::serving::StepModel;
use sim_core::traffic::{read_mooncake, read_trace};
use sim_core::{parse_scenario_with, Inputs, Scenario};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

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
    /// Every input file: (role, path as the scenario names it, path to read it from).
    pub files: Vec<InputFile>,
}

/// One file a run reads, for provenance.
pub struct InputFile {
    /// `scenario`, `gpu_catalog`, `instance_catalog`, `trace`, `token_sample` or `profile`.
    pub role: &'static str,
    /// The path as written (the scenario's file name; others relative to its folder).
    pub named: String,
    /// Where it was read from.
    pub full: std::path::PathBuf,
}

/// Reads and validates `path` and the trace it names (relative to the scenario's folder).
pub fn load(path: &Path) -> Result<Loaded, CliError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{shown}: cannot read the scenario: {e}")))?;
    let input = |e: sim_core::ScenarioError| CliError::Input(e.to_string());
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
    let inputs = load_inputs(&scenario, base, &shown, &text)?;
    let mut variants = Vec::new();
    for v in parse_variants(&text, &shown, &catalog).map_err(input)? {
        let mut s = v.scenario;
        if s.name.is_empty() {
            s.name = stem.clone();
        }
        let inputs = load_inputs(&s, base, &shown, &text)?;
        variants.push((v.name, s, inputs));
    }
    for s in std::iter::once(&scenario).chain(variants.iter().map(|v| &v.1)) {
        if let TrafficSpec::Trace { path: trace, .. } = &s.traffic {
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
    Ok(Loaded {
        scenario,
        inputs,
        variants,
        text,
        files,
    })
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
    let mut inputs = Inputs::default();
    if let TrafficSpec::Trace {
        path: trace,
        format,
    } = &scenario.traffic
    {
        let full = base.join(trace);
        let trace_shown = full.display().to_string();
        let file = File::open(&full).map_err(|e| {
            let message = format!("cannot open the trace `{trace_shown}`: {e}");
            CliError::Input(ScenarioError::at_key(shown, text, "traffic.path", message).to_string())
        })?;
        let records = if *format == TraceFormat::Mooncake {
            let t = read_mooncake(BufReader::new(file), &trace_shown)
                .map_err(|e| CliError::Input(e.to_string()))?;
            inputs.trace_prefixes = Some((t.table, t.prefixes));
            t.records
        } else {
            read_trace(BufReader::new(file), &trace_shown, *format)
                .map_err(|e| CliError::Input(e.to_string()))?
        };
        let vllm = matches!(scenario.service.engine, EngineSpec::Vllm(_));
        let drawn = scenario.tokens.as_ref().is_some_and(TokenSpec::complete);
        if vllm && !drawn && !records.iter().any(|r| r.output_tokens > 0) {
            let message = format!(
                "the vllm engine needs token counts, but the trace `{trace_shown}` has none \
                 (expected `prompt_tokens` and `output_tokens` columns): add them, or draw counts \
                 with [traffic.tokens]"
            );
            return Err(CliError::Input(
                ScenarioError::at_key(shown, text, "traffic.path", message).to_string(),
            ));
        }
        inputs.trace = Some(records);
    }
    if let Some((sample, format)) = scenario.tokens.as_ref().and_then(|t| t.sample.as_ref()) {
        let full = base.join(sample);
        let sample_shown = full.display().to_string();
        let file = File::open(&full).map_err(|e| {
            let message = format!("cannot open the token sample `{sample_shown}`: {e}");
            CliError::Input(
                ScenarioError::at_key(shown, text, "traffic.tokens.sample", message).to_string(),
            )
        })?;
        let records = read_trace(BufReader::new(file), &sample_shown, *format)
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
    Ok(inputs)
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
        } => {
            let (text, file) = read(path, "splitwise")?;
            SplitwiseProfile::parse(&text, &file, model, hardware, *tensor_parallel)
                .map(StepCost::Splitwise)
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
    let text = std::fs::read_to_string(&full).map_err(|e| {
        CliError::Input(format!(
            "{scenario}: key `{key}`: cannot read `{shown}`: {e}"
        ))
    })?;
    Ok((text, shown))
}
