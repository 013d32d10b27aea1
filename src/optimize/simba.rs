//! `Simba`: stochastic introspective mini-batch ascent, as DSPy's `SIMBA` does it.
//!
//! The algorithm keeps a pool of programs (candidates), starting with the program as written,
//! and for each of `max_steps` steps:
//!
//! 1. **Mini-batch.** The next `bsize` training examples of a seeded shuffle of the trainset;
//!    when fewer than `bsize` remain, the order is shuffled again (epochs).
//! 2. **Trajectories.** `num_candidates` rollouts of every example: rollout `r` (a distinct
//!    rollout index at temperature 1.0) runs a program drawn from the pool's top
//!    `num_candidates` (always including the program as written) by a softmax over their
//!    mean mini-batch values at `temperature_for_sampling`.
//! 3. **Buckets.** Each example's rollouts, best first, form a bucket; buckets are ranked by
//!    (max − min, max, max − mean) of their scores, largest first: the examples where the
//!    program sometimes succeeds and sometimes fails come first.
//! 4. **New candidates.** For the buckets in that order, until `num_candidates + 1` candidates
//!    are built: a source program drawn by softmax at `temperature_for_candidates`; a few of
//!    its demos dropped (a Poisson draw with mean demos / `max_demos`, at least one once it
//!    has `max_demos`); then one strategy drawn at random:
//!    * **append a demo**: each predictor call of the bucket's best trajectory becomes a demo
//!      of that predictor (its inputs and outputs; input strings cut at
//!      `demo_input_field_maxlen` characters), the oldest dropped beyond `max_demos`;
//!      skipped when the best score is at or below the batch's 10th percentile;
//!    * **append a rule**: the proposer LM compares the best and worst trajectories (inputs,
//!      outputs, scores and the metric's feedback) and writes advice per predictor, appended
//!      to its instructions; skipped when the best score is at or below the 10th percentile or
//!      the worst at or above the 90th. With `max_demos = 0` this is the only strategy.
//! 5. **Scoring.** Every new candidate is scored on the mini-batch and joins the pool; the
//!    best of them (by the compile's [`Objective`](super::Objective)) is the step's winner.
//!
//! Finally up to `num_candidates + 1` winners, evenly spaced over the steps (the program as
//! written first; a repeat of an earlier pick is dropped), are scored on the scoring set ([`CompileCx::scoring_set`]); the best by
//! the objective wins, the earlier on a tie. Each is a leaderboard entry.
//!
//! Defaults are DSPy 3.4.1's: `bsize` 32, `num_candidates` 6, `max_steps` 8, `max_demos` 4,
//! `demo_input_field_maxlen` 100,000, both temperatures 0.2. As in DSPy, the program as
//! written has no mini-batch scores of its own (a value of 0 in the softmax) and
//! trajectories use rollouts `0..num_candidates` every step.
//!
//! Every random choice derives from the compile's seed. Each step ends with
//! [`CompileCx::trial_done`] (a checkpoint; a hook may stop there). At a budget limit the
//! search stops cleanly, keeping the best so far: the best winner scored on the scoring set,
//! else the step winner with the best mini-batch value, else the program as written. The
//! proposer's calls (on `prompt_lm`, the program's LM unless one is given) count against the
//! budget and are reported apart. lmc has no program source to show the proposer, so its
//! `program_code` lists the predictors and their signatures.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::seed::rng;
use super::{
    BudgetExceeded, Candidate, CompileCx, CompileError, Compiled, ExampleRun, LeaderboardEntry, Optimizer, RunPlan,
};
use crate::data::Example;
use crate::lm::Lm;
use crate::module::{Predict, RunCx};
use crate::signature::Signature;

/// Salts of SIMBA's random choices.
mod salt {
    /// Shuffles, softmax draws, demo drop positions, strategies.
    pub(super) const STEPS: u64 = 4001;
    /// The Poisson draws of how many demos to drop.
    pub(super) const DROPS: u64 = 4002;
}

/// DSPy's `OfferFeedback` instructions.
const OFFER_FEEDBACK: &str = "You will be given two trajectories of an LLM-driven program's execution. Your goal is \
to help the program's modules build up experience on how to maximize the reward value assigned to the program's \
outputs if it were to receive similar inputs in the future.

The module won't see its own history. It will rely on your advice balancing being concrete and being generalizable.

