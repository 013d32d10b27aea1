//! Anthropic's native Messages API.
//!
//! Wire format from Anthropic's published API reference for `POST /v1/messages`: the system
//! prompt is a top-level `system` field, `max_tokens` is required, usage reports cache reads
//! and writes apart, and 529 means overloaded. There is no `n`: a request for n completions
//! is sent as n requests.

use std::sync::Arc;

use futures::future::{try_join_all, BoxFuture};
use serde_json::{json, Map, Value};

use super::http::{body_excerpt, retry_after, ApiKey, Http, HttpReply};
use super::pricing::PriceTable;
use super::{Completion, FinishReason, Lm, LmError, LmIdentity, LmRequest, LmResponse, Usage};
use crate::prompt::Role;

/// The API version header lmc speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic Messages client.
#[derive(Debug, Clone)]
pub struct AnthropicLm {
    provider: String,
    model: String,
    base_url: String,
    key: Option<ApiKey>,
    http: Http,
    prices: Arc<PriceTable>,
}

impl AnthropicLm {
    /// A client for `model` at `base_url` (`https://api.anthropic.com/v1`).
    pub fn new(
        provider: &str,
        model: &str,
        base_url: &str,
        key: Option<ApiKey>,
        timeout: std::time::Duration,
        prices: Arc<PriceTable>,
    ) -> Result<Self, LmError> {
        Ok(AnthropicLm {
            provider: provider.to_string(),
            model: model.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            http: Http::new(provider, timeout)?,
            key,
            prices,
        })
    }

    /// The JSON body of one Messages request for `request` (one completion).
    pub fn request_body(&self, request: &LmRequest) -> Result<Value, LmError> {
        let s = &request.sampling;
        let max_tokens = s.max_tokens.ok_or_else(|| {
            LmError::Config(format!(
                "{}/{} needs max_tokens (the Messages API requires it): set `max_tokens` under [lm] in lmc.toml or the spec, or pass --max-tokens",
                self.provider, self.model
            ))
        })?;
        let mut body = Map::new();
        body.insert("model".into(), Value::String(self.model.clone()));
        body.insert("max_tokens".into(), json!(max_tokens));
        let system: Vec<&str> =
            request.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        if !system.is_empty() {
            body.insert("system".into(), Value::String(system.join("\n\n")));
        }
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        body.insert("messages".into(), Value::Array(messages));
        if let Some(t) = s.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if !s.stop.is_empty() {
            body.insert("stop_sequences".into(), json!(s.stop));
        }
        // No `seed`, `n` or `response_format` on this API: n is handled by sending n
        // requests; the JSON adapter's prompt asks for JSON on its own.
        Ok(Value::Object(body))
    }

    /// Reads a successful reply: the text blocks, the stop reason, usage, served model.
    pub fn parse_reply(&self, body: &Value) -> Result<(Completion, Usage, Option<String>), LmError> {
        let content = body.get("content").and_then(Value::as_array).ok_or_else(|| LmError::InvalidResponse {
            provider: self.provider.clone(),
            message: "no `content` array".into(),
        })?;
        let text: String = content
            .iter()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect();
        let finish_reason = body.get("stop_reason").and_then(Value::as_str).map(|r| match r {
            "end_turn" | "stop_sequence" => FinishReason::Stop,
            "max_tokens" => FinishReason::Length,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_string()),
        });
        let u = body.get("usage").cloned().unwrap_or(Value::Null);
        let n = |key: &str| u.get(key).and_then(Value::as_u64).unwrap_or(0);
        // Anthropic's `input_tokens` excludes cache reads and writes; lmc's counts all prompt
        // tokens, with the cached and written parts also given apart.
        let (read, write) = (n("cache_read_input_tokens"), n("cache_creation_input_tokens"));
        let usage = Usage {
            input_tokens: n("input_tokens") + read + write,
            output_tokens: n("output_tokens"),
            cached_input_tokens: read,
            reasoning_tokens: 0,
            cache_write_tokens: write,
        };
        let served = body.get("model").and_then(Value::as_str).map(str::to_string);
        Ok((Completion { text, finish_reason }, usage, served))
    }

    /// Classifies an error reply (`{"type": "error", "error": {"type", "message"}}`).
    pub(crate) fn classify_error(&self, reply: &HttpReply) -> LmError {
        let provider = self.provider.clone();
        let body = body_excerpt(&reply.body);
        let kind =
            reply.body.as_ref().ok().and_then(|b| b.pointer("/error/type")).and_then(Value::as_str).unwrap_or("");
        let lower = body.to_lowercase();
        let retry_after = retry_after(&reply.headers);
        if lower.contains("credit balance") || kind == "billing_error" {
            return LmError::QuotaExhausted { provider, body };
        }
        if lower.contains("prompt is too long") || reply.status == 413 {
            return LmError::ContextTooLong { provider, body };
        }
        match (reply.status, kind) {
            (429, _) | (_, "rate_limit_error") => LmError::RateLimited { provider, body, retry_after },
            (529 | 503, _) | (_, "overloaded_error") => {
                LmError::Overloaded { provider, status: reply.status, body, retry_after }
            }
            (status, _) => LmError::Http { provider, status, body, retry_after },
        }
    }

    async fn one(&self, body: &Value) -> Result<LmResponse, LmError> {
        let url = format!("{}/messages", self.base_url);
        let mut headers: Vec<(&str, &str)> = vec![("anthropic-version", ANTHROPIC_VERSION)];
        if let Some(key) = &self.key {
            headers.push(("x-api-key", key.expose()));
        }
        let reply = self.http.post_json(&url, &headers, body, self.key.as_ref()).await?;
        if !(200..300).contains(&reply.status) {
            return Err(self.classify_error(&reply));
        }
        let json = reply.body.as_ref().map_err(|text| LmError::InvalidResponse {
            provider: self.provider.clone(),
            message: format!("the reply is not JSON: {}", text.chars().take(200).collect::<String>()),
        })?;
        let (completion, usage, served) = self.parse_reply(json)?;
        let mut response = LmResponse::new(vec![completion], usage);
        response.latency = reply.latency;
        response.served_model = served;
        Ok(response)
    }
}

impl Lm for AnthropicLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: self.provider.clone(), model: self.model.clone(), base_url: Some(self.base_url.clone()) }
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let body = self.request_body(request)?;
            let n = request.sampling.n();
            // n completions are n requests sent together; their usage adds up.
            let replies = try_join_all((0..n).map(|_| self.one(&body))).await?;
            let mut usage = Usage::default();
            let mut completions = Vec::with_capacity(replies.len());
            let mut latency = std::time::Duration::ZERO;
            let mut served_model = None;
            for reply in replies {
                usage.add(&reply.usage);
                latency = latency.max(reply.latency);
                served_model = served_model.or(reply.served_model);
                completions.extend(reply.completions);
            }
            let mut response = LmResponse::new(completions, usage);
            response.latency = latency;
            response.served_model = served_model;
            response.cost_usd = self.prices.cost(&self.provider, &self.model, &usage);
            Ok(response)
        })
    }
}
