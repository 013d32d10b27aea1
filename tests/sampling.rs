use std::sync::Arc;

use futures::executor::block_on;
use futures::future::BoxFuture;
use lmc::lm::cache::{CacheMode, CachedLm, LmCache};
use lmc::metric::{MetricError, Score};
use lmc::module::{
    majority, reward_fn, BestOfN, MultiChainComparison, Parallel, ParallelError, Refine, Reward, HINT_FIELD,
};
use lmc::{
    ChainOfThought, Example, Lm, LmRequest, Module, Predict, Prediction, Program, RunCx, RunError, Sampling,
    ScriptedLm, Signature, TraceEntry,
};
use serde_json::json;

use crate::support::fields;
use crate::support::Priced;

fn qa() -> Predict {
    Predict::new("qa", Signature::parse("question -> answer").unwrap())
}

fn reply(answer: &str) -> String {
    format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]")
}

fn question(text: &str) -> Example {
    Example::new().with("question", text)
}

/// Scores 1 for a one-word answer, else 1 / words, with feedback.
fn one_word() -> impl Reward {
    reward_fn("one_word", |_inputs: &Example, p: &Prediction| {
        let words = p.get("answer").and_then(|v| v.as_str()).map_or(0, |s| s.split_whitespace().count());
        Score::new(1.0 / words.max(1) as f64).with_feedback(format!("{words} words; want one"))
    })
}

/// Never satisfied: the reward is the answer's length over 100.
fn length_reward() -> impl Reward {
    reward_fn("length", |_inputs: &Example, p: &Prediction| {
        p.get("answer").and_then(|v| v.as_str()).map_or(0.0, |s| s.len() as f64 / 100.0)
    })
}

/// Replies with the rollout index in the answer, so each attempt's reply differs.
fn rollout_lm() -> ScriptedLm {
    ScriptedLm::new().with_fn(|r: &LmRequest| Ok(reply(&"x".repeat(r.rollout as usize + 1))))
}

#[test]
fn best_of_n_stops_early_at_the_threshold() {
    let lm = Arc::new(
        ScriptedLm::new().with_reply(reply("It is Paris")).with_reply(reply("Paris")).with_default(reply("Lyon")),
    );
    let best = BestOfN::new(qa(), 5, one_word(), 1.0);
    let cx = RunCx::new().with_lm(lm.clone()).with_sampling(Sampling { temperature: Some(0.0), ..Sampling::default() });
    let run = block_on(best.forward_with_attempts(&cx, &question("Capital of France?"))).unwrap();

    assert_eq!(run.prediction.get("answer"), Some(&json!("Paris")));
    assert_eq!(run.attempts.len(), 2, "the second attempt reached the threshold");
    assert_eq!(run.chosen, 1);
    assert!(run.reached_threshold && !run.all_failed());
    let rewards: Vec<f64> = run.attempts.iter().map(|a| a.reward.as_ref().unwrap().value).collect();
    assert_eq!(rewards, [1.0 / 3.0, 1.0]);
    let requests = lm.requests();
    assert_eq!(requests.len(), 2);
    // The first attempt keeps the run's sampling; later ones run at 1.0, as DSPy's.
    assert_eq!(requests[0].sampling.temperature, Some(0.0));
    assert_eq!(requests[1].sampling.temperature, Some(1.0));
    assert_eq!(run.attempts[1].temperature, Some(1.0));
}

