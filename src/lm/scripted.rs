//! `ScriptedLm`: canned replies for tests, doctests and benchmarks. Records every request.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Completion, LmError, LmIdentity, LmRequest, LmResponse, Usage};

type Responder = Arc<dyn Fn(&LmRequest) -> Result<String, LmError> + Send + Sync>;
type Matcher = Box<dyn Fn(&LmRequest) -> bool + Send + Sync>;

/// One canned reply.
#[derive(Clone)]
pub enum ScriptedReply {
    /// Reply with this text.
    Text(String),
    /// Fail with this error.
    Error(LmError),
    /// Compute the reply from the request.
    Fn(Responder),
}

impl fmt::Debug for ScriptedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptedReply::Text(t) => f.debug_tuple("Text").field(t).finish(),
            ScriptedReply::Error(e) => f.debug_tuple("Error").field(e).finish(),
            ScriptedReply::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

impl ScriptedReply {
    fn produce(&self, request: &LmRequest) -> Result<String, LmError> {
        match self {
            ScriptedReply::Text(t) => Ok(t.clone()),
            ScriptedReply::Error(e) => Err(e.clone()),
            ScriptedReply::Fn(f) => f(request),
        }
    }
}

impl From<&str> for ScriptedReply {
    fn from(s: &str) -> Self {
        ScriptedReply::Text(s.to_string())
    }
}

impl From<String> for ScriptedReply {
    fn from(s: String) -> Self {
        ScriptedReply::Text(s)
    }
}

/// An [`Lm`](super::Lm) that answers from a script and records every request.
///
/// A request is answered by the first matching rule, else the next queued reply, else the
/// default reply; with none of those it fails with [`LmError::Script`]. Usage is estimated
/// at four characters per token, so that cost and usage code paths see non-zero figures.
///
/// ```
/// use lmc::{Lm, LmRequest, Message, Sampling, ScriptedLm};
///
/// let lm = ScriptedLm::new()
///     .when_user_contains("France", "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]")
///     .with_default("[[ ## answer ## ]]\nI don't know");
/// let request = LmRequest::new(vec![Message::user("capital of France?")], Sampling::default());
/// let reply = futures::executor::block_on(lm.complete(&request))?;
/// assert!(reply.completions[0].text.contains("Paris"));
/// assert_eq!(lm.requests().len(), 1);
/// # Ok::<(), lmc::LmError>(())
/// ```
pub struct ScriptedLm {
    model: String,
    rules: Vec<(Matcher, ScriptedReply)>,
    queue: Mutex<VecDeque<ScriptedReply>>,
    default: Option<ScriptedReply>,
    requests: Mutex<Vec<LmRequest>>,
    latency: Duration,
}

impl fmt::Debug for ScriptedLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedLm")
            .field("model", &self.model)
            .field("rules", &self.rules.len())
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl Default for ScriptedLm {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedLm {
    /// An empty script (every request fails until replies are added).
    pub fn new() -> Self {
        ScriptedLm {
            model: "scripted".to_string(),
            rules: Vec::new(),
            queue: Mutex::new(VecDeque::new()),
            default: None,
            requests: Mutex::new(Vec::new()),
            latency: Duration::ZERO,
        }
    }

    /// Names the model (shown in identities and run records).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Answers requests for which `matches` is true with `reply`.
    pub fn when(
        mut self,
        matches: impl Fn(&LmRequest) -> bool + Send + Sync + 'static,
        reply: impl Into<ScriptedReply>,
    ) -> Self {
        self.rules.push((Box::new(matches), reply.into()));
        self
    }

    /// Answers requests whose last user message contains `needle` with `reply`.
    pub fn when_user_contains(self, needle: impl Into<String>, reply: impl Into<ScriptedReply>) -> Self {
        let needle = needle.into();
        self.when(move |r| r.last_user_message().is_some_and(|m| m.contains(&needle)), reply)
    }

    /// Queues `reply` for the next request no rule matches.
    pub fn with_reply(self, reply: impl Into<ScriptedReply>) -> Self {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(reply.into());
        self
    }

    /// Answers every otherwise unanswered request with `reply`.
    pub fn with_default(mut self, reply: impl Into<ScriptedReply>) -> Self {
        self.default = Some(reply.into());
        self
    }

    /// Computes every otherwise unanswered reply with `f`.
    pub fn with_fn(self, f: impl Fn(&LmRequest) -> Result<String, LmError> + Send + Sync + 'static) -> Self {
        self.with_default(ScriptedReply::Fn(Arc::new(f)))
    }

    /// Reports this latency for every reply (nothing actually waits).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LmRequest> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn reply_for(&self, request: &LmRequest) -> Result<String, LmError> {
        if let Some((_, reply)) = self.rules.iter().find(|(m, _)| m(request)) {
            return reply.produce(request);
        }
        let queued = self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
        match queued.as_ref().or(self.default.as_ref()) {
            Some(reply) => reply.produce(request),
            None => Err(LmError::Script(format!(
                "no scripted reply for request {}: {:?}",
                self.requests.lock().unwrap_or_else(PoisonError::into_inner).len().saturating_sub(1),
                request.last_user_message().unwrap_or("")
            ))),
        }
    }
}

/// About four characters per token: enough for usage and cost code paths.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

impl super::Lm for ScriptedLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: "scripted".to_string(), model: self.model.clone(), base_url: None }
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(request.clone());
            let mut completions = Vec::new();
            for _ in 0..request.sampling.n() {
                completions.push(Completion::stopped(self.reply_for(request)?));
            }
            let input_tokens = request.messages.iter().map(|m| estimate_tokens(&m.content) + 4).sum();
            let output_tokens = completions.iter().map(|c| estimate_tokens(&c.text)).sum();
            let mut response = LmResponse::new(completions, Usage { input_tokens, output_tokens, ..Usage::default() });
            response.latency = self.latency;
            response.served_model = Some(self.model.clone());
            Ok(response)
        })
    }
}
