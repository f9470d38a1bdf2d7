//! Karpenter on a hand-checked timeline: a pending pod opens a batch that closes 1 s later with
//! the cheapest fitting instance type launched, the node serves after its provisioning delay, an
//! empty node goes once quiet for `consolidateAfter` (at the next 10 s poll, plus the 15 s
//! validation), and a half-empty big node is replaced by a cheaper one.

use sim_core::{parse_scenario, Inputs};

const SCENARIO: &str = r#"
[simulation]
horizon = "40m"
sample_interval = "10s"
[karpenter]
[[karpenter.nodepool]]
name = "gpu"
provisioning_delay = "3m"
requirements = [
  { key = "node.kubernetes.io/instance-type", operator = "In", values = ["g5.xlarge", "g5.12xlarge", "g6e.xlarge"] },
]
disruption = { consolidationPolicy = "WhenEmpty", consolidateAfter = "25s" }
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
rate = 0.5
"#;

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
fn cheapest_type_after_the_batch_window_and_empty_node_consolidated() {
    let s = parse_scenario(SCENARIO, "karpenter.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    // The pod pending at 0 s opens a batch; it closes idle at 1 s and a g5.xlarge ($1.006/h,
    // cheaper than g6e.xlarge and g5.12xlarge) is launched, Ready at 181 s.
    assert_eq!(first(rows, |r| r.nodes == 1), 10.0);
    assert_eq!(first(rows, |r| r.nodes_ready == 1), 190.0);
    assert_eq!(first(rows, |r| r.pods_pending == 0), 190.0);
    // The second pod (300 s) gets its own node at 301 s, Ready at 481 s.
    assert_eq!(first(rows, |r| r.nodes == 2), 310.0);
    assert_eq!(first(rows, |r| r.nodes_ready == 2), 490.0);
    // (WhenEmpty: the older node's pod would fit on the emptied node, but only empty nodes go.)
    // At 1200 s the newest pod goes; its node is empty and quiet from then, consolidatable at
    // 1225 s, found by the poll at 1230 s and deleted after the 15 s validation, at 1245 s.
    assert_eq!(first(rows, |r| r.time_s > 1200.0 && r.nodes == 1), 1250.0);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.nodes_launched, 2);
    assert_eq!(c.pools.len(), 1, "{:?}", c.pools);
    assert_eq!(c.pools[0].name, "gpu/g5.xlarge/on-demand");
    let expected_hours = ((2400.0 - 1.0) + (1245.0 - 301.0)) / 3600.0;
    assert!(
        (c.node_hours - expected_hours).abs() < 1e-9,
        "{}",
        c.node_hours
    );
    let k = c.karpenter.as_ref().unwrap();
    assert_eq!((k.nodes_launched, k.empty_deleted), (2, 1));
}

#[test]
fn spot_is_chosen_when_allowed() {
    let src = SCENARIO.replace(
        "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"] },",
        "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"] },\n  { key = \"karpenter.sh/capacity-type\", operator = \"In\", values = [\"spot\", \"on-demand\"] },",
    );
    let s = parse_scenario(&src, "karpenter.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pools[0].name, "gpu/g5.xlarge/spot");
    assert_eq!(c.pools[0].price_usd_per_hour, 0.43);
}

#[test]
fn a_batch_packs_onto_one_node_and_a_cheaper_node_replaces_it() {
    // Three pods at once fit one g5.12xlarge (4 GPUs): one NodeClaim, its cheapest option.
    // When two go at 20 m, the node holds one pod: a g5.xlarge fits it for less, so it is
    // launched and the big node drained once the replacement is Ready.
    let src = SCENARIO
        .replace("replicas = 1\ndispatch", "replicas = 3\ndispatch")
        .replace("\"WhenEmpty\"", "\"WhenEmptyOrUnderutilized\"")
        .replace(
            "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
            "scale = [{ at = \"20m\", replicas = 1 }]",
        );
    let s = parse_scenario(&src, "karpenter.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    assert!(rows
        .iter()
        .filter(|r| r.time_s < 1200.0)
        .all(|r| r.nodes <= 1));
    let c = r.summary.cluster.as_ref().unwrap();
    let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["gpu/g5.12xlarge/on-demand", "gpu/g5.xlarge/on-demand"]
    );
    let k = c.karpenter.as_ref().unwrap();
    assert_eq!(k.nodes_replaced, 1);
    // Replacement launched at 1245 s (poll 1230 s + 15 s), Ready at 1425 s; the old node drains.
    assert_eq!(first(rows, |r| r.time_s > 1200.0 && r.nodes == 2), 1250.0);
    assert_eq!(first(rows, |r| r.time_s > 1250.0 && r.nodes == 1), 1430.0);
    assert_eq!(c.nodes_at_horizon, 1);
}

