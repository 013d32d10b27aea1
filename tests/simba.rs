//! SIMBA with a scripted LM: bucket order, both strategies, budgets, seeds; and on the
//! offline simulator.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::executor::block_on;
use lmc::data::dataset::Dataset;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{self, Budget, CompileCx, CompileOutcome, Simba};
use lmc::sim::{SimLm, SimSettings, SimWorld};
use lmc::{Example, LmRequest, Module, Predict, RunCx, ScriptedLm, Signature};

use crate::support::root;
use crate::support::{qa_examples as examples, system_text as system, user_text as user};

const OWN_INSTRUCTION: &str = "Answer the question.";
const ADVICE: &str = "If the question is odd, then answer carefully.";

fn program() -> Arc<dyn Module> {
    crate::support::qa_program(OWN_INSTRUCTION)
}

fn is_feedback(request: &LmRequest) -> bool {
    user(request).contains("[[ ## better_program_trajectory ## ]]")
}

/// The question number a program request asks about.
fn question(request: &LmRequest) -> usize {
    let text = user(request);
    let q = text.rsplit("[[ ## question ## ]]\n").next().unwrap_or("").lines().next().unwrap_or("");
    q.trim_start_matches('Q').trim().parse().unwrap_or(1)
}

/// Even questions are always answered right; odd ones only at rollout 1, with a demo, or
/// with the advice in the instructions. The feedback LM advises `ADVICE`.
fn lm() -> Arc<ScriptedLm> {
    scripted(ADVICE)
}

/// As [`lm`], with `advice` for the predictor (none when empty).
fn scripted(advice: &'static str) -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_fn(move |request| {
        if is_feedback(request) {
            let advice = if advice.is_empty() { "{}".to_string() } else { format!("{{\"qa\": \"{advice}\"}}") };
            return Ok(format!(
                "[[ ## discussion ## ]]\nThe worse run answered wrong.\n\n[[ ## module_advice ## ]]\n{advice}\n\n[[ ## \
                 completed ## ]]"
            ));
        }
        let n = question(request);
        let demos = request.messages.len() > 2;
        let right = n % 2 == 0 || request.rollout == 1 || demos || system(request).contains("answer carefully");
        let answer = if right { format!("A{n:02}") } else { "wrong".into() };
        Ok(format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"))
    }))
}

fn cx(lm: Arc<ScriptedLm>, seed: u64) -> CompileCx {
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    CompileCx::new(program(), metric, Dataset::from_examples("train", examples(16)))
        .with_valset(Dataset::from_examples("val", examples(10)))
        .with_run_cx(RunCx::new().with_lm(lm))
        .with_seed(seed)
        .with_concurrency(4)
}

fn small() -> Simba {
    Simba { bsize: 6, num_candidates: 3, max_steps: 3, ..Simba::default() }
}

fn run(optimizer: &Simba, cx: &CompileCx) -> CompileOutcome {
    block_on(optimize::compile(cx, optimizer, "qa", Default::default())).unwrap()
}

#[test]
fn rules_come_from_contrasting_trajectories_of_the_widest_buckets() {
    let lm = lm();
    let rules_only = Simba { max_demos: 0, ..small() };
    let outcome = run(&rules_only, &cx(lm.clone(), 0));
    let feedback: Vec<LmRequest> = lm.requests().into_iter().filter(is_feedback).collect();
    assert!(!feedback.is_empty(), "the rule strategy asked the proposer");
    for request in &feedback {
        let text = user(request);
        // Only odd questions have a spread (right at rollout 1, wrong otherwise); even ones
        // are skipped (their worst score is at the 90th percentile).
        let inputs = text.split("[[ ## program_inputs ## ]]\n").nth(1).unwrap().split("[[ ##").next().unwrap();
        let n: usize = inputs.split("\"Q").nth(1).unwrap()[..2].parse().unwrap();
        assert_eq!(n % 2, 1, "{inputs}");
        assert!(text.contains("[[ ## better_reward_value ## ]]\n1"), "{text}");
        assert!(text.contains("[[ ## worse_reward_value ## ]]\n0"), "{text}");
        assert!(text.contains("\"wrong\""), "the worse trajectory's answer is shown: {text}");
        assert!(text.contains(&format!("\"A{n:02}\"")), "the better trajectory's answer is shown");
    }
    let qa = outcome.artifact.predictor("qa").unwrap();
    assert!(qa.demos.is_empty(), "max_demos = 0 never appends a demo");
    assert_eq!(qa.instructions, format!("{OWN_INSTRUCTION}\n\n{ADVICE}"));
    assert_eq!(outcome.baseline.unwrap().score, 0.5);
    assert_eq!(outcome.compiled.unwrap().score, 1.0);
    assert_eq!(outcome.cost.proposer.expect("proposer cost").calls, feedback.len() as u64);
}

