//! The Cluster Autoscaler on a hand-checked timeline: a node is added only once a pod is
//! unschedulable, serves after its provisioning delay, and an empty node goes after ten minutes
//! unneeded.

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
    // empty: unneeded from the scan at 1200 s, removed by the scan at 1800 s.
    let gone = first(rows, |r| r.time_s > 1200.0 && r.nodes == 1);
    assert_eq!(gone, 1800.0 + 10.0);
    // Billing: the second node from 300 s to 1800 s.
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 2);
    let expected_hours = (2400.0 + 1500.0) / 3600.0;
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
