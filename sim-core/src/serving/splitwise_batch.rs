//! SplitwiseSim's batching (Mutinifni/splitwise-sim, `instance.py`, `SplitwiseInstance`): an
//! ORCA-style iteration-level scheduler in which prompts run whole and first.
//!
//! A request is two tasks: its prompt (all its prompt tokens in one iteration, which samples the
//! first output token) and then its token task (the other output tokens, one per iteration).
//! Before each iteration `select_batch` builds the batch in this order, each group in its own
//! order: tasks that have waited `max_preemptions` iterations or more; waiting prompts, first
//! come first served; blocked (preempted) token tasks; the previous batch's token tasks; then
//! every other request's task in arrival order. A task joins only while the batch holds fewer
//! than `max_batch_size` tasks and its tokens (a prompt's size, 1 for a token task) keep the
//! batch within `max_batch_tokens`, except that the first task of an empty batch is always
//! taken: a prompt over the budget runs whole and alone. A group stops at the first task that
//! does not fit. A token task of the previous batch that is not taken is preempted: it keeps
//! its KV cache and waits, blocked. Every task left waiting counts one more wait
//! (`num_preemptions`).
//!
//! Iterations are contiguous, as in SplitwiseSim's `ORCAInstance`: a batch without prompts runs
//! until its first token task finishes, as one planned run. A request arriving during the run
//! pauses it at the end of the iteration in progress when it fits beside the batch
//! (`task_arrival`, `pause_iteration`); otherwise it waits for the run to end. A token task
//! reaches the instance just after the iteration that finished its prompt, too late for the
//! batch chosen then (SplitwiseSim submits it as a zero-delay event): it joins the batch after.
//!
//! Memory: SplitwiseSim reserves a prompt's KV cache when the prompt starts and the token
//! task's when that starts, and a task waits while its reservation does not fit. This engine
//! reserves a request's whole KV cache (prompt and output tokens) when its prompt starts, so
//! a token task never waits for memory and the replica cannot stall with every byte held by
//! prompts whose token tasks cannot start, which SplitwiseSim can.

use super::engine::ReplicaEngine;
use super::request::{Completion, DropReason, Request};
use super::step::StepModel;
use super::vllm::VllmCounters;
use crate::costmodel::StepBatch;
use crate::engine::{SimDuration, SimTime};

/// The knobs of SplitwiseSim's instance (`start_state` configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct SplitwiseConfig {
    /// Most tasks in an iteration (`max_batch_size`).
    pub max_batch_size: u32,
    /// Most tokens in an iteration, a lone first task excepted (`max_batch_tokens`).
    pub max_batch_tokens: u32,
    /// Waits after which a task is taken first (`max_preemptions`).
    pub max_preemptions: u32,
    /// Tokens per KV-cache block (the cache's size is `kv_blocks × block_size` tokens).
    pub block_size: u32,
    /// KV-cache blocks on the replica.
    pub kv_blocks: u32,
    /// Longest waiting queue (prompts not started) the router may fill; `None`: unbounded.
    pub max_queue_size: Option<u32>,
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting, never run (a prompt, or a token task that has just arrived).
    Queued,
    /// In the batch.
    Running,
    /// A token task taken out of the batch; it keeps its KV cache.
    Blocked,
}

/// A request's current task.
#[derive(Clone, Copy, Debug)]
struct Task {
    request: Request,
    /// Prompt tokens (at least 1).
    prompt: u32,
    /// Output tokens (at least 1).
    output: u32,
    /// The prompt has run: this is the token task.
    token: bool,
    /// Tokens the token task has generated.
    generated: u32,
    state: State,
    /// SplitwiseSim's `num_preemptions`: iterations this task waited.
    waits: u32,
    /// Its waits when it last joined the pending queue (that queue's sort key, with arrival).
    key: u32,
    /// The iteration that last took it.
    picked: u64,
    start: SimTime,
    first_token: SimTime,
}

