//! The LM flags every command that calls a model shares, and how they resolve with the
//! environment, the spec file and `lmc.toml` (DESIGN.md §4 precedence).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lmc::config::{CacheMode, Config, Env, Flags, ResolvedConfig, Resolver, SpecLayer};
use std::sync::Arc;

use lmc::lm::LmFactory;
use lmc::sim::{SimSettings, SimWorld};

/// Which LM to call and how.
#[derive(Debug, Args)]
pub(crate) struct LmArgs {
    /// The LM as provider/model: openai/gpt-4o-mini, anthropic/claude-sonnet-4-5,
    /// ollama/llama3.2, vllm/MODEL, or a provider named in lmc.toml. Env: LMC_LM.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) lm: Option<String>,

    /// The endpoint of the chosen provider (any OpenAI-compatible server). Env: LMC_BASE_URL.
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,

    /// Sampling temperature sent with every request.
    #[arg(long, value_name = "T")]
    pub(crate) temperature: Option<f64>,

    /// The most tokens per completion (Anthropic requires it).
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<u32>,

    /// The cache database. Env: LMC_CACHE_PATH (default ~/.cache/lmc/cache.sqlite).
    #[arg(long, value_name = "FILE")]
    pub(crate) cache_path: Option<PathBuf>,

    /// read-write (default), off, refresh, or replay-only (a miss is an error). Env: LMC_CACHE_MODE.
    #[arg(long, value_name = "MODE")]
    pub(crate) cache_mode: Option<CacheMode>,

    /// A price file whose entries override the built-in price table. Env: LMC_PRICES.
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,

    /// The simulator's world for --lm sim: a labeled JSONL dataset (usually the task's data).
    #[arg(long, value_name = "DATASET")]
    pub(crate) world: Option<PathBuf>,

    /// The output field the simulator answers right or wrong (default: answer).
    #[arg(long, value_name = "FIELD", requires = "world")]
    pub(crate) sim_answer_field: Option<String>,

    /// The dataset column with the gold answer (default: the answer field).
    #[arg(long, value_name = "COLUMN", requires = "world")]
    pub(crate) sim_answer_column: Option<String>,

    /// A phrase that helps the simulator when the instructions contain it; repeat for several.
    #[arg(long = "sim-hint", value_name = "TEXT", requires = "world")]
    pub(crate) sim_hints: Vec<String>,

    /// The simulator's seed (default 0).
    #[arg(long, value_name = "N", requires = "world")]
    pub(crate) sim_seed: Option<u64>,
}

impl LmArgs {
    /// Resolves flags, environment and the project's lmc.toml (found from the current
    /// directory upwards).
    pub(crate) fn resolve(&self) -> anyhow::Result<(ResolvedConfig, Env)> {
        self.resolve_with_spec(None)
    }

    /// Like [`LmArgs::resolve`], with a spec file's `[lm]` between the environment and
    /// lmc.toml.
    pub(crate) fn resolve_with_spec(&self, spec: Option<SpecLayer>) -> anyhow::Result<(ResolvedConfig, Env)> {
        let env = Env::process();
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let project = Config::discover(&cwd)?;
        let flags = Flags {
            lm: self.lm.clone(),
            base_url: self.base_url.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            cache_path: self.cache_path.clone(),
            cache_mode: self.cache_mode,
            prices: self.prices.clone(),
        };
        let mut resolver = Resolver::new(&env).flags(flags).project_file(project);
        if let Some(spec) = spec {
            resolver = resolver.spec(spec);
        }
        let resolved = resolver.resolve()?;
        Ok((resolved, env))
    }

    /// The resolved configuration and an LM factory for it (with its cache opened).
    pub(crate) fn factory(&self) -> anyhow::Result<(ResolvedConfig, LmFactory)> {
        self.factory_with_spec(None)
    }

    /// The factory for a run configured by a spec file too.
    pub(crate) fn factory_with_spec(&self, spec: Option<SpecLayer>) -> anyhow::Result<(ResolvedConfig, LmFactory)> {
        let (resolved, env) = self.resolve_with_spec(spec)?;
        let mut factory = LmFactory::from_config(&resolved, env)?;
        if let Some(world) = self.sim_world()? {
            factory = factory.with_sim_world(Arc::new(world));
        }
        Ok((resolved, factory))
    }

    /// The simulator's world, when --world is given.
    pub(crate) fn sim_world(&self) -> anyhow::Result<Option<SimWorld>> {
        let Some(path) = &self.world else { return Ok(None) };
        let mut settings = SimSettings::default();
        if let Some(field) = &self.sim_answer_field {
            settings.answer_field = field.clone();
        }
        settings.answer_column = self.sim_answer_column.clone();
        settings.hints = self.sim_hints.clone();
        if let Some(seed) = self.sim_seed {
            settings.seed = seed;
        }
        Ok(Some(SimWorld::load(path, settings)?))
    }
}
