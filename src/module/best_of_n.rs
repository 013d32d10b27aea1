//! `BestOfN`: runs a module up to n times on distinct rollouts and keeps the best attempt by a
//! reward, stopping early once an attempt reaches the threshold.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Module, Predict, Reward, RunCx, RunError, RunTotals, TraceEntry};
use crate::data::{Example, Prediction};
use crate::lm::Sampling;
use crate::metric::Score;

/// The temperature of every attempt after the first, unless set otherwise (DSPy's choice).
pub const RETRY_TEMPERATURE: f64 = 1.0;

/// One attempt of a [`BestOfN`] or [`Refine`](super::Refine) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The rollout index its requests were sent with.
    pub rollout: u32,
    /// The temperature it ran at, when the wrapper set one (attempts after the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The reward; `None` when the module or the reward failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<Score>,
    /// Why the module or the reward failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The hint it was given (Refine's advice from the attempt before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The attempt's calls (the module's and the reward's; Refine's advice calls are apart).
    pub totals: RunTotals,
}

/// What a [`BestOfN`] or [`Refine`](super::Refine) run returns besides the prediction: every
/// attempt with its reward and cost, which one was chosen, and whether it reached the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The chosen attempt's prediction: the first to reach the threshold, else the best.
    pub prediction: Prediction,
    /// Every attempt made, in order.
    pub attempts: Vec<Attempt>,
    /// The index of the chosen attempt in `attempts`.
    pub chosen: usize,
    /// Whether the chosen attempt reached the threshold. `false` flags a run whose every
    /// attempt fell short: the prediction is the best of them.
    pub reached_threshold: bool,
}

impl Sampled {
    /// The chosen attempt's reward value (0 when the reward failed on it).
    pub fn reward(&self) -> f64 {
        self.attempts[self.chosen].reward.as_ref().map_or(0.0, |s| s.value)
    }

    /// Whether every attempt fell short of the threshold.
    pub fn all_failed(&self) -> bool {
        !self.reached_threshold
    }
}

/// One attempt's outcome, before the choice: its prediction (if any) and its own trace.
pub(super) struct AttemptRun {
    pub(super) attempt: Attempt,
    pub(super) prediction: Option<Prediction>,
    pub(super) trace: Vec<TraceEntry>,
    pub(super) failure: Option<RunError>,
}

impl AttemptRun {
    /// The value the choice ranks by: the reward, below any reward when there is none.
    pub(super) fn rank(&self) -> f64 {
        match (&self.prediction, &self.attempt.reward) {
            (Some(_), Some(score)) => score.value,
            (Some(_), None) => -1.0,
            (None, _) => f64::NEG_INFINITY,
        }
    }
}

/// The rollout of attempt `i` of `n` under a context at rollout `base`: distinct across the
/// attempts and across the context's own rollouts (Evaluate's repeats), so that an LM cache
/// never serves one attempt's reply to another.
pub(super) fn rollout_of(base: u32, n: u32, i: u32) -> u32 {
    base.saturating_mul(n).saturating_add(i)
}

/// The context for attempt `i`: a fork (own trace) at its rollout, and after the first
/// attempt at `retry_temperature`.
pub(super) fn attempt_cx(cx: &RunCx, n: u32, i: u32, retry_temperature: f64) -> (RunCx, Option<f64>) {
    let fork = cx.fork().with_rollout(rollout_of(cx.rollout(), n, i));
    if i == 0 {
        return (fork, None);
    }
    let sampling = Sampling { temperature: Some(retry_temperature), ..cx.sampling().clone() };
    (fork.with_sampling(sampling), Some(retry_temperature))
}

