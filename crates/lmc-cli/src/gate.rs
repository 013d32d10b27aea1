//! `lmc gate`: evaluate each task, compare with its blessed baseline, check its `[gate]`
//! thresholds, and exit 0 (every check passed), 1 (a check failed) or 2 (cannot judge).
//! `--bless` writes the baseline instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use lmc::gate::{checks, json, junit, markdown, Baseline, Verdict};
use lmc::spec::{SpecGate, TaskSpec};
use serde_json::json;

use crate::cli::{EvalArgs, GateArgs};
use crate::output::{print_json, print_line, write_atomic};

pub(crate) fn gate(args: GateArgs) -> anyhow::Result<ExitCode> {
    let GateArgs {
        specs,
        bless,
        split,
        junit: junit_path,
        markdown: markdown_path,
        json,
        out,
        artifact,
        no_artifact,
        concurrency,
        lm,
    } = args;
    // The evaluation `lmc eval SPEC --split S --out DIR` would run; the spec and directory are
    // set per task.
    let mut eval_args = EvalArgs {
        spec: None,
        split: None,
        program: None,
        dataset: None,
        inputs: Vec::new(),
        labels: Vec::new(),
        metric: None,
        field: None,
        judge_lm: None,
        artifact,
        no_artifact,
        lm,
        concurrency,
        repeats: None,
        limit: None,
        max_errors: None,
        max_usd: None,
        slice_by: Vec::new(),
        out: None,
        export: None,
        json,
    };
    let mut verdicts = Vec::new();
    let mut blessed = Vec::new();
    for (i, path) in specs.iter().enumerate() {
        let spec = TaskSpec::load(path)?;
        let gate = spec.gate.clone().ok_or_else(|| {
            anyhow!("{}: no [gate] table; add one with its thresholds (see evals/README.md)", path.display())
        })?;
        let run_dir = match &out {
            Some(dir) if specs.len() > 1 => dir.join(task_stem(path)),
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!("lmc-gate-{}-{i}", std::process::id())),
        };
        eval_args.spec = Some(path.clone());
        eval_args.split = Some(
            split
                .clone()
                .or_else(|| gate.split.clone())
                .or_else(|| spec.eval.split.clone())
                .unwrap_or_else(|| "test".into()),
        );
        eval_args.out = Some(run_dir.clone());
        let evaluated = crate::eval::evaluate(&eval_args).and_then(|_| Ok(Baseline::read_run_dir(&run_dir)?));
        if out.is_none() {
            let _ = std::fs::remove_dir_all(&run_dir);
        }
        let current = evaluated.with_context(|| format!("evaluating {}", path.display()))?;
        if bless {
            // Checked now, written once every spec is checked: all or nothing.
            blessable(path, &gate, &current)?;
            blessed.push((path.clone(), gate, current));
            continue;
        }
        let baseline = match &gate.baseline {
            Some(file) if file.exists() => Some(Baseline::read(file)?),
            _ => None,
        };
        verdicts.push(checks::judge(&path.display().to_string(), &gate, &current, baseline.as_ref()));
    }
    if bless {
        let blessed = blessed
            .iter()
            .map(|(path, gate, current)| bless_baseline(path, gate, current))
            .collect::<Result<Vec<_>, _>>()?;
        if json {
            print_json(&json!({ "blessed": blessed }))?;
        } else {
            for b in &blessed {
                print_line(&format!(
                    "blessed {}: score {:.3} over {} examples → {}",
                    b["task"].as_str().unwrap_or_default(),
                    b["score"].as_f64().unwrap_or_default(),
                    b["n_scored"],
                    b["baseline"].as_str().unwrap_or_default()
                ))?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    write_reports(&verdicts, junit_path.as_deref(), markdown_path.as_deref())?;
    if json {
        print_json(&json::render(&verdicts))?;
    } else {
        print_line(&render_lines(&verdicts))?;
    }
    Ok(ExitCode::from(checks::exit_code(&verdicts)))
}

/// Whether `current` may become the task's baseline: the spec names a baseline file, and the
/// gate could judge the run (not stopped early, no replay miss, enough examples scored).
fn blessable<'a>(spec: &Path, gate: &'a SpecGate, current: &Baseline) -> anyhow::Result<&'a Path> {
    let Some(file) = gate.baseline.as_deref() else {
        bail!("{}: [gate] has no `baseline` file to bless; add baseline = \"../baselines/NAME.json\"", spec.display());
    };
    if let Some(reason) = checks::bless_refusal(gate, current) {
        bail!("{}: {reason}; a run the gate cannot judge cannot be blessed (no baseline was written)", spec.display());
    }
    Ok(file)
}

/// Writes `current` as the task's baseline (after [`blessable`]).
fn bless_baseline(spec: &Path, gate: &SpecGate, current: &Baseline) -> anyhow::Result<serde_json::Value> {
    let file = blessable(spec, gate, current)?;
    current.write(file)?;
    Ok(json!({
        "task": spec.display().to_string(),
        "baseline": file.display().to_string(),
        "score": current.summary.score,
        "n_scored": current.summary.n_scored,
        "simulated": current.provenance.simulated,
    }))
}

/// `--junit` and `--markdown` (and `$GITHUB_STEP_SUMMARY`).
fn write_reports(verdicts: &[Verdict], junit_path: Option<&Path>, markdown_path: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = junit_path {
        write_atomic(path, &junit::render(verdicts))?;
    }
    if let Some(path) = markdown_path {
        let text = markdown::render(verdicts);
        write_atomic(path, &text)?;
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
            let summary = PathBuf::from(summary);
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .with_context(|| format!("cannot open $GITHUB_STEP_SUMMARY ({})", summary.display()))?;
            writeln!(file, "{text}").with_context(|| format!("cannot append to {}", summary.display()))?;
        }
    }
    Ok(())
}

/// A heading per task, then one verdict line per check.
fn render_lines(verdicts: &[Verdict]) -> String {
    let mut lines = Vec::new();
    for v in verdicts {
        let sim = if v.simulated { ", offline simulator" } else { "" };
        lines.push(format!("{}: {} (score {:.3}, {} examples{sim})", v.task, v.status.label(), v.score, v.n_scored));
        let width = v.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &v.checks {
            lines.push(format!("  {:<12} {:<width$}  {}", c.status.label(), c.name, c.message));
        }
    }
    lines.join("\n")
}

/// `evals/gsm8k.toml` → `gsm8k`.
fn task_stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "task".into(), |s| s.to_string_lossy().into_owned())
}
