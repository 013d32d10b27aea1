//! `CompileCx`: what every optimizer shares during one compile: the program, data, metric,
//! run contexts, budget meter, progress reporting, and the caches of scores and teacher runs.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{self, StreamExt};

use super::budget::{round_usd, Budget, BudgetExceeded, Meter};
use super::candidate::Candidate;
use super::objective::Objective;
use crate::data::dataset::{example_hash, Dataset};
use crate::data::{Example, Prediction};
use crate::lm::{Lm, Sampling};
use crate::metric::Metric;
use crate::module::{Module, Predict, RunCx, RunError, RunTotals, TraceEntry};

/// Progress of a compile, reported after each program run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileProgress {
    /// What is running, e.g. `bootstrap round 1` or `validate candidate 3/10`.
    pub phase: String,
    /// Runs finished in this phase.
    pub done: usize,
    /// Runs planned in this phase (an upper bound when the phase may stop early).
    pub total: usize,
    /// LM calls so far in the whole compile.
    pub calls: u64,
    /// Dollars so far (by usage).
    pub usd: f64,
}

type ProgressFn = Arc<dyn Fn(&CompileProgress) + Send + Sync>;

/// (program tag + candidate hash, example hash).
type ScoreKey = (Arc<str>, String);

/// (teacher candidate hash, example hash, round).
type TeacherKey = (Arc<str>, String, u32);

/// One run of a program on one example, scored.
#[derive(Debug, Clone)]
pub struct ExampleRun {
    /// The prediction, when the run succeeded.
    pub prediction: Option<Prediction>,
    /// The metric's score (0 for a failed run).
    pub score: f64,
    /// The metric's feedback, or why the run failed (what reflective optimizers read).
    pub feedback: Option<String>,
    /// Every predictor call.
    pub trace: Vec<TraceEntry>,
    /// The program's cost for this run by usage; `None` when a model has no price.
    pub cost_usd: Option<f64>,
    /// LM calls.
    pub calls: u64,
}

/// A candidate's scores on a set of examples.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateScore {
    /// Mean score.
    pub score: f64,
    /// Per example, in order.
    pub scores: Vec<f64>,
    /// The program's mean cost per example; `None` when a model has no price.
    pub cost_per_example: Option<f64>,
    /// Mean LM calls per example.
    pub calls_per_example: f64,
}

/// The shared state of one compile. Build it with the `with_*` methods, then hand it to an
/// [`Optimizer`](super::Optimizer).
pub struct CompileCx {
    program: Arc<dyn Module>,
    teacher: Option<Arc<dyn Module>>,
    metric: Arc<dyn Metric>,
    trainset: Dataset,
    valset: Option<Dataset>,
    run_cx: RunCx,
    teacher_lm: Option<Arc<dyn Lm>>,
    judge_cx: RunCx,
    concurrency: usize,
    seed: u64,
    objective: Objective,
    meter: Meter,
    progress: Option<ProgressFn>,
    scores: Mutex<HashMap<ScoreKey, Arc<ExampleRun>>>,
    teacher_runs: Mutex<HashMap<TeacherKey, Arc<ExampleRun>>>,
    simulated: AtomicBool,
    proposer: Mutex<RunTotals>,
    /// Called after each trial ([`CompileCx::trial_done`], in `resume.rs`).
    pub(super) trial_hooks: Vec<super::resume::TrialHook>,
}

impl fmt::Debug for CompileCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompileCx")
            .field("metric", &self.metric.name())
            .field("trainset", &self.trainset.len())
            .field("valset", &self.valset.as_ref().map(Dataset::len))
            .field("concurrency", &self.concurrency)
            .field("seed", &self.seed)
            .field("budget", self.meter.budget())
            .finish_non_exhaustive()
    }
}

impl CompileCx {
    /// A compile of `program` on `trainset`, scored by `metric`: concurrency 8, seed 0, no
    /// budget, no LM yet ([`with_run_cx`](Self::with_run_cx) sets it).
    pub fn new(program: Arc<dyn Module>, metric: Arc<dyn Metric>, trainset: Dataset) -> Self {
        CompileCx {
            program,
            teacher: None,
            metric,
            trainset,
            valset: None,
            run_cx: RunCx::new(),
            teacher_lm: None,
            judge_cx: RunCx::new(),
            concurrency: 8,
            seed: 0,
            objective: Objective::Score,
            meter: Meter::default(),
            progress: None,
            scores: Mutex::default(),
            teacher_runs: Mutex::default(),
            simulated: AtomicBool::new(false),
            proposer: Mutex::default(),
            trial_hooks: Vec::new(),
        }
    }

