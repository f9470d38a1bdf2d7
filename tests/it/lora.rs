//! LoRA adapters: the LoRA-aware router against adapter-blind ones on skewed adapter
//! popularity, 50 adapters on a few replicas against one Deployment per fine-tune (and the
//! book's tables of both), adapter names at the model-aware gateway, and the located errors of
//! bad `[service.vllm.lora]` input.

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

/// The `[traffic]` tables of a scenario file of the LoRA comparison: from `[traffic]` to the
/// next comment after a blank line (the policies), or the end.
fn traffic_of(text: &str) -> &str {
    let from = text.find("\n[traffic]\n").expect("a top-level [traffic]");
    let rest = &text[from..];
    rest[..rest.find("\n\n#").unwrap_or(rest.len())].trim_end()
}

/// `scenarios/lora-50-adapters.toml` and `scenarios/lora-50-deployments.toml` send the same
/// gateway traffic: one Poisson stream per fine-tune whose rates are the Zipf shares (exponent
/// 1.1) of 12 requests/s, as `scripts/lora-vs-deployments.py` writes them.
#[test]
fn the_lora_comparison_scenarios_share_their_traffic() {
    let read = |f: &str| std::fs::read_to_string(root().join("scenarios").join(f)).unwrap();
    let (a, d) = (
        read("lora-50-adapters.toml"),
        read("lora-50-deployments.toml"),
    );
    let t = traffic_of(&a);
    assert_eq!(traffic_of(&d), t);
    let rates: Vec<f64> = t
        .lines()
        .filter_map(|l| l.strip_prefix("rate = "))
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(rates.len(), 50);
    let w: Vec<f64> = (1..=50).map(|k| (k as f64).powf(-1.1)).collect();
    let sum: f64 = w.iter().sum();
    for (r, w) in rates.iter().zip(&w) {
        assert!(
            (r - 12.0 * w / sum).abs() < 1e-6,
            "{r} vs {}",
            12.0 * w / sum
        );
    }
}

