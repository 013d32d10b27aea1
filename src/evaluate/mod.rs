//! Evaluation: run a program over a dataset, score every example, and report score, cost
//! and latency, with every example accounted for.
//!
//! [`Evaluate`] runs examples concurrently on tokio (bounded), merges results in example
//! order (never completion order), streams each result to `examples.jsonl` as it is merged so
//! memory stays flat, and builds an [`EvalReport`]. A failed example scores 0 and keeps its
//! reason; `max_errors` and a spend cap stop early but keep and report what ran.
//!
//! ```
//! use std::sync::Arc;
//! use lmc::evaluate::Evaluate;
//! use lmc::metric::{ExactMatch, Metric};
//! use lmc::{Example, Predict, RunCx, ScriptedLm, Signature};
//!
//! let program = Arc::new(Predict::new("qa", Signature::parse("question -> answer")?));
//! let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nParis"));
//! let data = vec![
//!     Example::new().with("question", "Capital of France?").with("answer", "Paris").with_inputs(["question"]),
//!     Example::new().with("question", "Capital of Italy?").with("answer", "Rome").with_inputs(["question"]),
//! ];
//! let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
//! let report = futures::executor::block_on(
//!     Evaluate::new(program, metric).with_cx(RunCx::new().with_lm(lm)).run(&data),
//! )?;
//! assert_eq!(report.score, 0.5);
//! assert_eq!(report.outcomes.ok, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod export;
mod outcome;
mod report;
pub mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};

pub use export::{export_results, ExportError};
pub use outcome::{ExampleResult, Outcome};
pub use report::{
    CostSummary, EvalReport, OutcomeCounts, PredictorSummary, Provenance, RepeatSummary, SliceSummary, UsageSummary,
};

use crate::adapter::pyfmt::py_str;
use crate::data::Example;
use crate::metric::Metric;
use crate::module::{Module, RunCx};

/// Progress after each merged result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Runs finished (examples × repeats).
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// Mean score so far.
    pub mean_score: f64,
    /// Dollars spent so far.
    pub spent_usd: f64,
    /// Failed runs so far.
    pub errors: usize,
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Errors that stop an evaluation from producing a report: only failing to write results.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `examples.jsonl` could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs a program over examples and scores them. See the [module docs](self).
#[derive(Clone)]
pub struct Evaluate {
    program: Arc<dyn Module>,
    metric: Arc<dyn Metric>,
    cx: RunCx,
    judge_cx: RunCx,
    concurrency: usize,
    repeats: u32,
    max_errors: Option<usize>,
    max_usd: Option<f64>,
    progress: Option<ProgressFn>,
    examples_out: Option<PathBuf>,
    slice_by: Vec<String>,
    provenance: Provenance,
}

impl fmt::Debug for Evaluate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evaluate")
            .field("metric", &self.metric.name())
            .field("concurrency", &self.concurrency)
            .field("repeats", &self.repeats)
            .field("max_errors", &self.max_errors)
            .field("max_usd", &self.max_usd)
            .finish_non_exhaustive()
    }
}

impl Evaluate {
    /// Evaluates `program` with `metric`: concurrency 8, one repeat, no limits.
    pub fn new(program: Arc<dyn Module>, metric: Arc<dyn Metric>) -> Self {
        Evaluate {
            program,
            metric,
            cx: RunCx::new(),
            judge_cx: RunCx::new(),
            concurrency: 8,
            repeats: 1,
            max_errors: None,
            max_usd: None,
            progress: None,
            examples_out: None,
            slice_by: Vec::new(),
            provenance: Provenance { lmc_version: env!("CARGO_PKG_VERSION").into(), ..Provenance::default() },
        }
    }

    /// The run context every example starts from (its LM, sampling and overlay); each
    /// example runs in a fork of it.
    pub fn with_cx(mut self, cx: RunCx) -> Self {
        self.cx = cx;
        self
    }

    /// At most `n` examples in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Runs every example `k` times, each a distinct rollout (so a cache never returns the
    /// same answer twice).
    pub fn with_repeats(mut self, k: u32) -> Self {
        self.repeats = k.max(1);
        self
    }

