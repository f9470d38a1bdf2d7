//! Per-node caches for costly placement scores, invalidated when their node changes.
//!
//! Each node carries a version that the cluster bumps on every change to it; a cached value is
//! reused only while its node's version is unchanged.

/// A cache of one `T` per node, keyed by node version.
#[derive(Clone, Debug, Default)]
pub struct NodeCache<T> {
    entries: Vec<Option<(u64, T)>>,
    hits: u64,
    misses: u64,
}

impl<T: Clone> NodeCache<T> {
    /// An empty cache.
    pub fn new() -> Self {
        NodeCache {
            entries: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The cached value for `node` at `version`, computing and storing it when stale.
    pub fn get_or_compute(&mut self, node: usize, version: u64, compute: impl FnOnce() -> T) -> T {
        if node >= self.entries.len() {
            self.entries.resize_with(node + 1, || None);
        }
        if let Some((v, value)) = &self.entries[node] {
            if *v == version {
                self.hits += 1;
                return value.clone();
            }
        }
        self.misses += 1;
        let value = compute();
        self.entries[node] = Some((version, value.clone()));
        value
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recomputes_only_after_a_change() {
        let mut c = NodeCache::new();
        let mut calls = 0;
        for version in [1, 1, 1, 2, 2] {
            c.get_or_compute(3, version, || {
                calls += 1;
                version * 10
            });
        }
        assert_eq!(calls, 2);
        assert_eq!(c.stats(), (3, 2));
    }
}
