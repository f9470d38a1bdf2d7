//! The decode step clock: aggregates over a replica's leading decode sequences, so that a step
//! (or a run of steps) of all of them costs O(1) rather than O(batch).
//!
//! While a sequence decodes in every step, its cached tokens grow by one per step. The clock
//! counts those steps for the whole replica; a sequence that joins at clock `sync` with `c`
//! cached tokens has `c + clock - sync` later. What a step needs from the decode sequences —
//! their number, their summed context, the fewest tokens any has left, and how many KV blocks
//! they take in the next `k` steps — then follows from sums kept as sequences join and leave:
//! the context from one running total, the blocks from a count of sequences by their cached
//! tokens modulo the block size, the fewest tokens left from a min-heap of the clock readings at
//! which each will finish.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Largest block size the clock keeps a residue table for; larger blocks leave every sequence to
/// the per-sequence path (vLLM uses 8 to 32).
pub(super) const MAX_BLOCK_SIZE: u32 = 1024;

/// A finish-heap key: clock reading, then position.
#[inline]
fn pack(reading: u64, position: u64) -> u128 {
    (u128::from(reading) << 64) | u128::from(position)
}

/// The (clock reading, position) of a finish-heap key.
#[inline]
fn unpack(key: u128) -> (u64, u64) {
    ((key >> 64) as u64, key as u64)
}

/// Step-clock aggregates over the decode sequences it holds.
#[derive(Clone, Debug)]
pub(super) struct DecodeClock {
    /// Decode steps taken by every held sequence together.
    clock: u64,
    /// Sequences held.
    count: u64,
    /// Sum over held sequences of `cached + 1 - sync` (their tokens, less the clock).
    context: i64,
    /// Held sequences by `(cached - sync) mod block_size`: a sequence's cached tokens are
    /// `clock + r` modulo the block size. Empty when the block size is over [`MAX_BLOCK_SIZE`].
    residues: Vec<u32>,
    /// `(clock reading at which it has all its tokens, position)` of each held sequence, packed
    /// as `reading << 64 | position` (one integer compare orders them as the pair would). The
    /// position is the sequence's place in the caller's list, increasing in admission order.
    finishes: BinaryHeap<Reverse<u128>>,
    block_size: u32,
    /// `clock mod block_size`.
    phase: u64,
    /// `block_size - 1` when the block size is a power of two (then `x mod block_size` is a
    /// mask), else 0.
    mask: u64,
}

impl DecodeClock {
    /// An empty clock for KV blocks of `block_size` tokens with room for `capacity` sequences.
    pub(super) fn new(block_size: u32, capacity: usize) -> Self {
        let table = if block_size <= MAX_BLOCK_SIZE {
            block_size as usize
        } else {
            0
        };
        DecodeClock {
            clock: 0,
            count: 0,
            context: 0,
            residues: vec![0; table],
            finishes: BinaryHeap::with_capacity(capacity),
            block_size,
            phase: 0,
            mask: if block_size.is_power_of_two() {
                u64::from(block_size) - 1
            } else {
                0
            },
        }
    }

    /// Whether sequences may join (the block size is small enough for the residue table).
    #[inline]
    pub(super) fn enabled(&self) -> bool {
        !self.residues.is_empty()
    }

    /// Turns the clock off (tests compare an engine with and without it).
    #[cfg(test)]
    pub(super) fn disable(&mut self) {
        self.residues = Vec::new();
    }

    /// Sequences held.
    #[inline]
    pub(super) fn held(&self) -> usize {
        self.count as usize
    }

