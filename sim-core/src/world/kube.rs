//! Nodes and pods: pools, provisioning, scheduling, pod start-up, scaling and termination, and the
//! cost they run up.

mod cluster_autoscaler;
pub(super) mod cost;
pub(super) mod failure;
pub(super) mod karpenter;
pub(super) mod kueue;
mod pdb;
mod preempt;
mod quota;
pub(super) mod rollout;
mod snapshot;
mod timeslice;
pub use timeslice::{share_of, MEASURED_SHARES};
pub(super) mod vpa;

use super::{Event, World};
use crate::cluster::{
    Labels, NodePoolSpec, PodSelector, PodTemplate, Quantity, ResVec, ResourceNames,
};
use crate::engine::{Rng, RngStreams, SimDuration, SimTime, NANOS_PER_SEC};
use crate::ids::ServiceId;
use crate::ids::{EngineId, NodeId, PodId, PoolId};
use crate::metrics::{ClusterGauge, RequestSink};
use crate::results::{ClusterOutcome, PoolOutcome};
use crate::scenario::{Dispatch, Scenario};
use crate::scheduler::config::SchedulerConfig;
use crate::scheduler::framework::select;
use crate::scheduler::{NodeView, PodView};
use crate::serving::{DropReason, ReplicaEngine};

/// A node's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NodePhase {
    /// Launched, not yet Ready (billed).
    Provisioning,
    /// Ready for pods.
    Ready,
    /// Cordoned; its pods are terminating; removed when empty.
    Draining,
    /// Failed (silent or out of service): not schedulable, still billed.
    NotReady,
    /// Gone (billing stopped).
    Terminated,
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pool: PoolId,
    phase: NodePhase,
    launched: SimTime,
    ended: Option<SimTime>,
    requested: ResVec,
    labels: Labels,
    image_ready_at: Option<SimTime>,
    pods: u32,
    /// Of `pods`, those terminating (PodTopologySpread does not count them).
    terminating: u32,
    /// Of `pods`, batch pods (not the Deployment's).
    batch_pods: u32,
    /// Bumped on every change, for per-node caches.
    version: u64,
    /// Shares of time-sliced GPUs, on such nodes.
    shared: Option<timeslice::SharedGpus>,
    /// When a pod last bound to or left the node (or the node became Ready).
    last_pod_event: SimTime,
}

impl Node {
    /// Seconds billed by `horizon`: from launch to termination or the horizon, per second,
    /// rounded up to a whole second.
    fn billed_seconds(&self, horizon: SimTime) -> u64 {
        let end = self.ended.unwrap_or(horizon).min(horizon);
        end.since(self.launched).0.div_ceil(NANOS_PER_SEC)
    }
}

/// A pod's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PodPhase {
    /// Waiting for a node.
    Pending,
    /// Bound: pulling its image, loading its model, waiting for its readiness probe.
    Starting,
    /// Serving.
    Ready,
    /// Out of the router, finishing in-flight work within its grace period.
    Terminating,
    /// Gone.
    Gone,
}

#[derive(Clone, Debug)]
pub(super) struct Pod {
    phase: PodPhase,
    node: Option<NodeId>,
    created: SimTime,
    bound: Option<SimTime>,
    ready_since: Option<SimTime>,
    generation: u32,
    /// Its share of a time-sliced GPU.
    share: timeslice::GpuShare,
    /// Its own requests (and their non-zero form) where they differ from the template's (VPA).
    requests: Option<Box<(ResVec, ResVec)>>,
    /// The model version it runs (0: `[service]`; n: the n-th `[[rollout]]`'s).
    version: u32,
    /// The service whose Deployment owns it.
    svc: ServiceId,
    /// Its engine's slot within its service.
    slot: EngineId,
    /// When it was gone (its containers exited), if it is.
    gone_at: Option<SimTime>,
    /// When it was last charged for its requests (its binding, then each charge).
    cost_from: SimTime,
    /// GPU-equivalents it holds while bound ([`Kube::gpu_equivalents`]; 0 when not bound).
    gpus: f64,
    /// USD per hour its requests cost at its node's rates while bound (0 when not bound).
    cost_rate: f64,
}

/// What controllers see of a pod.
#[derive(Clone, Copy, Debug)]
pub(super) struct PodStatus {
    /// The pod.
    pub(super) id: PodId,
    /// Its engine's slot within its service.
    pub(super) slot: EngineId,
    /// Its phase.
    pub(super) phase: PodPhase,
    /// When it was created.
    pub(super) created: SimTime,
    /// When it was bound to a node (its containers' start), if it was.
    pub(super) bound: Option<SimTime>,
    /// When it last became Ready, if it did.
    pub(super) ready_since: Option<SimTime>,
}

#[derive(Clone, Debug)]
struct Pool {
    spec: NodePoolSpec,
    allocatable: ResVec,
}

/// The Kubernetes side of the world.
#[derive(Debug)]
pub(super) struct Kube {
    /// Whether pods run on nodes (false: abstract replicas, Ready as soon as created).
    pub(super) has_nodes: bool,
    warm_start: bool,
    names: ResourceNames,
    pools: Vec<Pool>,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    /// Every service's Deployment, by service id.
    deps: Vec<Deployment>,
    scheduler: SchedulerConfig,
    sched_rng: Rng,
    scratch: Vec<(usize, i64)>,
    /// Per node and service, the pods (then the terminating pods) a pod whose constraints
    /// select other services' pods counts; refilled for each such pod, kept for its capacity.
    by_service: Vec<u32>,
    /// Pending pods, ascending.
    pending: Vec<PodId>,
    warnings: Vec<String>,
    last_unschedulable: Option<String>,
    overcommits: u64,
    /// The Cluster Autoscaler, if the scenario has one.
    pub(super) ca: Option<cluster_autoscaler::ClusterAutoscaler>,
    /// Karpenter, if the scenario has it.
    pub(super) karpenter: Option<karpenter::Karpenter>,
    /// Pods OOM-killed on time-sliced GPUs.
    oom_kills: u64,
    /// Failures, their timeline and recovery.
    pub(super) fail: failure::FailState,
    /// Namespaces' ResourceQuotas.
    quotas: quota::Quotas,
    /// Preemptions and nominated pods.
    pub(super) preemption: preempt::Preemption,
    /// Kueue and its batch pods, if the scenario has batch work.
    pub(super) kueue: Option<kueue::Kueue>,
    /// What pods have been charged for the nodes they use.
    cost: cost::CostBook,
}

