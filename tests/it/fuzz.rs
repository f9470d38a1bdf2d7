//! Fuzzing that stays: every parser gets mutated copies of the shipped examples and must answer
//! with a result or an error, never a panic (an abort would end the test binary). The inputs are
//! seeded from `scenarios/`, `tests/hpa/` and `sim-core/calibration/`, the mutations (byte flips,
//! cuts, duplicated lines, numbers and YAML features that once caused trouble) are drawn by
//! proptest from a fixed seed, so a run is reproducible; a failing case is printed shrunk. The
//! case counts below add up to 2,464 library cases and 16 `capsim validate` runs.
//!
//! Where a parser accepts a scenario, the scenario must also be within every limit, and a small
//! one (under 200,000 requests and a million events by its estimate; 74 of the 800 cases) is run
//! whole, conserving requests.

use crate::common::{capsim_text, root};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sim_core::scenario::limits::{check, Estimate};
use sim_core::scenario::manifest::read_manifests;
use sim_core::scenario::{ColumnMap, TraceFormat};
use sim_core::traffic::formats::rates::{read_genai_qps, read_servegen};
use sim_core::traffic::formats::LineLimit;
use sim_core::traffic::{read_mooncake, TraceReader};
use std::io::BufReader;
use std::path::Path;

/// Text spliced into inputs: numbers at and past every limit, special floats, YAML features the
/// manifest reader refuses, structure characters, invalid UTF-8.
const SPLICES: [&[u8]; 24] = [
    b"1e308",
    b"nan",
    b"-inf",
    b"-1",
    b"0",
    b"4294967295",
    b"18446744073709551616",
    b"99999999999999",
    b"1ns",
    b"36500d",
    b"9999999999Ei",
    b"0.5",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"\n",
    b"[",
    b"{",
    b"\"",
    b",",
    b"2023-02-30 00:00:00",
    b"\xff\xfe",
    b"\n---\n",
    b"= ",
];

/// One mutation: where (a fraction of the length, as u32), what, and a byte.
type Edit = (u32, u8, u8);

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for &(at, op, byte) in edits {
        let i = if v.is_empty() {
            0
        } else {
            (at as usize) % (v.len() + 1)
        };
        match op % 5 {
            0 => {
                let s = SPLICES[byte as usize % SPLICES.len()];
                v.splice(i..i, s.iter().copied());
            }
            1 => {
                // Cut up to `byte` bytes.
                let end = (i + byte as usize).min(v.len());
                v.drain(i..end);
            }
            2 if i < v.len() => v[i] ^= byte | 1,
            3 => {
                // Duplicate the line around `i`.
                let start = v[..i]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let end = v[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(v.len(), |p| i + p + 1);
                let line = v[start..end].to_vec();
                v.splice(start..start, line);
            }
            _ => {
                // Replace a digit with many.
                if let Some(p) = v[i..].iter().position(u8::is_ascii_digit) {
                    let d = v[i + p];
                    v.splice(i + p..i + p, std::iter::repeat_n(d, 1 + byte as usize % 24));
                }
            }
        }
    }
    v
}

