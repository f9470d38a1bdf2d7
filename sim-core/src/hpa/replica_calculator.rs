//! `replica_calculator.go`: the replica count one metric proposes.
//!
//! Pods are grouped (ignored, unready, missing a metric, ready) with upstream's readiness and
//! CPU-initialisation rules; the usage ratio is computed with upstream's integer truncations; missing
//! pods count as 0 % on a scale-up and 100 % (or the target) on a scale-down; unready pods count as
//! 0 % on a scale-up; a result that flips the direction of scaling keeps the current count.

use super::config::{ControllerConfig, Tolerances};
use super::state::{ConditionStatus, ContainerKind, Nanos, Observation, PodPhase, PodState};

/// How `groupPods` classified a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodGroup {
    /// Counted, with its metric.
    Ready,
    /// Pending, or (CPU only) not ready / still initialising: metric dropped, 0 % on a scale-up.
    Unready,
    /// No metric: 0 % on a scale-up, 100 % on a scale-down.
    Missing,
    /// Deleting or Failed: not counted at all.
    Ignored,
}

impl PodGroup {
    /// Lower-case name for explanations.
    pub fn name(self) -> &'static str {
        match self {
            PodGroup::Ready => "ready",
            PodGroup::Unready => "unready",
            PodGroup::Missing => "missing",
            PodGroup::Ignored => "ignored",
        }
    }
}

/// A metric sample for one pod: (milli-value, timestamp, window).
pub type Sample = (i64, Nanos, Nanos);

/// What one metric proposes.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaResult {
    /// Proposed replicas.
    pub replicas: i32,
    /// Utilisation in percent of the request (Utilization targets only).
    pub utilization: Option<i32>,
    /// Usage in milli-units: the raw average for resource metrics, the average for Pods metrics,
    /// the total (Value) or per-pod (AverageValue) value for Object and External metrics.
    pub usage: i64,
    /// Human-readable steps, one per line.
    pub detail: Vec<String>,
}

/// `groupPods`: classifies each listed pod (`None` for pods only the metrics API reports).
/// `cpu` turns on the readiness checks, which upstream applies to the CPU resource only.
pub fn group_pods(
    pods: &[PodState],
    samples: &[Option<Sample>],
    cpu: bool,
    cfg: &ControllerConfig,
    now: Nanos,
) -> Vec<Option<(PodGroup, &'static str)>> {
    pods.iter()
        .zip(samples)
        .map(|(pod, sample)| {
            if !pod.listed {
                return None;
            }
            Some(classify(pod, sample.as_ref(), cpu, cfg, now))
        })
        .collect()
}

fn classify(
    pod: &PodState,
    sample: Option<&Sample>,
    cpu: bool,
    cfg: &ControllerConfig,
    now: Nanos,
) -> (PodGroup, &'static str) {
    if pod.deleting {
        return (PodGroup::Ignored, "being deleted");
    }
    if pod.phase == PodPhase::Failed {
        return (PodGroup::Ignored, "phase Failed");
    }
    if pod.phase == PodPhase::Pending {
        return (PodGroup::Unready, "phase Pending");
    }
    let Some(&(_, ts, window)) = sample else {
        return (PodGroup::Missing, "no metric");
    };
    if cpu {
        let (Some(status), Some(start)) = (pod.ready, pod.start) else {
            return (PodGroup::Unready, "no Ready condition or no start time");
        };
        if start.saturating_add(cfg.cpu_initialization_period) > now {
            if status == ConditionStatus::False {
                return (PodGroup::Unready, "initialising and not Ready");
            }
            if ts < pod.ready_transition.saturating_add(window) {
                return (
                    PodGroup::Unready,
                    "initialising; no full metric window since it became Ready",
                );
            }
        } else if status == ConditionStatus::False
            && start.saturating_add(cfg.initial_readiness_delay) > pod.ready_transition
        {
            return (PodGroup::Unready, "not Ready and never was");
        }
    }
    (PodGroup::Ready, "")
}

