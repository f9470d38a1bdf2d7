//! Bounded under any input: numbers that would size memory or work past a hard limit are refused
//! by `validate` (exit 2, naming the key, the limit and why); real plans pass, with an estimate
//! when they are large; parsers refuse what they cannot bound; outputs never overwrite inputs,
//! never appear for a run that fails before simulating, and an interrupted run leaves no
//! temporary files. The book's Limits page is generated from the limit list.

use crate::common::{capsim_text, entries, root};
use sim_core::scenario::limits::{self, Limit};
use std::path::Path;
use tempfile::TempDir;

/// A valid scenario every fixture below changes in one place.
const VALID: &str = r#"[simulation]
horizon = "10m"
[service]
replicas = 4
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "poisson"
rate = 10.0
"#;

fn fixture(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    dir
}

fn with(from: &str, to: &str) -> String {
    assert_eq!(VALID.matches(from).count(), 1, "`{from}` once in VALID");
    VALID.replace(from, to)
}

fn p(dir: &TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_string()
}

/// `capsim validate` of `scenario` (plus `extra` files) fails with exit 2 and one line naming
/// `key` and containing `says`; nothing is written.
fn refused(scenario: &str, extra: &[(&str, &str)], args: &[&str], key: &str, says: &str) {
    let mut files = vec![("s.toml", scenario)];
    files.extend_from_slice(extra);
    let dir = fixture(&files);
    let before = entries(dir.path());
    let s = p(&dir, "s.toml");
    let mut argv = vec!["validate", s.as_str()];
    let extra_paths: Vec<String> = args.iter().map(|a| p(&dir, a)).collect();
    argv.extend(extra_paths.iter().map(String::as_str));
    let (code, stdout, stderr) = capsim_text(&argv);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 2, "stdout {stdout:?} stderr {stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(key), "names `{key}`: {stderr}");
    assert!(stderr.contains(says), "says `{says}`: {stderr}");
    assert_eq!(entries(dir.path()), before, "validate writes nothing");
}

#[test]
fn numbers_that_size_memory_or_work_are_refused_naming_the_key_and_the_limit() {
    let at_most = |l: &Limit| format!("expected at most {}", l.shown());
    let cases: Vec<(String, &str, Limit)> = vec![
        (
            with("replicas = 4", "replicas = 4000000000"),
            "key `service.replicas`",
            limits::REPLICAS,
        ),
        (
            with(
                "[service.service_time]",
                "[service.triton]\nmax_batch_size = 4000000000\n[service.service_time]",
            ),
            "key `service.triton.max_batch_size`",
            limits::MAX_BATCH_SIZE,
        ),
        (
            with("horizon = \"10m\"", "horizon = \"36500d\""),
            "key `simulation.horizon`",
            limits::HORIZON,
        ),
        (
            with(
                "horizon = \"10m\"",
                "horizon = \"10m\"\nsample_interval = \"1ns\"",
            ),
            "key `simulation.sample_interval`",
            limits::SERIES_ROWS,
        ),
        (
            with("rate = 10.0", "rate = 1e9"),
            "key `traffic.rate`",
            limits::REQUESTS,
        ),
        (
            with(
                "[traffic]\nkind = \"poisson\"\nrate = 10.0\n",
                "[traffic]\nkind = \"mmpp\"\nstate = [{ rate = 5.0, mean_sojourn = \"1ns\" }, \
                 { rate = 9.0, mean_sojourn = \"1m\" }]\n",
            ),
            "key `traffic.state[0].mean_sojourn`",
            limits::SOJOURNS,
        ),
        (
            with(
                "[service.service_time]",
                "[[service.scale]]\nat = \"1m\"\nreplicas = 2000000000\n[service.service_time]",
            ),
            "key `service.scale[0].replicas`",
            limits::REPLICAS,
        ),
    ];
    for (scenario, key, limit) in &cases {
        refused(scenario, &[], &[], key, &at_most(limit));
    }
}

