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
                "cost_attribution.csv",
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
        // Beside the charts, the list of those written, for the next report to tidy.
        let mut listed = vec![".capsim-charts".to_string()];
        listed.extend(expected_pngs.iter().cloned());
        assert_eq!(entries(&out.join("charts")), listed);
        assert_eq!(
            std::fs::read_to_string(out.join("charts/.capsim-charts")).unwrap(),
            reports::chart::SINGLE_RUN_CHARTS
                .iter()
                .map(|id| format!("{id}.png\n"))
                .collect::<String>()
        );
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
    let png_files = |d: &Path| -> Vec<String> {
        entries(d)
            .into_iter()
            .filter(|n| n.ends_with(".png"))
            .collect()
    };
    assert_eq!(png_files(&pngs).len(), ids.len());
    // A second report into the same folder, of one policy's run (no variants), removes the
    // policy charts the first wrote and it does not draw; a file it did not write stays.
    std::fs::write(pngs.join("mine.png"), b"not a chart").unwrap();
    let (code, _, stderr) = capsim_text(&[
        "report",
        "tests/fixtures/policies/policies/hpa",
        "--out",
        &path_str(&dir.path().join("hpa.html")),
        "--png",
        &path_str(&pngs),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let single = chart_ids(&String::from_utf8(read(&dir.path().join("hpa.html"))).unwrap());
    let mut want: Vec<String> = single
        .iter()
        .map(|id| format!("{}.png", id.trim_start_matches("chart-")))
        .chain(["mine.png".to_string()])
        .collect();
    want.sort();
    assert_eq!(png_files(&pngs), want);
    assert!(!pngs.join("policy-pareto.png").exists());
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
    assert_eq!(
        entries(&out.join("charts")).len(),
        ids.len() + 1,
        "charts and their list"
    );
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

/// Two services on one p5.48xlarge (8 H100s, pods warm at time zero), with three variants that
/// give them whole GPUs, MIG 1g.10gb slices or time-sliced shares (4 per GPU); the book quotes
/// its outputs (Comparing policies, Outputs).
const TWO_SERVICES: &str = include_str!("../book/quoted/two-services.toml");

/// A comparison of a two-service scenario: `comparison.csv` has a `service` column and, under
/// each variant's cluster row, one row per service whose numbers are that variant's
/// `summary.json` `services` entries; `services.csv` counts each service's GPUs (whole, MIG
/// slices as 1/7, time-sliced shares as 1/4); the report has the Services section, its charts
/// (PNGs too) and the per-service comparison table.
#[test]
fn a_two_service_comparison_has_per_service_rows_and_report_sections() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("two.toml");
    std::fs::write(&scenario, TWO_SERVICES).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = capsim_text(&[
        "run",
        &path_str(&scenario),
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The printed table: a service column, the cluster row then each service.
    let table: Vec<&str> = stdout.lines().skip(1).take(10).collect();
    let head: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(head[..4], ["policy", "service", "p50", "p99"], "{stdout}");
    for (i, v) in ["whole", "mig", "sliced"].iter().enumerate() {
        for (j, s) in ["(cluster)", "chat", "embed"].iter().enumerate() {
            let words: Vec<&str> = table[1 + 3 * i + j].split_whitespace().collect();
            assert_eq!(&words[..2], [*v, *s], "{stdout}");
        }
    }
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header.join(","),
        capsim_results::columns::COMPARISON.replacen("policy,", "policy,service,", 1)
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 9, "{csv}");
    let col = |r: &[&str], name: &str| -> String {
        r[header.iter().position(|h| *h == name).unwrap()].to_string()
    };
    let f6 = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.6}"));
    let expected_gpus = [
        ("whole", [2.0, 3.0]),
        ("mig", [2.0 / 7.0, 3.0 / 7.0]),
        ("sliced", [0.5, 0.75]),
    ];
    for (i, (variant, gpus)) in expected_gpus.iter().enumerate() {
        let vdir = out.join("policies").join(variant);
        let summary: capsim_results::Summary =
            serde_json::from_str(&std::fs::read_to_string(vdir.join("summary.json")).unwrap())
                .unwrap();
        let cluster = &rows[3 * i];
        assert_eq!((cluster[0], cluster[1]), (*variant, ""), "{csv}");
        assert_eq!(
            col(cluster, "completed"),
            summary.measured.completed.to_string()
        );
        assert_eq!(summary.services.len(), 2);
        let window_h = (summary.horizon_s - summary.warmup_s) / 3600.0;
        for (j, v) in summary.services.iter().enumerate() {
            let r = &rows[3 * i + 1 + j];
            assert_eq!((r[0], r[1]), (*variant, v.name.as_str()), "{csv}");
            assert!(v.measured.completed > 1000, "{variant}/{}", v.name);
            assert_eq!(col(r, "completed"), v.measured.completed.to_string());
            assert_eq!(col(r, "dropped"), v.measured.dropped.to_string());
            assert_eq!(col(r, "latency_p50_s"), f6(v.latency_s.p50));
            assert_eq!(col(r, "latency_p90_s"), f6(v.latency_s.p90));
            assert_eq!(col(r, "latency_p99_s"), f6(v.latency_s.p99));
            assert_eq!(col(r, "slo_attainment_ratio"), f6(v.slo.attainment_ratio));
            assert_eq!(
                col(r, "replica_hours"),
                f6(Some(v.replicas_mean * window_h))
            );
            // Nodes are the cluster's: empty on a service's row; cost is the service's share.
            for c in ["node_hours", "gpu_hours", "gpu_oom_kills"] {
                assert_eq!(col(r, c), "", "{c}");
            }
            assert_eq!(col(r, "cost_usd"), f6(v.cost_usd));
            assert_eq!(
                col(r, "cost_usd_per_million_requests"),
                f6(v.usd_per_million_requests)
            );
        }
        assert!(summary.services[0].slo.attainment_ratio.is_some());
        assert!(summary.services[1].slo.attainment_ratio.is_none());
        // Every interval, each service holds its pods' GPU-equivalents (warm from time zero).
        let services = std::fs::read_to_string(vdir.join("services.csv")).unwrap();
        let mut s = services.lines();
        let h: Vec<&str> = s.next().unwrap().split(',').collect();
        assert_eq!(h[h.len() - 2..], ["gpus", "cost_usd_per_hour"]);
        let mut n = 0;
        for line in s {
            let cells: Vec<&str> = line.split(',').collect();
            let want = if cells[1] == "chat" { gpus[0] } else { gpus[1] };
            let got: f64 = cells[h.len() - 2].parse().unwrap();
            assert!((got - want).abs() < 1e-9, "{variant}: {line}");
            // Pods warm from time zero: the same requests, so the same rate, every interval.
            let rate: f64 = cells[h.len() - 1].parse().unwrap();
            let v = &summary.services[usize::from(cells[1] != "chat")];
            let per_hour = v.cost_usd.unwrap() / (summary.horizon_s / 3600.0);
            assert!(
                (rate - per_hour).abs() < 1e-6 * per_hour,
                "{variant}: {line}"
            );
            n += 1;
        }
        assert_eq!(n, 2 * 10, "{services}");
    }
    // The report: the Services section with its table and charts, and per-service rows in the
    // comparison.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("<h2 id=\"services\">Services</h2>"));
    // (The page also draws the MIG layout, an SVG of rectangles, so ids are read directly.)
    let ids: Vec<String> = page
        .split("<svg id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect();
    for id in reports::chart::SERVICE_CHARTS
        .iter()
        .filter(|id| **id != "service-ttft")
    {
        assert!(ids.contains(&format!("chart-{id}")), "{ids:?}");
        assert!(
            out.join("charts").join(format!("{id}.png")).exists(),
            "{id}"
        );
    }
    assert!(page.contains("<p>By service:</p>"));
    let services = page.split("<h2 id=\"services\">").nth(1).unwrap();
    let services = &services[..services.find("<h2").unwrap()];
    for name in ["chat", "embed"] {
        assert!(services.contains(&format!("data-label=\"service\">{name}</td>")));
    }
    // The stacked GPU chart: a filled band per service; the cost chart one more, for idle.
    let gpus = page.split("id=\"chart-service-gpus\"").nth(1).unwrap();
    let gpus = &gpus[..gpus.find("</svg>").unwrap()];
    assert_eq!(gpus.matches("<polygon class=\"area\"").count(), 2);
    let cost = page.split("id=\"chart-service-cost\"").nth(1).unwrap();
    let cost = &cost[..cost.find("</svg>").unwrap()];
    assert_eq!(cost.matches("<polygon class=\"area\"").count(), 3);
    // The per-service cost table: each service, then idle, with its share of the bill.
    let table = services.split("<h3 id=\"service-cost\">").nth(1).unwrap();
    let table = &table[..table.find("</table>").unwrap()];
    for name in ["chat", "embed", "(idle)"] {
        assert!(
            table.contains(&format!("data-label=\"service\">{name}</td>")),
            "{table}"
        );
    }
    assert!(table.contains("data-label=\"share of bill\""));
    // The services' files are in the provenance table.
    assert!(page.contains("policies/mig/services.csv"));
}

/// The structure of an SVG chart, one element a line: its tag and class, with the text of text
/// elements and the names of legend entries, without coordinates (so the golden file pins what
/// is drawn, not where).
fn svg_structure(svg: &str) -> String {
    let mut out = String::new();
    let mut rest = svg;
    let mut group = String::new();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end..];
        if tag.starts_with("/g") {
            group.clear();
            continue;
        }
        if tag.starts_with('/') {
            continue;
        }
        let name = tag.split([' ', '/']).next().unwrap_or("");
        let class = tag
            .split("class=\"")
            .nth(1)
            .and_then(|c| c.split('"').next())
            .unwrap_or("");
        if name == "g" {
            group = class.to_string();
            continue;
        }
        if group == "grid" || group == "ticks" {
            continue;
        }
        let mut line = if class.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{}", class.replace(' ', "."))
        };
        if !group.is_empty() {
            line = format!("{group} > {line}");
        }
        if name == "text" || name == "title" {
            let body = &rest[1..rest.find('<').unwrap_or(1).max(1)];
            line.push_str(&format!(" \"{body}\""));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The sweep report of `scenarios/sweep-cheapest-gpu.toml` shows the answer: each chart marks
/// passing and failing points, the TTFT and TPOT charts draw their SLO with the axis cut at three
/// times it (failures off the scale drawn at the top edge), the cheapest passing point is ringed
/// and named, legends read `instance type g6e.xlarge`, and the Checks section names each failed
/// check's metric, value and limit. The TTFT chart's SVG structure (elements, classes and texts,
/// no coordinates) is pinned by a golden file; regenerate it with
/// `UPDATE_GOLDEN=1 cargo test --release --test it sweep_report_shows` after an intended change.
#[test]
fn sweep_report_shows_the_cheapest_passing_point() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cheapest");
    let (code, _, stderr) = capsim_text(&[
        "sweep",
        "scenarios/sweep-cheapest-gpu.toml",
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 3, "checks fail on most points: {stderr}");
    let page = String::from_utf8(read(&out.join("report.html"))).unwrap();
    assert!(
        page.contains(
            "Cheapest point that passed every check: point 13 (instance type g6e.xlarge, \
             replicas 2), $\u{a0}3.71 per hour."
        ),
        "the answer, above the charts"
    );
    assert!(page.contains(
        "point 1 (instance type g6.xlarge, replicas 2), policy base: ttft_p99_s 1348.62\u{a0}s, \
         limit ≤ 1\u{a0}s; tpot_p99_s 231.73\u{a0}ms, limit ≤ 0.06\u{a0}s"
    ));
    assert!(page.contains("ttft_p99_s has no value (no measured request completed; 0 dropped)"));
    let all = svgs(&page);
    let ttft = all
        .iter()
        .find(|s| s.contains("id=\"chart-sweep-ttft-p99-s\""))
        .unwrap();
    let structure = svg_structure(ttft);
    for want in [
        "line.target",
        "circle.mark.pass",
        "path.mark.fail",
        "polygon.off-scale",
        "answer > circle",
        "answer > text \"cheapest passing: instance type g6e.xlarge, replicas 2\"",
        "legend > text \"SLO: TTFT p99 ≤ 1000 ms\"",
        "legend > text \"instance type g6e.xlarge\"",
    ] {
        assert!(structure.contains(want), "{want} in\n{structure}");
    }
    // Every chart marks pass and fail and rings the answer; only the latency charts are cut.
    for id in [
        "sweep-ttft-p99-s",
        "sweep-tpot-p99-s",
        "sweep-token-slo-attainment-ratio",
        "sweep-cost-usd-per-hour",
        "sweep-replica-hours",
    ] {
        let svg = all
            .iter()
            .find(|s| s.contains(&format!("id=\"chart-{id}\"")))
            .unwrap_or_else(|| panic!("chart-{id}"));
        assert!(svg.contains("class=\"mark pass\""), "{id}");
        assert!(svg.contains("class=\"mark fail\""), "{id}");
        assert!(svg.contains("class=\"answer\""), "{id}");
        assert_eq!(
            svg.contains("class=\"off-scale\""),
            id.ends_with("p99-s"),
            "{id}"
        );
        assert!(!svg.contains("node_pool[0]"), "{id}: readable legend");
    }
    let golden = root().join("tests/golden/sweep-cheapest-ttft.svg.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &structure).unwrap();
    }
    let expected = String::from_utf8(read(&golden)).unwrap();
    assert!(
        structure == expected,
        "the TTFT chart's structure differs from {}; regenerate with UPDATE_GOLDEN=1 after an \
         intended change:\n{structure}",
        golden.display()
    );
}

/// Policy variants with an SLO on tokens get each policy's p99 TTFT and TPOT over time with the
/// targets; without node pools (no cost) there is no Pareto chart to draw, so none is written.
#[test]
fn token_slo_policies_get_ttft_and_tpot_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tr");
    let (code, _, stderr) = capsim_text(&[
        "run",
        "scenarios/token-routing.toml",
        "--out",
        &path_str(&out),
        "--report",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = String::from_utf8(read(&out.join("report.html"))).unwrap();
    let ids = chart_ids(&page);
    for id in reports::chart::POLICY_TOKEN_CHARTS {
        assert!(ids.contains(&format!("chart-{id}")), "{id} in {ids:?}");
        assert!(
            out.join("charts").join(format!("{id}.png")).is_file(),
            "{id}.png"
        );
    }
    let tpot = svgs(&page)
        .into_iter()
        .find(|s| s.contains("id=\"chart-policy-tpot\""))
        .unwrap();
    assert!(tpot.contains("class=\"target\""), "the TPOT target");
    assert!(tpot.contains(">least-kv</text>"), "a line per policy");
    assert!(!ids.contains(&"chart-policy-pareto".to_string()));
}
