use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use lmc::embed::{example_text, tokenize, Bm25Index, EmbedError, Embedder, NeighborIndex, OpenAiEmbedder};
use lmc::lm::ApiKey;
use serde_json::{json, Value};

use crate::mock_server::{MockServer, Reply};
use crate::support::fields;

const KEY: &str = "sk-test-SECRET-123";

fn docs(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

/// Every test finishes in bounded time: nothing may hang.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("the test hung")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------------------------------
// BM25

/// N = 4 documents, lengths 3, 2, 4, 1: avgdl = 10 / 4 = 2.5.
fn fruit() -> Bm25Index {
    Bm25Index::new(docs(&["apple banana apple", "banana cherry", "cherry date elderberry fig", "grape"]))
}

#[test]
fn tokenizer_lowercases_and_splits_on_non_alphanumerics() {
    assert_eq!(tokenize("Hello, World!  hello"), ["hello", "world", "hello"]);
    assert_eq!(tokenize("Ünïcode—dash_under 2+2=4"), ["ünïcode", "dash", "under", "2", "2", "4"]);
    assert_eq!(tokenize("日本語 テキスト"), ["日本語", "テキスト"]);
    assert!(tokenize("").is_empty() && tokenize(" ,.;!? ").is_empty());
}

#[test]
fn bm25_scores_match_a_hand_computation() {
    let index = fruit();
    // "apple": df = 1, idf = ln(1 + (4 - 1 + 0.5) / (1 + 0.5)) = ln(10/3) ≈ 1.2039728.
    // Document 0 has tf = 2 and |D| = 3: norm = 1 - 0.75 + 0.75 · 3 / 2.5 = 1.15,
    // tf part = 2 · 2.2 / (2 + 1.2 · 1.15) = 4.4 / 3.38 ≈ 1.3017751,
    // score ≈ 1.2039728 · 1.3017751 ≈ 1.5673021.
    let expected = (10.0f64 / 3.0).ln() * 4.4 / 3.38;
    assert!((expected - 1.567_302_1).abs() < 1e-6, "{expected}");
    let hits = index.search("apple", 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0, 0);
    assert!(close(hits[0].1, expected), "{hits:?}");
    assert!(close(index.score("apple", 0), expected));

    // "banana cherry": both terms have df = 2, idf = ln(1 + 2.5 / 2.5) = ln 2.
    // doc 1 (|D| = 2, norm 0.85): 2 · ln2 · 2.2 / (1 + 1.02)   ≈ 1.5098
    // doc 0 (|D| = 3, norm 1.15):     ln2 · 2.2 / (1 + 1.38)   ≈ 0.6407
    // doc 2 (|D| = 4, norm 1.45):     ln2 · 2.2 / (1 + 1.74)   ≈ 0.5565
    // doc 3 shares no term and is left out.
    let ln2 = 2f64.ln();
    let hits = index.search("banana cherry", 10);
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0, 2]);
    for ((_, got), want) in hits.iter().zip([2.0 * ln2 * 2.2 / 2.02, ln2 * 2.2 / 2.38, ln2 * 2.2 / 2.74]) {
        assert!(close(*got, want), "{got} vs {want}");
    }
    for (doc, score) in &hits {
        assert!(close(index.score("banana cherry", *doc), *score));
    }
    assert_eq!(index.score("banana cherry", 3), 0.0);
    assert_eq!(index.score("banana cherry", 99), 0.0);
}

#[test]
fn bm25_query_normalization_and_repeated_terms() {
    let index = fruit();
    assert_eq!(index.search("APPLE!!", 10), index.search("apple", 10));
    // A repeated query term counts each time.
    assert!(close(index.score("apple apple", 0), 2.0 * index.score("apple", 0)));
    // Unknown terms add nothing.
    assert_eq!(index.search("apple kiwi", 10), index.search("apple", 10));
}

