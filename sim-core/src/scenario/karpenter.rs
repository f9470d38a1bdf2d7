//! `[karpenter]` and `[[karpenter.nodepool]]`: Karpenter's NodePools (upstream field names),
//! each expanded into one candidate node pool per instance type and capacity type its
//! requirements allow (those of its `[[karpenter.nodepool.change]]`s included), launched on
//! demand by the simulated Karpenter.

use super::cluster::ClusterSpec;
use super::error::closest;
use super::model::Validator;
use super::raw::{RawCapacityType, RawNodePool, RawQuantity, RawScenario, RawTaint};
use super::ScenarioError;
use crate::catalog::{Catalog, InstanceType};
use crate::cluster::{CapacityType, Quantity};
use crate::engine::SimDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Upstream defaults.
pub mod defaults {
    use crate::engine::SimDuration;
    /// `BATCH_IDLE_DURATION`.
    pub const BATCH_IDLE: SimDuration = SimDuration::from_secs(1);
    /// `BATCH_MAX_DURATION`.
    pub const BATCH_MAX: SimDuration = SimDuration::from_secs(10);
    /// The disruption controller's polling period.
    pub const DISRUPTION_POLL: SimDuration = SimDuration::from_secs(10);
    /// How long a consolidation command waits before it is validated again and executed.
    pub const COMMAND_VALIDATION_DELAY: SimDuration = SimDuration::from_secs(15);
    /// `spec.template.spec.expireAfter` (720 h).
    pub const EXPIRE_AFTER: SimDuration = SimDuration::from_secs(720 * 3600);
    /// `spec.disruption.budgets`: `[{nodes: "10%"}]`.
    pub const BUDGET_NODES: &str = "10%";
}

/// Label keys a requirement may name (values as the nodes are labelled).
pub const REQUIREMENT_KEYS: [&str; 8] = [
    "node.kubernetes.io/instance-type",
    "karpenter.sh/capacity-type",
    "nvidia.com/gpu.product",
    "nvidia.com/gpu.count",
    "topology.kubernetes.io/region",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-memory",
    "capsim.io/provider",
];

/// `[karpenter]`: the controller's settings (environment-variable names as upstream).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKarpenter {
    /// `BATCH_IDLE_DURATION`: the batch closes after this long without a new pending pod.
    #[serde(rename = "batchIdleDuration")]
    pub batch_idle_duration: Option<String>,
    /// `BATCH_MAX_DURATION`: the longest a batch stays open.
    #[serde(rename = "batchMaxDuration")]
    pub batch_max_duration: Option<String>,
    /// `featureGates` (the Helm chart's `settings.featureGates`, upstream's `FEATURE_GATES`).
    #[serde(rename = "featureGates")]
    pub feature_gates: Option<RawFeatureGates>,
    /// `[[karpenter.nodepool]]`: the NodePools.
    pub nodepool: Option<Vec<RawKarpenterNodePool>>,
}

/// `[karpenter] featureGates`: the feature gates capsim models.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatureGates {
    /// `SpotToSpotConsolidation` (default false): consolidation may replace a spot node with a
    /// cheaper spot node.
    #[serde(rename = "spotToSpotConsolidation")]
    pub spot_to_spot_consolidation: Option<toml::Value>,
}

/// `[[karpenter.nodepool]]`: a NodePool's spec, flattened (`spec.template.spec` keys directly).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKarpenterNodePool {
    /// The NodePool's name.
    pub name: Option<String>,
    /// `spec.weight`: higher weights are tried first.
    pub weight: Option<i32>,
    /// `spec.template.spec.requirements`.
    pub requirements: Option<Vec<RawRequirement>>,
    /// `spec.template.metadata.labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `spec.template.spec.taints`.
    pub taints: Option<Vec<RawTaint>>,
    /// `spec.template.spec.expireAfter` (`"Never"` or a duration; default 720h).
    #[serde(rename = "expireAfter")]
    pub expire_after: Option<String>,
    /// `spec.limits`: most resources (capacity) the NodePool's nodes may have in total.
    pub limits: Option<BTreeMap<String, RawQuantity>>,
    /// `spec.disruption`.
    pub disruption: Option<RawDisruption>,
    /// capsim: launch to Ready (the cloud's boot time and node initialisation).
    pub provisioning_delay: Option<String>,
    /// capsim: `[[karpenter.nodepool.change]]`, edits of the NodePool during the run.
    pub change: Option<Vec<RawNodePoolChange>>,
}

