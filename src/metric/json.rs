//! JSON metrics: the prediction is JSON; the prediction fits a JSON Schema.

use serde_json::{Map, Value};

use super::{clip, predicted_value, MetricError, Score};
use crate::data::{Example, Prediction};

/// Why a text is not JSON, with a hint for the common markdown fence.
fn not_json(text: &str, error: &serde_json::Error) -> String {
    let fence = if text.trim_start().starts_with("```") {
        " (it is wrapped in a ``` code fence; answer with the bare JSON)"
    } else {
        ""
    };
    format!("the answer is not valid JSON: {error}{fence}: `{}`", clip(text, 200))
}

/// 1 when the prediction's `field` is JSON, else 0 with the parser's error as feedback.
///
/// A string value must parse as JSON on its own (surrounding whitespace allowed; a markdown
/// code fence is not); any other value (a number, a list, an object, null: what the JSON
/// adapter or a typed output yields) is already structured and passes. No gold is needed.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonValid {
    /// The output field checked.
    pub field: String,
}

impl JsonValid {
    /// JSON validity of `field`.
    pub fn new(field: impl Into<String>) -> Self {
        JsonValid { field: field.into() }
    }

    fn score_now(&self, _gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        match predicted_value(prediction, &self.field)? {
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(_) => Ok(Score::pass(true)),
                Err(e) => Ok(Score::pass(false).with_feedback(not_json(text, &e))),
            },
            _ => Ok(Score::pass(true)),
        }
    }
}

sync_metric!(JsonValid, "json_valid");

/// Keywords that are checked.
const ASSERTIONS: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
];

/// Keywords that are annotations (or containers for `$ref` targets): accepted, not checked.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "default",
    "examples",
    "format",
    "deprecated",
    "readOnly",
    "writeOnly",
];

const TYPES: &[&str] = &["object", "array", "string", "number", "integer", "boolean", "null"];

/// How deep validation may nest (through values and `$ref`s) before it gives up.
const MAX_DEPTH: usize = 128;

/// How many schema violations feedback lists.
const MAX_ERRORS_SHOWN: usize = 5;

/// 1 when the prediction's `field` fits a JSON Schema, else 0 with the violations (by path,
/// `$.items[0].name`) as feedback. No gold is needed.
///
/// A string value that parses as JSON is checked as the parsed value; a string passes too if
/// the string itself fits (a schema of `{"type": "string"}`). Other values are checked as they
/// are.
///
/// # The supported subset
///
/// - `type` (a name or a list of names; `integer` accepts numbers with no fraction),
///   `enum`, `const` (numbers compare by value: `1` equals `1.0`);
/// - objects: `properties`, `required`, `additionalProperties` (`false`, `true` or a schema);
/// - arrays: `items` (one schema for every item), `minItems`, `maxItems`;
/// - `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers), `minLength`,
///   `maxLength` (in characters);
/// - `anyOf`, `oneOf`, `allOf`; `$ref` to a local JSON pointer (`#/$defs/Name`,
///   `#/definitions/Name`, `#`); boolean schemas `true` and `false`.
///
/// Annotations (`title`, `description`, `default`, `examples`, `format`, `$schema`, `$id`,
/// `$comment`, `$defs`, `definitions`, `deprecated`, `readOnly`, `writeOnly`) are accepted
/// and not checked. Any other keyword (`pattern`, `not`, `prefixItems`, `if`, ...) is
/// rejected by [`SchemaValid::new`], so that no constraint is silently skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaValid {
    /// The output field checked.
    pub field: String,
    schema: Value,
}

impl SchemaValid {
    /// Checks `field` against `schema`; fails with [`MetricError::Invalid`] when the schema
    /// uses keywords outside the supported subset, is malformed, or has a `$ref` that does
    /// not resolve.
    ///
    /// ```
    /// use lmc::metric::{Metric, SchemaValid};
    /// use lmc::{Example, Prediction, RunCx};
    /// use serde_json::json;
    ///
    /// let metric = SchemaValid::new("answer", json!({
    ///     "type": "object",
    ///     "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    ///     "required": ["name"],
    ///     "additionalProperties": false,
    /// }))?;
    /// let prediction = Prediction::from_json(json!({"answer": "{\"name\": \"Ada\", \"age\": -1}"}))?;
    /// let score = futures::executor::block_on(metric.score(&RunCx::new(), &Example::new(), &prediction, &[]))?;
    /// assert_eq!(score.value, 0.0);
    /// assert_eq!(score.feedback.as_deref(), Some("$.age: -1 is less than the minimum 0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(field: impl Into<String>, schema: Value) -> Result<Self, MetricError> {
        check_schema(&schema, &schema, "#").map_err(MetricError::Invalid)?;
        Ok(SchemaValid { field: field.into(), schema })
    }

    /// The schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Every violation of the schema by `value`, by path; empty when it fits.
    pub fn violations(&self, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        validate(&self.schema, &self.schema, value, "$", 0, &mut errors);
        errors
    }

    fn score_now(&self, _gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
        let value = predicted_value(prediction, &self.field)?;
        let raw = self.violations(value);
        if raw.is_empty() {
            return Ok(Score::pass(true));
        }
        let errors = match value {
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(parsed) => self.violations(&parsed),
                // Not JSON: a schema for text gets its own violations, any other the parse error.
                Err(e) if !accepts_text(&self.schema) => {
                    return Ok(Score::pass(false).with_feedback(not_json(text, &e)))
                }
                Err(_) => raw,
            },
            _ => raw,
        };
        if errors.is_empty() {
            return Ok(Score::pass(true));
        }
        let mut feedback = errors.iter().take(MAX_ERRORS_SHOWN).cloned().collect::<Vec<_>>().join("; ");
        if errors.len() > MAX_ERRORS_SHOWN {
            feedback.push_str(&format!("; and {} more", errors.len() - MAX_ERRORS_SHOWN));
        }
        Ok(Score::pass(false).with_feedback(feedback))
    }
}