/// A service's Deployment as the cluster sees it: its pod template and requests, its desired
/// and Ready replicas, its versions, namespace and priority.
#[derive(Debug)]
pub(super) struct Deployment {
    template: PodTemplate,
    pod_req: ResVec,
    pod_req_nonzero: ResVec,
    desired: u32,
    scale: Vec<(SimTime, u32)>,
    /// Engine slots of Ready pods, ascending.
    ready: Vec<EngineId>,
    /// Bumped at each change of `ready` (through [`Deployment::ready_mut`]): a router's index
    /// rebuilds when it moves.
    ready_version: u64,
    /// The pod of each engine slot.
    slots: Vec<PodId>,
    /// Replicas of a shared queue (no pods); 0 behind a router.
    shared_instances: u32,
    /// Shares of a time-sliced GPU each pod requests.
    shared_request: u64,
    /// The pod templates of versions 1, 2, … (`[[rollout]]`), and their requests.
    versions: Vec<(PodTemplate, (ResVec, ResVec))>,
    /// The Deployment's namespace (index into the quotas' namespaces).
    service_ns: Option<usize>,
    /// Its pods' priority.
    priority: crate::scenario::batch::Priority,
    /// Its PodDisruptionBudget, if any.
    pdb: Option<crate::scenario::failure::PdbBound>,
    /// Other services (by index) whose pods' required anti-affinity terms select this one's,
    /// with each term's topology key (the scheduler's symmetric check).
    held_off: Vec<(usize, String)>,
    /// GPU-equivalents its bound pods hold (whole GPUs, MIG slices and time-sliced shares).
    gpus_held: f64,
    /// USD per hour its bound pods' requests cost at their nodes' rates (`services.csv`'s
    /// `cost_usd_per_hour`).
    cost_rate_held: f64,
}

impl Deployment {
    /// The Ready list, to change: bumps its version.
    fn ready_mut(&mut self) -> &mut Vec<EngineId> {
        self.ready_version += 1;
        &mut self.ready
    }
}

impl Kube {
    pub(super) fn new(s: &Scenario, streams: &RngStreams) -> Kube {
        let mut names = ResourceNames::default();
        for v in s.services() {
            for k in v.service.pod.resources.effective_requests().keys() {
                names.intern(k);
            }
            for r in &v.rollouts {
                for k in r.service.pod.resources.effective_requests().keys() {
                    names.intern(k);
                }
            }
        }
        let pools: Vec<NodePoolSpec> = s
            .cluster
            .as_ref()
            .map(|c| c.pools.clone())
            .unwrap_or_default();
        for k in s.admission.resource_names(s.batch.as_ref()) {
            names.intern(k);
        }
        for p in &pools {
            for k in p.allocatable.keys() {
                names.intern(k);
            }
            for (_, _, alloc) in &p.mig_changes {
                for k in alloc.keys() {
                    names.intern(k);
                }
            }
        }
        let mut warnings = Vec::new();
        let multi = !s.others.is_empty();
        for v in s.services().filter(|_| !pools.is_empty()) {
            let requests = v.service.pod.resources.effective_requests();
            let (pod_req, _) = request_vectors(&names, &requests);
            let whose = if multi {
                format!("service `{}`: ", v.service.name)
            } else {
                String::new()
            };
            for (i, r) in pod_req.0.iter().enumerate() {
                if *r == 0 || i == ResourceNames::PODS {
                    continue;
                }
                let name = names.name(i).to_string();
                let best = pools
                    .iter()
                    .map(|p| p.allocatable.get(&name).map_or(0, |q| q.milli()))
                    .max()
                    .unwrap_or(0);
                if (*r as u128) > best {
                    let q = Quantity::from_milli(*r as u128);
                    warnings.push(if best == 0 {
                        format!("{whose}pods request {q} of `{name}`, which no node pool offers: they will stay Pending")
                    } else {
                        format!(
                            "{whose}pods request {q} of `{name}`, more than any node pool's allocatable ({}): they will stay Pending",
                            Quantity::from_milli(best)
                        )
                    });
                }
            }
        }
        let pools: Vec<Pool> = pools
            .into_iter()
            .map(|spec| Pool {
                allocatable: names.vector(&spec.allocatable),
                spec,
            })
            .collect();
        let time_sliced = s
            .cluster
            .iter()
            .flat_map(|c| c.pools.iter())
            .find_map(|p| p.time_slicing.as_ref());
        let deps: Vec<Deployment> = s
            .services()
            .map(|v| {
                let svc = &v.service;
                let (pod_req, pod_req_nonzero) =
                    request_vectors(&names, &svc.pod.resources.effective_requests());
                let shared = svc.dispatch == Dispatch::Shared;
                Deployment {
                    template: svc.pod.clone(),
                    pod_req,
                    pod_req_nonzero,
                    desired: svc.replicas,
                    scale: svc.scale.clone(),
                    ready: Vec::new(),
                    ready_version: 0,
                    slots: Vec::new(),
                    shared_instances: if shared { svc.replicas } else { 0 },
                    shared_request: time_sliced.map_or(0, |(_, name)| {
                        svc.pod
                            .resources
                            .requests
                            .get(name)
                            .map_or(0, |q| q.units_ceil() as u64)
                    }),
                    versions: v
                        .rollouts
                        .iter()
                        .map(|r| {
                            let t = r.service.pod.clone();
                            let req = request_vectors(&names, &t.resources.effective_requests());
                            (t, req)
                        })
                        .collect(),
                    service_ns: v.admission.service_namespace,
                    priority: v.admission.service_priority,
                    pdb: v.failures.pdb,
                    held_off: Vec::new(),
                    gpus_held: 0.0,
                    cost_rate_held: 0.0,
                }
            })
            .collect();
        let mut deps = deps;
        for x in 0..deps.len() {
            let mut held_off = Vec::new();
            for (y, d) in deps.iter().enumerate().filter(|&(y, _)| y != x) {
                for term in &d.template.anti_affinity_required {
                    if let PodSelector::Labels { services, .. } = &term.selector {
                        if services.get(x).copied().unwrap_or(false) {
                            held_off.push((y, term.topology_key.clone()));
                        }
                    }
                }
            }
            deps[x].held_off = held_off;
        }
        let pool_specs: Vec<&NodePoolSpec> = pools.iter().map(|p: &Pool| &p.spec).collect();
        let cost = cost::CostBook::new(&s.cost_allocation, &pool_specs, &names, deps.len());
        Kube {
            has_nodes: s.cluster.is_some(),
            warm_start: s.cluster.as_ref().is_none_or(|c| c.warm_start),
            pools,
            nodes: Vec::new(),
            pods: Vec::new(),
            deps,
            scheduler: s
                .cluster
                .as_ref()
                .map(|c| c.scheduler.clone())
                .unwrap_or_default(),
            sched_rng: streams.stream("scheduler/tie-break"),
            scratch: Vec::new(),
            by_service: Vec::new(),
            pending: Vec::new(),
            warnings,
            last_unschedulable: None,
            overcommits: 0,
            oom_kills: 0,
            fail: failure::FailState::new(&s.failures, streams),
            ca: s
                .cluster_autoscaler
                .clone()
                .map(|c| cluster_autoscaler::ClusterAutoscaler::new(c, streams)),
            karpenter: s.karpenter.clone().map(karpenter::Karpenter::new),
            quotas: quota::Quotas::new(&s.admission, &names),
            preemption: preempt::Preemption::default(),
            kueue: s
                .batch
                .as_ref()
                .map(|b| kueue::Kueue::new(b, &names, streams)),
            names,
            cost,
        }
    }

