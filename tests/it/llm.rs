//! The vLLM-style engine inside the world: token timings, preemption, determinism and bad input.

use sim_core::engine::SimTime;
use sim_core::traffic::TraceRecord;
use sim_core::{parse_scenario, Inputs, RunResult};

fn run(text: &str, trace: Option<Vec<TraceRecord>>) -> RunResult {
    let s = parse_scenario(text, "llm-test.toml").unwrap_or_else(|e| panic!("{e}"));
    crate::common::run_conserving(
        &s,
        Inputs {
            trace,
            ..Inputs::default()
        },
    )
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

/// Issue #19 item 7: `weight_dtype = "fp8"` halves the bytes of the weights, so a memory-bound
/// decode step (one sequence: the weights dominate what a step reads) takes about half as long
/// and the KV cache gains the memory the weights gave up; `kv_cache_dtype = "fp8"` halves the
/// bytes of each cached token, so the same memory holds twice the blocks.
#[test]
fn fp8_weights_halve_the_weight_bytes_and_the_memory_bound_decode_step() {
    use sim_core::catalog::{builtin_model, KvCacheDtype, WeightDtype};
    let m = builtin_model("llama-3.1-8b").unwrap();
    let fp8 = m.with_precision(Some(WeightDtype::Fp8), None);
    assert_eq!(fp8.weight_bytes() * 2.0, m.weight_bytes());
    assert_eq!(fp8.kv_bytes_per_token(), m.kv_bytes_per_token());
    let int4 = m.with_precision(Some(WeightDtype::Int4), Some(KvCacheDtype::Fp8));
    assert_eq!(int4.weight_bytes() * 4.0, m.weight_bytes());
    assert_eq!(int4.kv_bytes_per_token() * 2.0, m.kv_bytes_per_token());

    let p5 = "instance_type = \"p5.48xlarge\"";
    let gpu = "\"nvidia.com/gpu\" = 1";
    let bf16 = vllm_spec(&vllm_on(p5, "model = \"llama-3.1-8b\"", gpu));
    let w8 = vllm_spec(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\nweight_dtype = \"fp8\"",
        gpu,
    ));
    let mut one = sim_core::costmodel::StepBatch::new();
    one.add_decode(100);
    // Where a one-sequence decode step's time goes: the weight-bound GEMMs and the LM head halve
    // (H100's FP8 tensor cores also double the FLOP rate, so compute halves too); attention over
    // 100 cached tokens, the activations and the per-layer launch costs do not change.
    use sim_core::costmodel::{Placement, Roofline};
    let h100 = sim_core::catalog::Catalog::builtin()
        .gpu("h100-sxm")
        .unwrap()
        .clone();
    let b = Roofline::new(&h100, m, &Placement::whole()).breakdown(&one);
    let f = Roofline::new(&h100, &fp8, &Placement::whole()).breakdown(&one);
    let half = |a: f64, b: f64| (a / b - 0.5).abs() < 0.005;
    assert!(half(f.gemm, b.gemm), "gemm {} vs {}", f.gemm, b.gemm);
    assert!(
        half(f.lm_head, b.lm_head),
        "lm head {} vs {}",
        f.lm_head,
        b.lm_head
    );
    assert_eq!(
        (f.attention, f.activations, f.overhead),
        (b.attention, b.activations, b.overhead)
    );
    // The GEMMs are most of a bf16 step, so the step takes 0.59 of the time: the fixed launch
    // costs keep it above one half.
    assert!(b.gemm + b.lm_head > 0.8 * b.total());
    let secs = |v: &sim_core::scenario::VllmSpec| v.step.step_time(&one).as_secs_f64();
    assert!((secs(&bf16) - b.total()).abs() < 1e-9);
    assert!((secs(&w8) - f.total()).abs() < 1e-9);
    let ratio = secs(&w8) / secs(&bf16);
    assert!(
        (0.55..0.62).contains(&ratio),
        "fp8/bf16 decode step {ratio}"
    );
    // The KV cache: bf16 has 8,165 blocks of 8 MiB (the worked example); fp8 weights free
    // 8.03e9 bytes = 7.478 GiB = 957.2 blocks more.
    assert_eq!(bf16.num_gpu_blocks, 8_165);
    assert!(
        (9_121..=9_123).contains(&w8.num_gpu_blocks),
        "{}",
        w8.num_gpu_blocks
    );
    // FP8 KV: blocks of 4 MiB in the same memory: twice as many (one more from the remainder).
    let kv8 = vllm_spec(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\nkv_cache_dtype = \"fp8\"",
        gpu,
    ));
    assert!(
        (16_330..=16_331).contains(&kv8.num_gpu_blocks),
        "{}",
        kv8.num_gpu_blocks
    );
}