#[test]
fn when_every_attempt_falls_short_the_best_is_returned_and_flagged() {
    let lm = Arc::new(
        ScriptedLm::new()
            .with_reply(reply("ab"))
            .with_reply(reply("abcdef"))
            .with_reply(reply("abcd"))
            .with_default(reply("a")),
    );
    let best = BestOfN::new(qa(), 3, length_reward(), 1.0);
    let cx = RunCx::new().with_lm(lm);
    let run = block_on(best.forward_with_attempts(&cx, &question("q"))).unwrap();

    assert_eq!(run.attempts.len(), 3);
    assert_eq!(run.chosen, 1);
    assert_eq!(run.prediction.get("answer"), Some(&json!("abcdef")));
    assert!(run.all_failed(), "no attempt reached the threshold");
    assert!((run.reward() - 0.06).abs() < 1e-9);
    // Every attempt is in the trace; only the chosen one keeps its outputs.
    let trace = cx.trace();
    assert_eq!(trace.len(), 3);
    let kept: Vec<bool> = trace.iter().map(|e| e.outputs.is_some()).collect();
    assert_eq!(kept, [false, true, false]);
    assert!(trace[0].rejected_completions[0].contains("not chosen by best_of_n: attempt 1 of 3"));
    assert!(trace.iter().all(|e| e.error.is_none()), "unchosen attempts are not errors");
}

#[test]
fn attempts_that_fail_to_run_count_as_failed_and_the_last_error_is_returned_when_all_do() {
    // The first reply does not parse; the second does.
    let lm = Arc::new(ScriptedLm::new().with_reply("no sections here").with_default(reply("Paris")));
    let best = BestOfN::new(qa(), 3, one_word(), 1.0);
    let run = block_on(best.forward_with_attempts(&RunCx::new().with_lm(lm), &question("q"))).unwrap();
    assert_eq!(run.chosen, 1);
    assert!(run.attempts[0].reward.is_none() && run.attempts[0].error.is_some());

    let broken = Arc::new(ScriptedLm::new().with_default("garbage"));
    let best = BestOfN::new(qa(), 2, one_word(), 1.0);
    let cx = RunCx::new().with_lm(broken);
    let err = block_on(best.forward_with_attempts(&cx, &question("q"))).unwrap_err();
    assert!(matches!(err, RunError::Parse { .. }), "{err:?}");
    assert_eq!(cx.totals().calls, 2, "failed attempts are still counted");
}

