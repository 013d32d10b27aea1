use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use lmc::artifact::{ArtifactProvenance, ProgramArtifact};
use lmc::data::dataset::Dataset;
use lmc::metric::{metric_fn, ExactMatch, Metric};
use lmc::optimize::{
    self, BootstrapFewShot, Budget, Candidate, CompileCx, CompileOutcome, Compiled, KnnFewShot, KnnProgram,
    LabeledFewShot, Optimizer, RandomSearch,
};
use lmc::{
    Example, Lm, LmError, LmIdentity, LmRequest, LmResponse, Module, Overlay, Predict, PredictorOverlay, Program,
    RunCx, ScriptedLm, Signature,
};

/// Two predictors: `classify` (predict) names a topic, `solve` (chain of thought) answers.
const PROGRAM: &str = r#"
name = "double"

[[step]]
name = "classify"
module = "predict"
signature = "question -> topic"

[[step]]
name = "solve"
module = "chain_of_thought"
signature = "question, topic -> answer"
"#;

fn program() -> Arc<dyn Module> {
    Arc::new(Program::from_toml_str(PROGRAM).unwrap())
}

fn question(i: usize) -> String {
    format!("Q{i:02} what is {i} doubled?")
}

/// `n` examples: question `Qnn ...`, gold answer `2n`.
fn train(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new().with("question", question(i)).with("answer", (2 * i).to_string()).with_inputs(["question"])
        })
        .collect()
}

/// The number of the first question in a rendered message.
fn index_in(text: &str) -> Option<usize> {
    let marker = "[[ ## question ## ]]\nQ";
    let at = text.find(marker)? + marker.len();
    text.get(at..at + 2)?.parse().ok()
}

/// The question a request asks.
fn input_of(request: &LmRequest) -> usize {
    index_in(request.last_user_message().unwrap()).unwrap()
}

/// The demos a request carries: (question number, complete?).
fn demos_of(request: &LmRequest) -> Vec<(usize, bool)> {
    let m = &request.messages;
    m[1..m.len() - 1]
        .chunks(2)
        .map(|pair| {
            let user = &pair[0].content;
            (index_in(user).unwrap(), !user.starts_with("This is an example of the task"))
        })
        .collect()
}

/// Whether a request is the chain of thought's.
fn is_solve(request: &LmRequest) -> bool {
    request.messages[0].content.contains("`reasoning`")
}

/// The question numbers of demos.
fn numbers(demos: &[Example]) -> Vec<usize> {
    demos.iter().map(|d| d.get_as::<String>("question").unwrap()[1..3].parse().unwrap()).collect()
}

/// The scripted model; every reply is a function of the request alone.
///
/// `classify` answers `T<n>`, except that Q10 gets a reply that does not parse. `solve`
/// answers `2n` when `n` is not a multiple of 3 (`skilled`). A multiple of 3 is answered
/// right only when the request carries a complete (bootstrapped) demo for a question `j` with
/// `(n + j) % 5 == 0` (demos help, idiosyncratically), or at a rollout above 0 when `n` is
/// even. An unskilled model answers every question wrong.
fn reply(request: &LmRequest, voice: &str, skilled: bool) -> Result<String, LmError> {
    let i = input_of(request);
    if !is_solve(request) {
        if i == 10 {
            return Ok("I cannot classify this.".into());
        }
        return Ok(format!("[[ ## topic ## ]]\nT{i}\n\n[[ ## completed ## ]]"));
    }
    let helped = demos_of(request).iter().any(|&(j, complete)| complete && (i + j) % 5 == 0);
    let retried = request.rollout > 0 && i % 2 == 0;
    let right = skilled && (i % 3 != 0 || helped || retried);
    let answer = if right { (2 * i).to_string() } else { "wrong".to_string() };
    Ok(format!(
        "[[ ## reasoning ## ]]\n{voice}: Q{i:02} doubled.\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"
    ))
}

fn scripted(voice: &'static str) -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_model(voice).with_fn(move |r| reply(r, voice, true)))
}

fn unskilled(voice: &'static str) -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_model(voice).with_fn(move |r| reply(r, voice, false)))
}

/// A scripted LM that answers after a delay derived from the request, so that concurrent
/// runs finish out of order.
#[derive(Debug)]
struct Jittered(Arc<ScriptedLm>);

impl Lm for Jittered {
    fn identity(&self) -> LmIdentity {
        self.0.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let text = request.last_user_message().unwrap_or("");
            let hash = text.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            tokio::time::sleep(Duration::from_millis(hash % 5)).await;
            self.0.complete(request).await
        })
    }
}

fn metric() -> Arc<dyn Metric> {
    Arc::new(ExactMatch::new("answer"))
}

