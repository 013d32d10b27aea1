//! HTTP plumbing shared by the providers: one pooled client, JSON posts with a timeout,
//! `Retry-After` parsing, and redaction of API keys from anything that is echoed back.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::LmError;

/// An API key. Its `Debug` and `Display` never show it; only the request headers see it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// What came back from a POST: status, headers, parsed JSON body (or the raw text when it is
/// not JSON), and the wall time.
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Result<Value, String>,
    pub(crate) latency: Duration,
}

/// A pooled HTTP client for one provider endpoint.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    provider: String,
    timeout: Duration,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http").field("provider", &self.provider).field("timeout", &self.timeout).finish()
    }
}

impl Http {
    pub(crate) fn new(provider: &str, timeout: Duration) -> Result<Self, LmError> {
        // rustls is built with the `ring` provider only (no C toolchain for aws-lc); install it
        // as the process default once. A second install fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("lmc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LmError::Config(format!("cannot build the HTTP client for {provider}: {e}")))?;
        Ok(Http { client, provider: provider.to_string(), timeout })
    }

    /// POSTs `body` as JSON to `url` with `headers`; transport failures and timeouts become
    /// typed errors, with `key` redacted from every message.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
        key: Option<&ApiKey>,
    ) -> Result<HttpReply, LmError> {
        let started = Instant::now();
        let mut request = self.client.post(url).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e, key))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| self.transport_error(&e, key))?;
        let latency = started.elapsed();
        let text = redact(&text, key);
        let body = serde_json::from_str::<Value>(&text).map_err(|_| text);
        Ok(HttpReply { status, headers, body, latency })
    }

    fn transport_error(&self, e: &reqwest::Error, key: Option<&ApiKey>) -> LmError {
        if e.is_timeout() {
            return LmError::Timeout { provider: self.provider.clone(), timeout: self.timeout };
        }
        // The error chain carries the useful detail (connection refused, reset by peer).
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        LmError::Transport { provider: self.provider.clone(), message: redact(&message, key) }
    }
}

/// Replaces every occurrence of the key with `[redacted]`.
pub(crate) fn redact(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(k) if !k.expose().is_empty() && text.contains(k.expose()) => text.replace(k.expose(), "[redacted]"),
        _ => text.to_string(),
    }
}

/// The server's requested wait: `retry-after-ms`, or `retry-after` in seconds (integer or
/// fractional). HTTP-date values are ignored (the backoff applies instead).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    header("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A short excerpt of an error body for messages: the provider's own message when the body
/// has one, else the text, cut at 500 characters.
pub(crate) fn body_excerpt(body: &Result<Value, String>) -> String {
    let text = match body {
        Ok(json) => json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| json.to_string()),
        Err(text) => text.clone(),
    };
    let mut excerpt: String = text.chars().take(500).collect();
    if text.chars().count() > 500 {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut date = HeaderMap::new();
        date.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&date), None);
    }

    #[test]
    fn keys_are_redacted_and_never_debug_printed() {
        let key = ApiKey::new("sk-test-SECRET-123");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(redact("bad key sk-test-SECRET-123 given", Some(&key)), "bad key [redacted] given");
    }
}
