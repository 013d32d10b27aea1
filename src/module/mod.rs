//! Modules: the `Module` trait, the run context, and the leaf predictors.
//!
//! A program is a tree of modules whose leaves are [`Predict`]s (a [`ChainOfThought`] is a
//! `Predict` with a `reasoning` output). Only leaves call an LM, and each has a name, given
//! once by the program, that keys traces, candidates and artifacts.
//!
//! Sampling and refinement: [`BestOfN`] and [`Refine`] retry a module and keep the attempt
//! with the best [`Reward`]; [`MultiChainComparison`] compares reasoning attempts; [`Parallel`]
//! runs a module over many inputs; [`majority`] votes.

mod best_of_n;
mod chain_of_thought;
mod cx;
mod error;
mod majority;
mod multi_chain;
mod parallel;
mod predict;
mod react;
mod refine;
mod reward;
mod verify;
mod wrapper_spec;

pub mod tools;

pub use chain_of_thought::ChainOfThought;
pub use cx::{Overlay, PredictorOverlay, RunCx, RunTotals, TraceEntry};
pub use error::RunError;
pub use predict::Predict;
pub use react::{ReAct, ReActError, DEFAULT_MAX_ITERS, FINISH, TRAJECTORY_FIELD};

pub use best_of_n::{Attempt, BestOfN, Sampled, RETRY_TEMPERATURE};
pub use majority::majority;
pub use multi_chain::{MultiChainComparison, COMPARISON_TEMPERATURE, COMPLETIONS_KEY};
pub use parallel::{Parallel, ParallelError};
pub use refine::{advice_name, offer_feedback_signature, Refine, HINT_FIELD};
pub use reward::{reward_fn, FnReward, MetricReward, Reward, REWARD_METRICS};
pub use verify::{verify_name, VerifyReward, VERIFY_FIELD};
pub use wrapper_spec::{wrap_step, RewardSpec, WrapError, WrapperSpec, MAX_ATTEMPTS};

use futures::future::BoxFuture;

use crate::data::{Example, Prediction};

/// A runnable piece of an LM program.
///
/// Object-safe: programs hold `Box<dyn Module>`. `forward` takes the run context by
/// reference and never mutates the module, so one program can run many examples and many
/// candidates at once.
pub trait Module: Send + Sync {
    /// Runs the module on `inputs`.
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>>;

    /// The leaf predictors, in program order. Their names are unique within a program.
    fn predictors(&self) -> Vec<&Predict>;

    /// The leaf predictors, mutably, to install compiled instructions and demos.
    fn predictors_mut(&mut self) -> Vec<&mut Predict>;
}
