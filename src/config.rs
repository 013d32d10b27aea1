//! Project configuration (`lmc.toml`) and where every setting comes from.
//!
//! Settings are resolved in this order, first found wins (DESIGN.md §4):
//!
//! 1. command-line flags ([`Flags`]);
//! 2. environment variables ([`Env`]): `LMC_LM`, `LMC_BASE_URL`, `LMC_CACHE_PATH`,
//!    `LMC_CACHE_MODE`, `LMC_PRICES`, and per provider `<PROVIDER>_BASE_URL`
//!    (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`, …);
//! 3. the spec file of the command ([`SpecLayer`], e.g. an eval spec's `[lm]`);
//! 4. the project file `lmc.toml` ([`Config`], found by [`Config::discover`]);
//! 5. built-in defaults.
//!
//! [`Resolver`] combines the layers into a [`ResolvedConfig`] in which every value remembers
//! its [`Source`]; [`ResolvedConfig::render`] and [`ResolvedConfig::to_json`] print it for
//! `lmc config`, showing each provider's key variable as `set` or `unset`, never its value.
//!
//! # `lmc.toml`
//!
//! Every section and key is optional; an unknown key is an error naming the file and the key.
//!
//! ```toml
//! [lm]                          # the default LM of program runs
//! model = "openai/gpt-4o-mini"  # "provider/model"; "sim" is the offline simulator
//! temperature = 0.0
//! max_tokens = 1024
//!
//! [providers.openai]            # a built-in provider: openai, anthropic, ollama, vllm
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY" # the *name* of the variable holding the key ("" for no key)
//! max_concurrency = 16          # requests in flight per model
//! timeout_secs = 120            # per request
//!
//! [providers.together]          # a provider you name: use it as --lm together/<model>
//! kind = "openai"               # its wire protocol: openai | anthropic (required here)
//! base_url = "https://api.together.xyz/v1"   # required here
//! api_key_env = "TOGETHER_API_KEY"           # optional: no key when absent
//!
//! [cache]
//! path = "~/.cache/lmc/cache.sqlite"  # relative paths are relative to lmc.toml
//! mode = "read-write"           # read-write | off | refresh | replay-only
//!
//! [pricing]
//! file = "prices.toml"          # overrides of the built-in price table, relative to lmc.toml
//! ```
//!
//! Keys are never written in `lmc.toml`: it names the environment variable that holds each.
//!
//! # Built-in defaults
//!
//! | provider | wire | base URL | key variable |
//! |---|---|---|---|
//! | `openai` | openai | `https://api.openai.com/v1` | `OPENAI_API_KEY` |
//! | `anthropic` | anthropic | `https://api.anthropic.com/v1` | `ANTHROPIC_API_KEY` |
//! | `ollama` | openai | `http://localhost:11434/v1` | none |
//! | `vllm` | openai | `http://localhost:8000/v1` | `VLLM_API_KEY` (optional) |
//!
//! Every provider: 8 requests in flight, a 120 s timeout. Cache: read-write, at
//! `$XDG_CACHE_HOME/lmc/cache.sqlite` or `~/.cache/lmc/cache.sqlite` unless the caller supplies
//! a default ([`Resolver::default_cache_path`]). No default model: choose one with `--lm`,
//! `LMC_LM`, a spec or `lmc.toml` (`sim` runs offline).
//!
//! `--base-url`, `LMC_BASE_URL` and a spec's base URL apply to the provider of the chosen LM;
//! `<PROVIDER>_BASE_URL` applies to its provider whatever the LM.
//!
//! ```
//! use lmc::config::{CacheMode, Config, Env, Flags, Resolver, Source};
//!
//! let config = Config::from_toml_str("[lm]\nmodel = \"openai/gpt-4o-mini\"\n[cache]\nmode = \"off\"\n")?;
//! let env = Env::from_pairs([("LMC_CACHE_MODE", "replay-only"), ("OPENAI_API_KEY", "sk-not-shown")]);
//! let flags = Flags { lm: Some("anthropic/claude-haiku-4-5".into()), ..Flags::default() };
//! let resolved = Resolver::new(&env).flags(flags).project("lmc.toml", config).resolve()?;
//!
//! assert_eq!(resolved.lm.model.value.as_deref(), Some("anthropic/claude-haiku-4-5"));
//! assert_eq!(resolved.lm.model.source, Source::Flag("--lm".into()));
//! assert_eq!(resolved.cache.mode.value, CacheMode::ReplayOnly);
//! assert_eq!(resolved.cache.mode.source.to_string(), "env LMC_CACHE_MODE");
//! assert_eq!(resolved.lm.base_url.as_ref().unwrap().value, "https://api.anthropic.com/v1");
//!
//! let text = resolved.render();
//! assert!(text.contains("OPENAI_API_KEY (set)") && !text.contains("sk-not-shown"));
//! # Ok::<(), lmc::config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::json;

use crate::lm::pricing::{PriceError, PriceTable};

/// The project file's name.
pub const FILE_NAME: &str = "lmc.toml";

const DEFAULT_MAX_CONCURRENCY: usize = 8;
const DEFAULT_TIMEOUT_SECS: u64 = 120;

// ---------------------------------------------------------------------------------------------
// The file

/// The contents of an `lmc.toml`. Every value is optional; unset values fall through to the
/// built-in defaults. Paths are as written (relative to the file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `[lm]`: the default LM of program runs.
    pub lm: LmConfig,
    /// `[providers.<name>]`: per-provider settings, by provider name.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[cache]`.
    pub cache: CacheConfig,
    /// `[pricing]`.
    pub pricing: PricingConfig,
}

