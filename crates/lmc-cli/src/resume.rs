//! `lmc compile`'s run directory: checkpoints after each trial, `--resume`, Ctrl-C.
//!
//! Every compile keeps its LM requests (`requests.sqlite`) and its progress (`state.json`) in
//! a run directory ([`lmc::optimize::RunDir`]): `--run-dir DIR`, else
//! `runs/compile-<program>-<identity hash>` beside the LM cache (`~/.cache/lmc/runs/...` by
//! default; with `LMC_CACHE_PATH`, beside that file). Resuming reruns the compile against
//! it: completed requests are replayed, never sent again, so the artifact is the one an
//! uninterrupted run writes.
//!
//! - `--resume DIR` continues the compile in DIR: an error when DIR holds none, or holds a
//!   compile with other settings (the message lists what differs).
//! - Without it, a rerun of the same command continues the compile in its run directory when
//!   that one did not run to its end (interrupted, crashed, or stopped by a budget: a larger
//!   budget continues it); a compile that did run to its end is started over, as a rerun did
//!   before run directories. `--fresh` always starts over.
//! - Ctrl-C stops the compile at once (requests in flight are abandoned: they had not
//!   completed), prints how to resume and exits 130, as a shell reports a process that
//!   SIGINT stopped. `LMC_TEST_STOP_AFTER_TRIALS=N` (a test hook) stops it the same way after
//!   N trials, at a deterministic point.
//!
//! The run directory sits beside the LM cache rather than in the project's `runs/` because it
//! is a cache: machine-local, safe to delete, and isolated per `LMC_CACHE_PATH` (CI jobs and
//! tests).

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::task::Poll;

use indicatif::ProgressBar;
use lmc::data::dataset::Dataset;
use lmc::lm::cache::LmCache;
use lmc::metric::MetricSpec;
use lmc::optimize::{CompileCx, CompileIdentity, Optimizer, Resume, ResumeError, RunDir};
use lmc::sim::SimSettings;
use lmc::Sampling;
use serde_json::{json, Value};

use crate::cli::CompileArgs;
use crate::task::{file_hash, is_sim};

/// The exit code of an interrupted compile: 128 + SIGINT, what a shell reports for Ctrl-C.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Test hook, not a setting: `LMC_TEST_STOP_AFTER_TRIALS=N` stops the compile after N
/// trials, as Ctrl-C would but at a deterministic point (kill-and-resume tests).
const TEST_STOP_AFTER_TRIALS: &str = "LMC_TEST_STOP_AFTER_TRIALS";

/// What makes a compile the same compile (see [`CompileIdentity`]).
pub(crate) struct Inputs<'a> {
    /// The program as written ([`crate::loaded::LoadedProgram::hash`]).
    pub(crate) program_hash: String,
    /// The SHA-256 of the artifact the compile starts from (`--start-from`), if any.
    pub(crate) start_from: Option<String>,
    pub(crate) program_name: &'a str,
    pub(crate) train: &'a Dataset,
    pub(crate) val: Option<&'a Dataset>,
    pub(crate) metric: &'a MetricSpec,
    /// The optimizer as configured (its name and configuration).
    pub(crate) optimizer: &'a dyn Optimizer,
    /// What it ranks candidates by.
    pub(crate) objective: String,
    pub(crate) seed: u64,
    pub(crate) model: &'a str,
    pub(crate) sampling: &'a Sampling,
    pub(crate) teacher_lm: Option<&'a str>,
    pub(crate) judge_lm: Option<&'a str>,
    /// The simulator's settings and world files (they change its replies, which the
    /// requests' keys do not show).
    pub(crate) sim: &'a SimSettings,
    pub(crate) world_files: &'a [PathBuf],
}

fn data_part(data: Option<&Dataset>) -> String {
    data.map_or_else(|| "none".into(), |d| format!("{} ({} examples)", d.hash(), d.len()))
}

