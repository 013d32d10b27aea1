//! Baseline files: the per-example scores of a blessed run, with its summary and provenance,
//! meant to be committed beside the task spec. A run directory (`lmc eval --out DIR`) reads
//! into the same shape, so either can be compared with either.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::stats;
use crate::data::dataset::example_hash;
use crate::data::Example;
use crate::evaluate::{EvalReport, ExampleResult, Outcome};

/// The baseline format this lmc writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One example's result, its repeats folded together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleScore {
    /// The example's position in the split.
    pub index: usize,
    /// The content hash of its inputs and labels ([`example_hash`]): the pairing key, with the index.
    pub hash: String,
    /// Its score (the mean over repeats; failures score 0).
    pub score: f64,
    /// How it ended (a failure of any repeat wins over `ok`).
    pub outcome: Outcome,
    /// Program cost in dollars (by usage, cached or not); `None` when unpriced.
    pub cost_usd: Option<f64>,
    /// Program latency in milliseconds: the sum of its LM calls' latencies, which a cache
    /// replay keeps, so a replayed run reports the recorded figure.
    pub latency_ms: f64,
}

/// What a run is, to tell whether two runs can be compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineProvenance {
    /// The lmc version that ran it.
    pub lmc_version: String,
    /// The git commit of the working directory, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The program's name.
    pub program: String,
    /// SHA-256 of the program file.
    pub program_hash: String,
    /// The artifact installed, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// SHA-256 of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_hash: Option<String>,
    /// The dataset file and split, as the report names them.
    pub dataset: String,
    /// The content hash of the evaluated examples.
    pub dataset_hash: String,
    /// The split (`train`, `dev`, `test`, or `dataset` for a bare file).
    pub split: String,
    /// The metric and the field it scores.
    pub metric: String,
    /// The LMs that answered.
    pub models: Vec<String>,
    /// Whether the offline simulator answered.
    pub simulated: bool,
}

/// A run's headline figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// Mean score over the examples that ran.
    pub score: f64,
    /// Examples in the split.
    pub n: u64,
    /// Examples that ran and were scored (failures included, scoring 0).
    pub n_scored: u64,
    /// Failed runs (parse, LM or metric errors) over runs.
    pub error_rate: f64,
    /// Program cost per example; `None` when a call was unpriced.
    pub cost_per_example_usd: Option<f64>,
    /// 95th percentile of the per-example program latency, in milliseconds.
    pub latency_p95_ms: f64,
    /// LM calls per example.
    pub calls_per_example: f64,
    /// Why the run stopped early, when it did: such a run cannot be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Per predictor, the examples whose call missed the cache in replay-only mode: its
    /// prompts changed since the cache was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replay_misses: BTreeMap<String, u64>,
}

/// The scores of one run: a blessed baseline file, or a run directory read into the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Headline figures.
    pub summary: BaselineSummary,
    /// What ran.
    pub provenance: BaselineProvenance,
    /// Per example, in index order.
    pub examples: Vec<ExampleScore>,
}

