//! `MiproV2`: instructions and demos searched together with a Tree-structured Parzen
//! Estimator, as DSPy's `MIPROv2` does.
//!
//! The algorithm:
//!
//! 1. **Demo sets.** `num_candidates` demo sets, as [`RandomSearch`](super::RandomSearch)
//!    builds its candidates: zero-shot, labeled, a bootstrap in trainset order, then shuffled
//!    bootstraps with random demo counts (teacher runs are shared between them). Skipped in
//!    zero-shot mode (`max_bootstrapped_demos = max_labeled_demos = 0`), which never adds a
//!    demo.
//! 2. **Instructions.** Per predictor, the program's own instruction plus `num_candidates − 1`
//!    proposals (half that with demos, under `auto`) from a grounded proposer on the prompt LM
//!    (the program's LM unless one is given): a summary of the training data (two calls), the
//!    program's predictors and description, one demo set's demos for the predictor, and a tip
//!    drawn at random (none, creative, simple, description, high stakes, persona). Each
//!    proposal is a distinct rollout at temperature 1.0. The proposer's calls count against
//!    the budget and are reported apart.
//! 3. **Search.** The program as written is scored on the whole valset first. Each trial then
//!    asks the TPE for an (instruction, demo set) index per predictor, and scores that
//!    candidate on a minibatch of `minibatch_size` validation examples (drawn per trial,
//!    seeded); every `minibatch_full_eval_steps` trials, and after the last, the configuration
//!    with the best mean minibatch score not yet fully scored is scored on the whole valset.
//!    The best full-valset score wins (the program as written on a tie; with a cost-aware
//!    [`Objective`](super::Objective), the best objective value). Without minibatches
//!    (`minibatch = false`, or a valset no larger than a minibatch) every trial is a full
//!    evaluation.
//!
//! `auto` sets the sizes as DSPy does: `light` (6 candidates, valset ≤ 100), `medium` (12,
//! ≤ 300), `heavy` (18, ≤ 1000); trials = max(2·v·log2(n), 1.5·n) where v is the number of
//! predictors (twice that with demos). Every random choice derives from the compile's seed
//! (0 is a seed); scores are cached by (candidate, example), so a configuration tried twice
//! costs nothing the second time. Each trial ends with [`CompileCx::trial_done`], so a run
//! directory checkpoints it and a test hook or Ctrl-C can stop the search there.

mod proposer;
pub(crate) mod tpe;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::json;

use self::proposer::{proposer_sampling, Proposer, TIPS};
use self::tpe::Tpe;
use super::random_search::shuffled;
use super::seed::{rng, sample};
use super::{
    BootstrapFewShot, Candidate, CompileCx, CompileError, Compiled, LabeledFewShot, LeaderboardEntry, Optimizer,
    RunPlan,
};
use crate::data::Example;
use crate::lm::Lm;

/// Salts of MIPROv2's random choices.
mod salt {
    pub(super) const VALSET: u64 = 2001;
    pub(super) const TIPS: u64 = 2002;
    pub(super) const TPE: u64 = 2003;
    pub(super) const MINIBATCH: u64 = 3000;
}

/// DSPy's presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auto {
    /// 6 candidates, valset ≤ 100.
    Light,
    /// 12 candidates, valset ≤ 300.
    Medium,
    /// 18 candidates, valset ≤ 1000.
    Heavy,
}

impl Auto {
    pub(crate) fn n_and_val(self) -> (usize, usize) {
        match self {
            Auto::Light => (6, 100),
            Auto::Medium => (12, 300),
            Auto::Heavy => (18, 1000),
        }
    }

    /// `light`, `medium` or `heavy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Auto::Light => "light",
            Auto::Medium => "medium",
            Auto::Heavy => "heavy",
        }
    }
}

impl std::str::FromStr for Auto {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "light" => Ok(Auto::Light),
            "medium" => Ok(Auto::Medium),
            "heavy" => Ok(Auto::Heavy),
            other => Err(format!("`{other}` is not an auto preset: use light, medium or heavy")),
        }
    }
}

/// MIPROv2. See the [module docs](self) for the algorithm; DSPy's defaults.
#[derive(Clone)]
pub struct MiproV2 {
    /// A preset for the sizes below (`None`: use them as given).
    pub auto: Option<Auto>,
    /// Instruction candidates and demo sets per predictor (without `auto`).
    pub num_candidates: usize,
    /// Trials (default: DSPy's formula).
    pub num_trials: Option<usize>,
    /// Bootstrapped demos per demo set (DSPy: 4).
    pub max_bootstrapped_demos: usize,
    /// Demos per demo set in all (DSPy: 4).
    pub max_labeled_demos: usize,
    /// Bootstrap rounds.
    pub max_rounds: u32,
    /// The score a teacher run must reach to pass.
    pub metric_threshold: Option<f64>,
    /// Score trials on minibatches (DSPy: true).
    pub minibatch: bool,
    /// Examples per minibatch (DSPy: 35).
    pub minibatch_size: usize,
    /// Trials between full evaluations (DSPy: 5).
    pub minibatch_full_eval_steps: usize,
    /// Training examples the data summary reads (DSPy: 10).
    pub view_data_batch_size: usize,
    /// What the program does, for the proposer.
    pub program_description: String,
    /// The LM that proposes instructions (default: the program's).
    pub prompt_lm: Option<Arc<dyn Lm>>,
}

