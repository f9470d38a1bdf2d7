//! KV-cache tiers below HBM: host memory (vLLM's `OffloadingConnector`, or LMCache's local CPU
//! backend) and, with LMCache, the node's local disk.
//!
//! Each tier holds whole prefix hash units, found by the same hash ids as the HBM prefix cache,
//! in a least-recently-used order of its own and up to a capacity in units (its bytes over a
//! unit's KV bytes). The rules, after vLLM's `OffloadingConnectorScheduler` and
//! `LRUOffloadingManager` and LMCache's `StorageManager`:
//!
//! - when a sequence is taken from the queue, every unit of its prompt that a tier holds is
//!   touched, last unit first, so that the prompt's first unit is the most recent
//!   (`get_num_new_matched_tokens` → `touch`);
//! - the units found beyond the HBM hits are the leading run held by some tier, the highest tier
//!   first (CPU, then disk), stopping at the first unit no tier holds (`_maximal_prefix_lookup`,
//!   LMCache's contiguous prefetch);
//! - each prompt unit the engine computes is stored in every tier (write-through, as LMCache's
//!   `batched_put`), evicting the least recently used unit of a full tier. capsim then touches
//!   the whole chain stored so far, last unit first: vLLM appends stored blocks in compute order,
//!   so until the next lookup touches them a chain's tail is more recent than its head; capsim's
//!   order keeps every tier's content a set of whole leading prefixes, as a prefix lookup uses.
//!
//! A load moves the hit units' KV bytes to the GPU over the host link (each tensor-parallel rank
//! its share over its own link), a disk hit first from the local disk to host memory; loads of a
//! replica go one after another. Stores run off the critical path (vLLM's are asynchronous DMA)
//! and cost no time; their bytes are counted. Units being loaded are not protected from eviction
//! (vLLM pins them with a reference count): the tier's content is bookkeeping, the bytes already
//! on their way.

use super::prefix_cache::IdHasher;
use crate::engine::{SimDuration, SimTime};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

const NIL: u32 = u32::MAX;

/// The tiers of one replica, as the scenario sets them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KvTierConfig {
    /// Host-memory tier, bytes (`kv_offloading_size`, all tensor-parallel ranks together).
    pub cpu_bytes: u64,
    /// Local-disk tier, bytes (LMCache's `max_local_disk_size`); 0: none.
    pub disk_bytes: u64,
    /// KV bytes of one token, all layers and ranks.
    pub kv_bytes_per_token: f64,
    /// Tensor-parallel ranks, each loading its share over its own host link.
    pub tensor_parallel: u32,
    /// Host-to-GPU bytes per second of one GPU's link (PCIe or NVLink-C2C).
    pub host_link_bytes_per_s: f64,
    /// Local-disk read bytes per second.
    pub disk_read_bytes_per_s: f64,
}

/// What the tiers did, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KvTierCounters {
    /// Prompt tokens loaded from host memory instead of prefilled.
    pub cpu_hit_tokens: u64,
    /// Prompt tokens loaded from local disk instead of prefilled.
    pub disk_hit_tokens: u64,
    /// Bytes loaded into HBM from the tiers.
    pub loaded_bytes: u64,
    /// Bytes written to host memory (new units).
    pub cpu_stored_bytes: u64,
    /// Bytes written to local disk (new units).
    pub disk_stored_bytes: u64,
    /// Loads (sequences that waited for their KV).
    pub loads: u64,
    /// Seconds sequences waited for their loads, the link's queue included.
    pub load_wait_s: f64,
    /// Whether the replica has a local-disk tier.
    pub has_disk: bool,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    id: u64,
    /// Neighbours in recency order: `prev` is older, `NIL` at the ends.
    prev: u32,
    next: u32,
}

/// One tier: hash units in least-recently-used order, at most `capacity` of them.
#[derive(Clone, Debug)]
struct LruTier {
    capacity: u64,
    map: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    nodes: Vec<Node>,
    spare: Vec<u32>,
    /// Least recently used (evicted first).
    head: u32,
    /// Most recently used.
    tail: u32,
}

