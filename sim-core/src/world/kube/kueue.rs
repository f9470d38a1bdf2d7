//! Kueue-style batch work beside the service: jobs wait in ClusterQueues until their whole
//! quota fits a flavor (a node pool), then their pods are created and placed as a gang on that
//! pool's nodes, where they borrow GPUs the service is not using. A serving pod that fits no
//! node preempts them (see [`super::preempt`]); an evicted job goes back to its queue and later
//! resumes from its last checkpoint (or restarts).
//!
//! Simplifications (the book's models page lists them): a job's pods are placed all or none
//! (as with Kueue's `waitForPodsReady` or a gang scheduler) and run as a gang, so losing one pod
//! evicts the whole job; pods run as soon as they are bound (no image pull); batch pods never
//! preempt and never make the Cluster Autoscaler or Karpenter add nodes; Kueue's own
//! preemption (`withinClusterQueue`, `reclaimWithinCohort`) is not modelled.

use super::{NodePhase, PodPhase};
use crate::cluster::{PodTemplate, ResVec, ResourceNames, Toleration, TolerationOperator};
use crate::engine::{Rng, RngStreams, SimDuration, SimTime};
use crate::ids::{NodeId, PoolId};
use crate::metrics::RequestSink;
use crate::results::{BatchOutcome, QueueOutcome, WaitTimes};
use crate::scenario::batch::{BatchSpec, Priority};
use crate::scheduler::framework::select;
use crate::scheduler::{NodeView, PodView};
use crate::world::{Event, World};