#[test]
fn bad_karpenter_settings_name_the_key() {
    let e = |from: &str, to: &str| {
        parse_scenario(&SCENARIO.replace(from, to), "karpenter.toml")
            .unwrap_err()
            .to_string()
    };
    let m = e("\"g5.12xlarge\", \"g6e", "\"g5.12xlarg\", \"g6e");
    assert!(
        m.contains("karpenter.nodepool[0].requirements[0].values[1]")
            && m.contains("unknown value `g5.12xlarg`")
            && m.contains("did you mean `g5.12xlarge`?"),
        "{m}"
    );
    let m = e(
        "consolidateAfter = \"25s\" }",
        "consolidateAfter = \"25s\", budgets = [{ nodes = \"150%\" }] }",
    );
    assert!(
        m.contains("karpenter.nodepool[0].disruption.budgets[0].nodes")
            && m.contains("from 0% to 100%"),
        "{m}"
    );
    let m = e("\"WhenEmpty\"", "\"WhenEmpti\"");
    assert!(m.contains("did you mean `WhenEmpty`?"), "{m}");
    let m = e("[karpenter]\n", "[cluster_autoscaler]\n[karpenter]\n");
    assert!(m.contains("alternatives"), "{m}");
    assert!(m.contains(":"), "{m}");
}

#[test]
fn shipped_comparison_is_reproducible_and_karpenter_uses_fewer_node_hours() {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/karpenter-vs-ca.toml"),
    )
    .unwrap();
    let catalog = sim_core::catalog::Catalog::builtin();
    let variants =
        sim_core::scenario::parse_variants(&src, "karpenter-vs-ca.toml", &catalog).unwrap();
    let run = |i: usize| {
        let r = sim_core::run(&variants[i].scenario, Inputs::default()).unwrap();
        serde_json::to_string(&r.summary).unwrap()
    };
    let hours = |i: usize| {
        let r = sim_core::run(&variants[i].scenario, Inputs::default()).unwrap();
        let c = r.summary.cluster.unwrap();
        (c.node_hours, c.cost_usd)
    };
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(run(i), run(i), "{}", v.name);
    }
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cluster-autoscaler",
            "karpenter",
            "karpenter-spot",
            "karpenter-vpa"
        ]
    );
    let (ca, karp, spot) = (hours(0), hours(1), hours(2));
    assert!(karp.0 < ca.0, "{karp:?} {ca:?}");
    assert!(spot.1 < karp.1 * 0.5, "{spot:?} {karp:?}");
}

