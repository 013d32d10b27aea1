//! `Example` and `Prediction`: ordered maps of JSON values with typed access through serde.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An ordered map from field names to JSON values (insertion order is kept).
pub type Fields = serde_json::Map<String, Value>;

/// A field that is missing or does not deserialize into the requested type.
#[derive(Debug, thiserror::Error)]
pub enum FieldAccessError {
    /// The key is absent.
    #[error("no field `{field}`; present: {present}")]
    Missing {
        /// The requested key.
        field: String,
        /// The keys that are present, comma-separated.
        present: String,
    },
    /// The value does not fit the requested type.
    #[error("field `{field}` does not fit the requested type: {source}")]
    Type {
        /// The requested key (empty when the whole map was converted).
        field: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

fn get_as<T: DeserializeOwned>(fields: &Fields, key: &str) -> Result<T, FieldAccessError> {
    let value = fields.get(key).ok_or_else(|| FieldAccessError::Missing {
        field: key.to_string(),
        present: fields.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
    })?;
    T::deserialize(value).map_err(|source| FieldAccessError::Type { field: key.to_string(), source })
}

fn to_typed<T: DeserializeOwned>(fields: &Fields) -> Result<T, FieldAccessError> {
    T::deserialize(&Value::Object(fields.clone()))
        .map_err(|source| FieldAccessError::Type { field: String::new(), source })
}

/// One labeled example: field values in order, and which keys are inputs.
///
/// Keys that are not inputs are labels (gold outputs) or metadata.
///
/// ```
/// use lmc::Example;
/// use serde_json::json;
///
/// let ex = Example::from_json(json!({"question": "2+2?", "answer": 4}))?.with_inputs(["question"]);
/// assert!(ex.is_input("question"));
/// assert_eq!(ex.get_as::<i64>("answer")?, 4);
/// assert_eq!(ex.inputs().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Serialized, an example is the flat JSON object of its fields (as DSPy saves demos); which
/// keys are inputs is a property of the dataset or signature, not stored in the object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Fields", into = "Fields")]
pub struct Example {
    fields: Fields,
    input_keys: Vec<String>,
}

impl From<Example> for Fields {
    fn from(example: Example) -> Self {
        example.fields
    }
}

impl Example {
    /// An empty example.
    pub fn new() -> Self {
        Self::default()
    }

    /// An example holding `fields`, with no input keys marked.
    pub fn from_fields(fields: Fields) -> Self {
        Example { fields, input_keys: Vec::new() }
    }

    /// An example from a JSON object.
    pub fn from_json(value: Value) -> Result<Self, FieldAccessError> {
        match value {
            Value::Object(fields) => Ok(Self::from_fields(fields)),
            other => Err(FieldAccessError::Type {
                field: String::new(),
                source: serde::de::Error::custom(format!("expected a JSON object, found {other}")),
            }),
        }
    }

    /// An example from any value that serializes to a JSON object (a typed input struct).
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, FieldAccessError> {
        let json =
            serde_json::to_value(value).map_err(|source| FieldAccessError::Type { field: String::new(), source })?;
        Self::from_json(json)
    }

    /// Marks `keys` as the inputs (replacing any earlier marking).
    pub fn with_inputs<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.input_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `key` to `value`, keeping the position of an existing key.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`, keeping the position of an existing key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    /// The keys marked as inputs.
    pub fn input_keys(&self) -> &[String] {
        &self.input_keys
    }

    /// Whether `key` is marked as an input.
    pub fn is_input(&self, key: &str) -> bool {
        self.input_keys.iter().any(|k| k == key)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The value of `key`, deserialized into `T`.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<T, FieldAccessError> {
        get_as(&self.fields, key)
    }

    /// The whole example deserialized into `T` (a typed struct).
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, FieldAccessError> {
        to_typed(&self.fields)
    }

    /// All fields, in order.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// All fields, by value.
    pub fn into_fields(self) -> Fields {
        self.fields
    }

    /// The input fields only, in order.
    pub fn inputs(&self) -> Fields {
        self.select(|k| self.is_input(k))
    }

    /// The fields that are not inputs (labels and metadata), in order.
    pub fn labels(&self) -> Fields {
        self.select(|k| !self.is_input(k))
    }

    fn select(&self, keep: impl Fn(&str) -> bool) -> Fields {
        self.fields.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the example has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl From<Fields> for Example {
    fn from(fields: Fields) -> Self {
        Example::from_fields(fields)
    }
}

/// What a module returns: output values in order, plus every completion when `n > 1`.
///
/// ```
/// use lmc::Prediction;
/// use serde_json::json;
///
/// let p = Prediction::from_json(json!({"answer": 42, "ok": true}))?;
/// assert_eq!(p.get_as::<u32>("answer")?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    fields: Fields,
    /// Every parsed completion when the LM was asked for several (`n > 1`); the first one is
    /// also in the main fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    completions: Vec<Fields>,
}

impl Prediction {
    /// A prediction holding `fields`.
    pub fn new(fields: Fields) -> Self {
        Prediction { fields, completions: Vec::new() }
    }

    /// A prediction from a JSON object.
    pub fn from_json(value: Value) -> Result<Self, FieldAccessError> {
        Example::from_json(value).map(|e| Prediction::new(e.into_fields()))
    }

    /// Attaches every completion of an `n > 1` call.
    pub fn with_completions(mut self, completions: Vec<Fields>) -> Self {
        self.completions = completions;
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The value of `key`, deserialized into `T`.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<T, FieldAccessError> {
        get_as(&self.fields, key)
    }

    /// The whole prediction deserialized into `T` (a typed output struct).
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, FieldAccessError> {
        to_typed(&self.fields)
    }

    /// All fields, in order.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// All fields, by value.
    pub fn into_fields(self) -> Fields {
        self.fields
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    /// Every completion when several were requested; empty otherwise.
    pub fn completions(&self) -> &[Fields] {
        &self.completions
    }
}
