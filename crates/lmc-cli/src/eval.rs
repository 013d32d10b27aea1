//! `lmc eval`: a program over a dataset, scored, with cost and latency.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use lmc::data::dataset::{ColumnMap, DataSpec, Dataset};
use lmc::evaluate::{EvalReport, Evaluate, Provenance};
use lmc::metric::{self, MetricSpec};
use lmc::sim::SimSettings;
use lmc::spec::TaskSpec;
use lmc::RunCx;

use crate::cli::EvalArgs;
use crate::loaded::LoadedProgram;
use crate::output::{print_json, print_line, write_atomic};
use crate::task::{
    flag_metric, git_commit, install_artifact, parse_labels, runnable, task_lm, SpecTask, TaskLm, TaskWorld,
};

/// What to evaluate, from a spec or from flags.
struct Plan {
    program_path: PathBuf,
    data: DataSpec,
    split: String,
    columns: ColumnMap,
    metric: MetricSpec,
    sim: SimSettings,
    world_files: Vec<PathBuf>,
    spec: Option<TaskSpec>,
}

fn plan(args: &EvalArgs) -> anyhow::Result<Plan> {
    if let Some(path) = &args.spec {
        let spec = TaskSpec::load(path)?;
        let split = args.split.clone().or_else(|| spec.eval.split.clone()).unwrap_or_else(|| "test".into());
        let mut data = spec.split(&split)?.clone();
        if let Some(limit) = args.limit {
            data.limit = Some(limit);
        }
        let SpecTask { metric, columns, sim, world_files } =
            SpecTask::of(&spec, args.metric.as_ref(), args.field.as_ref(), &args.lm.sim_hints);
        return Ok(Plan {
            program_path: spec.program.clone(),
            data,
            split,
            columns,
            metric,
            sim,
            world_files,
            spec: Some(spec),
        });
    }
    let (Some(program), Some(dataset)) = (&args.program, &args.dataset) else {
        bail!("give a task spec (lmc eval evals/TASK.toml) or --program P --dataset D --metric M");
    };
    let labels = parse_labels(&args.labels);
    let metric = flag_metric(args.metric.as_deref().unwrap_or("exact_match"), args.field.as_ref())?;
    Ok(Plan {
        program_path: program.clone(),
        data: DataSpec { path: dataset.clone(), limit: args.limit, shuffle_seed: None, sample: None },
        split: "dataset".into(),
        columns: ColumnMap { inputs: args.inputs.clone(), labels },
        metric,
        sim: SimSettings::default(),
        world_files: vec![dataset.clone()],
        spec: None,
    })
}