#[test]
fn limits_cap_the_nodepool() {
    // At most one GPU's worth of nodes: the second pod stays Pending.
    let src = SCENARIO.replace(
        "disruption = {",
        "limits = { \"nvidia.com/gpu\" = 1 }\ndisruption = {",
    );
    let s = parse_scenario(&src, "karpenter.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    assert!(rows.iter().all(|r| r.nodes <= 1));
    let at = |t: f64| rows.iter().find(|r| r.time_s == t).unwrap();
    assert_eq!(at(600.0).pods_pending, 1);
    // Once the Deployment shrinks the pending pod goes; nothing more is launched.
    assert_eq!(at(1300.0).pods_pending, 0);
    assert_eq!(r.summary.cluster.unwrap().nodes_launched, 1);
}

#[test]
fn consolidation_drains_only_what_the_pod_disruption_budget_allows() {
    // As above, the big node holds one pod after 20 m and a cheaper node could replace it; the
    // replacement drains the pod, which a budget of `minAvailable: 1` forbids.
    let src = |pdb: &str| {
        SCENARIO
            .replace("replicas = 1\ndispatch", "replicas = 3\ndispatch")
            .replace("\"WhenEmpty\"", "\"WhenEmptyOrUnderutilized\"")
            .replace(
                "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
                "scale = [{ at = \"20m\", replicas = 1 }]",
            )
            + pdb
    };
    let replaced = |pdb: &str| {
        let s = parse_scenario(&src(pdb), "karpenter.toml").unwrap_or_else(|e| panic!("{e}"));
        let r = sim_core::run(&s, Inputs::default()).unwrap();
        let c = r.summary.cluster.unwrap();
        (c.karpenter.unwrap().nodes_replaced, c.pools.len())
    };
    assert_eq!(replaced(""), (1, 2));
    assert_eq!(replaced("[pdb]\nmaxUnavailable = 1\n"), (1, 2));
    // The one Ready pod may not go: the underused node stays, and no replacement is launched.
    assert_eq!(replaced("[pdb]\nminAvailable = 1\n"), (0, 1));
}

/// The three-pod scenario above, its NodePool allowed `capacity` (spot, or spot and on-demand)
/// and, with `gates`, a `featureGates` table: three pods Pending together get one g5.12xlarge
/// spot node (the only type holding three, spot the cheapest), which holds one pod after 20 m.
fn spot_consolidation(capacity: &str, types: &str, gates: &str) -> String {
    SCENARIO
        .replace("replicas = 1\ndispatch", "replicas = 3\ndispatch")
        .replace("\"WhenEmpty\"", "\"WhenEmptyOrUnderutilized\"")
        .replace(
            "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
            "scale = [{ at = \"20m\", replicas = 1 }]",
        )
        .replace(
            "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"] },",
            &format!("values = [{types}] }},\n  {{ key = \"karpenter.sh/capacity-type\", operator = \"In\", values = [{capacity}] }},"),
        )
        .replace("[karpenter]\n", &format!("[karpenter]\n{gates}\n"))
}

/// Sixteen made-up one-GPU instance types with spot prices below the g5.12xlarge's ($2.27/h),
/// the cheapest `cheap-0` at $0.10/h.
fn sixteen_cheap_spot_types() -> (sim_core::catalog::Catalog, String) {
    let mut src = String::new();
    let mut ids = vec!["\"g5.12xlarge\"".to_string()];
    for i in 0..16 {
        src += &format!(
            "[[instance]]\nid = \"cheap-{i}\"\nprovider = \"aws\"\nregion = \"us-east-1\"\nvcpu = 4\nmemory = \"16Gi\"\ngpu = \"a10g\"\ngpu_count = 1\non_demand_usd_per_hour = 1.5\nspot_usd_per_hour = {:.2}\nprice_date = \"2026-12-01\"\nprice_source = \"made up for a test\"\n",
            0.10 + 0.05 * i as f64
        );
        ids.push(format!("\"cheap-{i}\""));
    }
    let catalog = sim_core::catalog::Catalog::builtin()
        .with_instances(&src, "cheap.toml")
        .unwrap();
    (catalog, ids.join(", "))
}

fn run_with(src: &str, catalog: &sim_core::catalog::Catalog) -> sim_core::RunResult {
    let s = sim_core::parse_scenario_with(src, "karpenter.toml", catalog)
        .unwrap_or_else(|e| panic!("{e}"));
    sim_core::run(&s, Inputs::default()).unwrap()
}

/// Spot to spot, upstream's rules: with the feature gate off (the default) a spot node is never
/// replaced by another spot node, and (its replacement able to be spot) not by an on-demand one
/// either; with `spotToSpotConsolidation = true` it is, when at least 15 spot types are cheaper:
/// launched after the poll at 1230 s and the 15 s validation (1245 s) as the cheapest, `cheap-0`.
#[test]
fn spot_nodes_are_replaced_by_spot_nodes_only_behind_the_feature_gate() {
    let builtin = sim_core::catalog::Catalog::builtin();
    let three = "\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"";
    // Spot or on-demand allowed, gate off: no replacement at all (not a g5.xlarge on-demand).
    let r = run_with(
        &spot_consolidation("\"spot\", \"on-demand\"", three, ""),
        &builtin,
    );
    let c = r.summary.cluster.as_ref().unwrap();
    let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gpu/g5.12xlarge/spot"]);
    assert_eq!(c.karpenter.as_ref().unwrap().nodes_replaced, 0);
    // Gate on, but fewer than 15 cheaper spot types: still none.
    let gate = "featureGates = { spotToSpotConsolidation = true }";
    let r = run_with(
        &spot_consolidation("\"spot\", \"on-demand\"", three, gate),
        &builtin,
    );
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.karpenter.as_ref().unwrap().nodes_replaced, 0);
    // Sixteen cheaper spot types: gate off, none; gate on, the cheapest.
    let (catalog, many) = sixteen_cheap_spot_types();
    let r = run_with(&spot_consolidation("\"spot\"", &many, ""), &catalog);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.karpenter.as_ref().unwrap().nodes_replaced, 0);
    assert_eq!(c.pools.len(), 1);
    let r = run_with(&spot_consolidation("\"spot\"", &many, gate), &catalog);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.karpenter.as_ref().unwrap().nodes_replaced, 1);
    let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gpu/cheap-0/spot", "gpu/g5.12xlarge/spot"]);
    assert_eq!(
        first(&r.series, |r| r.time_s > 1200.0 && r.nodes == 2),
        1250.0
    );
}