    /// Stops after more than `n` failed runs (the partial results are kept and reported).
    pub fn with_max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n);
        self
    }

    /// Stops once `usd` have been spent (cache hits are free).
    pub fn with_max_usd(mut self, usd: f64) -> Self {
        self.max_usd = Some(usd);
        self
    }

    /// Calls `f` after each merged result.
    pub fn with_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Streams every result to this JSONL file, in example order, as it is merged.
    pub fn with_examples_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.examples_out = Some(path.into());
        self
    }

    /// Reports scores per value of these gold/metadata columns.
    pub fn with_slices(mut self, columns: Vec<String>) -> Self {
        self.slice_by = columns;
        self
    }

    /// Provenance to record (program, dataset, metric, hashes); lmc's version is filled in.
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        let version = self.provenance.lmc_version.clone();
        self.provenance = Provenance { lmc_version: version, ..provenance };
        self
    }

    /// Runs one example once.
    async fn run_one(&self, index: usize, repeat: u32, example: &Example) -> ExampleResult {
        let inputs_fields = if example.input_keys().is_empty() { example.fields().clone() } else { example.inputs() };
        let keys: Vec<String> = inputs_fields.keys().cloned().collect();
        let inputs = Example::from_fields(inputs_fields.clone()).with_inputs(keys);
        let cx = self.cx.fork().with_rollout(repeat);
        let started = Instant::now();
        let result = self.program.forward(&cx, &inputs).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let trace = cx.trace();
        let totals = cx.totals();
        let (outcome, score, feedback, prediction, judge_cost_usd) = match result {
            Err(error) => (Outcome::of(&error), 0.0, Some(error.report()), None, 0.0),
            Ok(prediction) => {
                let judge = self.judge_cx.fork();
                let scored = self.metric.score(&judge, example, &prediction, &trace).await;
                let judge_cost = judge.totals().program_cost_usd;
                match scored {
                    Ok(s) => (Outcome::Ok, s.value, s.feedback, Some(prediction.into_fields()), judge_cost),
                    Err(e) => {
                        (Outcome::MetricError, 0.0, Some(e.to_string()), Some(prediction.into_fields()), judge_cost)
                    }
                }
            }
        };
        let priced = totals.unpriced_calls == 0;
        ExampleResult {
            index,
            repeat,
            outcome,
            score,
            feedback,
            inputs: inputs_fields,
            gold: if example.input_keys().is_empty() { Default::default() } else { example.labels() },
            prediction,
            latency_ms,
            usage: totals.usage,
            program_cost_usd: priced.then_some(totals.program_cost_usd),
            spent_usd: priced.then_some(totals.spent_usd),
            calls: totals.calls,
            cache_hits: totals.cache_hits,
            retries: totals.retries,
            judge_cost_usd,
            trace,
        }
    }

    fn not_run(index: usize, repeat: u32, example: &Example, reason: &str) -> ExampleResult {
        ExampleResult {
            index,
            repeat,
            outcome: Outcome::NotRun,
            score: 0.0,
            feedback: Some(reason.to_string()),
            inputs: example.inputs(),
            gold: example.labels(),
            prediction: None,
            latency_ms: 0.0,
            usage: Default::default(),
            program_cost_usd: Some(0.0),
            spent_usd: Some(0.0),
            calls: 0,
            cache_hits: 0,
            retries: 0,
            judge_cost_usd: 0.0,
            trace: Vec::new(),
        }
    }

    /// Runs every example (× repeats) and builds the report.
    pub async fn run(&self, examples: &[Example]) -> Result<EvalReport, EvalError> {
        let started = Instant::now();
        let mut writer = match &self.examples_out {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| EvalError::Write { path: path.clone(), source })?;
                }
                let file =
                    std::fs::File::create(path).map_err(|source| EvalError::Write { path: path.clone(), source })?;
                Some((path.clone(), std::io::BufWriter::new(file)))
            }
            None => None,
        };
        let stop = AtomicBool::new(false);
        let stop_reason: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        let work: Vec<(usize, u32)> =
            (0..examples.len()).flat_map(|i| (0..self.repeats).map(move |r| (i, r))).collect();
        let total = work.len();
        let mut results = stream::iter(work)
            .map(|(i, r)| {
                let stop = &stop;
                let stop_reason = &stop_reason;
                async move {
                    if stop.load(Ordering::SeqCst) {
                        let reason = stop_reason.lock().ok().and_then(|r| r.clone()).unwrap_or_default();
                        return Self::not_run(i, r, &examples[i], &reason);
                    }
                    self.run_one(i, r, &examples[i]).await
                }
            })
            .buffer_unordered(self.concurrency);

        let mut agg = Aggregator::new(examples.len(), self.repeats, &self.slice_by);
        let mut pending: BTreeMap<(usize, u32), ExampleResult> = BTreeMap::new();
        let mut next = (0usize, 0u32);
        let (mut done, mut errors, mut spent) = (0usize, 0usize, 0.0f64);
        while let Some(result) = results.next().await {
            done += 1;
            if result.outcome.is_error() {
                errors += 1;
            }
            spent += result.spent_usd.unwrap_or(0.0);
            if let Some(max) = self.max_errors {
                if errors > max && !stop.swap(true, Ordering::SeqCst) {
                    *stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(format!("more than {max} failed examples (max_errors)"));
                }
            }
            if let Some(cap) = self.max_usd {
                if spent >= cap && !stop.swap(true, Ordering::SeqCst) {
                    *stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(format!("spend cap reached: ${spent:.4} of ${cap:.4}"));
                }
            }
            pending.insert((result.index, result.repeat), result);
            // Merge in example order: results arrive in completion order.
            while let Some(result) = pending.remove(&next) {
                if let Some((path, w)) = writer.as_mut() {
                    let line = serde_json::to_string(&result).unwrap_or_default();
                    writeln!(w, "{line}").map_err(|source| EvalError::Write { path: path.clone(), source })?;
                }
                agg.add(&result, examples);
                next = if next.1 + 1 < self.repeats { (next.0, next.1 + 1) } else { (next.0 + 1, 0) };
            }
            if let Some(progress) = &self.progress {
                progress(&Progress { done, total, mean_score: agg.running_mean(), spent_usd: spent, errors });
            }
        }
        if let Some((path, mut w)) = writer {
            w.flush().map_err(|source| EvalError::Write { path: path.clone(), source })?;
        }
        let reason = stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        Ok(agg.finish(started.elapsed().as_secs_f64(), reason, self.provenance.clone()))
    }
}

