//! A paired comparison of two runs: the per-example score difference with a seeded
//! paired-bootstrap interval, McNemar's exact test when the metric is pass/fail, the examples
//! that regressed and improved, cost and latency deltas, and the smallest regression the
//! sample can detect. Runs of different datasets, metrics or splits are reported as such.

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::stats::{self, McNemar, PairedDelta};

/// Something that differs between the two runs and makes their scores incomparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `dataset`, `metric` or `split`.
    pub what: String,
    /// The baseline's value.
    pub baseline: String,
    /// The current run's value.
    pub current: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} changed: baseline {}, now {}", self.what, self.baseline, self.current)
    }
}

/// One example whose score moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleDelta {
    /// Its index in the split.
    pub index: usize,
    /// The baseline's score.
    pub baseline: f64,
    /// The current score.
    pub current: f64,
}

/// The paired comparison of a baseline and a current run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What makes the runs incomparable; when not empty, the figures below cover only the
    /// examples that happen to match and a gate does not judge them.
    pub mismatches: Vec<Mismatch>,
    /// Examples present in both (same index and content hash).
    pub paired: usize,
    /// Indices only the baseline has.
    pub only_baseline: Vec<usize>,
    /// Indices only the current run has.
    pub only_current: Vec<usize>,
    /// The baseline's mean over the pairs.
    pub baseline_score: f64,
    /// The current mean over the pairs.
    pub current_score: f64,
    /// The confidence of the interval, bound and detectable regression.
    pub confidence: f64,
    /// The bootstrap's seed.
    pub seed: u64,
    /// current − baseline per pair.
    pub delta: PairedDelta,
    /// McNemar's exact test, when every paired score is 0 or 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcnemar: Option<McNemar>,
    /// The smallest true drop these pairs detect at the confidence with power
    /// [`stats::POWER`]; `None` with fewer than two pairs (no spread to estimate it from).
    pub min_detectable_regression: Option<f64>,
    /// Examples that scored lower now, worst first.
    pub regressed: Vec<ExampleDelta>,
    /// Examples that scored higher now, best first.
    pub improved: Vec<ExampleDelta>,
    /// Program cost per example, now minus baseline; `None` when either is unpriced.
    pub cost_per_example_delta_usd: Option<f64>,
    /// 95th-percentile program latency, now minus baseline, in milliseconds.
    pub latency_p95_delta_ms: f64,
    /// LM calls per example, now minus baseline.
    pub calls_per_example_delta: f64,
}

