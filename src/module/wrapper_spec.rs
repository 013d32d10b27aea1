//! The `[step.best_of_n]` and `[step.refine]` tables of a program file: a sampling wrapper
//! around one step, with a registered no-gold metric or an LM verifier as the reward.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BestOfN, MetricReward, Module, Predict, Refine, Reward, REWARD_METRICS};
use crate::adapter::AdapterKind;
use crate::metric::MetricSpec;
use crate::signature::Signature;

/// The most attempts a program file may ask for (a guard against a typo costing 100×).
pub const MAX_ATTEMPTS: u32 = 20;

/// A `[step.best_of_n]` or `[step.refine]` table.
///
/// ```toml
/// [step.best_of_n]
/// n = 3                  # attempts, 1..=20
/// threshold = 1.0        # stop at the first attempt scoring this much (default 1.0)
/// temperature = 1.0      # of the attempts after the first (default 1.0)
/// reward = { name = "regex", field = "answer", pattern = '^-?\d+(\.\d+)?$' }
/// # or: reward = { name = "verify" }   # an LM checks the answer (a `<step>.verify` call)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapperSpec {
    /// The most attempts.
    pub n: u32,
    /// The reward: a registered metric that needs no gold label, or `verify`.
    pub reward: RewardSpec,
    /// The reward that stops the run early (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The temperature of the attempts after the first (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// The reward of a wrapper: one of [`REWARD_METRICS`] with its options, or `verify` (an LM
/// verifier, [`VerifyReward`](super::VerifyReward)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    /// `regex`, `json_valid`, `schema_valid` or `verify`.
    pub name: String,
    /// The output scored (default: the step's last output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `regex` only: the pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `schema_valid` only: the JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// Why a wrapper table is wrong: the field at fault (when one is) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapError {
    /// The field at fault, when the problem is about one.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl WrapError {
    fn new(message: impl Into<String>) -> Self {
        WrapError { field: None, message: message.into() }
    }
}

impl WrapperSpec {
    /// Checks `n`, `threshold` and `temperature`, and builds the reward for a step with
    /// `signature` (its predictor signature).
    fn reward(
        &self,
        table: &str,
        step: &str,
        signature: &Signature,
        adapter: AdapterKind,
    ) -> Result<Arc<dyn Reward>, WrapError> {
        if self.n == 0 || self.n > MAX_ATTEMPTS {
            return Err(WrapError::new(format!("[step.{table}] n = {} must be between 1 and {MAX_ATTEMPTS}", self.n)));
        }
        if let Some(t) = self.threshold.filter(|t| !(0.0..=1.0).contains(t)) {
            return Err(WrapError::new(format!(
                "[step.{table}] threshold = {t} must be between 0 and 1 (rewards are scores in [0, 1])"
            )));
        }
        if let Some(t) = self.temperature.filter(|t| !t.is_finite() || *t < 0.0) {
            return Err(WrapError::new(format!("[step.{table}] temperature = {t} must be a number ≥ 0")));
        }
        let outputs: Vec<&str> = signature.output_names().collect();
        let field = match &self.reward.field {
            Some(field) => field.clone(),
            None => outputs.last().map(|s| s.to_string()).unwrap_or_default(),
        };
        if !outputs.contains(&field.as_str()) {
            return Err(WrapError {
                field: Some(field),
                message: format!(
                    "[step.{table}] the reward scores a field the step does not output; it outputs {}",
                    outputs.join(", ")
                ),
            });
        }
        if self.reward.name.trim().eq_ignore_ascii_case("verify") {
            if self.reward.pattern.is_some() || self.reward.schema.is_some() {
                return Err(WrapError::new(format!("[step.{table}] reward `verify` takes only `field`")));
            }
            let verify = super::VerifyReward::for_step(step, signature, &field, adapter)
                .map_err(|e| WrapError::new(format!("[step.{table}] reward `verify`: {e}")))?;
            return Ok(Arc::new(verify));
        }
        let mut spec = MetricSpec::new(self.reward.name.clone(), field);
        spec.pattern = self.reward.pattern.clone();
        spec.schema = self.reward.schema.clone();
        let reward = MetricReward::from_spec(&spec).map_err(|e| {
            let hint = if REWARD_METRICS.iter().any(|m| self.reward.name.trim().eq_ignore_ascii_case(m)) {
                String::new()
            } else {
                " (label-based metrics such as exact_match or numeric need gold answers, which a program does not have when it runs; `verify` asks an LM instead)".to_string()
            };
            WrapError::new(format!("[step.{table}] reward: {e}{hint}"))
        })?;
        Ok(Arc::new(reward))
    }
}

/// Wraps a step's module as its `[step.best_of_n]` or `[step.refine]` table says (at most one
/// of them). `kind` is the step's module kind; `signature` its predictor signature. Refine
/// adds its hint to one predictor, so it wraps `predict` and `chain_of_thought` steps only.
pub fn wrap_step(
    best_of_n: Option<&WrapperSpec>,
    refine: Option<&WrapperSpec>,
    kind: &str,
    name: &str,
    signature: &Signature,
    adapter: AdapterKind,
    module: Box<dyn Module>,
) -> Result<Box<dyn Module>, WrapError> {
    match (best_of_n, refine) {
        (None, None) => Ok(module),
        (Some(_), Some(_)) => Err(WrapError::new("a step takes [step.best_of_n] or [step.refine], not both: keep one")),
        (Some(spec), None) => {
            let reward = spec.reward("best_of_n", name, signature, adapter)?;
            let wrapped = BestOfN::from_parts(module, spec.n, reward, spec.threshold.unwrap_or(1.0));
            Ok(Box::new(match spec.temperature {
                Some(t) => wrapped.with_temperature(t),
                None => wrapped,
            }))
        }
        (None, Some(spec)) => {
            if kind != "predict" && kind != "chain_of_thought" {
                return Err(WrapError::new(format!(
                    "[step.refine] wraps `predict` and `chain_of_thought` steps, not `{kind}`; use [step.best_of_n]"
                )));
            }
            let reward = spec.reward("refine", name, signature, adapter)?;
            // A chain of thought's predictor is a Predict over the signature with `reasoning`.
            let predict = Predict::new(name, signature.clone()).with_adapter(adapter);
            let wrapped = Refine::with_shared_reward(predict, spec.n, reward, spec.threshold.unwrap_or(1.0));
            Ok(Box::new(match spec.temperature {
                Some(t) => wrapped.with_temperature(t),
                None => wrapped,
            }))
        }
    }
}