fn cx_with(lm: Arc<dyn Lm>, n: usize) -> CompileCx {
    CompileCx::new(program(), metric(), Dataset::from_examples("train.jsonl", train(n)))
        .with_run_cx(RunCx::new().with_lm(lm))
}

fn provenance() -> ArtifactProvenance {
    ArtifactProvenance { metric: "exact_match on `answer`".into(), lm: "scripted/student".into(), ..Default::default() }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

/// Compiles the 20-example program with a jittered scripted LM.
async fn compile_at(optimizer: &dyn Optimizer, seed: u64, concurrency: usize) -> CompileOutcome {
    let cx = cx_with(Arc::new(Jittered(scripted("student"))), 20).with_seed(seed).with_concurrency(concurrency);
    optimize::compile(&cx, optimizer, "double", provenance()).await.unwrap()
}

/// Runs only the optimizer (no scoring before and after).
async fn search(optimizer: &dyn Optimizer, cx: &CompileCx) -> Compiled {
    optimizer.compile(cx).await.unwrap()
}

fn leaderboard_text(outcome: &CompileOutcome) -> String {
    outcome
        .leaderboard
        .iter()
        .map(|e| format!("{:<34} {} {:<20} {:.2} {:.2}\n", e.label, e.candidate, e.demos, e.score, e.calls_per_example))
        .collect()
}

const BOOTSTRAP: BootstrapFewShot =
    BootstrapFewShot { max_bootstrapped_demos: 3, max_labeled_demos: 5, max_rounds: 1, metric_threshold: None };

const SEARCH: RandomSearch = RandomSearch {
    num_candidate_programs: 4,
    max_bootstrapped_demos: 3,
    max_labeled_demos: 4,
    max_rounds: 1,
    metric_threshold: None,
    stop_at_score: None,
};

// --- determinism ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_artifact_is_byte_identical_at_concurrency_1_and_16() {
    let one = compile_at(&BOOTSTRAP, 7, 1).await;
    let sixteen = compile_at(&BOOTSTRAP, 7, 16).await;
    assert_eq!(one.artifact.to_json(), sixteen.artifact.to_json());
    assert_eq!(one.cost, sixteen.cost);
    assert!(one.stopped.is_none());
    assert_eq!(one.artifact.provenance.optimizer, "bootstrap");
    assert_eq!(one.artifact.provenance.seed, 7);
    assert_eq!(one.artifact.provenance.scores.baseline, one.baseline.as_ref().map(|s| s.score));
    insta::assert_snapshot!("optimize_bootstrap_artifact", one.artifact.to_json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_search_artifact_is_byte_identical_at_concurrency_1_and_16() {
    let one = compile_at(&SEARCH, 7, 1).await;
    let sixteen = compile_at(&SEARCH, 7, 16).await;
    assert_eq!(one.artifact.to_json(), sixteen.artifact.to_json());
    assert_eq!(one.leaderboard, sixteen.leaderboard);
    assert_eq!(one.cost, sixteen.cost);
    insta::assert_snapshot!("optimize_random_search_artifact", one.artifact.to_json());
    insta::assert_snapshot!("optimize_random_search_leaderboard", leaderboard_text(&one));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_seed_changes_the_random_search() {
    let seven = compile_at(&SEARCH, 7, 8).await;
    let eight = compile_at(&SEARCH, 8, 8).await;
    // The labeled candidate is a different sample.
    assert_eq!(seven.leaderboard[1].label, "labeled");
    assert_ne!(seven.leaderboard[1].candidate, eight.leaderboard[1].candidate);
    // The shuffled bootstraps differ too.
    let shuffled = |o: &CompileOutcome| -> Vec<String> {
        o.leaderboard[3..].iter().map(|e| format!("{} {}", e.label, e.candidate)).collect()
    };
    assert_ne!(shuffled(&seven), shuffled(&eight));
    // Zero-shot is the program as written, whatever the seed.
    assert_eq!(seven.leaderboard[0], eight.leaderboard[0]);
    // And the same seed again is the same search.
    let again = compile_at(&SEARCH, 8, 3).await;
    assert_eq!(again.leaderboard, eight.leaderboard);
    assert_eq!(again.artifact.to_json(), eight.artifact.to_json());
}

// --- BootstrapFewShot ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_takes_the_first_passing_examples_in_order_at_any_concurrency() {
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 3, max_labeled_demos: 3, ..Default::default() };
    for concurrency in [1, 2, 3, 16] {
        let lm = scripted("student");
        let cx = cx_with(Arc::new(Jittered(lm.clone())), 20).with_concurrency(concurrency);
        let found = search(&optimizer, &cx).await;
        // Q00 and Q03 fail; Q01, Q02 and Q04 are the first three to pass.
        assert_eq!(numbers(found.candidate.demos("solve").unwrap()), [1, 2, 4], "concurrency {concurrency}");
        assert_eq!(numbers(found.candidate.demos("classify").unwrap()), [1, 2, 4], "concurrency {concurrency}");
        // Teacher runs go no further than a sequential pass would: Q00..Q04, two calls each.
        let mut asked: Vec<usize> = lm.requests().iter().map(input_of).collect();
        asked.sort_unstable();
        assert_eq!(asked, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], "concurrency {concurrency}");
        assert!(found.stopped.is_none());
        assert!(found.leaderboard.is_empty());
    }
}

