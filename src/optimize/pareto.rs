//! The score/cost Pareto front of a compile's candidates, and picking one of its members as
//! the artifact instead of the optimizer's choice.

use super::{Candidate, CandidateScore, CompileOutcome, LeaderboardEntry};
use crate::artifact::{PickedCandidate, ProgramArtifact};
use crate::module::Module;

/// The label of the program as written among a compile's [`ScoredCandidate`]s.
pub const AS_WRITTEN: &str = "program as written";

/// The indices of the entries on the Pareto front of (higher score, lower cost per example):
/// those no other entry dominates, i.e. none scores at least as high for at most the same
/// cost, and strictly better on one of the two.
///
/// * **Unpriced entries** (`cost_per_example` `None`): an unknown cost counts as higher than
///   any known one. An unpriced entry is on the front only when it scores strictly higher
///   than every priced one, and among unpriced entries only the score counts, so when
///   nothing is priced the front is the best-scoring entry.
/// * **Ties**: of entries with the same score and the same cost (or both unpriced), only the
///   earliest is on the front, as the earliest wins a tie when an optimizer ranks them.
/// * **Order**: by cost ascending (unpriced last), then by index; along the front the score
///   rises with the cost.
///
/// ```
/// use lmc::optimize::{pareto_front, LeaderboardEntry};
///
/// let entry = |score: f64, cost: Option<f64>| LeaderboardEntry {
///     label: String::new(),
///     candidate: String::new(),
///     demos: String::new(),
///     score,
///     cost_per_example: cost,
///     calls_per_example: 1.0,
///     built: None,
/// };
/// let entries = [entry(0.9, Some(3e-4)), entry(0.6, Some(1e-4)), entry(0.5, Some(2e-4)), entry(0.9, Some(3e-4))];
/// // 2 is dominated by 1 (cheaper and better); 3 ties 0 (the earlier stays).
/// assert_eq!(pareto_front(&entries), vec![1, 0]);
/// ```
pub fn pareto_front(entries: &[LeaderboardEntry]) -> Vec<usize> {
    front_of(&entries.iter().map(|e| (e.score, e.cost_per_example)).collect::<Vec<_>>())
}

/// [`pareto_front`] over (score, cost per example) points.
fn front_of(points: &[(f64, Option<f64>)]) -> Vec<usize> {
    let cost = |i: usize| points[i].1.unwrap_or(f64::INFINITY);
    let dominates = |a: usize, b: usize| {
        let (sa, sb) = (points[a].0, points[b].0);
        sa >= sb && cost(a) <= cost(b) && (sa > sb || cost(a) < cost(b))
    };
    let tied = |a: usize, b: usize| points[a].0 == points[b].0 && cost(a) == cost(b);
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| !(0..points.len()).any(|j| dominates(j, i)) && !(0..i).any(|j| tied(j, i)))
        .collect();
    front.sort_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(a.cmp(&b)));
    front
}

/// One candidate a compile scored on the scoring set, with the candidate itself, so that any
/// of them can become the artifact ([`CompileOutcome::pick`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredCandidate {
    /// What it is: [`AS_WRITTEN`], an optimizer's leaderboard label, or `compiled`.
    pub label: String,
    /// The candidate (for KnnFewShot's compiled row, the overlay under its per-input demos).
    pub candidate: Candidate,
    /// Mean score on the scoring set.
    pub score: f64,
    /// The program's mean cost per example; `None` when unpriced.
    pub cost_per_example: Option<f64>,
    /// Mean LM calls per example.
    pub calls_per_example: f64,
    /// Whether this is the program as written (no overlay).
    pub as_written: bool,
    /// Whether this is the optimizer's result (under the compile's objective): the artifact
    /// written unless another candidate is picked.
    pub chosen: bool,
}

impl ScoredCandidate {
    /// As a leaderboard entry (for reports and [`pareto_front`]).
    pub fn entry(&self) -> LeaderboardEntry {
        LeaderboardEntry {
            label: self.label.clone(),
            candidate: self.candidate.short_hash().to_string(),
            demos: self.candidate.demo_summary(),
            score: self.score,
            cost_per_example: self.cost_per_example,
            calls_per_example: self.calls_per_example,
            built: Some(self.candidate.clone()),
        }
    }
}

