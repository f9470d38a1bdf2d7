//! Measured step-time tables selected by `[service.vllm.profile]` instead of the roofline.

use super::common::{capsim_text, root};
use std::path::PathBuf;

/// A folder with a one-request trace and a scenario whose `[service.vllm]` ends with `vllm`.
fn setup(name: &str, vllm: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("capsim-profile-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("one.csv"),
        "timestamp,prompt_tokens,output_tokens\n0,512,3\n",
    )
    .unwrap();
    let text = format!(
        r#"
[simulation]
horizon = "10s"
[service]
engine = "vllm"
dispatch = "router"
[service.vllm]
model = "llama-3.2-1b"
gpu = "h100-sxm"
{vllm}
[traffic]
kind = "trace"
format = "csv"
path = "one.csv"
"#
    );
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn calibration(f: &str) -> String {
    root()
        .join("sim-core/calibration")
        .join(f)
        .display()
        .to_string()
}

fn ttft_tpot(out: &std::path::Path) -> (f64, f64) {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let t = &s["tokens"];
    (
        t["ttft_s"]["mean"].as_f64().unwrap(),
        t["tpot_s"]["mean"].as_f64().unwrap(),
    )
}

#[test]
fn measured_tables_time_the_steps() {
    let (dir, file) = setup(
        "tables",
        &format!(
            "profile = {{ decode = {:?}, prefill = {:?} }}",
            calibration("h100/decode.csv"),
            calibration("h100/prefill.csv")
        ),
    );
    let out = dir.join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (ttft, tpot) = ttft_tpot(&out);
    // prefill.csv: batch 1, prompt 512: 2.6249 ms. decode.csv: batch 1 between context 512
    // (1.4508 ms) and 1024 (1.4653 ms), at the two decode steps' mean context, 513 (the segment
    // adds n(k − 1)/2 = 1/2 context token per sequence, rounded down).
    assert!((ttft - 2.6249e-3).abs() < 1e-9, "{ttft}");
    let decode = 1.4508 + (1.4653 - 1.4508) * 1.0 / 512.0;
    assert!((tpot - decode * 1e-3).abs() < 1e-9, "{tpot}");
    // Only the prefill table: decode steps fall back to the roofline.
    let (dir2, file2) = setup(
        "prefill-only",
        &format!(
            "profile = {{ prefill = {:?} }}",
            calibration("h100/prefill.csv")
        ),
    );
    let out2 = dir2.join("out");
    let (code, _, err) = capsim_text(&[
        "run",
        file2.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (ttft2, tpot2) = ttft_tpot(&out2);
    assert_eq!(ttft2, ttft);
    assert!(tpot2 != tpot);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn splitwise_curves_time_the_steps() {
    let (dir, file) = setup(
        "splitwise",
        &format!(
            "profile = {{ splitwise = {:?}, splitwise_model = \"llama2-70b\", splitwise_hardware = \"h100-80gb\" }}",
            calibration("splitwise/perf_model.csv")
        ),
    );
    let out = dir.join("out");
    let (code, stdout, err) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // llama2-70b on h100-80gb has no tensor_parallel = 1 rows: a clear error, exit 2.
    assert_eq!(code, 2, "{stdout}");
    assert!(err.contains("perf_model.csv"), "{err}");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "gpu = \"h100-sxm\"",
        "gpu = \"h100-sxm\"\ntensor_parallel_size = 4",
    );
    std::fs::write(&file, text).unwrap();
    let (code, _, err) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (ttft, tpot) = ttft_tpot(&out);
    // SplitwiseSim's 2023 measurements are far slower than the roofline's 1B model.
    assert!(ttft > 0.05 && tpot > 0.01, "{ttft} {tpot}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_profiles_are_named() {
    let cases = [
        (
            format!("profile = {{ decode = {:?} }}", calibration("h100/prefill.csv")),
            "expected a decode table",
        ),
        (
            "profile = { decode = \"missing.csv\" }".to_string(),
            "service.vllm.profile.decode",
        ),
        (
            format!(
                "profile = {{ decode = {:?}, splitwise = \"x.csv\", splitwise_model = \"m\", splitwise_hardware = \"h\" }}",
                calibration("h100/decode.csv")
            ),
            "not both",
        ),
        (
            "profile = { splitwise = \"x.csv\" }".to_string(),
            "service.vllm.profile.splitwise_model",
        ),
        ("profile = {}".to_string(), "expected `decode` or `prefill`"),
    ];
    for (i, (vllm, want)) in cases.iter().enumerate() {
        let (dir, file) = setup(&format!("bad{i}"), vllm);
        let (code, _, err) = capsim_text(&["validate", file.to_str().unwrap()]);
        let (code2, _, err2) = capsim_text(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ]);
        assert!(
            (code == 2 && err.contains(want)) || (code2 == 2 && err2.contains(want)),
            "{vllm}: {err} / {err2}"
        );
        assert!(!dir.join("out").join("summary.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // The model of the service must be in the table.
    let (dir, file) = setup(
        "model",
        &format!(
            "profile = {{ decode = {:?} }}",
            calibration("h100/decode.csv")
        ),
    );
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("llama-3.2-1b", "llama-3.1-8b");
    std::fs::write(&file, text).unwrap();
    let (code, _, err) = capsim_text(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no rows for the service's model `llama-3.1-8b`"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