/// `calculateRequests`: each listed pod's request in milli-units (`None` for unlisted pods).
pub fn calculate_requests(
    pods: &[PodState],
    container: Option<&str>,
    resource: &str,
) -> Result<Vec<Option<i64>>, String> {
    let mut out = Vec::with_capacity(pods.len());
    for pod in pods {
        if !pod.listed {
            out.push(None);
            continue;
        }
        if let (Some(req), None) = (&pod.pod_requests, container) {
            let r = req.get(resource).ok_or_else(|| {
                format!(
                    "missing pod-level request for {resource} in Pod {}",
                    pod.name
                )
            })?;
            out.push(Some(*r));
            continue;
        }
        let mut request = 0i64;
        let mut found = false;
        for c in pod
            .containers
            .iter()
            .filter(|c| c.kind != ContainerKind::Init)
        {
            if container.is_none() || container == Some(c.name.as_str()) {
                let r = c.requests.get(resource).ok_or_else(|| {
                    format!(
                        "missing request for {resource} in container {} of Pod {}",
                        c.name, pod.name
                    )
                })?;
                request = request.saturating_add(*r);
            }
            if container == Some(c.name.as_str()) {
                found = true;
                break;
            }
        }
        if let (Some(c), false) = (container, found) {
            return Err(format!("container {c} not found in Pod {}", pod.name));
        }
        out.push(Some(request));
    }
    Ok(out)
}

/// `GetResourceUtilizationRatio`: (ratio, utilisation percent truncated, raw average milli-value).
pub fn utilization_ratio(
    metrics: &[(usize, i64)],
    requests: &[Option<i64>],
    target: i32,
) -> Result<(f64, i32, i64), String> {
    let (mut total, mut req_total, mut n) = (0i64, 0i64, 0i64);
    for &(i, v) in metrics {
        let Some(r) = requests[i] else { continue };
        total = total.saturating_add(v);
        req_total = req_total.saturating_add(r);
        n += 1;
    }
    if req_total == 0 {
        return Err("no metrics returned matched known pods".into());
    }
    let util = (total.saturating_mul(100) / req_total) as i32;
    Ok((util as f64 / target as f64, util, total / n))
}

/// `GetMetricUsageRatio`: (ratio, average milli-value truncated).
pub fn usage_ratio(metrics: &[(usize, i64)], target: i64) -> (f64, i64) {
    let total: i64 = metrics.iter().fold(0i64, |a, &(_, v)| a.saturating_add(v));
    let usage = total / metrics.len() as i64;
    (usage as f64 / target as f64, usage)
}

fn ceil_i32(x: f64) -> i32 {
    let c = x.ceil();
    if c >= i32::MAX as f64 {
        i32::MAX
    } else {
        c as i32
    }
}

/// Inputs shared by the per-pod calculations.
pub struct PodInputs<'a> {
    /// The observation (pods, time).
    pub obs: &'a Observation,
    /// Controller flags.
    pub cfg: &'a ControllerConfig,
    /// Tolerances in force.
    pub tol: Tolerances,
    /// The replica count to compare with (`scale.spec.replicas`).
    pub current: i32,
}

/// What a per-pod target is: percent of the request, or milli-units per pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodTarget {
    /// `GetResourceReplicas`.
    Utilization(i32),
    /// `calcPlainMetricReplicas`.
    Usage(i64),
}