In your advice:
- Avoid boilerplate. Offer advice that would change the module's behavior for the better in the future.
- Ensure that advice offered to a module M is specific to that M's specific sub-task, not the overall program.
- Rely on contrasting the behavior of the worse trajectory against the better trajectory in making recommendations.
- Ensure each unique module name appears exactly once as a key in the advice dictionary.";

const OFFER_FEEDBACK_FIELDS: &str = "program_code, modules_defn, program_inputs, oracle_metadata, \
worse_program_trajectory, worse_program_outputs, worse_reward_value: float, worse_reward_info, \
better_program_trajectory, better_program_outputs, better_reward_value: float, better_reward_info, \
module_names: list[str] -> discussion, module_advice: dict[str, str]";

const MODULE_ADVICE: &str = "For each module, describe very concretely, in this order: the specific scenarios in \
which it has made mistakes in the past and what each mistake was, followed by what it should do differently in that \
kind of scenario in the future. If the module is correct, prefer not to change anything. You might use 'If ... then \
...' format.";

/// SIMBA. See the [module docs](self) for the algorithm; DSPy's defaults.
///
/// ```
/// use lmc::optimize::{Optimizer, Simba};
///
/// let simba = Simba { max_steps: 2, ..Simba::default() };
/// assert_eq!(simba.name(), "simba");
/// assert_eq!(simba.config()["bsize"], 32);
/// // Per step: 6 rollouts and 7 candidates of 10 examples; then at most 3 finalists (the
/// // program as written and 2 step winners) on 5.
/// assert_eq!(simba.plan(10, 5).max_program_runs, 2 * (6 * 10 + 7 * 10) + 3 * 5);
/// ```
#[derive(Clone)]
pub struct Simba {
    /// Training examples per mini-batch (DSPy: 32).
    pub bsize: usize,
    /// Rollouts per example, programs sampled from, and new candidates per step less one
    /// (DSPy: 6).
    pub num_candidates: usize,
    /// Steps (DSPy: 8).
    pub max_steps: usize,
    /// Demos per predictor at most; 0 turns demo appending off (DSPy: 4).
    pub max_demos: usize,
    /// Characters an appended demo's input string keeps (DSPy: 100,000).
    pub demo_input_field_maxlen: usize,
    /// Softmax temperature when drawing programs for the trajectories (DSPy: 0.2).
    pub temperature_for_sampling: f64,
    /// Softmax temperature when drawing source programs for new candidates (DSPy: 0.2).
    pub temperature_for_candidates: f64,
    /// The LM that writes rules (default: the program's).
    pub prompt_lm: Option<Arc<dyn Lm>>,
}

impl fmt::Debug for Simba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simba").field("config", &self.config()).finish()
    }
}

impl Default for Simba {
    fn default() -> Self {
        Simba {
            bsize: 32,
            num_candidates: 6,
            max_steps: 8,
            max_demos: 4,
            demo_input_field_maxlen: 100_000,
            temperature_for_sampling: 0.2,
            temperature_for_candidates: 0.2,
            prompt_lm: None,
        }
    }
}

/// How a new candidate changes its source program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    AppendDemo,
    AppendRule,
}

/// One trajectory: the pool program that ran and its scored run.
struct Trajectory {
    run: Arc<ExampleRun>,
}

/// The candidates so far, with their mean mini-batch values (`None`: never scored, which
/// counts as 0, as DSPy's empty score list does).
struct Pool {
    programs: Vec<Candidate>,
    values: Vec<Option<f64>>,
}

impl Pool {
    fn value(&self, i: usize) -> f64 {
        self.values[i].unwrap_or(0.0)
    }

    /// The `k` best programs, with the program as written in place of the last if missing.
    fn top_k_plus_baseline(&self, k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.programs.len()).collect();
        // A stable sort: ties keep pool order, as Python's `sorted(reverse=True)` does.
        order.sort_by(|&a, &b| self.value(b).total_cmp(&self.value(a)));
        let mut top: Vec<usize> = order.into_iter().take(k).collect();
        if !top.contains(&0) {
            if let Some(last) = top.last_mut() {
                *last = 0;
            }
        }
        dedup(top)
    }
}

/// `items` without repeats, first occurrences kept in order.
fn dedup(items: Vec<usize>) -> Vec<usize> {
    let mut seen = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen
}

