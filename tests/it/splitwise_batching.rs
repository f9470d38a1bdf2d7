//! SplitwiseSim's batching (`[service.vllm] scheduler = "splitwise"`) against vLLM's scheduler,
//! both timed by SplitwiseSim's own performance model (`lookup = "splitwise"`).

use crate::common::{root, run_conserving};
use sim_core::costmodel::{SplitwiseLookup, SplitwiseProfile, StepCost};
use sim_core::{parse_scenario, Inputs, RunResult};

/// Llama-2-70B on four H100s (SplitwiseSim's rows), Poisson arrivals whose prompts are often
/// over a token budget of 2,048.
fn scenario(scheduler: &str) -> String {
    format!(
        r#"
[simulation]
seed = 7
horizon = "3m"
warmup = "20s"
[service]
engine = "vllm"
replicas = 1
dispatch = "router"
[service.vllm]
model = "llama-2-70b"
gpu = "h100-sxm"
tensor_parallel_size = 4
{scheduler}
profile = {{ splitwise = "perf_model.csv", splitwise_model = "llama2-70b", splitwise_hardware = "h100-80gb", lookup = "splitwise" }}
[traffic]
kind = "poisson"
rate = 1.5
[traffic.tokens]
prompt = {{ distribution = "uniform", min = 200, max = 4000 }}
output = {{ distribution = "uniform", min = 20, max = 400 }}
"#
    )
}

fn run(scheduler: &str) -> RunResult {
    let s =
        parse_scenario(&scenario(scheduler), "splitwise.toml").unwrap_or_else(|e| panic!("{e}"));
    let path = root().join("sim-core/calibration/splitwise/perf_model.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let profile = SplitwiseProfile::parse(&text, "perf_model.csv", "llama2-70b", "h100-80gb", 4)
        .unwrap()
        .with_lookup(SplitwiseLookup::Splitwise);
    let inputs = Inputs {
        step_cost: Some(StepCost::Splitwise(profile)),
        ..Inputs::default()
    };
    run_conserving(&s, inputs)
}

#[test]
fn splitwise_batching_runs_prompts_whole_and_first() {
    // The same limits for both: 512 sequences, 2,048 tokens a step (SplitwiseSim's defaults).
    let limits = "max_num_seqs = 512\nmax_num_batched_tokens = 2048";
    let vllm = run(limits);
    let split = run(&format!("scheduler = \"splitwise\"\n{limits}"));
    assert_eq!(run("scheduler = \"splitwise\"").summary, split.summary);
    let tokens = |r: &RunResult| r.summary.tokens.clone().expect("token statistics");
    let (v, s) = (tokens(&vllm), tokens(&split));
    assert_eq!(
        vllm.summary.requests.arrived,
        split.summary.requests.arrived
    );
    assert!(
        split.summary.requests.completed > 200,
        "{:?}",
        split.summary.requests
    );
    // Decodes wait (blocked, their KV cache kept) whenever a prompt takes the budget.
    assert!(s.preemptions > 0);
    assert_eq!(s.recomputed_tokens, 0);
    assert_eq!(v.preemptions, 0);
    // The KV cache is reserved per request: some is in use, never more than there is.
    let peak = split
        .summary
        .tokens
        .as_ref()
        .unwrap()
        .kv_cache_use_peak_ratio
        .unwrap();
    assert!(peak > 0.0 && peak <= 1.0, "{peak}");
}

#[test]
fn a_misspelt_scheduler_lists_the_valid_ones() {
    let e = parse_scenario(&scenario("scheduler = \"splitwize\""), "splitwise.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("splitwise.toml:"), "{e}");
    assert!(e.contains("service.vllm.scheduler"), "{e}");
    for valid in ["continuous", "static", "splitwise"] {
        assert!(e.contains(&format!("`{valid}`")), "{e}");
    }
    let bad = |extra: &str, key: &str| {
        let e = parse_scenario(&scenario(extra), "splitwise.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{e}");
    };
    bad("max_preemptions = 2", "service.vllm.max_preemptions");
    bad(
        "scheduler = \"splitwise\"\nbatch_size = 4",
        "service.vllm.batch_size",
    );
    bad(
        "scheduler = \"splitwise\"\nenable_prefix_caching = true",
        "service.vllm.enable_prefix_caching",
    );
    bad(
        "scheduler = \"splitwise\"\nmax_num_batched_tokens = 0",
        "service.vllm.max_num_batched_tokens",
    );
}
