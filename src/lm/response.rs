//! `LmResponse`: completions, usage and latency.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a completion stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished (or hit a stop sequence).
    Stop,
    /// The token limit cut it off.
    Length,
    /// A content filter stopped it.
    ContentFilter,
    /// The model asked for a tool call.
    ToolCalls,
    /// Something else, as the provider named it.
    Other(String),
}

/// One generated completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Why generation stopped, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
}

impl Completion {
    /// A completion that stopped normally.
    pub fn stopped(text: impl Into<String>) -> Self {
        Completion { text: text.into(), finish_reason: Some(FinishReason::Stop) }
    }
}

/// Token counts of one or more calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, including cached ones.
    pub input_tokens: u64,
    /// Generated tokens, including reasoning tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Hidden reasoning tokens (part of `output_tokens`).
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache (Anthropic bills them apart).
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl Usage {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }

    /// Input plus output tokens.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl std::ops::AddAssign<&Usage> for Usage {
    fn add_assign(&mut self, rhs: &Usage) {
        self.add(rhs);
    }
}

/// What an LM returned for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmResponse {
    /// One completion per requested sample, in order.
    pub completions: Vec<Completion>,
    /// Tokens for the whole request.
    pub usage: Usage,
    /// Wall time of the request (the original call's, for a cache hit).
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// The model that served it, as the provider reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// Whether it came from a cache.
    #[serde(default)]
    pub cache_hit: bool,
    /// What the reply costs by its usage and the price table, in US dollars: the *program*
    /// cost, the same whether it was served from the cache or not. `None` for a model the
    /// price table does not know (never a silent 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// How many times the request was retried before this reply.
    #[serde(default)]
    pub retries: u32,
}

impl LmResponse {
    /// A reply with these completions and usage, no latency, not from cache, unpriced.
    pub fn new(completions: Vec<Completion>, usage: Usage) -> Self {
        LmResponse {
            completions,
            usage,
            latency: Duration::ZERO,
            served_model: None,
            cache_hit: false,
            cost_usd: None,
            retries: 0,
        }
    }

    /// What this reply actually spent: its cost, or $0 when served from the cache.
    pub fn spent_usd(&self) -> Option<f64> {
        if self.cache_hit {
            Some(0.0)
        } else {
            self.cost_usd
        }
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }
}
