//! `Gepa`: reflective instruction evolution with a Pareto pool, as DSPy's `GEPA` (gepa 0.1)
//! does.
//!
//! The algorithm:
//!
//! 1. **Seed.** The program as written is scored on the whole valset (the trainset when
//!    there is no valset) and becomes the pool's first member. The pool keeps every member's
//!    per-example validation scores, and per validation example the members that reach the
//!    best score on it (its *front*).
//! 2. **Iterate** while fewer than the budget's metric calls were made:
//!    - **Parent.** Members that are dominated (every front they are on also holds another
//!      member still standing, visited from the lowest mean score up) are set aside; a parent
//!      is drawn from the rest with probability proportional to the number of fronts it is on
//!      (`candidate_selection = pareto`), or the best mean is taken (`current_best`).
//!    - **Minibatch.** `reflection_minibatch_size` (3) training examples from an
//!      epoch-shuffled sampler (each epoch a new shuffle, padded with the least-used examples).
//!      The parent runs on them with traces; if every score is perfect (`perfect_score`, 1.0),
//!      the iteration ends (`skip_perfect_score`).
//!    - **Reflect.** The predictor to update is the parent's next one, round robin
//!      (`component_selector = round-robin`), or every predictor (`all`). For each, one call
//!      per run (its inputs and outputs), with the metric's feedback (or "This trajectory got
//!      a score of X." when the metric gives none), goes to the reflection LM in DSPy's
//!      prompt, byte for byte, as one user message; the new instruction is the reply's
//!      triple-backtick block.
//!    - **Accept.** The child runs on the same minibatch; it is accepted only if its score
//!      sum is strictly higher than the parent's. An accepted child is scored on the whole
//!      valset and joins the pool.
//!    - **Merge** (`use_merge`, at most `max_merge_invocations`): after an iteration that
//!      accepted a child, the next one first tries to merge two front members that descend
//!      from a common ancestor and changed different predictors; the merge is checked on up
//!      to 5 validation examples chosen where the parents differ, and joins the pool (after a
//!      full valset scoring) if its sum there is at least the better parent's.
//! 3. **Result.** The member with the best mean validation score (the earliest on a tie; with
//!    a cost-aware [`Objective`](super::Objective), the best objective value).
//!
//! **Budget** in metric calls (a program run scored by the metric, counted as DSPy counts
//! them: every evaluation, even one the score cache answers without an LM call):
//! `max_metric_calls`, else `max_full_evals` × (train + val; the trainset alone when there is no
//! valset, as in DSPy), else `auto`'s estimate (light, medium, heavy: DSPy's formula). The
//! compile's budget (calls, tokens, dollars) applies on top and stops the search cleanly. The
//! reflection LM (`reflection_lm`, default the program's, at temperature 1.0, each iteration a
//! distinct rollout) is reported apart as proposer cost. Every random choice derives from the
//! compile's seed (0 is a seed); each iteration ends with [`CompileCx::trial_done`], so run
//! directories checkpoint it and a resumed compile replays to the same pool.
//!
//! Not ported: DSPy's custom instruction proposers, multimodal reflection, predictor-level
//! scores, and `add_format_failure_as_feedback` (runs whose predictor failed to parse are
//! left out of reflection, as DSPy does by default).

mod merge;
mod pool;
mod reflection;
mod sampler;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use self::pool::{Member, Pool, Texts};
use self::sampler::EpochSampler;
use super::mipro::Auto;
use super::seed::rng;
use super::{Candidate, CandidateScore, CompileCx, CompileError, Compiled, LeaderboardEntry, Optimizer, RunPlan};
use crate::data::Example;
use crate::lm::{Lm, Sampling};

/// Salts of GEPA's random choices.
mod salt {
    pub(super) const SAMPLER: u64 = 4001;
    pub(super) const SELECT: u64 = 4002;
    pub(super) const TRACES: u64 = 4003;
    pub(super) const MERGE: u64 = 4004;
}

/// A merge needs this many validation examples where both parents were scored (DSPy's floor).
const MERGE_OVERLAP_FLOOR: usize = 5;
/// Validation examples a merge is checked on.
const MERGE_SUBSAMPLE: usize = 5;