impl LruTier {
    fn new(capacity: u64) -> Self {
        LruTier {
            capacity,
            map: HashMap::default(),
            nodes: Vec::new(),
            spare: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    #[inline]
    fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    fn unlink(&mut self, e: u32) {
        let Node { prev, next, .. } = self.nodes[e as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }

    fn append(&mut self, e: u32) {
        self.nodes[e as usize].prev = self.tail;
        self.nodes[e as usize].next = NIL;
        if self.tail == NIL {
            self.head = e;
        } else {
            self.nodes[self.tail as usize].next = e;
        }
        self.tail = e;
    }

    /// Makes `id` the most recent if held.
    #[inline]
    fn touch(&mut self, id: u64) {
        if let Some(&e) = self.map.get(&id) {
            if self.tail != e {
                self.unlink(e);
                self.append(e);
            }
        }
    }

    /// Stores `id` as the most recent unit (touching it if held); true when newly stored.
    fn put(&mut self, id: u64) -> bool {
        if self.contains(id) {
            self.touch(id);
            return false;
        }
        if self.capacity == 0 {
            return false;
        }
        if self.map.len() as u64 >= self.capacity {
            let old = self.head;
            self.unlink(old);
            let gone = self.nodes[old as usize].id;
            self.map.remove(&gone);
            self.spare.push(old);
        }
        let node = Node {
            id,
            prev: NIL,
            next: NIL,
        };
        let e = match self.spare.pop() {
            Some(e) => {
                self.nodes[e as usize] = node;
                e
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() as u32 - 1
            }
        };
        self.map.insert(id, e);
        self.append(e);
        true
    }
}

/// The lower tiers of one replica.
#[derive(Clone, Debug)]
pub(super) struct KvTiers {
    /// Host memory, then local disk (absent without one).
    tiers: Vec<LruTier>,
    /// KV bytes of one hash unit.
    unit_bytes: u64,
    /// Seconds to load one unit from each tier.
    unit_load_s: [f64; 2],
    /// When the replica's last load ends.
    link_free: SimTime,
    counters: KvTierCounters,
}

impl KvTiers {
    /// Tiers for hash units of `unit_tokens` tokens.
    pub(super) fn new(cfg: &KvTierConfig, unit_tokens: u32) -> Self {
        let unit_bytes = (unit_tokens as f64 * cfg.kv_bytes_per_token)
            .ceil()
            .max(1.0) as u64;
        let units = |bytes: u64| bytes / unit_bytes;
        let mut tiers = vec![LruTier::new(units(cfg.cpu_bytes))];
        if cfg.disk_bytes > 0 {
            tiers.push(LruTier::new(units(cfg.disk_bytes)));
        }
        let link =
            unit_bytes as f64 / cfg.tensor_parallel.max(1) as f64 / cfg.host_link_bytes_per_s;
        let disk = if cfg.disk_read_bytes_per_s > 0.0 {
            unit_bytes as f64 / cfg.disk_read_bytes_per_s
        } else {
            0.0
        };
        let counters = KvTierCounters {
            has_disk: tiers.len() > 1,
            ..KvTierCounters::default()
        };
        KvTiers {
            counters,
            tiers,
            unit_bytes,
            unit_load_s: [link, link + disk],
            link_free: SimTime::ZERO,
        }
    }

    /// The counters so far.
    pub(super) fn counters(&self) -> KvTierCounters {
        self.counters
    }

    /// Units each tier holds, as capacities (for tests).
    #[cfg(test)]
    pub(super) fn capacities(&self) -> Vec<u64> {
        self.tiers.iter().map(|t| t.capacity).collect()
    }

    /// How many leading units of `ids` the tiers hold, counted by the tier each comes from
    /// (the highest tier holding it), up to the first unit none holds.
    #[inline]
    pub(super) fn lookup(&self, ids: &[u64]) -> [u32; 2] {
        let mut found = [0u32; 2];
        'units: for &id in ids {
            for (i, t) in self.tiers.iter().enumerate() {
                if t.contains(id) {
                    found[i] += 1;
                    continue 'units;
                }
            }
            break;
        }
        found
    }

    /// Touches the units of `ids` each tier holds, last first.
    pub(super) fn touch(&mut self, ids: &[u64]) {
        for t in &mut self.tiers {
            for &id in ids.iter().rev() {
                t.touch(id);
            }
        }
    }

    /// Stores the chain `ids` (computed units) in every tier, last first.
    pub(super) fn store(&mut self, ids: &[u64]) {
        for (i, t) in self.tiers.iter_mut().enumerate() {
            let mut new = 0u64;
            for &id in ids.iter().rev() {
                new += t.put(id) as u64;
            }
            let bytes = new * self.unit_bytes;
            if i == 0 {
                self.counters.cpu_stored_bytes += bytes;
            } else {
                self.counters.disk_stored_bytes += bytes;
            }
        }
    }

    /// Starts loading `found` units (from [`KvTiers::lookup`]) of `unit_tokens` tokens each at
    /// `now`, after the loads before it; returns when the KV is in HBM.
    pub(super) fn load(&mut self, now: SimTime, found: [u32; 2], unit_tokens: u32) -> SimTime {
        let c = &mut self.counters;
        c.cpu_hit_tokens += found[0] as u64 * unit_tokens as u64;
        c.disk_hit_tokens += found[1] as u64 * unit_tokens as u64;
        c.loaded_bytes += (found[0] + found[1]) as u64 * self.unit_bytes;
        c.loads += 1;
        let secs = found[0] as f64 * self.unit_load_s[0] + found[1] as f64 * self.unit_load_s[1];
        let start = now.max(self.link_free);
        let ready = start + SimDuration::from_secs_f64(secs).max(SimDuration(1));
        self.link_free = ready;
        c.load_wait_s += ready.since(now).as_secs_f64();
        ready
    }

    /// Forgets every unit (the replica stopped); the counters stay.
    pub(super) fn clear(&mut self) {
        for t in &mut self.tiers {
            *t = LruTier::new(t.capacity);
        }
        self.link_free = SimTime::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cpu_units: u64, disk_units: u64) -> KvTierConfig {
        KvTierConfig {
            cpu_bytes: cpu_units * 1000,
            disk_bytes: disk_units * 1000,
            kv_bytes_per_token: 100.0,
            tensor_parallel: 1,
            host_link_bytes_per_s: 1000.0,
            disk_read_bytes_per_s: 500.0,
        }
    }

    #[test]
    fn a_full_tier_evicts_its_least_recently_used_unit() {
        let mut t = KvTiers::new(&cfg(3, 0), 10);
        assert_eq!(t.capacities(), vec![3]);
        t.store(&[1, 2, 3]);
        // Stored last first: 1 is the most recent, 3 the least.
        assert_eq!(t.lookup(&[1, 2, 3]), [3, 0]);
        t.store(&[7]);
        assert_eq!(t.lookup(&[1, 2, 3]), [2, 0]);
        // Touching 2 makes 1 the oldest.
        t.touch(&[2]);
        t.store(&[8]);
        assert_eq!(t.lookup(&[2]), [1, 0]);
        assert_eq!(t.lookup(&[1]), [0, 0]);
        assert_eq!(t.counters().cpu_stored_bytes, 5 * 1000);
    }

    #[test]
    fn lookups_take_the_leading_run_over_tiers_and_loads_queue_on_the_link() {
        let mut t = KvTiers::new(&cfg(2, 4), 10);
        t.store(&[1, 2, 3, 4]);
        // CPU keeps 1 and 2, disk all four; a gap stops the run.
        assert_eq!(t.lookup(&[1, 2, 3, 4]), [2, 2]);
        assert_eq!(t.lookup(&[1, 9, 3]), [1, 0]);
        // A unit is 1,000 bytes: 1 s over the link, 2 s more from disk.
        let ready = t.load(SimTime::ZERO, [2, 2], 10);
        assert_eq!(ready, SimTime::from_secs_f64(8.0));
        let next = t.load(SimTime::from_secs_f64(1.0), [1, 0], 10);
        assert_eq!(next, SimTime::from_secs_f64(9.0));
        let c = t.counters();
        assert_eq!((c.cpu_hit_tokens, c.disk_hit_tokens), (30, 20));
        assert_eq!(c.loaded_bytes, 5000);
        assert_eq!(c.load_wait_s, 16.0);
        t.clear();
        assert_eq!(t.lookup(&[1]), [0, 0]);
    }
}