impl fmt::Debug for MiproV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiproV2")
            .field("config", &self.config())
            .field("prompt_lm", &self.prompt_lm.as_ref().map(|lm| lm.identity()))
            .finish()
    }
}

impl Default for MiproV2 {
    fn default() -> Self {
        MiproV2 {
            auto: Some(Auto::Light),
            num_candidates: 6,
            num_trials: None,
            max_bootstrapped_demos: 4,
            max_labeled_demos: 4,
            max_rounds: 1,
            metric_threshold: None,
            minibatch: true,
            minibatch_size: 35,
            minibatch_full_eval_steps: 5,
            view_data_batch_size: 10,
            program_description: String::new(),
            prompt_lm: None,
        }
    }
}

/// The sizes a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sizes {
    instructions: usize,
    demo_sets: usize,
    trials: usize,
    valset: usize,
}

impl MiproV2 {
    fn zero_shot(&self) -> bool {
        self.max_bootstrapped_demos == 0 && self.max_labeled_demos == 0
    }

    fn sizes(&self, predictors: usize, val: usize) -> Sizes {
        let (n, val_cap) = match self.auto {
            Some(auto) => auto.n_and_val(),
            None => (self.num_candidates.max(1), usize::MAX),
        };
        let instructions = match (self.auto, self.zero_shot()) {
            (Some(_), false) => (n / 2).max(1),
            _ => n,
        };
        let vars = predictors.max(1) * if self.zero_shot() { 1 } else { 2 };
        let formula = (2.0 * vars as f64 * (n as f64).log2()).max(1.5 * n as f64) as usize;
        Sizes {
            instructions,
            demo_sets: if self.zero_shot() { 0 } else { n },
            trials: self.num_trials.unwrap_or(formula).max(1),
            valset: val.min(val_cap),
        }
    }

    fn uses_minibatch(&self, val: usize) -> bool {
        self.minibatch && val > self.minibatch_size
    }

    fn check(&self) -> Result<(), CompileError> {
        let bad = |message: &str| Err(CompileError::Config { optimizer: "mipro", message: message.into() });
        if self.max_rounds == 0 {
            return bad("max_rounds must be at least 1");
        }
        if self.minibatch_size == 0 || self.minibatch_full_eval_steps == 0 {
            return bad("minibatch_size and minibatch_full_eval_steps must be at least 1");
        }
        Ok(())
    }

    /// Demo sets as RandomSearch builds its candidates.
    async fn demo_sets(&self, cx: &CompileCx, n: usize) -> (Vec<Candidate>, Option<String>) {
        let train = cx.trainset().examples();
        let bootstrap = |max_bootstrapped_demos| BootstrapFewShot {
            max_bootstrapped_demos,
            max_labeled_demos: self.max_labeled_demos,
            max_rounds: self.max_rounds,
            metric_threshold: self.metric_threshold,
        };
        let mut sets = Vec::new();
        for index in 0..n {
            let set = match index {
                0 => Candidate::empty(),
                1 => LabeledFewShot { k: self.max_labeled_demos }.candidate(cx.program().as_ref(), train, cx.seed()),
                2 => {
                    let out = bootstrap(self.max_bootstrapped_demos).bootstrap(cx, train, train, "demo sets").await;
                    if out.stopped.is_some() {
                        return (sets, out.stopped);
                    }
                    out.candidate
                }
                _ => {
                    let (order, size) = shuffled(train, cx.seed(), index, self.max_bootstrapped_demos);
                    let out = bootstrap(size).bootstrap(cx, &order, train, "demo sets").await;
                    if out.stopped.is_some() {
                        return (sets, out.stopped);
                    }
                    out.candidate
                }
            };
            sets.push(set);
        }
        (sets, None)
    }

