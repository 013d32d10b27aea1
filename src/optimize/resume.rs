//! Checkpoints and resuming: trial hooks, a compile's identity, and its run directory
//! ([`RunDir`], whose documentation tells how resuming works).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::budget::round_usd;
use super::{CompileCx, CompileError, Optimizer};
use crate::artifact::{ArtifactProvenance, ProgramArtifact};
use crate::data::dataset::Dataset;
use crate::lm::cache::{CacheMode, CachedLm, LmCache};
use crate::lm::{Lm, LmError};

/// The run directory's progress file.
pub const STATE_FILE: &str = "state.json";

/// The run directory's LM requests (an [`LmCache`] database).
pub const REQUESTS_FILE: &str = "requests.sqlite";

/// The version of `state.json`'s layout.
pub const STATE_VERSION: u32 = 1;

/// One finished trial, as trial hooks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialEvent {
    /// Trials finished so far in this compile, this one included (1 for the first).
    pub trial: usize,
    /// The best value so far, as the optimizer ranks candidates (the mean score under the
    /// default objective); `None` when it has none yet.
    pub best: Option<f64>,
    /// LM calls so far in the whole compile (replayed and cached ones included).
    pub calls: u64,
    /// Dollars so far, by usage.
    pub usd: f64,
}

/// A trial hook: `Break` stops the compile after this trial.
pub(super) type TrialHook = Arc<dyn Fn(&TrialEvent) -> ControlFlow<()> + Send + Sync>;

impl CompileCx {
    /// Calls `hook` after each trial an optimizer finishes (see [`trial_done`](Self::trial_done));
    /// when it returns `ControlFlow::Break`, the compile stops there with
    /// [`CompileError::Interrupted`]. Hooks add up: each one sees every trial, in the order
    /// they were added, and any one of them can stop the compile.
    pub fn with_trial_hook(mut self, hook: impl Fn(&TrialEvent) -> ControlFlow<()> + Send + Sync + 'static) -> Self {
        self.trial_hooks.push(Arc::new(hook));
        self
    }

    /// Stops the compile with [`CompileError::Interrupted`] once `n` trials are done: a
    /// deterministic kill point for tests of resuming.
    pub fn with_stop_after_trials(self, n: usize) -> Self {
        self.with_trial_hook(move |e| if e.trial >= n { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    }

    /// Marks the end of a trial: optimizers call it after each candidate they have scored
    /// (RandomSearch after each candidate, MIPROv2 after each trial), with `trial` the number
    /// of trials done so far (1 after the first) and `best` the best value so far. Every
    /// trial hook sees it; `Err(CompileError::Interrupted)` when one says stop, which the
    /// optimizer returns at once (`?`). Call it only where nothing is in flight, so that the
    /// requests made before a stop do not depend on timing.
    pub fn trial_done(&self, trial: usize, best: Option<f64>) -> Result<(), CompileError> {
        if self.trial_hooks.is_empty() {
            return Ok(());
        }
        let event = TrialEvent { trial, best, calls: self.meter().totals().calls, usd: round_usd(self.meter().usd()) };
        let mut stop = false;
        for hook in &self.trial_hooks {
            stop |= hook(&event).is_break();
        }
        if stop {
            Err(CompileError::Interrupted { trials: trial })
        } else {
            Ok(())
        }
    }
}

/// What makes two compiles the same compile: named parts (the optimizer and its
/// configuration, the seed, the data's hashes, the program, the metric, the LMs...), each a
/// string. A run directory is resumed only by a compile with the same identity.
///
/// Its [`hash`](Self::hash) is the hex SHA-256 of the parts' JSON (in name order). What does
/// not change the result (concurrency, where the artifact goes, the budget: raising a budget
/// and resuming continues past the stop) belongs in no part.
///
/// ```
/// use lmc::optimize::CompileIdentity;
///
/// let then = CompileIdentity::default().with("seed", "0").with("lm", "openai/gpt-4o-mini");
/// let now = CompileIdentity::default().with("seed", "1").with("lm", "openai/gpt-4o-mini");
/// assert_ne!(then.hash(), now.hash());
/// assert_eq!(then.differences(&now), ["seed: 0 then, 1 now"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CompileIdentity {
    parts: BTreeMap<String, String>,
}

impl CompileIdentity {
    /// The identity of compiling `cx` with `optimizer`, as far as they tell: `optimizer`,
    /// `config`, `seed`, `trainset` and `valset` (content hashes), `program` (the hash of
    /// its predictors: signatures, instructions, demos, adapters, LMs), `metric` and `lm` (the
    /// run context's LM). Add what they cannot tell with [`with`](Self::with): the
    /// simulator's settings, a judge's or teacher's model.
    pub fn of(optimizer: &dyn Optimizer, cx: &CompileCx) -> Self {
        let program =
            ProgramArtifact::from_program("", cx.program().as_ref(), None, ArtifactProvenance::default()).to_json();
        let mut identity = CompileIdentity::default()
            .with("optimizer", optimizer.name())
            .with("config", optimizer.config().to_string())
            .with("seed", cx.seed().to_string())
            .with("trainset", data_part(Some(cx.trainset())))
            .with("valset", data_part(cx.valset()))
            .with("program", hex(&Sha256::digest(program.as_bytes())))
            .with("metric", cx.metric().name());
        if let Some(lm) = cx.run_cx().lm() {
            identity = identity.with("lm", lm.identity().to_string());
        }
        identity
    }

