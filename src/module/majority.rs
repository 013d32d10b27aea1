//! `majority`: the most common answer among several predictions (self-consistency).

use serde_json::Value;

use crate::adapter::pyfmt::py_str;
use crate::data::Prediction;
use crate::metric::normalize_text;

/// The first prediction whose `field` holds the most common value, as DSPy's `majority`:
/// values are compared after SQuAD normalization ([`normalize_text`]: case, punctuation,
/// articles, spaces); predictions without the field, or whose value normalizes to nothing, do
/// not vote. Ties go to the value seen first. `None` when nothing voted.
///
/// ```
/// use lmc::module::majority;
/// use lmc::Prediction;
/// use serde_json::json;
///
/// let votes: Vec<Prediction> = ["Paris", "the paris!", "Lyon", "Lyon"]
///     .iter()
///     .map(|a| Prediction::from_json(json!({"answer": a})).unwrap())
///     .collect();
/// // Two votes each: the tie goes to Paris, seen first.
/// assert_eq!(majority(&votes, "answer").unwrap().get("answer"), Some(&json!("Paris")));
/// ```
pub fn majority<'a>(predictions: &'a [Prediction], field: &str) -> Option<&'a Prediction> {
    // (normalized value, votes, first prediction with it), in first-seen order.
    let mut tally: Vec<(String, usize, &Prediction)> = Vec::new();
    for prediction in predictions {
        let Some(value) = prediction.get(field) else { continue };
        let text = match value {
            Value::Null => continue,
            other => normalize_text(&py_str(other)),
        };
        if text.is_empty() {
            continue;
        }
        match tally.iter_mut().find(|(t, _, _)| *t == text) {
            Some(entry) => entry.1 += 1,
            None => tally.push((text, 1, prediction)),
        }
    }
    let mut best: Option<&(String, usize, &Prediction)> = None;
    for entry in &tally {
        if best.is_none_or(|b| entry.1 > b.1) {
            best = Some(entry);
        }
    }
    best.map(|(_, _, prediction)| *prediction)
}
