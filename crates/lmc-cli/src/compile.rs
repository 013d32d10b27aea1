//! `lmc compile`: a program plus labeled data in, a compiled artifact out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use lmc::artifact::ArtifactProvenance;
use lmc::data::dataset::{ColumnMap, DataSpec, Dataset};
use lmc::lm::pricing::PriceTable;
use lmc::lm::{LmFactory, Usage};
use lmc::metric::{self, MetricSpec};
use lmc::optimize::{
    self, Auto, BootstrapFewShot, Budget, CompileCx, CompileOutcome, Copro, Gepa, KnnFewShot, KnnMethod,
    LabeledFewShot, MiproV2, Optimizer, RandomSearch, Simba,
};
use lmc::sim::SimSettings;
use lmc::spec::{SpecCompile, TaskSpec};
use lmc::{Module, Overlay, PredictorOverlay, RunCx};
use serde_json::json;

use crate::cli::{AutoArg, CompileArgs, OptimizerArg};
use crate::loaded::LoadedProgram;
use crate::output::{print_json, print_line};
use crate::task::{flag_metric, is_sim, parse_labels, task_lm, SpecTask, TaskWorld};

/// Output tokens assumed per LM call in a dry run's cost estimate.
const ESTIMATED_OUTPUT_TOKENS: u64 = 200;

/// What to compile, from a spec or from flags.
struct Plan {
    program_path: PathBuf,
    train: DataSpec,
    val: Option<DataSpec>,
    columns: ColumnMap,
    metric: MetricSpec,
    sim: SimSettings,
    world_files: Vec<PathBuf>,
    settings: SpecCompile,
    out: Option<PathBuf>,
    spec: Option<TaskSpec>,
}

fn plan(args: &CompileArgs) -> anyhow::Result<Plan> {
    if let Some(path) = &args.spec {
        let spec = TaskSpec::load(path)?;
        let train = spec.split("train")?.clone();
        let val = match spec.compile.valset.as_deref() {
            Some(split) => Some(spec.split(split)?.clone()),
            None => spec.data.dev.clone(),
        };
        let val = match &args.valset {
            Some(path) => Some(DataSpec::new(path.clone())),
            None => val,
        };
        let SpecTask { metric, columns, sim, world_files } =
            SpecTask::of(&spec, args.metric.as_ref(), args.field.as_ref(), &args.lm.sim_hints);
        return Ok(Plan {
            program_path: spec.program.clone(),
            train,
            val,
            columns,
            metric,
            sim,
            world_files,
            settings: spec.compile.clone(),
            out: args.out.clone().or_else(|| spec.artifact.clone()),
            spec: Some(spec),
        });
    }
    let (Some(program), Some(trainset)) = (&args.program, &args.trainset) else {
        bail!("give a task spec (lmc compile evals/TASK.toml) or --program P --trainset D --metric M --out A");
    };
    let labels = parse_labels(&args.labels);
    let Some(metric_name) = &args.metric else {
        bail!("say how to score: --metric NAME (exact_match, f1, contains, numeric, ...) and --field FIELD");
    };
    let metric = flag_metric(metric_name, args.field.as_ref())?;
    let mut world_files = vec![trainset.clone()];
    world_files.extend(args.valset.clone());
    Ok(Plan {
        program_path: program.clone(),
        train: DataSpec::new(trainset.clone()),
        val: args.valset.clone().map(DataSpec::new),
        columns: ColumnMap { inputs: args.inputs.clone(), labels },
        metric,
        sim: SimSettings { hints: args.lm.sim_hints.clone(), ..SimSettings::default() },
        world_files,
        settings: SpecCompile::default(),
        out: args.out.clone(),
        spec: None,
    })
}

