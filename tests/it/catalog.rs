//! `capsim catalog`: the built-in catalogs in every format, the `--gpu` filter and its errors;
//! and the short flags `-o` and `-j` with `optimize`'s progress counted over all its rounds.

use crate::common::capsim_text;

#[test]
fn instances_as_csv_carry_prices_dates_and_sources_and_filter_by_gpu() {
    let (code, out, err) = capsim_text(&[
        "catalog",
        "instances",
        "--gpu",
        "h100-sxm",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in [
        "id",
        "gpu",
        "on_demand_usd_per_hour",
        "spot_usd_per_hour",
        "price_date",
        "price_source",
    ] {
        assert!(header.contains(&col), "no column {col} in {header:?}");
    }
    let gpu = header.iter().position(|c| *c == "gpu").unwrap();
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.starts_with("p5.48xlarge,")), "{out}");
    for r in &rows {
        assert_eq!(r.split(',').nth(gpu), Some("h100-sxm"), "{r}");
        assert!(r.contains(",20"), "a row without a price date: {r}");
    }
}

#[test]
fn gpus_as_json_keep_numbers_as_numbers() {
    let (code, out, err) = capsim_text(&["catalog", "gpus", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let h100 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "h100-sxm")
        .expect("h100-sxm listed");
    assert_eq!(h100["memory_gib"], serde_json::json!(80.0));
    assert_eq!(h100["mig"], serde_json::json!(true));
    assert!(h100["source"].as_str().is_some_and(|s| !s.is_empty()));
}

#[test]
fn models_and_mig_print_tables_with_sources() {
    let (code, out, err) = capsim_text(&["catalog", "models"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("id "), "{out}");
    assert!(out.contains("llama-3.1-8b"), "{out}");
    assert!(out.contains("    source: "), "{out}");
    let (code, out, err) = capsim_text(&["catalog", "mig", "--gpu", "h100-sxm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1g.10gb") && out.contains("7g.80gb"), "{out}");
    assert!(!out.contains("a100-40gb"), "{out}");
}

#[test]
fn a_bad_gpu_or_catalog_is_a_clear_error() {
    let (code, _, err) = capsim_text(&["catalog", "gpus", "--gpu", "h100"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--gpu: unknown GPU `h100`: expected one of ") && err.contains("h100-sxm"),
        "{err}"
    );
    let (code, _, err) = capsim_text(&["catalog", "mig", "--gpu", "l4"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--gpu: GPU `l4` does not support MIG"),
        "{err}"
    );
    let (code, _, err) = capsim_text(&["catalog", "models", "--gpu", "l4"]);
    assert_eq!(code, 2);
    assert!(err.contains("--gpu: applies to"), "{err}");
    let (code, _, err) = capsim_text(&["catalog", "disks"]);
    assert_eq!(code, 2);
    assert!(err.contains("gpus") && err.contains("instances"), "{err}");
}

/// `-o` and `-j` stand for `--out` and `--threads`; optimize's progress counts every point it
/// runs, over all its bisection rounds, against the most it can need.
#[test]
fn short_flags_and_optimize_progress_over_all_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("opt");
    let (code, stdout, err) = capsim_text(&[
        "optimize",
        "tests/sweep/optimize.toml",
        "--minimize",
        "replica_hours",
        "-j",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(out.join("optimize.csv").is_file());
    let counts: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split(" done (").nth(1))
        .collect();
    // 3 lines of 8 replica counts: at most 3 × ⌈log2 9⌉ = 12 points.
    let want: Vec<String> = (1..=counts.len())
        .map(|n| format!("{n} of at most 12)"))
        .collect();
    assert_eq!(counts, want, "{err}");
    let explored = stdout
        .split("explored ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap();
    assert_eq!(explored, counts.len().to_string(), "{stdout}");
}

/// `--scenario` prints the catalog that scenario's runs use: its own `[[model]]` tables beside
/// the built-in models, and a bad table as a located error.
#[test]
fn a_scenario_s_own_models_are_listed_with_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("s.toml");
    std::fs::write(
        &good,
        "[[model]]\nid = \"my-8b\"\nhidden_size = 4096\nlayers = 32\nattention_heads = 32\n\
         kv_heads = 8\nhead_dim = 128\nffn_size = 14336\nvocab_size = 128256\n\
         tied_embeddings = false\n",
    )
    .unwrap();
    let (code, out, err) =
        capsim_text(&["catalog", "models", "--scenario", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("my-8b") && out.contains("llama-3.1-8b"),
        "{out}"
    );
    let (_, builtin, _) = capsim_text(&["catalog", "models"]);
    assert!(!builtin.contains("my-8b"), "{builtin}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[model]]\nid = \"x\"\nlayers = \"many\"\n").unwrap();
    let (code, _, err) = capsim_text(&["catalog", "models", "--scenario", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.toml:3:") && err.contains("layers"),
        "{err}"
    );
}
