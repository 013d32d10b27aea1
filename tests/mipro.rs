//! MIPROv2 with a scripted LM: the proposer's prompts, the search schedule, zero-shot mode,
//! seeds and budgets.

use std::sync::Arc;

use crate::support::{qa_examples as examples, system_text as system, user_text as user};
use futures::executor::block_on;
use lmc::data::dataset::Dataset;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{self, Budget, CompileCx, CompileError, CompileIdentity, CompileOutcome, MiproV2, Resume, RunDir};
use lmc::{Lm, LmRequest, Module, RunCx, ScriptedLm};

const OWN_INSTRUCTION: &str = "Answer the question.";

fn program() -> Arc<dyn Module> {
    crate::support::qa_program(OWN_INSTRUCTION)
}

fn is_proposal(request: &LmRequest) -> bool {
    user(request).contains("[[ ## basic_instruction ## ]]")
}

fn is_program(request: &LmRequest) -> bool {
    system(request).contains("`question`") && !is_proposal(request) && !user(request).contains("[[ ## examples ## ]]")
}

/// Proposals are `Instruction vN` (N the rollout); the program answers right when its
/// instructions say `v2`, or for even questions.
fn lm() -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_fn(|request| {
        let text = user(request);
        if text.contains("[[ ## basic_instruction ## ]]") {
            return Ok(format!(
                "[[ ## proposed_instruction ## ]]\nInstruction v{}\n\n[[ ## completed ## ]]",
                request.rollout
            ));
        }
        if text.contains("[[ ## examples ## ]]") {
            return Ok("[[ ## observations ## ]]\nShort questions with short answers.\n\n[[ ## completed ## ]]".into());
        }
        if text.contains("[[ ## observations ## ]]") {
            return Ok("[[ ## summary ## ]]\nA dataset of numbered questions.\n\n[[ ## completed ## ]]".into());
        }
        let question = text.rsplit("[[ ## question ## ]]\n").next().unwrap_or("").lines().next().unwrap_or("");
        let n: usize = question.trim_start_matches('Q').trim().parse().unwrap_or(1);
        let right = system(request).contains("v2") || n % 2 == 0;
        let answer = if right { format!("A{n:02}") } else { "wrong".into() };
        Ok(format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"))
    }))
}

fn cx(lm: Arc<dyn Lm>, seed: u64) -> CompileCx {
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    CompileCx::new(program(), metric, Dataset::from_examples("train", examples(30)))
        .with_valset(Dataset::from_examples("val", examples(40)))
        .with_run_cx(RunCx::new().with_lm(lm))
        .with_seed(seed)
        .with_concurrency(4)
}

fn zero_shot(trials: usize) -> MiproV2 {
    MiproV2 {
        auto: None,
        num_candidates: 4,
        num_trials: Some(trials),
        max_bootstrapped_demos: 0,
        max_labeled_demos: 0,
        minibatch_size: 10,
        minibatch_full_eval_steps: 3,
        ..MiproV2::default()
    }
}

fn run(optimizer: &MiproV2, cx: &CompileCx) -> CompileOutcome {
    block_on(optimize::compile(cx, optimizer, "qa", Default::default())).unwrap()
}

#[test]
fn the_proposer_sees_the_data_summary_the_program_a_tip_and_the_own_instruction() {
    let lm = lm();
    let optimizer = MiproV2 { max_bootstrapped_demos: 2, max_labeled_demos: 2, ..zero_shot(3) };
    let outcome = run(&optimizer, &cx(lm.clone() as Arc<dyn Lm>, 0));
    let proposals: Vec<LmRequest> = lm.requests().into_iter().filter(is_proposal).collect();
    assert_eq!(proposals.len(), 3, "num_candidates − 1 proposals for the one predictor");
    for request in &proposals {
        let text = user(request);
        assert!(text.contains("A dataset of numbered questions."), "{text}");
        assert!(text.contains("qa: question -> answer"), "{text}");
        assert!(text.contains(OWN_INSTRUCTION), "{text}");
        assert!(text.contains("[[ ## tip ## ]]"), "{text}");
        assert_eq!(request.sampling.temperature, Some(1.0));
    }
    // Distinct rollouts give distinct proposals.
    let rollouts: std::collections::BTreeSet<u32> = proposals.iter().map(|r| r.rollout).collect();
    assert_eq!(rollouts.len(), 3);
    // With demos, proposals after the first see a demo set's demos.
    assert!(proposals.iter().any(|r| user(r).contains("question: Q")), "task demos are shown");
    // The proposer's calls are reported apart.
    let proposer = outcome.cost.proposer.expect("proposer cost");
    assert_eq!(proposer.calls, 5, "two for the data summary, three proposals");
}

