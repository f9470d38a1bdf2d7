//! Pod topology spread constraints and pod anti-affinity: three zones under a packing scheduler,
//! a zone outage that takes every replica with it or a third of them, the evicted replica's
//! replacement held Pending by the skew (or placed under `nodeTaintsPolicy = "Honor"`), a
//! required hostname anti-affinity that leaves extra replicas Pending with upstream's reason,
//! the Cluster Autoscaler adding one node per such replica, validation errors that name the key,
//! and a manifest's constraints read without a "not modelled" warning.

use crate::common::capsim_text;
use sim_core::catalog::Catalog;
use sim_core::metrics::RequestRow;
use sim_core::{parse_scenario_with, Inputs, RunResult, World};

/// Three zones of one four-GPU node each, three one-GPU replicas, MostAllocated scoring, and
/// zone us-east-1a failing at 5 minutes for good. `pod` goes under `[service.pod]`.
fn three_zones(pod: &str) -> String {
    let pool = |z: char| {
        format!(
            r#"
[[node_pool]]
name = "gpu-{z}"
instance_type = "g6e.12xlarge"
min_size = 1
max_size = 1
initial_size = 1
labels = {{ "topology.kubernetes.io/zone" = "us-east-1{z}" }}
"#
        )
    };
    format!(
        r#"
name = "spread-test"

[simulation]
seed = 3
horizon = "15m"
sample_interval = "10s"

[scheduler.scoringStrategy]
type = "MostAllocated"
{}{}{}
[service]
replicas = 3
dispatch = "router"
router = "least-outstanding"

[service.resources]
requests = {{ cpu = "4", memory = "32Gi", "nvidia.com/gpu" = 1 }}

[service.pod]
readinessProbe = {{ initialDelaySeconds = 10, periodSeconds = 5 }}
{pod}

[service.service_time]
distribution = "exponential"
base = "100ms"

[traffic]
kind = "poisson"
rate = 10.0

[[failure]]
at = "5m"
kind = "zone"
zone = "us-east-1a"
"#,
        pool('a'),
        pool('b'),
        pool('c')
    )
}

/// Prefers zone us-east-1a: with MostAllocated every replica lands there.
const PREFER_A: &str = r#"affinity = { nodeAffinity = { preferredDuringSchedulingIgnoredDuringExecution = [
  { weight = 100, preference = { matchExpressions = [{ key = "topology.kubernetes.io/zone", operator = "In", values = ["us-east-1a"] }] } },
] } }"#;

fn run(text: &str) -> RunResult {
    let s = parse_scenario_with(text, "spread-test.toml", &Catalog::builtin())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = World::new(&s, Inputs::default())
        .unwrap()
        .run(&mut Vec::<RequestRow>::new());
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "no request vanishes"
    );
    assert_eq!(r.overcommits, 0);
    r
}

/// Ready replicas at the sample ending at `t` seconds.
fn ready_at(r: &RunResult, t: f64) -> u32 {
    r.series
        .iter()
        .find(|s| (s.time_s - t).abs() < 1e-9)
        .unwrap_or_else(|| panic!("no sample at {t}"))
        .ready_replicas
}

fn spread(policy: &str) -> String {
    format!(
        r#"topologySpreadConstraints = [
  {{ maxSkew = 1, topologyKey = "topology.kubernetes.io/zone", whenUnsatisfiable = "DoNotSchedule"{policy} }},
]
{PREFER_A}"#
    )
}

#[test]
fn packed_replicas_all_fall_with_their_zone() {
    let r = run(&three_zones(PREFER_A));
    // All three on the zone-a node: Ready until the node is NotReady (5 m + 40 s), then none.
    assert_eq!(ready_at(&r, 290.0), 3);
    assert_eq!(ready_at(&r, 350.0), 0);
    let f = r.summary.failures.as_ref().unwrap();
    assert_eq!(f.pods_evicted, 3);
    // Evicted at 5 m + 340 s; the preference is soft, so the replacements go to zones b and c.
    assert_eq!(ready_at(&r, 900.0), 3);
    assert!(r.summary.requests.dropped_by_reason["no_ready_replica"] > 0);
}

#[test]
fn a_zone_spread_constraint_keeps_two_thirds_and_holds_the_replacement() {
    let r = run(&three_zones(&spread("")));
    // One replica per zone despite the preference for zone a: the outage takes one.
    assert_eq!(ready_at(&r, 290.0), 3);
    assert_eq!(ready_at(&r, 350.0), 2);
    let f = r.summary.failures.as_ref().unwrap();
    assert_eq!(f.pods_evicted, 1);
    assert_eq!(r.summary.requests.dropped_by_reason["no_ready_replica"], 0);
    // nodeTaintsPolicy Ignore (the default): the failed zone is still a domain, now with 0
    // pods, so zones b and c (1 each) would reach a skew of 2: the replacement stays Pending.
    assert_eq!(ready_at(&r, 900.0), 2);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.")
    );
}