    /// The labels of a node of `pool` named `name`: the pool's, its hostname, and a zone (the
    /// region's first, when the pool names none).
    fn node_labels(&self, pool: usize, name: &str) -> Labels {
        let spec = &self.pools[pool].spec;
        let mut labels = spec.labels.clone();
        labels.insert("kubernetes.io/hostname".into(), name.to_string());
        labels
            .entry("topology.kubernetes.io/zone".into())
            .or_insert_with(|| {
                format!(
                    "{}a",
                    spec.labels
                        .get("topology.kubernetes.io/region")
                        .map_or("zone-", String::as_str)
                )
            });
        labels
    }

    /// The template a pod was created from (its version's).
    pub(super) fn template_of(&self, pod: PodId) -> &PodTemplate {
        let p = &self.pods[pod.index()];
        let d = &self.deps[p.svc.index()];
        match p.version {
            0 => &d.template,
            v => &d.versions[v as usize - 1].0,
        }
    }

    /// The service that owns a pod.
    pub(super) fn svc_of(&self, pod: PodId) -> ServiceId {
        self.pods[pod.index()].svc
    }

    /// A pod's engine slot within its service.
    pub(super) fn slot_of(&self, pod: PodId) -> EngineId {
        self.pods[pod.index()].slot
    }

    /// The pod of service `svc`'s engine slot.
    pub(super) fn pod_at(&self, svc: ServiceId, slot: EngineId) -> PodId {
        self.deps[svc.index()].slots[slot.index()]
    }

    /// The node a pod is bound to, if any.
    pub(super) fn node_of(&self, pod: PodId) -> Option<NodeId> {
        self.pods[pod.index()].node
    }

    /// A service's pod template (version 0).
    pub(super) fn template(&self, svc: ServiceId) -> &PodTemplate {
        &self.deps[svc.index()].template
    }

    /// A service's pod requests (version 0, without the VPA).
    pub(super) fn pod_req(&self, svc: ServiceId) -> &ResVec {
        &self.deps[svc.index()].pod_req
    }

    /// A service's pods' priority.
    pub(super) fn priority(&self, svc: ServiceId) -> crate::scenario::batch::Priority {
        self.deps[svc.index()].priority
    }

    /// Seconds each service's pods were bound (from binding to gone, or to `horizon`).
    pub(super) fn replica_seconds(&self, horizon: SimTime) -> Vec<f64> {
        let mut out = vec![0.0; self.deps.len()];
        for p in &self.pods {
            if let Some(b) = p.bound {
                let end = p.gone_at.unwrap_or(horizon).min(horizon);
                out[p.svc.index()] += end.since(b).as_secs_f64();
            }
        }
        out
    }

    /// Whether a pod's GPU is a MIG slice: it requests an `nvidia.com/mig-<profile>` (the mixed
    /// strategy), or runs on a node of a pool under the single strategy (every GPU sliced alike
    /// and advertised as `nvidia.com/gpu`).
    pub(super) fn on_mig(&self, pod: PodId) -> bool {
        let requests = self.requests_of(pod).0;
        let slice = requests
            .0
            .iter()
            .enumerate()
            .any(|(i, &q)| q > 0 && self.names.name(i).starts_with("nvidia.com/mig-"));
        slice
            || self.pods[pod.index()].node.is_some_and(|n| {
                let pool = &self.pools[self.nodes[n.index()].pool.index()];
                pool.spec
                    .labels
                    .get("nvidia.com/mig.strategy")
                    .map(String::as_str)
                    == Some("single")
            })
    }

    /// The GPU-equivalents `req` takes on a node of `pool`: a whole GPU (`nvidia.com/gpu`) is 1;
    /// a MIG slice is its compute slices over 7 (`nvidia.com/mig-3g.40gb` = 3/7; under the single
    /// strategy each `nvidia.com/gpu` is one instance of the pool's layout); a share of a
    /// time-sliced GPU is 1 over the shares per GPU.
    fn gpu_equivalents(&self, req: &ResVec, pool: PoolId) -> f64 {
        use crate::gpu::mig::COMPUTE_SLICES;
        let spec = &self.pools[pool.index()].spec;
        let slices = |profile: &str| -> f64 {
            let known = spec
                .mig_view
                .iter()
                .flat_map(|v| v.instances.iter())
                .find(|i| {
                    i.profile == profile
                        || crate::gpu::mig::mixed_resource_name(&i.profile)
                            == format!("nvidia.com/mig-{profile}")
                });
            let n = known.map(|i| i.compute_slices).or_else(|| {
                let digits: String = profile.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            });
            f64::from(n.unwrap_or(1)) / f64::from(COMPUTE_SLICES)
        };
        let single = spec
            .labels
            .get("nvidia.com/mig.strategy")
            .is_some_and(|s| s == "single");
        let mut g = 0.0;
        for (i, &q) in req.0.iter().enumerate() {
            if q == 0 {
                continue;
            }
            let name = self.names.name(i);
            let units = q as f64 / 1000.0;
            match &spec.time_slicing {
                Some((shares, shared)) if shared == name => g += units / f64::from(*shares),
                _ => {
                    if let Some(profile) = name.strip_prefix("nvidia.com/mig-") {
                        g += units * slices(profile);
                    } else if i == ResourceNames::GPU {
                        let one = match spec.mig_view.as_ref().and_then(|v| v.instances.first()) {
                            Some(inst) if single => {
                                f64::from(inst.compute_slices) / f64::from(COMPUTE_SLICES)
                            }
                            _ => 1.0,
                        };
                        g += units * one;
                    }
                }
            }
        }
        g
    }

    /// A pod's requests and their non-zero form (the template's unless the VPA set its own).
    pub(super) fn requests_of(&self, pod: PodId) -> (&ResVec, &ResVec) {
        let p = &self.pods[pod.index()];
        match &p.requests {
            Some(r) => (&r.0, &r.1),
            None => {
                let d = &self.deps[p.svc.index()];
                (&d.pod_req, &d.pod_req_nonzero)
            }
        }
    }

    /// Gives a pod its own requests (before it is bound).
    pub(super) fn set_requests(&mut self, pod: PodId, r: (ResVec, ResVec)) {
        self.pods[pod.index()].requests = Some(Box::new(r));
    }

