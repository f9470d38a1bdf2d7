//! Several services on one cluster (`[[service]]`): each interaction on a hand-checked case.

use sim_core::catalog::Catalog;
use sim_core::results::{RunResult, ServiceSummary};
use sim_core::scenario::parse_variants;
use sim_core::{parse_scenario, Inputs};

fn run(src: &str) -> RunResult {
    let s = parse_scenario(src, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    sim_core::run(&s, Inputs::default()).expect("runs")
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a ServiceSummary {
    r.summary
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// A Triton-style service block: `name`, its extra keys, its requests and its traffic rate.
fn svc(name: &str, extra: &str, requests: &str, rate: f64) -> String {
    format!(
        r#"
[[service]]
name = "{name}"
dispatch = "router"
{extra}
[service.resources]
requests = {requests}
[service.service_time]
distribution = "deterministic"
base = "20ms"
[service.traffic]
kind = "poisson"
rate = {rate}
"#
    )
}

/// Every request of every service is completed, dropped or in flight, and the services add up
/// to the run's totals, with the gateway's `unknown_model` drops (which reach no service).
fn assert_conserved(r: &RunResult) {
    let (mut a, mut c, mut d, mut f) = (0, 0, 0, 0);
    for s in &r.summary.services {
        let q = &s.requests;
        assert_eq!(
            q.arrived,
            q.completed + q.dropped + q.in_flight,
            "service {} loses requests",
            s.name
        );
        a += q.arrived;
        c += q.completed;
        d += q.dropped;
        f += q.in_flight;
    }
    let t = &r.summary.requests;
    let unrouted = t
        .dropped_by_reason
        .get("unknown_model")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        (a + unrouted, c, d + unrouted, f),
        (t.arrived, t.completed, t.dropped, t.in_flight)
    );
    assert_eq!(t.arrived, t.completed + t.dropped + t.in_flight);
}

const ONE_GPU_NODE: &str = r#"
[simulation]
horizon = "30m"
warmup = "1m"
[[node_pool]]
name = "g5"
instance_type = "g5.xlarge"
initial_size = 1
"#;

/// One 1-GPU node; `batch` (priority 100) is created first and binds; `online` (priority 1000)
/// fits nowhere and preempts it. `batch`'s pod terminates (30 s grace, idle: at once), `online`
/// binds, and `batch`'s replacement stays Pending (it cannot preempt a higher priority).
#[test]
fn a_high_priority_service_preempts_a_low_priority_one() {
    let src = format!(
        "{ONE_GPU_NODE}
[[priority_class]]
name = \"low\"
value = 100
[[priority_class]]
name = \"high\"
value = 1000
{}{}",
        svc(
            "batch",
            "replicas = 1\npriority_class = \"low\"",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            2.0
        ),
        svc(
            "online",
            "replicas = 1\npriority_class = \"high\"",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            2.0
        ),
    );
    let r = run(&src);
    let p = r
        .summary
        .cluster
        .as_ref()
        .expect("a cluster")
        .preemption
        .as_ref()
        .expect("preemption results");
    assert_eq!(p.preemptions, 1);
    assert_eq!(p.victims_by_priority.get("100"), Some(&1));
    let (online, batch) = (service(&r, "online"), service(&r, "batch"));
    assert!(online.replicas_mean > 0.99, "{}", online.replicas_mean);
    assert!(batch.replicas_mean < 0.01, "{}", batch.replicas_mean);
    assert_eq!(service(&r, "online").requests.dropped, 0);
    assert_conserved(&r);
    // Without the priorities nothing is preempted: the first created keeps the GPU.
    let r = run(&src.replace("priority_class = \"high\"", "priority_class = \"low\""));
    assert!(service(&r, "batch").replicas_mean > 0.99);
    assert!(service(&r, "online").replicas_mean < 0.01);
}

/// `team-a`'s quota admits one GPU: its service gets 1 of 3 pods; `team-b` has no quota and
/// gets all 3 (a p5.48xlarge has 8 GPUs).
#[test]
fn a_namespace_quota_caps_one_service_and_not_the_other() {
    let src = format!(
        r#"
[simulation]
horizon = "20m"
warmup = "1m"
[[node_pool]]
name = "h100"
instance_type = "p5.48xlarge"
initial_size = 1
[[namespace]]
name = "team-a"
quota = {{ "requests.nvidia.com/gpu" = 1 }}
[[namespace]]
name = "team-b"
{}{}"#,
        svc(
            "a",
            "replicas = 3\nnamespace = \"team-a\"",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            5.0
        ),
        svc(
            "b",
            "replicas = 3\nnamespace = \"team-b\"",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            5.0
        ),
    );
    let r = run(&src);
    let (a, b) = (service(&r, "a"), service(&r, "b"));
    assert_eq!(a.namespace, "team-a");
    assert!((a.replicas_mean - 1.0).abs() < 1e-9, "{}", a.replicas_mean);
    assert!((b.replicas_mean - 3.0).abs() < 1e-9, "{}", b.replicas_mean);
    // Pod-hours: 1 and 3 pods bound for the whole 20 minutes.
    assert!((a.replica_hours - 1.0 / 3.0).abs() < 1e-6);
    assert!((b.replica_hours - 1.0).abs() < 1e-6);
    assert_conserved(&r);
}

/// One 1-GPU node holds `steady`'s pod; `burst` wants 2 pods more: the Cluster Autoscaler adds
/// two g5.xlarge nodes for them (3 launched in all), and `steady` keeps its one pod throughout.
#[test]
fn the_cluster_autoscaler_adds_nodes_for_one_services_pending_pods() {
    let src = format!(
        r#"
[simulation]
horizon = "30m"
warmup = "1m"
[[node_pool]]
name = "g5"
instance_type = "g5.xlarge"
initial_size = 1
min_size = 1
max_size = 4
provisioning_delay = "2m"
[cluster_autoscaler]
{}{}"#,
        svc(
            "steady",
            "replicas = 1",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            2.0
        ),
        svc(
            "burst",
            "replicas = 2",
            r#"{ cpu = "1", "nvidia.com/gpu" = 1 }"#,
            2.0
        ),
    );
    let r = run(&src);
    let c = r.summary.cluster.as_ref().expect("a cluster");
    assert_eq!(c.nodes_launched, 3);
    let steady = service(&r, "steady");
    assert!((steady.replicas_mean - 1.0).abs() < 1e-9);
    assert_eq!(steady.requests.dropped, 0);
    // `burst` waits for the new nodes (2 minutes, then start-up), then runs 2 pods.
    let burst = service(&r, "burst");
    assert!(burst.replicas_mean > 1.8 && burst.replicas_mean < 2.0);
    assert_conserved(&r);
}

/// One A100-40GB under the mixed strategy with `all-balanced` (2 × 1g.5gb, 1 × 2g.10gb,
/// 1 × 3g.20gb): `small`'s two 1g.5gb pods and `mid`'s 3g.20gb pod share the one GPU.
#[test]
fn a_mixed_strategy_mig_gpu_holds_pods_of_two_services() {
    let src = format!(
        r#"
[simulation]
horizon = "10m"
warmup = "1m"
[[node_pool]]
name = "a100"
instance_type = "a2-highgpu-1g"
initial_size = 1
mig_layout = "all-balanced"
{}{}"#,
        svc(
            "small",
            "replicas = 2",
            r#"{ cpu = "1", "nvidia.com/mig-1g.5gb" = 1 }"#,
            5.0
        ),
        svc(
            "mid",
            "replicas = 1",
            r#"{ cpu = "1", "nvidia.com/mig-3g.20gb" = 1 }"#,
            5.0
        ),
    );
    let r = run(&src);
    let c = r.summary.cluster.as_ref().expect("a cluster");
    assert_eq!(c.nodes_launched, 1);
    assert!((service(&r, "small").replicas_mean - 2.0).abs() < 1e-9);
    assert!((service(&r, "mid").replicas_mean - 1.0).abs() < 1e-9);
    assert!(service(&r, "small").requests.completed > 0);
    assert!(service(&r, "mid").requests.completed > 0);
    // A third 1g.5gb pod finds no slice left.
    let r = run(&src.replace("replicas = 2", "replicas = 3"));
    assert!((service(&r, "small").replicas_mean - 2.0).abs() < 1e-9);
    assert_eq!(r.summary.cluster.as_ref().unwrap().pods_pending_max, 1);
}

/// Each service's requests reach only its own replicas, and its traffic is its own: with
/// different rates, each service's arrivals follow its own rate.
#[test]
fn each_service_serves_its_own_traffic() {
    let src = format!(
        "{ONE_GPU_NODE}{}{}",
        svc("a", "replicas = 1", r#"{ cpu = "1" }"#, 10.0),
        svc("b", "replicas = 1", r#"{ cpu = "1" }"#, 40.0),
    );
    let r = run(&src);
    let (a, b) = (service(&r, "a"), service(&r, "b"));
    // 30 minutes at 10 and 40 per second, within 3 %.
    assert!((a.requests.arrived as f64 / 18_000.0 - 1.0).abs() < 0.03);
    assert!((b.requests.arrived as f64 / 72_000.0 - 1.0).abs() < 0.03);
    assert_conserved(&r);
    // Adding a service does not move the first service's draws (its streams keep their names).
    let alone = run(&format!(
        "{ONE_GPU_NODE}{}",
        svc("a", "replicas = 1", r#"{ cpu = "1" }"#, 10.0)
    ));
    assert_eq!(alone.summary.requests.arrived, a.requests.arrived);
    assert_eq!(alone.summary.latency_s.p99, a.latency_s.p99);
}

/// A `[[policy]]` addresses one service by name: `[policy.service.<name>]`.
#[test]
fn a_policy_variant_addresses_one_service_by_name() {
    let src = format!(
        "{ONE_GPU_NODE}{}{}
[[policy]]
name = \"more-b\"
[policy.service.b]
replicas = 3
",
        svc("a", "replicas = 1", r#"{ cpu = "1" }"#, 10.0),
        svc("b", "replicas = 1", r#"{ cpu = "1" }"#, 10.0),
    );
    let v = parse_variants(&src, "t.toml", &Catalog::builtin()).unwrap();
    assert_eq!(v.len(), 1);
    let s = &v[0].scenario;
    assert_eq!(s.service.replicas, 1);
    assert_eq!(s.others[0].service.replicas, 3);
    let bad = src.replace("[policy.service.b]", "[policy.service.c]");
    let e = parse_variants(&bad, "t.toml", &Catalog::builtin()).unwrap_err();
    assert_eq!(e.key, "policy[0].service.c");
    assert!(e.message.contains("no [[service]] is named \"c\""), "{e}");
    assert!(e.message.contains("a, b"), "{e}");
}

/// Bad input in the `[[service]]` form: each a located error naming the key.
#[test]
fn bad_service_tables_are_located_errors() {
    let two = |a: &str, b: &str| {
        format!(
            "{ONE_GPU_NODE}{}{}",
            svc(a, "replicas = 1", r#"{ cpu = "1" }"#, 1.0),
            svc(b, "replicas = 1", r#"{ cpu = "1" }"#, 1.0)
        )
    };
    let e = parse_scenario(&two("x", "x"), "t.toml").unwrap_err();
    assert_eq!(e.key, "service[1].name");
    assert!(e.message.contains("\"x\" again"), "{e}");
    assert!(e.line.is_some());
    // Both forms at once is not TOML (a table and an array of tables under one key).
    let both = format!("[service]\nreplicas = 1\n{}", two("x", "y"));
    let e = parse_scenario(&both, "t.toml").unwrap_err();
    assert!(e.line.is_some(), "{e}");
    // A per-service section at the top level.
    let top = format!(
        "{}\n[hpa]\nminReplicas = 1\nmaxReplicas = 2\n",
        two("x", "y")
    );
    let e = parse_scenario(&top, "t.toml").unwrap_err();
    assert_eq!(e.key, "hpa");
    assert!(e.message.contains("[service.hpa]"), "{e}");
    // A mistake inside the second service is located there.
    let typo = two("x", "y").replacen("rate = 1", "rat = 1", 2);
    let e = parse_scenario(&typo, "t.toml").unwrap_err();
    assert!(
        e.key.starts_with("service[1].traffic") || e.key.starts_with("service[0].traffic"),
        "{e}"
    );
    assert!(e.message.contains("did you mean `rate`"), "{e}");
    let missing = two("x", "y").replacen("name = \"y\"\n", "", 1);
    let e = parse_scenario(&missing, "t.toml").unwrap_err();
    assert_eq!(e.key, "service[1]");
    assert!(e.message.contains("`name`"), "{e}");
}

/// The shipped example: four models, each with its own traffic; conservation per service.
#[test]
fn the_multi_model_example_has_one_entry_per_model() {
    let path = crate::common::root().join("scenarios/multi-model.toml");
    let text = std::fs::read_to_string(path).unwrap();
    // An hour is enough to check the shape (the shipped morning runs in CI's compat test).
    let text = text.replace("horizon = \"4h\"", "horizon = \"1h\"");
    assert!(text.contains("horizon = \"1h\""));
    let variants = parse_variants(&text, "multi-model.toml", &Catalog::builtin()).unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["whole-gpus", "mig", "time-sliced"]);
    for v in &variants {
        let r = sim_core::run(&v.scenario, Inputs::default()).expect("runs");
        let names: Vec<&str> = r.summary.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["classify", "chat", "coder", "reason"], "{}", v.name);
        assert_conserved(&r);
        for s in &r.summary.services {
            assert!(
                s.requests.completed > 0,
                "{}: {} completed nothing",
                v.name,
                s.name
            );
            assert!(s.tokens.is_some());
            assert!(
                s.cost_usd.is_some_and(|c| c > 0.0),
                "{}: {}",
                v.name,
                s.name
            );
        }
        assert_eq!(r.service_series.len(), 4);
    }
}

/// A two-service scenario file with a per-service `[[check]]`, and a sweep over one service's
/// replicas (`service.<name>.replicas`), through the `capsim` binary.
#[test]
fn checks_and_sweeps_address_one_service_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = format!(
        "{ONE_GPU_NODE}{}{}
[[check]]
metric = \"services.b.completed\"
op = \">\"
threshold = 1000

[[check]]
metric = \"services.b.cost_usd\"
op = \">\"
threshold = 0
",
        svc("a", "replicas = 1", r#"{ cpu = "1" }"#, 10.0),
        svc("b", "replicas = 1", r#"{ cpu = "1" }"#, 10.0),
    );
    let path = dir.path().join("two.toml");
    std::fs::write(&path, &scenario).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--requests",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("services     name"), "{stdout}");
    let services = std::fs::read_to_string(out.join("services.csv")).unwrap();
    assert!(services.starts_with("time_s,service,"));
    let requests = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    assert!(requests
        .lines()
        .next()
        .unwrap()
        .ends_with(",service,ttft_s,tpot_s"));
    // Engines without tokens leave the token columns empty.
    assert!(requests
        .lines()
        .skip(1)
        .all(|l| l.ends_with(",a,,") || l.ends_with(",b,,")));
    // The same check with an impossible threshold fails the run with exit code 3, naming it.
    std::fs::write(
        &path,
        scenario.replace("threshold = 1000", "threshold = 1e9"),
    )
    .unwrap();
    let (code, _, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("services.b.completed > 1000000000"),
        "{stderr}"
    );
    // An unknown service in a check is a located error, and nothing is written.
    std::fs::write(&path, scenario.replace("services.b.", "services.c.")).unwrap();
    let fresh = dir.path().join("fresh");
    let (code, _, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        fresh.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("check[0].metric"), "{stderr}");
    assert!(stderr.contains("no [[service]] is named \"c\""), "{stderr}");
    // A sweep over service b's replicas (of the scenario without its check: per-service
    // checks are `capsim run`'s for now).
    let no_check = scenario.split("[[check]]").next().unwrap().to_string();
    std::fs::write(&path, no_check).unwrap();
    let sweep = dir.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "scenario = \"two.toml\"\n[[axis]]\nkey = \"service.b.replicas\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    let sout = dir.path().join("sweep");
    let (code, o, e) = crate::common::capsim_text(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        sout.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}{e}");
    let csv = std::fs::read_to_string(sout.join("sweep.csv")).unwrap();
    let hours: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(hours.len(), 2);
    assert_ne!(hours[0], hours[1]);
    // An unknown service in a sweep key is an error naming the services.
    std::fs::write(
        &sweep,
        "scenario = \"two.toml\"\n[[axis]]\nkey = \"service.z.replicas\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    let (code, _, e) = crate::common::capsim_text(&[
        "sweep",
        sweep.to_str().unwrap(),
        "--out",
        dir.path().join("sweep2").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("no [[service]] is named \"z\"") && e.contains("a, b"),
        "{e}"
    );
}

/// Three services of one replica each, time-sliced on one A10G, each replaying its own arrivals
/// (10 ms per request alone); returns (service, arrival s, latency s) of every request.
fn time_sliced(arrivals: [&[f64]; 3]) -> Vec<(u16, f64, f64)> {
    use sim_core::engine::SimTime;
    use sim_core::metrics::{Outcome, RequestRow};
    use sim_core::traffic::{TraceFeed, TraceRecord};
    use std::sync::Arc;
    let mut src = String::from(
        r#"
[simulation]
horizon = "200s"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
min_size = 1
max_size = 1
initial_size = 1
time_slicing = { replicas = 4 }
"#,
    );
    for name in ["a", "b", "c"] {
        src += &format!(
            r#"
[[service]]
name = "{name}"
dispatch = "router"
router = "round-robin"
[service.resources]
requests = {{ "nvidia.com/gpu" = 1 }}
[service.pod]
gpu_memory = "1Gi"
[service.service_time]
distribution = "deterministic"
base = "10ms"
[service.traffic]
kind = "trace"
path = "{name}.csv"
format = "csv"
"#
        );
    }
    let feeds = arrivals
        .iter()
        .map(|times| {
            TraceFeed::Records(Arc::new(
                times
                    .iter()
                    .map(|&t| TraceRecord {
                        time: SimTime::from_secs_f64(t),
                        prompt_tokens: 0,
                        output_tokens: 0,
                        tenant: 0,
                        prefix: sim_core::serving::Prefix::NONE,
                    })
                    .collect(),
            ))
        })
        .collect();
    let s = parse_scenario(&src, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut rows: Vec<RequestRow> = Vec::new();
    let r = sim_core::World::new(
        &s,
        Inputs {
            feeds,
            ..Inputs::default()
        },
    )
    .unwrap()
    .run(&mut rows);
    assert_conserved(&r);
    assert_eq!(r.summary.cluster.as_ref().unwrap().nodes_launched, 1);
    rows.iter()
        .map(|row| match row.outcome {
            Outcome::Completed { finish, .. } => (
                row.request.service,
                row.request.arrival.as_secs_f64(),
                finish.since(row.request.arrival).as_secs_f64(),
            ),
            Outcome::Dropped { reason, .. } => panic!("dropped: {reason:?}"),
        })
        .collect()
}

#[test]
fn time_sliced_services_slow_each_other_only_while_both_are_busy() {
    // Measured share of each of 2 busy processes (calibration/h100/timeslice.csv).
    let s2 = sim_core::world::MEASURED_SHARES[1];
    assert!((s2 - 0.46718).abs() < 1e-5);
    let rows = time_sliced([&[100.0, 110.0, 120.0], &[100.0, 120.005], &[150.0]]);
    let latency = |svc: u16, at: f64| {
        rows.iter()
            .find(|r| r.0 == svc && (r.1 - at).abs() < 1e-9)
            .unwrap_or_else(|| panic!("no request of {svc} at {at}: {rows:?}"))
            .2
    };
    let near = |got: f64, want: f64| assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    // a and b arrive together: each has 0.467 of the GPU all along: 10 ms / 0.467 = 21.4 ms.
    near(latency(0, 100.0), 0.010 / s2);
    near(latency(1, 100.0), 0.010 / s2);
    // a alone at 110 s, beside two idle co-tenants: the whole GPU.
    near(latency(0, 110.0), 0.010);
    near(latency(2, 150.0), 0.010);
    // a runs alone for 5 ms; b joins: a's last 5 ms of work take 5 / 0.467 ms, and b does
    // 5 ms of work in that time; then b has the GPU to itself for its last 5 ms.
    let shared = 0.005 / s2;
    near(latency(0, 120.0), 0.005 + shared);
    near(latency(1, 120.005), shared + 0.005);
}

/// A Triton-style service fed only by the gateway (no traffic of its own).
fn gw_svc(name: &str) -> String {
    format!(
        r#"
[[service]]
name = "{name}"
dispatch = "router"
replicas = 1
[service.resources]
requests = {{ cpu = "1" }}
[service.service_time]
distribution = "deterministic"
base = "5ms"
"#
    )
}

/// The gateway's traffic: a mix of streams, each `(name, model, rate)`.
fn gw_traffic(streams: &[(&str, &str, f64)]) -> String {
    let mut t = String::from("\n[traffic]\nkind = \"mix\"\n");
    for (name, model, rate) in streams {
        t += &format!(
            "[[traffic.stream]]\nname = \"{name}\"\nmodel = \"{model}\"\nkind = \"poisson\"\nrate = {rate}\n"
        );
    }
    t
}

fn route(model: &str, service: &str) -> String {
    format!("\n[[route]]\nmodel = \"{model}\"\nservice = \"{service}\"\n")
}

#[test]
fn the_gateway_routes_each_model_to_its_service_and_drops_unknown_models() {
    use sim_core::metrics::{Outcome, RequestRow};
    use sim_core::serving::DropReason;
    let src = format!(
        "{ONE_GPU_NODE}{}{}{}{}{}{}",
        gw_svc("chat"),
        gw_svc("coder"),
        route("llama-3.1-8b", "chat"),
        route("meta-llama/Llama-3.1-8B-Instruct", "chat"),
        route("qwen2.5-coder", "coder"),
        gw_traffic(&[
            ("team-a", "llama-3.1-8b", 4.0),
            ("team-b", "meta-llama/Llama-3.1-8B-Instruct", 2.0),
            ("team-c", "qwen2.5-coder", 3.0),
            ("team-d", "mistral-7b", 1.0),
        ]),
    );
    let s = parse_scenario(&src, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut rows: Vec<RequestRow> = Vec::new();
    let r = sim_core::World::new(&s, Inputs::default())
        .unwrap()
        .run(&mut rows);
    assert_conserved(&r);
    // Streams 0 and 1 (two names of one model) reach `chat` only, stream 2 `coder` only;
    // stream 3's model has no route: every one of its requests is dropped as unknown_model.
    let mut by_stream = [0u64; 4];
    for row in &rows {
        let t = usize::from(row.request.tenant);
        by_stream[t] += 1;
        match t {
            0 | 1 => assert_eq!(row.request.service, 0, "{row:?}"),
            2 => assert_eq!(row.request.service, 1, "{row:?}"),
            _ => {
                assert_eq!(row.request.service, u16::MAX);
                assert!(matches!(
                    row.outcome,
                    Outcome::Dropped {
                        reason: DropReason::UnknownModel,
                        ..
                    }
                ));
            }
        }
        if t < 3 {
            assert!(matches!(row.outcome, Outcome::Completed { .. }), "{row:?}");
        }
    }
    assert!(by_stream.iter().all(|&n| n > 0), "{by_stream:?}");
    let chat = service(&r, "chat");
    let coder = service(&r, "coder");
    assert_eq!(chat.requests.arrived, by_stream[0] + by_stream[1]);
    assert_eq!(coder.requests.arrived, by_stream[2]);
    let c = &r.summary.requests;
    assert_eq!(c.dropped_by_reason["unknown_model"], by_stream[3]);
    assert_eq!(c.arrived, by_stream.iter().sum::<u64>());
    // Rates 6 : 3 : 1 over 30 minutes (Poisson: within 5%).
    let total = by_stream.iter().sum::<u64>() as f64;
    let chat_share = chat.requests.arrived as f64 / total;
    assert!((chat_share - 0.6).abs() < 0.03, "{chat_share}");
    // One warning names the unknown model.
    let warnings = &r.summary.warnings;
    let named: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("mistral-7b"))
        .collect();
    assert_eq!(named.len(), 1, "{warnings:?}");
    assert!(named[0].contains("unknown_model") && named[0].contains(&by_stream[3].to_string()));
    // With a default route, the unknown model's requests go there instead.
    let with_default = src.clone() + "\n[[route]]\ndefault = true\nservice = \"coder\"\n";
    let r = run(&with_default);
    assert_conserved(&r);
    assert_eq!(r.summary.requests.dropped_by_reason["unknown_model"], 0);
    assert_eq!(
        service(&r, "coder").requests.arrived,
        by_stream[2] + by_stream[3]
    );
}

#[test]
fn the_gateway_routes_a_traces_model_column_beside_a_services_own_traffic() {
    let dir = tempfile::tempdir().unwrap();
    // Tenant and model columns: the gateway routes on the model alone.
    std::fs::write(
        dir.path().join("requests.csv"),
        "timestamp,tenant,model\n1.0,t1,small\n2.0,t2,big\n3.0,t1,small\n4.0,t2,unknown\n5.0,t1,big\n",
    )
    .unwrap();
    let scenario = format!(
        "{ONE_GPU_NODE}{}{}{}{}
[traffic]
kind = \"trace\"
path = \"requests.csv\"
format = \"csv\"
",
        gw_svc("a"),
        svc("b", "replicas = 1", r#"{ cpu = "1" }"#, 0.01),
        route("small", "a"),
        route("big", "b"),
    );
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, &scenario).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        path.to_str().unwrap(),
        "--requests",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let svc = |name: &str| {
        summary["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["requests"]["arrived"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(svc("a"), 2);
    // b: two routed rows plus whatever its own Poisson traffic (0.01/s) sent.
    let own = svc("b") - 2;
    assert_eq!(
        summary["requests"]["arrived"].as_u64().unwrap(),
        2 + 2 + 1 + own
    );
    assert_eq!(summary["requests"]["dropped_by_reason"]["unknown_model"], 1);
    let requests = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let unknown: Vec<&str> = requests
        .lines()
        .filter(|l| l.contains("unknown_model"))
        .collect();
    assert_eq!(unknown.len(), 1, "{requests}");
    assert!(unknown[0].ends_with(','), "no service: {}", unknown[0]);
    assert!(stdout.contains("`unknown`"), "{stdout}");
}

/// Bad gateway input: each a located error, and `run` leaves no output behind.
#[test]
fn bad_gateway_input_is_located_and_writes_nothing() {
    let base = format!("{ONE_GPU_NODE}{}{}", gw_svc("a"), gw_svc("b"));
    let traffic = gw_traffic(&[("s", "m", 1.0)]);
    let cases = [
        (
            format!("{base}{}{traffic}", route("m", "nobody")),
            "route[0].service",
            "\"nobody\"",
        ),
        (format!("{base}{traffic}"), "traffic", "[[route]]"),
        (format!("{base}{}", route("m", "a")), "route", "[traffic]"),
        (
            format!("{base}{}{}{traffic}", route("m", "a"), route("m", "b")),
            "route[1].model",
            "route[0]",
        ),
        // b has neither its own traffic nor a route to it.
        (
            format!("{base}{}{traffic}", route("m", "a")),
            "service[1]",
            "[service.traffic]",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key, says)) in cases.iter().enumerate() {
        let e = parse_scenario(text, "t.toml").unwrap_err();
        assert_eq!(e.key, *key, "case {i}: {e}");
        assert!(e.message.contains(says), "case {i}: {e}");
        assert!(e.line.is_some(), "case {i}: {e}");
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let (code, _, stderr) = crate::common::capsim_text(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ne!(code, 0);
        assert!(stderr.contains(key), "case {i}: {stderr}");
        assert!(!out.exists(), "case {i}: output left behind");
    }
    // A stream's `model` without the gateway: in the single form, and on a service's own traffic.
    let single = format!(
        "{ONE_GPU_NODE}\n[service]\nreplicas = 1\n[service.resources]\nrequests = {{ cpu = \"1\" }}\n[service.service_time]\ndistribution = \"deterministic\"\nbase = \"5ms\"\n{traffic}"
    );
    let e = parse_scenario(&single, "t.toml").unwrap_err();
    assert_eq!(e.key, "traffic.stream[0].model", "{e}");
    let own = format!(
        "{ONE_GPU_NODE}{}\n[service.traffic]\nkind = \"mix\"\n[[service.traffic.stream]]\nname = \"s\"\nmodel = \"m\"\nkind = \"poisson\"\nrate = 1\n",
        gw_svc("a")
    );
    let e = parse_scenario(&own, "t.toml").unwrap_err();
    assert_eq!(e.key, "service[0].traffic.stream[0].model", "{e}");
    // A gateway traffic key is located at the top level.
    let typo = format!("{base}{}{}", route("m", "a"), route("n", "b"))
        + &traffic.replace("rate = 1", "rat = 1");
    let e = parse_scenario(&typo, "t.toml").unwrap_err();
    assert!(e.key.starts_with("traffic.stream[0]"), "{e}");
}

/// The shipped gateway example: three models behind one gateway, one unknown model.
#[test]
fn the_gateway_example_routes_three_models() {
    let path = crate::common::root().join("scenarios/gateway.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let r = run(&text);
    assert_conserved(&r);
    let names: Vec<&str> = r.summary.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["small", "chat", "coder"]);
    assert!(r.summary.services.iter().all(|s| s.requests.arrived > 0));
    assert!(r.summary.requests.dropped_by_reason["unknown_model"] > 0);
}

/// `validate`'s estimate counts every service's traffic and replicas, and the gateway's.
#[test]
fn the_estimate_counts_every_service_and_the_gateway() {
    use sim_core::scenario::limits::Estimate;
    let one = format!(
        "{ONE_GPU_NODE}{}",
        svc("a", "replicas = 2", r#"{ cpu = "1" }"#, 10.0)
    );
    let two = format!(
        "{one}{}",
        svc("b", "replicas = 3", r#"{ cpu = "1" }"#, 20.0)
    );
    let gw = format!("{two}{}{}", route("m", "a"), gw_traffic(&[("s", "m", 5.0)]));
    let e = |t: &str| Estimate::of(&parse_scenario(t, "t.toml").unwrap(), None);
    // 30 minutes: 10/s alone; 10 + 20 with b; 10 + 20 + 5 with the gateway.
    assert_eq!(e(&one).requests, Some(18_000.0));
    assert_eq!(e(&two).requests, Some(54_000.0));
    assert_eq!(e(&gw).requests, Some(63_000.0));
    assert!(e(&two).memory_bytes > e(&one).memory_bytes);
}

/// `--set` on the command line addresses one service by name, as a `[[policy]]` does; a mistake
/// names the `--set` and leaves no output behind.
#[test]
fn the_command_line_addresses_one_service_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = format!(
        "{ONE_GPU_NODE}{}{}",
        svc("a", "replicas = 1", r#"{ cpu = "1" }"#, 5.0),
        svc("b", "replicas = 1", r#"{ cpu = "1" }"#, 5.0),
    );
    let path = dir.path().join("two.toml");
    std::fs::write(&path, &scenario).unwrap();
    let out = dir.path().join("out");
    let p = path.to_str().unwrap();
    let o = out.to_str().unwrap();
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        p,
        "--set",
        "service.b.replicas=3",
        "--set",
        "simulation.horizon=5m",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["horizon_s"], 300.0);
    let mean = |name: &str| {
        summary["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["replicas_mean"]
            .as_f64()
            .unwrap()
    };
    assert!((mean("a") - 1.0).abs() < 1e-9);
    assert!((mean("b") - 3.0).abs() < 1e-9);
    // The effective scenario is what the run records.
    let written = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(written.contains("replicas = 3"), "{written}");
    for (set, says) in [
        ("service.c.replicas=2", "no [[service]] is named \"c\""),
        ("service.b.replicas=-1", "--set service.b.replicas=-1"),
        ("replicas", "KEY=VALUE"),
    ] {
        let bad = dir.path().join(format!("bad-{}", set.len()));
        let (code, _, stderr) =
            crate::common::capsim_text(&["run", p, "--set", set, "--out", bad.to_str().unwrap()]);
        assert_eq!(code, 2, "{set}: {stderr}");
        assert!(stderr.contains(says), "{set}: {stderr}");
        assert!(!bad.exists(), "{set}: output left behind");
    }
}

/// Kueue's batch work keeps working beside several services: the shipped batch example with a
/// second service sharing its namespace quota and nodes.
#[test]
fn kueue_batch_work_runs_beside_several_services() {
    let path = crate::common::root().join("scenarios/batch-beside-serving.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let second = r#"
[[service]]
name = "classify"
replicas = 1
dispatch = "router"
namespace = "serving"
priority_class = "serving-high"
[service.resources]
requests = { cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }
[service.service_time]
distribution = "deterministic"
base = "20ms"
[service.traffic]
kind = "poisson"
rate = 5.0

"#;
    let multi = text
        .replace("[slo]\nttft = \"1s\"\ntpot = \"50ms\"\n", "")
        .replace("horizon = \"60m\"", "horizon = \"30m\"")
        .replace("[service]\n", "[[service]]\n")
        .replace(
            "[service.vllm]\nmodel = \"llama-3.1-8b\"\n",
            "[service.vllm]\nmodel = \"llama-3.1-8b\"\n[service.slo]\nttft = \"1s\"\ntpot = \"50ms\"\n",
        )
        .replace("[hpa]", "[service.hpa]")
        .replace("[traffic]", "[service.traffic]")
        .replace("[traffic.tokens]", "[service.traffic.tokens]")
        .replace("[[batch.queue]]", &format!("{second}[[batch.queue]]"));
    let r = run(&multi);
    assert_conserved(&r);
    assert_eq!(r.summary.services.len(), 2);
    assert!(service(&r, "classify").requests.completed > 0);
    let c = r.summary.cluster.as_ref().unwrap();
    let batch = c.batch.as_ref().expect("batch work ran");
    assert!(batch.jobs_completed > 0, "{batch:?}");
    // The batch pods pay for what they hold, in their own row.
    let csv = capsim_results::cost_attribution_csv(&r.summary).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("(batch),")), "{csv}");
    let total: f64 = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(
        (total - c.cost_usd).abs() < 0.01,
        "{total} vs {}",
        c.cost_usd
    );
    assert!(c.batch_cost.unwrap().gpu_usd > 0.0);
}

/// Reads a CSV into its header and rows of cells.
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// The shipped many-models example through the `capsim` binary: in each variant's folder,
/// `cost_attribution.csv`'s totals add up to the cluster's bill within a cent; its service rows
/// are `summary.json`'s `services[].cost`; `comparison.csv`'s service rows carry each service's
/// cost and cost per million requests; `services.csv`'s `cost_usd_per_hour`, over the intervals,
/// adds up to each service's cost, and the cluster's cost per hour less the services' to idle.
#[test]
fn the_multi_model_variants_costs_add_up_to_the_bill() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = crate::common::capsim_text(&[
        "run",
        "scenarios/multi-model.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (header, comparison) =
        csv_rows(&std::fs::read_to_string(out.join("comparison.csv")).unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for variant in ["whole-gpus", "mig", "time-sliced"] {
        let vdir = out.join("policies").join(variant);
        let summary: capsim_results::Summary =
            serde_json::from_str(&std::fs::read_to_string(vdir.join("summary.json")).unwrap())
                .unwrap();
        let cluster = summary.cluster.as_ref().unwrap();
        let (h, rows) =
            csv_rows(&std::fs::read_to_string(vdir.join("cost_attribution.csv")).unwrap());
        assert_eq!(h.join(","), capsim_results::cost::COST_ATTRIBUTION);
        let total = h.iter().position(|c| c == "total_usd").unwrap();
        let sum: f64 = rows.iter().map(|r| r[total].parse::<f64>().unwrap()).sum();
        assert!(
            (sum - cluster.cost_usd).abs() < 0.01,
            "{variant}: cost_attribution.csv sums to {sum}, the bill is {}",
            cluster.cost_usd
        );
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            ["classify", "chat", "coder", "reason", "(idle)"],
            "{variant}"
        );
        for (r, v) in rows.iter().zip(&summary.services) {
            let want = v.cost.unwrap();
            let got: f64 = r[total].parse().unwrap();
            assert!((got - want.total_usd).abs() < 1e-5, "{variant}/{}", v.name);
        }
        // comparison.csv: the service's row has its cost; its cost per hour is over the horizon.
        let hours = summary.horizon_s / 3600.0;
        let f6 = |x: f64| format!("{x:.6}");
        for v in &summary.services {
            let r = comparison
                .iter()
                .find(|r| r[0] == variant && r[1] == v.name)
                .unwrap_or_else(|| panic!("no row {variant},{}", v.name));
            let cost = v.cost_usd.unwrap();
            assert_eq!(r[col("cost_usd")], f6(cost), "{variant}/{}", v.name);
            assert_eq!(r[col("cost_usd_per_hour")], f6(cost / hours));
            assert_eq!(
                r[col("cost_usd_per_million_requests")],
                f6(v.usd_per_million_requests.unwrap())
            );
            for c in ["node_hours", "gpu_hours", "gpu_oom_kills"] {
                assert_eq!(r[col(c)], "", "{c} is the cluster's");
            }
        }
        // services.csv: each interval's cost rate, times its length, adds up to the service's
        // cost (idle is not shared in this scenario).
        assert!(!cluster.share_idle);
        let (sh, srows) = csv_rows(&std::fs::read_to_string(vdir.join("services.csv")).unwrap());
        let (t, name, rate) = (
            0,
            1,
            sh.iter().position(|c| c == "cost_usd_per_hour").unwrap(),
        );
        let mut by_service = vec![0.0f64; summary.services.len()];
        let mut services_per_interval: Vec<f64> = Vec::new();
        let mut last = (String::new(), 0.0f64);
        let mut prev_t = 0.0f64;
        for r in &srows {
            let time: f64 = r[t].parse().unwrap();
            if r[t] != last.0 {
                prev_t = last.1;
                last = (r[t].clone(), time);
                services_per_interval.push(0.0);
            }
            let i = summary
                .services
                .iter()
                .position(|v| v.name == r[name])
                .unwrap();
            let x: f64 = r[rate].parse().unwrap();
            by_service[i] += x * (time - prev_t) / 3600.0;
            *services_per_interval.last_mut().unwrap() += x;
        }
        for (v, got) in summary.services.iter().zip(&by_service) {
            let want = v.cost_usd.unwrap();
            assert!(
                (got - want).abs() < 1e-4 * want.max(1.0),
                "{variant}/{}: services.csv adds up to {got}, summary.json says {want}",
                v.name
            );
        }
        // timeseries.csv's cost per hour less the services' is idle (the bill rounds each
        // node's seconds up, so within a dollar).
        let (th, trows) = csv_rows(&std::fs::read_to_string(vdir.join("timeseries.csv")).unwrap());
        let rate = th.iter().position(|c| c == "cost_usd_per_hour").unwrap();
        assert_eq!(trows.len(), services_per_interval.len());
        let mut idle = 0.0;
        let mut prev = 0.0f64;
        for (r, s) in trows.iter().zip(&services_per_interval) {
            let time: f64 = r[0].parse().unwrap();
            let all: f64 = r[rate].parse().unwrap();
            assert!(
                all + 1e-6 >= *s,
                "{variant} at {time}: cluster {all} < services {s}"
            );
            idle += (all - s) * (time - prev) / 3600.0;
            prev = time;
        }
        assert!(
            (idle - cluster.idle_cost_usd).abs() < 1.0,
            "{variant}: idle from the series {idle}, summary.json {}",
            cluster.idle_cost_usd
        );
    }
}

/// Two services of three one-GPU pods (60 GiB loaded at 1 GiB/s: 60 s from bind to Ready) on
/// seven one-GPU nodes, no traffic; `b` rolls out a new version at 10 minutes with maxSurge 1
/// and maxUnavailable 0, `a` has no rollout.
fn two_services_one_rollout(rollout: &str) -> String {
    let pod = "[service.pod]\nmodel_size = \"60Gi\"";
    let gpu = r#"{ cpu = "2", memory = "8Gi", "nvidia.com/gpu" = 1 }"#;
    format!(
        r#"
[simulation]
horizon = "40m"
[[node_pool]]
name = "a10g"
instance_type = "g5.xlarge"
initial_size = 7
{}{}{rollout}"#,
        svc("a", &format!("replicas = 3\n{pod}"), gpu, 0.0),
        svc("b", &format!("replicas = 3\n{pod}"), gpu, 0.0),
    )
}

#[test]
fn a_rollout_in_one_service_leaves_the_other_alone() {
    let r = run(&two_services_one_rollout(
        "[[service.rollout]]\nat = \"10m\"\nmax_surge = 1\nmax_unavailable = 0\n",
    ));
    // The single-service form's top-level rollout is absent: each service has its own.
    assert!(r.summary.rollout.is_none());
    let (a, b) = (service(&r, "a"), service(&r, "b"));
    assert!(a.rollout.is_none(), "{:?}", a.rollout);
    let ro = b.rollout.as_ref().expect("b's rollout");
    // As the single-service timeline: at 600 s the surge pod binds on the spare node and is
    // Ready at 660 s; then an old pod goes and the next new pod starts on its node, Ready at
    // 720 s; the last at 780 s.
    assert_eq!(ro.rollouts.len(), 1);
    let rec = &ro.rollouts[0];
    assert_eq!(rec.start_s, 600.0);
    assert_eq!(rec.finish_s, Some(780.0));
    assert_eq!(rec.min_ready_replicas, 3);
    assert!(
        (rec.extra_pod_hours - 180.0 / 3600.0).abs() < 1e-9,
        "{rec:?}"
    );
    let times: Vec<(f64, Vec<u32>)> = ro.ready.iter().map(|p| (p.t_s, p.ready.clone())).collect();
    assert_eq!(
        times,
        vec![
            (0.0, vec![3]),
            (600.0, vec![3, 0]),
            (660.0, vec![2, 1]),
            (720.0, vec![1, 2]),
            (780.0, vec![0, 3]),
        ]
    );
    // `a` keeps its three version-0 pods, Ready from 60 s: 3 × (2400 − 60) / 3600 pod-hours
    // measured from binding (at 0 s) to the horizon, 3 × 2400 / 3600.
    assert!((a.replica_hours - 2.0).abs() < 1e-9, "{}", a.replica_hours);
    // `b`'s pods: three old ones (0 s until replaced at 660, 720 and 780 s) and three new
    // ones (from 600, 660 and 720 s to the horizon): (660 + 720 + 780 + 1800 + 1740 + 1680)
    // pod-seconds.
    let b_secs = 660.0 + 720.0 + 780.0 + 1800.0 + 1740.0 + 1680.0;
    assert!(
        (b.replica_hours - b_secs / 3600.0).abs() < 1e-9,
        "{}",
        b.replica_hours
    );
    let json = serde_json::to_value(&r.summary).unwrap();
    assert!(json["services"][0].get("rollout").is_none());
    assert_eq!(
        json["services"][1]["rollout"]["rollouts"][0]["finish_s"],
        780.0
    );
}

#[test]
fn a_services_rollout_errors_name_its_key() {
    let mut src = two_services_one_rollout("[[service.rollout]]\nmax_surge = 1\n");
    let e = parse_scenario(&src, "t.toml").unwrap_err().to_string();
    assert!(e.contains("service[1].rollout[0].at"), "{e}");
    src = two_services_one_rollout("[[service.rollout]]\nat = \"5m\"\nstrategy = \"Blue\"\n");
    let e = parse_scenario(&src, "t.toml").unwrap_err().to_string();
    assert!(e.contains("service[1].rollout[0].strategy"), "{e}");
    src = two_services_one_rollout("");
    src.push_str("\n[[rollout]]\nat = \"5m\"\n");
    let e = parse_scenario(&src, "t.toml").unwrap_err().to_string();
    assert!(e.contains("[[service.rollout]]"), "{e}");
}

/// A pool of `n` nodes of `instance` in `zone`.
fn pool(name: &str, instance: &str, n: u32, zone: &str) -> String {
    format!(
        r#"
[[node_pool]]
name = "{name}"
instance_type = "{instance}"
initial_size = {n}
labels = {{ "topology.kubernetes.io/zone" = "{zone}" }}
"#
    )
}

const SHORT: &str = "[simulation]\nhorizon = \"5m\"\n";
const ONE_GPU: &str = r#"{ cpu = "1", memory = "4Gi", "nvidia.com/gpu" = 1 }"#;
const TWO_GPUS: &str = r#"{ cpu = "1", memory = "4Gi", "nvidia.com/gpu" = 2 }"#;
/// `a`'s pods: one per node (a required hostname anti-affinity on its own pods, no selector).
const A_ONE_PER_NODE: &str = "[service.pod]\naffinity = { podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution = [{ topologyKey = \"kubernetes.io/hostname\" }] } }";
/// `b`'s pods avoid nodes holding `a`'s (its selector selects `app = a`, `a`'s default label).
const B_AVOIDS_A: &str = "[service.pod]\naffinity = { podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution = [{ topologyKey = \"kubernetes.io/hostname\", labelSelector = { matchLabels = { app = \"a\" } } }] } }";

#[test]
fn an_anti_affinity_selecting_another_services_pods_keeps_off_their_nodes() {
    // Three four-GPU nodes; `a` (created first) puts one pod on each of two nodes. `b`'s pods
    // ask two GPUs each and may use only the third node: two fit, the third stays Pending,
    // though each of `a`'s nodes has three GPUs free.
    let src = format!(
        "{SHORT}{}{}{}",
        pool("gpu", "g6e.12xlarge", 3, "z1"),
        svc(
            "a",
            &format!("replicas = 2\n{A_ONE_PER_NODE}"),
            ONE_GPU,
            1.0
        ),
        svc("b", &format!("replicas = 3\n{B_AVOIDS_A}"), TWO_GPUS, 1.0),
    );
    let r = run(&src);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match pod anti-affinity rules.")
    );
    assert!((service(&r, "a").replicas_mean - 2.0).abs() < 1e-9);
    assert!((service(&r, "b").replicas_mean - 2.0).abs() < 1e-9);
    // `a` on every node: no node is left for `b`, whose one pod stays Pending.
    let src = format!(
        "{SHORT}{}{}{}",
        pool("gpu", "g6e.12xlarge", 3, "z1"),
        svc(
            "a",
            &format!("replicas = 3\n{A_ONE_PER_NODE}"),
            ONE_GPU,
            1.0
        ),
        svc("b", &format!("replicas = 1\n{B_AVOIDS_A}"), ONE_GPU, 1.0),
    );
    let r = run(&src);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
    );
    assert_eq!(service(&r, "b").replicas_mean, 0.0);
    // Without the selector `b`'s term counts its own pods only: it runs beside `a`.
    let own = B_AVOIDS_A.replace(", labelSelector = { matchLabels = { app = \"a\" } }", "");
    let src = format!(
        "{SHORT}{}{}{}",
        pool("gpu", "g6e.12xlarge", 3, "z1"),
        svc(
            "a",
            &format!("replicas = 3\n{A_ONE_PER_NODE}"),
            ONE_GPU,
            1.0
        ),
        svc("b", &format!("replicas = 1\n{own}"), ONE_GPU, 1.0),
    );
    let r = run(&src);
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
    // Symmetric, as upstream: `a` (placed first) avoids `b`'s nodes; `b`'s pods, one per node,
    // may not join `a`'s node either. Two of three run.
    let a_avoids_b = B_AVOIDS_A.replace("app = \"a\"", "app = \"b\"");
    let b_one_per_node = A_ONE_PER_NODE;
    let src = format!(
        "{SHORT}{}{}{}",
        pool("gpu", "g6e.12xlarge", 3, "z1"),
        svc("a", &format!("replicas = 1\n{a_avoids_b}"), ONE_GPU, 1.0),
        svc(
            "b",
            &format!("replicas = 3\n{b_one_per_node}"),
            ONE_GPU,
            1.0
        ),
    );
    let r = run(&src);
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
    );
    assert!((service(&r, "b").replicas_mean - 2.0).abs() < 1e-9);
}

#[test]
fn a_spread_constraint_selecting_both_services_spreads_them_jointly() {
    // Zone z1: one four-GPU node; zone z2: one one-GPU node. `a` (labelled tier = llm, no
    // constraint of its own) is held in z1 by a nodeSelector: three pods there. `b`'s
    // constraint (zone, maxSkew 1, DoNotSchedule) selects tier = llm, `a`'s pods and its own.
    // Its first pod: z1 3 + 1 − 0 > 1, so z2 (now 1). Its second: z1 3 + 1 − 1 > 1, and z2's
    // node is full: Pending. Counting its own pods only, the second would take z1's last GPU.
    let tier = "labels = { app = \"a\", tier = \"llm\" }";
    let a = format!(
        "replicas = 3\n[service.pod]\n{tier}\nnodeSelector = {{ \"topology.kubernetes.io/zone\" = \"z1\" }}"
    );
    let spread = |selector: &str| {
        format!(
            "replicas = 2\n[service.pod]\nlabels = {{ app = \"b\", tier = \"llm\" }}\ntopologySpreadConstraints = [{{ maxSkew = 1, topologyKey = \"topology.kubernetes.io/zone\", whenUnsatisfiable = \"DoNotSchedule\"{selector} }}]"
        )
    };
    let scenario = |selector: &str| {
        format!(
            "{SHORT}{}{}{}{}",
            pool("big", "g6e.12xlarge", 1, "z1"),
            pool("small", "g5.xlarge", 1, "z2"),
            svc("a", &a, ONE_GPU, 1.0),
            svc("b", &spread(selector), ONE_GPU, 1.0),
        )
    };
    let r = run(&scenario(
        ", labelSelector = { matchLabels = { tier = \"llm\" } }",
    ));
    let c = r.summary.cluster.as_ref().unwrap();
    assert_eq!(c.pods_pending_at_horizon, 1);
    assert_eq!(
        c.last_unschedulable_reason.as_deref(),
        Some("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match pod topology spread constraints.")
    );
    assert!((service(&r, "a").replicas_mean - 3.0).abs() < 1e-9);
    assert!((service(&r, "b").replicas_mean - 1.0).abs() < 1e-9);
    // No selector: `b`'s own pods, one per zone.
    let r = run(&scenario(""));
    assert_eq!(
        r.summary.cluster.as_ref().unwrap().pods_pending_at_horizon,
        0
    );
    assert!((service(&r, "b").replicas_mean - 2.0).abs() < 1e-9);
}

#[test]
fn selectors_that_select_no_service_or_are_malformed_name_their_key() {
    let with_b = |pod: &str| {
        format!(
            "{SHORT}{}{}{}",
            pool("gpu", "g6e.12xlarge", 3, "z1"),
            svc("a", "replicas = 1", ONE_GPU, 1.0),
            svc(
                "b",
                &format!("replicas = 1\n[service.pod]\n{pod}"),
                ONE_GPU,
                1.0
            ),
        )
    };
    let err = |pod: &str| match parse_scenario(&with_b(pod), "t.toml") {
        Ok(_) => panic!("accepted: {pod}"),
        Err(e) => e.to_string(),
    };
    let spread = |sel: &str| {
        format!("topologySpreadConstraints = [{{ maxSkew = 1, topologyKey = \"kubernetes.io/hostname\", whenUnsatisfiable = \"ScheduleAnyway\", labelSelector = {sel} }}]")
    };
    let e = err(&spread("{ matchLabels = { app = \"c\" } }"));
    assert!(
        e.contains("service[1].pod.topologySpreadConstraints[0].labelSelector")
            && e.contains("no service in namespace default")
            && e.contains("{app=a}, {app=b}"),
        "{e}"
    );
    let e = err(&spread(
        "{ matchExpressions = [{ key = \"app\", operator = \"Gt\", values = [\"1\"] }] }",
    ));
    assert!(
        e.contains("service[1].pod.topologySpreadConstraints[0].labelSelector.matchExpressions[0].operator"),
        "{e}"
    );
    // `a` lives in namespace default; a term searching namespace `ml` finds no pods.
    let e = err("affinity = { podAntiAffinity = { preferredDuringSchedulingIgnoredDuringExecution = [{ weight = 10, podAffinityTerm = { topologyKey = \"kubernetes.io/hostname\", namespaces = [\"ml\"], labelSelector = { matchLabels = { app = \"a\" } } } }] } }");
    assert!(
        e.contains("service[1].pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector")
            && e.contains("namespaces ml"),
        "{e}"
    );
}