/// `GetResourceReplicas` / `GetRawResourceReplicas` / `GetMetricReplicas`: a per-pod metric.
/// `resource` is the resource name for resource metrics (requests and the CPU readiness rules
/// apply), `None` for Pods metrics.
pub fn per_pod_replicas(
    inp: &PodInputs<'_>,
    samples: &[Option<Sample>],
    target: PodTarget,
    resource: Option<&str>,
    container: Option<&str>,
) -> Result<ReplicaResult, String> {
    let pods = &inp.obs.pods;
    if !pods.iter().any(|p| p.listed) {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let groups = group_pods(pods, samples, resource == Some("cpu"), inp.cfg, inp.obs.now);
    let mut detail = Vec::new();
    let mut metrics: Vec<(usize, i64)> = Vec::new();
    let (mut ready, mut unready, mut missing) = (0usize, Vec::new(), Vec::new());
    for (i, (g, s)) in groups.iter().zip(samples).enumerate() {
        match g {
            None => {
                if let Some((v, _, _)) = s {
                    metrics.push((i, *v));
                }
            }
            Some((PodGroup::Ready, _)) => {
                ready += 1;
                metrics.push((i, s.expect("ready pods have a sample").0));
            }
            Some((PodGroup::Unready, _)) => unready.push(i),
            Some((PodGroup::Missing, _)) => missing.push(i),
            Some((PodGroup::Ignored, _)) => {}
        }
    }
    if metrics.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let requests = match (target, resource) {
        (PodTarget::Utilization(_), Some(r)) => calculate_requests(pods, container, r)?,
        _ => vec![None; pods.len()],
    };
    for (i, pod) in pods.iter().enumerate() {
        let mut line = format!("pod {}: ", pod.name);
        match groups[i] {
            None => line.push_str("not listed (metric only)"),
            Some((g, "")) => line.push_str(g.name()),
            Some((g, why)) => line.push_str(&format!("{} ({why})", g.name())),
        }
        if let Some((v, _, _)) = samples[i] {
            line.push_str(&format!(", metric={}", milli(v)));
        }
        if let Some(r) = requests[i] {
            line.push_str(&format!(", request={}", milli(r)));
        }
        detail.push(line);
    }
    let ratio_of = |m: &[(usize, i64)]| -> Result<(f64, i64, Option<i32>), String> {
        Ok(match target {
            PodTarget::Utilization(t) => {
                let (r, u, raw) = utilization_ratio(m, &requests, t)?;
                (r, raw, Some(u))
            }
            PodTarget::Usage(t) => {
                let (r, u) = usage_ratio(m, t);
                (r, u, None)
            }
        })
    };
    let (ratio, usage, utilization) = ratio_of(&metrics)?;
    let ret = |replicas: i32, mut detail: Vec<String>, why: String| {
        detail.push(why);
        Ok(ReplicaResult {
            replicas,
            utilization,
            usage,
            detail,
        })
    };
    let shown = match utilization {
        Some(u) => format!("utilization {u}%"),
        None => format!("usage {}", milli(usage)),
    };
    detail.push(format!(
        "{ready} ready, {} unready, {} missing; {shown}; usage ratio {ratio}",
        unready.len(),
        missing.len()
    ));
    let scale_up_with_unready = !unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if inp.tol.is_within(ratio) {
            return ret(
                inp.current,
                detail,
                "ratio within tolerance: keep current replicas".into(),
            );
        }
        let n = ceil_i32(ratio * ready as f64);
        return ret(
            n,
            detail,
            format!("ceil({ratio} x {ready} ready pods) = {n}"),
        );
    }
    if !missing.is_empty() {
        if ratio < 1.0 {
            for &i in &missing {
                let v = match target {
                    PodTarget::Utilization(t) => {
                        requests[i].unwrap_or(0) * i64::from(t.max(100)) / 100
                    }
                    PodTarget::Usage(t) => t,
                };
                metrics.push((i, v));
            }
            detail.push(format!(
                "scale-down: {} missing pod(s) assumed at {}",
                missing.len(),
                match target {
                    PodTarget::Utilization(t) => format!("{}% of request", t.max(100)),
                    PodTarget::Usage(t) => format!("the target {}", milli(t)),
                }
            ));
        } else if ratio > 1.0 {
            metrics.extend(missing.iter().map(|&i| (i, 0)));
            detail.push(format!(
                "scale-up: {} missing pod(s) assumed at 0",
                missing.len()
            ));
        }
    }
    if scale_up_with_unready {
        metrics.extend(unready.iter().map(|&i| (i, 0)));
        detail.push(format!(
            "scale-up: {} unready pod(s) assumed at 0",
            unready.len()
        ));
    }
    let (new_ratio, _, _) = ratio_of(&metrics)?;
    if inp.tol.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return ret(
            inp.current,
            detail,
            format!("new usage ratio {new_ratio} is within tolerance or reverses direction: keep current replicas"),
        );
    }
    let n = ceil_i32(new_ratio * metrics.len() as f64);
    if (new_ratio < 1.0 && n > inp.current) || (new_ratio > 1.0 && n < inp.current) {
        return ret(
            inp.current,
            detail,
            format!(
                "ceil({new_ratio} x {}) = {n} would reverse direction: keep current replicas",
                metrics.len()
            ),
        );
    }
    ret(
        n,
        detail,
        format!("ceil({new_ratio} x {} pods) = {n}", metrics.len()),
    )
}

