//! Hand-computed timelines of SplitwiseSim's batching, each beside what vLLM's scheduler does
//! with the same requests.

use super::*;
use crate::serving::prefix::Prefix;
use crate::serving::request::RequestId;
use crate::serving::step::LinearStep;
use crate::serving::vllm::{VllmConfig, VllmEngine};

const US: u64 = 1_000;
const MS: u64 = 1_000_000;

/// A step takes 10 ms + 0.1 ms per token.
fn model() -> StepModel {
    StepModel::Linear(LinearStep {
        base: 0.010,
        per_token: 0.0001,
        per_seq: 0.0,
        per_context_token: 0.0,
    })
}

/// Batches of at most 8 tasks and 100 tokens, a KV cache of 16,000 tokens.
fn splitwise() -> SplitwiseEngine {
    SplitwiseEngine::new(
        SplitwiseConfig {
            max_batch_size: 8,
            max_batch_tokens: 100,
            max_preemptions: 4,
            block_size: 16,
            kv_blocks: 1000,
            max_queue_size: None,
        },
        model(),
        0,
    )
}

/// vLLM's scheduler with the same limits.
fn vllm() -> VllmEngine {
    VllmEngine::new(
        VllmConfig {
            max_num_seqs: 8,
            max_num_batched_tokens: 100,
            block_size: 16,
            kv_blocks: 1000,
            max_queue_size: None,
        },
        model(),
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

/// Drives an engine as the world does (admit at arrival times, then advance; wake when asked)
/// and returns the completions by request id.
fn drive<E: ReplicaEngine>(e: &mut E, arrivals: &[Request]) -> Vec<Completion> {
    let mut arrivals = arrivals.to_vec();
    arrivals.reverse();
    let mut done = Vec::new();
    let mut wake: Option<SimTime> = None;
    loop {
        let now = match (arrivals.last().map(|r| r.arrival), wake) {
            (Some(a), Some(w)) if w < a => w,
            (Some(a), _) => {
                let r = arrivals.pop().unwrap();
                e.admit(a, r).unwrap();
                a
            }
            (None, Some(w)) => w,
            (None, None) => break,
        };
        wake = e.advance(now, &mut done);
    }
    done.sort_by_key(|c| c.request.id);
    done
}

fn at(ms: u64, us: u64) -> SimTime {
    SimTime(ms * MS + us * US)
}

#[test]
fn a_prompt_over_the_budget_runs_whole_and_alone_and_preempts_the_decodes() {
    // D1 and D2 (prompts 10, outputs 6) at 0; P (prompt 250 > the budget of 100, output 1)
    // at 40 ms.
    let arrivals = [
        request(0, 0, 10, 6),
        request(1, 0, 10, 6),
        request(2, 40, 250, 1),
    ];
    let mut e = splitwise();
    let done = drive(&mut e, &arrivals);
    // [0, 11): D1's prompt, 10 + 1 ms (D2, admitted just after it started, cannot pause an
    // iteration with a prompt). [11, 22): D2's prompt. D1's token task arrives just after that
    // choice, too late for it.
    // [22, 32.1): D1's first decode, 10.1 ms: its run of 5 is paused after one iteration by
    // D2's token task, arriving just after the choice at 22 ms.
    // [32.1, 72.9): D1 and D2 decode together until D1's last token: 4 iterations of 10.2 ms.
    // P arrives at 40 ms: 250 tokens fit neither beside the decodes nor in place of them, so
    // it does not pause the run and waits until 72.9 ms.
    // [72.9, 107.9): P first, alone although over the budget (the first task of an empty
    // batch is always taken): 10 + 25 = 35 ms. D2 (1 token left) no longer fits: preempted.
    // [107.9, 118.0): D2, blocked, runs its last decode: 10.1 ms.
    let d1 = done[0];
    assert_eq!((d1.first_token, d1.finish), (at(11, 0), at(72, 900)));
    let p = done[2];
    assert_eq!(
        (p.start, p.first_token, p.batch_size),
        (at(72, 900), at(107, 900), 1)
    );
    let d2 = done[1];
    assert_eq!((d2.first_token, d2.finish), (at(22, 0), at(118, 0)));
    assert_eq!(e.counters().preemptions, 1);
    assert_eq!(e.counters().recomputed_tokens, 0);
    // 1 + 1 + 1 + 4 + 1 + 1 iterations; 1 + 1 + 1 + 4 × 2 + 1 + 1 task-iterations.
    assert_eq!(e.batch_counts(), (9, 13));

    // vLLM: P joins at the first step boundary after 40 ms, chunked to the budget beside the
    // decodes, and nothing is preempted.
    let mut v = vllm();
    let done = drive(&mut v, &arrivals);
    assert!(done[2].start < at(50, 0), "{:?}", done[2]);
    assert!(done[2].first_token < at(107, 900), "{:?}", done[2]);
    assert_eq!(v.counters().preemptions, 0);
}

#[test]
fn prompts_run_whole_first_come_first_served() {
    // At 0: A (prompt 120), B (60), C (50), D (30), each with one output token.
    let arrivals = [
        request(0, 0, 120, 1),
        request(1, 0, 60, 1),
        request(2, 0, 50, 1),
        request(3, 0, 30, 1),
    ];
    let mut e = splitwise();
    let done = drive(&mut e, &arrivals);
    // [0, 22): A alone, whole although over the budget: 10 + 12 = 22 ms.
    // [22, 38): B (60); C does not fit beside it (110 > 100) and D, which would (90), is not
    // considered: prompts are taken in order and the first that does not fit ends the choice.
    // [38, 56): C and D, 80 tokens: 18 ms.
    let starts: Vec<_> = done.iter().map(|c| c.start).collect();
    let firsts: Vec<_> = done.iter().map(|c| c.first_token).collect();
    assert_eq!(starts, [at(0, 0), at(22, 0), at(38, 0), at(38, 0)]);
    assert_eq!(firsts, [at(22, 0), at(38, 0), at(56, 0), at(56, 0)]);
    assert_eq!(e.batch_counts(), (3, 4));

    // vLLM chunks A to the budget ([0, 20): 100 tokens; [20, 40): A's last 20, B's 60 and 20
    // of C), so A's first token is later and C starts earlier.
    let mut v = vllm();
    let done = drive(&mut v, &arrivals);
    assert_eq!(done[0].first_token, at(40, 0));
    assert_eq!(done[2].start, at(20, 0));
}

#[test]
fn the_first_task_of_an_empty_batch_is_always_taken() {
    // One prompt of 250 tokens, over the budget of 100, and 3 output tokens.
    let arrivals = [request(0, 0, 250, 3)];
    let mut e = splitwise();
    let done = drive(&mut e, &arrivals);
    // [0, 35): the whole prompt, 10 + 25 ms; then 2 decodes of 10.1 ms: done at 55.2 ms.
    assert_eq!(
        (done[0].first_token, done[0].finish),
        (at(35, 0), at(55, 200))
    );
    // vLLM: chunks of 100, 100 and 50 tokens (20 + 20 + 15 ms), then the same decodes.
    let mut v = vllm();
    let done = drive(&mut v, &arrivals);
    assert_eq!(
        (done[0].first_token, done[0].finish),
        (at(55, 0), at(75, 200))
    );
}

#[test]
fn tasks_that_waited_too_often_go_first() {
    // D (prompt 10, output 4) at 0; prompts P1, P2 (100 tokens) at 5 ms and P3 at 40 ms,
    // outputs 1.
    let arrivals = [
        request(0, 0, 10, 4),
        request(1, 5, 100, 1),
        request(2, 5, 100, 1),
        request(3, 40, 100, 1),
    ];
    let run = |max_preemptions| {
        let mut e = SplitwiseEngine::new(
            SplitwiseConfig {
                max_preemptions,
                ..splitwise().cfg
            },
            model(),
            0,
        );
        drive(&mut e, &arrivals)
    };
    // [0, 11): D's prompt. [11, 31): P1 (P2 does not fit beside it); D's token task arrives
    // just after that choice. [31, 51): P2 (D does not fit beside it: it waits once).
    // With max_preemptions = 1, D has waited enough at 51 ms and goes before P3: its 3
    // decodes, 10.1 ms each, [51, 81.3); then P3, [81.3, 101.3).
    let done = run(1);
    assert_eq!(done[0].finish, at(81, 300));
    assert_eq!(done[3].first_token, at(101, 300));
    // With 4 (SplitwiseSim's configurations), P3 goes first, [51, 71), and D after.
    let done = run(4);
    assert_eq!(done[3].first_token, at(71, 0));
    assert_eq!(done[0].finish, at(101, 300));
}

#[test]
fn memory_is_reserved_per_request_and_queues_are_bounded() {
    // A KV cache of 10 blocks of 16 tokens: 160 tokens.
    let mut e = SplitwiseEngine::new(
        SplitwiseConfig {
            kv_blocks: 10,
            max_queue_size: Some(2),
            ..splitwise().cfg
        },
        model(),
        0,
    );
    assert_eq!(
        e.admit(SimTime(0), request(9, 0, 150, 20)),
        Err(DropReason::ExceedsKvCache)
    );
    // A and B (prompts 40, outputs 60: 100 tokens each) do not fit together: B waits for A.
    e.admit(SimTime(0), request(0, 0, 40, 60)).unwrap();
    e.admit(SimTime(0), request(1, 0, 40, 60)).unwrap();
    assert_eq!(
        e.admit(SimTime(0), request(2, 0, 1, 1)),
        Err(DropReason::QueueFull)
    );
    let mut done = Vec::new();
    e.advance(SimTime(0), &mut done);
    assert_eq!((e.queued(), e.in_service()), (1, 1));
    // 100 of 160 tokens reserved: 7 blocks.
    assert_eq!(e.kv_blocks(), (7, 10));
    let mut out = Vec::new();
    e.abort(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!((e.queued(), e.in_service(), e.kv_blocks().0), (0, 0, 0));
}

#[test]
fn a_prompt_that_fits_in_place_of_the_decodes_pauses_their_run() {
    // D (prompt 10, output 6) at 0; P (prompt 100, the whole budget, output 1) at 15 ms.
    let arrivals = [request(0, 0, 10, 6), request(1, 15, 100, 1)];
    let mut e = splitwise();
    let done = drive(&mut e, &arrivals);
    // [0, 11): D's prompt. From 11 ms a run of D's 5 decodes, 10.1 ms each. P at 15 ms does not
    // fit beside D's token (101 > 100) but fits in its place: the run stops after its first
    // iteration, at 21.1 ms. [21.1, 41.1): P alone, 10 + 10 ms; D is preempted.
    // [41.1, 81.5): D's last 4 decodes.
    assert_eq!(
        (done[1].start, done[1].first_token),
        (at(21, 100), at(41, 100))
    );
    assert_eq!(done[0].finish, at(81, 500));
    assert_eq!(e.counters().preemptions, 1);
    // vLLM: from 21.1 ms D's decode and 99 tokens of P share a step; P's last token comes in
    // the next, [41.1, 51.3).
    let mut v = vllm();
    let done = drive(&mut v, &arrivals);
    assert_eq!(done[1].first_token, at(51, 300));
    assert_eq!(v.counters().preemptions, 0);
}