/// The compile's identity. Left out, because they do not change the result: concurrency,
/// `--out`, `--json`, the budget (a larger one continues a stopped compile), the LM cache's
/// settings, `--pick` (applied after the search).
pub(crate) fn identity(args: &CompileArgs, inputs: &Inputs<'_>) -> CompileIdentity {
    let mut identity = CompileIdentity::default()
        .with("program", inputs.program_hash.clone())
        .with("trainset", data_part(Some(inputs.train)))
        .with("valset", data_part(inputs.val))
        .with("metric", serde_json::to_string(inputs.metric).unwrap_or_default())
        .with("optimizer", inputs.optimizer.name())
        .with("config", inputs.optimizer.config().to_string())
        .with("objective", inputs.objective.clone())
        .with("seed", inputs.seed.to_string())
        .with("lm", inputs.model)
        .with("sampling", serde_json::to_string(inputs.sampling).unwrap_or_default());
    if let Some(hash) = &inputs.start_from {
        identity = identity.with("start_from", hash.clone());
    }
    for (part, model) in [("teacher_lm", inputs.teacher_lm), ("judge_lm", inputs.judge_lm)] {
        if let Some(model) = model {
            identity = identity.with(part, model);
        }
    }
    let models = [Some(inputs.model), inputs.teacher_lm, inputs.judge_lm];
    if models.into_iter().flatten().any(is_sim) {
        // --world, else the task's data (as `task_lm` builds the world).
        let files: Vec<&PathBuf> = match &args.lm.world {
            Some(world) => vec![world],
            None => inputs.world_files.iter().collect(),
        };
        let world: Vec<String> = files.iter().map(|f| file_hash(f)).collect();
        let lm = &args.lm;
        let sim = json!({
            "world": world,
            "settings": inputs.sim,
            "answer_field": lm.sim_answer_field,
            "answer_column": lm.sim_answer_column,
            "hints": lm.sim_hints,
            "seed": lm.sim_seed,
        });
        identity = identity.with("sim", sim.to_string());
    }
    identity
}

/// The default run directory: `runs/compile-<program>-<hash>` beside the LM cache.
fn default_dir(args: &CompileArgs, program: &str, identity: &CompileIdentity) -> anyhow::Result<PathBuf> {
    let (resolved, _) = args.lm.resolve()?;
    let cache = resolved.cache.path.value.unwrap_or_else(LmCache::default_path);
    let root = cache.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("runs");
    let name: String =
        program.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    Ok(root.join(format!("compile-{name}-{}", identity.short_hash())))
}

