//! `capsim report` and `capsim run --report`: a byte-identical golden HTML page whose charts parse
//! as SVG, PNG charts of the expected size, the policy comparison, and clear errors on bad input.

use crate::common::{capsim_text, entries, root};
use std::path::Path;

/// A small cluster scenario: one GPU node pool, scale-up at 1 min, a Poisson schedule.
const SCENARIO: &str = r#"
name = "report-golden"

[simulation]
seed = 11
horizon = "3m"
warmup = "20s"
sample_interval = "10s"

[slo]
latency = "40ms"

[[node_pool]]
name = "gpu"
instance_type = "p5.48xlarge"
capacity_type = "on-demand"
min_size = 1
max_size = 1
initial_size = 1

[service]
replicas = 2
dispatch = "router"
router = "least-outstanding"
max_queue_size = 16
scale = [{ at = "1m", replicas = 3 }]

[service.resources]
requests = { cpu = "4", memory = "16Gi", "nvidia.com/gpu" = 1 }

[service.triton]
max_batch_size = 8

[service.triton.dynamic_batching]
preferred_batch_size = [4, 8]
max_queue_delay_microseconds = 2000

[service.service_time]
distribution = "lognormal"
base = "8ms"
per_item = "2ms"
cv = 0.3

[traffic]
kind = "schedule"
schedule = [
  { start = "0s", rate = 200.0 },
  { start = "90s", rate = 500.0 },
]
"#;

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `<svg …>…</svg>` element of a page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg ") {
        let end = rest[start..].find("</svg>").expect("closed svg") + start + "</svg>".len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

/// Parses each chart as XML and returns the chart ids, in page order.
fn chart_ids(html: &str) -> Vec<String> {
    svgs(html)
        .into_iter()
        .map(|svg| {
            let doc = roxmltree::Document::parse(svg)
                .unwrap_or_else(|e| panic!("an inline SVG is not well-formed XML: {e}\n{svg}"));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            assert_eq!(
                root.tag_name().namespace(),
                Some("http://www.w3.org/2000/svg")
            );
            assert!(
                root.descendants()
                    .any(|n| n.has_tag_name("path") || n.has_tag_name("circle")),
                "a chart draws something"
            );
            root.attribute("id").expect("chart id").to_string()
        })
        .collect()
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The HTML report of a fixed scenario is byte-identical across runs and equals the golden file;
/// every chart parses as SVG; `--report` writes one PNG per chart at the documented size.
/// Regenerate with `UPDATE_GOLDEN=1 cargo test --release --test it report`.
#[test]
fn report_is_byte_identical_golden_and_its_charts_parse() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("report-golden.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let mut pages = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let (code, stdout, stderr) = capsim_text(&[
            "run",
            &path_str(&scenario),
            "--out",
            &path_str(&out),
            "--report",
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("report.html"), "{stdout}");
        assert_eq!(
            entries(&out),
            [
                "charts",
                "inputs.csv",
                "report.html",
                "scenario.toml",
                "summary.json",
                "timeseries.csv"
            ]
        );
        assert_eq!(read(&out.join("scenario.toml")), SCENARIO.as_bytes());
        let expected_pngs: Vec<String> = reports::chart::SINGLE_RUN_CHARTS
            .iter()
            .map(|id| format!("{id}.png"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(entries(&out.join("charts")), expected_pngs);
        for f in &expected_pngs {
            let bytes = read(&out.join("charts").join(f));
            assert!(bytes.len() > 10_000, "{f}: {} bytes", bytes.len());
            assert_eq!(
                png_size(&bytes),
                (reports::png::WIDTH, reports::png::HEIGHT),
                "{f}"
            );
        }
        // `capsim report` on the same folder writes the same page.
        let again = dir.path().join(format!("{name}-again.html"));
        let (code, _, stderr) =
            capsim_text(&["report", &path_str(&out), "--out", &path_str(&again)]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(read(&again), read(&out.join("report.html")));
        pages.push(String::from_utf8(read(&out.join("report.html"))).unwrap());
    }
    assert_eq!(pages[0], pages[1], "report.html differs between runs");
    let page = &pages[0];
    let ids = chart_ids(page);
    let want: Vec<String> = reports::chart::SINGLE_RUN_CHARTS
        .iter()
        .map(|id| format!("chart-{id}"))
        .collect();
    assert_eq!(ids, want);
    assert!(!page.contains("<script"), "no scripts");
    assert!(
        !page.contains("http://") || !page.contains("src=\"http"),
        "nothing from the network"
    );
    assert!(
        page.contains("<details><summary>the scenario"),
        "scenario text, collapsed"
    );
    let inputs = String::from_utf8(read(&dir.path().join("a/inputs.csv"))).unwrap();
    let hash = format!("{:016x}", reports::fnv1a64(SCENARIO.as_bytes()));
    assert_eq!(
        inputs,
        format!(
            "role,path,bytes,fnv1a64\nscenario,report-golden.toml,{},{hash}\n",
            SCENARIO.len()
        )
    );
    assert!(page.contains(&hash), "the page shows the scenario's hash");
    let golden = root().join("tests/golden/report-golden.report.html");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, page).unwrap();
    }
    let expected = String::from_utf8(read(&golden)).unwrap();
    assert!(
        *page == expected,
        "report.html differs from {}; regenerate with UPDATE_GOLDEN=1 after an intended change",
        golden.display()
    );
}

