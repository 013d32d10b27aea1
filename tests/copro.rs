//! COPRO with a scripted LM: proposals from the scored history, call counts, the best
//! instruction, budgets; and on the offline simulator.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::support::{qa_examples as examples, system_text as system, user_text as user};
use futures::executor::block_on;
use lmc::data::dataset::Dataset;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{self, Budget, CompileCx, CompileOutcome, Copro};
use lmc::{LmRequest, Module, RunCx, ScriptedLm};

const OWN_INSTRUCTION: &str = "Answer the question.";

fn program() -> Arc<dyn Module> {
    crate::support::qa_program(OWN_INSTRUCTION)
}

fn is_seed_proposal(request: &LmRequest) -> bool {
    user(request).contains("[[ ## basic_instruction ## ]]")
}

fn is_history_proposal(request: &LmRequest) -> bool {
    user(request).contains("[[ ## attempted_instructions ## ]]")
}

fn is_program(request: &LmRequest) -> bool {
    !is_seed_proposal(request) && !is_history_proposal(request)
}

/// How many of every four questions an instruction gets right.
fn level(instructions: &str) -> usize {
    if instructions.contains("Refined v4") {
        4
    } else if instructions.contains("Instruction v1") {
        3
    } else if instructions.contains("Instruction v0") || instructions.contains("Refined") {
        1
    } else if instructions.contains("Instruction v2") {
        0
    } else {
        2
    }
}

/// Seed proposals are `Instruction vN`, history proposals `Refined vN` (N the rollout); on
/// 8 questions the own instruction scores 0.5, v0 0.25, v1 0.75, v2 0, Refined v4 1.
fn lm() -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_fn(|request| {
        if is_seed_proposal(request) {
            return Ok(format!(
                "[[ ## proposed_instruction ## ]]\nInstruction v{}\n\n[[ ## completed ## ]]",
                request.rollout
            ));
        }
        if is_history_proposal(request) {
            return Ok(format!(
                "[[ ## proposed_instruction ## ]]\n\"Refined v{}\"\n\n[[ ## completed ## ]]",
                request.rollout
            ));
        }
        let text = user(request);
        let q = text.rsplit("[[ ## question ## ]]\n").next().unwrap_or("").lines().next().unwrap_or("");
        let n: usize = q.trim_start_matches('Q').trim().parse().unwrap_or(0);
        let right = n % 4 < level(system(request));
        let answer = if right { format!("A{n:02}") } else { "wrong".into() };
        Ok(format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"))
    }))
}

fn cx(lm: Arc<ScriptedLm>) -> CompileCx {
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    CompileCx::new(program(), metric, Dataset::from_examples("train", examples(12)))
        .with_valset(Dataset::from_examples("val", examples(8)))
        .with_run_cx(RunCx::new().with_lm(lm))
        .with_concurrency(4)
}

fn small() -> Copro {
    Copro { breadth: 4, depth: 3, ..Copro::default() }
}

fn run(optimizer: &Copro, cx: &CompileCx) -> CompileOutcome {
    block_on(optimize::compile(cx, optimizer, "qa", Default::default())).unwrap()
}

