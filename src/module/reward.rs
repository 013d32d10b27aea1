//! `Reward`: how [`BestOfN`](super::BestOfN) and [`Refine`](super::Refine) judge an attempt
//! at inference time, from the inputs and the prediction alone (there is no gold label).

use std::fmt;

use futures::future::BoxFuture;

use super::{RunCx, TraceEntry};
use crate::data::{Example, Prediction};
use crate::metric::{self, IntoScore, Metric, MetricError, MetricSpec, Score};

/// The registered metrics that need no gold label, and so can be rewards at inference time.
/// Label-based metrics (`exact_match`, `f1`, `contains`, `numeric`, `judge`) compare with a
/// gold answer a running program does not have.
pub const REWARD_METRICS: &[&str] = &["regex", "json_valid", "schema_valid"];

/// Scores one attempt of a module from its inputs and prediction: DSPy's `reward_fn(args,
/// pred)`. A value in `[0, 1]`; the feedback, when given, is shown to [`Refine`](super::Refine)'s
/// advice call.
///
/// Closures are rewards through [`reward_fn`]; a no-gold metric is one through
/// [`MetricReward`].
pub trait Reward: Send + Sync {
    /// The reward's name, for reports and the advice prompt.
    fn name(&self) -> &str;

    /// Scores `prediction` for `inputs`, given the `trace` of the attempt's calls. LM calls
    /// the reward makes go through `cx` (the attempt's context), so they count as program cost.
    fn reward<'a>(
        &'a self,
        cx: &'a RunCx,
        inputs: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>>;
}

/// A synchronous closure `f(inputs, prediction)` as a [`Reward`]; made by [`reward_fn`].
pub struct FnReward<F> {
    name: String,
    f: F,
}

impl<F> fmt::Debug for FnReward<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnReward").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<F, R> Reward for FnReward<F>
where
    F: Fn(&Example, &Prediction) -> R + Send + Sync,
    R: IntoScore,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn reward<'a>(
        &'a self,
        _cx: &'a RunCx,
        inputs: &'a Example,
        prediction: &'a Prediction,
        _trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        Box::pin(std::future::ready((self.f)(inputs, prediction).into_score()))
    }
}

/// A closure `f(inputs, prediction)` as a reward called `name`; it returns anything
/// [`IntoScore`]: a [`Score`], a `bool`, an `f64` or a `Result<Score, MetricError>`.
///
/// ```
/// use lmc::module::{reward_fn, Reward};
/// use lmc::{Example, Prediction, RunCx};
/// use serde_json::json;
///
/// let short = reward_fn("one_word", |_inputs, prediction| {
///     prediction.get("answer").and_then(|v| v.as_str()).is_some_and(|s| !s.contains(' '))
/// });
/// let prediction = Prediction::from_json(json!({"answer": "Paris"}))?;
/// let score = futures::executor::block_on(short.reward(&RunCx::new(), &Example::new(), &prediction, &[]))?;
/// assert_eq!(score.value, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reward_fn<F, R>(name: impl Into<String>, f: F) -> FnReward<F>
where
    F: Fn(&Example, &Prediction) -> R + Send + Sync,
    R: IntoScore,
{
    FnReward { name: name.into(), f }
}

/// A [`Metric`] used as a reward: it scores the prediction with the *inputs* in place of the
/// gold example. Meant for metrics that read no gold ([`REWARD_METRICS`]); a label-based one
/// fails with [`MetricError::MissingGold`] on every attempt.
pub struct MetricReward {
    metric: Box<dyn Metric>,
}

impl fmt::Debug for MetricReward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricReward").field("metric", &self.metric.name()).finish()
    }
}

impl MetricReward {
    /// `metric` as a reward.
    pub fn new(metric: Box<dyn Metric>) -> Self {
        MetricReward { metric }
    }

    /// The registered no-gold metric `spec` names, as a reward. Fails with
    /// [`MetricError::Invalid`] on a label-based metric (the message says why) or a bad spec.
    ///
    /// ```
    /// use lmc::metric::MetricSpec;
    /// use lmc::module::MetricReward;
    ///
    /// assert!(MetricReward::from_spec(&MetricSpec::new("json_valid", "answer")).is_ok());
    /// let err = MetricReward::from_spec(&MetricSpec::new("exact_match", "answer")).unwrap_err();
    /// assert!(err.to_string().contains("gold"));
    /// ```
    pub fn from_spec(spec: &MetricSpec) -> Result<Self, MetricError> {
        let name = spec.name.trim().to_lowercase().replace('-', "_");
        if !REWARD_METRICS.contains(&name.as_str()) {
            return Err(MetricError::Invalid(format!(
                "`{}` cannot be a reward: it compares with a gold label, which a running program does not have; \
                 a reward is one of {} (or, from Rust, any closure over the inputs and the prediction)",
                spec.name,
                REWARD_METRICS.join(", ")
            )));
        }
        Ok(MetricReward { metric: metric::from_spec(spec)? })
    }
}

impl Reward for MetricReward {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn reward<'a>(
        &'a self,
        cx: &'a RunCx,
        inputs: &'a Example,
        prediction: &'a Prediction,
        trace: &'a [TraceEntry],
    ) -> BoxFuture<'a, Result<Score, MetricError>> {
        self.metric.score(cx, inputs, prediction, trace)
    }
}
