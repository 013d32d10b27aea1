//! `MultiChainComparison`: reads several reasoning attempts and writes a corrected rationale
//! and a final answer, as DSPy's module of the same name.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Module, Predict, RunCx, RunError};
use crate::adapter::pyfmt::{py_str, py_strip};
use crate::data::{Example, Fields, Prediction};
use crate::lm::Sampling;
use crate::signature::{Field, FieldType, Signature, SignatureError};

/// The input key [`Module::forward`] reads the attempts from: a JSON array of objects.
pub const COMPLETIONS_KEY: &str = "completions";

/// DSPy's default temperature for the comparison.
pub const COMPARISON_TEMPERATURE: f64 = 0.7;

/// Compares `m` reasoning attempts and answers: DSPy's `MultiChainComparison`.
///
/// The signature gains `m` inputs `reasoning_attempt_1..m` (prefix `Student Attempt #i:`) and a
/// first output `rationale` (prefix `Accurate Reasoning: Thank you everyone. Let's step back
/// and holistically`), as in DSPy. Each attempt is rendered as DSPy renders it:
/// `«I'm trying to <first line of its reasoning> I'm not sure but my prediction is <first line
/// of its answer>»`, where the answer is the signature's last output. The predictor runs at
/// temperature 0.7 unless given other sampling.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::MultiChainComparison;
/// use lmc::{Example, Fields, RunCx, ScriptedLm, Signature};
/// use serde_json::json;
///
/// let lm = Arc::new(ScriptedLm::new().with_default(
///     "[[ ## rationale ## ]]\nmost say 4\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]",
/// ));
/// let mcc = MultiChainComparison::new("compare", Signature::parse("question -> answer")?, 2)?;
/// let attempts: Vec<Fields> = vec![
///     json!({"reasoning": "add 2 and 2", "answer": "4"}).as_object().unwrap().clone(),
///     json!({"reasoning": "double 2", "answer": "5"}).as_object().unwrap().clone(),
/// ];
/// let cx = RunCx::new().with_lm(lm.clone());
/// let out = futures::executor::block_on(mcc.compare(&cx, &attempts, &Example::new().with("question", "2+2?")))?;
/// assert_eq!(out.get_as::<String>("answer")?, "4");
/// assert!(lm.requests()[0].last_user_message().unwrap()
///     .contains("«I'm trying to double 2 I'm not sure but my prediction is 5»"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiChainComparison {
    predict: Predict,
    m: usize,
    last_key: String,
}

impl MultiChainComparison {
    /// A comparison called `name` of `m` attempts at `signature`.
    pub fn new(name: impl Into<String>, signature: Signature, m: usize) -> Result<Self, SignatureError> {
        let last_key = signature
            .outputs()
            .last()
            .map(|f| f.name.clone())
            .ok_or_else(|| SignatureError::invalid("MultiChainComparison needs a signature with an output"))?;
        let mut signature = signature;
        for i in 1..=m {
            signature = signature.append_input(
                Field::new(format!("reasoning_attempt_{i}"), FieldType::Str)
                    .with_prefix(format!("Student Attempt #{i}:"))
                    .with_description("${reasoning attempt}"),
            )?;
        }
        signature = signature.prepend_output(
            Field::new("rationale", FieldType::Str)
                .with_prefix("Accurate Reasoning: Thank you everyone. Let's step back and holistically")
                .with_description("${corrected reasoning}"),
        )?;
        let sampling = Sampling { temperature: Some(COMPARISON_TEMPERATURE), ..Sampling::default() };
        Ok(MultiChainComparison { predict: Predict::new(name, signature).with_sampling(sampling), m, last_key })
    }

    /// The number of attempts compared.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The predictor.
    pub fn predict(&self) -> &Predict {
        &self.predict
    }

    /// The predictor, mutably (to set its LM or sampling).
    pub fn predict_mut(&mut self) -> &mut Predict {
        &mut self.predict
    }

    /// One attempt as DSPy renders it for the comparison. Fails when the attempt has neither
    /// `rationale` nor `reasoning`, or lacks the answer.
    pub fn render_attempt(&self, attempt: &Fields) -> Result<String, RunError> {
        let missing = |field: &str| RunError::InvalidInput {
            predictor: self.predict.name().to_string(),
            message: format!("an attempt has no `{field}`: attempts need a reasoning and the answer"),
        };
        let rationale =
            attempt.get("rationale").or_else(|| attempt.get("reasoning")).ok_or_else(|| missing("reasoning"))?;
        let answer = attempt.get(&self.last_key).ok_or_else(|| missing(&self.last_key))?;
        let first_line = |v: &Value| {
            let text = py_str(v);
            py_strip(py_strip(&text).split('\n').next().unwrap_or("")).to_string()
        };
        Ok(format!(
            "«I'm trying to {} I'm not sure but my prediction is {}»",
            first_line(rationale),
            first_line(answer)
        ))
    }

    /// Compares `attempts` (exactly `m`, each with a reasoning and the answer) for `inputs`.
    pub async fn compare(&self, cx: &RunCx, attempts: &[Fields], inputs: &Example) -> Result<Prediction, RunError> {
        if attempts.len() != self.m {
            return Err(RunError::InvalidInput {
                predictor: self.predict.name().to_string(),
                message: format!("the number of attempts ({}) must equal m ({})", attempts.len(), self.m),
            });
        }
        let mut fields = Fields::new();
        for (i, attempt) in attempts.iter().enumerate() {
            fields.insert(format!("reasoning_attempt_{}", i + 1), self.render_attempt(attempt)?.into());
        }
        for (k, v) in inputs.fields() {
            if k != COMPLETIONS_KEY {
                fields.insert(k.clone(), v.clone());
            }
        }
        self.predict.call(cx, &fields).await
    }
}

impl Module for MultiChainComparison {
    /// Reads the attempts from the `completions` input (a JSON array of objects); without one,
    /// the inputs must hold the `reasoning_attempt_i` fields already.
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            match inputs.get(COMPLETIONS_KEY) {
                Some(Value::Array(items)) => {
                    let attempts: Option<Vec<Fields>> = items.iter().map(|v| v.as_object().cloned()).collect();
                    let attempts = attempts.ok_or_else(|| RunError::InvalidInput {
                        predictor: self.predict.name().to_string(),
                        message: format!("`{COMPLETIONS_KEY}` must be a list of objects"),
                    })?;
                    self.compare(cx, &attempts, inputs).await
                }
                _ => self.predict.call(cx, inputs.fields()).await,
            }
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![&self.predict]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![&mut self.predict]
    }
}
