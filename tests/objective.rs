//! Cost-aware compiling: the objective, the score/cost Pareto front, and picking a member of
//! the front as the artifact.

use std::sync::Arc;

use lmc::artifact::ArtifactProvenance;
use lmc::data::dataset::Dataset;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{
    self, pareto_front, CompileCx, CompileOutcome, KnnFewShot, LabeledFewShot, LeaderboardEntry, Objective, Optimizer,
    PickError, RandomSearch, AS_WRITTEN,
};
use lmc::{Example, Lm, LmError, LmRequest, Module, Predict, RunCx, ScriptedLm, Signature};

use crate::support::Priced;

fn entry(score: f64, cost: Option<f64>) -> LeaderboardEntry {
    LeaderboardEntry {
        label: String::new(),
        candidate: String::new(),
        demos: String::new(),
        score,
        cost_per_example: cost,
        calls_per_example: 1.0,
        built: None,
    }
}

#[test]
fn the_objective_is_the_score_or_the_score_less_lambda_dollars() {
    assert_eq!(Objective::default(), Objective::Score);
    assert_eq!(Objective::Score.value(0.7, Some(0.5)), 0.7);
    assert_eq!(Objective::Score.value(0.7, None), 0.7);
    let objective = Objective::ScoreCost { lambda: 1000.0 };
    assert!((objective.value(0.9, Some(0.0002)) - 0.7).abs() < 1e-12);
    assert_eq!(objective.value(0.9, Some(0.0)), 0.9);
    // Unpriced: no cost term, and flagged.
    assert_eq!(objective.value(0.9, None), 0.9);
    assert!(objective.ignores_cost(None));
    assert!(!objective.ignores_cost(Some(0.1)));
    assert!(!Objective::Score.ignores_cost(None));
    assert_eq!(Objective::ScoreCost { lambda: 0.0 }.value(0.4, Some(3.0)), 0.4);

    assert_eq!(Objective::Score.describe(), "score");
    assert_eq!(objective.describe(), "score − 1000 × $/example");
    assert_eq!(objective.to_string(), objective.describe());

    assert!(objective.validate().is_ok());
    assert!(Objective::Score.validate().is_ok());
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let err = Objective::ScoreCost { lambda: bad }.validate().unwrap_err();
        assert!(err.contains("lambda"), "{err}");
    }

    // Serde: tagged by kind, kebab-case.
    let json = serde_json::to_value(objective).unwrap();
    assert_eq!(json, serde_json::json!({"kind": "score-cost", "lambda": 1000.0}));
    assert_eq!(serde_json::from_value::<Objective>(json).unwrap(), objective);
    assert_eq!(serde_json::to_value(Objective::Score).unwrap(), serde_json::json!({"kind": "score"}));
    assert!(serde_json::from_str::<Objective>(r#"{"kind": "score-cost"}"#).is_err(), "lambda is required");
}

#[test]
fn the_front_keeps_what_no_other_candidate_dominates_cheapest_first() {
    assert!(pareto_front(&[]).is_empty());
    assert_eq!(pareto_front(&[entry(0.3, Some(1.0))]), vec![0]);

    let entries = [
        entry(0.9, Some(3.0)), // 0: the best score
        entry(0.6, Some(1.0)), // 1: cheaper, worse
        entry(0.5, Some(2.0)), // 2: dominated by 1
        entry(0.6, Some(1.5)), // 3: as good as 1 for more: dominated
        entry(0.9, Some(4.0)), // 4: as good as 0 for more: dominated
        entry(0.2, Some(0.5)), // 5: the cheapest
        entry(0.7, Some(2.0)), // 6: between 1 and 0
    ];
    assert_eq!(pareto_front(&entries), vec![5, 1, 6, 0]);
}

#[test]
fn of_identical_points_only_the_earliest_is_on_the_front() {
    let entries = [entry(0.5, Some(1.0)), entry(0.8, Some(2.0)), entry(0.8, Some(2.0)), entry(0.5, Some(1.0))];
    assert_eq!(pareto_front(&entries), vec![0, 1]);
    // All free and equally good (the simulator): one.
    let free = [entry(0.8, Some(0.0)), entry(0.8, Some(0.0)), entry(0.4, Some(0.0))];
    assert_eq!(pareto_front(&free), vec![0]);
}

#[test]
fn an_unknown_cost_counts_as_higher_than_any_known_one() {
    // Nothing priced: the best score (the earliest of equals).
    let unpriced = [entry(0.5, None), entry(0.9, None), entry(0.9, None), entry(0.7, None)];
    assert_eq!(pareto_front(&unpriced), vec![1]);
    // Mixed: an unpriced entry is on the front only when it beats every priced one, and comes
    // last.
    let mixed = [entry(0.95, None), entry(0.6, Some(1.0)), entry(0.9, Some(2.0))];
    assert_eq!(pareto_front(&mixed), vec![1, 2, 0]);
    let mixed = [entry(0.9, None), entry(0.6, Some(1.0)), entry(0.9, Some(2.0)), entry(0.5, None)];
    assert_eq!(pareto_front(&mixed), vec![1, 2], "as good and priced dominates unpriced");
}

// ---- compiles on a scripted model with a price ----

fn question(i: usize) -> String {
    format!("Q{i:02} what is {i} doubled?")
}

fn train(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new().with("question", question(i)).with("answer", (2 * i).to_string()).with_inputs(["question"])
        })
        .collect()
}

