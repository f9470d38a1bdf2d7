//! The event queue: a binary heap totally ordered by (time, insertion sequence).
//!
//! Ties in time resolve by insertion order, so a run is the same on every machine and thread count.
//! Besides the heap, each replica may hold one pending wake-up in a *wake slot*
//! ([`EventQueue::set_wake`]), keyed from the same sequence, so the order is the same as if the
//! wake-ups were heap events.

use super::time::SimTime;
use super::wakes::{Wakes, NONE};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The time of a key (its high 64 bits; the low ones are the sequence number).
#[inline]
fn time_of(key: u128) -> SimTime {
    SimTime((key >> 64) as u64)
}

/// One pending event: its key packs (time, sequence) into a single `u128` so that a comparison is
/// one integer compare.
#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap and we want the earliest key on top.
        other.key.cmp(&self.key)
    }
}

/// A future-event list ordered by `(time, sequence)`.
///
/// One event may wait outside the heap, in the *spare* slot ([`Self::push_spare`]): a caller's
/// most frequent event that is never pending twice (the first service's next arrival), which
/// then costs one key compare per pop instead of a heap push and pop. Order is the same.
///
/// Wake slots ([`Self::add_wake_slot`]) hold at most one wake-up each: setting a slot replaces
/// its wake-up, which a heap would have kept as a stale entry to be popped and ignored. Where
/// visiting those stale times matters to the caller, [`Self::keep_superseded`] names an event
/// that takes each replaced wake-up's place in the heap, with its key.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    spare: Option<Entry<E>>,
    wakes: Wakes,
    /// The event a replaced wake-up leaves in the heap (`None`: it leaves nothing).
    superseded: Option<E>,
}

