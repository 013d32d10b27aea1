//! GEPA's merge: two pool members that descend from a common ancestor and changed different
//! predictors are combined, taking from each the instructions it changed.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

use super::pool::{Pool, Texts};

/// Tries to draw, per attempt, from the members standing on the Pareto fronts.
const ATTEMPTS: usize = 10;

/// A merge to try: the combined instructions and the two parents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merge {
    pub(crate) texts: Texts,
    pub(crate) parents: (usize, usize),
    pub(crate) ancestor: usize,
}

/// What merges were tried, so none is tried twice.
#[derive(Debug, Default)]
pub(crate) struct MergeLog {
    triplets: Vec<(usize, usize, usize)>,
    results: Vec<(usize, usize, Vec<usize>)>,
}

/// Draws a merge, or `None` when no pair of front members has a useful common ancestor.
pub(crate) fn propose(pool: &Pool, log: &mut MergeLog, rng: &mut StdRng) -> Option<Merge> {
    let fronts = pool.fronts();
    let candidates: Vec<usize> = fronts.iter().flatten().copied().collect::<BTreeSet<_>>().into_iter().collect();
    if candidates.len() < 2 || pool.members.len() < 3 {
        return None;
    }
    let means: Vec<f64> = pool.members.iter().map(|m| m.mean()).collect();
    for _ in 0..ATTEMPTS {
        let Some((i, j, ancestor)) = common_ancestor_pair(pool, &candidates, log, &means, rng) else { continue };
        let (a, b, anc) = (&pool.members[i].texts, &pool.members[j].texts, &pool.members[ancestor].texts);
        let mut texts = anc.clone();
        let mut sources = Vec::new();
        for (name, from_ancestor) in anc {
            let (ti, tj) = (&a[name], &b[name]);
            let source = if (from_ancestor == ti || from_ancestor == tj) && ti != tj {
                // One side kept the ancestor's text: take the other side's change.
                if from_ancestor == ti {
                    j
                } else {
                    i
                }
            } else if from_ancestor != ti && from_ancestor != tj {
                // Both changed it: the better side's.
                if means[i] > means[j] {
                    i
                } else if means[j] > means[i] {
                    j
                } else {
                    *[i, j].choose(rng).expect("two")
                }
            } else {
                i
            };
            texts.insert(name.clone(), pool.members[source].texts[name].clone());
            sources.push(source);
        }
        if log.results.contains(&(i, j, sources.clone())) {
            continue;
        }
        log.results.push((i, j, sources));
        log.triplets.push((i, j, ancestor));
        return Some(Merge { texts, parents: (i, j), ancestor });
    }
    None
}

fn common_ancestor_pair(
    pool: &Pool,
    candidates: &[usize],
    log: &MergeLog,
    means: &[f64],
    rng: &mut StdRng,
) -> Option<(usize, usize, usize)> {
    for _ in 0..ATTEMPTS {
        let mut pair: Vec<usize> = candidates.choose_multiple(rng, 2).copied().collect();
        pair.sort_unstable();
        let (i, j) = (pair[0], pair[1]);
        let (ai, aj) = (pool.ancestors(i), pool.ancestors(j));
        if ai.contains(&j) || aj.contains(&i) {
            continue;
        }
        let common: Vec<usize> = ai
            .intersection(&aj)
            .copied()
            .filter(|&a| !log.triplets.contains(&(i, j, a)))
            .filter(|&a| means[a] <= means[i] && means[a] <= means[j])
            .filter(|&a| desirable(&pool.members[a].texts, &pool.members[i].texts, &pool.members[j].texts))
            .collect();
        if common.is_empty() {
            continue;
        }
        // Weighted by the ancestor's score (uniform when they are all 0).
        let total: f64 = common.iter().map(|&a| means[a]).sum();
        let ancestor = if total > 0.0 {
            let mut draw = rng.random::<f64>() * total;
            *common
                .iter()
                .find(|&&a| {
                    draw -= means[a];
                    draw < 0.0
                })
                .unwrap_or(&common[common.len() - 1])
        } else {
            *common.choose(rng).expect("not empty")
        };
        return Some((i, j, ancestor));
    }
    None
}