/// Right with any demo in the prompt; without, right on even questions only.
fn reply(request: &LmRequest) -> Result<String, LmError> {
    let user = request.last_user_message().unwrap_or("");
    let marker = "[[ ## question ## ]]\nQ";
    let at = user.find(marker).map(|a| a + marker.len()).unwrap();
    let i: usize = user[at..at + 2].parse().unwrap();
    let demos = request.messages.len() > 2;
    let answer = if demos || i % 2 == 0 { (2 * i).to_string() } else { "wrong".into() };
    Ok(format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"))
}

/// The scripted model at $1 per million input tokens and $2 per million output tokens: a
/// prompt with demos costs more.
fn per_million_tokens(usage: &lmc::lm::Usage) -> f64 {
    (usage.input_tokens as f64 + 2.0 * usage.output_tokens as f64) / 1e6
}

fn program() -> Arc<dyn Module> {
    Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()))
}

fn cx(priced: bool, objective: Objective) -> CompileCx {
    let scripted = Arc::new(ScriptedLm::new().with_fn(reply));
    let lm: Arc<dyn Lm> = if priced { Arc::new(Priced::new(scripted, per_million_tokens)) } else { scripted };
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    CompileCx::new(program(), metric, Dataset::from_examples("train.jsonl", train(12)))
        .with_valset(Dataset::from_examples("val.jsonl", train(20)[12..].to_vec()))
        .with_run_cx(RunCx::new().with_lm(lm))
        .with_objective(objective)
        .with_seed(3)
}

fn search() -> RandomSearch {
    RandomSearch { num_candidate_programs: 2, max_bootstrapped_demos: 2, max_labeled_demos: 4, ..Default::default() }
}

fn compile(cx: &CompileCx, optimizer: &dyn Optimizer) -> CompileOutcome {
    futures::executor::block_on(optimize::compile(cx, optimizer, "qa", ArtifactProvenance::default())).unwrap()
}

fn demos(artifact: &lmc::artifact::ProgramArtifact) -> usize {
    artifact.predictors[0].demos.len()
}

