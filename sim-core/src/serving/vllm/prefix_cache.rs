//! vLLM's automatic prefix cache, at the granularity of a hash unit (one or more KV blocks).
//!
//! Every cached unit is found by its hash id and counts the running sequences that use it. A unit
//! no sequence uses stays cached but evictable, on a least-recently-freed list: when the engine
//! needs blocks and none is free, the unit at the head of the list is evicted (vLLM's free-block
//! queue, where cached blocks wait to be reused or overwritten). Lookups go through a hash map
//! that is never iterated, and the list is threaded through a slab of entries, so the cache's
//! behaviour depends on nothing but the order of calls.
//!
//! With [`PrefixCache::track`], the cache also journals each unit that is some prefix's first
//! (it has a slot, [`crate::serving::PrefixTable::slot_at`]) as it joins or leaves the cache,
//! for the prefix router's holder sets.

use crate::serving::prefix::NO_SLOT;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// A multiplicative hasher for `u64` keys (deterministic, fast; keys are already hashes).
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u64,
    /// Running sequences using the unit.
    refs: u32,
    /// Neighbours on the evictable list (refs == 0), `NIL` at the ends.
    prev: u32,
    next: u32,
    /// Its slot while cached and journaled (`NO_SLOT`: none, or not cached).
    slot: u32,
}

/// Cached prefix units of one replica.
#[derive(Clone, Debug, Default)]
pub(super) struct PrefixCache {
    map: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    entries: Vec<Entry>,
    spare: Vec<u32>,
    /// Evictable list: head is evicted first.
    head: u32,
    tail: u32,
    evictable: u32,
    /// Slots that joined (true) or left (false) the cache since last drained; `None`: not
    /// journaled.
    journal: Option<Vec<(u32, bool)>>,
}

impl PrefixCache {
    /// An empty cache.
    pub(super) fn new() -> Self {
        PrefixCache {
            head: NIL,
            tail: NIL,
            ..PrefixCache::default()
        }
    }

