//! Hand-computed timelines for the continuous-batching engine.

use super::*;
use crate::serving::prefix::{Prefix, PrefixTable};
use crate::serving::request::RequestId;
use crate::serving::step::LinearStep;

const MS: u64 = 1_000_000;

fn engine(kv_blocks: u32, block_size: u32) -> VllmEngine {
    VllmEngine::new(
        VllmConfig {
            max_num_seqs: 8,
            max_num_batched_tokens: 100,
            block_size,
            kv_blocks,
            max_queue_size: None,
        },
        // Every step takes 10 ms whatever it holds.
        StepModel::Linear(LinearStep {
            base: 0.010,
            per_token: 0.0,
            per_seq: 0.0,
            per_context_token: 0.0,
        }),
        0,
    )
}

fn request(id: u64, at_ms: u64, prompt: u32, output: u32) -> Request {
    Request {
        id: RequestId(id),
        arrival: SimTime(at_ms * MS),
        prompt_tokens: prompt,
        output_tokens: output,
        prefix: Prefix::NONE,
        tenant: 0,
        service: 0,
        adapter: 0,
    }
}

/// Drives an engine as the world does: admit at arrival times, wake when asked.
fn drive(e: &mut VllmEngine, arrivals: Vec<Request>) -> (Vec<Completion>, u32) {
    drive_with(e, arrivals, false).0
}

/// [`drive`]; with `admit_wake`, an arrival that only moves the wake-up is handled by
/// [`ReplicaEngine::admit_wake`] instead of an advance, as the world does. Also returns how
/// many arrivals were handled that way.
fn drive_with(
    e: &mut VllmEngine,
    mut arrivals: Vec<Request>,
    admit_wake: bool,
) -> ((Vec<Completion>, u32), u32) {
    arrivals.reverse();
    let mut done = Vec::new();
    let mut wake: Option<SimTime> = None;
    let mut wakes = 0;
    let mut short = 0;
    loop {
        let next_arrival = arrivals.last().map(|r| r.arrival);
        let now = match (next_arrival, wake) {
            (Some(a), Some(w)) if w < a => {
                wakes += 1;
                w
            }
            (Some(a), _) => {
                let r = arrivals.pop().unwrap();
                e.admit(a, r).unwrap();
                if admit_wake {
                    if let Some((next, state)) = e.admit_wake(a) {
                        assert_eq!(state, e.state());
                        wake = next;
                        short += 1;
                        continue;
                    }
                }
                a
            }
            (None, Some(w)) => {
                wakes += 1;
                w
            }
            (None, None) => break,
        };
        wake = e.advance(now, &mut done);
    }
    ((done, wakes), short)
}

fn times(c: &Completion) -> (u64, u64, u64) {
    (c.start.0 / MS, c.first_token.0 / MS, c.finish.0 / MS)
}

#[test]
fn three_requests_with_one_preemption() {
    // Block size 4, five blocks. A (prompt 4, output 6) and B (4, 6) arrive at 0, C (4, 2) at 5 ms.
    //  step 1  0-10: A prefills (1 block).                    A's first token at 10.
    //  step 2 10-20: A decodes (2nd block), B and C prefill.  B's and C's first tokens at 20.
    //  step 3 20-30: B needs a 2nd block, none is left for C: C (the newest) is preempted; A, B decode.
    //  steps 4-6 30-60: C (5 tokens now) needs 2 blocks, 1 is free: A and B decode three steps as
    //          one segment; A has its 6 tokens at 60.
    //  step 7 60-70: B decodes its last token, C is prefilled again (prompt + 1 token) and samples
    //          its 2nd and last token.
    let mut e = engine(5, 4);
    let (done, wakes) = drive(
        &mut e,
        vec![
            request(0, 0, 4, 6),
            request(1, 0, 4, 6),
            request(2, 5, 4, 2),
        ],
    );
    let by_id = |id| done.iter().find(|c| c.request.id == RequestId(id)).unwrap();
    assert_eq!(times(by_id(0)), (0, 10, 60));
    assert_eq!(times(by_id(1)), (10, 20, 70));
    assert_eq!(times(by_id(2)), (10, 20, 70));
    assert_eq!(done.len(), 3);
    let c = e.counters();
    assert_eq!(c.preemptions, 1);
    assert_eq!(c.recomputed_tokens, 4);
    assert_eq!(c.steps, 7);
    // Wake-ups at 10, 20, 30, 60 and 70: the three steps 30-60 were one segment.
    assert_eq!(wakes, 5);
    assert_eq!(e.kv_blocks(), (0, 5));
}

