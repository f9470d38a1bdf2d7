//! The vLLM-style engine inside the world: token timings, preemption, determinism and bad input.

use sim_core::engine::SimTime;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario, Inputs, RunResult, World};

fn run(text: &str, trace: Option<Vec<TraceRecord>>) -> RunResult {
    let s = parse_scenario(text, "llm-test.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = World::new(
        &s,
        Inputs {
            trace,
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut sim_core::metrics::NoSink);
    let c = &r.summary.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.dropped + c.in_flight,
        "conservation"
    );
    r
}

fn scenario(blocks: u32, traffic: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "2m"
[service]
engine = "vllm"
replicas = 2
dispatch = "router"
router = "round-robin"
[service.vllm]
num_gpu_blocks = {blocks}
block_size = 16
[service.vllm.step_time]
base = "10ms"
{traffic}
"#
    )
}

fn record(secs: f64, prompt: u32, output: u32) -> TraceRecord {
    TraceRecord {
        time: SimTime::from_secs_f64(secs),
        prompt_tokens: prompt,
        output_tokens: output,
        tenant: 0,
        prefix: sim_core::serving::Prefix::NONE,
    }
}

#[test]
fn requests_alone_take_one_prefill_step_then_one_step_per_token() {
    // Every step takes 10 ms: a 100-token prompt is prefilled in one step (first token at 10 ms),
    // and the other 49 of 50 output tokens take a step each: 500 ms in all.
    let trace = vec![
        record(0.0, 100, 50),
        record(10.0, 100, 50),
        record(20.0, 100, 50),
    ];
    let text = scenario(
        1000,
        "[traffic]\nkind = \"trace\"\nformat = \"csv\"\npath = \"unused.csv\"",
    );
    let r = run(&text, Some(trace));
    let s = &r.summary;
    assert_eq!(s.requests.completed, 3);
    let k = s.tokens.as_ref().expect("token statistics");
    assert!((k.ttft_s.mean.unwrap() - 0.010).abs() < 1e-12);
    assert!((k.tpot_s.mean.unwrap() - 0.010).abs() < 1e-12);
    assert!((s.latency_s.mean.unwrap() - 0.500).abs() < 1e-12);
    assert_eq!(k.preemptions, 0);
}