    /// Resizes a bound pod's requests in place if its node has room; false if it has not.
    pub(super) fn resize_in_place(
        &mut self,
        pod: PodId,
        new: &(ResVec, ResVec),
        now: SimTime,
    ) -> bool {
        let Some(node) = self.pods[pod.index()].node else {
            return false;
        };
        let old = self.requests_of(pod).0.clone();
        let n = &self.nodes[node.index()];
        let mut after = n.requested.clone();
        after.sub(&old);
        if !after.fits_within(&new.0, &self.pools[n.pool.index()].allocatable) {
            return false;
        }
        let pool = n.pool;
        // Charged at the old requests until now, at the new ones from now on.
        self.charge(pod, now);
        after.add(&new.0);
        let gpus = self.gpu_equivalents(&new.0, pool);
        let rate = self.cost.usd_per_hour(pool.index(), &new.0);
        let n = &mut self.nodes[node.index()];
        n.requested = after;
        n.version += 1;
        let p = &mut self.pods[pod.index()];
        p.requests = Some(Box::new(new.clone()));
        let before = std::mem::replace(&mut p.gpus, gpus);
        let rate_before = std::mem::replace(&mut p.cost_rate, rate);
        let d = &mut self.deps[p.svc.index()];
        d.gpus_held = (d.gpus_held - before + gpus).max(0.0);
        d.cost_rate_held = (d.cost_rate_held - rate_before + rate).max(0.0);
        true
    }

    /// Engine slots of a service's Ready replicas, ascending.
    pub(super) fn ready(&self, svc: ServiceId) -> &[EngineId] {
        &self.deps[svc.index()].ready
    }

    /// The version of `svc`'s Ready list: equal versions, equal lists.
    pub(super) fn ready_version(&self, svc: ServiceId) -> u64 {
        self.deps[svc.index()].ready_version
    }

    /// Pods starting or serving on `node`.
    fn running_on(&self, node: NodeId) -> Vec<PodId> {
        (0..self.pods.len() as u32)
            .map(PodId)
            .filter(|&i| {
                let p = &self.pods[i.index()];
                p.node == Some(node) && matches!(p.phase, PodPhase::Starting | PodPhase::Ready)
            })
            .collect()
    }

    /// A service's Deployment's desired replicas.
    pub(super) fn desired(&self, svc: ServiceId) -> u32 {
        self.deps[svc.index()].desired
    }

    /// Every pod of service `svc` not yet gone, in creation order.
    pub(super) fn pod_views(&self, svc: ServiceId) -> impl Iterator<Item = PodStatus> + '_ {
        self.pods
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.phase != PodPhase::Gone && p.svc == svc)
            .map(|(i, p)| PodStatus {
                id: PodId(i as u32),
                slot: p.slot,
                phase: p.phase,
                created: p.created,
                bound: p.bound,
                ready_since: p.ready_since,
            })
    }

    pub(super) fn is_terminating(&self, pod: PodId) -> bool {
        self.pods
            .get(pod.index())
            .is_some_and(|p| p.phase == PodPhase::Terminating)
    }

    fn active_pods(&self, svc: ServiceId) -> usize {
        self.pods
            .iter()
            .filter(|p| {
                p.svc == svc
                    && matches!(
                        p.phase,
                        PodPhase::Pending | PodPhase::Starting | PodPhase::Ready
                    )
            })
            .count()
    }

    fn gauge(&self) -> ClusterGauge {
        let (mut desired, mut ready) = (0, 0);
        for d in &self.deps {
            let (de, re) = if d.shared_instances > 0 {
                (d.shared_instances, d.shared_instances)
            } else {
                (d.desired, d.ready.len() as u32)
            };
            desired += de;
            ready += re;
        }
        let mut g = ClusterGauge {
            desired,
            ready,
            pods_pending: self.pending.len() as u32,
            ..ClusterGauge::default()
        };
        for n in &self.nodes {
            if n.phase == NodePhase::Terminated {
                continue;
            }
            let pool = &self.pools[n.pool.index()];
            g.nodes += 1;
            g.cost_usd_per_hour += pool.spec.price_usd_per_hour;
            g.gpus_billed += pool.spec.gpus_per_node as u64 * 1000;
            g.gpu_requested += n.requested.0[ResourceNames::GPU];
            if n.phase == NodePhase::Ready {
                g.nodes_ready += 1;
            }
            if matches!(n.phase, NodePhase::Ready | NodePhase::Draining) {
                g.cpu_requested += n.requested.0[ResourceNames::CPU];
                g.cpu_allocatable += pool.allocatable.0[ResourceNames::CPU];
                g.gpu_allocatable += pool.allocatable.0[ResourceNames::GPU];
            }
        }
        g
    }

    /// Billing and usage at the horizon.
    pub(super) fn outcome(&self, horizon: SimTime) -> ClusterOutcome {
        let mut pools: Vec<PoolOutcome> = self
            .pools
            .iter()
            .map(|p| PoolOutcome {
                name: p.spec.name.clone(),
                instance_type: p.spec.instance_type.clone(),
                capacity_type: p.spec.capacity_type.name().to_string(),
                gpu: p.spec.gpu.clone(),
                price_usd_per_hour: p.spec.price_usd_per_hour,
                nodes_launched: 0,
                nodes_at_horizon: 0,
                billed_seconds: 0,
                cost_usd: 0.0,
                mig_layout: p.spec.mig_view.clone(),
                time_slicing_replicas: p.spec.time_slicing.as_ref().map(|t| t.0),
            })
            .collect();
        for n in &self.nodes {
            let p = &mut pools[n.pool.index()];
            let secs = n.billed_seconds(horizon);
            p.nodes_launched += 1;
            p.nodes_at_horizon += u32::from(n.ended.is_none_or(|e| e >= horizon));
            p.billed_seconds += secs;
            p.cost_usd += secs as f64 * p.price_usd_per_hour / 3600.0;
        }
        ClusterOutcome {
            has_nodes: self.has_nodes,
            pools,
            warnings: self.warnings.clone(),
            last_unschedulable: self.last_unschedulable.clone(),
            overcommits: self.overcommits,
            gpu_oom_kills: self.oom_kills,
            karpenter: None,
            vpa: None,
            quotas: self.quotas.outcome(&self.names),
            preemption: None,
            batch: None,
        }
    }
}

