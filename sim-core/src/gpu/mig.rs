//! Multi-Instance GPU: per GPU model, the GPU-instance profiles, NVIDIA's placement rules on the
//! 8-slot memory axis, layout validation and placement, the named layouts of NVIDIA's mig-parted,
//! and the extended resources the device plugin's `none`, `single` and `mixed` strategies expose.
//!
//! The data lives in `sim-core/catalog/mig.toml` (compiled in, with its sources). A layout is a set
//! of instances, each a profile at a start slot. It is valid when every start is one the profile
//! allows, the instances' slots do not overlap, their compute slices total at most 7, and no
//! profile appears more than its maximum.

pub use capsim_results::mig::{InstanceView, LayoutView};

use crate::scenario::model::parse_raw;
use crate::scenario::ScenarioError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The built-in MIG catalog's text.
pub const BUILTIN_MIG: &str = include_str!("../../catalog/mig.toml");
const BUILTIN_MIG_FILE: &str = "sim-core/catalog/mig.toml";

/// Memory slots on the placement axis.
pub const MEMORY_SLOTS: u8 = 8;
/// Compute slices of a MIG-capable GPU.
pub const COMPUTE_SLICES: u8 = 7;

/// A GPU-instance profile.
#[derive(Clone, Debug, PartialEq)]
pub struct MigProfile {
    /// Name as `nvidia-smi` prints it, such as `3g.40gb`.
    pub name: String,
    /// NVIDIA's GPU-instance profile id.
    pub id: u32,
    /// Compute (SM) slices, of 7.
    pub compute_slices: u8,
    /// Memory slots occupied, of 8.
    pub memory_slices: u8,
    /// Streaming multiprocessors of one instance.
    pub sms: u32,
    /// Memory of one instance in GiB.
    pub memory_gib: f64,
    /// Most instances of this profile on one GPU.
    pub max_instances: u8,
    /// Slots an instance may start at.
    pub starts: Vec<u8>,
    /// False where `sms` or `memory_gib` is derived rather than captured.
    pub verified: bool,
}

/// One GPU instance of a layout: a profile (index into [`MigModel::profiles`]) at a start slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    /// Index of the profile in the model's table.
    pub profile: usize,
    /// First memory slot.
    pub start: u8,
}

/// The MIG table of one GPU model.
#[derive(Clone, Debug, PartialEq)]
pub struct MigModel {
    /// Short id, such as `h100-80gb`.
    pub id: String,
    /// Product name.
    pub name: String,
    /// GPU catalog ids (`gpus.toml`) this table applies to.
    pub gpus: Vec<String>,
    /// Profiles, in file order (largest id last is not assumed).
    pub profiles: Vec<MigProfile>,
    /// Named mixed layouts from the file (profile name, count), besides the generated ones.
    pub layouts: Vec<(String, Vec<(usize, u8)>)>,
    /// Where the figures come from.
    pub source: String,
}

/// A MIG layout or strategy that cannot be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigError(pub String);

impl fmt::Display for MigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MigError {}