    /// The same identity with `part` set to `value`.
    pub fn with(mut self, part: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.insert(part.into(), value.into());
        self
    }

    /// The parts, by name.
    pub fn parts(&self) -> &BTreeMap<String, String> {
        &self.parts
    }

    /// The hex SHA-256 of the parts' JSON: 64 lowercase hex digits.
    pub fn hash(&self) -> String {
        // A map of strings always serializes.
        let json = serde_json::to_vec(&self.parts).unwrap_or_default();
        hex(&Sha256::digest(&json))
    }

    /// The first 12 hex digits of the [`hash`](Self::hash), for directory names.
    pub fn short_hash(&self) -> String {
        self.hash()[..12].to_string()
    }

    /// What differs from `now`, one line per part, e.g. `seed: 0 then, 1 now`; a JSON
    /// object's parts (an optimizer's configuration) are compared key by key. Empty when the
    /// identities are the same.
    pub fn differences(&self, now: &CompileIdentity) -> Vec<String> {
        let mut out = Vec::new();
        let names: std::collections::BTreeSet<&String> = self.parts.keys().chain(now.parts.keys()).collect();
        for name in names {
            let (a, b) = (self.parts.get(name), now.parts.get(name));
            if a == b {
                continue;
            }
            let objects = |s: Option<&String>| match s.map(|s| serde_json::from_str::<Value>(s)) {
                Some(Ok(Value::Object(map))) => Some(map),
                _ => None,
            };
            if let (Some(x), Some(y)) = (objects(a), objects(b)) {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for key in keys.into_iter().filter(|k| x.get(*k) != y.get(*k)) {
                    let show = |v: Option<&Value>| v.map_or_else(|| "(unset)".to_string(), Value::to_string);
                    out.push(format!("{name}.{key}: {} then, {} now", show(x.get(key)), show(y.get(key))));
                }
                continue;
            }
            let show = |v: Option<&String>| v.map_or_else(|| "(unset)".to_string(), |v| shorten(v));
            out.push(format!("{name}: {} then, {} now", show(a), show(b)));
        }
        out
    }
}

/// A dataset as an identity part: its content hash and size, or `none`.
fn data_part(data: Option<&Dataset>) -> String {
    data.map_or_else(|| "none".to_string(), |d| format!("{} ({} examples)", d.hash(), d.len()))
}

/// A long value cut for a message (hashes keep their first 12 digits).
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        return value.to_string();
    }
    let cut: String = value.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One trial in a run directory's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Its number (1 for the first).
    pub trial: usize,
    /// The best value after it.
    pub best: Option<f64>,
    /// LM calls after it.
    pub calls: u64,
}