sync_metric!(SchemaValid, "schema_valid");

/// Checks a (sub)schema at `at` (a JSON pointer for messages) against the supported subset.
fn check_schema(root: &Value, schema: &Value, at: &str) -> Result<(), String> {
    let map = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(map) => map,
        other => return Err(format!("the JSON Schema at `{at}` must be an object or a boolean, not {other}")),
    };
    for (key, value) in map {
        let here = format!("{at}/{key}");
        let bad = |what: &str| Err(format!("the JSON Schema keyword `{here}` must be {what}, not {value}"));
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for name in names {
                    if !name.as_str().is_some_and(|n| TYPES.contains(&n)) {
                        return Err(format!(
                            "the JSON Schema `{here}` names an unknown type {name}; the types are {}",
                            TYPES.join(", ")
                        ));
                    }
                }
            }
            "enum" if !value.is_array() => return bad("a list"),
            "required" if !value.as_array().is_some_and(|r| r.iter().all(Value::is_string)) => {
                return bad("a list of property names")
            }
            "properties" | "$defs" | "definitions" => {
                let Some(props) = value.as_object() else { return bad("an object of schemas") };
                for (name, sub) in props {
                    check_schema(root, sub, &format!("{here}/{name}"))?;
                }
            }
            "additionalProperties" | "items" => {
                if value.is_array() {
                    return Err(format!(
                        "`{here}` as a list (tuple validation) is not supported; give one schema for every item"
                    ));
                }
                check_schema(root, value, &here)?;
            }
            "anyOf" | "oneOf" | "allOf" => {
                let Some(subs) = value.as_array().filter(|s| !s.is_empty()) else {
                    return bad("a non-empty list of schemas");
                };
                for (i, sub) in subs.iter().enumerate() {
                    check_schema(root, sub, &format!("{here}/{i}"))?;
                }
            }
            "$ref" => {
                let Some(target) = value.as_str() else { return bad("a string") };
                if resolve(root, target).is_none() {
                    return Err(format!(
                        "the JSON Schema `{here}` points to `{target}`, which does not resolve; only local references (`#/$defs/Name`) are supported"
                    ));
                }
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" if !value.is_number() => {
                return bad("a number")
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" if !value.is_u64() => {
                return bad("a non-negative integer")
            }
            k if ASSERTIONS.contains(&k) || ANNOTATIONS.contains(&k) => {}
            k => {
                return Err(format!(
                "the JSON Schema keyword `{k}` (at `{at}`) is not supported, and would not be checked; supported: {}",
                ASSERTIONS.join(", ")
            ))
            }
        }
    }
    Ok(())
}

/// Whether the top-level schema may describe text (no `type`, or one that lists `string`).
fn accepts_text(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => match map.get("type") {
            None => true,
            Some(Value::Array(names)) => names.iter().any(|n| n == "string"),
            Some(name) => name == "string",
        },
        _ => false,
    }
}

/// A local `$ref` target.
fn resolve<'s>(root: &'s Value, target: &str) -> Option<&'s Value> {
    let pointer = target.strip_prefix('#')?;
    root.pointer(pointer)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if is_integer(n) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn has_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("number", Value::Number(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_)) => true,
        ("integer", Value::Number(n)) => is_integer(n),
        _ => false,
    }
}

/// JSON equality with numbers compared by value.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn show(value: &Value) -> String {
    clip(&value.to_string(), 80)
}