    /// Validation examples candidates are scored on (default: the trainset).
    pub fn with_valset(mut self, valset: Dataset) -> Self {
        self.valset = Some(valset);
        self
    }

    /// The run context every program run starts from: its LM and sampling.
    pub fn with_run_cx(mut self, cx: RunCx) -> Self {
        self.run_cx = cx;
        self
    }

    /// A teacher program (same predictor names) for bootstrapping, instead of the program.
    pub fn with_teacher(mut self, teacher: Arc<dyn Module>) -> Self {
        self.teacher = Some(teacher);
        self
    }

    /// A (stronger) LM for the teacher's runs.
    pub fn with_teacher_lm(mut self, lm: Arc<dyn Lm>) -> Self {
        self.teacher_lm = Some(lm);
        self
    }

    /// The context an LM-judged metric makes its calls in.
    pub fn with_judge_cx(mut self, cx: RunCx) -> Self {
        self.judge_cx = cx;
        self
    }

    /// At most `n` program runs in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The seed every random choice derives from (0 is a seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// What searching optimizers rank candidates by (default: the score).
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Limits on calls, tokens and dollars.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.meter = Meter::new(budget);
        self
    }

    /// Calls `f` after each program run.
    pub fn with_progress(mut self, f: impl Fn(&CompileProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// The run context program runs start from (its LM and sampling).
    pub fn run_cx(&self) -> &RunCx {
        &self.run_cx
    }

    /// The program being compiled.
    pub fn program(&self) -> &Arc<dyn Module> {
        &self.program
    }

    /// The program the teacher runs are made with: the teacher given, else the program.
    pub fn teacher(&self) -> &Arc<dyn Module> {
        self.teacher.as_ref().unwrap_or(&self.program)
    }

    /// The metric.
    pub fn metric(&self) -> &Arc<dyn Metric> {
        &self.metric
    }

    /// The training examples.
    pub fn trainset(&self) -> &Dataset {
        &self.trainset
    }

    /// The validation examples given, if any.
    pub fn valset(&self) -> Option<&Dataset> {
        self.valset.as_ref()
    }

    /// The examples candidates are scored on: the valset, else the trainset.
    pub fn scoring_set(&self) -> &Dataset {
        self.valset.as_ref().unwrap_or(&self.trainset)
    }

    /// Runs in flight at most.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What searching optimizers rank candidates by: [`Objective::value`] of each one's score
    /// and cost per example.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// The budget meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Records calls an optimizer made to propose instructions (already on the meter): they
    /// are reported apart from the program's.
    pub fn record_proposer(&self, totals: &RunTotals) {
        self.proposer.lock().unwrap_or_else(PoisonError::into_inner).merge(totals);
    }

    /// The proposer's calls so far.
    pub fn proposer_totals(&self) -> RunTotals {
        *self.proposer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any call so far was answered by lmc's simulator.
    pub fn simulated(&self) -> bool {
        self.simulated.load(Ordering::Relaxed)
    }

    /// Reports progress to the compile's callback.
    pub(crate) fn report(&self, phase: &str, done: usize, total: usize) {
        if let Some(progress) = &self.progress {
            let totals = self.meter.totals();
            progress(&CompileProgress {
                phase: phase.to_string(),
                done,
                total,
                calls: totals.calls,
                usd: round_usd(self.meter.usd()),
            });
        }
    }

    /// Runs `program` on one example in `cx` (a fork with its overlay, rollout and sampling)
    /// and scores it; the usage goes on the meter.
    ///
    /// `reserved` is the calls reserved on the meter for this run (released here).
    async fn run_scored(&self, program: &dyn Module, cx: RunCx, example: &Example, reserved: u64) -> ExampleRun {
        let inputs = Example::from_fields(example.inputs()).with_inputs(example.input_keys().to_vec());
        let result = program.forward(&cx, &inputs).await;
        let trace = cx.trace();
        let totals = cx.totals();
        let (prediction, score, feedback, judge_usd) = match result {
            Err(e) => (None, 0.0, Some(format!("the program failed: {e}")), 0.0),
            Ok(prediction) => {
                let judge = self.judge_cx.fork();
                let (score, feedback) = match self.metric.score(&judge, example, &prediction, &trace).await {
                    Ok(s) => (s.value, s.feedback),
                    Err(e) => (0.0, Some(format!("the metric failed: {e}"))),
                };
                (Some(prediction), score, feedback, judge.totals().program_cost_usd)
            }
        };
        self.meter.add(&totals, judge_usd, reserved);
        if trace
            .iter()
            .any(|t| t.lm.provider == "sim" || t.served_model.as_deref().is_some_and(|m| m.starts_with("sim/")))
        {
            self.simulated.store(true, Ordering::Relaxed);
        }
        ExampleRun {
            prediction,
            score,
            feedback,
            trace,
            cost_usd: (totals.unpriced_calls == 0).then_some(totals.program_cost_usd),
            calls: totals.calls,
        }
    }

    /// Scores `candidate` on `examples`, running only the pairs not scored before, at most
    /// [`concurrency`](Self::concurrency) at once, with a budget check before each run. Scores
    /// come back in example order whatever the completion order. With no valset (scoring on
    /// the trainset), each example is left out of its own demos.
    pub async fn evaluate(
        &self,
        candidate: &Candidate,
        examples: &[Example],
        phase: &str,
    ) -> Result<CandidateScore, BudgetExceeded> {
        self.evaluate_program(&self.program, "", candidate, examples, phase).await
    }

    /// [`evaluate`](Self::evaluate) for another program built around the one being compiled
    /// (KnnFewShot's wrapper, say); `tag` names it in the score cache's keys.
    pub async fn evaluate_program(
        &self,
        program: &Arc<dyn Module>,
        tag: &str,
        candidate: &Candidate,
        examples: &[Example],
        phase: &str,
    ) -> Result<CandidateScore, BudgetExceeded> {
        let tagged: Arc<str> = format!("{tag}{}", candidate.hash()).into();
        let key = |e: &Example| (tagged.clone(), example_hash(e));
        let keys: Vec<_> = examples.iter().map(key).collect();
        let missing: Vec<usize> = {
            let scores = self.scores.lock().unwrap_or_else(PoisonError::into_inner);
            (0..examples.len()).filter(|&i| !scores.contains_key(&keys[i])).collect()
        };
        let base = self.run_cx.fork().with_overlay(candidate.overlay().clone());
        let cached = examples.len() - missing.len();
        // A budget check before each run; results are stored as they come (order does not
        // matter: they are keyed by example).
        let runs: Vec<_> = missing
            .iter()
            .map(|&i| {
                // Scored on the trainset, an example is never its own demo either.
                let cx = if self.valset.is_none() {
                    base.fork().with_overlay(without_example(candidate, &examples[i]).overlay().clone())
                } else {
                    base.fork()
                };
                async move {
                    let calls = calls_per_run(program.as_ref());
                    self.meter.reserve(calls)?;
                    Ok::<_, BudgetExceeded>((i, self.run_scored(program.as_ref(), cx, &examples[i], calls).await))
                }
            })
            .collect();
        let mut runs = stream::iter(runs).buffer_unordered(self.concurrency);
        let mut done = cached;
        let mut exceeded = None;
        while let Some(result) = runs.next().await {
            match result {
                Ok((i, run)) => {
                    self.scores.lock().unwrap_or_else(PoisonError::into_inner).insert(keys[i].clone(), Arc::new(run));
                    done += 1;
                    self.report(phase, done, examples.len());
                }
                Err(e) => {
                    exceeded.get_or_insert(e);
                }
            }
        }
        if let Some(e) = exceeded {
            return Err(e);
        }
        let scores = self.scores.lock().unwrap_or_else(PoisonError::into_inner);
        let runs: Vec<&Arc<ExampleRun>> = keys.iter().filter_map(|k| scores.get(k)).collect();
        let n = runs.len().max(1) as f64;
        let per_example: Vec<f64> = runs.iter().map(|r| r.score).collect();
        let cost = runs.iter().map(|r| r.cost_usd).sum::<Option<f64>>();
        Ok(CandidateScore {
            score: per_example.iter().sum::<f64>() / n,
            scores: per_example,
            cost_per_example: cost.map(|c| round_usd(c / n)),
            calls_per_example: runs.iter().map(|r| r.calls as f64).sum::<f64>() / n,
        })
    }

    /// The scored runs of `candidate` on `examples` (program tag `tag`, as in
    /// [`evaluate_program`](Self::evaluate_program)), in example order; `None` for an example
    /// not evaluated yet. Reflective optimizers read the traces and feedback from here.
    pub fn runs(&self, tag: &str, candidate: &Candidate, examples: &[Example]) -> Vec<Option<Arc<ExampleRun>>> {
        let tagged: Arc<str> = format!("{tag}{}", candidate.hash()).into();
        let scores = self.scores.lock().unwrap_or_else(PoisonError::into_inner);
        examples.iter().map(|e| scores.get(&(tagged.clone(), example_hash(e))).cloned()).collect()
    }

    /// Runs the teacher (or the program) under `candidate` on `example`, after a budget
    /// check. Round 0 uses the run's sampling; later rounds a fresh rollout (`round`) at
    /// temperature 1.0, as DSPy does. The example is dropped from its own demos. Runs are
    /// cached by (candidate, example, round), so candidates that bootstrap the same examples
    /// share them.
    pub async fn teacher_run(
        &self,
        candidate: &Candidate,
        example: &Example,
        round: u32,
    ) -> Result<Arc<ExampleRun>, BudgetExceeded> {
        let key = (Arc::<str>::from(candidate.hash()), example_hash(example), round);
        if let Some(run) = self.teacher_runs.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(run.clone());
        }
        let calls = calls_per_run(self.teacher().as_ref());
        self.meter.reserve(calls)?;
        let mut cx = self.run_cx.fork().with_rollout(round);
        if let Some(lm) = &self.teacher_lm {
            cx = cx.with_lm(lm.clone());
        }
        if round > 0 {
            let sampling = Sampling { temperature: Some(1.0), ..cx.sampling().clone() };
            cx = cx.with_sampling(sampling);
        }
        let own = without_example(candidate, example);
        let cx = cx.with_overlay(own.overlay().clone());
        let run = Arc::new(self.run_scored(self.teacher().as_ref(), cx, example, calls).await);
        let mut memo = self.teacher_runs.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(memo.entry(key).or_insert(run).clone())
    }

    /// Runs the program (never the teacher) under `candidate` on `example` as rollout
    /// `rollout` at temperature 1.0, after a budget check: one of several distinct
    /// trajectories of the same example (SIMBA's). The example is dropped from its own demos.
    /// Cached by (candidate, example, rollout), apart from teacher runs.
    pub(crate) async fn rollout_run(
        &self,
        candidate: &Candidate,
        example: &Example,
        rollout: u32,
    ) -> Result<Arc<ExampleRun>, BudgetExceeded> {
        let key = (Arc::<str>::from(format!("rollout:{}", candidate.hash())), example_hash(example), rollout);
        if let Some(run) = self.teacher_runs.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(run.clone());
        }
        let calls = calls_per_run(self.program.as_ref());
        self.meter.reserve(calls)?;
        let cx = self.run_cx.fork().with_rollout(rollout);
        let sampling = Sampling { temperature: Some(1.0), ..cx.sampling().clone() };
        let own = without_example(candidate, example);
        let cx = cx.with_sampling(sampling).with_overlay(own.overlay().clone());
        let run = Arc::new(self.run_scored(self.program.as_ref(), cx, example, calls).await);
        let mut memo = self.teacher_runs.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(memo.entry(key).or_insert(run).clone())
    }

    /// One budgeted call of an optimizer's own `predict` (an instruction proposer, not the
    /// program) on `inputs` in a fork of `run`: reserved on the meter, added to it, and
    /// recorded as the proposer's ([`record_proposer`](Self::record_proposer)).
    pub(crate) async fn proposer_call(
        &self,
        run: &RunCx,
        predict: &Predict,
        inputs: &Example,
    ) -> Result<Result<Prediction, RunError>, BudgetExceeded> {
        self.meter.reserve(1)?;
        let cx = run.fork();
        let result = predict.forward(&cx, inputs).await;
        let totals = cx.totals();
        self.meter.add(&totals, 0.0, 1);
        self.record_proposer(&totals);
        Ok(result)
    }
}

/// The LM calls a run of `program` makes when nothing fails: one per predictor.
fn calls_per_run(program: &dyn Module) -> u64 {
    (program.predictors().len() as u64).max(1)
}

/// `candidate` with `example` removed from every predictor's demos: an example is never its
/// own demo.
fn without_example(candidate: &Candidate, example: &Example) -> Candidate {
    let overlay = candidate.overlay();
    let contains = overlay
        .predictors
        .values()
        .any(|p| p.demos.as_ref().is_some_and(|d| d.iter().any(|x| x.fields() == example.fields())));
    if !contains {
        return candidate.clone();
    }
    let mut overlay = (**overlay).clone();
    for p in overlay.predictors.values_mut() {
        if let Some(demos) = &mut p.demos {
            demos.retain(|d| d.fields() != example.fields());
        }
    }
    Candidate::new(overlay)
}
