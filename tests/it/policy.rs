//! `[[policy]]` variants through the real `capsim` binary: one folder per variant, a comparison
//! table, common random numbers, and errors that point into the variant.

use crate::common::{capsim_text, root};
use std::path::Path;

const BASE: &str = r#"name = "policies"
[simulation]
horizon = "2m"
warmup = "10s"
[slo]
latency = "40ms"
[service]
replicas = 2
dispatch = "router"
router = "least-outstanding"
[service.service_time]
distribution = "exponential"
base = "10ms"
[traffic]
kind = "poisson"
rate = 150.0
"#;

const POLICIES: &str = r#"
[[policy]]
name = "same"

[[policy]]
name = "four"
service.replicas = 4

[[policy]]
name = "random-router"
service.router = "random"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn variants_share_traffic_and_a_plain_variant_equals_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.toml", BASE);
    let with = write(dir.path(), "with.toml", &format!("{BASE}{POLICIES}"));
    let out_base = dir.path().join("out-base");
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&["run", &base, "--out", out_base.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, stdout, err) =
        capsim_text(&["run", &with, "--out", out.to_str().unwrap(), "--report"]);
    assert_eq!(code, 0, "{err}");
    // The report compares the variants.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg id=\"chart-policy-replicas\""),
        "the variants overlaid"
    );
    // No node pools, so no cost: no Pareto chart to draw (rather than an empty frame).
    assert!(!html.contains("<svg id=\"chart-policy-pareto\""));
    assert!(out.join("charts/policy-replicas.png").exists());
    assert!(
        stdout.contains("3 policies, same traffic and random numbers"),
        "{stdout}"
    );
    for name in ["same", "four", "random-router"] {
        assert!(out
            .join("policies")
            .join(name)
            .join("summary.json")
            .exists());
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
    // A variant that overrides nothing is the base scenario, byte for byte.
    for f in ["summary.json", "timeseries.csv"] {
        let a = std::fs::read(out_base.join(f)).unwrap();
        let b = std::fs::read(out.join("policies/same").join(f)).unwrap();
        assert_eq!(a, b, "{f}");
    }
    // Common random numbers: every variant sees the same arrivals.
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3);
    let arrived = |name: &str| -> u64 {
        let s =
            std::fs::read_to_string(out.join("policies").join(name).join("summary.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        v["requests"]["arrived"].as_u64().unwrap()
    };
    assert_eq!(arrived("same"), arrived("four"));
    assert_eq!(arrived("same"), arrived("random-router"));
    // Four replicas at the same load wait less than two.
    let p99 = |row: &Vec<&str>| -> f64 { row[5].parse().unwrap() };
    assert!(p99(&rows[1]) < p99(&rows[0]));
    // Golden: the comparison format and numbers.
    let golden = root().join("tests/golden/policies.comparison.csv");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &csv).unwrap();
    }
    assert_eq!(
        csv,
        std::fs::read_to_string(&golden).unwrap(),
        "see tests/it/determinism.rs on golden files"
    );
}

#[test]
fn a_bad_variant_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{BASE}{POLICIES}").replace("service.replicas = 4", "service.replicas = 0");
    let line = text
        .lines()
        .position(|l| l == "service.replicas = 0")
        .unwrap()
        + 1;
    let path = write(dir.path(), "bad.toml", &text);
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&["run", &path, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("bad.toml:{line}:")) && err.contains("policy[1].service.replicas"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
}
