//! The LM interface: one object-safe trait, explicit requests, exact usage.
//!
//! [`Lm`] is what every model implements: real providers, the offline simulator, and
//! [`ScriptedLm`] for tests. Caching, retries and rate limiting are wrappers that are
//! themselves `Lm`s.

mod anthropic;
pub mod cache;
mod error;
mod http;
mod limit;
mod openai;
pub mod pricing;
mod request;
mod resolve;
mod response;
mod retry;
mod scripted;

use std::fmt;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use anthropic::{AnthropicLm, ANTHROPIC_VERSION};
pub use error::LmError;
pub use http::ApiKey;
pub use limit::{AdaptiveLimit, LimitedLm};
pub use openai::{MaxTokensField, OpenAiLm};
pub use request::{LmRequest, Sampling};
pub use resolve::{LmFactory, ProviderSettings, Wire};
pub use response::{Completion, FinishReason, LmResponse, Usage};
pub use retry::{RetryLm, RetryPolicy};
pub use scripted::{ScriptedLm, ScriptedReply};

/// Which model an [`Lm`] talks to. Cache keys and run records use it; it never holds a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LmIdentity {
    /// The provider: `openai`, `anthropic`, `sim`, `scripted`, …
    pub provider: String,
    /// The model as requested (`gpt-4o-mini`).
    pub model: String,
    /// The endpoint, when the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl fmt::Display for LmIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// A language model.
///
/// Object-safe, so programs hold `Arc<dyn Lm>` and wrappers compose.
pub trait Lm: Send + Sync + fmt::Debug {
    /// The provider, model and endpoint.
    fn identity(&self) -> LmIdentity;

    /// Sends one request and returns every completion it asked for (`n`).
    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>>;
}
