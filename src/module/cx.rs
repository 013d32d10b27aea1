//! `RunCx`: everything a run needs that is not the program itself.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::{Example, Fields};
use crate::lm::{FinishReason, Lm, LmIdentity, LmRequest, Sampling, Usage};

/// Instructions and demos that replace a predictor's own for one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictorOverlay {
    /// Replacement instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Replacement demos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demos: Option<Vec<Example>>,
}

/// An immutable overlay of instructions and demos per predictor name. Running under an
/// overlay never mutates the program, so many overlays (optimizer candidates) can be
/// evaluated at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overlay {
    /// Per predictor name.
    pub predictors: BTreeMap<String, PredictorOverlay>,
}

impl Overlay {
    /// The overlay for the predictor called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&PredictorOverlay> {
        self.predictors.get(name)
    }
}

/// One predictor call, as captured in the run's trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// The predictor's name.
    pub predictor: String,
    /// The inputs it was given.
    pub inputs: Fields,
    /// The parsed outputs; `None` when the call failed.
    pub outputs: Option<Fields>,
    /// The request exactly as sent: messages, sampling, rollout, response format.
    pub request: LmRequest,
    /// The raw completion texts.
    pub completions: Vec<String>,
    /// Which LM answered.
    pub lm: LmIdentity,
    /// The model that served the reply, as the provider reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// Tokens used.
    pub usage: Usage,
    /// Wall time of the LM call.
    #[serde(with = "millis")]
    pub latency: Duration,
    /// Whether the reply came from a cache.
    pub cache_hit: bool,
    /// The reply's program cost in dollars (by its usage, cached or not); `None` when the
    /// model is not in the price table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Retries before the reply (or the error).
    #[serde(default)]
    pub retries: u32,
    /// Why the first completion stopped, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// The error, when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why completions were dropped when several were asked for (`n > 1`) and some did not
    /// parse: one line per rejected completion, with its index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_completions: Vec<String>,
}

impl TraceEntry {
    /// The entry for `request` about to be sent to `lm` by `predictor`: no reply yet.
    pub(crate) fn sent(predictor: &str, inputs: Fields, request: LmRequest, lm: LmIdentity) -> Self {
        TraceEntry {
            predictor: predictor.to_string(),
            inputs,
            outputs: None,
            request,
            completions: Vec::new(),
            lm,
            served_model: None,
            usage: Default::default(),
            latency: Duration::ZERO,
            cache_hit: false,
            cost_usd: None,
            retries: 0,
            finish_reason: None,
            error: None,
            rejected_completions: Vec::new(),
        }
    }

    /// Takes the reply's usage, latency, cost and completion texts.
    pub(crate) fn received(&mut self, response: &crate::lm::LmResponse) {
        self.usage = response.usage;
        self.latency = response.latency;
        self.cache_hit = response.cache_hit;
        self.served_model = response.served_model.clone();
        self.cost_usd = response.cost_usd;
        self.retries = response.retries;
        self.finish_reason = response.completions.first().and_then(|c| c.finish_reason.clone());
        self.completions = response.completions.iter().map(|c| c.text.clone()).collect();
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?.max(0.0) / 1000.0))
    }
}

/// Totals over the calls recorded in a run context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTotals {
    /// Predictor calls recorded (failed ones included).
    pub calls: u64,
    /// Calls served from a cache.
    pub cache_hits: u64,
    /// Retries across all calls.
    pub retries: u64,
    /// Tokens, cached or not.
    pub usage: Usage,
    /// What the program costs by its usage, cache hits included (the figure gates use).
    pub program_cost_usd: f64,
    /// What was actually spent: cache hits cost nothing.
    pub spent_usd: f64,
    /// Calls whose model has no price: the dollar figures leave them out.
    pub unpriced_calls: u64,
}

impl RunTotals {
    /// Adds another run's totals to these.
    pub fn merge(&mut self, other: &RunTotals) {
        self.calls += other.calls;
        self.cache_hits += other.cache_hits;
        self.retries += other.retries;
        self.usage.add(&other.usage);
        self.program_cost_usd += other.program_cost_usd;
        self.spent_usd += other.spent_usd;
        self.unpriced_calls += other.unpriced_calls;
    }

    fn add(&mut self, entry: &TraceEntry) {
        self.calls += 1;
        self.retries += u64::from(entry.retries);
        self.usage.add(&entry.usage);
        if entry.cache_hit {
            self.cache_hits += 1;
        }
        match entry.cost_usd {
            Some(cost) => {
                self.program_cost_usd += cost;
                if !entry.cache_hit {
                    self.spent_usd += cost;
                }
            }
            None if entry.usage.total_tokens() > 0 => self.unpriced_calls += 1,
            None => {}
        }
    }
}

/// What a run needs besides the program: the default LM and sampling, the overlay in force,
/// and the sinks for the trace and usage. Passed by reference into every `forward`; there are
/// no globals.
///
/// Cloning shares the sinks; [`RunCx::fork`] makes a context with the same settings and
/// fresh sinks (one per example, say).
#[derive(Clone, Default)]
pub struct RunCx {
    lm: Option<Arc<dyn Lm>>,
    sampling: Sampling,
    rollout: u32,
    overlay: Option<Arc<Overlay>>,
    trace: Arc<Mutex<Vec<TraceEntry>>>,
    totals: Arc<Mutex<RunTotals>>,
}

impl fmt::Debug for RunCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunCx")
            .field("lm", &self.lm.as_ref().map(|lm| lm.identity()))
            .field("sampling", &self.sampling)
            .field("rollout", &self.rollout)
            .field("overlay", &self.overlay)
            .finish_non_exhaustive()
    }
}

impl RunCx {
    /// A context with no LM, default sampling and no overlay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the default LM (predictors with their own LM keep it).
    pub fn with_lm(mut self, lm: Arc<dyn Lm>) -> Self {
        self.lm = Some(lm);
        self
    }

    /// Sets the default sampling (a predictor's own settings take precedence field by field).
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sends every request with this rollout index: distinct rollouts are distinct samples
    /// (and distinct cache entries) of otherwise identical requests. Default 0.
    pub fn with_rollout(mut self, rollout: u32) -> Self {
        self.rollout = rollout;
        self
    }

    /// The rollout index requests are sent with.
    pub fn rollout(&self) -> u32 {
        self.rollout
    }

    /// Runs under `overlay`.
    pub fn with_overlay(mut self, overlay: Arc<Overlay>) -> Self {
        self.overlay = Some(overlay);
        self
    }

    /// The same settings with an empty trace and zero usage.
    pub fn fork(&self) -> Self {
        RunCx {
            lm: self.lm.clone(),
            sampling: self.sampling.clone(),
            rollout: self.rollout,
            overlay: self.overlay.clone(),
            trace: Arc::default(),
            totals: Arc::default(),
        }
    }

    /// The default LM.
    pub fn lm(&self) -> Option<&Arc<dyn Lm>> {
        self.lm.as_ref()
    }

    /// The default sampling.
    pub fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    /// The overlay in force.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_deref()
    }

    /// Records one predictor call.
    pub fn record(&self, entry: TraceEntry) {
        self.totals.lock().unwrap_or_else(PoisonError::into_inner).add(&entry);
        self.trace.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }

    /// Every call recorded so far, in completion order.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.trace.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Total usage recorded so far.
    pub fn usage(&self) -> Usage {
        self.totals().usage
    }

    /// Calls, cache hits, retries, usage and cost recorded so far.
    pub fn totals(&self) -> RunTotals {
        *self.totals.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
