//! `VerifyReward`: an LM that checks an attempt, as a reward for
//! [`BestOfN`](super::BestOfN) and [`Refine`](super::Refine) when there is no gold answer to
//! compare with.

use futures::future::BoxFuture;

use super::{Predict, Reward, RunCx, TraceEntry};
use crate::adapter::AdapterKind;
use crate::data::{Example, Fields, Prediction};
use crate::metric::{MetricError, Score};
use crate::signature::{Signature, SignatureError};

/// The verifier's output field.
pub const VERIFY_FIELD: &str = "correct";

/// The verifier's instructions (`{field}` is the output it checks).
const INSTRUCTIONS: &str = "Check the proposed `{field}` against the inputs: work the task out \
yourself, then say whether the proposed `{field}` is correct. Answer True only if it is.";

/// The name of a step's verifier predictor: `<step>.verify`.
pub fn verify_name(step: &str) -> String {
    format!("{step}.verify")
}

/// Asks an LM (the run's, through the attempt's context, so its calls are program cost)
/// whether an attempt's `field` is correct for the inputs: reward 1 when it says so, else 0
/// with feedback. Verifying is often easier than solving, so a verifier can pick the right
/// attempt where a format check cannot; it is still an LM, and can be wrong both ways.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::{Reward, VerifyReward};
/// use lmc::{Example, Prediction, RunCx, ScriptedLm, Signature};
/// use serde_json::json;
///
/// let step = Signature::parse("question -> answer")?;
/// let verify = VerifyReward::for_step("solve", &step, "answer", Default::default())?;
/// let lm = Arc::new(ScriptedLm::new().with_default("[[ ## correct ## ]]\nFalse\n\n[[ ## completed ## ]]"));
/// let cx = RunCx::new().with_lm(lm);
/// let inputs = Example::new().with("question", "2+2?");
/// let attempt = Prediction::from_json(json!({"answer": "5"}))?;
/// let score = futures::executor::block_on(verify.reward(&cx, &inputs, &attempt, &[]))?;
/// assert_eq!(score.value, 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct VerifyReward {
    predict: Predict,
    field: String,
}

impl VerifyReward {
    /// The verifier of `field` for the step `step` whose predictor signature is `signature`:
    /// it reads the step's inputs and the proposed `field`, and answers `correct: bool`.
    pub fn for_step(
        step: &str,
        signature: &Signature,
        field: &str,
        adapter: AdapterKind,
    ) -> Result<Self, SignatureError> {
        let mut inputs: Vec<&str> = signature.input_names().collect();
        inputs.push(field);
        let text = format!("{} -> {VERIFY_FIELD}: bool", inputs.join(", "));
        let verifier = Signature::parse(&text)?.with_instructions(INSTRUCTIONS.replace("{field}", field));
        Ok(VerifyReward {
            predict: Predict::new(verify_name(step), verifier).with_adapter(adapter),
            field: field.into(),
        })
    }

    /// The verifier predictor (`<step>.verify`).
    pub fn predict(&self) -> &Predict {
        &self.predict
    }
}

impl Reward for VerifyReward {
    fn name(&self) -> &str {
        "verify"
    }

    fn reward<'a>(
        &'a self,
        cx: &'a RunCx,
        inputs: &'a Example,
        prediction: &'a Prediction,
        _trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        Box::pin(async move {
            let Some(proposed) = prediction.get(&self.field) else {
                return Ok(Score::pass(false).with_feedback(format!("the attempt has no `{}`", self.field)));
            };
            let mut shown: Fields = inputs.fields().clone();
            shown.insert(self.field.clone(), proposed.clone());
            let verdict = self
                .predict
                .call(cx, &shown)
                .await
                .map_err(|e| MetricError::Invalid(format!("the verifier failed: {e}")))?;
            let correct = verdict.get(VERIFY_FIELD).and_then(|v| v.as_bool()).unwrap_or(false);
            Ok(if correct {
                Score::pass(true)
            } else {
                Score::pass(false).with_feedback(format!("the verifier judged the `{}` incorrect", self.field))
            })
        })
    }
}
