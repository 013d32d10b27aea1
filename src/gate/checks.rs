//! The gate's checks: each `[gate]` threshold of a task spec, judged against the current run
//! (and the baseline), becomes a [`Check`] that passed, failed or cannot be judged; a task's
//! checks make its [`Verdict`], whose exit code follows DESIGN.md §4.

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::compare::{compare, Comparison};
use crate::spec::SpecGate;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within the threshold.
    Passed,
    /// Beyond the threshold: exit 1.
    Failed,
    /// The run or the baseline cannot support a verdict (aborted run, too few examples,
    /// changed dataset, missing baseline, unpriced model): exit 2.
    CannotJudge,
}

impl Status {
    /// `PASS`, `FAIL` or `CANNOT JUDGE`, as verdict lines print it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::CannotJudge => "CANNOT JUDGE",
        }
    }

    /// The exit code: 0 passed, 1 failed, 2 cannot judge.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Failed => 1,
            Status::CannotJudge => 2,
        }
    }
}

/// One threshold, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The `[gate]` key (`min_score`, `max_regression`, ...), or `run` and `baseline` for the
    /// checks every gate makes.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// The observed figure, when there is one.
    pub observed: Option<f64>,
    /// The threshold, when there is one.
    pub threshold: Option<f64>,
    /// One line saying what was found.
    pub message: String,
    /// The examples (indices) behind a failure: those that regressed, failed or were slow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<usize>,
}

impl Check {
    fn new(name: &str, status: Status, observed: Option<f64>, threshold: Option<f64>, message: String) -> Self {
        Check { name: name.into(), status, observed, threshold, message, examples: Vec::new() }
    }

    fn with_examples(mut self, examples: Vec<usize>) -> Self {
        self.examples = examples;
        self
    }
}

/// A task's gate: its checks and the comparison with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The task (its spec file).
    pub task: String,
    /// The worst status of the checks.
    pub status: Status,
    /// Every check, in `[gate]` order.
    pub checks: Vec<Check>,
    /// The current run's score.
    pub score: f64,
    /// Examples scored now.
    pub n_scored: u64,
    /// Whether the offline simulator answered.
    pub simulated: bool,
    /// The comparison with the baseline, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

impl Verdict {
    /// 0 every check passed, 1 a check failed, 2 a check cannot be judged.
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }
}

/// The exit code of several verdicts: the worst of them (0 with none).
pub fn exit_code(verdicts: &[Verdict]) -> u8 {
    verdicts.iter().map(Verdict::exit_code).max().unwrap_or(0)
}

/// The bootstrap seed of every gate comparison: a fixed seed, so a verdict never flips between
/// two runs of the same results.
pub const SEED: u64 = 0;

