//! A Tree-structured Parzen Estimator over categorical parameters, as Optuna's default
//! `TPESampler` does it for categorical distributions (independent per parameter).
//!
//! Each parameter is a choice among `k` categories. The first `n_startup` suggestions are
//! uniform draws. After that, the trials so far are split into the best `γ(n) = min(⌈0.1·n⌉,
//! 25)` ("below") and the rest ("above"); per parameter, each category's weight under either
//! group is `(1 + count in group) / (k + size of group)` (a flat prior of one observation per
//! category). `n_ei_candidates` (24) categories are drawn from the "below" distribution and
//! the one with the highest `l(c) / g(c)` is suggested, the first drawn on a tie. Every draw
//! comes from one seeded generator, so the same seed and history give the same suggestions.

use rand::rngs::StdRng;
use rand::Rng;

/// Optuna's defaults.
const N_STARTUP: usize = 10;
const N_EI_CANDIDATES: usize = 24;

/// The sampler: the parameters' sizes, the history and the generator.
#[derive(Debug)]
pub(crate) struct Tpe {
    sizes: Vec<usize>,
    history: Vec<(Vec<usize>, f64)>,
    rng: StdRng,
    n_startup: usize,
}

impl Tpe {
    /// A sampler for parameters with these numbers of categories (each at least 1).
    pub(crate) fn new(sizes: Vec<usize>, rng: StdRng) -> Self {
        Tpe { sizes, history: Vec::new(), rng, n_startup: N_STARTUP }
    }

    /// Uses `n` random suggestions before modelling (Optuna: 10).
    #[cfg(test)]
    pub(crate) fn with_startup(mut self, n: usize) -> Self {
        self.n_startup = n;
        self
    }

    /// Records a finished trial (higher values are better).
    pub(crate) fn tell(&mut self, params: Vec<usize>, value: f64) {
        self.history.push((params, value));
    }

    /// The next parameters to try.
    pub(crate) fn ask(&mut self) -> Vec<usize> {
        if self.history.len() < self.n_startup {
            let sizes = self.sizes.clone();
            return sizes.iter().map(|&k| self.rng.random_range(0..k.max(1))).collect();
        }
        let n = self.history.len();
        let gamma = n.div_ceil(10).clamp(1, 25);
        // Best first; a stable sort keeps earlier trials first on ties.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| self.history[b].1.total_cmp(&self.history[a].1));
        let (below, above) = order.split_at(gamma.min(n));
        let sizes = self.sizes.clone();
        sizes
            .iter()
            .enumerate()
            .map(|(p, &k)| {
                let l = self.weights(below, p, k);
                let g = self.weights(above, p, k);
                let mut best: Option<(usize, f64)> = None;
                for _ in 0..N_EI_CANDIDATES {
                    let c = draw(&l, self.rng.random::<f64>());
                    let ratio = l[c].ln() - g[c].ln();
                    if best.is_none_or(|(_, r)| ratio > r) {
                        best = Some((c, ratio));
                    }
                }
                best.map_or(0, |(c, _)| c)
            })
            .collect()
    }

    /// Category weights of parameter `p` among the trials `group`, with a flat prior.
    fn weights(&self, group: &[usize], p: usize, k: usize) -> Vec<f64> {
        let k = k.max(1);
        let mut counts = vec![1.0; k];
        for &t in group {
            if let Some(&c) = self.history[t].0.get(p) {
                if c < k {
                    counts[c] += 1.0;
                }
            }
        }
        let total: f64 = counts.iter().sum();
        counts.into_iter().map(|c| c / total).collect()
    }
}

/// The category a uniform `u` in [0, 1) falls on under `weights` (which sum to 1).
fn draw(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn startup_suggestions_are_uniform_and_seeded() {
        let mut a = Tpe::new(vec![3, 5], StdRng::seed_from_u64(1));
        let mut b = Tpe::new(vec![3, 5], StdRng::seed_from_u64(1));
        for _ in 0..10 {
            let (x, y) = (a.ask(), b.ask());
            assert_eq!(x, y);
            assert!(x[0] < 3 && x[1] < 5);
        }
    }

    #[test]
    fn history_drives_suggestions_towards_good_categories() {
        let mut tpe = Tpe::new(vec![4, 4], StdRng::seed_from_u64(7)).with_startup(0);
        // Category 2 of the first parameter is good, whatever the second.
        for i in 0..40 {
            let first = i % 4;
            let value = if first == 2 { 1.0 } else { 0.0 };
            tpe.tell(vec![first, (i / 4) % 4], value);
        }
        let picks: Vec<usize> = (0..20).map(|_| tpe.ask()[0]).collect();
        assert!(picks.iter().filter(|&&c| c == 2).count() >= 18, "{picks:?}");
    }

    #[test]
    fn the_same_seed_and_history_give_the_same_suggestion() {
        let run = || {
            let mut tpe = Tpe::new(vec![6, 6, 3], StdRng::seed_from_u64(0)).with_startup(2);
            let mut out = Vec::new();
            for i in 0..15 {
                let p = tpe.ask();
                out.push(p.clone());
                tpe.tell(p, (i % 5) as f64 / 5.0);
            }
            out
        };
        assert_eq!(run(), run());
    }
}
