//! Field types: what a signature field holds, how DSPy names it, and its JSON Schema.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One value of a `Literal[...]` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LiteralValue {
    /// A boolean label (`True`/`False`). Listed first so serde tries it before strings.
    Bool(bool),
    /// An integer label.
    Int(i64),
    /// A string label.
    Str(String),
}

impl LiteralValue {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            LiteralValue::Str(s) => Value::String(s.clone()),
            LiteralValue::Int(i) => Value::from(*i),
            LiteralValue::Bool(b) => Value::Bool(*b),
        }
    }

    /// Python's `str(value)`: the label as the prompt shows it.
    pub fn py_str(&self) -> String {
        match self {
            LiteralValue::Str(s) => s.clone(),
            LiteralValue::Int(i) => i.to_string(),
            LiteralValue::Bool(true) => "True".into(),
            LiteralValue::Bool(false) => "False".into(),
        }
    }

    /// The label as it appears inside `Literal[...]` in a type name (Python source form).
    fn annotation_form(&self) -> String {
        match self {
            LiteralValue::Str(s) => quote_literal_label(s),
            other => other.py_str(),
        }
    }
}

/// Quotes a string label the way DSPy does inside a `Literal[...]` type name.
fn quote_literal_label(s: &str) -> String {
    match (s.contains('\''), s.contains('"')) {
        (true, false) => format!("\"{s}\""),
        (true, true) => format!("'{}'", s.replace('\'', "\\'")),
        _ => format!("'{s}'"),
    }
}

/// The type of a signature field.
///
/// These are the Python types DSPy signatures use, so that prompts render the same way:
/// `str`, `int`, `float`, `bool`, `list[T]`, `dict[str, T]`, `Literal[...]`, `Optional[T]`,
/// `Any`, plus nested objects described by a JSON Schema (what `#[derive(Signature)]`
/// produces for structs that derive `JsonSchema`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FieldType {
    /// Free text (`str`).
    Str,
    /// A whole number (`int`).
    Int,
    /// A floating-point number (`float`).
    Float,
    /// `True` or `False` (`bool`).
    Bool,
    /// Any JSON value (`Any`). Inside a container it renders as the bare container name:
    /// `list`, `dict`.
    Any,
    /// A list of values of one type (`list[T]`).
    List {
        /// The element type.
        item: Box<FieldType>,
    },
    /// A map from string keys to values of one type (`dict[str, T]`).
    Dict {
        /// The value type.
        value: Box<FieldType>,
    },
    /// A closed set of labels (`Literal['a', 'b']`).
    Literal {
        /// The allowed labels, in declaration order.
        values: Vec<LiteralValue>,
    },
    /// A value that may be missing (`Optional[T]`, rendered `Union[T, NoneType]` as Python does).
    Optional {
        /// The type when present.
        inner: Box<FieldType>,
    },
    /// A nested object described by a JSON Schema.
    Object {
        /// The type name shown in the prompt.
        name: String,
        /// The object's JSON Schema.
        schema: Value,
    },
}

impl FieldType {
    /// `list[item]`.
    pub fn list(item: FieldType) -> Self {
        FieldType::List { item: Box::new(item) }
    }

    /// `dict[str, value]`.
    pub fn dict(value: FieldType) -> Self {
        FieldType::Dict { value: Box::new(value) }
    }

    /// `Optional[inner]`. `Optional[Optional[T]]` is `Optional[T]`, as Python's `typing`
    /// flattens it.
    pub fn optional(inner: FieldType) -> Self {
        match inner {
            already @ FieldType::Optional { .. } => already,
            inner => FieldType::Optional { inner: Box::new(inner) },
        }
    }

