//! `Refine`: BestOfN with feedback. After an attempt falls short, an LM call advises what to
//! change, and the next attempt sees that advice as a `hint_` input.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::best_of_n::{attempt_cx, finish, score_attempt, AttemptRun, RETRY_TEMPERATURE};
use super::{Module, Predict, Reward, RunCx, RunError, Sampled, TraceEntry};
use crate::data::{Example, Fields, Prediction};
use crate::signature::{Field, FieldType, Signature};

/// The input field the advice reaches the next attempt through (DSPy's name).
pub const HINT_FIELD: &str = "hint_";

/// The hint field's description, as DSPy's `Refine` declares it.
const HINT_DESCRIPTION: &str = "A hint to the module from an earlier run";

/// The advice predictor's instructions: DSPy 3.4.1's `OfferFeedback` docstring (DSPy is
/// MIT-licensed).
const OFFER_FEEDBACK_INSTRUCTIONS: &str = "In the discussion, assign blame to each module that contributed to the final reward being below the threshold, if\nany. Then, prescribe concrete advice of how the module should act on its future input when we retry the process, if\nit were to receive the same or similar inputs. If a module is not to blame, the advice should be N/A.\nThe module will not see its own history, so it needs to rely on entirely concrete and actionable advice from you\nto avoid the same mistake on the same or similar inputs.";

/// The name of the advice predictor of a Refine around the predictor `name`.
pub fn advice_name(name: &str) -> String {
    format!("{name}.advice")
}

/// DSPy's `OfferFeedback` signature: the program, its run and its reward in; a discussion and
/// advice per module out.
pub fn offer_feedback_signature() -> Signature {
    let input = |name: &str, ty: FieldType, desc: &str| Field::new(name, ty).with_description(desc);
    let str_ = || FieldType::Str;
    Signature::from_fields(
        vec![
            input("program_code", str_(), "The code of the program that we are analyzing"),
            input("modules_defn", str_(), "The definition of each module in the program, including its I/O"),
            input("program_inputs", str_(), "The inputs to the program that we are analyzing"),
            input("program_trajectory", str_(), "The trajectory of the program's execution, showing each module's I/O"),
            input("program_outputs", str_(), "The outputs of the program that we are analyzing"),
            input("reward_code", str_(), "The code of the reward function that we are analyzing"),
            input("target_threshold", FieldType::Float, "The target threshold for the reward function"),
            input("reward_value", FieldType::Float, "The reward value assigned to the program's outputs"),
            input(
                "module_names",
                FieldType::list(FieldType::Str),
                "The names of the modules in the program, for which we seek advice",
            ),
        ],
        vec![
            input("discussion", str_(), "Discussing blame of where each module went wrong, if it did"),
            input(
                "advice",
                FieldType::dict(FieldType::Str),
                "For each module, describe very concretely, in this order: the specific scenarios in which it has made mistakes in the past and what each mistake was, followed by what it should do differently in that and related scenarios in the future. If the module is not to blame, write N/A.",
            ),
        ],
    )
    .with_instructions(OFFER_FEEDBACK_INSTRUCTIONS)
}

