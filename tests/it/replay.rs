//! `capsim pack --replay`: a hand-checked timeline, determinism on the openb default trace, and bad
//! input.

use crate::common::{capsim_text, entries, root};
use sim_core::gpu::replay::{summarise, to_csv};
use sim_core::gpu::{parse_nodes, parse_pods, run_replay, PackTrace, Policy, ReplayConfig};

const NODES: &str = "scenarios/traces/alibaba-openb/openb_node_list_gpu_node.csv";
const PODS: &str = "scenarios/traces/alibaba-openb/openb_pod_list_default.csv";

const TINY_NODES: &str =
    "sn,cpu_milli,memory_mib,gpu,model\nn0,8000,65536,1,T4\nn1,8000,65536,1,T4\n";
const HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";
/// p0 holds a whole GPU from 0 to 20; p1 half a GPU from 10 to 30; p2 a whole GPU from 10 on, but
/// both GPUs are taken then, so it fails; p3 a whole GPU from 20 to 40, which fits only because
/// p0's departure at 20 comes before p3's arrival.
const TINY_PODS: &str = "p0,1000,1024,1,1000,,LS,Running,0,20,0\n\
p1,1000,1024,1,500,,LS,Running,10,30,10\n\
p2,1000,1024,1,1000,,LS,Running,10,,10\n\
p3,1000,1024,1,1000,,LS,Running,20,40,20\n";

/// Sampled every 10 s. Target workload: whole GPU (3 pods, freq 0.75) and half GPU (0.25). While
/// p1 holds half of one GPU, that GPU's 500 idle milli are fragmented for the whole-GPU shape:
/// 0.75 × 500 = 375 milli of 2000, 18.75%.
const TINY_ROWS: [&str; 5] = [
    "0,1,0,50.0000,0.0000,50.0000",
    "10,2,1,75.0000,18.7500,25.0000",
    "20,2,1,75.0000,18.7500,25.0000",
    "30,1,1,50.0000,0.0000,50.0000",
    "40,0,1,0.0000,0.0000,100.0000",
];

#[test]
fn tiny_trace_follows_the_hand_checked_timeline_for_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.csv");
    let pods = dir.path().join("pods.csv");
    std::fs::write(&nodes, TINY_NODES).unwrap();
    std::fs::write(&pods, format!("{HEADER}{TINY_PODS}")).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "pack",
        "--replay",
        "--nodes",
        nodes.to_str().unwrap(),
        "--pods",
        pods.to_str().unwrap(),
        "--policy",
        "all",
        "--seeds",
        "1-2",
        "--interval",
        "10s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("fgd"), "{stdout}");
    assert_eq!(entries(&out), vec!["replay.csv"]);
    let csv = std::fs::read_to_string(out.join("replay.csv")).unwrap();
    let mut expected = String::from(
        "policy,seed,time_s,pods_running,pods_failed_total,alloc_gpu_pct,frag_gpu_pct,unallocated_gpu_pct\n",
    );
    for p in Policy::ALL {
        for seed in 1..=2 {
            for row in TINY_ROWS {
                expected.push_str(&format!("{},{seed},{row}\n", p.name()));
            }
        }
    }
    assert_eq!(csv, expected);
}

fn default_trace() -> PackTrace {
    let nodes = std::fs::read_to_string(root().join(NODES)).unwrap();
    let pods = std::fs::read_to_string(root().join(PODS)).unwrap();
    let mut t = parse_nodes(NODES, &nodes).unwrap();
    parse_pods(PODS, &pods, &mut t).unwrap();
    t
}

