//! Tenants at the gateway: a noisy tenant over its rate limit is refused (HTTP 429) while a quiet
//! one keeps its SLO, and loses it when the limit is gone; per-tenant counts add up; the
//! per-tenant table is pinned by a golden file; bad `[[tenant]]` tables are refused by key; a
//! client retries 429s through the gate (or gives up on them with `retry_rate_limited = false`).

use crate::common::{capsim_text, root};
use proptest::prelude::*;
use sim_core::catalog::Catalog;
use sim_core::engine::SimTime;
use sim_core::metrics::{Outcome, RequestRow};
use sim_core::results::{Summary, TenantSummary};
use sim_core::scenario::{parse_scenario, parse_variants};
use sim_core::serving::DropReason;
use sim_core::traffic::TraceRecord;
use sim_core::{Inputs, World};

fn tenant<'a>(s: &'a Summary, name: &str) -> &'a TenantSummary {
    s.tenants.iter().find(|t| t.name == name).unwrap()
}

/// scenarios/tenants.toml: `noisy` sends 60 requests per second against a limit of 20; `quiet`
/// sends 4 with a TTFT target of 500 ms.
#[test]
fn a_rate_limited_noisy_tenant_leaves_the_quiet_one_within_its_slo() {
    let src = std::fs::read_to_string(root().join("scenarios/tenants.toml")).unwrap();
    let variants = parse_variants(&src, "tenants.toml", &Catalog::builtin()).unwrap();
    let run = |name: &str| {
        let v = variants.iter().find(|v| v.name == name).unwrap();
        sim_core::run(&v.scenario, Inputs::default())
            .unwrap()
            .summary
    };
    let limited = run("limited");
    let open = run("no-limit");

    let (noisy, quiet) = (tenant(&limited, "noisy"), tenant(&limited, "quiet"));
    // The noisy tenant is refused about two thirds of its requests, all with `rate_limited`,
    // and none of them reaches a replica; the quiet one is never refused.
    assert!(noisy.rejected > noisy.arrived / 2, "{noisy:?}");
    assert_eq!(noisy.rejected_by_reason["rate_limited"], noisy.rejected);
    assert_eq!(
        limited.requests.dropped_by_reason["rate_limited"],
        noisy.rejected
    );
    assert_eq!(quiet.rejected, 0);
    // What gets through is the limit: 20 per second (plus the first burst of 40).
    assert!(
        (noisy.throughput_rps - 20.0).abs() < 0.5,
        "{}",
        noisy.throughput_rps
    );
    // The quiet tenant keeps its SLO: every measured request met TTFT ≤ 500 ms and TPOT ≤ 50 ms.
    assert_eq!(quiet.slo.ttft_target_s, Some(0.5));
    assert_eq!(quiet.slo.attainment_ratio, Some(1.0));
    let quiet_ttft_p99 = quiet.ttft_s.as_ref().unwrap().p99.unwrap();
    assert!(quiet_ttft_p99 < 0.5, "{quiet_ttft_p99}");
    // Each got its max-min fair share of the throughput.
    assert!(limited.fairness.as_ref().unwrap().jain_index.unwrap() > 0.99);

    // Without the limit, the noisy tenant's backlog holds up everyone: the quiet tenant misses
    // its SLO on every request and its p99 TTFT is tens of seconds.
    let (noisy, quiet) = (tenant(&open, "noisy"), tenant(&open, "quiet"));
    assert_eq!(noisy.rejected, 0);
    assert!(quiet.slo.attainment_ratio.unwrap() < 0.05, "{quiet:?}");
    assert!(quiet.ttft_s.as_ref().unwrap().p99.unwrap() > 10.0);
    assert!(quiet.throughput_rps < quiet.demand_rps * 0.9);
}

