//! MIG in node pools: a pool's `mig_layout` and `mig_strategy` decide the extended resources its
//! nodes advertise, and pods that request them are scheduled onto the instances.

use sim_core::catalog::Catalog;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario_with, Inputs, World};

const TEST_INSTANCES: &str = r#"
[[instance]]
id = "test.h100x8"
provider = "aws"
region = "test-region-1"
vcpu = 64
memory = "512Gi"
gpu = "h100-sxm"
gpu_count = 8
on_demand_usd_per_hour = 80.0
price_date = "2026-11-22"
price_source = "test fixture"
price_verified = false

[[instance]]
id = "test.t4"
provider = "aws"
region = "test-region-1"
vcpu = 8
memory = "32Gi"
gpu = "t4"
gpu_count = 1
on_demand_usd_per_hour = 1.0
price_date = "2026-11-22"
price_source = "test fixture"
price_verified = false
"#;

fn catalog() -> Catalog {
    Catalog::builtin()
        .with_instances(TEST_INSTANCES, "test-instances.toml")
        .expect("test catalog")
}

fn scenario(replicas: u32, request: &str, pool: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "2m"
sample_interval = "10s"

[service]
replicas = {replicas}
dispatch = "router"
router = "round-robin"

[service.service_time]
distribution = "deterministic"
base = "10ms"

[service.resources]
requests = {{ cpu = "1", memory = "4Gi", {request} }}

[traffic]
kind = "trace"
path = "unused.csv"
format = "csv"

[[node_pool]]
name = "gpu"
instance_type = "test.h100x8"
initial_size = 1
{pool}
"#
    )
}

