//! The numeric metric: the final number of the gold and the prediction, within a tolerance.

use serde_json::Value;

use super::{clip, gold_value, predicted_value, value_text, MetricError, Score};
use crate::data::{Example, Prediction};

/// The default [`Numeric::tolerance`]: equality up to float noise.
pub(super) const DEFAULT_TOLERANCE: f64 = 1e-6;

fn is_minus(c: char) -> bool {
    matches!(c, '-' | '\u{2212}')
}

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥')
}

/// The last number in `text`, as the numeric metric reads it; `None` when there is none.
///
/// - GSM8K gold answers: with `####` in the text, only what follows the last `####` counts
///   (unless it holds no number).
/// - Thousands separators (`1,234,567`: a comma followed by exactly three digits), decimals
///   (`3.5`, `.5`), exponents (`1e3`, `2.5E-4`), currency signs (`$1,234.50`, `-$3`, `$-3`)
///   and minus signs (`-3`, `−3`). A `-` right after a letter or digit is a hyphen, not a
///   sign (`COVID-19` reads 19, `5-3` reads 3).
/// - Not handled: fractions (`3/4` reads 4), decimal commas (`3,5` reads 5), number words.
///
/// ```
/// use lmc::metric::last_number;
///
/// assert_eq!(last_number("She has 3 apples and buys 4 more. #### 7"), Some(7.0));
/// assert_eq!(last_number("The total is $1,234.50."), Some(1234.5));
/// assert_eq!(last_number("It fell to -3 degrees"), Some(-3.0));
/// assert_eq!(last_number("about 1e3"), Some(1000.0));
/// assert_eq!(last_number("no digits here"), None);
/// ```
pub fn last_number(text: &str) -> Option<f64> {
    if let Some(at) = text.rfind("####") {
        if let Some(n) = scan_last(&text[at + 4..]) {
            return Some(n);
        }
    }
    scan_last(text)
}

fn scan_last(text: &str) -> Option<f64> {
    let chars: Vec<char> = text.chars().collect();
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut last = None;
    let mut i = 0;
    while i < chars.len() {
        let starts = digit_at(i) || (chars[i] == '.' && digit_at(i + 1));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        let mut number = String::new();
        let mut j = i;
        while digit_at(j) {
            number.push(chars[j]);
            j += 1;
        }
        // Thousands groups: `,ddd` not followed by another digit.
        while j > start && chars.get(j) == Some(&',') && (1..=3).all(|k| digit_at(j + k)) && !digit_at(j + 4) {
            number.extend(&chars[j + 1..j + 4]);
            j += 4;
        }
        if chars.get(j) == Some(&'.') && digit_at(j + 1) {
            number.push('.');
            j += 1;
            while digit_at(j) {
                number.push(chars[j]);
                j += 1;
            }
        }
        if matches!(chars.get(j), Some('e' | 'E')) {
            let sign = usize::from(matches!(chars.get(j + 1), Some('+' | '-')));
            if digit_at(j + 1 + sign) {
                number.push('e');
                if sign == 1 {
                    number.push(chars[j + 1]);
                }
                j += 1 + sign;
                while digit_at(j) {
                    number.push(chars[j]);
                    j += 1;
                }
            }
        }
        let sign_ok = |k: usize| k == 0 || !chars[k - 1].is_alphanumeric();
        let negative = (start >= 1 && is_minus(chars[start - 1]) && sign_ok(start - 1))
            || (start >= 2 && is_currency(chars[start - 1]) && is_minus(chars[start - 2]) && sign_ok(start - 2));
        if let Ok(value) = number.parse::<f64>() {
            last = Some(if negative { -value } else { value });
        }
        i = j;
    }
    last
}

/// The number a value holds: a JSON number as is, anything else by [`last_number`] of its
/// text.
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        other => last_number(&value_text(other)),
    }
}

/// 1 when the last number of the prediction equals the last number of the gold within the
/// tolerance, else 0 (see [`last_number`] for how numbers are read; GSM8K's `... #### 42`
/// gold answers work as they are).
///
/// The comparison passes when `|prediction − gold| ≤ tolerance × max(1, |gold|)`: the
/// tolerance is absolute for golds within ±1 and relative beyond. The default tolerance,
/// `1e-6`, is equality up to float noise; `0.01` accepts answers within 1%.
///
/// A prediction with no number scores 0 with feedback; a gold with no number is
/// [`MetricError::Invalid`] (the dataset needs fixing).
#[derive(Debug, Clone, PartialEq)]
pub struct Numeric {
    /// The output field scored (and its gold label's name).
    pub field: String,
    /// The tolerance: absolute for golds within ±1, relative beyond. Must be a non-negative
    /// number.
    pub tolerance: f64,
}

impl Numeric {
    /// A numeric match on `field` with the default tolerance (`1e-6`).
    pub fn new(field: impl Into<String>) -> Self {
        Numeric { field: field.into(), tolerance: DEFAULT_TOLERANCE }
    }

    /// The same metric with `tolerance`.
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    fn score_now(&self, gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        if !self.tolerance.is_finite() || self.tolerance < 0.0 {
            return Err(MetricError::Invalid(format!(
                "the numeric tolerance must be a finite number ≥ 0, not {}",
                self.tolerance
            )));
        }
        let gold_raw = gold_value(gold, &self.field)?;
        let Some(expected) = number_of(gold_raw) else {
            return Err(MetricError::Invalid(format!(
                "the gold `{}` holds no number: `{}`",
                self.field,
                clip(&value_text(gold_raw), 200)
            )));
        };
        let predicted_raw = predicted_value(prediction, &self.field)?;
        let Some(got) = number_of(predicted_raw) else {
            return Ok(Score::pass(false).with_feedback(format!(
                "expected {expected}, but the answer holds no number: `{}`",
                clip(&value_text(predicted_raw), 200)
            )));
        };
        if (got - expected).abs() <= self.tolerance * expected.abs().max(1.0) {
            return Ok(Score::pass(true));
        }
        Ok(Score::pass(false).with_feedback(format!("expected {expected}, got {got}")))
    }
}

sync_metric!(Numeric, "numeric");