/// `getUsageRatioReplicaCount`: Object and External `Value` targets.
pub fn usage_ratio_replica_count(
    inp: &PodInputs<'_>,
    ratio: f64,
    detail: &mut Vec<String>,
) -> Result<i32, String> {
    if inp.current == 0 {
        let n = ceil_i32(ratio);
        detail.push(format!(
            "current replicas 0: ceil({ratio}) = {n} (tolerance not applied)"
        ));
        return Ok(n);
    }
    if inp.tol.is_within(ratio) {
        detail.push(format!(
            "usage ratio {ratio} within tolerance: keep current replicas"
        ));
        return Ok(inp.current);
    }
    let pods = &inp.obs.pods;
    if !pods.iter().any(|p| p.listed) {
        return Err("unable to calculate ready pods: no pods returned by selector while calculating replica count".into());
    }
    let ready = pods
        .iter()
        .filter(|p| p.listed && p.phase == PodPhase::Running && p.is_ready())
        .count();
    let f = ratio * ready as f64;
    let n = ceil_i32(f);
    detail.push(format!("ceil({ratio} x {ready} running ready pods) = {n}"));
    Ok(n)
}

/// `GetObjectPerPodMetricReplicas` / `GetExternalPerPodMetricReplicas`: (replicas, usage per pod).
pub fn per_pod_value_replicas(
    tol: Tolerances,
    status_replicas: i32,
    usage: i64,
    target_per_pod: i64,
    detail: &mut Vec<String>,
) -> (i32, i64) {
    let ratio = usage as f64 / (target_per_pod as f64 * status_replicas as f64);
    let mut replicas = status_replicas;
    if tol.is_within(ratio) {
        detail.push(format!(
            "usage ratio {ratio} over {status_replicas} status replicas within tolerance: keep"
        ));
    } else {
        replicas = ceil_i32(usage as f64 / target_per_pod as f64);
        detail.push(format!(
            "usage ratio {ratio} over {status_replicas} status replicas: ceil({} / {}) = {replicas}",
            milli(usage),
            milli(target_per_pod)
        ));
    }
    let per_pod = if usage == i64::MAX || status_replicas == 0 {
        usage
    } else {
        (usage as f64 / status_replicas as f64).ceil() as i64
    };
    (replicas, per_pod)
}

