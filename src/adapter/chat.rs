//! `ChatAdapter`: DSPy's default `[[ ## field ## ]]` format.

use serde_json::Value;

use super::coerce::coerce_text;
use super::error::{ParseError, ParseProblem};
use super::pyfmt::{py_splitlines, py_strip};
use super::render::{self, join_blocks};
use super::{assemble, Adapter, AdapterKind, Layout};
use crate::data::{Example, Fields};
use crate::prompt::Prompt;
use crate::signature::{FieldRole, Signature};

/// DSPy's default adapter: each field in its own `[[ ## name ## ]]` section, ending with
/// `[[ ## completed ## ]]`.
///
/// ```
/// use lmc::{Adapter, ChatAdapter, Signature};
/// use serde_json::json;
///
/// let sig = Signature::parse("question -> answer: int")?;
/// let inputs = json!({"question": "2+2?"}).as_object().unwrap().clone();
/// let prompt = ChatAdapter.format(&sig, &[], &inputs);
/// assert!(prompt.messages[1].content.starts_with("[[ ## question ## ]]\n2+2?"));
///
/// let parsed = ChatAdapter.parse(&sig, "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]")?;
/// assert_eq!(parsed["answer"], 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatAdapter;

impl Layout for ChatAdapter {
    fn system_message<'s>(&self, sig: &'s Signature) -> &'s str {
        sig.rendered().chat_system.get_or_init(|| render::system_message(sig, &field_structure(sig)))
    }

    fn output_requirements(&self, sig: &Signature) -> String {
        let fields: Vec<String> =
            sig.outputs().iter().map(|f| format!("`[[ ## {} ## ]]`{}", f.name, render::python_type_hint(f))).collect();
        format!(
            "Respond with the corresponding output fields, starting with the field {}, and then ending with the marker for `[[ ## completed ## ]]`.",
            fields.join(", then ")
        )
    }

    fn assistant_message(&self, sig: &Signature, outputs: &Fields, missing: &str) -> String {
        let missing = Value::String(missing.to_string());
        let mut out = String::with_capacity(128);
        for (i, f) in sig.outputs().iter().enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            render::write_section(&mut out, f, outputs.get(&f.name).unwrap_or(&missing));
        }
        render::strip_in_place(&mut out);
        out.push_str("\n\n[[ ## completed ## ]]\n");
        out
    }
}

/// The `[[ ## field ## ]]` skeleton of the system message.
fn field_structure(sig: &Signature) -> String {
    let section = |fields: &[crate::signature::Field], role| {
        let blocks: Vec<String> =
            fields.iter().map(|f| format!("[[ ## {} ## ]]\n{}", f.name, render::field_placeholder(f, role))).collect();
        join_blocks(&blocks)
    };
    join_blocks(&[
        render::STRUCTURE_HEADER.to_string(),
        section(sig.inputs(), FieldRole::Input),
        section(sig.outputs(), FieldRole::Output),
        "[[ ## completed ## ]]\n".to_string(),
    ])
}

impl Adapter for ChatAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Chat
    }

    fn format(&self, sig: &Signature, demos: &[Example], inputs: &Fields) -> Prompt {
        Prompt { messages: assemble(self, sig, demos, inputs), response_format: None }
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Fields, ParseError> {
        let sections = split_sections(completion);
        let mut fields = Fields::new();
        let mut problems = Vec::new();
        for field in sig.outputs() {
            // The first section with a field's header wins, as in DSPy.
            let Some((_, text)) = sections.iter().find(|(name, _)| *name == Some(field.name.as_str())) else {
                if field.ty.allows_none() {
                    fields.insert(field.name.clone(), Value::Null);
                } else {
                    problems.push(ParseProblem::Missing { field: field.name.clone() });
                }
                continue;
            };
            match coerce_text(text, &field.ty) {
                Ok(value) => {
                    fields.insert(field.name.clone(), value);
                }
                Err(expected) => problems.push(ParseProblem::invalid(&field.name, expected, text)),
            }
        }
        if problems.is_empty() {
            Ok(fields)
        } else {
            Err(ParseError::new(AdapterKind::Chat, problems, completion, fields))
        }
    }
}

/// Splits a reply into `(header, text)` sections at lines that start with
/// `[[ ## name ## ]]`; text before the first header has no name. Text after a header on the
/// same line belongs to that section. Section texts are stripped.
fn split_sections(completion: &str) -> Vec<(Option<&str>, String)> {
    let mut sections: Vec<(Option<&str>, Vec<&str>)> = vec![(None, Vec::new())];
    for line in py_splitlines(completion) {
        let stripped = py_strip(line);
        match header(stripped) {
            Some((name, rest)) => {
                let rest = py_strip(rest);
                sections.push((Some(name), if rest.is_empty() { Vec::new() } else { vec![rest] }));
            }
            None => {
                if let Some(last) = sections.last_mut() {
                    last.1.push(line);
                }
            }
        }
    }
    sections.into_iter().map(|(name, lines)| (name, py_strip(&lines.join("\n")).to_string())).collect()
}

/// Matches `[[ ## name ## ]]` at the start of `line` (name: word characters), returning the
/// name and the rest of the line.
fn header(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("[[ ## ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let (name, tail) = rest.split_at(end);
    let tail = tail.strip_prefix(" ## ]]")?;
    Some((name, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_the_exact_marker() {
        assert_eq!(header("[[ ## answer ## ]] tail"), Some(("answer", " tail")));
        assert_eq!(header("[[ ## answer ##]]"), None);
        assert_eq!(header("[[ ##  ## ]]"), None);
        assert_eq!(header("x [[ ## answer ## ]]"), None);
    }
}