/// Judges `current` against every threshold of `gate` (and against `baseline`, when the spec
/// names one: `None` means the file does not exist yet).
pub fn judge(task: &str, gate: &SpecGate, current: &Baseline, baseline: Option<&Baseline>) -> Verdict {
    let s = &current.summary;
    let mut checks = Vec::new();

    // The run itself: an aborted run or a replay that missed cannot be judged.
    let run = if let Some(reason) = &s.stopped {
        Check::new("run", Status::CannotJudge, None, None, format!("the evaluation stopped early: {reason}"))
    } else if !s.replay_misses.is_empty() {
        let who: Vec<String> = s.replay_misses.iter().map(|(p, n)| format!("`{p}` ({n} examples)")).collect();
        Check::new(
            "run",
            Status::CannotJudge,
            None,
            None,
            format!(
                "the replay-only cache has no reply for the prompts of {}: the program's prompts changed since the \
                 cache was recorded; record again with the cache in read-write mode and export it (lmc cache export)",
                who.join(", ")
            ),
        )
    } else if s.n_scored == 0 {
        Check::new("run", Status::CannotJudge, Some(0.0), None, "no example was scored".into())
    } else {
        Check::new("run", Status::Passed, None, None, format!("{} of {} examples scored", s.n_scored, s.n))
    };
    checks.push(run);

    if let Some(min) = gate.min_examples {
        let n = s.n_scored as f64;
        checks.push(if s.n_scored >= min {
            Check::new(
                "min_examples",
                Status::Passed,
                Some(n),
                Some(min as f64),
                format!("{} examples scored (at least {min})", s.n_scored),
            )
        } else {
            Check::new(
                "min_examples",
                Status::CannotJudge,
                Some(n),
                Some(min as f64),
                format!("only {} scored, fewer than {min}: too few to judge", count(s.n_scored as usize, "example")),
            )
        });
    }

    if let Some(min) = gate.min_score {
        let below: Vec<usize> = current.examples.iter().filter(|e| e.score < 1.0).map(|e| e.index).collect();
        checks.push(if s.score >= min {
            Check::new(
                "min_score",
                Status::Passed,
                Some(s.score),
                Some(min),
                format!("score {:.3} ≥ {min:.3}", s.score),
            )
        } else {
            Check::new(
                "min_score",
                Status::Failed,
                Some(s.score),
                Some(min),
                format!("score {:.3} is below {min:.3} ({} examples below full score)", s.score, below.len()),
            )
            .with_examples(below)
        });
    }

    let confidence = gate.confidence();
    let comparison = baseline.map(|b| compare(b, current, confidence, SEED));
    if let Some(path) = &gate.baseline {
        checks.push(match &comparison {
            None => Check::new(
                "baseline",
                Status::CannotJudge,
                None,
                None,
                format!("no baseline at {}: bless one with `lmc gate SPEC --bless`", path.display()),
            ),
            Some(c) if !c.comparable() => {
                let what: Vec<String> = c.mismatches.iter().map(ToString::to_string).collect();
                Check::new(
                    "baseline",
                    Status::CannotJudge,
                    None,
                    None,
                    format!(
                        "not comparable with {}: {}; bless a new baseline if this is intended",
                        path.display(),
                        what.join("; ")
                    ),
                )
            }
            Some(c) => {
                let mut message = format!("same dataset, metric and split; {} examples paired", c.paired);
                if !c.only_baseline.is_empty() || !c.only_current.is_empty() {
                    message.push_str(&format!(
                        " ({} only in the baseline, {} only now)",
                        c.only_baseline.len(),
                        c.only_current.len()
                    ));
                }
                Check::new("baseline", Status::Passed, None, None, message)
            }
        });
    }

    if let Some(max) = gate.max_regression {
        checks.push(match &comparison {
            Some(c) if c.comparable() && c.paired > 0 => regression_check(c, max),
            _ => Check::new(
                "max_regression",
                Status::CannotJudge,
                None,
                Some(max),
                "no comparable baseline to measure a regression against (see the baseline check)".into(),
            ),
        });
    }

    if let Some(max) = gate.max_cost_per_example_usd {
        checks.push(match s.cost_per_example_usd {
            None => Check::new(
                "max_cost_per_example_usd",
                Status::CannotJudge,
                None,
                Some(max),
                "the program's cost is unknown: a model is not in the price table (add it with --prices)".into(),
            ),
            Some(cost) if cost <= max => Check::new(
                "max_cost_per_example_usd",
                Status::Passed,
                Some(cost),
                Some(max),
                format!("${cost:.6} per example ≤ ${max:.6}"),
            ),
            Some(cost) => Check::new(
                "max_cost_per_example_usd",
                Status::Failed,
                Some(cost),
                Some(max),
                format!("${cost:.6} per example exceeds ${max:.6}"),
            ),
        });
    }

    if let Some(max) = gate.max_p95_latency_ms {
        let p95 = s.latency_p95_ms;
        let slow: Vec<usize> = current.examples.iter().filter(|e| e.latency_ms > max).map(|e| e.index).collect();
        checks.push(if p95 <= max {
            Check::new(
                "max_p95_latency_ms",
                Status::Passed,
                Some(p95),
                Some(max),
                format!("p95 latency {p95:.0} ms ≤ {max:.0} ms"),
            )
        } else {
            Check::new(
                "max_p95_latency_ms",
                Status::Failed,
                Some(p95),
                Some(max),
                format!("p95 latency {p95:.0} ms exceeds {max:.0} ms ({} slower)", count(slow.len(), "example")),
            )
            .with_examples(slow)
        });
    }

    if let Some(max) = gate.max_error_rate {
        let rate = s.error_rate;
        let failed: Vec<usize> = current.examples.iter().filter(|e| e.outcome.is_error()).map(|e| e.index).collect();
        checks.push(if rate <= max {
            Check::new(
                "max_error_rate",
                Status::Passed,
                Some(rate),
                Some(max),
                format!("error rate {:.1}% ≤ {:.1}%", rate * 100.0, max * 100.0),
            )
        } else {
            Check::new(
                "max_error_rate",
                Status::Failed,
                Some(rate),
                Some(max),
                format!(
                    "error rate {:.1}% exceeds {:.1}% ({} examples failed)",
                    rate * 100.0,
                    max * 100.0,
                    failed.len()
                ),
            )
            .with_examples(failed)
        });
    }

    Verdict {
        task: task.to_string(),
        status: checks.iter().map(|c| c.status).max().unwrap_or(Status::Passed),
        checks,
        score: s.score,
        n_scored: s.n_scored,
        simulated: current.provenance.simulated,
        comparison,
    }
}