    /// The clock reading: decode steps taken by the held sequences.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.clock
    }

    /// Advances the clock by `steps` decode steps of every held sequence.
    #[inline]
    pub(super) fn tick(&mut self, steps: u32) {
        self.clock += steps as u64;
        self.phase = self.modulo(self.phase + steps as u64);
    }

    /// `x mod block_size`.
    #[inline]
    fn modulo(&self, x: u64) -> u64 {
        if self.mask != 0 {
            x & self.mask
        } else {
            x % self.block_size as u64
        }
    }

    /// Residue-table slot of a sequence with `cached` tokens at a clock reading whose phase
    /// (reading mod block size) is `phase`.
    #[inline]
    fn slot(&self, cached: u32, phase: u64) -> usize {
        let bs = self.block_size as u64;
        let s = self.modulo(cached as u64) + bs - phase;
        (if s >= bs { s - bs } else { s }) as usize
    }

    /// Holds a decode sequence with `cached` tokens and `left` tokens still to generate, from
    /// the clock's current reading (which the caller stores as its `sync`), at `position` in
    /// the caller's list (after every held one's).
    #[inline]
    pub(super) fn join(&mut self, cached: u32, left: u32, position: u64) {
        debug_assert!(left > 0);
        let slot = self.slot(cached, self.phase);
        self.residues[slot] += 1;
        self.count += 1;
        self.context += cached as i64 + 1 - self.clock as i64;
        self.finishes
            .push(Reverse(pack(self.clock + left as u64, position)));
    }

    /// Moves each held sequence's position `p` to `to(p)`, which must keep their order (the
    /// caller removed entries before them from its list).
    pub(super) fn renumber(&mut self, to: impl Fn(u64) -> u64) {
        let mut keys = std::mem::take(&mut self.finishes).into_vec();
        for Reverse(k) in &mut keys {
            let (reading, position) = unpack(*k);
            *k = pack(reading, to(position));
        }
        // The order is unchanged, so the keys are still a heap; `from` rebuilds it in O(n).
        self.finishes = BinaryHeap::from(keys);
    }

    /// Stops holding a sequence that joined with `cached` tokens at `sync`; its entry in the
    /// finish heap must have been popped already (see [`Self::pop_finished`]).
    pub(super) fn leave(&mut self, cached: u32, sync: u64) {
        let slot = self.slot(cached, self.modulo(sync));
        self.residues[slot] -= 1;
        self.count -= 1;
        self.context -= cached as i64 + 1 - sync as i64;
    }

    /// Forgets every held sequence (the clock reading stays).
    pub(super) fn clear(&mut self) {
        self.residues.fill(0);
        self.count = 0;
        self.context = 0;
        self.finishes.clear();
    }

    /// Tokens (prompt and generated) of the held sequences, summed: each one's decode context.
    #[inline]
    pub(super) fn context_tokens(&self) -> u64 {
        (self.context + self.count as i64 * self.clock as i64) as u64
    }

    /// The fewest tokens any held sequence has left to generate (`u32::MAX` when none).
    #[inline]
    pub(super) fn min_left(&self) -> u32 {
        self.finishes
            .peek()
            .map_or(u32::MAX, |&Reverse(k)| (unpack(k).0 - self.clock) as u32)
    }

    /// Pops the positions of held sequences that have all their tokens at the current reading
    /// into `out`, in increasing order; the caller then calls [`Self::leave`] for each.
    #[inline]
    pub(super) fn pop_finished(&mut self, out: &mut Vec<u64>) {
        out.clear();
        while let Some(&Reverse(k)) = self.finishes.peek() {
            let (f, position) = unpack(k);
            if f > self.clock {
                break;
            }
            out.push(position);
            self.finishes.pop();
        }
        out.sort_unstable();
    }

    /// KV blocks the held sequences add with their next token: [`Self::blocks_over`]`(1)`,
    /// the held sequences whose cached tokens fill their blocks (one residue slot).
    #[inline]
    pub(super) fn blocks_next(&self) -> u64 {
        // With one token a block every sequence is in slot 0 and takes a block a token.
        self.residues[self.full_slot()] as u64
    }

    /// The residue slot of the held sequences whose cached tokens fill their blocks:
    /// `c mod bs == 0`, i.e. `(c - sync) mod bs == -clock mod bs`.
    #[inline]
    fn full_slot(&self) -> usize {
        if self.phase == 0 {
            0
        } else {
            (self.block_size as u64 - self.phase) as usize
        }
    }

    /// KV blocks the held sequences add over `k` more tokens each: the sum over them of
    /// `ceil((cached + k) / bs) - ceil(cached / bs)`.
    #[inline]
    pub(super) fn blocks_over(&self, k: u32) -> u64 {
        let bs = self.block_size;
        let r = self.modulo(k as u64) as u32;
        let q = if self.mask != 0 {
            k >> bs.trailing_zeros()
        } else {
            k / bs
        };
        // A sequence with `c` cached tokens crosses `q` block boundaries, plus one when
        // `(-c) mod bs < r`, i.e. when `c mod bs` is one of 0, -1, …, -(r - 1): its residue
        // slot is `-clock - j` for some j < r.
        let mut slot = self.full_slot();
        let mut crossing = 0u64;
        for _ in 0..r {
            crossing += self.residues[slot] as u64;
            slot = if slot == 0 { bs as usize - 1 } else { slot - 1 };
        }
        self.count * q as u64 + crossing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks_for(t: u32, bs: u32) -> u64 {
        t.div_ceil(bs) as u64
    }

    #[test]
    fn renumbered_positions_pop_in_the_same_order() {
        let mut c = DecodeClock::new(16, 8);
        // Positions 0..5; those at 1 and 3 finish first and leave the caller's list.
        for (p, left) in [(0, 5), (1, 2), (2, 5), (3, 2), (4, 3)] {
            c.join(10, left, p);
        }
        let mut out = vec![];
        c.tick(2);
        c.pop_finished(&mut out);
        assert_eq!(out, [1, 3]);
        // Entries after a removed one move down by the removed ones before them.
        c.renumber(|p| p - [0, 1, 1, 2, 2][p as usize]);
        c.tick(1);
        c.pop_finished(&mut out);
        assert_eq!(out, [2]);
        c.tick(2);
        c.pop_finished(&mut out);
        assert_eq!(out, [0, 1]);
    }

    #[test]
    fn aggregates_match_a_direct_count() {
        // A power-of-two block size (masks), another (remainders), and one token per block.
        for bs in [4, 6, 1] {
            aggregates_match_for(bs);
        }
    }

    fn aggregates_match_for(bs: u32) {
        let mut c = DecodeClock::new(bs, 8);
        c.tick(3);
        // (cached, left, sync) of three sequences joining at different readings.
        let mut seqs = vec![];
        for (cached, left) in [(5u32, 9u32), (8, 6), (13, 20)] {
            seqs.push((cached, left, c.now()));
            c.join(cached, left, seqs.len() as u64);
            c.tick(2);
        }
        let now = c.now();
        let cached_now = |&(cached, _, sync): &(u32, u32, u64)| cached + (now - sync) as u32;
        let context: u64 = seqs.iter().map(|s| cached_now(s) as u64 + 1).sum();
        assert_eq!(c.context_tokens(), context);
        assert_eq!(c.blocks_next(), c.blocks_over(1));
        for k in 0..12 {
            let direct: u64 = seqs
                .iter()
                .map(|s| blocks_for(cached_now(s) + k, bs) - blocks_for(cached_now(s), bs))
                .sum();
            assert_eq!(c.blocks_over(k), direct, "k = {k}");
        }
        let left = seqs
            .iter()
            .map(|&(_, left, sync)| (sync + left as u64 - now) as u32)
            .min()
            .unwrap();
        assert_eq!(c.min_left(), left);
        c.tick(left);
        let mut out = Vec::new();
        c.pop_finished(&mut out);
        assert_eq!(out, vec![2]);
        c.leave(8, seqs[1].2);
        assert_eq!(c.blocks_over(0), 0);
    }
}
