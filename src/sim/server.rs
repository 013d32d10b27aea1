//! The simulator as an OpenAI-compatible HTTP server (`lmc sim-server`), with fault
//! injection, for testing clients (lmc's own `openai/...` and `vllm/...` providers, or any
//! other) against a realistic, misbehaving endpoint with no key and no network.
//!
//! **It is a simulator, not a model.** Every reply names its model `sim/<world>`.
//!
//! # Routes
//!
//! - `POST /v1/chat/completions`: OpenAI Chat Completions. The body's `model` (required, any
//!   name), `messages` (`role` `system`/`developer`/`user`/`assistant`; `content` a string or
//!   an array of `{"type": "text", "text": ...}` parts), `temperature`, `max_tokens` or
//!   `max_completion_tokens`, `n`, `stop`, `seed` and `response_format` become an
//!   [`LmRequest`], answered by [`SimLm::respond`]: the same response model as the in-process
//!   `--lm sim`. **The wire has no rollout, so every request is rollout 0**: a repeated request
//!   gets the same answer, and `n > 1` gives the distinct rollouts `0..n` of the in-process
//!   model. The reply is a `chat.completion` object with a deterministic `id`, `created: 0`,
//!   `model: "sim/<world>"`, one choice per completion and `usage`
//!   (`prompt_tokens`, `completion_tokens`, `total_tokens`) counted as the response model
//!   counts them. `max_tokens` travels in the request, but the response model does not cut
//!   replies by it (`ptrunc` simulates cut replies). A body that is not such a request (not JSON, no `messages`, `stream: true`,
//!   an unknown role or response format) gets `400` with an OpenAI-style
//!   `{"error": {"message", "type": "invalid_request_error", "param", "code"}}` body and is
//!   never faulted.
//! - `GET /v1/models`: `{"object": "list", "data": [{"id": "sim/<world>", "object": "model",
//!   "owned_by": "lmc-sim"}]}`.
//! - `GET /stats`: [`SimStats`] as JSON: requests in all and by outcome (`ok`, `429`, `500`,
//!   `503`, `dropped`, `garbage`, `truncated`, `bad_request`), the prompt and completion
//!   tokens of the completions served (`ok` and `truncated`), and the chat requests in flight
//!   now and at most.
//!
//! Any other route gets `404` with an OpenAI-style error body.
//!
//! # Faults
//!
//! Each chat request draws at most one fault from [`FaultConfig`], in this order, with one
//! uniform draw `u` against cumulative bands (so each probability is the fault's exact rate,
//! and their sum may not exceed 1):
//!
//! | fault | probability | what the client sees |
//! |---|---|---|
//! | rate limit | `p429` | `429`, `Retry-After: <retry_after_secs>` and `retry-after-ms`, an OpenAI `rate_limit_exceeded` error body |
//! | server error | `p500` | `500`, an OpenAI `server_error` body |
//! | overload | `p503` | `503`, an OpenAI `server_error` body (`code: "overloaded"`) |
//! | drop | `pdrop` | the connection is aborted: for half of the drops (a further draw) before any response, for the other half after the `200` headers and half of the body; either way a transport error |
//! | garbage | `pgarbage` | `200` with a body that is not JSON (the reply cut in half, then noise) |
//! | truncation | `ptrunc` | `200`, every choice's content cut to half its characters, `finish_reason: "length"` |
//!
//! Before answering (fault or not) the server sleeps `latency_ms ± jitter_ms` (a uniform
//! draw, at least 0).
//!
//! # Determinism
//!
//! Every draw is a stable hash (FNV-1a and SplitMix64, the simulator's own) of the fault
//! `seed`, the exact request body bytes, and the **attempt number**: how many times the
//! server has seen this exact body before. The first attempt of a request and its retries
//! are different draws, so a retry can succeed, and a fresh server given the same sequence of
//! requests produces the same faults, latencies and replies. (When identical bodies are in
//! flight concurrently, which of them is attempt 0 depends on arrival order.) Reply text never
//! depends on faults: a truncated reply is the first half of the reply an `ok` would carry.
//! The fault `seed` is independent of the world's own seed ([`SimSettings`]`::seed`), which
//! decides which answers are right. The server remembers one counter per distinct body it
//! has seen, for its lifetime.
//!
//! [`SimSettings`]: super::SimSettings
//!
//! ```no_run
//! use std::sync::Arc;
//! use lmc::sim::server::{FaultConfig, SimServer};
//! use lmc::sim::{SimSettings, SimWorld};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let world = Arc::new(SimWorld::load("datasets/gsm8k/test.jsonl", SimSettings::default())?);
//! let faults = FaultConfig { p429: 0.1, retry_after_secs: 0.05, ..FaultConfig::default() };
//! let server = SimServer::bind(world, faults, "127.0.0.1:0".parse()?).await?.spawn();
//! println!("point an OpenAI client at {}", server.base_url());
//! // ... send requests ...
//! println!("{:?}", server.stats());
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::rng;
use super::{SimLm, SimWorld};
use crate::lm::{LmRequest, LmResponse, Sampling};
use crate::prompt::{Message, ResponseFormat, Role};

