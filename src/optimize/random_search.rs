//! `RandomSearch` (DSPy's `BootstrapFewShotWithRandomSearch`): several bootstraps, each
//! scored on the valset; the best wins.

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::json;

use super::seed::{rng, salt};
use super::{
    BootstrapFewShot, Candidate, CompileCx, CompileError, Compiled, LabeledFewShot, LeaderboardEntry, Optimizer,
    RunPlan,
};
use crate::data::Example;

/// Tries several demo sets and keeps the one that scores best on the valset (the trainset
/// when no valset is given), as DSPy's `BootstrapFewShotWithRandomSearch` does.
///
/// The candidates, in order:
///
/// 1. zero-shot: the program as written;
/// 2. labeled: [`LabeledFewShot`] with `max_labeled_demos`;
/// 3. bootstrap: [`BootstrapFewShot`] on the trainset in its order;
/// 4. `num_candidate_programs` more bootstraps, each on the trainset shuffled by a seed
///    derived from the compile's seed and the candidate's index, with a random number of
///    bootstrapped demos between 1 and `max_bootstrapped_demos`.
///
/// Each is scored on the valset as soon as it is built; the best by the compile's
/// [`Objective`](super::Objective) wins (the score, or the score less λ × dollars per
/// example), the earlier candidate on a tie. Scoring stops early once a candidate's score
/// reaches `stop_at_score`, and at a budget limit, keeping the best so far. The report lists
/// every candidate with its score, program cost per example and LM calls per example. Each
/// scored candidate is a trial ([`CompileCx::trial_done`]): a run directory checkpoints
/// there, and a trial hook may stop the search there ([`RunDir`](super::RunDir) resumes it).
///
/// Unlike DSPy, the teacher's labeled demos are drawn once from the unshuffled trainset, so
/// the bootstraps share teacher runs (a run is made once and reused) and cost far less.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomSearch {
    /// Shuffled bootstraps beyond the three fixed candidates (DSPy's default: 16).
    pub num_candidate_programs: usize,
    /// The most bootstrapped demos per predictor (DSPy's default: 4).
    pub max_bootstrapped_demos: usize,
    /// Demos per predictor in all (DSPy's default: 16).
    pub max_labeled_demos: usize,
    /// Bootstrap rounds (DSPy's default: 1).
    pub max_rounds: u32,
    /// The score a teacher run must reach to pass; `None`: any score above 0.
    pub metric_threshold: Option<f64>,
    /// Stop once a candidate scores at least this.
    pub stop_at_score: Option<f64>,
}

impl Default for RandomSearch {
    fn default() -> Self {
        RandomSearch {
            num_candidate_programs: 16,
            max_bootstrapped_demos: 4,
            max_labeled_demos: 16,
            max_rounds: 1,
            metric_threshold: None,
            stop_at_score: None,
        }
    }
}

impl RandomSearch {
    fn bootstrapper(&self, max_bootstrapped_demos: usize) -> BootstrapFewShot {
        BootstrapFewShot {
            max_bootstrapped_demos,
            max_labeled_demos: self.max_labeled_demos,
            max_rounds: self.max_rounds,
            metric_threshold: self.metric_threshold,
        }
    }
}

/// The trainset shuffled for candidate `index`, and its demo count.
pub(crate) fn shuffled(train: &[Example], seed: u64, index: usize, max_demos: usize) -> (Vec<Example>, usize) {
    use rand::seq::SliceRandom;
    let mut rng = rng(seed, salt::SHUFFLE + index as u64);
    let mut order = train.to_vec();
    order.shuffle(&mut rng);
    let size = if max_demos == 0 { 0 } else { rng.random_range(1..=max_demos) };
    (order, size)
}

impl Optimizer for RandomSearch {
    fn name(&self) -> &'static str {
        "random-search"
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "num_candidate_programs": self.num_candidate_programs,
            "max_bootstrapped_demos": self.max_bootstrapped_demos,
            "max_labeled_demos": self.max_labeled_demos,
            "max_rounds": self.max_rounds,
            "metric_threshold": self.metric_threshold,
            "stop_at_score": self.stop_at_score,
        })
    }

    fn plan(&self, train: usize, val: usize) -> RunPlan {
        let candidates = 3 + self.num_candidate_programs as u64;
        let teacher = train as u64 * u64::from(self.max_rounds);
        let validation = candidates * val as u64;
        RunPlan {
            phases: vec![
                format!(
                    "{candidates} candidates: zero-shot, labeled, bootstrap, {} shuffled bootstraps",
                    self.num_candidate_programs
                ),
                format!(
                    "teacher runs: up to {teacher} (shared by every bootstrap; {} round(s) × {train} examples)",
                    self.max_rounds
                ),
                format!("validation runs: up to {validation} ({candidates} candidates × {val} examples)"),
            ],
            max_program_runs: teacher + validation,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            if self.max_rounds == 0 {
                return Err(CompileError::Config {
                    optimizer: "random-search",
                    message: "max_rounds must be at least 1".into(),
                });
            }
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            let train = cx.trainset().examples();
            let val = cx.scoring_set().examples();
            let total = 3 + self.num_candidate_programs;
            let mut leaderboard = Vec::new();
            let mut best: Option<(Candidate, f64)> = None;
            let mut stopped = None;
            for index in 0..total {
                let (label, built) = match index {
                    0 => ("zero-shot".to_string(), Candidate::empty()),
                    1 => (
                        "labeled".to_string(),
                        LabeledFewShot { k: self.max_labeled_demos }.candidate(cx.program().as_ref(), train, cx.seed()),
                    ),
                    2 => {
                        let out = self
                            .bootstrapper(self.max_bootstrapped_demos)
                            .bootstrap(cx, train, train, "bootstrap")
                            .await;
                        stopped = out.stopped;
                        ("bootstrap".to_string(), out.candidate)
                    }
                    _ => {
                        let (order, size) = shuffled(train, cx.seed(), index, self.max_bootstrapped_demos);
                        let phase = format!("bootstrap {}/{total}", index + 1);
                        let out = self.bootstrapper(size).bootstrap(cx, &order, train, &phase).await;
                        stopped = out.stopped;
                        (format!("bootstrap (shuffled #{}, ≤{size} bootstrapped)", index - 2), out.candidate)
                    }
                };
                if stopped.is_some() {
                    break;
                }
                let phase = format!("validate {}/{total}", index + 1);
                let score = match cx.evaluate(&built, val, &phase).await {
                    Ok(score) => score,
                    Err(e) => {
                        stopped = Some(e.to_string());
                        break;
                    }
                };
                leaderboard.push(LeaderboardEntry::new(label, &built, &score));
                let value = cx.objective().value(score.score, score.cost_per_example);
                if best.as_ref().is_none_or(|(_, v)| value > *v) {
                    best = Some((built, value));
                }
                // A trial is done (checkpoints, and a hook may stop the compile here).
                cx.trial_done(leaderboard.len(), best.as_ref().map(|(_, v)| *v))?;
                if self.stop_at_score.is_some_and(|t| score.score >= t) {
                    break;
                }
            }
            let candidate = best.map(|(c, _)| c).unwrap_or_default();
            Ok(Compiled { candidate, knn: None, runner: None, leaderboard, stopped })
        })
    }
}
