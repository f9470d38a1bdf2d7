//! Static batching (`[service.vllm] scheduler = "static"`) against continuous batching.

use sim_core::{parse_scenario, Inputs, RunResult, World};

fn scenario(scheduler: &str) -> String {
    format!(
        r#"
[simulation]
seed = 3
horizon = "2m"
warmup = "10s"
[service]
engine = "vllm"
replicas = 2
dispatch = "router"
router = "least-outstanding"
[service.vllm]
model = "llama-3.1-8b"
gpu = "h100-sxm"
{scheduler}
[traffic]
kind = "poisson"
rate = 8
[traffic.tokens]
prompt = {{ distribution = "uniform", min = 100, max = 1000 }}
output = {{ distribution = "uniform", min = 10, max = 400 }}
"#
    )
}

fn run(text: &str) -> RunResult {
    let s = parse_scenario(text, "static.toml").unwrap_or_else(|e| panic!("{e}"));
    World::new(&s, Inputs::default())
        .unwrap()
        .run(&mut sim_core::metrics::NoSink)
}

#[test]
fn static_batches_wait_for_their_longest_request() {
    let cont = run(&scenario(""));
    let stat = run(&scenario(
        "scheduler = \"static\"\nbatch_size = 16\nbatch_timeout = \"50ms\"",
    ));
    for r in [&cont, &stat] {
        let c = &r.summary.requests;
        assert_eq!(c.arrived, c.completed + c.dropped + c.in_flight);
        assert!(c.completed > 800, "{c:?}");
    }
    // Every request of a static batch ends with its longest, and new requests wait for the
    // batch to end: latency and TTFT are much worse than with continuous batching.
    let lat = |r: &RunResult| r.summary.latency_s.mean.unwrap();
    let ttft = |r: &RunResult| r.summary.tokens.as_ref().unwrap().ttft_s.mean.unwrap();
    assert!(
        lat(&stat) > 1.5 * lat(&cont),
        "{} {}",
        lat(&stat),
        lat(&cont)
    );
    assert!(
        ttft(&stat) > 2.0 * ttft(&cont),
        "{} {}",
        ttft(&stat),
        ttft(&cont)
    );
    let b = stat.summary.batch_size_mean.unwrap();
    assert!((1.0..=16.0).contains(&b), "{b}");
    assert_eq!(
        run(&scenario("scheduler = \"static\"\nbatch_size = 16"))
            .summary
            .requests
            .arrived,
        stat.summary.requests.arrived
    );
}

#[test]
fn static_keys_are_checked() {
    let err = |extra: &str| {
        parse_scenario(&scenario(extra), "static.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err("scheduler = \"static\"");
    assert!(
        e.contains("service.vllm.batch_size") && e.contains("missing"),
        "{e}"
    );
    let e = err("scheduler = \"static\"\nbatch_size = 0");
    assert!(e.contains("expected at least 1"), "{e}");
    let e = err("scheduler = \"static\"\nbatch_size = 4\nmax_num_seqs = 8");
    assert!(e.contains("service.vllm.max_num_seqs"), "{e}");
    let e = err("batch_size = 4");
    assert!(
        e.contains("service.vllm.batch_size") && e.contains("static"),
        "{e}"
    );
    let e = err("scheduler = \"static\"\nbatch_size = 4\nbatch_timeout = \"soon\"");
    assert!(e.contains("service.vllm.batch_timeout"), "{e}");
    let e = err("scheduler = \"batched\"");
    assert!(e.contains("service.vllm.scheduler"), "{e}");
}