/// The largest request body accepted (prompts with many long demos fit easily).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The most completions one request may ask for.
const MAX_N: u64 = 128;

/// How long a mid-body drop waits after the first half of the body before aborting.
const DROP_PAUSE: Duration = Duration::from_millis(20);

/// The longest `Retry-After` the server may be configured to send (a day).
const MAX_RETRY_AFTER_SECS: f64 = 86_400.0;

/// The fault and latency settings of a [`SimServer`]. The default injects nothing and
/// answers at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// The base latency of every chat request, in milliseconds.
    pub latency_ms: u64,
    /// The latency varies uniformly by up to this much either way, in milliseconds.
    pub jitter_ms: u64,
    /// The rate of `429 Too Many Requests` replies.
    pub p429: f64,
    /// The rate of `500 Internal Server Error` replies.
    pub p500: f64,
    /// The rate of `503 Service Unavailable` replies.
    pub p503: f64,
    /// The rate of connections aborted in the middle of the reply.
    pub pdrop: f64,
    /// The rate of `200` replies whose body is not JSON.
    pub pgarbage: f64,
    /// The rate of replies cut to half their length with `finish_reason: "length"`.
    pub ptrunc: f64,
    /// The `Retry-After` sent with a 429, in seconds (fractions allowed; default 1).
    pub retry_after_secs: f64,
    /// The seed of the fault and latency draws (independent of the world's own seed).
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            jitter_ms: 0,
            p429: 0.0,
            p500: 0.0,
            p503: 0.0,
            pdrop: 0.0,
            pgarbage: 0.0,
            ptrunc: 0.0,
            retry_after_secs: 1.0,
            seed: 0,
        }
    }
}

/// One injected fault (see the module docs for what each looks like on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// `429` with `Retry-After`.
    RateLimited,
    /// `500`.
    ServerError,
    /// `503`.
    Overloaded,
    /// The connection is aborted mid-reply.
    Dropped,
    /// A `200` whose body is not JSON.
    Garbage,
    /// A `200` whose content is cut in half, `finish_reason: "length"`.
    Truncated,
}

impl FaultConfig {
    /// The probabilities in the order they are drawn.
    fn bands(&self) -> [(Fault, f64); 6] {
        [
            (Fault::RateLimited, self.p429),
            (Fault::ServerError, self.p500),
            (Fault::Overloaded, self.p503),
            (Fault::Dropped, self.pdrop),
            (Fault::Garbage, self.pgarbage),
            (Fault::Truncated, self.ptrunc),
        ]
    }