#[test]
fn a_bootstrapped_demo_is_the_calls_inputs_and_parsed_outputs() {
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 1, max_labeled_demos: 1, ..Default::default() };
    let cx = cx_with(scripted("student"), 20);
    let found = block_on(search(&optimizer, &cx));
    let solve = Example::new()
        .with("question", question(1))
        .with("topic", "T1")
        .with("reasoning", "student: Q01 doubled.")
        .with("answer", "2")
        .with_inputs(["question", "topic"]);
    assert_eq!(found.candidate.demos("solve").unwrap(), [solve]);
    let classify = Example::new().with("question", question(1)).with("topic", "T1").with_inputs(["question"]);
    assert_eq!(found.candidate.demos("classify").unwrap(), [classify]);
    // Key order too: inputs in signature order, then outputs, reasoning first.
    let keys: Vec<&String> = found.candidate.demos("solve").unwrap()[0].fields().keys().collect();
    assert_eq!(keys, ["question", "topic", "reasoning", "answer"]);
}

#[test]
fn an_example_is_never_its_own_demo() {
    // The teacher gets every training example as a labeled demo, except its own.
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 20, max_labeled_demos: 20, ..Default::default() };
    let lm = scripted("student");
    let cx = cx_with(lm.clone(), 20).with_concurrency(4);
    let found = block_on(search(&optimizer, &cx));
    let requests = lm.requests();
    let solves: Vec<&LmRequest> = requests.iter().filter(|r| is_solve(r)).collect();
    assert_eq!(solves.len(), 19, "Q10 fails at classify");
    for request in &solves {
        let own = input_of(request);
        let demos: Vec<usize> = demos_of(request).iter().map(|d| d.0).collect();
        assert_eq!(demos.len(), 19, "Q{own:02}: {demos:?}");
        assert!(!demos.contains(&own), "Q{own:02} is among its own demos: {demos:?}");
    }
    for request in &requests {
        let own = input_of(request);
        assert!(demos_of(request).iter().all(|d| d.0 != own), "Q{own:02}");
    }
    // The compiled demos hold each example at most once.
    for name in ["classify", "solve"] {
        let demos = numbers(found.candidate.demos(name).unwrap());
        let unique: BTreeSet<usize> = demos.iter().copied().collect();
        assert_eq!(unique.len(), demos.len(), "{name}: {demos:?}");
    }
}

#[test]
fn later_rounds_retry_failures_with_a_fresh_rollout_at_temperature_1() {
    let optimizer =
        BootstrapFewShot { max_bootstrapped_demos: 20, max_labeled_demos: 0, max_rounds: 2, metric_threshold: None };
    let lm = scripted("student");
    let cx = cx_with(lm.clone(), 20).with_concurrency(5);
    let found = block_on(search(&optimizer, &cx));
    let requests = lm.requests();
    let (first, retries): (Vec<&LmRequest>, Vec<&LmRequest>) = requests.iter().partition(|r| r.rollout == 0);
    // Round 1: every example (Q10 stops at classify).
    assert_eq!(first.len(), 39);
    assert!(first.iter().all(|r| r.sampling.temperature.is_none()));
    // Round 2: only the failures (multiples of 3, and Q10), at rollout 1 and temperature 1.0.
    let retried: BTreeSet<usize> = retries.iter().map(|r| input_of(r)).collect();
    assert_eq!(retried, BTreeSet::from([0, 3, 6, 9, 10, 12, 15, 18]));
    assert_eq!(retries.len(), 15);
    assert!(retries.iter().all(|r| r.rollout == 1 && r.sampling.temperature == Some(1.0)));
    // The even multiples of 3 pass on the retry. As in DSPy, each example's rounds come
    // before the next example, so the demos stay in example order.
    assert_eq!(
        numbers(found.candidate.demos("solve").unwrap()),
        [0, 1, 2, 4, 5, 6, 7, 8, 11, 12, 13, 14, 16, 17, 18, 19]
    );
}

#[test]
fn max_rounds_0_is_a_config_error() {
    let optimizer = BootstrapFewShot { max_rounds: 0, ..Default::default() };
    let cx = cx_with(scripted("student"), 3);
    let err = block_on(optimizer.compile(&cx)).err().unwrap();
    assert!(err.to_string().contains("max_rounds"), "{err}");
    let err = block_on(RandomSearch { max_rounds: 0, ..Default::default() }.compile(&cx)).err().unwrap();
    assert!(err.to_string().contains("max_rounds"), "{err}");
}