/// `[[karpenter.nodepool.change]]`: at `at`, the NodePool's `requirements` are replaced (as
/// `kubectl apply` of an edited NodePool would); nodes they no longer allow drift.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodePoolChange {
    /// When the change is applied (a duration from the start).
    pub at: Option<String>,
    /// The new `spec.template.spec.requirements`, whole.
    pub requirements: Option<Vec<RawRequirement>>,
}

/// A node-selector requirement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    /// A well-known label.
    pub key: Option<String>,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`.
    pub operator: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// `spec.disruption`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisruption {
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized` (default).
    #[serde(rename = "consolidationPolicy")]
    pub consolidation_policy: Option<String>,
    /// How long after the last pod event a node may be consolidated (`"Never"`; default 0s).
    #[serde(rename = "consolidateAfter")]
    pub consolidate_after: Option<String>,
    /// Disruption budgets.
    pub budgets: Option<Vec<RawBudget>>,
}

/// One disruption budget.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// A node count (`"10"`) or a percentage of the NodePool's nodes (`"10%"`).
    pub nodes: Option<String>,
    /// The reasons it applies to: `Empty`, `Underutilized`, `Drifted` (default: all).
    pub reasons: Option<Vec<String>>,
}

/// `consolidationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsolidationPolicy {
    /// Only empty nodes go.
    WhenEmpty,
    /// Empty nodes go, and nodes whose pods fit elsewhere (or on one cheaper node).
    WhenEmptyOrUnderutilized,
}

/// Why a node is disrupted (the reasons budgets name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisruptionReason {
    /// An empty node.
    Empty,
    /// A node whose pods fit elsewhere.
    Underutilized,
    /// A node its NodePool's requirements no longer allow (after a `change`).
    Drifted,
}

/// A budget's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetNodes {
    /// A node count.
    Count(u32),
    /// A percentage of the NodePool's nodes, rounded up.
    Percent(u32),
}

impl BudgetNodes {
    /// Nodes this budget allows to be disrupting out of `nodes` (percentages rounded up).
    pub fn allowed(self, nodes: u32) -> u32 {
        match self {
            BudgetNodes::Count(n) => n,
            BudgetNodes::Percent(p) => (nodes as u64 * p as u64).div_ceil(100) as u32,
        }
    }
}

/// One budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// Its size.
    pub nodes: BudgetNodes,
    /// The reasons it applies to (empty: all).
    pub reasons: Vec<DisruptionReason>,
}

/// A validated NodePool.
#[derive(Clone, Debug, PartialEq)]
pub struct KarpenterNodePool {
    /// Its name.
    pub name: String,
    /// `spec.weight`.
    pub weight: i32,
    /// Indices into the cluster's pools of its candidates (one per instance and capacity type).
    pub candidates: Vec<usize>,
    /// `spec.limits`, by resource name.
    pub limits: BTreeMap<String, Quantity>,
    /// `consolidationPolicy`.
    pub policy: ConsolidationPolicy,
    /// `consolidateAfter`; `None` for `Never`.
    pub consolidate_after: Option<SimDuration>,
    /// `budgets`.
    pub budgets: Vec<Budget>,
    /// `expireAfter`; `None` for `Never`.
    pub expire_after: Option<SimDuration>,
    /// Changes of its requirements, in time order.
    pub changes: Vec<NodePoolChange>,
}

/// A NodePool's requirements changed at a time: the candidates they allow from then on.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePoolChange {
    /// When (from the start of the run).
    pub at: SimDuration,
    /// Indices into the cluster's pools of the candidates the new requirements allow.
    pub candidates: Vec<usize>,
}

impl KarpenterNodePool {
    /// The candidates its requirements allow at `t` (from the start of the run).
    pub fn candidates_at(&self, t: SimDuration) -> &[usize] {
        self.changes
            .iter()
            .rev()
            .find(|c| c.at <= t)
            .map_or(&self.candidates, |c| &c.candidates)
    }

