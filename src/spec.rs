//! Task spec files: `evals/*.toml`, one file that says what to evaluate, compile and gate: the
//! program, the LM, the data splits and their columns, the metric, the simulator's `[sim]`
//! settings and the release gate's `[gate]` thresholds. Paths are relative to the spec file.
//!
//! ```toml
//! program = "../programs/math_qa.toml"
//!
//! [lm]
//! model = "openai/gpt-4o-mini"
//! temperature = 0.0
//! max_tokens = 1024
//!
//! [data]
//! train = { path = "../datasets/gsm8k/train.jsonl" }
//! test = { path = "../datasets/gsm8k/test.jsonl", limit = 100 }
//! inputs = ["question"]
//! labels = { answer = "answer" }      # output field = dataset column
//!
//! [metric]
//! name = "numeric"
//! field = "answer"
//!
//! [eval]
//! split = "test"
//! concurrency = 16
//!
//! [compile]
//! optimizer = "bootstrap"
//! seed = 0
//! max_usd = 2.0
//!
//! [sim]
//! hints = ["show your arithmetic"]
//!
//! [gate]
//! baseline = "../baselines/math_qa.json"
//! min_score = 0.6
//! max_regression = 0.02
//! confidence = 0.95
//! min_examples = 100
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::dataset::DataSpec;
use crate::metric::MetricSpec;
use crate::sim::SimSettings;

/// `[lm]` of a spec: the task's default LM.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecLm {
    /// `provider/model`, or `sim`.
    pub model: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Token limit per completion.
    pub max_tokens: Option<u32>,
    /// The provider's endpoint.
    pub base_url: Option<String>,
}

/// `[data]`: named splits and how columns map to the program.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecData {
    /// Training examples (for compiling).
    pub train: Option<DataSpec>,
    /// Validation examples.
    pub dev: Option<DataSpec>,
    /// Held-out examples.
    pub test: Option<DataSpec>,
    /// Dataset columns that are program inputs (default: the program's inputs).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// Output field → dataset column with its gold value.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `[eval]`: how to evaluate.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecEval {
    /// The split to evaluate (default `test`).
    pub split: Option<String>,
    /// Examples in flight.
    pub concurrency: Option<usize>,
    /// Runs per example.
    pub repeats: Option<u32>,
    /// Stop after more failures than this.
    pub max_errors: Option<usize>,
    /// Stop after spending this many dollars.
    pub max_usd: Option<f64>,
    /// Columns to report per-value scores for.
    #[serde(default)]
    pub slice_by: Vec<String>,
}

/// `[compile]`: how `lmc compile` compiles the task. Flags override each setting.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecCompile {
    /// `labeled`, `bootstrap`, `random-search`, `knn`, `mipro`, `gepa`, `simba` or `copro`
    /// (default `bootstrap`).
    pub optimizer: Option<String>,
    /// The seed (default 0).
    pub seed: Option<u64>,
    /// What searching optimizers maximize: `score` (default) or `score-cost`.
    pub objective: Option<String>,
    /// `score-cost`'s λ: the score given up to save one dollar per example.
    pub lambda: Option<f64>,
    /// The split candidates are scored on (default `dev` when the spec has one, else the
    /// trainset itself).
    pub valset: Option<String>,
    /// Program runs in flight.
    pub concurrency: Option<usize>,
    /// Stop after this many LM calls.
    pub max_calls: Option<u64>,
    /// Stop after this many tokens.
    pub max_tokens: Option<u64>,
    /// Stop after this many dollars (by usage).
    pub max_usd: Option<f64>,
    /// Bootstrapped demos per predictor.
    pub max_bootstrapped_demos: Option<usize>,
    /// Demos per predictor in all.
    pub max_labeled_demos: Option<usize>,
    /// Bootstrap rounds.
    pub max_rounds: Option<u32>,
    /// The score a teacher run must reach to become demos.
    pub metric_threshold: Option<f64>,
    /// RandomSearch's shuffled bootstraps.
    pub num_candidates: Option<usize>,
    /// Demos per call (`labeled` and `knn`).
    pub k: Option<usize>,
    /// KnnFewShot's embedding model (`provider/model`; default: BM25, no model).
    pub embedder: Option<String>,
    /// The teacher's LM (`provider/model`).
    pub teacher_lm: Option<String>,
    /// MIPROv2's and GEPA's preset: `light`, `medium`, `heavy` or `off`.
    pub auto: Option<String>,
    /// MIPROv2's trials.
    pub num_trials: Option<usize>,
    /// MIPROv2's minibatch size; GEPA's reflection minibatch size.
    pub minibatch_size: Option<usize>,
    /// MIPROv2's prompt LM (`provider/model`).
    pub prompt_lm: Option<String>,
    /// GEPA's reflection LM (`provider/model`).
    pub reflection_lm: Option<String>,
    /// GEPA's budget in metric calls (instead of `auto`).
    pub max_metric_calls: Option<u64>,
    /// GEPA: merge lineages (default true).
    pub use_merge: Option<bool>,
    /// An artifact to start from (its instructions and demos), relative to the spec.
    pub start_from: Option<std::path::PathBuf>,
    /// SIMBA's steps.
    pub max_steps: Option<usize>,
    /// COPRO's instructions per predictor and round.
    pub breadth: Option<usize>,
    /// COPRO's rounds.
    pub depth: Option<usize>,
}

