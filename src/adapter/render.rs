//! Rendering pieces both adapters share, following DSPy 3.4.1's `adapters/utils.py` and
//! `ChatAdapter`.
//!
//! The template sentences below are DSPy's wire format (DSPy is MIT-licensed); the code is
//! ours. Where DSPy builds text with `"\n\n".join(parts).strip()`, so do we, so that the
//! edge cases (empty parts, values with surrounding whitespace) come out the same.

use std::fmt::Write;

use serde_json::Value;

use super::pyfmt::{cleandoc, dedent, json_dumps, py_splitlines, py_str, py_strip};
use crate::data::{Example, Fields};
use crate::signature::{type_first, Field, FieldRole, FieldType, Signature};

/// The sentence that opens the field-structure section of the system message.
pub(super) const STRUCTURE_HEADER: &str =
    "All interactions will be structured in the following way, with the appropriate values filled in.";

/// Prefix of the user turn of a demo that lacks some fields.
pub(super) const INCOMPLETE_DEMO_PREFIX: &str =
    "This is an example of the task, though some input or output fields are not supplied.";

/// Stand-in value for an output an incomplete demo lacks.
pub(super) const MISSING_IN_INCOMPLETE_DEMO: &str = "Not supplied for this particular example. ";

/// Stand-in value for an output a complete demo lacks (cannot happen for complete demos, but
/// it is DSPy's text and costs nothing to keep).
pub(super) const MISSING_IN_COMPLETE_DEMO: &str = "Not supplied for this conversation history message. ";

/// Joins `parts` with a blank line and strips the result, as DSPy's `"\n\n".join(...).strip()`.
pub(super) fn join_blocks<S: AsRef<str>>(parts: &[S]) -> String {
    let total: usize = parts.iter().map(|p| p.as_ref().len() + 2).sum();
    let mut out = String::with_capacity(total);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(part.as_ref());
    }
    strip_in_place(&mut out);
    out
}

/// `1. \`name\` (type): description` for each field, one per line.
pub(super) fn field_descriptions(fields: &[Field]) -> String {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{}. `{}` ({}): {}", i + 1, field.name, field.ty.python_name(), field.description);
    }
    py_strip(&out).to_string()
}

/// The system message's opening: both field lists.
pub(super) fn field_description_section(sig: &Signature) -> String {
    format!(
        "Your input fields are:\n{}\nYour output fields are:\n{}",
        field_descriptions(sig.inputs()),
        field_descriptions(sig.outputs())
    )
}

/// DSPy's system message: field descriptions, the adapter's field structure, the task.
pub(super) fn system_message(sig: &Signature, field_structure: &str) -> String {
    format!("{}\n{}\n{}", field_description_section(sig), field_structure, task_description(sig.instructions()))
}

/// The placeholder for a field in the structure section, with DSPy's type note for
/// outputs: `{answer}        # note: the value you produce must be a single int value`.
pub(super) fn field_placeholder(field: &Field, role: FieldRole) -> String {
    let note = match (&field.ty, role) {
        (_, FieldRole::Input) | (FieldType::Str, _) => None,
        (FieldType::Bool, _) => Some("must be True or False".to_string()),
        (FieldType::Int, _) => Some("must be a single int value".to_string()),
        (FieldType::Float, _) => Some("must be a single float value".to_string()),
        (FieldType::Literal { values }, _) => Some(format!(
            "must exactly match (no extra characters) one of: {}",
            values.iter().map(|v| v.py_str()).collect::<Vec<_>>().join("; ")
        )),
        (ty, _) => Some(format!("must adhere to the JSON schema: {}", json_dumps(&type_first(&ty.json_schema())))),
    };
    match note {
        None => format!("{{{}}}", field.name),
        Some(note) => format!("{{{}}}        # note: the value you produce {note}", field.name),
    }
}

