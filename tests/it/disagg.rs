//! Disaggregated prefill and decode (`[service.disaggregated]`, issue #21 part 2): a request
//! timed by hand through prefill, KV transfer and decode; the short-prompt rule; bad input.

use sim_core::engine::SimTime;
use sim_core::metrics::{Outcome, RequestRow};
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario, Inputs, RunResult, World};

fn record(secs: f64, prompt: u32, output: u32) -> TraceRecord {
    TraceRecord {
        time: SimTime::from_secs_f64(secs),
        prompt_tokens: prompt,
        output_tokens: output,
        tenant: 0,
        prefix: sim_core::serving::Prefix::NONE,
    }
}

/// One prefill and one decode replica without nodes, linear step times (the prefill pool's
/// 10 ms + 0.1 ms per token, the decode pool's 5 ms a step), 128 KiB of KV per token sent at
/// 1 GiB/s after 1 ms. `extra` goes into `[service.disaggregated]`.
fn scenario(extra: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "20s"
[service]
name = "chat"
engine = "vllm"
dispatch = "router"
router = "round-robin"
[service.vllm]
num_gpu_blocks = 1000
block_size = 16
max_num_batched_tokens = 2048
[service.vllm.step_time]
base = "10ms"
per_token = "100us"
[service.disaggregated]
kv_bytes_per_token = 131072
kv_transfer_bandwidth = "1Gi"
kv_transfer_latency = "1ms"
{extra}
[service.disaggregated.prefill]
replicas = 1
[service.disaggregated.decode]
replicas = 1
[service.disaggregated.decode.vllm.step_time]
base = "5ms"
[traffic]
kind = "trace"
format = "csv"
path = "unused.csv"
"#
    )
}

fn run(text: &str, trace: Vec<TraceRecord>) -> (RunResult, Vec<RequestRow>) {
    let s = parse_scenario(text, "disagg-test.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    let r = World::new(
        &s,
        Inputs {
            trace: Some(trace),
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut rows);
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "conservation"
    );
    (r, rows)
}

fn times(row: &RequestRow) -> (u64, u64, u64) {
    match row.outcome {
        Outcome::Completed {
            start,
            first_token,
            finish,
            ..
        } => (start.0, first_token.0, finish.0),
        _ => panic!("not completed: {row:?}"),
    }
}

#[test]
fn one_request_through_prefill_kv_transfer_and_decode_by_hand() {
    // Arrives at 1 s with a 1,000-token prompt and 11 output tokens.
    //   prefill: one step of 1,000 tokens = 10 ms + 1,000 × 0.1 ms = 110 ms: first token at
    //            1.110 s (the prefill replica runs it with max_tokens = 1);
    //   KV:      1,000 tokens × 131,072 B = 131,072,000 B at 1 GiB/s (1,073,741,824 B/s)
    //            = 0.1220703125 s, rounded up to 122,070,313 ns, after 1 ms of latency:
    //            at the decode replica at 1.110 + 0.001 + 0.122070313 = 1.233070313 s;
    //   decode:  10 more tokens, one 5 ms step each = 50 ms: last token at 1.283070313 s.
    let (r, rows) = run(&scenario(""), vec![record(1.0, 1000, 11)]);
    assert_eq!(rows.len(), 1);
    let (start, first, finish) = times(&rows[0]);
    assert_eq!(start, 1_000_000_000, "the prefill starts on arrival");
    assert_eq!(first, 1_110_000_000);
    assert_eq!(finish, 1_283_070_313);
    let s = &r.summary;
    assert_eq!(s.requests.completed, 1);
    let k = s.tokens.as_ref().unwrap();
    assert!((k.ttft_s.mean.unwrap() - 0.110).abs() < 1e-12);
    // TPOT: (1.283070313 − 1.110) s / 10 tokens after the first, in whole nanoseconds.
    assert!((k.tpot_s.mean.unwrap() - 0.017307031).abs() < 1e-12);
    let d = s.disaggregation.as_ref().expect("a disaggregation summary");
    assert_eq!((d.kv_transfers, d.local_prefills), (1, 0));
    assert_eq!(d.kv_bytes, 131_072_000.0);
    assert!((d.kv_transfer_mean_s - 0.123070313).abs() < 1e-12);
    assert_eq!(d.bandwidth_source, "kv_transfer_bandwidth");
    // Each pool has its own entry: the prefill pool's TTFT, the decode pool's TPOT.
    let names: Vec<&str> = s.services.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["chat-prefill", "chat-decode"]);
    assert_eq!(
        (d.prefill_service.as_str(), d.decode_service.as_str()),
        ("chat-prefill", "chat-decode")
    );
    let p = s.services[0].tokens.as_ref().unwrap();
    assert!((p.ttft_s.mean.unwrap() - 0.110).abs() < 1e-12);
    assert_eq!(p.tpot_s.mean, None, "the prefill pool makes one token");
    let dd = s.services[1].tokens.as_ref().unwrap();
    assert!((dd.tpot_s.mean.unwrap() - 0.017307031).abs() < 1e-12);
    assert_eq!(s.services[0].requests.completed, 1);
    assert_eq!(s.services[1].requests.completed, 1);
}