/// `requests.csv` gives each request's TTFT and TPOT (issue #17 item 6), by hand: every step
/// takes 10 ms, so a lone request's first token comes one step after its arrival and each
/// further token one step later; a one-token request has no TPOT; a dropped one neither.
#[test]
fn requests_csv_has_each_requests_ttft_and_tpot() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "timestamp,prompt_tokens,output_tokens\n0,100,50\n10,100,1\n20,5000,10\n",
    )
    .unwrap();
    let text = scenario(
        100,
        "[traffic]\nkind = \"trace\"\nformat = \"csv\"\npath = \"t.csv\"",
    );
    std::fs::write(dir.path().join("s.toml"), text).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = super::common::capsim_text(&[
        "run",
        dir.path().join("s.toml").to_str().unwrap(),
        "--requests",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let by_id = |id: &str| rows.iter().find(|r| r[col("id")] == id).unwrap();
    let (ttft, tpot) = (col("ttft_s"), col("tpot_s"));
    // 50 tokens: first at 10 ms, then 49 more 10 ms apart.
    assert_eq!((by_id("0")[ttft], by_id("0")[tpot]), ("0.01", "0.01"));
    assert_eq!(by_id("0")[col("latency_s")], "0.5");
    // One output token: a TTFT, no TPOT.
    assert_eq!((by_id("1")[ttft], by_id("1")[tpot]), ("0.01", ""));
    // 5,010 tokens need more than 100 blocks of 16: dropped, no token timings.
    assert_eq!(by_id("2")[col("outcome")], "dropped");
    assert_eq!((by_id("2")[ttft], by_id("2")[tpot]), ("", ""));
    assert_eq!(rows.iter().filter(|r| r.len() != header.len()).count(), 0);
}

#[test]
fn a_small_kv_cache_preempts_yet_loses_nothing_and_runs_the_same_twice() {
    let traffic = r#"[traffic]
kind = "poisson"
rate = 5
[traffic.tokens]
prompt = { distribution = "uniform", min = 50, max = 400 }
output = { distribution = "lognormal", mean = 150, cv = 1.0, max = 1000 }"#;
    let text = scenario(160, traffic);
    let a = run(&text, None);
    let b = run(&text, None);
    assert_eq!(a.summary_json(), b.summary_json());
    assert_eq!(a.timeseries_csv(), b.timeseries_csv());
    let k = a.summary.tokens.as_ref().unwrap();
    assert!(k.preemptions > 0, "160 blocks of 16 tokens must run short");
    assert!(k.recomputed_tokens > 0);
    assert!(a.summary.requests.completed > 400, "{}", a.summary_json());
    // The first token never comes after the last.
    assert!(k.ttft_s.mean.unwrap() < a.summary.latency_s.mean.unwrap());
    // A roomy cache never preempts.
    let roomy = run(&scenario(100_000, traffic), None);
    assert_eq!(roomy.summary.tokens.as_ref().unwrap().preemptions, 0);
}

#[test]
fn a_request_beyond_the_kv_cache_is_dropped_with_its_reason() {
    let trace = vec![record(0.0, 100, 10), record(1.0, 5000, 10)];
    let text = scenario(
        100,
        "[traffic]\nkind = \"trace\"\nformat = \"csv\"\npath = \"unused.csv\"",
    );
    let r = run(&text, Some(trace));
    assert_eq!(r.summary.requests.completed, 1);
    assert_eq!(r.summary.requests.dropped_by_reason["exceeds_kv_cache"], 1);
}

fn error(text: &str) -> String {
    parse_scenario(text, "bad.toml").unwrap_err().to_string()
}

#[test]
fn bad_llm_scenarios_name_the_key() {
    let poisson = "[traffic]\nkind = \"poisson\"\nrate = 1";
    let e = error(&scenario(100, poisson));
    assert!(
        e.contains("key `traffic.tokens`") && e.contains("token counts"),
        "{e}"
    );

    let shared =
        scenario(100, poisson).replace("dispatch = \"router\"\nrouter = \"round-robin\"\n", "");
    let e = error(&shared);
    assert!(
        e.contains("key `service`") && e.contains("dispatch = \"router\""),
        "{e}"
    );

    let no_blocks = scenario(100, poisson).replace("num_gpu_blocks = 100\n", "");
    let e = error(&no_blocks);
    assert!(
        e.contains("service.vllm.num_gpu_blocks") && e.contains("missing"),
        "{e}"
    );

    let tokens = "[traffic]\nkind = \"poisson\"\nrate = 1\n[traffic.tokens]\n\
                  prompt = { distribution = \"uniform\", min = 9, max = 3 }\n\
                  output = { distribution = \"fixed\", value = 5 }";
    let e = error(&scenario(100, tokens));
    assert!(
        e.contains("traffic.tokens.prompt.max") && e.contains("at least `min` (9)"),
        "{e}"
    );

    let triton_ttft = "[slo]\nttft = \"1s\"\n[service]\n[service.service_time]\n\
                       distribution = \"deterministic\"\nbase = \"5ms\"\n[traffic]\nkind = \"poisson\"\nrate = 1";
    let e = error(triton_ttft);
    assert!(
        e.contains("slo.ttft") && e.contains("engine = \"vllm\""),
        "{e}"
    );

    let typo = scenario(100, poisson).replace("num_gpu_blocks", "num_gpu_block");
    let e = error(&typo);
    assert!(
        e.contains("num_gpu_blocks"),
        "a misspelt key suggests the right one: {e}"
    );
}

fn vllm_on(pool: &str, vllm: &str, requests: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "1m"
[[node_pool]]
name = "gpus"
{pool}
min_size = 1
max_size = 1
initial_size = 1
[service]
engine = "vllm"
replicas = 1
dispatch = "router"
[service.resources]
requests = {{ {requests} }}
[service.vllm]
{vllm}
[traffic]
kind = "poisson"
rate = 1.0
[traffic.tokens]
prompt = {{ distribution = "fixed", value = 500 }}
output = {{ distribution = "fixed", value = 100 }}
"#
    )
}

fn vllm_spec(text: &str) -> sim_core::scenario::VllmSpec {
    let s = parse_scenario(text, "roofline.toml").unwrap_or_else(|e| panic!("{e}"));
    match s.service.engine {
        sim_core::scenario::EngineSpec::Vllm(v) => v,
        _ => unreachable!(),
    }
}