impl World {
    /// Creates the initial nodes and pods and schedules the scaling steps.
    pub(super) fn start(&mut self) {
        for (p, pool) in self.kube.pools.clone().iter().enumerate() {
            for _ in 0..pool.spec.initial_size {
                let id = self.new_node(PoolId(p as u32));
                self.kube.nodes[id.index()].phase = NodePhase::Ready;
            }
            for step in 0..pool.spec.scale.len() {
                self.queue.push(
                    pool.spec.scale[step].0,
                    Event::ScalePool {
                        pool: PoolId(p as u32),
                        step: step as u32,
                    },
                );
            }
            for step in 0..pool.spec.mig_changes.len() {
                self.queue.push(
                    pool.spec.mig_changes[step].0,
                    Event::MigReconfigure {
                        pool: PoolId(p as u32),
                        step: step as u32,
                    },
                );
            }
        }
        for (i, d) in self.kube.deps.iter().enumerate() {
            for step in 0..d.scale.len() {
                self.queue.push(
                    d.scale[step].0,
                    Event::ScaleDeployment {
                        svc: ServiceId(i as u32),
                        step: step as u32,
                    },
                );
            }
        }
        let mut any = false;
        for i in 0..self.svcs.len() {
            let svc = ServiceId(i as u32);
            if self.svcs[i].router.is_some() {
                any = true;
                for _ in 0..self.kube.deps[i].desired {
                    if !self.create_pod(svc) {
                        break;
                    }
                }
            }
        }
        if any {
            let warm = self.kube.warm_start;
            self.schedule_pending_inner(warm);
        }
        self.arm_failures();
        self.kueue_start();
        self.publish_cluster();
    }

    fn new_node(&mut self, pool: PoolId) -> NodeId {
        let id = NodeId(self.kube.nodes.len() as u32);
        let name = format!("{}-{id}", self.kube.pools[pool.index()].spec.name);
        let labels = self.kube.node_labels(pool.index(), &name);
        let spec = &self.kube.pools[pool.index()].spec;
        self.kube.nodes.push(Node {
            pool,
            phase: NodePhase::Provisioning,
            launched: self.now,
            ended: None,
            requested: ResVec::zeros(self.kube.names.len()),
            labels,
            image_ready_at: None,
            pods: 0,
            terminating: 0,
            batch_pods: 0,
            version: 0,
            shared: spec.time_slicing.as_ref().map(|(replicas, _)| {
                timeslice::SharedGpus::new(spec.gpus_per_node, *replicas, spec.gpu_memory_bytes)
            }),
            last_pod_event: self.now,
        });
        self.arm_random_failures(id);
        id
    }

    /// Creates a pod of service `svc`'s Deployment; false if its namespace's quota refuses it.
    fn create_pod(&mut self, svc: ServiceId) -> bool {
        self.create_pod_of(svc, 0)
    }

    /// Creates a pod of service `svc`'s model version `version` (its template, requests and
    /// engine); false if its namespace's quota refuses it.
    fn create_pod_of(&mut self, svc: ServiceId, version: u32) -> bool {
        let k = &mut self.kube;
        let d = &k.deps[svc.index()];
        let req = creation_requests(&d.pod_req, &d.versions, version);
        if !k.quotas.admit(d.service_ns, req, &k.names) {
            return false;
        }
        let id = PodId(self.kube.pods.len() as u32);
        let slot = self.svcs[svc.index()].next_slot();
        self.kube.pods.push(Pod {
            phase: PodPhase::Pending,
            node: None,
            created: self.now,
            bound: None,
            ready_since: None,
            share: timeslice::GpuShare::default(),
            generation: 0,
            requests: None,
            version,
            svc,
            slot,
            gone_at: None,
            cost_from: SimTime::ZERO,
            gpus: 0.0,
            cost_rate: 0.0,
        });
        if version > 0 {
            let r = self.kube.deps[svc.index()].versions[version as usize - 1]
                .1
                .clone();
            self.kube.set_requests(id, r);
        }
        self.vpa_admit(id);
        self.kube.pending.push(id);
        let engine = self.new_engine(svc, slot, version);
        let sv = &mut self.svcs[svc.index()];
        sv.engines.push(engine);
        let e = EngineId((sv.engines.len() - 1) as u32);
        self.add_wake_slot(svc, e);
        self.kube.deps[svc.index()].slots.push(id);
        true
    }

    /// Recomputes the cluster gauge for the recorder (and each service's, with several).
    fn publish_cluster(&mut self) {
        for sv in &mut self.svcs {
            if let Some(r) = &mut sv.rollout {
                r.dirty = true;
            }
        }
        let g = self.kube.gauge();
        self.kube.fail.observe(self.now, g.ready, g.desired);
        self.recorder.set_cluster(g);
        let now = self.now;
        for (i, sv) in self.svcs.iter_mut().enumerate() {
            if let Some(r) = sv.recorder_at(now) {
                let d = &self.kube.deps[i];
                let (desired, ready) = if d.shared_instances > 0 {
                    (d.shared_instances, d.shared_instances)
                } else {
                    (d.desired, d.ready.len() as u32)
                };
                r.set_cluster(ClusterGauge {
                    desired,
                    ready,
                    gpus_held: d.gpus_held,
                    // A service's gauge carries what its bound pods' requests cost per hour.
                    cost_usd_per_hour: d.cost_rate_held,
                    ..ClusterGauge::default()
                });
            }
        }
    }

    fn schedule_pending(&mut self) {
        self.schedule_pending_inner(false);
    }

    /// Tries every pending pod in creation order; `warm` makes bound pods Ready at once.
    fn schedule_pending_inner(&mut self, warm: bool) {
        let pending = std::mem::take(&mut self.kube.pending);
        let mut still = Vec::new();
        for pod in pending {
            if !self.kube.has_nodes {
                self.make_ready(pod);
                continue;
            }
            match self.pick_node(pod) {
                Some(node) => self.bind(pod, node, warm),
                None => {
                    self.try_preempt(pod);
                    still.push(pod);
                }
            }
        }
        self.kube.pending = still;
        if std::mem::take(&mut self.kube.preemption.serving_victims) {
            // Preempted serving pods' ReplicaSets replace them, and the scheduler runs again: a
            // victim with nothing in flight is gone already, and its room is the preemptor's.
            self.reconcile_all(&mut crate::metrics::NoSink);
            self.schedule_pending_inner(warm);
            return;
        }
        self.kueue_place();
        self.karpenter_notice_pending();
    }