/// `[lm]`: the default LM and its sampling settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LmConfig {
    /// `provider/model`, e.g. `openai/gpt-4o-mini`, or `sim`.
    pub model: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// The most tokens a reply may have.
    pub max_tokens: Option<u32>,
}

/// `[providers.<name>]`: one provider's endpoint, key variable and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The wire protocol; required for a provider that is not built in.
    pub kind: Option<ProviderKind>,
    /// The API's base URL (`https://api.openai.com/v1`).
    pub base_url: Option<String>,
    /// The name of the environment variable that holds the key; `Some("")` means no key.
    pub api_key_env: Option<String>,
    /// Requests in flight per model, at most.
    pub max_concurrency: Option<usize>,
    /// Per-request timeout, in seconds.
    pub timeout_secs: Option<u64>,
}

/// `[cache]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheConfig {
    /// The SQLite file (`~` and paths relative to `lmc.toml` allowed).
    pub path: Option<PathBuf>,
    /// How the cache is used.
    pub mode: Option<CacheMode>,
}

/// `[pricing]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PricingConfig {
    /// A price file whose entries override the built-in table (relative to `lmc.toml`).
    pub file: Option<PathBuf>,
}

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    /// OpenAI Chat Completions (also vLLM, Ollama, llama.cpp, OpenRouter, …).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// `openai` or `anthropic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "openai" => Ok(ProviderKind::OpenAi),
            "anthropic" => Ok(ProviderKind::Anthropic),
            other => Err(format!("unknown provider kind `{other}` (expected \"openai\" or \"anthropic\")")),
        }
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How the LM cache is used (the cache's own type, re-exported here for configuration).
pub use crate::lm::cache::CacheMode;

impl Config {
    /// Parses `lmc.toml` text. Errors name the key (and no file).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        parse_config(text, None)
    }

    /// Reads an `lmc.toml` (or any file in its schema). Errors name the file and the key.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: Some(path.to_path_buf()),
            key: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        parse_config(&text, Some(path))
    }

    /// Finds and loads the project's `lmc.toml`: the first one in `start_dir` or a parent,
    /// stopping after the filesystem root or a directory that contains `.git` (the top of the
    /// repository). `Ok(None)` when there is none.
    pub fn discover(start_dir: impl AsRef<Path>) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        let start = start_dir.as_ref();
        let start = std::fs::canonicalize(start).or_else(|_| std::path::absolute(start)).map_err(|e| ConfigError {
            path: Some(start.to_path_buf()),
            key: None,
            message: format!("cannot search for {FILE_NAME} from here: {e}"),
        })?;
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                let config = Config::load(&candidate)?;
                return Ok(Some((candidate, config)));
            }
            if dir.join(".git").exists() {
                break;
            }
        }
        Ok(None)
    }
}

fn parse_config(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
    let cx = Cx { path };
    let root: toml::Table = text.parse().map_err(|e: toml::de::Error| cx.err(None, describe_toml_error(text, &e)))?;
    let mut config = Config::default();
    for (key, value) in &root {
        match key.as_str() {
            "lm" => {
                for (k, v) in cx.table("lm", value)? {
                    let full = format!("lm.{k}");
                    match k.as_str() {
                        "model" => config.lm.model = Some(cx.model(&full, v)?),
                        "temperature" => config.lm.temperature = Some(cx.temperature(&full, v)?),
                        "max_tokens" => config.lm.max_tokens = Some(cx.positive::<u32>(&full, v)?),
                        _ => return Err(cx.unknown(&full, &["model", "temperature", "max_tokens"])),
                    }
                }
            }
            "providers" => {
                for (name, v) in cx.table("providers", value)? {
                    let provider = cx.provider(name, v)?;
                    config.providers.insert(name.clone(), provider);
                }
            }
            "cache" => {
                for (k, v) in cx.table("cache", value)? {
                    let full = format!("cache.{k}");
                    match k.as_str() {
                        "path" => config.cache.path = Some(PathBuf::from(cx.string(&full, v)?)),
                        "mode" => {
                            let mode = cx
                                .string(&full, v)?
                                .parse::<CacheMode>()
                                .map_err(|m| cx.err(Some(&full), m.to_string()))?;
                            config.cache.mode = Some(mode);
                        }
                        _ => return Err(cx.unknown(&full, &["path", "mode"])),
                    }
                }
            }
            "pricing" => {
                for (k, v) in cx.table("pricing", value)? {
                    let full = format!("pricing.{k}");
                    match k.as_str() {
                        "file" => config.pricing.file = Some(PathBuf::from(cx.string(&full, v)?)),
                        _ => return Err(cx.unknown(&full, &["file"])),
                    }
                }
            }
            _ => return Err(cx.unknown(key, &["lm", "providers", "cache", "pricing"])),
        }
    }
    Ok(config)
}

/// Parsing context: the file, for errors. Messages never quote a string value, in case a
/// key was pasted in the wrong place.
struct Cx<'a> {
    path: Option<&'a Path>,
}

