//! `capsim pack` benchmark: one run per policy (seed 42) on the openb default trace, reported as
//! pods placed per wall-second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::gpu::{parse_nodes, parse_pods, run_grid, PackConfig, Policy};

fn pack(c: &mut Criterion) {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/traces/alibaba-openb/"
    );
    let nodes = std::fs::read_to_string(format!("{dir}openb_node_list_gpu_node.csv")).unwrap();
    let pods = std::fs::read_to_string(format!("{dir}openb_pod_list_default.csv")).unwrap();
    let mut trace = parse_nodes("nodes", &nodes).unwrap();
    parse_pods("pods", &pods, &mut trace).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pack");
    group.sample_size(10);
    for policy in Policy::ALL {
        let cfg = PackConfig {
            policies: vec![policy],
            seeds: vec![42],
            inflate: 1.3,
        };
        let pods = pool.install(|| run_grid(&trace, &cfg))[0].pods as u64;
        group.throughput(Throughput::Elements(pods));
        group.bench_function(policy.name(), |b| {
            b.iter(|| pool.install(|| run_grid(&trace, &cfg)))
        });
    }
    group.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
