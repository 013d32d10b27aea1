use std::sync::Arc;
use std::time::Duration;

use lmc::lm::pricing::PriceTable;
use lmc::lm::ApiKey;
use lmc::lm::{AnthropicLm, LmFactory, MaxTokensField, OpenAiLm, ProviderSettings, RetryLm, RetryPolicy, Wire};
use lmc::{
    AdapterKind, Example, FinishReason, Lm, LmError, LmRequest, Message, Module, Predict, RunCx, Sampling, Signature,
};
use serde_json::{json, Value};

use crate::mock_server::{MockServer, Reply};
use crate::support::root;

const KEY: &str = "sk-test-SECRET-123";

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/providers").join(name)).unwrap()).unwrap()
}

fn prices() -> Arc<PriceTable> {
    Arc::new(PriceTable::builtin().clone())
}

fn openai(server: &MockServer, model: &str) -> OpenAiLm {
    OpenAiLm::new("openai", model, &server.base_url(), Some(ApiKey::new(KEY)), Duration::from_secs(5), prices())
        .unwrap()
}

fn anthropic(server: &MockServer) -> AnthropicLm {
    AnthropicLm::new(
        "anthropic",
        "claude-sonnet-4-5",
        &server.base_url(),
        Some(ApiKey::new(KEY)),
        Duration::from_secs(5),
        prices(),
    )
    .unwrap()
}

fn request(sampling: Sampling) -> LmRequest {
    LmRequest::new(vec![Message::system("Be terse."), Message::user("Capital of France?")], sampling)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        max_total: Duration::from_secs(10),
    }
}

/// Every test finishes in bounded time: nothing may hang.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("the test hung")
}

#[tokio::test]
async fn openai_sends_exactly_the_request_and_reads_usage_and_choices() {
    let server =
        MockServer::start(vec![Reply::ok(fixture("openai_chat_n2.json"))], Reply::status(500, json!({}))).await;
    let lm = openai(&server, "gpt-4o-mini");
    let sampling = Sampling {
        temperature: Some(0.7),
        max_tokens: Some(256),
        n: Some(2),
        stop: vec!["\n\n\n".into()],
        seed: Some(7),
    };
    let mut req = request(sampling);
    let sig = Signature::parse("question -> answer: int").unwrap();
    req.response_format = Some(lmc::adapter::response_format(&sig));
    let response = bounded(lm.complete(&req)).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Capital of France?"}],
            "temperature": 0.7,
            "max_tokens": 256,
            "n": 2,
            "stop": ["\n\n\n"],
            "seed": 7,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "DSPyProgramOutputs", "strict": true, "schema": lmc::adapter::output_schema(&sig)}
            }
        })
    );

    // Choices come back in index order, whatever order the server listed them in.
    let texts: Vec<&str> = response.completions.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", "[[ ## answer ## ]]\nLyon"]);
    assert_eq!(response.completions[1].finish_reason, Some(FinishReason::Length));
    assert_eq!(response.usage.input_tokens, 1200);
    assert_eq!(response.usage.output_tokens, 300);
    assert_eq!(response.usage.cached_input_tokens, 1024);
    assert_eq!(response.usage.reasoning_tokens, 128);
    assert_eq!(response.served_model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert!(response.cost_usd.is_some_and(|c| c > 0.0), "gpt-4o-mini is priced");
}

#[tokio::test]
async fn openai_omits_what_the_request_does_not_set_and_uses_the_right_token_field() {
    let server = MockServer::start(vec![], Reply::ok(fixture("openai_chat_n2.json"))).await;
    bounded(openai(&server, "gpt-4o-mini").complete(&request(Sampling::default()))).await.unwrap();
    let body = &server.requests()[0].body;
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["model", "messages"]);

    let lm = openai(&server, "o4-mini").with_max_tokens_field(MaxTokensField::MaxCompletionTokens);
    bounded(lm.complete(&request(Sampling { max_tokens: Some(100), n: Some(1), ..Sampling::default() })))
        .await
        .unwrap();
    let body = &server.requests()[1].body;
    assert_eq!(body["max_completion_tokens"], 100);
    assert!(body.get("max_tokens").is_none() && body.get("n").is_none(), "{body}");
}

#[tokio::test]
async fn openai_errors_are_classified() {
    let server = MockServer::start(
        vec![
            Reply::status(429, fixture("openai_error_insufficient_quota.json")),
            Reply::status(429, fixture("openai_error_rate_limit.json")).with_header("retry-after-ms", "250"),
            Reply::status(400, fixture("openai_error_context_length.json")),
            Reply::status(401, json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "code": "invalid_api_key"}})),
        ],
        Reply::status(500, json!({})),
    )
    .await;
    let lm = openai(&server, "gpt-4o-mini");
    let req = request(Sampling::default());
    let quota = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(matches!(quota, LmError::QuotaExhausted { .. }) && !quota.is_retryable(), "{quota:?}");
    let limited = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(matches!(limited, LmError::RateLimited { .. }) && limited.is_retryable(), "{limited:?}");
    assert_eq!(limited.retry_after(), Some(Duration::from_millis(250)));
    let long = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(matches!(long, LmError::ContextTooLong { .. }), "{long:?}");
    let auth = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(matches!(auth, LmError::Http { status: 401, .. }) && !auth.is_retryable());
    assert!(!auth.to_string().contains(KEY), "the key is redacted from echoed bodies: {auth}");
    assert!(auth.to_string().contains("[redacted]"));
}