impl Cx<'_> {
    fn err(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: self.path.map(Path::to_path_buf), key: key.map(str::to_string), message: message.into() }
    }

    fn unknown(&self, key: &str, expected: &[&str]) -> ConfigError {
        let last = key.rsplit('.').next().unwrap_or(key);
        let mut message = format!("unknown key (expected one of: {})", expected.join(", "));
        if matches!(last, "api_key" | "key" | "token" | "secret") {
            message.push_str(
                "; keys are never written in lmc.toml: set `api_key_env` to the name of the environment \
                 variable that holds the key",
            );
        }
        self.err(Some(key), message)
    }

    fn table<'v>(&self, key: &str, value: &'v toml::Value) -> Result<&'v toml::Table, ConfigError> {
        value.as_table().ok_or_else(|| self.err(Some(key), format!("must be a table ([{key}])")))
    }

    fn string<'v>(&self, key: &str, value: &'v toml::Value) -> Result<&'v str, ConfigError> {
        value.as_str().ok_or_else(|| self.err(Some(key), format!("must be a string, not a {}", value.type_str())))
    }

    fn positive<T: TryFrom<i64>>(&self, key: &str, value: &toml::Value) -> Result<T, ConfigError> {
        value
            .as_integer()
            .filter(|n| *n >= 1)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| self.err(Some(key), "must be a whole number, 1 or more"))
    }

    fn temperature(&self, key: &str, value: &toml::Value) -> Result<f64, ConfigError> {
        let t = match value {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => return Err(self.err(Some(key), format!("must be a number, not a {}", value.type_str()))),
        };
        check_temperature(t).map_err(|m| self.err(Some(key), m))
    }

    fn model(&self, key: &str, value: &toml::Value) -> Result<String, ConfigError> {
        let model = self.string(key, value)?;
        check_model(model).map_err(|m| self.err(Some(key), m))?;
        Ok(model.to_string())
    }

    fn base_url(&self, key: &str, value: &toml::Value) -> Result<String, ConfigError> {
        let url = self.string(key, value)?;
        check_base_url(url).map_err(|m| self.err(Some(key), m))?;
        Ok(url.to_string())
    }

    fn provider(&self, name: &str, value: &toml::Value) -> Result<ProviderConfig, ConfigError> {
        let here = format!("providers.{name}");
        check_provider_name(name).map_err(|m| self.err(Some(&here), m))?;
        let mut provider = ProviderConfig::default();
        for (k, v) in self.table(&here, value)? {
            let full = format!("{here}.{k}");
            match k.as_str() {
                "kind" => {
                    provider.kind = Some(self.string(&full, v)?.parse().map_err(|m| self.err(Some(&full), m))?);
                }
                "base_url" => provider.base_url = Some(self.base_url(&full, v)?),
                "api_key_env" => {
                    let var = self.string(&full, v)?;
                    if !var.is_empty() && !is_env_var_name(var) {
                        return Err(self.err(
                            Some(&full),
                            "must be the name of an environment variable (letters, digits and _), such as \
                             \"OPENAI_API_KEY\", or \"\" for no key; never the key itself",
                        ));
                    }
                    provider.api_key_env = Some(var.to_string());
                }
                "max_concurrency" => provider.max_concurrency = Some(self.positive(&full, v)?),
                "timeout_secs" => provider.timeout_secs = Some(self.positive(&full, v)?),
                _ => {
                    return Err(
                        self.unknown(&full, &["kind", "base_url", "api_key_env", "max_concurrency", "timeout_secs"])
                    )
                }
            }
        }
        match builtin(name) {
            Some(b) => {
                if let Some(kind) = provider.kind.filter(|k| *k != b.kind) {
                    return Err(self.err(
                        Some(&format!("{here}.kind")),
                        format!(
                            "`{name}` is built in and speaks the {} protocol, not {kind}; give your provider \
                             another name",
                            b.kind
                        ),
                    ));
                }
            }
            None => {
                if provider.kind.is_none() {
                    return Err(self.err(
                        Some(&format!("{here}.kind")),
                        format!("`{name}` is not a built-in provider: say which protocol it speaks, kind = \"openai\" or kind = \"anthropic\""),
                    ));
                }
                if provider.base_url.is_none() {
                    return Err(self.err(
                        Some(&format!("{here}.base_url")),
                        format!("`{name}` is not a built-in provider: give its base_url"),
                    ));
                }
            }
        }
        Ok(provider)
    }
}

fn check_provider_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("a provider name is letters, digits, - and _".into());
    }
    if matches!(name, "sim" | "scripted") {
        return Err(format!("`{name}` is an in-process LM, not an HTTP provider, and cannot be configured here"));
    }
    Ok(())
}

fn check_model(model: &str) -> Result<(), String> {
    let ok = !model.is_empty()
        && !model.chars().any(char::is_whitespace)
        && model.split_once('/').is_none_or(|(p, m)| !p.is_empty() && !m.is_empty());
    if ok {
        Ok(())
    } else {
        Err("must be \"provider/model\" (like \"openai/gpt-4o-mini\") or \"sim\"".into())
    }
}

fn check_base_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL".into())
    }
}

fn check_temperature(t: f64) -> Result<f64, String> {
    if t.is_finite() && t >= 0.0 {
        Ok(t)
    } else {
        Err("must be a number, 0 or more".into())
    }
}