/// Runs `cases` mutated copies of `seeds` through `parse`; returns the number of cases run.
fn fuzz(name: &str, seeds: &[Vec<u8>], cases: u32, parse: impl Fn(&[u8])) -> u32 {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (
        0..seeds.len(),
        proptest::collection::vec((any::<u32>(), any::<u8>(), any::<u8>()), 1..6),
    );
    let result = runner.run(&strategy, |(s, edits)| {
        parse(&apply(&seeds[s], &edits));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    cases
}

/// The files under `dir` (relative to the root) whose names end with `ext`, each cut to its
/// first `max` bytes (at a line end).
fn seeds(dir: &str, ext: &str, max: usize) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
        .collect();
    paths.sort();
    paths.iter().map(|p| head(p, max)).collect()
}

fn head(path: &Path, max: usize) -> Vec<u8> {
    let mut b = std::fs::read(path).unwrap();
    if b.len() > max {
        let cut = b[..max]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(max, |p| p + 1);
        b.truncate(cut);
    }
    b
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn scenario_files() {
    let seeds = seeds("scenarios", ".toml", 1 << 16);
    let ran = std::cell::Cell::new(0u32);
    fuzz(
        "scenario",
        &seeds,
        800,
        |b| match sim_core::parse_scenario(&text(b), "f.toml") {
            Ok(s) => {
                assert_eq!(
                    check(&s),
                    Ok(()),
                    "an accepted scenario is within every limit"
                );
                let estimate = Estimate::of(&s, None);
                let _ = estimate.line();
                // What validate accepts, run completes: a small accepted scenario is run whole
                // (without its trace files: a scenario that needs one is refused by World::new
                // or runs without), conserving requests.
                let small = estimate.requests.is_some_and(|r| r < 200_000.0)
                    && estimate.events < 1_000_000.0
                    && estimate.memory_bytes < 1e8;
                if small {
                    if let Ok(w) = sim_core::World::new(&s, sim_core::Inputs::default()) {
                        let r = w.run(&mut sim_core::metrics::NoSink);
                        let c = &r.summary.requests;
                        assert_eq!(c.arrived, c.completed + c.dropped + c.in_flight);
                        ran.set(ran.get() + 1);
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
    );
    // Many mutants are still small valid scenarios: the property is exercised, not vacuous.
    assert!(ran.get() >= 50, "only {} accepted cases ran", ran.get());
    eprintln!("fuzz scenario: {} accepted cases run whole", ran.get());
}

#[test]
fn manifests() {
    let mut seeds = seeds("scenarios/manifests", ".yaml", 1 << 16);
    seeds.extend(self::seeds("scenarios/kserve", ".yaml", 1 << 16));
    seeds.extend(self::seeds("scenarios/manifests-ops", ".yaml", 1 << 16));
    fuzz("manifest", &seeds, 500, |b| {
        if let Err(e) = read_manifests(&[("m.yaml".to_string(), text(b))]) {
            let _ = e.to_string();
        }
    });
}

#[test]
fn request_traces() {
    let t = "scenarios/traces";
    let seeds: Vec<(TraceFormat, Vec<u8>)> = vec![
        (
            TraceFormat::AzureLlm2023,
            head(
                &root()
                    .join(t)
                    .join("azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv"),
                4096,
            ),
        ),
        (
            TraceFormat::AzureLlm2024,
            head(
                &root().join(t).join("azure-llm-inference-2024/sample.csv"),
                4096,
            ),
        ),
        (
            TraceFormat::BurstGpt,
            head(&root().join(t).join("burstgpt/sample.csv"), 4096),
        ),
        (
            TraceFormat::Csv,
            head(&root().join(t).join("generic-csv/sample.csv"), 4096),
        ),
        (
            TraceFormat::Mooncake,
            head(
                &root().join(t).join("mooncake/conversation-sample.jsonl"),
                4096,
            ),
        ),
    ];
    let (formats, bytes): (Vec<_>, Vec<_>) = seeds.into_iter().unzip();
    // Each seed is read in its own format: the format index is taken from the seed's position.
    let tagged: Vec<Vec<u8>> = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| [vec![i as u8], b.clone()].concat())
        .collect();
    fuzz("request trace", &tagged, 600, |b| {
        let Some((&tag, body)) = b.split_first() else {
            return;
        };
        let format = formats[tag as usize % formats.len()];
        let reader = BufReader::new(LineLimit::new(body));
        match TraceReader::new(reader, "t.csv", format, &ColumnMap::default()) {
            Ok(mut r) => while let Ok(Some(_)) = r.next_record() {},
            Err(e) => {
                let _ = e.to_string();
            }
        }
        if format == TraceFormat::Mooncake {
            let _ = read_mooncake(BufReader::new(LineLimit::new(body)), "t.jsonl");
        }
    });
}

#[test]
fn rate_traces() {
    let t = root().join("scenarios/traces");
    let seeds = vec![
        [
            vec![0],
            head(&t.join("alibaba-servegen/m-large-chunk-1-trace.csv"), 4096),
        ]
        .concat(),
        [
            vec![1],
            head(&t.join("alibaba-genai-qps/qps-sample.csv"), 4096),
        ]
        .concat(),
    ];
    fuzz("rate trace", &seeds, 300, |b| {
        let Some((&tag, body)) = b.split_first() else {
            return;
        };
        let r = if tag % 2 == 0 {
            read_servegen(LineLimit::new(body), "r.csv")
        } else {
            read_genai_qps(
                LineLimit::new(body),
                "r.csv",
                sim_core::engine::SimDuration::from_secs(1),
                None,
            )
        };
        if let Err(e) = r {
            let _ = e.to_string();
        }
    });
}

#[test]
fn hpa_cases() {
    let seeds = seeds("tests/hpa", ".toml", 1 << 16);
    fuzz("hpa case", &seeds, 200, |b| {
        let _ = sim_core::hpa::case::run_case(&text(b), "c.toml");
    });
}

#[test]
fn calibration_and_pack_csvs() {
    let cal = seeds("sim-core/calibration/h100", ".csv", 8192);
    fuzz("calibration csv", &cal, 32, |b| {
        let _ = sim_core::costmodel::read_profile_csv(&text(b), "m.csv");
    });
    let openb = root().join("scenarios/traces/alibaba-openb");
    let nodes = text(&head(&openb.join("openb_node_list_gpu_node.csv"), 8192));
    let pods = head(&openb.join("openb_pod_list_default.csv"), 8192);
    let node_seed = vec![nodes.clone().into_bytes()];
    fuzz("pack nodes csv", &node_seed, 16, |b| {
        let _ = sim_core::gpu::parse_nodes("n.csv", &text(b));
    });
    let trace = sim_core::gpu::parse_nodes("n.csv", &nodes).expect("shipped node list");
    fuzz("pack pods csv", &[pods], 16, |b| {
        let _ = sim_core::gpu::parse_pods("p.csv", &text(b), &mut trace.clone());
    });
}

/// Sweep files are read by the CLI: a few mutated copies through `capsim validate`, each exiting
/// 0 (valid) or 2 (bad input) without a panic.
#[test]
fn sweep_files() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = root().join("scenarios/quickstart.toml");
    let grid = std::fs::read_to_string(root().join("tests/sweep/grid16.toml"))
        .unwrap()
        .replace(
            "../../scenarios/quickstart.toml",
            quickstart.to_str().unwrap(),
        );
    let seeds = vec![grid.into_bytes()];
    let n = std::cell::Cell::new(0);
    fuzz("sweep file", &seeds, 16, |b| {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("sweep{}.toml", n.get()));
        std::fs::write(&path, b).unwrap();
        let (code, _, stderr) = capsim_text(&["validate", path.to_str().unwrap()]);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(code == 0 || code == 2, "exit {code}: {stderr}");
    });
}
