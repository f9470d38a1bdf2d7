//! `capsim sweep`, `merge` and `optimize`: the same bytes for any thread count and any sharding,
//! resumable runs, replications, checks, and clear errors for bad input.

use crate::common::{capsim_text, root};
use std::path::Path;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sweep(file: &str, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["sweep", file, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    capsim_text(&args)
}

#[test]
fn a_24_point_sweep_is_the_same_for_any_threads_and_sharding() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let f = "tests/sweep/grid24.toml";
    let (code, out, err) = sweep(f, &d("t1"), &["--threads", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains(" done (")).count(),
        24,
        "{err}"
    );
    let one = read(&d("t1").join("sweep.csv"));
    assert_eq!(one.lines().count(), 25);
    assert!(one.starts_with(
        "point,service.replicas,traffic.rate,service.service_time.cv,policy,completed,"
    ));
    let (code, out, err) = sweep(f, &d("t2"), &["--threads", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(one, read(&d("t2").join("sweep.csv")), "--threads 2 differs");
    let mut shards = Vec::new();
    for i in 0..3 {
        let name = format!("s{i}");
        let (code, out, err) = sweep(f, &d(&name), &["--shard", &format!("{i}/3")]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(read(&d(&name).join("sweep.csv")).lines().count(), 9);
        shards.push(d(&name).to_str().unwrap().to_string());
    }
    let merged = d("merged");
    let (code, out, err) = capsim_text(&[
        "merge",
        &shards[2],
        &shards[0],
        &shards[1],
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(one, read(&merged.join("sweep.csv")), "merged shards differ");
    assert_eq!(
        read(&d("t1").join("manifest.json")),
        read(&merged.join("manifest.json"))
    );
}

#[test]
fn a_rerun_skips_finished_points_and_redoes_damaged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let f = "tests/sweep/zip.toml";
    let (code, first, err) = sweep(f, &out, &[]);
    assert_eq!(code, 0, "{first}{err}");
    assert!(first.contains("3 run, 0 reused"), "{first}");
    let csv = read(&out.join("sweep.csv"));
    // An interrupted run leaves at worst a temporary file and a missing point; damage one too.
    std::fs::remove_file(out.join("points/1.json")).unwrap();
    std::fs::write(out.join("points/2.json"), "{\"capsim_version\": ").unwrap();
    std::fs::write(out.join("points/1.json.tmp"), "half").unwrap();
    let (code, again, err) = sweep(f, &out, &["--threads", "1"]);
    assert_eq!(code, 0, "{again}{err}");
    assert!(again.contains("2 run, 1 reused"), "{again}");
    assert_eq!(csv, read(&out.join("sweep.csv")));
}

#[test]
fn replications_report_means_and_confidence_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let (code, o, err) = sweep("tests/sweep/replications.toml", &out, &[]);
    assert_eq!(code, 0, "{o}{err}");
    let csv = read(&out.join("sweep.csv"));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let ci: f64 = row[col("latency_p99_s_ci95")].parse().unwrap();
    let mean: f64 = row[col("latency_p99_s_mean")].parse().unwrap();
    assert!(ci > 0.0 && ci < mean, "mean {mean} ± {ci}");
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn random_designs_are_drawn_from_their_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (code, o, err) = sweep("tests/sweep/lhs.toml", &dir.path().join("a"), &[]);
    assert_eq!(code, 0, "{o}{err}");
    let (code, o, err) = sweep(
        "tests/sweep/lhs.toml",
        &dir.path().join("b"),
        &["--shard", "1/2"],
    );
    assert_eq!(code, 0, "{o}{err}");
    let all = read(&dir.path().join("a/sweep.csv"));
    let half = read(&dir.path().join("b/sweep.csv"));
    assert_eq!(all.lines().count(), 7);
    // Points are drawn whole before slicing: the shard's rows are the whole sweep's odd rows.
    let odd: Vec<&str> = all.lines().skip(1).skip(1).step_by(2).collect();
    assert_eq!(half.lines().skip(1).collect::<Vec<_>>(), odd);
}

#[test]
fn optimize_finds_the_full_grids_best_point_with_fewer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let f = "tests/sweep/optimize.toml";
    let opt = dir.path().join("opt");
    let (code, o, err) = capsim_text(&[
        "optimize",
        f,
        "--minimize",
        "replica_hours",
        "--out",
        opt.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}{err}");
    let explored: usize = o
        .split("explored ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("explored N of M");
    let chosen: usize = o
        .split("chosen       point ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.parse().ok())
        .expect("chosen point");
    // The full grid: a sweep of the same file (some points fail their checks: exit code 3).
    let full = dir.path().join("full");
    let (code, o2, err) = sweep(f, &full, &[]);
    assert_eq!(code, 3, "{o2}{err}");
    assert!(err.contains("(exit code 3)"), "{err}");
    let csv = read(&full.join("sweep.csv"));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let best = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[col("checks")] == "pass")
        .map(|r| {
            (
                r[col("replica_hours")].parse::<f64>().unwrap(),
                r[0].parse::<usize>().unwrap(),
            )
        })
        .min_by(|a, b| a.partial_cmp(b).unwrap())
        .unwrap();
    assert_eq!(chosen, best.1, "{o}");
    let total = csv.lines().count() - 1;
    assert!(explored < total, "explored {explored} of {total}");
    let rows = read(&opt.join("optimize.csv"));
    assert_eq!(rows.lines().count(), explored + 1);
    assert_eq!(rows.lines().filter(|l| l.ends_with(",yes")).count(), 1);
}

#[test]
fn checks_gate_run_and_sweep_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let (code, o, err) = capsim_text(&[
        "run",
        "tests/sweep/checked.toml",
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{o}{err}");
    assert!(err.contains("latency_p99_s <= 0.03: found"), "{err}");
    assert!(err.contains("[[check]] 1"), "{err}");
    assert!(
        dir.path().join("run/summary.json").exists(),
        "outputs are still written"
    );
    let (code, o, err) = sweep("tests/sweep/zip.toml", &dir.path().join("zip"), &[]);
    assert_eq!(code, 0, "{o}{err}");
    assert!(err.contains("checks: all 2 passed"), "{err}");
    // A misspelt operator is bad input, reported by validate and before a run.
    let bad = dir.path().join("bad-check.toml");
    std::fs::write(
        &bad,
        read(&root().join("tests/sweep/checked.toml")).replacen("\"<=\"", "\"=<\"", 1),
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let (code, _, err) = capsim_text(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("key `check[0].op`"), "{err}");
    }
    let (code, o, err) = sweep("scenarios/sweep-replicas.toml", &dir.path().join("ex"), &[]);
    assert_eq!(code, 0, "the shipped example passes its check: {o}{err}");
}

#[test]
fn bad_sweeps_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = sweep("tests/sweep/bad-key.toml", &dir.path().join("x"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("tests/sweep/bad-key.toml:5:7: key `axis[0].key`"),
        "names the sweep file, line:col and axis: {err}"
    );
    assert!(
        err.contains("service.replicaz") && err.contains("did you mean `replicas`?"),
        "{err}"
    );
    assert!(!dir.path().join("x/sweep.csv").exists());
    let (code, _, err) = sweep(
        "tests/sweep/grid24.toml",
        &dir.path().join("y"),
        &["--shard", "3/3"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--shard 3/3") && err.contains("0 to 2"),
        "{err}"
    );
    // Shards of two different sweep files.
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    assert_eq!(sweep("tests/sweep/zip.toml", &a, &["--shard", "0/2"]).0, 0);
    assert_eq!(
        sweep("tests/sweep/other.toml", &b, &["--shard", "1/2"]).0,
        0
    );
    let (code, _, err) = capsim_text(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("shards of different sweep files"), "{err}");
    // A missing shard, and the same shard twice.
    let (code, _, err) = capsim_text(&[
        "merge",
        a.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing shard(s) 1/2"), "{err}");
    let (code, _, err) = capsim_text(&[
        "merge",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("both are shard 0/2"), "{err}");
    assert!(!dir.path().join("m/sweep.csv").exists());
}

#[test]
fn merge_refuses_shards_that_lost_or_repeat_a_point() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |i: usize| dir.path().join(format!("s{i}"));
    for i in 0..2 {
        let (code, o, err) = sweep(
            "tests/sweep/zip.toml",
            &shard(i),
            &["--shard", &format!("{i}/2")],
        );
        assert_eq!(code, 0, "{o}{err}");
    }
    let merge = |out: &str| {
        capsim_text(&[
            "merge",
            shard(0).to_str().unwrap(),
            shard(1).to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
        ])
    };
    assert_eq!(merge("ok").0, 0);
    // Shard 0 owns points 0 and 2: drop point 2's row (a truncated copy of the shard).
    let csv0 = shard(0).join("sweep.csv");
    let full = read(&csv0);
    assert!(full.lines().nth(2).unwrap().starts_with("2,"), "{full}");
    let lost: Vec<&str> = full.lines().take(2).collect();
    std::fs::write(&csv0, lost.join("\n") + "\n").unwrap();
    let (code, _, err) = merge("m1");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("1 point(s) in no shard's sweep.csv: 2;"),
        "names the missing point: {err}"
    );
    assert!(!dir.path().join("m1").join("sweep.csv").exists());
    // Point 0's row twice.
    let row0 = full.lines().nth(1).unwrap();
    std::fs::write(&csv0, format!("{full}{row0}\n")).unwrap();
    let (code, _, err) = merge("m2");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 4: point 0 (policy base) is also in"),
        "names the repeated point and its line: {err}"
    );
    assert!(!dir.path().join("m2").join("sweep.csv").exists());
    // An output folder that is one of the shards (however spelled) is refused; nothing written.
    std::fs::write(&csv0, &full).unwrap();
    let before1 = read(&shard(1).join("sweep.csv"));
    let spelled = dir.path().join("s0").join("..").join("s1");
    let (code, _, err) = capsim_text(&[
        "merge",
        shard(0).to_str().unwrap(),
        shard(1).to_str().unwrap(),
        "--out",
        spelled.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("input shard folder") && err.contains(shard(1).to_str().unwrap()),
        "names the shard: {err}"
    );
    assert_eq!(
        read(&shard(1).join("sweep.csv")),
        before1,
        "the shard is untouched"
    );
    assert_eq!(read(&csv0), full);
}

#[test]
fn emits_a_kubernetes_indexed_job() {
    let (code, yaml, err) =
        capsim_text(&["sweep", "tests/sweep/grid24.toml", "--emit-k8s-job", "3"]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "kind: Job",
        "completionMode: Indexed",
        "completions: 3",
        "$(JOB_COMPLETION_INDEX)/3",
        "batch.kubernetes.io/job-completion-index",
    ] {
        assert!(yaml.contains(needle), "{needle} missing:\n{yaml}");
    }
    assert!(root().join("tests/sweep/grid24.toml").exists());
}

#[test]
fn validate_takes_sweep_files() {
    let (code, o, err) = capsim_text(&["validate", "scenarios/sweep-replicas.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(o.contains("sweep of 8 points"), "{o}");
    let (code, _, err) = capsim_text(&["validate", "tests/sweep/bad-key.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `axis[0].key`"), "{err}");
}

#[test]
fn policy_variants_get_one_row_each_per_point() {
    let dir = tempfile::tempdir().unwrap();
    let (code, o, err) = sweep("tests/sweep/policies.toml", &dir.path().join("p"), &[]);
    assert_eq!(code, 0, "{o}{err}");
    let csv = read(&dir.path().join("p/sweep.csv"));
    let keys: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        keys,
        [
            "0,100,batch8",
            "0,100,batch1",
            "1,200,batch8",
            "1,200,batch1"
        ]
    );
}
