//! End-to-end benchmark: whole runs, reported as simulated requests per wall-second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::{parse_scenario, run, Inputs};

/// A scenario with `replicas` replicas at 80% utilisation over `horizon_s` seconds.
fn scenario(dispatch: &str, batching: &str, replicas: u32, horizon_s: u64) -> (String, u64) {
    let rate = 0.8 * replicas as f64 * 100.0; // 10 ms per request
    let text = format!(
        "[simulation]\nhorizon = \"{horizon_s}s\"\n[service]\nreplicas = {replicas}\n{dispatch}\n{batching}\n\
         [service.service_time]\ndistribution = \"exponential\"\nbase = \"8ms\"\nper_item = \"2ms\"\n\
         [traffic]\nkind = \"poisson\"\nrate = {rate}\n"
    );
    (text, (rate * horizon_s as f64) as u64)
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    let cases = [
        ("shared_queue_4_replicas", "dispatch = \"shared\"", "", 4),
        ("router_64_replicas_least_outstanding", "dispatch = \"router\"\nrouter = \"least-outstanding\"", "", 64),
        (
            "router_16_replicas_dynamic_batching",
            "dispatch = \"router\"",
            "[service.triton]\nmax_batch_size = 8\n[service.triton.dynamic_batching]\nmax_queue_delay_microseconds = 500",
            16,
        ),
    ];
    for (name, dispatch, batching, replicas) in cases {
        let horizon = 2_000_000 / (80 * replicas as u64); // about 2 million requests
        let (text, expected) = scenario(dispatch, batching, replicas, horizon);
        let s = parse_scenario(&text, name).unwrap();
        group.throughput(Throughput::Elements(expected));
        group.bench_function(name, |b| b.iter(|| run(&s, Inputs::default()).unwrap()));
    }
    group.finish();
}

/// A shared cluster of five 192-vCPU nodes and `services` services of `replicas` replicas each,
/// round-robin, each replica at 80% utilisation, over `horizon_s` seconds.
fn shared_cluster(services: u32, replicas: u32, horizon_s: u64) -> (String, u64) {
    let rate = 0.8 * replicas as f64 * 100.0; // per service; 10 ms per request
    let mut text = format!(
        "[simulation]\nhorizon = \"{horizon_s}s\"\n\
         [[node_pool]]\nname = \"cpu\"\ninstance_type = \"p5.48xlarge\"\ninitial_size = 5\nmax_pods = 250\n"
    );
    for i in 0..services {
        text += &format!(
            "[[service]]\nname = \"s{i}\"\nreplicas = {replicas}\ndispatch = \"router\"\nrouter = \"round-robin\"\n\
             [service.resources]\nrequests = {{ cpu = \"100m\", memory = \"128Mi\" }}\n\
             [service.service_time]\ndistribution = \"exponential\"\nbase = \"8ms\"\nper_item = \"2ms\"\n\
             [service.traffic]\nkind = \"poisson\"\nrate = {rate}\n"
        );
    }
    (text, (rate * services as f64 * horizon_s as f64) as u64)
}

/// Many services against one: the same 1,000 replicas and total traffic as 50 services of 20
/// replicas or one service of 1,000, on the same shared cluster (issue #16's target: within 25%).
fn services(c: &mut Criterion) {
    let mut group = c.benchmark_group("services");
    group.sample_size(10);
    for (name, services, replicas) in [
        ("50_services_x_20_replicas_round_robin", 50, 20),
        ("1_service_x_1000_replicas_round_robin", 1, 1000),
    ] {
        let (text, expected) = shared_cluster(services, replicas, 25); // about 2 million requests
        let s = parse_scenario(&text, name).unwrap();
        group.throughput(Throughput::Elements(expected));
        group.bench_function(name, |b| b.iter(|| run(&s, Inputs::default()).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, end_to_end, services);
criterion_main!(benches);
