//! The GPU, instance-type and model catalogs: what each node type has and costs, and the LLM
//! architectures the cost model knows, as data users edit.
//!
//! The built-in catalogs are the TOML files in `sim-core/catalog/`, compiled in. A scenario may
//! name its own GPU and instance files (`[cluster] gpu_catalog`, `instance_catalog`) and define
//! models in its own `[[model]]` tables; their entries replace built-in entries with the same id
//! and add new ones ([`Catalog::with_gpus`], [`Catalog::with_instances`],
//! [`Catalog::with_model_entries`]). Prices live only here, never in logic.

mod gpu;
mod instance;
mod model;

pub use gpu::{GpuModel, GpuPerf};
pub use instance::{InstanceType, PROVIDERS};
pub use model::{
    builtin_model, builtin_models, parse_models, with_models, KvCacheDtype, LlmModel, RawModel,
    WeightDtype, BUILTIN_MODELS,
};

use crate::cluster::parse_quantity;
use crate::scenario::ScenarioError;
use std::sync::OnceLock;

/// The built-in GPU catalog's text.
pub const BUILTIN_GPUS: &str = include_str!("../../catalog/gpus.toml");
/// The built-in instance catalog's text.
pub const BUILTIN_INSTANCES: &str = include_str!("../../catalog/instances.toml");
/// The name errors in the built-in GPU catalog give as its file.
const BUILTIN_GPUS_FILE: &str = "sim-core/catalog/gpus.toml";
/// The name errors in the built-in instance catalog give as its file.
const BUILTIN_INSTANCES_FILE: &str = "sim-core/catalog/instances.toml";

/// GPU models, instance types and LLM models, each list sorted by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// GPU models, sorted by id.
    pub gpus: Vec<GpuModel>,
    /// Instance types, sorted by id; every `gpu` names one of [`Catalog::gpus`].
    pub instances: Vec<InstanceType>,
    /// LLM architectures, sorted by id: the built-in ones with a scenario's `[[model]]` applied.
    pub models: Vec<LlmModel>,
}

impl Catalog {
    /// The built-in catalogs. Panics only if the shipped files are invalid, which a unit test rules
    /// out.
    pub fn builtin() -> Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Catalog::parse(
                    BUILTIN_GPUS,
                    BUILTIN_GPUS_FILE,
                    BUILTIN_INSTANCES,
                    BUILTIN_INSTANCES_FILE,
                )
                .unwrap_or_else(|e| panic!("the built-in catalog is invalid: {e}"))
            })
            .clone()
    }

    /// A catalog from a GPU file and an instance file (whose `gpu` ids must name GPUs of the first).
    /// `*_file` name the files in errors.
    pub fn parse(
        gpus_src: &str,
        gpus_file: &str,
        instances_src: &str,
        instances_file: &str,
    ) -> Result<Catalog, ScenarioError> {
        let gpus = sorted(gpu::parse_gpus(gpus_src, gpus_file)?, |g| &g.id);
        let instances = instance::parse_instances(instances_src, instances_file, &gpus)?;
        Ok(Catalog {
            gpus,
            instances: sorted(instances, |t| &t.id),
            models: builtin_models().to_vec(),
        })
    }

    /// This catalog with the `[[instance]]` entries of `src` (a user's file, named `file` in errors)
    /// applied: an entry replaces the instance type with the same id, a new id adds one. GPU ids
    /// are checked against this catalog's GPUs.
    pub fn with_instances(&self, src: &str, file: &str) -> Result<Catalog, ScenarioError> {
        let new = instance::parse_instances(src, file, &self.gpus)?;
        Ok(Catalog {
            gpus: self.gpus.clone(),
            instances: merged(&self.instances, new, |t| &t.id),
            models: self.models.clone(),
        })
    }

    /// This catalog with the `[[gpu]]` entries of `src` (a user's file, named `file` in errors)
    /// applied: an entry replaces the GPU model with the same id, a new id adds one.
    pub fn with_gpus(&self, src: &str, file: &str) -> Result<Catalog, ScenarioError> {
        let new = gpu::parse_gpus(src, file)?;
        Ok(Catalog {
            gpus: merged(&self.gpus, new, |g| &g.id),
            instances: self.instances.clone(),
            models: self.models.clone(),
        })
    }

    /// This catalog with a scenario's `[[model]]` tables applied (`file`/`src` name the scenario
    /// in errors, at `model[i].field`): an entry replaces the model with the same id, a new id adds
    /// one. `source` is optional here, unlike in the catalog file.
    pub fn with_model_entries(
        &self,
        entries: Vec<RawModel>,
        file: &str,
        src: &str,
    ) -> Result<Catalog, ScenarioError> {
        let new = model::check_entries(entries, file, src, false)?;
        Ok(Catalog {
            gpus: self.gpus.clone(),
            instances: self.instances.clone(),
            models: merged(&self.models, new, |m| &m.id),
        })
    }

    /// The LLM model with this id.
    pub fn model(&self, id: &str) -> Option<&LlmModel> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Every LLM model, in the catalog's order.
    pub fn models(&self) -> &[LlmModel] {
        &self.models
    }

    /// Every LLM model's id, sorted.
    pub fn model_ids(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.id.as_str()).collect()
    }

    /// The GPU model with this id.
    pub fn gpu(&self, id: &str) -> Option<&GpuModel> {
        self.gpus.iter().find(|g| g.id == id)
    }

    /// The instance type with this id.
    pub fn instance(&self, id: &str) -> Option<&InstanceType> {
        self.instances.iter().find(|t| t.id == id)
    }

    /// Every instance type's id, sorted.
    pub fn instance_ids(&self) -> Vec<&str> {
        self.instances.iter().map(|t| t.id.as_str()).collect()
    }

    /// Every GPU model's id, sorted.
    pub fn gpu_ids(&self) -> Vec<&str> {
        self.gpus.iter().map(|g| g.id.as_str()).collect()
    }
}