#[test]
fn zero_shot_mode_never_adds_demos_and_finds_the_better_instruction() {
    let lm = lm();
    let outcome = run(&zero_shot(12), &cx(lm.clone(), 0));
    for request in lm.requests().iter().filter(|r| is_program(r)) {
        assert_eq!(request.messages.len(), 2, "a system and a user message, no demos");
    }
    let qa = outcome.artifact.predictor("qa").unwrap();
    assert!(qa.demos.is_empty());
    assert_eq!(qa.instructions, "Instruction v2");
    assert_eq!(outcome.compiled.unwrap().score, 1.0);
    assert_eq!(outcome.baseline.unwrap().score, 0.5);
}

#[test]
fn trials_run_on_minibatches_with_full_evaluations_on_schedule() {
    let lm = lm();
    let outcome = run(&zero_shot(7), &cx(lm, 0));
    // The program as written first, then full evaluations after trials 3, 6 and 7 (the last),
    // each of a configuration not scored in full before (so at most that many).
    let labels: Vec<&str> = outcome.leaderboard.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels[0], "program as written");
    let trials: Vec<&str> = labels[1..].iter().map(|l| l.split(':').next().unwrap()).collect();
    assert!(trials.iter().all(|t| ["trial 3", "trial 6", "trial 7"].contains(t)), "{labels:?}");
    assert!(!trials.is_empty());
}

#[test]
fn the_same_seed_gives_the_same_artifact_and_another_seed_other_minibatches() {
    let a = run(&zero_shot(6), &cx(lm(), 0)).artifact.to_json();
    let b = run(&zero_shot(6), &cx(lm(), 0)).artifact.to_json();
    assert_eq!(a, b, "seed 0 is a seed");
    let minibatches = |seed| {
        let lm = lm();
        run(&zero_shot(6), &cx(lm.clone(), seed));
        lm.requests().iter().filter(|r| is_program(r)).map(|r| user(r).to_string()).collect::<Vec<_>>()
    };
    assert_eq!(minibatches(3), minibatches(3));
    assert_ne!(minibatches(3), minibatches(4));
}

#[test]
fn a_budget_stops_the_search_cleanly() {
    let lm = lm();
    let cx = cx(lm.clone(), 0).with_budget(Budget { max_calls: Some(70), ..Budget::default() });
    let outcome = run(&zero_shot(12), &cx);
    assert!(outcome.stopped.as_deref().is_some_and(|s| s.contains("of 70 LM calls")), "{:?}", outcome.stopped);
    assert!(outcome.cost.calls <= 70);
    assert_eq!(outcome.cost.calls, lm.requests().len() as u64);
}

/// Every request `lm` received, as canonical JSON.
fn sent(lm: &ScriptedLm) -> Vec<String> {
    lm.requests().iter().map(|r| serde_json::to_string(r).unwrap()).collect()
}

#[test]
fn stopped_after_n_trials_and_resumed_it_writes_the_same_artifact_and_repeats_no_request() {
    let optimizer = zero_shot(8);
    let whole_lm = lm();
    let whole = run(&optimizer, &cx(whole_lm.clone(), 0));
    let whole_sent: std::collections::BTreeSet<String> = sent(&whole_lm).into_iter().collect();

    let path = std::env::temp_dir().join(format!("lmc-mipro-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    let open = |resume| {
        let inner = lm();
        let identity = CompileIdentity::of(&optimizer, &cx(inner.clone(), 0));
        let dir = Arc::new(RunDir::open(&path, identity, resume).unwrap());
        let compile_cx = cx(dir.wrap(inner.clone()), 0).with_trial_hook(dir.hook());
        (inner, dir, compile_cx)
    };

    let (first_lm, _first_dir, first_cx) = open(Resume::Fresh);
    let err = block_on(optimize::compile(&first_cx.with_stop_after_trials(3), &optimizer, "qa", Default::default()))
        .expect_err("stopped after 3 trials");
    assert!(matches!(err, CompileError::Interrupted { trials: 3 }), "{err}");

    let (second_lm, _second_dir, second_cx) = open(Resume::Required);
    let resumed = block_on(optimize::compile(&second_cx, &optimizer, "qa", Default::default())).unwrap();
    assert_eq!(resumed.artifact.to_json(), whole.artifact.to_json());

    let (before, after): (std::collections::BTreeSet<String>, std::collections::BTreeSet<String>) =
        (sent(&first_lm).into_iter().collect(), sent(&second_lm).into_iter().collect());
    assert!(!before.is_empty() && !after.is_empty());
    assert!(before.is_disjoint(&after), "a completed request was sent again");
    assert_eq!(before.union(&after).cloned().collect::<std::collections::BTreeSet<_>>(), whole_sent);
    let _ = std::fs::remove_dir_all(&path);
}
