//! The simulator's HTTP server, in process on loopback: the OpenAI wire format as lmc's own
//! client sees it, each injected fault as a typed error, retries, determinism and `/stats`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::join_all;
use lmc::lm::pricing::PriceTable;
use lmc::lm::{OpenAiLm, RetryLm, RetryPolicy};
use lmc::sim::server::{FaultConfig, SimServer, SimServerHandle, SimStats};
use lmc::sim::{SimLm, SimSettings, SimWorld};
use lmc::{
    Adapter, AdapterKind, ChainOfThought, ChatAdapter, Example, FinishReason, Lm, LmError, LmRequest, Module, Predict,
    RunCx, Sampling, Signature,
};
use serde_json::{json, Value};

use crate::support::root;

/// The shipped GSM8K test subset (200 items, answer field `answer`).
fn world() -> Arc<SimWorld> {
    static WORLD: OnceLock<Arc<SimWorld>> = OnceLock::new();
    WORLD
        .get_or_init(|| {
            Arc::new(SimWorld::load(root().join("datasets/gsm8k/test.jsonl"), SimSettings::default()).unwrap())
        })
        .clone()
}

/// The world's questions, in file order.
fn questions() -> Vec<String> {
    std::fs::read_to_string(root().join("datasets/gsm8k/test.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .collect()
}

async fn start(faults: FaultConfig) -> SimServerHandle {
    SimServer::bind(world(), faults, "127.0.0.1:0".parse().unwrap()).await.unwrap().spawn()
}

/// lmc's OpenAI-compatible client pointed at the server, with no retries of its own.
fn client(server: &SimServerHandle) -> OpenAiLm {
    OpenAiLm::new(
        "vllm",
        "sim",
        &server.base_url(),
        None,
        Duration::from_secs(10),
        Arc::new(PriceTable::builtin().clone()),
    )
    .unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
        max_total: Duration::from_secs(20),
    }
}

/// Every test finishes in bounded time: nothing may hang.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("the simulator server hung")
}

fn math() -> Signature {
    Signature::parse("question -> answer: float").unwrap()
}

/// The request lmc sends for `question` with `adapter` (chain of thought: a reasoning field).
fn request(question: &str, adapter: AdapterKind) -> LmRequest {
    let predict = ChainOfThought::new("solve", math()).unwrap();
    let predict = predict.predict().clone().with_adapter(adapter);
    let inputs = Example::new().with("question", question);
    let prompt = predict.render(None, inputs.fields());
    let mut request = LmRequest::new(prompt.messages, Sampling::default());
    request.response_format = prompt.response_format;
    request
}

