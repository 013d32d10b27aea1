//! `lmc import-dspy` and `lmc export-dspy`: DSPy save files to and from lmc artifacts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lmc::artifact::dspy;
use lmc::artifact::ProgramArtifact;

use crate::output::{print_json, print_line, warn, write_atomic};

/// Import a DSPy save file (`program.save("x.json")`) as an lmc artifact for a program.
///
/// DSPy's predictor paths map to the program's predictor names (`solve.predict` is the chain of
/// thought `solve`), DSPy's positional fields to the signature's field names. The artifact gets
/// the file's instructions and demos; the program keeps its fields, adapter and LM. What cannot
/// be mapped without installing state in the wrong place (a field count or name that differs,
/// a predictor that was renamed) is an error; what is only left out (another predictor, an LM
/// setting, a differing description) is reported.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    lmc import-dspy compiled.json --program programs/math_qa.toml --out artifacts/math_qa.json\n  \
    lmc import-dspy triage_dspy.json --program programs/triage.toml --out artifacts/triage.json --json")]
pub(crate) struct ImportDspyArgs {
    /// The DSPy save file (JSON; not a .pkl or a save_program directory).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// The lmc program file the DSPy program corresponds to.
    #[arg(long, value_name = "FILE")]
    pub(crate) program: PathBuf,

    /// Where to write the artifact (written atomically).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,

    /// Print the import report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Export an lmc artifact in DSPy's save layout, for `program.load("x.json")` in DSPy 3.4.1.
///
/// A chain of thought `solve` is written as `solve.predict`, a predict step under its name, with
/// the instructions, the demos (bootstrapped ones marked `augmented`, as DSPy marks them) and
/// the fields positionally. A predictor's own LM, sampling settings and a JSON adapter are not
/// part of DSPy's layout; the export says so on stderr.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    lmc export-dspy artifacts/math_qa.json --out math_qa_dspy.json\n\n\
    In Python: program = MathQA(); program.load(\"math_qa_dspy.json\")")]
pub(crate) struct ExportDspyArgs {
    /// The lmc artifact (from `lmc compile --out` or `lmc import-dspy`).
    #[arg(value_name = "ARTIFACT")]
    pub(crate) artifact: PathBuf,

    /// Where to write the DSPy save file (written atomically; DSPy loads only `.json` names).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

/// Runs `lmc import-dspy`.
pub(crate) fn import_dspy(args: &ImportDspyArgs) -> anyhow::Result<ExitCode> {
    let program = crate::loaded::LoadedProgram::load(&args.program)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read the DSPy save file {}", args.file.display()))?;
    let (artifact, report) =
        dspy::import_dspy(&text, &program, program.name()).with_context(|| format!("{}", args.file.display()))?;
    artifact.save(&args.out)?;
    if args.json {
        print_json(&serde_json::json!({ "out": args.out, "report": report }))?;
    } else {
        print_line(report.render().trim_end())?;
        print_line(&format!("wrote {}", args.out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `lmc export-dspy`.
pub(crate) fn export_dspy(args: &ExportDspyArgs) -> anyhow::Result<ExitCode> {
    let artifact = ProgramArtifact::load(&args.artifact)?;
    let notes = dspy::export_notes(&artifact).with_context(|| format!("{}", args.artifact.display()))?;
    let mut text = serde_json::to_string_pretty(&dspy::export_dspy(&artifact))?;
    text.push('\n');
    write_atomic(&args.out, &text)?;
    for note in &notes {
        warn(note);
    }
    if args.out.extension().is_none_or(|e| e != "json") {
        warn("DSPy's `load()` reads only files whose name ends in `.json`");
    }
    print_line(&format!(
        "wrote {} (predictors: {})",
        args.out.display(),
        artifact.predictors.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    ))?;
    Ok(ExitCode::SUCCESS)
}