#[test]
fn bm25_ties_go_to_the_lower_index_and_k_limits() {
    let index = Bm25Index::new(docs(&["x y", "z", "x y", "x y"]));
    let hits = index.search("x", 10);
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 2, 3]);
    assert!(hits[0].1 == hits[1].1 && hits[1].1 == hits[2].1);
    assert_eq!(index.search("x", 2).iter().map(|h| h.0).collect::<Vec<_>>(), [0, 2]);
    assert!(index.search("x", 0).is_empty());
    // k larger than the corpus: only the matching documents.
    assert_eq!(fruit().search("banana cherry", 1000).len(), 3);
}

#[test]
fn bm25_empty_queries_and_corpora() {
    let index = fruit();
    assert!(index.search("", 5).is_empty());
    assert!(index.search("?! ,", 5).is_empty());
    assert!(index.search("kiwi", 5).is_empty());

    let empty = Bm25Index::new(Vec::new());
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert!(empty.search("apple", 3).is_empty());

    // Documents with no tokens are indexed but never match.
    let blank = Bm25Index::new(docs(&["", "...", "apple"]));
    assert_eq!(blank.search("apple", 5).iter().map(|h| h.0).collect::<Vec<_>>(), [2]);
}

#[test]
fn bm25_accessors() {
    let index = fruit();
    assert_eq!(index.len(), 4);
    assert!(!index.is_empty());
    assert_eq!(index.document(3), Some("grape"));
    assert_eq!(index.document(4), None);
    assert_eq!(index.documents()[1], "banana cherry");
}

#[tokio::test]
async fn neighbor_index_bm25_fills_up_in_index_order() {
    let index = NeighborIndex::bm25(fruit().documents().to_vec());
    assert_eq!(index.method(), "bm25");
    assert_eq!(index.len(), 4);
    assert_eq!(index.text(2), Some("cherry date elderberry fig"));
    // Three documents match, ranked; the fourth fills up.
    assert_eq!(index.nearest("banana cherry", 4).await.unwrap(), [1, 0, 2, 3]);
    // Two match (document 2 holds both terms); the rest follow in index order, skipping them.
    assert_eq!(index.nearest("cherry date", 3).await.unwrap(), [2, 1, 0]);
    assert_eq!(index.nearest("grape", 2).await.unwrap(), [3, 0]);
    // Nothing matches: the first k documents.
    assert_eq!(index.nearest("", 2).await.unwrap(), [0, 1]);
    assert_eq!(index.nearest("kiwi", 3).await.unwrap(), [0, 1, 2]);
    // k larger than the corpus: every document, once.
    assert_eq!(index.nearest("apple", 100).await.unwrap(), [0, 1, 2, 3]);
    assert!(index.nearest("apple", 0).await.unwrap().is_empty());
    assert!(NeighborIndex::bm25(Vec::new()).nearest("apple", 3).await.unwrap().is_empty());
}

#[test]
fn example_text_joins_input_fields_as_lines() {
    let ex = fields(json!({
        "question": "What is 2+2?",
        "n": 4,
        "flag": true,
        "nothing": null,
        "tags": ["a", "b"],
        "meta": {"k": "v", "n": 1.5},
        "answer": "4"
    }));
    let keys: Vec<String> =
        ["meta", "question", "n", "flag", "nothing", "tags", "missing"].iter().map(|k| k.to_string()).collect();
    assert_eq!(
        example_text(&ex, &keys),
        "meta: {\"k\":\"v\",\"n\":1.5}\nquestion: What is 2+2?\nn: 4\nflag: true\nnothing: null\ntags: [\"a\",\"b\"]"
    );
    assert_eq!(example_text(&ex, &[]), "");
}

// ---------------------------------------------------------------------------------------
// The OpenAI-compatible client

fn embedder(server: &MockServer) -> OpenAiEmbedder {
    OpenAiEmbedder::new("text-embedding-3-small", &server.base_url(), Some(ApiKey::new(KEY))).unwrap()
}

