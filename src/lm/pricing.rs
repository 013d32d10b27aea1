//! Dollar cost from a dated, versioned price table.
//!
//! lmc ships a price table ([`PriceTable::builtin`], the file `src/lm/prices.toml`) and reads
//! user files in the same schema, whose entries replace the built-in ones
//! ([`PriceTable::with_overrides`]). A model the table does not know has no cost (`None`,
//! reported as `null`), never a silent $0.
//!
//! # Schema
//!
//! ```toml
//! version = 1                 # bumped whenever a figure changes (optional in user files)
//! date = "2026-11-21"         # when the figures were checked (optional in user files)
//!
//! [source]                    # optional: where the figures come from
//! note = "Standard-tier list prices from the providers' public pricing pages."
//! urls = ["https://openai.com/api/pricing/"]
//!
//! [models."openai/gpt-4o-mini"]   # "provider/model", as in `--lm`
//! input = 0.15                # USD per million prompt tokens
//! cached_input = 0.075        # optional: per million prompt tokens read from the prompt cache
//! output = 0.60               # USD per million generated tokens (reasoning tokens included)
//!
//! [models."anthropic/claude-sonnet-4-5"]
//! input = 3.00
//! cached_input = 0.30
//! cache_write = 3.75          # optional: per million prompt tokens written to the prompt cache
//! output = 15.00
//!
//! [models."ollama/*"]         # every model of a provider (used when nothing more exact matches)
//! input = 0.0
//! output = 0.0
//! ```
//!
//! Unknown keys are errors, so a misspelt `cache_input` cannot silently price cache reads at
//! the full input rate. Prices must be finite and not negative.
//!
//! # Lookup
//!
//! [`PriceTable::price`] tries, in order:
//!
//! 1. the exact `provider/model`;
//! 2. the model without a trailing snapshot suffix: a date (`-2024-07-18`, `-20250514`,
//!    `@20250514`) or `-latest`, so `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`;
//! 3. the provider's wildcard `provider/*`.
//!
//! There is no looser prefix matching: `gpt-4o-mini` is never priced as `gpt-4o`.
//!
//! # Cost
//!
//! [`Usage::input_tokens`] counts *every* prompt token, including the ones read from
//! (`cached_input_tokens`) or written to (`cache_write_tokens`) the provider's prompt cache.
//! With prices per million tokens:
//!
//! ```text
//! cost = ( (input − cached − cache_write) · input_price
//!        + cached      · (cached_input_price or input_price)
//!        + cache_write · (cache_write_price  or input_price)
//!        + output      · output_price ) / 1,000,000
//! ```
//!
//! Inconsistent usage (more cached than prompt tokens) saturates at zero rather than
//! overflowing or going negative.
//!
//! ```
//! use lmc::lm::pricing::PriceTable;
//! use lmc::Usage;
//!
//! let prices = PriceTable::builtin();
//! let usage = Usage { input_tokens: 1_000_000, output_tokens: 100_000, ..Usage::default() };
//! // $0.15 per million input tokens, $0.60 per million output tokens.
//! let cost = prices.cost("openai", "gpt-4o-mini-2024-07-18", &usage).unwrap();
//! assert!((cost - 0.21).abs() < 1e-12);
//! // A model the table does not know has no cost, not a cost of $0.
//! assert_eq!(prices.cost("openai", "my-fine-tune", &usage), None);
//!
//! // A user file replaces or adds entries.
//! let mine = PriceTable::from_toml_str(r#"
//!     [models."ollama/*"]
//!     input = 0.0
//!     output = 0.0
//! "#)?;
//! let prices = prices.with_overrides(&mine);
//! assert_eq!(prices.cost("ollama", "llama3.2", &usage), Some(0.0));
//! # Ok::<(), lmc::lm::pricing::PriceError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::config::describe_toml_error;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::Usage;

/// The shipped table, compiled in.
const BUILTIN_TOML: &str = include_str!("prices.toml");

/// The price of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens (reasoning tokens included).
    pub output: f64,
    /// Per million prompt tokens read from the provider's prompt cache; `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Per million prompt tokens written to the provider's prompt cache; `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl ModelPrice {
    /// The cost of `usage` at these prices, in US dollars (see the [module docs](self)).
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_input_tokens;
        let written = usage.cache_write_tokens;
        let plain = usage.input_tokens.saturating_sub(cached.saturating_add(written));
        let micro = plain as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + usage.output_tokens as f64 * self.output;
        micro / 1_000_000.0
    }

    fn validate(&self) -> Result<(), String> {
        let fields = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cached_input", self.cached_input),
            ("cache_write", self.cache_write),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("`{name}` must be a finite number of dollars, 0 or more (got {v})"));
                }
            }
        }
        Ok(())
    }
}

