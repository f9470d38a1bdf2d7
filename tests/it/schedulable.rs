//! No silent failure: a `[[policy]]` variant whose pods fit no node pool is a warning of
//! `capsim validate` (an error with `--strict`) and is marked in the comparison table.

use crate::common::capsim_text;

const FILE: &str = "tests/book/quoted/policy-unschedulable.toml";

#[test]
fn validate_warns_naming_the_variant_and_strict_makes_it_an_error() {
    let (code, out, err) = capsim_text(&["validate", FILE]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with(&format!("ok: {FILE}: ")), "{out}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with(&format!(
            "warning: {FILE}: policy `mig-slice`: pods request 1 of `nvidia.com/mig-1g.10gb`, which no node pool offers"
        )),
        "{err}"
    );
    let (code, out, err) = capsim_text(&["validate", FILE, "--strict"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("policy `mig-slice`") && err.contains("--strict makes them errors"),
        "{err}"
    );
}

#[test]
fn a_sound_scenario_passes_strict() {
    let (code, out, err) = capsim_text(&["validate", "scenarios/mig-vs-whole.toml", "--strict"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn the_comparison_table_marks_the_variant_that_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (code, stdout, err) = capsim_text(&["run", FILE, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{err}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(
        rows.iter()
            .any(|l| l.starts_with("whole-gpu ") && !l.contains(" !")),
        "{stdout}"
    );
    assert!(
        rows.iter().any(|l| l.starts_with("mig-slice !")),
        "{stdout}"
    );
    let warning = rows
        .iter()
        .find(|l| l.starts_with("warning      ! policy `mig-slice`: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        warning.contains("no replica was Ready after the warm-up"),
        "{warning}"
    );
    assert!(
        warning.contains("no measured request completed"),
        "{warning}"
    );
    assert!(!stdout.contains("policy `whole-gpu`"), "{stdout}");
}
