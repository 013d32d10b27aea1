//! `compile`: run an optimizer, score the program before and after, build the artifact.

use super::pareto::{self, ScoredCandidate};
use super::{Candidate, CandidateScore, CompileCx, CompileError, LeaderboardEntry, Objective, Optimizer};
use crate::artifact::{ArtifactProvenance, CompileCost, CompileScores, DatasetRef, ProgramArtifact, ProposerCost};
use crate::data::dataset::Dataset;

/// What a compile produced.
#[derive(Debug, Clone)]
pub struct CompileOutcome {
    /// The compiled program, ready to save.
    pub artifact: ProgramArtifact,
    /// The program as written, scored on the valset (`None` when a budget stopped the compile
    /// before it could be scored).
    pub baseline: Option<CandidateScore>,
    /// The compiled program, scored on the valset.
    pub compiled: Option<CandidateScore>,
    /// The candidates the optimizer scored, in the order tried.
    pub leaderboard: Vec<LeaderboardEntry>,
    /// Every candidate scored, one row each: the program as written, the leaderboard's
    /// candidates, the compiled program.
    pub candidates: Vec<ScoredCandidate>,
    /// The Pareto front of `candidates` on (score, cost per example): indices, cheapest
    /// first ([`pareto_front`](super::pareto_front)'s rules); [`pick`](Self::pick) numbers
    /// them from 1.
    pub pareto: Vec<usize>,
    /// Everything the compile spent: optimizer runs and the scoring above.
    pub cost: CompileCost,
    /// Why it stopped early, when it did.
    pub stopped: Option<String>,
}

fn dataset_ref(data: &Dataset) -> DatasetRef {
    DatasetRef { source: data.source().display().to_string(), n: data.len(), hash: data.hash().to_string() }
}

/// Compiles `cx`'s program with `optimizer`, then scores the program as written and the
/// winner on the valset (the trainset when there is none; scores the optimizer already has
/// are reused), and builds the artifact named `name`. `provenance` supplies what the compile
/// cannot know (the metric's and LM's names); the optimizer, its configuration, the seed,
/// the data hashes, scores and cost are filled in.
pub async fn compile(
    cx: &CompileCx,
    optimizer: &dyn Optimizer,
    name: &str,
    provenance: ArtifactProvenance,
) -> Result<CompileOutcome, CompileError> {
    let mut found = optimizer.compile(cx).await?;
    for entry in &mut found.leaderboard {
        if let Some(candidate) = &entry.built {
            entry.demos = candidate.demo_summary_in(cx.program().as_ref());
        }
    }
    let mut stopped = found.stopped.clone();
    let val = cx.scoring_set().examples();
    let (baseline, compiled) = if stopped.is_some() {
        (None, None)
    } else {
        let baseline = cx.evaluate(&Candidate::empty(), val, "score the program as written").await;
        let compiled = match &found.runner {
            None => cx.evaluate(&found.candidate, val, "score the compiled program").await,
            Some(program) => {
                let tag = format!("{}:", optimizer.name());
                cx.evaluate_program(program, &tag, &found.candidate, val, "score the compiled program").await
            }
        };
        if let Err(e) = baseline.as_ref().and(compiled.as_ref()) {
            stopped = Some(e.to_string());
        }
        (baseline.ok(), compiled.ok())
    };
    let mut cost = cx.meter().cost();
    let proposer = cx.proposer_totals();
    if proposer.calls > 0 {
        cost.proposer = Some(ProposerCost {
            calls: proposer.calls,
            input_tokens: proposer.usage.input_tokens,
            output_tokens: proposer.usage.output_tokens,
            usd: (proposer.unpriced_calls == 0).then(|| super::budget::round_usd(proposer.program_cost_usd)),
        });
    }
    let provenance = ArtifactProvenance {
        optimizer: optimizer.name().to_string(),
        config: optimizer.config(),
        seed: cx.seed(),
        trainset: dataset_ref(cx.trainset()),
        valset: cx.valset().map(dataset_ref),
        scores: CompileScores {
            baseline: baseline.as_ref().map(|s| s.score),
            compiled: compiled.as_ref().map(|s| s.score),
        },
        compile_cost: cost.clone(),
        simulated: cx.simulated(),
        stopped: stopped.clone(),
        objective: (*cx.objective() != Objective::Score).then_some(*cx.objective()),
        ..provenance
    };
    let mut artifact =
        ProgramArtifact::from_program(name, cx.program().as_ref(), Some(found.candidate.overlay()), provenance);
    artifact.knn = found.knn;
    let candidates = pareto::scored_candidates(
        baseline.as_ref(),
        &found.leaderboard,
        &found.candidate,
        found.runner.is_some(),
        compiled.as_ref(),
    );
    let pareto = pareto::front(&candidates);
    Ok(CompileOutcome {
        artifact,
        baseline,
        compiled,
        leaderboard: found.leaderboard,
        candidates,
        pareto,
        cost,
        stopped,
    })
}