/// One of `items` drawn with probability ∝ exp(value / temperature).
pub(crate) fn softmax_sample(rng: &mut StdRng, items: &[usize], values: &[f64], temperature: f64) -> usize {
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = values.iter().map(|v| ((v - top) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let x = rng.random::<f64>() * total;
    let mut cumulative = 0.0;
    for (item, w) in items.iter().zip(&weights) {
        cumulative += w;
        if x < cumulative {
            return *item;
        }
    }
    *items.last().unwrap_or(&0)
}

/// The `q`th percentile of `values`, interpolated linearly (NumPy's default).
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = (sorted.len() - 1) as f64 * q / 100.0;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A bucket's sort key: (max − min, max, max − mean).
fn bucket_key(scores: &[f64]) -> (f64, f64, f64) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    (max - min, max, max - mean)
}

/// The order in which examples are worked on, given each one's rollout scores: by
/// (max − min, max, max − mean), largest first, ties in example order.
pub(crate) fn rank_buckets(scores: &[Vec<f64>]) -> Vec<usize> {
    let keys: Vec<_> = scores.iter().map(|s| bucket_key(s)).collect();
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (keys[a], keys[b]);
        y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1)).then(y.2.total_cmp(&x.2))
    });
    order
}

/// Python's `round`: halves go to the even neighbour.
fn round_half_even(x: f64) -> usize {
    let floor = x.floor();
    let diff = x - floor;
    let r = if diff > 0.5 || (diff == 0.5 && floor as u64 % 2 == 1) { floor + 1.0 } else { floor };
    r as usize
}

