//! The statistics of a paired comparison: a seeded paired-bootstrap interval of the mean
//! per-example difference, McNemar's exact test for pass/fail metrics, the one-sided upper
//! bound a regression gate uses ([`paired_delta`]: exact for pass/fail pairs, never more
//! optimistic than Student's t otherwise), and the smallest regression a sample of `n` pairs
//! can detect.
//!
//! **Minimum detectable regression.** For `n` paired examples whose per-example differences
//! have sample standard deviation `sd`, a one-sided test at confidence `c` with power `p`
//! detects a true mean drop of
//!
//! `MDR = (z_c + z_p) · sd / √n`
//!
//! (normal approximation; `z_q` is the standard normal quantile). lmc states it at power 0.8
//! ([`POWER`]): a drop of this size is caught four times in five. When the two runs agree on
//! every example the observed `sd` is 0, which says nothing about what could be detected, so
//! the standard deviation of the baseline's own scores stands in for it.

use serde::{Deserialize, Serialize};

use crate::evaluate::stats::{bootstrap_ci, mean, quantile_sorted, Interval};

/// The power at which the minimum detectable regression is stated.
pub const POWER: f64 = 0.8;

/// Resamples of every paired bootstrap.
pub const RESAMPLES: usize = 2000;

/// The mean of `current − baseline` over pairs, with a two-sided percentile-bootstrap interval
/// at `confidence` and a one-sided upper bound at `confidence`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDelta {
    /// Mean per-example difference (current − baseline).
    pub mean: f64,
    /// Two-sided interval at the confidence.
    pub ci: Interval,
    /// One-sided upper bound at the confidence: the true difference is below it with that
    /// confidence, so an upper bound below `−max_regression` is a confident regression.
    pub upper: f64,
    /// How `upper` was found.
    pub upper_method: UpperMethod,
}

/// How the one-sided upper bound of a paired difference was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpperMethod {
    /// The percentile bootstrap ([`paired_bootstrap`]).
    Bootstrap,
    /// The exact conditional bound for pass/fail pairs ([`exact_paired_upper`]).
    Exact,
    /// Student's t ([`t_upper`]), more conservative than the bootstrap on this sample.
    StudentT,
}

/// Resamples the pairs (not each side alone: the pairing removes the per-example variance both
/// runs share) with a seeded generator, so the same pairs and seed give the same interval.
///
/// ```
/// use lmc::gate::stats::paired_bootstrap;
/// let baseline = [1.0, 1.0, 0.0, 1.0];
/// let current = [1.0, 0.0, 0.0, 1.0];
/// let d = paired_bootstrap(&baseline, &current, 0.95, 0);
/// assert_eq!(d.mean, -0.25);
/// assert_eq!(d, paired_bootstrap(&baseline, &current, 0.95, 0));
/// ```
pub fn paired_bootstrap(baseline: &[f64], current: &[f64], confidence: f64, seed: u64) -> PairedDelta {
    let diffs: Vec<f64> = baseline.iter().zip(current).map(|(b, c)| c - b).collect();
    let ci = bootstrap_ci(&diffs, confidence, RESAMPLES, seed);
    // The same resamples (same seed) at level 2c − 1 put its upper end at the c quantile.
    let upper = bootstrap_ci(&diffs, 2.0 * confidence - 1.0, RESAMPLES, seed).high;
    PairedDelta { mean: mean(&diffs), ci, upper, upper_method: UpperMethod::Bootstrap }
}

/// The paired difference with the one-sided upper bound a gate can trust at any sample size:
/// for pass/fail pairs the exact conditional bound ([`exact_paired_upper`]); otherwise the
/// larger (more cautious) of the bootstrap's and Student's t ([`t_upper`]). The percentile
/// bootstrap alone is too optimistic on small samples: three regressions out of 20 pairs
/// would "confidently" fail a 0.02 threshold although a sign test cannot tell them from
/// chance (p = 0.125).
///
/// ```
/// use lmc::gate::stats::{paired_delta, UpperMethod};
/// let baseline = vec![1.0; 20];
/// let mut current = baseline.clone();
/// current[..3].fill(0.0);
/// let d = paired_delta(&baseline, &current, 0.95, 0);
/// assert_eq!(d.upper_method, UpperMethod::Exact);
/// assert!(d.upper > -0.02, "3 of 20 is no confident regression: {d:?}");
/// ```
pub fn paired_delta(baseline: &[f64], current: &[f64], confidence: f64, seed: u64) -> PairedDelta {
    let mut delta = paired_bootstrap(baseline, current, confidence, seed);
    let binary = |xs: &[f64]| xs.iter().all(|x| *x == 0.0 || *x == 1.0);
    if !baseline.is_empty() && binary(baseline) && binary(current) {
        let regressed = baseline.iter().zip(current).filter(|(b, c)| b > c).count() as u64;
        let improved = baseline.iter().zip(current).filter(|(b, c)| b < c).count() as u64;
        delta.upper = exact_paired_upper(regressed, improved, baseline.len() as u64, confidence);
        delta.upper_method = UpperMethod::Exact;
    } else {
        let diffs: Vec<f64> = baseline.iter().zip(current).map(|(b, c)| c - b).collect();
        let t = t_upper(&diffs, confidence);
        if t > delta.upper {
            delta.upper = t;
            delta.upper_method = UpperMethod::StudentT;
        }
    }
    delta
}