    /// Checks that every probability is in [0, 1], that they sum to at most 1, and that
    /// `retry_after_secs` is a sane number of seconds. The message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        let names = ["p429", "p500", "p503", "pdrop", "pgarbage", "ptrunc"];
        let mut sum = 0.0;
        for (name, (_, p)) in names.iter().zip(self.bands()) {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be a probability between 0 and 1, not {p}"));
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "the fault probabilities sum to {sum}, more than 1 (each request draws at most one fault)"
            ));
        }
        if !(0.0..=MAX_RETRY_AFTER_SECS).contains(&self.retry_after_secs) {
            return Err(format!(
                "retry_after_secs must be between 0 and {MAX_RETRY_AFTER_SECS} seconds, not {}",
                self.retry_after_secs
            ));
        }
        Ok(())
    }

    /// Whether any fault can happen.
    pub fn any(&self) -> bool {
        self.bands().iter().any(|(_, p)| *p > 0.0)
    }

    /// The fault, if any, for attempt `attempt` (0 for the first time the server sees it)
    /// of the request whose body is `body`.
    pub fn draw(&self, body: &[u8], attempt: u32) -> Option<Fault> {
        let u = rng::uniform(&[b"fault", &self.seed.to_le_bytes(), body, &attempt.to_le_bytes()]);
        let mut upper = 0.0;
        for (fault, p) in self.bands() {
            upper += p;
            if u < upper {
                return Some(fault);
            }
        }
        None
    }

    /// How long the server waits before answering attempt `attempt` of `body`:
    /// `latency_ms ± jitter_ms`, at least 0.
    pub fn latency(&self, body: &[u8], attempt: u32) -> Duration {
        if self.latency_ms == 0 && self.jitter_ms == 0 {
            return Duration::ZERO;
        }
        let u = rng::uniform(&[b"latency", &self.seed.to_le_bytes(), body, &attempt.to_le_bytes()]);
        let ms = self.latency_ms as f64 + (2.0 * u - 1.0) * self.jitter_ms as f64;
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }

    /// The `Retry-After` header value: whole seconds as an integer, else the fraction.
    fn retry_after_header(&self) -> String {
        let secs = self.retry_after_secs;
        if secs.fract() == 0.0 {
            format!("{}", secs as u64)
        } else {
            format!("{secs}")
        }
    }
}

/// Chat requests by outcome (`/stats`' `outcomes` object; the JSON keys are the names in
/// parentheses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Complete, well-formed completions (`ok`).
    pub ok: u64,
    /// `429` replies (`429`).
    #[serde(rename = "429")]
    pub rate_limited: u64,
    /// `500` replies (`500`).
    #[serde(rename = "500")]
    pub server_error: u64,
    /// `503` replies (`503`).
    #[serde(rename = "503")]
    pub overloaded: u64,
    /// Aborted connections (`dropped`).
    pub dropped: u64,
    /// Non-JSON `200` replies (`garbage`).
    pub garbage: u64,
    /// Truncated completions (`truncated`).
    pub truncated: u64,
    /// Malformed requests answered with `400` (`bad_request`).
    pub bad_request: u64,
}

impl OutcomeCounts {
    /// The injected faults: every outcome but `ok` and `bad_request`.
    pub fn faults(&self) -> u64 {
        self.rate_limited + self.server_error + self.overloaded + self.dropped + self.garbage + self.truncated
    }

    /// Every outcome.
    pub fn total(&self) -> u64 {
        self.ok + self.faults() + self.bad_request
    }
}

/// What the server has done so far (`GET /stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// The model the server reports: `sim/<world>`.
    pub model: String,
    /// `POST /v1/chat/completions` requests received. A request's outcome is decided (and
    /// counted) when it arrives, before the latency, so `requests` equals
    /// `outcomes.total()` once nothing is in flight.
    pub requests: u64,
    /// The requests by outcome.
    pub outcomes: OutcomeCounts,
    /// Prompt tokens of the completions served (`ok` and `truncated`).
    pub prompt_tokens: u64,
    /// Completion tokens served (`ok` and `truncated`, as cut).
    pub completion_tokens: u64,
    /// Chat requests being handled now.
    pub in_flight: u64,
    /// The most chat requests handled at once.
    pub max_in_flight: u64,
}

