//! Cost allocation (issue #23): each service pays for what its pods request at its nodes'
//! per-resource rates; what no pod requests is idle. Every expectation is computed here by hand
//! from the documented rules and the catalog's numbers, not from the implementation.

use sim_core::results::RunResult;
use sim_core::{parse_scenario, Inputs};

/// The general-purpose rates: AWS m6i.2xlarge ($0.384/h, 8 vCPU, 32 GiB) split by OpenCost's
/// default CPU-to-memory weight.
const CPU: f64 = 0.031247;
const MEM: f64 = 0.004188;

/// A node's GPU rate: its price less its vCPUs and GiB at the general-purpose rates, per GPU.
fn gpu_rate(price: f64, vcpu: f64, gib: f64, gpus: f64) -> f64 {
    (price - vcpu * CPU - gib * MEM) / gpus
}

fn run(src: &str) -> RunResult {
    let s = parse_scenario(src, "cost.toml").unwrap_or_else(|e| panic!("{e}"));
    sim_core::run(&s, Inputs::default()).expect("runs")
}

fn cost(r: &RunResult, name: &str) -> capsim_results::ResourceCost {
    r.summary
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
        .cost
        .expect("a cost")
}

fn near(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 1e-6, "{what}: {got} vs {want}");
}

/// A service of `replicas` pods requesting `requests`, with a little traffic of its own.
fn svc(name: &str, replicas: u32, requests: &str, extra: &str) -> String {
    format!(
        r#"
[[service]]
name = "{name}"
replicas = {replicas}
dispatch = "router"
{extra}
[service.resources]
requests = {requests}
[service.service_time]
distribution = "deterministic"
base = "10ms"
[service.traffic]
kind = "poisson"
rate = 1.0
"#
    )
}

/// One p5.48xlarge (8 whole H100s) and one a2-highgpu-1g (an A100 40GB cut `all-balanced`)
/// for an hour: `whole` holds two whole H100s, `slice` one 3g.20gb slice of the A100.
fn two_nodes(extra_top: &str) -> String {
    format!(
        r#"
[simulation]
horizon = "1h"
warmup = "1m"
{extra_top}
[[node_pool]]
name = "h100"
instance_type = "p5.48xlarge"
initial_size = 1
[[node_pool]]
name = "a100"
instance_type = "a2-highgpu-1g"
initial_size = 1
mig_layout = "all-balanced"
{}{}"#,
        svc(
            "whole",
            1,
            r#"{ cpu = "8", memory = "64Gi", "nvidia.com/gpu" = 2 }"#,
            ""
        ),
        svc(
            "slice",
            1,
            r#"{ cpu = "2", memory = "8Gi", "nvidia.com/mig-3g.20gb" = 1 }"#,
            ""
        ),
    )
}

#[test]
fn each_service_pays_its_requests_at_its_nodes_rates_and_idle_is_the_rest() {
    let r = run(&two_nodes(""));
    // p5.48xlarge: $55.04/h, 192 vCPU, 2048 GiB, 8 GPUs.
    let h100 = gpu_rate(55.04, 192.0, 2048.0, 8.0);
    let w = cost(&r, "whole");
    near(w.gpu_usd, 2.0 * h100, "whole: 2 GPU-hours");
    near(w.cpu_usd, 8.0 * CPU, "whole: 8 vCPU-hours");
    near(w.memory_usd, 64.0 * MEM, "whole: 64 GiB-hours");
    // a2-highgpu-1g: $3.67/h, 12 vCPU, 85 GiB, 1 GPU; a 3g slice pays 3/7 of it.
    let a100 = gpu_rate(3.67, 12.0, 85.0, 1.0);
    let s = cost(&r, "slice");
    near(s.gpu_usd, 3.0 / 7.0 * a100, "slice: 3/7 of a GPU-hour");
    near(s.cpu_usd, 2.0 * CPU, "slice: 2 vCPU-hours");
    near(s.memory_usd, 8.0 * MEM, "slice: 8 GiB-hours");
    // The bill is both nodes for an hour; idle is the rest, to the cent.
    let c = r.summary.cluster.as_ref().unwrap();
    near(c.cost_usd, 55.04 + 3.67, "bill");
    near(
        c.idle_cost_usd,
        55.04 + 3.67 - w.total_usd - s.total_usd,
        "idle",
    );
    let idle = c.idle_cost.unwrap();
    near(idle.gpu_usd, 6.0 * h100 + 4.0 / 7.0 * a100, "idle GPUs");
    let per_service = r.summary.services[0].cost_usd.unwrap();
    near(per_service, w.total_usd, "cost_usd is the split's total");
    // Cost per million requests of the whole run.
    let whole = &r.summary.services[0];
    near(
        whole.usd_per_million_requests.unwrap(),
        w.total_usd / whole.requests.completed as f64 * 1e6,
        "$/M requests",
    );
    // The CSV: one row per service and (idle), summing to the bill.
    let csv = capsim_results::cost_attribution_csv(&r.summary).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("service,namespace,gpu_usd,cpu_usd,memory_usd,total_usd")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        ["whole", "slice", "(idle)"]
    );
    let total: f64 = rows.iter().map(|r| r[5].parse::<f64>().unwrap()).sum();
    assert!(
        (total - c.cost_usd).abs() < 0.01,
        "{total} vs {}",
        c.cost_usd
    );
}

