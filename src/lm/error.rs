//! `LmError`: what can go wrong talking to a model, classified so that retries and reports
//! can act on it.

use std::time::Duration;

/// A failed LM request. Provider errors keep the HTTP status and the provider's body.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LmError {
    /// The provider answered with an error status not classified below.
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
    /// Too many requests (HTTP 429 that is not a quota problem).
    #[error("{provider} rate limit (HTTP 429): {body}")]
    RateLimited {
        /// The provider name.
        provider: String,
        /// The provider's error body.
        body: String,
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// The server is overloaded or unavailable (HTTP 503, Anthropic's 529).
    #[error("{provider} is overloaded (HTTP {status}): {body}")]
    Overloaded {
        /// The provider name.
        provider: String,
        /// 503 or 529.
        status: u16,
        /// The provider's error body.
        body: String,
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// The account is out of credit (`insufficient_quota`, billing errors). Never retried.
    #[error("{provider}: quota exhausted, check the account's billing: {body}")]
    QuotaExhausted {
        /// The provider name.
        provider: String,
        /// The provider's error body.
        body: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("{provider}: the prompt is longer than the model's context: {body}")]
    ContextTooLong {
        /// The provider name.
        provider: String,
        /// The provider's error body.
        body: String,
    },
    /// A content filter refused the request or the reply.
    #[error("{provider}: blocked by a content filter: {body}")]
    ContentFilter {
        /// The provider name.
        provider: String,
        /// The provider's error body.
        body: String,
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
    /// The cache is in replay-only mode and has no entry for this request.
    #[error("cache miss in replay-only mode for {model} (key {key}); record the run with the cache in read-write mode first")]
    CacheMiss {
        /// `provider/model` of the request.
        model: String,
        /// The cache key.
        key: String,
    },
    /// The cache could not be read or written.
    #[error("LM cache: {0}")]
    Cache(String),
    /// A scripted LM had no reply for a request (tests only).
    #[error("scripted LM: {0}")]
    Script(String),
}

impl LmError {
    /// Whether trying again may succeed: rate limits, overload, server errors (5xx, 408,
    /// 409), dropped connections and timeouts. Quota, authentication, bad requests, missing
    /// models and context-length errors are not retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            LmError::RateLimited { .. }
            | LmError::Overloaded { .. }
            | LmError::Transport { .. }
            | LmError::Timeout { .. } => true,
            LmError::Http { status, .. } => matches!(status, 408 | 409) || (500..600).contains(status),
            _ => false,
        }
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LmError::Http { retry_after, .. }
            | LmError::RateLimited { retry_after, .. }
            | LmError::Overloaded { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this is a rate-limit signal (the adaptive limiter halves on these).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, LmError::RateLimited { .. } | LmError::Overloaded { .. })
    }

    /// A short, stable name of the error kind for reports: `http`, `rate_limited`, …
    pub fn kind(&self) -> &'static str {
        match self {
            LmError::Http { .. } => "http",
            LmError::RateLimited { .. } => "rate_limited",
            LmError::Overloaded { .. } => "overloaded",
            LmError::QuotaExhausted { .. } => "quota_exhausted",
            LmError::ContextTooLong { .. } => "context_too_long",
            LmError::ContentFilter { .. } => "content_filter",
            LmError::Transport { .. } => "transport",
            LmError::Timeout { .. } => "timeout",
            LmError::InvalidResponse { .. } => "invalid_response",
            LmError::Config(_) => "config",
            LmError::CacheMiss { .. } => "cache_miss",
            LmError::Cache(_) => "cache",
            LmError::Script(_) => "script",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_retryable_and_permanent_ones_are_not() {
        let http = |status| LmError::Http { provider: "p".into(), status, body: String::new(), retry_after: None };
        for status in [408, 409, 500, 502, 503, 504] {
            assert!(http(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!http(status).is_retryable(), "{status}");
        }
        assert!(!LmError::QuotaExhausted { provider: "p".into(), body: String::new() }.is_retryable());
        assert!(LmError::Timeout { provider: "p".into(), timeout: Duration::from_secs(1) }.is_retryable());
    }
}