#[test]
fn demos_come_from_the_best_trajectory() {
    // No advice: only appended demos improve on the program.
    let outcome = run(&Simba { max_steps: 4, ..small() }, &cx(scripted(""), 1));
    let demos: Vec<Example> = outcome
        .leaderboard
        .iter()
        .filter_map(|e| e.built.as_ref()?.demos("qa").map(<[Example]>::to_vec))
        .flatten()
        .collect();
    assert!(!demos.is_empty(), "a finalist has appended demos: {:?}", outcome.leaderboard);
    for demo in &demos {
        let q = demo.get("question").unwrap().as_str().unwrap();
        let answer = demo.get("answer").unwrap().as_str().unwrap();
        assert_eq!(answer, q.replace('Q', "A"), "a demo is a right answer, never the worse trajectory's");
        assert_eq!(demo.input_keys(), ["question"]);
    }
    for entry in &outcome.leaderboard {
        let n = entry.built.as_ref().and_then(|c| c.demos("qa")).map_or(0, <[Example]>::len);
        assert!(n <= 4, "max_demos is respected");
    }
    assert!(outcome.compiled.unwrap().score >= outcome.baseline.unwrap().score);
}

#[test]
fn finalists_are_scored_on_the_valset_and_the_best_wins() {
    let outcome = run(&small(), &cx(lm(), 2));
    let labels: Vec<&str> = outcome.leaderboard.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels[0], "program as written", "{labels:?}");
    assert!(labels.len() <= 4, "at most num_candidates + 1 finalists: {labels:?}");
    let best = outcome.leaderboard.iter().map(|e| e.score).fold(0.0, f64::max);
    assert_eq!(outcome.compiled.unwrap().score, best);
}

#[test]
fn a_budget_stops_the_search_cleanly() {
    let lm = lm();
    let cx = cx(lm.clone(), 0).with_budget(Budget { max_calls: Some(40), ..Budget::default() });
    let outcome = run(&small(), &cx);
    assert!(outcome.stopped.as_deref().is_some_and(|s| s.contains("of 40 LM calls")), "{:?}", outcome.stopped);
    assert!(outcome.cost.calls <= 40);
    assert_eq!(outcome.cost.calls, lm.requests().len() as u64);
}

#[test]
fn the_same_seed_gives_the_same_artifact_and_another_seed_other_batches() {
    let a = run(&small(), &cx(lm(), 5)).artifact.to_json();
    let b = run(&small(), &cx(lm(), 5)).artifact.to_json();
    assert_eq!(a, b);
    let sent = |seed| {
        let lm = lm();
        run(&small(), &cx(lm.clone(), seed));
        lm.requests().iter().map(|r| serde_json::to_string(r).unwrap()).collect::<BTreeSet<_>>()
    };
    assert_eq!(sent(3), sent(3));
    assert_ne!(sent(3), sent(4));
}

#[test]
fn settings_out_of_range_are_refused() {
    let err =
        block_on(optimize::compile(&cx(lm(), 0), &Simba { bsize: 0, ..Simba::default() }, "qa", Default::default()))
            .unwrap_err();
    assert!(err.to_string().contains("bsize"), "{err}");
}

