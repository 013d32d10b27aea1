//! Reading JSON inputs given on the command line.

use anyhow::{bail, Context};
use lmc::Fields;
use serde_json::Value;

pub(crate) use lmc::data::dataset::json_kind as kind_of;

/// `text` as a JSON object; `what` names the flag or file in errors.
pub(crate) fn json_object(text: &str, what: &str) -> anyhow::Result<Fields> {
    let value: Value = serde_json::from_str(text).with_context(|| format!("{what} is not valid JSON"))?;
    match value {
        Value::Object(map) => Ok(map),
        other => bail!("{what} must be a JSON object like {{\"question\": \"...\"}}, found {}", kind_of(&other)),
    }
}

/// `--input`: a JSON object, or `@FILE` holding one.
pub(crate) fn inputs(arg: &str) -> anyhow::Result<Fields> {
    match arg.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --input file {path}"))?;
            json_object(&text, &format!("--input file {path}"))
        }
        None => json_object(arg, "--input"),
    }
}