/// A folder with policy variants gets the comparison table, the Pareto chart and overlays.
#[test]
fn policy_variants_are_compared() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let pngs = dir.path().join("png");
    let (code, _, stderr) = capsim_text(&[
        "report",
        "tests/fixtures/policies",
        "--out",
        &path_str(&html),
        "--png",
        &path_str(&pngs),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = String::from_utf8(read(&html)).unwrap();
    let ids = chart_ids(&page);
    for id in reports::chart::POLICY_CHARTS
        .iter()
        .chain(&reports::chart::SINGLE_RUN_CHARTS)
    {
        assert!(
            ids.contains(&format!("chart-{id}")),
            "chart-{id} in {ids:?}"
        );
    }
    assert_eq!(entries(&pngs).len(), ids.len());
    for policy in ["hpa", "keda", "static", "static-small"] {
        assert!(
            page.contains(&format!("data-label=\"policy\">{policy}</td>")),
            "{policy}"
        );
    }
    assert!(page.contains("<td class=\"n\" data-label=\"cost per hour\">$\u{a0}72.10</td>"));
    assert!(page.contains("<td class=\"n\" data-label=\"SLO attainment\">99.00\u{a0}%</td>"));
    // keda costs more than hpa and meets the SLO less often: off the front (a hollow mark).
    let pareto = svgs(&page)
        .into_iter()
        .find(|s| s.contains("id=\"chart-policy-pareto\""))
        .unwrap();
    assert_eq!(
        pareto.matches("fill=\"#fff\" stroke=\"#0072b2\"").count(),
        1
    );
    assert!(page.contains("comparison.csv as written by the run"));
}

fn report_err(dir: &Path) -> (i32, String) {
    let out = dir.join("r.html");
    let (code, stdout, stderr) = capsim_text(&["report", &path_str(dir), "--out", &path_str(&out)]);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!out.exists(), "no report written");
    assert!(!dir.join("r.html.tmp").exists(), "no temporary file left");
    (code, stderr)
}

/// Bad input gets one clear line naming the file, row and column, exit code 2, and no output.
#[test]
fn bad_results_folders_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = report_err(d);
    assert_eq!(code, 2);
    assert!(
        err.contains("summary.json: not found (expected a results folder written by `capsim run`)"),
        "{err}"
    );

    let fixture = root().join("tests/fixtures/policies");
    std::fs::copy(fixture.join("summary.json"), d.join("summary.json")).unwrap();
    let mut ts = std::fs::read_to_string(fixture.join("timeseries.csv")).unwrap();
    ts = ts.replacen(",0.7,", ",0.7x,", 1);
    std::fs::write(d.join("timeseries.csv"), &ts).unwrap();
    let (code, err) = report_err(d);
    assert_eq!(code, 2);
    assert!(
        err.contains("timeseries.csv: row 1 (line 2), column `replica_util_ratio`: expected a number, found \"0.7x\""),
        "{err}"
    );

    std::fs::write(d.join("timeseries.csv"), "time_s,a\n1,2\n3\n").unwrap();
    let (_, err) = report_err(d);
    assert!(
        err.contains("timeseries.csv: line 3: expected 2 fields (time_s,a), found 1"),
        "{err}"
    );

    std::fs::write(d.join("timeseries.csv"), "time_s\n1\n").unwrap();
    std::fs::write(
        d.join("summary.json"),
        "{\"capsim_version\": \"x\", \"scenario\": 3}",
    )
    .unwrap();
    let (code, err) = report_err(d);
    assert_eq!(code, 2);
    assert!(err.contains("summary.json: line 1, column"), "{err}");
    assert!(
        err.contains("key `scenario`: invalid type: integer `3`, expected a string"),
        "{err}"
    );
}

