//! GEPA's candidate pool: every accepted candidate with its per-example validation scores,
//! its parents, and the Pareto front over validation examples that parents are drawn from.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::Rng;

/// Instructions per predictor name: what GEPA evolves.
pub(crate) type Texts = BTreeMap<String, String>;

/// One accepted candidate.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) texts: Texts,
    /// Validation scores, in valset order.
    pub(crate) scores: Vec<f64>,
    pub(crate) parents: Vec<usize>,
    /// The predictor (index into the program's names) round-robin updates next.
    pub(crate) next_predictor: usize,
}

impl Member {
    pub(crate) fn mean(&self) -> f64 {
        if self.scores.is_empty() {
            0.0
        } else {
            self.scores.iter().sum::<f64>() / self.scores.len() as f64
        }
    }
}

/// The pool, and per validation example the best score reached and the members reaching it.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    pub(crate) members: Vec<Member>,
    best: Vec<f64>,
    fronts: Vec<BTreeSet<usize>>,
}

impl Pool {
    /// Adds a scored member; returns its index.
    pub(crate) fn add(&mut self, member: Member) -> usize {
        let index = self.members.len();
        if self.best.is_empty() {
            self.best = vec![f64::NEG_INFINITY; member.scores.len()];
            self.fronts = vec![BTreeSet::new(); member.scores.len()];
        }
        for (i, &score) in member.scores.iter().enumerate() {
            if score > self.best[i] {
                self.best[i] = score;
                self.fronts[i] = BTreeSet::from([index]);
            } else if score == self.best[i] {
                self.fronts[i].insert(index);
            }
        }
        self.members.push(member);
        index
    }

    /// The members on the front of each validation example, after removing dominated ones.
    pub(crate) fn fronts(&self) -> Vec<BTreeSet<usize>> {
        let means: Vec<f64> = self.members.iter().map(Member::mean).collect();
        without_dominated(&self.fronts, &means)
    }

    /// A parent for the next mutation: a member of the (undominated) per-example fronts,
    /// drawn with probability proportional to the number of examples it is best on.
    pub(crate) fn select(&self, rng: &mut StdRng) -> usize {
        let fronts = self.fronts();
        let mut frequency: Vec<(usize, usize)> = Vec::new();
        for front in &fronts {
            for &m in front {
                match frequency.iter_mut().find(|(p, _)| *p == m) {
                    Some((_, n)) => *n += 1,
                    None => frequency.push((m, 1)),
                }
            }
        }
        let total: usize = frequency.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return self.best();
        }
        let mut draw = rng.random_range(0..total);
        for (m, n) in frequency {
            if draw < n {
                return m;
            }
            draw -= n;
        }
        self.best()
    }

    /// The member with the best mean validation score (the earliest on a tie).
    pub(crate) fn best(&self) -> usize {
        let mut best = 0;
        for (i, m) in self.members.iter().enumerate() {
            if m.mean() > self.members[best].mean() {
                best = i;
            }
        }
        best
    }

    /// Every ancestor of `member`.
    pub(crate) fn ancestors(&self, member: usize) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        let mut stack = self.members[member].parents.clone();
        while let Some(p) = stack.pop() {
            if found.insert(p) {
                stack.extend(self.members[p].parents.iter().copied());
            }
        }
        found
    }
}

/// GEPA's dominance filter: visiting members from the lowest mean score up, a member is
/// dominated when every example front it is on also holds another member still standing;
/// dominated members leave every front. What remains are the members that are alone on at
/// least one front, or tie with others that were removed.
pub(crate) fn without_dominated(fronts: &[BTreeSet<usize>], means: &[f64]) -> Vec<BTreeSet<usize>> {
    let mut members: Vec<usize> = Vec::new();
    for front in fronts {
        for &m in front {
            if !members.contains(&m) {
                members.push(m);
            }
        }
    }
    // Stable: equal means keep their first-seen order, as Python's sorted does.
    members.sort_by(|a, b| means[*a].total_cmp(&means[*b]));
    let mut dominated: BTreeSet<usize> = BTreeSet::new();
    loop {
        let next = members.iter().copied().find(|&y| {
            !dominated.contains(&y)
                && fronts.iter().filter(|f| f.contains(&y)).all(|f| {
                    f.iter().any(|&other| other != y && !dominated.contains(&other) && members.contains(&other))
                })
        });
        match next {
            Some(y) => {
                dominated.insert(y);
            }
            None => break,
        }
    }
    fronts.iter().map(|f| f.iter().copied().filter(|m| !dominated.contains(m)).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::seed::rng;

    fn member(scores: &[f64]) -> Member {
        Member { texts: Texts::new(), scores: scores.to_vec(), parents: Vec::new(), next_predictor: 0 }
    }

    #[test]
    fn fronts_keep_the_best_per_example_and_ties() {
        let mut pool = Pool::default();
        pool.add(member(&[1.0, 0.0, 0.0]));
        pool.add(member(&[0.0, 1.0, 0.0]));
        pool.add(member(&[1.0, 1.0, 0.0]));
        assert_eq!(pool.fronts[0], BTreeSet::from([0, 2]));
        assert_eq!(pool.fronts[1], BTreeSet::from([1, 2]));
        assert_eq!(pool.fronts[2], BTreeSet::from([0, 1, 2]));
        // 0 and 1 are each beaten or matched by 2 everywhere: only 2 remains.
        let fronts = pool.fronts();
        assert!(fronts.iter().all(|f| f == &BTreeSet::from([2])));
        let mut r = rng(0, 0);
        assert!((0..20).all(|_| pool.select(&mut r) == 2));
    }

    #[test]
    fn members_best_on_different_examples_both_stay_and_are_drawn_by_frequency() {
        let mut pool = Pool::default();
        pool.add(member(&[1.0, 0.0, 0.0, 0.0]));
        pool.add(member(&[0.0, 1.0, 1.0, 1.0]));
        let fronts = pool.fronts();
        assert_eq!(fronts[0], BTreeSet::from([0]));
        assert_eq!(fronts[1], BTreeSet::from([1]));
        let mut r = rng(3, 0);
        let draws: Vec<usize> = (0..400).map(|_| pool.select(&mut r)).collect();
        let zeros = draws.iter().filter(|&&d| d == 0).count();
        // Member 0 is best on 1 of 4 front entries: drawn about a quarter of the time.
        assert!((60..140).contains(&zeros), "{zeros}");
        assert_eq!(pool.best(), 1);
    }

    #[test]
    fn ancestors_follow_every_parent() {
        let mut pool = Pool::default();
        pool.add(member(&[0.0]));
        let mut a = member(&[0.5]);
        a.parents = vec![0];
        pool.add(a);
        let mut b = member(&[0.5]);
        b.parents = vec![0];
        pool.add(b);
        let mut c = member(&[1.0]);
        c.parents = vec![1, 2];
        pool.add(c);
        assert_eq!(pool.ancestors(3), BTreeSet::from([0, 1, 2]));
        assert_eq!(pool.ancestors(0), BTreeSet::new());
        assert_eq!(pool.best(), 3);
    }
}
