use std::path::{Path, PathBuf};

use lmc::config::{
    CacheMode, Config, ConfigError, Env, Flags, KeyStatus, LmConfig, ProviderKind, ResolvedConfig, Resolver, Source,
    SpecLayer,
};

const SECRET: &str = "sk-test-SECRET-123";

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-tests-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn discovery_walks_up_to_the_repository_root() {
    let root = scratch("discover");
    std::fs::create_dir_all(root.join("repo/.git")).unwrap();
    std::fs::create_dir_all(root.join("repo/a/b/c")).unwrap();
    write(&root.join("repo/lmc.toml"), "[lm]\nmodel = \"sim\"\n");

    let (path, config) = Config::discover(root.join("repo/a/b/c")).unwrap().unwrap();
    assert_eq!(path, std::fs::canonicalize(root.join("repo/lmc.toml")).unwrap());
    assert_eq!(config.lm.model.as_deref(), Some("sim"));

    // The nearest file wins.
    write(&root.join("repo/a/lmc.toml"), "[cache]\nmode = \"off\"\n");
    let (path, config) = Config::discover(root.join("repo/a/b/c")).unwrap().unwrap();
    assert!(path.ends_with("repo/a/lmc.toml"), "{}", path.display());
    assert_eq!(config.cache.mode, Some(CacheMode::Off));
    assert_eq!(config.lm.model, None, "files are not merged");

    // A file above the repository root is not the project's.
    std::fs::remove_file(root.join("repo/lmc.toml")).unwrap();
    std::fs::remove_file(root.join("repo/a/lmc.toml")).unwrap();
    write(&root.join("lmc.toml"), "[lm]\nmodel = \"sim\"\n");
    assert_eq!(Config::discover(root.join("repo/a/b")).unwrap(), None);
    assert!(Config::discover(&root).unwrap().is_some());

    // An explicit path loads directly; a broken file found on the way up is an error.
    write(&root.join("elsewhere/custom.toml"), "[lm]\nmodel = \"openai/gpt-4o\"\n");
    assert_eq!(Config::load(root.join("elsewhere/custom.toml")).unwrap().lm.model.as_deref(), Some("openai/gpt-4o"));
    write(&root.join("repo/lmc.toml"), "[lm]\nmodle = \"sim\"\n");
    let err = Config::discover(root.join("repo/a")).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("lm.modle"));
    std::fs::remove_dir_all(&root).unwrap();
}

/// A project file, spec, environment and flags that all set the model, base URL and cache mode.
struct Layers {
    file: (PathBuf, Config),
    spec: SpecLayer,
    env: Vec<(&'static str, &'static str)>,
    flags: Flags,
}

fn layers() -> Layers {
    let file = Config::from_toml_str(
        r#"
[lm]
model = "openai/gpt-4o-mini"
[providers.openai]
base_url = "https://file.example/v1"
[cache]
mode = "off"
"#,
    )
    .unwrap();
    Layers {
        file: (PathBuf::from("/project/lmc.toml"), file),
        spec: SpecLayer {
            path: PathBuf::from("/project/evals/triage.toml"),
            lm: LmConfig { model: Some("openai/gpt-4.1".into()), ..LmConfig::default() },
            base_url: Some("https://spec.example/v1".into()),
            cache_mode: Some(CacheMode::Refresh),
        },
        env: vec![
            ("LMC_LM", "openai/gpt-5"),
            ("LMC_BASE_URL", "https://env.example/v1"),
            ("LMC_CACHE_MODE", "replay-only"),
        ],
        flags: Flags {
            lm: Some("openai/o3".into()),
            base_url: Some("https://flag.example/v1".into()),
            cache_mode: Some(CacheMode::ReadWrite),
            ..Flags::default()
        },
    }
}

fn resolve(
    flags: Option<Flags>,
    env: &Env,
    spec: Option<SpecLayer>,
    file: Option<(PathBuf, Config)>,
) -> ResolvedConfig {
    let mut resolver = Resolver::new(env).flags(flags.unwrap_or_default()).project_file(file);
    if let Some(spec) = spec {
        resolver = resolver.spec(spec);
    }
    resolver.resolve().unwrap()
}

