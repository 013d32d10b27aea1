//! The compiler: optimizers that turn a program plus labeled data into a better program.
//!
//! An optimizer (DSPy calls them teleprompters) tries [`Candidate`]s, immutable overlays of
//! instructions and demos per predictor name, by running the program under each through
//! [`RunCx`](crate::RunCx). The program itself is never mutated while compiling, so
//! candidates run concurrently and their scores are cached by (candidate hash, example
//! hash); the winner is installed once, at the end, into a [`ProgramArtifact`](crate::artifact::ProgramArtifact).
//!
//! Every optimizer shares one [`CompileCx`]: the program and data, the metric, the run
//! contexts, one [`Budget`] (calls, tokens, dollars, checked before each run), progress
//! reporting and the caches. Every random choice derives from its explicit seed, and work is
//! merged in example order, so the same seed, data and LM replies give the same artifact at
//! any concurrency. That is also how a compile resumes: its [`RunDir`] keeps every LM request
//! as it completes and its progress after each trial ([`CompileCx::trial_done`]), and a
//! resumed compile replays those requests to the same state and the same artifact.
//!
//! | optimizer | what it does |
//! |---|---|
//! | [`LabeledFewShot`] | k labeled training examples as demos |
//! | [`BootstrapFewShot`] | demos from the traces of teacher runs that pass the metric |
//! | [`RandomSearch`] | zero-shot, labeled and several bootstraps, each scored on the valset; the best wins |
//! | [`KnnFewShot`] | the k training examples nearest each input, chosen at inference time |
//! | [`MiproV2`] | proposed instructions and bootstrapped demo sets, searched with a TPE on minibatches |
//! | [`Gepa`] | instructions evolved by reflecting on traces and metric feedback, over a Pareto pool |
//! | [`Simba`] | demos and LM-written rules from contrasting rollouts on mini-batches (stochastic ascent) |
//! | [`Copro`] | instructions proposed by the LM, refined from their scored history, by coordinate ascent |
//!
//! ```
//! use std::sync::Arc;
//! use lmc::data::dataset::Dataset;
//! use lmc::metric::{ExactMatch, Metric};
//! use lmc::optimize::{self, BootstrapFewShot, CompileCx};
//! use lmc::{Example, Module, Predict, RunCx, ScriptedLm, Signature};
//!
//! let program: Arc<dyn Module> = Arc::new(Predict::new("qa", Signature::parse("question -> answer")?));
//! let train: Vec<Example> = ["a", "b", "c"]
//!     .iter()
//!     .map(|q| Example::new().with("question", *q).with("answer", "yes").with_inputs(["question"]))
//!     .collect();
//! let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nyes\n\n[[ ## completed ## ]]"));
//! let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
//! let cx = CompileCx::new(program, metric, Dataset::from_examples("train", train))
//!     .with_run_cx(RunCx::new().with_lm(lm))
//!     .with_seed(7);
//! let optimizer = BootstrapFewShot { max_bootstrapped_demos: 2, max_labeled_demos: 2, ..Default::default() };
//! let outcome = futures::executor::block_on(optimize::compile(&cx, &optimizer, "qa", Default::default()))?;
//! assert_eq!(outcome.artifact.predictors[0].demos.len(), 2);
//! assert_eq!(outcome.compiled.map(|s| s.score), Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bootstrap;
mod budget;
mod candidate;
mod compile;
pub mod copro;
mod cx;
pub mod gepa;
mod knn;
mod labeled;
pub mod mipro;
mod objective;
mod pareto;
mod random_search;
mod resume;
mod seed;
pub mod simba;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use bootstrap::BootstrapFewShot;
pub use budget::{Budget, BudgetExceeded, Meter};
pub use candidate::Candidate;
pub use compile::{compile, CompileOutcome};
pub use copro::{Copro, CoproOutcome, CoproStats, DepthStats};
pub use cx::{CandidateScore, CompileCx, CompileProgress, ExampleRun};
pub use gepa::Gepa;
pub use knn::{KnnFewShot, KnnMethod, KnnProgram};
pub use labeled::LabeledFewShot;
pub use mipro::{Auto, MiproV2};
pub use objective::Objective;
pub use pareto::{pareto_front, PickError, ScoredCandidate, AS_WRITTEN};
pub use random_search::RandomSearch;
pub use resume::{
    CompileIdentity, RequestCounts, Resume, ResumeError, RunDir, RunState, TrialEvent, TrialRecord, REQUESTS_FILE,
    STATE_FILE, STATE_VERSION,
};
pub use simba::Simba;

