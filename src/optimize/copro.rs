//! `Copro`: instructions proposed by the LM and refined from their scored history, by
//! coordinate ascent over the predictors, as DSPy's `COPRO` does.
//!
//! The algorithm:
//!
//! 1. **Seed proposals.** For each predictor, `breadth − 1` proposals of a better instruction
//!    from its own (DSPy's `BasicGenerateInstruction`), each a distinct rollout at temperature
//!    `init_temperature`, plus the own instruction, last.
//! 2. **Rounds.** For each of `depth` rounds and each predictor in program order, every
//!    candidate instruction of that round (with several predictors: every one proposed so far,
//!    since the others changed) is scored on the scoring set with the other predictors at
//!    their best so far; then the predictor keeps its best instruction (coordinate ascent).
//! 3. **Proposals from history.** Between rounds, each predictor gets `breadth` new proposals
//!    (DSPy's `GenerateInstructionGivenAttempts`): its best `breadth` attempts so far, shown
//!    as `Instruction #i` and `Resulting Score #i` in ascending order of score, so the best
//!    comes last.
//!
//! The best candidate scored wins (by the compile's [`Objective`](super::Objective), the
//! earliest on a tie). Every candidate scored is a leaderboard entry (once per candidate).
//!
//! Defaults are DSPy 3.4.1's: `breadth` 10, `depth` 3, `init_temperature` 1.4,
//! `track_stats` false. Unlike DSPy, lmc asks for one proposal per call (distinct rollouts
//! instead of `n` completions, so any provider and the simulator give distinct ones), does
//! not propose output-field prefixes (lmc's adapters do not render them), scores on the
//! scoring set (the valset when given) rather than the trainset, and also gives the
//! history prompt the best instruction so far as `best_instruction`, the text to improve on.
//!
//! Each (round, predictor) ends with [`CompileCx::trial_done`] (a checkpoint; a hook may stop
//! there). At a budget limit the search stops cleanly, keeping the best so far. The proposer's
//! calls (on `prompt_lm`, the program's LM unless one is given) count against the budget and
//! are reported apart. With `track_stats`, [`Copro::search`] also returns per-round statistics.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use super::{BudgetExceeded, Candidate, CompileCx, CompileError, Compiled, LeaderboardEntry, Optimizer, RunPlan};
use crate::data::Example;
use crate::lm::{Lm, Sampling};
use crate::module::{Predict, RunCx};
use crate::signature::Signature;

/// DSPy's `BasicGenerateInstruction` instructions.
const BASIC_GENERATE: &str = "You are an instruction optimizer for large language models. I will give you a \
``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good \
language model to perform the task well. Don't be afraid to be creative.";

/// DSPy's `GenerateInstructionGivenAttempts` instructions.
const GIVEN_ATTEMPTS: &str = "You are an instruction optimizer for large language models. I will give some task \
instructions I've tried, along with their corresponding validation scores. The instructions are arranged in \
increasing order based on their scores, where higher scores indicate better quality.

Your task is to propose a new instruction that will lead a good language model to perform the task even better. Don't \
be afraid to be creative.";

/// COPRO. See the [module docs](self) for the algorithm; DSPy's defaults.
///
/// ```
/// use lmc::optimize::{Copro, Optimizer};
///
/// let copro = Copro::default();
/// assert_eq!(copro.name(), "copro");
/// assert_eq!(copro.config()["breadth"], 10);
/// // One predictor: 10 candidates in the first round, 10 more in each of the 2 others.
/// assert_eq!(copro.plan(50, 20).max_program_runs, 30 * 20);
/// ```
#[derive(Clone)]
pub struct Copro {
    /// Candidate instructions per predictor and round: `breadth − 1` proposals and the own
    /// instruction first, `breadth` proposals after (DSPy: 10; at least 2).
    pub breadth: usize,
    /// Rounds of scoring; proposals from history come between them (DSPy: 3).
    pub depth: usize,
    /// The proposer's sampling temperature (DSPy: 1.4).
    pub init_temperature: f64,
    /// Whether [`Copro::search`] collects per-round statistics (DSPy: false).
    pub track_stats: bool,
    /// The LM that proposes instructions (default: the program's).
    pub prompt_lm: Option<Arc<dyn Lm>>,
}

impl fmt::Debug for Copro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Copro").field("config", &self.config()).finish()
    }
}

impl Default for Copro {
    fn default() -> Self {
        Copro { breadth: 10, depth: 3, init_temperature: 1.4, track_stats: false, prompt_lm: None }
    }
}

