//! `lmc compile --objective/--lambda/--pick`: what searching optimizers rank candidates by,
//! the report's Pareto front, and writing one of its members instead of the chosen one.

use anyhow::bail;
use lmc::optimize::{CompileOutcome, Objective};
use lmc::spec::{SpecCompile, TaskSpec};
use lmc::Module;
use serde_json::json;

use crate::cli::{CompileArgs, ObjectiveArg};

/// The objective: the flags over the spec's `[compile] objective`/`lambda`, else the score.
pub(crate) fn objective(
    args: &CompileArgs,
    settings: &SpecCompile,
    spec: Option<&TaskSpec>,
) -> anyhow::Result<Objective> {
    let file = spec.map(|s| format!("{}: ", s.path.display())).unwrap_or_default();
    let kind = match (args.objective, settings.objective.as_deref()) {
        (Some(kind), _) => kind,
        (None, None | Some("score")) => ObjectiveArg::Score,
        (None, Some("score-cost")) => ObjectiveArg::ScoreCost,
        (None, Some(other)) => bail!("{file}[compile] objective = \"{other}\" is not known; use score or score-cost"),
    };
    let objective = match kind {
        ObjectiveArg::Score => {
            if args.lambda.is_some() {
                bail!("--lambda applies to --objective score-cost only");
            }
            if args.objective.is_none() && settings.lambda.is_some() {
                bail!("{file}[compile] lambda applies to objective = \"score-cost\" only");
            }
            Objective::Score
        }
        ObjectiveArg::ScoreCost => {
            let Some(lambda) = args.lambda.or(settings.lambda) else {
                bail!(
                    "--objective score-cost needs --lambda X: the score given up to save one dollar per example \
                     (or `lambda = X` in the spec's [compile])"
                );
            };
            Objective::ScoreCost { lambda }
        }
    };
    if let Err(message) = objective.validate() {
        bail!("--lambda: {message}");
    }
    if args.pick == Some(0) {
        bail!("--pick counts from 1 (1 is the cheapest candidate of the Pareto front)");
    }
    Ok(objective)
}

/// The outcome with the `n`-th candidate of its Pareto front as the artifact (`--pick`); an
/// error listing the front when there is no such candidate.
pub(crate) fn pick(outcome: &mut CompileOutcome, n: usize, program: &dyn Module) -> anyhow::Result<()> {
    match outcome.pick(n, program) {
        Ok(artifact) => {
            outcome.artifact = artifact;
            Ok(())
        }
        Err(e) => {
            let mut message = format!("--pick {n}: {e}; no artifact was written");
            for line in front_rows(outcome, false) {
                message.push('\n');
                message.push_str(&line);
            }
            Err(anyhow::Error::msg(message))
        }
    }
}

fn usd(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("${v:.6}"))
}

/// The number on the front (1-based) of the candidate written: the pick, else the chosen one.
fn written(outcome: &CompileOutcome) -> Option<usize> {
    match &outcome.artifact.provenance.picked {
        Some(picked) => Some(picked.n),
        None => outcome.chosen().and_then(|c| outcome.pareto.iter().position(|&i| i == c)).map(|p| p + 1),
    }
}

/// One line per member of the front: number, label, score, $/example, calls/example (and
/// the objective's value when it prices cost), and which one is chosen and (with
/// `mark_written`) which written.
fn front_rows(outcome: &CompileOutcome, mark_written: bool) -> Vec<String> {
    let objective = outcome.artifact.provenance.objective.unwrap_or_default();
    let written = written(outcome).filter(|_| mark_written);
    outcome
        .front()
        .enumerate()
        .map(|(i, c)| {
            let mut row = format!(
                "  {:<34} {:>7.3} {:>13} {:>14.2}",
                format!("{}. {}", i + 1, c.label),
                c.score,
                usd(c.cost_per_example),
                c.calls_per_example
            );
            if objective != Objective::Score {
                row.push_str(&format!(" {:>10.4}", objective.value(c.score, c.cost_per_example)));
            }
            let marks: Vec<&str> = [(c.chosen, "chosen"), (written == Some(i + 1), "written")]
                .into_iter()
                .filter_map(|(on, mark)| on.then_some(mark))
                .collect();
            if !marks.is_empty() {
                row.push_str(&format!("  ← {}", marks.join(" · ")));
            }
            row
        })
        .collect()
}

/// The report's Pareto front section: a blank line, a header, the rows, and notes.
pub(crate) fn front_lines(outcome: &CompileOutcome) -> Vec<String> {
    let objective = outcome.artifact.provenance.objective.unwrap_or_default();
    let mut lines = vec![String::new()];
    let mut header = format!("  {:<34} {:>7} {:>13} {:>14}", "pareto front", "score", "$/example", "calls/example");
    if objective != Objective::Score {
        header.push_str(&format!(" {:>10}", "objective"));
    }
    lines.push(header);
    lines.extend(front_rows(outcome, true));
    if outcome.pareto.is_empty() {
        lines.push("  (no candidate was scored)".into());
    }
    if objective != Objective::Score {
        lines.push(format!("  objective: {}", objective.describe()));
        let unpriced = outcome.candidates.iter().filter(|c| objective.ignores_cost(c.cost_per_example)).count();
        if unpriced > 0 {
            lines.push(format!(
                "  ({unpriced} candidate(s) have no price: ranked by score alone; price their model with --prices FILE)"
            ));
        }
    }
    if let Some(chosen) = outcome.chosen().filter(|c| !outcome.pareto.contains(c)) {
        lines.push(format!(
            "  (the chosen candidate, {}, is not on the front: another scores as high for less)",
            outcome.candidates[chosen].label
        ));
    }
    if let Some(picked) = &outcome.artifact.provenance.picked {
        lines.push(format!("  --pick {}: wrote {} instead of the chosen candidate", picked.n, picked.label));
    }
    lines
}

/// The front for `--json`: one object per member, numbered as `--pick` takes them.
pub(crate) fn front_json(outcome: &CompileOutcome) -> serde_json::Value {
    let objective = outcome.artifact.provenance.objective.unwrap_or_default();
    let written = written(outcome);
    outcome
        .front()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "n": i + 1,
                "label": c.label,
                "candidate": c.candidate.short_hash(),
                "demos": c.candidate.demo_summary(),
                "score": c.score,
                "cost_per_example_usd": c.cost_per_example,
                "calls_per_example": c.calls_per_example,
                "objective_value": objective.value(c.score, c.cost_per_example),
                "as_written": c.as_written,
                "chosen": c.chosen,
                "written": written == Some(i + 1),
            })
        })
        .collect()
}
