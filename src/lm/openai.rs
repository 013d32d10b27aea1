//! OpenAI Chat Completions, and every OpenAI-compatible server (vLLM, Ollama, llama.cpp,
//! LM Studio, OpenRouter, Together, Groq, Gemini's compatible endpoint).
//!
//! Wire format from OpenAI's published API reference for `POST /v1/chat/completions`.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::http::{body_excerpt, retry_after, ApiKey, Http, HttpReply};
use super::pricing::PriceTable;
use super::{Completion, FinishReason, Lm, LmError, LmIdentity, LmRequest, LmResponse, Usage};

/// Which token-limit field a server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// `max_completion_tokens`: OpenAI's own API (required by its reasoning models).
    MaxCompletionTokens,
    /// `max_tokens`: what OpenAI-compatible servers accept.
    MaxTokens,
}

/// An OpenAI-compatible chat-completions client.
#[derive(Debug, Clone)]
pub struct OpenAiLm {
    provider: String,
    model: String,
    base_url: String,
    key: Option<ApiKey>,
    http: Http,
    max_tokens_field: MaxTokensField,
    prices: Arc<PriceTable>,
}

impl OpenAiLm {
    /// A client for `model` at `base_url` (ending in `/v1`, say). `provider` names it in
    /// errors, identities and price lookups (`openai`, `ollama`, a user-named endpoint).
    pub fn new(
        provider: &str,
        model: &str,
        base_url: &str,
        key: Option<ApiKey>,
        timeout: std::time::Duration,
        prices: Arc<PriceTable>,
    ) -> Result<Self, LmError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        // OpenAI's own API wants `max_completion_tokens`; compatible servers mostly know only
        // `max_tokens`.
        let max_tokens_field = if base_url.contains("api.openai.com") {
            MaxTokensField::MaxCompletionTokens
        } else {
            MaxTokensField::MaxTokens
        };
        Ok(OpenAiLm {
            provider: provider.to_string(),
            model: model.to_string(),
            http: Http::new(provider, timeout)?,
            base_url,
            key,
            max_tokens_field,
            prices,
        })
    }

    /// Overrides the token-limit field.
    pub fn with_max_tokens_field(mut self, field: MaxTokensField) -> Self {
        self.max_tokens_field = field;
        self
    }

    /// The JSON body sent for `request`: exactly what it says, nothing more.
    pub fn request_body(&self, request: &LmRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), Value::String(self.model.clone()));
        let messages =
            request.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect();
        body.insert("messages".into(), Value::Array(messages));
        let s = &request.sampling;
        if let Some(t) = s.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(max) = s.max_tokens {
            let field = match self.max_tokens_field {
                MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
                MaxTokensField::MaxTokens => "max_tokens",
            };
            body.insert(field.into(), json!(max));
        }
        if let Some(n) = s.n.filter(|n| *n != 1) {
            body.insert("n".into(), json!(n));
        }
        if !s.stop.is_empty() {
            body.insert("stop".into(), json!(s.stop));
        }
        if let Some(seed) = s.seed {
            body.insert("seed".into(), json!(seed));
        }
        if let Some(format) = &request.response_format {
            body.insert("response_format".into(), serde_json::to_value(format).unwrap_or(Value::Null));
        }
        Value::Object(body)
    }

    /// Reads a successful reply.
    pub fn parse_reply(&self, body: &Value) -> Result<(Vec<Completion>, Usage, Option<String>), LmError> {
        let invalid =
            |message: &str| LmError::InvalidResponse { provider: self.provider.clone(), message: message.into() };
        let choices = body.get("choices").and_then(Value::as_array).ok_or_else(|| invalid("no `choices` array"))?;
        let mut indexed: Vec<(u64, Completion)> = Vec::with_capacity(choices.len());
        for (i, choice) in choices.iter().enumerate() {
            let text = match choice.pointer("/message/content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let finish_reason = choice.get("finish_reason").and_then(Value::as_str).map(finish_reason);
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            indexed.push((index, Completion { text, finish_reason }));
        }
        indexed.sort_by_key(|(i, _)| *i);
        let usage = body.get("usage").map(usage).unwrap_or_default();
        let served = body.get("model").and_then(Value::as_str).map(str::to_string);
        Ok((indexed.into_iter().map(|(_, c)| c).collect(), usage, served))
    }

    /// Classifies an error reply.
    pub(crate) fn classify_error(&self, reply: &HttpReply) -> LmError {
        classify(&self.provider, reply)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_string()),
    }
}

/// OpenAI usage: `prompt_tokens` (including cached), `completion_tokens` (including
/// reasoning), and the details objects.
fn usage(u: &Value) -> Usage {
    let n = |path: &str| u.pointer(path).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/prompt_tokens"),
        output_tokens: n("/completion_tokens"),
        cached_input_tokens: n("/prompt_tokens_details/cached_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
        cache_write_tokens: 0,
    }
}

/// Maps an OpenAI-style error reply to a typed error, using the status and the error body's
/// `code`/`type`.
fn classify(provider: &str, reply: &HttpReply) -> LmError {
    let provider = provider.to_string();
    let body = body_excerpt(&reply.body);
    let field = |name: &str| {
        reply
            .body
            .as_ref()
            .ok()
            .and_then(|b| b.pointer(&format!("/error/{name}")))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (code, kind) = (field("code"), field("type"));
    let retry_after = retry_after(&reply.headers);
    if code == "insufficient_quota" || kind == "insufficient_quota" || code == "billing_hard_limit_reached" {
        return LmError::QuotaExhausted { provider, body };
    }
    if code == "context_length_exceeded" || kind == "context_length_exceeded" {
        return LmError::ContextTooLong { provider, body };
    }
    if code == "content_filter" || code == "content_policy_violation" {
        return LmError::ContentFilter { provider, body };
    }
    match reply.status {
        429 => LmError::RateLimited { provider, body, retry_after },
        503 | 529 => LmError::Overloaded { provider, status: reply.status, body, retry_after },
        status => LmError::Http { provider, status, body, retry_after },
    }
}

impl Lm for OpenAiLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: self.provider.clone(), model: self.model.clone(), base_url: Some(self.base_url.clone()) }
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let body = self.request_body(request);
            let url = format!("{}/chat/completions", self.base_url);
            let auth = self.key.as_ref().map(|k| format!("Bearer {}", k.expose()));
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(auth) = &auth {
                headers.push(("authorization", auth));
            }
            let reply = self.http.post_json(&url, &headers, &body, self.key.as_ref()).await?;
            if !(200..300).contains(&reply.status) {
                return Err(self.classify_error(&reply));
            }
            let json = reply.body.as_ref().map_err(|text| LmError::InvalidResponse {
                provider: self.provider.clone(),
                message: format!("the reply is not JSON: {}", text.chars().take(200).collect::<String>()),
            })?;
            let (completions, usage, served_model) = self.parse_reply(json)?;
            if completions.is_empty() {
                return Err(LmError::InvalidResponse { provider: self.provider.clone(), message: "no choices".into() });
            }
            let mut response = LmResponse::new(completions, usage);
            response.latency = reply.latency;
            response.cost_usd = self.prices.cost(&self.provider, &self.model, &usage);
            response.served_model = served_model;
            Ok(response)
        })
    }
}