/// `P(X ≥ k)` for `X ~ Binomial(m, p)`, summed in log space.
pub fn binomial_tail_ge(k: u64, m: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(m, i), built up from ln C(m, 0) = 0.
    let mut ln_choose = 0.0;
    let mut tail = 0.0;
    for i in 0..=m {
        if i > 0 {
            ln_choose += ((m - i + 1) as f64).ln() - (i as f64).ln();
        }
        if i >= k {
            tail += (ln_choose + i as f64 * ln_p + (m - i) as f64 * ln_q).exp();
        }
    }
    tail.min(1.0)
}

/// The one-sided Clopper–Pearson lower bound at `confidence` on a binomial proportion after
/// `k` successes in `m` trials: the smallest `p` with `P(X ≥ k) ≥ 1 − confidence`.
///
/// ```
/// // 3 of 3: the bound solves p³ = 0.05.
/// let low = lmc::gate::stats::clopper_pearson_lower(3, 3, 0.95);
/// assert!((low - 0.05f64.powf(1.0 / 3.0)).abs() < 1e-9);
/// ```
pub fn clopper_pearson_lower(k: u64, m: u64, confidence: f64) -> f64 {
    if k == 0 || m == 0 {
        return 0.0;
    }
    let alpha = 1.0 - confidence;
    // P(X ≥ k) grows with p: bisect for the p where it reaches alpha.
    let (mut low, mut high) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if binomial_tail_ge(k, m, mid) < alpha {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// The exact one-sided upper bound at `confidence` on the mean difference of `n` pass/fail
/// pairs, `regressed` of which went from pass to fail and `improved` from fail to pass.
///
/// Given the `m = regressed + improved` discordant pairs, the difference is
/// `(m / n)·(1 − 2π)` where π is the chance that a discordant pair is a regression; the bound
/// puts π at its Clopper–Pearson lower bound (McNemar's exact test, turned into an interval).
/// With no discordant pairs it is 0: nothing changed.
///
/// ```
/// use lmc::gate::stats::exact_paired_upper;
/// // 38 regressions, no improvement, 200 pairs: a confident drop of more than 0.15.
/// assert!(exact_paired_upper(38, 0, 200, 0.95) < -0.15);
/// // 3 regressions of 20 pairs could be chance.
/// assert!(exact_paired_upper(3, 0, 20, 0.95) > 0.0);
/// ```
pub fn exact_paired_upper(regressed: u64, improved: u64, n: u64, confidence: f64) -> f64 {
    let m = regressed + improved;
    if n == 0 || m == 0 {
        return 0.0;
    }
    let pi_low = clopper_pearson_lower(regressed, m, confidence);
    (m as f64 / n as f64) * (1.0 - 2.0 * pi_low)
}

/// The one-sided Student-t upper bound at `confidence` on the mean of `diffs`:
/// `mean + t(confidence, n − 1) · sd / √n`. With fewer than two values nothing is known and
/// the bound is 1 (the largest difference of scores in `[0, 1]`).
///
/// ```
/// let up = lmc::gate::stats::t_upper(&[-0.5, -0.4, -0.6, -0.5], 0.95);
/// // t(0.95, 3) = 2.3534; sd = 0.0816; mean −0.5.
/// assert!((up - (-0.5 + 2.3534 * 0.08165 / 2.0)).abs() < 1e-3);
/// ```
pub fn t_upper(diffs: &[f64], confidence: f64) -> f64 {
    let n = diffs.len();
    if n < 2 {
        return 1.0;
    }
    let bound = mean(diffs) + t_quantile(confidence, (n - 1) as f64) * sample_sd(diffs) / (n as f64).sqrt();
    bound.min(1.0)
}

/// The quantile `p` of Student's t with `df` degrees of freedom: exact for 1 and 2, else the
/// Cornish–Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5; relative
/// error below 1e-3 from 3 degrees of freedom on for the usual confidences).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df <= 1.0 {
        return (std::f64::consts::PI * (p - 0.5)).tan();
    }
    if df <= 2.0 {
        return (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
    }
    let z = normal_quantile(p);
    let (z2, v) = (z * z, df);
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}

/// McNemar's exact test on the discordant pairs of a pass/fail metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Pairs that passed in the baseline and fail now (regressions).
    pub regressed: u64,
    /// Pairs that failed in the baseline and pass now (improvements).
    pub improved: u64,
    /// Two-sided exact p-value.
    pub p_value: f64,
}

/// The two-sided exact McNemar p-value: under no change, each of the `b + c` discordant pairs
/// goes either way with probability ½, so p = min(1, 2·P(X ≤ min(b, c))) for X ~ Binomial(b + c, ½).
///
/// ```
/// let p = lmc::gate::stats::mcnemar_exact(1, 9);
/// assert!((p - 0.021484375).abs() < 1e-12); // 2 · 11 / 1024
/// ```
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Sum the binomial pmf in log space so large n neither overflows nor underflows.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The smallest true drop in mean score that `n` pairs with per-example difference standard
/// deviation `sd` detect with a one-sided test at `confidence` and power `power`:
/// `(z_confidence + z_power) · sd / √n` (see the [module docs](self)). `None` for no pairs.
///
/// ```
/// let mdr = lmc::gate::stats::min_detectable_regression(0.5, 100, 0.95, 0.8).unwrap();
/// assert!((mdr - (1.6449 + 0.8416) * 0.05).abs() < 1e-4);
/// ```
pub fn min_detectable_regression(sd: f64, n: usize, confidence: f64, power: f64) -> Option<f64> {
    (n > 0).then(|| (normal_quantile(confidence) + normal_quantile(power)) * sd / (n as f64).sqrt())
}

/// The sample standard deviation (n − 1); 0 below two values.
pub fn sample_sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// The `q` quantile of unsorted values (0 for none).
pub(crate) fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, q)
}

/// A p-value for people: four decimals, or scientific notation below 0.0001.
pub fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}