#[test]
fn precedence_is_flag_env_spec_file_default() {
    let l = layers();
    let env = Env::from_pairs(l.env.clone());
    let file_src = Source::Project(PathBuf::from("/project/lmc.toml"));
    let spec_src = Source::Spec(PathBuf::from("/project/evals/triage.toml"));

    let r = resolve(Some(l.flags.clone()), &env, Some(l.spec.clone()), Some(l.file.clone()));
    assert_eq!(r.lm.model, setting(Some("openai/o3".to_string()), Source::Flag("--lm".into())));
    assert_eq!(r.provider("openai").unwrap().base_url.value, "https://flag.example/v1");
    assert_eq!(r.provider("openai").unwrap().base_url.source, Source::Flag("--base-url".into()));
    assert_eq!(r.lm.base_url.as_ref().unwrap().value, "https://flag.example/v1");
    assert_eq!(r.cache.mode, setting(CacheMode::ReadWrite, Source::Flag("--cache-mode".into())));
    assert_eq!(r.project_file.as_deref(), Some(Path::new("/project/lmc.toml")));
    assert_eq!(r.spec_file.as_deref(), Some(Path::new("/project/evals/triage.toml")));

    let r = resolve(None, &env, Some(l.spec.clone()), Some(l.file.clone()));
    assert_eq!(r.lm.model, setting(Some("openai/gpt-5".to_string()), Source::Env("LMC_LM".into())));
    assert_eq!(r.lm.model.source.to_string(), "env LMC_LM");
    let openai = r.provider("openai").unwrap();
    assert_eq!(
        (openai.base_url.value.as_str(), &openai.base_url.source),
        ("https://env.example/v1", &Source::Env("LMC_BASE_URL".into()))
    );
    assert_eq!(r.cache.mode, setting(CacheMode::ReplayOnly, Source::Env("LMC_CACHE_MODE".into())));

    let r = resolve(None, &Env::empty(), Some(l.spec.clone()), Some(l.file.clone()));
    assert_eq!(r.lm.model, setting(Some("openai/gpt-4.1".to_string()), spec_src.clone()));
    assert_eq!(
        r.provider("openai").unwrap().base_url,
        setting("https://spec.example/v1".to_string(), spec_src.clone())
    );
    assert_eq!(r.cache.mode, setting(CacheMode::Refresh, spec_src));
    assert_eq!(r.lm.model.source.to_string(), "spec (/project/evals/triage.toml)");

    let r = resolve(None, &Env::empty(), None, Some(l.file));
    assert_eq!(r.lm.model, setting(Some("openai/gpt-4o-mini".to_string()), file_src.clone()));
    assert_eq!(
        r.provider("openai").unwrap().base_url,
        setting("https://file.example/v1".to_string(), file_src.clone())
    );
    assert_eq!(r.cache.mode, setting(CacheMode::Off, file_src));
    assert_eq!(r.lm.model.source.to_string(), "lmc.toml (/project/lmc.toml)");

    let r = resolve(None, &Env::empty(), None, None);
    assert_eq!(r.lm.model, setting(None, Source::Default));
    assert_eq!(
        r.provider("openai").unwrap().base_url,
        setting("https://api.openai.com/v1".to_string(), Source::Default)
    );
    assert_eq!(r.cache.mode, setting(CacheMode::ReadWrite, Source::Default));
    assert_eq!(r.lm.model.source.to_string(), "default");
    assert!(r.require_model().unwrap_err().to_string().contains("--lm provider/model"));
}

fn setting<T>(value: T, source: Source) -> lmc::config::Setting<T> {
    lmc::config::Setting { value, source }
}

