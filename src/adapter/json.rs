//! `JsonAdapter`: the same system message skeleton, but outputs as one JSON object.

use serde_json::{Map, Value};

use super::coerce::coerce_json;
use super::error::{ParseError, ParseProblem};
use super::lenient_json::find_json_object;
use super::pyfmt::json_dumps_indent2;
use super::render::{self, join_blocks};
use super::{assemble, Adapter, AdapterKind, Layout};
use crate::data::{Example, Fields};
use crate::prompt::{JsonSchemaFormat, Prompt, ResponseFormat};
use crate::signature::{FieldRole, FieldType, Signature};

/// The name DSPy gives the structured-output schema.
const SCHEMA_NAME: &str = "DSPyProgramOutputs";

/// Asks for the outputs as one JSON object, and sends a JSON-schema response format that
/// providers with structured outputs can enforce (JSON mode when a `dict` output makes an
/// exact schema impossible).
///
/// ```
/// use lmc::{Adapter, JsonAdapter, Signature};
///
/// let sig = Signature::parse("question -> answer: int")?;
/// let parsed = JsonAdapter.parse(&sig, "Sure! ```json\n{\"answer\": \"4\"}\n```")?;
/// assert_eq!(parsed["answer"], 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonAdapter;

impl Layout for JsonAdapter {
    fn system_message<'s>(&self, sig: &'s Signature) -> &'s str {
        sig.rendered().json_system.get_or_init(|| render::system_message(sig, &field_structure(sig)))
    }

    fn output_requirements(&self, sig: &Signature) -> String {
        let fields: Vec<String> =
            sig.outputs().iter().map(|f| format!("`{}`{}", f.name, render::python_type_hint(f))).collect();
        format!("Respond with a JSON object in the following order of fields: {}.", fields.join(", then "))
    }

    fn assistant_message(&self, sig: &Signature, outputs: &Fields, missing: &str) -> String {
        let object: Map<String, Value> = sig
            .outputs()
            .iter()
            .map(|f| {
                let value = outputs.get(&f.name).cloned().unwrap_or_else(|| Value::String(missing.to_string()));
                (f.name.clone(), value)
            })
            .collect();
        json_dumps_indent2(&Value::Object(object))
    }
}

fn field_structure(sig: &Signature) -> String {
    let inputs: Vec<String> = sig
        .inputs()
        .iter()
        .map(|f| format!("[[ ## {} ## ]]\n{}", f.name, render::field_placeholder(f, FieldRole::Input)))
        .collect();
    let outputs: Map<String, Value> = sig
        .outputs()
        .iter()
        .map(|f| (f.name.clone(), Value::String(render::field_placeholder(f, FieldRole::Output))))
        .collect();
    join_blocks(&[
        render::STRUCTURE_HEADER.to_string(),
        "Inputs will have the following structure:".to_string(),
        join_blocks(&inputs),
        "Outputs will be a JSON object with the following fields.".to_string(),
        json_dumps_indent2(&Value::Object(outputs)),
    ])
}

/// The structured-output request for `sig`: JSON mode when an output is an open-ended
/// `dict` (structured outputs need every property declared), otherwise the schema DSPy
/// builds with pydantic.
pub fn response_format(sig: &Signature) -> ResponseFormat {
    if sig.outputs().iter().any(|f| matches!(f.ty, FieldType::Dict { .. })) {
        return ResponseFormat::JsonObject;
    }
    ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat { name: SCHEMA_NAME.to_string(), strict: true, schema: output_schema(sig) },
    }
}

/// The JSON Schema of the reply object, in pydantic's shape: sorted keys, a `title` per
/// property, every property required, no additional properties.
pub fn output_schema(sig: &Signature) -> Value {
    let mut properties = Map::new();
    for field in sig.outputs() {
        let mut schema = match field.ty.json_schema() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        schema.insert("title".to_string(), Value::String(python_title(&field.name)));
        let mut property = sort_keys(&Value::Object(schema));
        enforce_required(&mut property);
        properties.insert(field.name.clone(), property);
    }
    let required = sig.output_names().map(|n| Value::String(n.to_string())).collect();
    let mut schema = Map::new();
    schema.insert("additionalProperties".into(), Value::Bool(false));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), Value::Array(required));
    schema.insert("title".into(), Value::String(SCHEMA_NAME.to_string()));
    schema.insert("type".into(), Value::String("object".into()));
    Value::Object(schema)
}