/// A baseline or run directory that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a baseline (or a run directory's file is not what `lmc eval` writes).
    #[error("{path} is not a valid {what}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `baseline` or `run report`.
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A baseline from another format version.
    #[error("{path} has baseline format {found}; this lmc reads format {FORMAT_VERSION}: bless it again")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The baseline cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Baseline {
    /// Folds an evaluation's results (`examples.jsonl`, any order, repeats included) and its
    /// report into per-example scores; `split` names the split evaluated.
    pub fn from_results(report: &EvalReport, split: &str, results: impl IntoIterator<Item = ExampleResult>) -> Self {
        let mut by_index: BTreeMap<usize, Vec<Folded>> = BTreeMap::new();
        let mut misses: BTreeMap<String, std::collections::BTreeSet<usize>> = BTreeMap::new();
        for r in results {
            for call in &r.trace {
                if call.error.as_deref().is_some_and(|e| e.contains("cache miss in replay-only mode")) {
                    misses.entry(call.predictor.clone()).or_default().insert(r.index);
                }
            }
            by_index.entry(r.index).or_default().push(Folded::of(&r));
        }
        let examples: Vec<ExampleScore> = by_index
            .into_iter()
            .filter_map(|(index, runs)| {
                let ran: Vec<&Folded> = runs.iter().filter(|r| r.outcome != Outcome::NotRun).collect();
                let first = ran.first()?;
                let k = ran.len() as f64;
                let outcome = ran.iter().map(|r| r.outcome).find(|o| o.is_error()).unwrap_or(Outcome::Ok);
                let cost = ran.iter().map(|r| r.cost).sum::<Option<f64>>().map(|c| c / k);
                Some(ExampleScore {
                    index,
                    hash: first.hash.clone(),
                    score: ran.iter().map(|r| r.score).sum::<f64>() / k,
                    outcome,
                    cost_usd: cost,
                    latency_ms: ran.iter().map(|r| r.latency).sum::<f64>() / k,
                })
            })
            .collect();
        let o = report.outcomes;
        let failed = o.parse_error + o.lm_error + o.metric_error;
        let runs = o.ok + failed;
        let latencies: Vec<f64> = examples.iter().map(|e| e.latency_ms).collect();
        let p = &report.provenance;
        Baseline {
            format_version: FORMAT_VERSION,
            summary: BaselineSummary {
                score: stats_mean(&examples),
                n: report.n,
                n_scored: examples.len() as u64,
                error_rate: if runs > 0 { failed as f64 / runs as f64 } else { 0.0 },
                cost_per_example_usd: report.cost_usd.program_per_example,
                latency_p95_ms: stats::quantile(&latencies, 0.95),
                calls_per_example: if report.n_run > 0 { report.usage.calls as f64 / report.n_run as f64 } else { 0.0 },
                stopped: report.stopped.clone(),
                replay_misses: misses.into_iter().map(|(k, v)| (k, v.len() as u64)).collect(),
            },
            provenance: BaselineProvenance {
                lmc_version: p.lmc_version.clone(),
                git_commit: p.git_commit.clone(),
                program: p.program.clone(),
                program_hash: p.program_hash.clone(),
                artifact: p.artifact.clone(),
                artifact_hash: p.artifact_hash.clone(),
                dataset: p.dataset.clone(),
                dataset_hash: p.dataset_hash.clone(),
                split: split.to_string(),
                metric: p.metric.clone(),
                models: p.models.clone(),
                simulated: p.simulated,
            },
            examples,
        }
    }

    /// Reads a baseline file, or a run directory (`report.json` and `examples.jsonl`).
    pub fn open(path: &Path) -> Result<Self, BaselineError> {
        if path.is_dir() {
            Self::read_run_dir(path)
        } else {
            Self::read(path)
        }
    }

    /// Reads a baseline file.
    pub fn read(path: &Path) -> Result<Self, BaselineError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BaselineError::Read { path: path.to_path_buf(), source })?;
        // The version first, so a future format says so rather than failing on a field.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let parse = |source| BaselineError::Parse { path: path.to_path_buf(), what: "baseline", source };
        let version: Version = serde_json::from_str(&text).map_err(parse)?;
        if version.format_version != FORMAT_VERSION {
            return Err(BaselineError::Version { path: path.to_path_buf(), found: version.format_version });
        }
        serde_json::from_str(&text).map_err(parse)
    }

    /// Reads a run directory written by `lmc eval --out DIR`.
    pub fn read_run_dir(dir: &Path) -> Result<Self, BaselineError> {
        let report_path = dir.join("report.json");
        let text = std::fs::read_to_string(&report_path)
            .map_err(|source| BaselineError::Read { path: report_path.clone(), source })?;
        let report: EvalReport = serde_json::from_str(&text).map_err(|source| BaselineError::Parse {
            path: report_path.clone(),
            what: "run report",
            source,
        })?;
        let examples_path = dir.join("examples.jsonl");
        let file = std::fs::File::open(&examples_path)
            .map_err(|source| BaselineError::Read { path: examples_path.clone(), source })?;
        let mut results = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|source| BaselineError::Read { path: examples_path.clone(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            let result: ExampleResult = serde_json::from_str(&line).map_err(|source| BaselineError::Parse {
                path: examples_path.clone(),
                what: "examples file",
                source,
            })?;
            results.push(result);
        }
        let split = split_of(&report.provenance.dataset);
        Ok(Self::from_results(&report, &split, results))
    }

    /// Writes the baseline as pretty JSON, atomically (a crash never leaves half a file).
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|source| BaselineError::Write { path: path.to_path_buf(), source })
    }

    /// The scores, keyed by (index, example hash).
    pub fn keyed(&self) -> BTreeMap<(usize, &str), &ExampleScore> {
        self.examples.iter().map(|e| ((e.index, e.hash.as_str()), e)).collect()
    }
}

/// One repeat's figures.
struct Folded {
    hash: String,
    score: f64,
    outcome: Outcome,
    cost: Option<f64>,
    latency: f64,
}

impl Folded {
    fn of(r: &ExampleResult) -> Self {
        // The example as the dataset held it: its inputs (marked as such) and its labels.
        let mut fields = r.inputs.clone();
        fields.extend(r.gold.iter().map(|(k, v)| (k.clone(), v.clone())));
        let example = Example::from_fields(fields).with_inputs(r.inputs.keys().cloned().collect::<Vec<_>>());
        let program_latency: f64 = r.trace.iter().map(|t| t.latency.as_secs_f64() * 1000.0).sum();
        Folded {
            hash: example_hash(&example),
            score: r.score,
            outcome: r.outcome,
            cost: r.program_cost_usd,
            latency: if r.trace.is_empty() { r.latency_ms } else { program_latency },
        }
    }
}

fn stats_mean(examples: &[ExampleScore]) -> f64 {
    crate::evaluate::stats::mean(&examples.iter().map(|e| e.score).collect::<Vec<_>>())
}

/// `datasets/x/test.jsonl (test)` → `test`: the split as the report names it.
fn split_of(dataset: &str) -> String {
    dataset
        .rsplit_once(" (")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or_else(|| "dataset".to_string(), str::to_string)
}