/// The optimizer's kind: the flag, else the spec's `[compile] optimizer`, else bootstrap.
fn optimizer_kind(args: &CompileArgs, settings: &SpecCompile, spec: Option<&TaskSpec>) -> anyhow::Result<OptimizerArg> {
    Ok(match (args.optimizer, settings.optimizer.as_deref()) {
        (Some(kind), _) => kind,
        (None, None | Some("bootstrap")) => OptimizerArg::Bootstrap,
        (None, Some("labeled")) => OptimizerArg::Labeled,
        (None, Some("random-search")) => OptimizerArg::RandomSearch,
        (None, Some("knn")) => OptimizerArg::Knn,
        (None, Some("mipro")) => OptimizerArg::Mipro,
        (None, Some("gepa")) => OptimizerArg::Gepa,
        (None, Some("simba")) => OptimizerArg::Simba,
        (None, Some("copro")) => OptimizerArg::Copro,
        (None, Some(other)) => {
            let file = spec.map(|s| format!("{}: ", s.path.display())).unwrap_or_default();
            bail!(
                "{file}[compile] optimizer = \"{other}\" is not known; use labeled, bootstrap, random-search, knn, mipro, gepa, simba or copro"
            )
        }
    })
}

/// The optimizer with flags over the spec's `[compile]` over the defaults.
fn optimizer(
    args: &CompileArgs,
    kind: OptimizerArg,
    settings: &SpecCompile,
    factory: Option<&LmFactory>,
    description: &str,
) -> anyhow::Result<Box<dyn Optimizer>> {
    let max_bootstrapped_demos = args.max_bootstrapped_demos.or(settings.max_bootstrapped_demos).unwrap_or(4);
    let max_labeled_demos = args.max_labeled_demos.or(settings.max_labeled_demos).unwrap_or(16);
    let max_rounds = args.max_rounds.or(settings.max_rounds).unwrap_or(1);
    let metric_threshold = args.metric_threshold.or(settings.metric_threshold);
    let k = args.k.or(settings.k);
    Ok(match kind {
        OptimizerArg::Labeled => Box::new(LabeledFewShot { k: k.unwrap_or(16) }),
        OptimizerArg::Bootstrap => {
            Box::new(BootstrapFewShot { max_bootstrapped_demos, max_labeled_demos, max_rounds, metric_threshold })
        }
        OptimizerArg::RandomSearch => Box::new(RandomSearch {
            num_candidate_programs: args.num_candidates.or(settings.num_candidates).unwrap_or(16),
            max_bootstrapped_demos,
            max_labeled_demos,
            max_rounds,
            metric_threshold,
            stop_at_score: None,
        }),
        OptimizerArg::Knn => {
            let method = match (args.embedder.as_deref().or(settings.embedder.as_deref()), factory) {
                (None | Some("bm25"), _) => KnnMethod::Bm25,
                (Some(model), Some(factory)) => KnnMethod::Embedder(
                    factory.build_embedder(model, None).with_context(|| format!("--embedder {model}"))?,
                ),
                // A dry run builds no clients.
                (Some(_), None) => KnnMethod::Bm25,
            };
            Box::new(KnnFewShot { k: k.unwrap_or(3), method })
        }
        OptimizerArg::Mipro => Box::new(mipro(args, settings, factory, description)?),
        OptimizerArg::Gepa => Box::new(gepa(args, settings, factory)?),
        OptimizerArg::Simba => {
            let defaults = Simba::default();
            Box::new(Simba {
                bsize: args.minibatch_size.or(settings.minibatch_size).unwrap_or(defaults.bsize),
                num_candidates: args.num_candidates.or(settings.num_candidates).unwrap_or(defaults.num_candidates),
                max_steps: args.max_steps.or(settings.max_steps).unwrap_or(defaults.max_steps),
                max_demos: args
                    .max_bootstrapped_demos
                    .or(settings.max_bootstrapped_demos)
                    .unwrap_or(defaults.max_demos),
                prompt_lm: prompt_lm(args, settings, factory)?,
                ..defaults
            })
        }
        OptimizerArg::Copro => {
            let defaults = Copro::default();
            Box::new(Copro {
                breadth: args.breadth.or(settings.breadth).unwrap_or(defaults.breadth),
                depth: args.depth.or(settings.depth).unwrap_or(defaults.depth),
                prompt_lm: prompt_lm(args, settings, factory)?,
                ..defaults
            })
        }
    })
}

