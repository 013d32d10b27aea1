//! The persistent LM cache: keys, modes, persistence, export/import, several processes.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::executor::block_on;
use futures::future::BoxFuture;
use lmc::lm::cache::{cache_key, CacheMode, CachedLm, LmCache};
use lmc::lm::ScriptedReply;
use lmc::{
    Completion, Lm, LmError, LmIdentity, LmRequest, LmResponse, Message, ResponseFormat, Sampling, ScriptedLm, Usage,
};

/// A directory under the system temp dir, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("lmc-cache-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn identity(model: &str) -> LmIdentity {
    LmIdentity { provider: "openai".into(), model: model.into(), base_url: None }
}

fn request(text: &str) -> LmRequest {
    LmRequest::new(vec![Message::system("Answer briefly."), Message::user(text)], Sampling::default())
}

fn response(text: &str) -> LmResponse {
    let mut response = LmResponse::new(
        vec![Completion::stopped(text)],
        Usage {
            input_tokens: 120,
            output_tokens: 7,
            cached_input_tokens: 64,
            reasoning_tokens: 3,
            cache_write_tokens: 0,
        },
    );
    response.latency = Duration::from_millis(250);
    response.cost_usd = Some(0.0042);
    response.served_model = Some("gpt-4o-mini-2024-07-18".into());
    response
}

/// A scripted model whose replies carry a cost, a latency and a retry count, like a real
/// provider's behind the retry wrapper.
#[derive(Debug)]
struct PricedLm {
    script: Arc<ScriptedLm>,
}

impl PricedLm {
    fn new(script: ScriptedLm) -> (Arc<Self>, Arc<ScriptedLm>) {
        let script = Arc::new(script.with_latency(Duration::from_millis(250)));
        (Arc::new(PricedLm { script: Arc::clone(&script) }), script)
    }
}

impl Lm for PricedLm {
    fn identity(&self) -> LmIdentity {
        self.script.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let mut response = self.script.complete(request).await?;
            response.cost_usd = Some(0.0042);
            response.retries = 2;
            Ok(response)
        })
    }
}

/// Pending once, then ready: lets two futures overlap under `block_on`.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A scripted model that yields before answering.
#[derive(Debug)]
struct SlowLm(Arc<ScriptedLm>);

impl Lm for SlowLm {
    fn identity(&self) -> LmIdentity {
        self.0.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            YieldOnce(false).await;
            self.0.complete(request).await
        })
    }
}

fn cached(inner: Arc<dyn Lm>, cache: &Arc<LmCache>, mode: CacheMode) -> CachedLm {
    CachedLm::new(inner, Arc::clone(cache), mode)
}

fn memory_cache() -> Arc<LmCache> {
    Arc::new(LmCache::in_memory().unwrap())
}

#[test]
fn key_is_64_hex_digits_and_identical_requests_give_identical_keys() {
    let key = cache_key(&identity("gpt-4o-mini"), &request("What is 2+2?"));
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{key}");
    assert_eq!(key, cache_key(&identity("gpt-4o-mini"), &request("What is 2+2?")));
    // Pinned: the key must not change between runs, platforms or refactors (that would
    // silently invalidate every cache and every committed replay file). It is the SHA-256 of
    // {"version":"lmc-cache-v1","provider":"openai","model":"gpt-4o-mini","base_url":null,
    //  "request":{"messages":[{"role":"system","content":"Answer briefly."},
    //  {"role":"user","content":"What is 2+2?"}],"rollout":0}} (compact, on one line).
    assert_eq!(key, "e682180235297ae282560e6f9166cec5db2494d995a50a2a980a2d05e98eaa44");
}

