//! Failures and self-healing: the node-failure → NotReady → eviction → replacement → Ready
//! timeline, GPU faults and liveness restarts, zone outages, spot notices and the
//! PodDisruptionBudget, client timeouts and retries, and conservation of requests under random
//! failures.

use proptest::prelude::*;
use sim_core::catalog::Catalog;
use sim_core::engine::SimTime;
use sim_core::metrics::{Outcome, RequestRow};
use sim_core::serving::DropReason;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario_with, Inputs, RunResult, World};

/// One GPU per node, round numbers.
const TEST_INSTANCES: &str = r#"
[[instance]]
id = "test.gpu1"
provider = "aws"
region = "test-region-1"
vcpu = 8
memory = "64Gi"
gpu = "h100-sxm"
gpu_count = 1
on_demand_usd_per_hour = 3.6
spot_usd_per_hour = 1.8
price_date = "2026-11-22"
price_source = "test fixture"
price_verified = false

[[instance]]
id = "test.gpu4"
provider = "aws"
region = "test-region-1"
vcpu = 32
memory = "256Gi"
gpu = "h100-sxm"
gpu_count = 4
on_demand_usd_per_hour = 14.4
price_date = "2026-11-22"
price_source = "test fixture"
price_verified = false
"#;

fn catalog() -> Catalog {
    Catalog::builtin()
        .with_instances(TEST_INSTANCES, "test-instances.toml")
        .expect("test catalog")
}

fn conserved(r: &RunResult) {
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "every request completed, dropped or in flight"
    );
    // The world's own count of requests in flight agrees.
    assert!(
        !r.summary.warnings.iter().any(|w| w.contains("unaccounted")),
        "{:?}",
        r.summary.warnings
    );
}