fn gsm8k(name: &str) -> Vec<Example> {
    std::fs::read_to_string(root().join("datasets/gsm8k").join(name))
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            Example::new()
                .with("question", r["question"].clone())
                .with("answer", r["answer"].clone())
                .with_inputs(["question"])
        })
        .collect()
}

/// A compile of `question -> answer` on the simulator over GSM8K's train and dev items.
pub(crate) fn sim_cx(train: usize, val: usize) -> CompileCx {
    let (train, val): (Vec<Example>, Vec<Example>) =
        (gsm8k("train.jsonl").into_iter().take(train).collect(), gsm8k("dev.jsonl").into_iter().take(val).collect());
    let records: Vec<lmc::Fields> = train.iter().chain(&val).map(|e| e.fields().clone()).collect();
    let settings = SimSettings {
        inputs: Some(vec!["question".into()]),
        hints: vec!["show your arithmetic".into(), "check units".into()],
        ..SimSettings::default()
    };
    let world = Arc::new(SimWorld::new("gsm8k", &records, settings).unwrap());
    let program: Arc<dyn Module> = Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()));
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    CompileCx::new(program, metric, Dataset::from_examples("train", train))
        .with_valset(Dataset::from_examples("val", val))
        .with_run_cx(RunCx::new().with_lm(Arc::new(SimLm::new(world))))
        .with_seed(0)
}

#[test]
fn on_the_simulator_the_compiled_program_scores_at_least_the_baseline() {
    let cx = sim_cx(48, 40);
    let outcome = run(&Simba { bsize: 12, num_candidates: 4, max_steps: 4, ..Simba::default() }, &cx);
    assert!(outcome.stopped.is_none());
    let (baseline, compiled) = (outcome.baseline.unwrap().score, outcome.compiled.unwrap().score);
    assert!(compiled >= baseline, "compiled {compiled} < baseline {baseline}");
    assert!(cx.simulated());
}

#[test]
fn stopped_after_a_step_and_resumed_it_writes_the_same_artifact_and_repeats_no_request() {
    use lmc::optimize::{CompileError, CompileIdentity, Resume, RunDir};
    let optimizer = small();
    let sent = |lm: &ScriptedLm| -> BTreeSet<String> {
        lm.requests().iter().map(|r| serde_json::to_string(r).unwrap()).collect()
    };
    let whole_lm = lm();
    let whole = run(&optimizer, &cx(whole_lm.clone(), 0));

    let path = std::env::temp_dir().join(format!("lmc-simba-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    let open = |resume| {
        let inner = lm();
        let identity = CompileIdentity::of(&optimizer, &cx(inner.clone(), 0));
        let dir = Arc::new(RunDir::open(&path, identity, resume).unwrap());
        let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
        let compile_cx = CompileCx::new(program(), metric, Dataset::from_examples("train", examples(16)))
            .with_valset(Dataset::from_examples("val", examples(10)))
            .with_run_cx(RunCx::new().with_lm(dir.wrap(inner.clone())))
            .with_seed(0)
            .with_concurrency(4)
            .with_trial_hook(dir.hook());
        (inner, dir, compile_cx)
    };
    let (first_lm, _first_dir, first_cx) = open(Resume::Fresh);
    let err = block_on(optimize::compile(&first_cx.with_stop_after_trials(1), &optimizer, "qa", Default::default()))
        .expect_err("stopped after a step");
    assert!(matches!(err, CompileError::Interrupted { trials: 1 }), "{err}");
    let (second_lm, _second_dir, second_cx) = open(Resume::Required);
    let resumed = block_on(optimize::compile(&second_cx, &optimizer, "qa", Default::default())).unwrap();
    assert_eq!(resumed.artifact.to_json(), whole.artifact.to_json());
    let (before, after) = (sent(&first_lm), sent(&second_lm));
    assert!(!before.is_empty() && !after.is_empty());
    assert!(before.is_disjoint(&after), "a completed request was sent again");
    assert_eq!(before.union(&after).cloned().collect::<BTreeSet<_>>(), sent(&whole_lm));
    let _ = std::fs::remove_dir_all(&path);
}