#[test]
fn random_search_under_score_cost_with_a_big_lambda_chooses_the_cheaper_candidate() {
    let by_score = compile(&cx(true, Objective::Score), &search());
    let zero_shot = &by_score.leaderboard[0];
    assert_eq!(zero_shot.label, "zero-shot");
    assert_eq!(zero_shot.score, 0.5, "even questions only");
    assert!(by_score.leaderboard[1..].iter().all(|e| e.score == 1.0), "{:?}", by_score.leaderboard);
    let zero_cost = zero_shot.cost_per_example.unwrap();
    assert!(by_score.leaderboard[1..].iter().all(|e| e.cost_per_example.unwrap() > zero_cost), "demos cost more");
    // By score: the first candidate with demos (the earliest of the ties).
    assert_eq!(by_score.compiled.as_ref().unwrap().score, 1.0);
    assert_eq!(by_score.artifact.predictors[0].demos.len(), 4, "labeled, the earliest of equals");
    assert_eq!(by_score.artifact.provenance.objective, None, "the default objective is not recorded");

    // A dollar per example is worth 10^6 points of score: the cheapest wins.
    let objective = Objective::ScoreCost { lambda: 1e6 };
    let by_cost = compile(&cx(true, objective), &search());
    assert_eq!(by_cost.compiled.as_ref().unwrap().score, 0.5);
    assert_eq!(demos(&by_cost.artifact), 0, "zero-shot");
    assert_eq!(by_cost.artifact.provenance.objective, Some(objective));
    let json = by_cost.artifact.to_json();
    assert!(json.contains("\"kind\": \"score-cost\""), "{json}");

    // A small λ: cost only breaks what score cannot. The cheapest of the perfect candidates.
    let by_little = compile(&cx(true, Objective::ScoreCost { lambda: 1.0 }), &search());
    let perfect = by_little.leaderboard.iter().filter(|e| e.score == 1.0);
    let cheapest = perfect.min_by(|a, b| a.cost_per_example.unwrap().total_cmp(&b.cost_per_example.unwrap())).unwrap();
    assert_eq!(by_little.compiled.as_ref().unwrap().score, 1.0);
    assert_eq!(by_little.compiled.as_ref().unwrap().cost_per_example, cheapest.cost_per_example);
}

#[test]
fn unpriced_candidates_rank_by_score_under_score_cost() {
    let by_score = compile(&cx(false, Objective::Score), &search());
    let by_cost = compile(&cx(false, Objective::ScoreCost { lambda: 1e6 }), &search());
    assert!(by_cost.candidates.iter().all(|c| c.cost_per_example.is_none()));
    assert_eq!(by_cost.artifact.predictors, by_score.artifact.predictors, "the same winner");
    // The front: the best score alone.
    assert_eq!(by_cost.pareto.len(), 1);
    assert!(by_cost.candidates[by_cost.pareto[0]].chosen);
}

#[test]
fn the_outcome_lists_every_candidate_once_with_its_front() {
    let outcome = compile(&cx(true, Objective::Score), &search());
    // The program as written is random search's zero-shot: one row.
    let rows = &outcome.candidates;
    assert_eq!(rows[0].label, AS_WRITTEN);
    assert!(rows[0].as_written && !rows[0].chosen);
    assert_eq!(rows[0].score, outcome.baseline.as_ref().unwrap().score);
    assert_eq!(rows.iter().filter(|r| r.as_written).count(), 1);
    assert_eq!(rows.iter().filter(|r| r.chosen).count(), 1);
    let hashes: std::collections::BTreeSet<_> = rows.iter().map(|r| r.candidate.hash()).collect();
    assert_eq!(hashes.len(), rows.len(), "one row per candidate");
    assert_eq!(rows.len(), outcome.leaderboard.len(), "zero-shot merged, the compiled one is on the leaderboard");
    let chosen = outcome.chosen().unwrap();
    assert_eq!(rows[chosen].label, "labeled");

    // The front: the program as written (cheapest), then the cheapest perfect candidate.
    assert_eq!(outcome.pareto.len(), 2, "{rows:#?}");
    let front: Vec<_> = outcome.front().collect();
    assert!(front[0].as_written);
    assert_eq!(front[1].score, 1.0);
    assert!(front[0].cost_per_example < front[1].cost_per_example);
    let entries: Vec<LeaderboardEntry> = rows.iter().map(|r| r.entry()).collect();
    assert_eq!(pareto_front(&entries), outcome.pareto);

    // The in-memory candidate is never serialized.
    let json = serde_json::to_string(&outcome.leaderboard).unwrap();
    assert!(!json.contains("built"), "{json}");
}

