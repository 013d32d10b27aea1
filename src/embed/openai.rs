//! Embeddings from any OpenAI-compatible `POST {base_url}/embeddings` endpoint: OpenAI,
//! vLLM, Ollama's `/v1`, llama.cpp's server, LM Studio.
//!
//! Wire format from OpenAI's published API reference for `POST /v1/embeddings`: the request
//! is `{"model": …, "input": [texts]}`; the reply is
//! `{"data": [{"index": i, "embedding": [floats]}, …], "usage": {…}}`, whose entries may come
//! in any order.

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::{EmbedError, Embedder};
use crate::lm::ApiKey;

/// An OpenAI-compatible embeddings client: `POST {base_url}/embeddings` with
/// `{"model": …, "input": [texts]}`, as OpenAI, vLLM, Ollama (`/v1`) and llama.cpp accept.
///
/// Texts are sent in batches of [`OpenAiEmbedder::DEFAULT_BATCH_SIZE`] (configurable), one request after
/// another, and the vectors come back in the order of the texts whatever order the server
/// lists them in.
///
/// ```
/// use lmc::embed::{Embedder, OpenAiEmbedder};
///
/// let embedder = OpenAiEmbedder::new("nomic-embed-text", "http://localhost:11434/v1/", None)?
///     .with_provider("ollama")
///     .with_batch_size(32);
/// assert_eq!(embedder.identity(), "ollama/nomic-embed-text@http://localhost:11434/v1");
/// # Ok::<(), lmc::embed::EmbedError>(())
/// ```
#[derive(Clone)]
pub struct OpenAiEmbedder {
    provider: String,
    model: String,
    base_url: String,
    key: Option<ApiKey>,
    batch_size: usize,
    timeout: Duration,
    client: reqwest::Client,
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("key", &self.key)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OpenAiEmbedder {
    /// How many texts go into one request unless [`with_batch_size`](Self::with_batch_size)
    /// says otherwise.
    pub const DEFAULT_BATCH_SIZE: usize = 96;

    /// How long one request may take unless [`with_timeout`](Self::with_timeout) says
    /// otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

    /// A client for `model` at `base_url` (ending in `/v1`, say; a trailing `/` is dropped),
    /// sending `api_key`, when given, as a Bearer token. The provider is named `openai` until
    /// [`with_provider`](Self::with_provider) says otherwise.
    ///
    /// Fails with [`EmbedError::Config`] when the base URL is not `http://` or `https://`, or
    /// the HTTP client cannot be built.
    pub fn new(model: &str, base_url: &str, api_key: Option<ApiKey>) -> Result<Self, EmbedError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(EmbedError::Config(format!(
                "the embeddings base URL must start with http:// or https://, got `{base_url}`"
            )));
        }
        Ok(OpenAiEmbedder {
            provider: "openai".to_string(),
            model: model.to_string(),
            base_url,
            key: api_key,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            timeout: Self::DEFAULT_TIMEOUT,
            client: client(Self::DEFAULT_TIMEOUT)?,
        })
    }

    /// Names the provider in errors and the identity (`ollama`, `vllm`, a user-named
    /// endpoint).
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = provider.to_string();
        self
    }

    /// Sends at most `batch_size` texts per request (0 counts as 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Gives up on a request after `timeout` ([`EmbedError::Timeout`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, EmbedError> {
        self.client = client(timeout)?;
        self.timeout = timeout;
        Ok(self)
    }

    /// The model name sent in every request.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The most texts sent in one request.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The JSON body sent for one batch: `{"model": …, "input": [texts]}`.
    pub fn request_body(&self, texts: &[String]) -> Value {
        json!({"model": self.model, "input": texts})
    }

    /// Reads a successful reply to a batch of `expected` texts: one vector per text, ordered
    /// by each entry's `index` (its position when the server gives none).
    ///
    /// Fails with [`EmbedError::InvalidResponse`] when `data` is missing, holds the wrong
    /// number of entries, repeats or skips an index, or an embedding is not an array of
    /// numbers.
    pub fn parse_reply(&self, body: &Value, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let data = body.get("data").and_then(Value::as_array).ok_or_else(|| self.invalid("no `data` array"))?;
        if data.len() != expected {
            return Err(self.invalid(&format!("sent {expected} texts, got {} embeddings", data.len())));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
        for (position, entry) in data.iter().enumerate() {
            let index = match entry.get("index") {
                None | Some(Value::Null) => position,
                Some(v) => v
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| self.invalid(&format!("entry {position}: `index` is not a whole number: {v}")))?,
            };
            let slot = slots
                .get_mut(index)
                .ok_or_else(|| self.invalid(&format!("index {index} is out of range for {expected} texts")))?;
            if slot.is_some() {
                return Err(self.invalid(&format!("index {index} appears twice")));
            }
            *slot = Some(self.vector(entry, index)?);
        }
        // The count matched and no index repeated, so every slot is filled.
        Ok(slots.into_iter().flatten().collect())
    }

    fn vector(&self, entry: &Value, index: usize) -> Result<Vec<f32>, EmbedError> {
        let not_numbers = || {
            self.invalid(&format!("embedding {index} is not an array of numbers (base64 encoding is not supported)"))
        };
        let values = entry.get("embedding").and_then(Value::as_array).ok_or_else(not_numbers)?;
        values.iter().map(|v| v.as_f64().map(|x| x as f32).ok_or_else(not_numbers)).collect()
    }

    fn invalid(&self, message: &str) -> EmbedError {
        EmbedError::InvalidResponse { provider: self.provider.clone(), message: message.to_string() }
    }

    /// Sends one batch and reads its vectors.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/embeddings", self.base_url);
        let mut request = self.client.post(&url).json(&self.request_body(texts));
        if let Some(key) = &self.key {
            request = request.header("authorization", format!("Bearer {}", key.expose()));
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| self.transport_error(&e))?;
        let text = redact(&text, self.key.as_ref());
        let body = serde_json::from_str::<Value>(&text);
        if !(200..300).contains(&status) {
            let message = match &body {
                Ok(json) => json
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| json.to_string()),
                Err(_) => text,
            };
            return Err(EmbedError::Http { provider: self.provider.clone(), status, message: excerpt(&message, 500) });
        }
        let body = body.map_err(|_| self.invalid(&format!("the reply is not JSON: {}", excerpt(&text, 200))))?;
        self.parse_reply(&body, texts.len())
    }

    fn transport_error(&self, e: &reqwest::Error) -> EmbedError {
        if e.is_timeout() {
            return EmbedError::Timeout { provider: self.provider.clone(), timeout: self.timeout };
        }
        // The error chain carries the useful detail (connection refused, reset by peer).
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        EmbedError::Transport { provider: self.provider.clone(), message: redact(&message, self.key.as_ref()) }
    }
}