/// A scenario's own `[[model]]` adds a model the catalog lacks, or replaces one of the same id.
#[test]
fn a_scenario_defines_and_overrides_models() {
    let p5 = "instance_type = \"p5.48xlarge\"";
    let gpu = "\"nvidia.com/gpu\" = 1";
    // Llama 3.1 8B's figures under a new id: the same KV cache as the built-in.
    let custom = r#"
[[model]]
id = "my-8b"
hidden_size = 4096
layers = 32
attention_heads = 32
kv_heads = 8
head_dim = 128
ffn_size = 14336
vocab_size = 128256
tied_embeddings = false
"#;
    let v = vllm_spec(&format!(
        "{custom}{}",
        vllm_on(p5, "model = \"my-8b\"", gpu)
    ));
    assert_eq!(v.num_gpu_blocks, 8_165);
    // Replacing the built-in id with half the layers: half the weights of the layers and half the
    // KV bytes per token, so more than twice the blocks.
    let half = custom
        .replace("my-8b", "llama-3.1-8b")
        .replace("layers = 32", "layers = 16");
    let h = vllm_spec(&format!(
        "{half}{}",
        vllm_on(p5, "model = \"llama-3.1-8b\"", gpu)
    ));
    assert!(h.num_gpu_blocks > 2 * 8_165, "{}", h.num_gpu_blocks);
}

#[test]
fn bad_models_and_precisions_are_located_errors() {
    let p5 = "instance_type = \"p5.48xlarge\"";
    let gpu = "\"nvidia.com/gpu\" = 1";
    let err = |text: &str| parse_scenario(text, "m.toml").unwrap_err().to_string();
    let e = err(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\nweight_dtype = \"fp9\"",
        gpu,
    ));
    assert!(
        e.contains("service.vllm.weight_dtype") && e.contains("fp8") && e.contains("int4"),
        "{e}"
    );
    let e = err(&vllm_on(
        p5,
        "model = \"llama-3.1-8b\"\nkv_cache_dtype = \"int8\"",
        gpu,
    ));
    assert!(
        e.contains("service.vllm.kv_cache_dtype") && e.contains("fp8_e5m2"),
        "{e}"
    );
    let e = err(&vllm_on(p5, "model = \"my-8b\"", gpu));
    assert!(
        e.contains("unknown model `my-8b`") && e.contains("[[model]]"),
        "{e}"
    );
    // A size that cannot be meant, and one missing.
    let e = err(&format!(
        "[[model]]\nid = \"huge\"\nhidden_size = 4096\nlayers = 100000000\nattention_heads = 32\nkv_heads = 8\nffn_size = 14336\nvocab_size = 128256\ntied_embeddings = false\n{}",
        vllm_on(p5, "model = \"huge\"", gpu)
    ));
    assert!(
        e.contains("model[0].layers") && e.contains("16,777,216"),
        "{e}"
    );
    let e = err(&format!(
        "[[model]]\nid = \"big\"\nhidden_size = 65536\nlayers = 10000\nattention_heads = 512\nkv_heads = 8\nffn_size = 1000000\nvocab_size = 128256\ntied_embeddings = false\n{}",
        vllm_on(p5, "model = \"big\"", gpu)
    ));
    assert!(
        e.contains("parameters") && e.contains("100,000,000,000,000"),
        "{e}"
    );
    let e = err(&format!(
        "[[model]]\nid = \"nolayers\"\nhidden_size = 4096\n{}",
        vllm_on(p5, "model = \"nolayers\"", gpu)
    ));
    assert!(
        e.contains("model[0].layers") && e.contains("missing"),
        "{e}"
    );
    // With a linear step time, a precision has nothing to act on.
    let linear = scenario(
        100,
        "[traffic]\nkind = \"poisson\"\nrate = 1.0\n[traffic.tokens]\nprompt = { distribution = \"fixed\", value = 5 }\noutput = { distribution = \"fixed\", value = 5 }",
    )
    .replace("block_size = 16\n", "block_size = 16\nweight_dtype = \"fp8\"\n");
    let e = err(&linear);
    assert!(e.contains("service.vllm.weight_dtype"), "{e}");
    // A [[policy]] cannot bring its own models.
    let e = sim_core::scenario::parse_variants(
        &format!(
            "{}\n[[policy]]\nname = \"x\"\n[[policy.model]]\nid = \"y\"\n",
            vllm_on(p5, "model = \"llama-3.1-8b\"", gpu)
        ),
        "m.toml",
        &sim_core::catalog::Catalog::builtin(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("policy[0].model"), "{e}");
}
