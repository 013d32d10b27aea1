//! Metrics: how well a prediction matches its gold example.
//!
//! A [`Metric`] sees the gold [`Example`], the [`Prediction`] and the run's trace, and returns
//! a [`Score`]: a value in `[0, 1]` and optional feedback saying what went wrong (optimizers
//! read it). Closures are metrics through [`metric_fn`]; the built-ins each score one output
//! field against the gold example's value under the same name:
//!
//! | metric | registry name | scores |
//! |---|---|---|
//! | [`ExactMatch`] | `exact_match`, `em` | SQuAD-normalized equality (a gold list is a list of acceptable answers) |
//! | [`F1`] | `f1` | SQuAD token F1, best over a gold list |
//! | [`Contains`] | `contains` | the normalized gold appears in the normalized prediction |
//! | [`Numeric`] | `numeric` | the last number of each side, with a tolerance (GSM8K's `#### 42` too) |
//! | [`JsonValid`] | `json_valid` | the prediction is JSON |
//! | [`SchemaValid`] | `schema_valid` | the prediction fits a JSON Schema (a documented subset) |
//! | [`Judge`] | `judge` | an LLM judge built from a typed signature; its cost is judge cost |
//!
//! [`from_spec`] and [`from_spec_with_judge`] build a metric from a [`MetricSpec`] (the
//! `metric` table of an eval file, or `--metric NAME` on the command line).
//!
//! ```
//! use lmc::metric::{metric_fn, ExactMatch, Metric, Numeric, Score};
//! use lmc::{Example, Prediction, RunCx};
//! use serde_json::json;
//!
//! let gold = Example::from_json(json!({"question": "2+2?", "answer": "Janet has 4 apples. #### 4"}))?;
//! let prediction = Prediction::from_json(json!({"answer": "The answer is 4."}))?;
//! let judge = RunCx::new(); // only the LLM judge calls an LM
//!
//! let numeric = Numeric::new("answer");
//! let score = futures::executor::block_on(numeric.score(&judge, &gold, &prediction, &[]))?;
//! assert_eq!(score.value, 1.0);
//!
//! let em = ExactMatch::new("answer");
//! let score = futures::executor::block_on(em.score(&judge, &gold, &prediction, &[]))?;
//! assert_eq!(score.value, 0.0);
//! assert!(score.feedback.is_some());
//!
//! // Closures are metrics: return a Score, a bool, an f64 or a Result<Score, MetricError>.
//! let short = metric_fn("short", |_gold, prediction, _trace| {
//!     prediction.get("answer").and_then(|v| v.as_str()).is_some_and(|s| s.len() < 20)
//! });
//! let score = futures::executor::block_on(short.score(&judge, &gold, &prediction, &[]))?;
//! assert_eq!(score, Score::pass(true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// `impl Metric` for a metric that scores synchronously from the gold and the prediction
/// alone (every built-in but the judge): its `score_now(&self, gold, prediction)` does the work.
macro_rules! sync_metric {
    ($ty:ty, $name:literal) => {
        impl $crate::metric::Metric for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn score<'a>(
                &'a self,
                _judge: &'a $crate::module::RunCx,
                gold: &'a $crate::data::Example,
                prediction: &'a $crate::data::Prediction,
                _trace: &'a [$crate::module::TraceEntry],
            ) -> futures::future::BoxFuture<'a, Result<$crate::metric::Score, $crate::metric::MetricError>> {
                Box::pin(std::future::ready(self.score_now(gold, prediction)))
            }
        }
    };
}

mod json;
mod judge;
mod numeric;
mod pattern;
mod registry;
mod text;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::{Example, Prediction};
use crate::module::{RunCx, RunError, TraceEntry};

pub use json::{JsonValid, SchemaValid};
pub use judge::{Judge, JudgeSignature, JudgeSignatureInput, JudgeSignatureOutput};
pub use numeric::{last_number, Numeric};
pub use pattern::Regex;
pub use registry::{from_spec, from_spec_with_judge, MetricSpec, METRIC_NAMES};
pub use text::{normalize_text, token_f1, Contains, ExactMatch, F1};

