//! Traffic: each trace format's sample replays with the expected request count and first and last
//! arrival times; generators and mixes run through `capsim run`; bad trace input is refused with
//! the file, row and column.

use crate::common::{capsim_text, entries, root};

/// A Triton-style service fast enough that every request completes.
fn scenario(horizon: &str, traffic: &str) -> String {
    format!(
        r#"name = "traffic-test"
[simulation]
seed = 3
horizon = "{horizon}"
sample_interval = "1m"

[service]
name = "m"
replicas = 64
dispatch = "shared"

[service.service_time]
distribution = "deterministic"
base = "1ms"

{traffic}
"#
    )
}

fn trace_traffic(sample: &str, format: &str, extra: &str) -> String {
    let path = root().join("scenarios/traces").join(sample);
    format!(
        "[traffic]\nkind = \"trace\"\npath = \"{}\"\nformat = \"{format}\"\n{extra}",
        path.display()
    )
}

/// Runs `text` with `--requests`; returns (arrival times sorted, summary.json).
fn run(text: &str) -> (Vec<f64>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--requests",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "arrival_s").unwrap();
    let mut times: Vec<f64> = lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    times.sort_by(f64::total_cmp);
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (times, summary)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn check_replay(times: &[f64], n: usize, first: f64, last: f64) {
    assert_eq!(times.len(), n);
    assert!(close(times[0], first), "first {} vs {first}", times[0]);
    assert!(
        close(*times.last().unwrap(), last),
        "last {:?} vs {last}",
        times.last()
    );
}

fn tenants(summary: &serde_json::Value) -> Vec<(String, u64)> {
    summary["tenants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap().to_string(),
                        t["arrived"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn azure_2023_sample_replays() {
    let (t, _) = run(&scenario(
        "2h",
        &trace_traffic(
            "azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv",
            "azure-llm-2023",
            "",
        ),
    ));
    check_replay(&t, 8819, 0.0, 3435.948056);
}

#[test]
fn azure_2024_sample_replays() {
    let (t, _) = run(&scenario(
        "1m",
        &trace_traffic("azure-llm-inference-2024/sample.csv", "azure-llm-2024", ""),
    ));
    check_replay(&t, 60, 0.0, 35.450723);
}

#[test]
fn burstgpt_sample_replays_with_models_as_tenants() {
    let (t, s) = run(&scenario(
        "2m",
        &trace_traffic("burstgpt/sample.csv", "burstgpt", ""),
    ));
    check_replay(&t, 80, 6.0, 93.0);
    assert_eq!(
        tenants(&s),
        vec![("ChatGPT".to_string(), 57), ("GPT-4".to_string(), 23)]
    );
}

#[test]
fn mooncake_sample_replays() {
    let (t, _) = run(&scenario(
        "1m",
        &trace_traffic("mooncake/conversation-sample.jsonl", "mooncake", ""),
    ));
    check_replay(&t, 100, 0.0, 33.0);
}

#[test]
fn generic_csv_sample_replays_with_mapped_columns() {
    let columns = "[traffic.columns]\ntimestamp = \"arrival_ms\"\ntime_unit = \"ms\"\n\
                   prompt_tokens = \"in_tokens\"\noutput_tokens = \"out_tokens\"\n\
                   tenant = \"customer\"\n";
    let (t, s) = run(&scenario(
        "1m",
        &trace_traffic("generic-csv/sample.csv", "csv", columns),
    ));
    check_replay(&t, 50, 0.159, 17.059);
    assert_eq!(
        tenants(&s),
        vec![
            ("acme".to_string(), 19),
            ("initech".to_string(), 18),
            ("globex".to_string(), 13)
        ]
    );
}

#[test]
fn window_speed_up_and_scale_apply_to_a_replay() {
    // BurstGPT rows from 20 s to 60 s, twice as fast, each kept twice.
    let (t, _) = run(&scenario(
        "2m",
        &trace_traffic(
            "burstgpt/sample.csv",
            "burstgpt",
            "start = \"20s\"\nend = \"60s\"\nspeed_up = 2.0\nscale = 2.0\n",
        ),
    ));
    let text =
        std::fs::read_to_string(root().join("scenarios/traces/burstgpt/sample.csv")).unwrap();
    let kept: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse::<f64>().unwrap())
        .filter(|&s| (20.0..60.0).contains(&s))
        .collect();
    assert_eq!(t.len(), 2 * kept.len());
    assert!(close(t[0], (kept[0] - 20.0) / 2.0));
    assert!(close(
        *t.last().unwrap(),
        (kept.last().unwrap() - 20.0) / 2.0
    ));
}

#[test]
fn servegen_sample_generates_its_rates() {
    // 48 h of 10-minute windows; the first with requests starts at 31,800 s. Expected 43,544
    // requests (Σ rate × 600 s); a Gamma renewal per window with CVs near 1-10 varies more than
    // Poisson, so allow 5%.
    let (t, _) = run(&scenario(
        "49h",
        &trace_traffic("alibaba-servegen/m-large-chunk-1-trace.csv", "servegen", ""),
    ));
    let n = t.len() as f64;
    assert!((n / 43_544.0 - 1.0).abs() < 0.05, "{n}");
    assert!((31_800.0..32_400.0).contains(&t[0]), "{}", t[0]);
    assert!(*t.last().unwrap() < 172_800.0);
}

#[test]
fn alibaba_qps_sample_generates_its_rates() {
    // 57 one-minute buckets summing to 19,585 expected requests (Poisson: σ ≈ 140).
    let (t, _) = run(&scenario(
        "1h",
        &trace_traffic(
            "alibaba-genai-qps/qps-sample.csv",
            "alibaba-genai-qps",
            "request_type = \"Generative Requests\"\n",
        ),
    ));
    let n = t.len() as f64;
    assert!((n - 19_585.2).abs() < 700.0, "{n}");
    assert!(t[0] < 1.0, "{}", t[0]);
    assert!(*t.last().unwrap() < 57.0 * 60.0);
}

#[test]
fn mix_tags_tenants_and_is_deterministic() {
    let traffic = r#"[traffic]
kind = "mix"

[[traffic.stream]]
name = "chat"
kind = "mmpp"
[[traffic.stream.state]]
rate = 40.0
mean_sojourn = "20s"
[[traffic.stream.state]]
rate = 5.0
mean_sojourn = "60s"

[[traffic.stream]]
name = "batch"
kind = "gamma"
rate = 10.0
cv = 3.0

[[traffic.stream]]
name = "launch"
kind = "spikes"
rate = 1.0
[[traffic.stream.spike]]
at = "5m"
duration = "1m"
multiplier = 50.0
"#;
    let text = scenario("10m", traffic);
    let (t1, s1) = run(&text);
    let (t2, s2) = run(&text);
    assert_eq!(t1, t2);
    assert_eq!(s1, s2);
    let tn = tenants(&s1);
    let names: Vec<&str> = tn.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names, ["chat", "batch", "launch"]);
    let total: u64 = tn.iter().map(|t| t.1).sum();
    assert_eq!(total as usize, t1.len());
    // Means: chat (40×20 + 5×60)/80 = 13.75/s, batch 10/s, launch 1/s + 49/s for 60 s.
    let expect = [13.75 * 600.0, 6000.0, 600.0 + 49.0 * 60.0];
    for ((name, n), e) in tn.iter().zip(expect) {
        assert!((*n as f64 / e - 1.0).abs() < 0.3, "{name}: {n} vs {e}");
    }
}

#[test]
fn a_mix_can_hold_traces() {
    let burst = root().join("scenarios/traces/burstgpt/sample.csv");
    let moon = root().join("scenarios/traces/mooncake/conversation-sample.jsonl");
    let traffic = format!(
        "[traffic]\nkind = \"mix\"\n\
         [[traffic.stream]]\nname = \"burst\"\nkind = \"trace\"\npath = \"{}\"\nformat = \"burstgpt\"\n\
         [[traffic.stream]]\nname = \"steady\"\nkind = \"poisson\"\nrate = 2.0\n\
         [[traffic.stream]]\nname = \"moon\"\nkind = \"trace\"\npath = \"{}\"\nformat = \"mooncake\"\n",
        burst.display(),
        moon.display()
    );
    let (t, s) = run(&scenario("100s", &traffic));
    let tn = tenants(&s);
    assert_eq!(tn[0], ("burst".to_string(), 80));
    assert_eq!(tn[2], ("moon".to_string(), 100));
    assert_eq!(t.len() as u64, 180 + tn[1].1);
    assert!((tn[1].1 as f64 - 200.0).abs() < 75.0, "{tn:?}");
}

#[test]
fn example_scenarios_with_generators_validate() {
    for s in ["scenarios/diurnal.toml", "scenarios/tenant-mix.toml"] {
        let (code, out, err) = capsim_text(&["validate", s]);
        assert_eq!(code, 0, "{s}: {err}");
        assert!(out.starts_with("ok: "), "{out}");
    }
}

/// Runs `capsim run` on `text` (trace beside it as `t.csv` holding `trace`), expecting bad input.
fn refused(text: &str, trace: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), trace).unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 2, "{stdout} {stderr}");
    assert!(entries(&out).is_empty(), "no output on bad input");
    stderr
}