/// Opens the compile's run directory as the flags say, and says on stderr when it continues a
/// compile.
pub(crate) fn open(args: &CompileArgs, inputs: &Inputs<'_>) -> anyhow::Result<Arc<RunDir>> {
    let identity = identity(args, inputs);
    let (path, resume) = match (&args.resume, &args.run_dir) {
        (Some(dir), _) => (dir.clone(), Resume::Required),
        (None, Some(dir)) => (dir.clone(), if args.fresh { Resume::Fresh } else { Resume::Auto }),
        (None, None) => {
            (default_dir(args, inputs.program_name, &identity)?, if args.fresh { Resume::Fresh } else { Resume::Auto })
        }
    };
    let dir = match RunDir::open(&path, identity, resume) {
        Ok(dir) => dir,
        Err(e @ ResumeError::Mismatch { .. }) if resume == Resume::Required => anyhow::bail!(
            "{e}: give the settings of the compile it holds, or leave out --resume to start this one elsewhere"
        ),
        Err(e @ ResumeError::Mismatch { .. }) => {
            anyhow::bail!("{e}: choose another --run-dir, or pass --fresh to start over in it")
        }
        Err(e @ ResumeError::NothingToResume { .. }) => {
            anyhow::bail!("{e}: is it the run directory an interrupted `lmc compile` named?")
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(state) = dir.resumed() {
        let _ = writeln!(
            std::io::stderr().lock(),
            "resuming the compile in {}: {} trial(s) done, {} LM requests saved",
            dir.path().display(),
            state.trials,
            state.requests
        );
    }
    Ok(Arc::new(dir))
}

/// `cx` checkpointing into `dir` after each trial (and stopping where the test hook says).
pub(crate) fn with_hooks(cx: CompileCx, dir: &Arc<RunDir>) -> CompileCx {
    let cx = cx.with_trial_hook(dir.hook());
    match std::env::var(TEST_STOP_AFTER_TRIALS).ok().and_then(|n| n.trim().parse().ok()) {
        Some(n) => cx.with_stop_after_trials(n),
        None => cx,
    }
}

/// Handles Ctrl-C for the rest of the compile: saves the state, says how to resume and exits
/// 130 at once. The compile is not waited for: in-process work (the simulator) may not yield
/// for a while, and requests in flight have not completed anyway (they are sent again on
/// resuming); a reply being written at that moment is a crash for SQLite, which it survives.
/// The handler is installed before this returns.
pub(crate) fn exit_on_ctrl_c(runtime: &tokio::runtime::Runtime, dir: &Arc<RunDir>, bar: Option<ProgressBar>) {
    let mut signal = Box::pin(tokio::signal::ctrl_c());
    // The first poll installs the handler (nothing is pending yet, so it is not ready).
    let installed = runtime.block_on(std::future::poll_fn(|cx| Poll::Ready(signal.as_mut().poll(cx).is_pending())));
    if !installed {
        return; // No handler could be installed: Ctrl-C ends the process as it always did.
    }
    let dir = Arc::clone(dir);
    runtime.spawn(async move {
        if signal.await.is_ok() {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            say_interrupted(&dir);
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// Records the end of the compile (a failed write is a warning: the artifact is written).
pub(crate) fn finished(dir: &RunDir, stopped: Option<String>) {
    if let Err(e) = dir.finish(stopped) {
        crate::output::warn(&e.to_string());
    }
}

/// Says where the interrupted compile is kept and how to resume it; exit code 130.
pub(crate) fn interrupted(dir: &RunDir) -> ExitCode {
    say_interrupted(dir);
    ExitCode::from(EXIT_INTERRUPTED)
}

/// Saves the state and says on stderr where it is and how to resume.
fn say_interrupted(dir: &RunDir) {
    if let Err(e) = dir.save() {
        crate::output::warn(&e.to_string());
    }
    let state = dir.state();
    let mut err = std::io::stderr().lock();
    // Optimizers without trials (bootstrap, say) resume from their requests alone.
    let trials = if state.trials > 0 { format!(" after {} trial(s)", state.trials) } else { String::new() };
    let _ = writeln!(err, "interrupted{trials}; {} LM requests are saved in {}", state.requests, dir.path().display());
    let _ = writeln!(err, "resume with: {}", resume_command(dir.path()));
}

/// This command line with `--resume DIR` instead of `--run-dir` and `--fresh`.
fn resume_command(dir: &Path) -> String {
    let mut words = vec!["lmc".to_string()];
    let mut args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--resume" | "--run-dir" => {
                args.next();
            }
            "--fresh" => {}
            a if a.starts_with("--resume=") || a.starts_with("--run-dir=") => {}
            _ => words.push(quote(&arg)),
        }
    }
    words.push("--resume".into());
    words.push(quote(&dir.display().to_string()));
    words.join(" ")
}

/// `word` as a POSIX shell reads it back.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The report's run-directory line, put just above its last line (`wrote FILE`).
pub(crate) fn add_summary(text: &mut String, dir: &RunDir) {
    let line = match (dir.counts(), dir.resumed().is_some()) {
        (Ok(c), true) => format!(
            "resumed from {}: {} LM requests replayed from the run directory, {} new",
            dir.path().display(),
            c.replayed,
            c.sent
        ),
        (Ok(c), false) => format!("run directory: {} ({} LM requests saved)", dir.path().display(), c.saved),
        (Err(_), _) => format!("run directory: {}", dir.path().display()),
    };
    let at = text.rfind('\n').map_or(0, |i| i + 1);
    text.insert_str(at, &format!("{line}\n"));
}

/// The run directory in the JSON summary.
pub(crate) fn summary_json(dir: &RunDir) -> Value {
    let counts = dir.counts().unwrap_or_default();
    json!({
        "path": dir.path().display().to_string(),
        "resumed": dir.resumed().is_some(),
        "replayed": counts.replayed,
        "new": counts.sent,
        "saved": counts.saved,
    })
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(quote("evals/gsm8k.toml"), "evals/gsm8k.toml");
        assert_eq!(quote("--max-usd=2"), "--max-usd=2");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