#[test]
fn a_long_decode_is_one_segment() {
    let mut e = engine(1000, 16);
    let (done, wakes) = drive(&mut e, vec![request(0, 0, 10, 1000)]);
    assert_eq!(times(&done[0]), (0, 10, 10_000));
    // The prefill step and the 999 decode steps after it are one segment: one wake-up.
    assert_eq!(wakes, 1);
    assert_eq!(e.counters().steps, 1000);
}

#[test]
fn an_arrival_joins_at_the_next_step_boundary() {
    // A decodes alone from 10 ms; B arrives at 35 ms, during the step 30-40, and is prefilled in
    // the step 40-50 beside A's decode.
    let mut e = engine(1000, 16);
    let (done, _) = drive(&mut e, vec![request(0, 0, 10, 100), request(1, 35, 10, 2)]);
    let by_id = |id| done.iter().find(|c| c.request.id == RequestId(id)).unwrap();
    assert_eq!(times(by_id(1)), (40, 50, 60));
    // A: 100 tokens, one per step from 0, whatever joined: the 100th at 1000 ms.
    assert_eq!(times(by_id(0)), (0, 10, 1000));
    assert_eq!(e.counters().steps, 100);
}

#[test]
fn admit_wake_does_what_an_advance_would() {
    // Arrivals mid-step (cutting runs of decode steps), on step boundaries (where the engine
    // must advance instead), and while idle; a step is 10 ms.
    let arrivals: Vec<Request> = (0..60)
        .map(|i| {
            request(
                i,
                [3, 10, 17, 20, 24, 40, 41][i as usize % 7] + 13 * i,
                5,
                3 + (i % 11) as u32 * 4,
            )
        })
        .collect();
    let mut a = engine(400, 4);
    let mut b = engine(400, 4);
    let (plain, plain_wakes) = drive(&mut a, arrivals.clone());
    let ((fast, fast_wakes), short) = drive_with(&mut b, arrivals, true);
    assert_eq!(plain.len(), 60);
    // Some arrivals took the short way, and some (on a boundary, or idle) could not.
    assert!(
        short > 10 && short < 60,
        "{short} of 60 arrivals only cut a run"
    );
    let key = |c: &Completion| (c.request.id, c.start, c.first_token, c.finish, c.batch_size);
    assert_eq!(
        plain.iter().map(key).collect::<Vec<_>>(),
        fast.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(plain_wakes, fast_wakes);
    assert_eq!(a.counters(), b.counters());
    // The cases by hand: idle, mid-step, and on a step boundary.
    let mut c = engine(400, 4);
    c.admit(SimTime(0), request(0, 0, 5, 20)).unwrap();
    assert_eq!(c.admit_wake(SimTime(0)), None, "idle: nothing planned yet");
    c.advance(SimTime(0), &mut Vec::new());
    c.admit(SimTime(15 * MS), request(1, 15, 5, 20)).unwrap();
    assert_eq!(
        c.admit_wake(SimTime(15 * MS)),
        Some((Some(SimTime(20 * MS)), (1, 1, 1)))
    );
    c.advance(SimTime(20 * MS), &mut Vec::new());
    c.admit(SimTime(30 * MS), request(2, 30, 5, 20)).unwrap();
    assert_eq!(c.admit_wake(SimTime(30 * MS)), None, "a step ends now");
}

#[test]
fn chunked_prefill_respects_the_token_budget_and_max_num_seqs() {
    let mut e = VllmEngine::new(
        VllmConfig {
            max_num_seqs: 2,
            max_num_batched_tokens: 64,
            block_size: 16,
            kv_blocks: 1000,
            max_queue_size: Some(1),
        },
        StepModel::Linear(LinearStep {
            base: 0.010,
            per_token: 0.0,
            per_seq: 0.0,
            per_context_token: 0.0,
        }),
        3,
    );
    // A 150-token prompt takes three steps of at most 64 tokens: first token at 30 ms.
    e.admit(SimTime::ZERO, request(0, 0, 150, 1)).unwrap();
    let mut done = Vec::new();
    assert_eq!(e.advance(SimTime::ZERO, &mut done), Some(SimTime(10 * MS)));
    e.admit(SimTime::ZERO, request(1, 0, 10, 1)).unwrap();
    // The queue holds one waiting request.
    assert_eq!(
        e.admit(SimTime::ZERO, request(2, 0, 10, 1)),
        Err(DropReason::QueueFull)
    );
    let mut now = SimTime::ZERO;
    while let Some(t) = e.advance(now, &mut done) {
        now = t;
    }
    let a = done.iter().find(|c| c.request.id == RequestId(0)).unwrap();
    // A's first two chunks use the whole budget of 64, so B waits and joins A's last chunk (22
    // tokens) in the step 20-30.
    assert_eq!(times(a), (0, 30, 30));
    let b = done.iter().find(|c| c.request.id == RequestId(1)).unwrap();
    assert_eq!(times(b), (20, 30, 30));
    assert!(done.iter().all(|c| c.replica == 3));
}

#[test]
fn a_request_larger_than_the_kv_cache_is_refused() {
    let mut e = engine(4, 16);
    assert_eq!(
        e.admit(SimTime::ZERO, request(0, 0, 60, 10)),
        Err(DropReason::ExceedsKvCache)
    );
    assert!(e.admit(SimTime::ZERO, request(1, 0, 50, 10)).is_ok());
    // Exactly the 64 tokens of the four blocks fit; one more does not.
    assert!(e.admit(SimTime::ZERO, request(2, 0, 54, 10)).is_ok());
    assert_eq!(
        e.admit(SimTime::ZERO, request(3, 0, 55, 10)),
        Err(DropReason::ExceedsKvCache)
    );
}

#[test]
fn abort_returns_everything() {
    let mut e = engine(100, 16);
    e.admit(SimTime::ZERO, request(0, 0, 10, 10)).unwrap();
    let mut done = Vec::new();
    e.advance(SimTime::ZERO, &mut done);
    e.admit(SimTime::ZERO, request(1, 0, 10, 10)).unwrap();
    let mut out = Vec::new();
    e.abort(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(e.kv_blocks(), (0, 100));
    assert_eq!(e.advance(SimTime(MS), &mut done), None);
}

/// An engine whose steps take 10 ms plus 1 ms per token, with prefix caching over `table`.
fn caching_engine(kv_blocks: u32, table: &std::sync::Arc<PrefixTable>) -> VllmEngine {
    VllmEngine::new(
        VllmConfig {
            max_num_seqs: 8,
            max_num_batched_tokens: 100,
            block_size: 4,
            kv_blocks,
            max_queue_size: None,
        },
        StepModel::Linear(LinearStep {
            base: 0.010,
            per_token: 0.001,
            per_seq: 0.0,
            per_context_token: 0.0,
        }),
        0,
    )
    .with_prefixes(table.clone())
}

fn with_prefix(mut r: Request, p: Prefix) -> Request {
    r.prefix = p;
    r
}

#[test]
fn a_cached_prefix_skips_its_prefill() {
    // Hash units of one 4-token block. A (prompt 12, output 2, units 1 2 3) runs alone:
    //  0-22 ms: prefill 12 tokens (10 + 12 ms), first token at 22; 22-33: one decode (10 + 1).
    // Its three units stay cached after it finishes. B (the same prompt) at 50 ms may reuse at
    // most 2 units (the prompt's last token is always computed): it prefills 4 tokens, 50-64,
    // and decodes 64-75. C (units 1 9 …) at 100 ms shares only unit 1: it prefills 8, 100-118.
    let mut t = PrefixTable::new(4);
    let pa = t.push([1, 2, 3]);
    let pc = t.push([1, 9, 10]);
    let t = std::sync::Arc::new(t);
    let mut e = caching_engine(100, &t);
    let (done, _) = drive(
        &mut e,
        vec![
            with_prefix(request(0, 0, 12, 2), pa),
            with_prefix(request(1, 50, 12, 2), pa),
            with_prefix(request(2, 100, 12, 2), pc),
        ],
    );
    let by_id = |id| done.iter().find(|c| c.request.id == RequestId(id)).unwrap();
    assert_eq!(times(by_id(0)), (0, 22, 33));
    assert_eq!(times(by_id(1)), (50, 64, 75));
    assert_eq!(times(by_id(2)), (100, 118, 129));
    let c = e.counters();
    assert_eq!(c.prefix_query_tokens, 36);
    assert_eq!(c.prefix_hit_tokens, 8 + 4);
    // Nothing is held by a sequence; cached units are evictable.
    assert_eq!(e.kv_blocks(), (0, 100));
    assert_eq!(e.cached_prefix_units(pa), 3);
    assert_eq!(e.cached_prefix_units(pc), 3);
}

#[test]
fn cached_units_are_evicted_when_blocks_run_out() {
    // Six blocks of 4 tokens. A (prompt 8, output 1, units 1 2) leaves two cached blocks. B (no
    // prefix, prompt 16 + 4 output → 5 blocks) needs one of them: the tail unit 2 goes first
    // (a chain's tail before its head), so unit 1 survives.
    let mut t = PrefixTable::new(4);
    let pa = t.push([1, 2]);
    let t = std::sync::Arc::new(t);
    let mut e = caching_engine(6, &t);
    let (done, _) = drive(
        &mut e,
        vec![with_prefix(request(0, 0, 8, 1), pa), request(1, 100, 16, 4)],
    );
    assert_eq!(done.len(), 2);
    assert_eq!(e.cached_prefix_units(pa), 1);
    assert_eq!(e.kv_blocks(), (0, 6));
}

#[test]
fn sequences_running_together_share_cached_units() {
    // A and B carry the same prefix (units 1 2) and are admitted before the first step: both
    // prefill it in that step (neither finds it cached); the second to offer a unit shares the
    // first's copy and frees its own block. C arrives while they decode and reuses both units,
    // which are in use.
    let mut t = PrefixTable::new(4);
    let p = t.push([1, 2]);
    let t = std::sync::Arc::new(t);
    let mut e = caching_engine(100, &t);
    let mut done = Vec::new();
    e.admit(SimTime::ZERO, with_prefix(request(0, 0, 9, 20), p))
        .unwrap();
    e.admit(SimTime::ZERO, with_prefix(request(1, 0, 9, 20), p))
        .unwrap();
    // One step of 18 prompt tokens (28 ms), then 19 decode steps of 12 ms as one segment.
    assert_eq!(
        e.advance(SimTime::ZERO, &mut done),
        Some(SimTime((28 + 19 * 12) * MS))
    );
    assert_eq!(e.kv_blocks(), (6, 100));
    e.admit(SimTime(30 * MS), with_prefix(request(2, 30, 9, 2), p))
        .unwrap();
    let mut now = SimTime(30 * MS);
    while let Some(t) = e.advance(now, &mut done) {
        now = t;
    }
    assert_eq!(done.len(), 3);
    assert_eq!(e.counters().prefix_hit_tokens, 8);
    assert_eq!(e.kv_blocks(), (0, 100));
    // A, B and C finish at the same times as without sharing: sharing saves blocks, not steps.
    let a = done.iter().find(|c| c.request.id == RequestId(0)).unwrap();
    assert_eq!(a.first_token, SimTime(28 * MS));
}

mod clock_equivalence {
    use super::*;
    use proptest::prelude::*;

    /// (arrival ms, prompt, output, prefix choice) of each request.
    type Arrivals = Vec<(u64, u32, u32, u8)>;

    fn run(e: VllmEngine, reqs: &[Request]) -> (Vec<Completion>, u32, VllmCounters) {
        let mut e = e;
        let (done, wakes) = drive(&mut e, reqs.to_vec());
        (done, wakes, e.counters())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The decode clock is only a faster way to the same schedule: completions (in order),
        /// wake-ups and counters match the engine that schedules sequences one by one, with KV
        /// pressure (preemption), small token budgets and prefix caching.
        #[test]
        fn the_decode_clock_changes_nothing(
            max_num_seqs in 1u32..10,
            budget in 4u32..120,
            block_size in 1u32..6,
            spare_blocks in 0u32..40,
            caching in any::<bool>(),
            mut arrivals in proptest::collection::vec((0u64..400, 1u32..40, 1u32..50, 0u8..4), 1..40),
        ) {
            arrivals.sort_by_key(|a| a.0);
            let arrivals: Arrivals = arrivals;
            let mut t = PrefixTable::new(block_size);
            let prefixes = [
                Prefix::NONE,
                t.push([1, 2, 3]),
                t.push([1, 2, 9, 10]),
                t.push([7]),
            ];
            let t = std::sync::Arc::new(t);
            let biggest = arrivals.iter().map(|a| a.1 + a.2).max().unwrap_or(1);
            let cfg = VllmConfig {
                max_num_seqs,
                max_num_batched_tokens: budget,
                block_size,
                kv_blocks: biggest.div_ceil(block_size) + spare_blocks,
                max_queue_size: None,
            };
            let model = StepModel::Linear(LinearStep {
                base: 0.010,
                per_token: 0.0001,
                per_seq: 0.00001,
                per_context_token: 0.000001,
            });
            let reqs: Vec<Request> = arrivals
                .iter()
                .enumerate()
                .map(|(i, &(at, prompt, output, p))| {
                    let mut r = request(i as u64, at, prompt, output);
                    if caching {
                        r.prefix = prefixes[p as usize];
                    }
                    r
                })
                .collect();
            let make = || {
                let e = VllmEngine::new(cfg.clone(), model.clone(), 0);
                if caching { e.with_prefixes(t.clone()) } else { e }
            };
            let fast = run(make(), &reqs);
            let slow = run(make().without_clock(), &reqs);
            prop_assert_eq!(fast.0, slow.0);
            prop_assert_eq!(fast.1, slow.1);
            prop_assert_eq!(fast.2, slow.2);
        }
    }
}

#[test]
fn a_unit_evicted_from_hbm_is_loaded_from_host_memory() {
    // Six blocks of 4 tokens, a unit per block; host memory for 10 units of 400 bytes, loaded
    // at 400,000 B/s (1 ms a unit). A (prompt 12, output 1, units 1 2 3) prefills 0-22 ms and
    // stores its three units in HBM and host memory. B (no prefix, 16 + 4 tokens, 5 blocks)
    // evicts units 3 and 2 from HBM (tail first). C (A's prompt) at 200 ms may reuse 2 units:
    // unit 1 from HBM, unit 2 from host memory, loaded 200-201 ms while C waits outside the
    // batch; then only its last 4 tokens are prefilled, 201-215 ms (14 ms). Without the tier it
    // prefills 8 tokens, 200-218 ms.
    let mut t = PrefixTable::new(4);
    let pa = t.push([1, 2, 3]);
    let t = std::sync::Arc::new(t);
    let tiers = KvTierConfig {
        cpu_bytes: 4000,
        disk_bytes: 0,
        kv_bytes_per_token: 100.0,
        tensor_parallel: 1,
        host_link_bytes_per_s: 400_000.0,
        disk_read_bytes_per_s: 0.0,
    };
    let arrivals = || {
        vec![
            with_prefix(request(0, 0, 12, 1), pa),
            request(1, 100, 16, 4),
            with_prefix(request(2, 200, 12, 1), pa),
        ]
    };
    let mut e = caching_engine(6, &t).with_kv_tiers(&tiers);
    let (done, _) = drive(&mut e, arrivals());
    let by_id = |id| done.iter().find(|c| c.request.id == RequestId(id)).unwrap();
    assert_eq!(times(by_id(0)), (0, 22, 22));
    assert_eq!(times(by_id(2)), (200, 215, 215));
    let k = e.kv_tier_counters().unwrap();
    assert_eq!((k.cpu_hit_tokens, k.disk_hit_tokens), (4, 0));
    assert_eq!((k.loaded_bytes, k.loads), (400, 1));
    assert_eq!(k.cpu_stored_bytes, 1200);
    assert!((k.load_wait_s - 0.001).abs() < 1e-12);
    assert_eq!(e.counters().prefix_hit_tokens, 4);
    assert_eq!(e.kv_blocks(), (0, 6));

    let mut off = caching_engine(6, &t);
    let (done, _) = drive(&mut off, arrivals());
    let c = done.iter().find(|c| c.request.id == RequestId(2)).unwrap();
    assert_eq!(times(c), (200, 218, 218));
    assert_eq!(off.kv_tier_counters(), None);
}

/// A request prefilled elsewhere (disaggregated serving) joins at a step boundary, decodes
/// one token per step with its prompt's blocks and keeps the first-token time it came with.
#[test]
fn a_prefilled_request_decodes_from_its_second_token() {
    let mut e = engine(100, 16);
    // Prompt 40 (3 blocks of 16), 4 output tokens, the first already out at 50 ms: the
    // 3 others take one 10 ms step each from its admission at 100 ms, done at 130 ms.
    let r = request(0, 0, 40, 4);
    e.admit_prefilled(SimTime(100 * MS), r, SimTime(20 * MS), SimTime(50 * MS))
        .unwrap();
    assert_eq!(e.unprefilled_tokens(), 0);
    let mut done = Vec::new();
    let mut now = SimTime(100 * MS);
    while let Some(t) = e.advance(now, &mut done) {
        // Once scheduled it holds blocks for its prompt and the token the step computes.
        assert_eq!(e.kv_blocks().0, 3);
        now = t;
    }
    assert_eq!(done.len(), 1);
    let c = done[0];
    assert_eq!(
        (c.start, c.first_token, c.finish),
        (SimTime(20 * MS), SimTime(50 * MS), SimTime(130 * MS))
    );
    assert_eq!(e.counters().steps, 3);
    assert_eq!(e.counters().prefix_query_tokens, 0);
    assert_eq!(e.kv_blocks().0, 0);
}

/// An engine (10 ms steps, ample blocks) serving adapters `adapters` under `max_loras` and
/// `max_cpu_loras`.
fn lora_engine(max_loras: u32, max_cpu_loras: u32, adapters: &[Adapter]) -> VllmEngine {
    engine(100, 4).with_lora(LoraConfig {
        max_loras,
        max_cpu_loras,
        adapters: adapters.into(),
    })
}

/// An adapter of rank 8 that costs nothing to load or run.
const FREE: Adapter = Adapter {
    rank: 8,
    cold_load: SimDuration::ZERO,
    warm_load: SimDuration::ZERO,
    step_extra: SimDuration::ZERO,
};

fn for_adapter(mut r: Request, adapter: u16) -> Request {
    r.adapter = adapter;
    r
}

/// vLLM's rule: a waiting request whose adapter would be a new one in a batch that holds
/// `max_loras` adapters waits; later requests of adapters in the batch (and of the base model)
/// go ahead. Adapters A = 1, B = 2; `max_loras = 1`; 10 ms steps; prompts of 4 tokens. All four
/// arrive at 0, in order; the first starts a step alone, the others join at its end:
///  step 1  0-10: r0 (A, 3 output tokens) prefills: first token at 10.
///  step 2 10-20: r0 decodes; r1 (B) is skipped, r2 (A) and r3 (base) are admitted behind it.
///  step 3 20-30: r0 finishes (30); r2 and r3 (2 output tokens) finish (30); r1 still waits.
///  step 4 30-40: r1 admitted, prefilled: first token at 40; step 5 40-50: it finishes at 50.
/// With `max_loras = 2`, r1 joins step 2 and finishes at 30.
#[test]
fn max_loras_keeps_a_new_adapter_out_of_a_full_batch() {
    let arrivals = || {
        vec![
            for_adapter(request(0, 0, 4, 3), 1),
            for_adapter(request(1, 0, 4, 2), 2),
            for_adapter(request(2, 0, 4, 2), 1),
            request(3, 0, 4, 2),
        ]
    };
    let mut e = lora_engine(1, 2, &[FREE, FREE]);
    let (mut done, _) = drive(&mut e, arrivals());
    done.sort_by_key(|c| c.request.id);
    let t: Vec<_> = done.iter().map(times).collect();
    assert_eq!(t, [(0, 10, 30), (30, 40, 50), (10, 20, 30), (10, 20, 30)]);
    let c = e.lora_counters().unwrap();
    // r0 brings A (a load, free here), r2 finds it in its slot; r1 brings B into A's slot.
    assert_eq!((c.admissions, c.slot_hits, c.cold_loads), (3, 1, 2));

    let mut e = lora_engine(2, 2, &[FREE, FREE]);
    let (mut done, _) = drive(&mut e, arrivals());
    done.sort_by_key(|c| c.request.id);
    assert_eq!(times(&done[1]), (10, 20, 30));
}

/// A missing adapter delays the step that first runs it by its load: 30 ms from disk (read and
/// copy), 5 ms from host memory (the copy alone); one in a GPU slot costs nothing. One GPU
/// slot, host memory for two; each request has a 4-token prompt and one output token.
///  r0 (A) at 0:    A cold:                 step 0 + 10 + 30  -> finishes at 40.
///  r1 (B) at 50:   B cold, takes A's slot: step 50 + 10 + 30 -> 90.
///  r2 (A) at 100:  A in host memory:       step 100 + 10 + 5 -> 115.
///  r3 (A) at 120:  A in its slot:          step 120 + 10     -> 130.
/// With host memory for one adapter, B pushed A out of it: r2 loads A cold, 100 + 40 -> 140.
#[test]
fn a_missing_adapter_stalls_its_first_step_by_its_load_time() {
    let a = Adapter {
        rank: 16,
        cold_load: SimDuration(30 * MS),
        warm_load: SimDuration(5 * MS),
        step_extra: SimDuration::ZERO,
    };
    let arrivals = || {
        vec![
            for_adapter(request(0, 0, 4, 1), 1),
            for_adapter(request(1, 50, 4, 1), 2),
            for_adapter(request(2, 100, 4, 1), 1),
            for_adapter(request(3, 120, 4, 1), 1),
        ]
    };
    let mut e = lora_engine(1, 2, &[a, a]);
    let (done, _) = drive(&mut e, arrivals());
    let finish: Vec<_> = done.iter().map(|c| c.finish.0 / MS).collect();
    assert_eq!(finish, [40, 90, 115, 130]);
    let c = e.lora_counters().unwrap();
    assert_eq!(
        (c.admissions, c.slot_hits, c.cold_loads, c.warm_loads),
        (4, 1, 2, 1)
    );
    assert!((c.load_seconds - 0.065).abs() < 1e-12);

    let mut e = lora_engine(1, 1, &[a, a]);
    let (done, _) = drive(&mut e, arrivals());
    let finish: Vec<_> = done.iter().map(|c| c.finish.0 / MS).collect();
    assert_eq!(finish, [40, 90, 140, 150]);
}

/// Each distinct adapter in a step adds its own time: A adds 1 ms, B 2 ms (`max_loras = 2`,
/// 10 ms base steps, 4-token prompts, 3 output tokens). r0 (A) and r1 (B) arrive at 0:
///  0-11:  r0 prefills alone (A: 11 ms steps): first token at 11.
///  11-24: r1 joins (A and B: 13 ms): r0's second token, r1's first at 24.
///  24-37: r0's third token (finishes at 37), r1's second.
///  37-49: r1 alone (B: 12 ms) finishes at 49.
/// r2 (base model) at 100 takes plain 10 ms steps.
#[test]
fn each_adapter_in_a_step_adds_its_rank_overhead() {
    let a = Adapter {
        step_extra: SimDuration(MS),
        ..FREE
    };
    let b = Adapter {
        step_extra: SimDuration(2 * MS),
        ..FREE
    };
    let mut e = lora_engine(2, 2, &[a, b]);
    let (done, _) = drive(
        &mut e,
        vec![
            for_adapter(request(0, 0, 4, 3), 1),
            for_adapter(request(1, 0, 4, 3), 2),
            request(2, 100, 4, 3),
        ],
    );
    let t: Vec<_> = done.iter().map(times).collect();
    assert_eq!(t, [(0, 11, 37), (11, 24, 49), (100, 110, 130)]);
}