    fn pick_node(&mut self, pod: PodId) -> Option<NodeId> {
        let k = &mut self.kube;
        let svc = k.pods[pod.index()].svc;
        let d = &k.deps[svc.index()];
        let (requests, nonzero_requests) = match &k.pods[pod.index()].requests {
            Some(r) => (&r.0, &r.1),
            None => (&d.pod_req, &d.pod_req_nonzero),
        };
        let template = match k.pods[pod.index()].version {
            0 => &d.template,
            v => &d.versions[v as usize - 1].0,
        };
        // Constraints that look at other nodes' pods also see NotReady nodes (still registered).
        let topology = !template.spread.is_empty()
            || !template.anti_affinity_required.is_empty()
            || !template.anti_affinity_preferred.is_empty();
        let candidates: Vec<usize> = (0..k.nodes.len())
            .filter(|&i| match k.nodes[i].phase {
                NodePhase::Ready | NodePhase::Draining => true,
                NodePhase::NotReady => topology,
                NodePhase::Provisioning | NodePhase::Terminated => false,
            })
            .collect();
        // During a rollout, the pods of this pod's own version per node (its ReplicaSet's).
        let version = k.pods[pod.index()].version;
        // With several services, a Deployment's spreading counts its own pods only (its
        // selector matches its pods' labels).
        let own_only = k.deps.len() > 1;
        let by_version: Option<Vec<u32>> = (!d.versions.is_empty() || own_only).then(|| {
            let mut counts = vec![0u32; k.nodes.len()];
            for p in &k.pods {
                if p.svc == svc
                    && p.version == version
                    && matches!(p.phase, PodPhase::Starting | PodPhase::Ready)
                {
                    if let Some(n) = p.node {
                        counts[n.index()] += 1;
                    }
                }
            }
            counts
        });
        let own: Option<Vec<u32>> = own_only.then(|| {
            let mut counts = vec![0u32; k.nodes.len()];
            for p in &k.pods {
                if p.svc == svc && matches!(p.phase, PodPhase::Starting | PodPhase::Ready) {
                    if let Some(n) = p.node {
                        counts[n.index()] += 1;
                    }
                }
            }
            counts
        });
        // Constraints whose selector reaches other services count pods per service and node:
        // live ones in the first half, terminating ones in the second.
        let services = k.deps.len();
        let across = template
            .spread
            .iter()
            .map(|c| &c.selector)
            .chain(template.anti_affinity_required.iter().map(|t| &t.selector))
            .chain(
                template
                    .anti_affinity_preferred
                    .iter()
                    .map(|(_, t)| &t.selector),
            )
            .any(|s| matches!(s, PodSelector::Labels { .. }))
            || !d.held_off.is_empty();
        let half = k.nodes.len() * services;
        k.by_service.clear();
        if across {
            k.by_service.resize(2 * half, 0);
            for p in &k.pods {
                let Some(n) = p.node else { continue };
                let at = n.index() * services + p.svc.index();
                match p.phase {
                    PodPhase::Starting | PodPhase::Ready => k.by_service[at] += 1,
                    PodPhase::Terminating => k.by_service[half + at] += 1,
                    PodPhase::Pending | PodPhase::Gone => {}
                }
            }
        }
        let by_service = &k.by_service;
        let views: Vec<NodeView> = candidates
            .iter()
            .map(|&i| {
                let n = &k.nodes[i];
                let pool = &k.pools[n.pool.index()];
                let (service_pods, service_terminating): (&[u32], &[u32]) = if across {
                    let at = i * services;
                    (
                        &by_service[at..at + services],
                        &by_service[half + at..half + at + services],
                    )
                } else {
                    (&[], &[])
                };
                NodeView {
                    allocatable: &pool.allocatable,
                    requested: &n.requested,
                    labels: &n.labels,
                    taints: &pool.spec.taints,
                    // Upstream counts only pods without a deletion timestamp.
                    matching_pods: own
                        .as_ref()
                        .map_or(n.pods - n.terminating - n.batch_pods, |c| c[i]),
                    version_pods: by_version
                        .as_ref()
                        .map_or(n.pods - n.terminating - n.batch_pods, |c| c[i]),
                    terminating_pods: n.terminating,
                    service_pods,
                    service_terminating,
                    has_image: n.image_ready_at.is_some(),
                    unschedulable: n.phase == NodePhase::Draining,
                    not_ready: n.phase == NodePhase::NotReady,
                }
            })
            .collect();
        let pod = PodView {
            template,
            requests,
            nonzero_requests,
            held_off: &d.held_off,
        };
        match select(
            &k.scheduler,
            &k.names,
            &pod,
            &views,
            &mut k.sched_rng,
            &mut k.scratch,
        ) {
            Ok(i) => Some(NodeId(candidates[i] as u32)),
            Err(why) => {
                k.last_unschedulable = Some(why.message(&k.names));
                None
            }
        }
    }

    fn bind(&mut self, pod: PodId, node: NodeId, warm: bool) {
        let now = self.now;
        self.take_shares(pod, node);
        let t = self.kube.template_of(pod).clone();
        let t = &t;
        let req = self.kube.requests_of(pod).0.clone();
        let req = &req;
        let n = &mut self.kube.nodes[node.index()];
        let spec = &self.kube.pools[n.pool.index()].spec;
        n.requested.add(req);
        n.pods += 1;
        n.version += 1;
        n.last_pod_event = now;
        if !n.requested.le(&self.kube.pools[n.pool.index()].allocatable) {
            self.kube.overcommits += 1;
        }
        let pool = n.pool;
        let gpus = self.kube.gpu_equivalents(req, pool);
        let rate = self.kube.cost.usd_per_hour(pool.index(), req);
        let p = &mut self.kube.pods[pod.index()];
        p.node = Some(node);
        p.bound = Some(now);
        p.cost_from = now;
        p.phase = PodPhase::Starting;
        p.gpus = gpus;
        p.cost_rate = rate;
        let svc = p.svc;
        let d = &mut self.kube.deps[svc.index()];
        d.gpus_held += gpus;
        d.cost_rate_held += rate;
        let n = &mut self.kube.nodes[node.index()];
        if warm {
            n.image_ready_at = Some(now);
            self.make_ready(pod);
            return;
        }
        let secs = |bytes: u64, bw: f64| SimDuration::from_secs_f64(bytes as f64 / bw);
        let container_start = if t.image_bytes == 0 {
            now
        } else {
            match n.image_ready_at {
                Some(at) => at.max(now),
                None => {
                    let at = now + secs(t.image_bytes, spec.image_pull_bytes_per_s);
                    n.image_ready_at = Some(at);
                    at
                }
            }
        };
        let loaded = container_start + secs(t.model_bytes, spec.model_load_bytes_per_s);
        let first_probe = container_start + t.readiness_initial_delay;
        let ready_at = if loaded <= first_probe {
            first_probe
        } else {
            let period = t.readiness_period.0.max(1);
            let k = (loaded.0 - first_probe.0).div_ceil(period);
            SimTime(first_probe.0 + k * period)
        };
        if ready_at <= now {
            self.make_ready(pod);
        } else {
            let generation = self.kube.pods[pod.index()].generation;
            self.queue
                .push(ready_at, Event::PodReady { pod, generation });
        }
    }