/// The live counters behind [`SimStats`].
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    server_error: AtomicU64,
    overloaded: AtomicU64,
    dropped: AtomicU64,
    garbage: AtomicU64,
    truncated: AtomicU64,
    bad_request: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Counts a chat request in flight while it lives.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What every handler shares.
#[derive(Debug)]
struct Shared {
    sim: SimLm,
    model: String,
    faults: FaultConfig,
    counters: Counters,
    /// Request body hash → times seen.
    attempts: Mutex<HashMap<u64, u32>>,
}

impl Shared {
    fn stats(&self) -> SimStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        SimStats {
            model: self.model.clone(),
            requests: get(&c.requests),
            outcomes: OutcomeCounts {
                ok: get(&c.ok),
                rate_limited: get(&c.rate_limited),
                server_error: get(&c.server_error),
                overloaded: get(&c.overloaded),
                dropped: get(&c.dropped),
                garbage: get(&c.garbage),
                truncated: get(&c.truncated),
                bad_request: get(&c.bad_request),
            },
            prompt_tokens: get(&c.prompt_tokens),
            completion_tokens: get(&c.completion_tokens),
            in_flight: get(&c.in_flight),
            max_in_flight: get(&c.max_in_flight),
        }
    }

    /// How many times this body was seen before (and counts this time).
    fn attempt(&self, body: &[u8]) -> u32 {
        let key = rng::hash(&[b"body", body]);
        let mut seen = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = seen.entry(key).or_insert(0);
        let attempt = *count;
        *count = count.saturating_add(1);
        attempt
    }
}

/// The simulator's HTTP server, bound to an address but not yet serving.
///
/// [`SimServer::serve`] runs it on the current task; [`SimServer::spawn`] runs it in the
/// background and returns a [`SimServerHandle`] to read its stats and shut it down.
#[derive(Debug)]
pub struct SimServer {
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SimServer {
    /// Binds `addr` (port 0 picks a free port) to serve `world` with `faults`. Fails with
    /// [`io::ErrorKind::InvalidInput`] when `faults` does not validate
    /// ([`FaultConfig::validate`]).
    pub async fn bind(world: Arc<SimWorld>, faults: FaultConfig, addr: SocketAddr) -> io::Result<SimServer> {
        faults.validate().map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let model = format!("sim/{}", world.name());
        let shared = Arc::new(Shared {
            sim: SimLm::new(world),
            model,
            faults,
            counters: Counters::default(),
            attempts: Mutex::new(HashMap::new()),
        });
        Ok(SimServer { listener, addr, shared })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL: `http://<addr>/v1`.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// The model every reply names: `sim/<world>`.
    pub fn model(&self) -> &str {
        &self.shared.model
    }

    /// The world served.
    pub fn world(&self) -> &SimWorld {
        self.shared.sim.world()
    }

    /// The fault settings.
    pub fn faults(&self) -> &FaultConfig {
        &self.shared.faults
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// A function that reads the counters, usable after `serve` has taken the server.
    pub fn stats_handle(&self) -> impl Fn() -> SimStats + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.stats()
    }

    /// Serves until the listener fails (in practice, until the process ends).
    pub async fn serve(self) -> io::Result<()> {
        axum::serve(self.listener, router(self.shared)).await
    }

    /// Serves until `signal` completes, then stops accepting and waits for the requests in
    /// progress to finish.
    pub async fn serve_until(self, signal: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        axum::serve(self.listener, router(self.shared)).with_graceful_shutdown(signal).await
    }

    /// Serves in a background task of the current tokio runtime (call it inside one).
    pub fn spawn(self) -> SimServerHandle {
        let (tx, rx) = oneshot::channel::<()>();
        let (addr, shared) = (self.addr, self.shared.clone());
        let task = tokio::spawn(self.serve_until(async move {
            let _ = rx.await;
        }));
        SimServerHandle { addr, shared, shutdown: Some(tx), task: Some(task) }
    }
}

/// A [`SimServer`] running in the background. Dropping it stops the server at once;
/// [`SimServerHandle::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct SimServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL: `http://<addr>/v1`.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// The model every reply names: `sim/<world>`.
    pub fn model(&self) -> &str {
        &self.shared.model
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// Stops accepting connections, waits for the requests in progress, and returns how the
    /// server ended.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimServerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}/v1")
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/stats", get(stats))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"object": "list", "data": [{"id": shared.model, "object": "model", "owned_by": "lmc-sim"}]}),
    )
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &serde_json::to_value(shared.stats()).unwrap_or(Value::Null))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let body = error_body(
        &format!(
            "Unknown route: {method} {}. The lmc simulator serves POST /v1/chat/completions, GET /v1/models and GET /stats.",
            uri.path()
        ),
        "invalid_request_error",
        None,
        Some("unknown_url"),
    );
    json_response(StatusCode::NOT_FOUND, &body)
}

