//! `BootstrapFewShot`: demos from the traces of teacher runs that pass the metric.

use std::collections::BTreeMap;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::json;

use super::seed::{salt, sample};
use super::{
    BudgetExceeded, Candidate, CompileCx, CompileError, Compiled, ExampleRun, LabeledFewShot, Optimizer, RunPlan,
};
use crate::data::Example;
use crate::module::TraceEntry;

/// Bootstraps demos from a teacher's successful runs, as DSPy's `BootstrapFewShot` does.
///
/// The algorithm:
///
/// 1. The teacher is the program, or the teacher program given to the [`CompileCx`], with
///    `max_labeled_demos` labeled training examples as demos (drawn as [`LabeledFewShot`]
///    draws them) in every predictor that has no demos of its own; the teacher LM, when
///    given, answers its calls.
/// 2. The teacher runs over the trainset in example order. A run passes when its score is at
///    least `metric_threshold` (without one: any score above 0, DSPy's truthiness). Every
///    predictor call in a passing run's trace becomes a demo for that predictor: the call's
///    inputs and parsed outputs (a chain of thought's reasoning included). Bootstrapping
///    stops once `max_bootstrapped_demos` examples have passed.
/// 3. An example whose run does not pass is tried again, up to `max_rounds` runs in all,
///    before the next example (as DSPy does); round r is a fresh rollout (r) at temperature
///    1.0.
/// 4. Each predictor gets its first `max_bootstrapped_demos` bootstrapped demos, then labeled
///    demos up to `max_labeled_demos` in all, drawn (seeded) from the examples that did not
///    pass or were not tried.
///
/// Unlike DSPy's loop, runs go concurrently (at most the compile's concurrency at once, a
/// budget check before each run). An example starts only when a sequential loop would surely
/// try it too: when the passes so far plus the examples in flight are fewer than the demos
/// wanted. A budget stop keeps the passes before the first example it refused.
/// Results are merged in example order, not completion order, so the demos, the runs made and
/// what they cost do not depend on timing or concurrency. An example is never
/// its own demo: each teacher run leaves its own example out of the labeled demos.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapFewShot {
    /// Bootstrapped demos per predictor (DSPy's default: 4).
    pub max_bootstrapped_demos: usize,
    /// Demos per predictor in all, labeled ones filling up (DSPy's default: 16).
    pub max_labeled_demos: usize,
    /// Passes over the trainset (DSPy's default: 1).
    pub max_rounds: u32,
    /// The score a run must reach to pass; `None`: any score above 0.
    pub metric_threshold: Option<f64>,
}

impl Default for BootstrapFewShot {
    fn default() -> Self {
        BootstrapFewShot { max_bootstrapped_demos: 4, max_labeled_demos: 16, max_rounds: 1, metric_threshold: None }
    }
}

/// What one bootstrap produced.
pub(crate) struct Bootstrapped {
    pub(crate) candidate: Candidate,
    pub(crate) stopped: Option<String>,
}

impl BootstrapFewShot {
    fn passes(&self, score: f64) -> bool {
        match self.metric_threshold {
            Some(threshold) => score >= threshold,
            None => score > 0.0,
        }
    }

