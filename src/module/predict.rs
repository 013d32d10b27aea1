//! `Predict`: the leaf predictor. Formats a prompt, calls the LM, parses the reply.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::cx::{Overlay, RunCx, TraceEntry};
use super::error::RunError;
use super::Module;
use crate::adapter::{AdapterKind, ParseError, ParseProblem};
use crate::data::{Example, Fields, Prediction};
use crate::lm::{Lm, LmError, LmRequest, Sampling};
use crate::prompt::Prompt;
use crate::signature::Signature;

/// The basic LM call: a named signature with an adapter, demos, and optionally its own LM
/// and sampling settings.
///
/// ```
/// use std::sync::Arc;
/// use lmc::{Example, Module, Predict, RunCx, ScriptedLm, Signature};
///
/// let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"));
/// let predict = Predict::new("solve", Signature::parse("question -> answer: int")?);
/// let cx = RunCx::new().with_lm(lm.clone());
/// let inputs = Example::new().with("question", "2+2?");
/// let prediction = futures::executor::block_on(predict.forward(&cx, &inputs))?;
/// assert_eq!(prediction.get_as::<i64>("answer")?, 4);
/// assert_eq!(cx.trace()[0].predictor, "solve");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Predict {
    name: String,
    signature: Signature,
    adapter: AdapterKind,
    demos: Vec<Example>,
    lm: Option<Arc<dyn Lm>>,
    sampling: Sampling,
}

impl fmt::Debug for Predict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Predict")
            .field("name", &self.name)
            .field("signature", &self.signature.field_summary())
            .field("adapter", &self.adapter)
            .field("demos", &self.demos.len())
            .field("lm", &self.lm.as_ref().map(|lm| lm.identity()))
            .field("sampling", &self.sampling)
            .finish()
    }
}

impl Predict {
    /// A predictor called `name` for `signature`, with the chat adapter and no demos.
    pub fn new(name: impl Into<String>, signature: Signature) -> Self {
        Predict {
            name: name.into(),
            signature,
            adapter: AdapterKind::Chat,
            demos: Vec::new(),
            lm: None,
            sampling: Sampling::default(),
        }
    }

    /// Uses `adapter`.
    pub fn with_adapter(mut self, adapter: AdapterKind) -> Self {
        self.adapter = adapter;
        self
    }

    /// Uses `demos` as few-shot examples.
    pub fn with_demos(mut self, demos: Vec<Example>) -> Self {
        self.demos = demos;
        self
    }