/// vLLM 0.34's `vllm serve` batch defaults by the device's memory and name
/// (`EngineArgs.get_batch_defaults`), through the scenario's node pool.
#[test]
fn vllm_batch_defaults_follow_the_device_memory_and_name() {
    let cases = [
        // H200: 141 GiB, between 70 and 160: the middle tier.
        ("instance_type = \"p5en.48xlarge\"", (1024, 8192)),
        // A100 80GB: at least 70 GiB, but vLLM leaves A100s in the bottom tier.
        ("instance_type = \"p4de.24xlarge\"", (256, 2048)),
        // L40S, 48 GiB.
        ("instance_type = \"g6e.xlarge\"", (256, 2048)),
    ];
    for (pool, want) in cases {
        let v = vllm_spec(&vllm_on(
            pool,
            "model = \"llama-3.2-1b\"",
            "\"nvidia.com/gpu\" = 1",
        ));
        assert_eq!((v.max_num_seqs, v.max_num_batched_tokens), want, "{pool}");
    }
    use sim_core::scenario::model::defaults::vllm_batch;
    let gib = (1u64 << 30) as f64;
    assert_eq!(vllm_batch(Some(160.0 * gib), "NVIDIA B200"), (1024, 16384));
    assert_eq!(vllm_batch(Some(159.9 * gib), "NVIDIA B200"), (1024, 8192));
    assert_eq!(vllm_batch(Some(70.0 * gib), "NVIDIA H100"), (1024, 8192));
    assert_eq!(vllm_batch(Some(69.9 * gib), "NVIDIA H100"), (256, 2048));
    assert_eq!(
        vllm_batch(Some(80.0 * gib), "NVIDIA A100-SXM4-80GB"),
        (256, 2048)
    );
    assert_eq!(vllm_batch(None, ""), (256, 2048));
    // An unset max_num_seqs is at most the token budget the user set.
    let v = vllm_spec(&vllm_on(
        "instance_type = \"p5.48xlarge\"",
        "model = \"llama-3.2-1b\"\nmax_num_batched_tokens = 512",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert_eq!((v.max_num_seqs, v.max_num_batched_tokens), (512, 512));
}

#[test]
fn the_roofline_sizes_the_kv_cache_from_the_gpu_and_the_model() {
    let p5 = "instance_type = \"p5.48xlarge\"";
    let v = vllm_spec(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    // The scenario reference's worked example (vLLM 0.34 defaults): all of 80 GiB, less
    // 14.96 GiB of weights, 1 GiB and the activations of 8,192 tokens, in blocks of 64 tokens ×
    // 128 KiB.
    assert_eq!(v.block_size, 64);
    assert_eq!(v.num_gpu_blocks, 8_165);
    // An 80 GiB device that is no A100: vLLM 0.34's middle tier.
    assert_eq!((v.max_num_seqs, v.max_num_batched_tokens), (1024, 8192));
    // Twice the tensor parallelism: half the weights and half the KV per GPU, so more blocks.
    let tp2 = vllm_spec(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\ntensor_parallel_size = 2",
        "\"nvidia.com/gpu\" = 2",
    ));
    assert!(tp2.num_gpu_blocks > 2 * v.num_gpu_blocks);
    // A 1g.10gb MIG slice: a small model fits, with far fewer blocks.
    let mig = "instance_type = \"p5.48xlarge\"\nmig_layout = \"all-1g.10gb\"";
    let slice = vllm_spec(&vllm_on(
        mig,
        "model = \"llama-3.2-1b\"",
        "\"nvidia.com/mig-1g.10gb\" = 1",
    ));
    let whole = vllm_spec(&vllm_on(
        p5,
        "model = \"llama-3.2-1b\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(slice.num_gpu_blocks > 0 && slice.num_gpu_blocks * 8 < whole.num_gpu_blocks);
    // The worked example: (9.75 GiB − 2.30 GiB − 1 GiB − 2,048 tokens' activations) / 2 MiB.
    assert_eq!(slice.num_gpu_blocks, 3_285);
    // vLLM sees the slice's own 9.75 GiB (an unprivileged container), so it takes the bottom
    // tier, not the H100's.
    assert_eq!(
        (slice.max_num_seqs, slice.max_num_batched_tokens),
        (256, 2048)
    );
    assert_eq!(
        (whole.max_num_seqs, whole.max_num_batched_tokens),
        (1024, 8192)
    );
    // The slice's steps are slower.
    let mut b = sim_core::costmodel::StepBatch::new();
    b.add_decode(1000);
    assert!(slice.step.step_time(&b) > whole.step.step_time(&b));
}

#[test]
fn roofline_errors_name_the_key() {
    let p5 = "instance_type = \"p5.48xlarge\"";
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-70b\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(
        e.contains("service.vllm.model") && e.contains("does not fit"),
        "{e}"
    );
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-8\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(
        e.contains("unknown model") && e.contains("did you mean `llama-3.1-8b`?"),
        "{e}"
    );
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\n[service.vllm.step_time]\nbase = \"5ms\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(e.contains("not both"), "{e}");
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\ngpu_memory_utilization = 1.5",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(e.contains("gpu_memory_utilization"), "{e}");
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\ngpu = \"l4\"",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(
        e.contains("service.vllm.gpu") && e.contains("h100-sxm"),
        "{e}"
    );
    let e = error(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\ntensor_parallel_size = 2",
        "\"nvidia.com/gpu\" = 1",
    ));
    assert!(
        e.contains("tensor_parallel_size") && e.contains("make them equal"),
        "{e}"
    );
}