#[test]
fn provider_base_url_variables_sit_in_the_environment_layer() {
    let l = layers();
    // OPENAI_BASE_URL beats the spec and the file, and LMC_BASE_URL beats it.
    let env = Env::from_pairs([("OPENAI_BASE_URL", "https://proxy.example/v1")]);
    let r = resolve(None, &env, Some(l.spec.clone()), Some(l.file.clone()));
    assert_eq!(
        r.provider("openai").unwrap().base_url,
        setting("https://proxy.example/v1".to_string(), Source::Env("OPENAI_BASE_URL".into()))
    );
    let env = env.with("LMC_BASE_URL", "https://lmc.example/v1");
    let r = resolve(None, &env, Some(l.spec.clone()), Some(l.file.clone()));
    assert_eq!(r.provider("openai").unwrap().base_url.source, Source::Env("LMC_BASE_URL".into()));

    // ANTHROPIC_BASE_URL applies to anthropic whatever the LM; LMC_BASE_URL only to the LM's.
    let env = Env::from_pairs([
        ("ANTHROPIC_BASE_URL", "https://anthropic-proxy.example/v1"),
        ("LMC_BASE_URL", "https://lmc.example/v1"),
    ]);
    let r = resolve(None, &env, None, Some(l.file.clone()));
    assert_eq!(r.provider("anthropic").unwrap().base_url.value, "https://anthropic-proxy.example/v1");
    assert_eq!(r.provider("openai").unwrap().base_url.value, "https://lmc.example/v1");
    assert_eq!(r.provider("ollama").unwrap().base_url.value, "http://localhost:11434/v1");

    // A spec's base URL is for the spec's provider: --lm anthropic/… does not inherit it.
    let flags = Flags { lm: Some("anthropic/claude-haiku-4-5".into()), ..Flags::default() };
    let r = resolve(Some(flags), &Env::empty(), Some(l.spec.clone()), Some(l.file));
    assert_eq!(r.lm_provider().unwrap().name, "anthropic");
    assert_eq!(r.lm.base_url.as_ref().unwrap().value, "https://api.anthropic.com/v1");
    assert_eq!(r.provider("openai").unwrap().base_url.value, "https://file.example/v1");
}