#[test]
fn an_empty_trainset_is_an_error() {
    let cx = CompileCx::new(program(), metric(), Dataset::from_examples("empty", Vec::new()))
        .with_run_cx(RunCx::new().with_lm(scripted("student")));
    for optimizer in [
        &BootstrapFewShot::default() as &dyn Optimizer,
        &LabeledFewShot::default(),
        &RandomSearch::default(),
        &KnnFewShot::new(2),
    ] {
        let err = block_on(optimizer.compile(&cx)).err().unwrap();
        assert!(err.to_string().contains("trainset is empty"), "{}: {err}", optimizer.name());
    }
}

#[test]
fn metric_threshold_decides_what_passes() {
    // Right answers score 1, wrong ones 0.5 (a failed run scores 0).
    let partial: Arc<dyn Metric> =
        Arc::new(metric_fn(
            "partial",
            |gold, prediction, _trace| {
                if gold.get("answer") == prediction.get("answer") {
                    1.0
                } else {
                    0.5
                }
            },
        ));
    let demos_with = |threshold: Option<f64>| {
        let optimizer = BootstrapFewShot {
            max_bootstrapped_demos: 3,
            max_labeled_demos: 3,
            max_rounds: 1,
            metric_threshold: threshold,
        };
        let cx = CompileCx::new(program(), partial.clone(), Dataset::from_examples("train", train(20)))
            .with_run_cx(RunCx::new().with_lm(scripted("student")));
        numbers(block_on(search(&optimizer, &cx)).candidate.demos("solve").unwrap())
    };
    // Without a threshold, any score above 0 passes (DSPy's truthiness).
    assert_eq!(demos_with(None), [0, 1, 2]);
    assert_eq!(demos_with(Some(0.5)), [0, 1, 2]);
    assert_eq!(demos_with(Some(0.75)), [1, 2, 4]);
    assert_eq!(demos_with(Some(1.0)), [1, 2, 4]);
}

#[test]
fn labeled_demos_fill_up_from_examples_that_did_not_pass() {
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 3, max_labeled_demos: 7, ..Default::default() };
    let cx = cx_with(scripted("student"), 20).with_seed(11);
    let found = block_on(search(&optimizer, &cx));
    let trainset = train(20);
    let mut fills = Vec::new();
    for name in ["classify", "solve"] {
        let demos = found.candidate.demos(name).unwrap();
        assert_eq!(demos.len(), 7, "{name}");
        assert_eq!(numbers(&demos[..3]), [1, 2, 4], "{name}");
        // Bootstrapped demos carry the predictor's outputs; labeled ones are training examples.
        assert!(demos[..3].iter().all(|d| d.get("topic").is_some()));
        let fill = &demos[3..];
        for demo in fill {
            assert!(trainset.contains(demo), "{name}: {demo:?} is not a training example");
        }
        let fill_numbers = numbers(fill);
        assert!(fill_numbers.iter().all(|n| ![1, 2, 4].contains(n)), "{name}: {fill_numbers:?}");
        assert_eq!(fill_numbers.iter().collect::<BTreeSet<_>>().len(), 4, "{name}: {fill_numbers:?}");
        fills.push(fill_numbers);
    }
    // Both predictors get the same seeded draw; the same seed draws it again.
    assert_eq!(fills[0], fills[1]);
    let again = block_on(search(&optimizer, &cx_with(scripted("student"), 20).with_seed(11)));
    assert_eq!(again.candidate.hash(), found.candidate.hash());
}

#[test]
fn zero_bootstrapped_demos_makes_no_lm_calls() {
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 0, max_labeled_demos: 5, ..Default::default() };
    let lm = scripted("student");
    let cx = cx_with(lm.clone(), 20);
    let found = block_on(search(&optimizer, &cx));
    assert!(lm.requests().is_empty());
    assert_eq!(cx.meter().totals().calls, 0);
    let demos = found.candidate.demos("solve").unwrap();
    assert_eq!(demos.len(), 5);
    assert!(demos.iter().all(|d| train(20).contains(d)));
    assert_eq!(optimizer.plan(20, 20).max_program_runs, 0);
}

