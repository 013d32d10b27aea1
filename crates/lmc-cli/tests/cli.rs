//! End-to-end tests of the `lmc` binary: output, exit codes and help text.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lmc(args: &[&str]) -> Output {
    lmc_with_stdin(args, "")
}

fn lmc_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lmc"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn inspect_prompt_prints_dspy_messages_for_both_adapters() {
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/parity/shared/golden/typed_int_bool.json")).unwrap(),
    )
    .unwrap();
    for (adapter, key) in [("chat", "chat_adapter"), ("json", "json_adapter")] {
        let out = lmc(&[
            "inspect",
            "prompt",
            "--signature",
            "question: str, tags: list[str] -> answer: int, ok: bool",
            "--instructions",
            "Answer the question with a number and say whether you are confident.",
            "--desc",
            "question=The user's question",
            "--desc",
            "tags=Topic tags for the question",
            "--desc",
            "answer=The numeric answer",
            "--desc",
            "ok=True if you are confident",
            "--input",
            r#"{"question": "How many legs does a spider have?", "tags": ["biology", "animals"]}"#,
            "--adapter",
            adapter,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let printed: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(printed, golden[key]["messages"], "{adapter}");
    }
}

#[test]
fn inspect_prompt_reads_demos_and_program_steps() {
    let dir = std::env::temp_dir().join(format!("lmc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let demos = dir.join("demos.json");
    std::fs::write(&demos, r#"[{"product": "app", "issue": "crash", "category": "technical"}]"#).unwrap();
    let out = lmc(&[
        "inspect",
        "prompt",
        "--program",
        "programs/triage.toml",
        "--step",
        "classify",
        "--demos",
        demos.to_str().unwrap(),
        "--input",
        r#"{"product": "billing page", "issue": "double charge"}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let messages: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let roles: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    // The demo lacks `reasoning`, so it is an incomplete demo: user + assistant turns.
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert!(messages[1]["content"].as_str().unwrap().starts_with("This is an example of the task"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_parse_prints_fields_or_fails_with_exit_2() {
    let sig = "question -> answer: int, ok: bool";
    let good = lmc_with_stdin(
        &["inspect", "parse", "--signature", sig, "--completion", "-"],
        "[[ ## ok ## ]]\nyes\n\n[[ ## answer ## ]]\n 42 \n",
    );
    assert!(good.status.success(), "{}", stderr(&good));
    let parsed: Value = serde_json::from_str(&stdout(&good)).unwrap();
    assert_eq!(parsed, serde_json::json!({"answer": 42, "ok": true}));

    let bad = lmc_with_stdin(
        &["inspect", "parse", "--signature", sig, "--completion", "-"],
        "[[ ## answer ## ]]\nforty-two\n",
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(err.contains("field `answer`: expected an integer") && err.contains("missing field `ok`"), "{err}");

    let json = lmc_with_stdin(
        &["inspect", "parse", "--signature", sig, "--adapter", "json", "--completion", "-"],
        "Here: {\"answer\": \"7\", \"ok\": false}",
    );
    assert!(json.status.success(), "{}", stderr(&json));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&json)).unwrap(), serde_json::json!({"answer": 7, "ok": false}));
}

#[test]
fn chain_of_thought_module_and_its_alias_add_reasoning() {
    for module in ["chain_of_thought", "cot"] {
        let out = lmc_with_stdin(
            &["inspect", "parse", "--signature", "q -> a", "--module", module, "--completion", "-"],
            "[[ ## reasoning ## ]]\nbecause\n\n[[ ## a ## ]]\nyes",
        );
        assert!(out.status.success(), "{module}: {}", stderr(&out));
        assert!(stdout(&out).contains("\"reasoning\": \"because\""));
    }
}

#[test]
fn bad_input_exits_2_with_a_message_that_says_what_to_fix() {
    let cases: &[(&[&str], &str)] = &[
        (&["inspect", "prompt", "--signature", "q: strr -> a", "--input", "{}"], "column 4: unknown type `strr`"),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "[1]"], "must be a JSON object"),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "{\"x\": 1}"], "not inputs of the signature: x"),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "{"], "--input is not valid JSON"),
        (
            &["inspect", "prompt", "--program", "programs/triage.toml", "--step", "nope", "--input", "{}"],
            "no step named `nope`; steps: extract, classify",
        ),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "{}", "--desc", "nope"], "FIELD=TEXT"),
        (
            &["inspect", "prompt", "--signature", "q -> a", "--input", "{}", "--demos", "missing.json"],
            "cannot read demos file missing.json",
        ),
        (&["inspect", "parse", "--signature", "q -> a", "--completion", "missing.txt"], "cannot read completion file"),
        (&["inspect", "program", "missing.toml"], "missing.toml: cannot read the program file"),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "{}", "--bogus"], "unexpected argument '--bogus'"),
        (&["inspect", "prompt", "--signature", "q -> a", "--input", "{}", "--adapter", "xml"], "invalid value 'xml'"),
        (
            &["inspect", "prompt", "--signature", "q -> a", "--step", "s", "--input", "{}"],
            "--step picks a step of --program",
        ),
        (
            &["inspect", "prompt", "--signature", "reasoning -> a", "--module", "cot", "--input", "{}"],
            "already has an input named `reasoning`",
        ),
    ];
    for (args, want) in cases {
        let out = lmc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: want {want:?} in {}", stderr(&out));
    }
}

#[test]
fn inspect_prompt_warns_about_missing_inputs_and_dropped_demos() {
    let dir = std::env::temp_dir().join(format!("lmc-cli-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let demos = dir.join("demos.jsonl");
    std::fs::write(&demos, "{\"question\": \"2+2?\", \"a\": \"4\"}\n{\"q\": \"1+1?\", \"a\": \"2\"}\n").unwrap();
    let out = lmc(&[
        "inspect",
        "prompt",
        "--signature",
        "q, r -> a",
        "--input",
        "{\"q\": \"x\"}",
        "--demos",
        demos.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: input `r` is not given"), "{err}");
    assert!(err.contains("warning: demo 0 is dropped"), "{err}");
    assert!(!err.contains("demo 1 is dropped"), "{err}");
    let messages: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(messages.as_array().unwrap().len(), 4, "the kept demo adds two turns");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_program_summarizes_steps() {
    let out = lmc(&["inspect", "program", "programs/triage.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn help_texts() {
    for args in [
        &["--help"][..],
        &["inspect", "--help"],
        &["inspect", "prompt", "--help"],
        &["inspect", "parse", "--help"],
        &["inspect", "program", "--help"],
        &["inspect", "artifact", "--help"],
        &["compile", "--help"],
        &["gate", "--help"],
        &["compare", "--help"],
    ] {
        let out = lmc(args);
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{}", args[..args.len() - 1].join("_")), stdout(&out));
    }
}
