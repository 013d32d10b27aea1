//! `lmc compile` end to end on the shipped GSM8K task (`evals/gsm8k.toml`) through the offline
//! simulator, which rewards demos: the artifact it writes, byte-identical across runs and
//! concurrency levels; `lmc eval --artifact` and `lmc run --artifact` installing it (and
//! refusing one that does not fit the program); `lmc inspect artifact`; dry runs that call
//! nothing; budgets that stop early; each optimizer; usage errors that exit 2 naming the problem.
//!
//! Data is cut with `--limit-train`/`--limit-val` (and `--limit` for eval) to keep every test
//! well under a second or two in a debug build. Every artifact goes to a scratch directory:
//! never to the spec's own `artifact`, which plain `lmc eval evals/gsm8k.toml` would pick up.

#![allow(clippy::unwrap_used)]

mod common;

use common::repo;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The shipped task, relative to the repository root (where every `lmc` here runs).
const SPEC: &str = "evals/gsm8k.toml";
/// Training and validation examples per compile (`--limit-train`, `--limit-val`).
const LIMITS: [&str; 4] = ["--limit-train", "40", "--limit-val", "20"];
/// Test examples per eval.
const EVAL_LIMIT: &str = "30";
/// No single `lmc` invocation may take longer than this.
const DEADLINE: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    common::scratch("compile", name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
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
    label: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ended {
    /// Checks that the run succeeded and returns its stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "`{}` failed:\n{}{}", self.label, self.stdout, self.stderr);
        &self.stdout
    }

    /// The stdout as JSON, after checking that the run succeeded.
    fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out).unwrap_or_else(|e| panic!("`{}`: not JSON ({e}): {out}", self.label))
    }

    /// Checks that the run failed with exit code 2 and returns its stderr.
    fn usage_error(&self) -> &str {
        assert_eq!(self.code, Some(2), "`{}` must exit 2:\n{}{}", self.label, self.stdout, self.stderr);
        assert!(self.stderr.starts_with("error: "), "`{}`: {}", self.label, self.stderr);
        &self.stderr
    }
}

/// Runs `lmc args` in the repository root with a clean LM environment (no keys, no LMC_*
/// settings, no base URLs) and its cache in `dir`, to the end (killing it and failing the test
/// after [`DEADLINE`]).
fn lmc(dir: &Path, args: &[&str]) -> Ended {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let (out, err) = (dir.join(format!("lmc{n}.out")), dir.join(format!("lmc{n}.err")));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(repo()).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite"));
    let child =
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap()).spawn().unwrap();
    let mut child = Killed(child);
    let label = format!("lmc {}", args.join(" "));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "`{label}` hung (killed after {DEADLINE:?})");
        std::thread::sleep(Duration::from_millis(5));
    };
    Ended {
        label,
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// `lmc compile evals/gsm8k.toml --lm sim` on the limited data, writing `out`, plus `extra`.
fn compile(dir: &Path, out: &Path, extra: &[&str]) -> Ended {
    let mut args = vec!["compile", SPEC, "--lm", "sim", "--out", path(out)];
    args.extend(LIMITS);
    args.extend(extra);
    lmc(dir, &args)
}

fn read_json(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON ({e})", file.display()))
}

fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number at {pointer}: {v}"))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no count at {pointer}: {v}"))
}

/// The score column of the row of the compile table that starts with `label`.
fn table_score(table: &str, label: &str) -> f64 {
    let line = table
        .lines()
        .find(|l| l.strip_prefix("  ").is_some_and(|r| r.starts_with(label)))
        .unwrap_or_else(|| panic!("no `{label}` row in:\n{table}"));
    let rest = line[2 + label.len()..].split_whitespace().next().unwrap();
    rest.parse().unwrap_or_else(|_| panic!("no score in `{line}`"))
}

/// `lmc eval evals/gsm8k.toml --lm sim` on the first test examples with `extra`, as JSON.
fn eval_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["eval", SPEC, "--lm", "sim", "--limit", EVAL_LIMIT, "--json"];
    args.extend(extra);
    lmc(dir, &args).json()
}