#[test]
fn attempts_are_distinct_rollouts_that_a_cache_never_collapses() {
    let scripted = Arc::new(rollout_lm());
    let cache = Arc::new(LmCache::in_memory().unwrap());
    let lm: Arc<dyn Lm> = Arc::new(CachedLm::new(scripted.clone(), cache, CacheMode::ReadWrite));
    let best = BestOfN::new(qa(), 3, length_reward(), 1.0);

    let cx = RunCx::new().with_lm(lm.clone());
    let run = block_on(best.forward_with_attempts(&cx, &question("q"))).unwrap();
    let mut replies: Vec<String> = cx.trace().iter().map(|e| e.completions[0].clone()).collect();
    replies.dedup();
    assert_eq!(replies.len(), 3, "each attempt got its own reply");
    assert_eq!(scripted.requests().len(), 3, "three distinct requests reached the LM");
    assert_eq!(cx.totals().cache_hits, 0);
    let rollouts: Vec<u32> = run.attempts.iter().map(|a| a.rollout).collect();
    assert_eq!(rollouts, [0, 1, 2]);

    // The same run again is served from the cache, attempt by attempt.
    let again = RunCx::new().with_lm(lm.clone());
    let rerun = block_on(best.forward_with_attempts(&again, &question("q"))).unwrap();
    assert_eq!(again.totals().cache_hits, 3);
    assert_eq!(rerun.prediction, run.prediction);

    // A repeat (rollout 1 of the context) gets rollouts of its own: 3, 4, 5.
    let repeat = RunCx::new().with_lm(lm).with_rollout(1);
    let run = block_on(best.forward_with_attempts(&repeat, &question("q"))).unwrap();
    assert_eq!(run.attempts.iter().map(|a| a.rollout).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(repeat.totals().cache_hits, 0);
    assert_eq!(scripted.requests().len(), 6);
}

#[test]
fn n_attempts_cost_n_times_one_attempt() {
    let lm: Arc<dyn Lm> = Arc::new(Priced::new(Arc::new(ScriptedLm::new().with_default(reply("same"))), |_| 0.001));
    let once = RunCx::new().with_lm(lm.clone());
    block_on(qa().forward(&once, &question("q"))).unwrap();
    let one = once.totals();

    let best = BestOfN::new(qa(), 5, length_reward(), 1.0);
    let cx = RunCx::new().with_lm(lm);
    let run = block_on(best.forward_with_attempts(&cx, &question("q"))).unwrap();
    let five = cx.totals();
    assert_eq!(five.calls, 5 * one.calls);
    assert_eq!(five.usage.input_tokens, 5 * one.usage.input_tokens);
    assert_eq!(five.usage.output_tokens, 5 * one.usage.output_tokens);
    assert!((five.program_cost_usd - 5.0 * one.program_cost_usd).abs() < 1e-12);
    assert!(one.program_cost_usd > 0.0);
    // Each attempt reports its own share.
    assert!(run.attempts.iter().all(|a| a.totals.calls == 1 && (a.totals.program_cost_usd - 0.001).abs() < 1e-12));
}

const ADVICE: &str = "[[ ## discussion ## ]]\nThe answer was a sentence.\n\n[[ ## advice ## ]]\n{\"qa\": \"Answer with the city name only.\"}\n\n[[ ## completed ## ]]";

#[test]
fn refine_passes_the_advice_to_the_next_attempt_as_a_hint() {
    let lm = Arc::new(
        ScriptedLm::new()
            .when_user_contains("program_trajectory", ADVICE)
            .when_user_contains("city name only", reply("Paris"))
            .with_default(reply("It is Paris")),
    );
    let refine = Refine::new(qa(), 3, one_word(), 1.0);
    let cx = RunCx::new().with_lm(lm.clone());
    let run = block_on(refine.forward_with_attempts(&cx, &question("Capital of France?"))).unwrap();

    assert_eq!(run.prediction.get("answer"), Some(&json!("Paris")));
    assert_eq!(run.attempts.len(), 2);
    assert_eq!(run.attempts[0].hint, None);
    assert_eq!(run.attempts[1].hint.as_deref(), Some("Answer with the city name only."));
    let requests = lm.requests();
    assert_eq!(requests.len(), 3, "attempt, advice, attempt");
    // The advice call saw the failed attempt and the reward's feedback.
    let advice_prompt = requests[1].last_user_message().unwrap();
    assert!(advice_prompt.contains("It is Paris"), "{advice_prompt}");
    assert!(advice_prompt.contains("3 words; want one"), "{advice_prompt}");
    // The next attempt's prompt has the hint as an input field.
    let retry_prompt = requests[2].last_user_message().unwrap();
    assert!(
        retry_prompt.contains(&format!("[[ ## {HINT_FIELD} ## ]]\nAnswer with the city name only.")),
        "{retry_prompt}"
    );
    assert!(requests[2].messages[0].content.contains(HINT_FIELD));
    // The trace names the advice predictor; both predictors are optimizable.
    let names: Vec<String> = cx.trace().iter().map(|e| e.predictor.clone()).collect();
    assert_eq!(names, ["qa", "qa.advice", "qa"]);
    assert_eq!(refine.predictors().iter().map(|p| p.name()).collect::<Vec<_>>(), ["qa", "qa.advice"]);
}

#[test]
fn refine_asks_no_advice_after_the_last_attempt() {
    let lm = Arc::new(
        ScriptedLm::new()
            .when_user_contains("program_trajectory", ADVICE)
            .with_default("[[ ## reasoning ## ]]\nhm\n\n[[ ## answer ## ]]\na b\n\n[[ ## completed ## ]]"),
    );
    let refine = Refine::new(
        ChainOfThought::new("qa", Signature::parse("question -> answer").unwrap()).unwrap().into_predict(),
        2,
        one_word(),
        1.0,
    );
    let run = block_on(refine.forward_with_attempts(&RunCx::new().with_lm(lm.clone()), &question("q"))).unwrap();
    assert!(run.all_failed());
    assert_eq!(lm.requests().len(), 3);
}

#[test]
fn wrappers_keep_their_predictors_optimizable() {
    let mut best =
        BestOfN::new(ChainOfThought::new("solve", Signature::parse("q -> a").unwrap()).unwrap(), 3, one_word(), 1.0);
    assert_eq!(best.predictors()[0].name(), "solve");
    best.predictors_mut()[0].set_instructions("Be brief.");
    assert_eq!(best.predictors()[0].signature().instructions(), "Be brief.");
}

/// Fails on the input `"boom"`, panics on `"panic"`, and answers otherwise.
struct Picky;

impl Module for Picky {
    fn forward<'a>(&'a self, _cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let q = inputs.get("question").and_then(|v| v.as_str()).unwrap_or("");
            match q {
                "boom" => Err(RunError::NoLm { predictor: "picky".into() }),
                "panic" => panic!("picky panicked"),
                other => Ok(Prediction::new(fields(json!({"answer": other.to_uppercase()})))),
            }
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        Vec::new()
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        Vec::new()
    }
}