#[tokio::test]
async fn anthropic_sends_system_on_top_and_reads_cache_usage() {
    let server = MockServer::start(vec![], Reply::ok(fixture("anthropic_message.json"))).await;
    let lm = anthropic(&server);
    let sampling =
        Sampling { temperature: Some(0.0), max_tokens: Some(512), n: Some(2), stop: vec!["END".into()], seed: Some(1) };
    let response = bounded(lm.complete(&request(sampling))).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2, "n = 2 is two requests");
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].header("x-api-key"), Some(KEY));
    assert_eq!(sent[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        sent[0].body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 512,
            "system": "Be terse.",
            "messages": [{"role": "user", "content": "Capital of France?"}],
            "temperature": 0.0,
            "stop_sequences": ["END"]
        })
    );
    assert_eq!(response.completions.len(), 2);
    assert_eq!(response.completions[0].text, "[[ ## answer ## ]]\nParis");
    // Two replies of 50 + 2000 read + 1000 written prompt tokens each.
    assert_eq!(response.usage.input_tokens, 2 * 3050);
    assert_eq!(response.usage.cached_input_tokens, 4000);
    assert_eq!(response.usage.cache_write_tokens, 2000);
    assert_eq!(response.usage.output_tokens, 40);
}

#[tokio::test]
async fn anthropic_requires_max_tokens_and_classifies_overload_and_rate_limits() {
    let server = MockServer::start(
        vec![
            Reply::status(529, fixture("anthropic_error_overloaded.json")),
            Reply::status(429, fixture("anthropic_error_rate_limit.json")).with_header("retry-after", "3"),
        ],
        Reply::ok(fixture("anthropic_message.json")),
    )
    .await;
    let lm = anthropic(&server);
    let missing = bounded(lm.complete(&request(Sampling::default()))).await.unwrap_err();
    assert!(matches!(missing, LmError::Config(_)) && missing.to_string().contains("max_tokens"), "{missing}");
    assert!(server.requests().is_empty(), "nothing is sent without max_tokens");

    let req = request(Sampling { max_tokens: Some(64), ..Sampling::default() });
    let overloaded = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(
        matches!(overloaded, LmError::Overloaded { status: 529, .. }) && overloaded.is_retryable(),
        "{overloaded:?}"
    );
    let limited = bounded(lm.complete(&req)).await.unwrap_err();
    assert!(matches!(limited, LmError::RateLimited { .. }));
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
}

async fn retried(replies: Vec<Reply>, timeout: Duration) -> (Result<lmc::LmResponse, LmError>, MockServer) {
    let server = MockServer::start(replies, Reply::ok(fixture("openai_chat_n2.json"))).await;
    let client = OpenAiLm::new("openai", "gpt-4o-mini", &server.base_url(), None, timeout, prices()).unwrap();
    let lm = RetryLm::new(Arc::new(client), fast_retries());
    let result = bounded(lm.complete(&request(Sampling::default()))).await;
    (result, server)
}

