//! Seeded randomness for optimizers: every choice is a function of the compile's seed and
//! what is being chosen, never of timing or a global generator.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A generator for one purpose: `salt` separates the streams of different choices made from
/// the same seed (SplitMix64 mixing, so nearby seeds give unrelated streams).
pub(crate) fn rng(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ mix(salt)))
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `k` items drawn without replacement, in the drawn order (like Python's `random.sample`).
pub(crate) fn sample<T: Clone>(items: &[T], k: usize, seed: u64, salt: u64) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.shuffle(&mut rng(seed, salt));
    order.into_iter().take(k).map(|i| items[i].clone()).collect()
}

/// Salts for the choices optimizers make.
pub(crate) mod salt {
    /// LabeledFewShot's sample.
    pub(crate) const LABELED: u64 = 1;
    /// BootstrapFewShot's labeled fill-up after bootstrapped demos.
    pub(crate) const RAW_DEMOS: u64 = 2;
    /// RandomSearch's shuffles and demo counts (plus the candidate's index).
    pub(crate) const SHUFFLE: u64 = 1000;
}
