//! `LmError`: what can go wrong talking to a model.

use std::time::Duration;

/// A failed LM request. Providers keep the HTTP status and the provider's body.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LmError {
    /// The provider answered with an error status.
    #[error("{provider} returned HTTP {status}: {body}")]
    Http {
        /// The provider name.
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// The provider's error body.
        body: String,
        /// The server's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The connection failed or was dropped.
    #[error("{provider}: connection failed: {message}")]
    Transport {
        /// The provider name.
        provider: String,
        /// What happened.
        message: String,
    },
    /// No reply within the time limit.
    #[error("{provider}: no reply within {timeout:?}")]
    Timeout {
        /// The provider name.
        provider: String,
        /// The limit.
        timeout: Duration,
    },
    /// The reply could not be understood.
    #[error("{provider}: malformed reply: {message}")]
    InvalidResponse {
        /// The provider name.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// Missing key, unknown model, bad base URL: fix the configuration.
    #[error("LM configuration: {0}")]
    Config(String),
    /// A scripted LM had no reply for a request (tests only).
    #[error("scripted LM: {0}")]
    Script(String),
}