#[test]
fn the_teacher_lm_answers_teacher_runs_and_the_student_lm_validation() {
    let teacher = scripted("teacher");
    let student = unskilled("student");
    let cx = cx_with(student.clone(), 20).with_teacher_lm(teacher.clone()).with_concurrency(4);
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 3, max_labeled_demos: 3, ..Default::default() };
    let outcome = block_on(optimize::compile(&cx, &optimizer, "double", provenance())).unwrap();
    // The teacher bootstrapped Q01, Q02 and Q04 (its reasoning is in the demos).
    let solve = &outcome.artifact.predictor("solve").unwrap().demos;
    assert_eq!(numbers(solve), [1, 2, 4]);
    assert!(solve.iter().all(|d| d.get_as::<String>("reasoning").unwrap().starts_with("teacher:")), "{solve:?}");
    let mut taught: Vec<usize> = teacher.requests().iter().map(input_of).collect();
    taught.sort_unstable();
    assert_eq!(taught, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    // The student answered the scoring runs only: the program as written and the compiled
    // one, 20 examples each, two calls each but Q10's.
    let student_requests = student.requests();
    assert_eq!(student_requests.len(), 2 * (2 * 20 - 1));
    assert!(student_requests.iter().filter(|r| is_solve(r)).any(|r| demos_of(r).len() == 3));
    assert_eq!(outcome.compiled.unwrap().score, 0.0, "the student gets everything wrong");
    assert_eq!(outcome.cost.calls, (teacher.requests().len() + student_requests.len()) as u64);
}

// --- LabeledFewShot ------------------------------------------------------------------------

#[test]
fn labeled_few_shot_samples_k_demos_by_seed_without_lm_calls() {
    let labeled = |seed: u64, k: usize| {
        let lm = scripted("student");
        let cx = cx_with(lm.clone(), 20).with_seed(seed);
        let found = block_on(search(&LabeledFewShot { k }, &cx));
        assert!(lm.requests().is_empty());
        assert_eq!(found.candidate.demos("classify"), found.candidate.demos("solve"));
        found.candidate.demos("solve").unwrap().to_vec()
    };
    let three = labeled(3, 4);
    assert_eq!(three.len(), 4);
    assert!(three.iter().all(|d| train(20).contains(d)));
    assert_eq!(numbers(&three).iter().collect::<BTreeSet<_>>().len(), 4);
    assert_eq!(labeled(3, 4), three, "same seed, same demos");
    assert_ne!(labeled(4, 4), three, "another seed, another sample");
    assert_ne!(numbers(&three), [0, 1, 2, 3], "a sample, not the first k");
    // More than there are: all of them, each once.
    let all = labeled(3, 50);
    assert_eq!(numbers(&all).into_iter().collect::<BTreeSet<_>>(), (0..20).collect());
    // k = 0: no demos at all.
    let cx = cx_with(scripted("student"), 20);
    assert_eq!(block_on(search(&LabeledFewShot { k: 0 }, &cx)).candidate, Candidate::empty());
}

// --- RandomSearch --------------------------------------------------------------------------

#[test]
fn random_search_scores_every_candidate_and_keeps_the_best() {
    let cx = cx_with(scripted("student"), 20).with_seed(5);
    let found = block_on(search(&SEARCH, &cx));
    let labels: Vec<&str> = found.leaderboard.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels.len(), 3 + SEARCH.num_candidate_programs);
    assert_eq!(labels[..3], ["zero-shot", "labeled", "bootstrap"]);
    for (i, label) in labels[3..].iter().enumerate() {
        assert!(label.starts_with(&format!("bootstrap (shuffled #{}, ", i + 1)), "{label}");
    }
    assert_eq!(found.leaderboard[0].demos, "none");
    assert_eq!(found.leaderboard[1].demos, "classify=4 solve=4");
    let scores: Vec<f64> = found.leaderboard.iter().map(|e| e.score).collect();
    let best = scores.iter().copied().fold(f64::MIN, f64::max);
    let first_best = scores.iter().position(|&s| s == best).unwrap();
    assert_eq!(found.candidate.short_hash(), found.leaderboard[first_best].candidate, "{scores:?}");
    // The scores are not all the same, or the test says nothing about choosing.
    assert!(scores.iter().any(|&s| s != best), "{scores:?}");
    // Zero-shot: Q00, Q03, ..., Q18 wrong and Q10 fails: 12 of 20.
    assert_eq!(scores[0], 0.6);
    assert_eq!(found.leaderboard[0].calls_per_example, 39.0 / 20.0);

    // compile() scores the winner again (from the cache) and puts it in the artifact.
    let outcome = block_on(optimize::compile(&cx, &SEARCH, "double", provenance())).unwrap();
    assert_eq!(outcome.compiled.as_ref().unwrap().score, best);
    assert_eq!(outcome.baseline.as_ref().unwrap().score, scores[0]);
    assert_eq!(outcome.artifact.provenance.scores.compiled, Some(best));
    let winner = found.candidate.demos("solve").unwrap();
    assert_eq!(outcome.artifact.predictor("solve").unwrap().demos, winner);
}

