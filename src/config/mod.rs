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

pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 8;
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 120;

mod file;
mod render;
mod resolve;

pub(crate) use file::describe_toml_error;
pub use file::*;
pub use resolve::*;

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
