//! Trace ingestion in rows per second (each format's streaming reader over an in-memory file of
//! 100,000 rows), and arrivals per second of the generators.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::engine::{RngStreams, SimDuration, SimTime};
use sim_core::scenario::{ColumnMap, DiurnalSpec, MmppState, TimeUnit, TraceFormat};
use sim_core::traffic::{DiurnalArrivals, GammaRenewal, MmppArrivals, TraceReader};
use std::fmt::Write as _;
use std::hint::black_box;

const ROWS: u64 = 100_000;

fn azure(rows: u64) -> String {
    let mut s = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    for i in 0..rows {
        let us = i * 250_000 + (i * 7919) % 100_000;
        let (sec, frac) = (us / 1_000_000, us % 1_000_000);
        let _ = writeln!(
            s,
            "2023-11-16 {:02}:{:02}:{:02}.{frac:06}0,{},{}",
            (sec / 3600) % 24,
            (sec / 60) % 60,
            sec % 60,
            500 + i % 4000,
            1 + i % 300
        );
    }
    s
}

fn burstgpt(rows: u64) -> String {
    let mut s =
        String::from("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n");
    for i in 0..rows {
        let m = if i % 4 == 0 { "GPT-4" } else { "ChatGPT" };
        let _ = writeln!(
            s,
            "{},{m},{},{},{},Conversation log",
            i / 3,
            100 + i % 900,
            1 + i % 500,
            101 + i % 1400
        );
    }
    s
}

fn mooncake(rows: u64) -> String {
    let mut s = String::new();
    for i in 0..rows {
        let _ = writeln!(
            s,
            "{{\"timestamp\": {}, \"input_length\": {}, \"output_length\": {}, \"hash_ids\": [{}, {}, {}]}}",
            i * 3,
            500 + i % 8000,
            1 + i % 400,
            i,
            i + 1,
            i + 2
        );
    }
    s
}

fn csv(rows: u64) -> String {
    let mut s = String::from("arrival_ms,customer,in_tokens,out_tokens\n");
    for i in 0..rows {
        let _ = writeln!(s, "{},t{},{},{}", i * 5, i % 7, 100 + i % 900, 1 + i % 300);
    }
    s
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_ingest");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    let map = ColumnMap {
        timestamp: "arrival_ms".into(),
        time_unit: TimeUnit::Millis,
        prompt_tokens: Some("in_tokens".into()),
        output_tokens: Some("out_tokens".into()),
        tenant: Some("customer".into()),
        model: None,
        model_only: false,
    };
    let cases = [
        (
            "azure-llm-2023",
            TraceFormat::AzureLlm2023,
            azure(ROWS),
            ColumnMap::default(),
        ),
        (
            "burstgpt",
            TraceFormat::BurstGpt,
            burstgpt(ROWS),
            ColumnMap::default(),
        ),
        (
            "mooncake",
            TraceFormat::Mooncake,
            mooncake(ROWS),
            ColumnMap::default(),
        ),
        ("csv-mapped", TraceFormat::Csv, csv(ROWS), map),
    ];
    for (name, format, text, columns) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut r = TraceReader::new(text.as_bytes(), "bench", *format, columns).unwrap();
                let mut n = 0u64;
                while let Some(rec) = r.next_record().unwrap() {
                    n += rec.output_tokens as u64;
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

const ARRIVALS: u64 = 100_000;

fn generators(c: &mut Criterion) {
    let mut group = c.benchmark_group("generators");
    group.throughput(Throughput::Elements(ARRIVALS));
    group.sample_size(10);
    let streams = RngStreams::new(1);
    let diurnal = DiurnalSpec {
        rate: 100.0,
        hourly: (0..24).map(|h| 0.2 + h as f64 / 24.0).collect(),
        weekly: vec![1.0; 7],
        phase: SimDuration::ZERO,
    };
    let states = [
        MmppState {
            rate: 200.0,
            mean_sojourn: SimDuration::from_secs(10),
        },
        MmppState {
            rate: 20.0,
            mean_sojourn: SimDuration::from_secs(30),
        },
    ];
    group.bench_function("diurnal", |b| {
        b.iter(|| {
            let mut g = DiurnalArrivals::new(&diurnal, streams.stream("a"));
            let mut t = SimTime::ZERO;
            for _ in 0..ARRIVALS {
                t = g.next_after(t).unwrap();
            }
            black_box(t)
        })
    });
    group.bench_function("mmpp", |b| {
        b.iter(|| {
            let mut g = MmppArrivals::new(&states, streams.stream("a"), streams.stream("s"));
            let mut t = SimTime::ZERO;
            for _ in 0..ARRIVALS {
                t = g.next_after(t).unwrap();
            }
            black_box(t)
        })
    });
    group.bench_function("gamma-cv2", |b| {
        b.iter(|| {
            let mut g = GammaRenewal::new(100.0, 2.0, streams.stream("a"));
            let mut t = SimTime::ZERO;
            for _ in 0..ARRIVALS {
                t = g.next_after(t).unwrap();
            }
            black_box(t)
        })
    });
    group.finish();
}

criterion_group!(benches, ingest, generators);
criterion_main!(benches);
