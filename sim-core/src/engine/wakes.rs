//! Wake-up slots: at most one pending wake-up per slot (a replica's engine), kept in a tournament
//! tree so that moving a slot's wake-up replaces it instead of leaving a stale heap entry behind.
//!
//! Leaves hold each slot's key (the queue's packed `(time, sequence)`, or [`NONE`]); every inner
//! node holds the least key below it and the slot it belongs to, so the root is the earliest
//! wake-up. Setting a key walks up from its leaf and stops where the node's winner is unchanged;
//! the earliest slot, taken and set again, walks to the root without that test (every node above
//! it held its old key, so every one changes).

/// The key of a slot with no wake-up.
pub(super) const NONE: u128 = u128::MAX;

/// A node: the least key in its subtree and the slot it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Node {
    key: u128,
    slot: u32,
}

/// No slot awaits its walk up (see [`Wakes::take_first`]).
const SETTLED: u32 = u32::MAX;

/// A tournament tree over wake-up slots; see the module docs.
#[derive(Clone, Debug)]
pub(super) struct Wakes {
    /// Node `n` (1-based; the leaves at `cap..2 * cap`).
    nodes: Vec<Node>,
    /// Leaves (a power of two, 0 before the first slot).
    cap: usize,
    /// Slots handed out.
    len: usize,
    /// A slot whose leaf was cleared by [`Wakes::take_first`] but whose ancestors were not yet
    /// updated ([`SETTLED`]: none): the caller usually sets that slot again at once, and then
    /// one walk up does for both.
    unsettled: u32,
}

impl Default for Wakes {
    fn default() -> Self {
        Wakes {
            nodes: Vec::new(),
            cap: 0,
            len: 0,
            unsettled: SETTLED,
        }
    }
}

impl Wakes {
    /// Adds a slot with no wake-up and returns its number (0, 1, 2, ... in order). The tree
    /// doubles when full; slots are bounded by the replicas `validate` allows.
    pub(super) fn add(&mut self) -> u32 {
        if self.len == self.cap {
            self.grow();
        }
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Slots handed out.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Doubles the leaves (at least one) and rebuilds the inner nodes.
    fn grow(&mut self) {
        self.settle();
        let cap = (self.cap * 2).max(1);
        let mut nodes = vec![Node { key: NONE, slot: 0 }; 2 * cap];
        for i in 0..cap {
            nodes[cap + i].slot = i as u32;
        }
        for i in 0..self.cap {
            nodes[cap + i].key = self.nodes[self.cap + i].key;
        }
        for n in (1..cap).rev() {
            let (l, r) = (nodes[2 * n], nodes[2 * n + 1]);
            nodes[n] = if r.key < l.key { r } else { l };
        }
        self.nodes = nodes;
        self.cap = cap;
    }

    /// The key of slot `s` ([`NONE`] without a wake-up).
    #[inline]
    pub(super) fn get(&self, s: u32) -> u128 {
        self.nodes[self.cap + s as usize].key
    }

    /// The earliest key ([`NONE`] when no slot has a wake-up).
    #[inline]
    pub(super) fn first_key(&mut self) -> u128 {
        self.settle();
        self.nodes.get(1).map_or(NONE, |n| n.key)
    }

    /// Clears the earliest wake-up (there must be one: see [`Wakes::first_key`]) and returns
    /// its slot.
    #[inline]
    pub(super) fn take_first(&mut self) -> u32 {
        debug_assert_eq!(self.unsettled, SETTLED);
        let s = self.nodes[1].slot;
        self.nodes[self.cap + s as usize].key = NONE;
        self.unsettled = s;
        s
    }

    /// Sets slot `s`'s key and restores the winners above it.
    #[inline(always)]
    pub(super) fn set(&mut self, s: u32, k: u128) {
        let n = self.cap + s as usize;
        if self.unsettled == s {
            // Taken as the earliest: every node above held its old key (a packed sequence
            // number, never set again), so each one changes and nothing is gained by testing.
            self.unsettled = SETTLED;
            self.nodes[n].key = k;
            self.walk_up(n, false);
            return;
        }
        self.settle();
        self.nodes[n].key = k;
        self.walk_up(n, true);
    }

    /// Updates the ancestors of a slot whose leaf [`Wakes::take_first`] cleared.
    #[inline]
    fn settle(&mut self) {
        if self.unsettled != SETTLED {
            let n = self.cap + self.unsettled as usize;
            self.unsettled = SETTLED;
            self.walk_up(n, false);
        }
    }

    /// Restores the winners above node `n`. With `early` it stops where a node's winner is
    /// unchanged (then so are those above it); without, it goes to the root, for the leaf taken
    /// as the earliest, whose old key every node above held, so none can stay as it was.
    #[inline(always)]
    fn walk_up(&mut self, mut n: usize, early: bool) {
        let nodes = &mut self.nodes[..];
        // The length is `2 * cap`, a power of two, and every index below is under it, so
        // masking with `len - 1` changes none of them; it lets the compiler drop the bounds
        // checks (two a level).
        let Some(mask) = nodes.len().checked_sub(1) else {
            return;
        };
        debug_assert!(nodes.len().is_power_of_two() && n <= mask);
        let mut cur = nodes[n & mask];
        while n > 1 {
            let sibling = &nodes[(n ^ 1) & mask];
            if sibling.key < cur.key {
                cur = *sibling;
            }
            n >>= 1;
            // Keys other than `NONE` are distinct, so the key alone says whether the winner
            // changed (among `NONE`s, which slot wins does not matter).
            let node = &mut nodes[n & mask];
            if early && node.key == cur.key {
                break;
            }
            *node = cur;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The earliest key and its slot.
    fn first(w: &mut Wakes) -> (u128, u32) {
        let k = w.first_key();
        (k, w.nodes[1].slot)
    }

    /// The least key over the slots handed out, and its slot, by a scan.
    fn scan(w: &Wakes) -> (u128, u32) {
        (0..w.len() as u32)
            .map(|s| (w.get(s), s))
            .filter(|&(k, _)| k != NONE)
            .min()
            .unwrap_or((NONE, 0))
    }

    #[test]
    fn an_empty_tree_has_no_first() {
        let mut w = Wakes::default();
        assert_eq!(w.first_key(), NONE);
        let s = w.add();
        assert_eq!((s, w.first_key()), (0, NONE));
        w.set(s, 7);
        assert_eq!(first(&mut w), (7, 0));
        w.set(s, NONE);
        assert_eq!(w.first_key(), NONE);
    }

    proptest! {
        #[test]
        fn the_root_is_the_least_key(ops in proptest::collection::vec((0u32..40, 0u32..50), 1..300)) {
            let mut w = Wakes::default();
            for (i, &(s, k)) in ops.iter().enumerate() {
                while w.len() <= s as usize {
                    w.add();
                }
                if k >= 45 && w.first_key() != NONE {
                    // Take the earliest, as the queue does when it pops a wake-up.
                    let want = scan(&w);
                    prop_assert_eq!(w.take_first(), want.1);
                    prop_assert_eq!(w.get(want.1), NONE);
                    continue;
                }
                // Distinct keys, as the queue's sequence numbers make them; some cleared.
                let key = if k < 10 { NONE } else { ((k as u128) << 64) | i as u128 };
                w.set(s, key);
                let (k, s) = first(&mut w);
                let want = scan(&w);
                prop_assert_eq!(k, want.0);
                if k != NONE {
                    prop_assert_eq!(s, want.1);
                }
            }
        }
    }
}