    fn check(&self) -> Result<(), CompileError> {
        if self.max_rounds == 0 {
            return Err(CompileError::Config {
                optimizer: "bootstrap",
                message: "max_rounds must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Tries example `i` in rounds 0, 1, ... until a run passes (DSPy's order: each example's
    /// rounds before the next example). The passing run, or `None`.
    async fn try_rounds(
        &self,
        cx: &CompileCx,
        teacher: &Candidate,
        i: usize,
        example: &Example,
    ) -> (usize, Result<Option<Arc<ExampleRun>>, BudgetExceeded>) {
        for round in 0..self.max_rounds {
            match cx.teacher_run(teacher, example, round).await {
                Ok(run) if run.prediction.is_some() && self.passes(run.score) => return (i, Ok(Some(run))),
                Ok(_) => {}
                Err(e) => return (i, Err(e)),
            }
        }
        (i, Ok(None))
    }

    /// Bootstraps on `trainset` (the compile's trainset, or a shuffle of it), with the
    /// teacher's labeled demos drawn from `labeled_from`.
    pub(crate) async fn bootstrap(
        &self,
        cx: &CompileCx,
        trainset: &[Example],
        labeled_from: &[Example],
        phase: &str,
    ) -> Bootstrapped {
        let program = cx.program().as_ref();
        let names: Vec<String> = program.predictors().iter().map(|p| p.name().to_string()).collect();
        // The teacher gets labeled demos, except in predictors that have demos of their own
        // (a compiled teacher program).
        let labeled = LabeledFewShot { k: self.max_labeled_demos }.candidate(program, labeled_from, cx.seed());
        let mut teacher = Candidate::empty();
        for p in cx.teacher().predictors() {
            if let (true, Some(demos)) = (p.demos().is_empty(), labeled.demos(p.name())) {
                teacher = teacher.with_demos(p.name(), demos.to_vec());
            }
        }
        let mut passed = vec![false; trainset.len()];
        let mut traces: BTreeMap<String, Vec<Example>> = BTreeMap::new();
        let mut count = 0;
        let mut stopped: Option<(usize, String)> = None;
        let mut done = 0;
        let total = trainset.len();
        let mut next = 0;
        let mut running = FuturesUnordered::new();
        let mut finished: BTreeMap<usize, Arc<ExampleRun>> = BTreeMap::new();
        let mut passes = 0;
        loop {
            // Start an example only when a sequential loop would surely try it too: when the
            // passes so far plus every example in flight (each may pass) leave room. So the
            // runs made, and what they cost, do not depend on concurrency or timing.
            while stopped.is_none()
                && running.len() < cx.concurrency()
                && next < trainset.len()
                && passes + running.len() < self.max_bootstrapped_demos
            {
                let i = next;
                next += 1;
                running.push(self.try_rounds(cx, &teacher, i, &trainset[i]));
            }
            let Some((i, result)) = running.next().await else { break };
            match result {
                Ok(Some(run)) => {
                    passes += 1;
                    finished.insert(i, run);
                }
                Ok(None) => {}
                Err(e) => {
                    // Later examples may not start; the passes kept are those before the
                    // first example the budget refused, as in a sequential loop.
                    stopped.get_or_insert((i, e.to_string()));
                }
            }
            done += 1;
            cx.report(phase, done, total);
        }
        // Merge in example order, up to the first example the budget refused.
        let cutoff = stopped.as_ref().map_or(usize::MAX, |(i, _)| *i);
        for (i, run) in finished.into_iter().filter(|(i, _)| *i < cutoff) {
            if count < self.max_bootstrapped_demos {
                passed[i] = true;
                count += 1;
                for entry in &run.trace {
                    if let Some(demo) = demo_of(entry) {
                        traces.entry(entry.predictor.clone()).or_default().push(demo);
                    }
                }
            }
        }
        let stopped = stopped.map(|(_, reason)| reason);
        let pool: Vec<Example> = trainset.iter().zip(&passed).filter(|(_, &p)| !p).map(|(e, _)| e.clone()).collect();
        let mut candidate = Candidate::empty();
        for name in &names {
            let mut demos: Vec<Example> = traces.remove(name).unwrap_or_default();
            demos.truncate(self.max_bootstrapped_demos);
            let room = self.max_labeled_demos.saturating_sub(demos.len()).min(pool.len());
            demos.extend(sample(&pool, room, cx.seed(), salt::RAW_DEMOS));
            candidate = candidate.with_demos(name, demos);
        }
        Bootstrapped { candidate, stopped }
    }
}

/// A passing call as a demo: its inputs and parsed outputs.
fn demo_of(entry: &TraceEntry) -> Option<Example> {
    let outputs = entry.outputs.as_ref()?;
    let mut fields = entry.inputs.clone();
    for (k, v) in outputs {
        fields.insert(k.clone(), v.clone());
    }
    Some(Example::from_fields(fields).with_inputs(entry.inputs.keys().cloned()))
}

impl Optimizer for BootstrapFewShot {
    fn name(&self) -> &'static str {
        "bootstrap"
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "max_bootstrapped_demos": self.max_bootstrapped_demos,
            "max_labeled_demos": self.max_labeled_demos,
            "max_rounds": self.max_rounds,
            "metric_threshold": self.metric_threshold,
        })
    }

    fn plan(&self, train: usize, _val: usize) -> RunPlan {
        let runs = if self.max_bootstrapped_demos == 0 { 0 } else { train as u64 * u64::from(self.max_rounds) };
        RunPlan {
            phases: vec![format!(
                "bootstrap: up to {runs} teacher runs ({} round(s) × {train} examples; stops after {} pass)",
                self.max_rounds, self.max_bootstrapped_demos
            )],
            max_program_runs: runs,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            self.check()?;
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            let train = cx.trainset().examples();
            let out = self.bootstrap(cx, train, train, "bootstrap").await;
            Ok(Compiled {
                candidate: out.candidate,
                knn: None,
                runner: None,
                leaderboard: Vec::new(),
                stopped: out.stopped,
            })
        })
    }
}
