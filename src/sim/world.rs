//! The simulator's world: a labeled dataset and the `[sim]` settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rng;
use crate::adapter::pyfmt::py_str;
use crate::data::Fields;

/// The `[sim]` settings: which field is judged, optional label set and hints, and the
/// response-model constants (documented defaults; see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// The output field the simulator answers right or wrong (default `answer`).
    pub answer_field: String,
    /// The dataset column holding the gold answer (default: `answer_field`).
    pub answer_column: Option<String>,
    /// The dataset columns that are inputs (default: every column but the answer column).
    pub inputs: Option<Vec<String>>,
    /// The label set of a classification task (default: the distinct answers, when there
    /// are at most 100 and they are not numbers).
    pub labels: Option<Vec<String>>,
    /// Phrases that help, as good instructions help a real model.
    pub hints: Vec<String>,
    /// The seed of every draw except item difficulty (0 is a seed).
    pub seed: u64,
    /// `base` in the logit of `p`.
    pub base: f64,
    /// Logit added per correct demo, up to `max_demos` demos.
    pub w_demo: f64,
    /// The most correct demos that count.
    pub max_demos: u32,
    /// Logit added when a reasoning output is requested.
    pub w_reason: f64,
    /// Logit added at full hint coverage (scaled by the fraction of hints present).
    pub w_hint: f64,
    /// Standard deviation of the per-item difficulty.
    pub difficulty_sd: f64,
    /// A verifier's logit of judging an answer rightly (before the item's difficulty).
    pub w_verify: f64,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            answer_field: "answer".into(),
            answer_column: None,
            inputs: None,
            labels: None,
            hints: Vec::new(),
            seed: 0,
            base: 0.0,
            w_demo: 0.35,
            max_demos: 4,
            w_reason: 0.8,
            w_hint: 1.2,
            difficulty_sd: 1.0,
            w_verify: 2.0,
        }
    }
}

/// One item of the world.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The input columns, as prompt text (normalized whitespace).
    pub(crate) inputs: Vec<(String, String)>,
    /// The gold answer as text.
    pub(crate) gold: String,
    /// A stable id from the inputs.
    pub(crate) id: u64,
    /// A fixed draw: how hard the item is (subtracted from the logit).
    pub(crate) difficulty: f64,
}

/// What kind of answers the world has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnswerKind {
    /// Numbers: wrong answers are near misses.
    Number,
    /// A closed label set: wrong answers are other labels.
    Label(Vec<String>),
    /// Free text: wrong answers are other items' answers.
    Text,
}

/// A world that cannot be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct WorldError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// A labeled dataset the simulator answers from.
#[derive(Debug, Clone)]
pub struct SimWorld {
    name: String,
    settings: SimSettings,
    items: Vec<Item>,
    kind: AnswerKind,
    /// (input column, normalized text) → items with that value.
    index: HashMap<(String, String), Vec<usize>>,
}

/// Whitespace-collapsed, trimmed text: how prompt values and dataset values are compared.
pub(crate) fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The gold answer of a record: the answer column as text; GSM8K's `... #### 42` gives `42`.
fn gold_text(value: &Value) -> String {
    let text = py_str(value);
    match text.rsplit_once("####") {
        Some((_, tail)) => tail.trim().replace(',', ""),
        None => text.trim().to_string(),
    }
}

/// Parses a number the way answers are compared (`1,000` and `$5` included).
pub(crate) fn number(text: &str) -> Option<f64> {
    let t: String = text.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    t.trim_end_matches('.').parse::<f64>().ok().filter(|x| x.is_finite())
}

