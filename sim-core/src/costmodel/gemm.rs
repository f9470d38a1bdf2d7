//! GEMM time by shape: tile quantisation, wave quantisation over the SMs, and a smooth maximum
//! of compute and memory time for the imperfect overlap of the two.
//!
//! A GEMM of `m` rows, `k` inputs and `n` outputs is cut into output tiles of
//! [`TILE_M`] × [`TILE_N`] (partial tiles cost whole ones: tile quantisation), each tile possibly
//! split along `k` into 1 to 8 parts (split-K); the work units run in waves of one per SM, and the last
//! wave's idle SMs cost time (wave quantisation). Both effects follow NVIDIA's "Matrix
//! Multiplication Background User's Guide" (Deep Learning Performance documentation, sections
//! "Tile Quantization" and "Wave Quantization"). Of the split-K factors, the one with the least
//! idle time is taken, as cuBLAS's heuristics aim to. Idle SMs draw no memory bandwidth either,
//! so the wave factor applies to a memory-bound GEMM too.
//!
//! That makes the modelled time non-monotone in the row count: one more row tile can fill the
//! last wave better, and a weight-bound GEMM (same bytes, fewer idle SMs) then takes less time
//! than with fewer rows. A step must never get shorter with more work, so [`GemmShape::time`] is
//! the running maximum of the modelled time over row counts: tabulated per shape at the row
//! tiles' ends for the first [`WAVE_TABLE`] tiles; beyond them (compute-bound everywhere in the
//! catalog) the wave factor scales only the compute time, which is monotone.

/// Rows of one output tile: Hopper's smallest warpgroup MMA has M = 64.
pub const TILE_M: f64 = 64.0;
/// Columns of one output tile.
pub const TILE_N: f64 = 128.0;
/// Split-K factors considered, with their reciprocals.
const SPLITS: [(f64, f64); 8] = [
    (1.0, 1.0),
    (2.0, 1.0 / 2.0),
    (3.0, 1.0 / 3.0),
    (4.0, 1.0 / 4.0),
    (5.0, 1.0 / 5.0),
    (6.0, 1.0 / 6.0),
    (7.0, 1.0 / 7.0),
    (8.0, 1.0 / 8.0),
];
/// Bytes per activation element (bf16).
pub const ACT_BYTES: f64 = 2.0;

/// Row counts up to this many tiles have their wave factor and running maximum tabulated per
/// shape.
pub const WAVE_TABLE: usize = 128;

/// `x.ceil()` for 0 ≤ x < 2^53 without a libm call (the default x86-64 target has no rounding
/// instruction).
#[inline]
fn ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x {
        t + 1.0
    } else {
        t
    }
}

/// `(a^p + b^p)^(1/p)` for p = 2^`squarings`: the time of a kernel whose compute takes `a` and
/// whose memory traffic takes `b`, overlapped imperfectly (p = 1 adds them, a large p is the
/// larger of the two). Squarings and square roots keep it cheap; far from the ridge, where
/// (lo/hi)^p < 1e-4, the root's two-term series (relative error below 1e-12) replaces them.
#[inline]
pub fn smooth_max(a: f64, b: f64, squarings: u32) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi <= 0.0 {
        return 0.0;
    }
    let mut r = lo / hi;
    for _ in 0..squarings {
        r *= r;
    }
    if r < 1e-4 {
        // (1 + r)^(1/p) = 1 + r/p − (p − 1) r² / (2p²) + O(r³).
        let p = f64::from(1u32 << squarings);
        return hi * (1.0 + r / p - (p - 1.0) * r * r / (2.0 * p * p));
    }
    let mut s = 1.0 + r;
    for _ in 0..squarings {
        s = s.sqrt();
    }
    hi * s
}

/// Slots (waves × SMs) over work units for `tiles` output tiles on `sms` SMs, with the split-K
/// factor that wastes least: 1 when the units fill whole waves, more when the last wave is
/// partly idle.
#[inline]
pub fn wave_factor(tiles: f64, sms: f64) -> f64 {
    best_waves(tiles, sms) * sms / tiles
}

