//! Prefix caching in the vLLM engine: synthetic shared prefixes, the prefix-aware router, the
//! Mooncake trace's hash ids, and the checks on the keys that turn them on.

use super::common::{capsim_text, root};
use sim_core::traffic::read_mooncake;
use sim_core::{parse_scenario, Inputs, RunResult, World};
use std::fs::File;
use std::io::BufReader;

const MOONCAKE: &str = "scenarios/traces/mooncake/conversation_trace_head300.jsonl";

fn run(text: &str, inputs: Inputs) -> RunResult {
    let s = parse_scenario(text, "prefix-test.toml").unwrap_or_else(|e| panic!("{e}"));
    World::new(&s, inputs)
        .unwrap()
        .run(&mut sim_core::metrics::NoSink)
}

/// 4 replicas, 24 system prompts of 1,024 tokens, KV room for about 12 prompts per replica.
fn shared_prompts(router: &str, caching: bool) -> String {
    format!(
        r#"
[simulation]
seed = 5
horizon = "3m"
warmup = "30s"
[service]
engine = "vllm"
replicas = 4
dispatch = "router"
router = "{router}"
[service.vllm]
model = "llama-3.1-8b"
gpu = "h100-sxm"
num_gpu_blocks = 1000
block_size = 16
enable_prefix_caching = {caching}
[traffic]
kind = "poisson"
rate = 40
[traffic.tokens]
prompt = {{ distribution = "uniform", min = 50, max = 300 }}
output = {{ distribution = "uniform", min = 20, max = 200 }}
[traffic.tokens.prefix]
tokens = 1024
groups = 24
"#
    )
}

fn hit_ratio(r: &RunResult) -> f64 {
    r.summary
        .tokens
        .as_ref()
        .unwrap()
        .prefix_cache_hit_ratio
        .unwrap()
}

#[test]
fn the_prefix_router_raises_the_hit_rate() {
    let prefix = run(&shared_prompts("prefix", true), Inputs::default());
    let least = run(
        &shared_prompts("least-outstanding", true),
        Inputs::default(),
    );
    let rr = run(&shared_prompts("round-robin", true), Inputs::default());
    let off = run(
        &shared_prompts("least-outstanding", false),
        Inputs::default(),
    );
    let (hp, hl, hr) = (hit_ratio(&prefix), hit_ratio(&least), hit_ratio(&rr));
    // At best every prefix hits: 1024 of 1024 + 175 prompt tokens on average.
    assert!(hp <= 1024.0 / 1199.0 + 0.01, "{hp}");
    assert!(
        hp > hl + 0.1 && hp > hr + 0.1,
        "prefix {hp}, least {hl}, rr {hr}"
    );
    assert_eq!(hit_ratio(&off), 0.0);
    // Hits skip prefill work: first tokens come sooner than with caching off.
    let ttft = |r: &RunResult| r.summary.tokens.as_ref().unwrap().ttft_s.mean.unwrap();
    assert!(
        ttft(&prefix) < ttft(&off),
        "{} vs {}",
        ttft(&prefix),
        ttft(&off)
    );
    for r in [&prefix, &least, &rr, &off] {
        let k = r.summary.tokens.as_ref().unwrap();
        let (mean, peak) = (
            k.kv_cache_use_mean_ratio.unwrap(),
            k.kv_cache_use_peak_ratio.unwrap(),
        );
        assert!(0.0 < mean && mean <= peak && peak <= 1.0, "{mean} {peak}");
        let c = &r.summary.requests;
        assert_eq!(c.arrived, c.completed + c.dropped + c.in_flight);
    }
    // Same input, same output.
    let again = run(&shared_prompts("prefix", true), Inputs::default());
    assert_eq!(again.summary, prefix.summary);
}

fn mooncake_inputs() -> Inputs {
    let path = root().join(MOONCAKE);
    let t = read_mooncake(BufReader::new(File::open(&path).unwrap()), MOONCAKE).unwrap();
    Inputs {
        trace: Some(t.records),
        trace_prefixes: Some(t.table),
        ..Inputs::default()
    }
}

fn mooncake_scenario(extra: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "200s"
[service]
engine = "vllm"
replicas = 8
dispatch = "router"
router = "prefix"
[service.vllm]
model = "llama-3.1-8b"
gpu = "h100-sxm"
{extra}
[traffic]
kind = "trace"
format = "mooncake"
path = "unused.jsonl"
"#
    )
}

#[test]
fn mooncake_hash_ids_hit_the_cache() {
    let r = run(&mooncake_scenario(""), mooncake_inputs());
    assert_eq!(r.summary.requests.completed, 300);
    let h = hit_ratio(&r);
    // With an unbounded cache and every request's predecessors finished, the first 300 rows
    // could reuse 8.1% of their prompt tokens (full 512-token blocks, the last token computed).
    let k = r.summary.tokens.as_ref().unwrap();
    assert_eq!(k.preemptions, 0);
    assert!(h > 0.04 && h <= 0.0811, "{h}");
    let off = run(
        &mooncake_scenario("enable_prefix_caching = false")
            .replace("router = \"prefix\"", "router = \"least-outstanding\""),
        mooncake_inputs(),
    );
    assert_eq!(hit_ratio(&off), 0.0);
}

#[test]
fn the_cli_reads_a_mooncake_trace_and_reports_hits() {
    let dir = std::env::temp_dir().join(format!("capsim-prefix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = mooncake_scenario("").replace(
        "path = \"unused.jsonl\"",
        &format!("path = \"{}\"", root().join(MOONCAKE).display()),
    );
    let file = dir.join("mooncake.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("prefix-cache hits"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_prefix_keys_are_named() {
    let err = |text: &str| parse_scenario(text, "p.toml").unwrap_err().to_string();
    let base = shared_prompts("prefix", true);
    let e = err(&base.replace("groups = 24", ""));
    assert!(e.contains("traffic.tokens.prefix.groups"), "{e}");
    let e = err(&base.replace("groups = 24", "groups = 24\nshare = 1.5"));
    assert!(
        e.contains("traffic.tokens.prefix.share") && e.contains("from 0 to 1"),
        "{e}"
    );
    let e = err(&base.replace("tokens = 1024", "tokens = 0"));
    assert!(e.contains("traffic.tokens.prefix.tokens"), "{e}");
    let e = err(&shared_prompts("prefix", false));
    assert!(
        e.contains("service.router") && e.contains("enable_prefix_caching"),
        "{e}"
    );
    let e = err(&mooncake_scenario("block_size = 48"));
    assert!(
        e.contains("service.vllm.block_size") && e.contains("512"),
        "{e}"
    );
    let e = err(&mooncake_scenario("").replace(
        "path = \"unused.jsonl\"",
        "path = \"unused.jsonl\"\n[traffic.tokens.prefix]\ntokens = 64\ngroups = 2",
    ));
    assert!(
        e.contains("traffic.tokens.prefix") && e.contains("not both"),
        "{e}"
    );
    let triton = r#"
[service]
replicas = 2
dispatch = "router"
router = "prefix"
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 1
"#;
    let e = err(triton);
    assert!(e.contains("service.router") && e.contains("triton"), "{e}");
}

#[test]
fn a_malformed_mooncake_line_is_named() {
    let text = "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [1]}\n\
                {\"timestamp\": 3, \"input_length\": \"ten\", \"output_length\": 2, \"hash_ids\": [1]}\n";
    let e = read_mooncake(text.as_bytes(), "bad.jsonl").unwrap_err();
    assert_eq!(e.row, Some(2));
    assert!(e.to_string().starts_with("bad.jsonl:2: "), "{e}");
}