/// Statistics of a set of scores (objective values) for one predictor in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthStats {
    /// The predictor.
    pub predictor: String,
    /// The round, from 0.
    pub depth: usize,
    /// The highest.
    pub max: f64,
    /// The mean.
    pub average: f64,
    /// The lowest.
    pub min: f64,
    /// The population standard deviation.
    pub std: f64,
}

impl DepthStats {
    fn of(predictor: &str, depth: usize, values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let average = values.iter().sum::<f64>() / n;
        Some(DepthStats {
            predictor: predictor.to_string(),
            depth,
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            average,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            std: (values.iter().map(|v| (v - average).powi(2)).sum::<f64>() / n).sqrt(),
        })
    }
}

/// DSPy's `results_latest` and `results_best`, with `track_stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoproStats {
    /// Per round and predictor: the scores of that round's newest candidates.
    pub latest: Vec<DepthStats>,
    /// Per round (but the last) and predictor: the 10 best scores so far.
    pub best: Vec<DepthStats>,
}

/// What [`Copro::search`] found.
#[derive(Clone)]
pub struct CoproOutcome {
    /// The winner and the leaderboard, as [`Optimizer::compile`] returns them.
    pub compiled: Compiled,
    /// Per-round statistics (empty unless `track_stats`).
    pub stats: CoproStats,
}

/// One instruction scored for a predictor.
struct Attempt {
    instruction: String,
    value: f64,
}

/// `candidate` with `text` as `predictor`'s instructions; its own instructions are no
/// override at all, so that candidate shares the program-as-written's scores.
fn set_instruction(candidate: &Candidate, predictor: &Predict, text: &str) -> Candidate {
    if text != predictor.signature().instructions() {
        return candidate.with_instructions(predictor.name(), text);
    }
    let mut overlay = (**candidate.overlay()).clone();
    if let Some(p) = overlay.predictors.get_mut(predictor.name()) {
        p.instructions = None;
        if p.demos.is_none() {
            overlay.predictors.remove(predictor.name());
        }
    }
    Candidate::new(overlay)
}

/// A score as the history shows it: at most 4 decimals.
/// A score as DSPy's `Evaluate` reports it to COPRO: a percentage rounded to two decimals,
/// printed as Python prints a float (`66.67`, `50.0`).
fn show(value: f64) -> String {
    format!("{:?}", (value * 10_000.0).round() / 100.0)
}

/// The history prompt's attempts: the best `breadth` (by value, earliest on a tie), worst of
/// them first, as `Instruction #i` / `Resulting Score #i` lines.
pub(crate) fn attempts_text(attempts: &[(String, f64)], breadth: usize) -> Vec<String> {
    let mut best: Vec<&(String, f64)> = attempts.iter().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown = best.len().min(breadth);
    let mut lines = Vec::with_capacity(2 * shown);
    for i in (0..shown).rev() {
        lines.push(format!("Instruction #{}: {}", shown - i, best[i].0));
        lines.push(format!("Resulting Score #{}: {}", shown - i, show(best[i].1)));
    }
    lines
}

/// The proposer: budgeted calls at `init_temperature`, each a fresh rollout.
struct Proposer<'a> {
    cx: &'a CompileCx,
    run: RunCx,
    rollout: u32,
}

impl Proposer<'_> {
    /// One proposal, or `None` when the reply is unusable.
    async fn propose(&mut self, signature: Signature, inputs: Example) -> Result<Option<String>, BudgetExceeded> {
        let run = self.run.fork().with_rollout(self.rollout);
        self.rollout += 1;
        let predict = Predict::new("propose_instruction", signature);
        let Ok(reply) = self.cx.proposer_call(&run, &predict, &inputs).await? else { return Ok(None) };
        let text = reply.get("proposed_instruction").map(crate::adapter::pyfmt::py_str).unwrap_or_default();
        let text = text.trim_matches('"').trim().to_string();
        Ok((!text.is_empty()).then_some(text))
    }

    async fn propose_from_basic(&mut self, basic: &str) -> Result<Option<String>, BudgetExceeded> {
        let signature = Signature::parse("basic_instruction -> proposed_instruction")
            .and_then(|s| s.with_description("basic_instruction", "The initial instructions before optimization"))
            .and_then(|s| {
                s.with_description("proposed_instruction", "The improved instructions for the language model")
            })
            .map(|s| s.with_instructions(BASIC_GENERATE));
        let Ok(signature) = signature else { return Ok(None) };
        let inputs = Example::new().with("basic_instruction", basic).with_inputs(["basic_instruction"]);
        self.propose(signature, inputs).await
    }

    async fn propose_from_attempts(
        &mut self,
        best: &str,
        attempts: &[String],
    ) -> Result<Option<String>, BudgetExceeded> {
        let signature = Signature::parse("best_instruction, attempted_instructions: list[str] -> proposed_instruction")
            .and_then(|s| s.with_description("best_instruction", "The best-scoring instruction so far"))
            .and_then(|s| {
                s.with_description("proposed_instruction", "The improved instructions for the language model")
            })
            .map(|s| s.with_instructions(GIVEN_ATTEMPTS));
        let Ok(signature) = signature else { return Ok(None) };
        let inputs = Example::new()
            .with("best_instruction", best)
            .with("attempted_instructions", json!(attempts))
            .with_inputs(["best_instruction", "attempted_instructions"]);
        self.propose(signature, inputs).await
    }
}

