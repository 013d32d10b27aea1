//! The gate's JSON: the exit code and every verdict with its checks and comparison.

use serde_json::{json, Value};

use super::checks::{exit_code, Verdict};

/// `{"exit_code", "verdicts": [...]}`.
pub fn render(verdicts: &[Verdict]) -> Value {
    json!({
        "exit_code": exit_code(verdicts),
        "verdicts": verdicts,
    })
}
