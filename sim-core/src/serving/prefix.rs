//! Request prefixes for prefix caching: each request may carry the hash ids of the leading blocks
//! of its prompt, stored once in a shared [`PrefixTable`] so that a [`Request`] stays small and
//! `Copy` and the hot path never allocates.
//!
//! A hash id stands for a whole chain: equal ids at position `i` mean equal prompts up to the end
//! of block `i` (vLLM hashes each block with its parent's hash; Mooncake's `hash_ids` are
//! remapped the same way). Each id covers [`PrefixTable::unit_tokens`] tokens.
//!
//! [`Request`]: super::Request

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

/// The hash ids of every request's prefix, shared (read-only) by engines and the router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixTable {
    unit_tokens: u32,
    ids: Vec<u64>,
}

impl PrefixTable {
    /// An empty table whose hash ids each cover `unit_tokens` tokens (at least 1).
    pub fn new(unit_tokens: u32) -> Self {
        PrefixTable {
            unit_tokens: unit_tokens.max(1),
            ids: Vec::new(),
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
        Prefix {
            start,
            len: self.ids.len() as u32 - start,
        }
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
    }
}
