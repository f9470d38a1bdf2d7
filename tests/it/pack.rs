//! `capsim pack`: the FGD paper's packing experiment on the openb default trace, its determinism,
//! and its handling of bad input.

use crate::common::{capsim_text, entries, root};
use sim_core::gpu::pack::{mean_unallocated, to_csv};
use sim_core::gpu::{parse_nodes, parse_pods, run_grid, PackConfig, PackTrace, Policy};

const NODES: &str = "scenarios/traces/alibaba-openb/openb_node_list_gpu_node.csv";
const PODS: &str = "scenarios/traces/alibaba-openb/openb_pod_list_default.csv";

fn default_trace() -> PackTrace {
    let nodes = std::fs::read_to_string(root().join(NODES)).unwrap();
    let pods = std::fs::read_to_string(root().join(PODS)).unwrap();
    let mut t = parse_nodes(NODES, &nodes).unwrap();
    parse_pods(PODS, &pods, &mut t).unwrap();
    t
}

/// The paper artifact's mean unallocated GPU % at 100% arrived on the default trace (inflate 1.3,
/// seeds 42-51), from the FGD paper's expected results.
const PAPER: [(Policy, f64); 6] = [
    (Policy::Fgd, 4.77),
    (Policy::BestFit, 7.14),
    (Policy::Packing, 8.22),
    (Policy::Clustering, 8.35),
    (Policy::DotProd, 9.38),
    (Policy::Random, 13.70),
];

#[test]
fn default_trace_matches_the_paper_within_one_point() {
    let trace = default_trace();
    assert_eq!(trace.nodes.len(), 1213);
    assert_eq!(trace.capacity_milli(), 6_212_000);
    assert_eq!(trace.pods.len(), 8152);
    let cfg = PackConfig {
        policies: Policy::ALL.to_vec(),
        seeds: (42..=51).collect(),
        inflate: 1.3,
    };
    let runs = run_grid(&trace, &cfg);
    assert_eq!(runs.len(), 60);
    let mean = |p: Policy| mean_unallocated(&runs, p, 100).expect("every run reaches 100%");
    for (p, paper) in PAPER {
        let (m, n) = mean(p);
        assert_eq!(n, 10);
        assert!(
            (m - paper).abs() <= 1.0,
            "{p}: {m:.2}% unallocated, paper {paper:.2}%"
        );
    }
    let m = |p| mean(p).0;
    assert!(m(Policy::Fgd) < m(Policy::BestFit));
    assert!(m(Policy::BestFit) < m(Policy::Packing).min(m(Policy::Clustering)));
    assert!(m(Policy::Packing).max(m(Policy::Clustering)) < m(Policy::DotProd));
    assert!(m(Policy::DotProd) < m(Policy::Random));
    // Every run records every whole percent from 0 to at least 129, and nothing is over-allocated.
    for r in &runs {
        assert!(r.rows.len() >= 130, "{} {}", r.policy, r.seed);
        for (i, row) in r.rows.iter().enumerate() {
            assert_eq!(row.arrived_pct as usize, i);
            assert!(row.alloc_gpu_pct <= 100.0 + 1e-9);
            assert!(
                row.frag_gpu_pct >= 0.0 && row.frag_gpu_pct <= 100.0 - row.alloc_gpu_pct + 1e-6
            );
        }
    }
}

#[test]
fn results_are_identical_for_any_thread_count() {
    let trace = default_trace();
    let cfg = PackConfig {
        policies: Policy::ALL.to_vec(),
        seeds: vec![42, 43],
        inflate: 1.3,
    };
    let with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| to_csv(&run_grid(&trace, &cfg)))
    };
    let one = with(1);
    let two = with(2);
    assert_eq!(one, two);
    assert!(
        one.starts_with("policy,seed,arrived_pct,alloc_gpu_pct,frag_gpu_pct,unallocated_gpu_pct\n")
    );
    // Different seeds give different runs.
    assert_ne!(
        one.lines()
            .filter(|l| l.starts_with("fgd,42,100,"))
            .collect::<Vec<_>>(),
        one.lines()
            .filter(|l| l.starts_with("fgd,43,100,"))
            .map(|l| l.replacen("43", "42", 1))
            .collect::<Vec<_>>()
    );
}

#[test]
fn cli_writes_pack_csv_and_prints_the_means() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "pack",
        "--nodes",
        NODES,
        "--pods",
        PODS,
        "--policy",
        "fgd,bestfit",
        "--seeds",
        "42",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("fgd"), "{stdout}");
    assert!(stdout.contains("bestfit"), "{stdout}");
    assert_eq!(entries(&out), vec!["pack.csv"]);
    let csv = std::fs::read_to_string(out.join("pack.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("fgd,42,100,")));
    assert!(csv.lines().any(|l| l.starts_with("bestfit,42,0,0.0000,")));
    assert!(!csv.contains("random,"));
}

fn bad(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["pack"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let (code, _stdout, stderr) = capsim_text(&all);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: expected `{e}` in: {stderr}");
    }
    assert!(entries(&out).is_empty(), "no output on bad input");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    bad(
        &["--nodes", NODES, "--pods", PODS, "--policy", "tetris"],
        &["unknown policy `tetris`", "random, dotprod"],
    );
    bad(
        &["--nodes", NODES, "--pods", PODS, "--seeds", "9-3"],
        &["--seeds 9-3", "first seed is larger than the last"],
    );
    bad(
        &["--nodes", NODES, "--pods", PODS, "--seeds", "a-3"],
        &["--seeds a-3", "`a` is not a whole number"],
    );
    bad(
        &["--nodes", NODES, "--pods", PODS, "--inflate", "0"],
        &["--inflate"],
    );
    bad(
        &["--nodes", "no/such/nodes.csv", "--pods", PODS],
        &["no/such/nodes.csv", "cannot read"],
    );

    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods.csv");
    std::fs::write(
        &pods,
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,100,1,500,\np1,2000,100,1,1500,\n",
    )
    .unwrap();
    bad(
        &["--nodes", NODES, "--pods", pods.to_str().unwrap()],
        &["pods.csv: row 2, column `gpu_milli`", "0 to 1000", "1500"],
    );
    std::fs::write(&pods, "name,cpu_milli,memory_mib,num_gpu\np0,1000,100,1\n").unwrap();
    bad(
        &["--nodes", NODES, "--pods", pods.to_str().unwrap()],
        &["column `gpu_milli`", "missing column"],
    );
    std::fs::write(
        &pods,
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,100,1,500,extra\n",
    )
    .unwrap();
    bad(
        &["--nodes", NODES, "--pods", pods.to_str().unwrap()],
        &["row 1", "malformed CSV row"],
    );
}