#[test]
fn a_misspelt_feature_gate_is_a_located_error() {
    let e = |gates: &str| {
        parse_scenario(
            &spot_consolidation("\"spot\"", "\"g5.xlarge\"", gates),
            "karpenter.toml",
        )
        .unwrap_err()
        .to_string()
    };
    let m = e("featureGates = { spotToSpotConsolidation = \"ture\" }");
    assert!(
        m.contains("karpenter.toml:")
            && m.contains("karpenter.featureGates.spotToSpotConsolidation")
            && m.contains("expected true or false"),
        "{m}"
    );
    let m = e("featureGates = { SpotToSpotConsolidaton = true }");
    assert!(
        m.contains("karpenter.toml:")
            && m.contains("unknown field `SpotToSpotConsolidaton`")
            && m.contains("did you mean `spotToSpotConsolidation`?"),
        "{m}"
    );
}

/// A spot interruption of a Karpenter node whose one pod the PodDisruptionBudget keeps there:
/// the interruption controller deletes the NodeClaim and the provisioner counts the pod as
/// pending, so the replacement is launched when the batch closes 1 s after the notice (600 s),
/// not once the node is gone at 720 s; the interrupted offering (g5.xlarge spot) is unavailable
/// for 3 minutes, so the replacement is the next cheapest, g6e.xlarge spot ($0.74/h).
#[test]
fn a_spot_interruption_launches_the_replacement_at_once() {
    let src = SCENARIO
        .replace(
            "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"] },",
            "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"] },\n  { key = \"karpenter.sh/capacity-type\", operator = \"In\", values = [\"spot\"] },",
        )
        .replace(
            "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
            "scale = []",
        )
        + "[pdb]\nminAvailable = 1\n[[failure]]\nat = \"10m\"\nkind = \"spot\"\npool = \"gpu/g5.xlarge/spot\"\n";
    let s = parse_scenario(&src, "karpenter.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    assert_eq!(first(rows, |r| r.time_s > 600.0 && r.nodes == 2), 610.0);
    let c = r.summary.cluster.as_ref().unwrap();
    let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gpu/g5.xlarge/spot", "gpu/g6e.xlarge/spot"]);
    // The old node is gone at 720 s; the new one is Ready at 781 s, when the pod binds.
    assert_eq!(first(rows, |r| r.time_s > 600.0 && r.nodes == 1), 730.0);
    assert_eq!(
        first(rows, |r| r.time_s > 720.0 && r.pods_pending == 0),
        790.0
    );
}

/// A catalog adding `small` (one A10G, $1.00/h) and `trio` (three A10Gs, $2.50/h): one `trio`
/// is cheaper than three `small`s but not than two.
fn small_and_trio() -> sim_core::catalog::Catalog {
    let it = |id: &str, gpus: u32, vcpu: u32, mem: &str, price: f64| {
        format!("[[instance]]\nid = \"{id}\"\nprovider = \"aws\"\nregion = \"us-east-1\"\nvcpu = {vcpu}\nmemory = \"{mem}\"\ngpu = \"a10g\"\ngpu_count = {gpus}\non_demand_usd_per_hour = {price:.2}\nprice_date = \"2026-12-01\"\nprice_source = \"made up for a test\"\n")
    };
    let src = it("small", 1, 4, "16Gi", 1.0) + &it("trio", 3, 12, "48Gi", 2.5);
    sim_core::catalog::Catalog::builtin()
        .with_instances(&src, "trio.toml")
        .unwrap()
}