/// A tokens-per-minute limit: 60 000 tokens a minute is 1 000 a second; requests of 100 prompt
/// and 100 output tokens at 20 per second ask for 4 000 a second, so about three in four are
/// refused with `token_limited` once the first minute's tokens are spent.
#[test]
fn a_tokens_per_minute_limit_refuses_what_is_over_it() {
    let s = parse_scenario(
        &format!(
            "{}\n[[tenant]]\nname = \"a\"\ntokens_per_minute = 60000\n",
            llm_mix(20.0, 1.0)
        ),
        "tpm.toml",
    )
    .unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap().summary;
    let a = tenant(&r, "a");
    assert_eq!(a.rejected, a.rejected_by_reason["token_limited"]);
    assert_eq!(a.tokens_per_minute, Some(60000));
    // 10 minutes: 60 000 up front plus 1 000 per second for 600 s = 660 000 tokens = 3 300
    // requests admitted.
    assert!((3250..=3300).contains(&a.admitted), "{a:?}");
    assert_eq!(tenant(&r, "b").rejected, 0);
}

fn llm_mix(rate_a: f64, rate_b: f64) -> String {
    format!(
        r#"name = "llm-mix"
[simulation]
horizon = "10m"
warmup = "0s"
[service]
replicas = 4
dispatch = "router"
engine = "vllm"
[service.vllm]
max_num_seqs = 64
num_gpu_blocks = 8192
[service.vllm.step_time]
base = "5ms"
per_token = "10us"
[traffic]
kind = "mix"
[traffic.tokens.prompt]
distribution = "fixed"
value = 100
[traffic.tokens.output]
distribution = "fixed"
value = 100
[[traffic.stream]]
name = "a"
kind = "poisson"
rate = {rate_a}
[[traffic.stream]]
name = "b"
kind = "poisson"
rate = {rate_b}
"#
    )
}

/// Three tenants on Triton-style replicas; `b` is limited to 5 per second, burst 10.
fn triton_mix(rates: [f64; 3], limit: (u64, u64, u64), horizon_s: u64) -> String {
    format!(
        r#"name = "tenant-golden"
[simulation]
seed = 3
horizon = "{horizon_s}s"
warmup = "5s"
[slo]
latency = "80ms"
[service]
replicas = 2
dispatch = "router"
router = "least-outstanding"
max_queue_size = 20
[service.service_time]
distribution = "exponential"
base = "20ms"
[traffic]
kind = "mix"
[[traffic.stream]]
name = "a"
kind = "poisson"
rate = {}
[[traffic.stream]]
name = "b"
kind = "poisson"
rate = {}
[[traffic.stream]]
name = "c"
kind = "gamma"
rate = {}
cv = 2.0
[[tenant]]
name = "b"
weight = 2.0
[tenant.rate_limit]
max_tokens = {}
tokens_per_fill = {}
fill_interval = "{}ms"
[tenant.slo]
latency = "50ms"
"#,
        rates[0], rates[1], rates[2], limit.0, limit.1, limit.2
    )
}