use crate::artifact::KnnArtifact;
use crate::module::Module;

/// A compiler strategy (a DSPy teleprompter).
///
/// Object-safe: the CLI holds a `Box<dyn Optimizer>`. `compile` never mutates the program;
/// it returns the winning [`Candidate`] (and for KnnFewShot the inference-time state).
#[doc(alias = "Teleprompter")]
pub trait Optimizer: Send + Sync {
    /// The optimizer's name, as `--optimizer` spells it (`bootstrap`, `random-search`, ...).
    fn name(&self) -> &'static str;

    /// Its configuration, recorded in the artifact's provenance.
    fn config(&self) -> serde_json::Value;

    /// What it plans to run for a trainset and a scoring set of these sizes, before spending
    /// anything (`--dry-run`).
    fn plan(&self, train: usize, val: usize) -> RunPlan;

    /// Searches for the best candidate.
    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>>;
}

/// What an optimizer found.
#[derive(Clone)]
pub struct Compiled {
    /// The winner.
    pub candidate: Candidate,
    /// KnnFewShot's inference-time state.
    pub knn: Option<KnnArtifact>,
    /// The program to score as the compiled one, when it is not the program under the
    /// candidate (KnnFewShot's wrapper).
    pub runner: Option<Arc<dyn Module>>,
    /// Every candidate tried and scored, in the order tried (empty when the optimizer scores
    /// none itself).
    pub leaderboard: Vec<LeaderboardEntry>,
    /// Why the optimizer stopped early (a budget), when it did.
    pub stopped: Option<String>,
}

/// One scored candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    /// What it is, e.g. `zero-shot`, `labeled`, `bootstrap (shuffled, seed 3, 2 demos)`.
    pub label: String,
    /// The candidate's hash (first 12 hex digits).
    pub candidate: String,
    /// Demos per predictor, e.g. `classify=3 extract=2`.
    pub demos: String,
    /// Mean score on the scoring set.
    pub score: f64,
    /// The program's mean cost per example on the scoring set; `None` when unpriced.
    pub cost_per_example: Option<f64>,
    /// Mean LM calls per example.
    pub calls_per_example: f64,
    /// The candidate itself, in memory only (not serialized): what a compile rebuilds the
    /// artifact from when this entry is picked from the Pareto front.
    #[serde(skip)]
    pub built: Option<Candidate>,
}

impl LeaderboardEntry {
    pub(crate) fn new(label: impl Into<String>, candidate: &Candidate, score: &CandidateScore) -> Self {
        LeaderboardEntry {
            label: label.into(),
            candidate: candidate.short_hash().to_string(),
            demos: candidate.demo_summary(),
            score: score.score,
            cost_per_example: score.cost_per_example,
            calls_per_example: score.calls_per_example,
            built: Some(candidate.clone()),
        }
    }
}

/// What an optimizer plans to run, for `--dry-run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// One line per phase, e.g. `bootstrap: up to 200 teacher runs (2 rounds × 100)`.
    pub phases: Vec<String>,
    /// Program runs at most (teacher and validation runs).
    pub max_program_runs: u64,
}

/// A compile that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// No training examples.
    #[error("the trainset is empty: give at least one labeled example")]
    EmptyTrainset,
    /// A setting is out of range.
    #[error("invalid {optimizer} setting: {message}")]
    Config {
        /// The optimizer.
        optimizer: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Embedding the trainset failed (KnnFewShot).
    #[error("cannot embed the trainset: {0}")]
    Embed(#[from] crate::embed::EmbedError),
    /// A trial hook stopped the compile (see [`CompileCx::with_trial_hook`]); a run directory
    /// resumes it ([`RunDir`]).
    #[error("interrupted after {trials} trial(s)")]
    Interrupted {
        /// Trials done.
        trials: usize,
    },
}