/// Waves (in units of the unsplit tile's time) of the best split-K factor for `tiles` output
/// tiles on `sms` SMs; non-decreasing in `tiles`.
#[inline]
fn best_waves(tiles: f64, sms: f64) -> f64 {
    let inv = 1.0 / sms;
    let mut best = f64::INFINITY;
    for (s, inv_s) in SPLITS {
        // Waves per split-K factor, for the same work: ceil(tiles·s / sms) / s.
        let w = ceil(tiles * s * inv) * inv_s;
        if w < best {
            best = w;
        }
    }
    best
}

/// What a GEMM's time depends on of the GPU: achievable FLOP/s of whole waves, achievable
/// bytes/s, SMs and the overlap exponent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmDevice {
    /// FLOP/s of whole waves of tiles.
    pub flops: f64,
    /// Bytes/s of a streaming kernel.
    pub bandwidth: f64,
    /// Streaming multiprocessors (work units per wave).
    pub sms: f64,
    /// log2 of the smooth maximum's exponent.
    pub squarings: u32,
}

/// One weight GEMM's shape (`k` inputs, `n` outputs, a stored weight matrix), with everything
/// that does not depend on the row count worked out for one device.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmShape {
    /// Column tiles, ceil(n / TILE_N).
    n_tiles: f64,
    /// Seconds of one row of tiles at the device's FLOP/s.
    tile_row_s: f64,
    /// Seconds to read the weights.
    weight_s: f64,
    /// Seconds of activation traffic (read the input row, write the output row) per row.
    row_s: f64,
    /// Wave factors for 1 to `WAVE_TABLE` row tiles.
    waves: Box<[f64]>,
    /// `floors[j]`: the greatest time of up to `j` whole row tiles (0 to `WAVE_TABLE`), which
    /// the time of more rows never falls below.
    floors: Box<[f64]>,
}

impl GemmShape {
    /// The shape `k` × `n` with `weight_bytes` bytes per weight on `dev`.
    pub fn new(dev: &GemmDevice, k: f64, n: f64, weight_bytes: f64) -> GemmShape {
        let n_tiles = (n / TILE_N).ceil().max(1.0);
        let mut shape = GemmShape {
            n_tiles,
            tile_row_s: 2.0 * TILE_M * n_tiles * TILE_N * k / dev.flops,
            weight_s: k * n * weight_bytes / dev.bandwidth,
            row_s: (k + n) * ACT_BYTES / dev.bandwidth,
            waves: (1..=WAVE_TABLE)
                .map(|m_tiles| wave_factor(m_tiles as f64 * n_tiles, dev.sms))
                .collect(),
            floors: Box::default(),
        };
        // The modelled time rises within a row tile (more activation bytes, the same tiles and
        // waves), so its running maximum over rows is its running maximum over the tiles' ends.
        let mut floors = vec![0.0f64; WAVE_TABLE + 1];
        for j in 1..=WAVE_TABLE {
            let end = shape.modelled(j as f64 * TILE_M, j as f64, shape.waves[j - 1], dev);
            floors[j] = floors[j - 1].max(end);
        }
        shape.floors = floors.into();
        shape
    }

    /// The wave-quantised smooth maximum for `m` rows in `m_tiles` row tiles with wave factor
    /// `waves` (not monotone in `m` across tiles).
    #[inline]
    fn modelled(&self, m: f64, m_tiles: f64, waves: f64, dev: &GemmDevice) -> f64 {
        let compute = m_tiles * self.tile_row_s;
        let memory = self.weight_s + m * self.row_s;
        smooth_max(compute, memory, dev.squarings) * waves
    }