/// `--prompt-lm` over the spec's `prompt_lm`.
fn prompt_lm(
    args: &CompileArgs,
    settings: &SpecCompile,
    factory: Option<&LmFactory>,
) -> anyhow::Result<Option<Arc<dyn lmc::Lm>>> {
    named_lm("--prompt-lm", args.prompt_lm.as_ref().or(settings.prompt_lm.as_ref()), factory)
}

/// `--auto` over the spec's `auto` over light; `off` is `None`.
fn auto(args: &CompileArgs, settings: &SpecCompile) -> anyhow::Result<Option<Auto>> {
    Ok(match (args.auto, settings.auto.as_deref()) {
        (Some(AutoArg::Off), _) | (None, Some("off")) => None,
        (Some(AutoArg::Light), _) => Some(Auto::Light),
        (Some(AutoArg::Medium), _) => Some(Auto::Medium),
        (Some(AutoArg::Heavy), _) => Some(Auto::Heavy),
        (None, None) => Some(Auto::Light),
        (None, Some(name)) => Some(name.parse::<Auto>().map_err(|e| anyhow::anyhow!("[compile] auto: {e} or off"))?),
    })
}

/// An LM named by a flag or spec key, built by the factory (none in a dry run).
fn named_lm(
    flag: &str,
    model: Option<&String>,
    factory: Option<&LmFactory>,
) -> anyhow::Result<Option<Arc<dyn lmc::Lm>>> {
    match (model, factory) {
        (Some(model), Some(factory)) => Ok(Some(factory.build(model).with_context(|| format!("{flag} {model}"))?)),
        _ => Ok(None),
    }
}

/// GEPA with flags over the spec's `[compile]` over DSPy's defaults.
fn gepa(args: &CompileArgs, settings: &SpecCompile, factory: Option<&LmFactory>) -> anyhow::Result<Gepa> {
    let defaults = Gepa::default();
    let max_metric_calls = args.max_metric_calls.or(settings.max_metric_calls);
    let auto = auto(args, settings)?;
    if max_metric_calls.is_none() && auto.is_none() {
        bail!("gepa needs a budget: --auto light|medium|heavy or --max-metric-calls N");
    }
    Ok(Gepa {
        auto,
        max_metric_calls,
        reflection_minibatch_size: args
            .minibatch_size
            .or(settings.minibatch_size)
            .unwrap_or(defaults.reflection_minibatch_size),
        use_merge: !args.no_merge && settings.use_merge.unwrap_or(defaults.use_merge),
        reflection_lm: named_lm(
            "--reflection-lm",
            args.reflection_lm.as_ref().or(settings.reflection_lm.as_ref()),
            factory,
        )?,
        ..defaults
    })
}

/// MIPROv2 with flags over the spec's `[compile]` over DSPy's defaults.
fn mipro(
    args: &CompileArgs,
    settings: &SpecCompile,
    factory: Option<&LmFactory>,
    description: &str,
) -> anyhow::Result<MiproV2> {
    let auto = auto(args, settings)?;
    let defaults = MiproV2::default();
    let prompt_lm = prompt_lm(args, settings, factory)?;
    Ok(MiproV2 {
        auto,
        num_candidates: args.num_candidates.or(settings.num_candidates).unwrap_or(defaults.num_candidates),
        num_trials: args.num_trials.or(settings.num_trials),
        max_bootstrapped_demos: args.max_bootstrapped_demos.or(settings.max_bootstrapped_demos).unwrap_or(4),
        max_labeled_demos: args.max_labeled_demos.or(settings.max_labeled_demos).unwrap_or(4),
        max_rounds: args.max_rounds.or(settings.max_rounds).unwrap_or(1),
        metric_threshold: args.metric_threshold.or(settings.metric_threshold),
        minibatch_size: args.minibatch_size.or(settings.minibatch_size).unwrap_or(defaults.minibatch_size),
        program_description: description.to_string(),
        prompt_lm,
        ..defaults
    })
}

