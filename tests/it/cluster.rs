//! The cluster: hand-checked timelines for scheduling, start-up, cost, termination and scale-down,
//! and the no-over-commit property.

use proptest::prelude::*;
use sim_core::catalog::Catalog;
use sim_core::engine::SimTime;
use sim_core::metrics::{Outcome, RequestRow};
use sim_core::serving::DropReason;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario_with, Inputs, RunResult, World};

/// A test instance type with round numbers: 8 vCPU, 64Gi, 1 GPU, $3.60/h (one cent a second... $0.001/s).
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
"#;

fn catalog() -> Catalog {
    Catalog::builtin()
        .with_instances(TEST_INSTANCES, "test-instances.toml")
        .expect("test catalog")
}

fn run_rows(text: &str, trace: Option<Vec<TraceRecord>>) -> (RunResult, Vec<RequestRow>) {
    let s = parse_scenario_with(text, "cluster-test.toml", &catalog())
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
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "conservation"
    );
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

fn trace_scenario(extra: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "10m"
sample_interval = "10s"

[service]
dispatch = "router"
router = "round-robin"

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
fn a_pod_that_does_not_fit_stays_pending() {
    let text = trace_scenario(
        r#"
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 1
"#,
    )
    .replace(
        "dispatch = \"router\"",
        "replicas = 2\ndispatch = \"router\"",
    );
    let (r, _) = run_rows(&text, Some(vec![at(1.0)]));
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(c.pods_pending_max, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")
    );
    assert!(r
        .series
        .iter()
        .all(|row| row.pods_pending == 1 && row.ready_replicas == 1));
    assert_eq!(r.summary.requests.completed, 1);
}

#[test]
fn a_replica_serves_only_after_pull_load_and_probe() {
    // Pull 10 GiB at 1 GiB/s = 10 s; load 20 GiB at 2 GiB/s = 10 s (container up at 10 s, loaded at
    // 20 s); probes at 10 + 5 = 15 s, then every 10 s: the first after loading is at 25 s.
    let text = trace_scenario(
        r#"
[cluster]
warm_start = false

[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 1
image_pull_bandwidth = "1Gi"
model_load_bandwidth = "2Gi"
"#,
    )
    .replace(
        "[service.resources]",
        "[service.pod]\nimage_size = \"10Gi\"\nmodel_size = \"20Gi\"\nreadinessProbe = { initialDelaySeconds = 5, periodSeconds = 10 }\n\n[service.resources]",
    );
    let trace = vec![at(1.0), at(24.9), at(25.0), at(30.0)];
    let (r, rows) = run_rows(&text, Some(trace));
    let outcome = |id: u64| rows.iter().find(|r| r.request.id.0 == id).unwrap().outcome;
    for id in [0, 1] {
        assert!(
            matches!(
                outcome(id),
                Outcome::Dropped {
                    reason: DropReason::NoReadyReplica,
                    ..
                }
            ),
            "{id}"
        );
    }
    assert_eq!(
        outcome(2),
        Outcome::Completed {
            start: SimTime::from_secs_f64(25.0),
            // Triton: no tokens, so the first "token" is the finish.
            first_token: SimTime::from_secs_f64(26.0),
            finish: SimTime::from_secs_f64(26.0),
            batch_size: 1,
            replica: 0
        }
    );
    assert!(matches!(outcome(3), Outcome::Completed { .. }));
    assert_eq!(r.summary.requests.dropped_by_reason["no_ready_replica"], 2);
    // The time series shows the replica Ready from the 30 s row on.
    assert_eq!(r.series[1].ready_replicas, 0);
    assert_eq!(r.series[2].ready_replicas, 1);
}

#[test]
fn a_node_is_billed_from_launch_and_serves_after_provisioning() {
    // Pool empty at first; scaled to 1 at 60 s; Ready 120 s later (180 s); billed 60 s → 600 s.
    let text = trace_scenario(
        r#"
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
min_size = 0
max_size = 2
provisioning_delay = "2m"
scale = [{ at = "60s", size = 1 }]
"#,
    );
    let (r, rows) = run_rows(&text, Some(vec![at(100.0), at(200.0)]));
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 1);
    assert_eq!(c.pools[0].billed_seconds, 540);
    assert!(
        (c.cost_usd - 540.0 * 3.6 / 3600.0).abs() < 1e-9,
        "{}",
        c.cost_usd
    );
    assert!((c.gpu_hours - 540.0 / 3600.0).abs() < 1e-9);
    assert!(matches!(
        rows[0].outcome,
        Outcome::Dropped {
            reason: DropReason::NoReadyReplica,
            ..
        }
    ));
    assert!(matches!(rows[1].outcome, Outcome::Completed { .. }));
    // Cost per hour in the time series: 0 before launch, 3.6 after.
    assert_eq!(r.series[5].cost_usd_per_hour, 0.0); // 50–60 s
    assert!((r.series[6].cost_usd_per_hour - 3.6).abs() < 1e-9); // 60–70 s
    assert_eq!(r.series[16].pods_pending, 1); // 160–170 s: node not Ready yet
    assert_eq!(r.series[18].pods_pending, 0); // 180–190 s
}

fn termination_text(grace: u64) -> String {
    trace_scenario(
        r#"
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 2
"#,
    )
    .replace(
        "dispatch = \"router\"",
        "replicas = 2\ndispatch = \"router\"\nscale = [{ at = \"10s\", replicas = 1 }]",
    )
    .replace("base = \"1s\"", "base = \"60s\"")
    .replace(
        "[service.resources]",
        &format!("[service.pod]\nterminationGracePeriodSeconds = {grace}\n\n[service.resources]"),
    )
}

#[test]
fn a_terminating_pod_fails_what_it_cannot_finish_within_its_grace_period() {
    // Round robin: request 0 → pod 0, request 1 → pod 1 (the newer pod, removed at 10 s).
    // Its 60 s request cannot finish by 10 + 30 s: it fails with a reason at 40 s.
    let (r, rows) = run_rows(
        &termination_text(30),
        Some(vec![at(1.0), at(2.0), at(20.0)]),
    );
    let by_id = |id: u64| rows.iter().find(|r| r.request.id.0 == id).unwrap().outcome;
    assert!(matches!(by_id(0), Outcome::Completed { replica: 0, .. }));
    assert_eq!(
        by_id(1),
        Outcome::Dropped {
            at: SimTime::from_secs_f64(40.0),
            reason: DropReason::PodTerminated
        }
    );
    // After the scale-down every request goes to the remaining pod.
    assert!(matches!(by_id(2), Outcome::Completed { replica: 0, .. }));
    assert_eq!(r.summary.requests.dropped_by_reason["pod_terminated"], 1);
}

#[test]
fn a_terminating_pod_finishes_in_flight_work_within_a_long_grace_period() {
    let (r, rows) = run_rows(&termination_text(120), Some(vec![at(1.0), at(2.0)]));
    let by_id = |id: u64| rows.iter().find(|r| r.request.id.0 == id).unwrap().outcome;
    assert_eq!(
        by_id(1),
        Outcome::Completed {
            start: SimTime::from_secs_f64(2.0),
            // Triton: no tokens, so the first "token" is the finish.
            first_token: SimTime::from_secs_f64(62.0),
            finish: SimTime::from_secs_f64(62.0),
            batch_size: 1,
            replica: 1
        }
    );
    assert_eq!(r.summary.requests.dropped, 0);
    // Its GPU is released when it finishes at 62 s.
    let row = |t: f64| r.series.iter().find(|row| row.time_s == t).unwrap();
    assert!((row(60.0).gpu_alloc_ratio.unwrap() - 1.0).abs() < 1e-9);
    // 60–70 s: two GPUs requested for 2 s, then one for 8 s, of two allocatable.
    assert!((row(70.0).gpu_alloc_ratio.unwrap() - 0.6).abs() < 1e-9);
}

#[test]
fn scale_down_removes_unscheduled_then_not_ready_then_newest() {
    // Two nodes with one GPU each; 3 replicas: pods 0 and 1 Ready, pod 2 Pending. Scale to 2 at
    // 10 s removes the Pending pod (nothing changes for serving); scale to 1 at 20 s removes the
    // newest Ready pod (pod 1). Requests after that all go to pod 0.
    let text = trace_scenario(
        r#"
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 2
"#,
    )
    .replace(
        "dispatch = \"router\"",
        "replicas = 3\ndispatch = \"router\"\nscale = [{ at = \"10s\", replicas = 2 }, { at = \"20s\", replicas = 1 }]",
    );
    let trace: Vec<TraceRecord> = (0..20).map(|i| at(12.0 + i as f64 * 0.5)).collect();
    let (r, rows) = run_rows(&text, Some(trace));
    assert_eq!(r.series[0].pods_pending, 1);
    assert_eq!(r.series[1].pods_pending, 0);
    assert_eq!(r.series[1].ready_replicas, 2);
    assert_eq!(r.series[2].ready_replicas, 1);
    for row in &rows {
        if let Outcome::Completed { replica, .. } = row.outcome {
            if row.request.arrival >= SimTime::from_secs_f64(20.0) {
                assert_eq!(
                    replica, 0,
                    "request {} went to a removed pod",
                    row.request.id.0
                );
            }
        }
    }
    assert!(rows
        .iter()
        .any(|row| matches!(row.outcome, Outcome::Completed { replica: 1, .. })));
}

#[test]
fn taints_selectors_and_affinity_steer_pods() {
    // A tainted GPU pool and an untainted one: pods without the toleration land on the untainted
    // pool; a nodeSelector for the other pool leaves them Pending.
    let base = trace_scenario(
        r#"
[[node_pool]]
name = "tainted"
instance_type = "test.gpu1"
initial_size = 1
taints = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]

[[node_pool]]
name = "open"
instance_type = "test.gpu1"
initial_size = 1
"#,
    );
    let (r, _) = run_rows(&base, Some(vec![at(1.0)]));
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
    let selected = base.replace(
        "[service.resources]",
        "[service.pod]\nnodeSelector = { \"capsim.io/node-pool\" = \"tainted\" }\n\n[service.resources]",
    );
    let (r, _) = run_rows(&selected, Some(vec![at(1.0)]));
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert!(c
        .last_unschedulable_reason
        .as_deref()
        .unwrap()
        .contains("untolerated taint"));
    let tolerated = selected.replace(
        "[service.resources]",
        "tolerations = [{ key = \"nvidia.com/gpu\", operator = \"Exists\", effect = \"NoSchedule\" }]\n\n[service.resources]",
    );
    let (r, _) = run_rows(&tolerated, Some(vec![at(1.0)]));
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
}

