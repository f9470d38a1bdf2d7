//! LoRA adapters on one vLLM replica: which adapters the running batch holds, which sit in the
//! GPU's adapter slots and in host memory, and what loading one costs.
//!
//! The rules follow vLLM:
//! - **Distinct adapters per batch** (`vllm/v1/core/sched/scheduler.py`, `Scheduler.schedule`):
//!   a waiting request whose adapter is not in the batch already is skipped while the batch holds
//!   `max_loras` distinct adapters; later waiting requests may still be admitted. Running
//!   requests are not re-checked. Whenever vLLM admits a waiting request every running request
//!   was scheduled, so the running requests' adapters are the batch's.
//! - **GPU slots and host cache** (`vllm/lora/worker_manager.py`, `LRUCacheWorkerLoRAManager`):
//!   `max_loras` GPU slots and `max_cpu_loras` adapters in host memory, each least recently used
//!   out first. An adapter the batch needs that is not in a slot is copied in from host memory
//!   (or read from disk first when host memory does not hold it); the step that needs it waits
//!   for the copy, as the worker activates a batch's adapters before its forward pass.
//! - **Step overhead**: each distinct adapter in a step adds its own time (rank × the per-rank
//!   overhead), see [`Adapter::step_extra`].

use crate::engine::SimDuration;
use std::sync::Arc;

/// One adapter as the engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// Its rank.
    pub rank: u32,
    /// Time to load it when host memory does not hold it (disk read and the copy to the GPU).
    pub cold_load: SimDuration,
    /// Time to copy it to a GPU slot from host memory.
    pub warm_load: SimDuration,
    /// Time a step takes longer when it holds this adapter.
    pub step_extra: SimDuration,
}

/// A replica's LoRA knobs (vLLM's `LoRAConfig`) and adapters.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// Most distinct adapters in one batch, and GPU adapter slots (`--max-loras`).
    pub max_loras: u32,
    /// Adapters kept in host memory (`--max-cpu-loras`, at least `max_loras`).
    pub max_cpu_loras: u32,
    /// The adapters, indexed by a request's `adapter − 1`.
    pub adapters: Arc<[Adapter]>,
}

/// Adapter counters of one replica.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoraCounters {
    /// Adapter requests taken into the running batch (each time, so a preempted one counts again).
    pub admissions: u64,
    /// Of those, the ones whose adapter was in a GPU slot already (no load).
    pub slot_hits: u64,
    /// Adapters read from disk (host memory did not hold them).
    pub cold_loads: u64,
    /// Adapters copied to a GPU slot from host memory.
    pub warm_loads: u64,
    /// Seconds steps waited for adapter loads.
    pub load_seconds: f64,
}

/// The adapter state of one replica. Per-adapter arrays are sized once, from the adapter count.
#[derive(Clone, Debug)]
pub(super) struct Loras {
    cfg: LoraConfig,
    /// Running sequences per adapter.
    running: Vec<u32>,
    /// Waiting sequences per adapter.
    waiting: Vec<u32>,
    /// Adapters with a running sequence.
    distinct_running: u32,
    /// Adapters with a waiting sequence.
    distinct_waiting: u32,
    /// Adapters in GPU slots (at most `max_loras`).
    gpu: Vec<u16>,
    /// Adapters in host memory (at most `max_cpu_loras`).
    cpu: Vec<u16>,
    /// When each adapter was last in a batch (a counter, for least-recently-used eviction).
    used: Vec<u64>,
    clock: u64,
    /// Extra time of a step with the running adapters.
    step_extra: SimDuration,
    /// Load time the next step waits for.
    stall: SimDuration,
    pub(super) counters: LoraCounters,
    /// Adapters (a request's `adapter` value) that came to have a running or waiting sequence
    /// (true) or ceased to (false) since last drained; `None`: not journaled.
    journal: Option<Vec<(u16, bool)>>,
}