#[test]
fn honouring_taints_lets_the_replacement_into_a_live_zone() {
    let r = run(&three_zones(&spread(r#", nodeTaintsPolicy = "Honor""#)));
    assert_eq!(ready_at(&r, 350.0), 2);
    assert_eq!(ready_at(&r, 900.0), 3);
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
}

/// One pool of `nodes` four-GPU nodes in one zone, `replicas` one-GPU replicas with a required
/// hostname anti-affinity, and `extra` TOML (an autoscaler).
fn anti_affinity(nodes: u32, max: u32, replicas: u32, extra: &str) -> String {
    format!(
        r#"
name = "anti-affinity-test"

[simulation]
horizon = "20m"
sample_interval = "30s"

[[node_pool]]
name = "gpu"
instance_type = "g6e.12xlarge"
min_size = 1
max_size = {max}
initial_size = {nodes}
provisioning_delay = "2m"
{extra}
[service]
replicas = {replicas}
dispatch = "router"

[service.resources]
requests = {{ cpu = "4", memory = "32Gi", "nvidia.com/gpu" = 1 }}

[service.pod]
labels = {{ app = "llm" }}
affinity = {{ podAntiAffinity = {{ requiredDuringSchedulingIgnoredDuringExecution = [
  {{ topologyKey = "kubernetes.io/hostname", labelSelector = {{ matchLabels = {{ app = "llm" }} }} }},
] }} }}

[service.service_time]
distribution = "exponential"
base = "100ms"

[traffic]
kind = "poisson"
rate = 5.0
"#
    )
}

#[test]
fn required_hostname_anti_affinity_leaves_extra_replicas_pending() {
    let r = run(&anti_affinity(3, 3, 5, ""));
    // Twelve GPUs, but one replica per node.
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 2);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
    );
    assert_eq!(r.series.last().unwrap().ready_replicas, 3);
}

#[test]
fn the_cluster_autoscaler_adds_one_node_per_anti_affine_replica() {
    let r = run(&anti_affinity(1, 6, 4, "\n[cluster_autoscaler]\n"));
    // Four GPUs fit four replicas on one new node by resources; the anti-affinity allows one
    // per node, so its first scan adds three nodes at once (billed from launch).
    let first = r.series.iter().find(|s| s.time_s == 30.0).unwrap();
    assert_eq!(first.nodes, 4, "{first:?}");
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 0);
    assert_eq!(c.nodes_at_horizon, 4);
    assert_eq!(r.series.last().unwrap().ready_replicas, 4);
}

