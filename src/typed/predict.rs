//! Typed `Predict<S>` and `ChainOfThought<S>`: the dynamic predictors with typed inputs and
//! outputs on top.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;

use super::{TypedSignature, WithReasoning};
use crate::adapter::{AdapterKind, ParseProblem};
use crate::data::{Example, Fields, Prediction};
use crate::lm::{Lm, Sampling};
use crate::module::{self, Module, RunCx, RunError};
use crate::signature::{Signature, SignatureError, REASONING_FIELD};

/// Serializes typed inputs (or outputs) into fields. Typed structs always serialize to JSON
/// objects; anything else is a bug in a hand-written `TypedSignature`.
fn to_fields<T: Serialize>(value: &T, predictor: &str) -> Result<Fields, RunError> {
    let invalid = |message: String| RunError::InvalidInput { predictor: predictor.to_string(), message };
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(format!("typed inputs must serialize to a JSON object, not {other}"))),
        Err(e) => Err(invalid(format!("typed inputs failed to serialize: {e}"))),
    }
}

/// A demo from typed inputs and outputs.
fn demo<S: TypedSignature>(input: &S::Input, output: &S::Output) -> Example {
    let mut fields = serde_json::to_value(input).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
    if let Some(out) = serde_json::to_value(output).ok().and_then(|v| v.as_object().cloned()) {
        fields.extend(out);
    }
    Example::from_fields(fields)
}

/// [`module::Predict`] for a typed signature: takes `S::Input`, returns `S::Output`.
///
/// It is also a [`Module`], so it composes with dynamic modules and lists its predictor.
pub struct Predict<S: TypedSignature> {
    inner: module::Predict,
    _signature: PhantomData<fn() -> S>,
}

impl<S: TypedSignature> Clone for Predict<S> {
    fn clone(&self) -> Self {
        Predict { inner: self.inner.clone(), _signature: PhantomData }
    }
}

impl<S: TypedSignature> std::fmt::Debug for Predict<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<S: TypedSignature> Predict<S> {
    /// A predictor called `name` for `S`.
    pub fn new(name: impl Into<String>) -> Self {
        Predict { inner: module::Predict::new(name, S::signature()), _signature: PhantomData }
    }

    /// Uses `adapter`.
    pub fn with_adapter(mut self, adapter: AdapterKind) -> Self {
        self.inner.set_adapter(adapter);
        self
    }

    /// Replaces the instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.inner.set_instructions(instructions);
        self
    }

    /// Uses `lm` instead of the run's default.
    pub fn with_lm(mut self, lm: Arc<dyn Lm>) -> Self {
        self.inner.set_lm(Some(lm));
        self
    }

    /// Uses these sampling settings over the run's defaults.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.inner.set_sampling(sampling);
        self
    }

    /// Adds a typed demo.
    pub fn with_demo(mut self, input: &S::Input, output: &S::Output) -> Self {
        let mut demos = self.inner.demos().to_vec();
        demos.push(demo::<S>(input, output));
        self.inner.set_demos(demos);
        self
    }

    /// The runtime signature.
    pub fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    /// The dynamic predictor underneath.
    pub fn inner(&self) -> &module::Predict {
        &self.inner
    }

    /// The dynamic predictor underneath, mutably.
    pub fn inner_mut(&mut self) -> &mut module::Predict {
        &mut self.inner
    }

    /// Calls the LM with typed inputs and returns typed outputs.
    pub async fn call(&self, cx: &RunCx, input: &S::Input) -> Result<S::Output, RunError> {
        let fields = to_fields(input, self.inner.name())?;
        let mut outputs = self.inner.call_with(cx, &fields, S::output_from_fields).await?;
        Ok(outputs.remove(0))
    }

    /// Like [`Predict::call`], returning every completion that parsed when `n > 1`.
    pub async fn call_all(&self, cx: &RunCx, input: &S::Input) -> Result<Vec<S::Output>, RunError> {
        let fields = to_fields(input, self.inner.name())?;
        self.inner.call_with(cx, &fields, S::output_from_fields).await
    }
}

