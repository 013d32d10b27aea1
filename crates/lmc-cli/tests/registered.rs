//! Rust programs registered by name (`lmc_cli::run_with`): the facility example's two-step
//! pipeline compiles, evaluates and gates in-process like a TOML program, and an unknown
//! registered name is an error that lists the registered ones.

#![allow(clippy::unwrap_used)]

mod common;

#[allow(dead_code)]
#[path = "../examples/facility.rs"]
mod facility;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

/// The example's binary, in-process, with its cache in `dir`.
fn facility(dir: &Path, args: &[&str]) -> ExitCode {
    let cache = dir.join("cache.sqlite");
    let mut argv: Vec<String> = vec!["lmc".into()];
    argv.extend(args.iter().map(|a| a.to_string()));
    if !matches!(args.first(), Some(&"inspect")) {
        argv.extend(["--cache-path".into(), cache.display().to_string()]);
    }
    lmc_cli::run_with(facility::registry(), argv)
}

/// `evals/facility.toml` in `dir`, over the repository's data, with its artifact and baseline
/// beside it.
fn spec(dir: &Path) -> PathBuf {
    let repo = common::repo().canonicalize().unwrap();
    let text = std::fs::read_to_string(repo.join("evals/facility.toml"))
        .unwrap()
        .replace("../datasets/", &format!("{}/datasets/", repo.display()))
        .replace("../programs/facility_triage.compiled.json", &dir.join("compiled.json").display().to_string())
        .replace("../baselines/facility.json", &dir.join("baseline.json").display().to_string());
    let path = dir.join("facility.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn score(run_dir: &Path) -> f64 {
    let report: Value = serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap()).unwrap();
    report["score"]["mean"].as_f64().or_else(|| report["score"].as_f64()).unwrap()
}

#[test]
fn registered_program_compiles_evaluates_and_gates() {
    let dir = common::scratch("registered", "e2e");
    let spec = spec(&dir);
    let s = spec.to_str().unwrap();
    let run_dir = dir.join("compile-run");
    let code = facility(&dir, &["compile", s, "--lm", "sim", "--json", "--run-dir", run_dir.to_str().unwrap()]);
    assert_eq!(code, ExitCode::SUCCESS);
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("compiled.json")).unwrap()).unwrap();
    assert_eq!(artifact["program"], "facility_triage");
    let predictors: Vec<&str> =
        artifact["predictors"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(predictors, ["extract", "classify"]);
    assert!(artifact["predictors"][1]["demos"].as_array().is_some_and(|d| !d.is_empty()), "{artifact}");

    // The compiled program beats the program as written on the test split.
    let (written, compiled) = (dir.join("written"), dir.join("compiled"));
    let args = ["eval", s, "--lm", "sim", "--json", "--out"];
    assert_eq!(facility(&dir, &[&args[..], &[written.to_str().unwrap(), "--no-artifact"]].concat()), ExitCode::SUCCESS);
    assert_eq!(facility(&dir, &[&args[..], &[compiled.to_str().unwrap()]].concat()), ExitCode::SUCCESS);
    assert!(score(&compiled) > score(&written), "{} vs {}", score(&compiled), score(&written));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(compiled.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["provenance"]["program"], "facility_triage");
    assert!(report["provenance"]["program_hash"].as_str().is_some_and(|h| h.len() == 64), "{report}");

    // Bless, pass, and fail when the demos are dropped.
    assert_eq!(facility(&dir, &["gate", s, "--lm", "sim", "--bless", "--json"]), ExitCode::SUCCESS);
    assert!(dir.join("baseline.json").exists());
    assert_eq!(facility(&dir, &["gate", s, "--lm", "sim", "--json"]), ExitCode::SUCCESS);
    assert_eq!(facility(&dir, &["gate", s, "--lm", "sim", "--json", "--no-artifact"]), ExitCode::from(1));
    assert_eq!(facility(&dir, &["inspect", "program", "rust:facility_triage"]), ExitCode::SUCCESS);
}

#[test]
fn unknown_registered_name_is_an_error() {
    let dir = common::scratch("registered", "unknown");
    let text = std::fs::read_to_string(spec(&dir)).unwrap().replace("rust:facility_triage", "rust:nope");
    let path = dir.join("nope.toml");
    std::fs::write(&path, text).unwrap();
    assert_eq!(facility(&dir, &["eval", path.to_str().unwrap(), "--lm", "sim", "--json"]), ExitCode::from(2));
    // The stock binary has no registered programs: the message says how to register one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lmc"))
        .args(["inspect", "program", "rust:facility_triage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Rust program is registered as `facility_triage`") && err.contains("main_with"), "{err}");
}