/// `state.json`: what a run directory says about its compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The identity's hash.
    pub identity_hash: String,
    /// The compile's identity.
    pub identity: CompileIdentity,
    /// Trials done (the furthest any run of this compile got).
    pub trials: usize,
    /// The best value after the last trial.
    pub best: Option<f64>,
    /// LM calls after the last trial (replayed ones included).
    pub calls: u64,
    /// Dollars after the last trial, by usage.
    pub usd: f64,
    /// Every trial done, in order.
    pub history: Vec<TrialRecord>,
    /// LM requests kept in `requests.sqlite`.
    pub requests: u64,
    /// Whether the compile ran to its end (its artifact was written).
    pub finished: bool,
    /// Why it stopped early (a budget), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl RunState {
    fn new(identity: CompileIdentity) -> Self {
        RunState {
            version: STATE_VERSION,
            identity_hash: identity.hash(),
            identity,
            trials: 0,
            best: None,
            calls: 0,
            usd: 0.0,
            history: Vec::new(),
            requests: 0,
            finished: false,
            stopped: None,
        }
    }

    /// Whether the compile ran to its end without a budget stop: nothing is left to resume.
    pub fn complete(&self) -> bool {
        self.finished && self.stopped.is_none()
    }
}

/// How [`RunDir::open`] treats what the directory already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Start over: remove the directory's `state.json` and `requests.sqlite`.
    Fresh,
    /// Continue the compile the directory holds: an error when it holds none, or another.
    Required,
    /// Continue the compile the directory holds when it did not run to its end (interrupted,
    /// crashed, or stopped by a budget); start over when it did or when there is none. An
    /// error when the directory holds another compile.
    Auto,
}

/// A run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// Reading or writing a file failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// `requests.sqlite` cannot be opened or read.
    #[error(transparent)]
    Cache(#[from] LmError),
    /// `state.json` is not a run directory's state.
    #[error("{}: not a compile's state: {message}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// [`Resume::Required`], and the directory holds no compile.
    #[error("{}: nothing to resume: no {STATE_FILE} here", path.display())]
    NothingToResume {
        /// The directory.
        path: PathBuf,
    },
    /// The directory holds another compile.
    #[error("{}: this run directory holds a different compile ({})", path.display(), differences.join("; "))]
    Mismatch {
        /// The directory.
        path: PathBuf,
        /// What differs, one entry per part (see [`CompileIdentity::differences`]).
        differences: Vec<String>,
    },
}

/// LM requests through a run directory in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    /// Kept in `requests.sqlite` (from every run of this compile).
    pub saved: u64,
    /// Answered from it in this process: never sent to the model.
    pub replayed: u64,
    /// Sent to the model in this process.
    pub sent: u64,
}