/// A milli-value as a Kubernetes quantity string (`1500m`, `2`).
pub fn milli(v: i64) -> String {
    if v % 1000 == 0 {
        format!("{}", v / 1000)
    } else {
        format!("{v}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpa::state::{ContainerState, SECOND};
    use std::collections::BTreeMap;

    const MIN: Nanos = 60 * SECOND;

    fn pod(start: Nanos, ready: Option<ConditionStatus>, ltt: Nanos) -> PodState {
        PodState {
            name: "p".into(),
            listed: true,
            phase: PodPhase::Running,
            ready,
            ready_transition: ltt,
            start: Some(start),
            deleting: false,
            containers: vec![],
            pod_requests: None,
            metrics: BTreeMap::new(),
            usage_sample: (0, MIN),
        }
    }

    fn test_cfg() -> ControllerConfig {
        ControllerConfig {
            cpu_initialization_period: 2 * MIN,
            initial_readiness_delay: 10 * SECOND,
            ..ControllerConfig::default()
        }
    }

    /// `TestGroupPods` (reference §1.8), now = 0.
    #[test]
    fn group_pods_vectors() {
        let cfg = test_cfg();
        let t = Some(ConditionStatus::True);
        let f = Some(ConditionStatus::False);
        let g = |p: PodState, s: Sample, cpu: bool| classify(&p, Some(&s), cpu, &cfg, 0).0;
        let mut succeeded = pod(-10 * MIN, None, 0);
        succeeded.phase = PodPhase::Succeeded;
        assert_eq!(g(succeeded, (1, 0, MIN), true), PodGroup::Unready);
        assert_eq!(
            g(pod(-MIN, t, -30 * SECOND), (1, 0, 30 * SECOND), true),
            PodGroup::Ready
        );
        assert_eq!(
            g(pod(-MIN, t, -30 * SECOND), (1, 0, 60 * SECOND), true),
            PodGroup::Unready
        );
        assert_eq!(
            g(pod(-10 * MIN, f, -9 * MIN - 54 * SECOND), (1, 0, MIN), true),
            PodGroup::Unready
        );
        assert_eq!(
            g(pod(-10 * MIN, f, -9 * MIN), (1, 0, MIN), true),
            PodGroup::Ready
        );
        assert_eq!(
            g(pod(-10 * MIN, f, -9 * MIN - 50 * SECOND), (1, 0, MIN), true),
            PodGroup::Ready
        );
        assert_eq!(
            g(pod(-3 * MIN, t, -3 * MIN), (1, -2 * MIN, MIN), true),
            PodGroup::Ready
        );
        let mut pending = pod(-MIN, t, 0);
        pending.phase = PodPhase::Pending;
        assert_eq!(g(pending, (1, 0, MIN), true), PodGroup::Unready);
        let mut failed = pod(-MIN, t, 0);
        failed.phase = PodPhase::Failed;
        assert_eq!(g(failed, (1, 0, MIN), true), PodGroup::Ignored);
        let mut deleting = pod(-MIN, t, 0);
        deleting.deleting = true;
        assert_eq!(g(deleting, (1, 0, MIN), true), PodGroup::Ignored);
        // Memory: readiness is never checked.
        assert_eq!(
            g(
                pod(-10 * MIN, f, -9 * MIN - 54 * SECOND),
                (1, 0, MIN),
                false
            ),
            PodGroup::Ready
        );
    }

    fn container(name: &str, kind: ContainerKind, cpu: Option<i64>) -> ContainerState {
        ContainerState {
            name: name.into(),
            kind,
            requests: cpu
                .map(|c| BTreeMap::from([("cpu".to_string(), c)]))
                .unwrap_or_default(),
            usage: BTreeMap::new(),
        }
    }

    /// `TestCalculatePodRequests` (reference §1.8).
    #[test]
    fn pod_requests_vectors() {
        let mut p = pod(0, None, 0);
        p.containers = vec![
            container("container1", ContainerKind::Regular, Some(100)),
            container("container2", ContainerKind::Regular, Some(50)),
        ];
        let pods = vec![p.clone()];
        assert_eq!(
            calculate_requests(&pods, None, "cpu").unwrap(),
            vec![Some(150)]
        );
        assert_eq!(
            calculate_requests(&pods, Some("container1"), "cpu").unwrap(),
            vec![Some(100)]
        );
        p.containers[1].requests.clear();
        let e = calculate_requests(&[p.clone()], None, "cpu").unwrap_err();
        assert_eq!(
            e,
            "missing request for cpu in container container2 of Pod p"
        );
        p.containers = vec![
            container("container1", ContainerKind::Regular, Some(100)),
            container("sidecar", ContainerKind::RestartableInit, Some(50)),
            container("init", ContainerKind::Init, Some(20)),
        ];
        assert_eq!(
            calculate_requests(&[p], None, "cpu").unwrap(),
            vec![Some(150)]
        );
    }

    #[test]
    fn ratio_truncates_like_upstream() {
        let m = vec![(0, 1010), (1, 1030), (2, 1020)];
        let req = vec![Some(900), Some(1000), Some(1100)];
        let (r, u, raw) = utilization_ratio(&m, &req, 100).unwrap();
        assert_eq!((u, raw), (102, 1020));
        assert_eq!(r, 1.02);
        assert_eq!(
            usage_ratio(&[(0, 20000), (1, 21000), (2, 21000)], 20000).1,
            20666
        );
    }
}
