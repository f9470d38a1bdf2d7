//! Malformed inputs, through the real `capsim` binary: each one exits with code 2 (bad input),
//! never panics, prints one message naming the file, the position (line and column, or the trace
//! row), the key (or trace column) and what was expected, and leaves no output files behind.

use crate::common::{capsim_text, entries};
use std::path::Path;
use tempfile::TempDir;

/// A complete, valid scenario: every fixture below is this with one thing broken.
const VALID: &str = r#"[service]
replicas = 4
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "poisson"
rate = 10.0
"#;

/// A valid trace-driven scenario; `TRACE` is replaced by the trace file's name.
const TRACE_SCENARIO: &str = r#"[service]
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "trace"
format = "csv"
path = "TRACE"
"#;

/// A fresh folder holding `files` (name, contents).
fn fixture(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    dir
}

/// `VALID` with `from` (which must occur exactly once) replaced by `to`.
fn broken(from: &str, to: &str) -> String {
    assert_eq!(VALID.matches(from).count(), 1, "`{from}` once in VALID");
    VALID.replace(from, to)
}

/// 1-based line and column (in characters) of the one occurrence of `needle` in `text`.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "`{needle}` once in the fixture"
    );
    let before = &text[..text.find(needle).unwrap()];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_string()
}

/// Runs `capsim <args>`, checks it failed as bad input without panicking and without writing
/// anything, and returns its stderr. `dir` must still hold exactly the `fixtures` afterwards.
fn fails(dir: &TempDir, fixtures: &[&str], args: &[&str]) -> String {
    let (code, stdout, stderr) = capsim_text(args);
    assert!(
        !stderr.contains("panicked"),
        "capsim panicked on {args:?}:\n{stderr}"
    );
    assert_eq!(
        code, 2,
        "exit code on {args:?} (stdout: {stdout:?}, stderr: {stderr:?})"
    );
    assert!(stdout.is_empty(), "nothing on stdout, got {stdout:?}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr:?}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line of error: {stderr:?}"
    );
    let out = dir.path().join("out");
    let left = entries(&out);
    assert!(
        left.is_empty(),
        "output folder should be empty or absent, holds {left:?}"
    );
    // No temporary (`*.tmp`) or other stray file next to the fixtures either.
    let mut expected: Vec<String> = fixtures.iter().map(|s| s.to_string()).collect();
    if out.exists() {
        expected.push("out".to_string());
    }
    expected.sort();
    assert_eq!(entries(dir.path()), expected, "files left in the temp dir");
    stderr
}

/// `capsim run <dir>/<scenario> --out <dir>/out <extra>`, expected to fail; returns
/// (stderr, the scenario path as capsim prints it).
fn run_fails(dir: &TempDir, fixtures: &[&str], scenario: &str, extra: &[&str]) -> (String, String) {
    let scenario_path = path_str(&dir.path().join(scenario));
    let out = path_str(&dir.path().join("out"));
    let mut args = vec!["run", scenario_path.as_str(), "--out", out.as_str()];
    args.extend_from_slice(extra);
    (fails(dir, fixtures, &args), scenario_path)
}

/// The start of a scenario error: `error: FILE:LINE:COL: key `KEY`: `.
fn scenario_prefix(file: &str, (line, col): (usize, usize), key: &str) -> String {
    format!("error: {file}:{line}:{col}: key `{key}`: ")
}

fn assert_starts(stderr: &str, prefix: &str) {
    assert!(
        stderr.starts_with(prefix),
        "expected the message to start with\n  {prefix}\ngot\n  {stderr}"
    );
}

fn assert_has(stderr: &str, part: &str) {
    assert!(
        stderr.contains(part),
        "expected the message to contain\n  {part}\ngot\n  {stderr}"
    );
}