fn run_rows(text: &str, trace: Option<Vec<TraceRecord>>) -> (RunResult, Vec<RequestRow>) {
    let s = parse_scenario_with(text, "failure-test.toml", &catalog())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    let r = World::new(
        &s,
        Inputs {
            trace,
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut rows);
    conserved(&r);
    // Each request ends at most once.
    let mut ids: Vec<u64> = rows.iter().map(|r| r.request.id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "a request ended twice");
    (r, rows)
}

fn at(secs: f64) -> TraceRecord {
    TraceRecord {
        time: SimTime::from_secs_f64(secs),
        prompt_tokens: 0,
        output_tokens: 0,
        tenant: 0,
        prefix: sim_core::serving::Prefix::NONE,
    }
}

/// Two serving nodes (pods placed at time zero) and a spare node that joins at 1 s.
fn two_nodes_and_a_spare(extra: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "10m"
sample_interval = "10s"

[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 2

[[node_pool]]
name = "spare"
instance_type = "test.gpu1"
initial_size = 0
max_size = 1
provisioning_delay = "0s"
scale = [{{ at = "1s", size = 1 }}]

[service]
replicas = 2
dispatch = "router"
router = "round-robin"

[service.pod]
readinessProbe = {{ initialDelaySeconds = 10, periodSeconds = 5 }}

[service.service_time]
distribution = "deterministic"
base = "1s"

[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"
{extra}
"#
    )
}

#[test]
fn a_failed_node_goes_not_ready_then_its_pod_is_evicted_and_replaced() {
    // Node gpu-0 fails at 60 s. Hand-checked upstream timeline:
    //  60 s  its pod's process is gone: the request in service there fails (pod_failed);
    //        the pod is still in the endpoints, so one of the two requests at 80/81 s fails too;
    // 100 s  node-monitor-grace-period (40 s): NotReady, its pod leaves the endpoints;
    // 400 s  the pod's unreachable toleration (300 s) runs out: evicted, the ReplicaSet creates a
    //        replacement, bound at once to the spare node;
    // 410 s  its readiness probe (initialDelaySeconds 10) passes: 2 ready replicas again.
    let text = two_nodes_and_a_spare(
        r#"
[[failure]]
at = "60s"
kind = "node"
pool = "gpu"
node = 0
"#,
    );
    let trace = [10.0, 59.5, 59.6, 80.0, 81.0, 200.0, 201.0, 420.0, 421.0]
        .map(at)
        .to_vec();
    let (r, rows) = run_rows(&text, Some(trace));
    let outcome = |id: u64| rows.iter().find(|r| r.request.id.0 == id).unwrap().outcome;
    let failed_at = |id: u64, t: f64| {
        outcome(id)
            == Outcome::Dropped {
                at: SimTime::from_secs_f64(t),
                reason: DropReason::PodFailed,
            }
    };
    let completed = |id: u64| matches!(outcome(id), Outcome::Completed { .. });
    assert!(completed(0));
    // Requests 1 and 2 go to different pods: the one on the failed node fails at 60 s.
    assert!(failed_at(1, 60.0) ^ failed_at(2, 60.0));
    assert!(completed(1) ^ completed(2));
    // Before NotReady the dead pod still gets its share (and fails it at once).
    assert!(failed_at(3, 80.0) ^ failed_at(4, 81.0));
    assert!(completed(3) ^ completed(4));
    // After NotReady, and after the replacement is Ready, nothing fails.
    for id in 5..9 {
        assert!(completed(id), "request {id}: {:?}", outcome(id));
    }
    // The replacement (pod 2) serves one of the last two.
    let replicas: Vec<u32> = (7..9)
        .map(|id| match outcome(id) {
            Outcome::Completed { replica, .. } => replica,
            _ => unreachable!(),
        })
        .collect();
    assert!(replicas.contains(&2), "{replicas:?}");
    let f = r.summary.failures.as_ref().expect("a failure summary");
    let timeline: Vec<(f64, &str)> = f
        .incidents
        .iter()
        .map(|i| (i.time_s, i.kind.as_str()))
        .collect();
    assert_eq!(
        timeline,
        [
            (60.0, "node"),
            (100.0, "node_not_ready"),
            (400.0, "pods_evicted")
        ]
    );
    assert_eq!(f.pods_evicted, 1);
    assert_eq!(f.requests_failed, 2);
    assert_eq!(f.replicas_recovered_s, Some(350.0));
    // Rows close before the events at their end: ready drops in the row ending at 110 s and is
    // back in the row ending at 420 s.
    let ready = |t: f64| {
        r.series
            .iter()
            .find(|row| row.time_s == t)
            .unwrap()
            .ready_replicas
    };
    assert_eq!(
        [ready(100.0), ready(110.0), ready(410.0), ready(420.0)],
        [2, 1, 1, 2]
    );
    assert_eq!(r.summary.requests.dropped_by_reason["pod_failed"], 2);
}

#[test]
fn a_repaired_node_restarts_its_pods_before_eviction() {
    let text = two_nodes_and_a_spare(
        r#"
[[failure]]
at = "60s"
kind = "node"
pool = "gpu"
node = 0
repair = "2m"
"#,
    );
    let (r, _) = run_rows(&text, Some(vec![at(1.0)]));
    let f = r.summary.failures.unwrap();
    let kinds: Vec<&str> = f.incidents.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["node", "node_not_ready", "node_repaired"]);
    assert_eq!(f.pods_evicted, 0);
    assert_eq!(f.container_restarts, 1);
    // Repaired at 180 s, Ready at 190 s (initialDelaySeconds 10).
    assert_eq!(f.replicas_recovered_s, Some(130.0));
}

#[test]
fn a_gpu_fault_hangs_a_pod_until_its_liveness_probe_restarts_it() {
    let fault = r#"
[[failure]]
at = "60s"
kind = "gpu"
pool = "gpu"
node = 0
"#;
    let with_liveness = two_nodes_and_a_spare(fault).replace(
        "readinessProbe = { initialDelaySeconds = 10, periodSeconds = 5 }",
        "readinessProbe = { initialDelaySeconds = 10, periodSeconds = 5 }\nlivenessProbe = { periodSeconds = 10, failureThreshold = 3 }",
    );
    let (r, _) = run_rows(&with_liveness, Some(vec![at(1.0)]));
    let f = r.summary.failures.unwrap();
    let timeline: Vec<(f64, &str)> = f
        .incidents
        .iter()
        .map(|i| (i.time_s, i.kind.as_str()))
        .collect();
    // Readiness fails 3 × 5 s after the fault; liveness 3 × 10 s after it restarts the container,
    // which is Ready 10 s later.
    assert_eq!(
        timeline,
        [
            (60.0, "gpu"),
            (75.0, "pod_not_ready"),
            (90.0, "pod_restarted")
        ]
    );
    assert_eq!(f.container_restarts, 1);
    assert_eq!(f.replicas_recovered_s, Some(40.0));
    assert_eq!(f.pods_hung, 0);

    // Without a liveness probe the pod stays hung and NotReady.
    let (r, _) = run_rows(&two_nodes_and_a_spare(fault), Some(vec![at(1.0)]));
    let f = r.summary.failures.unwrap();
    assert_eq!(f.pods_hung, 1);
    assert_eq!(f.replicas_recovered_s, None);
    assert!(r
        .summary
        .warnings
        .iter()
        .any(|w| w.contains("livenessProbe")));
}

#[test]
fn a_zone_outage_takes_every_node_of_the_zone() {
    let text = two_nodes_and_a_spare(
        r#"
[[failure]]
at = "60s"
kind = "zone"
zone = "test-region-1a"
"#,
    );
    let (r, _) = run_rows(&text, Some(vec![at(1.0)]));
    let f = r.summary.failures.unwrap();
    // Every node is in the default zone: all three fail, both pods are evicted, and the
    // replacements stay Pending (no node left).
    assert_eq!(f.pods_evicted, 2);
    assert_eq!(f.replicas_recovered_s, None);
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        2
    );
}

