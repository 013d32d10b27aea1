//! `lmc inspect artifact`: a compiled artifact, readably.

use std::process::ExitCode;

use lmc::adapter::pyfmt::py_str;
use lmc::artifact::ProgramArtifact;

use crate::cli::InspectArtifactArgs;
use crate::output::print_line;

/// Characters of a demo value shown before it is cut.
const VALUE_WIDTH: usize = 240;

pub(crate) fn artifact(args: &InspectArtifactArgs) -> anyhow::Result<ExitCode> {
    let artifact = ProgramArtifact::load(&args.artifact)?;
    if let Some(path) = &args.program {
        let program = crate::loaded::LoadedProgram::load(path)?;
        artifact.check(&program).map_err(|e| e.at(&args.artifact))?;
    }
    let mut text = render(&artifact, args.demos);
    if let Some(path) = &args.program {
        text.push_str(&format!("\nfits {}: every predictor and field matches\n", path.display()));
    }
    print_line(text.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

fn clip(text: &str) -> String {
    let one_line = text.replace('\n', " ⏎ ");
    if one_line.chars().count() <= VALUE_WIDTH {
        one_line
    } else {
        format!("{}…", one_line.chars().take(VALUE_WIDTH).collect::<String>())
    }
}

fn render(artifact: &ProgramArtifact, max_demos: Option<usize>) -> String {
    let p = &artifact.provenance;
    let mut out = format!(
        "program {} · artifact format {} · lmc {}\n",
        artifact.program, artifact.format_version, artifact.lmc_version
    );
    out.push_str(&format!("made by {} (seed {}) with {}\n", p.optimizer, p.seed, p.config));
    if !p.lm.is_empty() {
        let teacher = p.teacher_lm.as_ref().map(|t| format!(" · teacher {t}")).unwrap_or_default();
        out.push_str(&format!("lm {}{teacher} · metric {}\n", p.lm, p.metric));
    }
    if p.trainset.n > 0 {
        out.push_str(&format!(
            "train {} ({} examples, {})\n",
            p.trainset.source,
            p.trainset.n,
            &p.trainset.hash[..12.min(p.trainset.hash.len())]
        ));
    }
    if let Some(val) = &p.valset {
        out.push_str(&format!(
            "validation {} ({} examples, {})\n",
            val.source,
            val.n,
            &val.hash[..12.min(val.hash.len())]
        ));
    }
    let score = |s: Option<f64>| s.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"));
    out.push_str(&format!(
        "validation score {} as written → {} compiled · compile cost {} calls, {}{}\n",
        score(p.scores.baseline),
        score(p.scores.compiled),
        p.compile_cost.calls,
        p.compile_cost.usd.map_or_else(|| "$ n/a".into(), |v| format!("${v:.4}")),
        if p.simulated { " · offline simulator" } else { "" }
    ));
    if let Some(reason) = &p.stopped {
        out.push_str(&format!("stopped early: {reason}\n"));
    }
    if let Some(knn) = &artifact.knn {
        out.push_str(&format!(
            "demos chosen per input: the {} nearest of {} training examples by {} over {}\n",
            knn.k,
            knn.trainset.len(),
            knn.method,
            knn.input_keys.join(", ")
        ));
    }
    for predictor in &artifact.predictors {
        let fields = |f: &[lmc::Field]| {
            f.iter().map(|f| format!("{}: {}", f.name, f.ty.python_name())).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!(
            "\npredictor {} · adapter {}{}\n  signature: {} -> {}\n  instructions:\n",
            predictor.name,
            predictor.adapter,
            predictor.lm.as_ref().map(|m| format!(" · lm {m}")).unwrap_or_default(),
            fields(&predictor.signature.inputs),
            fields(&predictor.signature.outputs),
        ));
        for line in predictor.instructions.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        let shown = max_demos.unwrap_or(usize::MAX).min(predictor.demos.len());
        out.push_str(&format!("  demos: {}", predictor.demos.len()));
        if shown < predictor.demos.len() {
            out.push_str(&format!(" (showing {shown})"));
        }
        out.push('\n');
        for (i, demo) in predictor.demos.iter().take(shown).enumerate() {
            for (j, (key, value)) in demo.fields().iter().enumerate() {
                let lead = if j == 0 { format!("  {:>3}. ", i + 1) } else { "       ".to_string() };
                out.push_str(&format!("{lead}{key}: {}\n", clip(&py_str(value))));
            }
        }
    }
    out
}