/// What the server does with one chat request, decided before the latency.
enum Plan {
    Fault(Fault, Option<Value>),
    Ok(Value),
}

async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let counters = &shared.counters;
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::enter(counters);
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(error) => {
            counters.bad_request.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(outcome = "bad_request", message = %error.message, "sim-server");
            return error.into_response();
        }
    };
    let attempt = shared.attempt(&body);
    let fault = shared.faults.draw(&body, attempt);
    let delay = shared.faults.latency(&body, attempt);
    let id = format!("chatcmpl-sim-{:016x}", rng::hash(&[b"id", &body, &attempt.to_le_bytes()]));

    // Decide and count the outcome now, so the counts hold even if the client goes away
    // during the latency.
    let reply = || shared.sim.respond(&request);
    let plan = match fault {
        None => {
            let response = reply();
            count_tokens(counters, &response);
            counters.ok.fetch_add(1, Ordering::SeqCst);
            Plan::Ok(completion_json(&id, &shared.model, &response, false))
        }
        Some(Fault::Truncated) => {
            let mut response = reply();
            for completion in &mut response.completions {
                completion.text = first_half(&completion.text);
            }
            response.usage.output_tokens = response.completions.iter().map(|c| tokens(&c.text)).sum();
            count_tokens(counters, &response);
            counters.truncated.fetch_add(1, Ordering::SeqCst);
            Plan::Ok(completion_json(&id, &shared.model, &response, true))
        }
        Some(fault @ (Fault::Garbage | Fault::Dropped)) => {
            let counter = if fault == Fault::Garbage { &counters.garbage } else { &counters.dropped };
            counter.fetch_add(1, Ordering::SeqCst);
            Plan::Fault(fault, Some(completion_json(&id, &shared.model, &reply(), false)))
        }
        Some(fault) => {
            let counter = match fault {
                Fault::RateLimited => &counters.rate_limited,
                Fault::ServerError => &counters.server_error,
                _ => &counters.overloaded,
            };
            counter.fetch_add(1, Ordering::SeqCst);
            Plan::Fault(fault, None)
        }
    };
    tracing::debug!(
        attempt,
        outcome = ?fault,
        latency_ms = delay.as_millis() as u64,
        "sim-server chat request"
    );
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match plan {
        Plan::Ok(value) => json_response(StatusCode::OK, &value),
        Plan::Fault(fault, value) => {
            // Half of the drops (by another draw) happen mid-body, half before any response.
            let mid_body = rng::hash(&[b"drop", &body, &attempt.to_le_bytes()]) % 2 == 1;
            fault_response(&shared, fault, value.as_ref(), mid_body)
        }
    }
}

fn count_tokens(counters: &Counters, response: &LmResponse) {
    counters.prompt_tokens.fetch_add(response.usage.input_tokens, Ordering::SeqCst);
    counters.completion_tokens.fetch_add(response.usage.output_tokens, Ordering::SeqCst);
}