/// `capsim sweep --report` writes a page with one chart per headline metric (each parsing as SVG,
/// with a mark per point and a whisker per confidence interval), a PNG per chart, copies of the
/// sweep file and base scenario for provenance; `capsim report` on the folder gives the same bytes.
#[test]
fn sweep_reports_chart_the_metrics_across_the_axis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let (code, _, stderr) = capsim_text(&[
        "sweep",
        "tests/sweep/replications.toml",
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = String::from_utf8(read(&out.join("report.html"))).unwrap();
    let ids = chart_ids(&page);
    for id in [
        "chart-sweep-latency-p99-s",
        "chart-sweep-slo-attainment-ratio",
        "chart-sweep-replica-hours",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} in {ids:?}");
    }
    let latency = svgs(&page)
        .into_iter()
        .find(|s| s.contains("chart-sweep-latency-p99-s"))
        .unwrap();
    assert_eq!(latency.matches("class=\"mark\"").count(), 2, "two points");
    assert_eq!(latency.matches("class=\"ci\"").count(), 2, "two intervals");
    assert!(page.contains(" ±\u{a0}"), "means carry their interval");
    assert!(page.contains("the sweep file ("));
    assert!(page.contains("the base scenario ("));
    assert_eq!(entries(&out.join("charts")).len(), ids.len());
    let again = dir.path().join("again.html");
    let (code, _, stderr) = capsim_text(&["report", &path_str(&out), "--out", &path_str(&again)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&again), page.as_bytes(), "same folder, same bytes");
}

/// `capsim pack --report` draws allocation and fragmentation curves per policy (the FGD paper's
/// figure) and tabulates each policy at 100% arrived.
#[test]
fn pack_reports_draw_allocation_curves_per_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pack");
    let (code, _, stderr) = capsim_text(&[
        "pack",
        "--nodes",
        "scenarios/traces/alibaba-openb/openb_node_list_gpu_node.csv",
        "--pods",
        "scenarios/traces/alibaba-openb/openb_pod_list_default.csv",
        "--policy",
        "fgd,random",
        "--seeds",
        "42",
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = String::from_utf8(read(&out.join("report.html"))).unwrap();
    assert_eq!(chart_ids(&page), ["chart-pack-alloc", "chart-pack-frag"]);
    for policy in ["fgd", "random"] {
        assert!(page.contains(&format!("data-label=\"policy\">{policy}</td>")));
    }
    for png in ["pack-alloc.png", "pack-frag.png"] {
        assert_eq!(png_size(&read(&out.join("charts").join(png))), (1200, 675));
    }
}

/// A report of MIG and time-sliced variants pictures each distinct GPU sharing once, naming the
/// variants that use it: seven 1g.10gb instances on slots 0–6 of an H100, and four time shares.
#[test]
fn gpu_sharing_is_pictured_once_per_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mig");
    let (code, _, stderr) = capsim_text(&[
        "run",
        "scenarios/mig-vs-whole.toml",
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = String::from_utf8(read(&out.join("report.html"))).unwrap();
    let layouts: Vec<&str> = svgs(&page)
        .into_iter()
        .filter(|s| s.contains("class=\"gpu-layout\""))
        .collect();
    assert_eq!(layouts.len(), 2, "one MIG layout and one time-slicing");
    for svg in &layouts {
        roxmltree::Document::parse(svg).expect("well-formed SVG");
    }
    assert_eq!(layouts[0].matches("class=\"instance\"").count(), 7);
    assert!(layouts[0].contains("as MIG layout all-1g.10gb"));
    assert_eq!(layouts[1].matches("class=\"share\"").count(), 4);
    assert!(page.contains("Used by time-sliced-x4 (pool h100), time-sliced-x4-oom (pool h100)."));
    let summary = String::from_utf8(read(&out.join("policies/mig-1g.10gb/summary.json"))).unwrap();
    assert!(summary.contains("\"layout\": \"all-1g.10gb\""), "{summary}");
}
