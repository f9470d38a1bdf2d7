//! Time-sliced GPUs: shares advertised by the device plugin, time shared between the pods on a
//! GPU, memory not isolated (OOM kills with CrashLoopBackOff).

use sim_core::{parse_scenario, Inputs};

fn scenario(gpu_memory: &str, extra_pool: &str, replicas: u32, requests: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "700s"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 1
initial_size = 1
time_slicing = {{ replicas = 2{extra_pool} }}
[service]
replicas = {replicas}
dispatch = "router"
router = "round-robin"
[service.resources]
requests = {{ {requests} }}
[service.pod]
gpu_memory = "{gpu_memory}"
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 0.5
"#
    )
}

#[test]
fn two_pods_on_one_gpu_share_its_time_only_while_both_are_busy() {
    // One pod alone: 10 ms per request.
    let alone = scenario("10Gi", "", 1, "\"nvidia.com/gpu\" = 1");
    let r = sim_core::run(
        &parse_scenario(&alone, "ts.toml").unwrap(),
        Inputs::default(),
    )
    .unwrap();
    assert!((r.summary.latency_s.mean.unwrap() - 0.010).abs() < 1e-9);
    // Two on the GPU, 0.5 requests/s between them: time-slicing is work-conserving, so a
    // request that has the GPU to itself (nearly all) takes 10 ms; one that overlaps the other
    // pod's for all its time would take 10 ms / 0.467 (the measured share of 2 busy), never more.
    let shared = scenario("10Gi", "", 2, "\"nvidia.com/gpu\" = 1");
    let r = sim_core::run(
        &parse_scenario(&shared, "ts.toml").unwrap(),
        Inputs::default(),
    )
    .unwrap();
    let l = &r.summary.latency_s;
    assert!((l.p50.unwrap() - 0.010).abs() < 1e-9, "{l:?}");
    assert!(l.mean.unwrap() < 0.0101, "{l:?}");
    let worst = 0.010 / sim_core::world::share_of(2);
    assert!(l.max.unwrap() <= worst + 1e-9, "{l:?}");
    assert_eq!(r.summary.cluster.as_ref().unwrap().gpu_oom_kills, 0);
}

#[test]
fn memory_is_not_isolated_the_second_pod_crash_loops() {
    // Two pods of 13 GiB on a 24 GiB A10G: the second to load is OOM-killed at 0 s and restarts
    // after 10, 20, 40, 80, 160 and 300 s of back-off: killed again at 10, 30, 70, 150, 310 and
    // 610 s. Seven kills in 700 s; one pod serves.
    let text = scenario("13Gi", "", 2, "\"nvidia.com/gpu\" = 1");
    let r = sim_core::run(
        &parse_scenario(&text, "ts.toml").unwrap(),
        Inputs::default(),
    )
    .unwrap();
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.gpu_oom_kills, 7);
    assert!(r.series.iter().all(|row| row.ready_replicas <= 1));
    assert!(
        (r.summary.latency_s.mean.unwrap() - 0.010).abs() < 1e-9,
        "the survivor runs alone"
    );
}

#[test]
fn shares_are_renamed_and_requests_checked() {
    // renameByDefault: the shares are nvidia.com/gpu.shared; a pod asking for nvidia.com/gpu
    // fits nowhere.
    let renamed = scenario(
        "1Gi",
        ", renameByDefault = true",
        1,
        "\"nvidia.com/gpu\" = 1",
    );
    let r = sim_core::run(
        &parse_scenario(&renamed, "ts.toml").unwrap(),
        Inputs::default(),
    )
    .unwrap();
    assert_eq!(r.summary.requests.completed, 0);
    let ok = scenario(
        "1Gi",
        ", renameByDefault = true",
        2,
        "\"nvidia.com/gpu.shared\" = 1",
    );
    let r = sim_core::run(&parse_scenario(&ok, "ts.toml").unwrap(), Inputs::default()).unwrap();
    assert!(r.summary.requests.completed > 0);
    let e = |text: &str| parse_scenario(text, "ts.toml").unwrap_err().to_string();
    let two = scenario(
        "1Gi",
        ", failRequestsGreaterThanOne = true",
        1,
        "\"nvidia.com/gpu\" = 2",
    );
    let m = e(&two);
    assert!(
        m.contains("failRequestsGreaterThanOne") && m.contains("request 1"),
        "{m}"
    );
    let one = scenario("1Gi", "", 1, "\"nvidia.com/gpu\" = 1")
        .replace("replicas = 2 }", "replicas = 1 }");
    let m = e(&one);
    assert!(
        m.contains("time_slicing.replicas") && m.contains("at least 2"),
        "{m}"
    );
}