/// Where a table's figures come from (the `[source]` section).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSource {
    /// A free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The pages the figures were taken from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// One file (or the built-in table) that contributed to a [`PriceTable`].
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    origin: String,
    version: Option<u32>,
    date: Option<String>,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        match (self.version, &self.date) {
            (Some(v), Some(d)) => write!(f, " (version {v}, checked {d})"),
            (Some(v), None) => write!(f, " (version {v})"),
            (None, Some(d)) => write!(f, " (checked {d})"),
            (None, None) => Ok(()),
        }
    }
}

/// Per-model prices, keyed by `provider/model` (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    layers: Vec<Layer>,
    source: Option<PriceSource>,
    models: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// The table shipped with lmc (`src/lm/prices.toml`), parsed once.
    pub fn builtin() -> &'static PriceTable {
        static BUILTIN: OnceLock<PriceTable> = OnceLock::new();
        BUILTIN.get_or_init(|| match PriceTable::parse(BUILTIN_TOML, None) {
            Ok(mut table) => {
                table.layers[0].origin = "built-in price table".to_string();
                table
            }
            // A test parses the shipped file, so this cannot happen in a released build.
            Err(e) => panic!("the built-in price table is invalid: {e}"),
        })
    }

    /// Parses a table from TOML text.
    pub fn from_toml_str(text: &str) -> Result<PriceTable, PriceError> {
        PriceTable::parse(text, None)
    }

    /// Reads a table from a file. Errors name the file and, where it applies, the entry.
    pub fn load(path: impl AsRef<Path>) -> Result<PriceTable, PriceError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| PriceError {
            path: Some(path.to_path_buf()),
            entry: None,
            message: format!("cannot read the price file: {e}"),
        })?;
        PriceTable::parse(&text, Some(path))
    }

    fn parse(text: &str, path: Option<&Path>) -> Result<PriceTable, PriceError> {
        let err = |entry: Option<&str>, message: String| PriceError {
            path: path.map(Path::to_path_buf),
            entry: entry.map(str::to_string),
            message,
        };
        let root: toml::Table = text.parse().map_err(|e: toml::de::Error| err(None, describe_toml_error(text, &e)))?;
        let mut version = None;
        let mut date = None;
        let mut source = None;
        let mut models = BTreeMap::new();
        for (key, value) in root {
            match key.as_str() {
                "version" => {
                    let v = value
                        .as_integer()
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| err(None, format!("`version` must be a whole number 0 or more, not {value}")))?;
                    version = Some(v);
                }
                "date" => {
                    date = Some(match value {
                        toml::Value::String(s) => s,
                        toml::Value::Datetime(d) => d.to_string(),
                        other => {
                            return Err(err(None, format!("`date` must be a date like \"2026-11-21\", not {other}")))
                        }
                    });
                }
                "source" => {
                    let s: PriceSource = value
                        .try_into()
                        .map_err(|e: toml::de::Error| err(None, format!("[source]: {}", e.message())))?;
                    source = Some(s);
                }
                "models" => {
                    let toml::Value::Table(entries) = value else {
                        return Err(err(
                            None,
                            "`models` must be a table of [models.\"provider/model\"] entries".into(),
                        ));
                    };
                    for (name, entry) in entries {
                        check_model_key(&name).map_err(|m| err(Some(&name), m))?;
                        let price: ModelPrice = entry
                            .try_into()
                            .map_err(|e: toml::de::Error| err(Some(&name), e.message().trim_end().to_string()))?;
                        price.validate().map_err(|m| err(Some(&name), m))?;
                        models.insert(name, price);
                    }
                }
                other => {
                    return Err(err(
                        None,
                        format!("unknown key `{other}` (expected `version`, `date`, `source` or `models`)"),
                    ))
                }
            }
        }
        let origin = path.map_or_else(|| "price table".to_string(), |p| p.display().to_string());
        Ok(PriceTable { layers: vec![Layer { origin, version, date }], source, models })
    }

    /// This table with `other`'s entries added, replacing entries of the same key.
    ///
    /// The version, date and source stay this table's; [`describe`](Self::describe) names
    /// both.
    pub fn with_overrides(&self, other: &PriceTable) -> PriceTable {
        let mut merged = self.clone();
        merged.layers.extend(other.layers.iter().cloned());
        merged.models.extend(other.models.iter().map(|(k, v)| (k.clone(), *v)));
        merged
    }

    /// The table's `version`, if it has one (the built-in table does).
    pub fn version(&self) -> Option<u32> {
        self.layers.first().and_then(|l| l.version)
    }

    /// The date the figures were checked (`"2026-11-21"`), if the table has one.
    pub fn date(&self) -> Option<&str> {
        self.layers.first().and_then(|l| l.date.as_deref())
    }

    /// Where the figures come from, if the table says.
    pub fn source(&self) -> Option<&PriceSource> {
        self.source.as_ref()
    }

    /// Names the table and its overrides for reports, e.g.
    /// `built-in price table (version 1, checked 2026-11-21) + prices.toml`.
    pub fn describe(&self) -> String {
        self.layers.iter().map(Layer::to_string).collect::<Vec<_>>().join(" + ")
    }

    /// The price of `provider`/`model`, by the lookup rules of the [module docs](self).
    pub fn price(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        if let Some(p) = self.models.get(&format!("{provider}/{model}")) {
            return Some(p);
        }
        if let Some(base) = strip_snapshot_suffix(model) {
            if let Some(p) = self.models.get(&format!("{provider}/{base}")) {
                return Some(p);
            }
        }
        self.models.get(&format!("{provider}/*"))
    }

    /// What `usage` costs on `provider`/`model`, in US dollars; `None` for an unknown model.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> Option<f64> {
        self.price(provider, model).map(|p| p.cost(usage))
    }

    /// Every entry, by key (`provider/model` or `provider/*`), in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ModelPrice)> + '_ {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// `provider/model` with both parts non-empty; the model may be `*`.
