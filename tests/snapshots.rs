use std::fs;

use lmc::{Adapter, ChatAdapter, JsonAdapter, Prompt};
use serde_json::Value;

use crate::support::{fields, parity_demos, parity_signature, root};

/// A prompt as reviewers read it: each message under its role.
fn readable(prompt: &Prompt) -> String {
    let mut out = String::new();
    for m in &prompt.messages {
        out.push_str(&format!("--- {} ---\n{}\n", m.role.as_str(), m.content));
    }
    if let Some(format) = &prompt.response_format {
        out.push_str(&format!("--- response_format ---\n{}\n", serde_json::to_string_pretty(format).unwrap()));
    }
    out
}

fn snapshot_dir(dir: &str, prefix: &str) {
    let path = root().join(dir).join("cases.json");
    let cases: Vec<Value> = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let sig = parity_signature(&case);
        let demos = parity_demos(&case);
        let inputs = fields(case["inputs"].clone());
        let chat = readable(&ChatAdapter.format(&sig, &demos, &inputs));
        let json = readable(&JsonAdapter.format(&sig, &demos, &inputs));
        insta::assert_snapshot!(
            format!("{prefix}{id}"),
            format!("=== chat adapter ===\n{chat}\n=== json adapter ===\n{json}")
        );
    }
}

#[test]
fn shared_parity_prompts() {
    snapshot_dir("tests/fixtures/parity/shared", "shared_");
}

#[test]
fn own_parity_prompts() {
    snapshot_dir("tests/fixtures/parity", "");
}