fn child(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// Appends every violation of `schema` by `value` at `path` to `errors`.
fn validate(root: &Value, schema: &Value, value: &Value, path: &str, depth: usize, errors: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        errors.push(format!("{path}: the value or schema nests more than {MAX_DEPTH} levels deep"));
        return;
    }
    let map: &Map<String, Value> = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{path}: no value is allowed here"));
            return;
        }
        Value::Object(map) => map,
        _ => return,
    };
    if let Some(target) = map.get("$ref").and_then(Value::as_str) {
        if let Some(sub) = resolve(root, target) {
            validate(root, sub, value, path, depth + 1, errors);
        }
    }
    if let Some(t) = map.get("type") {
        let names: Vec<&str> = match t {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !names.iter().any(|n| has_type(value, n)) {
            errors.push(format!("{path}: expected {}, got {} {}", names.join(" or "), type_name(value), show(value)));
            // The remaining keywords would only repeat the mismatch.
            return;
        }
    }
    if let Some(options) = map.get("enum").and_then(Value::as_array) {
        if !options.iter().any(|o| json_eq(o, value)) {
            let list: Vec<String> = options.iter().map(show).collect();
            errors.push(format!("{path}: {} is not one of {}", show(value), list.join(", ")));
        }
    }
    if let Some(expected) = map.get("const") {
        if !json_eq(expected, value) {
            errors.push(format!("{path}: expected {}, got {}", show(expected), show(value)));
        }
    }
    if let Value::Number(n) = value {
        let x = n.as_f64().unwrap_or(f64::NAN);
        let bound = |key: &str| map.get(key).and_then(Value::as_f64);
        if let Some(min) = bound("minimum").filter(|m| x < *m) {
            errors.push(format!("{path}: {n} is less than the minimum {min}"));
        }
        if let Some(max) = bound("maximum").filter(|m| x > *m) {
            errors.push(format!("{path}: {n} is more than the maximum {max}"));
        }
        if let Some(min) = bound("exclusiveMinimum").filter(|m| x <= *m) {
            errors.push(format!("{path}: {n} must be more than {min}"));
        }
        if let Some(max) = bound("exclusiveMaximum").filter(|m| x >= *m) {
            errors.push(format!("{path}: {n} must be less than {max}"));
        }
    }
    let limit = |key: &str| map.get(key).and_then(Value::as_u64).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Value::String(s) = value {
        let len = s.chars().count();
        if let Some(min) = limit("minLength").filter(|m| len < *m) {
            errors.push(format!("{path}: the text has {len} characters, fewer than the minimum {min}"));
        }
        if let Some(max) = limit("maxLength").filter(|m| len > *m) {
            errors.push(format!("{path}: the text has {len} characters, more than the maximum {max}"));
        }
    }
    if let Value::Array(items) = value {
        if let Some(min) = limit("minItems").filter(|m| items.len() < *m) {
            errors.push(format!("{path}: {} items, fewer than the minimum {min}", items.len()));
        }
        if let Some(max) = limit("maxItems").filter(|m| items.len() > *m) {
            errors.push(format!("{path}: {} items, more than the maximum {max}", items.len()));
        }
        if let Some(item_schema) = map.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(root, item_schema, item, &format!("{path}[{i}]"), depth + 1, errors);
            }
        }
    }
    if let Value::Object(object) = value {
        if let Some(required) = map.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{path}: missing required property `{name}`"));
                }
            }
        }
        let properties = map.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            let here = child(path, key);
            match (properties.and_then(|p| p.get(key)), map.get("additionalProperties")) {
                (Some(sub), _) => validate(root, sub, item, &here, depth + 1, errors),
                (None, Some(Value::Bool(false))) => {
                    let known = properties.map(|p| p.keys().map(String::as_str).collect::<Vec<_>>().join(", "));
                    errors.push(match known {
                        Some(known) if !known.is_empty() => {
                            format!("{path}: unexpected property `{key}` (allowed: {known})")
                        }
                        _ => format!("{path}: unexpected property `{key}`"),
                    });
                }
                (None, Some(extra)) => validate(root, extra, item, &here, depth + 1, errors),
                (None, None) => {}
            }
        }
    }
    if let Some(all) = map.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(root, sub, value, path, depth + 1, errors);
        }
    }
    if let Some(any) = map.get("anyOf").and_then(Value::as_array) {
        let outcomes: Vec<Vec<String>> = any.iter().map(|sub| violations_of(root, sub, value, path, depth)).collect();
        if !outcomes.iter().any(Vec::is_empty) {
            push_closest(path, "anyOf", &outcomes, errors);
        }
    }
    if let Some(one) = map.get("oneOf").and_then(Value::as_array) {
        let outcomes: Vec<Vec<String>> = one.iter().map(|sub| violations_of(root, sub, value, path, depth)).collect();
        match outcomes.iter().filter(|o| o.is_empty()).count() {
            0 => push_closest(path, "oneOf", &outcomes, errors),
            1 => {}
            k => errors.push(format!("{path}: fits {k} of the oneOf alternatives; exactly one must fit")),
        }
    }
}

fn violations_of(root: &Value, schema: &Value, value: &Value, path: &str, depth: usize) -> Vec<String> {
    let mut errors = Vec::new();
    validate(root, schema, value, path, depth + 1, &mut errors);
    errors
}

/// Reports a value that fits none of the alternatives, with the closest one's violations.
fn push_closest(path: &str, keyword: &str, outcomes: &[Vec<String>], errors: &mut Vec<String>) {
    let closest = outcomes.iter().min_by_key(|o| o.len()).map(|o| o.join("; ")).unwrap_or_default();
    errors.push(format!("{path}: fits none of the {keyword} alternatives (closest: {closest})"));
}