fn validate_error(pod: &str) -> String {
    let text = three_zones(pod);
    match parse_scenario_with(&text, "bad.toml", &Catalog::builtin()) {
        Ok(_) => panic!("accepted:\n{pod}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_constraints_are_refused_naming_the_key() {
    let c = |body: &str| format!("topologySpreadConstraints = [{{ {body} }}]");
    for (pod, key, words) in [
        (
            c(r#"maxSkew = 0, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule""#),
            "service.pod.topologySpreadConstraints[0].maxSkew",
            "at least 1",
        ),
        (
            c(r#"maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "Sometimes""#),
            "service.pod.topologySpreadConstraints[0].whenUnsatisfiable",
            "\"DoNotSchedule\" or \"ScheduleAnyway\"",
        ),
        (
            c(r#"maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "ScheduleAnyway", minDomains = 2"#),
            "service.pod.topologySpreadConstraints[0].minDomains",
            "only with whenUnsatisfiable",
        ),
        (
            c(r#"maxSkew = 1, whenUnsatisfiable = "DoNotSchedule""#),
            "service.pod.topologySpreadConstraints[0].topologyKey",
            "required",
        ),
        (
            c(r#"maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule", nodeTaintsPolicy = "honor""#),
            "service.pod.topologySpreadConstraints[0].nodeTaintsPolicy",
            "\"Honor\" or \"Ignore\"",
        ),
        (
            r#"topologySpreadConstraints = [
  { maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule" },
  { maxSkew = 2, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule" },
]"#
            .to_string(),
            "service.pod.topologySpreadConstraints[1]",
            "duplicate constraint",
        ),
        (
            r#"affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = [{ topologyKey = "zone" }] } }"#
                .to_string(),
            "service.pod.affinity.podAffinity",
            "not modelled",
        ),
        (
            r#"affinity = { podAntiAffinity = { preferredDuringSchedulingIgnoredDuringExecution = [{ weight = 0, podAffinityTerm = { topologyKey = "zone" } }] } }"#
                .to_string(),
            "service.pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "from 1 to 100",
        ),
    ] {
        let e = validate_error(&pod);
        assert!(e.contains(key) && e.contains(words), "{pod}\n→ {e}");
    }
}

#[test]
fn a_manifests_spread_constraints_and_anti_affinity_are_modelled() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("d.yaml");
    std::fs::write(
        &yaml,
        "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: llm}
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector: {matchLabels: {app: llm}}
          matchLabelKeys: [pod-template-hash]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 50
              podAffinityTerm:
                topologyKey: topology.kubernetes.io/zone
                labelSelector: {matchLabels: {app: llm}}
      containers:
        - name: model
          resources:
            requests: {cpu: \"1\", memory: 2Gi, nvidia.com/gpu: \"1\"}
",
    )
    .unwrap();
    let (code, stdout, stderr) = capsim_text(&[
        "validate",
        "scenarios/manifests-cluster.toml",
        yaml.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("not modelled"), "{stderr}");
}

#[test]
fn karpenter_packs_one_anti_affine_replica_per_node_claim() {
    let text = r#"
[simulation]
horizon = "10m"
sample_interval = "10s"
[karpenter]
[[karpenter.nodepool]]
name = "gpu"
provisioning_delay = "3m"
requirements = [
  { key = "node.kubernetes.io/instance-type", operator = "In", values = ["g5.12xlarge"] },
]
[service]
replicas = 3
dispatch = "router"
[service.resources]
requests = { cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }
[service.pod]
affinity = { podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution = [
  { topologyKey = "kubernetes.io/hostname" },
] } }
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 0.5
"#;
    let r = run(text);
    // One batch: three four-GPU NodeClaims at once (by resources one would hold all three).
    let first = r.series.iter().find(|s| s.nodes > 0).unwrap();
    assert_eq!((first.time_s, first.nodes), (10.0, 3), "{first:?}");
    // Consolidation does not take a node whose pod the others cannot hold: no churn.
    assert!(r.series.iter().all(|s| s.nodes == 3 || s.time_s < 10.0));
    assert_eq!(r.series.last().unwrap().ready_replicas, 3);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 0);
    assert_eq!(c.nodes_launched, 3);
}

#[test]
fn the_cluster_autoscaler_does_not_drain_a_node_the_anti_affinity_needs() {
    // Three nodes a quarter used (one of four GPUs), each under the scale-down threshold: by
    // resources the others could hold a drained node's replica, but not by anti-affinity.
    let r = run(&anti_affinity(3, 6, 3, "\n[cluster_autoscaler]\n"));
    assert!(r.series.iter().all(|s| s.nodes == 3 && s.pods_pending == 0));
    assert_eq!(r.series.last().unwrap().ready_replicas, 3);
}

#[test]
fn the_cluster_autoscaler_adds_no_node_the_zone_skew_would_refuse() {
    // The zone-spread case with room to grow in zones b and c: after zone a fails, the evicted
    // replica's replacement is Pending on the skew (zone a is still a domain, with no pods). A
    // node in b or c could not take it either, so upstream's simulation offers no node group to
    // the expander, and capsim adds none.
    let text = three_zones(&spread(""))
        .replace(
            "max_size = 1\ninitial_size = 1\nlabels = { \"topology.kubernetes.io/zone\" = \"us-east-1b\" }",
            "max_size = 3\ninitial_size = 1\nlabels = { \"topology.kubernetes.io/zone\" = \"us-east-1b\" }",
        )
        .replace("[service]\n", "[cluster_autoscaler]\n\n[service]\n");
    assert!(text.contains("max_size = 3"));
    let r = run(&text);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 3, "no useless scale-up");
    assert_eq!(c.pods_pending_at_horizon, 1);
}

#[test]
fn hostname_spread_lets_a_new_node_take_as_many_as_the_skew_allows() {
    // maxSkew 1 over hostnames, one four-GPU node full with four replicas, eight wanted: a new
    // node starts a domain at 0 and may take four (each step keeps the skew within 1), so one
    // node is enough, as upstream's estimator finds with the existing node's pods counted.
    let text = r#"
[simulation]
horizon = "20m"
sample_interval = "30s"
[[node_pool]]
name = "gpu"
instance_type = "g6e.12xlarge"
min_size = 1
max_size = 8
initial_size = 1
provisioning_delay = "2m"
[cluster_autoscaler]
[service]
replicas = 8
dispatch = "router"
[service.resources]
requests = { cpu = "4", memory = "32Gi", "nvidia.com/gpu" = 1 }
[service.pod]
topologySpreadConstraints = [
  { maxSkew = 1, topologyKey = "kubernetes.io/hostname", whenUnsatisfiable = "DoNotSchedule" },
]
[service.service_time]
distribution = "exponential"
base = "100ms"
[traffic]
kind = "poisson"
rate = 5.0
"#;
    let r = run(text);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 2);
    assert_eq!(c.pods_pending_at_horizon, 0);
    assert_eq!(r.series.last().unwrap().ready_replicas, 8);
}

#[test]
fn preemption_spares_batch_work_on_nodes_the_anti_affinity_rules_out() {
    // Two nodes, each with a replica; a third replica under a required hostname anti-affinity
    // can go nowhere, so evicting batch jobs to make room would be for nothing: upstream's
    // preemption re-runs every filter on each candidate node and finds no victims.
    let base = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/batch-beside-serving.toml"),
    )
    .unwrap();
    let text = base.replace(
        "[service.pod]\n",
        "[service.pod]\naffinity = { podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution = [ { topologyKey = \"kubernetes.io/hostname\" } ] } }\n",
    );
    assert_ne!(text, base);
    let r = run(&text);
    let p = r
        .summary
        .cluster
        .as_ref()
        .unwrap()
        .preemption
        .as_ref()
        .unwrap();
    assert_eq!(p.preemptions, 0, "{p:?}");
}