fn load(spec: &DataSpec, columns: &ColumnMap, limit: Option<usize>) -> anyhow::Result<Dataset> {
    let mut spec = spec.clone();
    if let Some(n) = limit {
        spec.limit = Some(n);
    }
    Ok(Dataset::load(&spec, columns)?)
}

/// Said when there is nowhere to write the artifact.
const NO_OUT: &str = "say where to write the artifact: --out FILE (or `artifact = \"...\"` in the spec)";

pub(crate) fn compile(args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(args)?;
    // Settings mistakes first, before data is read or an LM is configured.
    let kind = optimizer_kind(args, &plan.settings, plan.spec.as_ref())?;
    let objective = crate::objective::objective(args, &plan.settings, plan.spec.as_ref())?;
    if plan.out.is_none() && !args.dry_run {
        bail!(NO_OUT);
    }
    let mut program = LoadedProgram::load(&plan.program_path)?;
    // Before an artifact is installed: the program as written.
    let program_hash = program.hash();
    // Starting from an artifact: its instructions and demos become the program's own (and
    // part of the compile's identity, so a run directory never resumes from another start).
    let start_from = args.start_from.clone().or_else(|| plan.settings.start_from.clone());
    if let Some(path) = &start_from {
        if crate::task::install_artifact(&mut program, path)?.is_some() {
            bail!("{}: a knn artifact picks demos per input; start from a fixed-demo artifact instead", path.display());
        }
    }
    let mut columns = plan.columns.clone();
    if columns.inputs.is_empty() {
        columns.inputs = program.inputs().to_vec();
    }
    let train = load(&plan.train, &columns, args.limit_train)?;
    let val = plan.val.as_ref().map(|v| load(v, &columns, args.limit_val)).transpose()?;
    if train.is_empty() {
        bail!("the trainset {} has no examples", train.source().display());
    }
    let settings = &plan.settings;
    let seed = args.seed.or(settings.seed).unwrap_or(0);
    let concurrency = args.concurrency.or(settings.concurrency).unwrap_or(8).max(1);
    let budget = Budget {
        max_calls: args.max_calls.or(settings.max_calls),
        max_tokens: args.max_total_tokens.or(settings.max_tokens),
        max_usd: args.max_usd.or(settings.max_usd),
    };

    if args.dry_run {
        let (resolved, _) = args.lm.resolve_with_spec(None)?;
        let model = args
            .lm
            .lm
            .clone()
            .or_else(|| plan.spec.as_ref().and_then(|s| s.lm.model.clone()))
            .or_else(|| resolved.lm.model.value.clone())
            .unwrap_or_else(|| "(no LM set: pass --lm)".into());
        let optimizer = optimizer(args, kind, settings, None, program.description())?;
        return dry_run(args, &program, optimizer.as_ref(), &train, val.as_ref(), &model, budget);
    }

    let world = TaskWorld {
        name: program.name(),
        files: plan.world_files.clone(),
        labels: &plan.columns.labels,
        sim: plan.sim.clone(),
        metric_field: &plan.metric.field,
    };
    let mut task = task_lm(&args.lm, plan.spec.as_ref(), world)?;
    // The run directory (checkpoints, --resume): every LM built below answers through it.
    let planned = optimizer(args, kind, &plan.settings, Some(&task.factory), program.description())?;
    let run_dir = crate::resume::open(
        args,
        &crate::resume::Inputs {
            program_hash,
            start_from: start_from.as_deref().map(crate::task::file_hash),
            program_name: program.name(),
            train: &train,
            val: val.as_ref(),
            metric: &plan.metric,
            optimizer: planned.as_ref(),
            objective: format!("{objective:?}"),
            seed,
            model: &task.model,
            sampling: &task.sampling,
            teacher_lm: args.teacher_lm.as_deref().or(plan.settings.teacher_lm.as_deref()),
            judge_lm: args.judge_lm.as_deref(),
            sim: &plan.sim,
            world_files: &plan.world_files,
        },
    )?;
    task.factory = task.factory.clone().with_run_cache(run_dir.cache().clone());
    let lm = task.factory.build(&task.model)?;
    program.install_step_lms(&task.factory)?;
    let teacher_model = args.teacher_lm.clone().or_else(|| settings.teacher_lm.clone());
    let judge_lm = match &args.judge_lm {
        Some(m) => Some(task.factory.build(m).with_context(|| format!("--judge-lm {m}"))?),
        None => None,
    };
    let metric = metric::from_spec_with_judge(&plan.metric, judge_lm)?;
    let optimizer = optimizer(args, kind, settings, Some(&task.factory), program.description())?;
    let Some(out) = plan.out.clone() else { bail!(NO_OUT) };

    let name = program.name().to_string();
    let program: Arc<dyn Module> = Arc::new(program);
    let mut cx = CompileCx::new(program.clone(), Arc::from(metric), train)
        .with_run_cx(RunCx::new().with_lm(lm).with_sampling(task.sampling.clone()))
        .with_concurrency(concurrency)
        .with_seed(seed)
        .with_objective(objective)
        .with_budget(budget);
    if let Some(val) = val {
        cx = cx.with_valset(val);
    }
    if let Some(model) = &teacher_model {
        cx = cx.with_teacher_lm(task.factory.build(model).with_context(|| format!("--teacher-lm {model}"))?);
    }
    cx = crate::resume::with_hooks(cx, &run_dir);
    let bar = (!args.json).then(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    if let Some(bar) = bar.clone() {
        cx = cx.with_progress(move |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("{} · {} calls · ${:.4}", p.phase, p.calls, p.usd));
        });
    }
    let provenance = ArtifactProvenance {
        metric: format!("{} on `{}`", plan.metric.name, plan.metric.field),
        lm: task.model.clone(),
        teacher_lm: teacher_model,
        start_from: start_from.as_ref().map(|p| format!("{} (sha256 {})", p.display(), crate::task::file_hash(p))),
        ..ArtifactProvenance::default()
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    crate::resume::exit_on_ctrl_c(&runtime, &run_dir, bar.clone());
    let compiled = runtime.block_on(optimize::compile(&cx, optimizer.as_ref(), &name, provenance));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut outcome = match compiled {
        Err(optimize::CompileError::Interrupted { .. }) => return Ok(crate::resume::interrupted(&run_dir)),
        result => result?,
    };
    if let Some(n) = args.pick {
        crate::objective::pick(&mut outcome, n, program.as_ref())?;
    }
    outcome.artifact.save(&out)?;
    crate::resume::finished(&run_dir, outcome.stopped.clone());
    if args.json {
        let mut summary = summary_json(&outcome, &out, optimizer.as_ref());
        summary["run_dir"] = crate::resume::summary_json(&run_dir);
        print_json(&summary)?;
    } else {
        let mut text = render(&outcome, &out, optimizer.as_ref(), &cx);
        crate::resume::add_summary(&mut text, &run_dir);
        print_line(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_json(outcome: &CompileOutcome, out: &std::path::Path, optimizer: &dyn Optimizer) -> serde_json::Value {
    let score = |s: &Option<optimize::CandidateScore>| {
        s.as_ref().map(|s| {
            json!({"score": s.score, "cost_per_example_usd": s.cost_per_example, "calls_per_example": s.calls_per_example})
        })
    };
    json!({
        "artifact": out.display().to_string(),
        "optimizer": optimizer.name(),
        "config": optimizer.config(),
        "seed": outcome.artifact.provenance.seed,
        "baseline": score(&outcome.baseline),
        "compiled": score(&outcome.compiled),
        "leaderboard": outcome.leaderboard,
        "objective": outcome.artifact.provenance.objective.unwrap_or_default(),
        "pareto": crate::objective::front_json(outcome),
        "picked": outcome.artifact.provenance.picked,
        "compile_cost": outcome.cost,
        "stopped": outcome.stopped,
        "simulated": outcome.artifact.provenance.simulated,
    })
}

fn usd(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("${v:.6}"))
}

fn render(outcome: &CompileOutcome, out: &std::path::Path, optimizer: &dyn Optimizer, cx: &CompileCx) -> String {
    let p = &outcome.artifact.provenance;
    let mut lines = vec![format!(
        "compiled {} with {} (seed {}) · {} train / {} validation examples{}",
        outcome.artifact.program,
        optimizer.name(),
        p.seed,
        p.trainset.n,
        cx.scoring_set().len(),
        if cx.valset().is_none() { " (the trainset)" } else { "" }
    )];
    if let Some(start) = &p.start_from {
        lines.push(format!("  started from {start}: the program as written has its instructions and demos"));
    }
    if p.simulated {
        lines.push("  (the offline simulator answered: scores say nothing about a real model)".into());
    }
    lines.push(String::new());
    lines.push(format!("  {:<28} {:>7} {:>13} {:>14}", "validation", "score", "$/example", "calls/example"));
    for (label, score) in [("program as written", &outcome.baseline), ("compiled", &outcome.compiled)] {
        match score {
            Some(s) => lines.push(format!(
                "  {:<28} {:>7.3} {:>13} {:>14.2}",
                label,
                s.score,
                usd(s.cost_per_example),
                s.calls_per_example
            )),
            None => lines.push(format!("  {label:<28} {:>7}", "n/a")),
        }
    }
    if !outcome.leaderboard.is_empty() {
        lines.push(String::new());
        lines.push(format!("  {:<34} {:>7} {:>13} {:>8}  demos", "candidate", "score", "$/example", "calls"));
        for entry in &outcome.leaderboard {
            lines.push(format!(
                "  {:<34} {:>7.3} {:>13} {:>8.2}  {}",
                entry.label,
                entry.score,
                usd(entry.cost_per_example),
                entry.calls_per_example,
                entry.demos
            ));
        }
    }
    lines.extend(crate::objective::front_lines(outcome));
    let cost = &outcome.cost;
    lines.push(String::new());
    lines.push(format!(
        "compile cost: {} LM calls · {} input + {} output tokens · {}",
        cost.calls,
        cost.input_tokens,
        cost.output_tokens,
        cost.usd.map_or_else(|| "n/a (a model has no price)".into(), |v| format!("${v:.4}"))
    ));
    if let Some(proposer) = &cost.proposer {
        lines.push(format!(
            "  of which proposing instructions (prompt LM): {} calls · {} input + {} output tokens · {}",
            proposer.calls,
            proposer.input_tokens,
            proposer.output_tokens,
            proposer.usd.map_or_else(|| "n/a".into(), |v| format!("${v:.4}"))
        ));
    }
    if let Some(reason) = &outcome.stopped {
        lines.push(format!(
            "stopped early: {reason}; the artifact holds what the optimizer had then, not validated \
             (raise the budget to compile fully)"
        ));
    }
    lines.push(format!("wrote {}", out.display()));
    lines.join("\n")
}

/// Prints what a compile would run and roughly cost, spending nothing.
fn dry_run(
    args: &CompileArgs,
    program: &LoadedProgram,
    optimizer: &dyn Optimizer,
    train: &Dataset,
    val: Option<&Dataset>,
    model: &str,
    budget: Budget,
) -> anyhow::Result<ExitCode> {
    let scoring = val.unwrap_or(train);
    let mut plan = optimizer.plan(train.len(), scoring.len());
    if let (Some(model), "knn") = (args.embedder.as_ref(), optimizer.name()) {
        plan.phases =
            vec![format!("embed {} training examples with {model}, then one embedding per input", train.len())];
    }
    let final_runs = 2 * scoring.len() as u64;
    let demos = match optimizer.config().get("max_labeled_demos").or(optimizer.config().get("k")) {
        Some(v) => v.as_u64().unwrap_or(0) as usize,
        None => 0,
    };
    let calls_per_run = program.predictors().len() as u64;
    let with_demos = estimate_tokens(program, train, demos);
    let zero_shot = estimate_tokens(program, train, 0);
    let optimizer_tokens = plan.max_program_runs * with_demos;
    let final_tokens = scoring.len() as u64 * (zero_shot + with_demos);
    let input_tokens = optimizer_tokens + final_tokens;
    let calls = (plan.max_program_runs + final_runs) * calls_per_run;
    let output_tokens = calls * ESTIMATED_OUTPUT_TOKENS;
    let prices = match &args.lm.prices {
        Some(path) => PriceTable::builtin().with_overrides(&PriceTable::load(path)?),
        None => PriceTable::builtin().clone(),
    };
    let usage = Usage { input_tokens, output_tokens, ..Usage::default() };
    let cost = if is_sim(model) {
        Some(0.0)
    } else {
        LmFactory::split_model(model).ok().and_then(|(provider, name)| prices.cost(provider, name, &usage))
    };
    let value = json!({
        "optimizer": optimizer.name(),
        "config": optimizer.config(),
        "lm": model,
        "trainset": train.len(),
        "scoring_set": scoring.len(),
        "phases": plan.phases,
        "max_program_runs": plan.max_program_runs + final_runs,
        "estimated_calls": calls,
        "estimated_input_tokens": input_tokens,
        "estimated_output_tokens": output_tokens,
        "estimated_usd": cost,
        "budget": budget,
    });
    if args.json {
        print_json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = vec![format!(
        "dry run: {} on {} train / {} validation examples with {model} (nothing is called)",
        optimizer.name(),
        train.len(),
        scoring.len()
    )];
    lines.extend(plan.phases.iter().map(|p| format!("  {p}")));
    lines.push(format!("  final scoring: {final_runs} runs (the program as written and the compiled one)"));
    lines.push(format!(
        "at most {} program runs · about {calls} LM calls · {input_tokens} input + {output_tokens} output tokens",
        plan.max_program_runs + final_runs
    ));
    lines.push(match cost {
        Some(c) => format!("estimated cost: ${c:.4} (at most; cached replies and early stops cost less)"),
        None if model.starts_with('(') => format!("estimated cost: unknown: {model}"),
        None => format!("estimated cost: unknown: `{model}` is not in the price table (add it with --prices FILE)"),
    });
    lines.push(format!(
        "(input tokens ≈ characters/4 of each predictor's prompt for the first training example; \
         {ESTIMATED_OUTPUT_TOKENS} output tokens per call is a guess)"
    ));
    if budget != Budget::default() {
        lines.push(format!("budget: {}", serde_json::to_string(&budget)?));
    }
    print_line(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Input tokens of one program run with `demos` training examples as every predictor's demos:
/// characters/4 of the prompts for the first training example.
fn estimate_tokens(program: &LoadedProgram, train: &Dataset, demos: usize) -> u64 {
    let Some(first) = train.examples().first() else { return 0 };
    let demo_set: Vec<_> = train.examples().iter().take(demos).cloned().collect();
    let overlay = Overlay {
        predictors: program
            .predictors()
            .iter()
            .map(|p| (p.name().to_string(), PredictorOverlay { instructions: None, demos: Some(demo_set.clone()) }))
            .collect(),
    };
    program
        .predictors()
        .iter()
        .map(|p| {
            let prompt = p.render(Some(&overlay), first.fields());
            prompt.messages.iter().map(|m| m.content.chars().count() as u64).sum::<u64>() / 4
        })
        .sum()
}
