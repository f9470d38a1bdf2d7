//! The VPA on a hand-checked timeline: pods use 500m CPU and 2Gi memory but request 100m; the
//! recommendation converges to the usage's histogram bucket plus the 15% margin, and Recreate
//! evicts the pods once the lower bound (scaled down by the low confidence of a few minutes of
//! samples) climbs above their request.

use sim_core::{parse_scenario, Inputs};

const SCENARIO: &str = r#"
[simulation]
horizon = "1h"
sample_interval = "10s"
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

fn run(src: &str, horizon: &str) -> sim_core::results::VpaOutcome {
    let src = src.replace("horizon = \"1h\"", &format!("horizon = \"{horizon}\""));
    let s = parse_scenario(&src, "vpa.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    r.summary.cluster.unwrap().vpa.unwrap()
}

#[test]
fn recommendation_converges_and_recreate_evicts_pods_far_below_it() {
    // Recommender runs every minute: at 60 s it first sees each pod; from 120 s one sample per
    // pod per minute. Confidence = min(span/24h, samples/1440): at 180 s it is 60 s/24 h and
    // the lower bound is 587m × (1 + 0.001/0.000694)^-2 ≈ 98m, under the 100m request; at 240 s
    // it is 120 s/24 h and the lower bound ≈ 198m: the updater (after the recommender at 240 s)
    // evicts one pod (eviction tolerance: 2 replicas × 0.5 = 1 at a time), the other at 300 s.
    assert_eq!(run(SCENARIO, "235s").evictions, 0);
    assert_eq!(run(SCENARIO, "245s").evictions, 1);
    assert_eq!(run(SCENARIO, "295s").evictions, 1);
    let v = run(SCENARIO, "305s");
    assert_eq!(v.evictions, 2);
    // The replacements request the target and stay: no more evictions in the hour.
    let v1 = run(SCENARIO, "1h");
    assert_eq!(v1.evictions, 2);
    // Target: the end of the histogram bucket holding 0.5 cores (0.51113) plus 15%: 587m;
    // memory: the end of the bucket holding 2Gi (2.2082e9 bytes) plus 15%.
    let t = v1.target.unwrap();
    assert_eq!(t.cpu_millicores, 587);
    let mem = t.memory_bytes as f64;
    let usage = 2.0 * 1024.0 * 1024.0 * 1024.0;
    assert!(mem >= usage * 1.15 && mem <= usage * 1.05 * 1.15, "{mem}");
    assert_eq!(v1.update_mode, "Recreate");
    let lo = v1.lower_bound.unwrap();
    let hi = v1.upper_bound.unwrap();
    assert!(lo.cpu_millicores > 500 && lo.cpu_millicores < 587, "{lo:?}");
    assert!(hi.cpu_millicores > 587, "{hi:?}");
}

#[test]
fn off_and_initial_never_evict() {
    for mode in ["Off", "Initial"] {
        let src = SCENARIO.replace("\"Recreate\"", &format!("\"{mode}\""));
        let v = run(&src, "1h");
        assert_eq!(v.evictions, 0, "{mode}");
        assert_eq!(v.target.unwrap().cpu_millicores, 587, "{mode}");
    }
}

#[test]
fn in_place_resizes_where_the_node_has_room() {
    let src = SCENARIO.replace("\"Recreate\"", "\"InPlaceOrRecreate\"");
    let v = run(&src, "1h");
    assert_eq!((v.in_place_updates, v.evictions), (2, 0));
}

#[test]
fn bad_vpa_settings_name_the_key() {
    let e = |from: &str, to: &str| {
        parse_scenario(&SCENARIO.replace(from, to), "vpa.toml")
            .unwrap_err()
            .to_string()
    };
    let m = e("\"Recreate\"", "\"Sometimes\"");
    assert!(
        m.contains("vpa.updatePolicy.updateMode")
            && m.contains("unknown updateMode `Sometimes`")
            && m.contains("Off, Initial, Recreate, Auto, InPlaceOrRecreate"),
        "{m}"
    );
    let m = e("\"Recreate\"", "\"Recreat\"");
    assert!(m.contains("did you mean `Recreate`?"), "{m}");
    let m = e(
        "[metrics]",
        "[[vpa.resourcePolicy.containerPolicies]]\ncontainerName = \"*\"\ncontrolledResources = [\"gpu\"]\n[metrics]",
    );
    assert!(
        m.contains("vpa.resourcePolicy.containerPolicies[0].controlledResources[0]"),
        "{m}"
    );
}