impl Task {
    /// Tokens it adds to an iteration (`tokens_per_iteration`).
    #[inline]
    fn tokens(&self) -> u64 {
        if self.token {
            1
        } else {
            self.prompt as u64
        }
    }
    /// KV-cache tokens it must reserve to start (the whole request's, for a waiting prompt).
    #[inline]
    fn memory(&self) -> u64 {
        if !self.token && self.state == State::Queued {
            self.prompt as u64 + self.output as u64
        } else {
            0
        }
    }
    /// Tokens the token task has left.
    #[inline]
    fn left(&self) -> u32 {
        self.output - 1 - self.generated
    }
}

/// The planned run of contiguous iterations.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: SimTime,
    step: SimDuration,
    steps: u32,
    end: SimTime,
    /// The run was paused (cut) already.
    paused: bool,
}

/// One replica scheduling as SplitwiseSim's `SplitwiseInstance`.
#[derive(Clone, Debug)]
pub struct SplitwiseEngine {
    cfg: SplitwiseConfig,
    model: StepModel,
    /// Tasks by slot; `free` lists the empty slots.
    tasks: Vec<Task>,
    free: Vec<u32>,
    /// Every request on the replica, by arrival (`pending_requests`).
    pool: Vec<u32>,
    /// Waiting tasks by (waits when queued, arrival) (`pending_queue`).
    pending: Vec<u32>,
    /// Waiting prompts, in arrival order at the replica (`pending_prompt_queue`).
    prompts: Vec<u32>,
    /// Blocked token tasks, in the order they were preempted (`blocked_queue`).
    blocked: Vec<u32>,
    /// The batch, in SplitwiseSim's order (kept tasks, then new ones).
    batch: Vec<u32>,
    /// Scratch: the batch being chosen.
    chosen: Vec<u32>,
    /// Token tasks whose prompts finished in the last iteration, arriving next.
    arriving: Vec<u32>,
    /// Tokens of the batch (`batch_tokens`) and its prompts.
    batch_tokens: u64,
    batch_prompts: u32,
    /// KV-cache tokens reserved.
    memory: u64,
    run: Option<Run>,
    /// Iterations chosen so far (the `picked` stamp).
    iteration: u64,
    replica: u32,
    share: f64,
    counters: VllmCounters,
    kv_since: Option<SimTime>,
    unprefilled_tokens: u64,
}

/// Inserts `slot` into `list` after every entry whose key is not above `key` (`insort_right`).
fn insort(list: &mut Vec<u32>, tasks: &[Task], slot: u32, key: impl Fn(&Task) -> (u32, SimTime)) {
    let k = key(&tasks[slot as usize]);
    let at = list.partition_point(|&s| key(&tasks[s as usize]) <= k);
    list.insert(at, slot);
}

impl SplitwiseEngine {
    /// An idle engine; completions name replica `replica`.
    pub fn new(cfg: SplitwiseConfig, model: StepModel, replica: u32) -> Self {
        let capacity = cfg.max_batch_size.min(1024) as usize;
        SplitwiseEngine {
            tasks: Vec::with_capacity(64),
            free: Vec::new(),
            pool: Vec::with_capacity(64),
            pending: Vec::with_capacity(64),
            prompts: Vec::with_capacity(64),
            blocked: Vec::new(),
            batch: Vec::with_capacity(capacity),
            chosen: Vec::with_capacity(capacity),
            arriving: Vec::new(),
            batch_tokens: 0,
            batch_prompts: 0,
            memory: 0,
            run: None,
            iteration: 0,
            replica,
            share: 1.0,
            counters: VllmCounters::default(),
            kv_since: None,
            unprefilled_tokens: 0,
            cfg,
            model,
        }
    }

    /// The engine's counters: preemptions count token tasks taken out of the batch (nothing is
    /// recomputed: they keep their KV cache).
    pub fn counters(&self) -> VllmCounters {
        self.counters
    }

    /// KV-cache blocks reserved and in all (reservations are in tokens, shown in blocks).
    pub fn kv_blocks(&self) -> (u32, u32) {
        let used = self.memory.div_ceil(self.cfg.block_size as u64);
        (
            used.min(self.cfg.kv_blocks as u64) as u32,
            self.cfg.kv_blocks,
        )
    }

    /// Prompt tokens of the requests whose prompt has not run.
    #[inline]
    pub fn unprefilled_tokens(&self) -> u64 {
        self.unprefilled_tokens
    }

    fn capacity(&self) -> u64 {
        self.cfg.kv_blocks as u64 * self.cfg.block_size as u64
    }