/// About four characters per token, as the response model counts.
fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// A `chat.completion` object for `response`.
fn completion_json(id: &str, model: &str, response: &LmResponse, truncated: bool) -> Value {
    let finish_reason = if truncated { "length" } else { "stop" };
    let choices: Vec<Value> = response
        .completions
        .iter()
        .enumerate()
        .map(|(index, c)| {
            json!({
                "index": index,
                "message": {"role": "assistant", "content": c.text},
                "logprobs": null,
                "finish_reason": finish_reason,
            })
        })
        .collect();
    let usage = &response.usage;
    json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    })
}

fn fault_response(shared: &Shared, fault: Fault, reply: Option<&Value>, drop_mid_body: bool) -> Response {
    let model = &shared.model;
    match fault {
        Fault::RateLimited => {
            let secs = shared.faults.retry_after_secs;
            let body = error_body(
                &format!(
                    "Rate limit reached for {model}: please try again in {secs}s. (A fault injected by the lmc simulator.)"
                ),
                "requests",
                None,
                Some("rate_limit_exceeded"),
            );
            let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&shared.faults.retry_after_header()) {
                headers.insert(header::RETRY_AFTER, value);
            }
            if let Ok(value) = HeaderValue::from_str(&format!("{}", (secs * 1000.0).round() as u64)) {
                headers.insert("retry-after-ms", value);
            }
            response
        }
        Fault::ServerError => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_body(
                "The server had an error while processing your request. (A fault injected by the lmc simulator.)",
                "server_error",
                None,
                None,
            ),
        ),
        Fault::Overloaded => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &error_body(
                "The server is overloaded, please try again later. (A fault injected by the lmc simulator.)",
                "server_error",
                None,
                Some("overloaded"),
            ),
        ),
        Fault::Garbage => {
            let text = reply.map(Value::to_string).unwrap_or_default();
            let mut garbage = first_half(&text);
            garbage.push_str("\u{fffd}\u{fffd} <garbled by the lmc simulator>");
            with_json_type(Response::new(Body::from(garbage)))
        }
        Fault::Dropped => {
            // The body stream fails, so hyper aborts the connection. Failing at once closes
            // it before anything is written; failing after a pause (hyper flushes on the
            // pause) closes it after the status line, headers and half of the body.
            let aborted =
                || io::Error::new(io::ErrorKind::ConnectionAborted, "connection dropped by the lmc simulator");
            let body = if drop_mid_body {
                let head = Bytes::from(first_half(&reply.map(Value::to_string).unwrap_or_default()));
                Body::from_stream(futures::stream::unfold(0u8, move |step| {
                    let head = head.clone();
                    async move {
                        match step {
                            0 => Some((Ok(head), 1)),
                            1 => {
                                tokio::time::sleep(DROP_PAUSE).await;
                                Some((Err(aborted()), 2))
                            }
                            _ => None,
                        }
                    }
                }))
            } else {
                Body::from_stream(futures::stream::iter([Err::<Bytes, io::Error>(aborted())]))
            };
            with_json_type(Response::new(body))
        }
        // Truncation is a complete reply (built by the caller); never reached.
        Fault::Truncated => json_response(StatusCode::OK, reply.unwrap_or(&Value::Null)),
    }
}

/// The first half of `text`'s characters.
fn first_half(text: &str) -> String {
    text.chars().take(text.chars().count() / 2).collect()
}

fn with_json_type(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = with_json_type(Response::new(Body::from(body.to_string())));
    *response.status_mut() = status;
    response
}

/// An OpenAI-style error body.
fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

/// A request the server cannot read: `400` with an OpenAI-style body.
#[derive(Debug)]
struct WireError {
    message: String,
    param: Option<&'static str>,
}