    /// Replaces the signature's instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.set_instructions(instructions);
        self
    }

    /// Uses `lm` instead of the run's default LM.
    pub fn with_lm(mut self, lm: Arc<dyn Lm>) -> Self {
        self.lm = Some(lm);
        self
    }

    /// Uses these sampling settings over the run's defaults.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// The predictor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature (for a chain of thought, including `reasoning`).
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The adapter.
    pub fn adapter(&self) -> AdapterKind {
        self.adapter
    }

    /// The demos.
    pub fn demos(&self) -> &[Example] {
        &self.demos
    }

    /// The predictor's own LM, if it has one.
    pub fn lm(&self) -> Option<&Arc<dyn Lm>> {
        self.lm.as_ref()
    }

    /// The predictor's own sampling settings.
    pub fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    /// Installs `demos` (what an optimizer does with its winner).
    pub fn set_demos(&mut self, demos: Vec<Example>) {
        self.demos = demos;
    }

    /// Installs `instructions`.
    pub fn set_instructions(&mut self, instructions: impl Into<String>) {
        self.signature.set_instructions(instructions);
    }

    /// Switches the adapter.
    pub fn set_adapter(&mut self, adapter: AdapterKind) {
        self.adapter = adapter;
    }

    /// Sets (or with `None`, clears) the predictor's own LM.
    pub fn set_lm(&mut self, lm: Option<Arc<dyn Lm>>) {
        self.lm = lm;
    }

    /// Replaces the predictor's own sampling settings.
    pub fn set_sampling(&mut self, sampling: Sampling) {
        self.sampling = sampling;
    }

    /// The prompt this predictor sends for `inputs` under `overlay`.
    pub fn render(&self, overlay: Option<&Overlay>, inputs: &Fields) -> Prompt {
        let own = overlay.and_then(|o| o.get(&self.name));
        let signature = match own.and_then(|o| o.instructions.as_ref()) {
            Some(instructions) => Cow::Owned(self.signature.clone().with_instructions(instructions.clone())),
            None => Cow::Borrowed(&self.signature),
        };
        let demos = own.and_then(|o| o.demos.as_deref()).unwrap_or(&self.demos);
        self.adapter.adapter().format(&signature, demos, inputs)
    }

    fn check_inputs(&self, inputs: &Fields) -> Result<(), RunError> {
        for field in self.signature.inputs() {
            if !inputs.contains_key(&field.name) && !field.ty.allows_none() {
                return Err(RunError::MissingInput {
                    predictor: self.name.clone(),
                    field: field.name.clone(),
                    present: inputs.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }

    /// Calls the LM and parses the reply; records the call in `cx`'s trace either way.
    ///
    /// With `n > 1`, every completion is parsed; the prediction holds the first that parses
    /// and all that parse, and the trace notes the ones that did not.
    pub async fn call(&self, cx: &RunCx, inputs: &Fields) -> Result<Prediction, RunError> {
        let mut all = self.call_with(cx, inputs, |fields| Ok(fields.clone())).await?;
        let first = all.remove(0);
        Ok(if all.is_empty() {
            Prediction::new(first)
        } else {
            let mut completions = vec![first.clone()];
            completions.extend(all);
            Prediction::new(first).with_completions(completions)
        })
    }

    /// The core of [`Predict::call`]: calls the LM, parses every completion with the adapter,
    /// then converts the parsed fields with `convert` (typed predictors turn them into their
    /// output struct; a conversion failure is a parse failure that keeps the raw reply).
    /// Returns the converted completions that succeeded, at least one, in completion order.
    pub(crate) async fn call_with<T>(
        &self,
        cx: &RunCx,
        inputs: &Fields,
        convert: impl Fn(&Fields) -> Result<T, Vec<ParseProblem>>,
    ) -> Result<Vec<T>, RunError> {
        self.check_inputs(inputs)?;
        let lm = self.lm.as_ref().or(cx.lm()).ok_or_else(|| RunError::NoLm { predictor: self.name.clone() })?;
        let prompt = self.render(cx.overlay(), inputs);
        let request = LmRequest {
            messages: prompt.messages,
            sampling: self.sampling.or(cx.sampling()),
            rollout: cx.rollout(),
            response_format: prompt.response_format,
        };
        let started = Instant::now();
        let result = lm.complete(&request).await;
        let inputs_sent = self
            .signature
            .inputs()
            .iter()
            .filter_map(|f| inputs.get_key_value(&f.name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut entry = TraceEntry::sent(&self.name, inputs_sent, request, lm.identity());
        entry.latency = started.elapsed();
        let response = match result {
            Ok(response) => response,
            Err(source) => {
                entry.error = Some(source.to_string());
                cx.record(entry);
                return Err(RunError::Lm { predictor: self.name.clone(), source });
            }
        };
        entry.received(&response);
        if response.completions.is_empty() {
            let source = LmError::InvalidResponse {
                provider: entry.lm.provider.clone(),
                message: "the reply has no completions".to_string(),
            };
            entry.error = Some(source.to_string());
            cx.record(entry);
            return Err(RunError::Lm { predictor: self.name.clone(), source });
        }

        let adapter = self.adapter.adapter();
        let mut converted = Vec::with_capacity(response.completions.len());
        let mut first_error = None;
        for (i, completion) in response.completions.iter().enumerate() {
            let outcome = adapter.parse(&self.signature, &completion.text).and_then(|fields| match convert(&fields) {
                Ok(value) => Ok((fields, value)),
                Err(problems) => Err(ParseError::new(self.adapter, problems, &completion.text, fields)),
            });
            match outcome {
                Ok((fields, value)) => {
                    entry.outputs.get_or_insert(fields);
                    converted.push(value);
                }
                Err(e) => {
                    entry.rejected_completions.push(format!("completion {i}: {e}"));
                    first_error.get_or_insert(e);
                }
            }
        }
        if converted.is_empty() {
            // The reply has completions and none parsed, so there is a first error.
            let source = first_error.unwrap_or_else(|| ParseError::new(self.adapter, Vec::new(), "", Fields::new()));
            entry.error = Some(source.to_string());
            entry.rejected_completions.clear();
            cx.record(entry);
            return Err(RunError::Parse { predictor: self.name.clone(), source, usage: response.usage });
        }
        cx.record(entry);
        Ok(converted)
    }
}

impl Module for Predict {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(self.call(cx, inputs.fields()))
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![self]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![self]
    }
}