/// Multi-node consolidation (`MultiNodeConsolidation.ComputeCommands`): four one-pod `small`
/// nodes, launched for pods that arrive 20 s apart (at 1, 21, 41 and 61 s; Ready 180 s later,
/// at 181 to 241 s, their pods bound then), consolidatable 60 s after that (241, 261, 281 and
/// 301 s). Two together cost $2.00/h, less than a `trio`, so while two or three are candidates
/// the binary search's first probe (two nodes) fails and nothing happens; single-node finds
/// nothing either (no node is cheaper than a `small`). At the poll at 310 s there are four
/// candidates (budget `"100%"`), all at savings ratio $1.00 / 2 pods, so in node order: the
/// first probe is three nodes, whose pods fit one `trio` ($2.50 < $3.00): valid; the next, four,
/// needs two new nodes: invalid. The command replaces the first three nodes with a `trio`,
/// launched after the 15 s validation, at 325 s, and Ready at 505 s, when the three are drained.
#[test]
fn multi_node_consolidation_replaces_three_nodes_with_one_cheaper_node() {
    let src = SCENARIO
        .replace(
            "values = [\"g5.xlarge\", \"g5.12xlarge\", \"g6e.xlarge\"]",
            "values = [\"small\", \"trio\"]",
        )
        .replace(
            "{ consolidationPolicy = \"WhenEmpty\", consolidateAfter = \"25s\" }",
            "{ consolidationPolicy = \"WhenEmptyOrUnderutilized\", consolidateAfter = \"1m\", budgets = [{ nodes = \"100%\" }] }",
        )
        .replace(
            "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
            "scale = [{ at = \"20s\", replicas = 2 }, { at = \"40s\", replicas = 3 }, { at = \"60s\", replicas = 4 }]",
        )
        .replace("horizon = \"40m\"", "horizon = \"20m\"");
    let r = run_with(&src, &small_and_trio());
    let rows = &r.series;
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(first(rows, |r| r.nodes_ready == 4), 250.0);
    assert!(rows
        .iter()
        .filter(|r| r.time_s < 325.0)
        .all(|r| r.nodes <= 4));
    assert_eq!(first(rows, |r| r.nodes == 5), 330.0);
    assert_eq!(first(rows, |r| r.time_s > 330.0 && r.nodes < 5), 510.0);
    let k = c.karpenter.as_ref().unwrap();
    assert_eq!((k.nodes_launched, k.nodes_replaced), (5, 3));
    let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gpu/small/on-demand", "gpu/trio/on-demand"]);
    assert_eq!(c.nodes_at_horizon, 2);
    // Billed: the three `small`s from 1, 21 and 41 s to 505 s, the fourth from 61 s to the
    // horizon (1200 s), at $1.00/h; the `trio` from 325 s, at $2.50/h.
    let cost = |n: &str| c.pools.iter().find(|p| p.name == n).unwrap().cost_usd;
    let small = (504.0 + 484.0 + 464.0 + 1139.0) / 3600.0;
    assert!((cost("gpu/small/on-demand") - small).abs() < 1e-9);
    assert!((cost("gpu/trio/on-demand") - 875.0 * 2.5 / 3600.0).abs() < 1e-9);
}

