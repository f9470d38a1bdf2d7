//! Engine hold-model benchmark: pop one event, push one, with a fixed number pending; compared
//! with the same loop on a bare `std::collections::BinaryHeap` of `(time, seq)` keys.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sim_core::engine::{EventQueue, SimTime};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

/// A payload the size of capsim's world events (an enum of small variants naming components by
/// index; the largest carries three `u32`s).
#[derive(Clone, Copy)]
#[allow(dead_code)]
enum Payload {
    Arrival,
    Rollout { svc: u32, rollout: u32, step: u32 },
}

/// A tiny deterministic generator for hold times (the same sequence in both loops).
struct XorShift(u64);
impl XorShift {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const OPS: u64 = 100_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(OPS));
    group.sample_size(20);
    for pending in [10_000usize, 1_000_000] {
        group.bench_function(format!("capsim_event_queue/{pending}"), |b| {
            b.iter_batched_ref(
                || {
                    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
                    let mut q = EventQueue::with_capacity(pending + 1);
                    for _ in 0..pending {
                        q.push(SimTime(rng.next() % 1_000_000_000), Payload::Arrival);
                    }
                    (q, rng)
                },
                |(q, rng)| {
                    for _ in 0..OPS {
                        let (t, e) = q.pop().unwrap();
                        q.push(SimTime(t.0 + rng.next() % 1_000_000_000), black_box(e));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("std_binary_heap/{pending}"), |b| {
            b.iter_batched_ref(
                || {
                    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
                    let mut h = BinaryHeap::with_capacity(pending + 1);
                    let mut seq = 0u64;
                    for _ in 0..pending {
                        h.push(Reverse((rng.next() % 1_000_000_000, seq)));
                        seq += 1;
                    }
                    (h, rng, seq)
                },
                |(h, rng, seq)| {
                    for _ in 0..OPS {
                        let Reverse((t, _)) = h.pop().unwrap();
                        h.push(Reverse((t + rng.next() % 1_000_000_000, *seq)));
                        *seq += 1;
                    }
                    black_box(&h);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
