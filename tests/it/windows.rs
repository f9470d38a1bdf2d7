//! Windowed checks (`[[check]]` with `window`): per-window statistics computed during the run,
//! the worst window named in the failure and in the sweep row, and the bad-input errors; and
//! `capsim sweep --set`.
//!
//! `tests/windows/burst.toml`: one replica serving deterministic 100 ms requests that arrive one a
//! second (t = 0, 1, …, 1799 s), plus a burst of 10 at t = 600.5 s. The burst runs 600.5–601.5 s
//! (latencies 0.1, 0.2, …, 1.0 s) and the request of t = 601 s waits behind it (0.6 s); every
//! other request takes 0.1 s. Hand-computed:
//!
//! - whole run: 1,810 latencies, 1,800 of them 0.1 s; p99 is the ⌈0.99 × 1810⌉ = 1,792nd: 0.1 s.
//! - window 600–1200 s: 610 completions (600 of the background, 10 of the burst), 600 of them
//!   0.1 s, then 0.2, 0.3, 0.4, 0.5, …; p99 is the ⌈0.99 × 610⌉ = 604th: 0.5 s. Nine of them
//!   miss the 250 ms target: attainment 601/610.
//! - the sample intervals' p99s in that window are 1.0 s (600–660 s, 70 completions: the
//!   largest) and 0.1 s (nine others): their mean, 0.19 s, is not the window's p99.

use crate::common::{capsim_text, root};
use sim_core::metrics::LogHistogram;
use std::path::Path;

/// A copy of the burst scenario in `dir` with `edit` applied to its text; returns its path.
fn burst_copy(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(root().join("tests/windows/burst.toml")).unwrap();
    std::fs::copy(
        root().join("tests/windows/burst.csv"),
        dir.join("burst.csv"),
    )
    .unwrap();
    let path = dir.join("burst.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.display().to_string()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_burst_fails_its_window_while_the_whole_run_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        "tests/windows/burst.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("checks: 1 failed"), "{err}");
    assert!(
        !err.contains("[[check]] 0"),
        "the whole-run check passes: {err}"
    );
    assert!(
        err.contains(
            "tests/windows/burst.toml [[check]] 1 (policy base): latency_p99_s <= 0.25 in every 10m window: worst window 600–1200 s: latency_p99_s 0.501219327 (limit <= 0.25)"
        ),
        "{err}"
    );
    let s = summary(&out);
    let p99 = s["latency_s"]["p99"].as_f64().unwrap();
    assert!((p99 - 0.1).abs() < 0.001, "whole-run p99 {p99}");
    let w = &s["windows"][0];
    assert_eq!(w["window_s"], 600.0);
    let w = w["windows"].as_array().unwrap();
    assert_eq!(w.len(), 3);
    let starts: Vec<f64> = w.iter().map(|x| x["start_s"].as_f64().unwrap()).collect();
    assert_eq!(starts, [0.0, 600.0, 1200.0]);
    let completed: Vec<u64> = w.iter().map(|x| x["completed"].as_u64().unwrap()).collect();
    assert_eq!(completed, [600, 610, 600]);
    assert_eq!(
        w[1]["slo_attainment_ratio"].as_f64().unwrap(),
        601.0 / 610.0
    );
    let p = w[1]["latency_p99_s"].as_f64().unwrap();
    assert!((p - 0.5).abs() < 0.005, "window p99 {p}");
    assert_eq!(w[0]["latency_p99_s"], 0.1);
    // The time series: one row a minute, with the token-level column (empty: no LLM engine).
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(ts
        .lines()
        .next()
        .unwrap()
        .ends_with(",token_slo_attainment_ratio"));
}