/// Runs `run` (the module's forward in `acx`), then scores its prediction with `reward`.
pub(super) async fn score_attempt(
    acx: &RunCx,
    temperature: Option<f64>,
    hint: Option<String>,
    reward: &dyn Reward,
    inputs: &Example,
    result: Result<Prediction, RunError>,
) -> AttemptRun {
    let (prediction, score, error, failure) = match result {
        Err(e) => (None, None, Some(e.report()), Some(e)),
        Ok(prediction) => {
            let trace = acx.trace();
            match reward.reward(acx, inputs, &prediction, &trace).await {
                Ok(score) => (Some(prediction), Some(score), None, None),
                Err(e) => (Some(prediction), None, Some(format!("the reward `{}` failed: {e}", reward.name())), None),
            }
        }
    };
    AttemptRun {
        attempt: Attempt { rollout: acx.rollout(), temperature, reward: score, error, hint, totals: acx.totals() },
        prediction,
        trace: acx.trace(),
        failure,
    }
}

/// Copies an attempt's calls into the caller's context, so that its trace and totals hold
/// every attempt. The calls of an attempt that was not chosen keep their cost and raw replies
/// but lose their parsed outputs (with a note saying why), so that nothing downstream, such
/// as bootstrapping demos from a passing run, reads them as the program's outputs.
pub(super) fn record_attempt(cx: &RunCx, wrapper: &str, run: &AttemptRun, index: usize, chosen: usize, n: u32) {
    for entry in &run.trace {
        let mut entry = entry.clone();
        if index != chosen && entry.outputs.is_some() {
            entry.outputs = None;
            let reward = run.attempt.reward.as_ref().map_or("none".to_string(), |s| format!("{:.3}", s.value));
            entry.rejected_completions.push(format!(
                "not chosen by {wrapper}: attempt {} of {n} (reward {reward}); attempt {} was chosen",
                index + 1,
                chosen + 1
            ));
        }
        cx.record(entry);
    }
}

/// The attempt to keep: the highest rank, the earliest among equals.
pub(super) fn choose(runs: &[AttemptRun]) -> usize {
    let mut best = 0;
    for (i, run) in runs.iter().enumerate() {
        if run.rank() > runs[best].rank() {
            best = i;
        }
    }
    best
}

/// Records every attempt in `cx` and returns the chosen one, or the last error when every
/// attempt failed.
pub(super) fn finish(
    cx: &RunCx,
    wrapper: &str,
    n: u32,
    threshold: f64,
    runs: Vec<AttemptRun>,
    extra: impl Fn(usize) -> Vec<TraceEntry>,
) -> Result<Sampled, RunError> {
    let chosen = choose(&runs);
    for (i, run) in runs.iter().enumerate() {
        record_attempt(cx, wrapper, run, i, chosen, n);
        for entry in extra(i) {
            cx.record(entry);
        }
    }
    let mut runs = runs;
    if runs[chosen].prediction.is_none() {
        // Every attempt failed to run: report the last failure.
        let last = runs.len() - 1;
        if let Some(e) = runs[last].failure.take() {
            return Err(e);
        }
    }
    let reached_threshold = runs[chosen].attempt.reward.as_ref().is_some_and(|s| s.value >= threshold);
    let prediction = runs[chosen].prediction.take().unwrap_or_default();
    Ok(Sampled { prediction, attempts: runs.into_iter().map(|r| r.attempt).collect(), chosen, reached_threshold })
}