    /// Journals, from now on, the slots of the units that join or leave (call while empty).
    pub(super) fn track(&mut self) {
        debug_assert!(self.map.is_empty());
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Whether the cache journals its slots.
    #[inline]
    pub(super) fn tracking(&self) -> bool {
        self.journal.is_some()
    }

    /// The journal (`None` when not tracking), for the caller to drain.
    #[inline]
    pub(super) fn journal(&mut self) -> Option<&mut Vec<(u32, bool)>> {
        self.journal.as_mut()
    }

    /// Units no running sequence uses (cached, evictable).
    #[inline]
    pub(super) fn evictable(&self) -> u32 {
        self.evictable
    }

    /// Units cached in all.
    #[cfg(test)]
    pub(super) fn cached(&self) -> u32 {
        self.map.len() as u32
    }

    /// How many leading ids of `ids` are cached, and how many of those are evictable.
    #[inline]
    pub(super) fn lookup(&self, ids: &[u64]) -> (u32, u32) {
        let (mut hits, mut idle) = (0, 0);
        for id in ids {
            let Some(&e) = self.map.get(id) else { break };
            hits += 1;
            idle += (self.entries[e as usize].refs == 0) as u32;
        }
        (hits, idle)
    }

    fn unlink(&mut self, e: u32) {
        let Entry { prev, next, .. } = self.entries[e as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        self.evictable -= 1;
    }

    fn append(&mut self, e: u32) {
        self.entries[e as usize].prev = self.tail;
        self.entries[e as usize].next = NIL;
        if self.tail == NIL {
            self.head = e;
        } else {
            self.entries[self.tail as usize].next = e;
        }
        self.tail = e;
        self.evictable += 1;
    }

    /// A sequence starts using the cached unit `id` (which must be cached).
    #[inline]
    pub(super) fn acquire(&mut self, id: u64) {
        let e = self.map[&id];
        if self.entries[e as usize].refs == 0 {
            self.unlink(e);
        }
        self.entries[e as usize].refs += 1;
    }

    /// A sequence that computed unit `id` (of slot `slot`, [`NO_SLOT`] for none or when not
    /// tracking) offers it to the cache; it now uses the cached unit. Returns false when the
    /// unit was cached already (the sequence's own copy is then freed).
    pub(super) fn insert(&mut self, id: u64, slot: u32) -> bool {
        if self.map.contains_key(&id) {
            self.acquire(id);
            return false;
        }
        let slot = match &mut self.journal {
            Some(j) if slot != NO_SLOT => {
                j.push((slot, true));
                slot
            }
            _ => NO_SLOT,
        };
        let entry = Entry {
            id,
            refs: 1,
            prev: NIL,
            next: NIL,
            slot,
        };
        let e = match self.spare.pop() {
            Some(e) => {
                self.entries[e as usize] = entry;
                e
            }
            None => {
                self.entries.push(entry);
                self.entries.len() as u32 - 1
            }
        };
        self.map.insert(id, e);
        true
    }

    /// A sequence stops using unit `id`; unused, it joins the tail of the evictable list.
    #[inline]
    pub(super) fn release(&mut self, id: u64) {
        let e = self.map[&id];
        let entry = &mut self.entries[e as usize];
        entry.refs -= 1;
        if entry.refs == 0 {
            self.append(e);
        }
    }

    /// Evicts the least recently freed unused unit; false when none is evictable.
    pub(super) fn evict(&mut self) -> bool {
        let e = self.head;
        if e == NIL {
            return false;
        }
        self.unlink(e);
        let entry = &mut self.entries[e as usize];
        let id = entry.id;
        if entry.slot != NO_SLOT {
            if let Some(j) = &mut self.journal {
                j.push((entry.slot, false));
            }
            entry.slot = NO_SLOT;
        }
        self.map.remove(&id);
        self.spare.push(e);
        true
    }

    /// Forgets everything (the replica stopped); the units with slots leave the journal, in
    /// the order of the entries.
    pub(super) fn clear(&mut self) {
        let mut journal = self.journal.take();
        if let Some(j) = &mut journal {
            j.extend(
                self.entries
                    .iter()
                    .filter(|e| e.slot != NO_SLOT)
                    .map(|e| (e.slot, false)),
            );
        }
        *self = PrefixCache::new();
        self.journal = journal;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_units_are_evicted_least_recently_freed_first() {
        let mut c = PrefixCache::new();
        assert!(c.insert(1, NO_SLOT));
        assert!(c.insert(2, NO_SLOT));
        assert!(c.insert(3, NO_SLOT));
        assert_eq!(c.lookup(&[1, 2, 3, 4]), (3, 0));
        // Freed last block first, as vLLM does, so the chain's tail goes before its head.
        c.release(3);
        c.release(2);
        c.release(1);
        assert_eq!(c.lookup(&[1, 2, 3]), (3, 3));
        assert_eq!(c.evictable(), 3);
        // A hit takes unit 1 off the evictable list.
        c.acquire(1);
        assert_eq!(c.evictable(), 2);
        assert!(c.evict()); // 3
        assert_eq!(c.lookup(&[1, 2, 3]), (2, 1));
        assert!(c.evict()); // 2
        assert!(!c.evict()); // 1 is in use
        assert_eq!(c.cached(), 1);
        // Offering a unit that is cached shares it.
        assert!(!c.insert(1, NO_SLOT));
        c.release(1);
        c.release(1);
        assert_eq!(c.evictable(), 1);
        assert!(c.insert(2, NO_SLOT));
        c.clear();
        assert_eq!(c.lookup(&[1]), (0, 0));
    }

    #[test]
    fn tracking_journals_first_units_joining_and_leaving() {
        let mut c = PrefixCache::new();
        c.track();
        assert!(c.insert(10, 0));
        assert!(c.insert(11, NO_SLOT));
        assert!(c.insert(20, 1));
        assert!(!c.insert(10, 0)); // shared: no change
        for id in [11, 10, 10, 20] {
            c.release(id);
        }
        assert!(c.evict()); // 11: no slot
        assert!(c.evict()); // 10
        assert!(c.insert(30, 2));
        c.clear(); // 20 and 30 leave
        assert!(c.tracking());
        let j = std::mem::take(c.journal().unwrap());
        assert_eq!(
            j,
            [
                (0, true),
                (1, true),
                (0, false),
                (2, true),
                (2, false),
                (1, false)
            ]
        );
    }
}