/// Batch events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::world) enum BatchEvent {
    /// A job is submitted.
    Submit { job: u32 },
    /// An evicted batch pod's grace period ends.
    PodGone { pod: u32, generation: u32 },
    /// A running job finishes its work; stale if `generation` no longer matches.
    JobDone { job: u32, generation: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobState {
    Unsubmitted,
    Queued,
    /// Quota reserved; pods being created and placed.
    Admitted,
    Running,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchPhase {
    Pending,
    Running,
    Terminating,
    Gone,
}

#[derive(Debug)]
struct Job {
    state: JobState,
    queue: usize,
    flavor: usize,
    ns: Option<usize>,
    priority: Priority,
    parallelism: u32,
    /// One pod's requests (with one `pods`).
    req: ResVec,
    /// The gang's requests, as Kueue charges them.
    total: ResVec,
    duration: u64,
    checkpoint: Option<u64>,
    grace: SimDuration,
    /// GPUs of the whole gang.
    gpus: f64,
    submitted: SimTime,
    /// Submission or last eviction: its place in the queue.
    queued_at: SimTime,
    started: Option<SimTime>,
    /// Pods of the current attempt.
    pods: Vec<u32>,
    generation: u32,
    /// Running time done and kept, nanoseconds.
    progress: u64,
    run_since: Option<SimTime>,
    evictions: u32,
}

#[derive(Debug)]
struct BatchPod {
    job: u32,
    node: Option<NodeId>,
    phase: BatchPhase,
    bound: SimTime,
    generation: u32,
}

#[derive(Debug)]
struct Flavor {
    pool: PoolId,
    nominal: ResVec,
    limit: Option<ResVec>,
    /// Resources this flavor's quota covers.
    covered: Vec<bool>,
    used: ResVec,
}

#[derive(Debug)]
struct Queue {
    name: String,
    strict: bool,
    cohort: Option<String>,
    flavors: Vec<Flavor>,
    /// Queued jobs, in Kueue's order (priority, then queue time).
    waiting: Vec<u32>,
}

/// Kueue's state, the batch pods and the scheduler's preemption bookkeeping.
#[derive(Debug)]
pub(in crate::world) struct Kueue {
    jobs: Vec<Job>,
    pods: Vec<BatchPod>,
    queues: Vec<Queue>,
    /// Admitted jobs whose pods are not all placed, in admission order.
    admitted: Vec<u32>,
    template: PodTemplate,
    rng: Rng,
    admissions: u64,
    requeues: u64,
    /// GPU-seconds.
    held: f64,
    useful: f64,
    lost: f64,
    waits: Vec<f64>,
}

impl Kueue {
    /// Each batch pod bound at the end: its node, its requests and when it was bound.
    pub(in crate::world) fn bound_pods(&self) -> Vec<(NodeId, ResVec, SimTime)> {
        self.pods
            .iter()
            .filter(|p| matches!(p.phase, BatchPhase::Running | BatchPhase::Terminating))
            .filter_map(|p| Some((p.node?, self.jobs[p.job as usize].req.clone(), p.bound)))
            .collect()
    }

    /// Kueue for `spec`, with resource names already interned in `names`.
    pub(super) fn new(spec: &BatchSpec, names: &ResourceNames, streams: &RngStreams) -> Kueue {
        let queues = spec
            .queues
            .iter()
            .map(|q| Queue {
                name: q.name.clone(),
                strict: q.strict_fifo,
                cohort: q.cohort.clone(),
                flavors: q
                    .flavors
                    .iter()
                    .map(|f| {
                        let mut covered = vec![false; names.len()];
                        for k in f.nominal.keys() {
                            if let Some(i) = names.index(k) {
                                covered[i] = true;
                            }
                        }
                        Flavor {
                            pool: PoolId(f.pool as u32),
                            nominal: names.vector(&f.nominal),
                            limit: f.borrowing_limit.as_ref().map(|m| {
                                let mut v = ResVec(vec![u64::MAX; names.len()]);
                                for (k, q) in m {
                                    if let Some(i) = names.index(k) {
                                        v.0[i] = q.milli() as u64;
                                    }
                                }
                                v
                            }),
                            covered,
                            used: ResVec::zeros(names.len()),
                        }
                    })
                    .collect(),
                waiting: Vec::new(),
            })
            .collect();
        let jobs = spec
            .jobs
            .iter()
            .map(|j| {
                let mut req = names.vector(&j.requests);
                req.0[ResourceNames::PODS] = 1000;
                let total = ResVec(req.0.iter().map(|x| x * j.parallelism as u64).collect());
                Job {
                    state: JobState::Unsubmitted,
                    queue: j.queue,
                    flavor: 0,
                    ns: j.namespace,
                    priority: j.priority,
                    parallelism: j.parallelism,
                    gpus: total.0[ResourceNames::GPU] as f64 / 1000.0,
                    req,
                    total,
                    duration: j.duration.0,
                    checkpoint: j.checkpoint_interval.map(|d| d.0),
                    grace: j.termination_grace,
                    submitted: SimTime(j.arrival.0),
                    queued_at: SimTime(j.arrival.0),
                    started: None,
                    pods: Vec::new(),
                    generation: 0,
                    progress: 0,
                    run_since: None,
                    evictions: 0,
                }
            })
            .collect();
        Kueue {
            jobs,
            pods: Vec::new(),
            queues,
            admitted: Vec::new(),
            // Batch pods tolerate every taint of their flavor's nodes (as a ResourceFlavor's
            // tolerations are injected into admitted pods).
            template: PodTemplate {
                tolerations: vec![Toleration {
                    key: String::new(),
                    operator: TolerationOperator::Exists,
                    value: String::new(),
                    effect: None,
                }],
                ..PodTemplate::default()
            },
            rng: streams.stream("scheduler/batch-tie-break"),
            admissions: 0,
            requeues: 0,
            held: 0.0,
            useful: 0.0,
            lost: 0.0,
            waits: Vec::new(),
        }
    }

    /// Whether `total` fits flavor `f` of queue `q` now: within its nominal quota, or (in a
    /// cohort) borrowing within its limit from what the cohort's queues leave unused.
    fn fits(&self, q: usize, f: usize, total: &ResVec) -> bool {
        let queue = &self.queues[q];
        let fl = &queue.flavors[f];
        for (r, &need) in total.0.iter().enumerate() {
            if need == 0 {
                continue;
            }
            if !fl.covered[r] {
                if r == ResourceNames::PODS {
                    continue; // pods are counted only where a quota names them
                }
                return false;
            }
            let after = fl.used.0[r].saturating_add(need);
            if after <= fl.nominal.0[r] {
                continue;
            }
            let Some(cohort) = &queue.cohort else {
                return false;
            };
            let borrow = after - fl.nominal.0[r];
            if fl.limit.as_ref().is_some_and(|l| borrow > l.0[r]) {
                return false;
            }
            // The cohort's pooled quota of this flavor (same node pool) must cover it.
            let (mut nominal, mut used) = (0u64, 0u64);
            for other in self
                .queues
                .iter()
                .filter(|o| o.cohort.as_ref() == Some(cohort))
            {
                for of in other.flavors.iter().filter(|of| of.pool == fl.pool) {
                    nominal = nominal.saturating_add(of.nominal.0[r]);
                    used = used.saturating_add(of.used.0[r]);
                }
            }
            if used.saturating_add(need) > nominal {
                return false;
            }
        }
        true
    }

    fn enqueue(&mut self, job: u32) {
        let key = |k: &Kueue, j: u32| {
            let x = &k.jobs[j as usize];
            (std::cmp::Reverse(x.priority.value), x.queued_at, j)
        };
        let q = self.jobs[job as usize].queue;
        let me = key(self, job);
        let pos = self.queues[q]
            .waiting
            .partition_point(|&o| key(self, o) < me);
        self.queues[q].waiting.insert(pos, job);
        self.jobs[job as usize].state = JobState::Queued;
    }

    /// Kueue's admission cycle: each queue's heads, in order, are admitted when their whole
    /// quota fits a flavor (StrictFIFO stops at the first that does not).
    fn admit(&mut self) {
        for q in 0..self.queues.len() {
            let mut i = 0;
            while i < self.queues[q].waiting.len() {
                let job = self.queues[q].waiting[i];
                let total = self.jobs[job as usize].total.clone();
                let flavor = (0..self.queues[q].flavors.len()).find(|&f| self.fits(q, f, &total));
                match flavor {
                    Some(f) => {
                        self.queues[q].waiting.remove(i);
                        self.queues[q].flavors[f].used.add(&total);
                        let j = &mut self.jobs[job as usize];
                        j.state = JobState::Admitted;
                        j.flavor = f;
                        self.admitted.push(job);
                        self.admissions += 1;
                    }
                    None if self.queues[q].strict => break,
                    None => i += 1,
                }
            }
        }
    }

    /// Batch pods bound to `node` and running, with their priorities and start times.
    pub(super) fn running_on(
        &self,
        node: NodeId,
    ) -> impl Iterator<Item = (u32, i32, SimTime, &ResVec)> + '_ {
        self.pods
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.node == Some(node) && p.phase == BatchPhase::Running)
            .map(|(i, p)| {
                let j = &self.jobs[p.job as usize];
                (i as u32, j.priority.value, p.bound, &j.req)
            })
    }

    /// Requests of batch pods of priority below `priority` terminating on `node`.
    pub(super) fn terminating_on(
        &self,
        node: NodeId,
        priority: i32,
    ) -> impl Iterator<Item = &ResVec> + '_ {
        self.pods
            .iter()
            .filter(move |p| {
                p.node == Some(node)
                    && p.phase == BatchPhase::Terminating
                    && self.jobs[p.job as usize].priority.value < priority
            })
            .map(|p| &self.jobs[p.job as usize].req)
    }

    /// Whether a batch pod of priority below `priority` is terminating on `node`.
    pub(super) fn lower_terminating_on(&self, node: NodeId, priority: i32) -> bool {
        self.pods.iter().any(|p| {
            p.node == Some(node)
                && p.phase == BatchPhase::Terminating
                && self.jobs[p.job as usize].priority.value < priority
        })
    }

    /// The job a batch pod belongs to.
    pub(super) fn job_of(&self, pod: u32) -> u32 {
        self.pods[pod as usize].job
    }

    /// What batch work did, up to `horizon`.
    pub(in crate::world) fn outcome(&self, horizon: SimTime) -> BatchOutcome {
        let mut held = self.held;
        for p in &self.pods {
            if matches!(p.phase, BatchPhase::Running | BatchPhase::Terminating) {
                let j = &self.jobs[p.job as usize];
                held += j.req.0[ResourceNames::GPU] as f64 / 1000.0
                    * horizon.since(p.bound).as_secs_f64();
            }
        }
        let mut b = BatchOutcome {
            gpu_hours_held: held / 3600.0,
            gpu_hours_useful: self.useful / 3600.0,
            gpu_hours_lost: self.lost / 3600.0,
            admissions: self.admissions,
            requeues: self.requeues,
            wait_s: WaitTimes::of(self.waits.clone()),
            ..BatchOutcome::default()
        };
        let mut queues: Vec<QueueOutcome> = self
            .queues
            .iter()
            .map(|q| QueueOutcome {
                name: q.name.clone(),
                ..QueueOutcome::default()
            })
            .collect();
        let mut unfinished = 0.0;
        for j in &self.jobs {
            if j.state == JobState::Unsubmitted {
                continue;
            }
            let q = &mut queues[j.queue];
            b.jobs_submitted += 1;
            q.jobs_submitted += 1;
            q.requeues += j.evictions as u64;
            b.jobs_preempted += u64::from(j.evictions > 0);
            match j.state {
                JobState::Done => {
                    b.jobs_completed += 1;
                    q.jobs_completed += 1;
                }
                JobState::Running => {
                    b.jobs_running_at_horizon += 1;
                    let ran = j.run_since.map_or(0, |s| horizon.since(s).0);
                    unfinished += j.gpus * (j.progress + ran) as f64 / 1e9;
                }
                JobState::Admitted => {
                    b.jobs_admitted_waiting_at_horizon += 1;
                    unfinished += j.gpus * j.progress as f64 / 1e9;
                }
                JobState::Queued => {
                    b.jobs_queued_at_horizon += 1;
                    unfinished += j.gpus * j.progress as f64 / 1e9;
                }
                JobState::Unsubmitted => {}
            }
        }
        b.gpu_hours_unfinished = unfinished / 3600.0;
        b.queues = queues;
        b
    }
}