/// A metric's verdict on one prediction: a value in `[0, 1]` and, optionally, feedback that
/// says what was wrong (`expected 42, got 41`) for people and optimizers to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The score, in `[0, 1]`; 1 is best.
    pub value: f64,
    /// What went wrong (or right), when the metric can say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

impl Score {
    /// A score of `value`, clamped to `[0, 1]`. NaN becomes 0 (use [`Score::try_new`] to treat
    /// it as an error instead).
    pub fn new(value: f64) -> Self {
        let value = if value.is_nan() { 0.0 } else { value.clamp(0.0, 1.0) };
        Score { value, feedback: None }
    }

    /// A score of `value`, clamped to `[0, 1]`; NaN is [`MetricError::Invalid`].
    pub fn try_new(value: f64) -> Result<Self, MetricError> {
        if value.is_nan() {
            return Err(MetricError::Invalid("the metric returned NaN; scores must be numbers in [0, 1]".to_string()));
        }
        Ok(Score::new(value))
    }

    /// 1 when `passed`, else 0.
    pub fn pass(passed: bool) -> Self {
        Score { value: if passed { 1.0 } else { 0.0 }, feedback: None }
    }

    /// The same score with `feedback`.
    pub fn with_feedback(mut self, feedback: impl Into<String>) -> Self {
        self.feedback = Some(feedback.into());
        self
    }
}

/// Why a metric could not score a prediction (as opposed to scoring it 0).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The gold example has no value (or a null one) for the scored field.
    #[error(
        "the gold example has no `{field}` to score against: add a `{field}` label to the dataset (or map a column to it), or score another field"
    )]
    MissingGold {
        /// The scored field.
        field: String,
    },
    /// The prediction has no value for the scored field.
    #[error(
        "the prediction has no `{field}` field to score: check that the program's signature outputs `{field}`, or score another field"
    )]
    MissingPrediction {
        /// The scored field.
        field: String,
    },
    /// The LLM judge's call failed, or its reply did not parse.
    #[error("the LLM judge failed: {}", .0.report())]
    Judge(RunError),
    /// A bad metric specification or bad data: the message says what to fix.
    #[error("{0}")]
    Invalid(String),
}

impl From<RunError> for MetricError {
    fn from(error: RunError) -> Self {
        MetricError::Judge(error)
    }
}

/// Scores one prediction against its gold example.
///
/// Metrics are object safe and shared across concurrent evaluations (`Send + Sync`).
/// Implement [`Metric::score`] with `Box::pin(async move { ... })`, or use [`metric_fn`] for a
/// synchronous closure.
pub trait Metric: Send + Sync {
    /// The metric's name, as reports show it (`exact_match`, `numeric`, ...).
    fn name(&self) -> &str;

    /// Scores `prediction` against `gold`, given the `trace` of the program's calls for this
    /// example.
    ///
    /// `judge` is the run context a metric uses for its own LM calls (the LLM judge): its
    /// usage and cost are judge cost, kept apart from program cost. Metrics that call no LM
    /// ignore it.
    fn score<'a>(
        &'a self,
        judge: &'a RunCx,
        gold: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>>;
}

impl<M: Metric + ?Sized> Metric for Box<M> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn score<'a>(
        &'a self,
        judge: &'a RunCx,
        gold: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        (**self).score(judge, gold, prediction, trace)
    }
}

impl<M: Metric + ?Sized> Metric for Arc<M> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn score<'a>(
        &'a self,
        judge: &'a RunCx,
        gold: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        (**self).score(judge, gold, prediction, trace)
    }
}

/// What a metric closure may return: a [`Score`], a `bool` (pass/fail), an `f64` (clamped to
/// `[0, 1]`; NaN is an error) or a `Result<Score, MetricError>`.
pub trait IntoScore {
    /// The score, or why there is none.
    fn into_score(self) -> Result<Score, MetricError>;
}

impl IntoScore for Score {
    fn into_score(self) -> Result<Score, MetricError> {
        Ok(self)
    }
}