    /// Per predictor (in program order): its own instruction, then the proposals.
    async fn instructions(
        &self,
        cx: &CompileCx,
        n: usize,
        demo_sets: &[Candidate],
    ) -> Result<Vec<Vec<String>>, super::BudgetExceeded> {
        let mut run = cx.run_cx().fork();
        if let Some(lm) = &self.prompt_lm {
            run = run.with_lm(lm.clone());
        }
        let sampling = proposer_sampling(run.sampling());
        let mut proposer = Proposer { cx: run.with_sampling(sampling), meter: cx.meter(), spent: Default::default() };
        let predictors = cx.program().predictors();
        let mut tips = rng(cx.seed(), salt::TIPS);
        let result = async {
            let description = if n > 1 {
                proposer.describe_data(cx.trainset().examples(), self.view_data_batch_size).await?
            } else {
                String::new()
            };
            let mut all = Vec::new();
            for (p, predictor) in predictors.iter().enumerate() {
                let mut mine = vec![predictor.signature().instructions().to_string()];
                for j in 1..n {
                    let tip = TIPS[tips.random_range(0..TIPS.len())].1;
                    let demos = demo_sets
                        .get(j % demo_sets.len().max(1))
                        .and_then(|set| set.demos(predictor.name()))
                        .unwrap_or_default();
                    let rollout = (p * 1000 + j) as u32;
                    let proposed = proposer
                        .propose(cx.program(), predictor, &description, &self.program_description, demos, tip, rollout)
                        .await?;
                    if let Some(text) = proposed.filter(|t| !mine.contains(t)) {
                        mine.push(text);
                    }
                }
                all.push(mine);
            }
            Ok(all)
        }
        .await;
        cx.record_proposer(&proposer.spent);
        result
    }
}

/// The candidate for TPE parameters: per predictor an instruction index, then (with demos) a
/// demo-set index.
fn build(cx: &CompileCx, params: &[usize], instructions: &[Vec<String>], demo_sets: &[Candidate]) -> Candidate {
    let mut candidate = Candidate::empty();
    let with_demos = !demo_sets.is_empty();
    for (p, predictor) in cx.program().predictors().iter().enumerate() {
        let stride = if with_demos { 2 } else { 1 };
        let instr = params[p * stride];
        if instr > 0 {
            candidate = candidate.with_instructions(predictor.name(), instructions[p][instr].clone());
        }
        if with_demos {
            let set = &demo_sets[params[p * stride + 1]];
            candidate =
                candidate.with_demos(predictor.name(), set.demos(predictor.name()).unwrap_or_default().to_vec());
        }
    }
    candidate
}