/// Time-slicing keeps a slot for every share of every GPU of every node: `replicas` is bounded
/// like the other numbers that size memory; 64 shares per GPU pass.
#[test]
fn time_slicing_replicas_are_bounded() {
    let with_pool = |replicas: u64| {
        format!(
            "{VALID}[[node_pool]]\nname = \"a10g\"\ninstance_type = \"g5.xlarge\"\n\
             initial_size = 1\ntime_slicing = {{ replicas = {replicas} }}\n"
        )
    };
    refused(
        &with_pool(4_000_000_000),
        &[],
        &[],
        "key `node_pool[0].time_slicing.replicas`",
        &format!(
            "expected at most {} ({})",
            limits::TIME_SLICE_REPLICAS.shown(),
            limits::TIME_SLICE_REPLICAS.why
        ),
    );
    refused(
        &with_pool(65),
        &[],
        &[],
        "key `node_pool[0].time_slicing.replicas`",
        "found 65 shares per GPU",
    );
    let dir = fixture(&[("s.toml", &with_pool(64))]);
    let (code, _, stderr) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn real_plans_pass_and_large_ones_get_an_estimate() {
    // 10,000 replicas for a simulated week at 20,000 requests a second: about 1.2e10 requests.
    let big = with("replicas = 4", "replicas = 10000")
        .replace("horizon = \"10m\"", "horizon = \"7d\"")
        .replace("rate = 10.0", "rate = 20000.0");
    let dir = fixture(&[("s.toml", &big)]);
    let (code, stdout, stderr) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("10000 replicas"), "{stdout}");
    assert!(
        stdout.contains("estimate: about 1.21e10 requests"),
        "{stdout}"
    );
    assert!(stdout.contains("60,480 time-series rows"), "{stdout}");
    // A small run says nothing more than before.
    let dir = fixture(&[("s.toml", VALID)]);
    let (code, stdout, _) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("estimate"), "{stdout}");
}

