//! The response model: how likely the answer is right, whether it is, and the reply text.

use serde_json::{Map, Value};

use super::read::{ListedField, ReadRequest};
use super::rng;
use super::world::{number, AnswerKind, Item, SimWorld};

/// Phrases mixed into instruction proposals besides the world's hints.
const FILLER_PHRASES: [&str; 6] = [
    "Be concise.",
    "Read the input carefully.",
    "Answer in the requested format.",
    "Double-check the final answer.",
    "Avoid unnecessary detail.",
    "Consider the context.",
];

/// `p` for a request about `item`: the logit of DESIGN.md §7.
pub(crate) fn probability(world: &SimWorld, read: &ReadRequest, item: &Item) -> f64 {
    let s = world.settings();
    let correct_demos = read
        .demos
        .iter()
        .filter(|demo| {
            let answer = demo.outputs.iter().find(|(k, _)| *k == s.answer_field).map(|(_, v)| v.as_str());
            match (world.find(&demo.inputs), answer) {
                (Some(demo_item), Some(answer)) => world.is_correct(demo_item, answer),
                _ => false,
            }
        })
        .count()
        .min(s.max_demos as usize) as f64;
    let reasoning = read.outputs.iter().any(|f| f.name == "reasoning" || f.name == "rationale");
    let hint_fraction = if s.hints.is_empty() {
        0.0
    } else {
        let instructions = read.instructions.to_lowercase();
        s.hints.iter().filter(|h| instructions.contains(&h.to_lowercase())).count() as f64 / s.hints.len() as f64
    };
    let logit = s.base + s.w_demo * correct_demos + if reasoning { s.w_reason } else { 0.0 } + s.w_hint * hint_fraction
        - item.difficulty;
    rng::sigmoid(logit)
}

