//! Continuous-batching benchmark: 64 vLLM-style replicas of a Llama-3.1-8B-sized model on H100s,
//! at least 10 million Poisson requests with the Azure conversation trace's token lengths.
//! Parsing and trace reading happen once, outside the timed loop; only the simulation is timed.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::scenario::TraceFormat;
use sim_core::traffic::read_trace;
use sim_core::{parse_scenario, run, Inputs};
use std::fs::File;
use std::io::BufReader;

const CONV: &str = "scenarios/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv";

/// 64 replicas at about 80% of their decode capacity, 1,000 requests per second for 10,000 s.
const SCENARIO: &str = r#"
[simulation]
horizon = "10000s"
sample_interval = "1m"
[service]
engine = "vllm"
replicas = 64
dispatch = "router"
router = "least-outstanding"
[service.vllm]
max_num_seqs = 1024
max_num_batched_tokens = 8192
num_gpu_blocks = 28000
[service.vllm.step_time]
base = "6.5ms"
per_token = "27us"
per_context_token = "40ns"
[traffic]
kind = "poisson"
rate = 1000
[traffic.tokens]
sample = "conv.csv"
"#;

fn llm(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let file = File::open(format!("{root}/{CONV}")).expect("the conversation trace");
    let pairs: Vec<(u32, u32)> = read_trace(BufReader::new(file), CONV, TraceFormat::AzureLlm2023)
        .expect("trace parses")
        .iter()
        .map(|r| (r.prompt_tokens, r.output_tokens))
        .collect();
    let s = parse_scenario(SCENARIO, "llm-bench.toml").expect("scenario");
    let mut group = c.benchmark_group("llm");
    group.sample_size(10);
    group.throughput(Throughput::Elements(10_000_000));
    group.bench_function("vllm_64_h100_llama8b_10M_requests", |b| {
        b.iter(|| {
            let inputs = Inputs {
                token_sample: Some(pairs.clone()),
                ..Inputs::default()
            };
            let r = run(&s, inputs).expect("runs");
            assert!(r.summary.requests.arrived > 9_900_000);
            r
        })
    });
    group.finish();
}

criterion_group!(benches, llm);
criterion_main!(benches);