#[test]
fn ties_go_to_the_earlier_candidate() {
    // A model that is always right: every candidate scores 1.0, so zero-shot wins.
    let lm = Arc::new(ScriptedLm::new().with_fn(|r| {
        let i = input_of(r);
        Ok(if is_solve(r) {
            format!("[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n{}\n\n[[ ## completed ## ]]", 2 * i)
        } else {
            "[[ ## topic ## ]]\nt\n\n[[ ## completed ## ]]".to_string()
        })
    }));
    let cx = cx_with(lm, 10);
    let found = block_on(search(&SEARCH, &cx));
    assert!(found.leaderboard.iter().all(|e| e.score == 1.0));
    assert_eq!(found.candidate, Candidate::empty());
}

#[test]
fn stop_at_score_stops_at_the_first_candidate_that_reaches_it() {
    let full_lm = scripted("student");
    let full = block_on(search(&SEARCH, &cx_with(full_lm.clone(), 20)));
    let target = full.leaderboard[0].score + 0.01;
    let reached = full.leaderboard.iter().position(|e| e.score >= target).expect("some candidate beats zero-shot");
    assert!(reached + 1 < full.leaderboard.len(), "pick data where the stop is early");
    let lm = scripted("student");
    let stopping = RandomSearch { stop_at_score: Some(target), ..SEARCH };
    let found = block_on(search(&stopping, &cx_with(lm.clone(), 20)));
    assert_eq!(found.leaderboard, full.leaderboard[..=reached]);
    assert!(lm.requests().len() < full_lm.requests().len(), "stopping early saves calls");
    assert_eq!(found.candidate.short_hash(), full.leaderboard[reached].candidate);
    assert!(found.stopped.is_none(), "reaching the score is not a budget stop");
}

#[test]
fn bootstraps_share_teacher_runs() {
    // A teacher that never passes: each of the 1 + 6 bootstraps needs every example, so a
    // naive search makes 7 passes over the trainset; shared runs make one.
    let teacher = unskilled("teacher");
    let optimizer = RandomSearch { num_candidate_programs: 6, ..SEARCH };
    let cx = cx_with(scripted("student"), 20).with_teacher_lm(teacher.clone()).with_concurrency(4);
    let found = block_on(search(&optimizer, &cx));
    assert_eq!(found.leaderboard.len(), 9);
    let per_pass = 2 * 20 - 1;
    let naive = 7 * per_pass;
    assert_eq!(teacher.requests().len(), per_pass, "naive: {naive}");

    // A teacher that passes: bootstraps stop at different points of different orders, and
    // still no example is run twice.
    let teacher = scripted("teacher");
    let cx = cx_with(scripted("student"), 20).with_teacher_lm(teacher.clone()).with_concurrency(4);
    let found = block_on(search(&optimizer, &cx));
    let bootstraps = found.leaderboard.iter().filter(|e| e.label.starts_with("bootstrap")).count();
    assert_eq!(bootstraps, 7);
    let mut seen = BTreeMap::new();
    for r in teacher.requests() {
        *seen.entry((input_of(&r), is_solve(&r))).or_insert(0) += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    assert!(teacher.requests().len() <= per_pass);
}

// --- budgets -------------------------------------------------------------------------------

#[test]
fn a_call_budget_stops_a_compile_cleanly_with_an_artifact() {
    let concurrency = 4;
    let calls_per_run = 2;
    let lm = scripted("student");
    let cx = cx_with(lm.clone(), 20)
        .with_concurrency(concurrency)
        .with_budget(Budget { max_calls: Some(50), ..Budget::unlimited() });
    let outcome = block_on(optimize::compile(&cx, &SEARCH, "double", provenance())).unwrap();
    let stopped = outcome.stopped.clone().expect("the budget stops the search");
    assert!(stopped.contains("of 50 LM calls"), "{stopped}");
    let calls = outcome.cost.calls;
    // Runs reserve their calls before they start, so the budget is never passed, and the
    // stop comes when the next run's calls no longer fit.
    assert!(calls <= 50, "{calls} overshoots the budget (concurrency {concurrency})");
    assert!(calls > 50 - calls_per_run, "{calls}");
    assert_eq!(calls, lm.requests().len() as u64);
    // Still an artifact, saying why it stopped, with the best candidate scored so far.
    assert_eq!(outcome.artifact.predictors.len(), 2);
    assert_eq!(outcome.artifact.provenance.stopped.as_deref(), Some(stopped.as_str()));
    assert_eq!(outcome.artifact.provenance.compile_cost.calls, calls);
    assert!(outcome.baseline.is_none() && outcome.compiled.is_none());
    assert!(!outcome.leaderboard.is_empty() && outcome.leaderboard.len() < 3 + SEARCH.num_candidate_programs);
    ProgramArtifact::from_json_str(&outcome.artifact.to_json()).unwrap();
}

#[test]
fn a_call_budget_stops_bootstrapping_with_what_it_has() {
    let lm = scripted("student");
    let cx =
        cx_with(lm.clone(), 20).with_concurrency(1).with_budget(Budget { max_calls: Some(4), ..Budget::default() });
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 3, max_labeled_demos: 3, ..Default::default() };
    let outcome = block_on(optimize::compile(&cx, &optimizer, "double", provenance())).unwrap();
    // Q00 (2 calls, fails), Q01 (2 calls, passes); Q02's two calls would pass the budget: stop.
    assert_eq!(outcome.stopped.as_deref(), Some("budget reached: 4 of 4 LM calls"));
    assert_eq!(lm.requests().len(), 4);
    let solve = &outcome.artifact.predictor("solve").unwrap().demos;
    assert_eq!(numbers(&solve[..1]), [1]);
    assert_eq!(solve.len(), 3, "labeled demos fill up the rest");
}