impl Loras {
    /// No adapter loaded anywhere.
    pub(super) fn new(cfg: LoraConfig) -> Self {
        let n = cfg.adapters.len();
        Loras {
            running: vec![0; n],
            waiting: vec![0; n],
            distinct_running: 0,
            distinct_waiting: 0,
            gpu: Vec::with_capacity(cfg.max_loras as usize),
            cpu: Vec::with_capacity(cfg.max_cpu_loras as usize),
            used: vec![0; n],
            clock: 0,
            step_extra: SimDuration::ZERO,
            stall: SimDuration::ZERO,
            counters: LoraCounters::default(),
            cfg,
            journal: None,
        }
    }

    /// Journals, from now on, adapters that come to be listed or cease to (see
    /// [`Loras::journal`]).
    pub(super) fn track(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Whether it journals.
    pub(super) fn tracks(&self) -> bool {
        self.journal.is_some()
    }

    /// The journal (`None` when not tracking), for the caller to drain.
    #[inline]
    pub(super) fn journal(&mut self) -> Option<&mut Vec<(u16, bool)>> {
        self.journal.as_mut()
    }

    /// Journals that adapter index `i` came to be listed (a running or waiting sequence) or
    /// ceased to be.
    #[inline]
    fn listed_changed(&mut self, i: usize, listed: bool) {
        if let Some(j) = &mut self.journal {
            j.push((i as u16 + 1, listed));
        }
    }

    /// The adapter index of a request's `adapter` field (`None`: the base model or an index
    /// this replica does not have).
    #[inline]
    fn index(&self, adapter: u16) -> Option<usize> {
        let i = usize::from(adapter).checked_sub(1)?;
        (i < self.running.len()).then_some(i)
    }

    /// A request for `adapter` joined the waiting queue.
    #[inline]
    pub(super) fn queued(&mut self, adapter: u16) {
        if let Some(i) = self.index(adapter) {
            self.waiting[i] += 1;
            if self.waiting[i] == 1 {
                self.distinct_waiting += 1;
                if self.running[i] == 0 {
                    self.listed_changed(i, true);
                }
            }
        }
    }

    /// Whether a waiting request for `adapter` may join the batch: the base model always; an
    /// adapter when the batch holds it already or holds fewer than `max_loras` adapters.
    #[inline]
    pub(super) fn admissible(&self, adapter: u16) -> bool {
        match self.index(adapter) {
            None => true,
            Some(i) => self.running[i] > 0 || self.distinct_running < self.cfg.max_loras,
        }
    }

    /// A waiting request for `adapter` joins the running batch: a new adapter in the batch is
    /// activated (loaded into a GPU slot if it is not in one), its load time added to the
    /// next step's.
    pub(super) fn admit(&mut self, adapter: u16) {
        let Some(i) = self.index(adapter) else {
            return;
        };
        self.waiting[i] -= 1;
        if self.waiting[i] == 0 {
            self.distinct_waiting -= 1;
        }
        self.running[i] += 1;
        self.counters.admissions += 1;
        if self.running[i] > 1 {
            self.counters.slot_hits += 1;
            return;
        }
        self.distinct_running += 1;
        let a = self.cfg.adapters[i];
        self.step_extra = self.step_extra + a.step_extra;
        self.clock += 1;
        self.used[i] = self.clock;
        let id = i as u16;
        if self.gpu.contains(&id) {
            self.counters.slot_hits += 1;
            return;
        }
        // A slot: a free one, or the least recently used adapter's that nothing running holds
        // (the batch holds at most `max_loras` adapters, this one included, so there is one).
        if self.gpu.len() as u32 >= self.cfg.max_loras {
            let k = self
                .lru(&self.gpu)
                .expect("a slot without a running adapter");
            self.gpu.swap_remove(k);
        }
        self.gpu.push(id);
        let load = if self.cpu.contains(&id) {
            self.counters.warm_loads += 1;
            a.warm_load
        } else {
            if self.cpu.len() as u32 >= self.cfg.max_cpu_loras {
                // Removing an adapter from host memory deactivates it too (vLLM's
                // `remove_adapter`), freeing its slot if it held one.
                let k = self.lru(&self.cpu).expect("a cached adapter not running");
                let gone = self.cpu.swap_remove(k);
                self.gpu.retain(|&g| g != gone);
            }
            self.cpu.push(id);
            self.counters.cold_loads += 1;
            a.cold_load
        };
        self.counters.load_seconds += load.as_secs_f64();
        self.stall = self.stall + load;
    }

    /// The position in `list` of the least recently used adapter that no running sequence
    /// holds (recency in `used` serves both caches: a batch's adapters are touched in both).
    fn lru(&self, list: &[u16]) -> Option<usize> {
        list.iter()
            .enumerate()
            .filter(|(_, &a)| self.running[usize::from(a)] == 0)
            .min_by_key(|(_, &a)| (self.used[usize::from(a)], a))
            .map(|(k, _)| k)
    }

    /// A running sequence of `adapter` left the batch (finished or aborted).
    pub(super) fn left(&mut self, adapter: u16) {
        let Some(i) = self.index(adapter) else {
            return;
        };
        self.running[i] -= 1;
        if self.running[i] == 0 {
            if self.waiting[i] == 0 {
                self.listed_changed(i, false);
            }
            self.distinct_running -= 1;
            self.step_extra = SimDuration(self.step_extra.0 - self.cfg.adapters[i].step_extra.0);
            self.clock += 1;
            self.used[i] = self.clock;
        }
    }

    /// A running sequence of `adapter` was preempted back to the waiting queue.
    pub(super) fn preempted(&mut self, adapter: u16) {
        self.left(adapter);
        self.queued(adapter);
    }

    /// Extra time of a step with the batch's adapters, and the load time it waits for (taken:
    /// the next step waits for no load unless another adapter is activated).
    #[inline]
    pub(super) fn step_costs(&mut self) -> (SimDuration, SimDuration) {
        let stall = std::mem::replace(&mut self.stall, SimDuration::ZERO);
        (self.step_extra, stall)
    }

    /// Whether `adapter` has a running sequence (vLLM's `running_lora_adapters`).
    #[inline]
    pub(super) fn active(&self, adapter: u16) -> bool {
        self.index(adapter).is_some_and(|i| self.running[i] > 0)
    }

    /// Whether `adapter` has a waiting sequence (vLLM's `waiting_lora_adapters`).
    #[inline]
    pub(super) fn waiting(&self, adapter: u16) -> bool {
        self.index(adapter).is_some_and(|i| self.waiting[i] > 0)
    }

    /// Whether `adapter` sits in a GPU slot (a request for it needs no load now).
    #[inline]
    pub(super) fn resident(&self, adapter: u16) -> bool {
        self.index(adapter)
            .is_some_and(|i| self.gpu.contains(&(i as u16)))
    }

    /// The lengths of vLLM's two label lists added (adapters running plus adapters waiting:
    /// one in both counts twice, as llm-d adds the two maps' sizes), and `max_loras`.
    #[inline]
    pub(super) fn listed(&self) -> (u32, u32) {
        (
            self.distinct_running + self.distinct_waiting,
            self.cfg.max_loras,
        )
    }

    /// Forgets every sequence (the replica stopped); host memory and slots are lost too.
    pub(super) fn clear(&mut self) {
        if let Some(j) = &mut self.journal {
            for (i, (r, w)) in self.running.iter().zip(&self.waiting).enumerate() {
                if r + w > 0 {
                    j.push((i as u16 + 1, false));
                }
            }
        }
        self.running.iter_mut().for_each(|c| *c = 0);
        self.waiting.iter_mut().for_each(|c| *c = 0);
        self.distinct_running = 0;
        self.distinct_waiting = 0;
        self.gpu.clear();
        self.cpu.clear();
        self.step_extra = SimDuration::ZERO;
        self.stall = SimDuration::ZERO;
    }
}
