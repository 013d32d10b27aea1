//! Free, deterministic CI: record a gate's LM replies (here from `lmc sim-server`, standing in
//! for a real provider, with a dummy key), `lmc cache export` them, import the export into a
//! fresh cache and gate replay-only with no key and no server: the same verdict and score.
//! Change a predictor's instructions and the replay misses name it, with the refresh commands.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A child process killed when dropped, so that a failing test never leaves it running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lmc` in `dir` with no key, no LMC_* settings and its cache at `cache`, plus `env`.
fn lmc(dir: &Path, cache: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env_remove("GITHUB_STEP_SUMMARY").env("LMC_CACHE_PATH", dir.join(cache));
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `lmc sim-server` on a free port over the GSM8K test data, and its base URL.
fn start_server(dir: &Path) -> (Killed, String) {
    let world = common::repo().join("datasets/gsm8k/test.jsonl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(["sim-server", "--world", world.to_str().unwrap(), "--port", "0"]).current_dir(dir);
    common::clean_lm_env(&mut cmd);
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap().unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    (server, url)
}

/// A 20-example GSM8K gate over a copy of `programs/math_qa.toml` in `dir`.
fn write_task(dir: &Path) {
    let repo = common::repo().canonicalize().unwrap();
    std::fs::copy(repo.join("programs/math_qa.toml"), dir.join("math_qa.toml")).unwrap();
    let spec = format!(
        r#"program = "math_qa.toml"

[lm]
model = "openai/gpt-4o-mini"

[data]
test = {{ path = "{}/datasets/gsm8k/test.jsonl", limit = 20 }}
inputs = ["question"]
labels = {{ answer = "answer" }}

[metric]
name = "numeric"
field = "answer"

[gate]
baseline = "baseline.json"
min_examples = 10
max_regression = 0.1
"#,
        repo.display()
    );
    std::fs::write(dir.join("task.toml"), spec).unwrap();
}

#[test]
fn record_export_and_replay_without_a_key() {
    let dir = common::scratch("ci-replay", "e2e");
    write_task(&dir);
    let (server, url) = start_server(&dir);
    let key = [("OPENAI_API_KEY", "sk-dummy-for-the-sim-server")];

    // Record: bless the baseline where the model answers, then export the cache.
    let out = lmc(&dir, "local.sqlite", &key, &["gate", "task.toml", "--base-url", &url, "--bless", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = lmc(&dir, "local.sqlite", &[], &["cache", "export", "lmc-cache.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("exported 20 entries"), "{}", text(&out.stdout));
    drop(server);

    // CI: a fresh cache from the committed export, replay-only, no key, no server.
    let out = lmc(&dir, "ci.sqlite", &[], &["cache", "import", "lmc-cache.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let replay = [("LMC_CACHE_MODE", "replay-only")];
    let out = lmc(&dir, "ci.sqlite", &replay, &["gate", "task.toml", "--base-url", &url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let verdicts: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let baseline: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(verdicts["verdicts"][0]["status"], "passed", "{verdicts}");
    assert_eq!(verdicts["verdicts"][0]["score"], baseline["summary"]["score"], "{verdicts}");

    // The program changes: the misses name the predictor and how to refresh the export.
    let program = std::fs::read_to_string(dir.join("math_qa.toml")).unwrap();
    let changed = program.replace("Give only the final number as the answer.", "Answer with a number.");
    assert_ne!(program, changed);
    std::fs::write(dir.join("math_qa.toml"), changed).unwrap();
    let out = lmc(&dir, "ci.sqlite", &replay, &["gate", "task.toml", "--base-url", &url]);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("no reply for the prompts of `solve`"), "{stdout}");
    assert!(stderr.contains("predictor `solve` (20 examples)"), "{stderr}");
    assert!(
        stderr.contains("LMC_CACHE_MODE=read-write lmc eval task.toml --split test")
            && stderr.contains("lmc cache export"),
        "{stderr}"
    );
    // No key is needed to find that out, and none was used.
    assert!(!stderr.contains("no API key"), "{stderr}");
}