    fn make_ready(&mut self, pod: PodId) {
        if !self.allocate_gpu_memory(pod) {
            self.oom_kill(pod);
            return;
        }
        let p = &mut self.kube.pods[pod.index()];
        p.phase = PodPhase::Ready;
        p.ready_since = Some(self.now);
        let (svc, slot) = (p.svc, p.slot);
        self.svcs[svc.index()]
            .gauges
            .pod_ready(slot.index(), self.now);
        let ready = self.kube.deps[svc.index()].ready_mut();
        let pos = ready.partition_point(|&x| x < slot);
        ready.insert(pos, slot);
        if let Some((node, g)) = self.kube.pods[pod.index()].share.gpu {
            self.rebalance(node, g);
        }
    }

    pub(super) fn on_pod_ready(&mut self, pod: PodId, generation: u32) {
        let p = &self.kube.pods[pod.index()];
        if p.generation != generation || p.phase != PodPhase::Starting {
            return;
        }
        self.make_ready(pod);
        self.publish_cluster();
    }

    pub(super) fn on_node_ready<S: RequestSink>(&mut self, node: NodeId, sink: &mut S) {
        let n = &mut self.kube.nodes[node.index()];
        if n.phase != NodePhase::Provisioning {
            return;
        }
        n.phase = NodePhase::Ready;
        n.version += 1;
        n.last_pod_event = self.now;
        self.karpenter_node_ready(node, sink);
        self.schedule_pending();
        self.publish_cluster();
    }

