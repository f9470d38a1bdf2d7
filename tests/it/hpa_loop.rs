//! The HPA in the simulation loop: the seed articles' HPA (CPU at 70%, 2 to 20 replicas, no
//! `behavior`) under a step up and a step down in traffic.

use sim_core::{parse_scenario, Inputs};

const SCENARIO: &str = r#"
[simulation]
horizon = "40m"
sample_interval = "5s"
[service]
replicas = 2
dispatch = "router"
router = "least-outstanding"
[service.resources]
requests = { cpu = "1", memory = "2Gi" }
[service.service_time]
distribution = "exponential"
base = "50ms"
[traffic]
kind = "schedule"
schedule = [
  { start = "0s", rate = 20.0 },
  { start = "5m", rate = 200.0 },
  { start = "15m", rate = 20.0 },
]
[hpa]
minReplicas = 2
maxReplicas = 20
metrics = [{ type = "Resource", resource = { name = "cpu", target = { type = "Utilization", averageUtilization = 70 } } }]
"#;

#[test]
fn the_seed_hpa_grows_within_its_limit_and_waits_five_minutes_to_shrink() {
    let s = parse_scenario(SCENARIO, "hpa-loop.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    assert!(r.summary.warnings.is_empty(), "{:?}", r.summary.warnings);
    // Desired replicas at each 15-second sync (rows every 5 s; a sync at t takes effect at t).
    let desired: Vec<(f64, u32)> = r
        .series
        .iter()
        .filter(|row| (row.time_s.round() as u64) % 15 == 0)
        .map(|row| (row.time_s, row.desired_replicas))
        .collect();
    let mut grew = false;
    for w in desired.windows(2) {
        let ((_, a), (t, b)) = (w[0], w[1]);
        assert!(
            b <= (2 * a).max(4),
            "at {t} s: {a} -> {b} exceeds max(2 × current, 4)"
        );
        grew |= b > a;
    }
    assert!(grew, "the step up must scale up");
    let peak = desired.iter().map(|d| d.1).max().unwrap();
    assert!(
        peak >= 12,
        "200 req/s at 50 ms and 70% needs about 15 replicas, got {peak}"
    );
    // The load drops at 900 s: no scale-down before 900 + 300 s.
    let at_drop = desired.iter().find(|d| d.0 >= 900.0).unwrap().1;
    let first_down = desired
        .iter()
        .filter(|d| d.0 > 900.0)
        .find(|d| d.1 < at_drop)
        .expect("the HPA scales down after the drop");
    assert!(first_down.0 >= 1200.0, "scaled down at {} s", first_down.0);
    // And it does come down, to what 20 req/s needs.
    assert!(desired.last().unwrap().1 <= 4);
}

#[test]
fn bad_hpas_name_the_key() {
    let e = |from: &str, to: &str| {
        parse_scenario(&SCENARIO.replace(from, to), "hpa.toml")
            .unwrap_err()
            .to_string()
    };
    let m = e("minReplicas = 2", "minReplicas = 30");
    assert!(
        m.contains("hpa.maxReplicas") && m.contains("minReplicas"),
        "{m}"
    );
    let m = e("name = \"cpu\"", "name = \"gpu\"");
    assert!(
        m.contains("hpa.metrics[0]") && m.contains("cpu and memory"),
        "{m}"
    );
    let m = e(
        "metrics = [{ type = \"Resource\", resource = { name = \"cpu\", target = { type = \"Utilization\", averageUtilization = 70 } } }]",
        "metrics = [{ type = \"Pods\", pods = { metric = { name = \"queue_lenght\" }, target = { type = \"AverageValue\", averageValue = \"5\" } } }]",
    );
    assert!(
        m.contains("unknown pods metric") && m.contains("did you mean `queue_length`?"),
        "{m}"
    );
}
