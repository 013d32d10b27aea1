//! `EvalReport`: everything an evaluation found, serializable, plus its readable summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::stats::Interval;
use crate::lm::Sampling;
use crate::lm::Usage;

/// Where a report came from: enough to reproduce it and to know what it says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// lmc's version.
    pub lmc_version: String,
    /// The git commit of the working directory, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The program's name.
    pub program: String,
    /// SHA-256 of the program (its file, or its predictors' signatures).
    pub program_hash: String,
    /// The compiled artifact installed, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// SHA-256 of the artifact file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_hash: Option<String>,
    /// The dataset file and split.
    pub dataset: String,
    /// The content hash of the loaded examples.
    pub dataset_hash: String,
    /// The metric and the field it scores.
    pub metric: String,
    /// The LMs that answered (`provider/model`), in order of first use.
    pub models: Vec<String>,
    /// The sampling settings sent.
    pub sampling: Sampling,
    /// The price table used for dollars.
    pub price_table: String,
    /// Whether the offline simulator answered: then the scores say nothing about a model.
    pub simulated: bool,
}

/// Counts of how examples ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Scored.
    pub ok: u64,
    /// A reply did not parse.
    pub parse_error: u64,
    /// An LM call failed.
    pub lm_error: u64,
    /// The metric failed.
    pub metric_error: u64,
    /// Not run because the evaluation stopped early.
    pub not_run: u64,
}

/// Dollars, kept apart: what the program costs, what was spent, what judging cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    /// Total program cost by usage (cache hits included); `None` when a call was unpriced.
    pub program: Option<f64>,
    /// Program cost per run example.
    pub program_per_example: Option<f64>,
    /// What was actually spent (cache hits are free).
    pub spent: Option<f64>,
    /// Judge cost (LLM-judge metrics), never part of program cost.
    pub judge: f64,
}

/// Calls, tokens and cache use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageSummary {
    /// LM calls.
    pub calls: u64,
    /// Calls served from the cache.
    pub cache_hits: u64,
    /// Retries.
    pub retries: u64,
    /// Tokens.
    #[serde(flatten)]
    pub tokens: Usage,
}

/// One predictor's share of the work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictorSummary {
    /// Calls.
    pub calls: u64,
    /// Calls that failed (LM error or parse error).
    pub errors: u64,
    /// Tokens.
    pub usage: Usage,
    /// Program cost; `None` when a call was unpriced.
    pub cost_usd: Option<f64>,
    /// Mean latency per call, in milliseconds.
    pub mean_latency_ms: f64,
}

/// Scores of one slice of the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SliceSummary {
    /// Examples in the slice.
    pub n: u64,
    /// Their mean score.
    pub score: f64,
}

/// What repeats (`--repeats k`) showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RepeatSummary {
    /// Repeats per example.
    pub k: u32,
    /// Fraction of examples with at least one full-score repeat.
    pub pass_at_k: f64,
    /// Examples whose repeats disagree (some full score, some not).
    pub flaky: u64,
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Mean score over the examples that ran (failures score 0; repeats averaged first).
    pub score: f64,
    /// Standard error of the mean.
    pub standard_error: f64,
    /// 95% percentile-bootstrap confidence interval of the mean (seed 0, 2,000 resamples).
    pub ci95: Interval,
    /// Examples in the dataset.
    pub n: u64,
    /// Examples that ran (not `not_run`).
    pub n_run: u64,
    /// How the runs ended (examples × repeats).
    pub outcomes: OutcomeCounts,
    /// Why the evaluation stopped early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Median latency per example run, in milliseconds.
    pub latency_p50_ms: f64,
    /// 95th-percentile latency per example run, in milliseconds.
    pub latency_p95_ms: f64,
    /// Wall time of the whole evaluation, in seconds.
    pub wall_seconds: f64,
    /// Calls, tokens and cache use.
    pub usage: UsageSummary,
    /// Dollars.
    pub cost_usd: CostSummary,
    /// Per predictor name.
    pub predictors: BTreeMap<String, PredictorSummary>,
    /// Per slice column, then per value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slices: BTreeMap<String, BTreeMap<String, SliceSummary>>,
    /// Repeats, when more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RepeatSummary>,
    /// Where it came from.
    pub provenance: Provenance,
}

