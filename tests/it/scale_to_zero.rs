//! KEDA and Knative on hand-checked timelines: scale to zero after the quiet period, a request
//! at zero waits for a cold start (which counts in its latency), and the Cluster Autoscaler
//! removes the node the pods left.

use sim_core::engine::SimTime;
use sim_core::metrics::{Outcome, RequestRow, SeriesRow};
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario, Inputs, World};

fn trace(times: &[f64]) -> Inputs {
    Inputs {
        trace: Some(
            times
                .iter()
                .map(|&t| TraceRecord {
                    time: SimTime::from_secs_f64(t),
                    prompt_tokens: 0,
                    output_tokens: 0,
                    tenant: 0,
                    prefix: sim_core::serving::Prefix::NONE,
                })
                .collect(),
        ),
        ..Inputs::default()
    }
}

/// The first row (end of a 10 s interval) after `after` seconds at which `f` holds.
fn first(rows: &[SeriesRow], after: f64, f: impl Fn(&SeriesRow) -> bool) -> f64 {
    rows.iter()
        .find(|r| r.time_s > after && f(r))
        .map(|r| r.time_s)
        .expect("it happens")
}

fn run(scenario: &str, times: &[f64]) -> (sim_core::RunResult, Vec<RequestRow>) {
    let s = parse_scenario(scenario, "s.toml").unwrap();
    let mut rows = Vec::new();
    let r = World::new(&s, trace(times)).unwrap().run(&mut rows);
    (r, rows)
}

/// (arrival, finish) of every completed request, in seconds.
fn completed(rows: &[RequestRow]) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| match r.outcome {
            Outcome::Completed { finish, .. } => {
                Some((r.request.arrival.as_secs_f64(), finish.as_secs_f64()))
            }
            Outcome::Dropped { .. } => None,
        })
        .collect()
}

