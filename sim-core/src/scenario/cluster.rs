//! Validation of the cluster sections: `[cluster]`, `[[node_pool]]`, `[scheduler]`, `[service.pod]`
//! and `[[service.scale]]`.

use super::error::{closest, ScenarioError};
use super::model::Validator;
use super::raw::*;
use crate::catalog::Catalog;
use crate::cluster::pod::{DEFAULT_GRACE, DEFAULT_PROBE_PERIOD};
use crate::cluster::resources::{CPU, MEMORY, NVIDIA_GPU, PODS};
use crate::cluster::{
    parse_quantity, CapacityType, Effect, InclusionPolicy, Labels, NodePoolSpec, PodAffinityTerm,
    PodSelector, PodTemplate, Quantity, Requirement, Resources, SelectorOperator, SpreadConstraint,
    Taint, Term, Toleration, TolerationOperator, WhenUnsatisfiable,
};
use crate::engine::{SimDuration, SimTime};
use crate::gpu::mig::LayoutView;

/// Node labels as (key, value) pairs.
type LabelPairs = Vec<(String, String)>;
use crate::scheduler::config::{SchedulerConfig, ScoringType};
use std::collections::BTreeMap;

/// Defaults for the cluster sections.
pub mod defaults {
    use crate::engine::SimDuration;
    /// `node_pool.provisioning_delay`.
    pub const PROVISIONING_DELAY: SimDuration = SimDuration::from_secs(180);
    /// `node_pool.max_pods` (the kubelet's default).
    pub const MAX_PODS: u32 = 110;
    /// `node_pool.image_pull_bandwidth`, bytes per second (100 MiB/s).
    pub const IMAGE_PULL_BYTES_PER_S: u64 = 100 << 20;
    /// `node_pool.model_load_bandwidth`, bytes per second (1 GiB/s).
    pub const MODEL_LOAD_BYTES_PER_S: u64 = 1 << 30;
}

/// The cluster part of a scenario: present when the scenario has node pools.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    /// Node pools, in file order.
    pub pools: Vec<NodePoolSpec>,
    /// Whether initial pods start Ready with images cached.
    pub warm_start: bool,
    /// kube-scheduler configuration.
    pub scheduler: SchedulerConfig,
}

fn effect(e: RawEffect) -> Effect {
    match e {
        RawEffect::NoSchedule => Effect::NoSchedule,
        RawEffect::PreferNoSchedule => Effect::PreferNoSchedule,
        RawEffect::NoExecute => Effect::NoExecute,
    }
}

