//! `lmc eval` end to end on the shipped GSM8K task (`evals/gsm8k.toml`, its first 30 test
//! examples, the program as written: `--no-artifact` leaves the shipped compiled artifact out): through the in-process simulator (`--lm sim`) and through `lmc sim-server` over
//! HTTP with the same world, which must score identically, example by example; the run
//! directory's `report.json` is snapshot-tested with timings redacted; usage errors exit 2
//! naming the problem; `lmc inspect run` shows the failures with feedback and prompts.

#![allow(clippy::unwrap_used)]

mod common;

use common::repo;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lmc::data::dataset::{ColumnMap, DataSpec, Dataset};
use lmc::sim::SimSettings;
use lmc::spec::TaskSpec;
use lmc::Program;
use serde_json::Value;

/// The shipped task, relative to the repository root (where every `lmc` here runs).
const SPEC: &str = "evals/gsm8k.toml";
/// Examples evaluated per run.
const LIMIT: usize = 30;
/// No single `lmc` invocation may take longer than this.
const DEADLINE: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    common::scratch("eval", name)
}

/// `lmc` in the repository root with a clean LM environment (no real keys, no LMC_* settings,
/// no base URLs) and its cache in `dir`, so nothing outside `dir` is touched.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(repo()).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite"));
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

/// How an `lmc` invocation ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ended {
    /// The stdout as JSON, after checking that the run succeeded.
    fn json(&self, label: &str) -> Value {
        assert_eq!(self.code, Some(0), "{label}: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `lmc args` to the end (killing it and failing the test after [`DEADLINE`]).
fn lmc(dir: &Path, args: &[&str]) -> Ended {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let (out, err) = (dir.join(format!("lmc{n}.out")), dir.join(format!("lmc{n}.err")));
    let child = command(dir, args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "`lmc {}` hung (killed after {DEADLINE:?})", args.join(" "));
        std::thread::sleep(Duration::from_millis(10));
    };
    Ended {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// The lines of a run directory's `examples.jsonl`.
fn examples(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("examples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number at {pointer}: {v}"))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no count at {pointer}: {v}"))
}

/// Replaces what differs between runs and machines: latencies, wall time, the git commit,
/// lmc's version, URLs, and the repository's absolute path in any string.
fn redact(value: &mut Value) {
    let root = repo().display().to_string();
    let canonical = repo().canonicalize().unwrap().display().to_string();
    fn walk(value: &mut Value, roots: &[&str]) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    let replacement = if key.contains("latency") {
                        Some("[latency]")
                    } else if key == "wall_seconds" {
                        Some("[wall]")
                    } else if key == "git_commit" {
                        Some("[commit]")
                    } else if key == "lmc_version" {
                        Some("[version]")
                    } else if key == "base_url" && !v.is_null() {
                        Some("[url]")
                    } else {
                        None
                    };
                    match replacement {
                        Some(r) => *v = Value::String(r.into()),
                        None => walk(v, roots),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, roots)),
            Value::String(s) => {
                for root in roots {
                    if s.contains(root) {
                        *s = s.replace(root, "[repo]");
                    }
                }
            }
            _ => {}
        }
    }
    walk(value, &[&canonical, &root]);
}

