//! Release gating: blessed baselines, paired comparisons and the checks of a task's `[gate]`.
//!
//! `lmc gate evals/TASK.toml` evaluates the program, reads the run into a [`Baseline`]-shaped
//! set of per-example scores, [`compare`](compare::compare)s it with the blessed baseline,
//! and judges every threshold with [`judge`]:
//!
//! | check | fails (exit 1) when | cannot judge (exit 2) when |
//! |---|---|---|
//! | `run` | – | the run stopped early (`max_errors`, spend cap), a replay-only cache missed, nothing was scored |
//! | `min_examples` | – | fewer examples were scored (failures count, examples not run do not) |
//! | `min_score` | the mean score is below it | – |
//! | `baseline` | – | the file is missing, or its dataset, metric or split differ |
//! | `max_regression` | the drop exceeds it with `confidence`: the one-sided upper bound of Δ (exact for pass/fail metrics, else the more cautious of the paired bootstrap and Student's t) is below `−max_regression` | no comparable baseline |
//! | `max_cost_per_example_usd` | the program's cost per example (by usage, cached or not) exceeds it | a model is unpriced |
//! | `max_p95_latency_ms` | the 95th percentile of per-example program latency (its calls' recorded latencies) exceeds it | – |
//! | `max_error_rate` | failed runs over runs exceed it | – |
//!
//! A task's verdict is its worst check; several tasks exit with the worst verdict. Cost and
//! latency are the program's recorded figures, so a run replayed from the cache gates as the
//! recorded run would. The statistics are in [`stats`].
//!
//! ```
//! use lmc::evaluate::Outcome;
//! use lmc::gate::baseline::{Baseline, ExampleScore, FORMAT_VERSION};
//! use lmc::gate::checks::{judge, Status};
//! use lmc::spec::SpecGate;
//!
//! let run = |scores: &[f64]| {
//!     let examples: Vec<ExampleScore> = scores.iter().enumerate().map(|(index, &score)| ExampleScore {
//!         index, hash: format!("h{index}"), score, outcome: Outcome::Ok, cost_usd: Some(0.0), latency_ms: 5.0,
//!     }).collect();
//!     let mut b = Baseline { format_version: FORMAT_VERSION, summary: Default::default(), provenance: Default::default(), examples };
//!     b.summary.score = scores.iter().sum::<f64>() / scores.len() as f64;
//!     b.summary.n_scored = scores.len() as u64;
//!     b
//! };
//! let gate = SpecGate { min_score: Some(0.5), max_regression: Some(0.02), baseline: Some("b.json".into()), ..SpecGate::default() };
//! let before = run(&[1.0; 40]);
//! let after = run(&[[1.0; 20], [0.0; 20]].concat());
//! let verdict = judge("evals/t.toml", &gate, &after, Some(&before));
//! assert_eq!(verdict.status, Status::Failed);
//! assert_eq!(verdict.exit_code(), 1);
//! assert!(verdict.checks.iter().any(|c| c.name == "max_regression" && c.status == Status::Failed));
//! ```

pub mod baseline;
pub mod checks;
pub mod compare;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod stats;

pub use baseline::{Baseline, BaselineError, ExampleScore};
pub use checks::{judge, Check, Status, Verdict};
pub use compare::{compare, Comparison, Mismatch};