#[test]
fn the_second_round_proposes_from_the_attempts_in_ascending_order_of_score() {
    let lm = lm();
    run(&small(), &cx(lm.clone()));
    let history: Vec<LmRequest> = lm.requests().into_iter().filter(is_history_proposal).collect();
    let first = user(&history[0]);
    let expected = [
        "Instruction #1: Instruction v2",
        "Resulting Score #1: 0.0",
        "Instruction #2: Instruction v0",
        "Resulting Score #2: 25.0",
        "Instruction #3: Answer the question.",
        "Resulting Score #3: 50.0",
        "Instruction #4: Instruction v1",
        "Resulting Score #4: 75.0",
    ];
    let positions: Vec<usize> =
        expected.iter().map(|line| first.find(line).unwrap_or_else(|| panic!("{line} missing in {first}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "ascending order: {first}");
    assert!(first.contains("[[ ## best_instruction ## ]]\nInstruction v1"), "{first}");
    assert!(system(&history[0]).contains("arranged in increasing order"));
    // The third round's history holds the best `breadth` attempts, the refined one last.
    let last = user(history.last().unwrap());
    assert!(last.contains("Instruction #4: Refined v4\", \"Resulting Score #4: 100.0\""), "{last}");
    assert!(!last.contains("Instruction v2"), "only the best 4 attempts are shown: {last}");
}

#[test]
fn breadth_and_depth_set_the_calls() {
    let lm = lm();
    let outcome = run(&small(), &cx(lm.clone()));
    let requests = lm.requests();
    let seeds: Vec<&LmRequest> = requests.iter().filter(|r| is_seed_proposal(r)).collect();
    let histories: Vec<&LmRequest> = requests.iter().filter(|r| is_history_proposal(r)).collect();
    assert_eq!(seeds.len(), 3, "breadth − 1 seed proposals");
    assert_eq!(histories.len(), 8, "breadth proposals in each of the depth − 1 later rounds");
    let rollouts: BTreeSet<u32> = seeds.iter().chain(&histories).map(|r| r.rollout).collect();
    assert_eq!(rollouts.len(), 11, "every proposal is a distinct rollout");
    assert!(seeds.iter().chain(&histories).all(|r| r.sampling.temperature == Some(1.4)));
    // 12 distinct candidates (4 per round) on 8 validation examples; the final scoring is cached.
    assert_eq!(requests.iter().filter(|r| is_program(r)).count(), 12 * 8);
    assert_eq!(outcome.leaderboard.len(), 12);
    assert_eq!(outcome.cost.proposer.expect("proposer cost").calls, 11);
}

#[test]
fn the_best_instruction_wins() {
    let outcome = run(&small(), &cx(lm()));
    assert_eq!(outcome.artifact.predictor("qa").unwrap().instructions, "Refined v4", "quotes are stripped");
    assert_eq!(outcome.baseline.unwrap().score, 0.5);
    assert_eq!(outcome.compiled.unwrap().score, 1.0);
    let best = outcome.leaderboard.iter().map(|e| e.score).fold(0.0, f64::max);
    assert_eq!(best, 1.0);
}

#[test]
fn one_round_scores_the_seed_proposals_and_the_own_instruction() {
    let lm = lm();
    let outcome = run(&Copro { depth: 1, ..small() }, &cx(lm.clone()));
    assert!(lm.requests().iter().all(|r| !is_history_proposal(r)));
    assert_eq!(outcome.leaderboard.len(), 4);
    assert_eq!(outcome.artifact.predictor("qa").unwrap().instructions, "Instruction v1");
}

#[test]
fn stats_are_tracked_per_round() {
    let lm = lm();
    let found = block_on(Copro { track_stats: true, ..small() }.search(&cx(lm))).unwrap();
    let latest = &found.stats.latest;
    assert_eq!(latest.iter().map(|s| s.depth).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!((latest[0].max, latest[0].min, latest[0].average), (0.75, 0.0, 0.375));
    assert_eq!(found.stats.best.len(), 2, "none after the last round");
    assert!(block_on(small().search(&cx(self::lm()))).unwrap().stats.latest.is_empty());
}

#[test]
fn a_budget_stops_the_search_cleanly_keeping_the_best_so_far() {
    let lm = lm();
    let cx = cx(lm.clone()).with_budget(Budget { max_calls: Some(30), ..Budget::default() });
    let outcome = run(&small(), &cx);
    assert!(outcome.stopped.as_deref().is_some_and(|s| s.contains("of 30 LM calls")), "{:?}", outcome.stopped);
    assert!(outcome.cost.calls <= 30);
    assert_eq!(outcome.cost.calls, lm.requests().len() as u64);
    // v0, v1 and v2 were scored before the limit; v1 is the best so far.
    assert_eq!(outcome.artifact.predictor("qa").unwrap().instructions, "Instruction v1");
}

#[test]
fn breadth_below_two_is_refused() {
    let err =
        block_on(optimize::compile(&cx(lm()), &Copro { breadth: 1, ..Copro::default() }, "qa", Default::default()))
            .unwrap_err();
    assert!(err.to_string().contains("breadth"), "{err}");
}

#[test]
fn on_the_simulator_the_compiled_program_scores_at_least_the_baseline() {
    let cx = crate::simba::sim_cx(20, 40);
    let outcome = run(&Copro { breadth: 4, depth: 2, ..Copro::default() }, &cx);
    assert!(outcome.stopped.is_none());
    let (baseline, compiled) = (outcome.baseline.unwrap().score, outcome.compiled.unwrap().score);
    assert!(compiled >= baseline, "compiled {compiled} < baseline {baseline}");
    assert!(cx.simulated());
}