/// The search's state, apart from the proposer.
struct Search {
    /// The current candidate: each predictor at its best instruction so far.
    current: Candidate,
    /// Per predictor: the instructions scored, first-scored order, each with its best value.
    history: Vec<Vec<Attempt>>,
    best: Option<(Candidate, f64)>,
    leaderboard: Vec<LeaderboardEntry>,
    stats: CoproStats,
}

impl Copro {
    fn check(&self) -> Result<(), CompileError> {
        let bad = |message: &str| Err(CompileError::Config { optimizer: "copro", message: message.into() });
        if self.breadth < 2 {
            return bad("breadth must be at least 2");
        }
        if self.depth == 0 {
            return bad("depth must be at least 1");
        }
        if self.init_temperature.is_nan() || self.init_temperature < 0.0 {
            return bad("init_temperature must be a number ≥ 0");
        }
        Ok(())
    }

    fn proposer<'a>(&self, cx: &'a CompileCx) -> Proposer<'a> {
        let mut run = cx.run_cx().fork();
        if let Some(lm) = &self.prompt_lm {
            run = run.with_lm(lm.clone());
        }
        let sampling = Sampling { temperature: Some(self.init_temperature), ..run.sampling().clone() };
        Proposer { cx, run: run.with_sampling(sampling), rollout: 0 }
    }

    /// The search, with its per-round statistics (collected with `track_stats`).
    pub async fn search(&self, cx: &CompileCx) -> Result<CoproOutcome, CompileError> {
        self.check()?;
        if cx.trainset().is_empty() {
            return Err(CompileError::EmptyTrainset);
        }
        let mut search = Search {
            current: Candidate::empty(),
            history: Vec::new(),
            best: None,
            leaderboard: Vec::new(),
            stats: CoproStats::default(),
        };
        let stopped = match self.rounds(cx, &mut search).await? {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let candidate = search.best.map_or_else(Candidate::empty, |(c, _)| c);
        Ok(CoproOutcome {
            compiled: Compiled { candidate, knn: None, runner: None, leaderboard: search.leaderboard, stopped },
            stats: search.stats,
        })
    }

    /// Proposals and rounds; the inner `Err` is a budget stop.
    async fn rounds(&self, cx: &CompileCx, search: &mut Search) -> Result<Result<(), BudgetExceeded>, CompileError> {
        let program = cx.program();
        let predictors = program.predictors();
        let objective = cx.objective();
        let val = cx.scoring_set().examples();
        let mut proposer = self.proposer(cx);

        // Per predictor: every candidate instruction so far, and this round's.
        let mut all: Vec<Vec<String>> = Vec::new();
        for p in &predictors {
            let own = p.signature().instructions().to_string();
            let mut mine = Vec::new();
            for _ in 1..self.breadth {
                match proposer.propose_from_basic(&own).await {
                    Ok(proposal) => mine.extend(proposal),
                    Err(e) => return Ok(Err(e)),
                }
            }
            mine.push(own);
            all.push(mine);
            search.history.push(Vec::new());
        }
        let mut latest = all.clone();

        let mut trial = 0;
        for depth in 0..self.depth {
            for (i, p) in predictors.iter().enumerate() {
                let round = if predictors.len() > 1 { &all[i] } else { &latest[i] };
                let mut newest = Vec::new();
                for (c, instruction) in round.iter().enumerate() {
                    let candidate = set_instruction(&search.current, p, instruction);
                    let phase =
                        format!("depth {}/{}: {} candidate {}/{}", depth + 1, self.depth, p.name(), c + 1, round.len());
                    let score = match cx.evaluate(&candidate, val, &phase).await {
                        Ok(score) => score,
                        Err(e) => return Ok(Err(e)),
                    };
                    let value = objective.value(score.score, score.cost_per_example);
                    if !search.leaderboard.iter().any(|e| e.candidate == candidate.short_hash()) {
                        let label = format!("depth {}, {}: {}", depth + 1, p.name(), shorten(instruction));
                        search.leaderboard.push(LeaderboardEntry::new(label, &candidate, &score));
                    }
                    if search.best.as_ref().is_none_or(|(_, b)| value > *b) {
                        search.best = Some((candidate.clone(), value));
                    }
                    let history = &mut search.history[i];
                    match history.iter_mut().find(|a| a.instruction == *instruction) {
                        Some(a) => a.value = a.value.max(value),
                        None => history.push(Attempt { instruction: instruction.clone(), value }),
                    }
                    if c + self.breadth >= round.len() {
                        newest.push(value);
                    }
                }
                if self.track_stats {
                    search.stats.latest.extend(DepthStats::of(p.name(), depth, &newest));
                }
                // Coordinate ascent: this predictor keeps its best instruction so far.
                let best = search.history[i].iter().fold(None::<&Attempt>, |acc, a| match acc {
                    Some(b) if b.value >= a.value => acc,
                    _ => Some(a),
                });
                if let Some(best) = best {
                    search.current = set_instruction(&search.current, p, &best.instruction);
                }
                trial += 1;
                cx.trial_done(trial, search.best.as_ref().map(|(_, v)| *v))?;
            }
            if depth + 1 == self.depth {
                break;
            }
            let mut fresh = Vec::new();
            for (i, _) in predictors.iter().enumerate() {
                let attempts: Vec<(String, f64)> =
                    search.history[i].iter().map(|a| (a.instruction.clone(), a.value)).collect();
                if self.track_stats {
                    let mut values: Vec<f64> = attempts.iter().map(|a| a.1).collect();
                    values.sort_by(|a, b| b.total_cmp(a));
                    values.truncate(10);
                    search.stats.best.extend(DepthStats::of(predictors[i].name(), depth, &values));
                }
                let lines = attempts_text(&attempts, self.breadth);
                let best = attempts
                    .iter()
                    .fold(None::<&(String, f64)>, |acc, a| match acc {
                        Some(b) if b.1 >= a.1 => acc,
                        _ => Some(a),
                    })
                    .map_or("", |a| a.0.as_str());
                let mut mine = Vec::new();
                for _ in 0..self.breadth {
                    match proposer.propose_from_attempts(best, &lines).await {
                        Ok(proposal) => mine.extend(proposal),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                all[i].extend(mine.iter().cloned());
                fresh.push(mine);
            }
            latest = fresh;
        }
        Ok(Ok(()))
    }
}

/// An instruction cut for a leaderboard label.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let cut: String = line.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

impl Optimizer for Copro {
    fn name(&self) -> &'static str {
        "copro"
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "breadth": self.breadth,
            "depth": self.depth,
            "init_temperature": self.init_temperature,
            "track_stats": self.track_stats,
            "prompt_lm": self.prompt_lm.as_ref().map(|lm| lm.identity().to_string()),
        })
    }

    fn plan(&self, _train: usize, val: usize) -> RunPlan {
        // The plan cannot know the program's predictors; it counts one.
        let (b, d) = (self.breadth as u64, self.depth.max(1) as u64);
        let proposals = b.saturating_sub(1) + (d - 1) * b;
        let candidates = b + (d - 1) * b;
        RunPlan {
            phases: vec![
                format!(
                    "proposals: {proposals} per predictor on the prompt LM ({} first, then {b} per round)",
                    b.saturating_sub(1)
                ),
                format!(
                    "rounds: {d} × {b} candidate instructions per predictor on {val} examples: up to {} program runs \
                     (more with several predictors, which rescore every instruction each round)",
                    candidates * val as u64
                ),
            ],
            max_program_runs: candidates * val as u64,
        }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move { Ok(self.search(cx).await?.compiled) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_show_the_best_breadth_in_ascending_order() {
        let attempts = vec![("a".to_string(), 0.5), ("b".to_string(), 0.9), ("c".to_string(), 0.1), ("d".into(), 0.7)];
        let lines = attempts_text(&attempts, 3);
        assert_eq!(
            lines,
            [
                "Instruction #1: a",
                "Resulting Score #1: 50.0",
                "Instruction #2: d",
                "Resulting Score #2: 70.0",
                "Instruction #3: b",
                "Resulting Score #3: 90.0"
            ]
        );
    }
}
