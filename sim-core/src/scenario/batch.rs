//! Namespaces with ResourceQuotas, PriorityClasses, and Kueue-style batch work: `[[namespace]]`,
//! `[[priority_class]]`, `[[batch.queue]]` (ClusterQueues whose flavors are node pools) and
//! `[[batch.job]]` (Jobs submitted to them).

use super::cluster::ClusterSpec;
use super::error::closest;
use super::model::Validator;
use super::raw::{RawQuantity, RawScenario};
use super::ScenarioError;
use crate::cluster::Quantity;
use crate::engine::SimDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[[namespace]]`: a namespace and its ResourceQuota.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamespace {
    /// The namespace's name.
    pub name: String,
    /// `spec.hard` of its ResourceQuota: `requests.cpu`, `requests.memory`,
    /// `requests.nvidia.com/gpu` (any `requests.<resource>`), `cpu`, `memory`, `pods`.
    pub quota: Option<BTreeMap<String, RawQuantity>>,
}

/// `[[priority_class]]`: a PriorityClass (scheduling.k8s.io/v1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriorityClass {
    /// Its name.
    pub name: String,
    /// `value`: higher is more important (at most 1000000000 for user classes).
    pub value: i64,
    /// `preemptionPolicy`: `PreemptLowerPriority` (default) or `Never`.
    pub preemption_policy: Option<String>,
    /// `globalDefault`: the priority of pods that name no class.
    pub global_default: Option<bool>,
}

/// `[batch]`: Kueue's ClusterQueues and the jobs submitted to them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// `[[batch.queue]]`.
    pub queue: Option<Vec<RawClusterQueue>>,
    /// `[[batch.job]]`.
    pub job: Option<Vec<RawBatchJob>>,
}

/// `[[batch.queue]]`: a ClusterQueue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClusterQueue {
    /// Its name (jobs name it).
    pub name: String,
    /// `cohort`: queues of one cohort lend each other unused nominal quota.
    pub cohort: Option<String>,
    /// `queueingStrategy`: `BestEffortFIFO` (default) or `StrictFIFO`.
    pub queueing_strategy: Option<String>,
    /// `[[batch.queue.flavor]]`: quota per ResourceFlavor, tried in order.
    pub flavor: Option<Vec<RawFlavorQuota>>,
}

/// `[[batch.queue.flavor]]`: one ResourceFlavor (a node pool) and its quotas.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlavorQuota {
    /// The node pool this flavor stands for.
    pub pool: String,
    /// `nominalQuota` per resource (`cpu`, `memory`, `nvidia.com/gpu`, ...).
    pub nominal_quota: BTreeMap<String, RawQuantity>,
    /// `borrowingLimit` per resource (with a cohort; absent: unlimited).
    pub borrowing_limit: Option<BTreeMap<String, RawQuantity>>,
}

/// `[[batch.job]]`: a Job (or `count` of them) submitted to a queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatchJob {
    /// Name (with `count`, each copy gets `-<i>`).
    pub name: Option<String>,
    /// The ClusterQueue.
    pub queue: String,
    /// Namespace (default `default`).
    pub namespace: Option<String>,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// When the first copy is submitted (default 0s).
    pub arrival: Option<String>,
    /// Copies submitted (default 1).
    pub count: Option<u32>,
    /// Time between copies (default 0s).
    pub interval: Option<String>,
    /// Pods, run as a gang (default 1).
    pub parallelism: Option<u32>,
    /// Each pod's requests.
    pub requests: BTreeMap<String, RawQuantity>,
    /// Wall time the gang must run to finish.
    pub duration: Option<String>,
    /// Or: the job's work in GPU-hours, spread over its GPUs.
    pub gpu_hours: Option<f64>,
    /// Progress is saved every this much running time (absent: a preempted job restarts).
    pub checkpoint_interval: Option<String>,
    /// Grace period of its pods when evicted (default 30s).
    pub termination_grace: Option<String>,
}

/// A PriorityClass's value and whether its pods may preempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Priority {
    /// Its value.
    pub value: i32,
    /// `preemptionPolicy: PreemptLowerPriority`.
    pub preempts: bool,
}

/// A namespace and its quota.
#[derive(Clone, Debug, PartialEq)]
pub struct NamespaceSpec {
    /// Name.
    pub name: String,
    /// Hard limits on the sum of its pods' requests, by resource name (`pods` counts pods).
    pub hard: BTreeMap<String, Quantity>,
}

/// Namespaces, quotas and priorities of the serving Deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdmissionSpec {
    /// Declared namespaces (`default` is implied).
    pub namespaces: Vec<NamespaceSpec>,
    /// The serving Deployment's namespace (index into `namespaces`, `None`: an implied one
    /// without quota).
    pub service_namespace: Option<usize>,
    /// The serving pods' priority.
    pub service_priority: Priority,
}

impl AdmissionSpec {
    /// Every resource name a quota or a batch pod refers to.
    pub fn resource_names<'a>(
        &'a self,
        batch: Option<&'a BatchSpec>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .iter()
            .flat_map(|n| n.hard.keys())
            .chain(batch.into_iter().flat_map(|b| {
                b.jobs.iter().flat_map(|j| j.requests.keys()).chain(
                    b.queues
                        .iter()
                        .flat_map(|q| q.flavors.iter().flat_map(|f| f.nominal.keys())),
                )
            }))
            .map(String::as_str)
    }
}

/// A ClusterQueue.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterQueueSpec {
    /// Name.
    pub name: String,
    /// Cohort, if any.
    pub cohort: Option<String>,
    /// `StrictFIFO`: the head blocks the queue; else (`BestEffortFIFO`) later workloads that
    /// fit are admitted past it.
    pub strict_fifo: bool,
    /// Flavors in order of preference.
    pub flavors: Vec<FlavorQuota>,
}

/// One flavor's quota in a ClusterQueue.
#[derive(Clone, Debug, PartialEq)]
pub struct FlavorQuota {
    /// Node pool index.
    pub pool: usize,
    /// Nominal quota by resource name.
    pub nominal: BTreeMap<String, Quantity>,
    /// Borrowing limit by resource name (absent resource: unlimited).
    pub borrowing_limit: Option<BTreeMap<String, Quantity>>,
}

/// One submitted job.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchJobSpec {
    /// Name.
    pub name: String,
    /// ClusterQueue index.
    pub queue: usize,
    /// Namespace index into [`AdmissionSpec::namespaces`] (`None`: one without quota).
    pub namespace: Option<usize>,
    /// Its pods' priority.
    pub priority: Priority,
    /// Submission time.
    pub arrival: SimDuration,
    /// Pods (a gang).
    pub parallelism: u32,
    /// Each pod's requests.
    pub requests: BTreeMap<String, Quantity>,
    /// Running time needed.
    pub duration: SimDuration,
    /// Checkpoint period, if it checkpoints.
    pub checkpoint_interval: Option<SimDuration>,
    /// Its pods' termination grace period.
    pub termination_grace: SimDuration,
}

/// Kueue's queues and the jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSpec {
    /// ClusterQueues.
    pub queues: Vec<ClusterQueueSpec>,
    /// Jobs, in submission order.
    pub jobs: Vec<BatchJobSpec>,
}

/// Most copies one `[[batch.job]]` may submit.
pub const MAX_JOB_COPIES: u32 = 100_000;

/// Largest value a user PriorityClass may have (upstream `HighestUserDefinablePriority`).
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// Maps a ResourceQuota `spec.hard` key to the resource it limits, if it is one capsim models.
pub fn quota_resource(key: &str) -> Option<&str> {
    match key {
        "cpu" | "requests.cpu" => Some("cpu"),
        "memory" | "requests.memory" => Some("memory"),
        "pods" => Some("pods"),
        k => k.strip_prefix("requests.").filter(|r| !r.is_empty()),
    }
}

fn quoted(key: &str) -> String {
    if key.contains('.') || key.contains('/') {
        format!("\"{key}\"")
    } else {
        key.to_string()
    }
}

impl Validator<'_> {
    fn quantities(
        &self,
        prefix: &str,
        map: &BTreeMap<String, RawQuantity>,
    ) -> Result<BTreeMap<String, Quantity>, ScenarioError> {
        let mut out = BTreeMap::new();
        for (k, q) in map {
            out.insert(
                k.clone(),
                self.quantity(&format!("{prefix}.{}", quoted(k)), q)?,
            );
        }
        Ok(out)
    }

    fn priority(
        &self,
        key: &str,
        name: Option<&String>,
        classes: &BTreeMap<String, Priority>,
        default: Priority,
    ) -> Result<Priority, ScenarioError> {
        let Some(n) = name else { return Ok(default) };
        classes.get(n).copied().ok_or_else(|| {
            let names: Vec<&str> = classes.keys().map(String::as_str).collect();
            let hint = closest(n, &names).map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            self.err(
                key,
                format!(
                    "unknown priority class `{n}`: expected one of the [[priority_class]] names ({}){hint}",
                    if names.is_empty() { "none declared".to_string() } else { names.join(", ") }
                ),
            )
        })
    }

    fn namespace_ref(
        &self,
        key: &str,
        name: Option<&String>,
        namespaces: &[NamespaceSpec],
    ) -> Result<Option<usize>, ScenarioError> {
        let n = name.map_or("default", String::as_str);
        match namespaces.iter().position(|x| x.name == n) {
            Some(i) => Ok(Some(i)),
            None if n == "default" => Ok(None),
            None => {
                let names: Vec<&str> = namespaces.iter().map(|x| x.name.as_str()).collect();
                let hint =
                    closest(n, &names).map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                Err(self.err(
                    key,
                    format!(
                        "unknown namespace `{n}`: expected `default` or a [[namespace]] name{hint}"
                    ),
                ))
            }
        }
    }

    /// `[[namespace]]`, `[[priority_class]]` and the service's `namespace` / `priority_class`.
    pub(super) fn admission(
        &self,
        raw: &RawScenario,
    ) -> Result<(AdmissionSpec, BTreeMap<String, Priority>, Priority), ScenarioError> {
        let mut namespaces: Vec<NamespaceSpec> = Vec::new();
        for (i, n) in raw.namespace.iter().flatten().enumerate() {
            let key = format!("namespace[{i}]");
            if n.name.is_empty() {
                return Err(self.err(&format!("{key}.name"), "expected a namespace name"));
            }
            if namespaces.iter().any(|x| x.name == n.name) {
                return Err(self.err(
                    &format!("{key}.name"),
                    format!("namespace `{}` is declared twice", n.name),
                ));
            }
            let mut hard = BTreeMap::new();
            for (k, q) in n.quota.iter().flatten() {
                let qk = format!("{key}.quota.{}", quoted(k));
                let Some(r) = quota_resource(k) else {
                    return Err(self.err(&qk, format!("unsupported quota `{k}`: expected `requests.cpu`, `requests.memory`, `requests.<extended resource>` (such as `requests.nvidia.com/gpu`), `cpu`, `memory` or `pods` (limits and object counts are not modelled)")));
                };
                let q = self.quantity(&qk, q)?;
                if hard.insert(r.to_string(), q).is_some() {
                    return Err(self.err(
                        &qk,
                        format!("the quota on `{r}` is given twice (`{r}` and `requests.{r}` are one limit)"),
                    ));
                }
            }
            namespaces.push(NamespaceSpec {
                name: n.name.clone(),
                hard,
            });
        }
        let mut classes = BTreeMap::new();
        let mut default = Priority {
            value: 0,
            preempts: true,
        };
        let mut default_seen = false;
        for (i, c) in raw.priority_class.iter().flatten().enumerate() {
            let key = format!("priority_class[{i}]");
            if c.name.is_empty() || c.name.starts_with("system-") {
                return Err(self.err(
                    &format!("{key}.name"),
                    "expected a name that does not start with `system-` (reserved upstream)",
                ));
            }
            if c.value > HIGHEST_USER_PRIORITY || c.value < i32::MIN as i64 {
                return Err(self.err(
                    &format!("{key}.value"),
                    format!("expected a value from -2147483648 to 1000000000 (higher values are reserved for system classes), found {}", c.value),
                ));
            }
            let preempts = match c.preemption_policy.as_deref() {
                None | Some("PreemptLowerPriority") => true,
                Some("Never") => false,
                Some(s) => {
                    return Err(self.err(
                        &format!("{key}.preemption_policy"),
                        format!("unknown preemption policy `{s}`: expected `PreemptLowerPriority` or `Never`"),
                    ))
                }
            };
            let p = Priority {
                value: c.value as i32,
                preempts,
            };
            if classes.insert(c.name.clone(), p).is_some() {
                return Err(self.err(
                    &format!("{key}.name"),
                    format!("priority class `{}` is declared twice", c.name),
                ));
            }
            if c.global_default.unwrap_or(false) {
                if default_seen {
                    return Err(self.err(
                        &format!("{key}.global_default"),
                        "only one priority class may be the global default",
                    ));
                }
                default_seen = true;
                default = p;
            }
        }
        let svc = raw.service.as_ref();
        let service_namespace = self.namespace_ref(
            "service.namespace",
            svc.and_then(|s| s.namespace.as_ref()),
            &namespaces,
        )?;
        let service_priority = self.priority(
            "service.priority_class",
            svc.and_then(|s| s.priority_class.as_ref()),
            &classes,
            default,
        )?;
        Ok((
            AdmissionSpec {
                namespaces,
                service_namespace,
                service_priority,
            },
            classes,
            default,
        ))
    }

    /// `[batch]`.
    pub(super) fn batch(
        &self,
        raw: &RawScenario,
        admission: &AdmissionSpec,
        classes: &BTreeMap<String, Priority>,
        default_priority: Priority,
        cluster: Option<&ClusterSpec>,
    ) -> Result<Option<BatchSpec>, ScenarioError> {
        let Some(b) = &raw.batch else { return Ok(None) };
        let Some(cluster) = cluster else {
            return Err(self.err(
                "batch",
                "batch jobs run as pods on nodes: expected [[node_pool]]s or [karpenter]",
            ));
        };
        let pool_names: Vec<&str> = cluster.pools.iter().map(|p| p.name.as_str()).collect();
        let mut queues: Vec<ClusterQueueSpec> = Vec::new();
        for (i, q) in b.queue.iter().flatten().enumerate() {
            let key = format!("batch.queue[{i}]");
            if queues.iter().any(|x| x.name == q.name) {
                return Err(self.err(
                    &format!("{key}.name"),
                    format!("queue `{}` is declared twice", q.name),
                ));
            }
            let strict_fifo = match q.queueing_strategy.as_deref() {
                None | Some("BestEffortFIFO") => false,
                Some("StrictFIFO") => true,
                Some(s) => {
                    return Err(self.err(
                        &format!("{key}.queueing_strategy"),
                        format!("unknown queueing strategy `{s}`: expected `BestEffortFIFO` or `StrictFIFO`"),
                    ))
                }
            };
            let mut flavors = Vec::new();
            for (j, f) in q.flavor.iter().flatten().enumerate() {
                let fk = format!("{key}.flavor[{j}]");
                let Some(pool) = pool_names.iter().position(|&n| n == f.pool) else {
                    let hint = closest(&f.pool, &pool_names)
                        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                    return Err(self.err(
                        &format!("{fk}.pool"),
                        format!(
                            "unknown node pool `{}`: expected one of {}{hint}",
                            f.pool,
                            pool_names.join(", ")
                        ),
                    ));
                };
                if cluster.pools[pool].time_slicing.is_some() {
                    return Err(self.err(
                        &format!("{fk}.pool"),
                        format!("node pool `{}` time-slices its GPUs: batch pods are placed on whole GPUs or MIG slices only", f.pool),
                    ));
                }
                if f.borrowing_limit.is_some() && q.cohort.is_none() {
                    return Err(self.err(
                        &format!("{fk}.borrowing_limit"),
                        "a borrowing limit needs a `cohort` to borrow from",
                    ));
                }
                flavors.push(FlavorQuota {
                    pool,
                    nominal: self.quantities(&format!("{fk}.nominal_quota"), &f.nominal_quota)?,
                    borrowing_limit: f
                        .borrowing_limit
                        .as_ref()
                        .map(|m| self.quantities(&format!("{fk}.borrowing_limit"), m))
                        .transpose()?,
                });
            }
            if flavors.is_empty() {
                return Err(self.err(
                    &key,
                    "missing: expected at least one [[batch.queue.flavor]] with a `pool` and a `nominal_quota`",
                ));
            }
            queues.push(ClusterQueueSpec {
                name: q.name.clone(),
                cohort: q.cohort.clone(),
                strict_fifo,
                flavors,
            });
        }
        let queue_names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        let mut jobs = Vec::new();
        for (i, j) in b.job.iter().flatten().enumerate() {
            let key = format!("batch.job[{i}]");
            let Some(queue) = queue_names.iter().position(|&n| n == j.queue) else {
                let hint = closest(&j.queue, &queue_names)
                    .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                return Err(self.err(
                    &format!("{key}.queue"),
                    format!(
                        "unknown queue `{}`: expected a [[batch.queue]] name{hint}",
                        j.queue
                    ),
                ));
            };
            let namespace = self.namespace_ref(
                &format!("{key}.namespace"),
                j.namespace.as_ref(),
                &admission.namespaces,
            )?;
            let priority = self.priority(
                &format!("{key}.priority_class"),
                j.priority_class.as_ref(),
                classes,
                default_priority,
            )?;
            let arrival = self.duration(
                &format!("{key}.arrival"),
                j.arrival.as_ref(),
                SimDuration::ZERO,
            )?;
            let count = j.count.unwrap_or(1);
            if count == 0 || count > MAX_JOB_COPIES {
                return Err(self.err(
                    &format!("{key}.count"),
                    format!("expected 1 to {MAX_JOB_COPIES} copies, found {count}"),
                ));
            }
            let interval = self.duration(
                &format!("{key}.interval"),
                j.interval.as_ref(),
                SimDuration::ZERO,
            )?;
            let parallelism = j.parallelism.unwrap_or(1);
            if parallelism == 0 {
                return Err(self.err(&format!("{key}.parallelism"), "expected at least 1 pod"));
            }
            super::limits::PODS_PER_JOB
                .check(parallelism.into())
                .map_err(|m| self.err(&format!("{key}.parallelism"), m))?;
            let requests = self.quantities(&format!("{key}.requests"), &j.requests)?;
            if requests.values().all(|q| q.milli() == 0) {
                return Err(self.err(
                    &format!("{key}.requests"),
                    "expected each pod to request something (such as `\"nvidia.com/gpu\" = 1`)",
                ));
            }
            let gpus = requests
                .get(crate::cluster::resources::NVIDIA_GPU)
                .map_or(0.0, |q| q.milli() as f64 / 1000.0)
                * parallelism as f64;
            let duration = match (&j.duration, j.gpu_hours) {
                (Some(d), None) => self.duration(&format!("{key}.duration"), Some(d), SimDuration::ZERO)?,
                (None, Some(h)) if h.is_finite() && h > 0.0 && gpus > 0.0 => {
                    SimDuration::from_secs_f64(h * 3600.0 / gpus)
                }
                (None, Some(_)) if gpus == 0.0 => {
                    return Err(self.err(&format!("{key}.gpu_hours"), "work in GPU-hours needs pods that request `nvidia.com/gpu`; give `duration` instead"))
                }
                (None, Some(h)) => {
                    return Err(self.err(&format!("{key}.gpu_hours"), format!("expected GPU-hours above zero, found {h}")))
                }
                (Some(_), Some(_)) => {
                    return Err(self.err(&format!("{key}.gpu_hours"), "give `duration` or `gpu_hours`, not both"))
                }
                (None, None) => {
                    return Err(self.err(&key, "missing: expected `duration` (wall time the job runs) or `gpu_hours` (its work)"))
                }
            };
            if duration == SimDuration::ZERO {
                return Err(self.err(
                    &format!("{key}.duration"),
                    "expected a duration longer than zero",
                ));
            }
            let checkpoint_interval = match &j.checkpoint_interval {
                None => None,
                Some(s) => {
                    let d = self.duration(
                        &format!("{key}.checkpoint_interval"),
                        Some(s),
                        SimDuration::ZERO,
                    )?;
                    if d == SimDuration::ZERO {
                        return Err(self.err(
                            &format!("{key}.checkpoint_interval"),
                            "expected an interval longer than zero",
                        ));
                    }
                    super::limits::ROUNDS
                        .check(super::limits::rounds(duration, d))
                        .map_err(|m| self.err(&format!("{key}.checkpoint_interval"), m))?;
                    Some(d)
                }
            };
            let termination_grace = self.duration(
                &format!("{key}.termination_grace"),
                j.termination_grace.as_ref(),
                crate::cluster::pod::DEFAULT_GRACE,
            )?;
            // The whole gang must fit some flavor's quota, and one pod some node of that pool.
            let q = &queues[queue];
            // Kueue admits a workload only if every resource it requests is covered by the
            // flavor's quota (pods only where the quota names them).
            let short = |f: &FlavorQuota| {
                requests.iter().find_map(|(r, per)| {
                    let need = per.milli() * parallelism as u128;
                    let ok = need == 0
                        || match f.nominal.get(r) {
                            Some(n) => q.cohort.is_some() || n.milli() >= need,
                            None => false,
                        };
                    (!ok).then(|| (r.clone(), Quantity::from_milli(need)))
                })
            };
            if let Some((r, need)) = q
                .flavors
                .iter()
                .map(short)
                .reduce(|a, b| a.and(b))
                .flatten()
            {
                return Err(self.err(
                    &format!("{key}.requests"),
                    format!("the job's {parallelism} pods need {need} of `{r}`, which no flavor of queue `{}` covers (nominal_quota): Kueue would never admit it", q.name),
                ));
            }
            let fits_node = q.flavors.iter().any(|f| {
                let alloc = &cluster.pools[f.pool].allocatable;
                requests
                    .iter()
                    .all(|(r, per)| per.milli() == 0 || alloc.get(r).is_some_and(|a| a >= per))
            });
            if !fits_node {
                return Err(self.err(
                    &format!("{key}.requests"),
                    format!("one pod of the job requests more than a node of any pool of queue `{}` has allocatable", q.name),
                ));
            }
            let base = j.name.clone().unwrap_or_else(|| format!("job-{i}"));
            for c in 0..count {
                jobs.push(BatchJobSpec {
                    name: if count == 1 {
                        base.clone()
                    } else {
                        format!("{base}-{c}")
                    },
                    queue,
                    namespace,
                    priority,
                    arrival: SimDuration(
                        arrival
                            .0
                            .saturating_add(interval.0.saturating_mul(c as u64)),
                    ),
                    parallelism,
                    requests: requests.clone(),
                    duration,
                    checkpoint_interval,
                    termination_grace,
                });
            }
        }
        if jobs.is_empty() {
            return Err(self.err("batch", "missing: expected at least one [[batch.job]]"));
        }
        jobs.sort_by_key(|j| j.arrival);
        Ok(Some(BatchSpec { queues, jobs }))
    }
}

#[cfg(test)]
mod tests {
    use super::quota_resource;

    #[test]
    fn quota_keys_map_to_resources() {
        assert_eq!(
            quota_resource("requests.nvidia.com/gpu"),
            Some("nvidia.com/gpu")
        );
        assert_eq!(quota_resource("cpu"), Some("cpu"));
        assert_eq!(quota_resource("requests.memory"), Some("memory"));
        assert_eq!(quota_resource("pods"), Some("pods"));
        assert_eq!(quota_resource("limits.cpu"), None);
        assert_eq!(quota_resource("requests."), None);
    }
}
