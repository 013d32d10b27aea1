//! From a model string (`openai/gpt-4o-mini`) to a ready LM: the provider client under an
//! adaptive concurrency limit, retries, and the cache.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::anthropic::AnthropicLm;
use super::cache::{CacheMode, CachedLm, LmCache};
use super::http::ApiKey;
use super::limit::{AdaptiveLimit, LimitedLm};
use super::openai::OpenAiLm;
use super::pricing::PriceTable;
use super::retry::{RetryLm, RetryPolicy};
use super::{Lm, LmError};

/// The wire protocol of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (and compatible servers).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// How to reach one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    /// Its wire protocol.
    pub wire: Wire,
    /// The endpoint, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The environment variable holding the key (`None`: no key is sent).
    pub api_key_env: Option<String>,
    /// Whether a missing key is an error (local servers need none).
    pub key_required: bool,
    /// The most concurrent requests per model (the adaptive limit's ceiling).
    pub max_concurrency: usize,
    /// Per-request time limit.
    pub timeout: Duration,
}

impl ProviderSettings {
    fn new(wire: Wire, base_url: &str, key_env: Option<&str>, key_required: bool) -> Self {
        ProviderSettings {
            wire,
            base_url: base_url.to_string(),
            api_key_env: key_env.map(str::to_string),
            key_required,
            max_concurrency: 8,
            timeout: Duration::from_secs(120),
        }
    }

    /// The built-in providers: `openai`, `anthropic`, `ollama` (local, no key), `vllm`
    /// (local, optional key).
    pub fn builtin() -> BTreeMap<String, ProviderSettings> {
        BTreeMap::from([
            ("openai".to_string(), Self::new(Wire::OpenAi, "https://api.openai.com/v1", Some("OPENAI_API_KEY"), true)),
            (
                "anthropic".to_string(),
                Self::new(Wire::Anthropic, "https://api.anthropic.com/v1", Some("ANTHROPIC_API_KEY"), true),
            ),
            ("ollama".to_string(), Self::new(Wire::OpenAi, "http://localhost:11434/v1", None, false)),
            ("vllm".to_string(), Self::new(Wire::OpenAi, "http://localhost:8000/v1", Some("VLLM_API_KEY"), false)),
        ])
    }
}

type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// One adaptive limit per (provider, model), shared by every LM the factory builds.
type Limits = Arc<Mutex<HashMap<(String, String), Arc<AdaptiveLimit>>>>;

/// Builds LMs from model strings, sharing one concurrency limit per (provider, model), one
/// retry policy, one price table and one cache across everything it builds.
///
/// ```
/// use lmc::lm::LmFactory;
///
/// let factory = LmFactory::new().with_env(|_| None);
/// let err = factory.build("openai/gpt-4o-mini").unwrap_err();
/// assert!(err.to_string().contains("OPENAI_API_KEY"));
/// assert!(factory.build("ollama/llama3.2").is_ok()); // local: no key needed
/// ```
#[derive(Clone)]
pub struct LmFactory {
    providers: BTreeMap<String, ProviderSettings>,
    prices: Arc<PriceTable>,
    retry: RetryPolicy,
    cache: Option<(Arc<LmCache>, CacheMode)>,
    sim: Option<Arc<crate::sim::SimWorld>>,
    run_cache: Option<Arc<LmCache>>,
    limits: Limits,
    env: EnvLookup,
}

impl fmt::Debug for LmFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LmFactory")
            .field("providers", &self.providers)
            .field("retry", &self.retry)
            .field("cache", &self.cache.as_ref().map(|(c, m)| (c.path(), *m)))
            .finish_non_exhaustive()
    }
}