fn describe(params: &[usize], with_demos: bool, names: &[String]) -> String {
    let stride = if with_demos { 2 } else { 1 };
    names
        .iter()
        .enumerate()
        .map(|(p, name)| {
            if with_demos {
                format!("{name}: instruction {}, demo set {}", params[p * stride], params[p * stride + 1])
            } else {
                format!("{name}: instruction {}", params[p * stride])
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Optimizer for MiproV2 {
    fn name(&self) -> &'static str {
        "mipro"
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "auto": self.auto.map(Auto::as_str),
            "num_candidates": self.num_candidates,
            "num_trials": self.num_trials,
            "max_bootstrapped_demos": self.max_bootstrapped_demos,
            "max_labeled_demos": self.max_labeled_demos,
            "max_rounds": self.max_rounds,
            "metric_threshold": self.metric_threshold,
            "minibatch": self.minibatch,
            "minibatch_size": self.minibatch_size,
            "minibatch_full_eval_steps": self.minibatch_full_eval_steps,
            "view_data_batch_size": self.view_data_batch_size,
            "prompt_lm": self.prompt_lm.as_ref().map(|lm| lm.identity().to_string()),
        })
    }

    fn plan(&self, train: usize, val: usize) -> RunPlan {
        // The plan cannot know the program's predictors; it counts one.
        let sizes = self.sizes(1, val);
        let teacher = if self.zero_shot() { 0 } else { train as u64 * u64::from(self.max_rounds) };
        let proposals = if sizes.instructions > 1 { 2 + (sizes.instructions as u64 - 1) } else { 0 };
        let per_trial = if self.uses_minibatch(sizes.valset) { self.minibatch_size } else { sizes.valset } as u64;
        let full = if self.uses_minibatch(sizes.valset) {
            (sizes.trials / self.minibatch_full_eval_steps + 1) as u64 * sizes.valset as u64
        } else {
            0
        };
        let validation = sizes.valset as u64 + sizes.trials as u64 * per_trial + full;
        RunPlan {
            phases: vec![
                format!(
                    "demo sets: {} (teacher runs: up to {teacher}, shared){}",
                    sizes.demo_sets,
                    if self.zero_shot() { "; zero-shot: no demos" } else { "" }
                ),
                format!(
                    "instructions: {} per predictor; proposer calls: about {proposals} per predictor on the prompt LM",
                    sizes.instructions
                ),
                format!(
                    "search: {} trials on {} of {} validation examples each, full evaluations every {} trials: up to \
                     {validation} program runs",
                    sizes.trials, per_trial, sizes.valset, self.minibatch_full_eval_steps
                ),
            ],
            max_program_runs: teacher + validation,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            self.check()?;
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            let names: Vec<String> = cx.program().predictors().iter().map(|p| p.name().to_string()).collect();
            let all_val = cx.scoring_set().examples();
            let sizes = self.sizes(names.len(), all_val.len());
            let val: Vec<Example> = if sizes.valset < all_val.len() {
                sample(all_val, sizes.valset, cx.seed(), salt::VALSET)
            } else {
                all_val.to_vec()
            };
            let stop = |stopped: Option<String>, leaderboard, best: Candidate| Compiled {
                candidate: best,
                knn: None,
                runner: None,
                leaderboard,
                stopped,
            };

            let (demo_sets, stopped) = self.demo_sets(cx, sizes.demo_sets).await;
            if stopped.is_some() {
                return Ok(stop(stopped, Vec::new(), Candidate::empty()));
            }
            let instructions = match self.instructions(cx, sizes.instructions, &demo_sets).await {
                Ok(all) => all,
                Err(e) => return Ok(stop(Some(e.to_string()), Vec::new(), Candidate::empty())),
            };

            let mut leaderboard = Vec::new();
            let as_written = Candidate::empty();
            let base = match cx.evaluate(&as_written, &val, "score the program as written").await {
                Ok(score) => score,
                Err(e) => return Ok(stop(Some(e.to_string()), leaderboard, as_written)),
            };
            leaderboard.push(LeaderboardEntry::new("program as written", &as_written, &base));
            let objective = cx.objective();
            let base_value = objective.value(base.score, base.cost_per_example);
            let mut best = (as_written, base_value);

            let with_demos = !demo_sets.is_empty();
            let sizes_per_param: Vec<usize> = instructions
                .iter()
                .flat_map(|i| if with_demos { vec![i.len(), demo_sets.len()] } else { vec![i.len()] })
                .collect();
            let mut tpe = Tpe::new(sizes_per_param.clone(), rng(cx.seed(), salt::TPE));
            // The program as written is the all-zeros configuration (own instruction, and the
            // zero-shot demo set).
            let zeros = vec![0; sizes_per_param.len()];
            tpe.tell(zeros.clone(), base_value);
            let minibatch = self.uses_minibatch(val.len());
            let mut means: BTreeMap<Vec<usize>, (f64, usize)> = BTreeMap::new();
            let mut fully_scored: Vec<Vec<usize>> = vec![zeros];
            let mut stopped = None;
            for trial in 0..sizes.trials {
                let params = tpe.ask();
                let candidate = build(cx, &params, &instructions, &demo_sets);
                let batch = if minibatch {
                    sample(&val, self.minibatch_size, cx.seed(), salt::MINIBATCH + trial as u64)
                } else {
                    val.clone()
                };
                let phase = format!("trial {}/{}", trial + 1, sizes.trials);
                let score = match cx.evaluate(&candidate, &batch, &phase).await {
                    Ok(score) => score,
                    Err(e) => {
                        stopped = Some(e.to_string());
                        break;
                    }
                };
                let value = objective.value(score.score, score.cost_per_example);
                tpe.tell(params.clone(), value);
                let slot = means.entry(params.clone()).or_insert((0.0, 0));
                slot.0 += value;
                slot.1 += 1;
                let full_now =
                    !minibatch || (trial + 1) % self.minibatch_full_eval_steps == 0 || trial + 1 == sizes.trials;
                if !full_now {
                    cx.trial_done(trial + 1, Some(best.1))?;
                    continue;
                }
                // The configuration with the best mean minibatch score not yet fully scored.
                let next = means
                    .iter()
                    .filter(|(p, _)| !fully_scored.contains(p))
                    .map(|(p, (sum, n))| (p.clone(), sum / *n as f64))
                    .fold(None::<(Vec<usize>, f64)>, |acc, (p, m)| match acc {
                        Some((_, best)) if best >= m => acc,
                        _ => Some((p, m)),
                    });
                let Some((params, _)) = next else {
                    cx.trial_done(trial + 1, Some(best.1))?;
                    continue;
                };
                let candidate = build(cx, &params, &instructions, &demo_sets);
                let full = match cx.evaluate(&candidate, &val, &format!("{phase}: full evaluation")).await {
                    Ok(score) => score,
                    Err(e) => {
                        stopped = Some(e.to_string());
                        break;
                    }
                };
                fully_scored.push(params.clone());
                let label = format!("trial {}: {}", trial + 1, describe(&params, with_demos, &names));
                leaderboard.push(LeaderboardEntry::new(label, &candidate, &full));
                let value = objective.value(full.score, full.cost_per_example);
                if value > best.1 {
                    best = (candidate, value);
                }
                cx.trial_done(trial + 1, Some(best.1))?;
            }
            Ok(stop(stopped, leaderboard, best.0))
        })
    }
}
