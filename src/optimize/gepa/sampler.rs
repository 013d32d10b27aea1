//! GEPA's epoch-shuffled minibatch sampler.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Hands out minibatches of trainset indices: each epoch is a fresh shuffle of the trainset,
/// padded to a multiple of the minibatch size with the least-used indices (on a tie, the one
/// shuffled last), so every example is seen about equally often. Iteration `i` takes the
/// `i`-th slice, wrapping into the next epoch.
pub(crate) struct EpochSampler {
    minibatch: usize,
    rng: StdRng,
    epoch: Option<usize>,
    order: Vec<usize>,
}

impl EpochSampler {
    pub(crate) fn new(minibatch: usize, rng: StdRng) -> Self {
        EpochSampler { minibatch: minibatch.max(1), rng, epoch: None, order: Vec::new() }
    }

    /// The minibatch of iteration `iteration` (0-based) over a trainset of `len` examples.
    pub(crate) fn batch(&mut self, iteration: usize, len: usize) -> Vec<usize> {
        let start = iteration * self.minibatch;
        let epoch = match self.epoch {
            None => 0,
            Some(_) => start / self.order.len().max(1),
        };
        if self.epoch.is_none_or(|e| epoch > e) || self.order.is_empty() {
            self.epoch = Some(epoch);
            self.reshuffle(len);
        }
        let start = start % self.order.len();
        self.order[start..start + self.minibatch].to_vec()
    }

    fn reshuffle(&mut self, len: usize) {
        self.order = (0..len).collect();
        self.order.shuffle(&mut self.rng);
        let mut uses = vec![0usize; len];
        for &i in &self.order {
            uses[i] += 1;
        }
        let pad = (self.minibatch - len % self.minibatch) % self.minibatch;
        for _ in 0..pad {
            // The least used; among equals, the one latest in the shuffle (DSPy's Counter order).
            let next = self.order.iter().take(len).rev().copied().min_by_key(|&i| uses[i]).unwrap_or(0);
            self.order.push(next);
            uses[next] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::seed::rng;

    #[test]
    fn pads_with_the_least_used_latest_shuffled_example() {
        let mut sampler = EpochSampler::new(3, rng(0, 1));
        let batch = sampler.batch(0, 2);
        assert_eq!(batch.len(), 3);
        // Both examples, then the one shuffled last again.
        assert_eq!(batch[2], batch[1]);
        assert_ne!(batch[0], batch[1]);
    }

    #[test]
    fn every_example_once_per_epoch_when_sizes_divide() {
        let mut sampler = EpochSampler::new(2, rng(0, 1));
        let mut seen: Vec<usize> = (0..3).flat_map(|i| sampler.batch(i, 6)).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
        // The next epoch is a new shuffle of the same examples.
        let mut next: Vec<usize> = (3..6).flat_map(|i| sampler.batch(i, 6)).collect();
        next.sort_unstable();
        assert_eq!(next, vec![0, 1, 2, 3, 4, 5]);
    }
}
