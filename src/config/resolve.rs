//! Resolution through the layers: flags, environment, spec, `lmc.toml`, defaults.

#[allow(unused_imports)]
use super::*;

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

pub(super) fn opt_setting<T>(s: Option<Setting<T>>) -> Setting<Option<T>> {
    match s {
        Some(s) => Setting::new(Some(s.value), s.source),
        None => Setting::new(None, Source::Default),
    }
}

/// `openai` in `openai/gpt-4o`; the whole string when it has no `/` (`sim`).
pub(super) fn provider_of(model: &str) -> &str {
    model.split_once('/').map_or(model, |(p, _)| p)
}

/// An error about a value from `source`; `file_key` names it inside a file.
pub(super) fn error_at(source: &Source, file_key: &str, message: impl Into<String>) -> ConfigError {
    let (path, key) = match source {
        Source::Flag(flag) => (None, Some(flag.clone())),
        Source::Env(var) => (None, Some(var.clone())),
        Source::Spec(p) | Source::Project(p) => (Some(p.clone()), Some(file_key.to_string())),
        Source::Default => (None, Some(file_key.to_string())),
    };
    ConfigError { path, key: key.filter(|k| !k.is_empty()), message: message.into() }
}

pub(super) fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").or_else(|| env.get("USERPROFILE")).map(PathBuf::from)
}

/// `~` and `~/…` expanded with `$HOME`; anything else unchanged.
pub(super) fn expand_home(path: &Path, env: &Env) -> PathBuf {
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
pub(super) fn in_dir(dir: Option<&Path>, path: &Path, env: &Env) -> PathBuf {
    let path = expand_home(path, env);
    match dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    }
}

/// `$XDG_CACHE_HOME/lmc/cache.sqlite`, else `~/.cache/lmc/cache.sqlite`, else (Windows)
/// `%LOCALAPPDATA%\lmc\cache.sqlite`.
pub(super) fn default_cache_path(env: &Env) -> Option<PathBuf> {
    let xdg = env.get("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| home(env).map(|h| h.join(".cache")))
        .or_else(|| env.get("LOCALAPPDATA").map(PathBuf::from))
        .map(|dir| dir.join("lmc").join("cache.sqlite"))
}

/// A URL with any `user:password@` replaced by `***@`, for display.
pub(super) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..authority_start], &url[authority_start + at..]),
        None => url.to_string(),
    }
}
