//! `Objective`: what a searching optimizer maximizes when it ranks candidates: the score, or
//! the score less a price on the program's dollars per example.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a compile maximizes when an optimizer ranks candidates (RandomSearch, MIPROv2).
///
/// * [`Score`](Objective::Score): the metric's mean score on the scoring set (the default).
/// * [`ScoreCost`](Objective::ScoreCost): `score − λ × dollars per example`, the program's
///   mean cost per example on the scoring set by its calls' usage (cache hits included, so
///   the ranking does not depend on what the cache held). λ is the score one would give up to
///   save one dollar per example: with scores in 0..1 and costs of about $0.0001 per example,
///   λ = 1000 trades 0.1 of score for $0.0001.
///
/// **Unpriced candidates.** A candidate whose cost is unknown (some call's model is not in
/// the price table) has no cost term: under `ScoreCost` its value is its score alone, as
/// under `Score`. Its cost is unknown, not zero, but every candidate of a compile runs the
/// same models, so in practice they are all priced or all unpriced, and an all-unpriced
/// compile ranks by score as it would without the objective. [`Objective::ignores_cost`]
/// says when that happened, so reports can flag it.
///
/// ```
/// use lmc::optimize::Objective;
///
/// let objective = Objective::ScoreCost { lambda: 1000.0 };
/// assert!((objective.value(0.8, Some(0.0002)) - 0.6).abs() < 1e-12);
/// assert_eq!(objective.value(0.8, None), 0.8);
/// assert!(objective.ignores_cost(None));
/// assert_eq!(Objective::Score.value(0.8, Some(0.0002)), 0.8);
/// assert_eq!(objective.describe(), "score − 1000 × $/example");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Objective {
    /// The mean score.
    #[default]
    Score,
    /// The mean score less `lambda` times the program's dollars per example.
    ScoreCost {
        /// Score per dollar per example; finite and not negative.
        lambda: f64,
    },
}

impl Objective {
    /// The value to maximize for a candidate with mean `score` and program cost
    /// `cost_per_example` (dollars; `None` when unpriced, which counts as no cost term).
    pub fn value(&self, score: f64, cost_per_example: Option<f64>) -> f64 {
        match (self, cost_per_example) {
            (Objective::ScoreCost { lambda }, Some(cost)) => score - lambda * cost,
            _ => score,
        }
    }

    /// Whether the objective wants a cost that a candidate lacks: `ScoreCost` and `None`
    /// (the candidate was ranked by its score alone).
    pub fn ignores_cost(&self, cost_per_example: Option<f64>) -> bool {
        matches!(self, Objective::ScoreCost { .. }) && cost_per_example.is_none()
    }

    /// `Err` naming the problem when λ is negative or not finite.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Objective::ScoreCost { lambda } if !lambda.is_finite() || *lambda < 0.0 => {
                Err(format!("lambda must be a finite number ≥ 0, not {lambda}"))
            }
            _ => Ok(()),
        }
    }

    /// For reports: `score`, or `score − 1000 × $/example`.
    pub fn describe(&self) -> String {
        match self {
            Objective::Score => "score".into(),
            Objective::ScoreCost { lambda } => format!("score − {lambda} × $/example"),
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}