    /// Every candidate it may ever launch (initial requirements and all changes).
    pub fn all_candidates(&self) -> impl Iterator<Item = usize> + '_ {
        self.candidates
            .iter()
            .chain(self.changes.iter().flat_map(|c| c.candidates.iter()))
            .copied()
    }

    /// Since when a node of candidate `pool` launched at `launched` has been drifted at `t`: the
    /// earliest of the consecutive changes up to `t` (none before the launch) whose requirements
    /// do not allow it.
    pub fn drifted_since(
        &self,
        pool: usize,
        launched: SimDuration,
        t: SimDuration,
    ) -> Option<SimDuration> {
        let mut since = None;
        for c in self.changes.iter().rev().filter(|c| c.at <= t) {
            if c.at < launched || c.candidates.contains(&pool) {
                break;
            }
            since = Some(c.at);
        }
        since
    }
}

/// Karpenter, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct KarpenterSpec {
    /// `BATCH_IDLE_DURATION`.
    pub batch_idle: SimDuration,
    /// `BATCH_MAX_DURATION`.
    pub batch_max: SimDuration,
    /// NodePools, highest weight first (file order among equals).
    pub nodepools: Vec<KarpenterNodePool>,
    /// Feature gate `SpotToSpotConsolidation` (off by default, as upstream).
    pub spot_to_spot: bool,
}

/// A candidate's well-known labels, for requirements.
fn candidate_labels(it: &InstanceType, ct: CapacityType) -> BTreeMap<&'static str, String> {
    let mut l = BTreeMap::new();
    l.insert(REQUIREMENT_KEYS[0], it.id.clone());
    l.insert(REQUIREMENT_KEYS[1], ct.name().to_string());
    if let Some(g) = &it.gpu {
        l.insert(REQUIREMENT_KEYS[2], g.clone());
        l.insert(REQUIREMENT_KEYS[3], it.gpu_count.to_string());
    }
    l.insert(REQUIREMENT_KEYS[4], it.region.clone());
    l.insert(REQUIREMENT_KEYS[5], it.vcpu.to_string());
    l.insert(REQUIREMENT_KEYS[6], (it.memory_bytes >> 20).to_string());
    l.insert(REQUIREMENT_KEYS[7], it.provider.clone());
    l
}

/// A checked requirement.
struct Req {
    key: String,
    op: String,
    values: Vec<String>,
}

