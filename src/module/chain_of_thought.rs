//! `ChainOfThought`: a `Predict` whose signature starts its outputs with `reasoning`.

use futures::future::BoxFuture;

use super::{Module, Predict, RunCx, RunError};
use crate::adapter::AdapterKind;
use crate::data::{Example, Prediction};
use crate::signature::{Signature, SignatureError};

/// Reasons step by step before answering: DSPy's `ChainOfThought`. The `reasoning` output
/// is prepended to the signature (keeping its instructions) and returned with the others.
///
/// The module is a single predictor under the name it is given; DSPy's `name.predict` path
/// maps to that name.
///
/// ```
/// use lmc::{ChainOfThought, Signature};
///
/// let cot = ChainOfThought::new("solve", Signature::parse("question -> answer")?)?;
/// let outputs: Vec<&str> = cot.predict().signature().output_names().collect();
/// assert_eq!(outputs, ["reasoning", "answer"]);
/// # Ok::<(), lmc::SignatureError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChainOfThought {
    predict: Predict,
}

impl ChainOfThought {
    /// A chain of thought called `name` over `signature`. Fails when the signature has an
    /// input called `reasoning`.
    pub fn new(name: impl Into<String>, signature: Signature) -> Result<Self, SignatureError> {
        Ok(ChainOfThought { predict: Predict::new(name, signature.with_reasoning()?) })
    }

    /// Uses `adapter`.
    pub fn with_adapter(mut self, adapter: AdapterKind) -> Self {
        self.predict = self.predict.with_adapter(adapter);
        self
    }

    /// Replaces the instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.predict = self.predict.with_instructions(instructions);
        self
    }

    /// Uses `demos` as few-shot examples (with or without `reasoning`).
    pub fn with_demos(mut self, demos: Vec<Example>) -> Self {
        self.predict = self.predict.with_demos(demos);
        self
    }

    /// The underlying predictor.
    pub fn predict(&self) -> &Predict {
        &self.predict
    }

    /// The underlying predictor, mutably (to set its LM or sampling).
    pub fn predict_mut(&mut self) -> &mut Predict {
        &mut self.predict
    }

    /// Consumes the module, returning the predictor.
    pub fn into_predict(self) -> Predict {
        self.predict
    }
}

impl Module for ChainOfThought {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        self.predict.forward(cx, inputs)
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![&self.predict]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![&mut self.predict]
    }
}