/// Whether merging is worth it: some predictor where one side kept the ancestor's text and
/// the other changed it.
fn desirable(ancestor: &Texts, a: &Texts, b: &Texts) -> bool {
    ancestor.iter().any(|(name, t)| (t == &a[name] || t == &b[name]) && a[name] != b[name])
}

/// The validation examples a merge is checked on: up to `n`, drawn in turn from those where
/// the first parent is better, where the second is, and where they tie.
pub(crate) fn subsample(first: &[f64], second: &[f64], n: usize, rng: &mut StdRng) -> Vec<usize> {
    let ids: Vec<usize> = (0..first.len().min(second.len())).collect();
    let buckets = [
        ids.iter().copied().filter(|&k| first[k] > second[k]).collect::<Vec<_>>(),
        ids.iter().copied().filter(|&k| second[k] > first[k]).collect(),
        ids.iter().copied().filter(|&k| first[k] == second[k]).collect(),
    ];
    let each = n.div_ceil(3).max(1);
    let mut chosen: Vec<usize> = Vec::new();
    for bucket in &buckets {
        if chosen.len() >= n {
            break;
        }
        let take = each.min(n - chosen.len());
        chosen.extend(bucket.choose_multiple(rng, take).copied());
    }
    if chosen.len() < n {
        let mut unused: Vec<usize> = ids.iter().copied().filter(|k| !chosen.contains(k)).collect();
        unused.shuffle(rng);
        let missing = n - chosen.len();
        if unused.len() >= missing {
            chosen.extend(unused.into_iter().take(missing));
        } else if !ids.is_empty() {
            chosen.extend((0..missing).map(|_| *ids.choose(rng).expect("not empty")));
        }
    }
    chosen.truncate(n);
    chosen
}

#[cfg(test)]
mod tests {
    use super::super::pool::Member;
    use super::*;
    use crate::optimize::seed::rng;

    fn texts(a: &str, b: &str) -> Texts {
        Texts::from([("extract".to_string(), a.to_string()), ("classify".to_string(), b.to_string())])
    }

    fn member(t: Texts, scores: &[f64], parents: &[usize]) -> Member {
        Member { texts: t, scores: scores.to_vec(), parents: parents.to_vec(), next_predictor: 0 }
    }

    #[test]
    fn merges_the_changes_of_two_lineages() {
        let mut pool = Pool::default();
        pool.add(member(texts("e0", "c0"), &[0.0, 0.0], &[]));
        // One child improved `extract` and is best on example 0; the other `classify`, best on 1.
        pool.add(member(texts("e1", "c0"), &[1.0, 0.0], &[0]));
        pool.add(member(texts("e0", "c1"), &[0.0, 1.0], &[0]));
        let mut log = MergeLog::default();
        let merge = propose(&pool, &mut log, &mut rng(0, 0)).expect("a merge");
        assert_eq!(merge.texts, texts("e1", "c1"));
        assert_eq!(merge.parents, (1, 2));
        assert_eq!(merge.ancestor, 0);
        // The same merge is never proposed twice.
        assert_eq!(propose(&pool, &mut log, &mut rng(0, 0)), None);
    }

    #[test]
    fn no_merge_without_a_common_ancestor_or_within_a_lineage() {
        let mut pool = Pool::default();
        pool.add(member(texts("e0", "c0"), &[0.0, 0.0], &[]));
        pool.add(member(texts("e1", "c0"), &[1.0, 0.0], &[0]));
        pool.add(member(texts("e1", "c1"), &[1.0, 1.0], &[1]));
        // 2 descends from 1: one lineage, nothing to merge.
        assert_eq!(propose(&pool, &mut MergeLog::default(), &mut rng(0, 0)), None);
    }

    #[test]
    fn subsample_draws_from_each_side_and_the_ties() {
        let first = [1.0, 1.0, 0.0, 0.0, 0.5, 0.5];
        let second = [0.0, 0.0, 1.0, 1.0, 0.5, 0.5];
        let ids = subsample(&first, &second, 5, &mut rng(1, 0));
        assert_eq!(ids.len(), 5);
        assert_eq!(ids.iter().filter(|&&k| k < 2).count(), 2);
        assert_eq!(ids.iter().filter(|&&k| (2..4).contains(&k)).count(), 2);
        assert_eq!(ids.iter().filter(|&&k| k >= 4).count(), 1);
    }
}