/// `In adhering to this structure, your objective is: ` plus the instructions (cleaned as
/// DSPy's `Signature.instructions` does, then dedented), each line indented by eight spaces.
pub(super) fn task_description(instructions: &str) -> String {
    let dedented = dedent(&cleandoc(instructions));
    let mut out = String::from("In adhering to this structure, your objective is: ");
    for line in py_splitlines(&dedented) {
        out.push_str("\n        ");
        out.push_str(line);
    }
    out
}

/// DSPy's `format_field_value`: a list given to a `str` field becomes a numbered list of
/// «quoted» blobs; everything else is Python's `str()` (lists and dicts as JSON).
pub(super) fn format_field_value(field: &Field, value: &Value) -> String {
    match (value, &field.ty) {
        (Value::Array(items), FieldType::Str) => format_blob_list(items),
        _ => py_str(value),
    }
}

fn format_blob_list(items: &[Value]) -> String {
    match items {
        [] => "N/A".to_string(),
        [only] => format_blob(&py_str(only)),
        _ => items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("[{}] {}", i + 1, format_blob(&py_str(item))))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn format_blob(blob: &str) -> String {
    if !blob.contains(['\n', '«', '»']) {
        return format!("«{blob}»");
    }
    format!("«««\n    {}\n»»»", blob.replace('\n', "\n    "))
}

/// `[[ ## name ## ]]\nvalue` for each input present in `values`, DSPy's
/// `format_user_message_content`: `prefix`, the fields, then `requirements`, joined by blank
/// lines and stripped. Written into one buffer; the result equals DSPy's
/// `"\n\n".join([prefix, *fields, requirements, ""]).strip()`.
pub(super) fn user_message(sig: &Signature, values: &Fields, prefix: &str, requirements: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    let separate = |out: &mut String| {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    if !prefix.is_empty() {
        out.push_str(prefix);
    }
    for field in sig.inputs() {
        if let Some(value) = values.get(&field.name) {
            separate(&mut out);
            write_section(&mut out, field, value);
        }
    }
    if let Some(req) = requirements {
        separate(&mut out);
        out.push_str(req);
    }
    strip_in_place(&mut out);
    out
}

/// `[[ ## name ## ]]\n` followed by the formatted value.
pub(super) fn write_section(out: &mut String, field: &Field, value: &Value) {
    out.push_str("[[ ## ");
    out.push_str(&field.name);
    out.push_str(" ## ]]\n");
    match value {
        Value::String(s) => out.push_str(s),
        other => out.push_str(&format_field_value(field, other)),
    }
}

/// Python's `str.strip()` applied to an owned string without reallocating when possible.
pub(super) fn strip_in_place(s: &mut String) {
    let end = py_strip_end_len(s);
    s.truncate(end);
    let start = s.len() - s.trim_start_matches(super::pyfmt::is_py_space).len();
    if start > 0 {
        s.drain(..start);
    }
}

fn py_strip_end_len(s: &str) -> usize {
    s.trim_end_matches(super::pyfmt::is_py_space).len()
}

/// ` (must be formatted as a valid Python list[str])` for non-`str` outputs.
pub(super) fn python_type_hint(field: &Field) -> String {
    match field.ty {
        FieldType::Str => String::new(),
        ref ty => format!(" (must be formatted as a valid Python {})", ty.python_name()),
    }
}

/// Which demos DSPy shows and how: complete demos (every field present and not null) and
/// incomplete ones (at least one input and one output key); others are dropped. Incomplete
/// demos come first, as in DSPy.
pub(super) fn split_demos<'a>(sig: &Signature, demos: &'a [Example]) -> (Vec<&'a Fields>, Vec<&'a Fields>) {
    let mut complete = Vec::new();
    let mut incomplete = Vec::new();
    for demo in demos {
        let fields = demo.fields();
        let is_complete = sig.fields().all(|f| fields.get(&f.name).is_some_and(|v| !v.is_null()));
        let has_input = sig.inputs().iter().any(|f| fields.contains_key(&f.name));
        let has_output = sig.outputs().iter().any(|f| fields.contains_key(&f.name));
        if is_complete {
            complete.push(fields);
        } else if has_input && has_output {
            incomplete.push(fields);
        }
    }
    (complete, incomplete)
}
