//! Named random-number streams derived from one scenario seed.
//!
//! Each component draws from its own stream, seeded by hashing the scenario seed with the stream's
//! name, so adding a component never shifts another component's numbers. The generator is ChaCha8,
//! whose output is fixed by its specification rather than by a crate version.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator every stream uses.
pub type Rng = ChaCha8Rng;

/// Derives independent, named generators from a scenario seed.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams for a scenario seed.
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    /// The scenario seed these streams derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The generator for the stream called `name` (for example `"traffic/0"` or `"router"`).
    pub fn stream(&self, name: &str) -> Rng {
        Rng::from_seed(derive_seed(self.seed, name))
    }
}

/// FNV-1a over the name, mixed with the seed, then expanded to 32 bytes with SplitMix64.
/// Both are fixed algorithms, so the derivation is stable across platforms and releases.
fn derive_seed(seed: u64, name: &str) -> [u8; 32] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut state = seed ^ h.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let s = RngStreams::new(42);
        let a1: u64 = s.stream("a").next_u64();
        let a2: u64 = s.stream("a").next_u64();
        let b: u64 = s.stream("b").next_u64();
        let other_seed: u64 = RngStreams::new(43).stream("a").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, other_seed);
    }

    #[test]
    fn stream_output_is_pinned() {
        // Guards against a silent change in the derivation or the generator: a golden value.
        let v = RngStreams::new(1).stream("pinned").next_u64();
        assert_eq!(v, PINNED);
    }

    const PINNED: u64 = 15_316_015_987_743_658_952;
}
