//! The LLM judge: a typed signature asked whether a prediction is correct.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{gold_value, predicted_value, value_text, Metric, MetricError, Score};
use crate::data::{Example, Prediction};
use crate::lm::{Lm, Sampling};
use crate::module::{RunCx, TraceEntry};
use crate::typed::Predict;

/// What the [`Judge`] asks its LM: given the task's inputs, the gold answer and the
/// prediction, is the prediction correct, and why.
#[derive(crate::Signature)]
#[signature(
    instructions = "Judge whether the predicted answer to a task is correct, using the gold answer as the reference. A prediction is correct when it gives the same answer as the gold answer, even if worded or formatted differently; it is incorrect when it gives a different answer, misses part of it, or adds claims that contradict it."
)]
pub struct JudgeSignature {
    /// The task's inputs, one `name: value` line each
    #[input]
    pub inputs: String,
    /// The reference answer
    #[input]
    pub gold: String,
    /// The answer to judge
    #[input]
    pub prediction: String,
    /// Briefly, why the prediction is or is not correct
    #[output]
    pub rationale: String,
    /// Whether the prediction is correct
    #[output]
    pub correct: bool,
}

/// An LLM judge: asks its own LM, through [`JudgeSignature`], whether the prediction's `field`
/// is correct given the task's inputs and the gold `field`. Scores 1 for correct and 0
/// otherwise, with the judge's rationale as feedback.
///
/// The judge's calls go through the `judge` run context passed to [`Metric::score`] (under
/// the predictor name `judge`), so their trace, usage and cost are judge cost, apart from the
/// program's. Its LM is its own (`--judge-lm`); the judge context's sampling applies unless
/// [`Judge::with_sampling`] sets the judge's own. A judge call that fails or replies in a form
/// that does not parse is [`MetricError::Judge`].
///
/// The task's inputs are the gold example's input fields when it marks any, else every field
/// but the scored one.
///
/// ```
/// use std::sync::Arc;
/// use lmc::metric::{Judge, Metric};
/// use lmc::{Example, Prediction, RunCx, ScriptedLm};
/// use serde_json::json;
///
/// let lm = Arc::new(ScriptedLm::new().with_default(
///     "[[ ## rationale ## ]]\nBoth name Paris.\n\n[[ ## correct ## ]]\nTrue\n\n[[ ## completed ## ]]",
/// ));
/// let judge = Judge::new("answer", lm);
/// let gold = Example::from_json(json!({"question": "Capital of France?", "answer": "Paris"}))?.with_inputs(["question"]);
/// let prediction = Prediction::from_json(json!({"answer": "It is Paris."}))?;
/// let judge_cx = RunCx::new();
/// let score = futures::executor::block_on(judge.score(&judge_cx, &gold, &prediction, &[]))?;
/// assert_eq!(score.value, 1.0);
/// assert_eq!(score.feedback.as_deref(), Some("Both name Paris."));
/// assert_eq!(judge_cx.totals().calls, 1); // judge cost, counted apart
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Judge {
    field: String,
    predict: Predict<JudgeSignature>,
}

impl Judge {
    /// The predictor name the judge's calls are traced under.
    pub const PREDICTOR: &'static str = "judge";

    /// A judge of `field` that asks `lm`.
    pub fn new(field: impl Into<String>, lm: Arc<dyn Lm>) -> Self {
        Judge { field: field.into(), predict: Predict::new(Self::PREDICTOR).with_lm(lm) }
    }

    /// Replaces the judge's instructions (the grading criteria).
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.predict = self.predict.with_instructions(instructions);
        self
    }

    /// Uses these sampling settings for the judge's calls, over the judge context's.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.predict = self.predict.with_sampling(sampling);
        self
    }

    /// The field judged.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The typed predictor the judge calls.
    pub fn predictor(&self) -> &Predict<JudgeSignature> {
        &self.predict
    }

    /// The judge's inputs for one example.
    fn judge_input(&self, gold: &Example, prediction: &Prediction) -> Result<JudgeSignatureInput, MetricError> {
        let gold_answer = gold_value(gold, &self.field)?;
        let predicted = predicted_value(prediction, &self.field)?;
        let fields = if gold.input_keys().is_empty() {
            gold.fields().iter().filter(|(k, _)| **k != self.field).map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            gold.inputs()
        };
        let lines: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {}", value_text(v))).collect();
        Ok(JudgeSignatureInput {
            inputs: if lines.is_empty() { "(none)".to_string() } else { lines.join("\n") },
            gold: answer_text(gold_answer),
            prediction: answer_text(predicted),
        })
    }
}

/// A gold or predicted value as the judge reads it: a list of acceptable answers is shown as
/// such.
fn answer_text(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => {
            let answers: Vec<String> = items.iter().map(value_text).collect();
            format!("any of: {}", answers.join(" | "))
        }
        other => value_text(other),
    }
}

impl Metric for Judge {
    fn name(&self) -> &str {
        "judge"
    }

    fn score<'a>(
        &'a self,
        judge: &'a RunCx,
        gold: &'a Example,
        prediction: &'a Prediction,
        _trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        Box::pin(async move {
            let input = self.judge_input(gold, prediction)?;
            let verdict = self.predict.call(judge, &input).await.map_err(MetricError::Judge)?;
            let score = Score::pass(verdict.correct);
            let rationale = verdict.rationale.trim();
            Ok(if rationale.is_empty() { score } else { score.with_feedback(rationale) })
        })
    }
}
