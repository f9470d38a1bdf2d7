//! The Cluster Autoscaler on a hand-checked timeline: a node is added only once a pod is
//! unschedulable, serves after its provisioning delay, and an empty node goes once unneeded for
//! more than ten minutes; lightly used nodes are merged, as upstream's scale-down planner does.

use sim_core::{parse_scenario, Inputs};

const SCENARIO: &str = r#"
[simulation]
horizon = "40m"
sample_interval = "10s"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 4
initial_size = 1
provisioning_delay = "3m"
[cluster_autoscaler]
[service]
replicas = 1
dispatch = "router"
scale = [{ at = "5m", replicas = 2 }, { at = "20m", replicas = 1 }]
[service.resources]
requests = { cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 1.0
"#;

/// The first sample time (end of a 10 s interval) at which `f` holds.
fn first(
    rows: &[sim_core::metrics::SeriesRow],
    f: impl Fn(&sim_core::metrics::SeriesRow) -> bool,
) -> f64 {
    rows.iter()
        .find(|r| f(r))
        .map(|r| r.time_s)
        .expect("it happens")
}

#[test]
fn a_node_comes_for_a_pending_pod_and_goes_ten_minutes_after_it_empties() {
    let s = parse_scenario(SCENARIO, "ca.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    // Before the Deployment grows nothing is pending and no node is added.
    assert!(rows
        .iter()
        .filter(|r| r.time_s <= 300.0)
        .all(|r| r.nodes == 1));
    // At 300 s the second pod fits nowhere; the scan at 300 s launches a node (billed from then).
    assert_eq!(first(rows, |r| r.nodes == 2), 310.0);
    // It is Ready 3 minutes later, and the pod binds at once: nothing pending from then.
    assert_eq!(first(rows, |r| r.nodes_ready == 2), 480.0 + 10.0);
    assert!(rows
        .iter()
        .filter(|r| r.time_s > 480.0 && r.time_s < 1200.0)
        .all(|r| r.pods_pending == 0));
    // At 1200 s the Deployment shrinks; the newest pod (on the new node) goes and the node is
    // empty: unneeded from the scan at 1200 s, removed by the first scan at which it has been
    // unneeded for more than 600 s (upstream's comparison is strict): 1810 s.
    let gone = first(rows, |r| r.time_s > 1200.0 && r.nodes == 1);
    assert_eq!(gone, 1810.0 + 10.0);
    // Billing: the second node from 300 s to 1810 s.
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 2);
    let expected_hours = (2400.0 + 1510.0) / 3600.0;
    assert!(
        (c.node_hours - expected_hours).abs() < 1e-9,
        "{}",
        c.node_hours
    );
}

#[test]
fn bad_cluster_autoscaler_settings_name_the_key() {
    let e = |from: &str, to: &str| {
        parse_scenario(&SCENARIO.replace(from, to), "ca.toml")
            .unwrap_err()
            .to_string()
    };
    let m = e(
        "[cluster_autoscaler]",
        "[cluster_autoscaler]\nexpander = \"least-wast\"",
    );
    assert!(
        m.contains("cluster_autoscaler.expander") && m.contains("did you mean `least-waste`?"),
        "{m}"
    );
    let m = e(
        "[cluster_autoscaler]",
        "[cluster_autoscaler]\nscale-down-utilization-threshold = 1.5",
    );
    assert!(m.contains("scale-down-utilization-threshold"), "{m}");
    let m = e(
        "[cluster_autoscaler]",
        "[cluster_autoscaler]\nscan-interval = \"0s\"",
    );
    assert!(m.contains("scan-interval"), "{m}");
}

/// A pool whose nodes take longer than `max-node-provision-time` to start: the scan at 300 s
/// launches a node for the pending pod; at 300 + 120 = 420 s it is still provisioning, so the
/// scan at 420 s removes it and backs the pool off for 5 minutes; the next try is the first scan
/// after 720 s (nothing else has room), whose node is removed at 840 s with a 10-minute backoff.
#[test]
fn nodes_not_ready_within_max_provision_time_are_removed_and_the_pool_backed_off() {
    let slow = SCENARIO
        .replace(
            "provisioning_delay = \"3m\"",
            "provisioning_delay = \"10m\"",
        )
        .replace(
            "[cluster_autoscaler]",
            "[cluster_autoscaler]\nmax-node-provision-time = \"2m\"",
        );
    let s = parse_scenario(&slow, "ca.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    let nodes_at = |t: f64| rows.iter().find(|r| r.time_s == t).unwrap().nodes;
    assert_eq!(nodes_at(300.0), 1);
    assert_eq!(nodes_at(310.0), 2, "launched by the scan at 300 s");
    assert_eq!(nodes_at(420.0), 2);
    assert_eq!(nodes_at(430.0), 1, "removed by the scan at 420 s");
    assert_eq!(nodes_at(720.0), 1, "backed off until 720 s");
    assert_eq!(nodes_at(730.0), 2, "the scan at 720 s tries again");
    assert_eq!(nodes_at(850.0), 1, "removed at 840 s");
    assert_eq!(
        nodes_at(1430.0),
        1,
        "backed off for 10 minutes, until 1440 s"
    );
    // The pod never runs: the second replica stays pending until the Deployment shrinks.
    assert!(rows
        .iter()
        .filter(|r| r.time_s > 300.0 && r.time_s < 1200.0)
        .all(|r| r.nodes_ready == 1 && r.pods_pending == 1));
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 3);
    assert!(
        r.summary
            .warnings
            .iter()
            .any(|w| w.contains("max-node-provision-time")),
        "{:?}",
        r.summary.warnings
    );
}

/// A pool of `nodes` nodes of `instance` (`min_size = 1`, nothing to add) under an empty
/// `[cluster_autoscaler]`, with a Deployment of `replicas` one-GPU pods (spread one per node by
/// the scheduler's least-allocated scoring) and `scale` steps.
fn scale_down_scenario(instance: &str, nodes: u32, replicas: u32, scale: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "40m"
sample_interval = "10s"
[[node_pool]]
name = "gpu"
instance_type = "{instance}"
min_size = 1
max_size = {nodes}
initial_size = {nodes}
[cluster_autoscaler]
[service]
replicas = {replicas}
dispatch = "router"
scale = [{scale}]
[service.resources]
requests = {{ cpu = "1", memory = "4Gi", "nvidia.com/gpu" = 1 }}
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 0.2
"#
    )
}

