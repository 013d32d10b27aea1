//! What `eval`, `compile` and `run` share: resolving the LM for a task (with the simulator's
//! world drawn from the task's data), per-step LMs, installing an artifact, provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use lmc::artifact::{KnnArtifact, ProgramArtifact};
use lmc::data::dataset::{ColumnMap, DataSpec, Dataset};
use lmc::lm::LmFactory;
use lmc::metric::MetricSpec;
use lmc::optimize::KnnProgram;
use lmc::sim::{SimSettings, SimWorld};
use lmc::spec::TaskSpec;
use lmc::{Example, Module, Program, Sampling};

use crate::lm_args::LmArgs;

/// Where the simulator's world comes from when `--lm sim` runs a task without `--world`.
pub(crate) struct TaskWorld<'a> {
    /// The world's name.
    pub(crate) name: &'a str,
    /// The task's data files (every split).
    pub(crate) files: Vec<PathBuf>,
    /// Output field → gold column.
    pub(crate) labels: &'a BTreeMap<String, String>,
    /// The task's `[sim]` settings.
    pub(crate) sim: SimSettings,
    /// The field the metric scores: the simulator's answer field unless the labels say.
    pub(crate) metric_field: &'a str,
}

/// The resolved LM of a task.
pub(crate) struct TaskLm {
    pub(crate) factory: LmFactory,
    /// `provider/model`, or `sim`.
    pub(crate) model: String,
    pub(crate) sampling: Sampling,
}

/// Resolves the LM: flags, then environment, then the spec's `[lm]`, then lmc.toml. With
/// `--lm sim` and no `--world`, the task's own data is the simulator's world.
pub(crate) fn task_lm(args: &LmArgs, spec: Option<&TaskSpec>, world: TaskWorld<'_>) -> anyhow::Result<TaskLm> {
    let spec_layer = spec.map(|s| lmc::config::SpecLayer {
        path: s.path.clone(),
        lm: lmc::config::LmConfig {
            model: s.lm.model.clone(),
            temperature: s.lm.temperature,
            max_tokens: s.lm.max_tokens,
        },
        base_url: s.lm.base_url.clone(),
        cache_mode: None,
    });
    let (resolved, mut factory) = args.factory_with_spec(spec_layer)?;
    let model = resolved.require_model()?.to_string();
    if is_sim(&model) && args.world.is_none() {
        let mut records = Vec::new();
        for file in &world.files {
            let spec = DataSpec { path: file.clone(), limit: None, shuffle_seed: None, sample: None };
            let loaded = Dataset::load(&spec, &ColumnMap { inputs: Vec::new(), labels: world.labels.clone() })?;
            records.extend(loaded.into_examples().into_iter().map(Example::into_fields));
        }
        let mut sim = world.sim;
        if !world.labels.contains_key(&sim.answer_field) {
            sim.answer_field = world.metric_field.to_string();
        }
        let world =
            SimWorld::new(world.name, &records, sim).map_err(|m| anyhow::anyhow!("the simulator's world: {m}"))?;
        factory = factory.with_sim_world(Arc::new(world));
    }
    let sampling = Sampling {
        temperature: resolved.lm.temperature.value,
        max_tokens: resolved.lm.max_tokens.value,
        ..Sampling::default()
    };
    Ok(TaskLm { factory, model, sampling })
}

/// What `eval` and `compile` read from a task spec the same way: the metric (with `--metric`
/// and `--field` over it), the column map, the simulator's settings (with `--sim-hint` over
/// them) and the data files (the simulator's world).
pub(crate) struct SpecTask {
    pub(crate) metric: MetricSpec,
    pub(crate) columns: ColumnMap,
    pub(crate) sim: SimSettings,
    pub(crate) world_files: Vec<PathBuf>,
}