impl EvalReport {
    /// The summary `lmc eval --json` prints: score, n, outcomes, usage, cost, wall time.
    pub fn summary_json(&self) -> Value {
        json!({
            "score": self.score,
            "standard_error": self.standard_error,
            "ci95": [self.ci95.low, self.ci95.high],
            "n": self.n,
            "n_run": self.n_run,
            "outcomes": {
                "ok": self.outcomes.ok,
                "parse_error": self.outcomes.parse_error,
                "lm_error": self.outcomes.lm_error,
                "metric_error": self.outcomes.metric_error,
                "not_run": self.outcomes.not_run,
            },
            "stopped": self.stopped,
            "usage": {
                "calls": self.usage.calls,
                "cache_hits": self.usage.cache_hits,
                "retries": self.usage.retries,
                "input_tokens": self.usage.tokens.input_tokens,
                "output_tokens": self.usage.tokens.output_tokens,
            },
            "cost_usd": {
                "spent": self.cost_usd.spent,
                "program": self.cost_usd.program,
                "program_per_example": self.cost_usd.program_per_example,
                "judge": self.cost_usd.judge,
            },
            "latency_ms": {"p50": self.latency_p50_ms, "p95": self.latency_p95_ms},
            "wall_seconds": self.wall_seconds,
            "simulated": self.provenance.simulated,
        })
    }

    /// A readable summary table.
    pub fn render(&self) -> String {
        let dollars = |x: Option<f64>| x.map_or("unknown (unpriced model)".to_string(), |v| format!("${v:.6}"));
        let o = &self.outcomes;
        let mut lines = vec![
            format!(
                "{}{} · {} · {}",
                self.provenance.program,
                self.provenance.artifact.as_ref().map(|a| format!(" (compiled: {a})")).unwrap_or_default(),
                self.provenance.dataset,
                self.provenance.metric
            ),
            String::new(),
            format!(
                "score        {:.3}  (± {:.3} s.e., 95% CI {:.3}–{:.3})",
                self.score, self.standard_error, self.ci95.low, self.ci95.high
            ),
            format!(
                "examples     {} run of {}: {} ok, {} parse errors, {} LM errors, {} metric errors{}",
                self.n_run,
                self.n,
                o.ok,
                o.parse_error,
                o.lm_error,
                o.metric_error,
                if o.not_run > 0 { format!(", {} not run", o.not_run) } else { String::new() }
            ),
        ];
        if let Some(r) = &self.repeats {
            lines.push(format!("repeats      k = {}: pass@k {:.3}, {} flaky examples", r.k, r.pass_at_k, r.flaky));
        }
        lines.push(format!(
            "latency      p50 {:.0} ms, p95 {:.0} ms per example; {:.1} s wall",
            self.latency_p50_ms, self.latency_p95_ms, self.wall_seconds
        ));
        lines.push(format!(
            "usage        {} calls ({} cached, {} retries), {} in / {} out tokens",
            self.usage.calls,
            self.usage.cache_hits,
            self.usage.retries,
            self.usage.tokens.input_tokens,
            self.usage.tokens.output_tokens
        ));
        lines.push(format!(
            "cost         program {} ({} per example), spent {}{}",
            dollars(self.cost_usd.program),
            dollars(self.cost_usd.program_per_example),
            dollars(self.cost_usd.spent),
            if self.cost_usd.judge > 0.0 { format!(", judge ${:.6}", self.cost_usd.judge) } else { String::new() }
        ));
        if !self.predictors.is_empty() {
            lines.push(String::new());
            lines.push(format!(
                "{:<16} {:>7} {:>7} {:>10} {:>10} {:>12} {:>10}",
                "predictor", "calls", "errors", "in tok", "out tok", "cost", "mean ms"
            ));
            for (name, p) in &self.predictors {
                lines.push(format!(
                    "{:<16} {:>7} {:>7} {:>10} {:>10} {:>12} {:>10.0}",
                    name,
                    p.calls,
                    p.errors,
                    p.usage.input_tokens,
                    p.usage.output_tokens,
                    p.cost_usd.map_or("?".to_string(), |c| format!("${c:.6}")),
                    p.mean_latency_ms
                ));
            }
        }
        for (column, values) in &self.slices {
            lines.push(String::new());
            lines.push(format!("slice by {column}:"));
            for (value, s) in values {
                lines.push(format!("  {:<30} n={:<5} score {:.3}", value, s.n, s.score));
            }
        }
        if let Some(reason) = &self.stopped {
            lines.push(String::new());
            lines.push(format!("stopped early: {reason}"));
        }
        if self.provenance.simulated {
            lines.push(String::new());
            lines.push(
                "(simulated LM: scores come from lmc's offline simulator and say nothing about any model's quality)"
                    .into(),
            );
        }
        lines.join("\n")
    }
}