    fn pending_key(t: &Task) -> (u32, SimTime) {
        (t.key, t.request.arrival)
    }

    fn arrival_key(t: &Task) -> (u32, SimTime) {
        (0, t.request.arrival)
    }

    /// Integrates the KV blocks in use up to `now`.
    fn sample_kv(&mut self, now: SimTime) {
        let used = self.kv_blocks().0;
        self.counters.kv_blocks_peak = self.counters.kv_blocks_peak.max(used);
        if let Some(t) = self.kv_since {
            let dt = now.since(t).as_secs_f64();
            self.counters.kv_block_seconds += used as f64 * dt;
            self.counters.kv_seconds += dt;
        }
        self.kv_since = Some(now);
    }

    /// Adds task `slot` to the batch being chosen.
    #[inline]
    fn take(&mut self, slot: u32, tokens: &mut u64, memory: &mut u64) {
        let t = &mut self.tasks[slot as usize];
        t.picked = self.iteration;
        *tokens += t.tokens();
        *memory += t.memory();
        self.chosen.push(slot);
    }

    /// Whether task `slot` fits the batch being chosen: fewer than `max_batch_size` tasks, and
    /// its tokens within the budget unless the batch is empty.
    #[inline]
    fn room(&self, slot: u32, tokens: u64) -> bool {
        let n = self.chosen.len();
        n < self.cfg.max_batch_size as usize
            && (n == 0
                || tokens + self.tasks[slot as usize].tokens() <= self.cfg.max_batch_tokens as u64)
    }

    /// `select_batch`: chooses the next batch into `chosen`.
    fn select(&mut self) {
        self.iteration += 1;
        self.chosen.clear();
        let it = self.iteration;
        let cap = self.capacity();
        let (mut tokens, mut memory) = (0u64, self.memory);
        // Tasks that waited too often, in the pending queue's order.
        for i in 0..self.pending.len() {
            let s = self.pending[i];
            let t = self.tasks[s as usize];
            if t.waits < self.cfg.max_preemptions {
                break;
            }
            if !self.room(s, tokens) {
                break;
            }
            if t.picked == it {
                continue;
            }
            if t.memory() == 0 || t.memory() + memory <= cap {
                self.take(s, &mut tokens, &mut memory);
            }
        }
        // Whole prompts, first come first served.
        for i in 0..self.prompts.len() {
            let s = self.prompts[i];
            let t = self.tasks[s as usize];
            if !self.room(s, tokens) {
                break;
            }
            if t.picked == it {
                continue;
            }
            if t.memory() + memory > cap {
                break;
            }
            self.take(s, &mut tokens, &mut memory);
        }
        // Blocked token tasks, then the previous batch's.
        for list in 0..2 {
            let len = if list == 0 {
                self.blocked.len()
            } else {
                self.batch.len()
            };
            for i in 0..len {
                let s = if list == 0 {
                    self.blocked[i]
                } else {
                    self.batch[i]
                };
                if !self.room(s, tokens) {
                    break;
                }
                if self.tasks[s as usize].picked != it {
                    self.take(s, &mut tokens, &mut memory);
                }
            }
        }
        // Every other request's task, in arrival order.
        for i in 0..self.pool.len() {
            let s = self.pool[i];
            let t = self.tasks[s as usize];
            if self.chosen.len() == self.cfg.max_batch_size as usize {
                break;
            }
            if t.picked == it {
                continue;
            }
            if !self.room(s, tokens) {
                break;
            }
            if t.memory() + memory > cap {
                break;
            }
            self.take(s, &mut tokens, &mut memory);
        }
        self.batch_tokens = tokens;
    }