impl IntoScore for bool {
    fn into_score(self) -> Result<Score, MetricError> {
        Ok(Score::pass(self))
    }
}

impl IntoScore for f64 {
    fn into_score(self) -> Result<Score, MetricError> {
        Score::try_new(self)
    }
}

impl IntoScore for Result<Score, MetricError> {
    fn into_score(self) -> Result<Score, MetricError> {
        self
    }
}

/// A synchronous closure as a [`Metric`]; made by [`metric_fn`].
pub struct FnMetric<F> {
    name: String,
    f: F,
}

impl<F> fmt::Debug for FnMetric<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnMetric").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<F, R> FnMetric<F>
where
    F: Fn(&Example, &Prediction, &[TraceEntry]) -> R + Send + Sync + 'static,
    R: IntoScore,
{
    /// A metric called `name` that scores with `f(gold, prediction, trace)`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnMetric { name: name.into(), f }
    }
}

impl<F, R> Metric for FnMetric<F>
where
    F: Fn(&Example, &Prediction, &[TraceEntry]) -> R + Send + Sync + 'static,
    R: IntoScore,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn score<'a>(
        &'a self,
        _judge: &'a RunCx,
        gold: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        let result = (self.f)(gold, prediction, trace).into_score();
        Box::pin(std::future::ready(result))
    }
}

/// A closure `f(gold, prediction, trace)` as a metric called `name`. The closure returns
/// anything [`IntoScore`]: a [`Score`], a `bool`, an `f64` or a `Result<Score, MetricError>`.
///
/// ```
/// use lmc::metric::{metric_fn, Metric, Score};
/// use lmc::{Example, Prediction, RunCx};
/// use serde_json::json;
///
/// let same = metric_fn("same_label", |gold, prediction, _trace| {
///     let (g, p) = (gold.get("label"), prediction.get("label"));
///     Score::pass(g == p).with_feedback(format!("expected {g:?}, got {p:?}"))
/// });
/// let gold = Example::from_json(json!({"label": "spam"}))?;
/// let prediction = Prediction::from_json(json!({"label": "ham"}))?;
/// let score = futures::executor::block_on(same.score(&RunCx::new(), &gold, &prediction, &[]))?;
/// assert_eq!(score.value, 0.0);
/// assert_eq!(same.name(), "same_label");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn metric_fn<F, R>(name: impl Into<String>, f: F) -> FnMetric<F>
where
    F: Fn(&Example, &Prediction, &[TraceEntry]) -> R + Send + Sync + 'static,
    R: IntoScore,
{
    FnMetric::new(name, f)
}

/// The gold value of `field`; absent or null is [`MetricError::MissingGold`].
fn gold_value<'a>(gold: &'a Example, field: &str) -> Result<&'a Value, MetricError> {
    match gold.get(field) {
        None | Some(Value::Null) => Err(MetricError::MissingGold { field: field.to_string() }),
        Some(value) => Ok(value),
    }
}

/// The predicted value of `field`; absent is [`MetricError::MissingPrediction`] (a null
/// value is present, and scores as empty text).
fn predicted_value<'a>(prediction: &'a Prediction, field: &str) -> Result<&'a Value, MetricError> {
    prediction.get(field).ok_or_else(|| MetricError::MissingPrediction { field: field.to_string() })
}

/// A value as text, the way DSPy's `str()` renders it; null is empty text.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => crate::adapter::pyfmt::py_str(other),
    }
}

/// The acceptable gold answers of `field`: each element of a JSON array, else the one value.
fn gold_texts(gold: &Example, field: &str) -> Result<Vec<String>, MetricError> {
    match gold_value(gold, field)? {
        Value::Array(items) if items.is_empty() => Err(MetricError::Invalid(format!(
            "the gold `{field}` is an empty list: give at least one acceptable answer"
        ))),
        Value::Array(items) => Ok(items.iter().map(value_text).collect()),
        other => Ok(vec![value_text(other)]),
    }
}

/// Shortens `text` for feedback (at most `max` characters, with an ellipsis).
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