/// How GEPA picks the parent of the next mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CandidateSelection {
    /// From the per-example Pareto fronts, by how many fronts a member is on (DSPy's default).
    #[default]
    Pareto,
    /// The member with the best mean validation score.
    CurrentBest,
}

/// Which predictors one reflection updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComponentSelector {
    /// One per iteration, in program order, per lineage (DSPy's default).
    #[default]
    RoundRobin,
    /// Every predictor at once.
    All,
}

/// GEPA. See the [module docs](self) for the algorithm; DSPy's defaults.
#[derive(Clone)]
pub struct Gepa {
    /// A preset for the metric-call budget, used when neither `max_metric_calls` nor
    /// `max_full_evals` is set.
    pub auto: Option<Auto>,
    /// The budget in metric calls.
    pub max_metric_calls: Option<u64>,
    /// The budget in full evaluations of train + val.
    pub max_full_evals: Option<u64>,
    /// Training examples per reflection (DSPy: 3).
    pub reflection_minibatch_size: usize,
    /// How parents are picked.
    pub candidate_selection: CandidateSelection,
    /// Which predictors a reflection updates.
    pub component_selector: ComponentSelector,
    /// Skip a minibatch the parent already solves perfectly (DSPy: true).
    pub skip_perfect_score: bool,
    /// The perfect score (DSPy: 1.0).
    pub perfect_score: f64,
    /// Merge lineages (DSPy: true).
    pub use_merge: bool,
    /// Merges tried at most (DSPy: 5).
    pub max_merge_invocations: usize,
    /// The LM that writes instructions (default: the program's); its cost is reported apart.
    pub reflection_lm: Option<Arc<dyn Lm>>,
}

impl std::fmt::Debug for Gepa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gepa").field("config", &self.config()).finish()
    }
}

impl Default for Gepa {
    fn default() -> Self {
        Gepa {
            auto: Some(Auto::Light),
            max_metric_calls: None,
            max_full_evals: None,
            reflection_minibatch_size: 3,
            candidate_selection: CandidateSelection::Pareto,
            component_selector: ComponentSelector::RoundRobin,
            skip_perfect_score: true,
            perfect_score: 1.0,
            use_merge: true,
            max_merge_invocations: 5,
            reflection_lm: None,
        }
    }
}

impl Gepa {
    /// The budget in metric calls for `predictors` predictors and these set sizes.
    pub fn metric_calls(&self, predictors: usize, train: usize, val: usize) -> u64 {
        if let Some(n) = self.max_metric_calls {
            return n;
        }
        if let Some(n) = self.max_full_evals {
            return n * (train + val) as u64;
        }
        let n = self.auto.unwrap_or(Auto::Light).n_and_val().0;
        auto_budget(predictors.max(1), n, val)
    }