/// Runs a module up to `n` times and returns the attempt with the best reward: DSPy's
/// `BestOfN`.
///
/// - **Distinct rollouts.** Attempt `i` sends its requests with rollout `base·n + i`, where
///   `base` is the context's rollout (Evaluate's repeat): no two attempts, and no two repeats,
///   share a request, so an LM cache never collapses them.
/// - **Temperature.** The first attempt runs at the context's sampling; later ones at
///   [`RETRY_TEMPERATURE`] (1.0, as DSPy) unless [`BestOfN::with_temperature`] says otherwise.
///   A predictor's own temperature still takes precedence.
/// - **Early stop.** The first attempt whose reward reaches `threshold` is returned at once.
/// - **All fail.** When no attempt reaches it, the best is returned (the earliest among
///   equals) and [`Sampled::reached_threshold`] is `false`. An attempt whose module fails
///   counts as failed; when every attempt fails, the last error is returned.
/// - **Cost.** Every attempt's calls are in the context's trace and totals, so a BestOfN that
///   makes five attempts costs five times one. Calls of attempts that were not chosen keep
///   their cost and raw replies but not their parsed outputs (see `rejected_completions`).
///
/// Its predictors are the wrapped module's, under their own names, so optimizers tune them as
/// usual.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::{reward_fn, BestOfN};
/// use lmc::{Example, Predict, RunCx, ScriptedLm, Signature};
///
/// // The first reply is not a single word; the second is.
/// let lm = Arc::new(ScriptedLm::new()
///     .with_reply("[[ ## answer ## ]]\nIt is Paris.\n\n[[ ## completed ## ]]")
///     .with_default("[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"));
/// let qa = Predict::new("qa", Signature::parse("question -> answer")?);
/// let one_word = reward_fn("one_word", |_inputs, p| p.get("answer").and_then(|v| v.as_str()).is_some_and(|s| !s.contains(' ')));
/// let best = BestOfN::new(qa, 3, one_word, 1.0);
/// let cx = RunCx::new().with_lm(lm.clone());
/// let run = futures::executor::block_on(best.forward_with_attempts(&cx, &Example::new().with("question", "Capital of France?")))?;
/// assert_eq!(run.prediction.get_as::<String>("answer")?, "Paris");
/// assert_eq!(run.attempts.len(), 2); // stopped early
/// assert_eq!(cx.totals().calls, 2);
/// assert_eq!(lm.requests()[1].rollout, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BestOfN {
    module: Box<dyn Module>,
    n: u32,
    reward: Arc<dyn Reward>,
    threshold: f64,
    temperature: f64,
}

impl fmt::Debug for BestOfN {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BestOfN")
            .field("predictors", &self.module.predictors().iter().map(|p| p.name()).collect::<Vec<_>>())
            .field("n", &self.n)
            .field("reward", &self.reward.name())
            .field("threshold", &self.threshold)
            .field("temperature", &self.temperature)
            .finish()
    }
}

impl BestOfN {
    /// Up to `n` attempts of `module` (at least one), each scored by `reward`; an attempt
    /// scoring at least `threshold` stops the run.
    pub fn new(module: impl Module + 'static, n: u32, reward: impl Reward + 'static, threshold: f64) -> Self {
        Self::from_parts(Box::new(module), n, Arc::new(reward), threshold)
    }

    /// [`BestOfN::new`] from a boxed module and a shared reward.
    pub fn from_parts(module: Box<dyn Module>, n: u32, reward: Arc<dyn Reward>, threshold: f64) -> Self {
        BestOfN { module, n: n.max(1), reward, threshold, temperature: RETRY_TEMPERATURE }
    }

    /// Runs the attempts after the first at `temperature` (default [`RETRY_TEMPERATURE`]).
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

    /// The wrapped module.
    pub fn module(&self) -> &dyn Module {
        self.module.as_ref()
    }

    /// Runs the attempts and returns the chosen prediction with every attempt's reward and
    /// cost.
    pub async fn forward_with_attempts(&self, cx: &RunCx, inputs: &Example) -> Result<Sampled, RunError> {
        let mut runs = Vec::new();
        for i in 0..self.n {
            let (acx, temperature) = attempt_cx(cx, self.n, i, self.temperature);
            let result = self.module.forward(&acx, inputs).await;
            let run = score_attempt(&acx, temperature, None, self.reward.as_ref(), inputs, result).await;
            let done =
                run.prediction.is_some() && run.attempt.reward.as_ref().is_some_and(|s| s.value >= self.threshold);
            runs.push(run);
            if done {
                break;
            }
        }
        finish(cx, "best_of_n", self.n, self.threshold, runs, |_| Vec::new())
    }
}

impl Module for BestOfN {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move { Ok(self.forward_with_attempts(cx, inputs).await?.prediction) })
    }

    fn predictors(&self) -> Vec<&Predict> {
        self.module.predictors()
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        self.module.predictors_mut()
    }
}
