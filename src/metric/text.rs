//! Text metrics: SQuAD-normalized exact match, token F1 and containment.

use std::collections::HashMap;

use super::{clip, gold_texts, predicted_value, value_text, MetricError, Score};
use crate::data::{Example, Prediction};

/// How long quoted texts in feedback may get.
const CLIP: usize = 200;

/// SQuAD's answer normalization, as DSPy's `normalize_text` applies it: lowercase, drop ASCII
/// punctuation, drop the articles `a`, `an` and `the` (whole words only), and collapse
/// whitespace.
///
/// Unlike DSPy, no Unicode NFD normalization is applied first: precomposed and decomposed
/// accents stay distinct.
///
/// ```
/// use lmc::metric::normalize_text;
///
/// assert_eq!(normalize_text("  The Eiffel-Tower!  "), "eiffeltower");
/// assert_eq!(normalize_text("An apple a day"), "apple day");
/// assert_eq!(normalize_text("Theatre"), "theatre");
/// ```
pub fn normalize_text(text: &str) -> String {
    let lowered = text.to_lowercase();
    let no_punct: String = lowered.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    // Python's `re.sub(r"\b(a|an|the)\b", " ", text)`: since the articles are word
    // characters, a match is exactly a maximal run of word characters equal to an article.
    let mut no_articles = String::with_capacity(no_punct.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in no_punct.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut no_articles);
            no_articles.push(c);
        }
    }
    flush(&mut word, &mut no_articles);
    no_articles.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// SQuAD's token F1 between a prediction and one gold answer, over normalized
/// whitespace-separated tokens (as multisets).
///
/// When both normalize to no tokens the F1 is 1 (as SQuAD 2.0 scores it, and consistent with
/// exact match); DSPy's `f1_score` gives 0 there.
///
/// ```
/// use lmc::metric::token_f1;
///
/// // 2 shared tokens; precision 2/3, recall 2/4: F1 = 2·(2/3)(1/2) / (2/3 + 1/2) = 4/7.
/// assert!((token_f1("red barn now", "the big red barn door") - 4.0 / 7.0).abs() < 1e-9);
/// assert_eq!(token_f1("The Barn!", "barn"), 1.0);
/// assert_eq!(token_f1("", "the"), 1.0);
/// ```
pub fn token_f1(prediction: &str, gold: &str) -> f64 {
    let (pred, gold) = (normalize_text(prediction), normalize_text(gold));
    f1_of_tokens(&tokens(&pred), &tokens(&gold))
}

fn f1_of_tokens(pred: &[&str], gold: &[&str]) -> f64 {
    if pred.is_empty() && gold.is_empty() {
        return 1.0;
    }
    let same = common_tokens(pred, gold);
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / pred.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// The size of the multiset intersection of two token lists.
fn common_tokens(pred: &[&str], gold: &[&str]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in gold {
        *counts.entry(t).or_default() += 1;
    }
    pred.iter()
        .filter(|t| match counts.get_mut(*t) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .count()
}

/// Tokens of `from` not matched in `other` (multiset difference), in order.
fn unmatched<'t>(from: &[&'t str], other: &[&str]) -> Vec<&'t str> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in other {
        *counts.entry(t).or_default() += 1;
    }
    from.iter()
        .filter(|t| match counts.get_mut(**t) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .copied()
        .collect()
}

fn tokens(normalized: &str) -> Vec<&str> {
    normalized.split(' ').filter(|t| !t.is_empty()).collect()
}

/// The gold answers quoted for feedback: `` `a` `` or `` one of `a`, `b` ``.
fn quote_golds(golds: &[String]) -> String {
    match golds {
        [one] => format!("`{}`", clip(one, CLIP)),
        many => {
            let quoted: Vec<String> = many.iter().take(5).map(|g| format!("`{}`", clip(g, CLIP))).collect();
            let more = if many.len() > 5 { format!(" (and {} more)", many.len() - 5) } else { String::new() };
            format!("one of {}{more}", quoted.join(", "))
        }
    }
}

/// Reads the gold answers and the predicted text of `field`.
fn texts(gold: &Example, prediction: &Prediction, field: &str) -> Result<(Vec<String>, String), MetricError> {
    let golds = gold_texts(gold, field)?;
    let predicted = value_text(predicted_value(prediction, field)?);
    Ok((golds, predicted))
}