    pub(super) fn on_scale_deployment<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        step: u32,
        sink: &mut S,
    ) {
        let n = self.kube.deps[svc.index()].scale[step as usize].1;
        self.scale_deployment_to(svc, n, sink);
    }

    /// Sets a service's Deployment's replicas (`kubectl scale`, or an autoscaler's decision).
    pub(super) fn scale_deployment_to<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        replicas: u32,
        sink: &mut S,
    ) {
        self.kube.deps[svc.index()].desired = replicas;
        self.reconcile_replicas(svc, sink);
        self.schedule_pending();
        self.publish_cluster();
    }

    /// The ReplicaSet controller of every service with pods (after evictions, node removals).
    fn reconcile_all<S: RequestSink>(&mut self, sink: &mut S) {
        for i in 0..self.svcs.len() {
            if self.svcs[i].router.is_some() {
                self.reconcile_replicas(ServiceId(i as u32), sink);
            }
        }
    }

    /// The ReplicaSet controller: creates pods up to the desired count, or deletes the excess in
    /// upstream order (unscheduled, then not ready, then ready for the shortest time, then newest).
    fn reconcile_replicas<S: RequestSink>(&mut self, svc: ServiceId, sink: &mut S) {
        if self.svcs[svc.index()].rollout.is_some() {
            // The Deployment controller sizes each version's ReplicaSet.
            self.sync_deployment(svc, sink);
            return;
        }
        let active = self.kube.active_pods(svc) as u32;
        let desired = self.kube.deps[svc.index()].desired;
        if active < desired {
            for _ in active..desired {
                if !self.create_pod(svc) {
                    break;
                }
            }
            return;
        }
        self.terminate_surplus(svc, |_| true, (active - desired) as usize, sink);
    }

    /// Deletes `count` of the active pods `selected` picks, in the ReplicaSet controller's order:
    /// unscheduled first, then not ready, then ready for the shortest time, then the newest.
    fn terminate_surplus<S: RequestSink>(
        &mut self,
        svc: ServiceId,
        selected: impl Fn(&Pod) -> bool,
        count: usize,
        sink: &mut S,
    ) {
        let mut victims: Vec<PodId> = (0..self.kube.pods.len() as u32)
            .map(PodId)
            .filter(|&i| {
                let p = &self.kube.pods[i.index()];
                p.svc == svc
                    && selected(p)
                    && matches!(
                        p.phase,
                        PodPhase::Pending | PodPhase::Starting | PodPhase::Ready
                    )
            })
            .collect();
        victims.sort_by_key(|&i| {
            let p = &self.kube.pods[i.index()];
            (
                p.node.is_some(),
                p.phase == PodPhase::Ready,
                std::cmp::Reverse(p.ready_since),
                std::cmp::Reverse(p.created),
                std::cmp::Reverse(i),
            )
        });
        for &v in victims.iter().take(count) {
            self.terminate_pod(v, sink);
        }
    }

    /// Starts a pod's termination: it leaves the router at once and finishes its in-flight work
    /// within its grace period.
    fn terminate_pod<S: RequestSink>(&mut self, pod: PodId, sink: &mut S) {
        let p = &mut self.kube.pods[pod.index()];
        p.generation = p.generation.wrapping_add(1);
        match p.phase {
            PodPhase::Pending => {
                p.phase = PodPhase::Gone;
                p.gone_at = Some(self.now);
                self.kube.pending.retain(|&x| x != pod);
                let k = &mut self.kube;
                let p = &k.pods[pod.index()];
                let d = &k.deps[p.svc.index()];
                let req = creation_requests(&d.pod_req, &d.versions, p.version);
                k.quotas.release(d.service_ns, req);
            }
            PodPhase::Starting => self.pod_gone(pod, sink),
            PodPhase::Ready => {
                p.phase = PodPhase::Terminating;
                if let Some(node) = p.node {
                    let n = &mut self.kube.nodes[node.index()];
                    n.terminating += 1;
                    n.version += 1;
                }
                let generation = p.generation;
                let (svc, slot) = (p.svc, p.slot);
                let ready = self.kube.deps[svc.index()].ready_mut();
                if let Ok(i) = ready.binary_search(&slot) {
                    ready.remove(i);
                }
                let e = &self.svcs[svc.index()].engines[slot.index()];
                if e.queued() + e.in_service() == 0 {
                    self.pod_gone(pod, sink);
                } else {
                    let at = self.now + self.kube.template_of(pod).termination_grace;
                    self.queue
                        .push(at, Event::PodGraceExpired { pod, generation });
                }
            }
            PodPhase::Terminating | PodPhase::Gone => {}
        }
    }

    pub(super) fn on_grace_expired<S: RequestSink>(
        &mut self,
        pod: PodId,
        generation: u32,
        sink: &mut S,
    ) {
        let p = &self.kube.pods[pod.index()];
        if p.generation != generation || p.phase != PodPhase::Terminating {
            return;
        }
        let (svc, slot) = (self.kube.svc_of(pod), self.kube.slot_of(pod));
        self.abort_engine(svc, slot, DropReason::PodTerminated, sink);
        self.pod_gone(pod, sink);
    }

    /// The pod's containers have exited: its node's resources are free.
    pub(super) fn pod_gone<S: RequestSink>(&mut self, pod: PodId, _sink: &mut S) {
        let p = &mut self.kube.pods[pod.index()];
        if p.phase == PodPhase::Gone {
            return;
        }
        let was_terminating = p.phase == PodPhase::Terminating;
        p.phase = PodPhase::Gone;
        p.gone_at = Some(self.now);
        p.generation = p.generation.wrapping_add(1);
        let (svc, slot, version) = (p.svc, p.slot, p.version);
        let bound_to = p.node;
        let k = &mut self.kube;
        let d = &mut k.deps[svc.index()];
        if let Ok(i) = d.ready.binary_search(&slot) {
            d.ready_mut().remove(i);
        }
        let req = creation_requests(&d.pod_req, &d.versions, version);
        k.quotas.release(d.service_ns, req);
        self.release_shares(pod);
        if let Some(node) = bound_to {
            self.kube.charge(pod, self.now);
            let p = &mut self.kube.pods[pod.index()];
            let gpus = std::mem::take(&mut p.gpus);
            let rate = std::mem::take(&mut p.cost_rate);
            let d = &mut self.kube.deps[svc.index()];
            d.gpus_held = (d.gpus_held - gpus).max(0.0);
            d.cost_rate_held = (d.cost_rate_held - rate).max(0.0);
            let req = self.kube.requests_of(pod).0.clone();
            let req = &req;
            let n = &mut self.kube.nodes[node.index()];
            n.requested.sub(req);
            n.pods -= 1;
            n.terminating -= u32::from(was_terminating);
            n.version += 1;
            n.last_pod_event = self.now;
            if n.phase == NodePhase::Draining && n.pods == 0 {
                n.phase = NodePhase::Terminated;
                n.ended = Some(self.now);
            }
        }
        if self.kube.quotas.retry {
            // The ReplicaSets retry the pods the quota refused.
            self.kube.quotas.retry = false;
            self.reconcile_all(_sink);
        }
        self.schedule_pending();
        self.publish_cluster();
    }

    /// A new MIG layout for a pool: every node is cordoned, its pods evicted (the ReplicaSet
    /// recreates them), and it serves again with the new partitions after the reconfiguration
    /// time; nodes launched later come up with the new layout.
    pub(super) fn on_mig_reconfigure<S: RequestSink>(
        &mut self,
        pool: PoolId,
        step: u32,
        sink: &mut S,
    ) {
        let (_, layout, alloc) =
            self.kube.pools[pool.index()].spec.mig_changes[step as usize].clone();
        let p = &mut self.kube.pools[pool.index()];
        p.allocatable = self.kube.names.vector(&alloc);
        p.spec.allocatable = alloc;
        p.spec
            .labels
            .insert("nvidia.com/mig.config".into(), layout.clone());
        let back = self.now + p.spec.mig_reconfigure_time;
        let nodes: Vec<NodeId> = (0..self.kube.nodes.len() as u32)
            .map(NodeId)
            .filter(|&i| {
                let n = &self.kube.nodes[i.index()];
                n.pool == pool && n.phase == NodePhase::Ready
            })
            .collect();
        for &node in &nodes {
            let n = &mut self.kube.nodes[node.index()];
            // Out of service (not schedulable, still billed) until repartitioned.
            n.phase = NodePhase::Provisioning;
            n.version += 1;
            n.labels
                .insert("nvidia.com/mig.config".into(), layout.clone());
            for pod in self.kube.running_on(node) {
                self.terminate_pod(pod, sink);
            }
            self.evict_batch_on(node);
            self.queue.push(back, Event::NodeReady { node });
        }
        self.reconcile_all(sink);
        self.schedule_pending();
        self.publish_cluster();
    }

    pub(super) fn on_scale_pool<S: RequestSink>(&mut self, pool: PoolId, step: u32, sink: &mut S) {
        let (_, size) = self.kube.pools[pool.index()].spec.scale[step as usize];
        let live: Vec<NodeId> = (0..self.kube.nodes.len() as u32)
            .map(NodeId)
            .filter(|&i| {
                let n = &self.kube.nodes[i.index()];
                n.pool == pool && matches!(n.phase, NodePhase::Provisioning | NodePhase::Ready)
            })
            .collect();
        let live_n = live.len() as u32;
        if size > live_n {
            let delay = self.kube.pools[pool.index()].spec.provisioning_delay;
            for _ in live_n..size {
                let id = self.new_node(pool);
                if delay == SimDuration::ZERO {
                    self.kube.nodes[id.index()].phase = NodePhase::Ready;
                } else {
                    self.queue
                        .push(self.now + delay, Event::NodeReady { node: id });
                }
            }
            self.schedule_pending();
        } else if size < live_n {
            let mut order = live;
            order.sort_by_key(|&i| {
                let n = &self.kube.nodes[i.index()];
                (
                    n.phase == NodePhase::Ready,
                    n.pods > 0,
                    std::cmp::Reverse(n.launched),
                    std::cmp::Reverse(i),
                )
            });
            for &node in order.iter().take((live_n - size) as usize) {
                self.remove_node(node, sink);
            }
            self.reconcile_all(sink);
            self.schedule_pending();
        }
        self.publish_cluster();
    }

    /// Removes a node: at once if it has no pods, else cordons and drains it (its pods terminate
    /// gracefully and the ReplicaSet replaces them).
    fn remove_node<S: RequestSink>(&mut self, node: NodeId, sink: &mut S) {
        let n = &mut self.kube.nodes[node.index()];
        n.version += 1;
        if n.pods == 0 {
            n.phase = NodePhase::Terminated;
            n.ended = Some(self.now);
            return;
        }
        n.phase = NodePhase::Draining;
        for pod in self.kube.running_on(node) {
            self.terminate_pod(pod, sink);
        }
        self.evict_batch_on(node);
    }
}

/// A pod's request vector (with one `pods`) and its non-zero form for scoring.
fn request_vectors(
    names: &ResourceNames,
    requests: &std::collections::BTreeMap<String, Quantity>,
) -> (ResVec, ResVec) {
    let mut pod_req = names.vector(requests);
    pod_req.0[ResourceNames::PODS] = 1000;
    let mut pod_req_nonzero = pod_req.clone();
    if pod_req_nonzero.0[ResourceNames::CPU] == 0 {
        pod_req_nonzero.0[ResourceNames::CPU] = 100; // upstream DefaultMilliCPURequest
    }
    if pod_req_nonzero.0[ResourceNames::MEMORY] == 0 {
        pod_req_nonzero.0[ResourceNames::MEMORY] = 200 * 1024 * 1024 * 1000;
        // 200Mi
    }
    (pod_req, pod_req_nonzero)
}

/// The requests a pod of `version` is created with (what its namespace's quota counts): the
/// Deployment's for version 0, else its version's.
fn creation_requests<'a>(
    base: &'a ResVec,
    versions: &'a [(PodTemplate, (ResVec, ResVec))],
    version: u32,
) -> &'a ResVec {
    match version {
        0 => base,
        v => &versions[v as usize - 1].1 .0,
    }
}