impl WireError {
    fn new(message: impl Into<String>, param: Option<&'static str>) -> Self {
        WireError { message: message.into(), param }
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        json_response(StatusCode::BAD_REQUEST, &error_body(&self.message, "invalid_request_error", self.param, None))
    }
}

/// Reads an OpenAI chat-completions body into an [`LmRequest`] (rollout 0).
fn parse_request(body: &[u8]) -> Result<LmRequest, WireError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WireError::new(format!("The body is not valid JSON: {e}"), None))?;
    let Value::Object(obj) = value else {
        return Err(WireError::new("The body must be a JSON object.", None));
    };
    match obj.get("model") {
        Some(Value::String(_)) => {}
        None => return Err(WireError::new("Missing required parameter: 'model'.", Some("model"))),
        Some(_) => return Err(WireError::new("'model' must be a string.", Some("model"))),
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(WireError::new(
            "Streaming is not supported by the lmc simulator; send stream: false.",
            Some("stream"),
        ));
    }
    let messages = match obj.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => {
            messages.iter().enumerate().map(|(i, m)| message(i, m)).collect::<Result<Vec<_>, _>>()?
        }
        Some(Value::Array(_)) => return Err(WireError::new("'messages' must not be empty.", Some("messages"))),
        None => return Err(WireError::new("Missing required parameter: 'messages'.", Some("messages"))),
        Some(_) => return Err(WireError::new("'messages' must be an array.", Some("messages"))),
    };
    let temperature = match non_null(&obj, "temperature") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| t.is_finite())
                .ok_or_else(|| WireError::new("'temperature' must be a number.", Some("temperature")))?,
        ),
    };
    let max_tokens =
        match non_null(&obj, "max_completion_tokens")
            .map(|v| ("max_completion_tokens", v))
            .or_else(|| non_null(&obj, "max_tokens").map(|v| ("max_tokens", v)))
        {
            None => None,
            Some((name, v)) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                WireError::new(format!("'{name}' must be a non-negative integer."), Some("max_tokens"))
            })?),
        };
    let n = match non_null(&obj, "n") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=MAX_N).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| WireError::new(format!("'n' must be an integer from 1 to {MAX_N}."), Some("n")))?,
        ),
    };
    let stop =
        match non_null(&obj, "stop") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| WireError::new("'stop' must be a string or an array of strings.", Some("stop")))?,
            Some(_) => return Err(WireError::new("'stop' must be a string or an array of strings.", Some("stop"))),
        };
    let seed = match non_null(&obj, "seed") {
        None => None,
        // Negative seeds are accepted, as OpenAI does, and used bit for bit.
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_i64().map(|s| s as u64))
                .ok_or_else(|| WireError::new("'seed' must be an integer.", Some("seed")))?,
        ),
    };
    let response_format = match non_null(&obj, "response_format") {
        None => None,
        Some(v) if v.get("type").and_then(Value::as_str) == Some("text") => None,
        Some(v) => Some(serde_json::from_value::<ResponseFormat>(v.clone()).map_err(|e| {
            WireError::new(
                format!(
                    "'response_format' must be {{\"type\": \"text\" | \"json_object\" | \"json_schema\", ...}}: {e}"
                ),
                Some("response_format"),
            )
        })?),
    };
    let sampling = Sampling { temperature, max_tokens, n, stop, seed };
    // The wire has no rollout: every request is rollout 0.
    let mut request = LmRequest::new(messages, sampling);
    request.response_format = response_format;
    Ok(request)
}

