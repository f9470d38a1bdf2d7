//! Determinism, conservation and output formats.

use crate::common::{capsim_text, entries, root};
use proptest::prelude::*;
use sim_core::metrics::{Outcome, RequestRow};
use sim_core::{parse_scenario, Inputs, World};
use std::collections::BTreeSet;

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn quickstart_is_byte_identical_across_runs_and_seed_matters() {
    let dir = tempfile::tempdir().unwrap();
    let out = |n: &str| dir.path().join(n);
    for (name, seed) in [("a", None), ("b", None), ("c", Some("7"))] {
        let o = out(name);
        let mut args = vec![
            "run",
            "scenarios/quickstart.toml",
            "--requests",
            "--out",
            o.to_str().unwrap(),
        ];
        if let Some(s) = seed {
            args.extend(["--seed", s]);
        }
        let (code, stdout, stderr) = capsim_text(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("latency"), "{stdout}");
        assert_eq!(
            entries(&o),
            [
                "inputs.csv",
                "requests.csv",
                "scenario.toml",
                "summary.json",
                "timeseries.csv"
            ]
        );
    }
    for f in ["summary.json", "timeseries.csv", "requests.csv"] {
        assert_eq!(
            read(&out("a").join(f)),
            read(&out("b").join(f)),
            "{f} differs between runs"
        );
        assert_ne!(
            read(&out("a").join(f)),
            read(&out("c").join(f)),
            "{f} ignores --seed"
        );
    }
}

const GOLDEN_SCENARIO: &str = r#"
name = "golden"

[simulation]
seed = 3
horizon = "2s"
warmup = "500ms"
sample_interval = "500ms"

[slo]
latency = "30ms"

[service]
replicas = 2
dispatch = "router"
router = "least-outstanding"
max_queue_size = 4

[service.triton]
max_batch_size = 4

[service.triton.dynamic_batching]
preferred_batch_size = [2, 4]
max_queue_delay_microseconds = 1000

[service.service_time]
distribution = "gamma"
base = "8ms"
per_item = "2ms"
cv = 0.5

[traffic]
kind = "schedule"
schedule = [
  { start = "0s", rate = 100.0 },
  { start = "1s", rate = 600.0 },
]
"#;

/// Golden files pin the output formats and the numbers. Regenerate with
/// `UPDATE_GOLDEN=1 cargo test --release --test it golden` after an intended change.
#[test]
fn golden_summary_and_timeseries() {
    let s = parse_scenario(GOLDEN_SCENARIO, "golden.toml").unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let dir = root().join("tests/golden");
    for (name, text) in [
        ("golden.summary.json", r.summary_json()),
        ("golden.timeseries.csv", r.timeseries_csv()),
    ] {
        let path = dir.join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let expected = String::from_utf8(read(&path)).unwrap();
        assert_eq!(text, expected, "{name} changed; see the test's doc comment");
    }
}

/// One randomly drawn service configuration.
struct Case<'a> {
    replicas: u32,
    router: Option<&'a str>,
    max_queue: u32,
    max_batch: u32,
    preferred: Vec<u32>,
    delay_us: u64,
    dist: &'a str,
    rate: f64,
    warmup_ms: u64,
}

fn scenario_text(c: &Case) -> String {
    let Case {
        replicas,
        router,
        max_queue,
        max_batch,
        ref preferred,
        delay_us,
        dist,
        rate,
        warmup_ms,
    } = *c;
    let dispatch = match router {
        None => "dispatch = \"shared\"".to_string(),
        Some(r) => format!("dispatch = \"router\"\nrouter = \"{r}\""),
    };
    let batching = if max_batch == 0 {
        String::new()
    } else {
        format!(
            "[service.triton]\nmax_batch_size = {max_batch}\n[service.triton.dynamic_batching]\n\
             preferred_batch_size = {preferred:?}\nmax_queue_delay_microseconds = {delay_us}\n"
        )
    };
    let cv = if dist == "lognormal" || dist == "gamma" {
        "cv = 0.8"
    } else {
        ""
    };
    format!(
        "[simulation]\nhorizon = \"3s\"\nwarmup = \"{warmup_ms}ms\"\nsample_interval = \"250ms\"\n\
         [slo]\nlatency = \"40ms\"\n\
         [service]\nreplicas = {replicas}\n{dispatch}\nmax_queue_size = {max_queue}\n{batching}\
         [service.service_time]\ndistribution = \"{dist}\"\nbase = \"5ms\"\nper_item = \"3ms\"\n{cv}\n\
         [traffic]\nkind = \"poisson\"\nrate = {rate}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// No request is lost or served twice, whatever the configuration: every arrival is completed,
    /// dropped with a reason, or still in flight at the horizon; per-request times are ordered and
    /// batches respect `max_batch_size`.
    #[test]
    fn every_request_is_accounted_for(
        replicas in 1u32..5,
        router in prop_oneof![Just(None), Just(Some("round-robin")), Just(Some("least-outstanding")), Just(Some("random"))],
        max_queue in 0u32..6,
        max_batch in 0u32..9,
        delay_us in 0u64..5_000,
        dist in prop_oneof![Just("deterministic"), Just("exponential"), Just("lognormal"), Just("gamma")],
        rate in 10.0f64..1_500.0,
        warmup_ms in 0u64..1_000,
        seed in 0u64..1_000,
    ) {
        let preferred: Vec<u32> = if max_batch >= 2 { vec![max_batch / 2, max_batch] } else { vec![] };
        let text = scenario_text(&Case { replicas, router, max_queue, max_batch, preferred, delay_us, dist, rate, warmup_ms });
        let mut s = parse_scenario(&text, "prop.toml").unwrap();
        s.seed = seed;
        let mut rows: Vec<RequestRow> = Vec::new();
        let r = World::new(&s, Inputs::default()).unwrap().run(&mut rows);
        let c = &r.summary.requests;
        prop_assert_eq!(c.arrived, c.completed + c.dropped + c.in_flight);
        let m = &r.summary.measured;
        prop_assert_eq!(m.arrived, m.completed + m.dropped + m.in_flight);
        prop_assert_eq!(rows.len() as u64, c.completed + c.dropped);
        let ids: BTreeSet<u64> = rows.iter().map(|r| r.request.id.0).collect();
        prop_assert_eq!(ids.len(), rows.len(), "a request finished twice");
        prop_assert!(ids.iter().all(|&id| id < c.arrived));
        let cap = max_batch.max(1);
        for row in &rows {
            match row.outcome {
                Outcome::Completed { start, finish, batch_size, replica, .. } => {
                    prop_assert!(row.request.arrival <= start && start <= finish);
                    prop_assert!(batch_size >= 1 && batch_size <= cap);
                    prop_assert!(replica < replicas);
                }
                Outcome::Dropped { at, reason } => {
                    prop_assert_eq!(reason, sim_core::serving::DropReason::QueueFull);
                    prop_assert!(max_queue > 0, "drops only happen with a bounded queue");
                    prop_assert_eq!(at, row.request.arrival);
                }
            }
        }
        if let Some(a) = r.summary.slo.attainment_ratio {
            prop_assert!((0.0..=1.0).contains(&a));
        }
        prop_assert!(r.series.iter().all(|row| row.replica_util_ratio <= 1.0 + 1e-9));
    }
}
