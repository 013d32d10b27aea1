//! Summary statistics: mean, standard error, a seeded bootstrap confidence interval, and
//! percentiles.

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// The mean of `xs` (0 for none).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// The standard error of the mean: sample standard deviation (n − 1) over √n. 0 below two
/// values.
pub fn standard_error(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    (var / n as f64).sqrt()
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// A percentile bootstrap interval of the mean at `confidence` (0.95 for 95%), from
/// `resamples` resamples drawn with a seeded generator, so the same data and seed give the
/// same interval.
pub fn bootstrap_ci(xs: &[f64], confidence: f64, resamples: usize, seed: u64) -> Interval {
    if xs.is_empty() {
        return Interval { low: 0.0, high: 0.0 };
    }
    // SmallRng and a multiply-shift index: the bootstrap draws resamples × n indices, and this
    // is the report's hot spot on large evaluations.
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = xs.len();
    let index = |r: u64| ((u128::from(r) * n as u128) >> 64) as usize;
    let mut means: Vec<f64> =
        (0..resamples.max(1)).map(|_| (0..n).map(|_| xs[index(rng.next_u64())]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Interval { low: quantile_sorted(&means, alpha), high: quantile_sorted(&means, 1.0 - alpha) }
}

/// The `q` quantile (0..=1) of sorted values, linearly interpolated.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// The `q` quantile of unsorted values.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let xs = [1.0, 0.0, 1.0, 1.0];
        assert_eq!(mean(&xs), 0.75);
        // sd = 0.5, se = 0.5 / 2
        assert!((standard_error(&xs) - 0.25).abs() < 1e-12);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert!((quantile(&(1..=100).map(f64::from).collect::<Vec<_>>(), 0.95) - 95.05).abs() < 1e-9);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let xs: Vec<f64> = (0..200).map(|i| if i % 4 == 0 { 0.0 } else { 1.0 }).collect();
        let a = bootstrap_ci(&xs, 0.95, 2000, 0);
        assert_eq!(a, bootstrap_ci(&xs, 0.95, 2000, 0));
        assert!(a.low < 0.75 && a.high > 0.75);
        // Close to the normal approximation: mean ± 1.96·se.
        let se = standard_error(&xs);
        assert!((a.low - (0.75 - 1.96 * se)).abs() < 0.02, "{a:?}");
        assert!((a.high - (0.75 + 1.96 * se)).abs() < 0.02, "{a:?}");
        let constant = bootstrap_ci(&[1.0; 10], 0.95, 100, 3);
        assert_eq!((constant.low, constant.high), (1.0, 1.0));
    }
}