    /// `start_iteration`: chooses the batch at `now`, preempts the token tasks left out and
    /// plans the run; false when nothing runs.
    fn start(&mut self, now: SimTime) -> bool {
        self.sample_kv(now);
        self.select();
        let it = self.iteration;
        // Token tasks of the previous batch left out are blocked: they keep their KV cache.
        for i in 0..self.batch.len() {
            let s = self.batch[i];
            if self.tasks[s as usize].picked != it {
                let t = &mut self.tasks[s as usize];
                t.state = State::Blocked;
                t.key = t.waits;
                insort(&mut self.pending, &self.tasks, s, Self::pending_key);
                self.blocked.push(s);
                self.counters.preemptions += 1;
            }
        }
        let tasks = &self.tasks;
        self.batch.retain(|&s| tasks[s as usize].picked == it);
        let picked_waiting = |s: &u32| tasks[*s as usize].picked != it;
        self.pending.retain(picked_waiting);
        self.prompts.retain(picked_waiting);
        self.blocked.retain(picked_waiting);
        self.batch_prompts = 0;
        for i in 0..self.chosen.len() {
            let s = self.chosen[i];
            let t = &mut self.tasks[s as usize];
            if t.state != State::Running {
                self.memory += t.memory();
                if t.start == SimTime::MAX {
                    t.start = now;
                }
                t.state = State::Running;
                self.batch.push(s);
            }
            self.batch_prompts += !t.token as u32;
        }
        // Every task left waiting counts one more wait.
        for &s in &self.pool {
            let t = &mut self.tasks[s as usize];
            if t.picked != it {
                t.waits += 1;
            }
        }
        if self.batch.is_empty() {
            return false;
        }
        let mut shape = StepBatch::new();
        let mut steps = u32::MAX;
        for &s in &self.batch {
            let t = &self.tasks[s as usize];
            if t.token {
                shape.add_decode((t.prompt + 1 + t.generated) as u64);
                steps = steps.min(t.left());
            } else {
                shape.add_prefill_chunk(t.prompt as u64, 0, true);
            }
        }
        if self.batch_prompts > 0 {
            steps = 1;
        }
        // A run of decode iterations is timed at its mean context.
        shape.decode_context_tokens += shape.decode_seqs * (steps as u64 - 1) / 2;
        let mut step = self.model.step_time(&shape);
        if self.share < 1.0 {
            step = SimDuration((step.0 as f64 / self.share).round().max(1.0) as u64);
        }
        self.run = Some(Run {
            start: now,
            step,
            steps,
            end: now + SimDuration(step.0 * steps as u64),
            paused: false,
        });
        true
    }

    /// `pause_iteration`: cuts a run of decode iterations at the end of the one in progress.
    fn pause(&mut self, now: SimTime) {
        if self.batch_prompts > 0 {
            return;
        }
        if let Some(r) = self.run.as_mut() {
            if r.paused {
                return;
            }
            r.paused = true;
            let done = (now.since(r.start).0 / r.step.0) as u32;
            r.steps = r.steps.min(done + 1);
            r.end = r.start + SimDuration(r.step.0 * r.steps as u64);
        }
    }

    /// Whether a task arriving now (`tokens`, a prompt or not) pauses the run to join it
    /// (`SplitwiseInstance.task_arrival`).
    fn pauses_for(&self, tokens: u64, prompt: bool) -> bool {
        let budget = self.cfg.max_batch_tokens as u64;
        if (self.batch.len() as u32) < self.cfg.max_batch_size
            && self.batch_tokens + tokens <= budget
        {
            return true;
        }
        // A prompt that fits once the token tasks are preempted.
        let decodes = self.batch.len() as u64 - self.batch_prompts as u64;
        prompt
            && (self.batch_prompts as usize) < self.batch.len()
            && self.batch_tokens - decodes + tokens <= budget
    }

    /// `complete_iteration` for the run that ended at `end`: prompts done hand over to their
    /// token tasks (arriving next), finished requests leave.
    fn finish(&mut self, r: Run, done: &mut Vec<Completion>) {
        self.sample_kv(r.end);
        let n = self.batch.len() as u32;
        self.counters.steps += r.steps as u64;
        self.counters.seq_steps += r.steps as u64 * n as u64;
        let mut i = 0;
        while i < self.batch.len() {
            let s = self.batch[i];
            let t = &mut self.tasks[s as usize];
            let finished = if t.token {
                t.generated += r.steps;
                t.left() == 0
            } else {
                t.first_token = r.end;
                self.unprefilled_tokens -= t.prompt as u64;
                t.output == 1
            };
            if finished {
                let t = *t;
                self.memory -= t.prompt as u64 + t.output as u64;
                done.push(Completion {
                    request: t.request,
                    start: t.start,
                    first_token: t.first_token,
                    finish: r.end,
                    batch_size: n,
                    replica: self.replica,
                });
                self.batch.remove(i);
                self.pool.retain(|&p| p != s);
                self.free.push(s);
            } else if !t.token {
                // The prompt task is done; its token task arrives after the next choice.
                t.token = true;
                t.state = State::Queued;
                t.waits = 0;
                t.key = 0;
                self.batch.remove(i);
                self.pool.retain(|&p| p != s);
                self.arriving.push(s);
            } else {
                i += 1;
            }
        }
    }