#[test]
fn the_valid_fixtures_run() {
    // Guards the other tests: each breaks exactly one thing in these.
    let dir = fixture(&[
        ("ok.toml", VALID),
        ("trace.toml", &TRACE_SCENARIO.replace("TRACE", "t.csv")),
        ("t.csv", "timestamp,prompt_tokens\n0.5,10\n1.0,3\n"),
    ]);
    for scenario in ["ok.toml", "trace.toml"] {
        let s = path_str(&dir.path().join(scenario));
        let out = dir.path().join("out").join(scenario);
        let (code, _, stderr) =
            capsim_text(&["run", &s, "--out", &path_str(&out), "--horizon", "2s"]);
        assert_eq!(code, 0, "{scenario}: {stderr}");
        assert_eq!(
            entries(&out),
            [
                "inputs.csv",
                "scenario.toml",
                "summary.json",
                "timeseries.csv"
            ]
        );
    }
}

#[test]
fn misspelt_key_suggests_the_right_one() {
    let text = broken("replicas = 4", "replicass = 4");
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, "replicass");
    assert_eq!(at, (2, 1));
    assert_starts(&stderr, &scenario_prefix(&file, at, "service.replicass"));
    assert_has(&stderr, "unknown field `replicass`, expected one of");
    assert_has(&stderr, "did you mean `replicas`?");
}