fn local(format: &str, extra: &str) -> String {
    scenario(
        "1m",
        &format!("[traffic]\nkind = \"trace\"\npath = \"t.csv\"\nformat = \"{format}\"\n{extra}"),
    )
}

#[test]
fn a_trace_missing_a_mapped_column_is_refused() {
    let err = refused(
        &local(
            "csv",
            "[traffic.columns]\ntimestamp = \"ts\"\nprompt_tokens = \"in\"\n",
        ),
        "ts,out\n0.5,10\n",
    );
    assert!(
        err.contains("t.csv:1: column `in`: missing column `in`"),
        "{err}"
    );
    assert!(err.contains("traffic.columns.prompt_tokens"), "{err}");
    assert!(err.contains("the header is `ts,out`"), "{err}");
}

#[test]
fn bad_trace_rows_name_the_row_and_column() {
    let burst = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
                 1,ChatGPT,10,20,30,API log\n2,GPT-4,many,20,30,API log\n";
    let err = refused(&local("burstgpt", ""), burst);
    assert!(
        err.contains(
            "t.csv:3: column `Request tokens`: expected a whole number of tokens, found `many`"
        ),
        "{err}"
    );
    let err = refused(
        &local("azure-llm-2024", ""),
        "TIMESTAMP,ContextTokens\n2024-05-10 00:00:00+00:00,5\n",
    );
    assert!(err.contains("missing column `GeneratedTokens`"), "{err}");
    let err = refused(
        &local("mooncake", ""),
        "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{\"timestamp\": 5, \"input_length\": 5}\n",
    );
    assert!(
        err.contains("t.csv:2: column `output_length`: missing"),
        "{err}"
    );
    let err = refused(&local("csv", ""), "timestamp\n2\n1\n");
    assert!(
        err.contains("t.csv:3: column `timestamp`: timestamps must not decrease"),
        "{err}"
    );
    let err = refused(&local("servegen", ""), "0,1.0,1.0\n600,lots,1.0\n");
    assert!(err.contains("t.csv:2: column `2 (rate)`"), "{err}");
}

#[test]
fn misplaced_traffic_keys_are_refused() {
    let err = refused(
        &local("burstgpt", "[traffic.columns]\ntimestamp = \"t\"\n"),
        "",
    );
    assert!(
        err.contains("`columns` applies only to format csv"),
        "{err}"
    );
    let one_state = scenario(
        "1m",
        "[traffic]\nkind = \"mmpp\"\n[[traffic.state]]\nrate = 1.0\nmean_sojourn = \"1s\"\n",
    );
    let err = refused(&one_state, "");
    assert!(
        err.contains("expected at least two [[traffic.state]]"),
        "{err}"
    );
    let short = scenario(
        "1m",
        "[traffic]\nkind = \"diurnal\"\nrate = 1.0\nhourly = [1.0, 2.0]\n",
    );
    let err = refused(&short, "");
    assert!(
        err.contains("expected 24 multipliers, one per hour, found 2"),
        "{err}"
    );
    let gamma = scenario(
        "1m",
        "[traffic]\nkind = \"gamma\"\nrate = 1.0\ncv = 1.0\npath = \"x\"\n",
    );
    let err = refused(&gamma, "");
    assert!(
        err.contains("`path` is not used with kind = \"gamma\""),
        "{err}"
    );
}