/// Retries a predictor with advice: DSPy's `Refine`.
///
/// Runs like [`BestOfN`](super::BestOfN) (distinct rollouts, temperature 1.0 after the first
/// attempt, early stop at `threshold`, the best attempt when none reaches it, every call in
/// the trace). In addition, after each attempt that falls short (but the last), the advice
/// predictor `<name>.advice` (DSPy's `OfferFeedback` signature) reads the attempt's inputs,
/// trajectory, outputs and reward (with the reward's feedback) and writes advice per module;
/// the next attempt runs the predictor with an extra input, `hint_`, holding the advice for it.
///
/// Refine wraps one predictor (a `Predict` or a chain of thought's), which is what the hint is
/// added to. Both predictors are optimizable: [`Module::predictors`] returns the wrapped one and
/// the advice predictor.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::{reward_fn, Refine};
/// use lmc::{Example, Predict, RunCx, ScriptedLm, Signature};
///
/// let lm = Arc::new(ScriptedLm::new()
///     .when_user_contains("program_trajectory", "[[ ## discussion ## ]]\nToo long.\n\n[[ ## advice ## ]]\n{\"qa\": \"Answer with one word.\"}\n\n[[ ## completed ## ]]")
///     .when_user_contains("Answer with one word.", "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]")
///     .with_default("[[ ## answer ## ]]\nIt is Paris.\n\n[[ ## completed ## ]]"));
/// let qa = Predict::new("qa", Signature::parse("question -> answer")?);
/// let one_word = reward_fn("one_word", |_inputs, p| p.get("answer").and_then(|v| v.as_str()).is_some_and(|s| !s.contains(' ')));
/// let refine = Refine::new(qa, 3, one_word, 1.0);
/// let run = futures::executor::block_on(refine.forward_with_attempts(&RunCx::new().with_lm(lm.clone()), &Example::new().with("question", "Capital of France?")))?;
/// assert_eq!(run.prediction.get_as::<String>("answer")?, "Paris");
/// assert_eq!(run.attempts[1].hint.as_deref(), Some("Answer with one word."));
/// assert_eq!(lm.requests().len(), 3); // attempt, advice, attempt
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Refine {
    predict: Predict,
    advice: Predict,
    n: u32,
    reward: Arc<dyn Reward>,
    threshold: f64,
    temperature: f64,
}

impl fmt::Debug for Refine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refine")
            .field("predict", &self.predict.name())
            .field("advice", &self.advice.name())
            .field("n", &self.n)
            .field("reward", &self.reward.name())
            .field("threshold", &self.threshold)
            .field("temperature", &self.temperature)
            .finish()
    }
}

impl Refine {
    /// Up to `n` attempts of `predict` (at least one), scored by `reward`, with advice between
    /// them; an attempt scoring at least `threshold` stops the run. For a chain of thought, pass
    /// [`ChainOfThought::into_predict`](super::ChainOfThought::into_predict).
    pub fn new(predict: Predict, n: u32, reward: impl Reward + 'static, threshold: f64) -> Self {
        Self::with_shared_reward(predict, n, Arc::new(reward), threshold)
    }

    /// [`Refine::new`] with a shared reward.
    pub fn with_shared_reward(predict: Predict, n: u32, reward: Arc<dyn Reward>, threshold: f64) -> Self {
        let advice =
            Predict::new(advice_name(predict.name()), offer_feedback_signature()).with_adapter(predict.adapter());
        Refine { predict, advice, n: n.max(1), reward, threshold, temperature: RETRY_TEMPERATURE }
    }

    /// Runs the attempts after the first at `temperature` (default 1.0).
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// The most attempts.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// The reward that stops the run early.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The refined predictor.
    pub fn predict(&self) -> &Predict {
        &self.predict
    }

    /// The advice predictor (`<name>.advice`).
    pub fn advice(&self) -> &Predict {
        &self.advice
    }

    /// The refined predictor with the `hint_` input, for the attempts that have advice.
    fn hinted(&self) -> Result<Predict, RunError> {
        let p = &self.predict;
        let hint = Field::new(HINT_FIELD, FieldType::Str).with_description(HINT_DESCRIPTION);
        let signature = p.signature().clone().append_input(hint).map_err(|e| RunError::InvalidInput {
            predictor: p.name().to_string(),
            message: format!("cannot add the `{HINT_FIELD}` input: {}", e.message()),
        })?;
        let mut hinted = Predict::new(p.name(), signature)
            .with_adapter(p.adapter())
            .with_demos(p.demos().to_vec())
            .with_sampling(p.sampling().clone());
        hinted.set_lm(p.lm().cloned());
        Ok(hinted)
    }