/// A reply for `vectors`, listed in reverse index order.
fn reply(vectors: &[Vec<f32>]) -> Reply {
    let mut data: Vec<Value> =
        vectors.iter().enumerate().map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v})).collect();
    data.reverse();
    Reply::ok(json!({
        "object": "list",
        "data": data,
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8}
    }))
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text {i}")).collect()
}

#[tokio::test]
async fn openai_sends_model_and_inputs_with_the_key_and_orders_by_index() {
    let server = MockServer::start(vec![reply(&[vec![1.0, 0.0], vec![0.0, 1.0]])], Reply::status(500, json!({}))).await;
    let e = embedder(&server);
    assert_eq!(e.identity(), format!("openai/text-embedding-3-small@{}", server.base_url()));
    assert_eq!(e.batch_size(), OpenAiEmbedder::DEFAULT_BATCH_SIZE);
    assert_eq!(OpenAiEmbedder::DEFAULT_BATCH_SIZE, 96);
    let vectors = bounded(e.embed(&docs(&["first", "second"]))).await.unwrap();
    assert_eq!(vectors, [vec![1.0, 0.0], vec![0.0, 1.0]], "ordered by `index`, not by listing");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/embeddings");
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(requests[0].body, json!({"model": "text-embedding-3-small", "input": ["first", "second"]}));
    assert!(!format!("{e:?}").contains(KEY));
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization_and_names_its_provider() {
    let server = MockServer::start(vec![], reply(&[vec![0.5, 0.5, 0.5]])).await;
    let base = format!("{}/", server.base_url());
    let e = OpenAiEmbedder::new("nomic-embed-text", &base, None).unwrap().with_provider("ollama");
    assert_eq!(e.identity(), format!("ollama/nomic-embed-text@{}", server.base_url()));
    assert_eq!(e.model(), "nomic-embed-text");
    bounded(e.embed(&docs(&["only"]))).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/embeddings");
    assert_eq!(requests[0].header("authorization"), None);
}

#[tokio::test]
async fn openai_batches_requests_in_order() {
    // Batch size 2 and 5 texts: three requests of 2, 2 and 1. Each vector encodes its text.
    let replies = vec![
        reply(&[vec![0.0, 1.0], vec![1.0, 1.0]]),
        reply(&[vec![2.0, 1.0], vec![3.0, 1.0]]),
        reply(&[vec![4.0, 1.0]]),
    ];
    let server = MockServer::start(replies, Reply::status(500, json!({}))).await;
    let e = embedder(&server).with_batch_size(2);
    assert_eq!(e.batch_size(), 2);
    let vectors = bounded(e.embed(&texts(5))).await.unwrap();
    let firsts: Vec<f32> = vectors.iter().map(|v| v[0]).collect();
    assert_eq!(firsts, [0.0, 1.0, 2.0, 3.0, 4.0]);

    let inputs: Vec<Value> = server.requests().iter().map(|r| r.body["input"].clone()).collect();
    assert_eq!(inputs, [json!(["text 0", "text 1"]), json!(["text 2", "text 3"]), json!(["text 4"])]);
    assert_eq!(embedder(&server).with_batch_size(0).batch_size(), 1, "0 counts as 1");
}

#[tokio::test]
async fn openai_with_no_texts_sends_nothing() {
    let server = MockServer::start(vec![], Reply::status(500, json!({}))).await;
    assert!(bounded(embedder(&server).embed(&[])).await.unwrap().is_empty());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn openai_http_errors_are_typed_and_never_show_the_key() {
    let server = MockServer::start(
        vec![
            Reply::status(
                401,
                json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "code": "invalid_api_key"}}),
            ),
            Reply::status(503, json!({"detail": "overloaded"})),
        ],
        Reply::status(500, json!({})),
    )
    .await;
    let e = embedder(&server);
    let err = bounded(e.embed(&texts(1))).await.unwrap_err();
    assert!(matches!(&err, EmbedError::Http { status: 401, .. }), "{err:?}");
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(!message.contains(KEY) && !format!("{err:?}").contains(KEY), "{message}");
    assert!(message.contains("Incorrect API key provided: [redacted]"), "{message}");
    assert!(message.starts_with("openai returned HTTP 401"), "{message}");

    let err = bounded(e.embed(&texts(1))).await.unwrap_err();
    assert!(matches!(&err, EmbedError::Http { status: 503, .. }) && err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("overloaded"), "{err}");
}