/// A raw HTTP GET on the server (reqwest, as lmc's client uses).
async fn get(server: &SimServerHandle, path: &str) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("http://{}{path}", server.addr());
    let response = reqwest::get(&url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn stats(server: &SimServerHandle) -> SimStats {
    let (status, body) = get(server, "/stats").await;
    assert_eq!(status, 200);
    let stats: SimStats = serde_json::from_value(body).unwrap();
    assert_eq!(stats, server.stats(), "/stats serves the live counters");
    stats
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_adapter_programs_run_through_lmc_s_openai_client() {
    let server = start(FaultConfig::default()).await;
    let lm = client(&server);
    let question = &questions()[0];

    // A chain-of-thought predictor over HTTP: the reply parses with the ChatAdapter.
    let cot = ChainOfThought::new("solve", math()).unwrap();
    let cx = RunCx::new().with_lm(Arc::new(lm.clone()));
    let out = bounded(cot.forward(&cx, &Example::new().with("question", question.as_str()))).await.unwrap();
    assert!(out.get_as::<f64>("answer").is_ok(), "{out:?}");
    assert!(out.get_as::<String>("reasoning").unwrap().starts_with("Let's think step by step"));
    let trace = cx.trace();
    assert_eq!(trace[0].served_model.as_deref(), Some("sim/test"));
    assert_eq!(trace[0].finish_reason, Some(FinishReason::Stop));

    // One response model, two faces: HTTP and in-process replies are the same text and usage.
    let req = request(question, AdapterKind::Chat);
    let http = bounded(lm.complete(&req)).await.unwrap();
    let local = SimLm::new(world()).respond(&req);
    assert_eq!(http.completions, local.completions);
    assert_eq!(http.usage, local.usage);
    assert!(http.usage.input_tokens > 0 && http.usage.output_tokens > 0);
    let parsed = ChatAdapter
        .parse(&ChainOfThought::new("solve", math()).unwrap().predict().signature().clone(), &http.completions[0].text);
    assert!(parsed.is_ok(), "{parsed:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn json_adapter_requests_with_a_response_format_get_a_json_object() {
    let server = start(FaultConfig::default()).await;
    let lm = client(&server);
    let req = request(&questions()[1], AdapterKind::Json);
    assert!(req.response_format.is_some(), "the JsonAdapter sends a response_format");
    let reply = bounded(lm.complete(&req)).await.unwrap();
    let object: Value = serde_json::from_str(&reply.completions[0].text).unwrap();
    assert!(object["answer"].is_number(), "{object}");
    assert!(object["reasoning"].is_string(), "{object}");

    let predict = Predict::new("solve", math()).with_adapter(AdapterKind::Json);
    let cx = RunCx::new().with_lm(Arc::new(lm));
    let out = bounded(predict.forward(&cx, &Example::new().with("question", questions()[1].as_str()))).await.unwrap();
    assert!(out.get_as::<f64>("answer").is_ok(), "{out:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn models_stats_and_bad_requests_have_the_documented_shapes() {
    let server = start(FaultConfig::default()).await;
    let (status, models) = get(&server, "/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(
        models,
        json!({"object": "list", "data": [{"id": "sim/test", "object": "model", "owned_by": "lmc-sim"}]})
    );

    let (_, fresh) = get(&server, "/stats").await;
    assert_eq!(
        fresh,
        json!({
            "model": "sim/test",
            "requests": 0,
            "outcomes": {"ok": 0, "429": 0, "500": 0, "503": 0, "dropped": 0, "garbage": 0, "truncated": 0, "bad_request": 0},
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "in_flight": 0,
            "max_in_flight": 0
        })
    );

    // The raw wire reply is a proper chat.completion object.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    let body = client(&server).request_body(&request(&questions()[2], AdapterKind::Chat));
    let reply: Value = http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["created"], 0);
    assert_eq!(reply["model"], "sim/test");
    assert!(reply["id"].as_str().unwrap().starts_with("chatcmpl-sim-"));
    assert_eq!(reply["choices"][0]["index"], 0);
    assert_eq!(reply["choices"][0]["message"]["role"], "assistant");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    let usage = &reply["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    // A malformed body: 400 with an OpenAI-style error, counted, never faulted.
    for bad in
        ["{not json", r#"{"model": "sim"}"#, r#"{"model": "sim", "messages": [{"role": "tool", "content": "x"}]}"#]
    {
        let response = http.post(&url).header("content-type", "application/json").body(bad).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    // An unknown route: 404 with an error body.
    let (status, error) = get(&server, "/v1/embeddings").await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "unknown_url");

    let stats = stats(&server).await;
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.outcomes.ok, 1);
    assert_eq!(stats.outcomes.bad_request, 3);
    assert_eq!(stats.prompt_tokens, usage["prompt_tokens"].as_u64().unwrap());
    assert_eq!(stats.completion_tokens, usage["completion_tokens"].as_u64().unwrap());
    assert_eq!((stats.in_flight, stats.max_in_flight), (0, 1));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_request_gets_the_same_reply_and_n_gets_n_choices() {
    let server = start(FaultConfig::default()).await;
    let lm = client(&server);
    let req = request(&questions()[3], AdapterKind::Chat);
    let first = bounded(lm.complete(&req)).await.unwrap();
    let second = bounded(lm.complete(&req)).await.unwrap();
    assert_eq!(first.completions, second.completions);
    assert_eq!(first.usage, second.usage);

    let mut three = req.clone();
    three.sampling.n = Some(3);
    let reply = bounded(lm.complete(&three)).await.unwrap();
    assert_eq!(reply.completions.len(), 3);
    assert_eq!(reply.completions, SimLm::new(world()).respond(&three).completions, "the wire's rollout is 0");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_alone_gives_its_typed_error() {
    let req = request(&questions()[4], AdapterKind::Chat);
    let full = SimLm::new(world()).respond(&req).completions[0].text.clone();
    let one = |set: fn(&mut FaultConfig)| {
        let mut faults = FaultConfig { retry_after_secs: 0.05, seed: 3, ..FaultConfig::default() };
        set(&mut faults);
        faults
    };

    let server = start(one(|f| f.p429 = 1.0)).await;
    match bounded(client(&server).complete(&req)).await {
        Err(LmError::RateLimited { retry_after, body, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_millis(50)));
            assert!(body.contains("Rate limit"), "{body}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(server.stats().outcomes.rate_limited, 1);

    let server = start(one(|f| f.p500 = 1.0)).await;
    let err = bounded(client(&server).complete(&req)).await.unwrap_err();
    assert!(matches!(err, LmError::Http { status: 500, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(server.stats().outcomes.server_error, 1);

    let server = start(one(|f| f.p503 = 1.0)).await;
    let err = bounded(client(&server).complete(&req)).await.unwrap_err();
    assert!(matches!(err, LmError::Overloaded { status: 503, .. }), "{err:?}");
    assert_eq!(server.stats().outcomes.overloaded, 1);

    // Drops come in two kinds (before any response, and mid-body): both are transport errors.
    let server = start(one(|f| f.pdrop = 1.0)).await;
    let mut messages = std::collections::BTreeSet::new();
    for _ in 0..8 {
        match bounded(client(&server).complete(&req)).await {
            Err(LmError::Transport { message, .. }) => messages.insert(message),
            other => panic!("expected a transport error, got {other:?}"),
        };
    }
    assert!(messages.len() >= 2, "{messages:?}");
    assert_eq!(server.stats().outcomes.dropped, 8);
    assert_eq!(server.stats().in_flight, 0);

    let server = start(one(|f| f.pgarbage = 1.0)).await;
    let err = bounded(client(&server).complete(&req)).await.unwrap_err();
    assert!(matches!(err, LmError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(server.stats().outcomes.garbage, 1);

    let server = start(one(|f| f.ptrunc = 1.0)).await;
    let reply = bounded(client(&server).complete(&req)).await.unwrap();
    assert_eq!(reply.completions[0].finish_reason, Some(FinishReason::Length));
    let half: String = full.chars().take(full.chars().count() / 2).collect();
    assert_eq!(reply.completions[0].text, half, "the reply cut to half");
    assert!(ChatAdapter.parse(&math(), &reply.completions[0].text).is_err(), "a truncated reply lacks its answer");
    let stats = server.stats();
    assert_eq!(stats.outcomes.truncated, 1);
    assert_eq!(stats.completion_tokens, reply.usage.output_tokens);
    assert_eq!(reply.usage.output_tokens, (half.chars().count() as u64).div_ceil(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_of_faulted_requests_succeed_and_stats_count_every_attempt() {
    // Half of all attempts fail with a retryable fault; RetryLm gets nearly all through.
    let faults = FaultConfig {
        latency_ms: 10,
        jitter_ms: 10,
        p429: 0.15,
        p500: 0.15,
        p503: 0.1,
        pdrop: 0.1,
        retry_after_secs: 0.01,
        seed: 11,
        ..FaultConfig::default()
    };
    let server = start(faults).await;
    let lm = RetryLm::new(Arc::new(client(&server)), fast_retries());
    let requests: Vec<LmRequest> = questions().iter().take(40).map(|q| request(q, AdapterKind::Chat)).collect();
    let results = bounded(join_all(requests.iter().map(|r| lm.complete(r)))).await;

    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(ok.len() >= 36, "{} of 40 ended Ok; failures: {failed:?}", ok.len());
    for err in &failed {
        assert!(err.is_retryable(), "only retryable faults were injected: {err:?}");
    }
    let retries: u64 = ok.iter().map(|r| u64::from(r.retries)).sum();
    assert!(retries > 0, "some requests were retried");

    // Every attempt is counted: an Ok request made retries + 1 attempts (all but the last
    // faulted); a failed one used all its attempts, each faulted.
    let attempts = fast_retries().max_attempts as u64;
    let stats = stats(&server).await;
    assert_eq!(stats.requests, ok.len() as u64 + retries + failed.len() as u64 * attempts);
    assert_eq!(stats.requests, stats.outcomes.total());
    assert_eq!(stats.outcomes.ok, ok.len() as u64);
    assert_eq!(stats.outcomes.faults(), retries + failed.len() as u64 * attempts);
    assert_eq!((stats.outcomes.garbage, stats.outcomes.truncated, stats.outcomes.bad_request), (0, 0, 0));
    assert!(stats.outcomes.rate_limited > 0 && stats.outcomes.server_error > 0);
    assert!(stats.outcomes.overloaded > 0 && stats.outcomes.dropped > 0);
    assert_eq!(stats.prompt_tokens, ok.iter().map(|r| r.usage.input_tokens).sum::<u64>());
    assert_eq!(stats.completion_tokens, ok.iter().map(|r| r.usage.output_tokens).sum::<u64>());
    assert_eq!(stats.in_flight, 0);
    assert!(stats.max_in_flight > 1, "concurrent requests overlap: {stats:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_repeat_exactly_on_a_fresh_server_with_the_same_seed() {
    let faults = FaultConfig { p429: 0.2, p500: 0.2, pgarbage: 0.2, ptrunc: 0.2, seed: 5, ..FaultConfig::default() };
    let req = request(&questions()[5], AdapterKind::Chat);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = start(faults.clone()).await;
        let lm = client(&server);
        let mut outcomes = Vec::new();
        for _ in 0..12 {
            // The same body again: each is the next attempt, a fresh draw.
            outcomes.push(match bounded(lm.complete(&req)).await {
                Ok(reply) => format!("{:?}", reply.completions[0].finish_reason),
                Err(err) => err.kind().to_string(),
            });
        }
        runs.push(outcomes);
        server.shutdown().await.unwrap();
    }
    assert_eq!(runs[0], runs[1]);
    let distinct: std::collections::BTreeSet<&String> = runs[0].iter().collect();
    assert!(distinct.len() > 1, "attempts draw differently: {:?}", runs[0]);

    // Another seed draws another sequence.
    let server = start(FaultConfig { seed: 6, ..faults }).await;
    let lm = client(&server);
    let mut other = Vec::new();
    for _ in 0..12 {
        other.push(match bounded(lm.complete(&req)).await {
            Ok(reply) => format!("{:?}", reply.completions[0].finish_reason),
            Err(err) => err.kind().to_string(),
        });
    }
    assert_ne!(other, runs[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_fault_settings_are_refused_and_a_stopped_server_refuses_connections() {
    let bad = FaultConfig { p500: 1.5, ..FaultConfig::default() };
    let err = SimServer::bind(world(), bad, "127.0.0.1:0".parse().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("p500"), "{err}");

    let server = start(FaultConfig::default()).await;
    let lm = client(&server);
    bounded(server.shutdown()).await.unwrap();
    let err = bounded(lm.complete(&request(&questions()[0], AdapterKind::Chat))).await.unwrap_err();
    assert!(matches!(err, LmError::Transport { .. }), "{err:?}");
}