/// Drift (`Drift.ComputeCommands`): three one-pod `g5.xlarge` nodes (launched at 1, 61 and
/// 121 s, Ready at 181, 241 and 301 s); at 20 m the NodePool's requirements change to
/// `g6e.xlarge` only, so all three drift at 1200 s. The default budget (10% of three nodes,
/// rounded up: one) lets one go at a time, oldest first: the poll at 1200 s launches a
/// `g6e.xlarge` for the first, which is drained when it is Ready.
#[test]
fn a_nodepool_change_drifts_nodes_replaced_one_at_a_time() {
    let src = SCENARIO
        .replace(
            "scale = [{ at = \"5m\", replicas = 2 }, { at = \"20m\", replicas = 1 }]",
            "scale = [{ at = \"1m\", replicas = 2 }, { at = \"2m\", replicas = 3 }]",
        )
        .replace(
            "consolidateAfter = \"25s\" }\n",
            "consolidateAfter = \"25s\" }\n[[karpenter.nodepool.change]]\nat = \"20m\"\nrequirements = [\n  { key = \"node.kubernetes.io/instance-type\", operator = \"In\", values = [\"g6e.xlarge\"] },\n]\n",
        )
        .replace("horizon = \"40m\"", "horizon = \"60m\"");
    let s = parse_scenario(&src, "karpenter.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let rows = &r.series;
    // One replacement in flight at a time: four nodes (three Ready) from the first launch at
    // 1200 s until the last old node goes at 1740 s.
    assert!(rows
        .iter()
        .filter(|r| r.time_s <= 1200.0)
        .all(|r| r.nodes <= 3));
    assert!(rows
        .iter()
        .filter(|r| r.time_s > 1200.0 && r.time_s <= 1740.0)
        .all(|r| r.nodes == 4 && r.nodes_ready == 3));
    assert_eq!(first(rows, |r| r.time_s > 1200.0 && r.nodes == 3), 1750.0);
    let c = r.summary.cluster.as_ref().unwrap();
    let k = c.karpenter.as_ref().unwrap();
    assert_eq!(
        (k.nodes_launched, k.nodes_drifted, k.nodes_replaced),
        (6, 3, 0)
    );
    // The first replacement is Ready at 1380 s; its old node drains at once (its pod goes to
    // the new node) and the budget frees: the poll at 1380 s replaces the second (Ready at
    // 1560 s), the poll at 1560 s the third (Ready at 1740 s). Billed: the g5.xlarges from 1,
    // 61 and 121 s to 1380, 1560 and 1740 s; the g6e.xlarges from 1200, 1380 and 1560 s to the
    // horizon (3600 s).
    let cost = |n: &str| c.pools.iter().find(|p| p.name == n).unwrap().cost_usd;
    let old = (1379.0 + 1499.0 + 1619.0) * 1.006 / 3600.0;
    let new = (2400.0 + 2220.0 + 2040.0) * 1.861 / 3600.0;
    assert!((cost("gpu/g5.xlarge/on-demand") - old).abs() < 1e-9);
    assert!((cost("gpu/g6e.xlarge/on-demand") - new).abs() < 1e-9);
    assert_eq!(c.nodes_at_horizon, 3);
}

/// `[[karpenter.nodepool.change]]` errors are located: a misspelt instance type, a misspelt
/// duration, a change out of time order, a missing `requirements`.
#[test]
fn a_misspelt_nodepool_change_is_a_located_error() {
    let e = |change: &str| {
        let src = SCENARIO.replace(
            "consolidateAfter = \"25s\" }\n",
            &format!("consolidateAfter = \"25s\" }}\n{change}"),
        );
        parse_scenario(&src, "karpenter.toml")
            .unwrap_err()
            .to_string()
    };
    let one = |at: &str, ty: &str| {
        format!("[[karpenter.nodepool.change]]\nat = \"{at}\"\nrequirements = [{{ key = \"node.kubernetes.io/instance-type\", operator = \"In\", values = [\"{ty}\"] }}]\n")
    };
    let m = e(&one("20m", "g6e.xlarg"));
    assert!(
        m.contains("karpenter.toml:15:")
            && m.contains("karpenter.nodepool[0].change[0].requirements[0].values[0]")
            && m.contains("unknown value `g6e.xlarg`")
            && m.contains("did you mean `g6e.xlarge`?"),
        "{m}"
    );
    let m = e(&one("20 minutes", "g6e.xlarge"));
    assert!(
        m.contains("karpenter.toml:14:") && m.contains("karpenter.nodepool[0].change[0].at"),
        "{m}"
    );
    let m = e(&(one("20m", "g6e.xlarge") + &one("10m", "g5.xlarge")));
    assert!(
        m.contains("karpenter.nodepool[0].change[1].at") && m.contains("time order"),
        "{m}"
    );
    let m = e("[[karpenter.nodepool.change]]\nat = \"20m\"\n");
    assert!(
        m.contains("karpenter.nodepool[0].change[0]") && m.contains("requirements"),
        "{m}"
    );
    let m = e("[[karpenter.nodepool.change]]\nat = \"20m\"\nrequirement = []\n");
    assert!(m.contains("did you mean `requirements`?"), "{m}");
}
