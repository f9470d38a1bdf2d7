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

/// Runs a scenario text (its trace path made absolute) with the `capsim` binary and returns its
/// `summary.json`.
fn summary_of(text: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let traces = crate::common::root().join("scenarios/traces");
    let text = text.replace(
        "path = \"traces/",
        &format!("path = \"{}/", traces.display()),
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The book's comparison of disaggregated and co-located serving of the Azure conversation
/// trace at equal cost (`book/src/generated/disaggregation-azure-conv.md`): the shipped
/// scenarios at their load, then at twice it, with the disaggregated one also under
/// SplitwiseSim's mixed pool. Regenerate with `UPDATE_BOOK=1`.
#[test]
fn the_book_comparison_is_generated() {
    let read =
        |f: &str| std::fs::read_to_string(crate::common::root().join("scenarios").join(f)).unwrap();
    let disagg = read("disagg-azure-conv.toml");
    let colocated = read("disagg-azure-conv-colocated.toml");
    let faster = |t: &str| {
        let t2 = t
            .replace("speed_up = 2.0", "speed_up = 4.0")
            .replace("horizon = \"30m\"", "horizon = \"15m\"");
        assert_ne!(
            t2, t,
            "the scenario's speed_up and horizon are as the test expects"
        );
        t2
    };
    let ms = |v: &serde_json::Value| format!("{:.0}", v.as_f64().unwrap() * 1e3);
    let mut out = String::from(
        "| load | serving | GPUs | $/hour | TTFT p50 / p99 (ms) | TPOT p50 / p99 (ms) | SLO met | KV transfer mean / max (ms) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut verdicts = Vec::new();
    let mut mixed_notes = Vec::new();
    // SplitwiseSim's mixed pool on the same two pools.
    let mixed_pool = |t: &str| {
        let t2 = t.replace(
            "[service.disaggregated]\n",
            "[service.disaggregated]\npolicy = \"mixed-pool\"\n",
        );
        assert_ne!(t2, t, "the scenario has [service.disaggregated]");
        t2
    };
    for (load, d_text, c_text) in [
        ("×2 (shipped)", disagg.clone(), colocated.clone()),
        ("×4", faster(&disagg), faster(&colocated)),
    ] {
        let mut rows = Vec::new();
        let m_text = mixed_pool(&d_text);
        for (label, text) in [
            ("disaggregated 4 P + 4 D", &d_text),
            ("mixed pool 4 P + 4 D", &m_text),
            ("co-located 8", &c_text),
        ] {
            let s = summary_of(text);
            if let Some(m) = s["disaggregation"].get("mixed_pool") {
                let n = |k: &str| m[k].as_u64().unwrap();
                mixed_notes.push(format!(
                    "At load {load}, the mixed pool split {} requests between two replicas ({} of them prefilled on a decode replica, {} decoded on a prefill replica) and ran {} whole on one; it lent {} decode replicas to prefill and {} prefill replicas to decode.",
                    n("split"),
                    n("prefill_on_decode_pool"),
                    n("decode_on_prefill_pool"),
                    n("colocated"),
                    n("lent_to_prefill"),
                    n("lent_to_decode"),
                ));
            }
            let c = &s["cluster"];
            let k = &s["tokens"];
            let kv = match s.get("disaggregation") {
                Some(d) => format!(
                    "{:.1} / {:.1}",
                    d["kv_transfer_mean_s"].as_f64().unwrap() * 1e3,
                    d["kv_transfer_max_s"].as_f64().unwrap() * 1e3
                ),
                None => "–".to_string(),
            };
            let met = k["attainment_ratio"].as_f64().unwrap();
            out.push_str(&format!(
                "| {load} | {label} | {:.0} | {:.2} | {} / {} | {} / {} | {:.1}% | {kv} |\n",
                c["gpu_hours"].as_f64().unwrap() / (s["horizon_s"].as_f64().unwrap() / 3600.0),
                c["cost_usd_per_hour"].as_f64().unwrap(),
                ms(&k["ttft_s"]["p50"]),
                ms(&k["ttft_s"]["p99"]),
                ms(&k["tpot_s"]["p50"]),
                ms(&k["tpot_s"]["p99"]),
                met * 100.0,
            ));
            rows.push((
                label,
                met,
                c["cost_usd_per_hour"].as_f64().unwrap(),
                k.clone(),
            ));
        }
        // The verdict compares the fixed pools with co-location.
        rows.remove(1);
        // Equal cost: within 5% per hour.
        let (a, b) = (rows[0].2, rows[1].2);
        assert!((a - b).abs() <= 0.05 * a.max(b), "cost per hour {a} vs {b}");
        let (win, lose) = if rows[0].1 >= rows[1].1 {
            (&rows[0], &rows[1])
        } else {
            (&rows[1], &rows[0])
        };
        // What decided: the token target the loser misses by more at p99 (relative to it).
        let over = |k: &serde_json::Value, m: &str| {
            k[format!("{m}_s")]["p99"].as_f64().unwrap()
                / k[format!("{m}_target_s")].as_f64().unwrap()
        };
        let decided = if over(&lose.3, "tpot") >= over(&lose.3, "ttft") {
            "TPOT"
        } else {
            "TTFT"
        };
        verdicts.push(format!(
            "At load {load}, {} meets the SLO for {:.1}% of requests against {:.1}% for {}: decided by {decided} (the loser's p99 {decided} is {:.0} ms against a target of {:.0} ms).",
            win.0,
            win.1 * 100.0,
            lose.1 * 100.0,
            lose.0,
            lose.3[if decided == "TPOT" { "tpot_s" } else { "ttft_s" }]["p99"].as_f64().unwrap() * 1e3,
            lose.3[if decided == "TPOT" { "tpot_target_s" } else { "ttft_target_s" }].as_f64().unwrap() * 1e3,
        ));
    }
    out.push('\n');
    for v in verdicts.into_iter().chain(mixed_notes) {
        out.push_str(&v);
        out.push_str("\n\n");
    }
    let path = crate::common::root().join("book/src/generated/disaggregation-azure-conv.md");
    if std::env::var_os("UPDATE_BOOK").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        old == out,
        "{} differs from what the program prints; regenerate with UPDATE_BOOK=1 cargo test --release --test it disagg",
        path.display()
    );
}

/// `scenario` with SplitwiseSim's mixed pool, a threshold of `threshold` prompt tokens and
/// `decode` decode replicas.
fn mixed(threshold: u64, decode: u32) -> String {
    scenario(&format!(
        "policy = \"mixed-pool\"\nprompt_max_pending_batch_tokens = {threshold}"
    ))
    .replace(
        "[service.disaggregated.decode]\nreplicas = 1",
        &format!("[service.disaggregated.decode]\nreplicas = {decode}"),
    )
}

fn row(rows: &[RequestRow], id: u64) -> &RequestRow {
    rows.iter().find(|r| r.request.id.0 == id).unwrap()
}

fn served_by(row: &RequestRow) -> (u16, u32) {
    match row.outcome {
        Outcome::Completed { replica, .. } => (row.request.service, replica),
        _ => panic!("not completed: {row:?}"),
    }
}

#[test]
fn mixed_pool_lends_a_decode_replica_to_a_saturated_prefill_pool_by_hand() {
    // One prefill replica P0, three decode replicas D0..D2; threshold 1,500 prompt tokens.
    // Three 1,000-token prompts at 1 s (A and B want 2 tokens, C 11), then E at 2 s.
    //   A: P0 has no unprefilled tokens: prefill on P0; decode on the replica with the least KV
    //      placed, D0 (all 0; the first). P0 starts its 110 ms step at once: first token at
    //      1.110 s, cache on P0's link until 1.233070313 s, one 5 ms step on D0: 1.238070313 s.
    //   B: P0 has 1,000 unprefilled tokens but no queue (A is running): taken, it waits for
    //      A's step; decode on D1 (D0 has A's 1,002 tokens). Prefilled 1.110–1.220 s, its cache
    //      waits for P0's link (1.233070313 s) and lands at 1.356140626 s; done 1.361140626 s.
    //   C: P0 has B waiting and 2,000 unprefilled tokens: 2,000 + 1,000 > 1,500, refused; no
    //      replica is lent yet. Decode on D2 (no KV placed). The decode pool lends the replica
    //      with the fewest unprefilled tokens, D0, which prefills C in one 5 ms step (the
    //      decode pool's step time): first token at 1.005 s; the cache crosses D0's link in
    //      0.123070313 s (1.128070313 s); ten 5 ms steps on D2: done at 1.178070313 s.
    //   D0 goes back to the decode pool when idle, once A has finished on it (1.238 s).
    //   E (2 s, 1,000 tokens, 2 out): P0 again; decode on D0, back in its pool (all have 0
    //      KV placed): prefilled 2.000–2.110 s, cache at 2.233070313 s, done at 2.238070313 s.
    let (r, rows) = run(
        &mixed(1500, 3),
        vec![
            record(1.0, 1000, 2),
            record(1.0, 1000, 2),
            record(1.0, 1000, 11),
            record(2.0, 1000, 2),
        ],
    );
    assert_eq!(rows.len(), 4);
    let (a, b, c, e) = (row(&rows, 0), row(&rows, 1), row(&rows, 2), row(&rows, 3));
    assert_eq!(times(a), (1_000_000_000, 1_110_000_000, 1_238_070_313));
    assert_eq!(times(b), (1_110_000_000, 1_220_000_000, 1_361_140_626));
    assert_eq!(times(c), (1_000_000_000, 1_005_000_000, 1_178_070_313));
    assert_eq!(times(e), (2_000_000_000, 2_110_000_000, 2_238_070_313));
    // Decoded where the policy placed them: (pool, replica), the decode pool being 1.
    assert_eq!(served_by(a), (1, 0));
    assert_eq!(served_by(b), (1, 1));
    assert_eq!(served_by(c), (1, 2));
    assert_eq!(served_by(e), (1, 0), "D0 went back to the decode pool");
    let d = r.summary.disaggregation.as_ref().unwrap();
    let m = d.mixed_pool.as_ref().expect("the mixed pool's counts");
    assert_eq!(m.prompt_max_pending_batch_tokens, 1500);
    assert_eq!((m.split, m.prefill_on_decode_pool), (4, 1));
    assert_eq!((m.decode_on_prefill_pool, m.colocated), (0, 0));
    assert_eq!((m.lent_to_prefill, m.lent_to_decode, m.returned), (1, 0, 1));
    assert_eq!(d.kv_transfers, 4);
    // The decode pool's entry counts C's prefill (at its first token) and the four decodes.
    assert_eq!(r.summary.services[0].requests.completed, 3);
    assert_eq!(r.summary.services[1].requests.completed, 5);
}

#[test]
fn a_replica_lent_to_prefill_that_also_decodes_runs_the_request_whole_and_returns_when_idle() {
    // Threshold 1,500, one replica per pool. A and B as above fill P0; C is refused by P0 and
    // its decode goes to D0 (the only decode replica, which has room): D0 is lent for the
    // prefill, and as the same replica decodes, C runs whole on D0 (mixed batching), in one
    // 5 ms prefill step and ten 5 ms decode steps: first token 1.005 s, done 1.055 s. D0 then
    // still has A's and B's decodes coming (their KV placed on it): it goes back once idle,
    // after B, the last.
    let (r, rows) = run(
        &mixed(1500, 1),
        vec![
            record(1.0, 1000, 2),
            record(1.0, 1000, 2),
            record(1.0, 1000, 11),
        ],
    );
    let c = row(&rows, 2);
    assert_eq!(served_by(c), (1, 0));
    assert_eq!(times(c), (1_000_000_000, 1_005_000_000, 1_055_000_000));
    let m = r.summary.disaggregation.unwrap().mixed_pool.unwrap();
    assert_eq!((m.split, m.colocated, m.colocated_fallback), (2, 1, 0));
    assert_eq!((m.lent_to_prefill, m.returned), (1, 1));
    // A and B decode on D0 as before (B's cache waits for P0's link).
    assert_eq!(times(row(&rows, 0)).2, 1_238_070_313);
    assert_eq!(times(row(&rows, 1)).2, 1_361_140_626);
}

#[test]
fn mixed_pool_lends_a_prefill_replica_when_the_decode_pool_is_full() {
    // The decode replica's KV cache holds 1,120 tokens (70 blocks of 16): a 1,000-token prompt
    // with 200 output tokens does not fit (1,200 ≥ 1,120), so the prefill pool lends P0 to
    // decode; P0 also prefills it, so it runs whole there: no transfer.
    let text = mixed(8192, 1).replace(
        "[service.disaggregated.decode.vllm.step_time]",
        "[service.disaggregated.decode.vllm]\nnum_gpu_blocks = 70\n[service.disaggregated.decode.vllm.step_time]",
    );
    let (r, rows) = run(&text, vec![record(1.0, 1000, 200)]);
    assert_eq!(served_by(&rows[0]), (0, 0));
    let d = r.summary.disaggregation.unwrap();
    assert_eq!(d.kv_transfers, 0);
    let m = d.mixed_pool.unwrap();
    assert_eq!((m.colocated, m.lent_to_decode, m.returned), (1, 1, 1));
}

#[test]
fn mixed_pool_conserves_requests_and_is_deterministic() {
    // A burst against a small threshold: replicas are lent both ways and come back.
    let trace: Vec<TraceRecord> = (0..300)
        .map(|i| {
            record(
                i as f64 * 0.01,
                200 + (i * 37 % 1800) as u32,
                1 + (i * 13 % 120) as u32,
            )
        })
        .collect();
    let text = mixed(2000, 2).replace(
        "[service.disaggregated.prefill]\nreplicas = 1",
        "[service.disaggregated.prefill]\nreplicas = 2",
    );
    let (a, ra) = run(&text, trace.clone());
    let (b, rb) = run(&text, trace);
    assert_eq!(
        serde_json::to_string(&a.summary).unwrap(),
        serde_json::to_string(&b.summary).unwrap()
    );
    assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
    let s = &a.summary;
    assert_eq!((s.requests.completed, s.requests.dropped), (300, 0));
    let d = s.disaggregation.as_ref().unwrap();
    let m = d.mixed_pool.as_ref().unwrap();
    // Every request took one path.
    assert_eq!(m.split + m.colocated + d.prefill_only, 300);
    assert_eq!(d.kv_transfers, m.split);
    assert!(m.lent_to_prefill > 0, "{m:?}");
    // The run drains: every lent replica went back.
    assert_eq!(m.returned, m.lent_to_prefill + m.lent_to_decode);
    // With short queues some requests are refused, at either phase: each leaves the policy's
    // books (its replicas still go back once idle) and is counted once.
    let (c, _) = run(
        &text
            .replace(
                "[service.disaggregated.decode]\nreplicas = 2",
                "[service.disaggregated.decode]\nreplicas = 2\nmax_queue_size = 1",
            )
            .replace(
                "[service.disaggregated.prefill]\nreplicas = 2",
                "[service.disaggregated.prefill]\nreplicas = 2\nmax_queue_size = 3",
            ),
        (0..300)
            .map(|i| {
                record(
                    i as f64 * 0.01,
                    200 + (i * 37 % 1800) as u32,
                    2 + (i * 13 % 120) as u32,
                )
            })
            .collect(),
    );
    let s = &c.summary;
    assert!(s.requests.dropped > 0, "{:?}", s.requests);
    assert_eq!(s.requests.completed + s.requests.dropped, 300);
    let m = s
        .disaggregation
        .as_ref()
        .unwrap()
        .mixed_pool
        .clone()
        .unwrap();
    assert_eq!(m.split + m.colocated, 300);
    assert_eq!(m.returned, m.lent_to_prefill + m.lent_to_decode, "{m:?}");
}

#[test]
fn mixed_pool_bad_input_is_a_located_error() {
    let e = error(&scenario("policy = \"mixed_pool\""));
    assert!(
        e.starts_with("disagg-test.toml:")
            && e.contains("key `service.disaggregated.policy`")
            && e.contains("did you mean `mixed-pool`"),
        "{e}"
    );
    let e = error(&mixed(0, 1));
    assert!(
        e.contains("key `service.disaggregated.prompt_max_pending_batch_tokens`")
            && e.contains("above 0"),
        "{e}"
    );
    let line = e.split(':').nth(1).unwrap().parse::<usize>().unwrap();
    assert_eq!(
        mixed(0, 1).lines().nth(line - 1).unwrap(),
        "prompt_max_pending_batch_tokens = 0",
        "{e}"
    );
    let e = error(&scenario("prompt_max_pending_batch_tokens = 100"));
    assert!(e.contains("applies only to policy = \"mixed-pool\""), "{e}");
    let e = error(&scenario(
        "policy = \"mixed-pool\"\nmax_local_prefill_length = 100",
    ));
    assert!(
        e.contains("key `service.disaggregated.max_local_prefill_length`"),
        "{e}"
    );
    let e = error(&scenario("prompt_max_pending_batch_tokens = -1"));
    assert!(
        e.contains("service.disaggregated.prompt_max_pending_batch_tokens"),
        "{e}"
    );
}