/// pydantic's key order: sorted, except the members of `properties`, which keep field order.
fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .map(|k| {
                    let v = if k == "properties" {
                        match &map[k] {
                            Value::Object(props) => {
                                Value::Object(props.iter().map(|(pk, pv)| (pk.clone(), sort_keys(pv))).collect())
                            }
                            other => sort_keys(other),
                        }
                    } else {
                        sort_keys(&map[k])
                    };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>()
                .into()
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// DSPy's `enforce_required`: every object with properties requires them all and forbids
/// others, recursively through arrays and `$defs`.
fn enforce_required(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if map.get("type").and_then(Value::as_str) == Some("object") {
        match map.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect::<Vec<_>>()) {
            Some(names) => {
                map.insert("required".into(), Value::Array(names.into_iter().map(Value::String).collect()));
                map.insert("additionalProperties".into(), Value::Bool(false));
                if let Some(Value::Object(props)) = map.get_mut("properties") {
                    props.values_mut().for_each(enforce_required);
                }
            }
            None => {
                map.insert("properties".into(), Value::Object(Map::new()));
                map.insert("required".into(), Value::Array(Vec::new()));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    if map.get("type").and_then(Value::as_str) == Some("array") {
        if let Some(items @ Value::Object(_)) = map.get_mut("items") {
            enforce_required(items);
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = map.get_mut(key) {
            defs.values_mut().for_each(enforce_required);
        }
    }
}

/// pydantic's default field title: `page_numbers` → `Page Numbers` (Python's `str.title`).
fn python_title(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut prev_cased = false;
    for c in name.replace('_', " ").chars() {
        if c.is_alphabetic() {
            if prev_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_cased = true;
        } else {
            out.push(c);
            prev_cased = false;
        }
    }
    out
}

impl Adapter for JsonAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Json
    }

    fn format(&self, sig: &Signature, demos: &[Example], inputs: &Fields) -> Prompt {
        let format = sig.rendered().json_response_format.get_or_init(|| response_format(sig)).clone();
        Prompt { messages: assemble(self, sig, demos, inputs), response_format: Some(format) }
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Fields, ParseError> {
        let Some(mut object) = find_json_object(completion) else {
            return Err(ParseError::new(
                AdapterKind::Json,
                vec![ParseProblem::NotJsonObject],
                completion,
                Fields::new(),
            ));
        };
        let mut fields = Fields::new();
        let mut problems = Vec::new();
        for field in sig.outputs() {
            match object.remove(&field.name) {
                // Coercion takes the value; the error message needs it only on failure, so the
                // happy path does not format it.
                Some(value) => match coerce_json(value.clone(), &field.ty) {
                    Ok(v) => {
                        fields.insert(field.name.clone(), v);
                    }
                    Err(expected) => {
                        problems.push(ParseProblem::invalid(&field.name, expected, &super::pyfmt::py_str(&value)))
                    }
                },
                None if field.ty.allows_none() => {
                    fields.insert(field.name.clone(), Value::Null);
                }
                None => problems.push(ParseProblem::Missing { field: field.name.clone() }),
            }
        }
        if problems.is_empty() {
            Ok(fields)
        } else {
            Err(ParseError::new(AdapterKind::Json, problems, completion, fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_follow_python() {
        assert_eq!(python_title("page_numbers"), "Page Numbers");
        assert_eq!(python_title("c_d"), "C D");
        assert_eq!(python_title("x2y"), "X2Y");
    }

    #[test]
    fn dict_outputs_fall_back_to_json_mode() {
        let sig = Signature::parse("a -> b: dict[str, int]").unwrap();
        assert_eq!(response_format(&sig), ResponseFormat::JsonObject);
    }
}