/// Folds merged results into the report's figures without keeping traces.
struct Aggregator {
    n: usize,
    repeats: u32,
    slice_by: Vec<String>,
    example_scores: Vec<f64>,
    /// (index, outcome, score) of the repeats of the example being merged.
    current: Vec<(usize, Outcome, f64)>,
    latencies: Vec<f64>,
    outcomes: OutcomeCounts,
    usage: UsageSummary,
    program_cost: f64,
    spent: f64,
    unpriced: bool,
    judge: f64,
    predictors: BTreeMap<String, (PredictorSummary, f64, bool)>,
    slices: BTreeMap<String, BTreeMap<String, (u64, f64)>>,
    passed: u64,
    flaky: u64,
    models: Vec<String>,
    simulated: bool,
    n_run: u64,
}

impl Aggregator {
    fn new(n: usize, repeats: u32, slice_by: &[String]) -> Self {
        Aggregator {
            n,
            repeats,
            slice_by: slice_by.to_vec(),
            example_scores: Vec::with_capacity(n),
            current: Vec::new(),
            latencies: Vec::with_capacity(n),
            outcomes: OutcomeCounts::default(),
            usage: UsageSummary::default(),
            program_cost: 0.0,
            spent: 0.0,
            unpriced: false,
            judge: 0.0,
            predictors: BTreeMap::new(),
            slices: BTreeMap::new(),
            passed: 0,
            flaky: 0,
            models: Vec::new(),
            simulated: false,
            n_run: 0,
        }
    }

    fn running_mean(&self) -> f64 {
        stats::mean(&self.example_scores)
    }

