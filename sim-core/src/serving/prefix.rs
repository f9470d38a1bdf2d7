//! Request prefixes for prefix caching: each request may carry the hash ids of the leading blocks
//! of its prompt, stored once in a shared [`PrefixTable`] so that a [`Request`] stays small and
//! `Copy` and the hot path never allocates.
//!
//! A hash id stands for a whole chain: equal ids at position `i` mean equal prompts up to the end
//! of block `i` (vLLM hashes each block with its parent's hash; Mooncake's `hash_ids` are
//! remapped the same way). Each id covers [`PrefixTable::unit_tokens`] tokens.
//!
//! [`Request`]: super::Request

use std::collections::HashMap;
use std::sync::OnceLock;

/// A request's prefix: `len` hash ids from `start` in the shared [`PrefixTable`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prefix {
    /// Index of the first hash id.
    pub start: u32,
    /// Number of hash ids (0: the request carries no prefix).
    pub len: u32,
}

impl Prefix {
    /// No prefix.
    pub const NONE: Prefix = Prefix { start: 0, len: 0 };

    /// Whether the request carries no prefix.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// Not a prefix's first hash id (see [`PrefixTable::slot_at`]).
pub const NO_SLOT: u32 = u32::MAX;

/// The hash ids of every request's prefix, shared (read-only) by engines and the router.
#[derive(Clone, Debug)]
pub struct PrefixTable {
    unit_tokens: u32,
    ids: Vec<u64>,
    /// Where each prefix pushed starts (in `ids`; empty prefixes left out).
    starts: Vec<u32>,
    /// Built on first use, after every push: for each stored id, its slot ([`NO_SLOT`]: none),
    /// and how many slots there are.
    slots: OnceLock<(Vec<u32>, u32)>,
}

impl PartialEq for PrefixTable {
    fn eq(&self, other: &Self) -> bool {
        self.unit_tokens == other.unit_tokens && self.ids == other.ids
    }
}

impl Eq for PrefixTable {}

impl PrefixTable {
    /// An empty table whose hash ids each cover `unit_tokens` tokens (at least 1).
    pub fn new(unit_tokens: u32) -> Self {
        PrefixTable {
            unit_tokens: unit_tokens.max(1),
            ids: Vec::new(),
            starts: Vec::new(),
            slots: OnceLock::new(),
        }
    }

    /// Tokens each hash id covers.
    #[inline]
    pub fn unit_tokens(&self) -> u32 {
        self.unit_tokens
    }

    /// Appends a prefix's hash ids and returns its span.
    pub fn push(&mut self, ids: impl IntoIterator<Item = u64>) -> Prefix {
        let start = self.ids.len() as u32;
        self.ids.extend(ids);
        if self.ids.len() > start as usize {
            self.starts.push(start);
        }
        self.slots = OnceLock::new();
        Prefix {
            start,
            len: self.ids.len() as u32 - start,
        }
    }

    /// The slot of the id stored at `pos`: the number of its value among the distinct first
    /// ids of the prefixes pushed, or [`NO_SLOT`] when no prefix starts with it. A cached unit
    /// with a slot makes its replica a holder of that slot for prefix routing.
    #[inline]
    pub fn slot_at(&self, pos: usize) -> u32 {
        self.slots_built().0[pos]
    }

    /// The slots, numbered by first push of each distinct first id (a map looked up, never
    /// iterated).
    fn slots_built(&self) -> &(Vec<u32>, u32) {
        self.slots.get_or_init(|| {
            let mut firsts: HashMap<u64, u32> = HashMap::new();
            for &s in &self.starts {
                let n = firsts.len() as u32;
                firsts.entry(self.ids[s as usize]).or_insert(n);
            }
            let slots = self
                .ids
                .iter()
                .map(|id| firsts.get(id).copied().unwrap_or(NO_SLOT))
                .collect();
            (slots, firsts.len() as u32)
        })
    }

    /// The slot of `p`'s first id (`p` not empty).
    #[inline]
    pub fn first_slot(&self, p: Prefix) -> u32 {
        self.slot_at(p.start as usize)
    }

    /// Distinct first ids (slots).
    pub fn slots(&self) -> u32 {
        self.slots_built().1
    }

    /// The hash ids of `p`.
    #[inline]
    pub fn ids(&self, p: Prefix) -> &[u64] {
        &self.ids[p.start as usize..(p.start + p.len) as usize]
    }

    /// Hash ids stored in all.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no hash id is stored.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_index_the_shared_ids() {
        let mut t = PrefixTable::new(16);
        let a = t.push([1, 2, 3]);
        let b = t.push([1, 9]);
        assert_eq!(t.ids(a), &[1, 2, 3]);
        assert_eq!(t.ids(b), &[1, 9]);
        assert_eq!(t.ids(Prefix::NONE), &[] as &[u64]);
        assert_eq!(t.len(), 5);
        // Both start with 1: one slot, also where 1 appears later; 2, 3 and 9 start none.
        let c = t.push([2, 1]);
        assert_eq!(t.slots(), 2);
        assert_eq!(
            (t.first_slot(a), t.first_slot(b), t.first_slot(c)),
            (0, 0, 1)
        );
        let slots: Vec<_> = (0..t.len()).map(|i| t.slot_at(i)).collect();
        assert_eq!(slots, [0, 1, NO_SLOT, 0, NO_SLOT, 1, 0]);
    }
}
