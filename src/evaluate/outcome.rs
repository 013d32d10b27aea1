//! One example's result: its outcome, score, prediction and trace.

use serde::{Deserialize, Serialize};

use crate::data::Fields;
use crate::lm::Usage;
use crate::module::{RunError, TraceEntry};

/// How an example ended. Every example ends in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The program ran and the metric scored it.
    Ok,
    /// The LM replied, but a reply did not parse into the outputs.
    ParseError,
    /// An LM call failed (or the program could not call one: no LM, missing input).
    LmError,
    /// The metric failed (a missing gold field, a judge failure).
    MetricError,
    /// Not run: the evaluation stopped early (max errors or the spend cap).
    NotRun,
}

impl Outcome {
    /// The outcome of a failed program run.
    pub fn of(error: &RunError) -> Outcome {
        match error {
            RunError::Parse { .. } => Outcome::ParseError,
            _ => Outcome::LmError,
        }
    }

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ParseError => "parse_error",
            Outcome::LmError => "lm_error",
            Outcome::MetricError => "metric_error",
            Outcome::NotRun => "not_run",
        }
    }

    /// Whether this is a failure that counts towards `max_errors`.
    pub fn is_error(self) -> bool {
        matches!(self, Outcome::ParseError | Outcome::LmError | Outcome::MetricError)
    }
}

/// One run (one repeat) of one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleResult {
    /// The example's position in the dataset (0-based).
    pub index: usize,
    /// Which repeat this is (0-based); also the rollout index sent to the LM.
    pub repeat: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The metric's value (0 for every outcome but `ok`).
    pub score: f64,
    /// The metric's feedback, or the error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// The inputs given to the program.
    pub inputs: Fields,
    /// The gold labels and metadata.
    pub gold: Fields,
    /// The program's outputs, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<Fields>,
    /// Wall time of the program run, in milliseconds.
    pub latency_ms: f64,
    /// Tokens of the program's calls.
    pub usage: Usage,
    /// Program cost of the calls (by usage, cached or not); `None` when a call is unpriced.
    #[serde(default)]
    pub program_cost_usd: Option<f64>,
    /// What the calls actually spent (cache hits are free).
    #[serde(default)]
    pub spent_usd: Option<f64>,
    /// LM calls made.
    pub calls: u64,
    /// Calls served from the cache.
    pub cache_hits: u64,
    /// Retries across the calls.
    pub retries: u64,
    /// Judge cost of scoring this example.
    #[serde(default)]
    pub judge_cost_usd: f64,
    /// Every predictor call, with prompts and completions.
    pub trace: Vec<TraceEntry>,
}
