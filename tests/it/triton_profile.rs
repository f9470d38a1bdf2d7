//! Triton's dynamic batcher with `t(batch)` from the roofline (`[service.service_time] model`).

use sim_core::catalog::{builtin_model, Catalog};
use sim_core::costmodel::{Placement, Roofline, StepBatch};
use sim_core::engine::SimTime;
use sim_core::scenario::EngineSpec;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario, Inputs, World};

const SCENARIO: &str = r#"
[simulation]
horizon = "10s"
[service]
replicas = 1
[service.triton]
max_batch_size = 8
dynamic_batching = { max_queue_delay_microseconds = 100000 }
[service.service_time]
distribution = "deterministic"
model = "llama-3.2-1b"
gpu = "h100-sxm"
tokens = 128
[traffic]
kind = "trace"
format = "csv"
path = "unused.csv"
"#;

/// A request of the trace arriving at `secs`.
fn at(secs: f64) -> TraceRecord {
    TraceRecord {
        time: SimTime::from_secs_f64(secs),
        prompt_tokens: 0,
        output_tokens: 0,
        tenant: 0,
        prefix: sim_core::serving::Prefix::NONE,
    }
}

/// Runs `s` over `trace`.
fn run(s: &sim_core::Scenario, trace: Vec<TraceRecord>) -> sim_core::RunResult {
    World::new(
        s,
        Inputs {
            trace: Some(trace),
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut sim_core::metrics::NoSink)
}

fn roofline_ns(n: u64) -> u64 {
    let gpu = Catalog::builtin().gpu("h100-sxm").unwrap().clone();
    let model = builtin_model("llama-3.2-1b").unwrap();
    let r = Roofline::new(&gpu, model, &Placement::whole());
    (r.step_time(&StepBatch::prefill(n, 128)) * 1e9).round() as u64
}

#[test]
fn batch_times_come_from_the_roofline() {
    let s = parse_scenario(SCENARIO, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let EngineSpec::Triton { service_time, .. } = &s.service.engine else {
        panic!("a triton engine")
    };
    assert_eq!(service_time.curve.len(), 8);
    for n in 1..=8 {
        assert_eq!(service_time.curve[n - 1].0, roofline_ns(n as u64));
    }
    assert!(service_time.curve.windows(2).all(|w| w[0] <= w[1]));
    // Eight requests at once: one full batch, sent at once, taking t(8); a ninth waits for the
    // queue delay (100 ms) and runs alone, taking t(1).
    let mut trace: Vec<TraceRecord> = (0..8).map(|_| at(0.0)).collect();
    trace.push(at(1.0));
    let r = run(&s, trace);
    assert_eq!(r.summary.requests.completed, 9);
    let max = r.summary.latency_s.max.unwrap();
    assert!(
        (max - (0.1 + roofline_ns(1) as f64 * 1e-9)).abs() < 1e-6,
        "{max}"
    );
    let p50 = r.summary.service_s.p50.unwrap();
    assert!((p50 - roofline_ns(8) as f64 * 1e-9).abs() < 1e-5, "{p50}");
}

#[test]
fn roofline_keys_are_checked() {
    let err = |from: &str, to: &str| {
        parse_scenario(&SCENARIO.replace(from, to), "t.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err("tokens = 128", "");
    assert!(e.contains("service.service_time.tokens"), "{e}");
    let e = err("gpu = \"h100-sxm\"", "gpu = \"h100\"");
    assert!(
        e.contains("service.service_time.gpu") && e.contains("unknown GPU"),
        "{e}"
    );
    let e = err("model = \"llama-3.2-1b\"", "model = \"llama\"");
    assert!(e.contains("service.service_time.model"), "{e}");
    let e = err("tokens = 128", "tokens = 128\nbase = \"1ms\"");
    assert!(
        e.contains("service.service_time.base") && e.contains("not both"),
        "{e}"
    );
    let e = err("model = \"llama-3.2-1b\"\n", "base = \"1ms\"\n");
    assert!(
        e.contains("service.service_time.gpu") && e.contains("`model`"),
        "{e}"
    );
}

/// `batch_times`: measured mean batch times (as from Triton's perf_analyzer), interpolated
/// linearly between the measured sizes; a full batch of 8 sent at once takes t(8).
#[test]
fn measured_batch_times_are_interpolated() {
    let measured = SCENARIO.replace(
        "model = \"llama-3.2-1b\"\ngpu = \"h100-sxm\"\ntokens = 128",
        "batch_times = { 1 = \"10ms\", 4 = \"16ms\", 8 = \"24ms\" }",
    );
    let s = parse_scenario(&measured, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let EngineSpec::Triton { service_time, .. } = &s.service.engine else {
        panic!("a triton engine")
    };
    let ms: Vec<u64> = service_time.curve.iter().map(|d| d.0 / 1_000_000).collect();
    assert_eq!(ms, [10, 12, 14, 16, 18, 20, 22, 24]);
    let r = run(&s, (0..8).map(|_| at(0.0)).collect());
    assert_eq!(r.summary.requests.completed, 8);
    assert!((r.summary.latency_s.max.unwrap() - 0.024).abs() < 1e-6);
    // Bad tables are refused at their key.
    for (table, why) in [
        ("{ 2 = \"10ms\", 8 = \"24ms\" }", "a batch of 1"),
        (
            "{ 1 = \"10ms\", 4 = \"16ms\" }",
            "measured up to batch size 4",
        ),
        (
            "{ 1 = \"10ms\", x = \"16ms\", 8 = \"1ms\" }",
            "expected a batch size",
        ),
        ("{ 1 = \"0ms\", 8 = \"24ms\" }", "above zero"),
    ] {
        let bad = SCENARIO.replace(
            "model = \"llama-3.2-1b\"\ngpu = \"h100-sxm\"\ntokens = 128",
            &format!("batch_times = {table}"),
        );
        let e = parse_scenario(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            e.contains("service.service_time.batch_times") && e.contains(why),
            "{e}"
        );
    }
}