#[test]
fn parallel_answers_every_input_in_order_despite_failures() {
    let inputs: Vec<Example> = ["a", "boom", "c", "panic", "e"].iter().map(|q| question(q)).collect();
    let results = block_on(Parallel::new(2).run(&Picky, &RunCx::new(), &inputs));
    assert_eq!(results.len(), 5);
    let answers: Vec<Option<String>> =
        results.iter().map(|r| r.as_ref().ok().map(|p| p.get_as::<String>("answer").unwrap())).collect();
    assert_eq!(answers, [Some("A".into()), None, Some("C".into()), None, Some("E".into())]);
    assert!(matches!(results[1], Err(ParallelError::Run(RunError::NoLm { .. }))));
    assert!(
        matches!(&results[3], Err(ParallelError::Panicked { index: 3, message }) if message == "picky panicked"),
        "{:?}",
        results[3]
    );
}

#[test]
fn parallel_records_every_call_in_input_order() {
    let lm = Arc::new(ScriptedLm::new().with_fn(|r: &LmRequest| {
        let text = r.last_user_message().unwrap_or_default();
        Ok(reply(if text.contains("first") { "1" } else { "2" }))
    }));
    let cx = RunCx::new().with_lm(lm);
    let inputs = vec![question("first"), question("second"), Example::new()];
    let results = block_on(Parallel::new(3).run(&qa(), &cx, &inputs));
    assert!(matches!(results[2], Err(ParallelError::Run(RunError::MissingInput { .. }))));
    let trace: Vec<TraceEntry> = cx.trace();
    assert_eq!(trace.len(), 2);
    assert_eq!(trace[0].inputs["question"], json!("first"));
    assert_eq!(trace[1].inputs["question"], json!("second"));
}

#[test]
fn majority_normalizes_and_breaks_ties_by_first_seen() {
    let votes = |answers: &[serde_json::Value]| -> Vec<Prediction> {
        answers.iter().map(|a| Prediction::new(fields(json!({"answer": a})))).collect()
    };
    // Two each for "Lyon" and "Paris": Lyon was seen first.
    let v = votes(&[json!("Lyon"), json!("The Paris."), json!("paris"), json!("lyon!")]);
    assert_eq!(majority(&v, "answer").unwrap().get("answer"), Some(&json!("Lyon")));
    // Normalization merges spellings, and a clear winner wins wherever it first appears.
    let v = votes(&[json!("Rome"), json!("Paris"), json!(" paris "), json!("PARIS!")]);
    assert_eq!(majority(&v, "answer").unwrap().get("answer"), Some(&json!("Paris")));
    // Numbers vote too; empty and missing values do not.
    let mut v = votes(&[json!(""), json!(4), json!(5), json!(4.0), json!(null)]);
    v.push(Prediction::new(fields(json!({"other": 1}))));
    assert_eq!(majority(&v, "answer").unwrap().get("answer"), Some(&json!(4)));
    assert!(majority(&votes(&[json!(""), json!("the")]), "answer").is_none());
    assert!(majority(&[], "answer").is_none());
}