/// `[gate]`: what `lmc gate` checks. Every threshold is optional; a gate checks the ones given.
/// See [`crate::gate`] for what each check means.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecGate {
    /// The split to gate on (default: the `[eval]` split, else `test`).
    pub split: Option<String>,
    /// The blessed baseline file (written by `lmc gate --bless`), relative to the spec file.
    pub baseline: Option<PathBuf>,
    /// The lowest acceptable mean score.
    pub min_score: Option<f64>,
    /// The largest acceptable drop in mean score from the baseline: fails only when the drop
    /// exceeds it with `confidence`.
    pub max_regression: Option<f64>,
    /// The confidence of the regression check (default 0.95).
    pub confidence: Option<f64>,
    /// Fewer scored examples than this cannot be judged (exit 2).
    pub min_examples: Option<u64>,
    /// The most the program may cost per example, in dollars (by usage, cached or not).
    pub max_cost_per_example_usd: Option<f64>,
    /// The highest acceptable 95th-percentile program latency per example, in milliseconds.
    pub max_p95_latency_ms: Option<f64>,
    /// The largest acceptable fraction of runs that failed (parse, LM or metric errors).
    pub max_error_rate: Option<f64>,
}

impl SpecGate {
    /// The regression check's confidence (default 0.95).
    pub fn confidence(&self) -> f64 {
        self.confidence.unwrap_or(0.95)
    }

    /// Checks the values: fractions in [0, 1], confidence in (0.5, 1), amounts not negative.
    pub fn validate(&self) -> Result<(), String> {
        let fraction = |key: &str, v: Option<f64>| match v {
            Some(x) if !(0.0..=1.0).contains(&x) => Err(format!("[gate] {key} = {x}: it must be between 0 and 1")),
            _ => Ok(()),
        };
        let amount = |key: &str, v: Option<f64>| match v {
            Some(x) if !(x.is_finite() && x >= 0.0) => Err(format!("[gate] {key} = {x}: it must be 0 or more")),
            _ => Ok(()),
        };
        fraction("min_score", self.min_score)?;
        fraction("max_regression", self.max_regression)?;
        fraction("max_error_rate", self.max_error_rate)?;
        amount("max_cost_per_example_usd", self.max_cost_per_example_usd)?;
        amount("max_p95_latency_ms", self.max_p95_latency_ms)?;
        if let Some(c) = self.confidence {
            if !(c > 0.5 && c < 1.0) {
                return Err(format!("[gate] confidence = {c}: it must be above 0.5 and below 1 (e.g. 0.95)"));
            }
        }
        if self.max_regression.is_some() && self.baseline.is_none() {
            return Err("[gate] max_regression needs a `baseline` file to compare with (e.g. baseline = \"../baselines/task.json\")".into());
        }
        Ok(())
    }
}

/// A task spec file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The program file, or `rust:NAME`: a Rust program registered by name in the binary
    /// (`lmc_cli::main_with`), kept as written.
    pub program: PathBuf,
    /// The compiled artifact (written by compile, read by eval and gate).
    #[serde(default)]
    pub artifact: Option<PathBuf>,
    /// The default LM.
    #[serde(default)]
    pub lm: SpecLm,
    /// The data.
    pub data: SpecData,
    /// The metric.
    pub metric: MetricSpec,
    /// Evaluation settings.
    #[serde(default)]
    pub eval: SpecEval,
    /// The simulator's settings for this task.
    #[serde(default)]
    pub sim: Option<SimSettings>,
    /// Compile settings.
    #[serde(default)]
    pub compile: SpecCompile,
    /// Release-gate settings (read by `lmc gate`).
    #[serde(default)]
    pub gate: Option<SpecGate>,
    /// The file this spec was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// A spec file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for SpecError {}

impl TaskSpec {
    /// Loads a spec, resolving its paths against the file's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SpecError> {
        let path = path.as_ref();
        let err = |message: String| SpecError { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the spec: {e}")))?;
        let mut spec: TaskSpec =
            toml::from_str(&text).map_err(|e| err(format!("invalid spec: {}", e.to_string().trim_end())))?;
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { normalize(&dir.join(p)) };
        if !spec.program.to_str().is_some_and(|p| p.starts_with("rust:")) {
            spec.program = resolve(&spec.program);
        }
        spec.artifact = spec.artifact.as_deref().map(resolve);
        spec.compile.start_from = spec.compile.start_from.as_deref().map(resolve);
        for split in [&mut spec.data.train, &mut spec.data.dev, &mut spec.data.test].into_iter().flatten() {
            split.path = resolve(&split.path);
        }
        if let Some(gate) = &mut spec.gate {
            gate.validate().map_err(err)?;
            gate.baseline = gate.baseline.as_deref().map(resolve);
        }
        spec.path = path.to_path_buf();
        Ok(spec)
    }

    /// The split called `name` (`train`, `dev`, `test`).
    pub fn split(&self, name: &str) -> Result<&DataSpec, SpecError> {
        let split = match name {
            "train" => self.data.train.as_ref(),
            "dev" => self.data.dev.as_ref(),
            "test" => self.data.test.as_ref(),
            other => {
                return Err(SpecError {
                    path: self.path.clone(),
                    message: format!("unknown split `{other}`; splits are train, dev and test"),
                })
            }
        };
        split.ok_or_else(|| SpecError {
            path: self.path.clone(),
            message: format!("[data] has no `{name}` split; add {name} = {{ path = \"...\" }}"),
        })
    }

    /// Every split given, in train, dev, test order.
    pub fn splits(&self) -> Vec<(&'static str, &DataSpec)> {
        [("train", &self.data.train), ("dev", &self.data.dev), ("test", &self.data.test)]
            .into_iter()
            .filter_map(|(name, split)| split.as_ref().map(|s| (name, s)))
            .collect()
    }
}

/// `evals/../datasets/x.jsonl` → `datasets/x.jsonl`, lexically (no file system access), so
/// reports and artifacts name files the way a reader expects.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
