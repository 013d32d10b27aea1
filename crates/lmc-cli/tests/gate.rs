//! `lmc gate` and `lmc compare` end to end on the simulator: bless a baseline with a compiled
//! artifact, drop the demos (`--no-artifact`) and the gate exits 1 naming the regression,
//! restore them and it exits 0 (also with the cache replay-only and no key); too few
//! examples, a changed dataset, a missing baseline and broken specs exit 2; the JUnit,
//! Markdown, JSON and `$GITHUB_STEP_SUMMARY` outputs are written.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `lmc` in `dir` with a clean LM environment and its cache in `dir`.
fn lmc(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    common::clean_lm_env(&mut cmd);
    cmd.env_remove("GITHUB_STEP_SUMMARY");
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite"));
    cmd.output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A GSM8K task spec in `dir` over the repository's program and data, with its artifact and
/// baseline beside it; `test_extra` adds settings to the test split.
fn spec(dir: &Path, name: &str, test_extra: &str) -> PathBuf {
    let repo = common::repo().canonicalize().unwrap();
    let r = repo.display();
    let text = format!(
        r#"program = "{r}/programs/math_qa.toml"
artifact = "math_qa.compiled.json"

[lm]
model = "openai/gpt-4o-mini"

[data]
train = {{ path = "{r}/datasets/gsm8k/train.jsonl" }}
test = {{ path = "{r}/datasets/gsm8k/test.jsonl"{test_extra} }}
inputs = ["question"]
labels = {{ answer = "answer" }}

[metric]
name = "numeric"
field = "answer"

[sim]
answer_field = "answer"

[gate]
baseline = "baselines/gsm8k.json"
min_score = 0.5
max_regression = 0.05
min_examples = 50
max_cost_per_example_usd = 0.002
max_error_rate = 0.05
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bless_regress_restore() {
    let dir = common::scratch("gate", "e2e");
    spec(&dir, "task.toml", "");
    // A compiled artifact: four labeled demos (no LM calls).
    let out = lmc(&dir, &["compile", "task.toml", "--lm", "sim", "--optimizer", "labeled", "--k", "4", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(dir.join("math_qa.compiled.json").exists());

    // No baseline yet: cannot judge.
    let out = lmc(&dir, &["gate", "task.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stdout(&out).contains("--bless"), "{}", stdout(&out));

    let out = lmc(&dir, &["gate", "task.toml", "--lm", "sim", "--bless"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("blessed task.toml"), "{}", stdout(&out));
    let baseline: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baselines/gsm8k.json")).unwrap()).unwrap();
    assert_eq!(baseline["format_version"], 1);
    assert_eq!(baseline["provenance"]["split"], "test");
    assert_eq!(baseline["examples"].as_array().unwrap().len(), 200);
    assert!(baseline["provenance"]["artifact_hash"].is_string());

    // The demos dropped: a regression, exit 1, named in every output.
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(["gate", "task.toml", "--lm", "sim", "--no-artifact", "--junit", "gate.xml", "--markdown", "gate.md"])
        .args(["--out", "worse"])
        .current_dir(&dir);
    common::clean_lm_env(&mut cmd);
    cmd.env("LMC_CACHE_PATH", dir.join("cache.sqlite")).env("GITHUB_STEP_SUMMARY", &summary);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("max_regression")).unwrap();
    assert!(line.contains("FAIL") && line.contains("regression"), "{text}");
    assert!(text.lines().any(|l| l.contains("PASS") && l.contains("min_score")), "{text}");
    let junit = std::fs::read_to_string(dir.join("gate.xml")).unwrap();
    assert!(junit.contains("name=\"max_regression\">") && junit.contains("<failure"), "{junit}");
    assert!(junit.contains("score 1.000 → 0.000"), "{junit}");
    let md = std::fs::read_to_string(dir.join("gate.md")).unwrap();
    assert!(md.contains("| `max_regression` | ❌ fail"), "{md}");
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert!(appended.starts_with("earlier step\n") && appended.contains(&md), "{appended}");

    // `lmc compare` of the baseline and the kept run directory.
    let out = lmc(&dir, &["compare", "baselines/gsm8k.json", "worse"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("McNemar exact") && text.contains("regressed ("), "{text}");
    let out = lmc(&dir, &["compare", "baselines/gsm8k.json", "worse", "--json"]);
    let c: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(c["delta"]["mean"].as_f64().unwrap() < -0.05, "{c}");
    assert_eq!(c["paired"], 200);
    assert!(c["mismatches"].as_array().unwrap().is_empty());

    // Restored: exit 0, also replay-only with no key (--json).
    let out = lmc(&dir, &["gate", "task.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = lmc(&dir, &["gate", "task.toml", "--lm", "sim", "--cache-mode", "replay-only", "--json"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let verdicts: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdicts["exit_code"], 0);
    assert_eq!(verdicts["verdicts"][0]["status"], "passed");
    assert_eq!(verdicts["verdicts"][0]["simulated"], true);

    // Too few examples and a changed dataset cannot be judged; several specs exit with the worst.
    let few =
        std::fs::read_to_string(dir.join("task.toml")).unwrap().replace("min_examples = 50", "min_examples = 500");
    std::fs::write(dir.join("few.toml"), few).unwrap();
    let out = lmc(&dir, &["gate", "few.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stdout(&out).contains("fewer than 500"), "{}", stdout(&out));
    spec(&dir, "changed.toml", ", limit = 100");
    let out = lmc(&dir, &["gate", "changed.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stdout(&out).contains("the dataset changed"), "{}", stdout(&out));
    let out = lmc(&dir, &["gate", "task.toml", "few.toml", "--lm", "sim", "--json"]);
    assert_eq!(code(&out), 2);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["verdicts"].as_array().unwrap().len(), 2);
}

#[test]
fn broken_specs_exit_2() {
    let dir = common::scratch("gate", "broken");
    let good = std::fs::read_to_string(spec(&dir, "task.toml", "")).unwrap();
    std::fs::write(dir.join("unknown.toml"), format!("{good}max_regresion = 0.1\n")).unwrap();
    let out = lmc(&dir, &["gate", "unknown.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown field `max_regresion`"), "{}", stderr(&out));
    std::fs::write(dir.join("value.toml"), good.replace("min_score = 0.5", "min_score = 50")).unwrap();
    let out = lmc(&dir, &["gate", "value.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("between 0 and 1"), "{}", stderr(&out));
    let no_gate = &good[..good.find("[gate]").unwrap()];
    std::fs::write(dir.join("nogate.toml"), no_gate).unwrap();
    let out = lmc(&dir, &["gate", "nogate.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no [gate] table"), "{}", stderr(&out));
    let out = lmc(&dir, &["gate", "missing.toml", "--lm", "sim"]);
    assert_eq!(code(&out), 2);
    // A run the gate could not judge (too few examples) is never blessed.
    std::fs::write(dir.join("few.toml"), good.replace("min_examples = 50", "min_examples = 500")).unwrap();
    let out = lmc(&dir, &["gate", "few.toml", "--lm", "sim", "--bless"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stderr(&out).contains("fewer than 500"), "{}", stderr(&out));
    assert!(!dir.join("baselines/gsm8k.json").exists(), "nothing was blessed");
    // Blessing several specs is all or nothing: the good one is not written either.
    let out = lmc(&dir, &["gate", "task.toml", "few.toml", "--lm", "sim", "--bless"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stderr(&out).contains("no baseline was written"), "{}", stderr(&out));
    assert!(!dir.join("baselines/gsm8k.json").exists(), "the first spec's baseline waited for the second");
    let out = lmc(&dir, &["compare", "nothing.json", "nothing-either"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nothing.json"), "{}", stderr(&out));
}
