//! LoRA adapters: the LoRA-aware router against adapter-blind ones on skewed adapter
//! popularity (and the book's table of it), adapter names at the model-aware gateway, and the
//! located errors of bad `[service.vllm.lora]` input.

use super::common::{root, run_conserving};
use sim_core::catalog::Catalog;
use sim_core::results::LoraSummary;
use sim_core::scenario::parse_variants;
use sim_core::{parse_scenario, Inputs};

/// Compares `text` with the book's generated file `name`, or writes it with `UPDATE_BOOK=1`
/// (or `UPDATE_GOLDEN=1`).
fn check_generated(name: &str, text: &str) {
    let path = root().join("book/src/generated").join(name);
    if std::env::var_os("UPDATE_BOOK").is_some() || std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        old == text,
        "{} differs from what the program measures; regenerate with UPDATE_BOOK=1 cargo test --release --test it lora after an intended change",
        path.display()
    );
}

fn ms(s: Option<f64>) -> String {
    s.map_or("-".into(), |v| format!("{:.0} ms", v * 1e3))
}

fn pct(r: Option<f64>) -> String {
    r.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// `scenarios/lora-routing.toml`: 50 adapters with Zipf popularity on 4 replicas. The
/// LoRA-affinity router sends more requests to a replica that has their adapter loaded than
/// round-robin or least-outstanding do, loads adapters less often, and cuts the TTFT tail;
/// the book's table is this run.
#[test]
fn lora_affinity_routes_to_loaded_adapters_more_often() {
    let path = root().join("scenarios/lora-routing.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let variants = parse_variants(&text, "lora-routing.toml", &Catalog::builtin()).unwrap();
    let mut rows: Vec<(String, LoraSummary, sim_core::results::TokenSummary)> = Vec::new();
    for v in &variants {
        let r = run_conserving(&v.scenario, Inputs::default());
        let t = r.summary.tokens.expect("a vLLM service has token results");
        rows.push((v.name.clone(), t.lora.expect("adapters are counted"), t));
    }
    let get = |name: &str| &rows.iter().find(|r| r.0 == name).unwrap().1;
    let (aff, rr, lo) = (
        get("lora-affinity"),
        get("round-robin"),
        get("least-outstanding"),
    );
    let hit = |l: &LoraSummary| l.router_hit_ratio.unwrap();
    assert!(
        hit(aff) > hit(rr) + 0.1 && hit(aff) > hit(lo) + 0.1,
        "{aff:?} vs {rr:?}, {lo:?}"
    );
    assert!(aff.cold_loads + aff.warm_loads < rr.cold_loads + rr.warm_loads);
    // Same traffic: every variant saw the same adapter requests.
    assert_eq!(aff.adapter_requests, rr.adapter_requests);
    let mut md = String::from(
        "| router | router hit ratio | slot hit ratio | adapter loads (disk / host) | load time | TTFT p50 | TTFT p99 | TPOT p99 |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (name, l, t) in &rows {
        md.push_str(&format!(
            "| `{name}` | {} | {} | {} / {} | {:.1} s | {} | {} | {} |\n",
            pct(l.router_hit_ratio),
            pct(l.slot_hit_ratio),
            l.cold_loads,
            l.warm_loads,
            l.load_seconds,
            ms(t.ttft_s.p50),
            ms(t.ttft_s.p99),
            ms(t.tpot_s.p99),
        ));
    }
    check_generated("lora-routing.md", &md);
}

/// Two services behind the gateway; `chat` serves adapters `support` and `sql`.
const GATEWAY: &str = r#"
[simulation]
seed = 3
horizon = "2m"

[[service]]
name = "chat"
engine = "vllm"
replicas = 2
dispatch = "router"
router = "lora-affinity"
[service.vllm]
num_gpu_blocks = 4000
[service.vllm.step_time]
base = "10ms"
per_token = "0.01ms"
[service.vllm.lora]
max_loras = 2
bytes_per_rank = "5M"
[[service.vllm.lora.adapter]]
name = "support"
rank = 8
[[service.vllm.lora.adapter]]
name = "sql"
rank = 16

[[service]]
name = "coder"
engine = "vllm"
replicas = 1
dispatch = "router"
[service.vllm]
num_gpu_blocks = 4000
[service.vllm.step_time]
base = "10ms"

[[route]]
model = "llama-8b"
service = "chat"
[[route]]
model = "qwen-coder"
service = "coder"

[traffic]
kind = "mix"
[traffic.tokens]
prompt = { distribution = "fixed", value = 100 }
output = { distribution = "fixed", value = 20 }
[[traffic.stream]]
name = "helpdesk"
model = "support"
kind = "poisson"
rate = 3
[[traffic.stream]]
name = "analyst"
model = "sql"
kind = "poisson"
rate = 2
[[traffic.stream]]
name = "plain"
model = "llama-8b"
kind = "poisson"
rate = 4
[[traffic.stream]]
name = "dev"
model = "qwen-coder"
kind = "poisson"
rate = 1
"#;

/// A request naming an adapter goes to its base model's service and runs with that adapter;
/// one naming the base model runs without (no popularity law is set); the other service sees
/// none. Only the adapter streams' requests count as adapter requests.
#[test]
fn the_gateway_routes_adapter_names_to_their_base_models_service() {
    let s = parse_scenario(GATEWAY, "gateway-lora.toml").unwrap_or_else(|e| panic!("{e}"));
    let g = s.gateway.as_ref().expect("a gateway");
    assert_eq!(g.resolve(Some("sql")), Some((0, 2)));
    assert_eq!(g.resolve(Some("llama-8b")), Some((0, 0)));
    assert_eq!(g.resolve(Some("nobody")), None);
    let r = run_conserving(&s, Inputs::default());
    let svc = |name: &str| r.summary.services.iter().find(|x| x.name == name).unwrap();
    let chat = svc("chat");
    let lora = chat
        .tokens
        .as_ref()
        .unwrap()
        .lora
        .expect("chat serves adapters");
    let coder = svc("coder");
    assert!(coder.tokens.as_ref().unwrap().lora.is_none());
    // About (3 + 2) / (3 + 2 + 4) of chat's requests name an adapter.
    let share = lora.adapter_requests as f64 / chat.requests.arrived as f64;
    assert!(
        (0.45..0.65).contains(&share),
        "{share} of {}",
        chat.requests.arrived
    );
    assert!(
        lora.cold_loads >= 2 && lora.router_hit_ratio.unwrap() > 0.5,
        "{lora:?}"
    );
}

fn err(text: &str) -> String {
    match parse_scenario(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// 1-based line and column of the value in the one occurrence of `needle` (`key = value`:
/// the value; otherwise its start).
fn pos(text: &str, needle: &str) -> String {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` once");
    let skip = needle.find("= ").map_or(0, |i| i + 2);
    let before = &text[..text.find(needle).unwrap() + skip];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("bad.toml:{line}:{col}")
}

fn expect(text: &str, at: &str, key: &str, parts: &[&str]) {
    let e = err(text);
    let head = format!("{}: key `{key}`", pos(text, at));
    assert!(e.starts_with(&head), "expected {head}, got {e}");
    for p in parts {
        assert!(e.contains(p), "expected {p:?} in {e}");
    }
}

/// An adapter of rank 32 on an engine whose `max_lora_rank` is 16 (vLLM's default) is refused
/// at its `rank`, naming the limit and the allowed ranks; so is a `max_lora_rank` vLLM does not
/// allow, and `max_cpu_loras` below `max_loras`.
#[test]
fn adapter_ranks_and_cache_sizes_are_checked() {
    let text = GATEWAY.replace("rank = 16", "rank = 32");
    expect(
        &text,
        "rank = 32",
        "service[0].vllm.lora.adapter[1].rank",
        &["at most max_lora_rank (16)", "found 32", "320"],
    );
    let text = GATEWAY.replace("max_loras = 2", "max_loras = 2\nmax_lora_rank = 24");
    expect(
        &text,
        "max_lora_rank = 24",
        "service[0].vllm.lora.max_lora_rank",
        &["1, 8, 16, 32, 64, 128, 256, 320, 512", "found 24"],
    );
    let text = GATEWAY.replace("max_loras = 2", "max_loras = 2\nmax_cpu_loras = 1");
    expect(
        &text,
        "max_cpu_loras = 1",
        "service[0].vllm.lora.max_cpu_loras",
        &["at least max_loras (2)"],
    );
    let text = GATEWAY.replace(
        "bytes_per_rank = \"5M\"",
        "popularity = \"pareto\"\nbytes_per_rank = \"5M\"",
    );
    expect(
        &text,
        "popularity = \"pareto\"",
        "service[0].vllm.lora.popularity",
        &["`uniform` or `zipf`"],
    );
    let text = GATEWAY.replace("bytes_per_rank = \"5M\"\n", "");
    expect(
        &text,
        "[service.vllm.lora]",
        "service[0].vllm.lora.bytes_per_rank",
        &["bytes_per_rank"],
    );
}

/// The gateway routes on names: an adapter name that a second service also serves, or that a
/// `[[route]]` names as a model, is refused at the adapter's `name`.
#[test]
fn an_adapter_name_routes_to_one_service() {
    let two = GATEWAY.replace(
        "[service.vllm.step_time]\nbase = \"10ms\"\n\n[[route]]",
        "[service.vllm.step_time]\nbase = \"10ms\"\n[service.vllm.lora]\nbytes_per_rank = \"5M\"\n[[service.vllm.lora.adapter]]\nname = \"sql\" # again\nrank = 8\n\n[[route]]",
    );
    expect(
        &two,
        "name = \"sql\" # again",
        "service[1].vllm.lora.adapter[0].name",
        &["\"sql\" is an adapter of service[0] (\"chat\")"],
    );
    let clash = GATEWAY.replace("name = \"support\"", "name = \"qwen-coder\"");
    expect(
        &clash,
        "name = \"qwen-coder\"",
        "service[0].vllm.lora.adapter[0].name",
        &["route 1", "\"coder\""],
    );
    let twice = GATEWAY.replace("name = \"sql\"", "name = \"support\"");
    let e = err(&twice);
    assert!(
        e.contains("service[0].vllm.lora.adapter[1].name") && e.contains("named once"),
        "{e}"
    );
}