#[tokio::test]
async fn openai_malformed_replies_are_invalid_responses() {
    let server = MockServer::start(
        vec![
            // One vector for two texts.
            reply(&[vec![1.0, 0.0]]),
            // The same index twice.
            Reply::ok(json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]})),
            // An index out of range.
            Reply::ok(json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 2, "embedding": [2.0]}]})),
            // No data.
            Reply::ok(json!({"object": "list"})),
            // Base64 instead of floats.
            Reply::ok(json!({"data": [{"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": "AAAA"}]})),
            // Different dimensions.
            reply(&[vec![1.0, 0.0], vec![1.0, 0.0, 0.0]]),
        ],
        Reply::status(500, json!({})),
    )
    .await;
    let e = embedder(&server);
    let two = docs(&["a", "b"]);
    let mut messages = Vec::new();
    for _ in 0..6 {
        match bounded(e.embed(&two)).await {
            Err(err @ EmbedError::InvalidResponse { .. }) => {
                assert!(!err.is_retryable());
                messages.push(err.to_string());
            }
            other => panic!("expected InvalidResponse, got {other:?}"),
        }
    }
    assert!(messages[0].contains("sent 2 texts, got 1 embeddings"), "{}", messages[0]);
    assert!(messages[1].contains("appears twice"), "{}", messages[1]);
    assert!(messages[2].contains("out of range"), "{}", messages[2]);
    assert!(messages[3].contains("no `data` array"), "{}", messages[3]);
    assert!(messages[4].contains("base64"), "{}", messages[4]);
    assert!(messages[5].contains("dimensions"), "{}", messages[5]);
}

#[tokio::test]
async fn openai_transport_failures_and_timeouts_are_typed() {
    let server = MockServer::start(vec![Reply::Drop, Reply::Stall(Duration::from_secs(3))], reply(&[vec![1.0]])).await;
    let e = embedder(&server).with_timeout(Duration::from_millis(300)).unwrap();
    let dropped = bounded(e.embed(&texts(1))).await.unwrap_err();
    assert!(matches!(dropped, EmbedError::Transport { .. }) && dropped.is_retryable(), "{dropped:?}");
    let stalled = bounded(e.embed(&texts(1))).await.unwrap_err();
    assert!(
        matches!(stalled, EmbedError::Timeout { timeout, .. } if timeout == Duration::from_millis(300)),
        "{stalled:?}"
    );
}

#[test]
fn openai_rejects_a_base_url_without_a_scheme() {
    let err = OpenAiEmbedder::new("m", "localhost:11434/v1", None).unwrap_err();
    assert!(matches!(err, EmbedError::Config(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Dense neighbours

/// Bag-of-letters vectors: 26 counts of a..z, case-folded. Counts its calls.
#[derive(Default)]
struct Letters {
    calls: AtomicUsize,
}

impl Embedder for Letters {
    fn identity(&self) -> String {
        "letters/v1".to_string()
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 26];
                    for c in t.to_ascii_lowercase().bytes().filter(u8::is_ascii_lowercase) {
                        v[usize::from(c - b'a')] += 1.0;
                    }
                    v
                })
                .collect())
        })
    }
}

/// Returns a fixed number of vectors of a fixed dimension, whatever it is asked.
struct Fixed {
    count: usize,
    dimension: usize,
}

impl Embedder for Fixed {
    fn identity(&self) -> String {
        "fixed".to_string()
    }

    fn embed<'a>(&'a self, _texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move { Ok(vec![vec![1.0; self.dimension]; self.count]) })
    }
}

