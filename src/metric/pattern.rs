//! `Regex`: the prediction must match a regular expression (a format check).

use super::{predicted_value, value_text, MetricError, Score};
use crate::data::{Example, Prediction};

/// Scores 1 when the prediction's `field` contains a match of `pattern` (Rust `regex`
/// syntax; anchor with `^…$` to require a full match), 0 otherwise. Needs no gold.
///
/// ```
/// use lmc::metric::{Metric, Regex};
/// let metric = Regex::new("answer", r"^\d{4}-\d{2}-\d{2}$")?;
/// assert_eq!(metric.name(), "regex");
/// # Ok::<(), lmc::metric::MetricError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Regex {
    /// The output field scored.
    pub field: String,
    pattern: regex::Regex,
}

impl Regex {
    /// A regex metric; a bad pattern is an error that says why.
    pub fn new(field: impl Into<String>, pattern: &str) -> Result<Self, MetricError> {
        let pattern = regex::Regex::new(pattern)
            .map_err(|e| MetricError::Invalid(format!("`pattern` is not a valid regular expression: {e}")))?;
        Ok(Regex { field: field.into(), pattern })
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        self.pattern.as_str()
    }
}

impl Regex {
    fn score_now(&self, _gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        let text = value_text(predicted_value(prediction, &self.field)?);
        Ok(if self.pattern.is_match(&text) {
            Score::pass(true)
        } else {
            Score::pass(false).with_feedback(format!("`{}` does not match /{}/", text, self.pattern.as_str()))
        })
    }
}

sync_metric!(Regex, "regex");