#[test]
fn share_idle_spreads_idle_by_each_resources_cost() {
    let off = run(&two_nodes(""));
    let on = run(&two_nodes("[cost_allocation]\nshare_idle = true\n"));
    let c = on.summary.cluster.as_ref().unwrap();
    assert!(c.share_idle);
    near(
        c.idle_cost_usd,
        0.0,
        "no idle left: every resource has a payer",
    );
    let (w0, s0) = (cost(&off, "whole"), cost(&off, "slice"));
    let (w1, s1) = (cost(&on, "whole"), cost(&on, "slice"));
    near(
        w1.total_usd + s1.total_usd,
        c.cost_usd,
        "services pay the bill",
    );
    // Each resource's idle is shared in proportion to that resource's cost.
    let idle = off.summary.cluster.as_ref().unwrap().idle_cost.unwrap();
    let share = |mine: f64, other: f64, idle: f64| mine + idle * mine / (mine + other);
    near(
        w1.gpu_usd,
        share(w0.gpu_usd, s0.gpu_usd, idle.gpu_usd),
        "whole GPU",
    );
    near(
        s1.cpu_usd,
        share(s0.cpu_usd, w0.cpu_usd, idle.cpu_usd),
        "slice CPU",
    );
    near(
        w1.memory_usd,
        share(w0.memory_usd, s0.memory_usd, idle.memory_usd),
        "whole memory",
    );
}

#[test]
fn a_node_launched_and_a_pod_deleted_mid_run_are_prorated() {
    // `whole` scales 1 → 0 at 30 min (an idle pod goes at once); a second h100 node is launched
    // at 20 min (Ready after 2 min of provisioning, billed from launch): 40 minutes, all idle.
    let src = two_nodes("")
        .replace(
            "initial_size = 1\n[[node_pool]]",
            "initial_size = 1\nmax_size = 2\nprovisioning_delay = \"2m\"\nscale = [{ at = \"20m\", size = 2 }]\n[[node_pool]]",
        )
        .replacen(
            "replicas = 1\ndispatch = \"router\"",
            "replicas = 1\nscale = [{ at = \"30m\", replicas = 0 }]\ndispatch = \"router\"",
            1,
        );
    let r = run(&src);
    let h100 = gpu_rate(55.04, 192.0, 2048.0, 8.0);
    let w = cost(&r, "whole");
    near(w.gpu_usd, 2.0 * h100 * 0.5, "half an hour of 2 GPUs");
    near(w.cpu_usd, 8.0 * CPU * 0.5, "half an hour of 8 vCPU");
    let c = r.summary.cluster.as_ref().unwrap();
    near(c.cost_usd, 55.04 * (1.0 + 40.0 / 60.0) + 3.67, "bill");
    let s = cost(&r, "slice");
    near(
        c.idle_cost_usd,
        c.cost_usd - w.total_usd - s.total_usd,
        "idle",
    );
}