/// The rows of a compile's report: the program as written, every leaderboard entry that kept
/// its candidate (entries read back from JSON have none and are left out), and the compiled
/// program, in that order, one row per candidate (by hash; KnnFewShot's compiled program,
/// which runs a wrapper, is a row of its own). The row of `found` (the optimizer's result) is
/// marked chosen.
pub(crate) fn scored_candidates(
    baseline: Option<&CandidateScore>,
    leaderboard: &[LeaderboardEntry],
    found: &Candidate,
    runner: bool,
    compiled: Option<&CandidateScore>,
) -> Vec<ScoredCandidate> {
    let empty = Candidate::empty();
    let chosen_key = if runner { format!("runner:{}", found.hash()) } else { found.hash().to_string() };
    let mut rows: Vec<(String, ScoredCandidate)> = Vec::new();
    let mut push = |key: String, label: &str, candidate: &Candidate, score: f64, cost: Option<f64>, calls: f64| {
        let (as_written, chosen) = (key == empty.hash(), key == chosen_key);
        if let Some((_, row)) = rows.iter_mut().find(|(k, _)| *k == key) {
            row.as_written |= as_written;
            row.chosen |= chosen;
            return;
        }
        let row = ScoredCandidate {
            label: label.to_string(),
            candidate: candidate.clone(),
            score,
            cost_per_example: cost,
            calls_per_example: calls,
            as_written,
            chosen,
        };
        rows.push((key, row));
    };
    if let Some(s) = baseline {
        push(empty.hash().to_string(), AS_WRITTEN, &empty, s.score, s.cost_per_example, s.calls_per_example);
    }
    for e in leaderboard {
        if let Some(c) = &e.built {
            push(c.hash().to_string(), &e.label, c, e.score, e.cost_per_example, e.calls_per_example);
        }
    }
    if let Some(s) = compiled {
        push(chosen_key.clone(), "compiled", found, s.score, s.cost_per_example, s.calls_per_example);
    }
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The Pareto front of `candidates` ([`pareto_front`]'s rules).
pub(crate) fn front(candidates: &[ScoredCandidate]) -> Vec<usize> {
    front_of(&candidates.iter().map(|c| (c.score, c.cost_per_example)).collect::<Vec<_>>())
}

/// A pick outside the Pareto front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot pick candidate {n} of the Pareto front: {}",
    if *front == 0 { "the front is empty (no candidate was scored)".to_string() }
    else { format!("it has {front} candidate{}, numbered 1 to {front}", if *front == 1 { "" } else { "s" }) }
)]
pub struct PickError {
    /// The number asked for (1-based).
    pub n: usize,
    /// The front's size.
    pub front: usize,
}

impl CompileOutcome {
    /// The candidates on the Pareto front, numbered from 1 as [`pick`](Self::pick) takes them.
    pub fn front(&self) -> impl Iterator<Item = &ScoredCandidate> + '_ {
        self.pareto.iter().filter_map(|&i| self.candidates.get(i))
    }

    /// The index in [`candidates`](Self::candidates) of the optimizer's result, when it was
    /// scored.
    pub fn chosen(&self) -> Option<usize> {
        self.candidates.iter().position(|c| c.chosen)
    }

    /// The artifact of the `n`-th candidate of the Pareto front (1-based, cheapest first)
    /// instead of the optimizer's choice: the same provenance, with the picked candidate's
    /// score as the compiled score and the pick recorded. `program` is the program compiled
    /// (its predictors' own state fills what the candidate leaves alone).
    ///
    /// Picking the optimizer's own result gives its artifact (KnnFewShot's per-input demos
    /// included); any other candidate is a fixed overlay, with no KnnFewShot state.
    pub fn pick(&self, n: usize, program: &dyn Module) -> Result<ProgramArtifact, PickError> {
        let front = self.pareto.len();
        let row = n
            .checked_sub(1)
            .and_then(|i| self.pareto.get(i))
            .and_then(|&i| self.candidates.get(i))
            .ok_or(PickError { n, front })?;
        let mut artifact = if row.chosen {
            self.artifact.clone()
        } else {
            ProgramArtifact::from_program(
                self.artifact.program.clone(),
                program,
                Some(row.candidate.overlay()),
                self.artifact.provenance.clone(),
            )
        };
        artifact.provenance.scores.compiled = Some(row.score);
        artifact.provenance.picked = Some(PickedCandidate {
            n,
            front,
            label: row.label.clone(),
            candidate: row.candidate.short_hash().to_string(),
        });
        Ok(artifact)
    }
}