    /// Asks the advice predictor what the predictor should change after `run` fell short.
    async fn advise(&self, cx: &RunCx, inputs: &Example, run: &AttemptRun) -> Option<String> {
        let name = self.predict.name();
        let trajectory: Vec<Value> = run
            .trace
            .iter()
            .filter(|e| e.predictor == name)
            .map(|e| json!({"module_name": e.predictor, "inputs": e.inputs, "outputs": e.outputs}))
            .collect();
        let outputs = run.prediction.as_ref().map_or(Value::Null, |p| Value::Object(p.fields().clone()));
        let reward_code = match run.attempt.reward.as_ref().and_then(|s| s.feedback.as_deref()) {
            Some(feedback) => format!("the reward `{}`; its feedback on these outputs: {feedback}", self.reward.name()),
            None => match &run.attempt.error {
                Some(error) => format!("the reward `{}`; the attempt failed: {error}", self.reward.name()),
                None => format!("the reward `{}`", self.reward.name()),
            },
        };
        let signature = self.predict.signature();
        let definition = format!("{name}: {}\n  instructions: {}", signature.field_summary(), signature.instructions());
        let pretty = crate::adapter::pyfmt::json_dumps_indent2;
        let mut fields = Fields::new();
        fields.insert("program_code".into(), format!("Refine around the predictor `{name}`").into());
        fields.insert("modules_defn".into(), definition.into());
        fields.insert("program_inputs".into(), pretty(&Value::Object(inputs.fields().clone())).into());
        fields.insert(
            "program_trajectory".into(),
            pretty(&json!({"program_inputs": inputs.fields(), "program_trajectory": trajectory, "program_outputs": outputs}))
                .into(),
        );
        fields.insert("program_outputs".into(), pretty(&outputs).into());
        fields.insert("reward_code".into(), reward_code.into());
        fields.insert("target_threshold".into(), self.threshold.into());
        fields.insert("reward_value".into(), run.attempt.reward.as_ref().map_or(0.0, |s| s.value).into());
        fields.insert("module_names".into(), json!([name]));
        // A failed advice call is in the trace; the next attempt then runs without a hint.
        let advice = self.advice.call(cx, &fields).await.ok()?;
        let text = match advice.get("advice")? {
            Value::Object(map) => map.get(name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        Some(text.unwrap_or_else(|| "N/A".to_string()))
    }

    /// Runs the attempts and returns the chosen prediction with every attempt's reward, hint
    /// and cost.
    pub async fn forward_with_attempts(&self, cx: &RunCx, inputs: &Example) -> Result<Sampled, RunError> {
        let mut runs: Vec<AttemptRun> = Vec::new();
        let mut advice_traces: Vec<Vec<TraceEntry>> = Vec::new();
        let mut hint: Option<String> = None;
        let hinted = self.hinted()?;
        for i in 0..self.n {
            let (acx, temperature) = attempt_cx(cx, self.n, i, self.temperature);
            let result = match &hint {
                None => self.predict.forward(&acx, inputs).await,
                Some(text) => {
                    let mut with_hint = inputs.clone();
                    with_hint.insert(HINT_FIELD, text.clone());
                    hinted.forward(&acx, &with_hint).await
                }
            };
            let run = score_attempt(&acx, temperature, hint.clone(), self.reward.as_ref(), inputs, result).await;
            let done =
                run.prediction.is_some() && run.attempt.reward.as_ref().is_some_and(|s| s.value >= self.threshold);
            let mut advice_trace = Vec::new();
            if !done && i + 1 < self.n {
                // The advice call runs at the attempt's rollout, so each is a distinct request.
                let advice_cx = acx.fork();
                hint = self.advise(&advice_cx, inputs, &run).await;
                advice_trace = advice_cx.trace();
            }
            runs.push(run);
            advice_traces.push(advice_trace);
            if done {
                break;
            }
        }
        finish(cx, "refine", self.n, self.threshold, runs, |i| advice_traces[i].clone())
    }
}

impl Module for Refine {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move { Ok(self.forward_with_attempts(cx, inputs).await?.prediction) })
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![&self.predict, &self.advice]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![&mut self.predict, &mut self.advice]
    }
}