#[test]
fn transfers_from_one_prefill_replica_share_its_link_in_turn() {
    // Two 1,000-token prompts at 1 s. The first starts a 110 ms step alone (the second
    // arrives after it in the same instant and waits for the step in progress): first token
    // at 1.110 s, cache at the decode replica 0.123070313 s later (1.233070313 s), one 5 ms
    // decode step: done at 1.238070313 s. The second is prefilled from 1.110 to 1.220 s; its
    // cache waits for the prefill replica's link until 1.233070313 s and arrives 0.123070313 s
    // later, at 1.356140626 s (0.136140626 s after its first token); done at 1.361140626 s.
    let (r, rows) = run(
        &scenario(""),
        vec![record(1.0, 1000, 2), record(1.0, 1000, 2)],
    );
    let mut finishes: Vec<u64> = rows.iter().map(|r| times(r).2).collect();
    finishes.sort();
    assert_eq!(finishes, [1_238_070_313, 1_361_140_626]);
    let d = r.summary.disaggregation.unwrap();
    assert!((d.kv_transfer_max_s - 0.136140626).abs() < 1e-12);
}

#[test]
fn short_prompts_are_prefilled_on_the_decode_replica() {
    // With max_local_prefill_length = 500, the 400-token prompt is prefilled where it decodes
    // (a 5 ms step on the decode pool's step model, then one more): no transfer. The
    // 1,000-token prompt goes through the prefill pool as before.
    let (r, rows) = run(
        &scenario("max_local_prefill_length = 500"),
        vec![record(1.0, 400, 2), record(5.0, 1000, 11)],
    );
    let d = r.summary.disaggregation.as_ref().unwrap();
    assert_eq!((d.kv_transfers, d.local_prefills), (1, 1));
    let local = rows
        .iter()
        .find(|r| r.request.prompt_tokens == 400)
        .unwrap();
    assert_eq!(times(local), (1_000_000_000, 1_005_000_000, 1_010_000_000));
    let remote = rows
        .iter()
        .find(|r| r.request.prompt_tokens == 1000)
        .unwrap();
    assert_eq!(times(remote).2, 5_283_070_313);
    // The decode pool saw both; the prefill pool one.
    assert_eq!(r.summary.services[0].requests.completed, 1);
    assert_eq!(r.summary.services[1].requests.completed, 2);
}

#[test]
fn a_one_token_request_ends_on_the_prefill_pool() {
    let (r, rows) = run(&scenario(""), vec![record(1.0, 1000, 1)]);
    assert_eq!(times(&rows[0]).2, 1_110_000_000);
    let d = r.summary.disaggregation.unwrap();
    assert_eq!((d.kv_transfers, d.prefill_only), (0, 1));
}