#[test]
fn multi_chain_comparison_renders_attempts_as_dspy_does() {
    let lm = Arc::new(
        ScriptedLm::new()
            .with_default("[[ ## rationale ## ]]\nTwo say 4.\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"),
    );
    let mcc = MultiChainComparison::new("compare", Signature::parse("question -> answer").unwrap(), 3).unwrap();
    let attempts = vec![
        fields(json!({"reasoning": "  2 plus 2\nmore lines", "answer": "4"})),
        fields(json!({"rationale": "twice 2", "answer": 4})),
        fields(json!({"reasoning": "guess", "answer": "5\nwhy"})),
    ];
    let cx = RunCx::new().with_lm(lm.clone());
    let out = block_on(mcc.compare(&cx, &attempts, &question("2+2?"))).unwrap();
    assert_eq!(out.fields().keys().collect::<Vec<_>>(), ["rationale", "answer"]);
    let sent = &lm.requests()[0];
    let user = sent.last_user_message().unwrap();
    assert!(
        user.contains("[[ ## reasoning_attempt_1 ## ]]\n«I'm trying to 2 plus 2 I'm not sure but my prediction is 4»"),
        "{user}"
    );
    assert!(user.contains("«I'm trying to twice 2 I'm not sure but my prediction is 4»"));
    assert!(user.contains("«I'm trying to guess I'm not sure but my prediction is 5»"));
    assert!(
        sent.messages[0].content.contains("`reasoning_attempt_3` (str): ${reasoning attempt}"),
        "{}",
        sent.messages[0].content
    );
    assert_eq!(sent.sampling.temperature, Some(0.7));
    let sig = mcc.predict().signature();
    assert_eq!(sig.input("reasoning_attempt_2").unwrap().prefix, "Student Attempt #2:");
    assert!(sig.output("rationale").unwrap().prefix.starts_with("Accurate Reasoning: Thank you everyone."));

    // Through the Module trait, with the attempts under `completions`; a wrong count is an error.
    let inputs = question("2+2?").with("completions", json!(attempts));
    assert!(block_on(mcc.forward(&cx, &inputs)).is_ok());
    let short = question("2+2?").with("completions", json!(attempts[..2]));
    assert!(matches!(block_on(mcc.forward(&cx, &short)), Err(RunError::InvalidInput { .. })));
}

const WRAPPED: &str = r#"
name = "math"
[[step]]
name = "solve"
module = "chain_of_thought"
signature = "question -> answer: float"
"#;

fn program_with(table: &str) -> Result<Program, lmc::ProgramError> {
    Program::from_toml_str(&format!("{WRAPPED}{table}"))
}

#[test]
fn program_files_wrap_a_step_in_best_of_n_or_refine() {
    let best = program_with(
        // A float answer is scored as Python's str() shows it: 4 is `4.0`.
        "[step.best_of_n]\nn = 3\nreward = { name = \"regex\", field = \"answer\", pattern = '^-?\\d+(\\.0)?$' }\n",
    )
    .unwrap();
    assert_eq!(best.predictor_names(), ["solve"]);
    let refine =
        program_with("[step.refine]\nn = 2\nthreshold = 0.5\nreward = { name = \"regex\", pattern = '^\\d+$' }\n")
            .unwrap();
    assert_eq!(refine.predictor_names(), ["solve", "solve.advice"]);

    // Running the wrapped step: the first answer fails the regex, the second passes.
    let lm = Arc::new(
        ScriptedLm::new()
            .with_reply("[[ ## reasoning ## ]]\nhm\n\n[[ ## answer ## ]]\n4.5\n\n[[ ## completed ## ]]")
            .with_default("[[ ## reasoning ## ]]\nok\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"),
    );
    let cx = RunCx::new().with_lm(lm.clone());
    let out = block_on(best.forward(&cx, &question("2+2?"))).unwrap();
    assert_eq!(out.get_as::<f64>("answer").unwrap(), 4.0);
    assert_eq!(cx.totals().calls, 2);
    assert_eq!(lm.requests()[1].rollout, 1);
}