/// `tenants.csv` is pinned. Regenerate with
/// `UPDATE_GOLDEN=1 cargo test --release --test it golden` after an intended change.
#[test]
fn golden_tenants_csv() {
    let s = parse_scenario(
        &triton_mix([20.0, 30.0, 15.0], (10, 5, 1000), 60),
        "golden.toml",
    )
    .unwrap();
    let r = sim_core::run(&s, Inputs::default()).unwrap();
    let csv = r.tenants_csv().unwrap();
    let path = root().join("tests/golden/tenants.csv");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &csv).unwrap();
    }
    assert_eq!(
        csv,
        std::fs::read_to_string(&path).unwrap(),
        "tenants.csv changed; see the test's doc comment"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Per tenant, whatever the rates and limits and whether clients retry 429s: arrived =
    /// admitted + rejected, admitted = completed + dropped + in flight, refused attempts =
    /// rejected + 429 retries, and the tenants add up to the run's counts.
    #[test]
    fn per_tenant_counts_add_up(
        ra in 0.0f64..60.0, rb in 0.0f64..60.0, rc in 0.0f64..60.0,
        max_tokens in 0u64..20, per_fill in 1u64..10, interval_ms in 1u64..2000,
        retries in 0u32..3, retry_429 in any::<bool>(),
    ) {
        let client = if retries > 0 {
            format!(
                "[traffic.client]\nretries = {retries}\nbackoff = \"200ms\"\n\
                 retry_rate_limited = {retry_429}\n"
            )
        } else {
            String::new()
        };
        let text = triton_mix([ra, rb, rc], (max_tokens, per_fill, interval_ms), 20) + &client;
        let s = parse_scenario(&text, "prop.toml").unwrap();
        let r = sim_core::run(&s, Inputs::default()).unwrap().summary;
        prop_assert_eq!(r.tenants.len(), 3);
        let (mut arrived, mut completed, mut rejected) = (0, 0, 0);
        for t in &r.tenants {
            prop_assert_eq!(t.arrived, t.admitted + t.rejected);
            prop_assert_eq!(t.admitted, t.completed + t.dropped + t.in_flight);
            arrived += t.arrived;
            completed += t.completed;
            rejected += t.rejected;
        }
        prop_assert_eq!(arrived, r.requests.arrived);
        prop_assert_eq!(completed, r.requests.completed);
        prop_assert_eq!(rejected, r.requests.dropped_by_reason["rate_limited"]);
        // Only the limited tenant is refused, and never more than its bucket allows.
        prop_assert_eq!(r.tenants[0].rejected + r.tenants[2].rejected, 0);
        let allowed = max_tokens + 20_000 / interval_ms * per_fill;
        let b = &r.tenants[1];
        // A request that ended served or dropped past the gate passed it on its last attempt
        // (one still in flight may be waiting to retry).
        prop_assert!(b.completed + b.dropped <= allowed);
        let retried = r.client.map_or(0, |c| c.rate_limited_retries);
        prop_assert_eq!(b.rejected_attempts, Some(b.rejected + retried));
        if retries == 0 || !retry_429 {
            prop_assert_eq!(retried, 0);
            prop_assert!(b.admitted <= allowed);
        }
        let q = &r.requests;
        prop_assert_eq!(q.arrived, q.completed + q.dropped + q.in_flight);
        prop_assert!(!r.warnings.iter().any(|w| w.contains("unaccounted")));
    }
}

/// Bad `[[tenant]]` tables are refused with the key and what was expected.
#[test]
fn bad_tenant_tables_name_the_key() {
    let base = triton_mix([1.0, 1.0, 1.0], (1, 1, 1000), 60);
    let cases = [
        (
            base.replace("name = \"b\"\nweight", "name = \"x\"\nweight"),
            "tenant[0].name",
            "expected the name of a [[traffic.stream]] (a, b, c), found \"x\"",
        ),
        (
            base.replace("weight = 2.0", "weight = 0.0"),
            "tenant[0].weight",
            "expected a finite weight above zero",
        ),
        (
            base.replace("fill_interval = \"1000ms\"\n", ""),
            "tenant[0].rate_limit.fill_interval",
            "missing",
        ),
        (
            base.replace("weight = 2.0", "weight = 2.0\ntokens_per_minute = 10"),
            "tenant[0].tokens_per_minute",
            "engine = \"vllm\"",
        ),
        (
            base.replace("weight = 2.0", "weight = 2.0\nburst = 10"),
            "tenant[0]",
            "burst",
        ),
    ];
    for (text, key, message) in cases {
        let e = parse_scenario(&text, "bad.toml").unwrap_err();
        assert!(e.key.starts_with(key), "{key}: {e}");
        assert!(e.message.contains(message), "{message}: {e}");
        assert!(e.line.is_some(), "{e}");
    }
    // Tenants need labelled traffic.
    let e = parse_scenario(
        "[service]\n[service.service_time]\ndistribution = \"exponential\"\nbase = \"1ms\"\n\
         [traffic]\nkind = \"poisson\"\nrate = 1.0\n[[tenant]]\nname = \"a\"\n",
        "plain.toml",
    )
    .unwrap_err();
    assert_eq!(e.key, "tenant");
    assert!(e.message.contains("kind = \"mix\""), "{e}");
}