/// A Poisson draw (Knuth's method; the means here are small).
fn poisson(rng: &mut StdRng, mean: f64) -> usize {
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

/// The demos `candidate` gives `predictor`: its own, else the program's.
fn demos_of(candidate: &Candidate, predictor: &Predict) -> Vec<Example> {
    candidate.demos(predictor.name()).map(<[Example]>::to_vec).unwrap_or_else(|| predictor.demos().to_vec())
}

/// The instructions `candidate` gives `predictor`: its own, else the program's.
fn instructions_of(candidate: &Candidate, predictor: &Predict) -> String {
    candidate
        .predictor(predictor.name())
        .and_then(|p| p.instructions.clone())
        .unwrap_or_else(|| predictor.signature().instructions().to_string())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A trajectory as DSPy shows it: each call's module name, inputs and outputs.
fn trajectory_json(run: Option<&ExampleRun>) -> Value {
    let Some(run) = run else { return json!([]) };
    Value::Array(
        run.trace
            .iter()
            .map(|t| json!({"module_name": t.predictor, "inputs": t.inputs, "outputs": t.outputs}))
            .collect(),
    )
}

fn outputs_json(run: Option<&ExampleRun>) -> Value {
    match run.and_then(|r| r.prediction.as_ref()) {
        Some(p) => Value::Object(p.fields().clone()),
        None if run.is_some() => json!({}),
        None => json!({"N/A": "Prediction not available"}),
    }
}

impl Simba {
    fn check(&self) -> Result<(), CompileError> {
        let bad = |message: &str| Err(CompileError::Config { optimizer: "simba", message: message.into() });
        if self.bsize == 0 || self.num_candidates == 0 {
            return bad("bsize and num_candidates must be at least 1");
        }
        if !(self.temperature_for_sampling > 0.0 && self.temperature_for_candidates > 0.0) {
            return bad("the sampling temperatures must be greater than 0");
        }
        Ok(())
    }

    fn strategies(&self) -> &'static [Strategy] {
        if self.max_demos == 0 {
            &[Strategy::AppendRule]
        } else {
            &[Strategy::AppendDemo, Strategy::AppendRule]
        }
    }

    /// `candidate` with a few demos dropped from each predictor, at the same positions.
    fn drop_demos(&self, cx: &CompileCx, candidate: &Candidate, rng: &mut StdRng, drops: &mut StdRng) -> Candidate {
        let program = cx.program();
        let predictors = program.predictors();
        let num = predictors.iter().map(|p| demos_of(candidate, p).len()).max().unwrap_or(0);
        let cap = if self.max_demos > 0 { self.max_demos } else { 3 };
        let count = poisson(drops, num as f64 / cap as f64).max(usize::from(num >= cap)).min(num);
        let positions: Vec<usize> = (0..count).map(|_| rng.random_range(0..num)).collect();
        let mut out = candidate.clone();
        for p in predictors {
            let demos = demos_of(candidate, p);
            if positions.iter().any(|&i| i < demos.len()) {
                let kept = demos.into_iter().enumerate().filter(|(i, _)| !positions.contains(i)).map(|(_, d)| d);
                out = out.with_demos(p.name(), kept.collect());
            }
        }
        out
    }

    /// The best trajectory's calls appended as demos (the last call per predictor).
    fn append_a_demo(&self, cx: &CompileCx, bucket: &[&Trajectory], candidate: Candidate, p10: f64) -> Candidate {
        let good = bucket[0];
        if good.run.score <= p10 {
            return candidate;
        }
        let mut demos: BTreeMap<&str, Example> = BTreeMap::new();
        for entry in &good.run.trace {
            let Some(outputs) = &entry.outputs else { continue };
            let mut fields = entry.inputs.clone();
            for value in fields.values_mut() {
                if let Value::String(s) = value {
                    if s.chars().count() > self.demo_input_field_maxlen {
                        let cut: String = s.chars().take(self.demo_input_field_maxlen).collect();
                        *s = format!("{cut}\n\t\t... <TRUNCATED FIELD>");
                    }
                }
            }
            let keys: Vec<String> = fields.keys().cloned().collect();
            for (k, v) in outputs {
                fields.insert(k.clone(), v.clone());
            }
            demos.insert(entry.predictor.as_str(), Example::from_fields(fields).with_inputs(keys));
        }
        let program = cx.program();
        let mut out = candidate;
        for p in program.predictors() {
            if let Some(demo) = demos.remove(p.name()) {
                let mut all = demos_of(&out, p);
                all.push(demo);
                let excess = all.len().saturating_sub(self.max_demos.max(1));
                all.drain(..excess);
                out = out.with_demos(p.name(), all);
            }
        }
        out
    }

    /// Advice from the proposer, comparing the best and worst trajectories, appended to the
    /// instructions. `Ok(None)` when the proposer's reply is unusable (the candidate is
    /// skipped, as DSPy skips a strategy that raises).
    async fn append_a_rule(
        &self,
        cx: &CompileCx,
        bucket: &[&Trajectory],
        example: &Example,
        candidate: Candidate,
        (p10, p90): (f64, f64),
    ) -> Result<Option<Candidate>, BudgetExceeded> {
        let (good, bad) = (bucket[0], bucket[bucket.len() - 1]);
        if good.run.score <= p10 || bad.run.score >= p90 {
            return Ok(Some(candidate));
        }
        // All rollouts scored alike: keep one side only, as DSPy does.
        let (mut better, mut worse) = (Some(good.run.as_ref()), Some(bad.run.as_ref()));
        if good.run.score <= bad.run.score {
            if good.run.score > p90 {
                worse = None;
            } else {
                better = None;
            }
        }
        let reward = |run: Option<&ExampleRun>| run.map_or(json!("N/A"), |r| json!(r.score));
        let info = |run: Option<&ExampleRun>| run.and_then(|r| r.feedback.clone()).unwrap_or_default();
        let program = cx.program();
        let predictors = program.predictors();
        let names: Vec<&str> = predictors.iter().map(|p| p.name()).collect();
        let program_code = predictors
            .iter()
            .map(|p| format!("{}: {}", p.name(), p.signature().field_summary()))
            .collect::<Vec<_>>()
            .join("\n");
        let rule = "-".repeat(80);
        let modules_defn = predictors
            .iter()
            .map(|p| {
                let sig = p.signature();
                format!(
                    "{rule}\nModule {}\n\tInput Fields: {}\n\tOutput Fields: {}\n\tOriginal Instructions: {}",
                    p.name(),
                    sig.input_names().collect::<Vec<_>>().join(", "),
                    sig.output_names().collect::<Vec<_>>().join(", "),
                    instructions_of(&candidate, p)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + &format!("\n{rule}");
        let inputs = Example::new()
            .with("program_code", program_code)
            .with("modules_defn", modules_defn)
            .with("program_inputs", pretty(&Value::Object(example.inputs())))
            .with("oracle_metadata", pretty(&Value::Object(example.labels())))
            .with("worse_program_trajectory", pretty(&trajectory_json(worse)))
            .with("worse_program_outputs", pretty(&outputs_json(worse)))
            .with("worse_reward_value", reward(worse))
            .with("worse_reward_info", info(worse))
            .with("better_program_trajectory", pretty(&trajectory_json(better)))
            .with("better_program_outputs", pretty(&outputs_json(better)))
            .with("better_reward_value", reward(better))
            .with("better_reward_info", info(better))
            .with("module_names", json!(names));
        let keys: Vec<String> = inputs.fields().keys().cloned().collect();
        let inputs = inputs.with_inputs(keys);
        let Ok(signature) = Signature::parse(OFFER_FEEDBACK_FIELDS)
            .and_then(|s| s.with_description("module_advice", MODULE_ADVICE))
            .map(|s| s.with_instructions(OFFER_FEEDBACK))
        else {
            return Ok(None);
        };
        let mut run: RunCx = cx.run_cx().fork();
        if let Some(lm) = &self.prompt_lm {
            run = run.with_lm(lm.clone());
        }
        let predict = Predict::new("offer_feedback", signature);
        let Ok(reply) = cx.proposer_call(&run, &predict, &inputs).await? else { return Ok(None) };
        let Some(Value::Object(advice)) = reply.get("module_advice") else { return Ok(None) };
        let mut out = candidate.clone();
        for p in &predictors {
            if let Some(text) = advice.get(p.name()).map(advice_text).filter(|t| !t.trim().is_empty()) {
                let instructions = format!("{}\n\n{}", instructions_of(&candidate, p), text.trim());
                out = out.with_instructions(p.name(), instructions);
            }
        }
        Ok(Some(out))
    }

    /// The search; `Err` only for a stop asked by a trial hook.
    async fn search(&self, cx: &CompileCx) -> Result<Compiled, CompileError> {
        let train = cx.trainset().examples();
        let objective = cx.objective();
        let mut rng = rng(cx.seed(), salt::STEPS);
        let mut drops = super::seed::rng(cx.seed(), salt::DROPS);
        let mut pool = Pool { programs: vec![Candidate::empty()], values: vec![None] };
        // Step winners: (candidate, mini-batch value, label).
        let mut winners: Vec<(Candidate, Option<f64>, String)> =
            vec![(Candidate::empty(), None, "program as written".into())];
        let mut order: Vec<usize> = (0..train.len()).collect();
        shuffle(&mut order, &mut rng);
        let mut next = 0;
        let mut stopped = None;
        for step in 0..self.max_steps {
            if next + self.bsize > train.len() {
                shuffle(&mut order, &mut rng);
                next = 0;
            }
            let batch: Vec<Example> =
                order[next..(next + self.bsize).min(train.len())].iter().map(|&i| train[i].clone()).collect();
            next += self.bsize;

            let outcome = self.step(cx, step, &batch, &mut pool, &mut rng, &mut drops).await;
            let (candidates, error) = match outcome {
                Ok(candidates) => (candidates, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            if let Some(e) = error {
                stopped = Some(e);
                break;
            }
            let best_new = candidates.iter().enumerate().fold(None::<(usize, f64)>, |acc, (i, (_, v))| match acc {
                Some((_, best)) if best >= *v => acc,
                _ => Some((i, *v)),
            });
            if let Some((i, value)) = best_new {
                winners.push((candidates[i].0.clone(), Some(value), format!("step {} winner", step + 1)));
            }
            for (candidate, value) in candidates {
                pool.programs.push(candidate);
                pool.values.push(Some(value));
            }
            let best = pool
                .values
                .iter()
                .flatten()
                .copied()
                .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))));
            cx.trial_done(step + 1, best)?;
        }

        let mut leaderboard = Vec::new();
        if stopped.is_some() {
            let best = winners.iter().skip(1).fold(None::<&(Candidate, Option<f64>, String)>, |acc, w| match acc {
                Some(b) if b.1 >= w.1 => acc,
                _ => Some(w),
            });
            let candidate = best.map_or_else(Candidate::empty, |w| w.0.clone());
            return Ok(Compiled { candidate, knn: None, runner: None, leaderboard, stopped });
        }

        // Finalists evenly spaced over the winners, scored on the scoring set.
        let m = winners.len() - 1;
        let n = self.num_candidates + 1;
        let picks: Vec<usize> = if m < 1 {
            vec![0]
        } else {
            dedup((0..n).map(|i| round_half_even((i * m) as f64 / (n - 1) as f64)).collect())
        };
        // A winner equal to an earlier pick is scored once (a later step may win with the same
        // program).
        let mut seen: Vec<&str> = Vec::new();
        let picks: Vec<usize> = picks
            .into_iter()
            .filter(|&i| {
                let hash = winners[i].0.hash();
                let fresh = !seen.contains(&hash);
                seen.push(hash);
                fresh
            })
            .collect();
        let val = cx.scoring_set().examples();
        let mut best: Option<(Candidate, f64)> = None;
        for (k, &i) in picks.iter().enumerate() {
            let (candidate, _, label) = &winners[i];
            let phase = format!("score finalist {}/{}", k + 1, picks.len());
            let score = match cx.evaluate(candidate, val, &phase).await {
                Ok(score) => score,
                Err(e) => {
                    stopped = Some(e.to_string());
                    break;
                }
            };
            leaderboard.push(LeaderboardEntry::new(label.clone(), candidate, &score));
            let value = objective.value(score.score, score.cost_per_example);
            if best.as_ref().is_none_or(|(_, b)| value > *b) {
                best = Some((candidate.clone(), value));
            }
        }
        let candidate = best.map_or_else(Candidate::empty, |(c, _)| c);
        Ok(Compiled { candidate, knn: None, runner: None, leaderboard, stopped })
    }

    /// One step on `batch`: trajectories, buckets, new candidates, their mini-batch values.
    async fn step(
        &self,
        cx: &CompileCx,
        step: usize,
        batch: &[Example],
        pool: &mut Pool,
        rng: &mut StdRng,
        drops: &mut StdRng,
    ) -> Result<Vec<(Candidate, f64)>, BudgetExceeded> {
        let objective = cx.objective();
        let steps = self.max_steps;
        // Trajectories: rollout-major, as DSPy lays them out.
        let top = pool.top_k_plus_baseline(self.num_candidates);
        let top_values: Vec<f64> = top.iter().map(|&i| pool.value(i)).collect();
        let mut plan = Vec::with_capacity(self.num_candidates * batch.len());
        for rollout in 0..self.num_candidates {
            for e in 0..batch.len() {
                let program = softmax_sample(rng, &top, &top_values, self.temperature_for_sampling);
                plan.push((rollout as u32, e, pool.programs[program].clone()));
            }
        }
        let total = plan.len();
        let phase = format!("step {}/{steps}: trajectories", step + 1);
        let mut done = 0;
        let mut runs = stream::iter(
            plan.into_iter()
                .map(|(rollout, e, candidate)| async move { cx.rollout_run(&candidate, &batch[e], rollout).await }),
        )
        .buffered(cx.concurrency());
        let mut trajectories = Vec::with_capacity(total);
        let mut exceeded = None;
        while let Some(result) = runs.next().await {
            match result {
                Ok(run) => {
                    trajectories.push(Trajectory { run });
                    done += 1;
                    cx.report(&phase, done, total);
                }
                Err(e) => {
                    exceeded.get_or_insert(e);
                }
            }
        }
        drop(runs);
        if let Some(e) = exceeded {
            return Err(e);
        }

        // Buckets: each example's rollouts, best first.
        let b = batch.len();
        let buckets: Vec<Vec<&Trajectory>> = (0..b)
            .map(|e| {
                let mut bucket: Vec<&Trajectory> = trajectories.iter().skip(e).step_by(b).collect();
                bucket.sort_by(|x, y| y.run.score.total_cmp(&x.run.score));
                bucket
            })
            .collect();
        let scores: Vec<Vec<f64>> = buckets.iter().map(|bucket| bucket.iter().map(|t| t.run.score).collect()).collect();
        let all: Vec<f64> = trajectories.iter().map(|t| t.run.score).collect();
        let (p10, p90) = (percentile(&all, 10.0), percentile(&all, 90.0));

        // New candidates, from the buckets with the widest spread first.
        let mut candidates = Vec::new();
        for e in rank_buckets(&scores) {
            let sources = pool.top_k_plus_baseline(self.num_candidates);
            let source_values: Vec<f64> = sources.iter().map(|&i| pool.value(i)).collect();
            let source = softmax_sample(rng, &sources, &source_values, self.temperature_for_candidates);
            let candidate = self.drop_demos(cx, &pool.programs[source], rng, drops);
            let strategies = self.strategies();
            let strategy = strategies[rng.random_range(0..strategies.len())];
            let built = match strategy {
                Strategy::AppendDemo => Some(self.append_a_demo(cx, &buckets[e], candidate, p10)),
                Strategy::AppendRule => self.append_a_rule(cx, &buckets[e], &batch[e], candidate, (p10, p90)).await?,
            };
            if let Some(candidate) = built {
                candidates.push(candidate);
            }
            if candidates.len() > self.num_candidates {
                break;
            }
        }

        // Each new candidate scored on the mini-batch.
        let mut scored = Vec::with_capacity(candidates.len());
        for (k, candidate) in candidates.into_iter().enumerate() {
            let phase = format!("step {}/{steps}: candidate {}", step + 1, k + 1);
            let score = cx.evaluate(&candidate, batch, &phase).await?;
            scored.push((candidate, objective.value(score.score, score.cost_per_example)));
        }
        Ok(scored)
    }
}

/// Advice as text: a string, or any other JSON as written.
fn advice_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python's `random.shuffle`, in spirit: a seeded in-place shuffle.
fn shuffle(order: &mut [usize], rng: &mut StdRng) {
    use rand::seq::SliceRandom;
    order.shuffle(rng);
}

impl Optimizer for Simba {
    fn name(&self) -> &'static str {
        "simba"
    }

    fn config(&self) -> Value {
        let mut config = Map::new();
        config.insert("bsize".into(), json!(self.bsize));
        config.insert("num_candidates".into(), json!(self.num_candidates));
        config.insert("max_steps".into(), json!(self.max_steps));
        config.insert("max_demos".into(), json!(self.max_demos));
        config.insert("demo_input_field_maxlen".into(), json!(self.demo_input_field_maxlen));
        config.insert("temperature_for_sampling".into(), json!(self.temperature_for_sampling));
        config.insert("temperature_for_candidates".into(), json!(self.temperature_for_candidates));
        config.insert("prompt_lm".into(), json!(self.prompt_lm.as_ref().map(|lm| lm.identity().to_string())));
        Value::Object(config)
    }

    fn plan(&self, train: usize, val: usize) -> RunPlan {
        let b = self.bsize.min(train) as u64;
        let k = self.num_candidates as u64;
        let steps = self.max_steps as u64;
        let per_step = k * b + (k + 1) * b;
        let finalists = (k + 1).min(steps + 1);
        RunPlan {
            phases: vec![
                format!(
                    "steps: {steps} × ({k} rollouts of {b} examples + up to {} candidates on them): up to {} program \
                     runs; proposer calls: up to {} per step",
                    k + 1,
                    steps * per_step,
                    k + 1
                ),
                format!(
                    "finalists: up to {finalists} step winners on {val} examples: up to {} program runs",
                    finalists * val as u64
                ),
            ],
            max_program_runs: steps * per_step + finalists * val as u64,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            self.check()?;
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            self.search(cx).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding_and_numpy_percentiles() {
        assert_eq!([0.5, 1.5, 2.5, 2.6].map(round_half_even), [0, 2, 2, 3]);
        assert_eq!(percentile(&[0.0, 1.0, 1.0, 0.0, 1.0], 10.0), 0.0);
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 90.0) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn buckets_with_the_widest_spread_come_first_then_the_highest_max() {
        let scores = vec![vec![1.0, 1.0], vec![1.0, 0.0], vec![0.5, 0.0], vec![0.0, 0.0], vec![0.6, 0.1]];
        assert_eq!(rank_buckets(&scores), vec![1, 4, 2, 0, 3]);
    }

    #[test]
    fn the_pool_always_offers_the_program_as_written() {
        let pool = Pool {
            programs: (0..4).map(|i| Candidate::empty().with_instructions("qa", format!("v{i}"))).collect(),
            values: vec![None, Some(0.9), Some(0.8), Some(0.7)],
        };
        assert_eq!(pool.top_k_plus_baseline(2), vec![1, 0]);
        assert_eq!(pool.top_k_plus_baseline(10), vec![1, 2, 3, 0]);
    }
}
