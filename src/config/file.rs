//! The `lmc.toml` schema and its parser, and the built-in providers.

#[allow(unused_imports)]
use super::*;

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

pub(super) fn parse_config(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
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
pub(super) struct Cx<'a> {
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

pub(super) fn check_provider_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("a provider name is letters, digits, - and _".into());
    }
    if matches!(name, "sim" | "scripted") {
        return Err(format!("`{name}` is an in-process LM, not an HTTP provider, and cannot be configured here"));
    }
    Ok(())
}

pub(super) fn check_model(model: &str) -> Result<(), String> {
    let ok = !model.is_empty()
        && !model.chars().any(char::is_whitespace)
        && model.split_once('/').is_none_or(|(p, m)| !p.is_empty() && !m.is_empty());
    if ok {
        Ok(())
    } else {
        Err("must be \"provider/model\" (like \"openai/gpt-4o-mini\") or \"sim\"".into())
    }
}

pub(super) fn check_base_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL".into())
    }
}

pub(super) fn check_temperature(t: f64) -> Result<f64, String> {
    if t.is_finite() && t >= 0.0 {
        Ok(t)
    } else {
        Err("must be a number, 0 or more".into())
    }
}

pub(super) fn is_env_var_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A TOML error as `line L, column C: message`, without quoting the source line (which could
/// hold a secret pasted in the wrong place).
pub(crate) fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
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

pub(super) struct Builtin {
    pub(super) name: &'static str,
    pub(super) kind: ProviderKind,
    pub(super) base_url: &'static str,
    pub(super) key_env: Option<&'static str>,
    pub(super) key_optional: bool,
}

pub(super) const BUILTINS: [Builtin; 4] = [
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

pub(super) fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The environment variable that overrides a provider's base URL: `OPENAI_BASE_URL`, …
pub fn base_url_env_var(provider: &str) -> String {
    let upper: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{upper}_BASE_URL")
}