fn pending(text: &str) -> (u64, Option<String>) {
    let s =
        parse_scenario_with(text, "mig-test.toml", &catalog()).unwrap_or_else(|e| panic!("{e}"));
    let trace = vec![TraceRecord {
        time: sim_core::engine::SimTime::from_secs_f64(1.0),
        prompt_tokens: 0,
        output_tokens: 0,
        tenant: 0,
        prefix: sim_core::serving::Prefix::NONE,
    }];
    let r = World::new(
        &s,
        Inputs {
            trace: Some(trace),
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut Vec::new());
    let c = r.summary.cluster.as_ref().unwrap();
    (
        c.pods_pending_at_horizon as u64,
        c.last_unschedulable_reason.clone(),
    )
}

#[test]
fn mixed_strategy_exposes_one_resource_per_instance() {
    // 8 GPUs x all-1g.10gb = 56 instances of nvidia.com/mig-1g.10gb.
    let pool = "mig_layout = \"all-1g.10gb\"\nmig_strategy = \"mixed\"";
    let (p, _) = pending(&scenario(56, "\"nvidia.com/mig-1g.10gb\" = 1", pool));
    assert_eq!(p, 0);
    let (p, why) = pending(&scenario(57, "\"nvidia.com/mig-1g.10gb\" = 1", pool));
    assert_eq!(p, 1);
    assert!(why.unwrap().contains("nvidia.com/mig-1g.10gb"));
    // The node no longer advertises whole GPUs.
    let (p, _) = pending(&scenario(1, "\"nvidia.com/gpu\" = 1", pool));
    assert_eq!(p, 1);
}

#[test]
fn single_strategy_advertises_instances_as_gpus() {
    let pool = "mig_layout = \"all-3g.40gb\"\nmig_strategy = \"single\"";
    let (p, _) = pending(&scenario(16, "\"nvidia.com/gpu\" = 1", pool));
    assert_eq!(p, 0);
    let (p, _) = pending(&scenario(17, "\"nvidia.com/gpu\" = 1", pool));
    assert_eq!(p, 1);
}

fn parse_err(pool: &str) -> String {
    parse_scenario_with(
        &scenario(1, "\"nvidia.com/gpu\" = 1", pool),
        "bad.toml",
        &catalog(),
    )
    .expect_err("should be refused")
    .to_string()
}

#[test]
fn bad_mig_settings_are_refused_with_clear_errors() {
    let e = parse_err("mig_layout = \"all-3g.20gb\"");
    assert!(e.contains("bad.toml") && e.contains("mig_layout"), "{e}");
    assert!(e.contains("no MIG layout `all-3g.20gb`"), "{e}");
    let e = parse_err("mig_layout = \"all-balanced\"\nmig_strategy = \"single\"");
    assert!(e.contains("single MIG strategy needs one profile"), "{e}");
    let e = parse_err("mig_layout = \"all-1g.10gb\"\nmig_strategy = \"dual\"");
    assert!(
        e.contains("mig_strategy") && e.contains("expected none, single or mixed"),
        "{e}"
    );
    let e = parse_err("mig_strategy = \"mixed\"");
    assert!(e.contains("needs a `mig_layout`"), "{e}");
    let t4 = scenario(1, "\"nvidia.com/gpu\" = 1", "mig_layout = \"all-1g.5gb\"")
        .replace("test.h100x8", "test.t4");
    let e = parse_scenario_with(&t4, "bad.toml", &catalog())
        .expect_err("T4 has no MIG")
        .to_string();
    assert!(e.contains("does not support MIG"), "{e}");
}

#[test]
fn a_layout_change_drains_the_node_and_takes_time() {
    // 56 replicas on one p5.48xlarge as 1g.10gb slices (single strategy: each slice is an
    // nvidia.com/gpu). At 300 s the pool moves to all-3g.40gb: every pod is evicted, the node is
    // out of service for the 2-minute reconfiguration, and then only 16 slices (2 per GPU) exist.
    let text = r#"
[simulation]
horizon = "10m"
sample_interval = "10s"
[[node_pool]]
name = "h100"
instance_type = "p5.48xlarge"
min_size = 1
max_size = 1
initial_size = 1
mig_layout = "all-1g.10gb"
mig_strategy = "single"
mig_reconfigure = [{ at = "5m", layout = "all-3g.40gb" }]
mig_reconfigure_time = "2m"
[service]
replicas = 56
dispatch = "router"
[service.resources]
requests = { cpu = "1", memory = "4Gi", "nvidia.com/gpu" = 1 }
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 10.0
"#;
    let s = sim_core::parse_scenario(text, "mig-change.toml").unwrap();
    let r = sim_core::run(&s, sim_core::Inputs::default()).unwrap();
    let at = |t: f64| r.series.iter().find(|row| row.time_s == t).unwrap();
    assert_eq!(at(300.0).ready_replicas, 56);
    assert_eq!(at(310.0).ready_replicas, 0);
    assert_eq!(at(410.0).ready_replicas, 0);
    assert_eq!(
        at(420.0).ready_replicas,
        0,
        "a row shows the state before events at its end"
    );
    assert_eq!(at(430.0).ready_replicas, 16);
    assert_eq!(at(600.0).pods_pending, 40);
    // Requests that arrive while nothing serves are refused.
    assert!(r.summary.requests.dropped_by_reason["no_ready_replica"] > 0);
    let bad = text.replace("layout = \"all-3g.40gb\"", "layout = \"all-5g.80gb\"");
    let e = sim_core::parse_scenario(&bad, "mig-change.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("node_pool[0].mig_reconfigure[0].layout"), "{e}");
}

/// Two pools, only one under the single MIG strategy: DCGM's device utilisation reads 0 for the
/// pods on slices but not for those on whole GPUs, so an HPA on `DCGM_FI_DEV_GPU_UTIL` still sees
/// the whole-GPU pods' load. `on` names the pool the pods are pinned to.
fn dcgm_hpa(on: &str) -> sim_core::RunResult {
    let text = format!(
        r#"
[simulation]
horizon = "8m"
sample_interval = "15s"
[[node_pool]]
name = "whole"
instance_type = "g6e.12xlarge"
min_size = 1
max_size = 1
initial_size = 1
labels = {{ pool = "whole" }}
[[node_pool]]
name = "sliced"
instance_type = "p5.48xlarge"
min_size = 1
max_size = 1
initial_size = 1
mig_layout = "all-1g.10gb"
mig_strategy = "single"
labels = {{ pool = "sliced" }}
[service]
replicas = 2
dispatch = "router"
[service.pod]
nodeSelector = {{ pool = "{on}" }}
[service.resources]
requests = {{ cpu = "1", memory = "4Gi", "nvidia.com/gpu" = 1 }}
[service.service_time]
distribution = "deterministic"
base = "100ms"
[traffic]
kind = "poisson"
rate = 18.0
[hpa]
minReplicas = 1
maxReplicas = 4
metrics = [{{ type = "Pods", pods = {{ metric = {{ name = "DCGM_FI_DEV_GPU_UTIL" }}, target = {{ type = "AverageValue", averageValue = "50" }} }} }}]
"#
    );
    let s = sim_core::parse_scenario(&text, "dcgm-hpa.toml").unwrap();
    sim_core::run(&s, sim_core::Inputs::default()).unwrap()
}

#[test]
fn dcgm_device_utilisation_reads_zero_only_on_the_mig_pool() {
    // 18 req/s at 100 ms on 2 replicas: 90% busy each, so the HPA on whole GPUs wants 4.
    let whole = dcgm_hpa("whole");
    assert_eq!(whole.series.last().unwrap().desired_replicas, 4);
    // On 1g.10gb slices the metric reads 0 and the HPA shrinks to its minimum once the
    // 5-minute scale-down stabilisation window has passed.
    let sliced = dcgm_hpa("sliced");
    assert_eq!(sliced.series.last().unwrap().desired_replicas, 1);
}