#[test]
fn default_trace_replays_identically_for_any_thread_count() {
    let trace = default_trace();
    let times = trace
        .times
        .as_ref()
        .expect("the default pod list has times");
    assert_eq!(times.len(), 8152);
    let cfg = ReplayConfig {
        policies: Policy::ALL.to_vec(),
        seeds: vec![42, 43],
        interval_s: 3600,
    };
    let with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run_replay(&trace, &cfg).unwrap())
    };
    let one = with(1);
    let two = with(2);
    assert_eq!(to_csv(&one), to_csv(&two));
    // The trace ends at 12,902,960 s: samples every hour from 0 to 12,906,000 s.
    for r in &one {
        assert_eq!(r.rows.len(), 3586);
        assert_eq!(r.rows.last().unwrap().time_s, 12_906_000);
        assert_eq!(r.pods, 8152);
        for row in &r.rows {
            assert!(row.alloc_gpu_pct >= 0.0 && row.alloc_gpu_pct <= 100.0);
            assert!(
                row.frag_gpu_pct >= 0.0 && row.frag_gpu_pct <= 100.0 - row.alloc_gpu_pct + 1e-6
            );
        }
    }
    // The trace's pods never hold more than about 1% of the GPUs at once, so nothing fails.
    for p in Policy::ALL {
        let s = summarise(&one, p).unwrap();
        assert_eq!(s.runs, 2);
        assert_eq!(s.mean_failed, 0.0, "{p}");
        assert!(
            s.peak_alloc_gpu_pct > 0.5 && s.peak_alloc_gpu_pct < 1.5,
            "{p}: {s:?}"
        );
    }
}

fn bad(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec!["pack", "--replay"];
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
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.csv");
    std::fs::write(&nodes, TINY_NODES).unwrap();
    let nodes = nodes.to_str().unwrap().to_string();
    let pods = dir.path().join("pods.csv");
    let pods_s = pods.to_str().unwrap().to_string();
    let with_pods = |rows: &str| std::fs::write(&pods, format!("{HEADER}{rows}")).unwrap();

    with_pods("p0,1000,1024,1,1000,,LS,Running,30,20,30\n");
    bad(
        &["--nodes", &nodes, "--pods", &pods_s],
        &[
            "pods.csv: row 1, column `deletion_time`",
            "not before creation_time 30",
            "found 20",
        ],
    );
    with_pods("p0,1000,1024,1,1000,,LS,Running,0,20,0\np1,1000,1024,1,1000,,LS,Running,2.5h,,0\n");
    bad(
        &["--nodes", &nodes, "--pods", &pods_s],
        &[
            "pods.csv: row 2, column `creation_time`",
            "whole number",
            "`2.5h`",
        ],
    );
    with_pods("p0,1000,1024,1,1000,,LS,Running,0,soon,0\n");
    bad(
        &["--nodes", &nodes, "--pods", &pods_s],
        &["row 1, column `deletion_time`", "`soon`"],
    );
    // A pod list without times (as the multigpu files are) cannot be replayed.
    std::fs::write(
        &pods,
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,1000\n",
    )
    .unwrap();
    bad(
        &["--nodes", &nodes, "--pods", &pods_s],
        &["pods.csv", "creation_time", "--replay needs"],
    );
    with_pods(TINY_PODS);
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--interval", "0s"],
        &["--interval 0s", "whole number of seconds"],
    );
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--interval", "1.5s"],
        &["--interval 1.5s", "whole number of seconds"],
    );
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--interval", "hourly"],
        &["--interval", "hourly"],
    );
    // A pod deleted 2^40 s in, sampled every second: about 1.1e12 samples per run would be
    // kept, so the replay is refused before anything is allocated (issue #18).
    with_pods("p0,1000,1024,1,1000,,LS,Running,0,1099511627776,0\n");
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--interval", "1s"],
        &[
            "--interval 1s: the pods span 1099511627776 s",
            "expected at most 1,000,000 samples",
            "found 1,099,511,627,777 samples",
        ],
    );
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--inflate", "1.3"],
        &["--inflate 1.3", "without inflation"],
    );
    bad(
        &["--nodes", &nodes, "--pods", &pods_s, "--policy", "tetris"],
        &["unknown policy `tetris`"],
    );
    // --interval belongs to the replay.
    let out = dir.path().join("out2");
    let (code, _, stderr) = capsim_text(&[
        "pack",
        "--nodes",
        &nodes,
        "--pods",
        &pods_s,
        "--interval",
        "1h",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("add --replay"), "{stderr}");
}