fn redacted(mut value: Value) -> String {
    redact(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

/// The summary keys `lmc eval --json` must print (issue 6), with sane values for 30 examples.
fn check_summary(summary: &Value, label: &str) {
    for pointer in [
        "/score",
        "/n",
        "/outcomes/ok",
        "/outcomes/parse_error",
        "/outcomes/lm_error",
        "/outcomes/metric_error",
        "/usage/calls",
        "/usage/cache_hits",
        "/usage/input_tokens",
        "/usage/output_tokens",
        "/cost_usd/spent",
        "/cost_usd/program",
        "/wall_seconds",
        "/simulated",
    ] {
        assert!(summary.pointer(pointer).is_some(), "{label}: no {pointer} in {summary}");
    }
    let score = f64_at(summary, "/score");
    assert!((0.0..=1.0).contains(&score), "{label}: score {score}");
    let (low, high) = (f64_at(summary, "/ci95/0"), f64_at(summary, "/ci95/1"));
    assert!(low <= score && score <= high, "{label}: {score} outside its CI [{low}, {high}]");
    assert_eq!(u64_at(summary, "/n"), LIMIT as u64, "{label}");
    assert_eq!(u64_at(summary, "/n_run"), LIMIT as u64, "{label}");
    let outcomes: u64 = summary["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(outcomes, LIMIT as u64, "{label}: the outcomes account for every example: {summary}");
    assert_eq!(u64_at(summary, "/usage/calls"), LIMIT as u64, "{label}: math_qa makes one call per example");
    assert_eq!(u64_at(summary, "/usage/cache_hits"), 0, "{label}");
    assert_eq!(u64_at(summary, "/usage/retries"), 0, "{label}");
    assert!(u64_at(summary, "/usage/input_tokens") > 0, "{label}");
    assert!(u64_at(summary, "/usage/output_tokens") > 0, "{label}");
    assert!(f64_at(summary, "/wall_seconds") >= 0.0, "{label}");
    assert_eq!(summary["stopped"], Value::Null, "{label}");
}

/// The figures of a summary that do not depend on timing.
fn stable(summary: &Value) -> Value {
    let mut v = summary.clone();
    let map = v.as_object_mut().unwrap();
    map.remove("wall_seconds");
    map.remove("latency_ms");
    v
}

/// The mean of the per-example scores in `examples.jsonl`.
fn mean_score(examples: &[Value]) -> f64 {
    examples.iter().map(|e| e["score"].as_f64().unwrap()).sum::<f64>() / examples.len() as f64
}

#[test]
fn eval_with_the_in_process_simulator_prints_a_sane_summary_and_writes_a_run_directory() {
    let dir = scratch("sim");
    let limit = LIMIT.to_string();
    let plain = lmc(&dir, &["eval", SPEC, "--no-artifact", "--lm", "sim", "--limit", &limit, "--json"]).json("--json");
    check_summary(&plain, "--lm sim");
    assert_eq!(f64_at(&plain, "/cost_usd/program"), 0.0, "the simulator is free");
    assert_eq!(f64_at(&plain, "/cost_usd/spent"), 0.0);
    assert_eq!(plain["simulated"], true);
    assert_eq!(plain["outcomes"]["ok"], LIMIT, "the simulator's replies always parse: {plain}");

    let out = dir.join("run");
    let with_out = lmc(
        &dir,
        &["eval", SPEC, "--no-artifact", "--lm", "sim", "--limit", &limit, "--json", "--out", out.to_str().unwrap()],
    )
    .json("--json --out");
    assert_eq!(stable(&with_out), stable(&plain), "the simulator is deterministic and --out changes nothing");

    // report.json agrees with the summary; examples.jsonl has every example, in order.
    let report = report(&out);
    assert_eq!(report["score"], plain["score"]);
    assert_eq!(report["n"], plain["n"]);
    assert_eq!(report["usage"]["calls"], plain["usage"]["calls"]);
    assert_eq!(report["usage"]["input_tokens"], plain["usage"]["input_tokens"]);
    assert_eq!(report["provenance"]["models"], serde_json::json!(["sim/math_qa"]));
    assert_eq!(report["provenance"]["simulated"], true);
    let examples = examples(&out);
    assert_eq!(examples.len(), LIMIT);
    for (i, example) in examples.iter().enumerate() {
        assert_eq!(example["index"], i, "examples.jsonl is in example order");
        assert!(example["inputs"]["question"].is_string(), "{example}");
        assert!(example["gold"]["answer"].is_string(), "{example}");
        assert_eq!(example["trace"].as_array().unwrap().len(), 1, "{example}");
        assert!(!example["trace"][0]["request"]["messages"].as_array().unwrap().is_empty(), "{example}");
        assert_eq!(example["trace"][0]["completions"].as_array().unwrap().len(), 1, "{example}");
        assert_eq!(example["trace"][0]["served_model"], "sim/math_qa");
    }
    assert!((mean_score(&examples) - f64_at(&plain, "/score")).abs() < 1e-12);
    insta::assert_snapshot!("sim_report", redacted(report));

    // The readable form: the table, the simulator's disclaimer, where the files went.
    let human =
        lmc(&dir, &["eval", SPEC, "--no-artifact", "--lm", "sim", "--limit", &limit, "--out", out.to_str().unwrap()]);
    assert_eq!(human.code, Some(0), "{}", human.stderr);
    assert!(human.stdout.starts_with("math_qa · "), "{}", human.stdout);
    assert!(human.stdout.contains(&format!("examples     {LIMIT} run of {LIMIT}: {LIMIT} ok")), "{}", human.stdout);
    assert!(human.stdout.contains("(simulated LM: "), "{}", human.stdout);
    assert!(human.stdout.contains("/report.json and examples.jsonl"), "{}", human.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `lmc sim-server --world WORLD` on a free port with `flags`; the server and its base
/// URL (read from the first line of its stdout).
fn start_server(dir: &Path, world: &Path, flags: &[String]) -> (Killed, String, String) {
    let mut args = vec!["sim-server", "--world", world.to_str().unwrap(), "--port", "0"];
    args.extend(flags.iter().map(String::as_str));
    let mut child = command(dir, &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
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
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    (server, url, line)
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

/// The world `lmc eval SPEC --lm sim` builds, written for `lmc sim-server`, which takes one
/// file and flags: the union of the spec's splits (train, dev, test, in that order, whole,
/// loaded with the spec's label map exactly as `lmc eval` loads them), in a file named after
/// the program (the world's name is the file's stem; `lmc eval` names its world after the
/// program), and the spec's `[sim]` settings as flags. Returns the file, the flags and the
/// number of items.
fn spec_world(dir: &Path) -> (PathBuf, Vec<String>, usize) {
    let spec = TaskSpec::load(repo().join(SPEC)).unwrap();
    let program = Program::load(&spec.program).unwrap();
    let labels = ColumnMap { inputs: Vec::new(), labels: spec.data.labels.clone() };
    let mut lines = String::new();
    let mut items = 0;
    for (_, split) in spec.splits() {
        let loaded = Dataset::load(&DataSpec::new(&split.path), &labels).unwrap();
        for example in loaded.into_examples() {
            lines.push_str(&serde_json::to_string(&example.into_fields()).unwrap());
            lines.push('\n');
            items += 1;
        }
    }
    let world = dir.join(format!("{}.jsonl", program.name()));
    std::fs::write(&world, lines).unwrap();

    let sim = spec.sim.unwrap_or_default();
    // `lmc eval` judges the metric's field when [sim] names one that has no gold label.
    let answer_field =
        if spec.data.labels.contains_key(&sim.answer_field) { sim.answer_field.clone() } else { spec.metric.field };
    let mut flags = vec!["--answer-field".to_string(), answer_field, "--sim-seed".into(), sim.seed.to_string()];
    if let Some(column) = &sim.answer_column {
        flags.extend(["--answer-column".to_string(), column.clone()]);
    }
    for hint in &sim.hints {
        flags.extend(["--hint".to_string(), hint.clone()]);
    }
    // `lmc sim-server` has flags for these settings only; any other [sim] setting of the spec
    // (inputs, labels, the response-model constants) would make the two worlds differ.
    let defaults = SimSettings::default();
    let unmirrored = SimSettings {
        answer_field: defaults.answer_field.clone(),
        answer_column: None,
        hints: Vec::new(),
        seed: defaults.seed,
        ..sim
    };
    assert_eq!(unmirrored, defaults, "{SPEC} sets [sim] settings that `lmc sim-server` has no flag for");
    (world, flags, items)
}

#[test]
fn eval_through_sim_server_over_http_scores_exactly_as_the_in_process_simulator() {
    let dir = scratch("http");
    let limit = LIMIT.to_string();
    let (world, flags, items) = spec_world(&dir);
    let (server, url, banner) = start_server(&dir, &world, &flags);
    assert!(banner.starts_with(&format!("lmc sim-server: serving sim/math_qa ({items} items) at http://127.0.0.1:")));
    assert_eq!(items, 500, "the GSM8K subset: 200 train, 100 dev, 200 test");

    let (sim_dir, http_dir) = (dir.join("sim"), dir.join("http"));
    let sim = lmc(
        &dir,
        &[
            "eval",
            SPEC,
            "--no-artifact",
            "--lm",
            "sim",
            "--limit",
            &limit,
            "--json",
            "--out",
            sim_dir.to_str().unwrap(),
        ],
    )
    .json("--lm sim");
    let http = lmc(
        &dir,
        &[
            "eval",
            SPEC,
            "--no-artifact",
            "--lm",
            "vllm/sim",
            "--base-url",
            &url,
            "--cache-mode",
            "off",
            "--limit",
            &limit,
            "--json",
            "--out",
            http_dir.to_str().unwrap(),
        ],
    )
    .json("--lm vllm/sim");
    check_summary(&http, "sim-server");
    assert_eq!(http["cost_usd"]["program"], Value::Null, "a local model has no price: null, not 0");

    // The same response model over the same world: the same score, outcomes and tokens.
    assert_eq!(f64_at(&http, "/score"), f64_at(&sim, "/score"), "http {http}\nsim {sim}");
    assert_eq!(http["outcomes"], sim["outcomes"]);
    assert_eq!(http["usage"], sim["usage"]);
    assert_eq!(http["ci95"], sim["ci95"]);

    // Example by example: the same prompt got the same completion and the same score.
    let (sim_examples, http_examples) = (examples(&sim_dir), examples(&http_dir));
    assert_eq!(http_examples.len(), LIMIT);
    assert_eq!(sim_examples.len(), LIMIT);
    for (s, h) in sim_examples.iter().zip(&http_examples) {
        let i = &s["index"];
        assert_eq!(h["index"], *i);
        assert_eq!(h["score"], s["score"], "example {i}");
        assert_eq!(h["outcome"], s["outcome"], "example {i}");
        assert_eq!(h["prediction"], s["prediction"], "example {i}");
        assert_eq!(h["trace"][0]["request"]["messages"], s["trace"][0]["request"]["messages"], "example {i}");
        assert_eq!(h["trace"][0]["completions"], s["trace"][0]["completions"], "example {i}");
        assert_eq!(h["trace"][0]["served_model"], "sim/math_qa", "example {i}");
        assert_eq!(h["trace"][0]["lm"]["provider"], "vllm", "example {i}");
    }

    // Every call went over HTTP, once, with no fault.
    let stats = http_get(&url, "/stats");
    assert_eq!(stats["requests"], LIMIT, "{stats}");
    assert_eq!(stats["outcomes"]["ok"], LIMIT, "{stats}");
    assert_eq!(stats["in_flight"], 0, "{stats}");
    drop(server);
    insta::assert_snapshot!("http_report", redacted(report(&http_dir)));

    // The comparison has teeth: the same world under another response-model seed answers
    // differently (the simulator's replies depend on the world, not only on the prompt).
    let reseeded: Vec<String> = flags
        .chunks(2)
        .flat_map(|pair| match pair[0].as_str() {
            "--sim-seed" => vec![pair[0].clone(), "1".into()],
            _ => pair.to_vec(),
        })
        .collect();
    let (other, other_url, _) = start_server(&dir, &world, &reseeded);
    let other_dir = dir.join("other");
    let ended = lmc(
        &dir,
        &[
            "eval",
            SPEC,
            "--no-artifact",
            "--lm",
            "vllm/sim",
            "--base-url",
            &other_url,
            "--cache-mode",
            "off",
            "--limit",
            &limit,
            "--out",
            other_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    drop(other);
    let differ = examples(&other_dir)
        .iter()
        .zip(&http_examples)
        .filter(|(o, h)| o["trace"][0]["completions"] != h["trace"][0]["completions"])
        .count();
    assert!(differ > 0, "another seed changed no answer");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_usage_errors_exit_2_naming_the_problem() {
    let dir = scratch("errors");
    for (args, expected) in [
        (
            vec!["eval", "evals/no_such_task.toml", "--lm", "sim"],
            vec!["evals/no_such_task.toml", "cannot read the spec"],
        ),
        (
            vec!["eval", SPEC, "--no-artifact", "--lm", "sim", "--split", "validation"],
            vec!["evals/gsm8k.toml", "unknown split `validation`"],
        ),
        (
            vec!["eval", SPEC, "--no-artifact", "--lm", "sim", "--limit", "2", "--metric", "bogus"],
            vec!["unknown metric", "bogus"],
        ),
    ] {
        let ended = lmc(&dir, &args);
        assert_eq!(ended.code, Some(2), "`lmc {}`: {}", args.join(" "), ended.stderr);
        assert!(ended.stderr.starts_with("error: "), "`lmc {}`: {}", args.join(" "), ended.stderr);
        for needle in expected {
            assert!(ended.stderr.contains(needle), "`lmc {}` should say {needle:?}: {}", args.join(" "), ended.stderr);
        }
        assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
        assert!(ended.stdout.is_empty(), "nothing on stdout: {}", ended.stdout);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `=== example N` headers of `lmc inspect run` output.
fn shown(text: &str) -> BTreeSet<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("=== example "))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn inspect_run_shows_the_failures_with_feedback_and_prompts() {
    let dir = scratch("inspect");
    let out = dir.join("run");
    let out_str = out.to_str().unwrap();
    let limit = LIMIT.to_string();
    let ended = lmc(&dir, &["eval", SPEC, "--no-artifact", "--lm", "sim", "--limit", &limit, "--out", out_str]);
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let examples = examples(&out);
    let failed: BTreeSet<u64> = examples
        .iter()
        .filter(|e| e["outcome"] != "ok" || e["score"].as_f64().unwrap() < 1.0)
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert!(!failed.is_empty() && failed.len() < LIMIT, "the simulator gets some right and some wrong: {failed:?}");

    let all = lmc(&dir, &["inspect", "run", out_str]);
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    assert_eq!(shown(&all.stdout).len(), LIMIT);

    let failures = lmc(&dir, &["inspect", "run", out_str, "--failed"]);
    assert_eq!(failures.code, Some(0), "{}", failures.stderr);
    assert_eq!(shown(&failures.stdout), failed, "--failed shows exactly the failures");
    let text = &failures.stdout;
    assert_eq!(text.matches("\nfeedback:   expected ").count(), failed.len(), "numeric feedback per failure: {text}");
    assert_eq!(text.matches("\n--- solve (sim/math_qa) ---\n").count(), failed.len(), "{text}");
    assert_eq!(text.matches("\n[system]\nYour input fields are:").count(), failed.len(), "the prompts: {text}");
    assert_eq!(text.matches("\n[user]\n[[ ## question ## ]]\n").count(), failed.len(), "{text}");
    assert_eq!(text.matches("\n[completion 0]\n[[ ## reasoning ## ]]\n").count(), failed.len(), "{text}");

    // One failed example, whole; a passing one; one that is not there.
    let first = *failed.iter().next().unwrap();
    let one = lmc(&dir, &["inspect", "run", out_str, "--example", &first.to_string()]);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    assert_eq!(shown(&one.stdout), BTreeSet::from([first]));
    assert!(one.stdout.contains("\nfeedback:   expected "), "{}", one.stdout);
    insta::assert_snapshot!("inspect_failed_example", one.stdout);

    let passed = (0..LIMIT as u64).find(|i| !failed.contains(i)).unwrap();
    let ok = lmc(&dir, &["inspect", "run", out_str, "--example", &passed.to_string(), "--failed"]);
    assert!(shown(&ok.stdout).is_empty(), "example {passed} passed: {}", ok.stdout);
    let ok = lmc(&dir, &["inspect", "run", out_str, "--example", &passed.to_string()]);
    assert!(ok.stdout.starts_with(&format!("=== example {passed} (repeat 0): ok · score 1.000\n")), "{}", ok.stdout);

    let missing = lmc(&dir, &["inspect", "run", out_str, "--example", "999"]);
    assert_eq!(missing.code, Some(0));
    assert!(missing.stdout.starts_with("no example 999 in "), "{}", missing.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}