#[tokio::test]
async fn dense_index_ranks_by_cosine_with_ties_to_the_lower_index() {
    let letters = Arc::new(Letters::default());
    let corpus = docs(&["abc", "xyz", "aab", "CBA", "123"]);
    let index = NeighborIndex::dense(letters.clone(), corpus).await.unwrap();
    assert_eq!(letters.calls.load(Ordering::SeqCst), 1, "the corpus is embedded once");
    assert_eq!(index.method(), "letters/v1");
    assert_eq!(index.len(), 5);
    assert_eq!(index.text(3), Some("CBA"));

    // Query "abc" = (1,1,1,0,…): "abc" and "CBA" have cosine 1 (a tie: lower index first),
    // "aab" = (2,1,0,…) has 3 / (√5 · √3) ≈ 0.775, "xyz" and the letterless "123" have 0
    // (another tie).
    assert_eq!(index.nearest("abc", 5).await.unwrap(), [0, 3, 2, 1, 4]);
    assert_eq!(index.nearest("bca", 2).await.unwrap(), [0, 3]);
    // Cosine ignores length: "aaaabb" points the same way as "aab".
    assert_eq!(index.nearest("aaaabb", 1).await.unwrap(), [2]);
    assert_eq!(index.nearest("zzz", 100).await.unwrap(), [1, 0, 2, 3, 4]);
    assert_eq!(letters.calls.load(Ordering::SeqCst), 5, "one call per query");

    // Nothing to rank: no call.
    assert!(index.nearest("abc", 0).await.unwrap().is_empty());
    let empty = NeighborIndex::dense(letters.clone(), Vec::new()).await.unwrap();
    assert!(empty.is_empty());
    assert!(empty.nearest("abc", 3).await.unwrap().is_empty());
    assert_eq!(letters.calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn dense_index_rejects_bad_embedder_output() {
    let short = NeighborIndex::dense(Arc::new(Fixed { count: 1, dimension: 3 }), docs(&["a", "b"])).await.unwrap_err();
    assert!(matches!(&short, EmbedError::InvalidResponse { provider, .. } if provider == "fixed"), "{short:?}");

    // Built with two vectors of dimension 3, then queried with a reply of two vectors.
    let index = NeighborIndex::dense(Arc::new(Fixed { count: 2, dimension: 3 }), docs(&["a", "b"])).await.unwrap();
    let err = index.nearest("q", 1).await.unwrap_err();
    assert!(err.to_string().contains("asked for 1 embeddings, got 2"), "{err}");
}

#[test]
fn index_futures_are_send_so_they_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let index = NeighborIndex::bm25(docs(&["a"]));
    assert_send(&index.nearest("a", 1));
    assert_send(&NeighborIndex::dense(Arc::new(Letters::default()), docs(&["a"])));
}

#[tokio::test]
async fn dense_index_over_the_openai_client() {
    let server = MockServer::start(
        vec![
            reply(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![0.7, 0.7]]),
            reply(&[vec![0.1, 0.9]]),
            reply(&[vec![1.0, 0.0, 0.0]]),
        ],
        Reply::status(500, json!({})),
    )
    .await;
    let e: Arc<dyn Embedder> = Arc::new(embedder(&server));
    let index = bounded(NeighborIndex::dense(e, docs(&["east", "north", "northeast"]))).await.unwrap();
    assert_eq!(index.method(), format!("openai/text-embedding-3-small@{}", server.base_url()));
    assert_eq!(bounded(index.nearest("mostly north", 3)).await.unwrap(), [1, 2, 0]);
    assert_eq!(server.requests()[1].body["input"], json!(["mostly north"]));
    // A query vector of another dimension is refused.
    let err = bounded(index.nearest("3d", 1)).await.unwrap_err();
    assert!(matches!(&err, EmbedError::InvalidResponse { .. }) && err.to_string().contains("dimensions"), "{err}");
}
