use std::sync::Arc;

use lmc::sim::{SimLm, SimSettings, SimWorld};
use lmc::{Adapter, AdapterKind, ChatAdapter, Example, LmRequest, Sampling, Signature};
use serde_json::Value;

use crate::support::{fields, root};

fn world(settings: SimSettings) -> Arc<SimWorld> {
    Arc::new(SimWorld::load(root().join("datasets/gsm8k/test.jsonl"), settings).unwrap())
}

fn records(name: &str) -> Vec<Value> {
    std::fs::read_to_string(root().join("datasets/gsm8k").join(name))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The request a predictor sends for `question`, with the given demos, instructions and module.
fn request(
    question: &str,
    demos: &[Example],
    instructions: Option<&str>,
    cot: bool,
    adapter: AdapterKind,
) -> LmRequest {
    let mut sig = Signature::parse("question -> answer: int").unwrap();
    if let Some(text) = instructions {
        sig = sig.with_instructions(text);
    }
    if cot {
        sig = sig.with_reasoning().unwrap();
    }
    let prompt = adapter.adapter().format(&sig, demos, &fields(serde_json::json!({"question": question})));
    let mut request = LmRequest::new(prompt.messages, Sampling::default());
    request.response_format = prompt.response_format;
    request
}

fn answer(lm: &SimLm, request: &LmRequest, cot: bool) -> Option<i64> {
    let mut sig = Signature::parse("question -> answer: int").unwrap();
    if cot {
        sig = sig.with_reasoning().unwrap();
    }
    let text = &lm.respond(request).completions[0].text;
    let adapter: &dyn Adapter = if text.trim_start().starts_with('{') { &lmc::JsonAdapter } else { &ChatAdapter };
    adapter.parse(&sig, text).ok().and_then(|f| f["answer"].as_i64())
}

fn gold(record: &Value) -> i64 {
    record["answer"].as_str().unwrap().parse().unwrap()
}

fn train_demos(k: usize) -> Vec<Example> {
    records("train.jsonl")
        .iter()
        .take(k)
        .map(|r| Example::new().with("question", r["question"].clone()).with("answer", gold(r)))
        .collect()
}

/// Fraction answered right over the test world under one prompt configuration.
fn accuracy(lm: &SimLm, demos: &[Example], instructions: Option<&str>, cot: bool) -> f64 {
    let test = records("test.jsonl");
    let right = test
        .iter()
        .filter(|r| {
            answer(lm, &request(r["question"].as_str().unwrap(), demos, instructions, cot, AdapterKind::Chat), cot)
                == Some(gold(r))
        })
        .count();
    right as f64 / test.len() as f64
}

fn hinted() -> SimSettings {
    SimSettings { hints: vec!["show your arithmetic".into(), "check units".into()], ..SimSettings::default() }
}

/// The demos' items must be in the world for them to count as correct: a world over train+test.
fn combined_world(settings: SimSettings) -> Arc<SimWorld> {
    let mut all: Vec<lmc::Fields> = Vec::new();
    for name in ["train.jsonl", "test.jsonl"] {
        all.extend(records(name).into_iter().map(|r| r.as_object().unwrap().clone()));
    }
    Arc::new(SimWorld::new("gsm8k", &all, settings).unwrap())
}

#[test]
fn the_same_request_gets_the_same_answer() {
    let lm = SimLm::new(world(SimSettings::default()));
    let q = records("test.jsonl")[0]["question"].as_str().unwrap().to_string();
    let req = request(&q, &[], None, true, AdapterKind::Chat);
    assert_eq!(lm.respond(&req), lm.respond(&req));
    let other_rollout = LmRequest { rollout: 1, ..req.clone() };
    assert!(lm.probability(&req).is_some(), "the item is recognized");
    // Rollouts are separate draws (not all equal across many items).
    let differs = records("test.jsonl").iter().take(40).any(|r| {
        let req = request(r["question"].as_str().unwrap(), &[], None, false, AdapterKind::Chat);
        lm.respond(&req).completions[0].text != lm.respond(&LmRequest { rollout: 1, ..req.clone() }).completions[0].text
    });
    assert!(differs);
    let _ = other_rollout;
}

#[test]
fn better_prompts_never_turn_a_right_answer_wrong() {
    let lm = SimLm::new(combined_world(hinted()));
    let demos = train_demos(4);
    let hints = "Solve the problem. Show your arithmetic and check units.";
    for r in records("test.jsonl").iter().take(120) {
        let q = r["question"].as_str().unwrap();
        let g = Some(gold(r));
        let plain = answer(&lm, &request(q, &[], None, false, AdapterKind::Chat), false) == g;
        let with_demos = answer(&lm, &request(q, &demos, None, false, AdapterKind::Chat), false) == g;
        let with_cot = answer(&lm, &request(q, &[], None, true, AdapterKind::Chat), true) == g;
        let with_hints = answer(&lm, &request(q, &[], Some(hints), false, AdapterKind::Chat), false) == g;
        let everything = answer(&lm, &request(q, &demos, Some(hints), true, AdapterKind::Chat), true) == g;
        if plain {
            assert!(with_demos && with_cot && with_hints && everything, "a better prompt broke a right answer: {q}");
        }
        if with_demos || with_cot || with_hints {
            assert!(everything, "all improvements together keep every right answer: {q}");
        }
    }
}

#[test]
fn accuracy_moves_as_documented() {
    let lm = SimLm::new(combined_world(hinted()));
    let demos = train_demos(4);
    let hints = "Solve the problem. Show your arithmetic and check units.";
    let zero = accuracy(&lm, &[], None, false);
    let cot = accuracy(&lm, &[], None, true);
    let few = accuracy(&lm, &demos, None, false);
    let both = accuracy(&lm, &demos, None, true);
    let all = accuracy(&lm, &demos, Some(hints), true);
    let figures = format!("zero {zero:.3} cot {cot:.3} demos {few:.3} both {both:.3} all {all:.3}");
    let near = |x: f64, want: f64| (x - want).abs() <= 0.08;
    assert!(near(zero, 0.53) && near(cot, 0.67) && near(few, 0.78) && near(both, 0.86) && near(all, 0.94), "{figures}");
    assert!(near(zero, 0.50), "zero-shot {zero}");
    assert!(near(cot, 0.65), "reasoning {cot}");
    assert!(near(few, 0.74), "four demos {few}");
    assert!(near(both, 0.86), "demos and reasoning {both}");
    assert!(near(all, 0.94), "everything {all}");
    assert!(zero < cot && cot < both && both < all && zero < few && few < both);
}

#[test]
fn wrong_demos_do_not_help() {
    let lm = SimLm::new(combined_world(SimSettings::default()));
    let wrong: Vec<Example> = records("train.jsonl")
        .iter()
        .take(4)
        .map(|r| Example::new().with("question", r["question"].clone()).with("answer", gold(r) + 1))
        .collect();
    assert_eq!(accuracy(&lm, &wrong, None, false), accuracy(&lm, &[], None, false));
}

#[test]
fn the_json_adapter_format_is_understood_too() {
    let lm = SimLm::new(world(SimSettings::default()));
    let r = &records("test.jsonl")[3];
    let req = request(r["question"].as_str().unwrap(), &[], None, false, AdapterKind::Json);
    let text = &lm.respond(&req).completions[0].text;
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert!(parsed["answer"].is_i64(), "{text}");
    assert!(lm.probability(&req).is_some());
}

#[test]
fn unknown_items_get_filler_and_instruction_fields_get_proposals() {
    let lm = SimLm::new(world(hinted()));
    let req = request("What is the airspeed of an unladen swallow?", &[], None, false, AdapterKind::Chat);
    assert_eq!(lm.probability(&req), None);
    assert!(answer(&lm, &req, false).is_some(), "filler of the field's type still parses");

    let sig = Signature::parse("basic_instruction -> proposed_instruction").unwrap();
    let proposals: Vec<String> = (0..8)
        .map(|rollout| {
            let prompt = ChatAdapter.format(
                &sig,
                &[],
                &fields(serde_json::json!({"basic_instruction": "Solve the math problem."})),
            );
            let req = LmRequest { rollout, ..LmRequest::new(prompt.messages, Sampling::default()) };
            let text = lm.respond(&req).completions[0].text.clone();
            ChatAdapter.parse(&sig, &text).unwrap()["proposed_instruction"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(proposals.iter().all(|p| p.starts_with("Solve the math problem.")));
    assert!(proposals.iter().any(|p| p.contains("show your arithmetic")), "{proposals:?}");
    assert!(proposals.iter().any(|p| !p.contains("show your arithmetic")), "{proposals:?}");
}

#[test]
fn n_choices_are_distinct_rollouts_and_usage_is_counted() {
    let lm = SimLm::new(world(SimSettings::default()));
    let r = &records("test.jsonl")[5];
    let mut req = request(r["question"].as_str().unwrap(), &[], None, false, AdapterKind::Chat);
    req.sampling.n = Some(5);
    let response = lm.respond(&req);
    assert_eq!(response.completions.len(), 5);
    assert!(response.usage.input_tokens > 50 && response.usage.output_tokens > 0);
    assert_eq!(response.cost_usd, Some(0.0));
    assert_eq!(response.served_model.as_deref(), Some("sim/test"));
}

/// A verifier (`question, answer -> correct: bool`) on every test item, shown the gold answer
/// and a wrong one: right about as often as `sigmoid(w_verify − difficulty)` says (about 84%
/// on average with the defaults), the same verdict for the same request, and unrecognized
/// requests get no verdict rule (filler).
#[test]
fn the_verifier_judges_answers_mostly_rightly() {
    let lm = SimLm::new(world(SimSettings::default()));
    let sig = Signature::parse("question, answer -> correct: bool").unwrap();
    let verdict = |question: &str, answer: i64| {
        let inputs = fields(serde_json::json!({"question": question, "answer": answer}));
        let prompt = ChatAdapter.format(&sig, &[], &inputs);
        let request = LmRequest::new(prompt.messages, Sampling::default());
        let text = lm.respond(&request).completions[0].text.clone();
        ChatAdapter.parse(&sig, &text).unwrap()["correct"].as_bool().unwrap()
    };
    let items = records("test.jsonl");
    let mut right = 0;
    for r in &items {
        let q = r["question"].as_str().unwrap();
        right += usize::from(verdict(q, gold(r)));
        right += usize::from(!verdict(q, gold(r) + 1));
        assert_eq!(verdict(q, gold(r)), verdict(q, gold(r)), "deterministic");
    }
    let accuracy = right as f64 / (2 * items.len()) as f64;
    assert!((0.76..=0.92).contains(&accuracy), "verifier accuracy {accuracy}");
}
