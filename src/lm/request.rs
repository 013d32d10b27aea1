//! `LmRequest`: messages plus explicit sampling parameters.

use serde::{Deserialize, Serialize};

use crate::prompt::{Message, ResponseFormat};

/// Sampling parameters. `None` means "not sent": the provider's own default applies, and the
/// run record says so. lmc adds no hidden defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The most tokens to generate per completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Completions to generate (1 when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Provider-side sampling seed, where supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Sampling {
    /// `self`'s settings where given, `fallback`'s elsewhere (a predictor's own settings over
    /// the program's defaults).
    pub fn or(&self, fallback: &Sampling) -> Sampling {
        Sampling {
            temperature: self.temperature.or(fallback.temperature),
            max_tokens: self.max_tokens.or(fallback.max_tokens),
            n: self.n.or(fallback.n),
            stop: if self.stop.is_empty() { fallback.stop.clone() } else { self.stop.clone() },
            seed: self.seed.or(fallback.seed),
        }
    }

    /// The number of completions asked for (at least 1).
    pub fn n(&self) -> u32 {
        self.n.unwrap_or(1).max(1)
    }
}

/// One request to an LM: what is sent, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmRequest {
    /// The chat messages.
    pub messages: Vec<Message>,
    /// Sampling parameters.
    #[serde(flatten)]
    pub sampling: Sampling,
    /// Which rollout this is. Requests that differ only in rollout are distinct (distinct
    /// cache entries, distinct samples); 0 is the default.
    #[serde(default)]
    pub rollout: u32,
    /// The structured-output format, when the adapter asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

impl LmRequest {
    /// A request for `messages` with the given sampling and rollout 0.
    pub fn new(messages: Vec<Message>, sampling: Sampling) -> Self {
        LmRequest { messages, sampling, rollout: 0, response_format: None }
    }

    /// The text of the last user message (what the request asks).
    pub fn last_user_message(&self) -> Option<&str> {
        self.messages.iter().rev().find(|m| m.role == crate::prompt::Role::User).map(|m| m.content.as_str())
    }
}