// --- the score cache -----------------------------------------------------------------------

#[test]
fn scoring_a_candidate_again_makes_no_lm_calls() {
    let lm = scripted("student");
    let cx = cx_with(lm.clone(), 20).with_concurrency(3);
    let examples = train(20);
    let candidate = Candidate::empty().with_demos("solve", vec![examples[7].clone()]);
    let first = block_on(cx.evaluate(&candidate, &examples[..10], "first")).unwrap();
    let calls = lm.requests().len();
    assert_eq!(calls, 20);
    let second = block_on(cx.evaluate(&candidate, &examples[..10], "second")).unwrap();
    assert_eq!(lm.requests().len(), calls, "a cached score makes no calls");
    assert_eq!(first, second);
    // An equal candidate built again is the same cache entry.
    let rebuilt = Candidate::empty().with_demos("solve", vec![examples[7].clone()]);
    block_on(cx.evaluate(&rebuilt, &examples[..10], "rebuilt")).unwrap();
    assert_eq!(lm.requests().len(), calls);
    // More examples: only the new ones run (Q10 stops at classify).
    let more = block_on(cx.evaluate(&candidate, &examples[..15], "more")).unwrap();
    assert_eq!(lm.requests().len(), calls + 9);
    assert_eq!(more.scores[..10], first.scores[..]);
    // Another candidate is scored afresh.
    block_on(cx.evaluate(&Candidate::empty(), &examples[..10], "other")).unwrap();
    assert_eq!(lm.requests().len(), calls + 9 + 20);
}

// --- KnnFewShot ----------------------------------------------------------------------------

fn knn_train() -> Vec<Example> {
    [
        ("What sound does a dog make?", "woof"),
        ("What sound does a cat make?", "meow"),
        ("What color is the sky?", "blue"),
        ("What color is grass?", "green"),
        ("How many legs does a spider have?", "8"),
        ("How many legs does a bird have?", "2"),
    ]
    .iter()
    .map(|(q, a)| Example::new().with("question", *q).with("answer", *a).with_inputs(["question"]))
    .collect()
}

fn qa() -> Arc<dyn Module> {
    Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()))
}

/// The demo questions and the input question of a one-predictor request.
fn knn_request(request: &LmRequest) -> (Vec<String>, String) {
    let field = |text: &str| {
        let start = text.find("[[ ## question ## ]]\n").unwrap() + "[[ ## question ## ]]\n".len();
        text[start..].lines().next().unwrap().to_string()
    };
    let m = &request.messages;
    let demos = m[1..m.len() - 1].chunks(2).map(|pair| field(&pair[0].content)).collect();
    (demos, field(request.last_user_message().unwrap()))
}