#[test]
fn explicit_rates_and_the_opencost_split() {
    // cost_rates: $0.05/vCPU-h and $0.01/GiB-h; the GPUs take the rest of the price.
    let src = two_nodes("").replacen(
        "instance_type = \"p5.48xlarge\"",
        "instance_type = \"p5.48xlarge\"\ncost_rates = { cpu = 0.05, memory = 0.01 }",
        1,
    );
    let r = run(&src);
    let w = cost(&r, "whole");
    near(w.cpu_usd, 8.0 * 0.05, "explicit CPU rate");
    near(w.memory_usd, 64.0 * 0.01, "explicit memory rate");
    near(
        w.gpu_usd,
        2.0 * (55.04 - 192.0 * 0.05 - 2048.0 * 0.01) / 8.0,
        "GPU rate: the rest",
    );
    // OpenCost's default weights: units = 8 × 0.95/0.004237 + 192 × 0.031611/0.004237 + 2048.
    let r = run(&two_nodes("[cost_allocation]\nsplit = \"opencost\"\n"));
    let (c, m, g) = (0.031611, 0.004237, 0.95);
    let ram = 55.04 / (8.0 * g / m + 192.0 * c / m + 2048.0);
    let w = cost(&r, "whole");
    near(w.gpu_usd, 2.0 * ram * g / m, "OpenCost GPU rate");
    near(w.cpu_usd, 8.0 * ram * c / m, "OpenCost CPU rate");
    near(w.memory_usd, 64.0 * ram, "OpenCost memory rate");
}

#[test]
fn time_sliced_shares_pay_their_fraction_of_a_gpu() {
    let src = r#"
[simulation]
horizon = "1h"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
initial_size = 1
time_slicing = { replicas = 4 }
[service]
replicas = 1
dispatch = "router"
[service.resources]
requests = { cpu = "1", memory = "2Gi", "nvidia.com/gpu" = 1 }
[service.service_time]
distribution = "deterministic"
base = "10ms"
[traffic]
kind = "poisson"
rate = 1.0
"#;
    let r = run(src);
    // g5.xlarge: $1.006/h, 4 vCPU, 16 GiB, 1 A10G; one share of 4 pays a quarter of it.
    let a10g = gpu_rate(1.006, 4.0, 16.0, 1.0);
    let c = r.summary.services[0].cost.unwrap();
    near(c.gpu_usd, a10g / 4.0, "a quarter of a GPU-hour");
    near(c.cpu_usd, CPU, "1 vCPU-hour");
}

#[test]
fn bad_cost_input_is_a_located_error() {
    // CPU and memory at these rates cost more than the node: the GPU rate would be negative.
    let src = two_nodes("").replacen(
        "instance_type = \"p5.48xlarge\"",
        "instance_type = \"p5.48xlarge\"\ncost_rates = { cpu = 0.2, memory = 0.01 }",
        1,
    );
    let e = parse_scenario(&src, "cost.toml").unwrap_err();
    assert_eq!(e.key, "node_pool[0].cost_rates", "{e}");
    assert!(
        e.message.contains("negative") && e.message.contains("$55.0400/h"),
        "{e}"
    );
    assert!(e.line.is_some());
    // Slice fractions that make one A100 pay for more than itself (all-balanced: 2 × 1g, 1 × 2g,
    // 1 × 3g on A100 40GB).
    let src = two_nodes("[cost_allocation]\nmig_fractions = { \"3g.20gb\" = 0.9 }\n");
    let e = parse_scenario(&src, "cost.toml").unwrap_err();
    assert_eq!(e.key, "cost_allocation.mig_fractions", "{e}");
    assert!(
        e.message.contains("node_pool[1]") && e.message.contains("at most 1"),
        "{e}"
    );
    let e = parse_scenario(
        &two_nodes("[cost_allocation]\nsplit = \"even\"\n"),
        "cost.toml",
    )
    .unwrap_err();
    assert_eq!(e.key, "cost_allocation.split", "{e}");
}

/// `two_nodes` with its services in two namespaces and a third, CPU-only service beside `whole`:
/// `team-a` holds `whole` (two H100s, 8 vCPU, 64 GiB) and `cpu` (4 vCPU, 16 GiB a pod), `team-b`
/// holds `slice` (a 3g.20gb slice, 2 vCPU, 8 GiB).
fn two_namespaces(cpu_replicas: u32) -> String {
    let mut src = two_nodes("[[namespace]]\nname = \"team-a\"\n[[namespace]]\nname = \"team-b\"\n")
        .replacen(
            "name = \"whole\"\n",
            "name = \"whole\"\nnamespace = \"team-a\"\n",
            1,
        )
        .replacen(
            "name = \"slice\"\n",
            "name = \"slice\"\nnamespace = \"team-b\"\n",
            1,
        );
    src.push_str(&svc(
        "cpu",
        cpu_replicas,
        r#"{ cpu = "4", memory = "16Gi" }"#,
        "namespace = \"team-a\"\n",
    ));
    src
}

