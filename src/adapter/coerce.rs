//! Coercing reply values to field types: `"42"` → 42, `True` → true, JSON lists and
//! objects, literal labels.
//!
//! The rules follow what DSPy accepts through `json_repair` and pydantic's lax mode where
//! that is safe, and refuse where it would guess (`"42.5"` is not an int, `"maybe"` is not
//! a bool). An `Err` holds what the type expected, for the error message.

use serde_json::{Map, Number, Value};

use super::lenient_json::parse_lenient;
use super::pyfmt::{py_repr, py_str, py_strip};
use crate::signature::{FieldType, LiteralValue};

type Coerced = Result<Value, String>;

/// Coerces the text of a `[[ ## field ## ]]` section (already stripped).
pub(super) fn coerce_text(text: &str, ty: &FieldType) -> Coerced {
    match ty {
        FieldType::Str => Ok(Value::String(text.to_string())),
        FieldType::Optional { inner } => match **inner {
            // DSPy keeps the text "None" as a string for `Optional[str]`; lmc reads the exact
            // words `None` and `null` as absent, which is how demos render a missing value, so
            // `Option<String>` round-trips (a documented difference).
            FieldType::Str if matches!(text, "None" | "null") => Ok(Value::Null),
            FieldType::Str => Ok(Value::String(text.to_string())),
            ref inner => {
                if matches!(unquote(text), "None" | "null" | "none") {
                    Ok(Value::Null)
                } else {
                    coerce_text(text, inner).map_err(|e| format!("{e} or None"))
                }
            }
        },
        FieldType::Int => int_from_text(text),
        FieldType::Float => float_from_text(text),
        FieldType::Bool => bool_from_text(text),
        FieldType::Literal { values } => literal_from_text(text, values),
        FieldType::Any => Ok(parse_lenient(text).unwrap_or_else(|| Value::String(text.to_string()))),
        FieldType::List { .. } | FieldType::Dict { .. } | FieldType::Object { .. } => match parse_lenient(text) {
            Some(value) => coerce_json(value, ty),
            None => Err(expected(ty)),
        },
    }
}

/// Coerces a value taken from a JSON reply; strings go through [`coerce_text`].
pub(super) fn coerce_json(value: Value, ty: &FieldType) -> Coerced {
    let keeps_text = match ty {
        FieldType::Str | FieldType::Any => true,
        FieldType::Optional { inner } => **inner == FieldType::Str,
        _ => false,
    };
    if let (Value::String(s), false) = (&value, keeps_text) {
        return coerce_text(py_strip(s), ty);
    }
    match ty {
        FieldType::Str => Ok(Value::String(match &value {
            Value::String(_) => return Ok(value),
            Value::Array(_) | Value::Object(_) => py_repr(&value),
            scalar => py_str(scalar),
        })),
        FieldType::Any => Ok(value),
        FieldType::Optional { inner } => match value {
            Value::Null => Ok(Value::Null),
            other => coerce_json(other, inner).map_err(|e| format!("{e} or None")),
        },
        FieldType::Int => match &value {
            Value::Number(n) => int_from_number(n).ok_or_else(|| expected(ty)),
            _ => Err(expected(ty)),
        },
        FieldType::Float => match &value {
            Value::Number(n) => n.as_f64().and_then(Number::from_f64).map(Value::Number).ok_or_else(|| expected(ty)),
            _ => Err(expected(ty)),
        },
        FieldType::Bool => match &value {
            Value::Bool(_) => Ok(value),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            _ => Err(expected(ty)),
        },
        FieldType::Literal { values } => {
            if values.iter().any(|v| v.to_json() == value) {
                Ok(value)
            } else {
                Err(expected(ty))
            }
        }
        FieldType::List { item } => match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| coerce_json(v, item).map_err(|e| format!("{} (item {i}: {e})", expected(ty))))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(expected(ty)),
        },
        FieldType::Dict { value: value_ty } => match value {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    coerce_json(v, value_ty)
                        .map(|v| (k.clone(), v))
                        .map_err(|e| format!("{} (key {k:?}: {e})", expected(ty)))
                })
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            _ => Err(expected(ty)),
        },
        // Nested objects are checked against their Rust type by serde when the typed output
        // is read; here any JSON object is accepted.
        FieldType::Object { .. } => match value {
            Value::Object(_) => Ok(value),
            _ => Err(expected(ty)),
        },
    }
}

