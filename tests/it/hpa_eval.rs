//! `capsim hpa-eval`: every CASE file under tests/hpa (the vectors of controllers.md §1.8 and the
//! book's examples) runs through the command's code path (`sim_core::hpa::case::run_case`) and must
//! produce the report its comments promise:
//!
//! - `# expect: LINE`: the report's first line, exactly;
//! - `# expect-contains: TEXT`: a line of the report contains TEXT;
//! - `# expect-error: TEXT`: the case fails and the message contains TEXT.

use crate::common::{capsim_text, root};
use sim_core::hpa::case::{run_case, CaseError};
use std::path::{Path, PathBuf};

fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/hpa exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// Checks one CASE against its `# expect*` comments; returns a description of each mismatch.
fn check(path: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(path).expect("readable");
    let shown = path.display().to_string();
    let directive = |name: &str| -> Vec<String> {
        source
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("# {name}: ")))
            .map(str::to_string)
            .collect()
    };
    let (first, contains, errors) = (
        directive("expect"),
        directive("expect-contains"),
        directive("expect-error"),
    );
    let mut bad = Vec::new();
    if first.len() + errors.len() != 1 {
        bad.push(format!(
            "{shown}: needs exactly one `# expect:` or `# expect-error:`"
        ));
        return bad;
    }
    match run_case(&source, &shown) {
        Ok(report) => {
            if let Some(want) = first.first() {
                let got = report.lines().next().unwrap_or("");
                if got != want {
                    bad.push(format!("{shown}: first line `{got}`, expected `{want}`"));
                }
            } else {
                bad.push(format!("{shown}: expected an error, got:\n{report}"));
            }
            for c in &contains {
                if !report.contains(c.as_str()) {
                    bad.push(format!("{shown}: report lacks `{c}`:\n{report}"));
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            match errors.first() {
                Some(want) if msg.contains(want.as_str()) => {}
                Some(want) => bad.push(format!("{shown}: error `{msg}` lacks `{want}`")),
                None => bad.push(format!("{shown}: unexpected error `{msg}`")),
            }
        }
    }
    bad
}

#[test]
fn every_reference_vector_and_book_example_matches() {
    let files = case_files(&root().join("tests/hpa"));
    assert!(files.len() >= 100, "only {} CASE files", files.len());
    let bad: Vec<String> = files.iter().flat_map(|f| check(f)).collect();
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let files = case_files(&root().join("tests/hpa/bad"));
    assert!(files.len() >= 3);
    for f in &files {
        let source = std::fs::read_to_string(f).unwrap();
        match run_case(&source, &f.display().to_string()) {
            Err(CaseError::Input(e)) => {
                assert!(e.line.is_some() && !e.key.is_empty(), "{e}");
            }
            other => panic!("{}: expected a bad-input error, got {other:?}", f.display()),
        }
        let bad = check(f);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}

#[test]
fn command_prints_the_report_and_exits_2_on_bad_input() {
    let (code, out, err) = capsim_text(&["hpa-eval", "tests/hpa/replicas_cpu_scale_up.toml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().next(),
        Some("desired_replicas=5 reason=ValidMetricFound utilization=50")
    );
    let (code, out, err) = capsim_text(&["hpa-eval", "tests/hpa/bad/min_above_max.toml"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("tests/hpa/bad/min_above_max.toml:7:15: key `hpa.maxReplicas`"),
        "{err}"
    );
    let (code, _, err) = capsim_text(&["hpa-eval", "tests/hpa/replicas_cpu_empty_request.toml"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("missing request for cpu in container container1 of Pod test-pod-0"),
        "{err}"
    );
    let (code, _, err) = capsim_text(&["hpa-eval", "tests/hpa/no-such-case.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("no-such-case.toml"), "{err}");
}

#[test]
fn reports_are_deterministic() {
    let p = root().join("tests/hpa/reconcile_upscale_cap_greater_than_max_replicas.toml");
    let s = std::fs::read_to_string(&p).unwrap();
    assert_eq!(run_case(&s, "a").unwrap(), run_case(&s, "a").unwrap());
}