/// `items` sorted by id.
fn sorted<T>(mut items: Vec<T>, id: fn(&T) -> &String) -> Vec<T> {
    items.sort_by(|a, b| id(a).cmp(id(b)));
    items
}

/// `base` with each of `new` replacing the entry with its id or added, sorted by id.
fn merged<T: Clone>(base: &[T], new: Vec<T>, id: fn(&T) -> &String) -> Vec<T> {
    let mut out = base.to_vec();
    for item in new {
        match out.iter_mut().find(|o| id(o) == id(&item)) {
            Some(slot) => *slot = item,
            None => out.push(item),
        }
    }
    sorted(out, id)
}

/// Checks shared by both catalog files; errors point into `src`.
struct Checker<'a> {
    file: &'a str,
    src: &'a str,
}

impl Checker<'_> {
    /// An error about the value at `key`.
    fn err(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_key(self.file, self.src, key, message)
    }

    /// The value, or an error saying `what` was expected at `key`.
    fn required<T>(&self, key: &str, v: Option<T>, what: &str) -> Result<T, ScenarioError> {
        v.ok_or_else(|| self.err(key, format!("missing: expected {what}")))
    }

    /// A required string that is not blank.
    fn text(&self, key: &str, v: Option<String>, what: &str) -> Result<String, ScenarioError> {
        let s = self.required(key, v, what)?;
        if s.trim().is_empty() {
            return Err(self.err(key, format!("expected {what}, found an empty string")));
        }
        Ok(s)
    }

    /// A required, non-blank id that none of `earlier` (the file's previous entries) has.
    fn id<'e>(
        &self,
        key: &str,
        v: Option<String>,
        earlier: impl Iterator<Item = &'e str>,
        table: &str,
    ) -> Result<String, ScenarioError> {
        let id = self.text(key, v, "`id`, the entry's name")?;
        if let Some(j) = earlier.into_iter().position(|e| e == id) {
            return Err(self.err(
                key,
                format!(
                    "duplicate id `{id}`: {table}[{j}] has it too; expected each id once per file"
                ),
            ));
        }
        Ok(id)
    }

    /// A memory size in bytes from a Kubernetes quantity, above zero.
    fn memory(&self, key: &str, text: &str) -> Result<u64, ScenarioError> {
        let q = parse_quantity(text).map_err(|e| self.err(key, e.0))?;
        match u64::try_from(q.units_ceil()) {
            Ok(0) => Err(self.err(
                key,
                format!("expected a memory size above zero, found \"{text}\""),
            )),
            Ok(bytes) => Ok(bytes),
            Err(_) => Err(self.err(
                key,
                format!("expected a memory size below 16Ei, found \"{text}\""),
            )),
        }
    }

    /// A finite figure above zero.
    fn positive(&self, key: &str, v: f64, what: &str) -> Result<f64, ScenarioError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.err(
                key,
                format!("expected {what} that is finite and above zero, found {v}"),
            ))
        }
    }

    /// A price in US dollars per hour: finite and not negative.
    fn price(&self, key: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.err(
                key,
                format!("expected a price in US dollars per hour that is finite and not negative, found {v}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