/// Why `current` cannot be blessed as the baseline of `gate`, when it cannot: a run the gate
/// could not judge (it stopped early, a replay-only cache missed, nothing was scored, or
/// fewer examples were scored than `min_examples`) is broken (DESIGN.md §4), and blessing it
/// would make every later comparison meaningless.
///
/// ```
/// # use lmc::gate::baseline::{Baseline, FORMAT_VERSION};
/// use lmc::gate::checks::bless_refusal;
/// let empty = Baseline { format_version: FORMAT_VERSION, summary: Default::default(),
///     provenance: Default::default(), examples: Vec::new() };
/// assert!(bless_refusal(&Default::default(), &empty).unwrap().contains("no example was scored"));
/// ```
pub fn bless_refusal(gate: &SpecGate, current: &Baseline) -> Option<String> {
    // The same checks the gate makes, without a baseline to compare with.
    let verdict = judge("", gate, current, None);
    let broken: Vec<&str> = verdict
        .checks
        .iter()
        .filter(|c| matches!(c.name.as_str(), "run" | "min_examples") && c.status == Status::CannotJudge)
        .map(|c| c.message.as_str())
        .collect();
    (!broken.is_empty()).then(|| broken.join("; "))
}

/// Fails when the drop exceeds `max` with the comparison's confidence: the one-sided upper
/// bound of the paired difference lies below `−max`.
fn regression_check(c: &Comparison, max: f64) -> Check {
    let pct = c.confidence * 100.0;
    let d = &c.delta;
    let mut facts = format!(
        "Δ {:+.3} [{pct:.0}% CI {:+.3}, {:+.3}] over {} paired; {} regressed, {} improved",
        d.mean,
        d.ci.low,
        d.ci.high,
        count(c.paired, "example"),
        c.regressed.len(),
        c.improved.len()
    );
    if let Some(m) = &c.mcnemar {
        facts.push_str(&format!("; McNemar p = {}", super::stats::format_p(m.p_value)));
    }
    let method = match d.upper_method {
        super::stats::UpperMethod::Exact => "exact",
        super::stats::UpperMethod::Bootstrap => "bootstrap",
        super::stats::UpperMethod::StudentT => "Student's t",
    };
    facts.push_str(&format!("; one-sided upper bound {:+.3} ({method})", d.upper));
    let regressed: Vec<usize> = c.regressed.iter().map(|e| e.index).collect();
    if d.upper < -max {
        Check::new(
            "max_regression",
            Status::Failed,
            Some(d.mean),
            Some(max),
            format!("regression: the score dropped by more than {max:.3} with {pct:.0}% confidence ({facts})"),
        )
        .with_examples(regressed)
    } else {
        let mut message = format!("no drop beyond {max:.3} at {pct:.0}% confidence ({facts})");
        match c.min_detectable_regression {
            Some(mdr) if mdr > max => message.push_str(&format!(
                "; note: {} examples detect only drops of {mdr:.3} or more (power {:.0}%)",
                c.paired,
                super::stats::POWER * 100.0
            )),
            Some(_) => {}
            None => message.push_str(&format!("; note: {} paired example is too few to detect a drop", c.paired)),
        }
        Check::new("max_regression", Status::Passed, Some(d.mean), Some(max), message)
    }
}

/// `n` and the noun, plural unless `n` is 1: `1 example`, `3 examples`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