#[test]
fn pick_writes_a_member_of_the_front_and_records_it() {
    let cx = cx(true, Objective::Score);
    let outcome = compile(&cx, &search());
    assert_eq!(outcome.artifact.provenance.picked, None);

    // 1: the cheapest, the program as written.
    let first = outcome.pick(1, cx.program().as_ref()).unwrap();
    assert_eq!(demos(&first), 0);
    let picked = first.provenance.picked.as_ref().unwrap();
    assert_eq!((picked.n, picked.front, picked.label.as_str()), (1, 2, AS_WRITTEN));
    assert_eq!(picked.candidate, outcome.candidates[outcome.pareto[0]].candidate.short_hash());
    assert_eq!(first.provenance.scores.compiled, Some(0.5), "the picked candidate's score");
    assert_eq!(first.provenance.scores.baseline, outcome.artifact.provenance.scores.baseline);
    assert_eq!(first.provenance.compile_cost, outcome.artifact.provenance.compile_cost);
    let json = first.to_json();
    assert!(json.contains("\"picked\": {"), "{json}");
    assert!(!outcome.artifact.to_json().contains("\"picked\""), "absent unless picked");

    // 2: the cheapest perfect candidate, with its demos.
    let second = outcome.pick(2, cx.program().as_ref()).unwrap();
    let row = &outcome.candidates[outcome.pareto[1]];
    let overlay = row.candidate.overlay();
    assert_eq!(second.predictors[0].demos, overlay.predictors["qa"].demos.clone().unwrap());
    assert_eq!(second.provenance.scores.compiled, Some(1.0));

    // Out of range: the front's size.
    for n in [0, 3, 99] {
        let err = outcome.pick(n, cx.program().as_ref()).unwrap_err();
        assert_eq!(err, PickError { n, front: 2 });
        assert!(err.to_string().contains("it has 2 candidates, numbered 1 to 2"), "{err}");
    }
}

#[test]
fn fixed_optimizers_get_a_front_of_the_program_as_written_and_the_compiled_one() {
    let cx = cx(true, Objective::Score);
    let outcome = compile(&cx, &LabeledFewShot { k: 3 });
    assert!(outcome.leaderboard.is_empty());
    let labels: Vec<&str> = outcome.candidates.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, [AS_WRITTEN, "compiled"]);
    assert_eq!(outcome.pareto, vec![0, 1], "cheaper and worse, dearer and better");
    assert_eq!(outcome.chosen(), Some(1));
    // Picking the compiled one gives the compile's own artifact, recorded as picked.
    let same = outcome.pick(2, cx.program().as_ref()).unwrap();
    assert_eq!(same.predictors, outcome.artifact.predictors);
    assert_eq!(same.provenance.picked.as_ref().unwrap().label, "compiled");

    // KnnFewShot: the compiled program runs a wrapper; it keeps its per-input demos only when
    // it is the one picked.
    let outcome = compile(&cx, &KnnFewShot::new(2));
    assert_eq!(outcome.candidates.len(), 2, "as written and knn, though their overlays are equal");
    assert_eq!(outcome.pareto.len(), 2, "{:#?}", outcome.candidates);
    let knn = outcome.pick(2, cx.program().as_ref()).unwrap();
    assert!(knn.knn.is_some());
    let plain = outcome.pick(1, cx.program().as_ref()).unwrap();
    assert!(plain.knn.is_none());
    assert_eq!(plain.provenance.scores.compiled, Some(0.5));
}
