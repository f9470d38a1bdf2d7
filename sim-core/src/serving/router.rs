//! Routers: which replica's queue a request joins.

use super::engine::{Engine, ReplicaEngine};
use super::prefix::Prefix;
use crate::engine::Rng;
use crate::ids::EngineId;
use crate::scenario::RouterPolicy;
use rand::RngExt;

/// A router over replicas with their own queues.
#[derive(Clone, Debug)]
pub struct Router {
    policy: RouterPolicy,
    next: usize,
    rng: Rng,
}

impl Router {
    /// A router with the given policy; `rng` is used only by `random`.
    pub fn new(policy: RouterPolicy, rng: Rng) -> Self {
        Router {
            policy,
            next: 0,
            rng,
        }
    }

    /// Picks one of `candidates` (engine indices of Ready replicas, in a stable order) for a
    /// request with prefix `prefix`; `None` when there is none.
    #[inline]
    pub fn pick(
        &mut self,
        candidates: &[EngineId],
        engines: &[Engine],
        prefix: Prefix,
    ) -> Option<EngineId> {
        let n = candidates.len();
        if n == 0 {
            return None;
        }
        Some(match self.policy {
            RouterPolicy::RoundRobin => {
                let i = self.next % n;
                self.next = (i + 1) % n;
                candidates[i]
            }
            RouterPolicy::Random => candidates[self.rng.random_range(0..n)],
            RouterPolicy::LeastOutstanding => {
                // Scan from a rotating start so ties are shared in turn rather than always
                // going to the first candidate.
                // (Two plain passes, not `(start + k) % n`: a division per replica shows in
                // profiles.)
                let start = self.next % n;
                let mut best = start;
                let mut best_load = u32::MAX;
                let mut visit = |i: usize| {
                    let e = &engines[candidates[i].index()];
                    let load = e.queued() + e.in_service();
                    if load < best_load {
                        best = i;
                        best_load = load;
                    }
                };
                for i in start..n {
                    visit(i);
                }
                for i in 0..start {
                    visit(i);
                }
                self.next = if best + 1 == n { 0 } else { best + 1 };
                candidates[best]
            }
            RouterPolicy::Prefix => {
                // Longest cached prefix first, then fewest outstanding, ties in turn.
                let start = self.next % n;
                let mut best = start;
                let mut best_key = (0u32, u32::MAX);
                for k in 0..n {
                    let i = (start + k) % n;
                    let e = &engines[candidates[i].index()];
                    let hits = if prefix.is_empty() {
                        0
                    } else {
                        e.cached_prefix_units(prefix)
                    };
                    let load = e.queued() + e.in_service();
                    let key = (hits, load);
                    if k == 0 || key.0 > best_key.0 || (key.0 == best_key.0 && key.1 < best_key.1) {
                        best = i;
                        best_key = key;
                    }
                }
                self.next = (best + 1) % n;
                candidates[best]
            }
        })
    }
}
