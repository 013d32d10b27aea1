//! Showing a resolved configuration (text and JSON), never a key's value.

#[allow(unused_imports)]
use super::*;

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

pub(super) fn key_summary(p: &ResolvedProvider) -> String {
    match (&p.api_key_env.value, p.key) {
        (None, _) => "none (no key needed)".into(),
        (Some(var), KeyStatus::Unset) if !p.key_required => format!("{var} (unset, optional)"),
        (Some(var), status) => format!("{var} ({})", status.as_str()),
    }
}