    /// Seconds of the kernel for `m` rows on `dev` (0 for no rows); no launch cost. Never less
    /// than for fewer rows.
    #[inline]
    pub fn time(&self, m: f64, dev: &GemmDevice) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        let m_tiles = ceil(m * (1.0 / TILE_M));
        let j = m_tiles as usize;
        match self.waves.get(j.wrapping_sub(1)) {
            Some(&w) => self.modelled(m, m_tiles, w, dev).max(self.floors[j - 1]),
            None => {
                // Past the table the wave factor scales the compute time alone: monotone in
                // the rows, and within a fraction of a percent of the scaled smooth maximum,
                // compute being several times the memory time there.
                let waves = best_waves(m_tiles * self.n_tiles, dev.sms) * dev.sms;
                let compute = self.tile_row_s * (waves / self.n_tiles);
                let memory = self.weight_s + m * self.row_s;
                smooth_max(compute, memory, dev.squarings).max(self.floors[WAVE_TABLE])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_max_is_between_max_and_sum() {
        assert_eq!(smooth_max(3.0, 0.0, 3), 3.0);
        assert_eq!(smooth_max(0.0, 0.0, 3), 0.0);
        assert!((smooth_max(1.0, 1.0, 0) - 2.0).abs() < 1e-12);
        assert!((smooth_max(1.0, 1.0, 3) - 2f64.powf(0.125)).abs() < 1e-12);
        let (a, b) = (2.0, 1.5);
        let v = smooth_max(a, b, 2);
        assert!((v - (a.powi(4) + b.powi(4)).powf(0.25)).abs() < 1e-12);
        assert!(smooth_max(a, b, 5) < v && v < a + b);
    }

    #[test]
    fn ceil_and_the_series_agree_with_the_exact_forms() {
        for x in [0.0, 0.5, 1.0, 1.0 + 1e-9, 63.99, 64.0, 1e9 + 0.1] {
            assert_eq!(ceil(x), x.ceil(), "{x}");
        }
        for (a, b) in [(1.0f64, 0.3f64), (1.0, 0.31), (5.0, 0.01), (0.2, 1.0)] {
            for n in 0..=5u32 {
                let p = f64::from(1u32 << n);
                let exact = (a.powf(p) + b.powf(p)).powf(1.0 / p);
                let v = smooth_max(a, b, n);
                assert!(
                    (v - exact).abs() <= 1e-11 * exact,
                    "{a} {b} {n}: {v} {exact}"
                );
            }
        }
    }

    #[test]
    fn wave_factor_counts_idle_slots() {
        // 132 tiles fill one wave exactly; 133 need two waves unless split-K evens them out.
        assert_eq!(wave_factor(132.0, 132.0), 1.0);
        assert!((wave_factor(66.0, 132.0) - 1.0).abs() < 1e-12); // split 2
                                                                 // 112 tiles (n = 14336): split 7 ways, 784 units fill 6 waves but for 8 slots.
        assert!((wave_factor(112.0, 132.0) - 792.0 / 784.0).abs() < 1e-12);
        // 24 tiles (n = 3072): split 5 ways, 120 units in one wave.
        assert!((wave_factor(24.0, 132.0) - 132.0 / 120.0).abs() < 1e-12);
        assert!(wave_factor(1.0, 132.0) > 10.0);
    }

    #[test]
    fn time_is_quantised_in_rows_and_bound_by_weights_when_small() {
        let dev = GemmDevice {
            flops: 700e12,
            bandwidth: 3e12,
            sms: 132.0,
            squarings: 3,
        };
        let g = GemmShape::new(&dev, 4096.0, 4096.0, 2.0);
        // 1 to 64 rows compute the same tile; weights dominate.
        let (t1, t64) = (g.time(1.0, &dev), g.time(64.0, &dev));
        assert!(t64 / t1 < 1.05, "{t1} {t64}");
        assert!(t1 >= 4096.0 * 4096.0 * 2.0 / 3e12);
        assert_eq!(g.time(0.0, &dev), 0.0);
        // Large m: compute-bound, near 2mkn / flops.
        let m = 8192.0;
        let ratio = g.time(m, &dev) / (2.0 * m * 4096.0 * 4096.0 / 700e12);
        assert!(ratio > 1.0 && ratio < 1.05, "{ratio}");
    }
}
