//! Checkpoints and resuming: a compile stopped at a deterministic point (a trial hook after N
//! trials) or dropped mid-trial (as Ctrl-C drops it) and resumed from its run directory writes
//! the artifact an uninterrupted run writes, and no LM request that completed is sent again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lmc::data::dataset::Dataset;
use lmc::lm::cache::{cache_key, LmCache};
use lmc::lm::LmFactory;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{
    self, Budget, CompileCx, CompileError, CompileIdentity, CompileOutcome, RandomSearch, Resume, ResumeError, RunDir,
    RunState,
};
use lmc::sim::{SimSettings, SimWorld};
use lmc::{
    Example, Lm, LmError, LmIdentity, LmRequest, LmResponse, Message, Module, Program, RunCx, Sampling, ScriptedLm,
};
use tokio::sync::Notify;

/// Two predictors: `classify` names a topic, `solve` (chain of thought) answers.
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

/// `n` examples: question `Qnn ...`, gold answer `2n`.
fn train(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new()
                .with("question", format!("Q{i:02} what is {i} doubled?"))
                .with("answer", (2 * i).to_string())
                .with_inputs(["question"])
        })
        .collect()
}

/// The number of the first question in a rendered message.
fn index_in(text: &str) -> Option<usize> {
    let marker = "[[ ## question ## ]]\nQ";
    let at = text.find(marker)? + marker.len();
    text.get(at..at + 2)?.parse().ok()
}

/// Replies that depend on the request alone: `solve` gets multiples of 3 wrong unless the
/// request carries a complete (bootstrapped) demo for a question `j` with `(n + j) % 5 == 0`,
/// or at a rollout above 0 when `n` is even; so demos and rounds matter and candidates score
/// differently.
fn reply(request: &LmRequest, voice: &str) -> Result<String, LmError> {
    let i = index_in(request.last_user_message().unwrap()).unwrap();
    if !request.messages[0].content.contains("`reasoning`") {
        return Ok(format!("[[ ## topic ## ]]\nT{i}\n\n[[ ## completed ## ]]"));
    }
    let m = &request.messages;
    let helped = m[1..m.len() - 1].chunks(2).any(|pair| {
        let user = &pair[0].content;
        !user.starts_with("This is an example of the task") && index_in(user).is_some_and(|j| (i + j) % 5 == 0)
    });
    let retried = request.rollout > 0 && i % 2 == 0;
    let answer = if i % 3 != 0 || helped || retried { (2 * i).to_string() } else { "wrong".to_string() };
    Ok(format!(
        "[[ ## reasoning ## ]]\n{voice}: Q{i:02} doubled.\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"
    ))
}

/// A model that answers after a delay derived from the request (so concurrent runs finish out
/// of order) and records the cache key of every request it answers; `notify` fires once
/// `after` requests are answered.
#[derive(Debug)]
struct Model {
    inner: ScriptedLm,
    answered: Mutex<Vec<String>>,
    after: usize,
    notify: Arc<Notify>,
}

impl Model {
    fn new(voice: &'static str) -> Arc<Self> {
        Self::notifying(voice, usize::MAX)
    }

    fn notifying(voice: &'static str, after: usize) -> Arc<Self> {
        Arc::new(Model {
            inner: ScriptedLm::new().with_model(voice).with_fn(move |r| reply(r, voice)),
            answered: Mutex::default(),
            after,
            notify: Arc::new(Notify::new()),
        })
    }

    fn answered(&self) -> Vec<String> {
        self.answered.lock().unwrap().clone()
    }
}

impl Lm for Model {
    fn identity(&self) -> LmIdentity {
        self.inner.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let text = request.last_user_message().unwrap_or("");
            let hash = text.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            tokio::time::sleep(Duration::from_millis(hash % 4)).await;
            // From here to the run directory's write, nothing yields: an answered request is a
            // kept one.
            let response = self.inner.complete(request).await?;
            let count = {
                let mut answered = self.answered.lock().unwrap();
                answered.push(cache_key(&self.identity(), request));
                answered.len()
            };
            if count == self.after {
                self.notify.notify_one();
            }
            Ok(response)
        })
    }
}

