//! The metric registry: built-in metrics by name, from a spec.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Contains, ExactMatch, JsonValid, Judge, Metric, MetricError, Numeric, Regex, SchemaValid, F1};
use crate::lm::Lm;

/// The built-in metrics' names, as specs and `--metric` take them (`em` is an alias of
/// `exact_match`; `-` may stand for `_` and case does not matter).
pub const METRIC_NAMES: &[&str] =
    &["exact_match", "f1", "contains", "numeric", "regex", "json_valid", "schema_valid", "judge"];

/// A built-in metric by name, with its options: the `metric` table of an eval file, or
/// `--metric NAME` on the command line.
///
/// ```
/// use lmc::metric::{from_spec, MetricSpec};
///
/// let spec: MetricSpec = serde_json::from_value(serde_json::json!({
///     "name": "numeric", "field": "answer", "tolerance": 0.01,
/// }))?;
/// assert_eq!(from_spec(&spec)?.name(), "numeric");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// The metric: one of [`METRIC_NAMES`] or the alias `em`.
    pub name: String,
    /// The output field scored (and its gold label's name).
    pub field: String,
    /// `numeric` only: the tolerance (absolute within ±1, relative beyond; default `1e-6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// `regex` only: the pattern the prediction must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `schema_valid` only: the JSON Schema (see [`SchemaValid`] for the supported subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// `judge` only: grading instructions that replace the judge's default ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl MetricSpec {
    /// The metric `name` on `field`, with no options.
    pub fn new(name: impl Into<String>, field: impl Into<String>) -> Self {
        MetricSpec {
            name: name.into(),
            field: field.into(),
            tolerance: None,
            pattern: None,
            schema: None,
            instructions: None,
        }
    }

    /// The same spec with a `tolerance` (for `numeric`).
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// The same spec with a JSON Schema (for `schema_valid`).
    pub fn with_schema(mut self, schema: Value) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The same spec with judge instructions (for `judge`).
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
}

/// The canonical name of `name`: lowercase, `-` as `_`, aliases resolved.
fn canonical(name: &str) -> String {
    let name = name.trim().to_lowercase().replace('-', "_");
    match name.as_str() {
        "em" => "exact_match".to_string(),
        _ => name,
    }
}

fn unknown(name: &str) -> MetricError {
    MetricError::Invalid(format!(
        "unknown metric `{name}`; the metrics are {} (`em` is short for `exact_match`)",
        METRIC_NAMES.join(", ")
    ))
}

/// Builds the built-in metric `spec` names. A `judge` spec needs an LM: use
/// [`from_spec_with_judge`].
pub fn from_spec(spec: &MetricSpec) -> Result<Box<dyn Metric>, MetricError> {
    from_spec_with_judge(spec, None)
}

/// Builds the built-in metric `spec` names; `judge_lm` is the LM a `judge` metric asks
/// (`--judge-lm`), ignored by the others.
///
/// Fails with [`MetricError::Invalid`] on an unknown name (the message lists the known ones),
/// an empty field, an option the metric does not take, a missing required option, or a
/// `judge` without an LM.
pub fn from_spec_with_judge(spec: &MetricSpec, judge_lm: Option<Arc<dyn Lm>>) -> Result<Box<dyn Metric>, MetricError> {
    let name = canonical(&spec.name);
    if !METRIC_NAMES.contains(&name.as_str()) {
        return Err(unknown(&spec.name));
    }
    let field = spec.field.trim();
    if field.is_empty() {
        return Err(MetricError::Invalid(format!(
            "the `{name}` metric needs a `field`: the output to score (its gold label has the same name)"
        )));
    }
    let options = [
        ("tolerance", spec.tolerance.is_some(), "numeric"),
        ("pattern", spec.pattern.is_some(), "regex"),
        ("schema", spec.schema.is_some(), "schema_valid"),
        ("instructions", spec.instructions.is_some(), "judge"),
    ];
    for (option, set, owner) in options {
        if set && name != owner {
            return Err(MetricError::Invalid(format!(
                "`{option}` is an option of the `{owner}` metric, not of `{name}`: remove it or use `{owner}`"
            )));
        }
    }
    let metric: Box<dyn Metric> = match name.as_str() {
        "exact_match" => Box::new(ExactMatch::new(field)),
        "f1" => Box::new(F1::new(field)),
        "contains" => Box::new(Contains::new(field)),
        "numeric" => {
            let tolerance = spec.tolerance.unwrap_or(super::numeric::DEFAULT_TOLERANCE);
            if !tolerance.is_finite() || tolerance < 0.0 {
                return Err(MetricError::Invalid(format!(
                    "the `numeric` tolerance must be a finite number ≥ 0, not {tolerance}"
                )));
            }
            Box::new(Numeric::new(field).with_tolerance(tolerance))
        }
        "regex" => {
            let pattern = spec.pattern.as_deref().ok_or_else(|| {
                MetricError::Invalid("the `regex` metric needs `pattern = \"...\"` (Rust regex syntax)".to_string())
            })?;
            Box::new(Regex::new(field, pattern)?)
        }
        "json_valid" => Box::new(JsonValid::new(field)),
        "schema_valid" => {
            let Some(schema) = spec.schema.clone() else {
                return Err(MetricError::Invalid(
                    "the `schema_valid` metric needs a `schema`: the JSON Schema the prediction must fit".to_string(),
                ));
            };
            Box::new(SchemaValid::new(field, schema)?)
        }
        "judge" => {
            let Some(lm) = judge_lm else {
                return Err(MetricError::Invalid(
                    "the `judge` metric needs an LM to ask: pass `--judge-lm MODEL`".to_string(),
                ));
            };
            let judge = Judge::new(field, lm);
            Box::new(match &spec.instructions {
                Some(text) => judge.with_instructions(text),
                None => judge,
            })
        }
        _ => return Err(unknown(&spec.name)),
    };
    Ok(metric)
}