/// Two one-GPU nodes under the Cluster Autoscaler; node 0 fails at 60 s and is never repaired.
fn autoscaled_failure(ca: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "40m"
sample_interval = "10s"

[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
min_size = 1
max_size = 3
initial_size = 2
provisioning_delay = "2m"

[cluster_autoscaler]
{ca}

[service]
replicas = 2
dispatch = "router"

[service.pod]
readinessProbe = {{ initialDelaySeconds = 10, periodSeconds = 5 }}

[service.service_time]
distribution = "deterministic"
base = "1s"

[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"

[[failure]]
at = "60s"
kind = "node"
pool = "gpu"
node = 0
"#
    )
}

#[test]
fn the_cluster_autoscaler_replaces_a_failed_node_and_removes_it_after_the_unready_time() {
    // Hand-checked: NotReady at 100 s, the pod evicted at 400 s; the scan at 400 s (after the
    // eviction, queued earlier) adds a node for the Pending replacement (the node Ready at
    // 520 s, the pod at 530 s). The failed node is empty from 400 s: the next scan, which looks
    // at scale-down (410 s), marks it unneeded, and it goes once unneeded for more than 20
    // minutes (`scale-down-unready-time`; upstream compares strictly), at the scan at 1620 s.
    // Billing stops there.
    let (r, _) = run_rows(&autoscaled_failure(""), Some(vec![at(1.0)]));
    let f = r.summary.failures.as_ref().unwrap();
    let timeline: Vec<(f64, &str)> = f
        .incidents
        .iter()
        .map(|i| (i.time_s, i.kind.as_str()))
        .collect();
    assert_eq!(
        timeline,
        [
            (60.0, "node"),
            (100.0, "node_not_ready"),
            (400.0, "pods_evicted"),
            (1620.0, "unready_node_removed")
        ]
    );
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 3);
    assert_eq!(c.nodes_at_horizon, 2);
    // Node 1 for the whole 40 minutes, node 0 until 1620 s, node 2 from 400 s.
    let hours = (2400.0 + 1620.0 + (2400.0 - 400.0)) / 3600.0;
    assert!(
        (c.node_hours - hours).abs() < 1e-9,
        "{} vs {hours}",
        c.node_hours
    );
    assert_eq!(f.replicas_recovered_s, Some(530.0 - 60.0));

    // A shorter unready time removes it sooner; disabled, it stays billed to the horizon.
    let (r, _) = run_rows(
        &autoscaled_failure("scale-down-unready-time = \"5m\""),
        Some(vec![at(1.0)]),
    );
    let f = r.summary.failures.as_ref().unwrap();
    // Unneeded long enough at 710 s, but no node goes within `scale-down-delay-after-add`
    // (10 minutes) of the scale-up at 400 s.
    assert_eq!(f.incidents.last().unwrap().time_s, 1000.0);
    let (r, _) = run_rows(
        &autoscaled_failure("scale-down-unready-enabled = false"),
        Some(vec![at(1.0)]),
    );
    assert_eq!(r.summary.cluster.as_ref().unwrap().nodes_at_horizon, 3);
}

#[test]
fn too_many_unready_nodes_stop_the_cluster_autoscaler() {
    // One NotReady node of two is 50%: over 45% once `ok-total-unready-count` is 0. The cluster
    // is unhealthy from 100 s, so nothing replaces the evicted pod's node.
    let (r, _) = run_rows(
        &autoscaled_failure("ok-total-unready-count = 0"),
        Some(vec![at(1.0)]),
    );
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 2);
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert!(
        r.summary
            .warnings
            .iter()
            .any(|w| w.contains("Cluster Autoscaler skipped") && w.contains("NotReady")),
        "{:?}",
        r.summary.warnings
    );
    // At the default (3 tolerated) it scales up as usual.
    let (r, _) = run_rows(&autoscaled_failure(""), Some(vec![at(1.0)]));
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
}