/// Node count at each sample time.
fn nodes_over_time(src: &str) -> Vec<(f64, u32)> {
    let s = parse_scenario(src, "ca.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    r.series.iter().map(|r| (r.time_s, r.nodes)).collect()
}

/// The first sample time at which the node count is `n`.
fn first_with(rows: &[(f64, u32)], n: u32) -> Option<f64> {
    rows.iter().find(|r| r.1 == n).map(|r| r.0)
}

/// Two 8-GPU nodes with one 1-GPU pod each, all defaults: the first scan (10 s) simulates the
/// first node's removal with its pod moved to the second (which is not yet found removable), so
/// it is unneeded from 10 s; the second node's simulation then fails (its pod would have nowhere
/// to go once the first is gone). The first node goes at the first scan with 10 s + 600 s before
/// it (strictly), 620 s: within the unneeded time plus one scan. Its pod is recreated on the other.
#[test]
fn two_lightly_used_nodes_are_merged_into_one() {
    let rows = nodes_over_time(&scale_down_scenario("g5.48xlarge", 2, 2, ""));
    assert_eq!(
        first_with(&rows, 1),
        Some(620.0 + 10.0),
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|r| r.1 >= 1));
}

/// Empty nodes first, several per scan, and one drain beside them in the same scan: four 4-GPU
/// nodes, two pods (one on each of the first two nodes). The scan at 10 s finds the two empty
/// nodes removable, then the first pod's node (its pod fits the second node); the second node's
/// pods (its own and the moved one) fit nowhere. At 620 s the two empty nodes and the one drain
/// go together.
#[test]
fn empty_nodes_and_one_drain_go_in_the_same_scan() {
    let rows = nodes_over_time(&scale_down_scenario("g5.12xlarge", 4, 2, ""));
    assert_eq!(
        first_with(&rows, 2),
        None,
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        first_with(&rows, 1),
        Some(630.0),
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
}

/// One drain per scan (`--max-drain-parallelism` 1): four 4-GPU nodes with one pod each. The scan
/// at 10 s finds the first three removable (each one's pods moving on to the next) and the
/// fourth not; from 620 s one of them is drained per scan.
#[test]
fn one_node_is_drained_per_scan() {
    let rows = nodes_over_time(&scale_down_scenario("g5.12xlarge", 4, 4, ""));
    assert_eq!(
        first_with(&rows, 3),
        Some(630.0),
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        first_with(&rows, 2),
        Some(640.0),
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        first_with(&rows, 1),
        Some(650.0),
        "{:?}",
        rows.iter()
            .filter(|r| r.1 != rows[0].1)
            .take(3)
            .collect::<Vec<_>>()
    );
}

/// The unneeded clock starts when the removal simulation first succeeds, not when utilisation
/// first drops: two 4-GPU nodes, eight pods (four each). At 5 m the Deployment shrinks to five
/// (three on one node, two on the other: the second at exactly the 0.5 threshold, eligible as
/// in Cluster Autoscaler 1.35, but its pods fit nowhere, so it is unremovable and rechecked every
/// 5 minutes). At 15 m it shrinks to four (two each): the simulation succeeds and the node goes
/// once unneeded for more than 600 s, not at once as it would if its clock had run since 5 m.
#[test]
fn the_unneeded_clock_starts_at_the_first_successful_simulation() {
    let rows = nodes_over_time(&scale_down_scenario(
        "g5.12xlarge",
        2,
        8,
        r#"{ at = "5m", replicas = 5 }, { at = "15m", replicas = 4 }"#,
    ));
    // The scan at 900 s (after the step) finds the first node removable, its two pods moving
    // to the other; 900 s + 600 s < 1510 s. Had the clock run from 5 m, a node would go at once.
    assert_eq!(first_with(&rows, 1), Some(1510.0 + 10.0));
}