/// What a type asks for, in words, for error messages.
pub(super) fn expected(ty: &FieldType) -> String {
    match ty {
        FieldType::Str => "text".into(),
        FieldType::Int => "an integer".into(),
        FieldType::Float => "a number".into(),
        FieldType::Bool => "True or False".into(),
        FieldType::Any => "any value".into(),
        FieldType::List { .. } => format!("a JSON list ({})", ty.python_name()),
        FieldType::Dict { .. } => format!("a JSON object ({})", ty.python_name()),
        FieldType::Object { name, .. } => format!("a JSON object ({name})"),
        FieldType::Literal { values } => {
            format!("one of: {}", values.iter().map(LiteralValue::py_str).collect::<Vec<_>>().join("; "))
        }
        FieldType::Optional { inner } => format!("{} or None", expected(inner)),
    }
}

/// Strips one pair of matching quotes.
fn unquote(text: &str) -> &str {
    let t = py_strip(text);
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

fn int_from_number(n: &Number) -> Option<Value> {
    if n.is_i64() || n.is_u64() {
        return Some(Value::Number(n.clone()));
    }
    let f = n.as_f64()?;
    // pydantic accepts floats with no fractional part (42.0 → 42), within i64's range.
    let in_range = f >= i64::MIN as f64 && f < i64::MAX as f64;
    (f.fract() == 0.0 && in_range).then(|| Value::from(f as i64))
}

fn int_from_text(text: &str) -> Coerced {
    let t = unquote(text);
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = t.parse::<u64>() {
        return Ok(Value::from(u));
    }
    match finite_float(t) {
        Some(f) => int_from_number(&f).ok_or_else(|| expected(&FieldType::Int)),
        None => Err(expected(&FieldType::Int)),
    }
}

fn finite_float(t: &str) -> Option<Number> {
    // Rust accepts "inf" and "NaN"; JSON has no such numbers, so refuse them.
    let looks_numeric = t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && t.chars().any(|c| c.is_ascii_digit());
    if !looks_numeric {
        return None;
    }
    t.parse::<f64>().ok().and_then(Number::from_f64)
}

fn float_from_text(text: &str) -> Coerced {
    finite_float(unquote(text)).map(Value::Number).ok_or_else(|| expected(&FieldType::Float))
}

fn bool_from_text(text: &str) -> Coerced {
    // pydantic's lax boolean strings.
    match unquote(text).to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
        _ => Err(expected(&FieldType::Bool)),
    }
}

fn literal_from_text(text: &str, values: &[LiteralValue]) -> Coerced {
    let matches = |candidate: &str| values.iter().find(|v| v.py_str() == candidate).map(LiteralValue::to_json);
    if let Some(v) = matches(text) {
        return Ok(v);
    }
    // DSPy also accepts `Literal['x']`, `str[x]` and quoted labels.
    let mut t = py_strip(text);
    for wrapper in ["Literal[", "str["] {
        if let Some(inner) = t.strip_prefix(wrapper).and_then(|s| s.strip_suffix(']')) {
            t = inner;
            break;
        }
    }
    let t = unquote(t);
    if let Some(v) = matches(t) {
        return Ok(v);
    }
    // Non-string labels written as JSON (`2`, `true`).
    if let Some(json) = parse_lenient(t) {
        if values.iter().any(|v| v.to_json() == json) {
            return Ok(json);
        }
    }
    Err(expected(&FieldType::Literal { values: values.to_vec() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_coerce_like_dspy() {
        assert_eq!(coerce_text(" 42 ", &FieldType::Int), Ok(json!(42)));
        assert_eq!(coerce_text("42.0", &FieldType::Int), Ok(json!(42)));
        assert!(coerce_text("42.5", &FieldType::Int).is_err());
        assert!(coerce_text("forty-two", &FieldType::Int).is_err());
        assert!(coerce_text("inf", &FieldType::Float).is_err());
        assert_eq!(coerce_text("1e-05", &FieldType::Float), Ok(json!(1e-5)));
        assert_eq!(coerce_text("True", &FieldType::Bool), Ok(json!(true)));
        assert_eq!(coerce_text("no", &FieldType::Bool), Ok(json!(false)));
        assert!(coerce_text("maybe", &FieldType::Bool).is_err());
    }

    #[test]
    fn literals_accept_dspy_spellings() {
        let ty = FieldType::literal(["low", "high"]);
        for text in ["low", "'low'", "Literal['low']", "\"low\""] {
            assert_eq!(coerce_text(text, &ty), Ok(json!("low")), "{text}");
        }
        assert!(coerce_text("Low", &ty).is_err());
    }

    #[test]
    fn containers_coerce_their_items() {
        let ty = FieldType::list(FieldType::Int);
        assert_eq!(coerce_text("[1, \"2\", 3.0]", &ty), Ok(json!([1, 2, 3])));
        assert!(coerce_text("[1, \"x\"]", &ty).unwrap_err().contains("item 1"));
        let ty = FieldType::optional(FieldType::Int);
        assert_eq!(coerce_text("None", &ty), Ok(Value::Null));
    }
}