/// Three four-GPU nodes holding five one-GPU replicas, spread 2/2/1 by LeastAllocated; only the
/// node with one pod (25% of its GPUs) is under the 30% threshold.
fn underused_node(pdb: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "30m"

[[node_pool]]
name = "gpu"
instance_type = "test.gpu4"
min_size = 1
max_size = 3
initial_size = 3

[cluster_autoscaler]
scale-down-gpu-utilization-threshold = 0.3

[service]
replicas = 5
dispatch = "router"

[service.pod]
readinessProbe = {{ initialDelaySeconds = 10, periodSeconds = 5 }}

[service.service_time]
distribution = "deterministic"
base = "1s"

[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"
{pdb}
"#
    )
}

#[test]
fn the_cluster_autoscaler_drains_a_node_only_when_the_pod_disruption_budget_allows() {
    let nodes_left = |pdb: &str| {
        let (r, _) = run_rows(&underused_node(pdb), Some(vec![at(1.0)]));
        let c = r.summary.cluster.unwrap();
        (c.nodes_at_horizon, c.pods_pending_at_horizon)
    };
    // No budget: the underused node is drained after 10 minutes unneeded, its pod moves.
    assert_eq!(nodes_left(""), (2, 0));
    // One pod may be unavailable: the drain (one Ready pod) is allowed.
    assert_eq!(nodes_left("[pdb]\nmaxUnavailable = 1"), (2, 0));
    // Every pod must stay available: the drain is refused for the whole run.
    assert_eq!(nodes_left("[pdb]\nminAvailable = 5"), (3, 0));
    assert_eq!(nodes_left("[pdb]\nminAvailable = \"100%\""), (3, 0));
}

fn spot_text(pdb: &str) -> String {
    two_nodes_and_a_spare(&format!(
        r#"
[[failure]]
at = "60s"
kind = "spot"
pool = "gpu"
node = 0
notice = "2m"
{pdb}
"#
    ))
    .replace("base = \"1s\"", "base = \"20s\"")
}

#[test]
fn a_spot_notice_drains_the_node_through_the_pod_disruption_budget() {
    // Without a budget the drain evicts the pod at once: its 20 s request finishes within the
    // 30 s grace period and the replacement starts on the spare node during the notice.
    let (r, rows) = run_rows(&spot_text(""), Some(vec![at(50.0), at(51.0)]));
    assert!(rows
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Completed { .. })));
    let f = r.summary.failures.as_ref().unwrap();
    let kinds: Vec<&str> = f.incidents.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["spot", "spot_terminated"]);
    // The replacement is bound to the spare node at 60 s and Ready at 70 s.
    assert_eq!(f.replicas_recovered_s, Some(10.0));

    // A budget of 2 of 2 pods refuses the eviction: the pod serves on until the node is
    // terminated at 180 s, where it dies with its requests.
    let (r, rows) = run_rows(
        &spot_text("\n[pdb]\nminAvailable = 2\n"),
        Some(vec![at(50.0), at(51.0), at(170.0), at(171.0)]),
    );
    let dropped: Vec<_> = rows
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Dropped { at, reason } => Some((at, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dropped,
        [(SimTime::from_secs_f64(180.0), DropReason::PodFailed)]
    );
    let f = r.summary.failures.as_ref().unwrap();
    assert_eq!(f.replicas_recovered_s, Some(10.0 + 120.0));
}

#[test]
fn a_client_retries_after_its_timeout_with_backoff_and_gives_up() {
    // One replica, a 5 s service time, a 2 s timeout and one retry after 100 ms: the client gives
    // up at 2 s, retries at 2.1 s and fails the request at 4.1 s; the service still finishes both
    // abandoned attempts.
    let text = r#"
[simulation]
horizon = "1m"

[service]
replicas = 1
dispatch = "router"

[service.service_time]
distribution = "deterministic"
base = "5s"

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"

[traffic.client]
timeout = "2s"
retries = 1
backoff = "100ms"
"#;
    let (r, rows) = run_rows(text, Some(vec![at(0.0)]));
    assert_eq!(
        rows.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [Outcome::Dropped {
            at: SimTime::from_secs_f64(4.1),
            reason: DropReason::ClientTimeout
        }]
    );
    let c = r.summary.client.unwrap();
    assert_eq!((c.retries, c.timeouts, c.abandoned_completions), (1, 2, 2));
    assert_eq!(r.summary.requests.arrived, 1);
}