#[test]
fn runs_are_identical_twice() {
    let trace: Vec<TraceRecord> = (0..200)
        .map(|i| {
            record(
                i as f64 * 0.05,
                200 + (i * 37 % 900) as u32,
                2 + (i * 13 % 60) as u32,
            )
        })
        .collect();
    let text = scenario("max_local_prefill_length = 300");
    let (a, ra) = run(&text, trace.clone());
    let (b, rb) = run(&text, trace);
    assert_eq!(
        serde_json::to_string(&a.summary).unwrap(),
        serde_json::to_string(&b.summary).unwrap()
    );
    assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
    assert_eq!(a.summary.requests.completed, 200);
}

fn error(text: &str) -> String {
    parse_scenario(text, "disagg-test.toml")
        .map(|_| ())
        .expect_err("the scenario is refused")
        .to_string()
}

#[test]
fn bad_input_is_a_located_error() {
    // No decode pool.
    let text = scenario("").replace(
        "[service.disaggregated.decode]\nreplicas = 1\n[service.disaggregated.decode.vllm.step_time]\nbase = \"5ms\"\n",
        "",
    );
    let e = error(&text);
    assert!(
        e.starts_with("disagg-test.toml:")
            && e.contains("key `service.disaggregated`")
            && e.contains("needs a decode pool"),
        "{e}"
    );
    // An unknown key of a pool, with the valid ones listed.
    let e = error(&scenario("").replace(
        "[service.disaggregated.prefill]\nreplicas = 1",
        "[service.disaggregated.prefill]\nreplica = 1",
    ));
    assert!(
        e.contains("service.disaggregated.prefill.replica`")
            && e.contains("did you mean `replicas`")
            && e.contains("hpa"),
        "{e}"
    );
    // A bad value set by a pool is located in the pool's table.
    let e = error(&scenario("").replace(
        "[service.disaggregated.decode.vllm.step_time]\nbase = \"5ms\"",
        "[service.disaggregated.decode.vllm.step_time]\nbase = \"5 parsecs\"",
    ));
    assert!(
        e.contains("service.disaggregated.decode.vllm.step_time.base"),
        "{e}"
    );
    let line = e.split(':').nth(1).unwrap().parse::<usize>().unwrap();
    assert_eq!(
        scenario("").lines().nth(line - 1).unwrap(),
        "base = \"5ms\"",
        "{e}"
    );
    // Unknown keys of [service.disaggregated].
    let e = error(&scenario("kv_bandwidth = \"1Gi\""));
    assert!(e.contains("service.disaggregated.kv_bandwidth"), "{e}");
    // No bandwidth: abstract replicas have no node whose network the catalog knows.
    let e = error(&scenario("").replace("kv_transfer_bandwidth = \"1Gi\"\n", ""));
    assert!(e.contains("kv_transfer_bandwidth"), "{e}");
    // A zero bandwidth.
    let e = error(&scenario("").replace("\"1Gi\"", "\"0\""));
    assert!(e.contains("above zero"), "{e}");
    // Triton engines have no prefill to split.
    let e = error(&scenario("").replace("engine = \"vllm\"", "engine = \"triton\""));
    assert!(e.contains("disagg-test.toml:"), "{e}");
    // Two models.
    let e = error(&scenario("").replace(
        "[service.disaggregated.decode]\nreplicas = 1",
        "[service.disaggregated.decode]\nreplicas = 1\n[service.disaggregated.decode.vllm]\nblock_size = 32",
    ));
    assert!(
        e.contains("key `service.disaggregated.decode.vllm.block_size`")
            && e.contains("prefill pool's"),
        "{e}"
    );
    // A service-wide HPA: each pool scales on its own.
    let e = error(&format!(
        "{}\n[hpa]\nminReplicas = 1\nmaxReplicas = 2\n",
        scenario("")
    ));
    assert!(
        e.contains("key `hpa`") && e.contains("own autoscaler"),
        "{e}"
    );
}