#[test]
fn program_file_wrappers_reject_bad_values_with_clear_errors() {
    let regex = "reward = { name = \"regex\", pattern = 'x' }\n";
    let cases = [
        (format!("[step.best_of_n]\nn = 0\n{regex}"), "between 1 and 20"),
        (format!("[step.best_of_n]\nn = 50\n{regex}"), "between 1 and 20"),
        (format!("[step.best_of_n]\nn = 3\nthreshold = 1.5\n{regex}"), "threshold = 1.5 must be between 0 and 1"),
        (format!("[step.refine]\nn = 3\ntemperature = -1.0\n{regex}"), "temperature"),
        ("[step.best_of_n]\nn = 3\nreward = { name = \"exact_match\", field = \"answer\" }\n".into(), "gold label"),
        ("[step.best_of_n]\nn = 3\nreward = { name = \"numeric\" }\n".into(), "gold"),
        (
            "[step.best_of_n]\nn = 3\nreward = { name = \"regex\", field = \"missing\", pattern = 'x' }\n".into(),
            "does not output",
        ),
        ("[step.best_of_n]\nn = 3\nreward = { name = \"regex\" }\n".into(), "pattern"),
        (
            "[step.best_of_n]\nn = 3\nreward = { name = \"regex\", pattern = '(' }\n".into(),
            "not a valid regular expression",
        ),
        (format!("[step.best_of_n]\nn = 3\ntries = 2\n{regex}"), "unknown field `tries`"),
        (format!("[step.best_of_n]\nn = 3\n{regex}[step.refine]\nn = 3\n{regex}"), "not both"),
    ];
    for (table, expected) in cases {
        let err = program_with(&table).unwrap_err().to_string();
        assert!(err.contains(expected), "{table}\n=> {err}\n(expected `{expected}`)");
    }
    let err =
        program_with("[step.best_of_n]\nn = 3\nreward = { name = \"regex\", field = \"missing\", pattern = 'x' }\n")
            .unwrap_err();
    assert_eq!(err.step.as_deref(), Some("solve"));
    assert_eq!(err.field.as_deref(), Some("missing"));
}

#[test]
fn a_reward_error_is_a_failed_attempt_not_a_crash() {
    let failing = reward_fn("broken", |_i: &Example, _p: &Prediction| -> Result<Score, MetricError> {
        Err(MetricError::Invalid("no".into()))
    });
    let lm = Arc::new(ScriptedLm::new().with_default(reply("x")));
    let run =
        block_on(BestOfN::new(qa(), 2, failing, 1.0).forward_with_attempts(&RunCx::new().with_lm(lm), &question("q")))
            .unwrap();
    assert_eq!(run.attempts.len(), 2);
    assert!(run.all_failed());
    assert!(run.attempts[0].error.as_deref().unwrap().contains("the reward `broken` failed"));
}