impl Default for LmFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl LmFactory {
    /// The built-in providers, the built-in price table, default retries, no cache, and the
    /// process environment for keys.
    pub fn new() -> Self {
        LmFactory {
            providers: ProviderSettings::builtin(),
            prices: Arc::new(PriceTable::builtin().clone()),
            retry: RetryPolicy::default(),
            cache: None,
            sim: None,
            run_cache: None,
            limits: Arc::default(),
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// A factory for a resolved configuration: its providers, its price table, and its cache
    /// (opened here unless the mode is `off`). Keys are read from `env`.
    pub fn from_config(resolved: &crate::config::ResolvedConfig, env: crate::config::Env) -> Result<Self, LmError> {
        let prices = resolved.price_table().map_err(|e| LmError::Config(e.to_string()))?;
        let mut factory = LmFactory::new().with_prices(Arc::new(prices)).with_env(move |name| env.get(name));
        for (name, p) in &resolved.providers {
            let wire = match p.kind.value {
                crate::config::ProviderKind::OpenAi => Wire::OpenAi,
                crate::config::ProviderKind::Anthropic => Wire::Anthropic,
            };
            let settings = ProviderSettings {
                wire,
                base_url: p.base_url.value.clone(),
                api_key_env: p.api_key_env.value.clone(),
                key_required: p.key_required,
                max_concurrency: p.max_concurrency.value,
                timeout: p.timeout(),
            };
            factory = factory.with_provider(name, settings);
        }
        let mode = resolved.cache.mode.value;
        // The simulator answers in process and is never cached: don't create a cache file for it.
        let simulated = resolved.lm.model.value.as_deref().is_some_and(|m| m == "sim" || m.starts_with("sim/"));
        if mode != CacheMode::Off && !simulated {
            let path = resolved.cache.path.value.clone().unwrap_or_else(LmCache::default_path);
            factory = factory.with_cache(Arc::new(LmCache::open(&path)?), mode);
        }
        Ok(factory)
    }

    /// Whether the cache answers every request and the model is never called.
    fn replay_only(&self) -> bool {
        matches!(self.cache, Some((_, CacheMode::ReplayOnly)))
    }

    /// The cache in front of the LMs this factory builds, with its mode.
    pub fn cache(&self) -> Option<(&Arc<LmCache>, CacheMode)> {
        self.cache.as_ref().map(|(c, m)| (c, *m))
    }

    /// Adds or replaces a provider.
    pub fn with_provider(mut self, name: &str, settings: ProviderSettings) -> Self {
        self.providers.insert(name.to_string(), settings);
        self
    }

    /// The provider called `name`, mutably (to change its base URL, say).
    pub fn provider_mut(&mut self, name: &str) -> Option<&mut ProviderSettings> {
        self.providers.get_mut(name)
    }

    /// The providers.
    pub fn providers(&self) -> &BTreeMap<String, ProviderSettings> {
        &self.providers
    }

    /// Uses `prices` for dollar costs.
    pub fn with_prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = prices;
        self
    }

    /// Uses `policy` for retries.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Puts `cache` in front of every LM, in `mode`.
    pub fn with_cache(mut self, cache: Arc<LmCache>, mode: CacheMode) -> Self {
        self.cache = Some((cache, mode));
        self
    }

    /// Puts `cache` in front of every LM this factory builds, the simulator included, in
    /// front of the cache of [`with_cache`](Self::with_cache) and always read-write: a
    /// compile's run directory ([`RunDir`](crate::optimize::RunDir)), which keeps each request
    /// the moment it completes so that a resumed compile replays it instead of sending it again.
    pub fn with_run_cache(mut self, cache: Arc<LmCache>) -> Self {
        self.run_cache = Some(cache);
        self
    }

    /// Answers the model `sim` (or `sim/<anything>`) with the offline simulator over `world`.
    pub fn with_sim_world(mut self, world: Arc<crate::sim::SimWorld>) -> Self {
        self.sim = Some(world);
        self
    }

    /// Reads API keys through `env` instead of the process environment.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Splits `provider/model` (the model part may itself contain `/`).
    pub fn split_model(model: &str) -> Result<(&str, &str), LmError> {
        match model.split_once('/') {
            Some((provider, name)) if !provider.is_empty() && !name.is_empty() => Ok((provider, name)),
            _ => Err(LmError::Config(format!(
                "`{model}` is not a model string: use provider/model, e.g. openai/gpt-4o-mini, anthropic/claude-sonnet-4-5 or ollama/llama3.2"
            ))),
        }
    }

    /// An embedding client for `model` (`provider/model`) on an OpenAI-compatible provider,
    /// with the provider's endpoint (or `base_url`) and key.
    pub fn build_embedder(
        &self,
        model: &str,
        base_url: Option<&str>,
    ) -> Result<Arc<dyn crate::embed::Embedder>, LmError> {
        let (provider, name) = Self::split_model(model)?;
        let settings = self.providers.get(provider).ok_or_else(|| {
            LmError::Config(format!("unknown provider `{provider}` in the embedding model `{model}`"))
        })?;
        if settings.wire != Wire::OpenAi {
            return Err(LmError::Config(format!(
                "`{provider}` has no OpenAI-compatible embeddings endpoint; use e.g. openai/text-embedding-3-small, \
                 ollama/nomic-embed-text, or bm25"
            )));
        }
        let key = settings.api_key_env.as_deref().and_then(|var| (self.env)(var)).filter(|k| !k.trim().is_empty());
        if key.is_none() && settings.key_required {
            let var = settings.api_key_env.as_deref().unwrap_or("the provider's key variable");
            return Err(LmError::Config(format!("no API key for the embedding model {model}: set {var}, or use bm25")));
        }
        let embedder = crate::embed::OpenAiEmbedder::new(
            name,
            base_url.unwrap_or(&settings.base_url),
            key.map(|k| ApiKey::new(k.trim())),
        )
        .map_err(|e| LmError::Config(e.to_string()))?
        .with_provider(provider);
        Ok(Arc::new(embedder))
    }

    /// The LM for `model` (`provider/model`): client, limit, retries, cache, and the run
    /// cache in front of it all when there is one ([`with_run_cache`](Self::with_run_cache)).
    pub fn build(&self, model: &str) -> Result<Arc<dyn Lm>, LmError> {
        let lm = self.build_client(model)?;
        Ok(match &self.run_cache {
            Some(cache) => Arc::new(CachedLm::new(lm, cache.clone(), CacheMode::ReadWrite)),
            None => lm,
        })
    }

    /// [`build`](Self::build) without the run cache.
    fn build_client(&self, model: &str) -> Result<Arc<dyn Lm>, LmError> {
        if model == "sim" || model.starts_with("sim/") {
            // The simulator runs in process: no limit, retries or cache are needed.
            return match &self.sim {
                Some(world) => Ok(Arc::new(crate::sim::SimLm::new(world.clone()))),
                None => Err(LmError::Config(
                    "the simulator needs a world: pass --world DATASET.jsonl (the task's labeled data)".into(),
                )),
            };
        }
        let (provider, name) = Self::split_model(model)?;
        let settings = self.providers.get(provider).ok_or_else(|| {
            let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            LmError::Config(format!(
                "unknown provider `{provider}` in `{model}`; known: {} (add others under [providers] in lmc.toml)",
                known.join(", ")
            ))
        })?;
        let key = match &settings.api_key_env {
            Some(var) => match (self.env)(var).filter(|k| !k.trim().is_empty()) {
                Some(key) => Some(ApiKey::new(key.trim())),
                // Replay-only never calls the model, so CI can replay a committed cache with no key.
                None if settings.key_required && !self.replay_only() => {
                    return Err(LmError::Config(format!(
                        "no API key for {provider}: set {var}, use a local OpenAI-compatible server (ollama/<model>, or --base-url), \
                         or try lmc offline with --lm sim --world DATASET.jsonl"
                    )))
                }
                None => None,
            },
            None => None,
        };
        let client: Arc<dyn Lm> = match settings.wire {
            Wire::OpenAi => {
                Arc::new(OpenAiLm::new(provider, name, &settings.base_url, key, settings.timeout, self.prices.clone())?)
            }
            Wire::Anthropic => Arc::new(AnthropicLm::new(
                provider,
                name,
                &settings.base_url,
                key,
                settings.timeout,
                self.prices.clone(),
            )?),
        };
        let limit = self
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((provider.to_string(), name.to_string()))
            .or_insert_with(|| Arc::new(AdaptiveLimit::new(settings.max_concurrency)))
            .clone();
        let limited: Arc<dyn Lm> = Arc::new(LimitedLm::new(client, limit));
        let retried: Arc<dyn Lm> = Arc::new(RetryLm::new(limited, self.retry.clone()));
        Ok(match &self.cache {
            Some((cache, mode)) => Arc::new(CachedLm::new(retried, cache.clone(), *mode)),
            None => retried,
        })
    }
}