    /// `Literal[...]` of string labels.
    pub fn literal<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldType::Literal { values: labels.into_iter().map(|s| LiteralValue::Str(s.into())).collect() }
    }

    /// Whether `None` is an acceptable value (DSPy fills such outputs with `None` when missing).
    pub fn allows_none(&self) -> bool {
        matches!(self, FieldType::Optional { .. } | FieldType::Any)
    }

    /// The type's name as DSPy prints it in prompts, e.g. `list[str]`,
    /// `Literal['a', 'b']`, `Union[int, NoneType]`.
    pub fn python_name(&self) -> String {
        let mut out = String::new();
        self.write_python_name(&mut out);
        out
    }

    fn write_python_name(&self, out: &mut String) {
        match self {
            FieldType::Str => out.push_str("str"),
            FieldType::Int => out.push_str("int"),
            FieldType::Float => out.push_str("float"),
            FieldType::Bool => out.push_str("bool"),
            FieldType::Any => out.push_str("Any"),
            FieldType::List { item } => match **item {
                FieldType::Any => out.push_str("list"),
                ref item => {
                    out.push_str("list[");
                    item.write_python_name(out);
                    out.push(']');
                }
            },
            FieldType::Dict { value } => match **value {
                FieldType::Any => out.push_str("dict"),
                ref value => {
                    out.push_str("dict[str, ");
                    value.write_python_name(out);
                    out.push(']');
                }
            },
            FieldType::Literal { values } => {
                out.push_str("Literal[");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&v.annotation_form());
                }
                out.push(']');
            }
            FieldType::Optional { inner } => {
                out.push_str("Union[");
                inner.write_python_name(out);
                out.push_str(", NoneType]");
            }
            FieldType::Object { name, .. } => out.push_str(name),
        }
    }

    /// The JSON Schema of a value of this type, in pydantic's shape (as DSPy sends it),
    /// with keys in pydantic's order before DSPy's `type`-first reordering.
    pub fn json_schema(&self) -> Value {
        match self {
            FieldType::Str => json!({"type": "string"}),
            FieldType::Int => json!({"type": "integer"}),
            FieldType::Float => json!({"type": "number"}),
            FieldType::Bool => json!({"type": "boolean"}),
            FieldType::Any => json!({}),
            FieldType::List { item } => json!({"items": item.json_schema(), "type": "array"}),
            FieldType::Dict { value } => {
                let additional = match **value {
                    FieldType::Any => Value::Bool(true),
                    ref v => v.json_schema(),
                };
                json!({"additionalProperties": additional, "type": "object"})
            }
            FieldType::Literal { values } => literal_schema(values),
            FieldType::Optional { inner } => {
                json!({"anyOf": [inner.json_schema(), {"type": "null"}]})
            }
            FieldType::Object { schema, .. } => schema.clone(),
        }
    }
}

/// pydantic's schema for a `Literal`: `const` for one label, `enum` otherwise, and a `type`
/// when every label has the same JSON type.
fn literal_schema(values: &[LiteralValue]) -> Value {
    let mut schema = Map::new();
    if let [only] = values {
        schema.insert("const".into(), only.to_json());
    } else {
        schema.insert("enum".into(), Value::Array(values.iter().map(LiteralValue::to_json).collect()));
    }
    let kind = |v: &LiteralValue| match v {
        LiteralValue::Str(_) => "string",
        LiteralValue::Int(_) => "integer",
        LiteralValue::Bool(_) => "boolean",
    };
    if let Some(first) = values.first() {
        if values.iter().all(|v| kind(v) == kind(first)) {
            schema.insert("type".into(), Value::from(kind(first)));
        }
    }
    Value::Object(schema)
}

/// DSPy's readability reordering of a JSON Schema: in every object, `type` first, then the
/// other keys in sorted order.
pub fn type_first(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| (*a != "type", a.as_str()).cmp(&(*b != "type", b.as_str())));
            let mut out = Map::with_capacity(map.len());
            for k in keys {
                out.insert(k.clone(), type_first(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(type_first).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names_match_dspy() {
        assert_eq!(FieldType::list(FieldType::Str).python_name(), "list[str]");
        assert_eq!(FieldType::list(FieldType::Any).python_name(), "list");
        assert_eq!(FieldType::dict(FieldType::list(FieldType::Str)).python_name(), "dict[str, list[str]]");
        assert_eq!(FieldType::optional(FieldType::Int).python_name(), "Union[int, NoneType]");
        let quoted = FieldType::literal(["it's", "say \"hi\"", "both ' \""]);
        assert_eq!(quoted.python_name(), r#"Literal["it's", 'say "hi"', 'both \' "']"#);
    }

    #[test]
    fn literal_schemas_follow_pydantic() {
        let one = FieldType::literal(["a"]).json_schema();
        assert_eq!(type_first(&one).to_string(), r#"{"type":"string","const":"a"}"#);
        let mixed = FieldType::Literal { values: vec![LiteralValue::Str("a".into()), LiteralValue::Int(1)] };
        assert_eq!(mixed.json_schema().to_string(), r#"{"enum":["a",1]}"#);
    }
}