const KEDA: &str = r#"
[simulation]
horizon = "2200s"
warmup = "0s"
sample_interval = "10s"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 0
max_size = 2
initial_size = 1
provisioning_delay = "3m"
[cluster_autoscaler]
[service]
replicas = 1
dispatch = "router"
[service.resources]
requests = { cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }
[service.pod]
readinessProbe = { initialDelaySeconds = 30, periodSeconds = 10 }
[service.service_time]
distribution = "deterministic"
base = "10s"
[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"
[keda]
[[keda.triggers]]
type = "queue"
"#;

#[test]
fn keda_scales_to_zero_after_the_cooldown_and_a_request_at_zero_waits_for_a_cold_start() {
    // Requests in service at the polls at 30, 60 and 90 s keep the queue trigger active.
    let (r, reqs) = run(KEDA, &[25.0, 55.0, 85.0, 1510.0]);
    let rows = &r.series;
    // Last active at the 90 s poll; zero at the first poll with 90 + 300 < now: 420 s.
    assert!(rows
        .iter()
        .filter(|r| r.time_s <= 420.0)
        .all(|r| r.desired_replicas == 1));
    assert_eq!(first(rows, 0.0, |r| r.desired_replicas == 0), 430.0);
    // The empty node is unneeded from the CA scan at 420 s and removed by the first scan with
    // more than ten minutes since (upstream compares strictly), at 1030 s.
    assert_eq!(first(rows, 0.0, |r| r.nodes == 0), 1040.0);
    // The request at 1510 s waits at the gateway; the poll at 1530 s sees it and scales to one;
    // the pod is unschedulable, the CA's scan at 1530 s launches a node, Ready at 1710 s; the pod
    // binds and passes its readiness probe 30 s later, at 1740 s; the request is served by 1750 s.
    assert_eq!(first(rows, 1000.0, |r| r.desired_replicas == 1), 1540.0);
    assert_eq!(first(rows, 1040.0, |r| r.nodes == 1), 1540.0);
    let done = completed(&reqs);
    assert_eq!(done.len(), 4);
    assert_eq!(
        done[3],
        (1510.0, 1750.0),
        "240 s of cold start in its latency"
    );
    // Active until the poll at 1740 s (the request in service): zero again at 2070 s.
    assert_eq!(first(rows, 1540.0, |r| r.desired_replicas == 0), 2080.0);
    assert_eq!(r.summary.requests.completed, 4);
}

const KNATIVE: &str = r#"
[simulation]
horizon = "400s"
warmup = "0s"
sample_interval = "10s"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 1
initial_size = 1
[service]
dispatch = "router"
[service.resources]
requests = { cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }
[service.pod]
readinessProbe = { initialDelaySeconds = 20, periodSeconds = 5 }
[service.service_time]
distribution = "deterministic"
base = "1s"
[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"
[knative]
"#;

#[test]
fn knative_scales_to_zero_after_stable_window_and_grace_and_the_activator_buffers_a_cold_start() {
    let (r, reqs) = run(KNATIVE, &[5.0, 15.0, 25.0, 201.0]);
    let rows = &r.series;
    // Initial scale 1. The last busy second is (25, 26]; its bucket leaves the 60 s stable window
    // at 86 s, so the tick at 86 s decides 0; the PA has been active (since the 2 s tick) for the
    // stable window, so it goes inactive and, after the 30 s grace period, to zero at 116 s.
    assert!(rows
        .iter()
        .filter(|r| r.time_s <= 110.0)
        .all(|r| r.desired_replicas == 1));
    assert_eq!(first(rows, 0.0, |r| r.desired_replicas == 0), 120.0);
    // The request at 201 s reaches the activator at zero: the poke scales to one at once; the pod
    // is Ready 20 s later and the request is served from 221 s to 222 s.
    assert_eq!(first(rows, 120.0, |r| r.desired_replicas == 1), 210.0);
    let done = completed(&reqs);
    assert_eq!(done.len(), 4);
    assert_eq!(
        done[3],
        (201.0, 222.0),
        "the cold start counts in its latency"
    );
    // Active from the 222 s tick; the (221, 222] bucket leaves at 282 s: inactive, then zero at
    // 312 s.
    assert_eq!(first(rows, 210.0, |r| r.desired_replicas == 0), 320.0);
}

#[test]
fn knative_activator_timeout_fails_requests_that_wait_too_long() {
    // A pod that can never become Ready in time: the request waits 300 s, then fails.
    let s = KNATIVE
        .replace("initialDelaySeconds = 20", "initialDelaySeconds = 900")
        .replace("horizon = \"400s\"", "horizon = \"1000s\"")
        .replace(
            "[knative]",
            "[knative]\ninitial-scale = 0\nallow-zero-initial-scale = true",
        );
    let (r, reqs) = run(&s, &[10.0]);
    assert_eq!(r.summary.requests.completed, 0);
    match reqs[0].outcome {
        Outcome::Dropped { at, .. } => assert_eq!(at.as_secs_f64(), 310.0),
        o => panic!("{o:?}"),
    }
}

#[test]
fn one_autoscaler_per_variant_and_bad_settings_are_named() {
    let err = |text: &str| parse_scenario(text, "s.toml").unwrap_err().to_string();
    let two = format!("{KEDA}\n[hpa]\nmaxReplicas = 3\n");
    let e = err(&two);
    assert!(e.contains("keda") && e.contains("one autoscaler"), "{e}");
    let e = err(&KEDA.replace("[keda]", "[keda]\npollingInterval = 0"));
    assert!(e.contains("keda.pollingInterval"), "{e}");
    let e = err(&KEDA.replace("[keda]", "[keda]\nminReplicaCount = 4\nmaxReplicaCount = 2"));
    assert!(e.contains("keda.minReplicaCount"), "{e}");
    let e = err(&KEDA.replace("type = \"queue\"", "type = \"kafka\""));
    assert!(
        e.contains("keda.triggers[0].type") && e.contains("unknown trigger type"),
        "{e}"
    );
    let e = err(&KEDA.replace(
        "type = \"queue\"",
        "type = \"prometheus\"\nmetadata = { query = \"sum(in_flight)\", threshold = \"4\" }",
    ));
    assert!(
        e.contains("nothing could wake the service from zero"),
        "{e}"
    );
    let e = err(&KNATIVE.replace("[knative]", "[knative]\nstable-window = \"2s\""));
    assert!(e.contains("knative.stable-window"), "{e}");
    let e = err(&KNATIVE.replace("[knative]", "[knative]\nmin-scale = 3\nmax-scale = 2"));
    assert!(e.contains("knative.min-scale"), "{e}");
    let e = err(&KNATIVE.replace("[knative]", "[knative]\nstable-windw = \"60s\""));
    assert!(e.contains("stable-window"), "{e}");
}

#[test]
fn the_shipped_scenario_compares_keeping_a_gpu_warm_with_scaling_to_zero() {
    let text = std::fs::read_to_string("scenarios/scale-to-zero.toml").unwrap();
    let variants = sim_core::scenario::parse_variants(
        &text,
        "scale-to-zero.toml",
        &sim_core::catalog::Catalog::builtin(),
    )
    .unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["static-1", "hpa-in-flight", "keda-queue", "knative"]
    );
    let result = |i: usize| sim_core::run(&variants[i].scenario, Inputs::default()).unwrap();
    let node_hours = |r: &sim_core::RunResult| r.summary.cluster.as_ref().unwrap().node_hours;
    let p99 = |r: &sim_core::RunResult| r.summary.latency_s.p99.unwrap();
    let warm = result(0);
    for i in [2, 3] {
        let r = result(i);
        // Scaling to zero lets the Cluster Autoscaler release the node in the quiet hours (up
        // to 5 minutes after the last pod goes: while it had a pod with nowhere to move, its
        // removal simulation failed and it is rechecked only 5 minutes later, as upstream) ...
        assert!(node_hours(&r) < 0.7 * node_hours(&warm), "{}", names[i]);
        // ... and the first requests of the second burst wait for a node and a model load.
        assert!(p99(&r) > 60.0 && p99(&warm) < 60.0, "{}", names[i]);
        assert_eq!(r.summary.requests.dropped, 0, "{}", names[i]);
    }
}

#[test]
fn keda_prometheus_trigger_feeds_the_generated_hpa() {
    // 20 × 0.2 = 4 replicas' worth of work, one request at a time per replica: at 5 replicas each
    // holds about 2.4 requests (M/D/1 at 80 %), so a threshold of 2 per replica asks for about 6,
    // and the 5-minute scale-down stabilization holds the peak.
    let s = r#"
[simulation]
horizon = "10m"
sample_interval = "30s"
[service]
replicas = 1
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "200ms"
[traffic]
kind = "poisson"
rate = 20.0
[metrics]
scrape_interval = "15s"
[keda]
minReplicaCount = 1
maxReplicaCount = 10
[[keda.triggers]]
type = "prometheus"
metadata = { query = "sum(in_flight)", threshold = "2" }
"#;
    let r = sim_core::run(&parse_scenario(s, "s.toml").unwrap(), Inputs::default()).unwrap();
    let last = r.series.last().unwrap().desired_replicas;
    assert!(
        r.series.iter().all(|r| r.desired_replicas >= 1),
        "minReplicaCount"
    );
    assert!((5..=7).contains(&last), "{last}");
}