    fn check(&self) -> Result<(), CompileError> {
        let bad = |message: &str| Err(CompileError::Config { optimizer: "gepa", message: message.to_string() });
        if self.reflection_minibatch_size == 0 {
            return bad("reflection_minibatch_size must be at least 1");
        }
        if self.max_metric_calls == Some(0) || self.max_full_evals == Some(0) {
            return bad("the metric-call budget must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.perfect_score) {
            return bad("perfect_score must be in [0, 1]");
        }
        Ok(())
    }
}

/// DSPy's estimate of the metric calls an `auto` preset needs: a full evaluation of the
/// program, five per candidate, N minibatches of 35 and the periodic full evaluations, with
/// N = max(2·(2·predictors)·log2(n), 1.5·n).
fn auto_budget(predictors: usize, candidates: usize, val: usize) -> u64 {
    let n = candidates as f64;
    let trials = (2.0 * (predictors as f64 * 2.0) * n.log2()).max(1.5 * n) as u64;
    let (v, m, steps) = (val as u64, 35u64, 5u64);
    let mut total = v + candidates as u64 * 5 + trials * m;
    if trials > 0 {
        let periodic = (trials + 1) / steps + 1;
        let extra = u64::from(trials < steps);
        total += (periodic + extra) * v;
    }
    total
}

/// The candidate for `texts`: the instructions that differ from the program's own.
fn build(own: &Texts, texts: &Texts) -> Candidate {
    texts
        .iter()
        .filter(|(name, text)| own.get(*name) != Some(*text))
        .fold(Candidate::empty(), |c, (name, text)| c.with_instructions(name, text.clone()))
}

fn sum(scores: &[f64]) -> f64 {
    scores.iter().sum()
}

/// The examples at `ids`.
fn pick(examples: &[Example], ids: &[usize]) -> Vec<Example> {
    ids.iter().map(|&i| examples[i].clone()).collect()
}

impl Optimizer for Gepa {
    fn name(&self) -> &'static str {
        "gepa"
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "auto": self.auto.map(Auto::as_str),
            "max_metric_calls": self.max_metric_calls,
            "max_full_evals": self.max_full_evals,
            "reflection_minibatch_size": self.reflection_minibatch_size,
            "candidate_selection": match self.candidate_selection {
                CandidateSelection::Pareto => "pareto",
                CandidateSelection::CurrentBest => "current_best",
            },
            "component_selector": match self.component_selector {
                ComponentSelector::RoundRobin => "round_robin",
                ComponentSelector::All => "all",
            },
            "skip_perfect_score": self.skip_perfect_score,
            "perfect_score": self.perfect_score,
            "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations,
            "reflection_lm": self.reflection_lm.as_ref().map(|lm| lm.identity().to_string()),
        })
    }

    fn plan(&self, train: usize, val: usize) -> RunPlan {
        // The plan cannot know the program's predictors; it counts one.
        let budget = self.metric_calls(1, train, val);
        let per_iteration = 2 * self.reflection_minibatch_size as u64;
        RunPlan {
            phases: vec![
                format!("score the program as written: {val} validation examples"),
                format!(
                    "evolve: up to {budget} metric calls in all; each iteration scores a parent and a child on \
                     {} training examples ({per_iteration} runs) and one reflection call on the reflection LM; an \
                     accepted child is scored on all {val} validation examples",
                    self.reflection_minibatch_size
                ),
                format!(
                    "merge: {}",
                    if self.use_merge {
                        format!(
                            "up to {} merges, each checked on {MERGE_SUBSAMPLE} validation examples",
                            self.max_merge_invocations
                        )
                    } else {
                        "off".to_string()
                    }
                ),
            ],
            // A budget check happens before each iteration, which may then use a full
            // iteration's worth beyond it.
            max_program_runs: budget + per_iteration + val as u64,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            self.check()?;
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            let mut search = Search::new(self, cx);
            let stopped = search.run().await?;
            // A budget too small to score the seed leaves the pool empty.
            let candidate = search.pool.members.get(search.best()).map(|m| build(&search.own, &m.texts));
            Ok(Compiled {
                candidate: candidate.unwrap_or_else(Candidate::empty),
                knn: None,
                runner: None,
                leaderboard: search.leaderboard,
                stopped,
            })
        })
    }
}

/// One GEPA search: the pool and everything the iterations share.
struct Search<'a> {
    gepa: &'a Gepa,
    cx: &'a CompileCx,
    /// Predictor names, in program order.
    names: Vec<String>,
    /// Output field names per predictor, in signature order.
    outputs: Vec<Vec<String>>,
    /// The program's own instructions.
    own: Texts,
    /// The compile's data, borrowed.
    train: &'a [Example],
    val: &'a [Example],
    pool: Pool,
    /// Mean cost per example of each member on the valset.
    costs: Vec<Option<f64>>,
    leaderboard: Vec<LeaderboardEntry>,
    metric_calls: u64,
}

/// Why an iteration ended early: the compile's budget refused a run.
type Stop = super::BudgetExceeded;

impl<'a> Search<'a> {
    fn new(gepa: &'a Gepa, cx: &'a CompileCx) -> Self {
        let predictors = cx.program().predictors();
        let names: Vec<String> = predictors.iter().map(|p| p.name().to_string()).collect();
        let outputs = predictors.iter().map(|p| p.signature().output_names().map(str::to_string).collect()).collect();
        let own = predictors.iter().map(|p| (p.name().to_string(), p.signature().instructions().to_string())).collect();
        Search {
            gepa,
            cx,
            names,
            outputs,
            own,
            train: cx.trainset().examples(),
            val: cx.scoring_set().examples(),
            pool: Pool::default(),
            costs: Vec::new(),
            leaderboard: Vec::new(),
            metric_calls: 0,
        }
    }