fn check_model_key(key: &str) -> Result<(), String> {
    match key.split_once('/') {
        Some((provider, model))
            if !provider.is_empty() && !model.is_empty() && !provider.contains(char::is_whitespace) =>
        {
            if model.contains('*') && model != "*" {
                Err("a wildcard must be the whole model: \"provider/*\"".into())
            } else {
                Ok(())
            }
        }
        _ => Err("the key must be \"provider/model\" (or \"provider/*\"), as in `--lm openai/gpt-4o-mini`".into()),
    }
}

/// The model without a trailing snapshot suffix (`-2024-07-18`, `-20250514`, `@20250514`,
/// `-latest`), or `None` when it has none.
fn strip_snapshot_suffix(model: &str) -> Option<&str> {
    if let Some(base) = model.strip_suffix("-latest") {
        return (!base.is_empty()).then_some(base);
    }
    let bytes = model.as_bytes();
    let n = bytes.len();
    // -YYYY-MM-DD
    if n > 11 && bytes[n - 11] == b'-' && bytes[n - 6] == b'-' && bytes[n - 3] == b'-' {
        let digits = [&model[n - 10..n - 6], &model[n - 5..n - 3], &model[n - 2..]];
        if digits.iter().all(|d| d.bytes().all(|b| b.is_ascii_digit())) && is_date(digits[0], digits[1], digits[2]) {
            return Some(&model[..n - 11]);
        }
    }
    // -YYYYMMDD or @YYYYMMDD
    if n > 9 && (bytes[n - 9] == b'-' || bytes[n - 9] == b'@') {
        let d = &model[n - 8..];
        if d.bytes().all(|b| b.is_ascii_digit()) && is_date(&d[..4], &d[4..6], &d[6..]) {
            return Some(&model[..n - 9]);
        }
    }
    None
}

/// A plausible calendar date (years 2000–2099), so version numbers are not taken for dates.
fn is_date(year: &str, month: &str, day: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (year.parse::<u32>(), month.parse::<u32>(), day.parse::<u32>()) else {
        return false;
    };
    (2000..2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

/// A price file that cannot be used, with the place that needs fixing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceError {
    /// The file, when loaded from one.
    pub path: Option<PathBuf>,
    /// The entry (`provider/model`), when the problem is in one.
    pub entry: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "price file {}", path.display())?,
            None => f.write_str("price table")?,
        }
        if let Some(entry) = &self.entry {
            write!(f, ", entry [models.\"{entry}\"]")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PriceError {}