impl Embedder for OpenAiEmbedder {
    fn identity(&self) -> String {
        format!("{}/{}@{}", self.provider, self.model, self.base_url)
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(self.batch_size) {
                vectors.extend(self.embed_batch(batch).await?);
            }
            if let Some(first) = vectors.first() {
                let dimension = first.len();
                if let Some(i) = vectors.iter().position(|v| v.len() != dimension) {
                    let found = vectors[i].len();
                    return Err(
                        self.invalid(&format!("embedding {i} has {found} dimensions, embedding 0 has {dimension}"))
                    );
                }
            }
            Ok(vectors)
        })
    }
}

/// A client built as the LM providers build theirs: rustls with the `ring` provider.
fn client(timeout: Duration) -> Result<reqwest::Client, EmbedError> {
    // rustls is built with the `ring` provider only; install it as the process default once.
    // A second install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .user_agent(concat!("lmc/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EmbedError::Config(format!("cannot build the HTTP client for embeddings: {e}")))
}

/// Replaces every occurrence of the key with `[redacted]`.
fn redact(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(k) if !k.expose().is_empty() && text.contains(k.expose()) => text.replace(k.expose(), "[redacted]"),
        _ => text.to_string(),
    }
}

/// The first `max` characters of `text`, with `…` when cut.
fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
