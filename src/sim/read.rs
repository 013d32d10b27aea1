//! Reading a request the way the simulator needs it: which adapter format, the instructions,
//! the output fields and their types, the inputs of the request and of each demo.
//!
//! It reads lmc's own prompt formats (ChatAdapter and JsonAdapter, which are DSPy's).

use serde_json::Value;

use crate::lm::LmRequest;
use crate::prompt::Role;

/// A field as the system message lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListedField {
    pub(crate) name: String,
    pub(crate) type_name: String,
}

/// One demo: its inputs and outputs as text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Demo {
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) outputs: Vec<(String, String)>,
}

/// What the simulator reads from a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadRequest {
    /// Whether the reply should be a JSON object (JsonAdapter or a response format).
    pub(crate) json: bool,
    pub(crate) instructions: String,
    pub(crate) outputs: Vec<ListedField>,
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) demos: Vec<Demo>,
    /// The current instruction of a GEPA-style reflection prompt (one user message asking
    /// for a new instruction within triple backticks), when the request is one.
    pub(crate) reflection: Option<String>,
}

pub(crate) fn read(request: &LmRequest) -> ReadRequest {
    let system = request.messages.iter().find(|m| m.role == Role::System).map(|m| m.content.as_str()).unwrap_or("");
    let json = request.response_format.is_some() || system.contains("Outputs will be a JSON object");
    let outputs = listed_fields(system, "Your output fields are:");
    let instructions = system
        .split_once("your objective is: ")
        .map(|(_, rest)| rest.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let turns: Vec<_> = request.messages.iter().filter(|m| m.role != Role::System).collect();
    let (last, earlier) = match turns.split_last() {
        Some((last, earlier)) if last.role == Role::User => (Some(*last), earlier),
        _ => (None, &turns[..]),
    };
    let inputs = last.map(|m| sections(without_requirements(&m.content))).unwrap_or_default();
    let mut demos = Vec::new();
    for pair in earlier.chunks(2) {
        if let [user, assistant] = pair {
            if user.role == Role::User && assistant.role == Role::Assistant {
                let outputs = if json { json_fields(&assistant.content) } else { sections(&assistant.content) };
                demos.push(Demo { inputs: sections(&user.content), outputs });
            }
        }
    }
    let reflection = last.and_then(|m| reflection_instruction(&m.content));
    ReadRequest { json, instructions, outputs, inputs, demos, reflection }
}

/// The instruction between the first pair of triple backticks of a reflection prompt: a
/// prompt that starts with DSPy GEPA's opening and asks for the answer in backticks.
fn reflection_instruction(prompt: &str) -> Option<String> {
    if !prompt.starts_with("I provided an assistant with the following instructions")
        || !prompt.contains("Provide the new instructions within ``` blocks")
    {
        return None;
    }
    let (_, rest) = prompt.split_once("```\n")?;
    let (instruction, _) = rest.split_once("\n```")?;
    Some(instruction.to_string())
}

/// The `1. \`name\` (type): ...` lines after `header`.
fn listed_fields(system: &str, header: &str) -> Vec<ListedField> {
    let Some((_, rest)) = system.split_once(header) else { return Vec::new() };
    let mut fields = Vec::new();
    for line in rest.lines().skip(1) {
        let Some(after_num) = line.split_once(". `").filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit())) else {
            break;
        };
        let rest = after_num.1;
        let Some((name, tail)) = rest.split_once("` (") else { break };
        // The type runs to the last `): ` or `):` on the line.
        let type_name = tail.rsplit_once("):").map(|(t, _)| t).unwrap_or(tail).to_string();
        fields.push(ListedField { name: name.to_string(), type_name });
    }
    fields
}

/// The request's user turn without the closing "Respond with ..." reminder, which follows the
/// last input section with no header of its own.
fn without_requirements(text: &str) -> &str {
    ["\n\nRespond with the corresponding output fields", "\n\nRespond with a JSON object"]
        .iter()
        .filter_map(|marker| text.rfind(marker))
        .min()
        .map_or(text, |at| &text[..at])
}

/// `[[ ## name ## ]]` sections of a message, in order, as trimmed text.
pub(crate) fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("[[ ## ").and_then(|r| r.strip_suffix(" ## ]]")) {
            out.push((name.to_string(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line);
        }
    }
    out.into_iter()
        .filter(|(name, _)| name != "completed")
        .map(|(name, lines)| (name, lines.join("\n").trim().to_string()))
        .collect()
}

/// The fields of a JSON-object reply, as text.
fn json_fields(text: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}