impl Req {
    fn matches(&self, labels: &BTreeMap<&'static str, String>) -> bool {
        let v = labels.get(self.key.as_str());
        let num = |s: &str| s.parse::<i64>().ok();
        match self.op.as_str() {
            "In" => v.is_some_and(|v| self.values.contains(v)),
            "NotIn" => v.is_none_or(|v| !self.values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            "Gt" => v
                .and_then(|v| num(v))
                .zip(num(&self.values[0]))
                .is_some_and(|(a, b)| a > b),
            "Lt" => v
                .and_then(|v| num(v))
                .zip(num(&self.values[0]))
                .is_some_and(|(a, b)| a < b),
            _ => false,
        }
    }
}

impl Validator<'_> {
    /// Validates `[karpenter]` and appends its candidate pools to the cluster (creating one if
    /// the scenario has no `[[node_pool]]`).
    pub(super) fn karpenter(
        &self,
        raw: &RawScenario,
        cluster: Option<ClusterSpec>,
        catalog: &Catalog,
    ) -> Result<(Option<ClusterSpec>, Option<KarpenterSpec>), ScenarioError> {
        let Some(k) = &raw.karpenter else {
            return Ok((cluster, None));
        };
        if raw.cluster_autoscaler.is_some() {
            return Err(self.err(
                "karpenter",
                "Karpenter and the Cluster Autoscaler are alternatives: a scenario (or a [[policy]] variant) may have one of [karpenter] and [cluster_autoscaler]",
            ));
        }
        let dur =
            |key: &str, v: Option<&String>, d: SimDuration| -> Result<SimDuration, ScenarioError> {
                let x = self.duration(key, v, d)?;
                if x == SimDuration::ZERO {
                    return Err(self.err(key, "expected a duration longer than zero"));
                }
                Ok(x)
            };
        let batch_idle = dur(
            "karpenter.batchIdleDuration",
            k.batch_idle_duration.as_ref(),
            defaults::BATCH_IDLE,
        )?;
        let batch_max = dur(
            "karpenter.batchMaxDuration",
            k.batch_max_duration.as_ref(),
            defaults::BATCH_MAX,
        )?;
        let spot_to_spot = match k
            .feature_gates
            .as_ref()
            .and_then(|g| g.spot_to_spot_consolidation.as_ref())
        {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(other) => {
                return Err(self.err(
                    "karpenter.featureGates.spotToSpotConsolidation",
                    format!("expected true or false, found {other}"),
                ))
            }
        };
        let raws = k.nodepool.as_deref().unwrap_or_default();
        if raws.is_empty() {
            return Err(self.err(
                "karpenter",
                "missing: expected at least one [[karpenter.nodepool]]",
            ));
        }
        let mut cluster = match cluster {
            Some(c) => c,
            None => ClusterSpec {
                pools: Vec::new(),
                warm_start: raw
                    .cluster
                    .as_ref()
                    .and_then(|c| c.warm_start)
                    .unwrap_or(true),
                scheduler: self.scheduler(raw.scheduler.as_ref())?,
            },
        };
        let mut nodepools = Vec::new();
        for (i, np) in raws.iter().enumerate() {
            let key = format!("karpenter.nodepool[{i}]");
            let name = self
                .required(
                    &format!("{key}.name"),
                    np.name.as_ref(),
                    "`name`, the NodePool's name",
                )?
                .clone();
            if nodepools.iter().any(|p: &KarpenterNodePool| p.name == name) {
                return Err(self.err(
                    &format!("{key}.name"),
                    format!("expected a unique NodePool name; `{name}` is used twice"),
                ));
            }
            let first_own = cluster.pools.len();
            let reqs = self.requirements(&key, np.requirements.as_ref(), catalog)?;
            let candidates =
                self.nodepool_candidates(&key, &name, np, &reqs, catalog, &mut cluster, first_own)?;
            let mut changes: Vec<NodePoolChange> = Vec::new();
            for (j, c) in np.change.iter().flatten().enumerate() {
                let ck = format!("{key}.change[{j}]");
                let at = self.required(
                    &format!("{ck}.at"),
                    c.at.as_ref(),
                    "`at`, when the NodePool changes (a duration such as \"2h\")",
                )?;
                let at = self.duration(&format!("{ck}.at"), Some(at), SimDuration::ZERO)?;
                if changes.last().is_some_and(|p| p.at >= at) {
                    return Err(self.err(
                        &format!("{ck}.at"),
                        "expected changes in time order: each `at` later than the one before",
                    ));
                }
                let Some(raw_reqs) = c.requirements.as_ref() else {
                    return Err(self.err(
                        &format!("{ck}.requirements"),
                        "missing: expected `requirements`, the NodePool's new requirements",
                    ));
                };
                let reqs = self.requirements(&ck, Some(raw_reqs), catalog)?;
                let candidates = self.nodepool_candidates(
                    &ck,
                    &name,
                    np,
                    &reqs,
                    catalog,
                    &mut cluster,
                    first_own,
                )?;
                changes.push(NodePoolChange { at, candidates });
            }
            let mut limits = BTreeMap::new();
            for (r, q) in np.limits.iter().flatten() {
                limits.insert(
                    r.clone(),
                    self.quantity(&format!("{key}.limits.\"{r}\""), q)?,
                );
            }
            let d = np.disruption.as_ref();
            let pk = format!("{key}.disruption.consolidationPolicy");
            let policy = match d.and_then(|d| d.consolidation_policy.as_deref()) {
                None | Some("WhenEmptyOrUnderutilized") => {
                    ConsolidationPolicy::WhenEmptyOrUnderutilized
                }
                Some("WhenEmpty") => ConsolidationPolicy::WhenEmpty,
                Some(other) => {
                    let names = ["WhenEmpty", "WhenEmptyOrUnderutilized"];
                    let hint = closest(other, &names)
                        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                    return Err(self.err(
                        &pk,
                        format!("unknown consolidationPolicy `{other}`: expected WhenEmpty or WhenEmptyOrUnderutilized{hint}"),
                    ));
                }
            };
            let never_or = |k: &str, v: Option<&String>, d: SimDuration| match v.map(String::as_str)
            {
                Some("Never") => Ok(None),
                _ => self.duration(k, v, d).map(Some),
            };
            let consolidate_after = never_or(
                &format!("{key}.disruption.consolidateAfter"),
                d.and_then(|d| d.consolidate_after.as_ref()),
                SimDuration::ZERO,
            )?;
            let expire_after = never_or(
                &format!("{key}.expireAfter"),
                np.expire_after.as_ref(),
                defaults::EXPIRE_AFTER,
            )?;
            let mut budgets = Vec::new();
            match d.and_then(|d| d.budgets.as_ref()) {
                None => budgets.push(Budget {
                    nodes: BudgetNodes::Percent(10),
                    reasons: Vec::new(),
                }),
                Some(list) => {
                    for (j, b) in list.iter().enumerate() {
                        let bk = format!("{key}.disruption.budgets[{j}]");
                        budgets.push(self.budget(&bk, b)?);
                    }
                }
            }
            nodepools.push(KarpenterNodePool {
                name,
                weight: np.weight.unwrap_or(0),
                candidates,
                limits,
                policy,
                consolidate_after,
                budgets,
                expire_after,
                changes,
            });
        }
        nodepools.sort_by_key(|p| std::cmp::Reverse(p.weight));
        Ok((
            Some(cluster),
            Some(KarpenterSpec {
                batch_idle,
                batch_max,
                nodepools,
                spot_to_spot,
            }),
        ))
    }