impl Validator<'_> {
    pub(super) fn quantity(&self, key: &str, raw: &RawQuantity) -> Result<Quantity, ScenarioError> {
        let q = match raw {
            RawQuantity::Text(s) => parse_quantity(s).map_err(|e| self.err(key, e.0))?,
            RawQuantity::Int(i) if *i >= 0 => Quantity::from_units(*i as u64),
            RawQuantity::Float(f) if !f.is_finite() => {
                return Err(self.err(
                    key,
                    format!(
                    "expected a finite quantity, found {f} (NaN and infinity are not quantities)"
                ),
                ))
            }
            RawQuantity::Float(f) if *f >= 0.0 => {
                if *f > super::limits::QUANTITY.max as f64 {
                    return Err(self.err(key, super::limits::QUANTITY.message(u64::MAX)));
                }
                Quantity::from_milli((f * 1000.0).ceil() as u128)
            }
            _ => return Err(self.err(key, "expected a quantity that is not negative")),
        };
        let units = q.units_ceil();
        if units > u128::from(super::limits::QUANTITY.max) {
            let limit = super::limits::QUANTITY;
            return Err(self.err(
                key,
                match raw {
                    RawQuantity::Text(s) => limit.message_as_written(s),
                    _ => limit.message(units.min(u128::from(u64::MAX)) as u64),
                },
            ));
        }
        let whole_gpus = key.ends_with("\"nvidia.com/gpu\"");
        if whole_gpus && q.milli() % 1000 != 0 {
            return Err(self.err(
                key,
                format!("expected a whole number of GPUs, found {q}: `nvidia.com/gpu` counts whole devices (for less, use a MIG profile or time-slicing)"),
            ));
        }
        Ok(q)
    }

    fn bytes(
        &self,
        key: &str,
        q: Option<&RawQuantity>,
        default: u64,
    ) -> Result<u64, ScenarioError> {
        match q {
            None => Ok(default),
            Some(q) => Ok(self.quantity(key, q)?.units_ceil().min(u64::MAX as u128) as u64),
        }
    }

    fn schedule_times<T: Copy>(
        &self,
        key: &str,
        items: &[(Option<&String>, Option<T>)],
        what: &str,
    ) -> Result<Vec<(SimTime, T)>, ScenarioError> {
        let mut out: Vec<(SimTime, T)> = Vec::new();
        for (i, (at, v)) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let at = self.required(&format!("{k}.at"), *at, "`at`, a duration from the start")?;
            let at = SimTime(
                super::super::engine::parse_duration(at)
                    .map_err(|e| self.err(&format!("{k}.at"), e.0))?
                    .0,
            );
            let v = v.ok_or_else(|| self.err(&k, format!("missing: expected `{what}`")))?;
            if out.last().is_some_and(|(t, _)| *t >= at) {
                return Err(self.err(
                    &format!("{k}.at"),
                    "expected steps in increasing order of `at`",
                ));
            }
            out.push((at, v));
        }
        Ok(out)
    }

    pub(super) fn cluster(
        &self,
        raw: &RawScenario,
        catalog: &Catalog,
    ) -> Result<Option<ClusterSpec>, ScenarioError> {
        let pools_raw = raw.node_pool.as_deref().unwrap_or_default();
        if pools_raw.is_empty() {
            if raw.scheduler.is_some() && raw.karpenter.is_none() {
                return Err(self.err(
                    "scheduler",
                    "a [scheduler] needs at least one [[node_pool]] to place pods on",
                ));
            }
            return Ok(None);
        }
        let mut pools = Vec::with_capacity(pools_raw.len());
        for (i, p) in pools_raw.iter().enumerate() {
            let pool = self.pool(&format!("node_pool[{i}]"), p, catalog)?;
            if pools.iter().any(|q: &NodePoolSpec| q.name == pool.name) {
                return Err(self.err(
                    &format!("node_pool[{i}].name"),
                    format!("expected a unique pool name; `{}` is used twice", pool.name),
                ));
            }
            pools.push(pool);
        }
        let scheduler = self.scheduler(raw.scheduler.as_ref())?;
        Ok(Some(ClusterSpec {
            pools,
            warm_start: raw
                .cluster
                .as_ref()
                .and_then(|c| c.warm_start)
                .unwrap_or(true),
            scheduler,
        }))
    }

    pub(super) fn pool(
        &self,
        key: &str,
        p: &RawNodePool,
        catalog: &Catalog,
    ) -> Result<NodePoolSpec, ScenarioError> {
        let name = self
            .required(
                &format!("{key}.name"),
                p.name.as_ref(),
                "`name`, the pool's name",
            )?
            .clone();
        let it_key = format!("{key}.instance_type");
        let it_id = self.required(
            &it_key,
            p.instance_type.as_ref(),
            "`instance_type`, an id from the instance catalog",
        )?;
        let Some(it) = catalog.instance(it_id) else {
            let ids = catalog.instance_ids();
            let hint = closest(it_id, &ids)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            return Err(self.err(
                &it_key,
                format!(
                    "unknown instance type `{it_id}`: expected one of the catalog's ids ({}){hint}",
                    ids.join(", ")
                ),
            ));
        };
        let capacity_type = match p.capacity_type.unwrap_or(RawCapacityType::OnDemand) {
            RawCapacityType::OnDemand => CapacityType::OnDemand,
            RawCapacityType::Spot => CapacityType::Spot,
        };
        let price = match capacity_type {
            CapacityType::OnDemand => it.on_demand_usd_per_hour,
            CapacityType::Spot => it.spot_usd_per_hour.ok_or_else(|| {
                self.err(
                    &format!("{key}.capacity_type"),
                    format!("instance type `{it_id}` has no spot price in the catalog"),
                )
            })?,
        };
        let min_size = p.min_size.unwrap_or(0);
        let initial_size = p.initial_size.unwrap_or(min_size);
        let max_size = p.max_size.unwrap_or(min_size.max(initial_size));
        // Nodes the pool starts with are built at once; the autoscalers add nodes only for pods
        // (themselves limited), so `max_size` may stay unbounded.
        super::limits::NODES_PER_POOL
            .check(initial_size.into())
            .map_err(|m| {
                let set = if p.initial_size.is_some() {
                    "initial_size"
                } else {
                    "min_size"
                };
                self.err(&format!("{key}.{set}"), m)
            })?;
        if min_size > max_size {
            return Err(self.err(
                &format!("{key}.min_size"),
                format!("expected min_size ({min_size}) at most max_size ({max_size})"),
            ));
        }
        if initial_size < min_size || initial_size > max_size {
            return Err(self.err(&format!("{key}.initial_size"), format!("expected initial_size from min_size ({min_size}) to max_size ({max_size}), found {initial_size}")));
        }
        let provisioning_delay = self.duration(
            &format!("{key}.provisioning_delay"),
            p.provisioning_delay.as_ref(),
            defaults::PROVISIONING_DELAY,
        )?;
        let mut taints = Vec::new();
        for (j, t) in p.taints.iter().flatten().enumerate() {
            let tk = format!("{key}.taints[{j}]");
            let k = self.required(&format!("{tk}.key"), t.key.as_ref(), "`key`")?;
            let e = t.effect.ok_or_else(|| {
                self.err(
                    &tk,
                    "a taint needs an `effect`: NoSchedule, PreferNoSchedule or NoExecute",
                )
            })?;
            taints.push(Taint {
                key: k.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect: effect(e),
            });
        }
        let mut capacity = BTreeMap::new();
        capacity.insert(CPU.to_string(), Quantity::from_units(it.vcpu as u64));
        capacity.insert(
            MEMORY.to_string(),
            Quantity::from_milli(it.memory_bytes as u128 * 1000),
        );
        capacity.insert(
            PODS.to_string(),
            Quantity::from_units(p.max_pods.unwrap_or(defaults::MAX_PODS) as u64),
        );
        if it.gpu_count > 0 {
            capacity.insert(
                NVIDIA_GPU.to_string(),
                Quantity::from_units(it.gpu_count as u64),
            );
        }
        let base_capacity = capacity.clone();
        let (mut mig_labels, mig_view) =
            self.mig(key, p, p.mig_layout.as_ref(), it, &mut capacity)?;
        let time_slicing = self.time_slicing(key, p, &mut capacity, &mut mig_labels)?;
        let mut allocatable = capacity.clone();
        for (r, q) in p.system_reserved.iter().flatten() {
            let rk = format!("{key}.system_reserved.\"{r}\"");
            let q = self.quantity(&rk, q)?;
            let Some(cap) = allocatable.get_mut(r) else {
                return Err(self.err(
                    &rk,
                    format!(
                        "the node has no `{r}` to reserve; expected one of cpu, memory, pods{}",
                        if it.gpu_count > 0 {
                            ", nvidia.com/gpu"
                        } else {
                            ""
                        }
                    ),
                ));
            };
            if q > *cap {
                return Err(self.err(
                    &rk,
                    format!("expected at most the node's capacity ({cap}), found {q}"),
                ));
            }
            *cap = Quantity::from_milli(cap.milli() - q.milli());
        }
        let mut labels: Labels = p.labels.clone().unwrap_or_default();
        labels.insert("node.kubernetes.io/instance-type".into(), it.id.clone());
        labels.insert("topology.kubernetes.io/region".into(), it.region.clone());
        labels.insert("capsim.io/node-pool".into(), name.clone());
        labels.insert(
            "capsim.io/capacity-type".into(),
            capacity_type.name().into(),
        );
        if let Some(g) = &it.gpu {
            labels.insert("nvidia.com/gpu.product".into(), g.clone());
            labels.insert("nvidia.com/gpu.count".into(), it.gpu_count.to_string());
        }
        labels.extend(mig_labels);
        let bw = |k: &str, q: Option<&RawQuantity>, d: u64| -> Result<f64, ScenarioError> {
            let v = self.bytes(&format!("{key}.{k}"), q, d)?;
            if v == 0 {
                return Err(self.err(
                    &format!("{key}.{k}"),
                    "expected a bandwidth above zero (bytes per second, e.g. \"200Mi\")",
                ));
            }
            Ok(v as f64)
        };
        let scale_items: Vec<(Option<&String>, Option<u32>)> = p
            .scale
            .iter()
            .flatten()
            .map(|s| (s.at.as_ref(), s.size))
            .collect();
        let scale = self.schedule_times(&format!("{key}.scale"), &scale_items, "size")?;
        for (j, (_, size)) in scale.iter().enumerate() {
            super::limits::NODES_PER_POOL
                .check((*size).into())
                .map_err(|m| self.err(&format!("{key}.scale[{j}].size"), m))?;
            if *size < min_size || *size > max_size {
                return Err(self.err(&format!("{key}.scale[{j}].size"), format!("expected a size from min_size ({min_size}) to max_size ({max_size}), found {size}")));
            }
        }
        let mut mig_changes = Vec::new();
        if let Some(changes) = &p.mig_reconfigure {
            if p.mig_layout.is_none() {
                return Err(self.err(&format!("{key}.mig_reconfigure"), "a MIG reconfiguration needs a starting `mig_layout` (use \"all-disabled\" for whole GPUs)"));
            }
            let items: Vec<(Option<&String>, Option<u32>)> =
                changes.iter().map(|c| (c.at.as_ref(), Some(0))).collect();
            let times = self.schedule_times(&format!("{key}.mig_reconfigure"), &items, "layout")?;
            for (j, c) in changes.iter().enumerate() {
                let ck = format!("{key}.mig_reconfigure[{j}]");
                let layout = self.required(
                    &format!("{ck}.layout"),
                    c.layout.as_ref(),
                    "`layout`, a mig-parted layout name",
                )?;
                let mut cap = base_capacity.clone();
                self.mig(&format!("{ck}.layout"), p, Some(layout), it, &mut cap)
                    .map_err(|mut e| {
                        e.key = format!("{ck}.layout");
                        e
                    })?;
                // Allocatable: the new GPU resources, everything else as before.
                let mut alloc: BTreeMap<String, Quantity> = allocatable
                    .iter()
                    .filter(|(k, _)| !k.starts_with("nvidia.com/"))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                for (k, v) in cap.iter().filter(|(k, _)| k.starts_with("nvidia.com/")) {
                    alloc.insert(k.clone(), *v);
                }
                mig_changes.push((times[j].0, layout.clone(), alloc));
            }
        }
        let mig_reconfigure_time = self.duration(
            &format!("{key}.mig_reconfigure_time"),
            p.mig_reconfigure_time.as_ref(),
            SimDuration::from_secs(120),
        )?;
        Ok(NodePoolSpec {
            mig_changes,
            mig_reconfigure_time,
            name,
            instance_type: it.id.clone(),
            gpu: it.gpu.clone(),
            gpus_per_node: it.gpu_count,
            gpu_memory_bytes: it
                .gpu
                .as_deref()
                .and_then(|g| catalog.gpu(g))
                .map_or(0, |g| g.memory_bytes),
            capacity_type,
            price_usd_per_hour: price,
            min_size,
            max_size,
            initial_size,
            provisioning_delay,
            labels,
            taints,
            capacity,
            allocatable,
            image_pull_bytes_per_s: bw(
                "image_pull_bandwidth",
                p.image_pull_bandwidth.as_ref(),
                defaults::IMAGE_PULL_BYTES_PER_S,
            )?,
            model_load_bytes_per_s: bw(
                "model_load_bandwidth",
                p.model_load_bandwidth.as_ref(),
                defaults::MODEL_LOAD_BYTES_PER_S,
            )?,
            scale,
            time_slicing,
            mig_view,
            cost_rates: None,
        })
        .and_then(|mut spec| {
            spec.cost_rates = self.cost_rates(key, p, &spec)?;
            Ok(spec)
        })
    }

    /// A pool's `cost_rates`: both rates, not negative, and their part of the price at most the
    /// price (the GPUs take the rest).
    fn cost_rates(
        &self,
        key: &str,
        p: &RawNodePool,
        spec: &NodePoolSpec,
    ) -> Result<Option<(f64, f64)>, ScenarioError> {
        let Some(r) = &p.cost_rates else {
            return Ok(None);
        };
        let k = format!("{key}.cost_rates");
        let rate = |name: &str, v: Option<f64>| -> Result<f64, ScenarioError> {
            let v = v.ok_or_else(|| {
                self.err(
                    &k,
                    format!(
                        "missing: expected `{name}`, USD per {} hour",
                        if name == "cpu" { "vCPU-" } else { "GiB-" }
                    ),
                )
            })?;
            if !v.is_finite() || v < 0.0 {
                return Err(self.err(
                    &format!("{k}.{name}"),
                    format!("expected a price of 0 or more, found {v}"),
                ));
            }
            Ok(v)
        };
        let (cpu, memory) = (rate("cpu", r.cpu)?, rate("memory", r.memory)?);
        let (v, m, g) = super::cost::node_size(spec);
        let part = v * cpu + m * memory;
        if part > spec.price_usd_per_hour * (1.0 + 1e-9) {
            return Err(self.err(
                &k,
                format!(
                    "the CPU and memory part of a node's price at these rates (${part:.4}/h for {v} vCPU and {m} GiB) exceeds its price (${:.4}/h): the GPU rate would be negative",
                    spec.price_usd_per_hour
                ),
            ));
        }
        if g == 0.0 && part <= 0.0 {
            return Err(self.err(
                &k,
                "a node without GPUs needs a CPU or memory rate above 0 to carry its price",
            ));
        }
        Ok(Some((cpu, memory)))
    }

    /// Applies `mig_layout` / `mig_strategy`: replaces the pool's `nvidia.com/gpu` capacity with
    /// what the device plugin advertises for that layout, and returns the GPU operator's labels.
    fn mig(
        &self,
        key: &str,
        p: &RawNodePool,
        layout: Option<&String>,
        it: &crate::catalog::InstanceType,
        capacity: &mut BTreeMap<String, Quantity>,
    ) -> Result<(LabelPairs, Option<LayoutView>), ScenarioError> {
        use crate::gpu::mig::{exposed_resources, MigCatalog, MigStrategy};
        let lk = format!("{key}.mig_layout");
        let sk = format!("{key}.mig_strategy");
        let Some(layout_name) = layout else {
            if p.mig_strategy.is_some() {
                return Err(self.err(
                    &sk,
                    "a MIG strategy needs a `mig_layout` such as \"all-1g.10gb\"",
                ));
            }
            return Ok((Vec::new(), None));
        };
        let Some(gpu) = it.gpu.as_ref().filter(|_| it.gpu_count > 0) else {
            return Err(self.err(
                &lk,
                format!(
                    "instance type `{}` has no GPU; a MIG layout needs a MIG-capable GPU",
                    it.id
                ),
            ));
        };
        let model = MigCatalog::builtin()
            .for_gpu(gpu)
            .map_err(|e| self.err(&lk, e.0))?;
        let layout = model
            .named_layout(layout_name)
            .map_err(|e| self.err(&lk, e.0))?;
        let strategy: MigStrategy = match &p.mig_strategy {
            None => MigStrategy::Mixed,
            Some(s) => s
                .parse()
                .map_err(|e: crate::gpu::mig::MigError| self.err(&sk, e.0))?,
        };
        let resources = exposed_resources(model, strategy, layout.as_deref(), it.gpu_count)
            .map_err(|e| self.err(&lk, e.0))?;
        capacity.remove(NVIDIA_GPU);
        for (name, n) in resources {
            capacity.insert(name, Quantity::from_units(n as u64));
        }
        let strategy_name = match strategy {
            MigStrategy::None => "none",
            MigStrategy::Single => "single",
            MigStrategy::Mixed => "mixed",
        };
        let view = layout.as_deref().map(|l| model.view(layout_name, l));
        Ok((
            vec![
                ("nvidia.com/mig.config".into(), layout_name.clone()),
                ("nvidia.com/mig.strategy".into(), strategy_name.into()),
            ],
            view,
        ))
    }

    /// Applies `time_slicing`: each GPU advertised as `replicas` shares of `nvidia.com/gpu` (or
    /// `nvidia.com/gpu.shared` with `renameByDefault`), and the device plugin's labels.
    fn time_slicing(
        &self,
        key: &str,
        p: &RawNodePool,
        capacity: &mut BTreeMap<String, Quantity>,
        labels: &mut Vec<(String, String)>,
    ) -> Result<Option<(u32, String)>, ScenarioError> {
        let Some(t) = &p.time_slicing else {
            return Ok(None);
        };
        let tk = format!("{key}.time_slicing");
        if p.mig_layout.is_some() {
            return Err(self.err(&tk, "time-slicing MIG devices is not modelled: use `mig_layout` or `time_slicing`, not both"));
        }
        let Some(gpus) = capacity.get(NVIDIA_GPU).map(|q| q.units_ceil() as u64) else {
            return Err(self.err(&tk, "time-slicing shares GPUs: the instance type has none"));
        };
        let replicas = match t.replicas {
            None => return Err(self.err(
                &format!("{tk}.replicas"),
                "missing: expected `replicas`, the shares each GPU is advertised as (at least 2)",
            )),
            Some(r) if r < 2 => {
                return Err(self.err(
                    &format!("{tk}.replicas"),
                    format!("expected at least 2 shares per GPU, found {r}"),
                ))
            }
            Some(r) => {
                super::limits::TIME_SLICE_REPLICAS
                    .check(r.into())
                    .map_err(|m| self.err(&format!("{tk}.replicas"), m))?;
                r
            }
        };
        let name = if t.rename_by_default.unwrap_or(false) {
            "nvidia.com/gpu.shared".to_string()
        } else {
            NVIDIA_GPU.to_string()
        };
        capacity.remove(NVIDIA_GPU);
        capacity.insert(name.clone(), Quantity::from_units(gpus * replicas as u64));
        labels.push(("nvidia.com/gpu.replicas".into(), replicas.to_string()));
        labels.push((
            "nvidia.com/gpu.sharing-strategy".into(),
            "time-slicing".into(),
        ));
        Ok(Some((replicas, name)))
    }

    pub(super) fn scheduler(
        &self,
        raw: Option<&RawScheduler>,
    ) -> Result<SchedulerConfig, ScenarioError> {
        let mut cfg = SchedulerConfig::default();
        let Some(s) = raw.and_then(|r| r.scoring_strategy.as_ref()) else {
            return Ok(cfg);
        };
        let key = "scheduler.scoringStrategy";
        if let Some(res) = &s.resources {
            if res.is_empty() {
                return Err(self.err(
                    &format!("{key}.resources"),
                    "expected at least one resource",
                ));
            }
            cfg.resources = Vec::new();
            for (i, r) in res.iter().enumerate() {
                let w = r.weight.unwrap_or(1);
                if w < 0 {
                    return Err(self.err(
                        &format!("{key}.resources[{i}].weight"),
                        "expected a weight that is not negative",
                    ));
                }
                cfg.resources
                    .push((r.name.clone(), if w == 0 { 1 } else { w }));
            }
        }
        cfg.scoring = match s.kind.unwrap_or(RawScoringType::LeastAllocated) {
            RawScoringType::LeastAllocated => ScoringType::LeastAllocated,
            RawScoringType::MostAllocated => ScoringType::MostAllocated,
            RawScoringType::RequestedToCapacityRatio => {
                let k = format!("{key}.requestedToCapacityRatio");
                let shape = self.required(
                    &k,
                    s.requested_to_capacity_ratio.as_ref(),
                    "a `shape` for RequestedToCapacityRatio",
                )?;
                if shape.shape.is_empty() {
                    return Err(self.err(&format!("{k}.shape"), "expected at least one point"));
                }
                let mut pts = Vec::new();
                for (i, p) in shape.shape.iter().enumerate() {
                    if !(0..=100).contains(&p.utilization) || !(0..=10).contains(&p.score) {
                        return Err(self.err(
                            &format!("{k}.shape[{i}]"),
                            "expected utilization 0–100 and score 0–10",
                        ));
                    }
                    if pts.last().is_some_and(|&(u, _)| u >= p.utilization) {
                        return Err(self.err(
                            &format!("{k}.shape[{i}].utilization"),
                            "expected utilization increasing from point to point",
                        ));
                    }
                    pts.push((p.utilization, p.score));
                }
                ScoringType::RequestedToCapacityRatio(pts)
            }
        };
        if s.requested_to_capacity_ratio.is_some()
            && !matches!(cfg.scoring, ScoringType::RequestedToCapacityRatio(_))
        {
            return Err(self.err(
                &format!("{key}.requestedToCapacityRatio"),
                "a shape applies only with type = \"RequestedToCapacityRatio\"",
            ));
        }
        Ok(cfg)
    }

    pub(super) fn pod_template(
        &self,
        resources: Resources,
        raw: Option<&RawPodTemplate>,
    ) -> Result<PodTemplate, ScenarioError> {
        let mut t = PodTemplate {
            resources,
            readiness_period: DEFAULT_PROBE_PERIOD,
            readiness_failure_threshold: super::failure::defaults::FAILURE_THRESHOLD,
            termination_grace: DEFAULT_GRACE,
            ..PodTemplate::default()
        };
        let Some(p) = raw else { return Ok(t) };
        let key = "service.pod";
        t.image_bytes = self.bytes(&format!("{key}.image_size"), p.image_size.as_ref(), 0)?;
        t.model_bytes = self.bytes(&format!("{key}.model_size"), p.model_size.as_ref(), 0)?;
        t.gpu_memory_bytes = self.bytes(&format!("{key}.gpu_memory"), p.gpu_memory.as_ref(), 0)?;
        if let Some(probe) = &p.readiness_probe {
            t.readiness_initial_delay =
                SimDuration::from_secs(probe.initial_delay_seconds.unwrap_or(0));
            let period = probe.period_seconds.unwrap_or(10);
            if period == 0 {
                return Err(self.err(
                    &format!("{key}.readinessProbe.periodSeconds"),
                    "expected a period of at least 1 second",
                ));
            }
            t.readiness_period = SimDuration::from_secs(period);
            t.readiness_failure_threshold =
                self.failure_threshold(&format!("{key}.readinessProbe"), probe)?;
        }
        if let Some(probe) = &p.liveness_probe {
            let period = probe.period_seconds.unwrap_or(10);
            if period == 0 {
                return Err(self.err(
                    &format!("{key}.livenessProbe.periodSeconds"),
                    "expected a period of at least 1 second",
                ));
            }
            t.liveness = Some((
                SimDuration::from_secs(probe.initial_delay_seconds.unwrap_or(0)),
                SimDuration::from_secs(period),
                self.failure_threshold(&format!("{key}.livenessProbe"), probe)?,
            ));
        }
        if let Some(g) = p.termination_grace_period_seconds {
            t.termination_grace = SimDuration::from_secs(g);
        }
        t.node_selector = p.node_selector.clone().unwrap_or_default();
        if let Some(labels) = &p.labels {
            if let Some(k) = labels.keys().find(|k| k.is_empty()) {
                return Err(self.err(
                    &format!("{key}.labels"),
                    format!("expected label keys that are not empty, found \"{k}\""),
                ));
            }
            t.labels = labels.clone();
        }
        for (i, tol) in p.tolerations.iter().flatten().enumerate() {
            let operator = match tol.operator.unwrap_or(RawTolerationOperator::Equal) {
                RawTolerationOperator::Equal => TolerationOperator::Equal,
                RawTolerationOperator::Exists => TolerationOperator::Exists,
            };
            let k = tol.key.clone().unwrap_or_default();
            if k.is_empty() && operator == TolerationOperator::Equal {
                return Err(self.err(
                    &format!("{key}.tolerations[{i}]"),
                    "a toleration with an empty key needs operator = \"Exists\"",
                ));
            }
            if operator == TolerationOperator::Exists
                && tol.value.as_deref().is_some_and(|v| !v.is_empty())
            {
                return Err(self.err(
                    &format!("{key}.tolerations[{i}].value"),
                    "a toleration with operator = \"Exists\" takes no value",
                ));
            }
            t.tolerations.push(Toleration {
                key: k,
                operator,
                value: tol.value.clone().unwrap_or_default(),
                effect: tol.effect.map(effect),
            });
        }
        self.spread_constraints(key, p, &mut t)?;
        self.pod_anti_affinity(key, p, &mut t)?;
        if let Some(na) = p.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) {
            let k = format!("{key}.affinity.nodeAffinity");
            if let Some(req) = &na.required {
                for (i, term) in req.node_selector_terms.iter().enumerate() {
                    t.required_terms.push(self.term(&format!("{k}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"), term)?);
                }
            }
            for (i, pref) in na.preferred.iter().flatten().enumerate() {
                let pk = format!("{k}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                if !(1..=100).contains(&pref.weight) {
                    return Err(
                        self.err(&format!("{pk}.weight"), "expected a weight from 1 to 100")
                    );
                }
                t.preferred_terms.push((
                    pref.weight,
                    self.term(&format!("{pk}.preference"), &pref.preference)?,
                ));
            }
        }
        Ok(t)
    }

    /// `topologySpreadConstraints`, validated as the API server does.
    fn spread_constraints(
        &self,
        key: &str,
        p: &RawPodTemplate,
        t: &mut PodTemplate,
    ) -> Result<(), ScenarioError> {
        for (i, c) in p.topology_spread_constraints.iter().flatten().enumerate() {
            let k = format!("{key}.topologySpreadConstraints[{i}]");
            let max_skew = match c.max_skew {
                Some(m) if m >= 1 && m <= i64::from(u32::MAX) => m as u32,
                Some(_) => {
                    return Err(self.err(&format!("{k}.maxSkew"), "expected maxSkew of at least 1"))
                }
                None => {
                    return Err(self.err(&format!("{k}.maxSkew"), "expected maxSkew (required)"))
                }
            };
            let topology_key = match c.topology_key.as_deref() {
                Some(tk) if !tk.is_empty() => tk.to_string(),
                _ => return Err(self.err(
                    &format!("{k}.topologyKey"),
                    "expected a node label key such as \"topology.kubernetes.io/zone\" (required)",
                )),
            };
            let when = match c.when_unsatisfiable.as_deref() {
                Some("DoNotSchedule") => WhenUnsatisfiable::DoNotSchedule,
                Some("ScheduleAnyway") => WhenUnsatisfiable::ScheduleAnyway,
                _ => {
                    return Err(self.err(
                        &format!("{k}.whenUnsatisfiable"),
                        "expected \"DoNotSchedule\" or \"ScheduleAnyway\" (required)",
                    ))
                }
            };
            let min_domains = match c.min_domains {
                None => 1,
                Some(_) if when != WhenUnsatisfiable::DoNotSchedule => {
                    return Err(self.err(
                        &format!("{k}.minDomains"),
                        "minDomains applies only with whenUnsatisfiable = \"DoNotSchedule\"",
                    ))
                }
                Some(m) if m >= 1 && m <= i64::from(u32::MAX) => m as u32,
                Some(_) => {
                    return Err(self.err(
                        &format!("{k}.minDomains"),
                        "expected minDomains of at least 1",
                    ))
                }
            };
            let policy = |name: &str, v: Option<&str>, default| match v {
                None => Ok(default),
                Some("Honor") => Ok(InclusionPolicy::Honor),
                Some("Ignore") => Ok(InclusionPolicy::Ignore),
                Some(_) => {
                    Err(self.err(&format!("{k}.{name}"), "expected \"Honor\" or \"Ignore\""))
                }
            };
            let node_affinity_policy = policy(
                "nodeAffinityPolicy",
                c.node_affinity_policy.as_deref(),
                InclusionPolicy::Honor,
            )?;
            let node_taints_policy = policy(
                "nodeTaintsPolicy",
                c.node_taints_policy.as_deref(),
                InclusionPolicy::Ignore,
            )?;
            if t.spread
                .iter()
                .any(|o| o.topology_key == topology_key && o.when == when)
            {
                return Err(self.err(
                    &k,
                    format!(
                        "duplicate constraint: another one already has topologyKey \"{topology_key}\" and whenUnsatisfiable \"{}\"",
                        when.name()
                    ),
                ));
            }
            t.spread.push(SpreadConstraint {
                max_skew,
                topology_key,
                when,
                min_domains,
                node_affinity_policy,
                node_taints_policy,
                own_replica_set: c
                    .match_label_keys
                    .iter()
                    .flatten()
                    .any(|k| k == "pod-template-hash"),
                selector: self.pod_selector(
                    &format!("{k}.labelSelector"),
                    c.label_selector.as_ref(),
                    None,
                )?,
            });
        }
        Ok(())
    }

    /// `affinity.podAntiAffinity` (and a clear refusal of `affinity.podAffinity`).
    fn pod_anti_affinity(
        &self,
        key: &str,
        p: &RawPodTemplate,
        t: &mut PodTemplate,
    ) -> Result<(), ScenarioError> {
        let Some(a) = &p.affinity else { return Ok(()) };
        if a.pod_affinity.is_some() {
            return Err(self.err(
                &format!("{key}.affinity.podAffinity"),
                "podAffinity is not modelled (podAntiAffinity is); remove it",
            ));
        }
        let Some(anti) = &a.pod_anti_affinity else {
            return Ok(());
        };
        let k = format!("{key}.affinity.podAntiAffinity");
        let term = |tk: &str, raw: &RawPodAffinityTerm| match raw.topology_key.as_deref() {
            Some(v) if !v.is_empty() => Ok(PodAffinityTerm {
                topology_key: v.to_string(),
                selector: self.pod_selector(
                    &format!("{tk}.labelSelector"),
                    raw.label_selector.as_ref(),
                    raw.namespaces.as_ref(),
                )?,
            }),
            _ => Err(self.err(
                &format!("{tk}.topologyKey"),
                "expected a node label key such as \"kubernetes.io/hostname\" (required)",
            )),
        };
        for (i, r) in anti.required.iter().flatten().enumerate() {
            let tk = format!("{k}.requiredDuringSchedulingIgnoredDuringExecution[{i}]");
            t.anti_affinity_required.push(term(&tk, r)?);
        }
        for (i, w) in anti.preferred.iter().flatten().enumerate() {
            let wk = format!("{k}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            let weight = match w.weight {
                Some(v) if (1..=100).contains(&v) => v,
                _ => {
                    return Err(self.err(&format!("{wk}.weight"), "expected a weight from 1 to 100"))
                }
            };
            let Some(raw) = &w.pod_affinity_term else {
                return Err(self.err(
                    &format!("{wk}.podAffinityTerm"),
                    "expected a podAffinityTerm (required)",
                ));
            };
            let pt = term(&format!("{wk}.podAffinityTerm"), raw)?;
            t.anti_affinity_preferred.push((weight, pt));
        }
        Ok(())
    }

    /// A `labelSelector` (`None`: the Deployment's own pods), as written; which services it
    /// selects is filled in once every service is known ([`super::selectors::resolve`]).
    fn pod_selector(
        &self,
        key: &str,
        raw: Option<&toml::Value>,
        namespaces: Option<&Vec<String>>,
    ) -> Result<PodSelector, ScenarioError> {
        let Some(raw) = raw else {
            return Ok(PodSelector::Own);
        };
        let selector = super::selectors::parse(raw).map_err(|(k, m)| {
            let at = if k.is_empty() {
                key.to_string()
            } else {
                format!("{key}.{k}")
            };
            self.err(&at, m)
        })?;
        let namespaces = namespaces.cloned().unwrap_or_default();
        if let Some(i) = namespaces.iter().position(String::is_empty) {
            return Err(self.err(
                &format!("{}.namespaces[{i}]", key.trim_end_matches(".labelSelector")),
                "expected a namespace name",
            ));
        }
        Ok(PodSelector::Labels {
            selector,
            namespaces,
            services: Vec::new(),
            own: false,
        })
    }

    fn term(&self, key: &str, raw: &RawTerm) -> Result<Term, ScenarioError> {
        let mut term = Term::default();
        for (i, r) in raw.match_expressions.iter().flatten().enumerate() {
            let k = format!("{key}.matchExpressions[{i}]");
            let values = r.values.clone().unwrap_or_default();
            let operator = match r.operator {
                RawSelectorOperator::In => SelectorOperator::In,
                RawSelectorOperator::NotIn => SelectorOperator::NotIn,
                RawSelectorOperator::Exists => SelectorOperator::Exists,
                RawSelectorOperator::DoesNotExist => SelectorOperator::DoesNotExist,
                RawSelectorOperator::Gt => SelectorOperator::Gt,
                RawSelectorOperator::Lt => SelectorOperator::Lt,
            };
            let ok = match operator {
                SelectorOperator::In | SelectorOperator::NotIn => !values.is_empty(),
                SelectorOperator::Exists | SelectorOperator::DoesNotExist => values.is_empty(),
                SelectorOperator::Gt | SelectorOperator::Lt => {
                    values.len() == 1 && values[0].parse::<i64>().is_ok()
                }
            };
            if !ok {
                return Err(self.err(&format!("{k}.values"), "expected values: one or more for In/NotIn, none for Exists/DoesNotExist, one integer for Gt/Lt"));
            }
            term.requirements.push(Requirement {
                key: r.key.clone(),
                operator,
                values,
            });
        }
        Ok(term)
    }

    pub(super) fn service_scale(
        &self,
        raw: Option<&Vec<RawServiceScale>>,
    ) -> Result<Vec<(SimTime, u32)>, ScenarioError> {
        let items: Vec<(Option<&String>, Option<u32>)> = raw
            .iter()
            .flat_map(|v| v.iter())
            .map(|s| (s.at.as_ref(), s.replicas))
            .collect();
        let steps = self.schedule_times("service.scale", &items, "replicas")?;
        for (i, &(_, r)) in steps.iter().enumerate() {
            super::limits::REPLICAS
                .check(r.into())
                .map_err(|m| self.err(&format!("service.scale[{i}].replicas"), m))?;
        }
        Ok(steps)
    }
}
