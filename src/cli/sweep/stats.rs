//! Means and 95% confidence intervals over replications (Student's t), and the seeds they use.

/// Two-sided 95% quantiles of Student's t, t(0.975, df), for df = 1..=30.
const T975: [f64; 30] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
    2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
    2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
    2.048407, 2.045230, 2.042272,
];

/// t(0.975, df): the table up to 30 degrees of freedom, then the Cornish–Fisher expansion
/// around the normal quantile (error below 1e-4 there).
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    if df <= 30 {
        return T975[df - 1];
    }
    let z = 1.959_963_984_540_054_f64;
    let n = df as f64;
    z + (z.powi(3) + z) / (4.0 * n)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * n.powi(3))
}

/// Mean and half-width of the 95% confidence interval of `xs` (`None` half-width for one value).
pub fn mean_ci(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, Some(t975(n - 1) * (var / n as f64).sqrt()))
}

/// The seed of replication `r` of a run whose scenario seed is `seed`: replication 0 keeps the
/// scenario's seed (so one replication is the plain run); the others mix the seed and `r` with
/// SplitMix64.
pub fn replication_seed(seed: u64, r: usize) -> u64 {
    if r == 0 {
        return seed;
    }
    let mut z = seed ^ (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_of_known_samples() {
        let (m, h) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        // s = 1.290994, s/sqrt(4) = 0.645497, t(3) = 3.182446
        assert!((h.unwrap() - 2.054_3).abs() < 1e-3);
        assert_eq!(mean_ci(&[5.0]), (5.0, None));
        assert!((t975(31) - 2.039_513).abs() < 1e-4);
        assert!((t975(120) - 1.979_930).abs() < 1e-4);
    }

    #[test]
    fn seeds_are_distinct_and_stable() {
        assert_eq!(replication_seed(42, 0), 42);
        let s: Vec<u64> = (0..100).map(|r| replication_seed(42, r)).collect();
        let mut d = s.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 100);
    }
}