#[test]
fn misspelt_enum_value_suggests_the_right_one() {
    let text = broken(r#"kind = "poisson""#, r#"kind = "posson""#);
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""posson""#);
    assert_eq!(at, (7, 8));
    assert_starts(&stderr, &scenario_prefix(&file, at, "traffic.kind"));
    assert_has(
        &stderr,
        "unknown variant `posson`, expected one of `poisson`, `schedule`, `trace`",
    );
    assert_has(&stderr, "did you mean `poisson`?");
}

#[test]
fn wrong_type_names_the_expected_type() {
    let text = broken("replicas = 4", r#"replicas = "four""#);
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""four""#);
    assert_eq!(at, (2, 12));
    assert_starts(&stderr, &scenario_prefix(&file, at, "service.replicas"));
    assert_has(&stderr, r#"invalid type: string "four", expected u32"#);
}

#[test]
fn negative_rate_names_key_and_position() {
    let text = broken("rate = 10.0", "rate = -5.0");
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, "-5.0");
    assert_eq!(at, (8, 8));
    assert_starts(&stderr, &scenario_prefix(&file, at, "traffic.rate"));
    assert_has(&stderr, "expected a rate in requests per second");
    assert_has(&stderr, "not negative, found -5");
}

#[test]
fn rate_beyond_the_clock_resolution_is_refused() {
    // 1e300 requests per second would put every arrival on the same nanosecond and the run would
    // never reach its horizon; `validate` (which runs nothing) must refuse it.
    let text = broken("rate = 10.0", "rate = 1e300");
    let dir = fixture(&[("s.toml", &text)]);
    let file = path_str(&dir.path().join("s.toml"));
    let stderr = fails(&dir, &["s.toml"], &["validate", &file]);
    let at = pos(&text, "1e300");
    assert_eq!(at, (8, 8));
    assert_starts(&stderr, &scenario_prefix(&file, at, "traffic.rate"));
    assert_has(
        &stderr,
        "expected a rate of at most 1e9 requests per second",
    );
}

#[test]
fn bad_kubernetes_quantity_names_key_and_expected_form() {
    let text =
        format!("{VALID}[service.resources]\nrequests = {{ cpu = \"1\", memory = \"4GG\" }}\n");
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""4GG""#);
    assert_eq!(at, (10, 34));
    assert_starts(
        &stderr,
        &scenario_prefix(&file, at, "service.resources.requests.memory"),
    );
    assert_has(&stderr, "expected a Kubernetes quantity such as");
    assert_has(&stderr, r#""4Gi""#);
    assert_has(&stderr, r#"found "4GG""#);
}

#[test]
fn bad_duration_names_key_and_expected_form() {
    let text = format!("[simulation]\nhorizon = \"10 parsecs\"\n{VALID}");
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""10 parsecs""#);
    assert_eq!(at, (2, 11));
    assert_starts(&stderr, &scenario_prefix(&file, at, "simulation.horizon"));
    assert_has(&stderr, "expected a duration such as");
    assert_has(&stderr, "(units ns, us, ms, s, m, h, d)");
    assert_has(&stderr, r#"found "10 parsecs""#);
}

#[test]
fn overlong_duration_is_refused_without_panicking() {
    // Longer than u64 nanoseconds (about 213,503 days), with a fraction long enough to have
    // overflowed the parser's arithmetic once.
    let text =
        format!("[simulation]\nhorizon = \"300000.123456789012345678901234567890d\"\n{VALID}");
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""300000."#);
    assert_eq!(at, (2, 11));
    assert_starts(&stderr, &scenario_prefix(&file, at, "simulation.horizon"));
    assert_has(&stderr, "is too long");
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    // The closing quote is missing: the error points just past `5ms`, where it belongs.
    let text = broken(r#"base = "5ms""#, r#"base = "5ms"#);
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let (line, col) = pos(&text, r#"base = "5ms"#);
    let at = (line, col + r#"base = "5ms"#.len());
    assert_eq!(at, (5, 12));
    assert_starts(&stderr, &format!("error: {file}:{}:{}: ", at.0, at.1));
    assert_has(&stderr, "expected `\"`");
}

#[test]
fn trace_with_unparsable_timestamp_names_row_and_column() {
    let trace = "timestamp,prompt_tokens\n0.5,10\nsoon,3\n";
    let scenario = TRACE_SCENARIO.replace("TRACE", "t.csv");
    let dir = fixture(&[("s.toml", &scenario), ("t.csv", trace)]);
    let (stderr, _) = run_fails(&dir, &["s.toml", "t.csv"], "s.toml", &[]);
    let trace_file = path_str(&dir.path().join("t.csv"));
    // `soon` is on line 3 of the file (the header is line 1).
    assert_eq!(pos(trace, "soon").0, 3);
    assert_starts(
        &stderr,
        &format!("error: {trace_file}:3: column `timestamp`: "),
    );
    assert_has(
        &stderr,
        "expected seconds from the start, a number that is not negative, found `soon`",
    );
}

#[test]
fn trace_with_decreasing_timestamp_names_row_and_column() {
    let trace = "timestamp\n0.5\n1.0\n0.9\n2.0\n";
    let scenario = TRACE_SCENARIO.replace("TRACE", "t.csv");
    let dir = fixture(&[("s.toml", &scenario), ("t.csv", trace)]);
    let (stderr, _) = run_fails(&dir, &["s.toml", "t.csv"], "s.toml", &[]);
    let trace_file = path_str(&dir.path().join("t.csv"));
    assert_eq!(pos(trace, "0.9").0, 4);
    assert_starts(
        &stderr,
        &format!("error: {trace_file}:4: column `timestamp`: "),
    );
    assert_has(
        &stderr,
        "timestamps must not decrease: `0.9` is earlier than the row before",
    );
}

/// `capsim run` checks a trace's rows as the run reads them (not in a pass before it): a bad row
/// late in the trace, or past where the run stops reading (its horizon, `traffic.end`), is
/// refused with the same located error, and nothing is written (`--requests` included).
#[test]
fn a_late_bad_row_refuses_the_run_and_writes_nothing() {
    let mut trace = String::from("timestamp,prompt_tokens,output_tokens\n");
    for i in 0..2_000 {
        trace.push_str(&format!("{}.5,10,2\n", i));
    }
    let bad = format!("{trace}2000.5,ten,2\n2001,10,2\n");
    let scenario = TRACE_SCENARIO.replace("TRACE", "t.csv");
    for extra in [
        &[][..],
        &["--requests"][..],
        &["--horizon", "10s"][..],
        &["--set", "traffic.end=\"5s\""][..],
    ] {
        let dir = fixture(&[("s.toml", &scenario), ("t.csv", &bad)]);
        let (stderr, _) = run_fails(&dir, &["s.toml", "t.csv"], "s.toml", extra);
        let trace_file = path_str(&dir.path().join("t.csv"));
        assert_eq!(pos(&bad, "ten").0, 2_002);
        assert_starts(
            &stderr,
            &format!("error: {trace_file}:2002: column `prompt_tokens`: "),
        );
        assert_has(&stderr, "expected a whole number of tokens, found `ten`");
        assert!(!dir.path().join("out").exists(), "{extra:?}: no folder");
    }
}

#[test]
fn missing_trace_file_names_the_key_and_the_file() {
    let scenario = TRACE_SCENARIO.replace("TRACE", "missing.csv");
    let dir = fixture(&[("s.toml", &scenario)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&scenario, r#""missing.csv""#);
    assert_eq!(at, (8, 8));
    assert_starts(&stderr, &scenario_prefix(&file, at, "traffic.path"));
    let trace_file = path_str(&dir.path().join("missing.csv"));
    assert_has(&stderr, &format!("cannot open the trace `{trace_file}`"));
}

#[test]
fn garbage_horizon_flag_names_the_flag_and_expected_form() {
    let dir = fixture(&[("s.toml", VALID)]);
    let (stderr, _) = run_fails(&dir, &["s.toml"], "s.toml", &["--horizon", "ten minutes"]);
    assert_starts(&stderr, "error: --horizon: ");
    assert_has(&stderr, "expected a duration such as");
    assert_has(&stderr, r#"found "ten minutes""#);
}

#[test]
fn missing_scenario_file_names_the_file() {
    let dir = fixture(&[]);
    let (stderr, file) = run_fails(&dir, &[], "nope.toml", &[]);
    assert_starts(
        &stderr,
        &format!("error: {file}: cannot read the scenario: "),
    );
}

#[test]
fn validate_reports_a_bad_scenario() {
    let text = broken(r#"kind = "poisson""#, r#"kind = "posson""#);
    let dir = fixture(&[("s.toml", &text)]);
    let file = path_str(&dir.path().join("s.toml"));
    let stderr = fails(&dir, &["s.toml"], &["validate", &file]);
    assert_starts(&stderr, &scenario_prefix(&file, (7, 8), "traffic.kind"));
    assert_has(&stderr, "did you mean `poisson`?");
}

/// A vLLM scenario behind a router, for the router and profile keys below.
const VLLM_ROUTED: &str = r#"[service]
engine = "vllm"
dispatch = "router"
router = "least-tokens"
[service.vllm]
model = "llama-3.1-8b"
gpu = "h100-sxm"
[service.vllm.profile]
splitwise = "perf.csv"
splitwise_model = "llama2-70b"
splitwise_hardware = "h100-80gb"
lookup = "splitwise"
[traffic]
kind = "poisson"
rate = 1.0
"#;

#[test]
fn misspelt_router_lists_the_routers() {
    let text = VLLM_ROUTED.replace(r#""least-tokens""#, r#""least-token""#);
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""least-token""#);
    assert_eq!(at, (4, 10));
    assert_starts(&stderr, &scenario_prefix(&file, at, "service.router"));
    assert_has(
        &stderr,
        "unknown variant `least-token`, expected one of `round-robin`, `least-outstanding`, `random`, `prefix`, `least-tokens`, `least-kv`",
    );
}

#[test]
fn misspelt_profile_lookup_lists_the_lookups() {
    let text = VLLM_ROUTED.replace(r#""splitwise""#, r#""splitwize""#);
    let dir = fixture(&[("s.toml", &text)]);
    let (stderr, file) = run_fails(&dir, &["s.toml"], "s.toml", &[]);
    let at = pos(&text, r#""splitwize""#);
    assert_eq!(at, (12, 10));
    assert_starts(
        &stderr,
        &scenario_prefix(&file, at, "service.vllm.profile.lookup"),
    );
    assert_has(
        &stderr,
        "unknown variant `splitwize`, expected `capsim` or `splitwise`",
    );
}
