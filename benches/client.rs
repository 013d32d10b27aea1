//! Client overhead against a local zero-latency server: requests per second through lmc's
//! full LM stack (OpenAI wire client, adaptive limit, retries) at concurrency 1, 16 and 64,
//! next to a bare reqwest client posting the same body, measured in the same run.
//!
//! Run: `cargo bench --bench client` (figures in benches/README.md).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, dead_code)]

#[path = "../tests/mock_server.rs"]
mod mock_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use lmc::lm::pricing::PriceTable;
use lmc::lm::{LmFactory, OpenAiLm, ProviderSettings, Wire};
use lmc::{Lm, LmRequest, Message, Sampling};
use mock_server::{MockServer, Reply};
use serde_json::json;

const REQUESTS: usize = 4000;

fn reply() -> Reply {
    Reply::ok(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "[[ ## answer ## ]]\nParis"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 8},
        "model": "bench-model"
    }))
}

async fn run_lm(lm: Arc<dyn Lm>, concurrency: usize) -> f64 {
    let request = Arc::new(bench_request());
    let started = Instant::now();
    let per_worker = REQUESTS / concurrency;
    join_all((0..concurrency).map(|_| {
        let (lm, request) = (lm.clone(), request.clone());
        async move {
            for _ in 0..per_worker {
                lm.complete(&request).await.unwrap();
            }
        }
    }))
    .await;
    (per_worker * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn bench_request() -> LmRequest {
    LmRequest::new(
        vec![Message::system("You answer questions."), Message::user("[[ ## question ## ]]\nCapital of France?")],
        Sampling { temperature: Some(0.0), max_tokens: Some(64), ..Sampling::default() },
    )
}

/// The same body lmc sends, posted by a bare reqwest client with the same timeout.
async fn run_raw(url: String, body: serde_json::Value, concurrency: usize) -> f64 {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();
    let per_worker = REQUESTS / concurrency;
    join_all((0..concurrency).map(|_| {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        async move {
            for _ in 0..per_worker {
                let r = client.post(&url).json(&body).send().await.unwrap();
                let _: serde_json::Value = r.json().await.unwrap();
            }
        }
    }))
    .await;
    (per_worker * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = MockServer::start(Vec::new(), reply()).await;
        println!("{REQUESTS} requests per row, local server with zero latency");
        println!("{:>11} {:>14} {:>14} {:>9}", "concurrency", "lmc req/s", "reqwest req/s", "lmc/raw");
        for concurrency in [1, 16, 64] {
            let settings = ProviderSettings {
                wire: Wire::OpenAi,
                base_url: server.base_url(),
                api_key_env: None,
                key_required: false,
                max_concurrency: concurrency,
                timeout: Duration::from_secs(30),
            };
            let lm = LmFactory::new().with_provider("local", settings).build("local/bench-model").unwrap();
            let body = OpenAiLm::new(
                "local",
                "bench-model",
                &server.base_url(),
                None,
                Duration::from_secs(30),
                Arc::new(PriceTable::builtin().clone()),
            )
            .unwrap()
            .request_body(&bench_request());
            let url = format!("{}/chat/completions", server.base_url());
            // Warm the connection pools.
            run_lm(lm.clone(), concurrency).await;
            run_raw(url.clone(), body.clone(), concurrency).await;
            let ours = run_lm(lm, concurrency).await;
            let raw = run_raw(url, body, concurrency).await;
            println!("{concurrency:>11} {ours:>14.0} {raw:>14.0} {:>8.2}x", ours / raw);
        }
    });
}