    /// Token tasks arriving at `now`, one by one (`task_arrival`); false when one found the
    /// replica idle and a new batch must be chosen first.
    fn deliver(&mut self, now: SimTime) -> bool {
        while !self.arriving.is_empty() {
            let s = self.arriving.remove(0);
            insort(&mut self.pool, &self.tasks, s, Self::arrival_key);
            insort(&mut self.pending, &self.tasks, s, Self::pending_key);
            if self.batch.is_empty() {
                self.run = None;
                return false;
            }
            if self.pauses_for(1, false) {
                self.pause(now);
            }
        }
        true
    }
}

impl ReplicaEngine for SplitwiseEngine {
    fn admit(&mut self, now: SimTime, request: Request) -> Result<(), DropReason> {
        let (prompt, output) = (request.prompt_tokens.max(1), request.output_tokens.max(1));
        if prompt as u64 + output as u64 > self.capacity() {
            return Err(DropReason::ExceedsKvCache);
        }
        if self
            .cfg
            .max_queue_size
            .is_some_and(|m| self.prompts.len() as u32 >= m)
        {
            return Err(DropReason::QueueFull);
        }
        let task = Task {
            request,
            prompt,
            output,
            token: false,
            generated: 0,
            state: State::Queued,
            waits: 0,
            key: 0,
            picked: 0,
            start: SimTime::MAX,
            first_token: SimTime::MAX,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.tasks[s as usize] = task;
                s
            }
            None => {
                self.tasks.push(task);
                self.tasks.len() as u32 - 1
            }
        };
        insort(&mut self.pool, &self.tasks, s, Self::arrival_key);
        insort(&mut self.pending, &self.tasks, s, Self::pending_key);
        self.prompts.push(s);
        self.unprefilled_tokens += prompt as u64;
        if self.kv_since.is_none() {
            self.kv_since = Some(now);
        }
        if !self.batch.is_empty() && self.pauses_for(prompt as u64, true) {
            self.pause(now);
        }
        Ok(())
    }

    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime> {
        loop {
            if let Some(r) = self.run {
                if r.end > now {
                    return Some(r.end);
                }
                self.run = None;
                self.finish(r, done);
            }
            let running = self.start(now);
            if self.deliver(now) {
                return if running {
                    self.run.map(|r| r.end)
                } else {
                    None
                };
            }
        }
    }

    #[inline]
    fn queued(&self) -> u32 {
        self.prompts.len() as u32
    }
    #[inline]
    fn in_service(&self) -> u32 {
        (self.pool.len() - self.prompts.len()) as u32
    }
    #[inline]
    fn busy_units(&self) -> u32 {
        self.run.is_some() as u32
    }
    #[inline]
    fn units(&self) -> u32 {
        1
    }
    fn batch_counts(&self) -> (u64, u64) {
        (self.counters.steps, self.counters.seq_steps)
    }
    fn abort(&mut self, out: &mut Vec<Request>) {
        out.extend(self.pool.iter().map(|&s| self.tasks[s as usize].request));
        self.tasks.clear();
        self.free.clear();
        self.pool.clear();
        self.pending.clear();
        self.prompts.clear();
        self.blocked.clear();
        self.batch.clear();
        self.arriving.clear();
        self.batch_tokens = 0;
        self.batch_prompts = 0;
        self.memory = 0;
        self.run = None;
        self.unprefilled_tokens = 0;
    }
    fn set_time_share(&mut self, now: SimTime, share: f64) {
        let share = share.clamp(1e-6, 1.0);
        if share != self.share {
            // Planned again at the end of the iteration in progress, as an arrival does.
            self.pause(now);
        }
        self.share = share;
    }
}

#[cfg(test)]
mod tests;
