//! `lmc run`, `lmc config` and `lmc cache` end to end, against a scripted OpenAI-compatible
//! server on loopback.

#![allow(clippy::unwrap_used, dead_code)]

mod common;

use common::repo;

#[path = "../../../tests/mock_server.rs"]
mod mock_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mock_server::{MockServer, Reply};
use serde_json::{json, Value};

const KEY: &str = "sk-test-SECRET-123";

fn scratch(name: &str) -> PathBuf {
    common::scratch("run", name)
}

/// Runs `lmc` in `dir` with a clean LM environment (no real keys, no LMC_* settings).
fn lmc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(dir);
    common::clean_lm_env(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn triage_reply() -> Reply {
    Reply::ok(json!({
        "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content":
            "[[ ## product ## ]]\nInvoices\n\n[[ ## issue ## ]]\nCharged twice\n\n[[ ## reasoning ## ]]\nMoney.\n\n[[ ## category ## ]]\nbilling\n\n[[ ## completed ## ]]"}}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 20}
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prints_outputs_and_a_second_run_is_served_from_the_cache() {
    let server = MockServer::start(vec![], triage_reply()).await;
    let dir = scratch("cache");
    let cache = dir.join("cache.sqlite");
    let program = repo().join("programs/triage.toml");
    let args = [
        "run",
        "--program",
        program.to_str().unwrap(),
        "--input",
        r#"{"ticket": "I was charged twice this month."}"#,
        "--lm",
        "vllm/test-model",
        "--base-url",
        &server.base_url(),
        "--cache-path",
        cache.to_str().unwrap(),
        "--json",
    ];
    let first = lmc(&dir, &args, &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["outputs"]["category"], "billing");
    assert_eq!(report["calls"], 2);
    assert_eq!(report["cache_hits"], 0);
    assert_eq!(report["usage"]["input_tokens"], 600);
    assert_eq!(report["cost_usd"]["program"], Value::Null, "a local model has no price: null, not 0");
    assert_eq!(server.requests().len(), 2);

    let second = lmc(&dir, &args, &[]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["cache_hits"], 2);
    assert_eq!(report["usage"]["input_tokens"], 600, "a hit keeps the original usage");
    assert_eq!(server.requests().len(), 2, "the second run made no HTTP request");

    // Replay-only fails clearly on a miss (a different input) without calling the server.
    let mut replay = args.to_vec();
    replay[4] = r#"{"ticket": "Something new"}"#;
    replay.extend(["--cache-mode", "replay-only"]);
    let miss = lmc(&dir, &replay, &[]);
    assert_eq!(miss.status.code(), Some(2));
    assert!(text(&miss.stderr).contains("cache miss in replay-only mode"), "{}", text(&miss.stderr));
    assert_eq!(server.requests().len(), 2);

    // The human form names the calls and the totals.
    let human = lmc(&dir, &args[..args.len() - 1], &[]);
    let out = text(&human.stdout);
    assert!(
        out.starts_with("product: Invoices\nissue: Charged twice\nreasoning: Money.\ncategory: billing\n"),
        "{out}"
    );
    assert!(out.contains("2 calls (2 cached, 0 retries)"), "{out}");

    // The cache commands see the entries, export and import them.
    let stats = lmc(&dir, &["cache", "--cache-path", cache.to_str().unwrap(), "stats", "--json"], &[]);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["entries"], 2);
    let export = dir.join("export.jsonl");
    let out = lmc(&dir, &["cache", "--cache-path", cache.to_str().unwrap(), "export", export.to_str().unwrap()], &[]);
    assert!(text(&out.stdout).contains("exported 2 entries"), "{}", text(&out.stderr));
    let other = dir.join("other.sqlite");
    let out = lmc(&dir, &["cache", "--cache-path", other.to_str().unwrap(), "import", export.to_str().unwrap()], &[]);
    assert!(text(&out.stdout).contains("imported 2 new entries"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_key_names_the_variable_and_exits_2() {
    let dir = scratch("nokey");
    let program = repo().join("programs/triage.toml");
    let out = lmc(
        &dir,
        &["run", "--program", program.to_str().unwrap(), "--input", r#"{"ticket": "x"}"#, "--lm", "openai/gpt-4o-mini"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("set OPENAI_API_KEY"), "{}", text(&out.stderr));
    let out = lmc(
        &dir,
        &["run", "--program", program.to_str().unwrap(), "--input", r#"{"tiket": "x"}"#, "--lm", "ollama/x"],
        &[],
    );
    assert!(
        text(&out.stderr).contains("keys the program does not read: tiket (its inputs: ticket)"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_shows_sources_and_never_a_key_value() {
    let dir = scratch("config");
    std::fs::write(dir.join("lmc.toml"), "[lm]\nmodel = \"anthropic/claude-sonnet-4-5\"\nmax_tokens = 512\n").unwrap();
    let out = lmc(&dir, &["config"], &[("OPENAI_API_KEY", KEY), ("ANTHROPIC_API_KEY", KEY)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("anthropic/claude-sonnet-4-5") && shown.contains("lmc.toml"), "{shown}");
    assert!(shown.contains("OPENAI_API_KEY (set)"), "{shown}");
    assert!(!shown.contains(KEY), "the key's value is never printed");
    let json = lmc(&dir, &["config", "--json", "--lm", "openai/gpt-4o"], &[("OPENAI_API_KEY", KEY)]);
    assert!(!text(&json.stdout).contains(KEY));
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value.to_string().contains("openai/gpt-4o"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_logged_and_counted() {
    let limited = Reply::status(429, json!({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}))
        .with_header("retry-after", "0.1");
    let server = MockServer::start(vec![limited], triage_reply()).await;
    let dir = scratch("retries");
    let program = repo().join("programs/math_qa.toml");
    let out = lmc(
        &dir,
        &[
            "run",
            "--program",
            program.to_str().unwrap(),
            "--input",
            r#"{"question": "1+1?"}"#,
            "--lm",
            "vllm/m",
            "--base-url",
            &server.base_url(),
            "--cache-mode",
            "off",
        ],
        &[],
    );
    // The reply has no `answer` for math_qa, so the run fails to parse; the retry still shows.
    let err = text(&out.stderr);
    assert!(err.contains("retrying LM request"), "{err}");
    assert_eq!(server.requests().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