/// Accuracy, calls and tokens per example of `module` on the shipped GSM8K test split, answered
/// by the offline simulator (whose scores say nothing about any real model).
fn sim_gsm8k(module: &dyn Module) -> (f64, f64, f64) {
    use lmc::sim::{SimLm, SimSettings, SimWorld};
    let path = crate::support::root().join("datasets/gsm8k/test.jsonl");
    let settings =
        SimSettings { hints: vec!["show your arithmetic".into(), "check the units".into()], ..SimSettings::default() };
    let lm = Arc::new(SimLm::new(Arc::new(SimWorld::load(&path, settings).unwrap())));
    let cx = RunCx::new().with_lm(lm).with_sampling(Sampling { temperature: Some(0.0), ..Sampling::default() });
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut right = 0;
    for r in &records {
        let gold: f64 = r["answer"].as_str().unwrap().parse().unwrap();
        let out = block_on(module.forward(&cx, &question(r["question"].as_str().unwrap()))).unwrap();
        right += usize::from(out.get_as::<f64>("answer").is_ok_and(|a| (a - gold).abs() < 1e-9));
    }
    let n = records.len() as f64;
    let totals = cx.totals();
    (right as f64 / n, totals.calls as f64 / n, totals.usage.total_tokens() as f64 / n)
}

/// The shipped math program's one step, as a module.
fn math_qa_step() -> Predict {
    let program = Program::load(crate::support::root().join("programs/math_qa.toml")).unwrap();
    program.predictors()[0].clone()
}

/// A reward that knows the gold answers: an upper bound no deployed program has (pass@n).
fn oracle() -> impl Reward {
    let path = crate::support::root().join("datasets/gsm8k/test.jsonl");
    let gold: std::collections::HashMap<String, f64> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| (r["question"].as_str().unwrap().to_string(), r["answer"].as_str().unwrap().parse().unwrap()))
        .collect();
    reward_fn("oracle", move |inputs: &Example, p: &Prediction| {
        let want = inputs.get("question").and_then(|q| q.as_str()).and_then(|q| gold.get(q));
        matches!((want, p.get_as::<f64>("answer")), (Some(g), Ok(a)) if (a - g).abs() < 1e-9)
    })
}

/// The figures in the README's "Sampling and refinement" section (run with `--nocapture`).
#[test]
#[allow(clippy::print_stderr)] // the figures are the point of this test
fn sim_best_of_n_and_refine_on_gsm8k() {
    let (base, base_calls, base_tokens) = sim_gsm8k(&math_qa_step());
    let report = |name: &str, (acc, calls, tokens): (f64, f64, f64)| {
        eprintln!(
            "{name:<28} accuracy {:.1}%  calls/example {calls:.2}  tokens ×{:.2}",
            acc * 100.0,
            tokens / base_tokens
        );
        (acc, calls)
    };
    report("chain_of_thought", (base, base_calls, base_tokens));
    assert_eq!(base_calls, 1.0);

    // A no-gold reward: the answer is a number. The simulator's wrong answers are numbers too,
    // so every first attempt passes: no gain, and no extra cost.
    let regex = Program::from_toml_str(&format!(
        "{}\n[step.best_of_n]\nn = 3\nreward = {{ name = \"regex\", pattern = '^-?\\d+(\\.\\d+)?$' }}\n",
        std::fs::read_to_string(crate::support::root().join("programs/math_qa.toml")).unwrap()
    ))
    .unwrap();
    let (acc, calls) = report("best_of_n(3, regex)", sim_gsm8k(&regex));
    assert_eq!((acc, calls), (base, 1.0));

    // An LM verifier (no gold): it catches most wrong answers, at one verify call per attempt.
    let verified = |wrapper: &str, n: u32| {
        Program::from_toml_str(&format!(
            "{}\n[step.{wrapper}]\nn = {n}\nreward = {{ name = \"verify\" }}\n",
            std::fs::read_to_string(crate::support::root().join("programs/math_qa.toml")).unwrap()
        ))
        .unwrap()
    };
    let (v3, v3_calls) = report("best_of_n(3, verify)", sim_gsm8k(&verified("best_of_n", 3)));
    assert!(v3 >= base + 0.10, "a verifier lifts best of 3: {v3} vs {base}");
    assert!(v3_calls > 2.0 && v3_calls < 6.0, "an attempt and a verify call each, early stops: {v3_calls}");
    let (v5, _) = report("best_of_n(5, verify)", sim_gsm8k(&verified("best_of_n", 5)));
    assert!(v5 >= v3);
    let (r3, r3_calls) = report("refine(3, verify)", sim_gsm8k(&verified("refine", 3)));
    assert_eq!(r3, v3, "the simulator ignores Refine's hint");
    assert!(r3_calls > v3_calls, "Refine pays for its advice calls");

    // A reward that can tell right from wrong (here an oracle over the gold answers).
    let (best3, calls3) = report("best_of_n(3, oracle)", sim_gsm8k(&BestOfN::new(math_qa_step(), 3, oracle(), 1.0)));
    assert!(best3 >= base + 0.10, "best of 3 {best3} vs {base}");
    assert!(calls3 > 1.0 && calls3 < 3.0, "early stopping keeps the cost under 3×: {calls3}");
    let (best5, _) = report("best_of_n(5, oracle)", sim_gsm8k(&BestOfN::new(math_qa_step(), 5, oracle(), 1.0)));
    assert!(best5 >= best3);
    let (refine3, refine_calls) =
        report("refine(3, oracle)", sim_gsm8k(&Refine::new(math_qa_step(), 3, oracle(), 1.0)));
    // The simulator ignores the hint (it is not in the instructions), so Refine matches
    // BestOfN's accuracy and pays for the advice calls on top.
    assert_eq!(refine3, best3);
    assert!(refine_calls > calls3);
}

