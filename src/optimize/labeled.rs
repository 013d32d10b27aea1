//! `LabeledFewShot`: k labeled training examples as every predictor's demos.

use futures::future::BoxFuture;
use serde_json::json;

use super::seed::{salt, sample};
use super::{Candidate, CompileCx, CompileError, Compiled, Optimizer, RunPlan};
use crate::data::Example;
use crate::module::Module;

/// Gives every predictor the same `k` training examples as demos, drawn at random (seeded)
/// without replacement, in the drawn order; all of them when there are fewer than `k`. Makes
/// no LM calls. As DSPy's `LabeledFewShot(k)` with `sample=True`.
///
/// Demos are whole training examples: a predictor whose fields the example lacks (an
/// intermediate step of a pipeline) gets them as incomplete demos, which the adapters render
/// as DSPy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabeledFewShot {
    /// Demos per predictor (DSPy's default: 16).
    pub k: usize,
}

impl Default for LabeledFewShot {
    fn default() -> Self {
        LabeledFewShot { k: 16 }
    }
}

impl LabeledFewShot {
    /// The candidate: `k` sampled examples for every predictor of `program`.
    pub fn candidate(&self, program: &dyn Module, trainset: &[Example], seed: u64) -> Candidate {
        if self.k == 0 {
            return Candidate::empty();
        }
        let demos = sample(trainset, self.k, seed, salt::LABELED);
        program.predictors().iter().fold(Candidate::empty(), |c, p| c.with_demos(p.name(), demos.clone()))
    }
}

impl Optimizer for LabeledFewShot {
    fn name(&self) -> &'static str {
        "labeled"
    }

    fn config(&self) -> serde_json::Value {
        json!({ "k": self.k })
    }

    fn plan(&self, _train: usize, _val: usize) -> RunPlan {
        RunPlan { phases: vec![format!("sample {} labeled demos (no LM calls)", self.k)], max_program_runs: 0 }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            let candidate = self.candidate(cx.program().as_ref(), cx.trainset().examples(), cx.seed());
            Ok(Compiled { candidate, knn: None, runner: None, leaderboard: Vec::new(), stopped: None })
        })
    }
}