/// A plausible wrong answer for `item` on this rollout.
fn wrong_answer(world: &SimWorld, item: &Item, draw: u64) -> String {
    match world.kind() {
        AnswerKind::Label(labels) => {
            let others: Vec<&String> = labels.iter().filter(|l| !world.is_correct(item, l)).collect();
            match others.len() {
                0 => format!("not {}", item.gold),
                n => others[(draw % n as u64) as usize].clone(),
            }
        }
        AnswerKind::Number => {
            let gold = number(&item.gold).unwrap_or(0.0);
            // Near misses: off by one or two, ten percent, or a factor of two.
            let candidates =
                [gold + 1.0, gold - 1.0, gold + 2.0, (gold * 1.1).round(), gold * 2.0, (gold / 2.0).round()];
            let mut pick = candidates[(draw % candidates.len() as u64) as usize];
            if (pick - gold).abs() < 1e-9 {
                pick = gold + 3.0;
            }
            format_number(pick)
        }
        AnswerKind::Text => {
            let items = world.items();
            let other = &items[(draw % items.len() as u64) as usize];
            if world.is_correct(item, &other.gold) {
                format!("{} (probably)", item.gold.split_whitespace().next().unwrap_or("unsure"))
            } else {
                other.gold.clone()
            }
        }
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The first words of the request's first input, to make filler specific.
fn topic(read: &ReadRequest) -> String {
    let text = read.inputs.first().map(|(_, v)| v.as_str()).unwrap_or("the task");
    text.split_whitespace().take(8).collect::<Vec<_>>().join(" ")
}

/// A filler value of the field's type.
fn filler(field: &ListedField, topic: &str) -> Value {
    let t = field.type_name.as_str();
    if t == "int" || t.starts_with("Union[int") {
        Value::from(1)
    } else if t == "float" || t.starts_with("Union[float") {
        Value::from(0.5)
    } else if t == "bool" {
        Value::Bool(true)
    } else if t.starts_with("list") {
        Value::Array(Vec::new())
    } else if t.starts_with("dict") {
        Value::Object(Map::new())
    } else if let Some(labels) = t.strip_prefix("Literal[") {
        let first = labels.split(',').next().unwrap_or("").trim().trim_matches(|c| c == '\'' || c == '"' || c == ']');
        Value::String(first.to_string())
    } else {
        Value::String(format!("{} about {topic}", field.name.replace('_', " ")))
    }
}

/// An instruction proposal: the current instruction plus a seeded subset of the hints and
/// one filler phrase, so that some proposals help more than others.
fn proposal(world: &SimWorld, read: &ReadRequest, draw_key: &[u8]) -> String {
    let base = read
        .reflection
        .clone()
        .or_else(|| read.inputs.iter().find(|(k, _)| k.contains("instruction")).map(|(_, v)| v.clone()))
        .unwrap_or_else(|| read.instructions.clone());
    let mut parts = vec![base.trim().to_string()];
    let present = base.to_lowercase();
    for (i, hint) in world.settings().hints.iter().enumerate() {
        // A hint already in the instruction is kept, not repeated.
        if present.contains(&hint.to_lowercase()) {
            continue;
        }
        if rng::uniform(&[draw_key, b"hint", &(i as u64).to_le_bytes()]) < 0.5 {
            parts.push(hint.clone());
        }
    }
    let filler = rng::hash(&[draw_key, b"filler"]) as usize % FILLER_PHRASES.len();
    parts.push(FILLER_PHRASES[filler].to_string());
    parts.join(" ")
}

/// A verifier's verdict: for a `bool` output named `correct` (or `is_correct`) on a request
/// that shows a recognized item and a proposed answer (the world's answer field among the
/// inputs), whether that answer is right, judged rightly with probability
/// `sigmoid(w_verify − difficulty)` (a draw of the item, the answer and the rollout).
fn verification(
    world: &SimWorld,
    read: &ReadRequest,
    field: &super::read::ListedField,
    item_index: Option<usize>,
    rollout: u64,
) -> Option<bool> {
    let s = world.settings();
    if !(field.name == "correct" || field.name == "is_correct") || field.type_name != "bool" {
        return None;
    }
    let item = &world.items()[item_index?];
    let (_, proposed) = read.inputs.iter().find(|(k, _)| *k == s.answer_field)?;
    let right = world.is_correct(item, proposed);
    let p = rng::sigmoid(s.w_verify - item.difficulty);
    let u = rng::uniform(&[
        b"verify",
        &s.seed.to_le_bytes(),
        &item.id.to_le_bytes(),
        proposed.trim().as_bytes(),
        &rollout.to_le_bytes(),
    ]);
    Some(if u < p { right } else { !right })
}

/// The reply text for one rollout.
pub(crate) fn reply(world: &SimWorld, read: &ReadRequest, rollout: u64, request_key: u64) -> String {
    let s = world.settings();
    let seed = s.seed.to_le_bytes();
    let item_index =
        world.find(&read.inputs).map(|item| world.items().iter().position(|i| i.id == item.id).unwrap_or(0));
    let answer = item_index.map(|i| {
        let item = &world.items()[i];
        let p = probability(world, read, item);
        let u = rng::uniform(&[b"u", &seed, &item.id.to_le_bytes(), &rollout.to_le_bytes()]);
        if u < p {
            item.gold.clone()
        } else {
            wrong_answer(world, item, rng::hash(&[b"wrong", &seed, &item.id.to_le_bytes(), &rollout.to_le_bytes()]))
        }
    });
    let draw_key = [request_key.to_le_bytes(), rollout.to_le_bytes(), s.seed.to_le_bytes()].concat();
    if read.reflection.is_some() {
        // A reflection asks for the new instruction within triple backticks.
        return format!("```\n{}\n```", proposal(world, read, &draw_key));
    }
    let topic = topic(read);
    let mut values: Vec<(String, Value)> = Vec::new();
    for field in &read.outputs {
        let value = if field.name == s.answer_field {
            match &answer {
                Some(a) => match (number(a), field.type_name.as_str()) {
                    (Some(x), "int") if x.fract() == 0.0 => Value::from(x as i64),
                    (Some(x), "float") => {
                        serde_json::Number::from_f64(x).map_or(Value::String(a.clone()), Value::Number)
                    }
                    _ => Value::String(a.clone()),
                },
                None => filler(field, &topic),
            }
        } else if let Some(verdict) = verification(world, read, field, item_index, rollout) {
            Value::Bool(verdict)
        } else if field.name == "reasoning" || field.name == "rationale" {
            let conclusion = answer.as_deref().map(|a| format!(" That gives {a}.")).unwrap_or_default();
            Value::String(format!("Let's think step by step about {topic}.{conclusion}"))
        } else if field.name.contains("instruction") {
            Value::String(proposal(world, read, &draw_key))
        } else {
            filler(field, &topic)
        };
        values.push((field.name.clone(), value));
    }
    render(read.json, &values)
}

fn render(json: bool, values: &[(String, Value)]) -> String {
    if json {
        let map: Map<String, Value> = values.iter().cloned().collect();
        return serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default();
    }
    let mut out = String::new();
    for (name, value) in values {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("[[ ## {name} ## ]]\n{text}\n\n"));
    }
    out.push_str("[[ ## completed ## ]]");
    out
}