#[tokio::test]
async fn retries_honour_retry_after_on_429() {
    let (result, server) = retried(
        vec![Reply::status(429, fixture("openai_error_rate_limit.json")).with_header("retry-after", "0.2")],
        Duration::from_secs(5),
    )
    .await;
    let response = result.unwrap();
    assert_eq!(response.retries, 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retries_recover_from_500_and_dropped_connections() {
    let (result, server) =
        retried(vec![Reply::status(500, json!({"error": {"message": "boom"}})), Reply::Drop], Duration::from_secs(5))
            .await;
    assert_eq!(result.unwrap().retries, 2);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_stalled_server_times_out_and_the_retry_succeeds() {
    let (result, server) = retried(vec![Reply::Stall(Duration::from_secs(3))], Duration::from_millis(300)).await;
    assert_eq!(result.unwrap().retries, 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn insufficient_quota_is_never_retried() {
    let (result, server) =
        retried(vec![Reply::status(429, fixture("openai_error_insufficient_quota.json"))], Duration::from_secs(5))
            .await;
    assert!(matches!(result.unwrap_err(), LmError::QuotaExhausted { .. }));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retries_give_up_after_max_attempts_with_the_last_error() {
    let server = MockServer::start(vec![], Reply::status(503, json!({"error": {"message": "down"}}))).await;
    let client =
        OpenAiLm::new("openai", "gpt-4o-mini", &server.base_url(), None, Duration::from_secs(5), prices()).unwrap();
    let lm = RetryLm::new(Arc::new(client), fast_retries());
    let err = bounded(lm.complete(&request(Sampling::default()))).await.unwrap_err();
    assert!(matches!(err, LmError::Overloaded { status: 503, .. }), "{err:?}");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client =
        OpenAiLm::new("openai", "m", &format!("http://127.0.0.1:{port}/v1"), None, Duration::from_secs(2), prices())
            .unwrap();
    let err = bounded(client.complete(&request(Sampling::default()))).await.unwrap_err();
    assert!(matches!(err, LmError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn the_factory_builds_a_working_stack_and_names_missing_keys() {
    let server = MockServer::start(vec![], Reply::ok(fixture("openai_chat_n2.json"))).await;
    let mut settings = ProviderSettings::builtin()["openai"].clone();
    settings.base_url = server.base_url();
    let factory = LmFactory::new()
        .with_env(|var| (var == "OPENAI_API_KEY").then(|| KEY.to_string()))
        .with_provider("openai", settings);
    let lm = factory.build("openai/gpt-4o-mini").unwrap();
    let predict = Predict::new("qa", Signature::parse("question -> answer").unwrap());
    let cx = RunCx::new().with_lm(lm);
    let out = bounded(predict.forward(&cx, &Example::new().with("question", "Capital of France?"))).await.unwrap();
    assert_eq!(out.get_as::<String>("answer").unwrap(), "Paris");
    let trace = serde_json::to_string(&cx.trace()).unwrap();
    assert!(!trace.contains(KEY), "traces never hold the key");
    assert!(cx.totals().program_cost_usd > 0.0);

    let no_keys = LmFactory::new().with_env(|_| None);
    let err = no_keys.build("anthropic/claude-sonnet-4-5").unwrap_err().to_string();
    assert!(err.contains("ANTHROPIC_API_KEY"), "{err}");
    let err = no_keys.build("gpt-4o").unwrap_err().to_string();
    assert!(err.contains("provider/model"), "{err}");
    let err = no_keys.build("nope/x").unwrap_err().to_string();
    assert!(err.contains("unknown provider `nope`"), "{err}");
    let custom = no_keys.with_provider(
        "local",
        ProviderSettings {
            wire: Wire::OpenAi,
            base_url: server.base_url(),
            api_key_env: None,
            key_required: false,
            max_concurrency: 2,
            timeout: Duration::from_secs(5),
        },
    );
    assert!(custom.build("local/my-model").is_ok());
}

#[tokio::test]
async fn a_json_adapter_predictor_sends_its_schema_to_openai() {
    let reply = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"answer\": 4}"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
    let server = MockServer::start(vec![], Reply::ok(reply)).await;
    let lm = Arc::new(openai(&server, "gpt-4o-mini"));
    let predict =
        Predict::new("p", Signature::parse("question -> answer: int").unwrap()).with_adapter(AdapterKind::Json);
    let out =
        bounded(predict.forward(&RunCx::new().with_lm(lm), &Example::new().with("question", "2+2?"))).await.unwrap();
    assert_eq!(out.get_as::<i64>("answer").unwrap(), 4);
    assert_eq!(server.requests()[0].body["response_format"]["type"], "json_schema");
}