/// What each namespace of [`two_namespaces`] pays for the hour, by hand: (GPU, CPU, memory).
fn namespace_bills(cpu_replicas: u32) -> [(&'static str, [f64; 3]); 2] {
    let h100 = gpu_rate(55.04, 192.0, 2048.0, 8.0);
    let a100 = gpu_rate(3.67, 12.0, 85.0, 1.0);
    let n = f64::from(cpu_replicas);
    [
        (
            "team-a",
            [2.0 * h100, (8.0 + 4.0 * n) * CPU, (64.0 + 16.0 * n) * MEM],
        ),
        ("team-b", [3.0 / 7.0 * a100, 2.0 * CPU, 8.0 * MEM]),
    ]
}

#[test]
fn namespaces_sum_their_services_costs_and_requests() {
    let r = run(&two_namespaces(1));
    let ns = &r.summary.namespaces;
    assert_eq!(
        ns.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["team-a", "team-b"],
        "by name"
    );
    assert_eq!(ns[0].services, ["whole", "cpu"], "scenario order");
    assert_eq!(ns[1].services, ["slice"]);
    for (n, (name, [gpu, cpu, mem])) in ns.iter().zip(namespace_bills(1)) {
        let c = n.cost.expect("a cost");
        near(c.gpu_usd, gpu, &format!("{name}: GPU"));
        near(c.cpu_usd, cpu, &format!("{name}: CPU"));
        near(c.memory_usd, mem, &format!("{name}: memory"));
        let total = gpu + cpu + mem;
        near(n.cost_usd.unwrap(), total, &format!("{name}: total"));
        // The horizon is one hour: per hour is the total.
        near(
            n.cost_usd_per_hour.unwrap(),
            total,
            &format!("{name}: per hour"),
        );
        let services: Vec<_> = r
            .summary
            .services
            .iter()
            .filter(|v| v.namespace == *name)
            .collect();
        let completed: u64 = services.iter().map(|v| v.requests.completed).sum();
        let measured: u64 = services.iter().map(|v| v.measured.completed).sum();
        let dropped: u64 = services.iter().map(|v| v.requests.dropped).sum();
        assert_eq!(n.requests.completed, completed, "{name}");
        assert_eq!(n.measured.completed, measured, "{name}");
        assert_eq!(n.requests.dropped, dropped, "{name}");
        assert!(
            completed > 3000,
            "{name}: about 3,600 requests an hour each"
        );
        near(
            n.usd_per_million_requests.unwrap(),
            total / completed as f64 * 1e6,
            &format!("{name}: $/M requests"),
        );
        let hours: f64 = services.iter().map(|v| v.replica_hours).sum();
        near(n.replica_hours, hours, &format!("{name}: pod-hours"));
    }
    // With every service in one namespace there is nothing to add: no entries, as before.
    assert!(run(&two_nodes("")).summary.namespaces.is_empty());
    let json = capsim_results::summary_json(&run(&two_nodes("")).summary);
    assert!(!json.contains("\"namespaces\""), "absent, not empty");
}

/// Policy variants of [`two_namespaces`]: `comparison.csv` gains a `namespace` column and one row
/// per namespace with its services' sums (costs by hand); latency and SLO stay empty; checks
/// may ask `namespaces.<name>.<metric>`.
#[test]
fn comparisons_have_a_row_per_namespace_and_checks_can_ask_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = namespace_bills(1);
    let b = namespace_bills(2);
    let team_a_1: f64 = a[0].1.iter().sum();
    let team_a_2: f64 = b[0].1.iter().sum();
    let mut src = two_namespaces(1);
    src.push_str(&format!(
        r#"
[[policy]]
name = "one-cpu"

[[policy]]
name = "two-cpu"
service.cpu.replicas = 2

[[check]]
metric = "namespaces.team-a.cost_usd"
op = "<="
threshold = {}
"#,
        team_a_1 + 0.01
    ));
    let path = dir.path().join("ns.toml");
    std::fs::write(&path, &src).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--report",
    ]);
    // The second variant's team-a pays for one more CPU pod, over the threshold: exit 3.
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.contains("namespaces.team-a.cost_usd <= ")
            && stderr.contains("policy two-cpu")
            && !stderr.contains("policy one-cpu"),
        "{stderr}"
    );
    // The printed table: a namespace column, and `(all)` rows with dashes for latency.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("two-cpu") && l.contains("(all)") && l.contains("team-a"))
        .unwrap_or_else(|| panic!("no team-a row in:\n{stdout}"));
    assert!(line.contains(&format!("${team_a_2:.2}")), "{line}");
    assert!(stdout.lines().any(|l| l.contains("namespace")), "{stdout}");

    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["policy", "service", "namespace", "completed"]);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let keys: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
    assert_eq!(
        keys,
        [
            ("one-cpu", "", ""),
            ("one-cpu", "whole", "team-a"),
            ("one-cpu", "slice", "team-b"),
            ("one-cpu", "cpu", "team-a"),
            ("one-cpu", "", "team-a"),
            ("one-cpu", "", "team-b"),
            ("two-cpu", "", ""),
            ("two-cpu", "whole", "team-a"),
            ("two-cpu", "slice", "team-b"),
            ("two-cpu", "cpu", "team-a"),
            ("two-cpu", "", "team-a"),
            ("two-cpu", "", "team-b"),
        ]
    );
    let num = |r: &Vec<&str>, c: &str| r[col(c)].parse::<f64>().unwrap();
    for (policy, bills) in [("one-cpu", a), ("two-cpu", b)] {
        let of = |svc: &str, ns: &str| {
            rows.iter()
                .find(|r| r[0] == policy && r[1] == svc && r[2] == ns)
                .unwrap()
        };
        for (ns, parts) in bills {
            let r = of("", ns);
            let total: f64 = parts.iter().sum();
            assert!((num(r, "cost_usd") - total).abs() < 1e-5, "{policy}/{ns}");
            assert!((num(r, "cost_usd_per_hour") - total).abs() < 1e-5);
            // Counts and replica-hours are the services' sums; nothing else adds up.
            let services: Vec<&Vec<&str>> = rows
                .iter()
                .filter(|x| x[0] == policy && !x[1].is_empty() && x[2] == ns)
                .collect();
            for c in ["completed", "dropped"] {
                let sum: f64 = services.iter().map(|x| num(x, c)).sum();
                assert_eq!(num(r, c), sum, "{policy}/{ns}: {c}");
            }
            let sum: f64 = services.iter().map(|x| num(x, "replica_hours")).sum();
            assert!((num(r, "replica_hours") - sum).abs() < 1e-5);
            for c in [
                "latency_p50_s",
                "latency_p99_s",
                "slo_attainment_ratio",
                "node_hours",
                "gpu_hours",
                "gpu_oom_kills",
            ] {
                assert_eq!(r[col(c)], "", "{policy}/{ns}: {c} does not add up");
            }
        }
    }
    // The report's comparison has a table by namespace.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("By namespace (the sums of its services)"));
    // Each variant's summary.json lists the namespaces.
    let s: capsim_results::Summary = serde_json::from_str(
        &std::fs::read_to_string(out.join("policies/two-cpu/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(s.namespaces.len(), 2);
    assert!((s.namespaces[0].cost_usd.unwrap() - team_a_2).abs() < 1e-6);
}

/// A check may name any namespace with services, even when there is only one (`default`); a
/// namespace without services fails, naming the run's; a metric that does not add up is refused.
#[test]
fn namespace_checks_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let check = |metric: &str| {
        let src = format!(
            "{}\n[[check]]\nmetric = \"{metric}\"\nop = \">\"\nthreshold = 1.0\n",
            two_nodes("")
        );
        let path = dir.path().join("c.toml");
        std::fs::write(&path, src).unwrap();
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        crate::common::capsim_text(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (code, _, stderr) = check("namespaces.default.cost_usd");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("checks: all 1 passed"), "{stderr}");
    let (code, _, stderr) = check("namespaces.team-x.cost_usd");
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr
            .contains("no service of the run is in namespace \"team-x\" (its namespaces: default)"),
        "{stderr}"
    );
    let (code, _, stderr) = check("namespaces.default.latency_p99_s");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("check[0].metric") && stderr.contains("cost_usd_per_million_requests"),
        "{stderr}"
    );
}
