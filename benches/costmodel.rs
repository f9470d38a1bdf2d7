//! Step-time model cost: one roofline step for a mixed batch (what a continuous-batching engine
//! pays per step), one long prefill, building the model, and one measured-table lookup.

use criterion::{criterion_group, criterion_main, Criterion};
use sim_core::catalog::{builtin_model, Catalog};
use sim_core::costmodel::{
    read_profile_csv, Placement, ProfileTable, ProfiledCost, Roofline, StepBatch,
};
use std::hint::black_box;

fn step_time(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let gpu = catalog.gpu("h100-sxm").unwrap();
    let roofline = Roofline::new(
        gpu,
        builtin_model("llama-3.1-8b").unwrap(),
        &Placement::whole(),
    );
    let mut batch = StepBatch::decode(64, 1500);
    batch.add_prefill_chunk(512, 1024, false);
    c.bench_function("roofline_step_time/llama-3.1-8b_mixed", |b| {
        b.iter(|| roofline.step_time(black_box(&batch)))
    });
    let mixtral = Roofline::new(
        gpu,
        builtin_model("mixtral-8x7b").unwrap(),
        &Placement::tensor_parallel(2),
    );
    c.bench_function("roofline_step_time/mixtral-8x7b_tp2_mixed", |b| {
        b.iter(|| mixtral.step_time(black_box(&batch)))
    });
    // Building the model (its table of one layer's GEMM times included), once per service.
    let llama = builtin_model("llama-3.1-8b").unwrap();
    c.bench_function("roofline_new/llama-3.1-8b", |b| {
        b.iter(|| Roofline::new(gpu, black_box(llama), &Placement::whole()))
    });
    // 16,384 tokens: past the table of one layer's GEMM times, so worked out.
    let long = StepBatch::prefill(2, 8192);
    c.bench_function("roofline_step_time/llama-3.1-8b_prefill_2x8192", |b| {
        b.iter(|| roofline.step_time(black_box(&long)))
    });
    let text = include_str!("../sim-core/calibration/h100/decode.csv");
    let (kind, rows) = read_profile_csv(text, "decode.csv").unwrap();
    let profiled = ProfiledCost {
        roofline: roofline.clone(),
        decode: Some(ProfileTable::from_rows(kind, &rows, "decode.csv").unwrap()),
        prefill: None,
    };
    let decode = StepBatch::decode(48, 1500);
    c.bench_function("profile_step_time/decode_table", |b| {
        b.iter(|| profiled.step_time(black_box(&decode)))
    });
}

criterion_group!(benches, step_time);
criterion_main!(benches);
