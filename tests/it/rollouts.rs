//! Rollouts of a new model version: a rolling update with maxSurge 1 / maxUnavailable 0 never
//! drops below the desired Ready pods and reports the nodes its surge pod needed; a hand-checked
//! timeline; Recreate; a canary's traffic split; proportional scaling mid-rollout; bad input.

use sim_core::metrics::rollout::{RolloutRecord, RolloutSummary};
use sim_core::{parse_scenario, Inputs};

/// Three pods of one GPU each on `nodes` one-GPU nodes; a pod loads 60 GiB at 1 GiB/s (60 s
/// from bind to Ready, probed every 10 s from its start); a rollout at 10 minutes.
fn scenario(nodes: u32, autoscaler: bool, rate: f64, rollout: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "40m"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 6
initial_size = {nodes}
provisioning_delay = "3m"
{ca}
[service]
replicas = 3
dispatch = "router"
[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}
[service.pod]
model_size = "60Gi"
[service.service_time]
distribution = "deterministic"
base = "50ms"
[traffic]
kind = "poisson"
rate = {rate:?}
[[rollout]]
at = "10m"
{rollout}
"#,
        ca = if autoscaler {
            "[cluster_autoscaler]"
        } else {
            ""
        }
    )
}

fn run(text: &str) -> (sim_core::results::Summary, RolloutSummary) {
    let s = parse_scenario(text, "rollout.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let ro = r.summary.rollout.clone().expect("a rollout summary");
    (r.summary, ro)
}

fn only(ro: &RolloutSummary) -> &RolloutRecord {
    assert_eq!(ro.rollouts.len(), 1);
    &ro.rollouts[0]
}

#[test]
fn surge_one_unavailable_zero_keeps_every_replica_ready_and_reports_the_surge_node() {
    // Three full nodes: the surge pod needs a fourth, which the Cluster Autoscaler adds.
    let text = scenario(
        3,
        true,
        20.0,
        "max_surge = 1\nmax_unavailable = 0\nspeed = 2.0",
    );
    let (summary, ro) = run(&text);
    let r = only(&ro);
    assert_eq!((r.max_surge, r.max_unavailable), (Some(1), Some(0)));
    // Checked after every event of the rollout, not at sample points.
    assert!(r.min_ready_replicas >= 3, "{r:?}");
    assert!(r.min_ready_minus_desired >= 0, "{r:?}");
    // The recorded Ready counts (every change, whole run) never sum below 3.
    for p in ro.ready.iter().filter(|p| p.t_s > 0.0) {
        assert!(p.ready.iter().sum::<u32>() >= p.desired, "{p:?}");
    }
    // It finishes: the surge node takes 3 minutes, then each new pod 60 s.
    let finish = r.finish_s.expect("finished");
    assert!(finish > 600.0 + 180.0 + 3.0 * 60.0 - 1.0, "{finish}");
    assert!(r.extra_node_hours > 0.0, "{r:?}");
    assert!(r.extra_cost_usd > 0.0);
    assert!(r.extra_pod_hours > 0.0);
    assert!(summary.cluster.unwrap().nodes_launched >= 4);
    // No request is lost to the rollout (pods leave the router before they stop).
    assert_eq!(summary.requests.dropped, 0);
    // Version 1 runs at twice the speed: its median is half.
    let v = &ro.versions;
    assert!(v[1].completed > 0);
    let (p0, p1) = (v[0].latency_s.p50.unwrap(), v[1].latency_s.p50.unwrap());
    assert!((p1 / p0 - 0.5).abs() < 0.02, "{p0} {p1}");
}

#[test]
fn a_small_rollout_finishes_when_hand_checked() {
    // No traffic (terminating pods go at once), one spare node: at 600 s the surge pod binds
    // and is Ready at 660 s; then an old pod goes and the next new pod starts on its node, Ready
    // at 720 s; the last at 780 s. Surge 1, unavailable 0, three replicas: 3 × 60 s.
    let text = scenario(4, false, 0.0, "max_surge = 1\nmax_unavailable = 0");
    let (summary, ro) = run(&text);
    let r = only(&ro);
    assert_eq!(r.start_s, 600.0);
    assert_eq!(r.finish_s, Some(780.0));
    assert_eq!(r.duration_s, Some(180.0));
    assert_eq!(r.min_ready_replicas, 3);
    // One pod above desired from 600 s to 780 s: 180 pod-seconds; no node added.
    assert!((r.extra_pod_hours - 180.0 / 3600.0).abs() < 1e-9, "{r:?}");
    assert_eq!(r.extra_node_hours, 0.0);
    let times: Vec<(f64, Vec<u32>)> = ro.ready.iter().map(|p| (p.t_s, p.ready.clone())).collect();
    assert_eq!(
        times,
        vec![
            (0.0, vec![3]),
            (600.0, vec![3, 0]),
            (660.0, vec![2, 1]),
            (720.0, vec![1, 2]),
            (780.0, vec![0, 3]),
        ]
    );
    assert_eq!(summary.requests.arrived, 0);
    // With maxUnavailable 1 and no surge, one old pod goes first: 3 × 60 s as well, but one
    // below desired throughout.
    let (_, ro) = run(&scenario(
        4,
        false,
        0.0,
        "max_surge = 0\nmax_unavailable = 1",
    ));
    let r = only(&ro);
    assert_eq!(r.finish_s, Some(780.0));
    assert_eq!(r.min_ready_replicas, 2);
    assert_eq!(r.extra_pod_hours, 0.0);
    // Defaults (25%/25% of 3: surge 1, unavailable 0) behave as the first.
    let (_, ro) = run(&scenario(4, false, 0.0, ""));
    let r = only(&ro);
    assert_eq!((r.max_surge, r.max_unavailable), (Some(1), Some(0)));
    assert_eq!(r.finish_s, Some(780.0));
}

#[test]
fn min_ready_seconds_delays_each_step() {
    let text = scenario(
        4,
        false,
        0.0,
        "max_surge = 1\nmax_unavailable = 0\nmin_ready_seconds = 30",
    );
    let (_, ro) = run(&text);
    // Each new pod counts as available 30 s after it is Ready: 3 × 90 s.
    assert_eq!(only(&ro).finish_s, Some(600.0 + 3.0 * 90.0));
}

#[test]
fn recreate_stops_every_old_pod_first() {
    let (summary, ro) = run(&scenario(3, false, 20.0, "strategy = \"Recreate\""));
    let r = only(&ro);
    assert_eq!(r.strategy, "Recreate");
    assert_eq!(r.min_ready_replicas, 0);
    // The old pods drain their in-flight requests (under 50 ms), then the new ones load.
    let finish = r.finish_s.unwrap();
    assert!((660.0..660.2).contains(&finish), "{finish}");
    // Requests arriving while no pod is Ready are refused.
    assert!(summary.requests.dropped_by_reason["no_ready_replica"] > 0);
    assert_eq!(r.extra_node_hours, 0.0);
}

#[test]
fn a_canary_gets_its_share_of_requests() {
    // 10 % from 600 s (effective once the canary pod is Ready, at 660 s) to the horizon.
    let text = scenario(4, false, 20.0, "strategy = \"Canary\"\nweight = 10");
    let (summary, ro) = run(&text);
    assert!(only(&ro).finish_s.is_none());
    let to_new = ro.versions[1].completed as f64;
    let after = 20.0 * (2400.0 - 660.0);
    let share = to_new / after;
    assert!((share - 0.10).abs() < 0.01, "share {share}");
    assert_eq!(summary.requests.dropped, 0);
    // The canary has ceil(10% × 3) = 1 pod beside the 3 stable ones.
    assert_eq!(ro.ready.last().unwrap().ready, vec![3, 1]);
}

#[test]
fn a_stepped_canary_is_promoted_and_the_old_version_removed() {
    let text = scenario(
        4,
        true,
        20.0,
        "strategy = \"Canary\"\nweight = 10\n[[rollout.step]]\nat = \"15m\"\nweight = 50\n[[rollout.step]]\nat = \"20m\"\nweight = 100",
    );
    let (summary, ro) = run(&text);
    let r = only(&ro);
    let finish = r.finish_s.expect("promoted");
    assert!(finish > 1200.0, "{finish}");
    assert_eq!(ro.ready.last().unwrap().ready, vec![0, 3]);
    assert!(r.min_ready_replicas >= 3);
    assert!(r.extra_node_hours > 0.0);
    assert_eq!(summary.requests.dropped, 0);
}

#[test]
fn replicas_changed_mid_rollout_are_shared_proportionally_and_reached() {
    // The Deployment grows from 3 to 6 while the surge pod waits for its node (up to 8
    // nodes: with 6, the 7th pod maxSurge allows would never fit and maxUnavailable 0 would
    // keep every old pod, as a real cluster would stall).
    let text = scenario(3, true, 0.0, "max_surge = 1\nmax_unavailable = 0")
        .replace(
            "replicas = 3\n",
            "replicas = 3\nscale = [{ at = \"11m\", replicas = 6 }]\n",
        )
        .replace("max_size = 6", "max_size = 8");
    let (_, ro) = run(&text);
    let r = only(&ro);
    assert!(r.finish_s.is_some(), "{r:?}");
    let last = ro.ready.last().unwrap();
    assert_eq!((last.desired, last.ready.clone()), (6, vec![0, 6]));
    // The old ReplicaSet grew with it (3 → 5 of 7 allowed): more than 3 old pods were Ready.
    assert!(ro.ready.iter().any(|p| p.ready[0] > 3), "{:?}", ro.ready);
}

#[test]
fn bad_rollouts_name_the_key() {
    let e = |r: &str| {
        parse_scenario(&scenario(3, false, 1.0, r), "rollout.toml")
            .unwrap_err()
            .to_string()
    };
    let m = e("max_surge = 0\nmax_unavailable = \"0%\"");
    assert!(
        m.contains("rollout[0].max_unavailable") && m.contains("both be 0"),
        "{m}"
    );
    let m = e("max_surge = \"150%\"");
    assert!(
        m.contains("rollout[0].max_surge") && m.contains("percentage"),
        "{m}"
    );
    let m = e("strategy = \"BlueGreen\"");
    assert!(m.contains("rollout[0].strategy"), "{m}");
    let m = e("strategy = \"Canary\"");
    assert!(
        m.contains("rollout[0].weight") && m.contains("missing"),
        "{m}"
    );
    let m = e("strategy = \"Recreate\"\nmax_surge = 1");
    assert!(m.contains("rollout[0].max_surge"), "{m}");
    let m = e("speed = 0");
    assert!(m.contains("rollout[0].speed"), "{m}");
    let m = e("[rollout.service]\nreplicas = 4");
    assert!(m.contains("rollout[0].service.replicas"), "{m}");
    let m = e("[rollout.service.service_time]\nbase = \"fast\"");
    assert!(
        m.contains("rollout[0].service") && m.contains("fast"),
        "{m}"
    );
    let m = e("strategy = \"Canary\"\nweight = 10\n[[rollout.step]]\nat = \"5m\"\nweight = 50");
    assert!(m.contains("rollout[0].step[0].at"), "{m}");
}

/// The scenario with the Deployment's own `[service.strategy]` and `minReadySeconds`.
fn with_deployment_strategy(strategy: &str, rollout: &str) -> String {
    scenario(3, false, 1.0, rollout).replacen(
        "[service.pod]",
        &format!("[service.strategy]\n{strategy}\n[service.pod]"),
        1,
    )
}

#[test]
fn the_deployment_strategy_is_every_rollouts_default() {
    let text = with_deployment_strategy(
        "type = \"RollingUpdate\"\nrollingUpdate = { maxSurge = 1, maxUnavailable = 0 }",
        "",
    )
    .replacen(
        "dispatch = \"router\"",
        "dispatch = \"router\"\nminReadySeconds = 7",
        1,
    );
    let (_, ro) = run(&text);
    let r = only(&ro);
    assert_eq!(
        (r.max_surge, r.max_unavailable),
        (Some(1), Some(0)),
        "{r:?}"
    );
    assert!(r.min_ready_replicas >= 3, "{r:?}");
    // A rollout's own keys win over the Deployment's.
    let text = with_deployment_strategy(
        "rollingUpdate = { maxSurge = 1, maxUnavailable = 0 }",
        "max_surge = 0\nmax_unavailable = 1",
    );
    let (_, ro) = run(&text);
    assert_eq!(
        (only(&ro).max_surge, only(&ro).max_unavailable),
        (Some(0), Some(1))
    );
    // A Deployment that recreates makes a rollout without a strategy recreate.
    let (_, ro) = run(&with_deployment_strategy("type = \"Recreate\"", ""));
    assert_eq!(only(&ro).strategy, "Recreate");
    // A bad strategy is refused with its key, rollout or not.
    for (strategy, key) in [
        ("type = \"Rolling\"", "service.strategy.type"),
        (
            "type = \"Recreate\"\nrollingUpdate = { maxSurge = 1 }",
            "service.strategy.rollingUpdate",
        ),
        (
            "rollingUpdate = { maxSurge = 0, maxUnavailable = \"0%\" }",
            "service.strategy.rollingUpdate.maxUnavailable",
        ),
        (
            "rollingUpdate = { maxSurge = \"1.5\" }",
            "service.strategy.rollingUpdate.maxSurge",
        ),
    ] {
        let text =
            with_deployment_strategy(strategy, "").replacen("[[rollout]]\nat = \"10m\"", "", 1);
        let m = parse_scenario(&text, "rollout.toml")
            .unwrap_err()
            .to_string();
        assert!(m.contains(&format!("key `{key}`")), "{strategy}: {m}");
    }
}

#[test]
fn a_new_version_may_request_more() {
    // Version 2 needs two GPUs per pod: on one-GPU nodes its pods stay Pending, the rollout
    // never finishes, and the old pods keep serving (maxUnavailable 0).
    let text = scenario(
        4,
        false,
        5.0,
        "max_surge = 1\nmax_unavailable = 0\n[rollout.service.resources]\nrequests = { cpu = \"2\", memory = \"8Gi\", \"nvidia.com/gpu\" = 2 }",
    );
    let (summary, ro) = run(&text);
    let r = only(&ro);
    assert!(r.finish_s.is_none());
    assert_eq!(r.min_ready_replicas, 3);
    assert_eq!(ro.versions[1].completed, 0);
    assert_eq!(summary.requests.dropped, 0);
}

#[test]
fn a_rollout_run_is_byte_identical_twice() {
    let text = scenario(
        3,
        true,
        20.0,
        "strategy = \"Canary\"\nweight = 30\n[[rollout.step]]\nat = \"20m\"\nweight = 100",
    );
    let s = parse_scenario(&text, "rollout.toml").unwrap();
    let a = sim_core::run(&s, Inputs::default()).unwrap();
    let b = sim_core::run(&s, Inputs::default()).unwrap();
    assert_eq!(a.summary_json(), b.summary_json());
    assert_eq!(a.timeseries_csv(), b.timeseries_csv());
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// With maxUnavailable 0 and room for the surge, a rolling update never has fewer Ready
    /// pods than desired (after any event), finishes, and ends with only new pods.
    #[test]
    fn unavailable_zero_never_dips_below_desired(
        replicas in 1u32..6,
        surge in 1u32..4,
        spare in 0u32..3,
        rate in prop_oneof![Just(0.0), Just(10.0)],
    ) {
        let text = scenario(
            replicas + spare,
            spare == 0,
            rate,
            &format!("max_surge = {surge}\nmax_unavailable = 0"),
        )
        .replace("replicas = 3\n", &format!("replicas = {replicas}\n"))
        .replace("max_size = 6", "max_size = 12");
        let (summary, ro) = run(&text);
        let r = only(&ro);
        prop_assert!(r.min_ready_replicas >= replicas, "{:?}", r);
        prop_assert!(r.finish_s.is_some(), "{:?}", r);
        let last = ro.ready.last().unwrap();
        prop_assert_eq!(last.ready[0], 0);
        prop_assert_eq!(last.ready[1], replicas);
        prop_assert_eq!(summary.requests.dropped, 0);
    }
}

/// A Cluster Autoscaler sizes nodes for the pods that are pending, of whichever version.
#[test]
fn the_cluster_autoscaler_sizes_nodes_for_the_new_versions_pods() {
    let text = |big_pool: bool| {
        let big = if big_pool {
            "[[node_pool]]\nname = \"a10g-x4\"\ninstance_type = \"g5.12xlarge\"\nmin_size = 0\nmax_size = 2\ninitial_size = 0\nprovisioning_delay = \"3m\"\n"
        } else {
            ""
        };
        format!(
            r#"
[simulation]
horizon = "60m"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 6
initial_size = 4
provisioning_delay = "3m"
{big}
[cluster_autoscaler]
[service]
replicas = 3
dispatch = "router"
[service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }}
[service.service_time]
distribution = "deterministic"
base = "50ms"
[traffic]
kind = "poisson"
rate = 5.0
[[rollout]]
at = "10m"
max_surge = 1
max_unavailable = 0
[rollout.service.resources]
requests = {{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 2 }}
"#
        )
    };
    // Only one-GPU nodes: no node could hold a two-GPU pod, so none is added (upstream: the pod
    // "didn't trigger scale-up"); the rollout waits with the old pods serving.
    let (summary, ro) = run(&text(false));
    let c = summary.cluster.as_ref().unwrap();
    assert_eq!(
        c.nodes_launched, 4,
        "no node launched for a pod it cannot hold"
    );
    assert!(only(&ro).finish_s.is_none());
    // With a four-GPU pool the new version's pods go there: two per node, so two nodes for the
    // three new pods (one at a time under maxSurge 1), and the rollout finishes.
    let (summary, ro) = run(&text(true));
    let c = summary.cluster.as_ref().unwrap();
    let big = c
        .pools
        .iter()
        .find(|p| p.name.starts_with("a10g-x4"))
        .expect("the big pool launched");
    assert_eq!(big.nodes_launched, 2, "{:?}", c.pools);
    assert!(only(&ro).finish_s.is_some(), "{:?}", only(&ro));
    assert_eq!(only(&ro).min_ready_minus_desired, 0);
}