impl MigModel {
    /// The index of profile `name`, or an error listing the model's profiles.
    pub fn profile(&self, name: &str) -> Result<usize, MigError> {
        self.profiles
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                let have: Vec<&str> = self.profiles.iter().map(|p| p.name.as_str()).collect();
                MigError(format!(
                    "{} has no MIG profile `{name}` (its profiles: {})",
                    self.name,
                    have.join(", ")
                ))
            })
    }

    /// Checks a layout against NVIDIA's rules.
    pub fn validate(&self, layout: &[Instance]) -> Result<(), MigError> {
        let mut used = [false; MEMORY_SLOTS as usize];
        let mut compute = 0u32;
        let mut counts = vec![0u8; self.profiles.len()];
        for inst in layout {
            let p = self
                .profiles
                .get(inst.profile)
                .ok_or_else(|| MigError(format!("profile index {} out of range", inst.profile)))?;
            if !p.starts.contains(&inst.start) {
                return Err(MigError(format!(
                    "{}: {} cannot start at memory slot {} (allowed: {:?})",
                    self.name, p.name, inst.start, p.starts
                )));
            }
            for s in inst.start..inst.start + p.memory_slices {
                if used[s as usize] {
                    return Err(MigError(format!(
                        "{}: {} at slot {} overlaps another instance at slot {s}",
                        self.name, p.name, inst.start
                    )));
                }
                used[s as usize] = true;
            }
            compute += p.compute_slices as u32;
            counts[inst.profile] += 1;
            if counts[inst.profile] > p.max_instances {
                return Err(MigError(format!(
                    "{}: more than {} instance(s) of {}",
                    self.name, p.max_instances, p.name
                )));
            }
        }
        if compute > COMPUTE_SLICES as u32 {
            return Err(MigError(format!(
                "{}: the instances need {compute} compute slices; a GPU has {COMPUTE_SLICES}",
                self.name
            )));
        }
        Ok(())
    }

    /// Places `counts` (profile index, how many) on one GPU, larger instances first, each at the
    /// lowest start that keeps the rest placeable. Errors when no placement exists.
    pub fn place(&self, counts: &[(usize, u8)]) -> Result<Vec<Instance>, MigError> {
        let mut want: Vec<usize> = Vec::new();
        for &(p, n) in counts {
            if p >= self.profiles.len() {
                return Err(MigError(format!("profile index {p} out of range")));
            }
            want.extend(std::iter::repeat_n(p, n as usize));
        }
        want.sort_by_key(|&p| {
            let pr = &self.profiles[p];
            (
                std::cmp::Reverse(pr.memory_slices),
                std::cmp::Reverse(pr.compute_slices),
                p,
            )
        });
        let compute: u32 = want
            .iter()
            .map(|&p| self.profiles[p].compute_slices as u32)
            .sum();
        let describe = || {
            counts
                .iter()
                .map(|&(p, n)| format!("{n}x {}", self.profiles[p].name))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        if compute > COMPUTE_SLICES as u32 {
            return Err(MigError(format!(
                "{}: impossible layout {}: it needs {compute} compute slices; a GPU has {COMPUTE_SLICES}",
                self.name,
                describe()
            )));
        }
        let mut placed = Vec::with_capacity(want.len());
        if self.search(&want, &mut [false; MEMORY_SLOTS as usize], &mut placed) {
            self.validate(&placed)?;
            placed.sort();
            Ok(placed)
        } else {
            Err(MigError(format!(
                "{}: impossible layout {}: the instances do not fit on the 8 memory slots without overlapping (or exceed a profile's maximum)",
                self.name,
                describe()
            )))
        }
    }

    fn search(&self, want: &[usize], used: &mut [bool; 8], placed: &mut Vec<Instance>) -> bool {
        let Some((&p, rest)) = want.split_first() else {
            return true;
        };
        let prof = &self.profiles[p];
        let already = placed.iter().filter(|i| i.profile == p).count();
        if already >= prof.max_instances as usize {
            return false;
        }
        for &start in &prof.starts {
            let slots = start as usize..(start + prof.memory_slices) as usize;
            if slots.end > used.len() || slots.clone().any(|s| used[s]) {
                continue;
            }
            slots.clone().for_each(|s| used[s] = true);
            placed.push(Instance { profile: p, start });
            if self.search(rest, used, placed) {
                return true;
            }
            placed.pop();
            slots.for_each(|s| used[s] = false);
        }
        false
    }

    /// Names of this model's layouts: `all-disabled`, `all-<profile>` for each profile without
    /// `+me`, then the file's named layouts.
    pub fn layout_names(&self) -> Vec<String> {
        let mut v = vec!["all-disabled".to_string()];
        v.extend(
            self.profiles
                .iter()
                .filter(|p| !p.name.contains('+'))
                .map(|p| format!("all-{}", p.name)),
        );
        v.extend(self.layouts.iter().map(|(n, _)| n.clone()));
        v
    }

    /// The instances of the named layout; `None` for `all-disabled` (MIG off, one whole GPU).
    pub fn named_layout(&self, name: &str) -> Result<Option<Vec<Instance>>, MigError> {
        if name == "all-disabled" {
            return Ok(None);
        }
        if let Some((_, counts)) = self.layouts.iter().find(|(n, _)| n == name) {
            return self.place(counts).map(Some);
        }
        if let Some(prof) = name.strip_prefix("all-") {
            if let Some(p) = self
                .profiles
                .iter()
                .position(|x| x.name == prof && !x.name.contains('+'))
            {
                let n = self.profiles[p].max_instances;
                return self.place(&[(p, n)]).map(Some);
            }
        }
        Err(MigError(format!(
            "{} has no MIG layout `{name}` (its layouts: {})",
            self.name,
            self.layout_names().join(", ")
        )))
    }
}