    /// The member the objective ranks first (the earliest on a tie).
    fn best(&self) -> usize {
        let objective = self.cx.objective();
        let value = |i: usize| objective.value(self.pool.members[i].mean(), self.costs[i]);
        (0..self.pool.members.len()).fold(0, |best, i| if value(i) > value(best) { i } else { best })
    }

    async fn evaluate(&mut self, texts: &Texts, examples: &[Example], phase: &str) -> Result<CandidateScore, Stop> {
        let score = self.cx.evaluate(&build(&self.own, texts), examples, phase).await?;
        self.metric_calls += examples.len() as u64;
        Ok(score)
    }

    /// Scores `texts` on the valset and adds it to the pool.
    async fn admit(&mut self, texts: Texts, parents: Vec<usize>, label: String) -> Result<usize, Stop> {
        let full = self.evaluate(&texts, self.val, &format!("{label}: score on the valset")).await?;
        let next_predictor = parents.iter().map(|&p| self.pool.members[p].next_predictor).max().unwrap_or(0);
        let candidate = build(&self.own, &texts);
        self.leaderboard.push(LeaderboardEntry::new(label, &candidate, &full));
        self.costs.push(full.cost_per_example);
        Ok(self.pool.add(Member { texts, scores: full.scores, parents, next_predictor }))
    }

