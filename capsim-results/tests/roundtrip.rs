//! The schema reads what sim-core writes and writes it back byte for byte; older, sparser
//! summaries still read.

use capsim_results::{summary_json, Summary};

fn parse(text: &str, name: &str) -> Summary {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_golden_summary_reads_and_writes_back_identically() {
    let text = include_str!("../../tests/golden/golden.summary.json");
    let s = parse(text, "golden.summary.json");
    assert_eq!(summary_json(&s), text);
}

/// A summary with 17-digit floats (shortest round-trip form of values such as 0.1 + 0.2):
/// serde_json's default parser can be one unit in the last place off on these, so the crate turns
/// on `float_roundtrip`.
#[test]
fn seventeen_digit_floats_survive_a_round_trip() {
    let mut s = parse(
        include_str!("../../tests/golden/golden.summary.json"),
        "golden",
    );
    let xs = [
        0.1 + 0.2,
        0.058499999999999996,
        0.022000000000000002,
        0.11699999999999999,
        1.0 / 3.0,
        2.0f64.sqrt(),
    ];
    s.latency_s.mean = Some(xs[0]);
    s.latency_s.p50 = Some(xs[1]);
    s.latency_s.p90 = Some(xs[2]);
    s.latency_s.p99 = Some(xs[3]);
    s.latency_s.p999 = Some(xs[4]);
    s.latency_s.max = Some(xs[5]);
    let text = summary_json(&s);
    let back = parse(&text, "written");
    assert_eq!(back, s);
    assert_eq!(summary_json(&back), text);
}

/// The report fixtures were written by hand with only the keys an older reader needed: every
/// key added since has a default.
#[test]
fn older_summaries_without_newer_keys_still_read() {
    for (name, text) in [
        (
            "policies/summary.json",
            include_str!("../../tests/fixtures/policies/summary.json"),
        ),
        (
            "policies/policies/hpa/summary.json",
            include_str!("../../tests/fixtures/policies/policies/hpa/summary.json"),
        ),
    ] {
        let s = parse(text, name);
        assert_eq!(s.measured, Default::default(), "{name}");
        assert!(s.requests.dropped_by_reason.is_empty(), "{name}");
    }
}

#[test]
fn a_missing_required_key_names_it() {
    let e = serde_json::from_str::<Summary>("{\"capsim_version\": \"0.1.0\"}").unwrap_err();
    assert!(e.to_string().contains("missing field `scenario`"), "{e}");
}