#[test]
fn a_pod_larger_than_any_node_is_warned_about() {
    let text = trace_scenario(
        r#"
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
initial_size = 1
"#,
    )
    .replace("\"nvidia.com/gpu\" = 1", "\"nvidia.com/gpu\" = 2");
    let (r, _) = run_rows(&text, Some(vec![at(1.0)]));
    assert_eq!(r.summary.warnings.len(), 1, "{:?}", r.summary.warnings);
    assert!(
        r.summary.warnings[0].contains("nvidia.com/gpu"),
        "{:?}",
        r.summary.warnings
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// No node is ever over-committed: whatever the pools, requests and scaling steps, every bind
    /// keeps each node's requests within its allocatable (the world counts any violation).
    #[test]
    fn no_node_is_ever_over_committed(
        cpu in 1u32..9,
        mem_gi in 1u32..70,
        gpus in 0u32..3,
        replicas in 1u32..12,
        initial in 0u32..4,
        steps in proptest::collection::vec((1u32..12, 0u32..5), 0..4),
        seed in 0u64..100,
    ) {
        let svc_scale: Vec<String> = steps.iter().enumerate().map(|(i, (r, _))| format!("{{ at = \"{}s\", replicas = {r} }}", 10 * (i + 1))).collect();
        let pool_scale: Vec<String> = steps.iter().enumerate().map(|(i, (_, n))| format!("{{ at = \"{}s\", size = {n} }}", 10 * (i + 1) + 5)).collect();
        let text = format!(
            r#"
[simulation]
seed = {seed}
horizon = "2m"
[cluster]
warm_start = false
[[node_pool]]
name = "gpu"
instance_type = "test.gpu1"
min_size = 0
max_size = 4
initial_size = {initial}
provisioning_delay = "7s"
scale = [{}]
[service]
replicas = {replicas}
dispatch = "router"
router = "least-outstanding"
scale = [{}]
[service.pod]
terminationGracePeriodSeconds = 3
[service.service_time]
distribution = "exponential"
base = "2s"
[service.resources]
requests = {{ cpu = "{cpu}", memory = "{mem_gi}Gi", "nvidia.com/gpu" = {gpus} }}
[traffic]
kind = "poisson"
rate = 3.0
"#,
            pool_scale.join(", "),
            svc_scale.join(", ")
        );
        let s = parse_scenario_with(&text, "prop.toml", &catalog()).unwrap();
        let r = World::new(&s, Inputs::default()).unwrap().run(&mut sim_core::metrics::NoSink);
        prop_assert_eq!(r.overcommits, 0);
        let c = &r.summary.requests;
        prop_assert_eq!(c.arrived, c.completed + c.dropped + c.in_flight);
        for row in &r.series {
            if let Some(x) = row.cpu_alloc_ratio { prop_assert!(x <= 1.0 + 1e-9); }
            if let Some(x) = row.gpu_alloc_ratio { prop_assert!(x <= 1.0 + 1e-9); }
        }
    }
}

fn parse_err(text: &str) -> String {
    parse_scenario_with(text, "bad.toml", &catalog())
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unknown_instance_type_is_named_with_a_suggestion() {
    let text = trace_scenario(
        "[[node_pool]]\nname = \"gpu\"\ninstance_type = \"test.gpu2\"\ninitial_size = 1\n",
    );
    let e = parse_err(&text);
    let line = text
        .lines()
        .position(|l| l.starts_with("instance_type"))
        .unwrap()
        + 1;
    assert!(e.starts_with(&format!("bad.toml:{line}:17: key `node_pool[0].instance_type`: unknown instance type `test.gpu2`")), "{e}");
    assert!(e.contains("did you mean `test.gpu1`?"), "{e}");
}

#[test]
fn a_taint_without_an_effect_is_an_error() {
    let text = trace_scenario(
        "[[node_pool]]\nname = \"gpu\"\ninstance_type = \"test.gpu1\"\ninitial_size = 1\ntaints = [{ key = \"nvidia.com/gpu\", value = \"present\" }]\n",
    );
    let e = parse_err(&text);
    assert!(
        e.contains("key `node_pool[0].taints[0]`: a taint needs an `effect`"),
        "{e}"
    );
    let line = text.lines().position(|l| l.starts_with("taints")).unwrap() + 1;
    assert!(e.starts_with(&format!("bad.toml:{line}:")), "{e}");
    let typo = text.replace(
        "value = \"present\"",
        "value = \"present\", effect = \"NoSchedul\"",
    );
    let e = parse_err(&typo);
    assert!(e.contains("did you mean `NoSchedule`?"), "{e}");
}

#[test]
fn a_shared_queue_cannot_sit_on_nodes() {
    let text = trace_scenario("[[node_pool]]\nname = \"gpu\"\ninstance_type = \"test.gpu1\"\n")
        .replace(
            "dispatch = \"router\"\nrouter = \"round-robin\"",
            "dispatch = \"shared\"",
        );
    let e = parse_err(&text);
    assert!(
        e.contains("key `service.dispatch`") && e.contains("dispatch = \"router\""),
        "{e}"
    );
}

#[test]
fn pool_sizes_must_be_consistent() {
    let text = trace_scenario("[[node_pool]]\nname = \"gpu\"\ninstance_type = \"test.gpu1\"\nmin_size = 3\nmax_size = 2\n");
    assert!(parse_err(&text)
        .contains("key `node_pool[0].min_size`: expected min_size (3) at most max_size (2)"));
}