/// A compile's run directory, from which an interrupted compile resumes. Share it as
/// `Arc<RunDir>`.
///
/// A compile is deterministic given its seed, its data and the LM's replies, so resuming is
/// replaying. The directory holds two files:
///
/// - `requests.sqlite`: an [`LmCache`] that every LM of the compile answers through
///   ([`RunDir::wrap`], or [`LmFactory::with_run_cache`](crate::lm::LmFactory::with_run_cache)
///   for everything a factory builds), read-write, so each LM request is kept the moment it
///   completes;
/// - `state.json`: the compile's [`CompileIdentity`] and its progress ([`RunState`]: trials
///   done, the best value so far, calls so far, whether it finished), written atomically at the
///   start and after every trial ([`RunDir::checkpoint`]).
///
/// A resumed compile runs again from the start against the same `requests.sqlite`. Every
/// request the interrupted run completed is answered from it and never sent again, so the
/// replay reaches the state the interrupted run had, and the rest of the compile goes on as an
/// uninterrupted run would have: the same artifact, byte for byte. Budgets count replayed
/// calls as they count cached ones, so a budget stop lands at the same point. What is lost
/// when a process dies is only the requests in flight then (they had not completed, and are
/// sent again); a failed request is never kept, as in any [`LmCache`].
///
/// Optimizers mark the end of each trial (a scored candidate) with
/// [`CompileCx::trial_done`]. Trial hooks ([`CompileCx::with_trial_hook`]) see every trial
/// and may stop the compile there with [`CompileError::Interrupted`]: the run directory's
/// checkpoint is one hook, and [`CompileCx::with_stop_after_trials`] gives tests a
/// deterministic kill point.
///
/// ```
/// use std::sync::Arc;
/// use lmc::data::dataset::Dataset;
/// use lmc::metric::{ExactMatch, Metric};
/// use lmc::optimize::{self, CompileCx, CompileError, CompileIdentity, RandomSearch, Resume, RunDir};
/// use lmc::{Example, Lm, Module, Predict, RunCx, ScriptedLm, Signature};
///
/// let program: Arc<dyn Module> = Arc::new(Predict::new("qa", Signature::parse("question -> answer")?));
/// let train: Vec<Example> = ["a", "b", "c"]
///     .iter()
///     .map(|q| Example::new().with("question", *q).with("answer", "yes").with_inputs(["question"]))
///     .collect();
/// let model = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nyes\n\n[[ ## completed ## ]]"));
/// let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
/// let search = RandomSearch { num_candidate_programs: 2, ..Default::default() };
/// let dir = std::env::temp_dir().join(format!("lmc-doc-resume-{}", std::process::id()));
///
/// // One compile, run twice: stopped after two trials, then resumed.
/// let run = |stop: Option<usize>, resume: Resume| {
///     let cx = CompileCx::new(program.clone(), metric.clone(), Dataset::from_examples("train", train.clone()));
///     let identity = CompileIdentity::of(&search, &cx).with("lm", "scripted");
///     let run_dir = Arc::new(RunDir::open(&dir, identity, resume)?);
///     let lm: Arc<dyn Lm> = run_dir.wrap(model.clone());
///     let mut cx = cx.with_run_cx(RunCx::new().with_lm(lm)).with_trial_hook(run_dir.hook());
///     if let Some(n) = stop {
///         cx = cx.with_stop_after_trials(n);
///     }
///     let outcome = futures::executor::block_on(optimize::compile(&cx, &search, "qa", Default::default()));
///     Ok::<_, Box<dyn std::error::Error>>((run_dir, outcome))
/// };
/// let (_, first) = run(Some(2), Resume::Fresh)?;
/// assert!(matches!(first, Err(CompileError::Interrupted { trials: 2 })));
/// let asked = model.requests().len();
///
/// let (run_dir, resumed) = run(None, Resume::Required)?;
/// assert!(resumed?.compiled.is_some());
/// assert_eq!(run_dir.resumed().map(|s| s.trials), Some(2));
/// // The first two trials' requests were replayed from requests.sqlite, not asked again.
/// assert!(run_dir.counts()?.replayed as usize >= asked);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RunDir {
    path: PathBuf,
    cache: Arc<LmCache>,
    resumed: Option<RunState>,
    state: Mutex<RunState>,
}

impl fmt::Debug for RunDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunDir").field("path", &self.path).field("resumed", &self.resumed.is_some()).finish()
    }
}

impl RunDir {
    /// Opens (creating) the run directory at `path` for the compile `identity`, as `resume`
    /// says, and writes its `state.json`. Only `state.json` and `requests.sqlite` (with
    /// SQLite's `-wal` and `-shm` files) are ever written or removed; anything else in the
    /// directory is left alone.
    pub fn open(path: impl Into<PathBuf>, identity: CompileIdentity, resume: Resume) -> Result<Self, ResumeError> {
        let path = path.into();
        let state_path = path.join(STATE_FILE);
        let found = match resume {
            Resume::Fresh => None,
            Resume::Required | Resume::Auto => read_state(&state_path)?,
        };
        let previous = match (resume, found) {
            (Resume::Required, None) => return Err(ResumeError::NothingToResume { path }),
            (_, Some(state)) if state.identity_hash != identity.hash() => {
                let differences = state.identity.differences(&identity);
                return Err(ResumeError::Mismatch { path, differences });
            }
            (Resume::Auto, Some(state)) if state.complete() => None,
            (_, found) => found,
        };
        if previous.is_none() {
            for name in [STATE_FILE.to_string(), REQUESTS_FILE.to_string()]
                .into_iter()
                .chain(["-wal", "-shm"].map(|s| format!("{REQUESTS_FILE}{s}")))
            {
                let file = path.join(name);
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(ResumeError::Io { path: file, what: "cannot remove", source }),
                }
            }
        }
        std::fs::create_dir_all(&path).map_err(|source| ResumeError::Io {
            path: path.clone(),
            what: "cannot create the run directory",
            source,
        })?;
        let cache = Arc::new(LmCache::open(path.join(REQUESTS_FILE))?);
        let state = match &previous {
            Some(previous) => RunState { finished: false, stopped: None, ..previous.clone() },
            None => RunState::new(identity),
        };
        let dir = RunDir { path, cache, resumed: previous, state: Mutex::new(state) };
        dir.save()?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `requests.sqlite`, to put in front of LMs.
    pub fn cache(&self) -> &Arc<LmCache> {
        &self.cache
    }