impl World {
    /// Schedules every job's submission.
    pub(super) fn kueue_start(&mut self) {
        let Some(k) = &self.kube.kueue else { return };
        let subs: Vec<(SimTime, u32)> = k
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.submitted, i as u32))
            .filter(|&(t, _)| t < self.horizon)
            .collect();
        for (t, job) in subs {
            self.queue.push(t, Event::Batch(BatchEvent::Submit { job }));
        }
    }

    /// Handles a batch event.
    pub(in crate::world) fn on_batch_event<S: RequestSink>(&mut self, e: BatchEvent, sink: &mut S) {
        let now = self.now;
        let Some(k) = &mut self.kube.kueue else {
            return;
        };
        match e {
            BatchEvent::Submit { job } => {
                k.jobs[job as usize].queued_at = now;
                k.enqueue(job);
                k.admit();
            }
            BatchEvent::PodGone { pod, generation } => {
                let p = &k.pods[pod as usize];
                if p.generation != generation || p.phase != BatchPhase::Terminating {
                    return;
                }
                self.batch_pod_gone(pod);
            }
            BatchEvent::JobDone { job, generation } => {
                let j = &mut k.jobs[job as usize];
                if j.generation != generation || j.state != JobState::Running {
                    return;
                }
                j.state = JobState::Done;
                j.progress = j.duration;
                j.run_since = None;
                k.useful += j.gpus * j.duration as f64 / 1e9;
                let total = j.total.clone();
                let (q, f) = (j.queue, j.flavor);
                k.queues[q].flavors[f].used.sub(&total);
                // Its pods succeed and leave at once.
                for pod in std::mem::take(&mut k.jobs[job as usize].pods) {
                    self.batch_pod_gone(pod);
                }
                let k = self.kube.kueue.as_mut().expect("batch");
                k.admit();
            }
        }
        if self.kube.quotas.retry {
            self.kube.quotas.retry = false;
            self.reconcile_all(sink);
        }
        self.schedule_pending();
        self.publish_cluster();
    }

    /// A batch pod's containers have exited: its node and namespace quota are released.
    fn batch_pod_gone(&mut self, pod: u32) {
        let now = self.now;
        let k = self.kube.kueue.as_mut().expect("batch");
        let p = &mut k.pods[pod as usize];
        if p.phase == BatchPhase::Gone {
            return;
        }
        let was_bound = matches!(p.phase, BatchPhase::Running | BatchPhase::Terminating);
        p.phase = BatchPhase::Gone;
        p.generation = p.generation.wrapping_add(1);
        let j = &k.jobs[p.job as usize];
        let (ns, req) = (j.ns, j.req.clone());
        if let (true, Some(node)) = (was_bound, p.node) {
            k.held += req.0[ResourceNames::GPU] as f64 / 1000.0 * now.since(p.bound).as_secs_f64();
            let ns = now.since(p.bound).0;
            let pool = self.kube.nodes[node.index()].pool.index();
            self.kube.cost.charge_batch(pool, &req, ns);
            let n = &mut self.kube.nodes[node.index()];
            n.requested.sub(&req);
            n.pods -= 1;
            n.batch_pods -= 1;
            n.version += 1;
            n.last_pod_event = now;
            if n.phase == NodePhase::Draining && n.pods == 0 {
                n.phase = NodePhase::Terminated;
                n.ended = Some(now);
            }
        }
        self.kube.quotas.release(ns, &req);
    }

    /// Evicts a job: running work stops (progress falls back to the last checkpoint), its pods
    /// terminate with their grace period, its quota is released and it is queued again.
    pub(super) fn evict_job(&mut self, job: u32) {
        let now = self.now;
        let k = self.kube.kueue.as_mut().expect("batch");
        let j = &mut k.jobs[job as usize];
        if !matches!(j.state, JobState::Admitted | JobState::Running) {
            return;
        }
        if let Some(s) = j.run_since.take() {
            j.progress += now.since(s).0;
        }
        let kept = j.checkpoint.map_or(0, |c| j.progress / c * c);
        k.lost += j.gpus * (j.progress - kept) as f64 / 1e9;
        j.progress = kept;
        j.evictions += 1;
        j.generation = j.generation.wrapping_add(1);
        j.queued_at = now;
        let (grace, total, q, f) = (j.grace, j.total.clone(), j.queue, j.flavor);
        let pods = std::mem::take(&mut j.pods);
        k.requeues += 1;
        k.queues[q].flavors[f].used.sub(&total);
        k.admitted.retain(|&x| x != job);
        k.enqueue(job);
        for pod in pods {
            let k = self.kube.kueue.as_mut().expect("batch");
            let p = &mut k.pods[pod as usize];
            match p.phase {
                BatchPhase::Pending => self.batch_pod_gone(pod),
                BatchPhase::Running => {
                    p.phase = BatchPhase::Terminating;
                    p.generation = p.generation.wrapping_add(1);
                    let generation = p.generation;
                    self.queue.push(
                        now + grace,
                        Event::Batch(BatchEvent::PodGone { pod, generation }),
                    );
                }
                BatchPhase::Terminating | BatchPhase::Gone => {}
            }
        }
        let k = self.kube.kueue.as_mut().expect("batch");
        k.admit();
    }

    /// Evicts every job with a pod on `node` (cordoned and drained, or out of service).
    pub(super) fn evict_batch_on(&mut self, node: NodeId) {
        let Some(k) = &self.kube.kueue else { return };
        let mut jobs: Vec<u32> = k
            .pods
            .iter()
            .filter(|p| {
                p.node == Some(node) && matches!(p.phase, BatchPhase::Running | BatchPhase::Pending)
            })
            .map(|p| p.job)
            .collect();
        jobs.sort_unstable();
        jobs.dedup();
        for j in jobs {
            self.evict_job(j);
        }
    }

    /// The Job controller creates admitted jobs' pods (each checked against its namespace's
    /// quota), then the scheduler places each job's pods all or none on its flavor's nodes.
    pub(super) fn kueue_place(&mut self) {
        let Some(k) = &mut self.kube.kueue else {
            return;
        };
        let pods = &self.kube.pods;
        self.kube
            .preemption
            .nominated
            .retain(|(p, _)| pods[p.index()].phase == PodPhase::Pending);
        let admitted = k.admitted.clone();
        for job in admitted {
            if !self.create_batch_pods(job) {
                continue;
            }
            self.place_gang(job);
        }
    }

    /// Creates the job's missing pods; false while its namespace's quota refuses one.
    fn create_batch_pods(&mut self, job: u32) -> bool {
        let k = self.kube.kueue.as_mut().expect("batch");
        let j = &k.jobs[job as usize];
        let (ns, req, want) = (j.ns, j.req.clone(), j.parallelism as usize);
        while k.jobs[job as usize].pods.len() < want {
            if !self.kube.quotas.admit(ns, &req, &self.kube.names) {
                return false;
            }
            let id = k.pods.len() as u32;
            k.pods.push(BatchPod {
                job,
                node: None,
                phase: BatchPhase::Pending,
                bound: self.now,
                generation: 0,
            });
            k.jobs[job as usize].pods.push(id);
        }
        true
    }

    /// Places every pod of `job` on a Ready node of its flavor's pool, or none of them.
    fn place_gang(&mut self, job: u32) {
        let now = self.now;
        let k = self.kube.kueue.as_mut().expect("batch");
        let j = &k.jobs[job as usize];
        let pool = k.queues[j.queue].flavors[j.flavor].pool;
        let req = j.req.clone();
        let priority = j.priority.value;
        let pods = j.pods.clone();
        let nonzero = req.clone();
        let mut placed: Vec<NodeId> = Vec::with_capacity(pods.len());
        for _ in &pods {
            let kube = &mut self.kube;
            let k = kube.kueue.as_mut().expect("batch");
            let candidates: Vec<usize> = (0..kube.nodes.len())
                .filter(|&i| {
                    let n = &kube.nodes[i];
                    n.pool == pool && n.phase == NodePhase::Ready
                })
                .collect();
            // Room kept for serving pods nominated by a preemption (of higher priority).
            let requested: Vec<ResVec> = candidates
                .iter()
                .map(|&i| {
                    let mut r = kube.nodes[i].requested.clone();
                    for (p, node) in &kube.preemption.nominated {
                        let pod = &kube.pods[p.index()];
                        let d = &kube.deps[pod.svc.index()];
                        if node.index() == i && d.priority.value >= priority {
                            r.add(pod.requests.as_ref().map_or(&d.pod_req, |b| &b.0));
                        }
                    }
                    r
                })
                .collect();
            let views: Vec<NodeView> = candidates
                .iter()
                .zip(&requested)
                .map(|(&i, r)| {
                    let n = &kube.nodes[i];
                    let p = &kube.pools[n.pool.index()];
                    NodeView {
                        allocatable: &p.allocatable,
                        requested: r,
                        labels: &n.labels,
                        taints: &p.spec.taints,
                        matching_pods: 0,
                        version_pods: 0,
                        has_image: true,
                        unschedulable: false,
                        terminating_pods: 0,
                        service_pods: &[],
                        service_terminating: &[],
                        not_ready: false,
                    }
                })
                .collect();
            let view = PodView {
                template: &k.template,
                requests: &req,
                nonzero_requests: &nonzero,
                held_off: &[],
            };
            match select(
                &kube.scheduler,
                &kube.names,
                &view,
                &views,
                &mut k.rng,
                &mut kube.scratch,
            ) {
                Ok(i) => {
                    let node = NodeId(candidates[i] as u32);
                    let n = &mut kube.nodes[node.index()];
                    n.requested.add(&req);
                    n.pods += 1;
                    n.batch_pods += 1;
                    n.version += 1;
                    n.last_pod_event = now;
                    placed.push(node);
                }
                Err(_) => {
                    for node in placed {
                        let n = &mut kube.nodes[node.index()];
                        n.requested.sub(&req);
                        n.pods -= 1;
                        n.batch_pods -= 1;
                        n.version += 1;
                    }
                    return;
                }
            }
        }
        let k = self.kube.kueue.as_mut().expect("batch");
        for (&pod, node) in pods.iter().zip(placed) {
            let p = &mut k.pods[pod as usize];
            p.node = Some(node);
            p.phase = BatchPhase::Running;
            p.bound = now;
        }
        let j = &mut k.jobs[job as usize];
        j.state = JobState::Running;
        j.run_since = Some(now);
        if j.started.is_none() {
            j.started = Some(now);
            k.waits.push(now.since(j.submitted).as_secs_f64());
        }
        let at = now + SimDuration(j.duration - j.progress);
        let generation = j.generation;
        k.admitted.retain(|&x| x != job);
        if at < self.horizon {
            self.queue
                .push(at, Event::Batch(BatchEvent::JobDone { job, generation }));
        }
    }
}