impl<S: TypedSignature> Module for Predict<S> {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        self.inner.forward(cx, inputs)
    }

    fn predictors(&self) -> Vec<&module::Predict> {
        vec![&self.inner]
    }

    fn predictors_mut(&mut self) -> Vec<&mut module::Predict> {
        vec![&mut self.inner]
    }
}

/// [`module::ChainOfThought`] for a typed signature: returns `S::Output` with the reasoning.
pub struct ChainOfThought<S: TypedSignature> {
    inner: module::ChainOfThought,
    _signature: PhantomData<fn() -> S>,
}

impl<S: TypedSignature> Clone for ChainOfThought<S> {
    fn clone(&self) -> Self {
        ChainOfThought { inner: self.inner.clone(), _signature: PhantomData }
    }
}

impl<S: TypedSignature> std::fmt::Debug for ChainOfThought<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

fn with_reasoning<S: TypedSignature>(fields: &Fields) -> Result<WithReasoning<S::Output>, Vec<ParseProblem>> {
    let reasoning = match fields.get(REASONING_FIELD) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => crate::adapter::pyfmt::py_str(other),
        None => return Err(vec![ParseProblem::Missing { field: REASONING_FIELD.to_string() }]),
    };
    Ok(WithReasoning { reasoning, output: S::output_from_fields(fields)? })
}

impl<S: TypedSignature> ChainOfThought<S> {
    /// A chain of thought called `name` for `S`. Fails when `S` has an input called
    /// `reasoning`.
    pub fn new(name: impl Into<String>) -> Result<Self, SignatureError> {
        Ok(ChainOfThought { inner: module::ChainOfThought::new(name, S::signature())?, _signature: PhantomData })
    }

    /// Uses `adapter`.
    pub fn with_adapter(mut self, adapter: AdapterKind) -> Self {
        self.inner.predict_mut().set_adapter(adapter);
        self
    }

    /// Replaces the instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.inner.predict_mut().set_instructions(instructions);
        self
    }

    /// Uses `lm` instead of the run's default.
    pub fn with_lm(mut self, lm: Arc<dyn Lm>) -> Self {
        self.inner.predict_mut().set_lm(Some(lm));
        self
    }

    /// Uses these sampling settings over the run's defaults.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.inner.predict_mut().set_sampling(sampling);
        self
    }

    /// Adds a typed demo, with or without reasoning.
    pub fn with_demo(mut self, input: &S::Input, output: &S::Output, reasoning: Option<&str>) -> Self {
        let mut example = demo::<S>(input, output);
        if let Some(reasoning) = reasoning {
            example.insert(REASONING_FIELD, reasoning);
        }
        let mut demos = self.inner.predict().demos().to_vec();
        demos.push(example);
        self.inner.predict_mut().set_demos(demos);
        self
    }

    /// The runtime signature (with `reasoning` first among the outputs).
    pub fn signature(&self) -> &Signature {
        self.inner.predict().signature()
    }

    /// The dynamic module underneath.
    pub fn inner(&self) -> &module::ChainOfThought {
        &self.inner
    }

    /// Calls the LM with typed inputs; returns the typed outputs and the reasoning.
    pub async fn call(&self, cx: &RunCx, input: &S::Input) -> Result<WithReasoning<S::Output>, RunError> {
        let fields = to_fields(input, self.inner.predict().name())?;
        let mut outputs = self.inner.predict().call_with(cx, &fields, with_reasoning::<S>).await?;
        Ok(outputs.remove(0))
    }
}

impl<S: TypedSignature> Module for ChainOfThought<S> {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        self.inner.forward(cx, inputs)
    }

    fn predictors(&self) -> Vec<&module::Predict> {
        self.inner.predictors()
    }

    fn predictors_mut(&mut self) -> Vec<&mut module::Predict> {
        self.inner.predictors_mut()
    }
}