/// What [`EventQueue::pop_next`] returns: an event, or the wake-up of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<E> {
    /// An event pushed to the queue.
    Event(E),
    /// The wake-up of this slot (now cleared).
    Wake(u32),
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` pending events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            next_seq: 0,
            spare: None,
            wakes: Wakes::default(),
            superseded: None,
        }
    }

    /// The key of an event scheduled now at `time`: after every earlier one at that time.
    #[inline]
    fn key(&mut self, time: SimTime) -> u128 {
        let key = ((time.0 as u128) << 64) | self.next_seq as u128;
        self.next_seq += 1;
        key
    }

    /// Schedules `event` at `time`; among events at the same time it comes after those pushed earlier.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let key = self.key(time);
        self.heap.push(Entry { key, event });
    }

    /// Schedules `event` at `time` in the spare slot (see the type's notes), ordered exactly as
    /// [`Self::push`] would order it. An event already there moves to the heap, keeping its
    /// place in the order.
    #[inline]
    pub fn push_spare(&mut self, time: SimTime, event: E) {
        let key = self.key(time);
        if let Some(old) = self.spare.replace(Entry { key, event }) {
            self.heap.push(old);
        }
    }

    /// A new wake slot, with no wake-up (slots are numbered 0, 1, 2, ... in order).
    pub fn add_wake_slot(&mut self) -> u32 {
        self.wakes.add()
    }

    /// When slot `slot`'s wake-up is due, if it has one.
    #[inline]
    pub fn wake_at(&self, slot: u32) -> Option<SimTime> {
        let k = self.wakes.get(slot);
        (k != NONE).then(|| time_of(k))
    }

    /// Removes and returns the earliest event or wake-up.
    #[inline(always)]
    pub fn pop_next(&mut self) -> Option<(SimTime, Next<E>)> {
        let wk = self.wakes.first_key();
        let hk = self.heap.peek().map_or(NONE, |e| e.key);
        let sk = self.spare.as_ref().map_or(NONE, |e| e.key);
        if wk < hk && wk < sk {
            let slot = self.wakes.take_first();
            return Some((time_of(wk), Next::Wake(slot)));
        }
        let e = if sk < hk {
            self.spare.take()
        } else {
            self.heap.pop()
        };
        e.map(|e| (time_of(e.key), Next::Event(e.event)))
    }

    /// Removes and returns the earliest event, for a queue without wake slots (use
    /// [`Self::pop_next`] with them).
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        debug_assert_eq!(
            self.wakes.len(),
            0,
            "a queue with wake slots pops with `pop_next`"
        );
        let first = match (&self.spare, self.heap.peek()) {
            (Some(s), Some(h)) => s.key < h.key,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let e = if first {
            self.spare.take()
        } else {
            self.heap.pop()
        };
        e.map(|e| (time_of(e.key), e.event))
    }

    /// The time of the earliest event, if any (wake-ups in slots not considered: a queue with
    /// wake slots looks ahead with [`Self::pop_next`] only).
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        let key = match (&self.spare, self.heap.peek()) {
            (Some(s), Some(h)) => s.key.min(h.key),
            (Some(s), None) => s.key,
            (None, Some(h)) => h.key,
            (None, None) => return None,
        };
        Some(time_of(key))
    }

    /// How many events are pending (wake-ups in slots not counted).
    pub fn len(&self) -> usize {
        self.heap.len() + usize::from(self.spare.is_some())
    }

    /// Whether no event is pending (wake-ups in slots not counted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E: Copy> EventQueue<E> {
    /// From now on, a wake-up replaced or cleared by [`Self::set_wake`] leaves `event` in the
    /// heap at its key, so that the caller still visits its time.
    pub fn keep_superseded(&mut self, event: E) {
        self.superseded = Some(event);
    }

    /// Sets slot `slot`'s wake-up to `at` (`None`: clears it), ordered after every event pushed
    /// before at that time. A wake-up it replaces is gone (see [`Self::keep_superseded`]).
    #[inline(always)]
    pub fn set_wake(&mut self, slot: u32, at: Option<SimTime>) {
        let old = self.wakes.get(slot);
        if old != NONE {
            if let Some(event) = self.superseded {
                self.heap.push(Entry { key: old, event });
            }
        }
        let key = match at {
            Some(t) => self.key(t),
            None => NONE,
        };
        self.wakes.set(slot, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_resolve_by_insertion() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(3), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(3), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }

    proptest! {
        /// Pushes and pops interleaved pop what a sorted list of the pending (time, sequence)
        /// pairs gives.
        #[test]
        fn interleaved_pops_match_a_sorted_list(ops in proptest::collection::vec((0u64..40, any::<bool>()), 0..400)) {
            let mut q = EventQueue::new();
            let mut pending: Vec<(u64, usize)> = Vec::new();
            for (i, &(t, pop)) in ops.iter().enumerate() {
                if pop {
                    pending.sort();
                    let want = (!pending.is_empty()).then(|| pending.remove(0));
                    prop_assert_eq!(q.pop().map(|(t, e)| (t.0, e)), want);
                } else {
                    q.push(SimTime(t), i);
                    pending.push((t, i));
                }
                prop_assert_eq!(q.len(), pending.len());
            }
        }

        /// Events pushed to the spare slot (usually empty then, as a service's next arrival
        /// finds it) pop in the order plain pushes give.
        #[test]
        fn the_spare_slot_keeps_the_order(ops in proptest::collection::vec((0u64..40, 0u8..3), 0..400)) {
            let (mut q, mut plain) = (EventQueue::new(), EventQueue::new());
            let mut spare_pending = false;
            for (i, &(t, op)) in ops.iter().enumerate() {
                match op {
                    0 => {
                        let (a, b) = (q.pop(), plain.pop());
                        prop_assert_eq!(a, b);
                        spare_pending = spare_pending && q.spare.is_some();
                    }
                    1 => {
                        // Mostly empty when pushed, as in a run; sometimes not.
                        q.push_spare(SimTime(t), (spare_pending, i));
                        plain.push(SimTime(t), (spare_pending, i));
                        spare_pending = true;
                    }
                    _ => {
                        q.push(SimTime(t), (false, i));
                        plain.push(SimTime(t), (false, i));
                    }
                }
                prop_assert_eq!(q.len(), plain.len());
                prop_assert_eq!(q.peek_time(), plain.peek_time());
            }
        }

        #[test]
        fn wake_slots_pop_as_heap_wake_ups_with_generations(
            ops in proptest::collection::vec((0u64..40, 0u8..4, 0u32..5), 0..400),
            keep in any::<bool>(),
        ) {
            // The scheme wake slots replace: every wake-up a heap event with its slot's
            // generation, a stale one (its slot set again since) popped and ignored, or, when
            // superseded wake-ups are kept, seen as `None`.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            enum Ev { Plain(usize), Wake(u32, u32), Ghost }
            let (mut q, mut plain) = (EventQueue::new(), EventQueue::new());
            if keep {
                q.keep_superseded(Ev::Ghost);
            }
            let mut generation = [0u32; 5];
            let mut pending: [Option<u64>; 5] = [None; 5];
            for _ in 0..5 {
                q.add_wake_slot();
            }
            for (i, &(t, op, slot)) in ops.iter().enumerate() {
                match op {
                    0 => {
                        let got = q.pop_next().map(|(t, n)| match n {
                            Next::Event(Ev::Ghost) => (t, None),
                            Next::Event(e) => (t, Some(e)),
                            Next::Wake(s) => (t, Some(Ev::Wake(s, 0))),
                        });
                        // The old scheme: skip stale wake-ups (or report them when kept).
                        let want = loop {
                            match plain.pop() {
                                Some((t, Ev::Wake(s, g))) if g != generation[s as usize] => {
                                    if keep {
                                        break Some((t, None));
                                    }
                                }
                                Some((t, Ev::Wake(s, _))) => {
                                    pending[s as usize] = None;
                                    break Some((t, Some(Ev::Wake(s, 0))));
                                }
                                other => break other.map(|(t, e)| (t, Some(e))),
                            }
                        };
                        prop_assert_eq!(got, want);
                    }
                    1 | 2 => {
                        // Set (or, one time in four, clear) a slot's wake-up.
                        let at = (t % 4 != 0).then_some(SimTime(t));
                        q.set_wake(slot, at);
                        generation[slot as usize] += 1;
                        pending[slot as usize] = at.map(|a| a.0);
                        if let Some(a) = at {
                            plain.push(a, Ev::Wake(slot, generation[slot as usize]));
                        }
                    }
                    _ => {
                        q.push(SimTime(t), Ev::Plain(i));
                        plain.push(SimTime(t), Ev::Plain(i));
                    }
                }
                for s in 0..5u32 {
                    prop_assert_eq!(q.wake_at(s).map(|t| t.0), pending[s as usize]);
                }
            }
        }

        #[test]
        fn pops_in_time_then_sequence_order(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, &t) in times.iter().enumerate() {
                q.push(SimTime(t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
