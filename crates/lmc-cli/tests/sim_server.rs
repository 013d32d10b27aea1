//! `lmc run` through `lmc sim-server` on loopback with faults on (429 with Retry-After, 500,
//! drops, garbage, truncation): every run ends in a result or a typed, reported error,
//! nothing hangs, retries are counted, and the server's `/stats` shows the faults.

#![allow(clippy::unwrap_used)]

mod common;

use common::repo;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// No single `lmc run` may take longer than this (the default retry policy's backoff, at
/// most six attempts, fits well inside).
const RUN_DEADLINE: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    common::scratch("sim-server", name)
}

/// `lmc` with a clean LM environment (no real keys, no LMC_* settings), in `dir`.
fn lmc(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd
}

/// A child process killed when dropped, so that a failing test never leaves it running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `lmc sim-server` on a free port and returns it with its base URL (read from the
/// first line of its stdout).
fn start_server(dir: &Path, extra: &[&str]) -> (Killed, String) {
    let world = repo().join("datasets/gsm8k/test.jsonl");
    let mut args = vec!["sim-server", "--world", world.to_str().unwrap(), "--port", "0"];
    args.extend_from_slice(extra);
    let mut child = lmc(dir, &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep reading so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server printed no URL").unwrap().unwrap();
    assert!(line.starts_with("lmc sim-server: serving sim/test (200 items) at http://127.0.0.1:"), "{line}");
    assert!(line.ends_with("— a simulator, not a model"), "{line}");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    assert!(url.ends_with("/v1"), "{url}");
    (server, url)
}

/// `GET path` on the server with a raw HTTP/1.1 request; the JSON body.
fn http_get(base_url: &str, path: &str) -> Value {
    let host = base_url.trim_start_matches("http://").trim_end_matches("/v1");
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

/// A run in progress: its process and where its output goes.
struct Run {
    child: Killed,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// How a run ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Waits for the run, failing the test if it outlives `deadline`.
    fn wait(mut self, deadline: Instant, label: &str) -> Ended {
        let status = loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{label} hung (killed after {RUN_DEADLINE:?})");
            std::thread::sleep(Duration::from_millis(20));
        };
        Ended {
            code: status.code(),
            stdout: std::fs::read_to_string(&self.stdout).unwrap(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap(),
        }
    }
}

#[test]
fn lmc_run_through_a_faulty_sim_server_always_ends_with_a_result_or_a_typed_error() {
    let dir = scratch("faults");
    let (server, url) = start_server(
        &dir,
        &[
            "--p429",
            "0.2",
            "--retry-after",
            "0.05",
            "--p500",
            "0.1",
            "--pdrop",
            "0.1",
            "--pgarbage",
            "0.05",
            "--ptrunc",
            "0.05",
            "--latency-ms",
            "5",
            "--jitter-ms",
            "5",
            "--seed",
            "7",
        ],
    );
    assert_eq!(http_get(&url, "/v1/models")["data"][0]["id"], "sim/test");

    let program = repo().join("programs/math_qa.toml");
    let questions: Vec<String> = std::fs::read_to_string(repo().join("datasets/gsm8k/test.jsonl"))
        .unwrap()
        .lines()
        .take(10)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .collect();

    // All ten runs at once, each with its own deadline.
    let started = Instant::now();
    let runs: Vec<Run> = questions
        .iter()
        .enumerate()
        .map(|(i, question)| {
            let input = serde_json::json!({ "question": question }).to_string();
            let (stdout, stderr) = (dir.join(format!("run{i}.out")), dir.join(format!("run{i}.err")));
            let child = lmc(
                &dir,
                &[
                    "run",
                    "--program",
                    program.to_str().unwrap(),
                    "--input",
                    &input,
                    "--lm",
                    "vllm/sim",
                    "--base-url",
                    &url,
                    "--cache-mode",
                    "off",
                    "--json",
                ],
            )
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
            Run { child: Killed(child), stdout, stderr }
        })
        .collect();

    let mut ok = 0;
    let mut failed = 0;
    let mut retries = 0;
    for (i, run) in runs.into_iter().enumerate() {
        let ended = run.wait(started + RUN_DEADLINE, &format!("run {i}"));
        match ended.code {
            Some(0) => {
                let report: Value = serde_json::from_str(&ended.stdout)
                    .unwrap_or_else(|e| panic!("run {i}: the report is not JSON ({e}): {}", ended.stdout));
                assert_eq!(report["lm"], "vllm/sim");
                assert!(report["outputs"]["answer"].is_number(), "run {i}: {report}");
                assert_eq!(report["trace"][0]["served_model"], "sim/test");
                retries += report["retries"].as_u64().unwrap();
                ok += 1;
            }
            Some(2) => {
                // A typed, reported error: the predictor and the LM error kind, no panic.
                assert!(ended.stderr.contains("error: predictor `solve`: "), "run {i}: {}", ended.stderr);
                assert!(!ended.stderr.contains("panicked"), "run {i}: {}", ended.stderr);
                failed += 1;
            }
            other => panic!("run {i} exited with {other:?}: {}{}", ended.stdout, ended.stderr),
        }
    }
    assert!(ok > 0, "no run succeeded ({failed} failed)");
    assert!(retries > 0, "no run reported a retry");

    let stats = http_get(&url, "/stats");
    let outcomes = &stats["outcomes"];
    let count = |name: &str| outcomes[name].as_u64().unwrap();
    let faults: u64 = ["429", "500", "503", "dropped", "garbage", "truncated"].iter().map(|k| count(k)).sum();
    assert!(faults > 0, "{stats}");
    assert!(count("429") > 0, "{stats}");
    assert_eq!(count("ok"), ok, "every successful run made exactly one good call: {stats}");
    assert_eq!(count("bad_request"), 0, "{stats}");
    let total: u64 = outcomes.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(stats["requests"].as_u64().unwrap(), total, "{stats}");
    assert!(stats["requests"].as_u64().unwrap() >= 10, "{stats}");
    assert_eq!(stats["in_flight"], 0, "{stats}");
    drop(server);
}

#[test]
fn sim_server_refuses_bad_probabilities_with_exit_code_2() {
    let dir = scratch("bad-flags");
    let world = repo().join("datasets/gsm8k/test.jsonl");
    let world = world.to_str().unwrap();
    for (flags, expected) in [
        (vec!["--p429", "1.5"], "not a probability"),
        (vec!["--pdrop", "-0.1"], "not a probability"),
        (vec!["--p500", "abc"], "not a number"),
        (vec!["--p429", "0.6", "--p500", "0.6"], "sum to"),
        (vec!["--retry-after", "-1"], "seconds"),
    ] {
        let mut args = vec!["sim-server", "--world", world, "--port", "0"];
        args.extend(flags.iter().copied());
        let mut run = lmc(&dir, &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = run.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = run.kill();
                panic!("`lmc {}` did not exit", args.join(" "));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        run.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