impl MigModel {
    /// The named layout's instances with their profiles' sizes.
    pub fn view(&self, layout: &str, instances: &[Instance]) -> LayoutView {
        LayoutView {
            layout: layout.to_string(),
            gpu: self.name.clone(),
            instances: instances
                .iter()
                .map(|i| {
                    let p = &self.profiles[i.profile];
                    InstanceView {
                        profile: p.name.clone(),
                        start: i.start,
                        memory_slices: p.memory_slices,
                        compute_slices: p.compute_slices,
                        memory_gib: p.memory_gib,
                    }
                })
                .collect(),
        }
    }
}

/// How the NVIDIA device plugin advertises MIG devices (`migStrategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigStrategy {
    /// MIG devices are not advertised; each GPU is one `nvidia.com/gpu`.
    None,
    /// Every GPU of the node has the same single-profile layout; each instance is one
    /// `nvidia.com/gpu`.
    Single,
    /// Each instance is one `nvidia.com/mig-<profile>`; GPUs with MIG off stay `nvidia.com/gpu`.
    Mixed,
}

impl std::str::FromStr for MigStrategy {
    type Err = MigError;
    fn from_str(s: &str) -> Result<Self, MigError> {
        match s {
            "none" => Ok(MigStrategy::None),
            "single" => Ok(MigStrategy::Single),
            "mixed" => Ok(MigStrategy::Mixed),
            _ => Err(MigError(format!(
                "unknown MIG strategy `{s}` (expected none, single or mixed)"
            ))),
        }
    }
}

/// The resource name the device plugin gives an instance of `profile` under the mixed strategy.
pub fn mixed_resource_name(profile: &str) -> String {
    format!("nvidia.com/mig-{}", profile.replace('+', "."))
}