/// Exact match after SQuAD normalization ([`normalize_text`]): 1 when the prediction equals
/// the gold, else 0. A gold JSON array is a list of acceptable answers (any one matches).
///
/// Non-string values compare by their text (`42`, `True`); a null prediction is empty text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactMatch {
    /// The output field scored (and its gold label's name).
    pub field: String,
}

impl ExactMatch {
    /// Exact match on `field`.
    pub fn new(field: impl Into<String>) -> Self {
        ExactMatch { field: field.into() }
    }

    fn score_now(&self, gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        let (golds, predicted) = texts(gold, prediction, &self.field)?;
        let normalized = normalize_text(&predicted);
        if golds.iter().any(|g| normalize_text(g) == normalized) {
            return Ok(Score::pass(true));
        }
        Ok(Score::pass(false).with_feedback(format!(
            "expected {}, got `{}` (compared after lowercasing and removing punctuation, articles and extra spaces)",
            quote_golds(&golds),
            clip(&predicted, CLIP)
        )))
    }
}

sync_metric!(ExactMatch, "exact_match");

/// SQuAD token F1 ([`token_f1`]) between the prediction and the gold; with a gold JSON array,
/// the best F1 over its answers. Feedback names the missing and extra tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct F1 {
    /// The output field scored (and its gold label's name).
    pub field: String,
}

impl F1 {
    /// Token F1 on `field`.
    pub fn new(field: impl Into<String>) -> Self {
        F1 { field: field.into() }
    }

    fn score_now(&self, gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        let (golds, predicted) = texts(gold, prediction, &self.field)?;
        let pred_norm = normalize_text(&predicted);
        let pred_tokens = tokens(&pred_norm);
        let mut best: Option<(f64, String)> = None;
        for g in &golds {
            let gold_norm = normalize_text(g);
            let f1 = f1_of_tokens(&pred_tokens, &tokens(&gold_norm));
            if best.as_ref().is_none_or(|(b, _)| f1 > *b) {
                best = Some((f1, gold_norm));
            }
        }
        let Some((f1, gold_norm)) = best else {
            return Err(MetricError::MissingGold { field: self.field.clone() });
        };
        let score = Score::new(f1);
        if f1 >= 1.0 {
            return Ok(score);
        }
        let gold_tokens = tokens(&gold_norm);
        let missing = unmatched(&gold_tokens, &pred_tokens);
        let extra = unmatched(&pred_tokens, &gold_tokens);
        let mut feedback = format!("token F1 {f1:.2} against `{}`", clip(&gold_norm, CLIP));
        if !missing.is_empty() {
            feedback.push_str(&format!("; missing: {}", clip(&missing.join(" "), CLIP)));
        }
        if !extra.is_empty() {
            feedback.push_str(&format!("; extra: {}", clip(&extra.join(" "), CLIP)));
        }
        Ok(score.with_feedback(feedback))
    }
}

sync_metric!(F1, "f1");

/// 1 when the normalized gold ([`normalize_text`]) appears in the normalized prediction as
/// whole tokens (so gold `4` is not found in `42`), else 0. With a gold JSON array, any one
/// answer suffices. A gold that normalizes to nothing (`"the"`) is found only in a prediction
/// that normalizes to nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Contains {
    /// The output field scored (and its gold label's name).
    pub field: String,
}

impl Contains {
    /// Containment on `field`.
    pub fn new(field: impl Into<String>) -> Self {
        Contains { field: field.into() }
    }

    fn score_now(&self, gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        let (golds, predicted) = texts(gold, prediction, &self.field)?;
        let pred_norm = normalize_text(&predicted);
        let pred_tokens = tokens(&pred_norm);
        let found = golds.iter().any(|g| {
            let gold_norm = normalize_text(g);
            let gold_tokens = tokens(&gold_norm);
            if gold_tokens.is_empty() {
                pred_tokens.is_empty()
            } else {
                pred_tokens.windows(gold_tokens.len()).any(|w| w == gold_tokens.as_slice())
            }
        });
        if found {
            return Ok(Score::pass(true));
        }
        Ok(Score::pass(false).with_feedback(format!(
            "expected the answer to contain {}, got `{}`",
            quote_golds(&golds),
            clip(&predicted, CLIP)
        )))
    }
}

sync_metric!(Contains, "contains");