/// `capsim run` writes `tenants.csv` beside the summary, prints one line per tenant, and the
/// report has a per-tenant table.
#[test]
fn capsim_run_writes_tenants_csv_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("t.toml");
    std::fs::write(&scenario, triton_mix([20.0, 30.0, 15.0], (10, 5, 1000), 30)).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--report",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2 id=\"tenants\">Tenants</h2>"));
    assert!(html.contains("data-label=\"rejected (429)\""));
    assert!(stdout.contains("fairness     Jain's index"), "{stdout}");
    assert!(stdout.contains(", tenants.csv"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("tenants.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("tenant,weight,arrived,admitted,rejected_rate_limited"));
}

/// A trace's tenant labels are matched as they appear: `acme` (19 requests in the first minute of
/// the generic CSV sample) may send 5 and is then refused; a `[[tenant]]` no request carries is
/// reported in the warnings.
#[test]
fn trace_labels_are_rate_limited_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let trace = root().join("scenarios/traces/generic-csv/sample.csv");
    let text = format!(
        r#"name = "trace-tenants"
[simulation]
horizon = "1m"
[service]
replicas = 64
dispatch = "shared"
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "trace"
path = "{}"
format = "csv"
[traffic.columns]
timestamp = "arrival_ms"
time_unit = "ms"
prompt_tokens = "in_tokens"
output_tokens = "out_tokens"
tenant = "customer"
[[tenant]]
name = "acme"
[tenant.rate_limit]
max_tokens = 5
fill_interval = "1h"
[[tenant]]
name = "nobody"
"#,
        trace.display()
    );
    let file = dir.path().join("t.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let t = &s["tenants"];
    let acme = t
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "acme")
        .unwrap();
    assert_eq!(acme["arrived"], 19);
    assert_eq!(acme["admitted"], 5);
    assert_eq!(acme["rejected_by_reason"]["rate_limited"], 14);
    assert_eq!(s["requests"]["dropped_by_reason"]["rate_limited"], 14);
    let warnings = s["warnings"].to_string();
    assert!(warnings.contains("nobody"), "{warnings}");
    assert!(out.join("tenants.csv").exists());
}

/// One tenant `t` behind a bucket of one token refilled with one every second (fills at 1 s,
/// 2 s, …), requests at 0, 0.3, 0.6, 0.9, 4.1 and 4.2 s, a horizon of 5 s, replicas that serve
/// any request in 10 ms, and the `[traffic.client]` table `client`.
fn one_token_a_second(client: &str) -> sim_core::scenario::Scenario {
    let text = format!(
        r#"name = "retry-429"
[simulation]
horizon = "5s"
[service]
replicas = 4
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "mix"
[[traffic.stream]]
name = "t"
kind = "trace"
path = "unused.csv"
format = "csv"
[[tenant]]
name = "t"
[tenant.rate_limit]
max_tokens = 1
tokens_per_fill = 1
fill_interval = "1s"
{client}
"#
    );
    parse_scenario(&text, "retry-429.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Each request's first arrival and how it ended, in order of first arrival.
fn outcomes(s: &sim_core::scenario::Scenario) -> (Summary, Vec<(f64, Outcome)>) {
    let trace = [0.0, 0.3, 0.6, 0.9, 4.1, 4.2]
        .into_iter()
        .map(|t| TraceRecord {
            time: SimTime::from_secs_f64(t),
            prompt_tokens: 0,
            output_tokens: 0,
            tenant: 0,
            prefix: sim_core::serving::Prefix::NONE,
        })
        .collect();
    let inputs = Inputs {
        trace: Some(trace),
        ..Inputs::default()
    };
    let mut rows: Vec<RequestRow> = Vec::new();
    let r = World::new(s, inputs).unwrap().run(&mut rows);
    let mut v: Vec<(f64, Outcome)> = rows
        .iter()
        .map(|r| (r.request.arrival.as_secs_f64(), r.outcome))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    (r.summary, v)
}

fn done(arrival: f64, start: f64) -> (f64, f64, f64) {
    (arrival, start, start + 0.01)
}

/// A client that retries 429s (2 retries, a fixed 1 s backoff) against one token a second. By
/// hand: 0 s takes the token and is served; 0.3, 0.6 and 0.9 are refused and retry at 1.3, 1.6
/// and 1.9; the fill at 1 s lets 1.3 through (served after one retry); 1.6 and 1.9 are refused
/// again and retry at 2.6 and 2.9; the fill at 2 s lets 2.6 through (served after two retries);
/// 2.9 is refused with no retry left and ends `rate_limited`. The fills at 3 s and 4 s leave one
/// token (the bucket holds one): 4.1 is served; 4.2 is refused and its retry at 5.2 falls after
/// the horizon, so it is still in flight. Each request arrives once and ends once, its latency
/// from its first arrival.
#[test]
fn a_client_retries_429s_through_the_tenant_gate() {
    let client = "[traffic.client]\nretries = 2\nbackoff = \"1s\"\nmax_backoff = \"1s\"\n";
    let (s, rows) = outcomes(&one_token_a_second(client));
    let completed: Vec<(f64, f64, f64)> = rows
        .iter()
        .filter_map(|&(arrival, o)| match o {
            Outcome::Completed { start, finish, .. } => {
                Some((arrival, start.as_secs_f64(), finish.as_secs_f64()))
            }
            _ => None,
        })
        .collect();
    let close = |a: &[(f64, f64, f64)], b: &[(f64, f64, f64)]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x.0 - y.0).abs() < 1e-9 && (x.1 - y.1).abs() < 1e-9 && (x.2 - y.2).abs() < 1e-9
            })
    };
    let want = [
        done(0.0, 0.0),
        done(0.3, 1.3),
        done(0.6, 2.6),
        done(4.1, 4.1),
    ];
    assert!(close(&completed, &want), "{completed:?}");
    let dropped: Vec<(f64, SimTime, DropReason)> = rows
        .iter()
        .filter_map(|&(arrival, o)| match o {
            Outcome::Dropped { at, reason } => Some((arrival, at, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dropped,
        [(0.9, SimTime::from_secs_f64(2.9), DropReason::RateLimited)]
    );
    // Nothing is lost: 6 arrived = 4 completed + 1 dropped + 1 waiting to retry.
    let q = &s.requests;
    assert_eq!(
        (q.arrived, q.completed, q.dropped, q.in_flight),
        (6, 4, 1, 1)
    );
    assert!(s.warnings.iter().all(|w| !w.contains("unaccounted")));
    let c = s.client.unwrap();
    // Retries: 0.3 once, 0.6 twice, 0.9 twice, 4.2 once (its retry never comes).
    assert_eq!((c.retries, c.rate_limited_retries), (6, 6));
    assert_eq!((c.completed_after_retry, c.timeouts), (2, 0));
    // The tenant counts requests: one refused in the end, 5 admitted (4 served, 1 waiting);
    // attempts refused: 0.3, 0.6 ×2, 0.9 ×3, 4.2 = 7 = 1 rejected + 6 retried.
    let t = tenant(&s, "t");
    assert_eq!((t.arrived, t.admitted, t.rejected), (6, 5, 1));
    assert_eq!((t.completed, t.dropped, t.in_flight), (4, 0, 1));
    assert_eq!(t.rejected_attempts, Some(7));
    assert_eq!(
        t.rejected_attempts,
        Some(t.rejected + c.rate_limited_retries)
    );
}

/// With `retry_rate_limited = false` the client gives up on a 429: the same run as with no
/// client at all, request for request (0.3, 0.6, 0.9 and 4.2 refused at once).
#[test]
fn a_client_that_gives_up_on_429s_is_the_old_behaviour() {
    let off = "[traffic.client]\nretries = 2\nbackoff = \"1s\"\nretry_rate_limited = false\n";
    let (s, rows) = outcomes(&one_token_a_second(off));
    let (bare, bare_rows) = outcomes(&one_token_a_second(""));
    assert_eq!(rows, bare_rows);
    let refused: Vec<(f64, SimTime)> = rows
        .iter()
        .filter_map(|&(arrival, o)| match o {
            Outcome::Dropped {
                at,
                reason: DropReason::RateLimited,
            } => Some((arrival, at)),
            _ => None,
        })
        .collect();
    let at = SimTime::from_secs_f64;
    assert_eq!(
        refused,
        [
            (0.3, at(0.3)),
            (0.6, at(0.6)),
            (0.9, at(0.9)),
            (4.2, at(4.2))
        ]
    );
    let c = s.client.unwrap();
    assert_eq!((c.retries, c.rate_limited_retries), (0, 0));
    let t = tenant(&s, "t");
    assert_eq!(
        (t.arrived, t.rejected, t.rejected_attempts),
        (6, 4, Some(4))
    );
    assert_eq!(s.tenants, bare.tenants);
    assert_eq!(s.requests, bare.requests);
}

/// scenarios/tenants.toml with SDK-like clients (2 retries, 500 ms backoff doubling to 8 s) is
/// byte-identical twice over: every output file of both policies.
#[test]
fn retried_429s_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(root().join("scenarios/tenants.toml")).unwrap();
    let scenario = dir.path().join("tenants-retry.toml");
    std::fs::write(
        &scenario,
        format!(
            "{src}\n[traffic.client]\nretries = 2\nbackoff = \"500ms\"\nmax_backoff = \"8s\"\n"
        ),
    )
    .unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let (code, stdout, stderr) = capsim_text(&[
            "run",
            scenario.to_str().unwrap(),
            "--requests",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        (out, stdout)
    };
    let (a, stdout) = run("a");
    let (b, _) = run("b");
    let mut files = 0;
    for policy in ["limited", "no-limit"] {
        for f in [
            "summary.json",
            "tenants.csv",
            "timeseries.csv",
            "requests.csv",
        ] {
            let (x, y) = (
                a.join("policies").join(policy).join(f),
                b.join("policies").join(policy).join(f),
            );
            let x = std::fs::read(&x).unwrap_or_else(|e| panic!("{}: {e}", x.display()));
            assert!(x == std::fs::read(y).unwrap(), "{policy}/{f} differs");
            files += 1;
        }
    }
    assert_eq!(files, 8);
    assert_eq!(
        std::fs::read(a.join("comparison.csv")).unwrap(),
        std::fs::read(b.join("comparison.csv")).unwrap()
    );
    // The noisy tenant's refused attempts are retried; the quiet one is never refused.
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("policies/limited/summary.json")).unwrap())
            .unwrap();
    let retried = s["client"]["rate_limited_retries"].as_u64().unwrap();
    assert!(retried > 0, "{stdout}");
    let noisy = s["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "noisy")
        .unwrap();
    assert_eq!(
        noisy["rejected_attempts"].as_u64().unwrap(),
        noisy["rejected"].as_u64().unwrap() + retried
    );
    // The retries are refused at the gateway, not queued: the quiet tenant keeps its SLO.
    let quiet = s["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "quiet")
        .unwrap();
    assert_eq!(quiet["rejected_attempts"], 0);
    assert_eq!(quiet["slo"]["attainment_ratio"], 1.0);
}

/// `retry_rate_limited` must be a boolean, named in the error.
#[test]
fn retry_rate_limited_must_be_a_boolean() {
    let text = std::fs::read_to_string(root().join("scenarios/tenants.toml")).unwrap()
        + "\n[traffic.client]\nretries = 2\nretry_rate_limited = \"no\"\n";
    let e = parse_variants(&text, "bad.toml", &Catalog::builtin()).unwrap_err();
    assert_eq!(e.key, "traffic.client.retry_rate_limited", "{e}");
    assert!(e.message.contains("boolean"), "{e}");
    assert!(e.line.is_some(), "{e}");
}

/// With several services, each service's own tenants (its mix's streams) are in its entry, and
/// they add up to the service's arrivals.
#[test]
fn each_service_of_several_keeps_its_own_tenants() {
    let text = r#"[simulation]
horizon = "60s"
[[service]]
name = "a"
replicas = 2
[service.service_time]
distribution = "deterministic"
base = "5ms"
[service.traffic]
kind = "poisson"
rate = 50.0
[[service]]
name = "b"
replicas = 2
[service.service_time]
distribution = "deterministic"
base = "5ms"
[service.traffic]
kind = "mix"
[[service.traffic.stream]]
name = "gold"
kind = "poisson"
rate = 20.0
[[service.traffic.stream]]
name = "free"
kind = "poisson"
rate = 30.0
"#;
    let s = parse_scenario(text, "two.toml").unwrap();
    let r = World::new(&s, Inputs::default())
        .unwrap()
        .run(&mut sim_core::metrics::NoSink);
    let services = &r.summary.services;
    assert!(services[0].tenants.is_empty() && services[0].fairness.is_none());
    let b = &services[1];
    let names: Vec<&str> = b.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["gold", "free"]);
    let arrived: u64 = b.tenants.iter().map(|t| t.arrived).sum();
    assert_eq!(arrived, b.requests.arrived);
    assert!(b.tenants[0].arrived > 0 && b.tenants[1].arrived > b.tenants[0].arrived);
    assert!(b.fairness.is_some());
}