    fn add(&mut self, r: &ExampleResult, examples: &[Example]) {
        match r.outcome {
            Outcome::Ok => self.outcomes.ok += 1,
            Outcome::ParseError => self.outcomes.parse_error += 1,
            Outcome::LmError => self.outcomes.lm_error += 1,
            Outcome::MetricError => self.outcomes.metric_error += 1,
            Outcome::NotRun => self.outcomes.not_run += 1,
        }
        if r.outcome != Outcome::NotRun {
            self.latencies.push(r.latency_ms);
        }
        self.usage.calls += r.calls;
        self.usage.cache_hits += r.cache_hits;
        self.usage.retries += r.retries;
        self.usage.tokens.add(&r.usage);
        match (r.program_cost_usd, r.spent_usd) {
            (Some(p), Some(s)) => {
                self.program_cost += p;
                self.spent += s;
            }
            _ => self.unpriced = true,
        }
        self.judge += r.judge_cost_usd;
        for call in &r.trace {
            let model = call.lm.to_string();
            if !self.models.contains(&model) {
                self.models.push(model);
            }
            // In process (`--lm sim`) or over HTTP (`lmc sim-server` names its model `sim/...`).
            self.simulated |=
                call.lm.provider == "sim" || call.served_model.as_deref().is_some_and(|m| m.starts_with("sim/"));
            let (p, latency_sum, unpriced) = self.predictors.entry(call.predictor.clone()).or_default();
            p.calls += 1;
            if call.error.is_some() {
                p.errors += 1;
            }
            p.usage.add(&call.usage);
            match call.cost_usd {
                Some(c) => *p.cost_usd.get_or_insert(0.0) += c,
                None if call.usage.total_tokens() > 0 => *unpriced = true,
                None => {}
            }
            *latency_sum += call.latency.as_secs_f64() * 1000.0;
        }
        self.current.push((r.index, r.outcome, r.score));
        if self.current.len() as u32 == self.repeats {
            let runs = std::mem::take(&mut self.current);
            let ran: Vec<f64> = runs.iter().filter(|x| x.1 != Outcome::NotRun).map(|x| x.2).collect();
            if !ran.is_empty() {
                self.n_run += 1;
                let mean = stats::mean(&ran);
                self.example_scores.push(mean);
                let full = ran.iter().filter(|score| **score >= 1.0 - 1e-9).count();
                if full > 0 {
                    self.passed += 1;
                }
                if full > 0 && full < ran.len() {
                    self.flaky += 1;
                }
                let example = &examples[runs[0].0];
                for column in &self.slice_by {
                    let value = example.get(column).map_or_else(|| "(missing)".to_string(), py_str);
                    let slot = self.slices.entry(column.clone()).or_default().entry(value).or_default();
                    slot.0 += 1;
                    slot.1 += mean;
                }
            }
        }
    }

    fn finish(self, wall_seconds: f64, stopped: Option<String>, mut provenance: Provenance) -> EvalReport {
        let scores = &self.example_scores;
        provenance.models = self.models.clone();
        provenance.simulated = self.simulated;
        let runs =
            (self.outcomes.ok + self.outcomes.parse_error + self.outcomes.lm_error + self.outcomes.metric_error).max(1);
        let program = (!self.unpriced).then_some(self.program_cost);
        EvalReport {
            score: stats::mean(scores),
            standard_error: stats::standard_error(scores),
            ci95: stats::bootstrap_ci(scores, 0.95, 2000, 0),
            n: self.n as u64,
            n_run: self.n_run,
            outcomes: self.outcomes,
            stopped,
            latency_p50_ms: stats::quantile(&self.latencies, 0.5),
            latency_p95_ms: stats::quantile(&self.latencies, 0.95),
            wall_seconds,
            usage: self.usage,
            cost_usd: CostSummary {
                program,
                program_per_example: program.map(|p| p / runs as f64),
                spent: (!self.unpriced).then_some(self.spent),
                judge: self.judge,
            },
            predictors: self
                .predictors
                .into_iter()
                .map(|(name, (mut p, latency_sum, unpriced))| {
                    p.mean_latency_ms = if p.calls > 0 { latency_sum / p.calls as f64 } else { 0.0 };
                    if unpriced {
                        p.cost_usd = None;
                    }
                    (name, p)
                })
                .collect(),
            slices: self
                .slices
                .into_iter()
                .map(|(column, values)| {
                    let values = values
                        .into_iter()
                        .map(|(value, (n, sum))| {
                            (value, SliceSummary { n, score: if n > 0 { sum / n as f64 } else { 0.0 } })
                        })
                        .collect();
                    (column, values)
                })
                .collect(),
            repeats: (self.repeats > 1).then(|| RepeatSummary {
                k: self.repeats,
                pass_at_k: if self.n_run > 0 { self.passed as f64 / self.n_run as f64 } else { 0.0 },
                flaky: self.flaky,
            }),
            provenance,
        }
    }
}