const SEARCH: RandomSearch = RandomSearch {
    num_candidate_programs: 4,
    max_bootstrapped_demos: 3,
    max_labeled_demos: 4,
    max_rounds: 2,
    metric_threshold: None,
    stop_at_score: None,
};

/// Trials in a whole search: zero-shot, labeled, bootstrap and the shuffled bootstraps.
const TRIALS: usize = 3 + SEARCH.num_candidate_programs;

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lmc-resume-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn metric() -> Arc<dyn Metric> {
    Arc::new(ExactMatch::new("answer"))
}

/// A compile before its LMs are set: what its identity is made of.
fn bare_cx(seed: u64) -> CompileCx {
    CompileCx::new(program(), metric(), Dataset::from_examples("train.jsonl", train(16)))
        .with_valset(Dataset::from_examples("val.jsonl", train(24)[16..].to_vec()))
        .with_seed(seed)
}

fn identity(search: &RandomSearch, seed: u64) -> CompileIdentity {
    CompileIdentity::of(search, &bare_cx(seed)).with("lm", "scripted/student").with("teacher_lm", "scripted/teacher")
}

/// One compile through the run directory `dir`: the student and the teacher answer through
/// it; `stop` stops it after that many trials.
struct Run {
    dir: Arc<RunDir>,
    student: Arc<Model>,
    teacher: Arc<Model>,
    budget: Budget,
    concurrency: usize,
}

impl Run {
    fn open(dir: &Path, resume: Resume) -> Self {
        Self::with_models(dir, resume, Model::new("student"), Model::new("teacher"))
    }

    fn with_models(dir: &Path, resume: Resume, student: Arc<Model>, teacher: Arc<Model>) -> Self {
        let dir = Arc::new(RunDir::open(dir, identity(&SEARCH, 3), resume).unwrap());
        Run { dir, student, teacher, budget: Budget::unlimited(), concurrency: 4 }
    }

    fn cx(&self, stop: Option<usize>) -> CompileCx {
        let mut cx = bare_cx(3)
            .with_run_cx(RunCx::new().with_lm(self.dir.wrap(self.student.clone())))
            .with_teacher_lm(self.dir.wrap(self.teacher.clone()))
            .with_concurrency(self.concurrency)
            .with_budget(self.budget)
            .with_trial_hook(self.dir.hook());
        if let Some(n) = stop {
            cx = cx.with_stop_after_trials(n);
        }
        cx
    }

    async fn compile(&self, stop: Option<usize>) -> Result<CompileOutcome, CompileError> {
        let cx = self.cx(stop);
        let outcome = optimize::compile(&cx, &SEARCH, "double", Default::default()).await;
        if let Ok(outcome) = &outcome {
            self.dir.finish(outcome.stopped.clone()).unwrap();
        }
        outcome
    }

    /// Every request the models answered, student's and teacher's.
    fn answered(&self) -> Vec<String> {
        [self.student.answered(), self.teacher.answered()].concat()
    }
}

fn set(keys: &[String]) -> BTreeSet<String> {
    keys.iter().cloned().collect()
}

/// No request is sent twice within one run.
fn assert_once_each(keys: &[String], what: &str) {
    let mut seen = BTreeMap::new();
    for k in keys {
        *seen.entry(k).or_insert(0) += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "{what}: a request was sent twice");
}

/// An uninterrupted compile: its outcome and the requests it sent.
async fn uninterrupted() -> (CompileOutcome, Vec<String>) {
    let run = Run::open(&scratch("whole"), Resume::Fresh);
    let outcome = run.compile(None).await.unwrap();
    assert!(outcome.stopped.is_none());
    assert_eq!(outcome.leaderboard.len(), TRIALS);
    (outcome, run.answered())
}