/// The extended resources a node advertises: `gpus` GPUs of `model`, each with `layout` (`None` =
/// MIG off), under `strategy`. Sorted by name.
pub fn exposed_resources(
    model: &MigModel,
    strategy: MigStrategy,
    layout: Option<&[Instance]>,
    gpus: u32,
) -> Result<Vec<(String, u32)>, MigError> {
    let mut out: BTreeMap<String, u32> = BTreeMap::new();
    match (strategy, layout) {
        (MigStrategy::None, _) | (_, None) => {
            out.insert("nvidia.com/gpu".into(), gpus);
        }
        (MigStrategy::Single, Some(inst)) => {
            let first = inst.first().map(|i| i.profile);
            if inst.iter().any(|i| Some(i.profile) != first) {
                return Err(MigError(format!(
                    "{}: the single MIG strategy needs one profile on every GPU; this layout mixes {}",
                    model.name,
                    inst.iter()
                        .map(|i| model.profiles[i.profile].name.as_str())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(" and ")
                )));
            }
            out.insert("nvidia.com/gpu".into(), gpus * inst.len() as u32);
        }
        (MigStrategy::Mixed, Some(inst)) => {
            for i in inst {
                *out.entry(mixed_resource_name(&model.profiles[i.profile].name))
                    .or_insert(0) += gpus;
            }
        }
    }
    Ok(out.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// The MIG catalog: one table per GPU model.
#[derive(Clone, Debug, PartialEq)]
pub struct MigCatalog {
    /// Models in file order.
    pub models: Vec<MigModel>,
}

impl MigCatalog {
    /// The built-in catalog. Panics only if the shipped file is invalid, which a unit test rules
    /// out.
    pub fn builtin() -> &'static MigCatalog {
        static B: OnceLock<MigCatalog> = OnceLock::new();
        B.get_or_init(|| {
            MigCatalog::parse(BUILTIN_MIG, BUILTIN_MIG_FILE)
                .unwrap_or_else(|e| panic!("the built-in MIG catalog is invalid: {e}"))
        })
    }

    /// The table for a GPU catalog id (such as `h100-sxm`) or a MIG model id (such as
    /// `h100-80gb`).
    pub fn for_gpu(&self, gpu: &str) -> Result<&MigModel, MigError> {
        self.models
            .iter()
            .find(|m| m.id == gpu || m.gpus.iter().any(|g| g == gpu))
            .ok_or_else(|| {
                let ids: Vec<&str> = self
                    .models
                    .iter()
                    .flat_map(|m| m.gpus.iter().map(String::as_str))
                    .collect();
                MigError(format!(
                    "GPU `{gpu}` does not support MIG (MIG-capable GPUs: {})",
                    ids.join(", ")
                ))
            })
    }

    /// Parses and checks a MIG catalog; `file` names it in errors.
    pub fn parse(src: &str, file: &str) -> Result<MigCatalog, ScenarioError> {
        let raw: RawFile = parse_raw(src, file)?;
        let err = |key: String, msg: String| ScenarioError::at_key(file, src, &key, msg);
        let mut models = Vec::new();
        for (mi, m) in raw.model.into_iter().enumerate() {
            let mut profiles: Vec<MigProfile> = Vec::new();
            for (pi, p) in m.profile.into_iter().enumerate() {
                let key = |f: &str| format!("model[{mi}].profile[{pi}].{f}");
                if profiles.iter().any(|q| q.name == p.name) {
                    return Err(err(key("name"), format!("duplicate profile `{}`", p.name)));
                }
                if p.compute_slices == 0 || p.compute_slices > COMPUTE_SLICES {
                    return Err(err(key("compute_slices"), "expected 1 to 7".into()));
                }
                if p.memory_slices == 0 || p.memory_slices > MEMORY_SLOTS {
                    return Err(err(key("memory_slices"), "expected 1 to 8".into()));
                }
                if p.max_instances == 0 || p.starts.is_empty() {
                    return Err(err(
                        key("starts"),
                        "expected at least one start and max_instances >= 1".into(),
                    ));
                }
                if let Some(&s) = p
                    .starts
                    .iter()
                    .find(|&&s| s + p.memory_slices > MEMORY_SLOTS)
                {
                    return Err(err(
                        key("starts"),
                        format!("start {s} with {} slots runs past slot 7", p.memory_slices),
                    ));
                }
                profiles.push(MigProfile {
                    name: p.name,
                    id: p.id,
                    compute_slices: p.compute_slices,
                    memory_slices: p.memory_slices,
                    sms: p.sms,
                    memory_gib: p.memory_gib,
                    max_instances: p.max_instances,
                    starts: p.starts,
                    verified: p.verified.unwrap_or(false),
                });
            }
            let mut model = MigModel {
                id: m.id,
                name: m.name,
                gpus: m.gpus,
                profiles,
                layouts: Vec::new(),
                source: m.source,
            };
            for (li, l) in m.layout.into_iter().enumerate() {
                let mut counts = Vec::new();
                for (name, n) in &l.instances {
                    let p = model
                        .profile(name)
                        .map_err(|e| err(format!("model[{mi}].layout[{li}].instances"), e.0))?;
                    counts.push((p, *n));
                }
                model
                    .place(&counts)
                    .map_err(|e| err(format!("model[{mi}].layout[{li}].instances"), e.0))?;
                model.layouts.push((l.name, counts));
            }
            models.push(model);
        }
        Ok(MigCatalog { models })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    model: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: String,
    name: String,
    gpus: Vec<String>,
    source: String,
    #[serde(default)]
    profile: Vec<RawProfile>,
    #[serde(default)]
    layout: Vec<RawLayout>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    id: u32,
    compute_slices: u8,
    memory_slices: u8,
    sms: u32,
    memory_gib: f64,
    max_instances: u8,
    starts: Vec<u8>,
    verified: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    name: String,
    instances: BTreeMap<String, u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h100() -> &'static MigModel {
        MigCatalog::builtin().for_gpu("h100-sxm").unwrap()
    }

    #[test]
    fn builtin_catalog_parses_and_every_named_layout_is_valid() {
        let cat = MigCatalog::builtin();
        assert_eq!(cat.models.len(), 5);
        for m in &cat.models {
            for name in m.layout_names() {
                if let Some(l) = m.named_layout(&name).unwrap() {
                    m.validate(&l).unwrap();
                    assert!(!l.is_empty(), "{name}");
                }
            }
        }
        let m = h100();
        let count = |name: &str| m.named_layout(name).unwrap().unwrap().len();
        assert_eq!(count("all-1g.10gb"), 7);
        assert_eq!(count("all-1g.20gb"), 4);
        assert_eq!(count("all-2g.20gb"), 3);
        assert_eq!(count("all-3g.40gb"), 2);
        assert_eq!(count("all-7g.80gb"), 1);
        assert_eq!(count("all-balanced"), 4);
    }

    #[test]
    fn mig_tables_match_the_gpu_catalog() {
        let gpus = crate::catalog::Catalog::builtin().gpus;
        let mig = MigCatalog::builtin();
        for g in &gpus {
            assert_eq!(
                mig.for_gpu(&g.id).is_ok(),
                g.mig,
                "{}: MIG table vs `mig`",
                g.id
            );
        }
        for m in &mig.models {
            for id in &m.gpus {
                let g = gpus.iter().find(|g| &g.id == id).expect("a catalog GPU");
                let full = m.profiles.iter().find(|p| p.compute_slices == 7).unwrap();
                assert!(full.sms <= g.sms, "{id}: 7g SMs within the GPU's");
            }
        }
    }

    #[test]
    fn nvidia_rules_are_enforced() {
        let m = h100();
        let p = |n: &str| m.profile(n).unwrap();
        // 4g + 3g together is allowed (since R510).
        assert!(m.place(&[(p("4g.40gb"), 1), (p("3g.40gb"), 1)]).is_ok());
        // 3 x 2g + 1 x 1g fills slots 0-6.
        assert!(m.place(&[(p("2g.20gb"), 3), (p("1g.10gb"), 1)]).is_ok());
        // 2 x 3g + 1 x 1g: slots are all taken.
        let e = m
            .place(&[(p("3g.40gb"), 2), (p("1g.10gb"), 1)])
            .unwrap_err();
        assert!(e.0.contains("impossible layout"), "{e}");
        // 8 x 1g exceeds the compute slices.
        assert!(m.place(&[(p("1g.10gb"), 8)]).is_err());
        // A 1g never starts at slot 7; a 3g only at 0 or 4.
        assert!(m
            .validate(&[Instance {
                profile: p("1g.10gb"),
                start: 7
            }])
            .is_err());
        assert!(m
            .validate(&[Instance {
                profile: p("3g.40gb"),
                start: 2
            }])
            .is_err());
        let e = m.profile("3g.20gb").unwrap_err();
        assert!(e.0.contains("no MIG profile `3g.20gb`"), "{e}");
        let e = m.named_layout("all-3g.20gb").unwrap_err();
        assert!(e.0.contains("no MIG layout"), "{e}");
        assert!(MigCatalog::builtin().for_gpu("t4").is_err());
    }

    #[test]
    fn strategies_expose_the_device_plugin_resources() {
        let m = h100();
        let bal = m.named_layout("all-balanced").unwrap().unwrap();
        let mixed = exposed_resources(m, MigStrategy::Mixed, Some(&bal), 8).unwrap();
        assert_eq!(
            mixed,
            vec![
                ("nvidia.com/mig-1g.10gb".to_string(), 16),
                ("nvidia.com/mig-2g.20gb".to_string(), 8),
                ("nvidia.com/mig-3g.40gb".to_string(), 8),
            ]
        );
        assert!(exposed_resources(m, MigStrategy::Single, Some(&bal), 8).is_err());
        let ones = m.named_layout("all-1g.10gb").unwrap().unwrap();
        assert_eq!(
            exposed_resources(m, MigStrategy::Single, Some(&ones), 8).unwrap(),
            vec![("nvidia.com/gpu".to_string(), 56)]
        );
        assert_eq!(
            exposed_resources(m, MigStrategy::None, Some(&ones), 8).unwrap(),
            vec![("nvidia.com/gpu".to_string(), 8)]
        );
        assert_eq!("mixed".parse::<MigStrategy>().unwrap(), MigStrategy::Mixed);
        assert!("dual".parse::<MigStrategy>().is_err());
    }

    #[test]
    fn catalog_errors_name_the_key() {
        let src = "[[model]]\nid = \"x\"\nname = \"X\"\ngpus = []\nsource = \"s\"\n[[model.profile]]\nname = \"1g\"\nid = 1\ncompute_slices = 9\nmemory_slices = 1\nsms = 1\nmemory_gib = 1.0\nmax_instances = 1\nstarts = [0]\n";
        let e = MigCatalog::parse(src, "m.toml").unwrap_err().to_string();
        assert!(e.contains("m.toml") && e.contains("compute_slices"), "{e}");
    }

    proptest! {
        #[test]
        fn every_layout_produced_is_valid(model in 0usize..5, counts in proptest::collection::vec((0usize..7, 0u8..8), 0..5)) {
            let m = &MigCatalog::builtin().models[model];
            let counts: Vec<(usize, u8)> = counts.into_iter().map(|(p, n)| (p % m.profiles.len(), n)).collect();
            if let Ok(l) = m.place(&counts) {
                prop_assert!(m.validate(&l).is_ok());
                let placed: usize = l.len();
                let asked: usize = counts.iter().map(|&(_, n)| n as usize).sum();
                prop_assert_eq!(placed, asked);
            }
        }
    }
}