#[test]
fn key_changes_with_provider_model_base_url_messages_sampling_rollout_and_format() {
    let base_identity = identity("gpt-4o-mini");
    let base_request = request("What is 2+2?");
    let base = cache_key(&base_identity, &base_request);

    let mut variants: Vec<(&str, String)> = Vec::new();
    let with_identity = |f: &dyn Fn(&mut LmIdentity)| {
        let mut id = base_identity.clone();
        f(&mut id);
        cache_key(&id, &base_request)
    };
    let with_request = |f: &dyn Fn(&mut LmRequest)| {
        let mut r = base_request.clone();
        f(&mut r);
        cache_key(&base_identity, &r)
    };
    variants.push(("provider", with_identity(&|id| id.provider = "anthropic".into())));
    variants.push(("model", with_identity(&|id| id.model = "gpt-4o".into())));
    variants.push(("base url", with_identity(&|id| id.base_url = Some("http://localhost:8000/v1".into()))));
    variants.push(("messages", with_request(&|r| r.messages[1] = Message::user("What is 2+3?"))));
    variants.push(("system message", with_request(&|r| r.messages[0] = Message::system("Answer at length."))));
    variants.push(("temperature", with_request(&|r| r.sampling.temperature = Some(0.7))));
    variants.push(("other temperature", with_request(&|r| r.sampling.temperature = Some(0.0))));
    variants.push(("max tokens", with_request(&|r| r.sampling.max_tokens = Some(100))));
    variants.push(("n", with_request(&|r| r.sampling.n = Some(3))));
    variants.push(("stop", with_request(&|r| r.sampling.stop = vec!["\n".into()])));
    variants.push(("seed", with_request(&|r| r.sampling.seed = Some(0))));
    variants.push(("rollout", with_request(&|r| r.rollout = 1)));
    variants.push(("response format", with_request(&|r| r.response_format = Some(ResponseFormat::JsonObject))));

    for (what, key) in &variants {
        assert_ne!(key, &base, "changing the {what} must change the key");
    }
    let mut all: Vec<&String> = variants.iter().map(|(_, k)| k).collect();
    all.push(&base);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), variants.len() + 1, "every variant has its own key");

    // A trailing slash on the base URL is the same endpoint.
    let slash = with_identity(&|id| id.base_url = Some("http://localhost:8000/v1/".into()));
    assert_eq!(slash, variants[2].1);
}