fn read_state(dir: &Path) -> RunState {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopped_after_n_trials_and_resumed_it_writes_the_uninterrupted_artifact_and_repeats_no_request() {
    let (whole, whole_keys) = uninterrupted().await;
    assert_once_each(&whole_keys, "the uninterrupted run");
    // Candidates score differently, or the comparison says little.
    let scores: BTreeSet<String> = whole.leaderboard.iter().map(|e| format!("{:.3}", e.score)).collect();
    assert!(scores.len() > 1, "{:?}", whole.leaderboard);

    for stop in [1, 2, 3, 5] {
        let path = scratch(&format!("stop-{stop}"));
        let first = Run::open(&path, Resume::Fresh);
        let err = first.compile(Some(stop)).await.expect_err("the hook stops the compile");
        assert!(matches!(err, CompileError::Interrupted { trials } if trials == stop), "{err}");
        assert_eq!(err.to_string(), format!("interrupted after {stop} trial(s)"));
        let state = read_state(&path);
        assert_eq!((state.trials, state.history.len(), state.finished), (stop, stop, false));
        assert_eq!(state.calls, state.history[stop - 1].calls);
        assert_eq!(state.requests as usize, first.answered().len(), "every answered request is kept");

        // A fresh process: new models, the same run directory.
        let second = Run::open(&path, Resume::Required);
        assert_eq!(second.dir.resumed().map(|s| s.trials), Some(stop));
        let resumed = second.compile(None).await.unwrap();
        assert_eq!(resumed.artifact.to_json(), whole.artifact.to_json(), "stopped after {stop} trials");
        assert_eq!(resumed.leaderboard, whole.leaderboard);
        assert_eq!(resumed.cost, whole.cost);

        let (before, after) = (first.answered(), second.answered());
        assert_once_each(&after, "the resumed run");
        let repeated: Vec<_> = set(&before).intersection(&set(&after)).cloned().collect();
        assert!(repeated.is_empty(), "stopped after {stop}: {} requests sent again", repeated.len());
        let union: BTreeSet<String> = set(&before).union(&set(&after)).cloned().collect();
        assert_eq!(union, set(&whole_keys), "stopped after {stop}: the two runs together send what one run sends");
        assert!(!before.is_empty() && !after.is_empty());

        let counts = second.dir.counts().unwrap();
        assert_eq!(counts.sent as usize, after.len());
        assert!(counts.replayed as usize >= before.len(), "{counts:?}");
        let state = read_state(&path);
        assert_eq!((state.trials, state.history.len(), state.finished), (TRIALS, TRIALS, true));
        assert_eq!(state.requests as usize, whole_keys.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_mid_trial_as_ctrl_c_drops_it_the_resumed_compile_is_the_same() {
    let (whole, whole_keys) = uninterrupted().await;
    // Drop the compile once 40 requests are answered: in the middle of a trial, with requests
    // in flight.
    let path = scratch("dropped");
    let student = Model::notifying("student", 40);
    let first = Run::with_models(&path, Resume::Fresh, student.clone(), Model::new("teacher"));
    tokio::select! {
        _ = first.compile(None) => panic!("the compile finished before it was dropped"),
        () = student.notify.notified() => {}
    }
    let before = first.answered();
    assert!(before.len() >= 40 && before.len() < whole_keys.len(), "{}", before.len());
    let state = read_state(&path);
    assert!(!state.finished && state.trials < TRIALS, "{state:?}");

    let second = Run::open(&path, Resume::Auto);
    assert!(second.dir.resumed().is_some(), "an unfinished compile is continued");
    let resumed = second.compile(None).await.unwrap();
    assert_eq!(resumed.artifact.to_json(), whole.artifact.to_json());
    let after = second.answered();
    // Requests in flight when the compile was dropped had not completed: they are the only
    // ones that may be sent again, and none of them was answered.
    assert!(set(&before).is_disjoint(&set(&after)), "a completed request was sent again");
    let union: BTreeSet<String> = set(&before).union(&set(&after)).cloned().collect();
    assert_eq!(union, set(&whole_keys));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_stop_lands_at_the_same_point_when_resumed() {
    let budget = Budget { max_calls: Some(70), ..Budget::unlimited() };
    let mut whole = Run::open(&scratch("budget-whole"), Resume::Fresh);
    whole.budget = budget;
    let whole = whole.compile(None).await.unwrap();
    let reason = whole.stopped.clone().expect("the budget stops the search");
    assert!(whole.leaderboard.len() > 2 && whole.leaderboard.len() < TRIALS, "{}", whole.leaderboard.len());

    let path = scratch("budget");
    let mut first = Run::open(&path, Resume::Fresh);
    first.budget = budget;
    assert!(first.compile(Some(2)).await.is_err());
    let mut second = Run::open(&path, Resume::Required);
    second.budget = budget;
    let resumed = second.compile(None).await.unwrap();
    assert_eq!(resumed.stopped.as_deref(), Some(reason.as_str()));
    assert_eq!(resumed.artifact.to_json(), whole.artifact.to_json());
    assert_eq!(read_state(&path).stopped.as_deref(), Some(reason.as_str()));

    // A budget stop is not the end: a larger budget continues it (the budget is not part of
    // the identity) to what an unlimited compile writes, paying only for the rest.
    let (unlimited, _) = uninterrupted().await;
    let third = Run::open(&path, Resume::Auto);
    assert!(third.dir.resumed().is_some());
    let done = third.compile(None).await.unwrap();
    assert_eq!(done.artifact.to_json(), unlimited.artifact.to_json());
    let counts = third.dir.counts().unwrap();
    assert!(counts.replayed > 0 && counts.sent > 0, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_compile_is_replayed_by_resume_and_started_over_by_default() {
    let path = scratch("finished");
    let first = Run::open(&path, Resume::Fresh);
    let outcome = first.compile(None).await.unwrap();
    let sent = first.answered().len();

    // --resume on a finished compile replays it all: nothing is sent.
    let replay = Run::open(&path, Resume::Required);
    assert_eq!(replay.compile(None).await.unwrap().artifact.to_json(), outcome.artifact.to_json());
    assert!(replay.answered().is_empty());
    assert_eq!(replay.dir.counts().unwrap().sent, 0);

    // Without it, a finished compile starts over (the requests are cleared), as a rerun did
    // before run directories.
    let stray = path.join("notes.txt");
    std::fs::write(&stray, "mine").unwrap();
    let again = Run::open(&path, Resume::Auto);
    assert!(again.dir.resumed().is_none());
    assert_eq!(again.dir.counts().unwrap().saved, 0);
    assert_eq!(again.compile(None).await.unwrap().artifact.to_json(), outcome.artifact.to_json());
    assert_eq!(again.answered().len(), sent);
    assert_eq!(std::fs::read_to_string(&stray).unwrap(), "mine", "other files are left alone");
}

#[test]
fn another_compile_is_refused_naming_what_differs() {
    let path = scratch("mismatch");
    RunDir::open(&path, identity(&SEARCH, 3), Resume::Fresh).unwrap();
    let other = RandomSearch { num_candidate_programs: 6, ..SEARCH };
    for resume in [Resume::Required, Resume::Auto] {
        let err = RunDir::open(&path, identity(&other, 4), resume).unwrap_err();
        let ResumeError::Mismatch { differences, .. } = &err else { panic!("{err}") };
        assert_eq!(differences, &["config.num_candidate_programs: 4 then, 6 now", "seed: 3 then, 4 now"]);
        let text = err.to_string();
        assert!(text.starts_with(&format!("{}: this run directory holds a different compile (", path.display())));
    }
    // Fresh overwrites it.
    let dir = RunDir::open(&path, identity(&other, 4), Resume::Fresh).unwrap();
    assert!(dir.resumed().is_none());
    assert_eq!(read_state(&path).identity, identity(&other, 4));
}

#[test]
fn nothing_to_resume_and_damaged_states_are_errors() {
    let path = scratch("nothing");
    let err = RunDir::open(&path, identity(&SEARCH, 3), Resume::Required).unwrap_err();
    assert!(matches!(err, ResumeError::NothingToResume { .. }), "{err}");
    assert_eq!(err.to_string(), format!("{}: nothing to resume: no state.json here", path.display()));
    // Auto starts one.
    RunDir::open(&path, identity(&SEARCH, 3), Resume::Auto).unwrap();
    assert_eq!(read_state(&path).identity_hash, identity(&SEARCH, 3).hash());

    std::fs::write(path.join("state.json"), "{\"version\": 1").unwrap();
    let err = RunDir::open(&path, identity(&SEARCH, 3), Resume::Auto).unwrap_err();
    assert!(err.to_string().contains("state.json: not a compile's state"), "{err}");
    let mut state =
        serde_json::to_value(RunDir::open(&path, identity(&SEARCH, 3), Resume::Fresh).unwrap().state()).unwrap();
    state["version"] = 99.into();
    std::fs::write(path.join("state.json"), state.to_string()).unwrap();
    let err = RunDir::open(&path, identity(&SEARCH, 3), Resume::Required).unwrap_err();
    assert!(err.to_string().contains("version 99 is newer"), "{err}");
}

#[test]
fn the_identity_covers_the_program_data_seed_and_settings() {
    let base = identity(&SEARCH, 3);
    assert_eq!(base.hash(), identity(&SEARCH, 3).hash(), "stable");
    assert_eq!(base.hash().len(), 64);
    let parts: Vec<&str> = base.parts().keys().map(String::as_str).collect();
    assert_eq!(parts, ["config", "lm", "metric", "optimizer", "program", "seed", "teacher_lm", "trainset", "valset"]);
    let other_data = CompileIdentity::of(
        &SEARCH,
        &CompileCx::new(program(), metric(), Dataset::from_examples("t", train(15))).with_seed(3),
    )
    .with("lm", "scripted/student")
    .with("teacher_lm", "scripted/teacher");
    let differences = base.differences(&other_data);
    assert!(differences.iter().any(|d| d.starts_with("trainset: ")), "{differences:?}");
    assert!(differences.iter().any(|d| d.starts_with("valset: ") && d.ends_with("none now")), "{differences:?}");
    // Concurrency and budgets are not part of it.
    let busy = bare_cx(3).with_concurrency(1).with_budget(Budget { max_calls: Some(5), ..Budget::unlimited() });
    let quiet =
        CompileIdentity::of(&SEARCH, &busy).with("lm", "scripted/student").with("teacher_lm", "scripted/teacher");
    assert_eq!(quiet, base);
}

#[test]
fn a_factory_run_cache_keeps_the_simulators_requests_too() {
    let records: Vec<lmc::Fields> = train(4).into_iter().map(Example::into_fields).collect();
    let world = SimWorld::new("double", &records, SimSettings::default()).unwrap();
    let cache = Arc::new(LmCache::in_memory().unwrap());
    let factory = LmFactory::new().with_sim_world(Arc::new(world)).with_run_cache(cache.clone());
    let lm = factory.build("sim").unwrap();
    assert_eq!(lm.identity().provider, "sim");
    let request = LmRequest::new(
        vec![
            Message::system("Answer.\n\n[[ ## answer ## ]]"),
            Message::user("[[ ## question ## ]]\nQ01 what is 1 doubled?"),
        ],
        Sampling::default(),
    );
    let first = futures::executor::block_on(lm.complete(&request)).unwrap();
    let second = futures::executor::block_on(lm.complete(&request)).unwrap();
    assert!(!first.cache_hit && second.cache_hit);
    assert_eq!(first.completions, second.completions);
    assert_eq!(cache.stats().unwrap().entries, 1);
}