fn is_env_var_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A TOML error as `line L, column C: message`, without quoting the source line (which could
/// hold a secret pasted in the wrong place).
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in providers

struct Builtin {
    name: &'static str,
    kind: ProviderKind,
    base_url: &'static str,
    key_env: Option<&'static str>,
    key_optional: bool,
}

const BUILTINS: [Builtin; 4] = [
    Builtin {
        name: "openai",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.openai.com/v1",
        key_env: Some("OPENAI_API_KEY"),
        key_optional: false,
    },
    Builtin {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        base_url: "https://api.anthropic.com/v1",
        key_env: Some("ANTHROPIC_API_KEY"),
        key_optional: false,
    },
    Builtin {
        name: "ollama",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:11434/v1",
        key_env: None,
        key_optional: true,
    },
    Builtin {
        name: "vllm",
        kind: ProviderKind::OpenAi,
        base_url: "http://localhost:8000/v1",
        key_env: Some("VLLM_API_KEY"),
        key_optional: true,
    },
];

fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The environment variable that overrides a provider's base URL: `OPENAI_BASE_URL`, …
pub fn base_url_env_var(provider: &str) -> String {
    let upper: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{upper}_BASE_URL")
}

// ---------------------------------------------------------------------------------------------
// Layers

/// The environment, injectable so that tests never touch the process's.
///
/// An empty value counts as unset. `Debug` prints variable names only, never values.
#[derive(Clone, Default)]
pub struct Env {
    /// `None`: the process environment.
    vars: Option<BTreeMap<String, String>>,
}

impl Env {
    /// The process environment, read when a variable is looked up.
    pub fn process() -> Env {
        Env { vars: None }
    }

    /// An environment with no variables.
    pub fn empty() -> Env {
        Env { vars: Some(BTreeMap::new()) }
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env { vars: Some(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()) }
    }

    /// This environment with `name` set to `value`. On [`Env::process`] the result holds only
    /// the variables set this way: the process environment is not copied.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Env {
        self.vars.get_or_insert_with(BTreeMap::new).insert(name.into(), value.into());
        self
    }

    /// A variable's value; `None` when unset, empty or not Unicode.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            None => std::env::var(name).ok(),
            Some(vars) => vars.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }

    /// Whether a variable is set to a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vars {
            None => f.write_str("Env(process)"),
            Some(vars) => f.debug_set().entries(vars.keys()).finish(),
        }
    }
}

/// The command-line flags that take part in configuration (all optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--lm provider/model`.
    pub lm: Option<String>,
    /// `--base-url URL`, for the chosen LM's provider.
    pub base_url: Option<String>,
    /// `--temperature T`.
    pub temperature: Option<f64>,
    /// `--max-tokens N`.
    pub max_tokens: Option<u32>,
    /// `--cache-path FILE`.
    pub cache_path: Option<PathBuf>,
    /// `--cache-mode MODE`.
    pub cache_mode: Option<CacheMode>,
    /// `--prices FILE`: a price file overriding the built-in table.
    pub prices: Option<PathBuf>,
}

/// The values a spec file (e.g. `evals/triage.toml`) contributes, between the environment
/// and `lmc.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecLayer {
    /// The spec file, named as the source of its values.
    pub path: PathBuf,
    /// Its `[lm]` section.
    pub lm: LmConfig,
    /// Its base URL for its LM. Used only when the chosen LM has the spec's provider.
    pub base_url: Option<String>,
    /// Its cache mode.
    pub cache_mode: Option<CacheMode>,
}