#[test]
fn jitter_spreads_retries_that_would_otherwise_come_back_together() {
    // 200 requests at 0 s on one replica with a 5 s service time time out together at 2 s; the
    // one retry waits 4 s (backoff), then times out 2 s later. Without jitter every request ends
    // at 8 s; with full jitter the wait is uniform in [0, 4) s, with equal jitter in [2, 4) s.
    let ends = |jitter: &str| -> Vec<f64> {
        let text = format!(
            r#"
[simulation]
horizon = "1m"
[service]
replicas = 1
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "5s"
[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"
[traffic.client]
timeout = "2s"
retries = 1
backoff = "4s"
jitter = "{jitter}"
"#
        );
        let (_, rows) = run_rows(&text, Some(vec![at(0.0); 200]));
        rows.iter()
            .map(|r| match r.outcome {
                Outcome::Dropped {
                    at,
                    reason: DropReason::ClientTimeout,
                } => at.as_secs_f64(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let distinct = |v: &[f64]| {
        let mut v: Vec<u64> = v.iter().map(|x| (x * 1e9) as u64).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let none = ends("none");
    assert_eq!(none.len(), 200);
    assert!(none.iter().all(|&t| t == 8.0), "{none:?}");
    let full = ends("full");
    assert_eq!(full.len(), 200);
    assert!(full.iter().all(|&t| (4.0..8.0).contains(&t)));
    assert!(distinct(&full) > 190);
    // The mean of 200 uniform draws on [0, 4): 2 ± 0.25 (more than 3 standard errors).
    assert!((mean(&full) - 6.0).abs() < 0.25, "{}", mean(&full));
    let equal = ends("equal");
    assert!(equal.iter().all(|&t| (6.0..8.0).contains(&t)));
    assert!((mean(&equal) - 7.0).abs() < 0.13, "{}", mean(&equal));
    // Same seed, same draws.
    assert_eq!(full, ends("full"));
}

#[test]
fn an_unknown_jitter_is_refused_naming_the_key() {
    let text = "[simulation]\nhorizon = \"1m\"\n[service]\nreplicas = 1\n[service.service_time]\ndistribution = \"deterministic\"\nbase = \"1s\"\n[traffic]\nkind = \"poisson\"\nrate = 1.0\n[traffic.client]\nretries = 1\njitter = \"ful\"\n";
    let e = parse_scenario_with(text, "jitter.toml", &catalog())
        .unwrap_err()
        .to_string();
    assert!(e.contains("jitter.toml:13:10"), "{e}");
    assert!(e.contains("traffic.client.jitter"), "{e}");
    assert!(e.contains("did you mean \"full\""), "{e}");
}

#[test]
fn a_retried_request_completes_with_its_latency_from_the_first_attempt() {
    // Queue of one: the second request is refused (queue_full), retried after 1 s and 2 s, and
    // served when the first is done.
    let text = r#"
[simulation]
horizon = "1m"

[service]
replicas = 1
dispatch = "router"
max_queue_size = 1

[service.service_time]
distribution = "deterministic"
base = "2s"

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"

[traffic.client]
retries = 3
backoff = "1s"
"#;
    let (r, rows) = run_rows(text, Some(vec![at(0.0), at(0.1), at(0.2)]));
    conserved(&r);
    assert_eq!(r.summary.requests.completed, 3);
    assert!(r.summary.client.unwrap().retries >= 1);
    // Latency counts from the first arrival.
    for row in &rows {
        if let Outcome::Completed { finish, .. } = row.outcome {
            assert!(row.request.arrival <= SimTime::from_secs_f64(0.2));
            assert!(finish > row.request.arrival);
        }
    }
}

fn random_text(seed: u64, kind: &str, retries: u32) -> String {
    format!(
        r#"
[simulation]
seed = {seed}
horizon = "20m"
sample_interval = "30s"

[slo]
latency = "2s"

[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
min_size = 3
max_size = 6
initial_size = 4
provisioning_delay = "1m"

[cluster_autoscaler]

[service]
replicas = 4
dispatch = "router"
router = "least-outstanding"

[service.pod]
livenessProbe = {{ periodSeconds = 10 }}

[service.service_time]
distribution = "exponential"
base = "200ms"

[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}

[traffic]
kind = "poisson"
rate = 12.0

[traffic.client]
timeout = "3s"
retries = {retries}
backoff = "200ms"

[[random_failure]]
pool = "gpu"
kind = "{kind}"
mtbf = "15m"
{repair}
"#,
        repair = if kind == "node" {
            "repair = \"5m\""
        } else {
            ""
        }
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// No request vanishes under random failures: each arrival completes, is dropped with a
    /// reason or is still in flight at the horizon, and ends at most once.
    #[test]
    fn no_request_vanishes_under_random_failures(
        seed in 0u64..1000,
        kind in prop::sample::select(vec!["node", "gpu", "spot"]),
        retries in 0u32..3,
    ) {
        let (r, rows) = run_rows(&random_text(seed, kind, retries), None);
        let c = &r.summary.requests;
        prop_assert_eq!(rows.len() as u64, c.completed + c.dropped);
        let by_reason: u64 = c.dropped_by_reason.values().sum();
        prop_assert_eq!(by_reason, c.dropped);
    }
}

#[test]
fn random_failures_are_deterministic() {
    let a = run_rows(&random_text(3, "node", 1), None).0;
    let b = run_rows(&random_text(3, "node", 1), None).0;
    assert_eq!(a.summary_json(), b.summary_json());
    assert!(a.summary.failures.is_some());
}

#[test]
fn the_node_failure_scenario_loses_no_request_and_reports_its_recovery() {
    let path = super::common::root().join("scenarios/node-failure.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = sim_core::parse_scenario(&text, "node-failure.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    let r = World::new(&s, Inputs::default()).unwrap().run(&mut rows);
    conserved(&r);
    let c = &r.summary.requests;
    assert_eq!(rows.len() as u64, c.completed + c.dropped);
    let f = r
        .summary
        .failures
        .as_ref()
        .expect("the failure is reported");
    assert_eq!(f.first_failure_s, 900.0);
    assert_eq!(f.pods_evicted, 1);
    // NotReady 40 s after the failure, evicted 300 s later, a new node (3 min) and the model.
    let recovered = f.replicas_recovered_s.expect("replicas recover");
    assert!((340.0 + 180.0..900.0).contains(&recovered), "{recovered}");
    assert!(f.time_to_recover_s.is_some());
    assert!(c.dropped_by_reason["pod_failed"] > 0);
    assert!(r.summary.client.unwrap().retries > 0);
}

#[test]
fn the_report_marks_the_failure_on_its_time_series_charts() {
    let out = std::env::temp_dir().join(format!("capsim-node-failure-{}", std::process::id()));
    let out_s = out.to_string_lossy().into_owned();
    let (code, _, err) = super::common::capsim_text(&[
        "run",
        "scenarios/node-failure.toml",
        "--out",
        &out_s,
        "--report",
    ]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("class=\"failure\""));
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"time_to_recover_s\""));
    let incidents = std::fs::read_to_string(out.join("incidents.csv")).unwrap();
    assert_eq!(
        incidents,
        "time_s,kind,detail\n900,node,gpu-1\n940,node_not_ready,gpu-1\n1240,pods_evicted,gpu-1: 1 pods\n\
         2460,unready_node_removed,gpu-1\n"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_vpa_updater_evicts_only_what_the_pod_disruption_budget_allows() {
    // Two Ready pods the VPA wants to evict (see tests/it/vpa.rs): with maxUnavailable 0 the
    // eviction API refuses every eviction; with minAvailable 1, one at a time as before.
    let base = r#"
[simulation]
horizon = "10m"
[[node_pool]]
name = "cpu"
instance_type = "m6i.2xlarge"
initial_size = 2
[vpa]
updatePolicy = { updateMode = "Recreate" }
[metrics]
cpu_idle = "500m"
cpu_busy = "0"
memory = "2Gi"
[service]
replicas = 2
dispatch = "router"
[service.resources]
requests = { cpu = "100m", memory = "2560Mi" }
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 1.0
"#;
    let evictions = |pdb: &str| {
        let s = sim_core::parse_scenario(&format!("{base}{pdb}"), "vpa-pdb.toml").unwrap();
        let r = sim_core::run(&s, Inputs::default()).unwrap();
        r.summary.cluster.unwrap().vpa.unwrap().evictions
    };
    assert_eq!(evictions(""), 2);
    assert_eq!(evictions("[pdb]\nmaxUnavailable = 0\n"), 0);
    assert_eq!(evictions("[pdb]\nminAvailable = 1\n"), 2);
}