    /// The state found when the directory was opened, when this compile continues it.
    pub fn resumed(&self) -> Option<&RunState> {
        self.resumed.as_ref()
    }

    /// The state now.
    pub fn state(&self) -> RunState {
        self.lock().clone()
    }

    /// `lm` answering through `requests.sqlite` (read-write): replies kept there are replayed,
    /// others asked of `lm` and kept the moment they complete.
    pub fn wrap(&self, lm: Arc<dyn Lm>) -> Arc<dyn Lm> {
        Arc::new(CachedLm::new(lm, self.cache.clone(), CacheMode::ReadWrite))
    }

    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a finished trial and writes `state.json`. A trial the resumed run had done
    /// already is compared with its record: a replay that differs (the program, data or
    /// lmc changed in a way the identity does not show) is logged as a warning.
    pub fn checkpoint(&self, event: &TrialEvent) -> Result<(), ResumeError> {
        {
            let mut state = self.lock();
            let record = TrialRecord { trial: event.trial, best: event.best, calls: event.calls };
            let at = event.trial.saturating_sub(1);
            if let Some(old) = self.resumed.as_ref().and_then(|r| r.history.get(at)) {
                if *old != record {
                    tracing::warn!(
                        run_dir = %self.path.display(),
                        trial = event.trial,
                        recorded = ?old,
                        replayed = ?record,
                        "the resumed compile differs from the interrupted one at this trial"
                    );
                }
            }
            match state.history.get_mut(at) {
                Some(slot) => *slot = record,
                None => state.history.push(record),
            }
            if event.trial >= state.trials {
                state.trials = event.trial;
                state.best = event.best;
                state.calls = event.calls;
                state.usd = event.usd;
            }
        }
        self.save()
    }

    /// A trial hook that [`checkpoint`](Self::checkpoint)s every trial (a failed write is
    /// logged, and the compile goes on: `requests.sqlite` still has every request).
    pub fn hook(self: &Arc<Self>) -> impl Fn(&TrialEvent) -> ControlFlow<()> + Send + Sync + 'static {
        let dir = Arc::clone(self);
        move |event| {
            if let Err(e) = dir.checkpoint(event) {
                tracing::warn!(error = %e, "could not write the compile's checkpoint");
            }
            ControlFlow::Continue(())
        }
    }

    /// Records that the compile ran to its end (`stopped`: why it stopped early, if it did)
    /// and writes `state.json`.
    pub fn finish(&self, stopped: Option<String>) -> Result<(), ResumeError> {
        {
            let mut state = self.lock();
            state.finished = true;
            state.stopped = stopped;
        }
        self.save()
    }

    /// Writes `state.json` as it stands (with the count of requests kept), atomically. Safe
    /// to call from several threads at once (a Ctrl-C handler, say): writes do not overlap.
    pub fn save(&self) -> Result<(), ResumeError> {
        let saved = self.cache.stats()?.entries;
        let path = self.path.join(STATE_FILE);
        // The lock is held through the write: writers share one temporary file name.
        let mut state = self.lock();
        state.requests = saved;
        let mut text = serde_json::to_string_pretty(&*state)
            .map_err(|e| ResumeError::State { path: path.clone(), message: e.to_string() })?;
        text.push('\n');
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| ResumeError::Io {
            path,
            what: "cannot write the state",
            source,
        })
    }

    /// The LM requests kept, replayed and sent so far in this process.
    pub fn counts(&self) -> Result<RequestCounts, ResumeError> {
        let stats = self.cache.stats()?;
        Ok(RequestCounts { saved: stats.entries, replayed: stats.hits, sent: stats.misses })
    }
}

/// The state at `path`, `None` when there is no file.
fn read_state(path: &Path) -> Result<Option<RunState>, ResumeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ResumeError::Io { path: path.to_path_buf(), what: "cannot read the state", source }),
    };
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| ResumeError::State { path: path.to_path_buf(), message: e.to_string() })?;
    if state.version > STATE_VERSION {
        return Err(ResumeError::State {
            path: path.to_path_buf(),
            message: format!("version {} is newer than this lmc's ({STATE_VERSION})", state.version),
        });
    }
    Ok(Some(state))
}