#[test]
fn the_horizon_flag_is_held_to_the_same_limits_and_leaves_no_folder() {
    let dir = fixture(&[("s.toml", VALID)]);
    let out = p(&dir, "out");
    let (code, _, stderr) = capsim_text(&[
        "run",
        &p(&dir, "s.toml"),
        "--out",
        &out,
        "--horizon",
        "100000d",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--horizon") && stderr.contains("expected at most"),
        "{stderr}"
    );
    assert!(!Path::new(&out).exists(), "no output folder");
}

#[test]
fn out_never_overwrites_an_input() {
    let scenario = r#"[service]
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "trace"
format = "csv"
path = "prev/requests.csv"
"#;
    let dir = fixture(&[("s.toml", scenario)]);
    std::fs::create_dir(dir.path().join("prev")).unwrap();
    let trace = "timestamp\n0.5\n1.0\n";
    std::fs::write(dir.path().join("prev/requests.csv"), trace).unwrap();
    let (code, _, stderr) = capsim_text(&[
        "run",
        &p(&dir, "s.toml"),
        "--out",
        &p(&dir, "prev"),
        "--requests",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("would overwrite its input"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("prev/requests.csv")).unwrap(),
        trace
    );
    // The provenance copy `scenario.toml` (re-serialized with `--set`) never replaces the
    // scenario it was read from.
    let dir = fixture(&[("scenario.toml", VALID)]);
    let (code, _, stderr) = capsim_text(&[
        "run",
        &p(&dir, "scenario.toml"),
        "--out",
        dir.path().to_str().unwrap(),
        "--set",
        "service.replicas=2",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("would overwrite its input") && stderr.contains("scenario.toml"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("scenario.toml")).unwrap(),
        VALID
    );
    assert!(!dir.path().join("summary.json").exists(), "nothing written");
    // A sweep alike: its copies `scenario.toml` and `sweep.toml` never replace its inputs.
    let sweep =
        "scenario = \"scenario.toml\"\n[[axis]]\nkey = \"service.replicas\"\nvalues = [1, 2]\n";
    let dir = fixture(&[("scenario.toml", VALID), ("sweep.toml", sweep)]);
    let (code, _, stderr) = capsim_text(&[
        "sweep",
        &p(&dir, "sweep.toml"),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("would overwrite its input") && stderr.contains("sweep.toml"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sweep.toml")).unwrap(),
        sweep
    );
    assert!(!dir.path().join("sweep.csv").exists(), "nothing written");
}

#[test]
fn parsers_refuse_what_they_cannot_bound() {
    // A key written twice, and nesting past the TOML reader's limit, name the key's full path.
    refused(
        &with("rate = 10.0\n", "rate = 10.0\nrate = 20.0\n"),
        &[],
        &[],
        "key `traffic.rate`",
        "duplicate key",
    );
    refused(
        &format!(
            "{VALID}[service.labels]\nx = {}{}\n",
            "[".repeat(200),
            "]".repeat(200)
        ),
        &[],
        &[],
        "key `service.labels.x`",
        "recurse",
    );
    // A trace path that is a folder names `traffic.path`.
    let trace_scenario = r#"[service]
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "trace"
format = "csv"
path = "t"
"#;
    let dir = fixture(&[("s.toml", trace_scenario)]);
    std::fs::create_dir(dir.path().join("t")).unwrap();
    let (code, _, stderr) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("key `traffic.path`") && stderr.contains("folder"),
        "{stderr}"
    );
    // A trace without newlines stops at the line limit.
    let long = "a".repeat(sim_core::traffic::formats::MAX_LINE_BYTES + 10);
    refused(
        &trace_scenario.replace("\"t\"", "\"t.csv\""),
        &[("t.csv", &long)],
        &[],
        "t.csv",
        "line 1 is longer than 1048576 bytes",
    );
    // An impossible date is refused at its row.
    refused(
        &trace_scenario
            .replace("\"csv\"", "\"azure-llm-2023\"")
            .replace("\"t\"", "\"t.csv\""),
        &[(
            "t.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-28 00:00:00,10,10\n2023-02-30 00:00:00,10,10\n",
        )],
        &[],
        "t.csv:3",
        "TIMESTAMP",
    );
    // A rate table past one request per nanosecond.
    let servegen = trace_scenario
        .replace("\"csv\"", "\"servegen\"")
        .replace("\"t\"", "\"r.csv\"");
    refused(
        &servegen,
        &[("r.csv", "0,1e300,1\n60,1,1\n")],
        &[],
        "r.csv:1",
        "at most 1e9",
    );
    // Invalid UTF-8 gives its byte position.
    let dir = fixture(&[]);
    let mut bytes = VALID.as_bytes().to_vec();
    bytes.splice(25..25, [0xff]);
    std::fs::write(dir.path().join("s.toml"), bytes).unwrap();
    let (code, _, stderr) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid byte at byte 25 (line 2"),
        "{stderr}"
    );
    // Manifests: aliases, an inexact apiVersion, fractional GPUs.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: &r 2\n  minReadySeconds: *r\n";
    refused(
        VALID,
        &[("d.yaml", deployment)],
        &["d.yaml"],
        "d.yaml:5",
        "anchor",
    );
    let v2 = "apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: x}\n";
    refused(
        VALID,
        &[("d.yaml", v2)],
        &["d.yaml"],
        "apiVersion",
        "apps/v1",
    );
    let gpu = with(
        "[service.service_time]",
        "[service.resources.requests]\n\"nvidia.com/gpu\" = 0.5\n[service.service_time]",
    );
    refused(&gpu, &[], &[], "nvidia.com/gpu", "whole number of GPUs");
    let nan = with(
        "[service.service_time]",
        "[service.resources.requests]\ncpu = nan\n[service.service_time]",
    );
    refused(&nan, &[], &[], "service.resources.requests.cpu", "NaN");
    let huge = with(
        "[service.service_time]",
        "[service.resources.requests]\nmemory = \"9999999999Ei\"\n[service.service_time]",
    );
    refused(
        &huge,
        &[],
        &[],
        "service.resources.requests.memory",
        "2^63 - 1), found 9999999999Ei",
    );
}

/// An interrupted run removes the temporary files it was writing.
#[cfg(unix)]
#[test]
fn an_interrupted_run_removes_its_temporary_files() {
    let long =
        with("horizon = \"10m\"", "horizon = \"2h\"").replace("rate = 10.0", "rate = 5000.0");
    let dir = fixture(&[("s.toml", &long)]);
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["run", &p(&dir, "s.toml"), "--requests", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmp = out.join("requests.csv.tmp");
    // Wait for the run to start writing (it takes far longer to finish than to start).
    while !tmp.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::yield_now();
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "exit status {status:?}");
    assert!(!tmp.exists(), "the temporary file is gone");
    assert!(!out.join("requests.csv").exists());
}

/// The book's Limits page holds the table generated from the code's limit list.
#[test]
fn the_book_lists_every_limit() {
    let page_path = root().join("book/src/limits.md");
    let page = std::fs::read_to_string(&page_path).unwrap();
    let table = limits_table();
    let (start, end) = (
        "<!-- limits table: generated -->\n",
        "<!-- end of limits table -->",
    );
    let a = page.find(start).expect("start marker") + start.len();
    let b = page.find(end).expect("end marker");
    if page[a..b] != table {
        if std::env::var_os("CAPSIM_BLESS").is_some() {
            std::fs::write(&page_path, format!("{}{table}{}", &page[..a], &page[b..])).unwrap();
        }
        panic!("book/src/limits.md is out of date (CAPSIM_BLESS=1 rewrites it):\n{table}");
    }
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).unwrap();
    assert!(summary.contains("(limits.md)"));
    // The page's two quoted outputs are the program's.
    let refused = with("replicas = 4", "replicas = 4000000000");
    let big = with("replicas = 4", "replicas = 10000")
        .replace("horizon = \"10m\"", "horizon = \"7d\"")
        .replace("rate = 10.0", "rate = 20000.0");
    let dir = fixture(&[("s.toml", &refused), ("big.toml", &big)]);
    let run = |name: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
            .args(["validate", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(if o.status.success() {
            &o.stdout
        } else {
            &o.stderr
        })
        .into_owned()
    };
    let error = run("s.toml");
    assert!(page.contains(error.trim_end()), "the page quotes {error}");
    let estimate = run("big.toml");
    let line = estimate.lines().find(|l| l.contains("estimate:")).unwrap();
    assert!(page.contains(line), "the page quotes {line}");
}

fn limits_table() -> String {
    let mut t = String::from("| limit | bounds | the message, for one over it |\n|---|---|---|\n");
    for l in limits::ALL {
        t.push_str(&format!(
            "| {} | {} | `{}` |\n",
            l.shown(),
            l.keys,
            l.message(l.max + 1)
        ));
    }
    let rows = [
        (
            format!(
                "{} bytes a line",
                limits::grouped(sim_core::traffic::formats::MAX_LINE_BYTES as u64)
            ),
            "every trace file",
            format!(
                "line N is longer than {} bytes (is this a trace file?)",
                sim_core::traffic::formats::MAX_LINE_BYTES
            ),
        ),
        (
            format!("{} levels", sim_core::scenario::manifest::guard::MAX_DEPTH),
            "nesting in a manifest",
            format!(
                "nested deeper than {} levels of mappings and sequences",
                sim_core::scenario::manifest::guard::MAX_DEPTH
            ),
        ),
        (
            format!(
                "{} labels",
                limits::grouped(sim_core::traffic::formats::MAX_LABELS as u64)
            ),
            "distinct tenant or model labels in one trace",
            "(the trace reader's message names the row)".to_string(),
        ),
    ];
    for (limit, bounds, message) in rows {
        t.push_str(&format!("| {limit} | {bounds} | `{message}` |\n"));
    }
    t
}

/// Both VPA loops are periodic controllers: their intervals are held to the rounds limit.
#[test]
fn vpa_intervals_are_bounded_like_other_controllers() {
    let vpa = |table: &str, key: &str| {
        format!(
            "{VALID}[[node_pool]]\nname = \"cpu\"\ninstance_type = \"m6i.2xlarge\"\ninitial_size = 2\n\
             [vpa]\nupdatePolicy = {{ updateMode = \"Recreate\" }}\n[vpa.{table}]\n{key} = \"1ns\"\n\
             [metrics]\ncpu_idle = \"500m\"\ncpu_busy = \"0\"\nmemory = \"2Gi\"\n"
        )
    };
    let at_most = format!("expected at most {}", limits::ROUNDS.shown());
    refused(
        &vpa("recommender", "recommender-interval"),
        &[],
        &[],
        "s.toml:19:24: key `vpa.recommender.recommender-interval`",
        &at_most,
    );
    refused(
        &vpa("updater", "updater-interval"),
        &[],
        &[],
        "s.toml:19:20: key `vpa.updater.updater-interval`",
        &at_most,
    );
}

/// Spikes that never overlap multiply the base rate one at a time: eight spikes of ×100 over a
/// day are about 5.6 million requests, not a product of every multiplier.
#[test]
fn spikes_count_their_own_windows() {
    let mut spikes = String::new();
    for h in 1..=8 {
        spikes.push_str(&format!(
            "[[traffic.spike]]\nat = \"{h}h\"\nduration = \"10m\"\nmultiplier = 100.0\n"
        ));
    }
    let day = with("horizon = \"10m\"", "horizon = \"24h\"")
        .replace("kind = \"poisson\"", "kind = \"spikes\"");
    let dir = fixture(&[("s.toml", &format!("{day}{spikes}"))]);
    let (code, stdout, stderr) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Spikes that do overlap multiply, and past the limit they are refused.
    let mut same = String::new();
    for _ in 0..8 {
        same.push_str("[[traffic.spike]]\nat = \"1h\"\nduration = \"10m\"\nmultiplier = 100.0\n");
    }
    refused(
        &format!("{day}{same}"),
        &[],
        &[],
        "key `traffic.rate`",
        &format!("expected at most {}", limits::REQUESTS.shown()),
    );
}

/// A `[[service]]` scenario under `simulation` (the lines of its `[simulation]` table) with one
/// router service of 5 ms requests per rate, each with its own Poisson traffic.
fn poisson_services(simulation: &str, rates: &[f64]) -> String {
    let mut src = format!("[simulation]\n{simulation}");
    for (i, rate) in rates.iter().enumerate() {
        src.push_str(&format!(
            "[[service]]\nname = \"s{i}\"\ndispatch = \"router\"\n[service.service_time]\n\
             distribution = \"deterministic\"\nbase = \"5ms\"\n[service.traffic]\n\
             kind = \"poisson\"\nrate = {rate:?}\n"
        ));
    }
    src
}

/// Services whose own traffic is each within the requests limit are refused together, at the
/// traffic of the service that sends the most (a `[[service]]` file has no top-level [traffic]).
#[test]
fn services_together_are_held_to_the_requests_limit() {
    refused(
        &poisson_services(
            "horizon = \"1000h\"\nsample_interval = \"1h\"\n",
            &[6_000.0, 14_000.0, 9_000.0],
        ),
        &[],
        &[],
        "s.toml:19:1: key `service[1].traffic`",
        "over 3 services and the gateway together",
    );
}

/// The rows limit holds for the whole time series: the cluster's and every service's.
#[test]
fn series_rows_count_every_service() {
    refused(
        &poisson_services(
            "horizon = \"10m\"\nsample_interval = \"600us\"\n",
            &[1.0; 100],
        ),
        &[],
        &[],
        "s.toml:3:19: key `simulation.sample_interval`",
        "found 101,000,000 time-series rows",
    );
}

/// A rate trace's expected requests are held to the requests limit, and `run` prints the
/// estimate `validate` prints.
#[test]
fn rate_traces_are_held_to_the_requests_limit() {
    let servegen = r#"[service]
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "trace"
format = "servegen"
path = "r.csv"
"#;
    refused(
        servegen,
        &[("r.csv", "0,1e9,1,,0,0\n")],
        &[],
        "s.toml:8:8: key `traffic.path`",
        &format!("expected at most {}", limits::REQUESTS.shown()),
    );
    let dir = fixture(&[("s.toml", servegen), ("r.csv", "0,1e6,1\n")]);
    let (code, stdout, _) = capsim_text(&["validate", &p(&dir, "s.toml")]);
    assert_eq!(code, 0, "{stdout}");
    let line = stdout.lines().find(|l| l.contains("estimate:")).unwrap();
    let (code, _, stderr) = capsim_text(&[
        "run",
        &p(&dir, "s.toml"),
        "--out",
        &p(&dir, "out"),
        "--horizon",
        "1ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let estimate = line.trim_start().split(" events").next().unwrap();
    assert!(stderr.contains(estimate), "{estimate} in {stderr}");
}

/// Errors from the limits name the key as the file writes it, at its line and column.
#[test]
fn limit_errors_name_the_key_as_written() {
    let pool = "[[node_pool]]\nname = \"a10g\"\ninstance_type = \"g5.xlarge\"\ninitial_size = 1\n";
    refused(
        &format!("{VALID}{pool}[cluster_autoscaler]\nscan-interval = \"1ns\"\n"),
        &[],
        &[],
        "s.toml:17:17: key `cluster_autoscaler.scan-interval`",
        &format!("expected at most {}", limits::ROUNDS.shown()),
    );
    refused(
        &format!("{VALID}{pool}[[random_failure]]\npool = \"a10g\"\nmtbf = \"1ns\"\n"),
        &[],
        &[],
        "s.toml:18:8: key `random_failure[0].mtbf`",
        &format!("expected at most {}", limits::FAILURES.shown()),
    );
    refused(
        &with("horizon = \"10m\"", "horizon = \"366d\""),
        &[],
        &[],
        "s.toml:2:11: key `simulation.horizon`",
        "set simulation.sample_interval",
    );
}

/// Arrivals far above what the replicas serve, with no `max_queue_size`: each queue stops at the
/// hard limit on waiting requests and the excess is dropped as `queue_full`, so memory stays
/// bounded (before, the queue grew with every arrival until the allocator failed). A
/// `max_queue_size` above the limit is refused.
#[test]
fn an_unbounded_queue_stops_at_the_waiting_limit() {
    // One replica taking 10 s per request, two million arrivals in two seconds.
    let text = VALID
        .replace("replicas = 4", "replicas = 1")
        .replace("base = \"5ms\"", "base = \"10s\"")
        .replace("rate = 10.0", "rate = 1e6")
        .replace("horizon = \"10m\"", "horizon = \"2s\"");
    let s = sim_core::parse_scenario(&text, "flood.toml").unwrap();
    let r = crate::common::run_conserving(&s, sim_core::Inputs::default());
    let c = &r.summary.requests;
    let limit = limits::QUEUE.max;
    // At most one request in service and `limit` waiting; every other arrival was refused.
    assert!(c.in_flight <= limit + 1, "{} in flight", c.in_flight);
    let full = c.dropped_by_reason["queue_full"];
    assert_eq!(full, c.dropped);
    assert!(
        full + limit >= c.arrived - 1,
        "{full} dropped of {}",
        c.arrived
    );
    let (code, _, err) = {
        let dir = fixture(&[(
            "q.toml",
            &VALID.replace("[service]\n", "[service]\nmax_queue_size = 1000001\n"),
        )]);
        capsim_text(&["validate", dir.path().join("q.toml").to_str().unwrap()])
    };
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("service.max_queue_size") && err.contains("1,000,000 waiting requests"),
        "{err}"
    );
}

/// Limits that hold for the services of one scenario together: 100 services of 10,000 replicas
/// pass (the issue's floor); one more service, or a total of requests past the limit spread
/// over services each under it, is refused naming the key (before, each service was held only
/// to its own limits, and 100 × 100,000 replicas passed `validate`).
#[test]
fn services_together_are_held_to_cluster_limits() {
    let services = |n: usize, replicas: u32, rate: &str| -> String {
        let mut t = String::from("[simulation]\nhorizon = \"1m\"\n");
        for i in 0..n {
            t.push_str(&format!(
                "[[service]]\nname = \"s{i}\"\nreplicas = {replicas}\ndispatch = \"router\"\n[service.service_time]\ndistribution = \"deterministic\"\nbase = \"5ms\"\n[service.traffic]\nkind = \"poisson\"\nrate = {rate}\n"
            ));
        }
        t
    };
    let parse = |t: &str| sim_core::parse_scenario(t, "many.toml");
    assert!(parse(&services(100, 10_000, "1.0")).is_ok());
    let e = parse(&services(101, 10_000, "1.0"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key `service`")
            && e.contains("1,000,000 replicas")
            && e.contains("101 services"),
        "{e}"
    );
    // 60 s × 1e9 requests per second is 6e10 for one service (under the 1e11 limit), 1.2e11 for two.
    assert!(parse(&services(1, 1, "1e9")).is_ok());
    let e = parse(&services(2, 1, "1e9")).unwrap_err().to_string();
    // Located at the first service's own traffic (the two send as many): the file has no
    // top-level [traffic].
    assert!(
        e.contains("many.toml:10:1: key `service[0].traffic`") && e.contains("requests"),
        "{e}"
    );
}

/// Rate traces are held to the requests limit together: two services replaying a 6e10-request
/// rate trace each (each under the limit on its own) are refused by `validate`.
#[test]
fn rate_traces_of_several_services_are_held_to_the_requests_limit_together() {
    let mut qps = String::from("timestamp_anon,value,container_ip,request_type\n");
    for i in 0..60 {
        qps.push_str(&format!("{},1000000000,a,x\n", i * 1000));
    }
    let service = |name: &str| {
        format!("[[service]]\nname = \"{name}\"\ndispatch = \"router\"\n[service.service_time]\ndistribution = \"deterministic\"\nbase = \"5ms\"\n[service.traffic]\nkind = \"trace\"\nformat = \"alibaba-genai-qps\"\npath = \"qps.csv\"\nbucket = \"1s\"\n")
    };
    let one = format!("[simulation]\nhorizon = \"1h\"\n{}", service("a"));
    let two = format!("{one}{}", service("b"));
    let dir = fixture(&[("qps.csv", &qps), ("one.toml", &one), ("two.toml", &two)]);
    let (code, _, err) = capsim_text(&["validate", &p(&dir, "one.toml")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = capsim_text(&["validate", &p(&dir, "two.toml")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("120,000,000,000 requests") && err.contains("together"),
        "{err}"
    );
}