/// The book's comparison of 50 fine-tunes served as LoRA adapters of one Deployment (each
/// variant of `scenarios/lora-50-adapters.toml`) against one Deployment per fine-tune
/// (`scenarios/lora-50-deployments.toml`), on the same traffic: GPUs, cost per hour, TTFT,
/// TPOT and SLO attainment (`book/src/generated/lora-vs-deployments.md`).
#[test]
fn lora_adapters_serve_fifty_fine_tunes_on_fewer_gpus_than_fifty_deployments() {
    let catalog = Catalog::builtin();
    let read = |f: &str| std::fs::read_to_string(root().join("scenarios").join(f)).unwrap();
    let mut runs: Vec<(String, serde_json::Value)> = Vec::new();
    for file in ["lora-50-adapters.toml", "lora-50-deployments.toml"] {
        let text = read(file);
        let stem = file.trim_end_matches(".toml");
        let mut scenarios: Vec<(String, sim_core::Scenario)> =
            parse_variants(&text, file, &catalog)
                .unwrap()
                .into_iter()
                .map(|v| (format!("`{stem}` · `{}`", v.name), v.scenario))
                .collect();
        if scenarios.is_empty() {
            scenarios.push((format!("`{stem}`"), parse_scenario(&text, file).unwrap()));
        }
        for (label, s) in &scenarios {
            let r = run_conserving(s, Inputs::default());
            runs.push((
                label.clone(),
                serde_json::from_str(&r.summary_json()).unwrap(),
            ));
        }
    }
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    // SLO attainment over every measured request that finished: the run's own, or, with a
    // target per service, each service's weighted by its finished requests.
    let met = |s: &serde_json::Value| -> f64 {
        if let Some(r) = s["tokens"]["attainment_ratio"].as_f64() {
            return r;
        }
        let (mut met, mut n) = (0.0, 0.0);
        for x in s["services"].as_array().unwrap() {
            let finished = f(&x["measured"]["completed"]) + f(&x["measured"]["dropped"]);
            met += f(&x["tokens"]["attainment_ratio"]) * finished;
            n += finished;
        }
        met / n
    };
    let gpus =
        |s: &serde_json::Value| f(&s["cluster"]["gpu_hours"]) / (f(&s["horizon_s"]) / 3600.0);
    let cost = |s: &serde_json::Value| f(&s["cluster"]["cost_usd_per_hour"]);
    let ms = |v: &serde_json::Value| format!("{:.0}", f(v) * 1e3);
    let mut md = String::from(
        "| setup | GPUs | $/hour | TTFT p50 / p99 (ms) | TPOT p99 (ms) | SLO met | adapter loads (disk / host) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (label, s) in &runs {
        let t = &s["tokens"];
        let loads = match t.get("lora") {
            Some(l) if !l.is_null() => format!("{} / {}", l["cold_loads"], l["warm_loads"]),
            _ => "–".into(),
        };
        md.push_str(&format!(
            "| {label} | {:.0} | {:.2} | {} / {} | {:.1} | {:.2}% | {loads} |\n",
            gpus(s),
            cost(s),
            ms(&t["ttft_s"]["p50"]),
            ms(&t["ttft_s"]["p99"]),
            f(&t["tpot_s"]["p99"]) * 1e3,
            met(s) * 100.0,
        ));
    }
    // Same traffic: every run saw the same requests.
    for (_, s) in &runs {
        assert_eq!(s["requests"]["arrived"], runs[0].1["requests"]["arrived"]);
    }
    let find = |name: &str| {
        &runs
            .iter()
            .find(|r| r.0.contains(name))
            .unwrap_or_else(|| {
                panic!(
                    "{name} in {:?}",
                    runs.iter().map(|r| &r.0).collect::<Vec<_>>()
                )
            })
            .1
    };
    let deployments = find("lora-50-deployments");
    let shipped = find("4-replicas-4-slots");
    // One full copy per fine-tune needs a GPU each; LoRA on a few costs a fraction of it.
    assert_eq!(gpus(deployments).round(), 50.0);
    assert!(cost(shipped) * 5.0 < cost(deployments));
    let p99 = |s: &serde_json::Value, m: &str| f(&s["tokens"][m]["p99"]);
    // Two replicas with 4 adapter slots each miss the SLO: with 50 adapters a batch rarely
    // fills before its fifth distinct adapter waits. Every other setup meets it, LoRA with
    // longer TTFT and TPOT tails than one Deployment per fine-tune (as the book says).
    for (label, s) in &runs {
        if label.contains("2-replicas-4-slots") {
            assert!(met(s) < 0.9, "{label}");
            continue;
        }
        assert!(met(s) >= 0.99, "{label}");
        if !label.contains("deployments") {
            for m in ["ttft_s", "tpot_s"] {
                assert!(p99(s, m) > p99(deployments, m), "{label} {m}");
            }
        }
    }
    // The verdict: the cheapest setup that meets the SLO for at least 99% of requests.
    let (win, ws) = runs
        .iter()
        .filter(|r| met(&r.1) >= 0.99)
        .min_by(|a, b| cost(&a.1).total_cmp(&cost(&b.1)))
        .unwrap();
    md.push_str(&format!(
        "\nCheapest setup that meets the SLO (TTFT ≤ {} ms and TPOT ≤ {} ms) for at least 99% of requests: {win}, on {} at ${:.2}/hour, {:.0} times less than one Deployment per fine-tune.\n",
        ms(&ws["services"][0]["tokens"]["ttft_target_s"]),
        ms(&ws["services"][0]["tokens"]["tpot_target_s"]),
        match gpus(ws).round() as u64 {
            1 => "1 GPU".to_string(),
            n => format!("{n} GPUs"),
        },
        cost(ws),
        cost(deployments) / cost(ws),
    ));
    check_generated("lora-vs-deployments.md", &md);
}