// ---------------------------------------------------------------------------------------------
// Resolution

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--lm`.
    Flag(String),
    /// An environment variable, e.g. `LMC_LM`.
    Env(String),
    /// A spec file.
    Spec(PathBuf),
    /// The project's `lmc.toml`.
    Project(PathBuf),
    /// lmc's built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Spec(path) => write!(f, "spec ({})", path.display()),
            Source::Project(path) => write!(f, "{FILE_NAME} ({})", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A resolved value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// Whether a provider's key variable is set. The key itself is never kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The variable is set (to a non-empty value).
    Set,
    /// The variable is not set.
    Unset,
    /// The provider uses no key.
    NotNeeded,
}

impl KeyStatus {
    /// `set`, `unset` or `not needed`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Set => "set",
            KeyStatus::Unset => "unset",
            KeyStatus::NotNeeded => "not needed",
        }
    }
}

/// The run's default LM.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedLm {
    /// `provider/model`, or `None` when nothing chose one.
    pub model: Setting<Option<String>>,
    /// The endpoint the LM will use: its provider's base URL, or for a provider lmc does not
    /// know, a `--base-url`/`LMC_BASE_URL`/spec value if one was given.
    pub base_url: Option<Setting<String>>,
    /// Sampling temperature, `None` for the program's own.
    pub temperature: Setting<Option<f64>>,
    /// Reply token limit, `None` for the program's own.
    pub max_tokens: Setting<Option<u32>>,
}

impl ResolvedLm {
    /// The provider part of the model (`openai` in `openai/gpt-4o`, `sim` in `sim`).
    pub fn provider(&self) -> Option<&str> {
        self.model.value.as_deref().map(provider_of)
    }
}

/// One provider's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedProvider {
    /// The provider name (`openai`, or a name from `lmc.toml`).
    pub name: String,
    /// Its wire protocol.
    pub kind: Setting<ProviderKind>,
    /// Its base URL.
    pub base_url: Setting<String>,
    /// The variable that holds its key; `None` for no key.
    pub api_key_env: Setting<Option<String>>,
    /// Whether requests fail without a key (`false` for local servers).
    pub key_required: bool,
    /// Whether the key variable was set when the configuration was resolved.
    pub key: KeyStatus,
    /// Requests in flight per model, at most.
    pub max_concurrency: Setting<usize>,
    /// Per-request timeout, in seconds.
    pub timeout_secs: Setting<u64>,
}

impl ResolvedProvider {
    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.value)
    }

    /// Reads the key from `env` (for the client; never store or print it).
    pub fn api_key(&self, env: &Env) -> Option<String> {
        self.api_key_env.value.as_deref().and_then(|var| env.get(var))
    }
}

/// The LM cache's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCache {
    /// The SQLite file; `None` only when no default could be found (no home directory).
    pub path: Setting<Option<PathBuf>>,
    /// How the cache is used.
    pub mode: Setting<CacheMode>,
}

/// The price table's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPricing {
    /// A price file overriding the built-in table, if any.
    pub file: Setting<Option<PathBuf>>,
}

/// Every setting, resolved through the layers, each with its [`Source`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    /// The `lmc.toml` that took part, if any.
    pub project_file: Option<PathBuf>,
    /// The spec file that took part, if any.
    pub spec_file: Option<PathBuf>,
    /// The default LM.
    pub lm: ResolvedLm,
    /// Every known provider: the built-in ones and those `lmc.toml` names.
    pub providers: BTreeMap<String, ResolvedProvider>,
    /// The LM cache.
    pub cache: ResolvedCache,
    /// The price table.
    pub pricing: ResolvedPricing,
}

/// Combines flags, environment, spec, `lmc.toml` and defaults into a [`ResolvedConfig`].
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    env: &'a Env,
    flags: Flags,
    spec: Option<SpecLayer>,
    project: Option<(PathBuf, Config)>,
    default_cache_path: Option<PathBuf>,
}

impl<'a> Resolver<'a> {
    /// A resolver reading variables from `env` ([`Env::process`] in the CLI).
    pub fn new(env: &'a Env) -> Self {
        Resolver { env, flags: Flags::default(), spec: None, project: None, default_cache_path: None }
    }

    /// The command-line flags.
    pub fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    /// The spec file's values.
    pub fn spec(mut self, spec: SpecLayer) -> Self {
        self.spec = Some(spec);
        self
    }

    /// The project file and its contents; relative paths in it are relative to its directory.
    pub fn project(mut self, path: impl Into<PathBuf>, config: Config) -> Self {
        self.project = Some((path.into(), config));
        self
    }

    /// The project file, if [`Config::discover`] found one.
    pub fn project_file(mut self, found: Option<(PathBuf, Config)>) -> Self {
        self.project = found;
        self
    }

    /// The cache path to use when nothing sets one (e.g. the cache's own default), instead
    /// of `$XDG_CACHE_HOME/lmc/cache.sqlite` or `~/.cache/lmc/cache.sqlite`.
    pub fn default_cache_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.default_cache_path = Some(path.into());
        self
    }

    /// Resolves every setting. Errors name the flag, variable, or file and key at fault.
    pub fn resolve(&self) -> Result<ResolvedConfig, ConfigError> {
        let env = self.env;
        let flags = &self.flags;
        let spec = self.spec.as_ref();
        let project = self.project.as_ref();
        let project_src = || project.map(|(p, _)| Source::Project(p.clone()));
        let file = project.map(|(_, c)| c);
        let from_env = |var: &str| env.get(var).map(|v| Setting::new(v, Source::Env(var.to_string())));
        let from_flag = |v: &Option<String>, flag: &str| v.clone().map(|v| Setting::new(v, Source::Flag(flag.into())));
        let from_spec = |v: Option<String>| spec.and_then(|s| v.map(|v| Setting::new(v, Source::Spec(s.path.clone()))));
        let from_file = |v: Option<String>| v.and_then(|v| project_src().map(|src| Setting::new(v, src)));

        // The model.
        let model = from_flag(&flags.lm, "--lm")
            .or_else(|| from_env("LMC_LM"))
            .or_else(|| from_spec(spec.and_then(|s| s.lm.model.clone())))
            .or_else(|| from_file(file.and_then(|c| c.lm.model.clone())));
        if let Some(m) = &model {
            check_model(&m.value).map_err(|msg| error_at(&m.source, "lm.model", msg))?;
        }
        let model = match model {
            Some(s) => Setting::new(Some(s.value), s.source),
            None => Setting::new(None, Source::Default),
        };
        let lm_provider = model.value.as_deref().map(provider_of);

        let temperature = flags
            .temperature
            .map(|t| Setting::new(t, Source::Flag("--temperature".into())))
            .or_else(|| spec.and_then(|s| s.lm.temperature.map(|t| Setting::new(t, Source::Spec(s.path.clone())))))
            .or_else(|| file.and_then(|c| c.lm.temperature).and_then(|t| project_src().map(|s| Setting::new(t, s))));
        if let Some(t) = &temperature {
            check_temperature(t.value).map_err(|msg| error_at(&t.source, "lm.temperature", msg))?;
        }
        let max_tokens = flags
            .max_tokens
            .map(|n| Setting::new(n, Source::Flag("--max-tokens".into())))
            .or_else(|| spec.and_then(|s| s.lm.max_tokens.map(|n| Setting::new(n, Source::Spec(s.path.clone())))))
            .or_else(|| file.and_then(|c| c.lm.max_tokens).and_then(|n| project_src().map(|s| Setting::new(n, s))));
        if let Some(n) = max_tokens.as_ref().filter(|n| n.value == 0) {
            return Err(error_at(&n.source, "lm.max_tokens", "must be 1 or more"));
        }

        // The base URL that the run's LM asks for, before the provider's own settings.
        let spec_provider_matches =
            spec.is_some_and(|s| s.lm.model.as_deref().map(provider_of).is_none_or(|p| Some(p) == lm_provider));
        let lm_base_url = from_flag(&flags.base_url, "--base-url")
            .or_else(|| from_env("LMC_BASE_URL"))
            .filter(|_| lm_provider.is_some());
        let spec_base_url = if spec_provider_matches { from_spec(spec.and_then(|s| s.base_url.clone())) } else { None };
        for url in lm_base_url.iter().chain(spec_base_url.iter()) {
            check_base_url(&url.value).map_err(|msg| error_at(&url.source, "lm.base_url", msg))?;
        }

        // Providers: built in, then named in lmc.toml.
        let mut names: Vec<String> = BUILTINS.iter().map(|b| b.name.to_string()).collect();
        if let Some(c) = file {
            names.extend(c.providers.keys().filter(|n| builtin(n).is_none()).cloned());
        }
        let mut providers = BTreeMap::new();
        for name in names {
            let b = builtin(&name);
            let fc = file.and_then(|c| c.providers.get(&name));
            let file_value = |v: Option<&String>| from_file(v.cloned());

            let kind = match (b, fc.and_then(|f| f.kind)) {
                (Some(b), _) => Setting::new(b.kind, Source::Default),
                (None, Some(kind)) => Setting::new(kind, project_src().unwrap_or(Source::Default)),
                (None, None) => {
                    return Err(ConfigError {
                        path: project.map(|(p, _)| p.clone()),
                        key: Some(format!("providers.{name}.kind")),
                        message: "a provider that is not built in needs kind = \"openai\" or \"anthropic\"".into(),
                    })
                }
            };

            let is_lm_provider = lm_provider == Some(name.as_str());
            let env_var = base_url_env_var(&name);
            let base_url = lm_base_url
                .clone()
                .filter(|_| is_lm_provider)
                .or_else(|| from_env(&env_var))
                .or_else(|| spec_base_url.clone().filter(|_| is_lm_provider))
                .or_else(|| file_value(fc.and_then(|f| f.base_url.as_ref())))
                .or_else(|| b.map(|b| Setting::new(b.base_url.to_string(), Source::Default)));
            let Some(base_url) = base_url else {
                return Err(ConfigError {
                    path: project.map(|(p, _)| p.clone()),
                    key: Some(format!("providers.{name}.base_url")),
                    message: format!("provider `{name}` has no base URL: set it here or in {env_var}"),
                });
            };
            check_base_url(&base_url.value)
                .map_err(|msg| error_at(&base_url.source, &format!("providers.{name}.base_url"), msg))?;

            let api_key_env = match fc.and_then(|f| f.api_key_env.as_ref()) {
                Some(var) => {
                    Setting::new(Some(var.clone()).filter(|v| !v.is_empty()), project_src().unwrap_or(Source::Default))
                }
                None => Setting::new(b.and_then(|b| b.key_env).map(str::to_string), Source::Default),
            };
            let key_required = api_key_env.value.is_some() && !b.is_some_and(|b| b.key_optional);
            let key = match &api_key_env.value {
                Some(var) if env.is_set(var) => KeyStatus::Set,
                Some(_) => KeyStatus::Unset,
                None => KeyStatus::NotNeeded,
            };
            let max_concurrency = fc
                .and_then(|f| f.max_concurrency)
                .and_then(|n| project_src().map(|s| Setting::new(n, s)))
                .unwrap_or_else(|| Setting::new(DEFAULT_MAX_CONCURRENCY, Source::Default));
            let timeout_secs = fc
                .and_then(|f| f.timeout_secs)
                .and_then(|n| project_src().map(|s| Setting::new(n, s)))
                .unwrap_or_else(|| Setting::new(DEFAULT_TIMEOUT_SECS, Source::Default));

            providers.insert(
                name.clone(),
                ResolvedProvider {
                    name,
                    kind,
                    base_url,
                    api_key_env,
                    key_required,
                    key,
                    max_concurrency,
                    timeout_secs,
                },
            );
        }
        let lm_url = match lm_provider.and_then(|p| providers.get(p)) {
            Some(p) => Some(p.base_url.clone()),
            None => lm_base_url.or(spec_base_url),
        };

        // Cache.
        let project_dir = project.map(|(p, _)| p.parent().unwrap_or(Path::new("")).to_path_buf());
        let cache_path = flags
            .cache_path
            .clone()
            .map(|p| Setting::new(p, Source::Flag("--cache-path".into())))
            .or_else(|| env.get("LMC_CACHE_PATH").map(|p| Setting::new(p.into(), Source::Env("LMC_CACHE_PATH".into()))))
            .or_else(|| {
                let p = file.and_then(|c| c.cache.path.clone())?;
                Some(Setting::new(in_dir(project_dir.as_deref(), &p, env), project_src()?))
            })
            .map(|s| Setting::new(Some(expand_home(&s.value, env)), s.source))
            .unwrap_or_else(|| {
                let default = self.default_cache_path.clone().or_else(|| default_cache_path(env));
                Setting::new(default, Source::Default)
            });
        let cache_mode = match flags.cache_mode {
            Some(m) => Setting::new(m, Source::Flag("--cache-mode".into())),
            None => match env.get("LMC_CACHE_MODE") {
                Some(v) => {
                    let mode = v
                        .parse::<CacheMode>()
                        .map_err(|msg| error_at(&Source::Env("LMC_CACHE_MODE".into()), "", msg.to_string()))?;
                    Setting::new(mode, Source::Env("LMC_CACHE_MODE".into()))
                }
                None => spec
                    .and_then(|s| s.cache_mode.map(|m| Setting::new(m, Source::Spec(s.path.clone()))))
                    .or_else(|| file.and_then(|c| c.cache.mode).and_then(|m| project_src().map(|s| Setting::new(m, s))))
                    .unwrap_or_else(|| Setting::new(CacheMode::default(), Source::Default)),
            },
        };

        // Prices.
        let prices = flags
            .prices
            .clone()
            .map(|p| Setting::new(Some(expand_home(&p, env)), Source::Flag("--prices".into())))
            .or_else(|| {
                env.get("LMC_PRICES")
                    .map(|p| Setting::new(Some(expand_home(Path::new(&p), env)), Source::Env("LMC_PRICES".into())))
            })
            .or_else(|| {
                let p = file.and_then(|c| c.pricing.file.clone())?;
                Some(Setting::new(Some(in_dir(project_dir.as_deref(), &p, env)), project_src()?))
            })
            .unwrap_or_else(|| Setting::new(None, Source::Default));

        Ok(ResolvedConfig {
            project_file: project.map(|(p, _)| p.clone()),
            spec_file: spec.map(|s| s.path.clone()),
            lm: ResolvedLm {
                model,
                base_url: lm_url,
                temperature: opt_setting(temperature),
                max_tokens: opt_setting(max_tokens),
            },
            providers,
            cache: ResolvedCache { path: cache_path, mode: cache_mode },
            pricing: ResolvedPricing { file: prices },
        })
    }
}

fn opt_setting<T>(s: Option<Setting<T>>) -> Setting<Option<T>> {
    match s {
        Some(s) => Setting::new(Some(s.value), s.source),
        None => Setting::new(None, Source::Default),
    }
}

/// `openai` in `openai/gpt-4o`; the whole string when it has no `/` (`sim`).
fn provider_of(model: &str) -> &str {
    model.split_once('/').map_or(model, |(p, _)| p)
}

/// An error about a value from `source`; `file_key` names it inside a file.
fn error_at(source: &Source, file_key: &str, message: impl Into<String>) -> ConfigError {
    let (path, key) = match source {
        Source::Flag(flag) => (None, Some(flag.clone())),
        Source::Env(var) => (None, Some(var.clone())),
        Source::Spec(p) | Source::Project(p) => (Some(p.clone()), Some(file_key.to_string())),
        Source::Default => (None, Some(file_key.to_string())),
    };
    ConfigError { path, key: key.filter(|k| !k.is_empty()), message: message.into() }
}

fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").or_else(|| env.get("USERPROFILE")).map(PathBuf::from)
}

/// `~` and `~/…` expanded with `$HOME`; anything else unchanged.
fn expand_home(path: &Path, env: &Env) -> PathBuf {
    let Some(text) = path.to_str() else { return path.to_path_buf() };
    let rest = match text.strip_prefix('~') {
        Some("") => "",
        Some(rest) if rest.starts_with('/') || rest.starts_with('\\') => &rest[1..],
        _ => return path.to_path_buf(),
    };
    match home(env) {
        Some(h) if rest.is_empty() => h,
        Some(h) => h.join(rest),
        None => path.to_path_buf(),
    }
}

/// A path from `lmc.toml`: `~` expanded, then relative to the file's directory.
fn in_dir(dir: Option<&Path>, path: &Path, env: &Env) -> PathBuf {
    let path = expand_home(path, env);
    match dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    }
}

/// `$XDG_CACHE_HOME/lmc/cache.sqlite`, else `~/.cache/lmc/cache.sqlite`, else (Windows)
/// `%LOCALAPPDATA%\lmc\cache.sqlite`.
fn default_cache_path(env: &Env) -> Option<PathBuf> {
    let xdg = env.get("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| home(env).map(|h| h.join(".cache")))
        .or_else(|| env.get("LOCALAPPDATA").map(PathBuf::from))
        .map(|dir| dir.join("lmc").join("cache.sqlite"))
}

/// A URL with any `user:password@` replaced by `***@`, for display.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..authority_start], &url[authority_start + at..]),
        None => url.to_string(),
    }
}

impl ResolvedConfig {
    /// A provider's settings by name.
    pub fn provider(&self, name: &str) -> Option<&ResolvedProvider> {
        self.providers.get(name)
    }

    /// The settings of the default LM's provider, when it is an HTTP provider lmc knows.
    pub fn lm_provider(&self) -> Option<&ResolvedProvider> {
        self.lm.provider().and_then(|p| self.providers.get(p))
    }

    /// The default model, or an error saying how to choose one.
    pub fn require_model(&self) -> Result<&str, ConfigError> {
        self.lm.model.value.as_deref().ok_or_else(|| ConfigError {
            path: None,
            key: None,
            message: "no LM chosen: pass --lm provider/model (e.g. --lm openai/gpt-4o-mini or --lm ollama/llama3.2), \
                      set LMC_LM, or set [lm] model in lmc.toml"
                .into(),
        })
    }

    /// The built-in price table with the configured price file's entries over it.
    pub fn price_table(&self) -> Result<PriceTable, PriceError> {
        match &self.pricing.file.value {
            None => Ok(PriceTable::builtin().clone()),
            Some(path) => Ok(PriceTable::builtin().with_overrides(&PriceTable::load(path)?)),
        }
    }

    /// A human-readable listing for `lmc config`: every setting, its value and its source;
    /// each provider's key variable as `set` or `unset`, never its value.
    pub fn render(&self) -> String {
        let mut rows: Vec<(String, String, String)> = Vec::new();
        let head = |rows: &mut Vec<(String, String, String)>, title: String| {
            rows.push((title, String::new(), String::new()));
        };
        let row = |rows: &mut Vec<(String, String, String)>, label: &str, value: String, source: &Source| {
            rows.push((format!("  {label}"), value, source.to_string()));
        };
        let or_unset = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());

        head(&mut rows, "files".into());
        rows.push((
            "  lmc.toml".into(),
            self.project_file.as_ref().map_or("(none found)".into(), |p| p.display().to_string()),
            String::new(),
        ));
        rows.push((
            "  spec".into(),
            self.spec_file.as_ref().map_or("(none)".into(), |p| p.display().to_string()),
            String::new(),
        ));

        head(&mut rows, "lm".into());
        row(&mut rows, "model", or_unset(self.lm.model.value.clone()), &self.lm.model.source);
        if let Some(url) = &self.lm.base_url {
            row(&mut rows, "base_url", redact_url(&url.value), &url.source);
        }
        row(
            &mut rows,
            "temperature",
            or_unset(self.lm.temperature.value.map(|t| t.to_string())),
            &self.lm.temperature.source,
        );
        row(
            &mut rows,
            "max_tokens",
            or_unset(self.lm.max_tokens.value.map(|n| n.to_string())),
            &self.lm.max_tokens.source,
        );

        head(&mut rows, "cache".into());
        row(
            &mut rows,
            "path",
            self.cache.path.value.as_ref().map_or("(none: no home directory)".into(), |p| p.display().to_string()),
            &self.cache.path.source,
        );
        row(&mut rows, "mode", self.cache.mode.value.to_string(), &self.cache.mode.source);

        head(&mut rows, "pricing".into());
        row(
            &mut rows,
            "file",
            self.pricing.file.value.as_ref().map_or("(none: built-in table only)".into(), |p| p.display().to_string()),
            &self.pricing.file.source,
        );

        for p in self.providers.values() {
            head(&mut rows, format!("providers.{}", p.name));
            row(&mut rows, "kind", p.kind.value.to_string(), &p.kind.source);
            row(&mut rows, "base_url", redact_url(&p.base_url.value), &p.base_url.source);
            row(&mut rows, "api key", key_summary(p), &p.api_key_env.source);
            row(&mut rows, "max_concurrency", p.max_concurrency.value.to_string(), &p.max_concurrency.source);
            row(&mut rows, "timeout", format!("{} s", p.timeout_secs.value), &p.timeout_secs.source);
        }

        let label_width = rows.iter().filter(|r| !r.1.is_empty()).map(|r| r.0.chars().count()).max().unwrap_or(0);
        let value_width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).min(60);
        let mut out = String::new();
        for (label, value, source) in rows {
            let line = if value.is_empty() && source.is_empty() {
                if !out.is_empty() {
                    out.push('\n');
                }
                label
            } else if source.is_empty() {
                format!("{label:label_width$}  {value}")
            } else {
                format!("{label:label_width$}  {value:value_width$}  {source}")
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The same listing as JSON, for `lmc config --json`. Keys appear only as `set`/`unset`.
    pub fn to_json(&self) -> serde_json::Value {
        let setting = |value: serde_json::Value, source: &Source| json!({ "value": value, "source": source });
        let providers: serde_json::Map<String, serde_json::Value> = self
            .providers
            .values()
            .map(|p| {
                (
                    p.name.clone(),
                    json!({
                        "kind": setting(json!(p.kind.value), &p.kind.source),
                        "base_url": setting(json!(redact_url(&p.base_url.value)), &p.base_url.source),
                        "api_key_env": setting(json!(p.api_key_env.value), &p.api_key_env.source),
                        "api_key": p.key.as_str(),
                        "key_required": p.key_required,
                        "max_concurrency": setting(json!(p.max_concurrency.value), &p.max_concurrency.source),
                        "timeout_secs": setting(json!(p.timeout_secs.value), &p.timeout_secs.source),
                    }),
                )
            })
            .collect();
        json!({
            "project_file": self.project_file,
            "spec_file": self.spec_file,
            "lm": {
                "model": setting(json!(self.lm.model.value), &self.lm.model.source),
                "base_url": self.lm.base_url.as_ref().map(|u| setting(json!(redact_url(&u.value)), &u.source)),
                "temperature": setting(json!(self.lm.temperature.value), &self.lm.temperature.source),
                "max_tokens": setting(json!(self.lm.max_tokens.value), &self.lm.max_tokens.source),
            },
            "cache": {
                "path": setting(json!(self.cache.path.value), &self.cache.path.source),
                "mode": setting(json!(self.cache.mode.value), &self.cache.mode.source),
            },
            "pricing": {
                "file": setting(json!(self.pricing.file.value), &self.pricing.file.source),
            },
            "providers": providers,
        })
    }
}

fn key_summary(p: &ResolvedProvider) -> String {
    match (&p.api_key_env.value, p.key) {
        (None, _) => "none (no key needed)".into(),
        (Some(var), KeyStatus::Unset) if !p.key_required => format!("{var} (unset, optional)"),
        (Some(var), status) => format!("{var} ({})", status.as_str()),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A configuration that cannot be used, with the place that needs fixing: the file and key,
/// the flag, or the environment variable. Never holds a key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (`lmc.toml` or a spec), when the value came from one.
    pub path: Option<PathBuf>,
    /// The key (`providers.openai.base_url`), flag (`--lm`) or variable (`LMC_CACHE_MODE`).
    pub key: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, &self.key) {
            (Some(path), Some(key)) => write!(f, "{}: `{key}`: {}", path.display(), self.message),
            (Some(path), None) => write!(f, "{}: {}", path.display(), self.message),
            (None, Some(key)) => write!(f, "`{key}`: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