/// The first question of the training set.
fn first_train_question() -> String {
    let text = std::fs::read_to_string(repo().join("datasets/gsm8k/train.jsonl")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    first["question"].as_str().unwrap().to_string()
}

#[test]
fn compile_on_the_simulator_writes_an_artifact_that_beats_the_program_as_written() {
    let dir = scratch("basic");
    let out = dir.join("math_qa.compiled.json");
    let table = compile(&dir, &out, &[]).ok().to_string();
    assert!(out.is_file(), "no artifact at {}:\n{table}", out.display());
    assert!(
        table.starts_with("compiled math_qa with bootstrap (seed 0) · 40 train / 20 validation examples"),
        "{table}"
    );
    assert!(table.contains("offline simulator"), "the table says the scores are simulated:\n{table}");
    let baseline = table_score(&table, "program as written");
    let compiled = table_score(&table, "compiled");
    assert!(compiled > baseline, "demos help on the simulator: {compiled} vs {baseline}\n{table}");
    let cost = table.lines().find(|l| l.starts_with("compile cost: ")).unwrap_or_else(|| panic!("{table}"));
    assert!(cost.contains(" LM calls · ") && cost.contains(" input + ") && cost.contains('$'), "{cost}");
    assert_eq!(table.lines().last().unwrap(), format!("wrote {}", out.display()), "{table}");
    assert!(!table.contains("stopped early"), "{table}");

    // --json: the same scores, and the artifact's provenance agrees.
    let json_out = dir.join("json.json");
    let summary = compile(&dir, &json_out, &["--json"]).json();
    assert_eq!(summary["artifact"], path(&json_out));
    assert_eq!(summary["optimizer"], "bootstrap");
    assert_eq!(summary["simulated"], true);
    assert_eq!(summary["stopped"], Value::Null);
    let (baseline_json, compiled_json) = (f64_at(&summary, "/baseline/score"), f64_at(&summary, "/compiled/score"));
    assert!(compiled_json > baseline_json, "{summary}");
    assert!((baseline_json - baseline).abs() < 5e-4 && (compiled_json - compiled).abs() < 5e-4, "{summary}");
    let calls = u64_at(&summary, "/compile_cost/calls");
    assert!(calls > 0, "{summary}");
    assert_eq!(f64_at(&summary, "/compile_cost/usd"), 0.0, "the simulator is free");
    assert!(cost.starts_with(&format!("compile cost: {calls} LM calls")), "{cost}");

    let artifact = read_json(&json_out);
    assert_eq!(artifact["program"], "math_qa");
    assert_eq!(artifact["provenance"]["optimizer"], "bootstrap");
    assert_eq!(artifact["provenance"]["lm"], "sim");
    assert_eq!(u64_at(&artifact, "/provenance/trainset/n"), 40);
    assert_eq!(u64_at(&artifact, "/provenance/valset/n"), 20);
    assert_eq!(f64_at(&artifact, "/provenance/scores/baseline"), baseline_json);
    assert_eq!(f64_at(&artifact, "/provenance/scores/compiled"), compiled_json);
    assert_eq!(u64_at(&artifact, "/provenance/compile_cost/calls"), calls);
    let predictors = artifact["predictors"].as_array().unwrap();
    assert_eq!(predictors.len(), 1);
    assert_eq!(predictors[0]["name"], "solve");
    assert!(!predictors[0]["demos"].as_array().unwrap().is_empty(), "{artifact}");
}

#[test]
fn the_flag_form_compiles_like_the_spec() {
    let dir = scratch("flags");
    let (from_flags, from_spec) = (dir.join("flags.json"), dir.join("spec.json"));
    let mut args = vec![
        "compile",
        "--program",
        "programs/math_qa.toml",
        "--trainset",
        "datasets/gsm8k/train.jsonl",
        "--valset",
        "datasets/gsm8k/dev.jsonl",
        "--metric",
        "numeric",
        "--field",
        "answer",
        "--lm",
        "sim",
        "--out",
        path(&from_flags),
        "--json",
    ];
    args.extend(LIMITS);
    let flags = lmc(&dir, &args).json();
    let spec = compile(&dir, &from_spec, &["--json"]).json();
    assert!(f64_at(&flags, "/compiled/score") > f64_at(&flags, "/baseline/score"), "{flags}");
    assert_eq!(flags["baseline"], spec["baseline"]);
    assert_eq!(flags["compiled"], spec["compiled"]);
    let (flags, spec) = (read_json(&from_flags), read_json(&from_spec));
    assert_eq!(flags["predictors"], spec["predictors"], "the same data and metric give the same demos");
    assert_eq!(flags["provenance"]["metric"], "numeric on `answer`");
}

#[test]
fn artifacts_are_byte_identical_across_runs_and_concurrency() {
    let dir = scratch("determinism");
    let files: Vec<PathBuf> = ["first", "second", "c1", "c16"].iter().map(|n| dir.join(format!("{n}.json"))).collect();
    compile(&dir, &files[0], &[]).ok();
    compile(&dir, &files[1], &[]).ok();
    compile(&dir, &files[2], &["--concurrency", "1"]).ok();
    compile(&dir, &files[3], &["--concurrency", "16"]).ok();
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(bytes[0] == bytes[1], "the same command twice gives different artifacts");
    assert!(bytes[2] == bytes[3], "--concurrency 1 and 16 give different artifacts");
    assert!(bytes[0] == bytes[2], "the default concurrency gives a different artifact");
}

#[test]
fn eval_with_the_artifact_scores_higher_and_names_it() {
    let dir = scratch("eval");
    let artifact = dir.join("a.json");
    compile(&dir, &artifact, &[]).ok();
    let compiled = eval_json(&dir, &["--artifact", path(&artifact)]);
    let plain = eval_json(&dir, &["--no-artifact"]);
    let (with, without) = (f64_at(&compiled, "/score"), f64_at(&plain, "/score"));
    assert!(with > without, "the compiled program scores {with}, the program as written {without}");
    assert!(
        u64_at(&compiled, "/usage/input_tokens") > u64_at(&plain, "/usage/input_tokens"),
        "the demos are in the prompts"
    );

    // The table and report.json name the artifact, with its hash.
    let run = dir.join("run");
    let table = lmc(
        &dir,
        &["eval", SPEC, "--lm", "sim", "--limit", EVAL_LIMIT, "--artifact", path(&artifact), "--out", path(&run)],
    )
    .ok()
    .to_string();
    assert!(table.contains(&format!("(compiled: {})", artifact.display())), "{table}");
    let report = read_json(&run.join("report.json"));
    assert_eq!(report["provenance"]["artifact"], path(&artifact), "{report}");
    let hash = report["provenance"]["artifact_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64, "a SHA-256: {hash}");
    assert_eq!(f64_at(&report, "/score"), with);

    let run = dir.join("plain");
    lmc(&dir, &["eval", SPEC, "--lm", "sim", "--limit", "3", "--no-artifact", "--out", path(&run)]).ok();
    let report = read_json(&run.join("report.json"));
    assert_eq!(report["provenance"]["artifact"], Value::Null, "{report}");
}

#[test]
fn run_installs_an_artifact_and_refuses_one_that_does_not_fit() {
    let dir = scratch("run");
    let artifact = dir.join("a.json");
    compile(&dir, &artifact, &[]).ok();
    let input = serde_json::json!({ "question": first_train_question() }).to_string();
    let run = |program: &str, artifact: Option<&Path>, input: &str| {
        let mut args = vec!["run", "--program", program, "--lm", "sim", "--world", "datasets/gsm8k/train.jsonl"];
        args.extend(["--input", input, "--json"]);
        if let Some(a) = artifact {
            args.extend(["--artifact", path(a)]);
        }
        lmc(&dir, &args)
    };
    let with = run("programs/math_qa.toml", Some(&artifact), &input).json();
    let without = run("programs/math_qa.toml", None, &input).json();
    assert!(with["outputs"]["answer"].is_number(), "{with}");
    assert_eq!(u64_at(&with, "/calls"), 1);
    assert!(
        u64_at(&with, "/usage/input_tokens") > u64_at(&without, "/usage/input_tokens"),
        "the artifact's demos are in the prompt: {with}"
    );

    // Another program: its predictors are not the artifact's.
    let triage = r#"{"ticket": "The billing page charged me twice."}"#;
    let err = run("programs/triage.toml", Some(&artifact), triage).usage_error().to_string();
    assert!(err.contains(path(&artifact)) && err.contains("does not fit the program"), "{err}");
    assert!(err.contains("`solve`") && err.contains("`extract`") && err.contains("`classify`"), "{err}");

    // math_qa with its input renamed, and with its answer retyped.
    let program = std::fs::read_to_string(repo().join("programs/math_qa.toml")).unwrap();
    let signature = "signature = \"question -> answer: float\"";
    assert!(program.contains(signature), "programs/math_qa.toml changed: {program}");
    let renamed = dir.join("renamed.toml");
    std::fs::write(&renamed, program.replace(signature, "signature = \"problem -> answer: float\"")).unwrap();
    let err = run(path(&renamed), Some(&artifact), r#"{"problem": "What is 2 + 3?"}"#).usage_error().to_string();
    assert!(err.contains("does not fit the program"), "{err}");
    assert!(err.contains("`question`") && err.contains("`problem`"), "names both fields: {err}");
    let retyped = dir.join("retyped.toml");
    std::fs::write(&retyped, program.replace(signature, "signature = \"question -> answer: int\"")).unwrap();
    let err = run(path(&retyped), Some(&artifact), &input).usage_error().to_string();
    assert!(err.contains("`answer`") && err.contains("float") && err.contains("int"), "{err}");
}

#[test]
fn inspect_artifact_shows_predictors_instructions_and_demos() {
    let dir = scratch("inspect");
    let artifact = dir.join("a.json");
    compile(&dir, &artifact, &[]).ok();
    let saved = read_json(&artifact);
    let demos = saved["predictors"][0]["demos"].as_array().unwrap();
    let first_question = demos[0]["question"].as_str().unwrap();

    let text = lmc(&dir, &["inspect", "artifact", path(&artifact)]).ok().to_string();
    assert!(text.starts_with("program math_qa · artifact format 1"), "{text}");
    assert!(text.contains("made by bootstrap (seed 0)"), "{text}");
    assert!(text.contains("predictor solve · adapter chat"), "{text}");
    assert!(text.contains("signature: question: str -> reasoning: str, answer: float"), "{text}");
    assert!(text.contains("instructions:\n    Solve the math word problem."), "{text}");
    assert!(text.contains(&format!("demos: {}\n", demos.len())), "{text}");
    assert!(text.contains(&format!("  1. question: {first_question}")), "{text}");
    assert!(text.contains("validation score ") && text.contains(" compiled · compile cost "), "{text}");

    let text = lmc(&dir, &["inspect", "artifact", path(&artifact), "--demos", "1"]).ok().to_string();
    assert!(text.contains(&format!("demos: {} (showing 1)", demos.len())), "{text}");
    assert!(!text.contains("  2. question: "), "{text}");

    let text =
        lmc(&dir, &["inspect", "artifact", path(&artifact), "--program", "programs/math_qa.toml"]).ok().to_string();
    assert!(text.ends_with("fits programs/math_qa.toml: every predictor and field matches\n"), "{text}");

    let ended = lmc(&dir, &["inspect", "artifact", path(&artifact), "--program", "programs/triage.toml"]);
    let err = ended.usage_error();
    assert!(err.contains(path(&artifact)) && err.contains("does not fit the program"), "{err}");
    assert!(err.contains("`solve`") && err.contains("`extract`"), "{err}");
    assert!(ended.stdout.is_empty(), "nothing is shown for a mismatch: {}", ended.stdout);
}

#[test]
fn a_dry_run_calls_nothing_and_writes_nothing() {
    let dir = scratch("dry-run");
    let out = dir.join("a.json");
    // No OPENAI_API_KEY: anything that called the model would fail.
    let args = ["compile", SPEC, "--lm", "openai/gpt-4o-mini", "--out", path(&out), "--dry-run"];
    let text = lmc(&dir, &args).ok().to_string();
    assert!(
        text.starts_with("dry run: bootstrap on 200 train / 100 validation examples with openai/gpt-4o-mini"),
        "{text}"
    );
    assert!(text.contains("(nothing is called)"), "{text}");
    assert!(text.contains("  bootstrap: up to 200 teacher runs"), "the planned runs: {text}");
    assert!(text.contains("  final scoring: 200 runs"), "{text}");
    assert!(text.contains("at most 400 program runs · about 400 LM calls"), "{text}");
    assert!(text.contains("estimated cost: $"), "{text}");
    assert!(!out.exists(), "a dry run writes no artifact");
    assert!(!dir.join("cache.sqlite").exists(), "a dry run opens no cache");

    let mut args = args.to_vec();
    args.push("--json");
    let plan = lmc(&dir, &args).json();
    assert_eq!(plan["lm"], "openai/gpt-4o-mini");
    assert_eq!(plan["optimizer"], "bootstrap");
    assert_eq!(u64_at(&plan, "/trainset"), 200);
    assert_eq!(u64_at(&plan, "/scoring_set"), 100);
    assert_eq!(u64_at(&plan, "/max_program_runs"), 400);
    assert!(u64_at(&plan, "/estimated_calls") > 0, "{plan}");
    assert!(u64_at(&plan, "/estimated_input_tokens") > 0, "{plan}");
    let usd = f64_at(&plan, "/estimated_usd");
    assert!(usd > 0.0 && usd < 10.0, "gpt-4o-mini has a price: {plan}");
    assert!(!out.exists());

    // The limits, another optimizer and the simulator (free) in the plan.
    let mut args = vec!["compile", SPEC, "--lm", "sim", "--dry-run", "--json", "--optimizer", "random-search"];
    args.extend(["--num-candidates", "2"]);
    args.extend(LIMITS);
    let plan = lmc(&dir, &args).json();
    assert_eq!(plan["optimizer"], "random-search");
    assert_eq!(u64_at(&plan, "/trainset"), 40);
    assert_eq!(u64_at(&plan, "/scoring_set"), 20);
    assert_eq!(f64_at(&plan, "/estimated_usd"), 0.0, "{plan}");
    assert!(!dir.join("cache.sqlite").exists());

    // The flag form needs no --out for a dry run.
    let mut args = vec![
        "compile",
        "--program",
        "programs/math_qa.toml",
        "--trainset",
        "datasets/gsm8k/train.jsonl",
        "--metric",
        "numeric",
        "--field",
        "answer",
    ];
    args.extend(["--lm", "openai/gpt-4o-mini", "--dry-run"]);
    let text = lmc(&dir, &args).ok().to_string();
    assert!(text.contains("on 200 train / 200 validation examples"), "the trainset scores: {text}");
}

#[test]
fn a_call_budget_stops_early_and_the_artifact_says_so() {
    let dir = scratch("budget");
    let out = dir.join("a.json");
    let text = compile(&dir, &out, &["--max-calls", "30"]).ok().to_string();
    assert!(text.contains("stopped early: budget reached: 30 of 30 LM calls"), "says it stopped and why: {text}");
    assert!(text.contains("compile cost: 30 LM calls"), "{text}");
    assert_eq!(text.lines().last().unwrap(), format!("wrote {}", out.display()), "{text}");
    let artifact = read_json(&out);
    let stopped = artifact["provenance"]["stopped"].as_str().unwrap_or_else(|| panic!("no `stopped`: {artifact}"));
    assert!(stopped.contains("30 of 30 LM calls"), "{stopped}");
    assert_eq!(u64_at(&artifact, "/provenance/compile_cost/calls"), 30);

    let summary = compile(&dir, &dir.join("b.json"), &["--max-calls", "30", "--json"]).json();
    assert_eq!(summary["stopped"], artifact["provenance"]["stopped"]);

    // The same budget from the spec's [compile] section.
    let spec = scratch_spec(&dir, "[compile]\nmax_calls = 30\n");
    let from_spec = dir.join("c.json");
    let mut args = vec!["compile", path(&spec), "--lm", "sim", "--out", path(&from_spec), "--json"];
    args.extend(LIMITS);
    let summary = lmc(&dir, &args).json();
    assert_eq!(summary["stopped"], artifact["provenance"]["stopped"]);
}

#[test]
fn random_search_prints_a_leaderboard() {
    let dir = scratch("random-search");
    let out = dir.join("a.json");
    let extra = ["--optimizer", "random-search", "--num-candidates", "2"];
    let text = compile(&dir, &out, &extra).ok().to_string();
    assert!(text.starts_with("compiled math_qa with random-search (seed 0)"), "{text}");
    let header =
        text.lines().position(|l| l.trim_start().starts_with("candidate ")).unwrap_or_else(|| panic!("{text}"));
    let rows: Vec<&str> = text.lines().skip(header + 1).take_while(|l| !l.is_empty()).map(str::trim_start).collect();
    assert_eq!(rows.len(), 5, "zero-shot, labeled, bootstrap and 2 shuffled bootstraps: {text}");
    assert!(rows[0].starts_with("zero-shot ") && rows[0].ends_with(" none"), "{text}");
    assert!(rows[1].starts_with("labeled "), "{text}");
    assert!(rows[2].starts_with("bootstrap "), "{text}");
    assert!(rows[3..].iter().all(|r| r.starts_with("bootstrap (shuffled #")), "{text}");
    assert!(table_score(&text, "compiled") > table_score(&text, "program as written"), "{text}");

    let summary = compile(&dir, &dir.join("b.json"), &[&extra[..], &["--json"]].concat()).json();
    let labels: Vec<&str> =
        summary["leaderboard"].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert_eq!(labels[..3], ["zero-shot", "labeled", "bootstrap"], "{summary}");
    assert_eq!(labels.len(), 5, "{summary}");
    let best =
        summary["leaderboard"].as_array().unwrap().iter().map(|e| e["score"].as_f64().unwrap()).fold(0.0, f64::max);
    assert_eq!(f64_at(&summary, "/compiled/score"), best, "the best candidate wins: {summary}");
    assert_eq!(read_json(&out)["provenance"]["optimizer"], "random-search");
}

#[test]
fn knn_writes_its_training_set_and_eval_picks_demos_per_input() {
    let dir = scratch("knn");
    let out = dir.join("a.json");
    let summary = compile(&dir, &out, &["--optimizer", "knn", "--json"]).json();
    assert_eq!(summary["optimizer"], "knn");
    assert!(f64_at(&summary, "/compiled/score") > f64_at(&summary, "/baseline/score"), "{summary}");
    let artifact = read_json(&out);
    let knn = &artifact["knn"];
    assert_eq!(u64_at(knn, "/k"), 3, "{knn}");
    assert_eq!(knn["method"], "bm25");
    assert_eq!(knn["input_keys"], serde_json::json!(["question"]));
    assert_eq!(knn["trainset"].as_array().unwrap().len(), 40);

    let text = lmc(&dir, &["inspect", "artifact", path(&out)]).ok().to_string();
    assert!(text.contains("the 3 nearest of 40 training examples by bm25 over question"), "{text}");

    let run = dir.join("run");
    let args = ["eval", SPEC, "--lm", "sim", "--limit", EVAL_LIMIT, "--artifact", path(&out), "--out", path(&run)];
    lmc(&dir, &args).ok();
    let plain = eval_json(&dir, &["--no-artifact"]);
    let report = read_json(&run.join("report.json"));
    assert_eq!(report["provenance"]["artifact"], path(&out));
    assert!(f64_at(&report, "/score") > f64_at(&plain, "/score"), "knn {report} vs as written {plain}");
    // Every prompt holds 3 demos (a user and an assistant turn each), not the same 3 for all.
    let examples: Vec<Value> = std::fs::read_to_string(run.join("examples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut demo_sets = std::collections::BTreeSet::new();
    for example in &examples {
        let messages = example["trace"][0]["request"]["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1 + 2 * 3 + 1, "system, 3 demos, the question: {example}");
        demo_sets.insert(messages[1..7].iter().map(|m| m["content"].as_str().unwrap()).collect::<Vec<_>>().join("\n"));
    }
    assert!(demo_sets.len() > 1, "the demos follow the input");
}

#[test]
fn labeled_takes_k_training_examples_without_calling_the_teacher() {
    let dir = scratch("labeled");
    let out = dir.join("a.json");
    let summary = compile(&dir, &out, &["--optimizer", "labeled", "--k", "5", "--json"]).json();
    assert_eq!(summary["optimizer"], "labeled");
    // Only the final scoring calls the LM: the program as written and the compiled one, once
    // per validation example.
    assert_eq!(u64_at(&summary, "/compile_cost/calls"), 2 * 20, "{summary}");
    let artifact = read_json(&out);
    assert_eq!(artifact["predictors"][0]["demos"].as_array().unwrap().len(), 5);
}

/// A copy of `evals/gsm8k.toml` in `dir` with absolute paths, no artifact, and `extra` at the
/// end.
fn scratch_spec(dir: &Path, extra: &str) -> PathBuf {
    let root = repo().canonicalize().unwrap();
    let root = root.display();
    let text = format!(
        "program = \"{root}/programs/math_qa.toml\"\n\n\
         [data]\n\
         train = {{ path = \"{root}/datasets/gsm8k/train.jsonl\" }}\n\
         dev = {{ path = \"{root}/datasets/gsm8k/dev.jsonl\" }}\n\
         test = {{ path = \"{root}/datasets/gsm8k/test.jsonl\" }}\n\
         inputs = [\"question\"]\n\
         labels = {{ answer = \"answer\" }}\n\n\
         [metric]\n\
         name = \"numeric\"\n\
         field = \"answer\"\n\n\
         {extra}"
    );
    let path = dir.join("task.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn usage_errors_exit_2_naming_the_problem() {
    let dir = scratch("errors");

    let err = lmc(&dir, &["compile", "--lm", "sim", "--out", path(&dir.join("x.json"))]).usage_error().to_string();
    assert!(err.contains("give a task spec (lmc compile evals/TASK.toml) or --program"), "{err}");

    // An unknown optimizer in the spec, reported before any LM is configured (no key is set).
    let spec = scratch_spec(&dir, "[compile]\noptimizer = \"genetic\"\n");
    for lm in ["sim", "openai/gpt-4o-mini"] {
        let err = lmc(&dir, &["compile", path(&spec), "--lm", lm, "--out", path(&dir.join("x.json"))])
            .usage_error()
            .to_string();
        assert!(err.contains(path(&spec)), "names the spec: {err}");
        assert!(err.contains("optimizer = \"genetic\" is not known"), "{err}");
        assert!(
            err.contains("labeled, bootstrap, random-search, knn, mipro, gepa, simba or copro"),
            "names the allowed values: {err}"
        );
    }
    // The flag can't be misspelled either.
    let ended = lmc(&dir, &["compile", SPEC, "--lm", "sim", "--optimizer", "genetic", "--out", "x.json"]);
    assert!(ended.usage_error().contains("random-search"), "{}", ended.stderr);

    // The flag form without --out, reported before the missing key.
    let flag_form = ["compile", "--program", "programs/math_qa.toml", "--trainset", "datasets/gsm8k/train.jsonl"];
    let scored = [&flag_form[..], &["--metric", "numeric", "--field", "answer"]].concat();
    for lm in ["sim", "openai/gpt-4o-mini"] {
        let err = lmc(&dir, &[&scored[..], &["--lm", lm]].concat()).usage_error().to_string();
        assert!(err.contains("--out FILE"), "says to pass --out: {err}");
    }
    // ... and without --metric: there is no default metric to score by.
    let err = lmc(&dir, &[&flag_form[..], &["--lm", "sim", "--out", "x.json"]].concat()).usage_error().to_string();
    assert!(err.contains("--metric NAME"), "says to pass --metric: {err}");
    assert!(!dir.join("x.json").exists());

    // Artifacts that cannot be read: each command names the file.
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, "{\"format_version\": 1, \"program\": ").unwrap();
    let missing = dir.join("missing.json");
    let future = dir.join("future.json");
    std::fs::write(&future, "{\"format_version\": 99}").unwrap();
    let input = r#"{"question": "What is 2 + 3?"}"#;
    for (file, why) in [(&corrupt, "invalid artifact"), (&missing, "cannot read the artifact"), (&future, "99")] {
        let eval = ["eval", SPEC, "--lm", "sim", "--limit", "3", "--artifact", path(file)];
        let run = ["run", "--program", "programs/math_qa.toml", "--lm", "sim", "--world", "datasets/gsm8k/train.jsonl"];
        let run = [&run[..], &["--input", input, "--artifact", path(file)]].concat();
        let inspect = ["inspect", "artifact", path(file)];
        for args in [&eval[..], &run[..], &inspect[..]] {
            let ended = lmc(&dir, args);
            let err = ended.usage_error();
            assert!(err.contains(path(file)) && err.contains(why), "`{}`: {err}", ended.label);
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
    }
    // The reason is said once, not once per layer of the error.
    let err = lmc(&dir, &["inspect", "artifact", path(&missing)]).stderr;
    assert_eq!(err.matches("os error").count(), 1, "{err}");

    // --artifact and --no-artifact together.
    let ended = lmc(&dir, &["eval", SPEC, "--lm", "sim", "--artifact", path(&missing), "--no-artifact"]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
}

#[test]
fn objective_and_pick_mistakes_exit_2_before_anything_runs() {
    let dir = scratch("objective-errors");
    let out = dir.join("x.json");
    // No key is set: anything that reached the model would fail differently.
    let run = |extra: &[&str]| {
        let mut args = vec!["compile", SPEC, "--lm", "openai/gpt-4o-mini", "--out", path(&out)];
        args.extend(extra);
        lmc(&dir, &args)
    };
    let err = run(&["--objective", "score-cost"]).usage_error().to_string();
    assert!(err.contains("--objective score-cost needs --lambda"), "{err}");
    let err = run(&["--lambda", "5"]).usage_error().to_string();
    assert!(err.contains("--lambda applies to --objective score-cost only"), "{err}");
    let err = run(&["--objective", "score-cost", "--lambda=-1"]).usage_error().to_string();
    assert!(err.contains("lambda must be a finite number ≥ 0"), "{err}");
    let err = run(&["--pick", "0"]).usage_error().to_string();
    assert!(err.contains("--pick counts from 1"), "{err}");
    let ended = run(&["--objective", "cost"]);
    assert!(ended.usage_error().contains("score-cost"), "names the allowed values: {}", ended.stderr);

    // The spec's [compile] keys, checked the same way.
    for (extra, says) in [
        ("[compile]\nobjective = \"cheap\"\n", "objective = \"cheap\" is not known; use score or score-cost"),
        ("[compile]\nobjective = \"score-cost\"\n", "needs --lambda"),
        ("[compile]\nlambda = 3.0\n", "lambda applies to objective = \"score-cost\" only"),
    ] {
        let spec = scratch_spec(&dir, extra);
        let err = lmc(&dir, &["compile", path(&spec), "--lm", "openai/gpt-4o-mini", "--out", path(&out)])
            .usage_error()
            .to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
    assert!(!out.exists());
}

/// Starts `lmc sim-server` over the GSM8K train and dev splits on a free port; the server and
/// its base URL. Through it, `--lm vllm/sim` with a `--prices` file that prices `vllm/*` gives
/// the simulator's replies a cost (the in-process `--lm sim` is always free).
fn priced_sim_server(dir: &Path) -> (Killed, String, PathBuf) {
    use std::io::{BufRead, BufReader};
    let mut world = String::new();
    for split in ["train", "dev"] {
        world.push_str(&std::fs::read_to_string(repo().join(format!("datasets/gsm8k/{split}.jsonl"))).unwrap());
    }
    let world_file = dir.join("math_qa.jsonl");
    std::fs::write(&world_file, world).unwrap();
    let prices = dir.join("prices.toml");
    std::fs::write(&prices, "[models.\"vllm/*\"]\ninput = 1.0\noutput = 2.0\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(["sim-server", "--world", path(&world_file), "--port", "0", "--answer-field", "answer"]);
    cmd.current_dir(repo()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    common::clean_lm_env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep reading so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server printed no URL").unwrap().unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    (server, url, prices)
}

#[test]
fn the_report_shows_the_pareto_front_and_pick_writes_its_cheapest_member() {
    let dir = scratch("pareto");
    let (_server, url, prices) = priced_sim_server(&dir);
    let priced = |out: &Path, extra: &[&str]| {
        let mut args = vec!["compile", SPEC, "--lm", "vllm/sim", "--base-url", &url, "--prices", path(&prices)];
        args.extend(["--out", path(out), "--optimizer", "random-search", "--num-candidates", "1"]);
        args.extend(LIMITS);
        args.extend(extra);
        lmc(&dir, &args)
    };

    // By score: the front is the program as written (cheapest) and a candidate with demos.
    let chosen_out = dir.join("chosen.json");
    let text = priced(&chosen_out, &[]).ok().to_string();
    let header =
        text.lines().position(|l| l.trim_start().starts_with("pareto front ")).unwrap_or_else(|| panic!("{text}"));
    let rows: Vec<&str> = text.lines().skip(header + 1).take_while(|l| !l.is_empty()).collect();
    assert!(rows.len() >= 2, "{text}");
    assert!(rows[0].trim_start().starts_with("1. program as written "), "{text}");
    assert!(rows.iter().filter(|r| r.ends_with("← chosen · written")).count() == 1, "{text}");
    let summary = priced(&dir.join("chosen2.json"), &["--json"]).json();
    let front = summary["pareto"].as_array().unwrap();
    assert_eq!(front.len(), rows.len(), "{summary}");
    let costs: Vec<f64> = front.iter().map(|e| f64_at(e, "/cost_per_example_usd")).collect();
    assert!(costs[0] > 0.0, "priced: {summary}");
    assert!(costs.windows(2).all(|w| w[0] < w[1]), "cheapest first: {summary}");
    let cheapest = summary["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| f64_at(e, "/cost_per_example"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(costs[0], cheapest, "{summary}");
    assert_eq!(front[0]["as_written"], true);
    assert_eq!(summary["objective"]["kind"], "score");
    assert_eq!(summary["picked"], Value::Null);
    let chosen_artifact = read_json(&chosen_out);
    assert!(!chosen_artifact["predictors"][0]["demos"].as_array().unwrap().is_empty());
    assert!(chosen_artifact["provenance"].get("picked").is_none(), "absent unless picked");

    // --pick 1: the cheapest member is written, and the artifact says so.
    let picked_out = dir.join("picked.json");
    let summary = priced(&picked_out, &["--pick", "1", "--json"]).json();
    assert_eq!(u64_at(&summary, "/picked/n"), 1, "{summary}");
    assert_eq!(summary["pareto"][0]["written"], true, "{summary}");
    assert_eq!(summary["pareto"][0]["chosen"], false, "{summary}");
    let artifact = read_json(&picked_out);
    assert!(artifact["predictors"][0]["demos"].as_array().unwrap().is_empty(), "the program as written: {artifact}");
    let picked = &artifact["provenance"]["picked"];
    assert_eq!(u64_at(picked, "/n"), 1);
    assert_eq!(u64_at(picked, "/front"), front.len() as u64);
    assert_eq!(picked["label"], "program as written");
    assert_eq!(f64_at(&artifact, "/provenance/scores/compiled"), f64_at(&summary, "/pareto/0/score"));
    let text = priced(&dir.join("picked2.json"), &["--pick", "1"]).ok().to_string();
    assert!(text.contains("--pick 1: wrote program as written instead of the chosen candidate"), "{text}");

    // Score-cost with a big λ: the cheapest is the objective's own choice.
    let cheap_out = dir.join("cheap.json");
    let summary = priced(&cheap_out, &["--objective", "score-cost", "--lambda", "10000", "--json"]).json();
    assert_eq!(summary["pareto"][0]["chosen"], true, "{summary}");
    assert_eq!(summary["objective"], serde_json::json!({"kind": "score-cost", "lambda": 10000.0}));
    let artifact = read_json(&cheap_out);
    assert!(artifact["predictors"][0]["demos"].as_array().unwrap().is_empty(), "{artifact}");
    assert_eq!(artifact["provenance"]["objective"]["kind"], "score-cost");
    // ... and from the spec's [compile].
    let spec = scratch_spec(&dir, "[compile]\nobjective = \"score-cost\"\nlambda = 10000.0\n");
    let mut args = vec!["compile", path(&spec), "--lm", "vllm/sim", "--base-url", &url, "--prices", path(&prices)];
    let from_spec = dir.join("spec.json");
    args.extend(["--out", path(&from_spec), "--optimizer", "random-search", "--num-candidates", "1", "--json"]);
    args.extend(LIMITS);
    let summary = lmc(&dir, &args).json();
    assert_eq!(summary["objective"]["lambda"], 10000.0, "{summary}");
    assert_eq!(read_json(&from_spec)["predictors"], artifact["predictors"]);

    // Out of range: the front's size, and nothing written.
    let none = dir.join("none.json");
    let n = (front.len() + 1).to_string();
    let err = priced(&none, &["--pick", &n]).usage_error().to_string();
    let says = format!("it has {} candidates, numbered 1 to {}; no artifact was written", front.len(), front.len());
    assert!(err.contains(&says), "{err}");
    assert!(!none.exists());
}

// --- checkpoints and --resume ------------------------------------------------------------------

/// [`lmc`] with `LMC_TEST_STOP_AFTER_TRIALS=n` (the test hook that stops a compile after n
/// trials, as Ctrl-C would but at a deterministic point).
fn lmc_stopped_after(dir: &Path, trials: usize, args: &[&str]) -> Ended {
    let n = trials.to_string();
    let (out, err) = (dir.join(format!("stopped{n}.out")), dir.join(format!("stopped{n}.err")));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(repo()).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite")).env("LMC_TEST_STOP_AFTER_TRIALS", &n);
    let child =
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap()).spawn().unwrap();
    let mut child = Killed(child);
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "`lmc {}` hung", args.join(" "));
        std::thread::sleep(Duration::from_millis(5));
    };
    Ended {
        label: format!("LMC_TEST_STOP_AFTER_TRIALS={n} lmc {}", args.join(" ")),
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// The `resume with: lmc ...` line of an interrupted compile, as arguments (none is quoted:
/// the scratch paths have no spaces).
fn resume_command(stopped: &Ended) -> Vec<String> {
    let line = stopped.stderr.lines().find_map(|l| l.strip_prefix("resume with: ")).unwrap_or_else(|| {
        panic!("`{}` does not say how to resume:\n{}", stopped.label, stopped.stderr);
    });
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    assert_eq!(words[0], "lmc", "{line}");
    words[1..].to_vec()
}

#[test]
fn a_compile_stopped_after_two_trials_resumes_to_the_uninterrupted_artifact() {
    let dir = scratch("resume");
    let search = ["--optimizer", "random-search", "--num-candidates", "2", "--json"];
    let whole_out = dir.join("whole.json");
    let whole_dir = dir.join("whole-run");
    let whole = compile(&dir, &whole_out, &[&search[..], &["--run-dir", path(&whole_dir)]].concat()).json();
    assert_eq!(whole["run_dir"]["resumed"], false);
    let all = u64_at(&whole, "/run_dir/new");
    assert_eq!(u64_at(&whole, "/run_dir/saved"), all);

    // Stopped after two of five trials: exit 130, nothing written, how to resume said.
    let out = dir.join("a.json");
    let mut args = vec!["compile", SPEC, "--lm", "sim", "--out", path(&out)];
    args.extend(LIMITS);
    args.extend(search);
    let stopped = lmc_stopped_after(&dir, 2, &args);
    assert_eq!(stopped.code, Some(130), "{}\n{}", stopped.stdout, stopped.stderr);
    assert!(stopped.stderr.contains("interrupted after 2 trial(s); "), "{}", stopped.stderr);
    assert!(stopped.stdout.is_empty() && !out.exists(), "{}", stopped.stdout);
    let resume = resume_command(&stopped);
    let run_dir = PathBuf::from(resume.last().unwrap());
    assert!(run_dir.starts_with(dir.join("runs")), "the default run directory is beside the LM cache: {run_dir:?}");
    assert!(run_dir.file_name().unwrap().to_str().unwrap().starts_with("compile-math_qa-"), "{run_dir:?}");
    let state = read_json(&run_dir.join("state.json"));
    assert_eq!((u64_at(&state, "/trials"), state["finished"].clone()), (2, Value::Bool(false)), "{state}");
    let saved = u64_at(&state, "/requests");
    assert!(saved > 0 && saved < all, "{saved} of {all}");

    // The printed command resumes it: the uninterrupted artifact, byte for byte, and the two
    // runs together send exactly the requests one run sends (none twice).
    let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
    let resumed = lmc(&dir, &resume);
    assert!(resumed.stderr.contains("resuming the compile in "), "{}", resumed.stderr);
    let summary = resumed.json();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&whole_out).unwrap(), "the artifacts differ");
    assert_eq!(summary["run_dir"]["resumed"], true);
    assert!(u64_at(&summary, "/run_dir/replayed") >= saved, "{summary}");
    assert_eq!(saved + u64_at(&summary, "/run_dir/new"), all, "{summary}");
    assert_eq!(u64_at(&summary, "/run_dir/saved"), all);
    assert_eq!(summary["compile_cost"], whole["compile_cost"], "budgets and costs count replayed calls");
    let state = read_json(&run_dir.join("state.json"));
    assert_eq!((u64_at(&state, "/trials"), state["finished"].clone()), (5, Value::Bool(true)), "{state}");
}

#[test]
fn a_rerun_continues_an_interrupted_compile_and_resume_refuses_another() {
    let dir = scratch("rerun");
    let out = dir.join("a.json");
    let mut args = vec!["compile", SPEC, "--lm", "sim", "--out", path(&out)];
    args.extend(LIMITS);
    args.extend(["--optimizer", "random-search", "--num-candidates", "1"]);
    let stopped = lmc_stopped_after(&dir, 1, &args);
    assert_eq!(stopped.code, Some(130), "{}", stopped.stderr);
    let run_dir = resume_command(&stopped).last().unwrap().clone();

    // The same command again continues it and says so in the report.
    let text = lmc(&dir, &args).ok().to_string();
    let line = text.lines().rev().nth(1).unwrap();
    assert!(line.starts_with(&format!("resumed from {run_dir}: ")), "{text}");
    assert!(line.ends_with(" new") && line.contains(" LM requests replayed from the run directory, "), "{line}");
    assert_eq!(text.lines().last().unwrap(), format!("wrote {}", out.display()));
    // Once finished, the same command starts over; --fresh always does.
    let again = lmc(&dir, &args).ok().to_string();
    assert!(again.contains(&format!("run directory: {run_dir} (")), "{again}");
    let fresh = lmc(&dir, &[&args[..], &["--fresh"]].concat()).ok().to_string();
    assert!(fresh.contains(&format!("run directory: {run_dir} (")), "{fresh}");

    // --resume with other settings: exit 2, naming what differs.
    let other = [&args[..], &["--seed", "1", "--resume", &run_dir]].concat();
    let err = lmc(&dir, &other).usage_error().to_string();
    assert!(err.contains("holds a different compile (seed: 0 then, 1 now)"), "{err}");
    let other = [&args[..], &["--max-bootstrapped-demos", "2", "--resume", &run_dir]].concat();
    let err = lmc(&dir, &other).usage_error().to_string();
    assert!(err.contains("config.max_bootstrapped_demos: 4 then, 2 now"), "{err}");
    // ... and a directory with no compile in it.
    let empty = dir.join("empty");
    let err = lmc(&dir, &[&args[..], &["--resume", path(&empty)]].concat()).usage_error().to_string();
    assert!(err.contains("nothing to resume"), "{err}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_compile_that_resume_finishes_with_the_uninterrupted_artifact() {
    let dir = scratch("ctrl-c");
    let mut args = vec!["compile", SPEC, "--lm", "sim", "--optimizer", "random-search", "--num-candidates", "6"];
    args.extend(["--limit-train", "100", "--limit-val", "50"]);
    let whole = dir.join("whole.json");
    lmc(&dir, &[&args[..], &["--out", path(&whole), "--run-dir", path(&dir.join("whole-run"))]].concat()).ok();

    // SIGINT once the first trial is checkpointed, while the other eight are still to come.
    let (out, run_dir) = (dir.join("a.json"), dir.join("run"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(&args).args(["--out", path(&out), "--run-dir", path(&run_dir), "--json"]);
    cmd.current_dir(repo()).stdin(Stdio::null()).stdout(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite")).stderr(std::fs::File::create(dir.join("ctrl-c.err")).unwrap());
    let mut child = Killed(cmd.spawn().unwrap());
    let deadline = Instant::now() + DEADLINE;
    let trials = || {
        let text = std::fs::read_to_string(run_dir.join("state.json")).unwrap_or_default();
        serde_json::from_str::<Value>(&text).ok().and_then(|s| s["trials"].as_u64()).unwrap_or(0)
    };
    while trials() < 1 {
        assert!(Instant::now() < deadline && child.0.try_wait().unwrap().is_none(), "no trial was checkpointed");
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.0.wait().unwrap();
    let stderr = std::fs::read_to_string(dir.join("ctrl-c.err")).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted after ") && stderr.contains(&format!("--resume {}", path(&run_dir))),
        "{stderr}"
    );
    assert!(!out.exists());
    let state = read_json(&run_dir.join("state.json"));
    assert!(u64_at(&state, "/trials") < 9 && state["finished"] == false, "Ctrl-C came too late: {state}");

    let summary = lmc(&dir, &[&args[..], &["--out", path(&out), "--resume", path(&run_dir), "--json"]].concat()).json();
    assert_eq!(summary["run_dir"]["resumed"], true);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&whole).unwrap(), "the artifacts differ");
}

#[test]
fn mipro_proposes_instructions_and_zero_shot_mode_adds_no_demos() {
    let dir = scratch("mipro");
    let out = dir.join("mipro.json");
    let search = ["--optimizer", "mipro", "--num-trials", "6", "--minibatch-size", "10", "--json"];
    let summary: Value = serde_json::from_str(compile(&dir, &out, &search).ok()).unwrap();
    assert!(u64_at(&summary, "/compile_cost/proposer/calls") > 0, "{summary}");
    assert!(f64_at(&summary, "/compiled/score") >= f64_at(&summary, "/baseline/score"), "{summary}");
    let artifact = read_json(&out);
    assert_eq!(artifact["provenance"]["optimizer"], "mipro");

    let zero = dir.join("zero.json");
    let flags = [&search[..], &["--max-bootstrapped-demos", "0", "--max-labeled-demos", "0"]].concat();
    compile(&dir, &zero, &flags).ok();
    let artifact = read_json(&zero);
    for predictor in artifact["predictors"].as_array().unwrap() {
        assert_eq!(predictor["demos"].as_array().unwrap().len(), 0, "zero-shot mode adds no demos");
    }

    // A dry run plans the trials and the proposer's calls.
    let plan = lmc(&dir, &["compile", SPEC, "--optimizer", "mipro", "--dry-run"]);
    assert!(plan.ok().contains("trials on 35 of 100 validation examples"), "{}", plan.stdout);
}

#[test]
fn gepa_refines_a_bootstrapped_artifact_and_says_where_it_started() {
    let dir = scratch("gepa");
    let boot = dir.join("boot.json");
    compile(&dir, &boot, &[]).ok();
    let out = dir.join("gepa.json");
    let extra = ["--optimizer", "gepa", "--max-metric-calls", "150", "--start-from", path(&boot)];
    let text = compile(&dir, &out, &extra).ok().to_string();
    assert!(text.starts_with("compiled math_qa with gepa (seed 0)"), "{text}");
    assert!(text.contains(&format!("started from {}", boot.display())), "{text}");
    // The program as written is the bootstrapped one: its demos are kept.
    let artifact = read_json(&out);
    let boot_demos = read_json(&boot)["predictors"][0]["demos"].clone();
    assert_eq!(artifact["predictors"][0]["demos"], boot_demos);
    assert!(artifact["provenance"]["start_from"].as_str().unwrap().contains("sha256"), "{artifact}");
    assert_eq!(artifact["provenance"]["optimizer"], "gepa");
    assert!(f64_at(&artifact, "/provenance/scores/compiled") >= f64_at(&artifact, "/provenance/scores/baseline"));
    // Reflection calls are counted apart.
    assert!(u64_at(&artifact, "/provenance/compile_cost/proposer/calls") > 0, "{artifact}");

    let err = compile(&dir, &out, &["--optimizer", "gepa", "--auto", "off"]).usage_error().to_string();
    assert!(err.contains("--max-metric-calls"), "{err}");
}

#[test]
fn simba_and_copro_compile_on_the_simulator() {
    let dir = scratch("simba-copro");
    for (optimizer, extra) in [
        ("simba", &["--max-steps", "2", "--minibatch-size", "8"][..]),
        ("copro", &["--breadth", "3", "--depth", "2"][..]),
    ] {
        let out = dir.join(format!("{optimizer}.json"));
        let args = [&["--optimizer", optimizer][..], extra].concat();
        let text = compile(&dir, &out, &args).ok().to_string();
        assert!(text.starts_with(&format!("compiled math_qa with {optimizer} (seed 0)")), "{text}");
        assert!(table_score(&text, "compiled") >= table_score(&text, "program as written"), "{text}");
        assert_eq!(read_json(&out)["provenance"]["optimizer"], optimizer);
    }
}