/// `obj[key]` unless absent or `null`.
fn non_null<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// One wire message: a role and string content (or text parts, joined).
fn message(index: usize, value: &Value) -> Result<Message, WireError> {
    let bad = |what: &str| WireError::new(format!("messages[{index}]: {what}"), Some("messages"));
    let role = match value.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some(other) => {
            return Err(bad(&format!(
                "unsupported role '{other}' (the simulator reads system, developer, user and assistant)"
            )))
        }
        None => return Err(bad("'role' must be a string")),
    };
    let content = match value.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None if role == Role::Assistant => String::new(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    _ => {
                        return Err(bad("only text content parts ({\"type\": \"text\", \"text\": ...}) are supported"))
                    }
                }
            }
            text
        }
        _ => return Err(bad("'content' must be a string or an array of text parts")),
    };
    Ok(Message::new(role, content))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fault_draws_are_stable_and_match_their_rates() {
        let faults = FaultConfig { p429: 0.2, p500: 0.1, pdrop: 0.1, seed: 7, ..FaultConfig::default() };
        assert_eq!(faults.draw(b"body", 0), faults.draw(b"body", 0));
        let mut counts: HashMap<Option<Fault>, u32> = HashMap::new();
        for i in 0..20_000u32 {
            *counts.entry(faults.draw(&i.to_le_bytes(), 0)).or_default() += 1;
        }
        let rate = |f| f64::from(counts.get(&f).copied().unwrap_or(0)) / 20_000.0;
        assert!((rate(Some(Fault::RateLimited)) - 0.2).abs() < 0.015);
        assert!((rate(Some(Fault::ServerError)) - 0.1).abs() < 0.015);
        assert!((rate(Some(Fault::Dropped)) - 0.1).abs() < 0.015);
        assert_eq!(rate(Some(Fault::Overloaded)), 0.0);
        // Attempts are distinct draws.
        let differ = (0..100u32).filter(|i| faults.draw(&i.to_le_bytes(), 0) != faults.draw(&i.to_le_bytes(), 1));
        assert!(differ.count() > 20);
    }

    #[test]
    fn latency_stays_within_the_jitter() {
        let faults = FaultConfig { latency_ms: 100, jitter_ms: 20, ..FaultConfig::default() };
        for i in 0..1000u32 {
            let ms = faults.latency(&i.to_le_bytes(), 0).as_secs_f64() * 1000.0;
            assert!((80.0..=120.0).contains(&ms), "{ms}");
        }
        assert_eq!(FaultConfig::default().latency(b"x", 0), Duration::ZERO);
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let err = FaultConfig { p500: 1.5, ..FaultConfig::default() }.validate().unwrap_err();
        assert!(err.contains("p500"), "{err}");
        let err = FaultConfig { p429: 0.6, pdrop: 0.6, ..FaultConfig::default() }.validate().unwrap_err();
        assert!(err.contains("sum"), "{err}");
        assert!(FaultConfig { p429: f64::NAN, ..FaultConfig::default() }.validate().is_err());
        assert!(FaultConfig { retry_after_secs: -1.0, ..FaultConfig::default() }.validate().is_err());
        assert!(FaultConfig::default().validate().is_ok());
    }

    #[test]
    fn wire_requests_are_read_and_bad_ones_named() {
        let body = json!({
            "model": "sim",
            "messages": [{"role": "developer", "content": "Be terse."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "temperature": 0.5, "max_completion_tokens": 10, "n": 2, "stop": "\n", "seed": -1,
            "response_format": {"type": "json_object"}
        });
        let request = parse_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.messages, [Message::system("Be terse."), Message::user("Hi")]);
        assert_eq!(request.sampling.max_tokens, Some(10));
        assert_eq!(request.sampling.n, Some(2));
        assert_eq!(request.sampling.stop, ["\n"]);
        assert_eq!(request.sampling.seed, Some(u64::MAX));
        assert_eq!(request.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(request.rollout, 0);

        for (body, param) in [
            (json!({"messages": [{"role": "user", "content": "x"}]}), Some("model")),
            (json!({"model": "m", "messages": []}), Some("messages")),
            (json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}), Some("messages")),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 0}), Some("n")),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true}), Some("stream")),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}),
                Some("response_format"),
            ),
            (json!([1, 2]), None),
        ] {
            let err = parse_request(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.param, param, "{body}: {}", err.message);
        }
        assert!(parse_request(b"{not json").is_err());
    }
}