#[test]
fn knn_demos_are_the_nearest_training_examples_never_the_input() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nmoo\n\n[[ ## completed ## ]]"));
    let cx = CompileCx::new(qa(), metric(), Dataset::from_examples("animals", knn_train()))
        .with_run_cx(RunCx::new().with_lm(lm.clone()));
    let outcome = block_on(optimize::compile(&cx, &KnnFewShot::new(2), "qa", provenance())).unwrap();

    // The artifact carries the trainset and how to search it.
    let knn = outcome.artifact.knn.clone().expect("a knn artifact");
    assert_eq!((knn.k, knn.method.as_str(), knn.base_url.as_deref()), (2, "bm25", None));
    assert_eq!(knn.input_keys, ["question"]);
    assert_eq!(knn.trainset, knn_train());
    assert_eq!(outcome.artifact.provenance.optimizer, "knn");
    assert!(outcome.artifact.predictors[0].demos.is_empty(), "demos are chosen per call");

    // Scoring the compiled program on the trainset: each input's demos are its neighbours,
    // never itself.
    let with_demos: Vec<_> = lm.requests().iter().map(knn_request).filter(|(d, _)| !d.is_empty()).collect();
    assert_eq!(with_demos.len(), 6);
    for (demos, input) in &with_demos {
        assert_eq!(demos.len(), 2, "{input}");
        assert!(!demos.contains(input), "{input} is its own demo");
    }
    let dog = with_demos.iter().find(|(_, i)| i == "What sound does a dog make?").unwrap();
    assert_eq!(dog.0[0], "What sound does a cat make?");

    // Rebuilt from the saved artifact, the program finds the same neighbours.
    let saved = ProgramArtifact::from_json_str(&outcome.artifact.to_json()).unwrap();
    let program = KnnProgram::from_artifact(qa(), saved.knn.as_ref().unwrap(), None).unwrap();
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nmoo\n\n[[ ## completed ## ]]"));
    let cow = Example::new().with("question", "What sound does a cow make?");
    let out = block_on(program.forward(&RunCx::new().with_lm(lm.clone()), &cow)).unwrap();
    assert_eq!(out.get_as::<String>("answer").unwrap(), "moo");
    let (demos, input) = knn_request(&lm.requests()[0]);
    assert_eq!(input, "What sound does a cow make?");
    assert_eq!(demos, ["What sound does a dog make?", "What sound does a cat make?"]);
    assert!(lm.requests()[0].messages[2].content.contains("woof"), "the demo's answer is shown");
    let neighbours = block_on(program.demos_for(&cow)).unwrap();
    // (Saved examples are flat field maps: which keys are inputs is the artifact's `input_keys`.)
    let fields: Vec<_> = neighbours.iter().map(Example::fields).collect();
    assert_eq!(fields, [knn_train()[0].fields(), knn_train()[1].fields()]);

    // An embedding artifact needs its embedder.
    let dense = lmc::artifact::KnnArtifact { method: "openai/text-embedding-3-small".into(), ..knn };
    let err = KnnProgram::from_artifact(qa(), &dense, None).unwrap_err();
    assert!(err.to_string().contains("text-embedding-3-small"), "{err}");
}

#[test]
fn knn_k_0_is_a_config_error() {
    let cx = CompileCx::new(qa(), metric(), Dataset::from_examples("animals", knn_train()));
    let err = block_on(KnnFewShot::new(0).compile(&cx)).err().unwrap();
    assert!(err.to_string().contains("k must be at least 1"), "{err}");
}

// --- candidates ----------------------------------------------------------------------------

#[test]
fn candidate_hashes_are_stable() {
    let demo = |q: &str| Example::new().with("question", q).with("answer", "x");
    let a = Candidate::empty().with_demos("classify", vec![demo("1")]).with_demos("solve", vec![demo("2")]);
    let b = Candidate::empty().with_demos("solve", vec![demo("2")]).with_demos("classify", vec![demo("1")]);
    assert_eq!(a.hash(), b.hash(), "construction order does not matter");
    assert_eq!(a, b);

    // The same overlay built as a map, in either insertion order.
    let entry = |q: &str| PredictorOverlay { instructions: None, demos: Some(vec![demo(q)]) };
    let mut forward = BTreeMap::new();
    forward.insert("classify".to_string(), entry("1"));
    forward.insert("solve".to_string(), entry("2"));
    let mut backward = BTreeMap::new();
    backward.insert("solve".to_string(), entry("2"));
    backward.insert("classify".to_string(), entry("1"));
    let c = Candidate::new(Overlay { predictors: forward });
    let d = Candidate::new(Overlay { predictors: backward });
    assert_eq!(c.hash(), d.hash());
    assert_eq!(c.hash(), a.hash());

    // Any change to a demo, the demos' order or the instructions changes the hash.
    let changed = Candidate::empty().with_demos("classify", vec![demo("1")]).with_demos("solve", vec![demo("3")]);
    assert_ne!(changed.hash(), a.hash());
    let reordered = Candidate::empty().with_demos("classify", vec![demo("1"), demo("2")]);
    let ordered = Candidate::empty().with_demos("classify", vec![demo("2"), demo("1")]);
    assert_ne!(reordered.hash(), ordered.hash());
    assert_ne!(a.with_instructions("solve", "Be brief.").hash(), a.hash());
    assert_ne!(Candidate::empty().with_demos("solve", Vec::new()).hash(), Candidate::empty().hash());

    // 64 hex digits, and a 12-digit short form; the same on every run.
    assert_eq!(a.hash().len(), 64);
    assert!(a.hash().chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a.short_hash(), &a.hash()[..12]);
    assert_eq!(Candidate::empty().hash(), Candidate::new(Overlay::default()).hash());
    insta::assert_snapshot!("optimize_candidate_hashes", format!("{}\n{}", Candidate::empty().hash(), a.hash()));
    assert_eq!(a.demo_summary(), "classify=1 solve=1");
}