/// A window's p99 is the p99 of the requests that finished in it, from their own histogram: the
/// same figure as a histogram of `requests.csv`'s latencies in the window, not the mean (or the
/// max) of the sample intervals' p99s; a window as long as the run is the run.
#[test]
fn window_percentiles_are_exact_over_the_windows_requests() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        "tests/windows/burst.toml",
        "--requests",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let mut lines = csv.lines();
    let cols: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |n: &str| cols.iter().position(|c| *c == n).unwrap();
    let (fin, lat) = (at("finish_s"), at("latency_s"));
    let mut h = LogHistogram::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let finish: f64 = f[fin].parse().unwrap();
        if (600.0..1200.0).contains(&finish) {
            h.record((f[lat].parse::<f64>().unwrap() * 1e9).round() as u64);
        }
    }
    assert_eq!(h.count(), 610);
    let s = summary(&out);
    let w = &s["windows"][0]["windows"][1];
    assert_eq!(
        w["latency_p99_s"].as_f64().unwrap(),
        h.quantile(0.99).unwrap() as f64 / 1e9
    );
    assert_eq!(
        w["latency_p50_s"].as_f64().unwrap(),
        h.quantile(0.5).unwrap() as f64 / 1e9
    );
    // The intervals' p99s in the window: 1.0 s once, 0.1 s nine times.
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let mut rows = ts.lines();
    let cols: Vec<&str> = rows.next().unwrap().split(',').collect();
    let (t, p) = (
        cols.iter().position(|c| *c == "time_s").unwrap(),
        cols.iter().position(|c| *c == "latency_p99_s").unwrap(),
    );
    let p99s: Vec<f64> = rows
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| {
            let end: f64 = f[t].parse().unwrap();
            end > 600.0 && end <= 1200.0
        })
        .map(|f| f[p].parse().unwrap())
        .collect();
    assert_eq!(p99s.len(), 10);
    let mean = p99s.iter().sum::<f64>() / 10.0;
    assert!((mean - 0.19).abs() < 0.002, "{mean}");
    assert!((w["latency_p99_s"].as_f64().unwrap() - mean).abs() > 0.3);

    // One window as long as the run: the run's own percentiles and attainment.
    let whole = dir.path().join("whole");
    std::fs::create_dir(&whole).unwrap();
    let path = burst_copy(&whole, |t| {
        t.replace("window = \"10m\"", "window = \"30m\"")
    });
    let out = whole.join("out");
    let (code, _, err) = capsim_text(&["run", &path, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&out);
    let w = &s["windows"][0]["windows"];
    assert_eq!(w.as_array().unwrap().len(), 1);
    assert_eq!(w[0]["latency_p99_s"], s["latency_s"]["p99"]);
    assert_eq!(w[0]["latency_p50_s"], s["latency_s"]["p50"]);
    assert_eq!(w[0]["latency_p90_s"], s["latency_s"]["p90"]);
    assert_eq!(w[0]["slo_attainment_ratio"], s["slo"]["attainment_ratio"]);
    assert_eq!(w[0]["completed"], s["measured"]["completed"]);
}

/// Windows stay aligned to time 0; the warm-up's requests are left out, so the first window
/// (0–600 s with a 5-minute warm-up) holds only the 300 requests that arrived from 300 s on.
#[test]
fn the_warm_up_is_left_out_of_windows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        "tests/windows/burst.toml",
        "--set",
        "simulation.warmup=5m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    let s = summary(&out);
    let w = &s["windows"][0]["windows"];
    assert_eq!(w[0]["start_s"], 0.0);
    assert_eq!(w[0]["completed"], 300);
    assert_eq!(w[1]["completed"], 610);
}

#[test]
fn bad_windows_are_located_errors() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "window = \"90s\"",
            "check[1].window",
            "window \"90s\" is not a multiple of the sample interval (simulation.sample_interval = 1m)",
        ),
        (
            "window = \"1h\"",
            "check[1].window",
            "window \"1h\" is longer than the measured time (horizon 30m minus warm-up 0s = 30m)",
        ),
        (
            "window = \"0s\"",
            "check[1].window",
            "expected a window longer than zero",
        ),
        (
            "window = \"-5m\"",
            "check[1].window",
            "expected a duration that is not negative",
        ),
        (
            "window = 600",
            "check[1].window",
            "expected a duration string",
        ),
        (
            "window = \"10m\"\nmetric = \"replica_hours\"",
            "check[1]",
            "",
        ),
    ];
    for (i, (edit, key, message)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let path = burst_copy(dir.path(), |t| {
            let t = t.replace("window = \"10m\"", edit);
            if edit.contains("replica_hours") {
                // The second `metric` replaces the first (a TOML key may appear once).
                let (head, tail) = t.rsplit_once("metric = \"latency_p99_s\"\n").unwrap();
                format!("{head}{tail}")
            } else {
                t
            }
        });
        let (code, out, err) = capsim_text(&["validate", &path]);
        assert_eq!(code, 2, "case {i}: {out}{err}");
        assert!(err.contains(&path), "case {i}: {err}");
        assert!(err.contains(&format!("`{key}")), "case {i}: {err}");
        assert!(err.contains(message), "case {i}: {err}");
        if edit.contains("replica_hours") {
            assert!(
                err.contains("`replica_hours` has no per-window figure; a windowed check takes one of completed, dropped, latency_p50_s, latency_p90_s, latency_p99_s, ttft_p99_s, tpot_p99_s, slo_attainment_ratio, token_slo_attainment_ratio, cost_usd_per_hour"),
                "{err}"
            );
        }
    }
    // The warm-up leaves less than a window: the same error, through --set.
    let (code, _, err) = capsim_text(&[
        "validate",
        "tests/windows/burst.toml",
        "--set",
        "simulation.warmup=25m",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "window \"10m\" is longer than the measured time (horizon 30m minus warm-up 25m = 5m)"
        ),
        "{err}"
    );
}