/// A verifier reward: the first attempt is judged wrong, the second right; BestOfN keeps the
/// second, and the verify calls are in the trace as `<step>.verify` (program cost).
#[test]
fn a_verifier_reward_keeps_the_attempt_it_judges_correct() {
    use lmc::module::VerifyReward;
    let lm = Arc::new(ScriptedLm::new().with_fn(|request| {
        let user = request.last_user_message().unwrap_or("");
        if request.messages[0].content.contains("`correct`") {
            let says_six = user.contains("[[ ## answer ## ]]\n6");
            return Ok(format!(
                "[[ ## correct ## ]]\n{}\n\n[[ ## completed ## ]]",
                if says_six { "True" } else { "False" }
            ));
        }
        Ok(reply(if request.rollout == 0 { "5" } else { "6" }))
    }));
    let step = qa();
    let verify = VerifyReward::for_step("qa", step.signature(), "answer", Default::default()).unwrap();
    let best = BestOfN::new(step, 3, verify, 1.0);
    let cx = RunCx::new().with_lm(lm);
    let out = block_on(best.forward(&cx, &question("2 times 3?"))).unwrap();
    assert_eq!(out.get("answer").and_then(|v| v.as_str()), Some("6"));
    let names: Vec<String> = cx.trace().iter().map(|t| t.predictor.clone()).collect();
    assert_eq!(names, ["qa", "qa.verify", "qa", "qa.verify"]);
}

#[test]
fn a_verify_reward_in_a_program_file_takes_only_a_field() {
    let base = "name = \"p\"\n[[step]]\nname = \"solve\"\nmodule = \"cot\"\nsignature = \"question -> answer\"\n";
    let ok = Program::from_toml_str(&format!("{base}[step.best_of_n]\nn = 2\nreward = {{ name = \"verify\" }}\n"));
    assert!(ok.is_ok(), "{:?}", ok.err());
    let err = Program::from_toml_str(&format!(
        "{base}[step.best_of_n]\nn = 2\nreward = {{ name = \"verify\", pattern = 'x' }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("takes only `field`"), "{err}");
    let err = Program::from_toml_str(&format!("{base}[step.refine]\nn = 2\nreward = {{ name = \"numeric\" }}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`verify` asks an LM instead"), "{err}");
}