    async fn run(&mut self) -> Result<Option<String>, CompileError> {
        let gepa = self.gepa;
        // Without a valset, DSPy's `max_full_evals` counts the trainset once (it is the valset too).
        let full_val = if self.cx.valset().is_none() && gepa.max_full_evals.is_some() { 0 } else { self.val.len() };
        let budget = gepa.metric_calls(self.names.len(), self.train.len(), full_val);
        if let Err(e) = self.admit(self.own.clone(), Vec::new(), "program as written".to_string()).await {
            return Ok(Some(e.to_string()));
        }
        if self.names.is_empty() {
            // No predictor to evolve: the program as written is the result.
            return Ok(None);
        }
        let mut sampler = EpochSampler::new(gepa.reflection_minibatch_size, rng(self.cx.seed(), salt::SAMPLER));
        let mut select_rng = rng(self.cx.seed(), salt::SELECT);
        let mut trace_rng = rng(self.cx.seed(), salt::TRACES);
        let mut merge_rng = rng(self.cx.seed(), salt::MERGE);
        let mut merges = merge::MergeLog::default();
        let (mut merges_due, mut merges_tried, mut found_new) = (0usize, 0usize, false);
        let mut iteration = 0usize;
        while self.metric_calls < budget {
            iteration += 1;
            let result = async {
                if gepa.use_merge && merges_due > 0 && found_new && self.val.len() >= MERGE_OVERLAP_FLOOR {
                    found_new = false;
                    if let Some(m) = merge::propose(&self.pool, &mut merges, &mut merge_rng) {
                        let accepted = self.try_merge(m, iteration, &mut merge_rng).await?;
                        if accepted {
                            merges_due -= 1;
                            merges_tried += 1;
                        }
                        return Ok::<_, Stop>(());
                    }
                }
                found_new = false;
                if self.reflect_once(iteration, &mut sampler, &mut select_rng, &mut trace_rng).await? {
                    found_new = true;
                    if gepa.use_merge && merges_tried < gepa.max_merge_invocations {
                        merges_due += 1;
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                return Ok(Some(e.to_string()));
            }
            let best = self.best();
            self.cx.trial_done(iteration, Some(self.pool.members[best].mean()))?;
        }
        Ok(None)
    }

    /// One reflective mutation; whether a child was accepted.
    async fn reflect_once(
        &mut self,
        iteration: usize,
        sampler: &mut EpochSampler,
        select_rng: &mut rand::rngs::StdRng,
        trace_rng: &mut rand::rngs::StdRng,
    ) -> Result<bool, Stop> {
        let gepa = self.gepa;
        let parent = match gepa.candidate_selection {
            CandidateSelection::Pareto => self.pool.select(select_rng),
            CandidateSelection::CurrentBest => self.pool.best(),
        };
        let ids = sampler.batch(iteration - 1, self.train.len());
        let batch = pick(self.train, &ids);
        let parent_texts = self.pool.members[parent].texts.clone();
        let phase = format!("gepa iteration {iteration}");
        let before = self.evaluate(&parent_texts, &batch, &format!("{phase}: parent {parent} on a minibatch")).await?;
        if gepa.skip_perfect_score && before.scores.iter().all(|&s| s >= gepa.perfect_score) {
            return Ok(false);
        }
        let runs: Vec<_> = self.cx.runs("", &build(&self.own, &parent_texts), &batch).into_iter().flatten().collect();
        let targets: Vec<usize> = match gepa.component_selector {
            ComponentSelector::RoundRobin => {
                let member = &mut self.pool.members[parent];
                let next = member.next_predictor % self.names.len().max(1);
                member.next_predictor = (next + 1) % self.names.len().max(1);
                vec![next]
            }
            ComponentSelector::All => (0..self.names.len()).collect(),
        };
        let mut reflect_cx = self.cx.run_cx().fork().with_rollout(iteration as u32);
        if let Some(lm) = &gepa.reflection_lm {
            reflect_cx = reflect_cx.with_lm(lm.clone());
        }
        let sampling = Sampling { temperature: Some(1.0), ..reflect_cx.sampling().clone() };
        let reflect_cx = reflect_cx.with_sampling(sampling);
        let mut child = parent_texts.clone();
        let mut changed = Vec::new();
        for p in targets {
            let name = &self.names[p];
            let records = reflection::records(name, &self.outputs[p], &runs, trace_rng);
            if records.is_empty() {
                continue;
            }
            let prompt = reflection::prompt(&parent_texts[name], &records);
            let (reply, totals) = reflection::reflect(&reflect_cx, self.cx.meter(), prompt).await?;
            self.cx.record_proposer(&totals);
            let Some(text) = reply.map(|r| reflection::extract_instruction(&r)).filter(|t| !t.is_empty()) else {
                continue;
            };
            child.insert(name.clone(), text);
            changed.push(name.clone());
        }
        if changed.is_empty() {
            return Ok(false);
        }
        let after = self.evaluate(&child, &batch, &format!("{phase}: child on the minibatch")).await?;
        if sum(&after.scores) <= sum(&before.scores) {
            return Ok(false);
        }
        let label = format!("gepa {iteration}: from {parent}, new `{}`", changed.join("`, `"));
        self.admit(child, vec![parent], label).await?;
        Ok(true)
    }

    /// Checks a merge on a few validation examples and admits it if it holds up.
    async fn try_merge(
        &mut self,
        m: merge::Merge,
        iteration: usize,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<bool, Stop> {
        let (i, j) = m.parents;
        let (si, sj) = (self.pool.members[i].scores.clone(), self.pool.members[j].scores.clone());
        let ids = merge::subsample(&si, &sj, MERGE_SUBSAMPLE, rng);
        let sub = pick(self.val, &ids);
        let phase = format!("gepa iteration {iteration}: merge {i} and {j}");
        let merged = self.evaluate(&m.texts, &sub, &phase).await?;
        let parents_best = ids.iter().map(|&k| si[k]).sum::<f64>().max(ids.iter().map(|&k| sj[k]).sum());
        if sum(&merged.scores) < parents_best {
            return Ok(false);
        }
        let label = format!("gepa {iteration}: merge of {i} and {j} (ancestor {})", m.ancestor);
        self.admit(m.texts, vec![i, j], label).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Dataset;
    use crate::metric::{metric_fn, Metric};
    use crate::module::{Module, RunCx};
    use crate::{Program, ScriptedLm};

    /// `first` turns `Qn` into `mid`; `second` answers from `mid`. The answer is right for an
    /// even n when `first` is fixed, for an odd n when `second` is, and (with `clash`) wrong
    /// whenever both are.
    fn merge_cx(clash: bool) -> CompileCx {
        let program: Arc<dyn Module> = Arc::new(
            Program::from_toml_str(
                "name = \"two\"\n[[step]]\nname = \"first\"\nmodule = \"predict\"\nsignature = \"q -> mid\"\n\
                 instructions = \"Copy.\"\n[[step]]\nname = \"second\"\nmodule = \"predict\"\nsignature = \"mid -> a\"\n\
                 instructions = \"Solve.\"\n",
            )
            .unwrap(),
        );
        let lm = ScriptedLm::new().with_fn(move |request| {
            let system = &request.messages[0].content;
            let user = request.last_user_message().unwrap_or("");
            let fixed = system.contains("fixed");
            if let Some(q) = user.split("[[ ## q ## ]]\n").nth(1) {
                let n = &q[1..3];
                let mid = if fixed { format!("F{n}") } else { format!("X{n}") };
                return Ok(format!("[[ ## mid ## ]]\n{mid}\n\n[[ ## completed ## ]]"));
            }
            let mid = user.split("[[ ## mid ## ]]\n").nth(1).unwrap_or("");
            let n: u32 = mid[1..3].parse().unwrap();
            let first_fixed = mid.starts_with('F');
            let right = if clash && first_fixed && fixed {
                false
            } else {
                (n % 2 == 0 && first_fixed) || (n % 2 == 1 && fixed)
            };
            let a = if right { format!("A{n:02}") } else { "wrong".into() };
            Ok(format!("[[ ## a ## ]]\n{a}\n\n[[ ## completed ## ]]"))
        });
        let examples: Vec<Example> = (0..6)
            .map(|i| Example::new().with("q", format!("Q{i:02}")).with("a", format!("A{i:02}")).with_inputs(["q"]))
            .collect();
        let metric: Arc<dyn Metric> =
            Arc::new(metric_fn("exact", |g: &Example, p: &crate::Prediction, _: &[crate::TraceEntry]| {
                g.get("a") == p.get("a")
            }));
        CompileCx::new(program, metric, Dataset::from_examples("train", examples.clone()))
            .with_valset(Dataset::from_examples("val", examples))
            .with_run_cx(RunCx::new().with_lm(Arc::new(lm)))
    }

    fn texts(first: &str, second: &str) -> Texts {
        Texts::from([("first".to_string(), first.to_string()), ("second".to_string(), second.to_string())])
    }

    /// The seed, a child that fixed `first` (best on even examples) and one that fixed
    /// `second` (best on odd ones); then the merge GEPA proposes, checked and admitted or not.
    fn merged(clash: bool) -> (bool, Vec<f64>) {
        let gepa = Gepa::default();
        let cx = merge_cx(clash);
        let mut search = Search::new(&gepa, &cx);
        futures::executor::block_on(async {
            search.admit(texts("Copy.", "Solve."), vec![], "seed".into()).await.unwrap();
            search.admit(texts("Copy. fixed", "Solve."), vec![0], "a".into()).await.unwrap();
            search.admit(texts("Copy.", "Solve. fixed"), vec![0], "b".into()).await.unwrap();
            let mut r = rng(0, 0);
            let m = merge::propose(&search.pool, &mut merge::MergeLog::default(), &mut r).expect("a merge");
            assert_eq!(m.texts, texts("Copy. fixed", "Solve. fixed"));
            let accepted = search.try_merge(m, 1, &mut r).await.unwrap();
            (accepted, search.pool.members.iter().map(Member::mean).collect())
        })
    }

    #[test]
    fn a_merge_at_least_as_good_as_its_parents_joins_the_pool() {
        let (accepted, means) = merged(false);
        assert!(accepted);
        assert_eq!(means, vec![0.0, 0.5, 0.5, 1.0]);
    }

    #[test]
    fn a_merge_worse_than_its_better_parent_is_rejected() {
        let (accepted, means) = merged(true);
        assert!(!accepted);
        assert_eq!(means.len(), 3);
    }

    #[test]
    fn auto_budget_matches_dspy() {
        // Values printed by DSPy 3.4.1: `dspy.GEPA(...).auto_budget(1, 6, 100)` and `(2, 12, 300)`.
        assert_eq!(auto_budget(1, 6, 100), 780);
        assert_eq!(auto_budget(2, 12, 300), 3140);
    }

    #[test]
    fn build_overlays_only_changed_instructions() {
        let own = Texts::from([("a".to_string(), "A".to_string()), ("b".to_string(), "B".to_string())]);
        assert_eq!(build(&own, &own).hash(), Candidate::empty().hash());
        let changed = Texts::from([("a".to_string(), "A2".to_string()), ("b".to_string(), "B".to_string())]);
        let c = build(&own, &changed);
        assert_eq!(c.predictor("a").and_then(|p| p.instructions.as_deref()), Some("A2"));
        assert!(c.predictor("b").is_none());
    }
}