impl SpecTask {
    pub(crate) fn of(spec: &TaskSpec, metric: Option<&String>, field: Option<&String>, hints: &[String]) -> Self {
        let mut spec_metric = spec.metric.clone();
        if let Some(name) = metric {
            spec_metric.name = name.clone();
        }
        if let Some(field) = field {
            spec_metric.field = field.clone();
        }
        let mut sim = spec.sim.clone().unwrap_or_default();
        if !hints.is_empty() {
            sim.hints = hints.to_vec();
        }
        SpecTask {
            metric: spec_metric,
            columns: ColumnMap {
                inputs: spec.data.inputs.clone().unwrap_or_default(),
                labels: spec.data.labels.clone(),
            },
            sim,
            world_files: spec.splits().into_iter().map(|(_, s)| s.path.clone()).collect(),
        }
    }
}

/// `--labels OUTPUT=COLUMN` (or `OUTPUT` when the names match) as output field → column.
pub(crate) fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((out, col)) => (out.trim().to_string(), col.trim().to_string()),
            None => (l.trim().to_string(), l.trim().to_string()),
        })
        .collect()
}

/// The metric of the flag form: `--metric NAME` on `--field FIELD` (default `answer`).
pub(crate) fn flag_metric(name: &str, field: Option<&String>) -> anyhow::Result<MetricSpec> {
    let field = field.cloned().unwrap_or_else(|| "answer".into());
    serde_json::from_value(serde_json::json!({"name": name, "field": field})).context("invalid --metric")
}

/// Whether `model` names lmc's offline simulator.
pub(crate) fn is_sim(model: &str) -> bool {
    model == "sim" || model.starts_with("sim/")
}

/// Gives the steps that name their own LM (`lm = "..."` in the program file) that LM.
pub(crate) fn install_step_lms(program: &mut Program, factory: &LmFactory) -> anyhow::Result<()> {
    let step_lms: Vec<(String, String)> =
        program.steps().iter().filter_map(|s| s.lm().map(|m| (s.name().to_string(), m.to_string()))).collect();
    for (step, model) in step_lms {
        let lm = factory.build(&model).with_context(|| format!("step `{step}`"))?;
        for predictor in program.predictors_mut().into_iter().filter(|p| p.name() == step) {
            predictor.set_lm(Some(lm.clone()));
        }
    }
    Ok(())
}

/// Installs the artifact at `path` into `program` (checked by predictor and field name) and
/// returns its KnnFewShot state, if any.
pub(crate) fn install_artifact(program: &mut dyn Module, path: &Path) -> anyhow::Result<Option<KnnArtifact>> {
    let artifact = ProgramArtifact::load(path)?;
    artifact.apply(program).map_err(|e| e.at(path))?;
    Ok(artifact.knn)
}

/// The program to run: `program`, wrapped to pick demos per input when the artifact says so.
pub(crate) fn runnable(
    program: impl Module + 'static,
    knn: Option<&KnnArtifact>,
    factory: &LmFactory,
) -> anyhow::Result<Arc<dyn Module>> {
    let program: Arc<dyn Module> = Arc::new(program);
    let Some(knn) = knn else { return Ok(program) };
    let embedder = match knn.method.as_str() {
        "bm25" => None,
        model => Some(
            factory
                .build_embedder(model, knn.base_url.as_deref())
                .with_context(|| format!("the artifact's embedding model `{model}`"))?,
        ),
    };
    Ok(Arc::new(KnnProgram::from_artifact(program, knn, embedder)?))
}

/// The hex SHA-256 of a file's bytes (empty when unreadable).
pub(crate) fn file_hash(path: &Path) -> String {
    bytes_hash(&std::fs::read(path).unwrap_or_default())
}

/// The hex SHA-256 of `bytes`.
pub(crate) fn bytes_hash(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(bytes);
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The current git commit, read from `.git` without running git.
pub(crate) fn git_commit() -> Option<String> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let head = dir.join(".git/HEAD");
        if let Ok(text) = std::fs::read_to_string(&head) {
            let text = text.trim();
            return match text.strip_prefix("ref: ") {
                Some(reference) => {
                    std::fs::read_to_string(dir.join(".git").join(reference)).ok().map(|s| s.trim().to_string())
                }
                None => Some(text.to_string()),
            };
        }
        if !dir.pop() {
            return None;
        }
    }
}