impl Comparison {
    /// Whether the two runs measure the same thing (same dataset, metric and split).
    pub fn comparable(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Pairs `current` with `baseline` by example index and content hash and compares them at
/// `confidence`, with the bootstrap seeded by `seed`.
///
/// ```
/// use lmc::gate::compare::compare;
/// # use lmc::gate::baseline::*;
/// # use lmc::evaluate::Outcome;
/// # let run = |scores: &[f64]| Baseline { format_version: FORMAT_VERSION, summary: Default::default(),
/// #     provenance: Default::default(), examples: scores.iter().enumerate().map(|(index, &score)| ExampleScore {
/// #         index, hash: format!("h{index}"), score, outcome: Outcome::Ok, cost_usd: Some(0.0), latency_ms: 1.0 }).collect() };
/// let (before, after) = (run(&[1.0, 1.0, 1.0, 0.0]), run(&[1.0, 0.0, 1.0, 0.0]));
/// let c = compare(&before, &after, 0.95, 0);
/// assert_eq!(c.delta.mean, -0.25);
/// assert_eq!(c.regressed.iter().map(|e| e.index).collect::<Vec<_>>(), [1]);
/// ```
pub fn compare(baseline: &Baseline, current: &Baseline, confidence: f64, seed: u64) -> Comparison {
    let (b, c) = (&baseline.provenance, &current.provenance);
    let mismatch = |what: &str, baseline: String, current: String| Mismatch { what: what.into(), baseline, current };
    let mut mismatches = Vec::new();
    // The examples' content decides: a moved or renamed file with the same examples is the same dataset.
    if b.dataset_hash != c.dataset_hash {
        let name = |p: &super::baseline::BaselineProvenance| format!("{} (hash {})", p.dataset, short(&p.dataset_hash));
        mismatches.push(mismatch("dataset", name(b), name(c)));
    }
    if b.metric != c.metric {
        mismatches.push(mismatch("metric", b.metric.clone(), c.metric.clone()));
    }
    if b.split != c.split {
        mismatches.push(mismatch("split", b.split.clone(), c.split.clone()));
    }

    let base_keyed = baseline.keyed();
    let cur_keyed = current.keyed();
    let mut pairs = Vec::new();
    let mut only_baseline = Vec::new();
    for (key, score) in &base_keyed {
        match cur_keyed.get(key) {
            Some(now) => pairs.push((*score, *now)),
            None => only_baseline.push(key.0),
        }
    }
    let only_current: Vec<usize> =
        cur_keyed.keys().filter(|key| !base_keyed.contains_key(*key)).map(|key| key.0).collect();

    let before: Vec<f64> = pairs.iter().map(|(b, _)| b.score).collect();
    let after: Vec<f64> = pairs.iter().map(|(_, c)| c.score).collect();
    let delta = stats::paired_delta(&before, &after, confidence, seed);
    let binary = |xs: &[f64]| xs.iter().all(|x| *x == 0.0 || *x == 1.0);
    let mcnemar = (!pairs.is_empty() && binary(&before) && binary(&after)).then(|| {
        let regressed = pairs.iter().filter(|(b, c)| b.score > c.score).count() as u64;
        let improved = pairs.iter().filter(|(b, c)| b.score < c.score).count() as u64;
        McNemar { regressed, improved, p_value: stats::mcnemar_exact(regressed, improved) }
    });
    let diffs: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let mut sd = stats::sample_sd(&diffs);
    if sd == 0.0 {
        sd = stats::sample_sd(&before);
    }
    // One pair has no spread to estimate: its sd of 0 would claim every drop is detectable.
    let min_detectable_regression = (pairs.len() >= 2)
        .then(|| stats::min_detectable_regression(sd, pairs.len(), confidence, stats::POWER))
        .flatten();
    let moved = |pred: fn(f64, f64) -> bool| -> Vec<ExampleDelta> {
        pairs
            .iter()
            .filter(|(b, c)| pred(b.score, c.score))
            .map(|(b, c)| ExampleDelta { index: b.index, baseline: b.score, current: c.score })
            .collect()
    };
    let mut regressed = moved(|b, c| c < b);
    regressed.sort_by(|x, y| (x.current - x.baseline).total_cmp(&(y.current - y.baseline)).then(x.index.cmp(&y.index)));
    let mut improved = moved(|b, c| c > b);
    improved.sort_by(|x, y| (y.current - y.baseline).total_cmp(&(x.current - x.baseline)).then(x.index.cmp(&y.index)));
    let (bs, cs) = (&baseline.summary, &current.summary);
    Comparison {
        mismatches,
        paired: pairs.len(),
        only_baseline,
        only_current,
        baseline_score: crate::evaluate::stats::mean(&before),
        current_score: crate::evaluate::stats::mean(&after),
        confidence,
        seed,
        delta,
        mcnemar,
        min_detectable_regression,
        regressed,
        improved,
        cost_per_example_delta_usd: match (bs.cost_per_example_usd, cs.cost_per_example_usd) {
            (Some(b), Some(c)) => Some(c - b),
            _ => None,
        },
        latency_p95_delta_ms: cs.latency_p95_ms - bs.latency_p95_ms,
        calls_per_example_delta: cs.calls_per_example - bs.calls_per_example,
    }
}

/// The first 12 hex digits of a hash: enough to tell two apart in a message.
pub(crate) fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