impl SimWorld {
    /// A world from records (JSON objects) and settings. `name` labels replies and reports.
    pub fn new(name: &str, records: &[Fields], settings: SimSettings) -> Result<Self, String> {
        let answer_column = settings.answer_column.clone().unwrap_or_else(|| settings.answer_field.clone());
        let mut items = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let gold = record
                .get(&answer_column)
                .map(gold_text)
                .ok_or_else(|| format!("record {} has no answer column `{answer_column}`", i + 1))?;
            let columns: Vec<&String> = match &settings.inputs {
                Some(cols) => cols.iter().collect(),
                None => record.keys().filter(|k| **k != answer_column).collect(),
            };
            let inputs: Vec<(String, String)> =
                columns.into_iter().filter_map(|c| record.get(c).map(|v| (c.clone(), normalize(&py_str(v))))).collect();
            let key: String = inputs.iter().map(|(k, v)| format!("{k}={v}\u{1f}")).collect();
            let id = rng::hash(&[key.as_bytes()]);
            // Difficulty is a property of the item, not of the seed.
            let difficulty = settings.difficulty_sd * rng::normal(&[b"difficulty", &id.to_le_bytes()]);
            items.push(Item { inputs, gold, id, difficulty });
        }
        if items.is_empty() {
            return Err("the world has no records".into());
        }
        let kind = match &settings.labels {
            Some(labels) => AnswerKind::Label(labels.clone()),
            None if items.iter().all(|i| number(&i.gold).is_some()) => AnswerKind::Number,
            None => {
                let mut labels: Vec<String> = items.iter().map(|i| i.gold.clone()).collect();
                labels.sort();
                labels.dedup();
                if labels.len() <= 100 && labels.len() < items.len() {
                    AnswerKind::Label(labels)
                } else {
                    AnswerKind::Text
                }
            }
        };
        let mut index: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            for (column, text) in &item.inputs {
                index.entry((column.clone(), text.clone())).or_default().push(i);
            }
        }
        Ok(SimWorld { name: name.to_string(), settings, items, kind, index })
    }

    /// Loads a JSONL file (or a JSON array) of records.
    pub fn load(path: impl AsRef<Path>, settings: SimSettings) -> Result<Self, WorldError> {
        let path = path.as_ref();
        let err = |message: String| WorldError { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the world: {e}")))?;
        let records: Vec<Fields> = if text.trim_start().starts_with('[') {
            serde_json::from_str(&text).map_err(|e| err(format!("not a JSON array of objects: {e}")))?
        } else {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| serde_json::from_str(l).map_err(|e| err(format!("line {}: {e}", i + 1))))
                .collect::<Result<_, _>>()?
        };
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("world").to_string();
        SimWorld::new(&name, &records, settings).map_err(err)
    }

    /// The world's name (the dataset file's stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings.
    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the world is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn items(&self) -> &[Item] {
        &self.items
    }

    pub(crate) fn kind(&self) -> &AnswerKind {
        &self.kind
    }

    /// The item whose inputs match the prompt's input sections (every input column the
    /// prompt shows must match).
    pub(crate) fn find(&self, shown: &[(String, String)]) -> Option<&Item> {
        let mut candidates: Option<Vec<usize>> = None;
        for (field, text) in shown {
            let Some(hits) = self.index.get(&(field.clone(), normalize(text))) else {
                // A field the world does not know (an intermediate step's output) is skipped;
                // a known field with an unknown value rules the request out.
                if self.items[0].inputs.iter().any(|(c, _)| c == field) {
                    return None;
                }
                continue;
            };
            candidates = Some(match candidates {
                None => hits.clone(),
                Some(prev) => prev.into_iter().filter(|i| hits.contains(i)).collect(),
            });
        }
        candidates.and_then(|c| c.first().map(|&i| &self.items[i]))
    }

    /// Whether `answer` is the item's gold answer (numbers compare as numbers).
    pub(crate) fn is_correct(&self, item: &Item, answer: &str) -> bool {
        match (number(&item.gold), number(answer)) {
            (Some(g), Some(a)) => (g - a).abs() < 1e-9,
            _ => normalize(answer).eq_ignore_ascii_case(&normalize(&item.gold)),
        }
    }
}