    /// The candidate pools `reqs` allow for NodePool `name`, appended to the cluster unless one
    /// of its own (from index `first_own`) already has that name.
    #[allow(clippy::too_many_arguments)]
    fn nodepool_candidates(
        &self,
        key: &str,
        name: &str,
        np: &RawKarpenterNodePool,
        reqs: &[Req],
        catalog: &Catalog,
        cluster: &mut ClusterSpec,
        first_own: usize,
    ) -> Result<Vec<usize>, ScenarioError> {
        let mut candidates = Vec::new();
        let mut ids = catalog.instance_ids();
        ids.sort_unstable();
        for id in ids {
            let it = catalog.instance(id).expect("listed by the catalog");
            for ct in [CapacityType::OnDemand, CapacityType::Spot] {
                if ct == CapacityType::Spot && it.spot_usd_per_hour.is_none() {
                    continue;
                }
                let labels = candidate_labels(it, ct);
                if !reqs.iter().all(|r| r.matches(&labels)) {
                    continue;
                }
                let mut node_labels = np.labels.clone().unwrap_or_default();
                let pool_name = format!("{name}/{id}/{}", ct.name());
                if let Some(i) =
                    (first_own..cluster.pools.len()).find(|&i| cluster.pools[i].name == pool_name)
                {
                    candidates.push(i);
                    continue;
                }
                node_labels.insert("karpenter.sh/nodepool".into(), name.to_string());
                node_labels.insert("karpenter.sh/capacity-type".into(), ct.name().into());
                let synthetic = RawNodePool {
                    name: Some(pool_name),
                    instance_type: Some(id.to_string()),
                    capacity_type: Some(match ct {
                        CapacityType::OnDemand => RawCapacityType::OnDemand,
                        CapacityType::Spot => RawCapacityType::Spot,
                    }),
                    min_size: Some(0),
                    max_size: Some(u32::MAX),
                    initial_size: Some(0),
                    provisioning_delay: np.provisioning_delay.clone(),
                    labels: Some(node_labels),
                    taints: np.taints.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| RawTaint {
                                key: t.key.clone(),
                                value: t.value.clone(),
                                effect: t.effect,
                            })
                            .collect()
                    }),
                    system_reserved: None,
                    max_pods: None,
                    image_pull_bandwidth: None,
                    model_load_bandwidth: None,
                    scale: None,
                    mig_layout: None,
                    mig_strategy: None,
                    time_slicing: None,
                    cost_rates: None,
                    mig_reconfigure: None,
                    mig_reconfigure_time: None,
                };
                let spec = self.pool(key, &synthetic, catalog)?;
                if cluster.pools.iter().any(|p| p.name == spec.name) {
                    return Err(self.err(
                        &format!("{}.name", key.split(".change[").next().unwrap_or(key)),
                        format!("a [[node_pool]] is already named `{}`", spec.name),
                    ));
                }
                candidates.push(cluster.pools.len());
                cluster.pools.push(spec);
            }
        }
        if candidates.is_empty() {
            return Err(self.err(
                    &format!("{key}.requirements"),
                    "no instance type of the catalog meets these requirements (spot needs a spot price in the catalog)",
                ));
        }
        Ok(candidates)
    }

    fn budget(&self, key: &str, b: &RawBudget) -> Result<Budget, ScenarioError> {
        let nk = format!("{key}.nodes");
        let s = b.nodes.as_deref().unwrap_or(defaults::BUDGET_NODES);
        let nodes = if let Some(p) = s.strip_suffix('%') {
            match p.parse::<u32>() {
                Ok(p) if p <= 100 => BudgetNodes::Percent(p),
                _ => {
                    return Err(self.err(
                        &nk,
                        format!(
                            "expected a percentage from 0% to 100% or a node count, found \"{s}\""
                        ),
                    ))
                }
            }
        } else {
            BudgetNodes::Count(s.parse::<u32>().map_err(|_| {
                self.err(
                    &nk,
                    format!(
                        "expected a node count (\"10\") or a percentage (\"10%\"), found \"{s}\""
                    ),
                )
            })?)
        };
        let mut reasons = Vec::new();
        for (j, r) in b.reasons.iter().flatten().enumerate() {
            reasons.push(match r.as_str() {
                "Empty" => DisruptionReason::Empty,
                "Underutilized" => DisruptionReason::Underutilized,
                "Drifted" => DisruptionReason::Drifted,
                other => {
                    return Err(self.err(
                        &format!("{key}.reasons[{j}]"),
                        format!(
                            "unknown reason `{other}`: expected Empty, Underutilized or Drifted"
                        ),
                    ))
                }
            });
        }
        Ok(Budget { nodes, reasons })
    }

    fn requirements(
        &self,
        key: &str,
        requirements: Option<&Vec<RawRequirement>>,
        catalog: &Catalog,
    ) -> Result<Vec<Req>, ScenarioError> {
        let mut out = Vec::new();
        let mut has_capacity_type = false;
        for (j, r) in requirements.into_iter().flatten().enumerate() {
            let rk = format!("{key}.requirements[{j}]");
            let k = self.required(
                &format!("{rk}.key"),
                r.key.as_ref(),
                "`key`, a well-known label",
            )?;
            if !REQUIREMENT_KEYS.contains(&k.as_str()) {
                let hint = closest(k, &REQUIREMENT_KEYS)
                    .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                return Err(self.err(
                    &format!("{rk}.key"),
                    format!(
                        "capsim cannot match on `{k}`: expected one of {}{hint}",
                        REQUIREMENT_KEYS.join(", ")
                    ),
                ));
            }
            let op = self.required(
                &format!("{rk}.operator"),
                r.operator.as_ref(),
                "`operator`: In, NotIn, Exists, DoesNotExist, Gt or Lt",
            )?;
            let values = r.values.clone().unwrap_or_default();
            let ok = match op.as_str() {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                "Gt" | "Lt" => values.len() == 1 && values[0].parse::<i64>().is_ok(),
                other => {
                    return Err(self.err(
                        &format!("{rk}.operator"),
                        format!("unknown operator `{other}`: expected In, NotIn, Exists, DoesNotExist, Gt or Lt"),
                    ))
                }
            };
            if !ok {
                return Err(self.err(
                    &format!("{rk}.values"),
                    format!(
                        "`{op}` takes {}",
                        match op.as_str() {
                            "In" | "NotIn" => "one or more values",
                            "Exists" | "DoesNotExist" => "no values",
                            _ => "exactly one integer value",
                        }
                    ),
                ));
            }
            let known: Option<Vec<&str>> = match k.as_str() {
                "node.kubernetes.io/instance-type" => Some(catalog.instance_ids()),
                "karpenter.sh/capacity-type" => {
                    has_capacity_type = true;
                    Some(vec!["on-demand", "spot"])
                }
                "nvidia.com/gpu.product" => Some(catalog.gpu_ids()),
                _ => None,
            };
            if let (Some(known), "In" | "NotIn") = (known, op.as_str()) {
                for (v_i, v) in values.iter().enumerate() {
                    if !known.contains(&v.as_str()) {
                        let hint = closest(v, &known)
                            .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                        return Err(self.err(
                            &format!("{rk}.values[{v_i}]"),
                            format!(
                                "unknown value `{v}` for `{k}`: expected one of {}{hint}",
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            out.push(Req {
                key: k.clone(),
                op: op.clone(),
                values,
            });
        }
        if !has_capacity_type {
            // Upstream (AWS) defaults a NodePool without a capacity-type requirement to on-demand.
            out.push(Req {
                key: REQUIREMENT_KEYS[1].to_string(),
                op: "In".into(),
                values: vec!["on-demand".into()],
            });
        }
        Ok(out)
    }
}
