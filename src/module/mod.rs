//! Modules: the `Module` trait, the run context, and the leaf predictors.
//!
//! A program is a tree of modules whose leaves are [`Predict`]s (a [`ChainOfThought`] is a
//! `Predict` with a `reasoning` output). Only leaves call an LM, and each has a name, given
//! once by the program, that keys traces, candidates and artifacts.

mod chain_of_thought;
mod cx;
mod error;
mod predict;

pub use chain_of_thought::ChainOfThought;
pub use cx::{Overlay, PredictorOverlay, RunCx, RunTotals, TraceEntry};
pub use error::RunError;
pub use predict::Predict;

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
