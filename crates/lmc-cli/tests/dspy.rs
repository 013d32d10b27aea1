//! `lmc import-dspy` and `lmc export-dspy` end to end, with the DSPy 3.4.1 fixtures in
//! tests/fixtures/dspy/.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn lmc(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lmc"));
    cmd.args(args).current_dir(common::repo());
    common::clean_lm_env(&mut cmd);
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn import_then_export_gives_back_the_dspy_file() {
    let dir = common::scratch("dspy", "round-trip");
    let artifact = dir.join("math_qa.json");
    let exported = dir.join("math_qa_dspy.json");
    let out = lmc(&[
        "import-dspy",
        "tests/fixtures/dspy/math_qa.json",
        "--program",
        "programs/math_qa.toml",
        "--out",
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("solve <- solve.predict"), "{}", text(&out.stdout));

    // The artifact fits the program and is usable by lmc.
    let out = lmc(&["inspect", "artifact", artifact.to_str().unwrap(), "--program", "programs/math_qa.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("made by dspy-import"), "{}", text(&out.stdout));

    let out = lmc(&["export-dspy", artifact.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (mut got, mut want) = (json(&exported), json(&common::repo().join("tests/fixtures/dspy/math_qa.json")));
    // The metadata names the Python side's versions; the predictor state must match exactly.
    got.as_object_mut().unwrap().remove("metadata");
    want.as_object_mut().unwrap().remove("metadata");
    assert_eq!(got, want);
}

#[test]
fn importing_into_the_wrong_program_fails_and_writes_nothing() {
    let dir = common::scratch("dspy", "wrong-program");
    let artifact = dir.join("x.json");
    let out = lmc(&[
        "import-dspy",
        "tests/fixtures/dspy/math_qa.json",
        "--program",
        "programs/triage.toml",
        "--out",
        artifact.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("solve.predict") && err.contains("extract"), "{err}");
    assert!(!artifact.exists());

    // An lmc artifact is not a DSPy file, and the error says what to do.
    let out = lmc(&["import-dspy", "evals/gsm8k.toml", "--program", "programs/math_qa.toml", "--out", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
}