#[test]
fn builtin_provider_defaults() {
    let r = resolve(None, &Env::empty(), None, None);
    let p = |name: &str| r.provider(name).unwrap();
    assert_eq!(p("openai").kind.value, ProviderKind::OpenAi);
    assert_eq!(p("openai").api_key_env.value.as_deref(), Some("OPENAI_API_KEY"));
    assert!(p("openai").key_required);
    assert_eq!(p("anthropic").kind.value, ProviderKind::Anthropic);
    assert_eq!(p("anthropic").base_url.value, "https://api.anthropic.com/v1");
    assert_eq!(p("anthropic").api_key_env.value.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(p("ollama").kind.value, ProviderKind::OpenAi);
    assert_eq!(p("ollama").api_key_env.value, None);
    assert_eq!(p("ollama").key, KeyStatus::NotNeeded);
    assert_eq!(p("vllm").base_url.value, "http://localhost:8000/v1");
    assert_eq!(p("vllm").api_key_env.value.as_deref(), Some("VLLM_API_KEY"));
    assert!(!p("vllm").key_required);
    for provider in r.providers.values() {
        assert_eq!(provider.max_concurrency, setting(8, Source::Default));
        assert_eq!(provider.timeout().as_secs(), 120);
    }
    assert_eq!(r.providers.len(), 4);
}

#[test]
fn a_user_named_provider_speaks_a_known_protocol() {
    let config = Config::from_toml_str(
        r#"
[lm]
model = "together/meta-llama/Llama-3.3-70B-Instruct-Turbo"
temperature = 0
max_tokens = 512

[providers.together]
kind = "openai"
base_url = "https://api.together.xyz/v1"
api_key_env = "TOGETHER_API_KEY"
max_concurrency = 4
timeout_secs = 30

[providers.ollama]
api_key_env = "OLLAMA_TOKEN"
"#,
    )
    .unwrap();
    let file = Source::Project(PathBuf::from("/p/lmc.toml"));
    let env = Env::from_pairs([("TOGETHER_API_KEY", SECRET)]);
    let r = Resolver::new(&env).project("/p/lmc.toml", config.clone()).resolve().unwrap();
    assert_eq!(r.lm.provider(), Some("together"));
    let together = r.lm_provider().unwrap();
    assert_eq!(together.kind, setting(ProviderKind::OpenAi, file.clone()));
    assert_eq!(together.base_url, setting("https://api.together.xyz/v1".to_string(), file.clone()));
    assert_eq!(together.api_key_env.value.as_deref(), Some("TOGETHER_API_KEY"));
    assert_eq!(together.key, KeyStatus::Set);
    assert!(together.key_required);
    assert_eq!(together.api_key(&env).as_deref(), Some(SECRET));
    assert_eq!(together.max_concurrency, setting(4, file.clone()));
    assert_eq!(together.timeout().as_secs(), 30);
    assert_eq!(r.lm.temperature, setting(Some(0.0), file.clone()));
    assert_eq!(r.lm.max_tokens, setting(Some(512), file));
    assert_eq!(r.provider("ollama").unwrap().key, KeyStatus::Unset);
    assert_eq!(r.providers.len(), 5);

    // Its own <NAME>_BASE_URL variable overrides the file.
    let env = Env::from_pairs([("TOGETHER_BASE_URL", "https://eu.together.example/v1")]);
    let r = Resolver::new(&env).project("/p/lmc.toml", config).resolve().unwrap();
    assert_eq!(r.lm.base_url.as_ref().unwrap().source, Source::Env("TOGETHER_BASE_URL".into()));
    assert_eq!(r.lm_provider().unwrap().key, KeyStatus::Unset);

    let err = Config::from_toml_str("[providers.together]\nbase_url = \"https://x.example/v1\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("providers.together.kind"));
    let err = Config::from_toml_str("[providers.together]\nkind = \"openai\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("providers.together.base_url"));
    let err = Config::from_toml_str("[providers.openai]\nkind = \"anthropic\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("providers.openai.kind"));
    let err = Config::from_toml_str("[providers.mine]\nkind = \"gemini\"\nbase_url = \"https://x/v1\"\n").unwrap_err();
    assert!(err.message.contains("openai"), "{err}");
    let err = Config::from_toml_str("[providers.sim]\nkind = \"openai\"\nbase_url = \"https://x/v1\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("providers.sim"));
}

fn file_err(name: &str, text: &str) -> (PathBuf, ConfigError) {
    let dir = scratch(name);
    let path = dir.join("lmc.toml");
    write(&path, text);
    let err = Config::load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    (path, err)
}

#[test]
fn errors_name_the_file_and_the_key_and_never_echo_a_secret() {
    let (path, err) =
        file_err("unknown", "[providers.openai]\nbase_url = \"https://api.openai.com/v1\"\nbase_ulr = \"x\"\n");
    assert_eq!(err.path.as_deref(), Some(path.as_path()));
    assert_eq!(err.key.as_deref(), Some("providers.openai.base_ulr"));
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()) && shown.contains("providers.openai.base_ulr"), "{shown}");
    assert!(shown.contains("base_url"), "lists the expected keys: {shown}");

    let (_, err) = file_err("top", "[lm]\nmodel = \"sim\"\n[caches]\nmode = \"off\"\n");
    assert_eq!(err.key.as_deref(), Some("caches"));

    // A key pasted into the file is refused without being repeated.
    let (_, err) = file_err("pasted", &format!("[providers.openai]\napi_key = \"{SECRET}\"\n"));
    assert_eq!(err.key.as_deref(), Some("providers.openai.api_key"));
    assert!(err.message.contains("api_key_env"), "{err}");
    assert!(!format!("{err} {err:?}").contains(SECRET));
    let (_, err) = file_err("pasted-env", &format!("[providers.openai]\napi_key_env = \"{SECRET}\"\n"));
    assert_eq!(err.key.as_deref(), Some("providers.openai.api_key_env"));
    assert!(!format!("{err} {err:?}").contains(SECRET));
    let (_, err) = file_err("pasted-syntax", &format!("[providers.openai]\napi_key_env = \"{SECRET}\n"));
    assert!(err.message.contains("line 2"), "{err}");
    assert!(!format!("{err} {err:?}").contains(SECRET));

    for (text, key) in [
        ("[lm]\nmodel = 3\n", "lm.model"),
        ("[lm]\nmodel = \"openai/\"\n", "lm.model"),
        ("[lm]\ntemperature = -1.0\n", "lm.temperature"),
        ("[lm]\nmax_tokens = 0\n", "lm.max_tokens"),
        ("[providers.openai]\nmax_concurrency = 0\n", "providers.openai.max_concurrency"),
        ("[providers.openai]\nbase_url = \"api.openai.com\"\n", "providers.openai.base_url"),
        ("[cache]\nmode = \"sometimes\"\n", "cache.mode"),
        ("[pricing]\nfile = 3\n", "pricing.file"),
        ("lm = 3\n", "lm"),
    ] {
        let err = Config::from_toml_str(text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
        assert_eq!(err.path, None);
    }

    // Bad values from flags and variables name the flag or the variable.
    let env = Env::from_pairs([("LMC_CACHE_MODE", "sometimes")]);
    let err = Resolver::new(&env).resolve().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("LMC_CACHE_MODE"));
    assert!(err.message.contains("replay-only"), "{err}");
    let flags = Flags { lm: Some("openai/".into()), ..Flags::default() };
    let err = Resolver::new(&Env::empty()).flags(flags).resolve().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("--lm"));
    let env = Env::from_pairs([("LMC_LM", "openai/gpt-4o"), ("LMC_BASE_URL", "localhost:8080")]);
    let err = Resolver::new(&env).resolve().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("LMC_BASE_URL"));
}

#[test]
fn paths_resolve_against_the_file_and_home() {
    let dir = scratch("paths");
    write(&dir.join("prices.toml"), "[models.\"acme/widget\"]\ninput = 1.0\noutput = 2.0\n");
    write(&dir.join("lmc.toml"), "[cache]\npath = \"cache/lmc.sqlite\"\n[pricing]\nfile = \"prices.toml\"\n");
    let (path, config) = Config::discover(&dir).unwrap().unwrap();
    let root = path.parent().unwrap().to_path_buf();
    let env = Env::from_pairs([("HOME", "/home/ada")]);
    let r = Resolver::new(&env).project(&path, config.clone()).resolve().unwrap();
    assert_eq!(r.cache.path.value.as_deref(), Some(root.join("cache/lmc.sqlite").as_path()));
    assert_eq!(r.pricing.file.value.as_deref(), Some(root.join("prices.toml").as_path()));
    let prices = r.price_table().unwrap();
    assert_eq!(prices.price("acme", "widget").unwrap().output, 2.0);
    assert!(prices.price("openai", "gpt-4o-mini").is_some(), "the built-in entries stay");

    // Flags and variables win; `~` is expanded.
    let env = env.with("LMC_CACHE_PATH", "~/caches/x.sqlite").with("LMC_PRICES", "/etc/lmc/prices.toml");
    let r = Resolver::new(&env).project(&path, config.clone()).resolve().unwrap();
    assert_eq!(
        r.cache.path,
        setting(Some(PathBuf::from("/home/ada/caches/x.sqlite")), Source::Env("LMC_CACHE_PATH".into()))
    );
    assert_eq!(r.pricing.file, setting(Some(PathBuf::from("/etc/lmc/prices.toml")), Source::Env("LMC_PRICES".into())));
    let flags = Flags { cache_path: Some("/tmp/c.sqlite".into()), prices: Some("p.toml".into()), ..Flags::default() };
    let r = Resolver::new(&env).flags(flags).project(&path, config).resolve().unwrap();
    assert_eq!(r.cache.path.source, Source::Flag("--cache-path".into()));
    assert_eq!(r.pricing.file, setting(Some(PathBuf::from("p.toml")), Source::Flag("--prices".into())));

    // Defaults: XDG_CACHE_HOME, then ~/.cache, or the caller's default.
    let r = Resolver::new(&Env::from_pairs([("HOME", "/home/ada")])).resolve().unwrap();
    assert_eq!(r.cache.path, setting(Some(PathBuf::from("/home/ada/.cache/lmc/cache.sqlite")), Source::Default));
    assert_eq!(r.pricing.file, setting(None, Source::Default));
    let env = Env::from_pairs([("HOME", "/home/ada"), ("XDG_CACHE_HOME", "/xdg")]);
    let r = Resolver::new(&env).resolve().unwrap();
    assert_eq!(r.cache.path.value.as_deref(), Some(Path::new("/xdg/lmc/cache.sqlite")));
    let r = Resolver::new(&env).default_cache_path("/var/cache/lmc.sqlite").resolve().unwrap();
    assert_eq!(r.cache.path, setting(Some(PathBuf::from("/var/cache/lmc.sqlite")), Source::Default));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn render_and_json_show_key_status_never_key_values() {
    let config = Config::from_toml_str(
        "[lm]\nmodel = \"openai/gpt-4o-mini\"\n[providers.groq]\nkind = \"openai\"\n\
         base_url = \"https://api.groq.com/openai/v1\"\napi_key_env = \"GROQ_API_KEY\"\n",
    )
    .unwrap();
    let env = Env::from_pairs([
        ("OPENAI_API_KEY", SECRET),
        ("GROQ_API_KEY", SECRET),
        ("LMC_BASE_URL", "https://user:sk-test-SECRET-123@proxy.example/v1"),
        ("HOME", "/home/ada"),
    ]);
    let spec = SpecLayer { path: "evals/triage.toml".into(), ..SpecLayer::default() };
    let r = Resolver::new(&env).project("/p/lmc.toml", config).spec(spec).resolve().unwrap();
    assert_eq!(r.provider("openai").unwrap().key, KeyStatus::Set);
    assert_eq!(r.provider("anthropic").unwrap().key, KeyStatus::Unset);

    let text = r.render();
    assert!(!text.contains(SECRET), "{text}");
    for expected in [
        "OPENAI_API_KEY (set)",
        "GROQ_API_KEY (set)",
        "ANTHROPIC_API_KEY (unset)",
        "VLLM_API_KEY (unset, optional)",
        "none (no key needed)",
        "providers.groq",
        "openai/gpt-4o-mini",
        "lmc.toml (/p/lmc.toml)",
        "https://***@proxy.example/v1",
        "env LMC_BASE_URL",
        "read-write",
        "/home/ada/.cache/lmc/cache.sqlite",
        "evals/triage.toml",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let model_line = text.lines().find(|l| l.trim_start().starts_with("model")).unwrap();
    assert!(model_line.ends_with("lmc.toml (/p/lmc.toml)"), "{model_line}");

    let json = r.to_json();
    let dumped = serde_json::to_string(&json).unwrap();
    assert!(!dumped.contains(SECRET), "{dumped}");
    assert_eq!(json["providers"]["openai"]["api_key"], "set");
    assert_eq!(json["providers"]["openai"]["api_key_env"]["value"], "OPENAI_API_KEY");
    assert_eq!(json["providers"]["anthropic"]["api_key"], "unset");
    assert_eq!(json["providers"]["ollama"]["api_key"], "not needed");
    assert_eq!(json["providers"]["groq"]["kind"]["value"], "openai");
    assert_eq!(json["lm"]["model"]["value"], "openai/gpt-4o-mini");
    assert_eq!(json["lm"]["model"]["source"], "lmc.toml (/p/lmc.toml)");
    assert_eq!(json["lm"]["base_url"]["value"], "https://***@proxy.example/v1");
    assert_eq!(json["cache"]["mode"]["value"], "read-write");
    assert_eq!(json["cache"]["mode"]["source"], "default");

    // The environment prints variable names only when debugged.
    let debugged = format!("{env:?}");
    assert!(debugged.contains("OPENAI_API_KEY") && !debugged.contains(SECRET), "{debugged}");
}