#[test]
fn the_sweep_row_names_the_worst_window() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&[
        "sweep",
        "tests/windows/burst-sweep.toml",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("[[check]] 1 (point 0, policy base): latency_p99_s <= 0.25 in every 10m window: worst window 600–1200 s"),
        "{err}"
    );
    assert!(!err.contains("(point 1,"), "{err}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",checks,worst_window_start_s"), "{csv}");
    // Two replicas absorb the burst (p99 0.2 s in that window), which is still the worst.
    assert!(
        lines[1].starts_with("0,1,base,") && lines[1].ends_with(",fail,600"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with("1,2,base,") && lines[2].ends_with(",pass,600"),
        "{csv}"
    );
    // A rerun into the same folder reuses the points, windows included.
    let (code2, _, err2) = capsim_text(&[
        "sweep",
        "tests/windows/burst-sweep.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code2, 3, "{err2}");
    assert_eq!(std::fs::read_to_string(out.join("sweep.csv")).unwrap(), csv);
}

/// `capsim sweep --set` sets a key of the base scenario before the axes: with
/// `slo.latency=1s`... here `service.replicas=2` for a sweep over the seed, so both points
/// pass; a bad key or value names the flag.
#[test]
fn sweep_set_applies_to_the_base_scenario() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/windows/burst.csv"),
        dir.path().join("burst.csv"),
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/windows/burst.toml"),
        dir.path().join("burst.toml"),
    )
    .unwrap();
    let sweep = dir.path().join("seeds.toml");
    std::fs::write(
        &sweep,
        "scenario = \"burst.toml\"\n[[axis]]\nkey = \"simulation.seed\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    let sweep = sweep.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let (code, _, err) = capsim_text(&["sweep", sweep, "--out", out]);
    assert_eq!(code, 3, "one replica fails: {err}");
    let (code, _, err) =
        capsim_text(&["sweep", sweep, "--set", "service.replicas=2", "--out", out]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(dir.path().join("out/sweep.csv")).unwrap();
    assert!(
        csv.lines().skip(1).all(|l| l.ends_with(",pass,600")),
        "{csv}"
    );
    let copy = std::fs::read_to_string(dir.path().join("out/scenario.toml")).unwrap();
    assert!(copy.contains("replicas = 2"), "{copy}");
    // The emitted Job carries the flag to every shard.
    let (code, job, err) = capsim_text(&[
        "sweep",
        sweep,
        "--set",
        "service.replicas=2",
        "--emit-k8s-job",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        job.contains("            - --set\n            - \"service.replicas=2\"\n"),
        "{job}"
    );
    // Errors name the flag: an unknown key with the nearest one, a bad value with its type.
    let (code, _, err) = capsim_text(&["sweep", sweep, "--set", "service.replicaz=2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--set service.replicaz=2"), "{err}");
    assert!(err.contains("replicas"), "{err}");
    let (code, _, err) = capsim_text(&["sweep", sweep, "--set", "service.replicas=\"many\""]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--set service.replicas=\"many\""), "{err}");
    let (code, _, err) = capsim_text(&["sweep", sweep, "--set", "replicas"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--set replicas: expected KEY=VALUE"), "{err}");
    // validate takes it too.
    let (code, o, err) = capsim_text(&["validate", sweep, "--set", "service.replicaz=2"]);
    assert_eq!(code, 2, "{o}{err}");
    assert!(err.contains("--set service.replicaz=2"), "{err}");
}

/// `services.<name>.<metric>` with a window reads that service's own windows (its `summary.json`
/// entry), which only the services that such checks name keep.
#[test]
fn a_service_has_its_own_windows() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/multi-model.toml")).unwrap();
    let path = dir.path().join("multi.toml");
    std::fs::write(
        &path,
        format!(
            "{text}\n[[check]]\nmetric = \"services.chat.completed\"\nop = \">=\"\nthreshold = 1\nwindow = \"1h\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--horizon",
        "2h",
        "--out",
        out.to_str().unwrap(),
    ]);
    // (Its [[policy]] variants each run; look at one.)
    assert_eq!(code, 0, "{err}");
    let s = summary(&out.join("policies/mig"));
    assert!(
        s.get("windows").is_none(),
        "the run's own are not asked for"
    );
    let services = s["services"].as_array().unwrap();
    for v in services {
        let has = v.get("windows").is_some();
        assert_eq!(has, v["name"] == "chat", "{}", v["name"]);
    }
    let chat = services.iter().find(|v| v["name"] == "chat").unwrap();
    let w = chat["windows"][0]["windows"].as_array().unwrap();
    assert_eq!(w.len(), 2);
    // Every measured completion of the service falls in one window.
    let sum: u64 = w.iter().map(|x| x["completed"].as_u64().unwrap()).sum();
    assert_eq!(sum, chat["measured"]["completed"].as_u64().unwrap());
}
