//! Prompt types of Rust types that derive `JsonSchema`: the fallback `#[derive(Signature)]`
//! uses for every field type it does not map itself (user enums and structs, type aliases).

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::signature::{FieldType, LiteralValue};

/// Field types of a signature are `JsonSchema` types. The bound carries the message a user
/// sees when a field type is neither a built-in mapping nor `JsonSchema`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a signature field type",
    label = "not a supported signature field type",
    note = "derive `schemars::JsonSchema` (plus serde's `Serialize`/`Deserialize`) for it: unit-variant enums become `Literal[...]` labels, structs become nested JSON objects",
    note = "or use `String`, integers, floats, `bool`, `Vec<T>`, `Option<T>`, `HashMap<String, T>`/`BTreeMap<String, T>` or `serde_json::Value`"
)]
pub trait SignatureField: JsonSchema {}

impl<T: JsonSchema + ?Sized> SignatureField for T {}

/// The prompt type of `T`, read from its JSON Schema.
pub fn field_type_of<T: SignatureField + ?Sized>() -> FieldType {
    let mut generator = SchemaGenerator::default();
    let schema = generator.root_schema_for::<T>();
    let mut root = schema.to_value();
    let defs = match &mut root {
        Value::Object(map) => {
            map.remove("$schema");
            map.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default()
        }
        _ => Map::new(),
    };
    from_schema(&root, &defs, &T::schema_name())
}

/// Maps a JSON Schema to the closest prompt type: primitives, arrays, maps, string enums as
/// `Literal`, nullable as `Optional`; anything richer is a nested object with its schema.
fn from_schema(schema: &Value, defs: &Map<String, Value>, name: &str) -> FieldType {
    let map = match schema {
        Value::Bool(true) => return FieldType::Any,
        Value::Object(map) => map,
        _ => return object(name, schema, defs),
    };
    if let Some(target) = map.get("$ref").and_then(Value::as_str) {
        let def_name = target.rsplit('/').next().unwrap_or(target);
        return match defs.get(def_name) {
            Some(def) => from_schema(def, defs, def_name),
            None => object(name, schema, defs),
        };
    }
    if let Some(labels) = literal_labels(map) {
        return FieldType::Literal { values: labels };
    }
    // Nullable: `"type": ["string", "null"]` or `anyOf: [T, {"type": "null"}]`.
    if let Some(Value::Array(types)) = map.get("type") {
        let non_null: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
        if non_null.len() == 1 && non_null.len() < types.len() {
            let mut inner = map.clone();
            inner.insert("type".into(), non_null[0].clone());
            return FieldType::optional(from_schema(&Value::Object(inner), defs, name));
        }
    }
    if let Some(Value::Array(variants)) = map.get("anyOf").or_else(|| map.get("oneOf")) {
        let non_null: Vec<&Value> =
            variants.iter().filter(|v| v.get("type").and_then(Value::as_str) != Some("null")).collect();
        if non_null.len() == 1 && non_null.len() < variants.len() {
            return FieldType::optional(from_schema(non_null[0], defs, name));
        }
    }
    match map.get("type").and_then(Value::as_str) {
        Some("string") => FieldType::Str,
        Some("integer") => FieldType::Int,
        Some("number") => FieldType::Float,
        Some("boolean") => FieldType::Bool,
        Some("array") => match map.get("items") {
            Some(items) if !items.is_array() => FieldType::list(from_schema(items, defs, name)),
            _ => FieldType::list(FieldType::Any),
        },
        Some("object") if !map.contains_key("properties") => match map.get("additionalProperties") {
            Some(Value::Object(_)) => FieldType::dict(from_schema(&map["additionalProperties"], defs, name)),
            _ => FieldType::dict(FieldType::Any),
        },
        None if map.keys().all(|k| matches!(k.as_str(), "title" | "description" | "$defs")) => FieldType::Any,
        _ => object(name, schema, defs),
    }
}

/// A unit-only enum's labels: `{"type": "string", "enum": [...]}`, or a `oneOf` of single
/// constants (what schemars emits when variants carry doc comments).
fn literal_labels(map: &Map<String, Value>) -> Option<Vec<LiteralValue>> {
    let as_label = |v: &Value| match v {
        Value::String(s) => Some(LiteralValue::Str(s.clone())),
        Value::Bool(b) => Some(LiteralValue::Bool(*b)),
        Value::Number(n) => n.as_i64().map(LiteralValue::Int),
        _ => None,
    };
    if let Some(Value::Array(values)) = map.get("enum") {
        return values.iter().map(as_label).collect();
    }
    if let Some(value) = map.get("const") {
        return as_label(value).map(|l| vec![l]);
    }
    let variants = map.get("oneOf").and_then(Value::as_array)?;
    let mut labels = Vec::new();
    for variant in variants {
        let v = variant.as_object()?;
        labels.extend(literal_labels(v)?);
    }
    (!labels.is_empty()).then_some(labels)
}

/// A nested object: its schema with the definitions it refers to.
fn object(name: &str, schema: &Value, defs: &Map<String, Value>) -> FieldType {
    let mut schema = schema.clone();
    if let Value::Object(map) = &mut schema {
        if !defs.is_empty() && !map.contains_key("$defs") {
            map.insert("$defs".into(), Value::Object(defs.clone()));
        }
    }
    FieldType::Object { name: name.to_string(), schema }
}