pub(crate) fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let report = evaluate(args)?;
    if args.json {
        print_json(&report.summary_json())?;
    } else {
        print_line(&report.render())?;
        if let Some(dir) = &args.out {
            print_line(&format!("\nwrote {}/report.json and examples.jsonl", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the evaluation `args` describe and writes its run directory (`--out`) and export; what
/// `eval` and `gate` share. A progress bar shows unless `--json`.
pub(crate) fn evaluate(args: &EvalArgs) -> anyhow::Result<EvalReport> {
    let plan = plan(args)?;
    let mut program = LoadedProgram::load(&plan.program_path)?;
    // Before an artifact is installed: the program as written.
    let program_hash = program.hash();
    let mut columns = plan.columns.clone();
    if columns.inputs.is_empty() {
        columns.inputs = program.inputs().to_vec();
    }
    let dataset = Dataset::load(&plan.data, &columns)?;

    let task_lm = task_lm(
        &args.lm,
        plan.spec.as_ref(),
        TaskWorld {
            name: plan.spec.as_ref().map_or("world", |_| program.name()),
            files: plan.world_files.clone(),
            labels: &plan.columns.labels,
            sim: plan.sim.clone(),
            metric_field: &plan.metric.field,
        },
    )?;
    let TaskLm { factory, model, sampling } = task_lm;
    let lm = factory.build(&model)?;
    program.install_step_lms(&factory)?;
    let artifact_path = args
        .artifact
        .clone()
        .or_else(|| plan.spec.as_ref().and_then(|s| s.artifact.clone()).filter(|p| !args.no_artifact && p.exists()));
    let knn = match &artifact_path {
        Some(path) => install_artifact(&mut program, path)?,
        None => None,
    };
    let judge_lm = match &args.judge_lm {
        Some(m) => Some(factory.build(m).with_context(|| format!("--judge-lm {m}"))?),
        None => None,
    };
    let metric = metric::from_spec_with_judge(&plan.metric, judge_lm)?;
    let cx = RunCx::new().with_lm(lm).with_sampling(sampling.clone());

    let spec_eval = plan.spec.as_ref().map(|s| s.eval.clone()).unwrap_or_default();
    let concurrency = args.concurrency.or(spec_eval.concurrency).unwrap_or(8);
    let repeats = args.repeats.or(spec_eval.repeats).unwrap_or(1);
    let provenance = Provenance {
        program: program.name().to_string(),
        program_hash,
        artifact: artifact_path.as_ref().map(|p| p.display().to_string()),
        artifact_hash: artifact_path.as_deref().map(crate::task::file_hash),
        dataset: format!("{} ({})", plan.data.path.display(), plan.split),
        dataset_hash: dataset.hash().to_string(),
        metric: format!("{} on `{}`", plan.metric.name, plan.metric.field),
        sampling,
        price_table: lmc::lm::pricing::PriceTable::builtin().describe(),
        git_commit: git_commit(),
        ..Provenance::default()
    };
    let program = runnable(program, knn.as_ref(), &factory)?;
    let mut evaluate = Evaluate::new(program, Arc::from(metric))
        .with_cx(cx)
        .with_concurrency(concurrency)
        .with_repeats(repeats)
        .with_slices(if args.slice_by.is_empty() { spec_eval.slice_by.clone() } else { args.slice_by.clone() })
        .with_provenance(provenance);
    if let Some(n) = args.max_errors.or(spec_eval.max_errors) {
        evaluate = evaluate.with_max_errors(n);
    }
    if let Some(usd) = args.max_usd.or(spec_eval.max_usd) {
        evaluate = evaluate.with_max_usd(usd);
    }
    // Results stream to the run directory; an export without one, or a replay-only run (whose
    // misses are reported by predictor), streams to a scratch file.
    let replay_only = factory.cache().is_some_and(|(_, mode)| mode == lmc::config::CacheMode::ReplayOnly);
    let scratch = || Some(std::env::temp_dir().join(format!("lmc-eval-{}.jsonl", std::process::id())));
    let examples_file = match (&args.out, &args.export) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            Some(dir.join("examples.jsonl"))
        }
        (None, Some(_)) => scratch(),
        (None, None) if replay_only => scratch(),
        (None, None) => None,
    };
    if let Some(file) = &examples_file {
        evaluate = evaluate.with_examples_file(file);
    }
    let bar = progress_bar(dataset.len() as u64 * u64::from(repeats), args.json);
    if let Some(bar) = bar.clone() {
        evaluate = evaluate.with_progress(move |p| {
            bar.set_position(p.done as u64);
            bar.set_message(format!("score {:.3} · ${:.4} spent · {} errors", p.mean_score, p.spent_usd, p.errors));
        });
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let report = runtime.block_on(evaluate.run(dataset.examples()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(dir) = &args.out {
        write_atomic(&dir.join("report.json"), &serde_json::to_string_pretty(&report)?)?;
    }
    if let (Some(table), Some(file)) = (&args.export, &examples_file) {
        lmc::evaluate::export_results(file, table)?;
    }
    if let (true, Some(file)) = (replay_only, &examples_file) {
        let mut rerun = match &args.spec {
            Some(spec) => format!("lmc eval {} --split {}", spec.display(), plan.split),
            None => "lmc eval ...".to_string(),
        };
        for (flag, value) in [("--lm", &args.lm.lm), ("--base-url", &args.lm.base_url)] {
            if let Some(value) = value {
                rerun.push_str(&format!(" {flag} {value}"));
            }
        }
        if let Some(message) = crate::replay_misses::message(&crate::replay_misses::by_predictor(file), &rerun) {
            crate::output::warn(&message);
        }
    }
    if let (None, Some(file)) = (&args.out, &examples_file) {
        let _ = std::fs::remove_file(file);
    }
    Ok(report)
}

fn progress_bar(total: u64, quiet: bool) -> Option<ProgressBar> {
    if quiet {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} · {per_sec} · ETA {eta} · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