#[test]
fn second_identical_call_is_a_hit_with_the_original_usage_cost_and_latency() {
    let (lm, script) = PricedLm::new(ScriptedLm::new().with_model("gpt-4o-mini").with_default("4"));
    let cache = memory_cache();
    let lm = cached(lm, &cache, CacheMode::ReadWrite);
    let request = request("What is 2+2?");

    let first = block_on(lm.complete(&request)).unwrap();
    assert!(!first.cache_hit);
    assert_eq!(first.retries, 2);
    assert_eq!(first.spent_usd(), Some(0.0042));

    let second = block_on(lm.complete(&request)).unwrap();
    assert_eq!(script.requests().len(), 1, "the hit must not reach the model");
    assert!(second.cache_hit);
    assert_eq!(second.retries, 0);
    assert_eq!(second.completions, first.completions);
    assert_eq!(second.usage, first.usage);
    assert_eq!(second.cost_usd, Some(0.0042), "program cost is kept");
    assert_eq!(second.spent_usd(), Some(0.0), "a hit spends nothing");
    assert_eq!(second.latency, Duration::from_millis(250));
    assert_eq!(second.served_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(lm.identity(), script.identity());

    // A different rollout is a different entry.
    let mut other = request;
    other.rollout = 1;
    assert!(!block_on(lm.complete(&other)).unwrap().cache_hit);
    assert_eq!(script.requests().len(), 2);

    let stats = cache.stats().unwrap();
    assert_eq!((stats.entries, stats.hits, stats.misses, stats.writes), (2, 1, 2, 2));
}

#[test]
fn errors_are_never_cached() {
    let timeout = LmError::Timeout { provider: "scripted".into(), timeout: Duration::from_secs(1) };
    let script = Arc::new(ScriptedLm::new().with_reply(ScriptedReply::Error(timeout)).with_reply("4"));
    let cache = memory_cache();
    let lm = cached(script.clone(), &cache, CacheMode::ReadWrite);
    let request = request("What is 2+2?");

    assert!(matches!(block_on(lm.complete(&request)), Err(LmError::Timeout { .. })));
    assert_eq!(cache.stats().unwrap().entries, 0);
    let retried = block_on(lm.complete(&request)).unwrap();
    assert!(!retried.cache_hit, "the failure was not stored, so the model is asked again");
    assert_eq!(retried.completions[0].text, "4");
    let hit = block_on(lm.complete(&request)).unwrap();
    assert!(hit.cache_hit);
    assert_eq!(script.requests().len(), 2);
}

#[test]
fn off_mode_passes_every_call_through_and_stores_nothing() {
    let script = Arc::new(ScriptedLm::new().with_default("4"));
    let cache = memory_cache();
    let lm = cached(script.clone(), &cache, CacheMode::Off);
    for _ in 0..2 {
        assert!(!block_on(lm.complete(&request("What is 2+2?"))).unwrap().cache_hit);
    }
    assert_eq!(script.requests().len(), 2);
    let stats = cache.stats().unwrap();
    assert_eq!((stats.entries, stats.hits, stats.misses, stats.writes), (0, 0, 0, 0));
}

#[test]
fn refresh_mode_always_calls_the_model_and_overwrites() {
    let script = Arc::new(ScriptedLm::new().with_reply("old").with_reply("new"));
    let cache = memory_cache();
    let request = request("What is 2+2?");

    let recorded = block_on(cached(script.clone(), &cache, CacheMode::ReadWrite).complete(&request)).unwrap();
    assert_eq!(recorded.completions[0].text, "old");
    let refreshed = block_on(cached(script.clone(), &cache, CacheMode::Refresh).complete(&request)).unwrap();
    assert!(!refreshed.cache_hit);
    assert_eq!(refreshed.completions[0].text, "new");
    assert_eq!(script.requests().len(), 2, "refresh calls the model despite the stored entry");

    let replayed = block_on(cached(script.clone(), &cache, CacheMode::ReadWrite).complete(&request)).unwrap();
    assert!(replayed.cache_hit);
    assert_eq!(replayed.completions[0].text, "new", "refresh overwrote the entry");
    assert_eq!(script.requests().len(), 2);
    assert_eq!(cache.stats().unwrap().entries, 1);
}

#[test]
fn replay_only_mode_fails_on_a_miss_without_calling_the_model() {
    let script = Arc::new(ScriptedLm::new().with_model("gpt-4o-mini").with_default("4"));
    let cache = memory_cache();
    let replay = cached(script.clone(), &cache, CacheMode::ReplayOnly);
    let request = request("What is 2+2?");

    let error = block_on(replay.complete(&request)).unwrap_err();
    assert_eq!(script.requests().len(), 0, "replay-only never calls the model");
    let expected_key = cache_key(&script.identity(), &request);
    match &error {
        LmError::CacheMiss { model, key } => {
            assert_eq!(model, "scripted/gpt-4o-mini");
            assert_eq!(key, &expected_key);
        }
        other => panic!("expected a cache miss, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("replay-only") && message.contains(&expected_key), "{message}");

    block_on(cached(script.clone(), &cache, CacheMode::ReadWrite).complete(&request)).unwrap();
    let hit = block_on(replay.complete(&request)).unwrap();
    assert!(hit.cache_hit);
    assert_eq!(hit.completions[0].text, "4");
    assert_eq!(script.requests().len(), 1);
}

#[test]
fn concurrent_identical_requests_share_one_call() {
    let script = Arc::new(ScriptedLm::new().with_default("4"));
    let cache = memory_cache();
    let lm = cached(Arc::new(SlowLm(script.clone())), &cache, CacheMode::ReadWrite);
    let request = request("What is 2+2?");

    let (a, b) = block_on(futures::future::join(lm.complete(&request), lm.complete(&request)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(script.requests().len(), 1, "the second request waits for the first");
    assert_eq!(a.completions, b.completions);
    assert_eq!(a.usage, b.usage);
    assert_eq!([a.cache_hit, b.cache_hit], [false, true], "the waiter spent nothing");
    assert!(block_on(lm.complete(&request)).unwrap().cache_hit);
    assert_eq!(script.requests().len(), 1);
}

#[test]
fn entries_persist_across_opens_of_the_same_file() {
    let dir = TempDir::new("persist");
    let path = dir.join("nested/dirs/cache.sqlite");
    let request = request("What is 2+2?");
    let (lm, script) = PricedLm::new(ScriptedLm::new().with_model("gpt-4o-mini").with_default("4"));
    let first = {
        let cache = Arc::new(LmCache::open(&path).unwrap());
        assert_eq!(cache.path(), Some(path.as_path()));
        block_on(cached(lm, &cache, CacheMode::ReadWrite).complete(&request)).unwrap()
    };
    assert_eq!(script.requests().len(), 1);
    assert!(path.exists(), "open creates the parent directories");

    let (lm, script) = PricedLm::new(ScriptedLm::new().with_model("gpt-4o-mini").with_default("something else"));
    let cache = Arc::new(LmCache::open(&path).unwrap());
    let again = block_on(cached(lm, &cache, CacheMode::ReplayOnly).complete(&request)).unwrap();
    assert_eq!(script.requests().len(), 0);
    assert!(again.cache_hit);
    assert_eq!(again.completions, first.completions);
    assert_eq!(again.usage, first.usage);
    assert_eq!(again.cost_usd, first.cost_usd);
    assert_eq!(again.latency, first.latency);
    assert_eq!(again.served_model, first.served_model);

    let stats = cache.stats().unwrap();
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.schema_version, 1);
    assert!(stats.bytes_on_disk > 0);
    assert_eq!(stats.per_model.get("scripted/gpt-4o-mini"), Some(&1));
    cache.integrity_check().unwrap();
}

#[test]
fn stats_count_entries_per_model_and_this_process_hits_misses_and_writes() {
    let cache = LmCache::in_memory().unwrap();
    for (model, text) in [("gpt-4o-mini", "a"), ("gpt-4o-mini", "b"), ("gpt-4o", "c")] {
        let id = identity(model);
        cache.put(&cache_key(&id, &request(text)), &id, &response(text)).unwrap();
    }
    let id = identity("gpt-4o-mini");
    assert!(cache.get(&cache_key(&id, &request("a"))).unwrap().is_some());
    assert!(cache.get(&cache_key(&id, &request("zzz"))).unwrap().is_none());
    let stats = cache.stats().unwrap();
    assert_eq!(stats.entries, 3);
    assert_eq!(stats.per_model.get("openai/gpt-4o-mini"), Some(&2));
    assert_eq!(stats.per_model.get("openai/gpt-4o"), Some(&1));
    assert_eq!((stats.hits, stats.misses, stats.writes), (1, 1, 3));
    assert_eq!(stats.path, None);
    assert!(stats.to_string().contains("openai/gpt-4o-mini: 2"), "{stats}");

    assert_eq!(cache.clear().unwrap(), 3);
    assert_eq!(cache.stats().unwrap().entries, 0);
    assert!(cache.get(&cache_key(&id, &request("a"))).unwrap().is_none(), "clear empties the memory layer too");
}

#[test]
fn put_rejects_a_key_that_is_not_a_cache_key() {
    let cache = LmCache::in_memory().unwrap();
    let error = cache.put("not-a-key", &identity("m"), &response("x")).unwrap_err();
    assert!(matches!(error, LmError::Cache(_)), "{error:?}");
}

#[test]
fn export_clear_import_round_trips_every_entry() {
    let dir = TempDir::new("roundtrip");
    let cache = LmCache::open(dir.join("cache.sqlite")).unwrap();
    let mut entries = Vec::new();
    for (i, text) in ["alpha", "beta", "gamma"].iter().enumerate() {
        let mut id = identity("gpt-4o-mini");
        if i == 1 {
            id.base_url = Some("http://localhost:8000/v1".into());
        }
        let key = cache_key(&id, &request(text));
        cache.put(&key, &id, &response(text)).unwrap();
        entries.push((key, response(text)));
    }
    let export = dir.join("out/replay.jsonl");
    assert_eq!(cache.export(&export).unwrap(), 3);
    let text = fs::read_to_string(&export).unwrap();
    assert_eq!(text.lines().count(), 3);
    let keys: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["key"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "the export is ordered by key");

    assert_eq!(cache.clear().unwrap(), 3);
    assert_eq!(cache.import(&export).unwrap(), 3);
    for (key, original) in &entries {
        assert_eq!(cache.get(key).unwrap().as_ref(), Some(original));
    }
    let stats = cache.stats().unwrap();
    assert_eq!(stats.per_model.get("openai/gpt-4o-mini"), Some(&3));

    // Importing again adds nothing: present keys are skipped, never overwritten.
    assert_eq!(cache.import(&export).unwrap(), 0);
    let other = LmCache::in_memory().unwrap();
    other.put(&entries[0].0, &identity("gpt-4o-mini"), &response("kept")).unwrap();
    assert_eq!(other.import(&export).unwrap(), 2);
    assert_eq!(other.get(&entries[0].0).unwrap().unwrap().completions[0].text, "kept");

    // A re-export of the imported cache is the same file.
    let again = dir.join("again.jsonl");
    cache.export(&again).unwrap();
    assert_eq!(fs::read(&export).unwrap(), fs::read(&again).unwrap());
}

#[test]
fn exports_of_caches_with_the_same_entries_are_byte_identical() {
    let dir = TempDir::new("deterministic");
    let texts = ["one", "two", "three", "four"];
    let put = |cache: &LmCache, text: &str| {
        let id = identity("gpt-4o-mini");
        let mut reply = response(text);
        reply.retries = 3; // not part of the stored entry
        cache.put(&cache_key(&id, &request(text)), &id, &reply).unwrap();
    };
    let first = LmCache::open(dir.join("first.sqlite")).unwrap();
    for text in texts {
        put(&first, text);
    }
    std::thread::sleep(Duration::from_millis(5)); // different write times must not matter
    let second = LmCache::in_memory().unwrap();
    for text in texts.iter().rev() {
        put(&second, text);
    }
    first.export(dir.join("first.jsonl")).unwrap();
    second.export(dir.join("second.jsonl")).unwrap();
    let (a, b) = (fs::read(dir.join("first.jsonl")).unwrap(), fs::read(dir.join("second.jsonl")).unwrap());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn import_reports_the_bad_line_by_number_and_imports_nothing() {
    let dir = TempDir::new("badline");
    let source = LmCache::in_memory().unwrap();
    for text in ["a", "b"] {
        let id = identity("m");
        source.put(&cache_key(&id, &request(text)), &id, &response(text)).unwrap();
    }
    let export = dir.join("replay.jsonl");
    source.export(&export).unwrap();
    let lines: Vec<String> = fs::read_to_string(&export).unwrap().lines().map(String::from).collect();
    let broken = dir.join("broken.jsonl");
    fs::write(&broken, format!("{}\n{{\"key\": \"oops\"\n{}\n", lines[0], lines[1])).unwrap();

    let cache = LmCache::in_memory().unwrap();
    let error = cache.import(&broken).unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains(&broken.display().to_string()), "the error names the file: {error}");
    assert_eq!(cache.stats().unwrap().entries, 0, "a bad file imports nothing");

    let missing = dir.join("missing.jsonl");
    let error = cache.import(&missing).unwrap_err().to_string();
    assert!(error.contains(&missing.display().to_string()), "{error}");
}

#[test]
fn open_errors_name_the_path() {
    let dir = TempDir::new("openerr");
    let blocker = dir.join("blocker");
    fs::write(&blocker, "a file, not a directory").unwrap();
    let under_file = blocker.join("cache.sqlite");
    let error = LmCache::open(&under_file).unwrap_err();
    assert!(matches!(error, LmError::Cache(_)));
    assert!(error.to_string().contains(&under_file.display().to_string()), "{error}");

    let garbage = dir.join("garbage.sqlite");
    fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    let error = LmCache::open(&garbage).unwrap_err().to_string();
    assert!(error.contains(&garbage.display().to_string()), "{error}");
}

#[test]
fn cache_modes_parse_print_and_serialize() {
    for (mode, name) in [
        (CacheMode::ReadWrite, "read-write"),
        (CacheMode::Off, "off"),
        (CacheMode::Refresh, "refresh"),
        (CacheMode::ReplayOnly, "replay-only"),
    ] {
        assert_eq!(mode.to_string(), name);
        assert_eq!(name.parse::<CacheMode>().unwrap(), mode);
        assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<CacheMode>(&format!("\"{name}\"")).unwrap(), mode);
    }
    assert_eq!("REPLAY_ONLY".parse::<CacheMode>().unwrap(), CacheMode::ReplayOnly);
    assert_eq!(CacheMode::default(), CacheMode::ReadWrite);
    let error = "replay".parse::<CacheMode>().unwrap_err().to_string();
    assert!(error.contains("\"replay\"") && error.contains("replay-only") && error.contains("read-write"), "{error}");
}

const CHILD_ENTRIES: usize = 150;
const SHARED_ENTRIES: usize = 20;

fn child_key(child: usize, i: usize) -> (LmIdentity, String) {
    let id = identity(&format!("writer-{child}"));
    let key = cache_key(&id, &request(&format!("child {child} entry {i}")));
    (id, key)
}

fn shared_key(i: usize) -> (LmIdentity, String) {
    let id = identity("shared");
    let key = cache_key(&id, &request(&format!("shared entry {i}")));
    (id, key)
}

/// Runs this test binary's test `name` in a child process with `env`, and returns its output.
fn spawn_self(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", name, "--nocapture", "--test-threads", "1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn expect_success(child: std::process::Child) {
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child did not run the test:\n{stdout}");
}

#[test]
fn two_processes_writing_one_cache_do_not_corrupt_it() {
    if let Some(path) = std::env::var_os("LMC_CACHE_CHILD") {
        let child: usize = std::env::var("LMC_CACHE_CHILD_ID").unwrap().parse().unwrap();
        let cache = LmCache::open(Path::new(&path)).unwrap();
        for i in 0..CHILD_ENTRIES {
            let (id, key) = child_key(child, i);
            cache.put(&key, &id, &response(&format!("{child}/{i}"))).unwrap();
            if i < SHARED_ENTRIES {
                // Both processes write these keys: same key, same content.
                let (id, key) = shared_key(i);
                cache.put(&key, &id, &response(&format!("shared {i}"))).unwrap();
            }
            // Read while the other process writes.
            let (_, other) = child_key(1 - child, i / 2);
            let _ = cache.get(&other).unwrap();
            assert!(cache.get(&key).unwrap().is_some());
        }
        return;
    }

    let dir = TempDir::new("two-processes");
    // The children create the file themselves, at the same moment.
    let path = dir.join("shared.sqlite");
    let name = "cache::two_processes_writing_one_cache_do_not_corrupt_it";
    let children: Vec<_> = (0..2)
        .map(|child| {
            let id = child.to_string();
            spawn_self(name, &[("LMC_CACHE_CHILD", path.as_os_str()), ("LMC_CACHE_CHILD_ID", id.as_ref())])
        })
        .collect();
    for child in children {
        expect_success(child);
    }

    let cache = LmCache::open(&path).unwrap();
    cache.integrity_check().unwrap();
    let stats = cache.stats().unwrap();
    assert_eq!(stats.entries as usize, 2 * CHILD_ENTRIES + SHARED_ENTRIES);
    for child in 0..2 {
        assert_eq!(stats.per_model.get(&format!("openai/writer-{child}")), Some(&(CHILD_ENTRIES as u64)));
        for i in 0..CHILD_ENTRIES {
            let (_, key) = child_key(child, i);
            let stored = cache.get(&key).unwrap().unwrap_or_else(|| panic!("entry {child}/{i} is missing"));
            assert_eq!(stored.completions[0].text, format!("{child}/{i}"));
            assert_eq!(stored.usage, response("").usage);
        }
    }
    for i in 0..SHARED_ENTRIES {
        let (_, key) = shared_key(i);
        assert_eq!(cache.get(&key).unwrap().unwrap().completions[0].text, format!("shared {i}"));
    }
}

const FAKE_KEY: &str = "sk-test-SECRET-123";

#[test]
fn the_api_key_never_reaches_the_cache_or_its_exports() {
    if let Some(dir) = std::env::var_os("LMC_CACHE_KEY_CHILD") {
        // In a child process, so that setting the key cannot affect other tests.
        assert_eq!(std::env::var("OPENAI_API_KEY").unwrap(), FAKE_KEY);
        let dir = PathBuf::from(dir);
        let cache = Arc::new(LmCache::open(dir.join("cache.sqlite")).unwrap());
        let (lm, _) = PricedLm::new(
            ScriptedLm::new()
                .with_model("gpt-4o-mini")
                .with_fn(|r| Ok(format!("echo: {}", r.last_user_message().unwrap_or_default()))),
        );
        let lm = cached(lm, &cache, CacheMode::ReadWrite);
        for i in 0..5 {
            let mut r = request(&format!("question {i}"));
            r.sampling.temperature = Some(0.5);
            block_on(lm.complete(&r)).unwrap();
        }
        let mut id = identity("gpt-4o-mini");
        id.base_url = Some("https://api.openai.com/v1".into());
        cache.put(&cache_key(&id, &request("direct")), &id, &response("direct")).unwrap();
        assert_eq!(cache.export(dir.join("export.jsonl")).unwrap(), 6);
        return;
    }

    let dir = TempDir::new("apikey");
    let child = spawn_self(
        "cache::the_api_key_never_reaches_the_cache_or_its_exports",
        &[("LMC_CACHE_KEY_CHILD", dir.path.as_os_str()), ("OPENAI_API_KEY", FAKE_KEY.as_ref())],
    );
    expect_success(child);

    let mut checked = 0;
    for file in fs::read_dir(&dir.path).unwrap() {
        let path = file.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        assert!(
            !bytes.windows(FAKE_KEY.len()).any(|w| w == FAKE_KEY.as_bytes()),
            "{} holds the API key",
            path.display()
        );
        assert!(!bytes.windows(6).any(|w| w == b"SECRET"), "{} holds part of the API key", path.display());
        checked += 1;
    }
    assert!(checked >= 2, "the database and the export were written");
    let export = fs::read_to_string(dir.join("export.jsonl")).unwrap();
    assert!(export.contains("echo: question 3"), "the export holds the replies");
}
