//! Signatures: what an LM call takes and returns.
//!
//! A [`Signature`](struct@Signature) is a runtime value: instructions plus ordered input and output
//! [`Field`]s. It is built from DSPy's string syntax with [`Signature::parse`], by hand
//! with the builder methods, or by `#[derive(Signature)]` on a Rust struct.

mod cache;
mod field_type;
mod parse;

pub(crate) use cache::RenderCache;
pub use field_type::{type_first, FieldType, LiteralValue};
pub(crate) use parse::is_identifier;
pub use parse::SignatureError;

use serde::{Deserialize, Serialize};

/// One input or output of a signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field's name, a Python-style identifier (`question`, `page_numbers`).
    pub name: String,
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// What the field means, shown to the LM. Empty when not given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// DSPy's human-readable prefix (`Question:`), used by instruction proposers.
    pub prefix: String,
}

impl Field {
    /// A field with the given name and type, no description and DSPy's inferred prefix.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        let name = name.into();
        let prefix = infer_prefix(&name);
        Field { name, ty, description: String::new(), prefix }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// Whether a field is read by the LM or produced by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRole {
    /// Given to the LM.
    Input,
    /// Produced by the LM.
    Output,
}

/// The name of the output that [`Signature::with_reasoning`] prepends.
pub const REASONING_FIELD: &str = "reasoning";

/// What an LM call takes and returns: instructions plus ordered input and output fields.
///
/// ```
/// use lmc::{FieldType, Signature};
///
/// let sig = Signature::parse("question: str, tags: list[str] -> answer: int, ok: bool")?;
/// assert_eq!(sig.instructions(), "Given the fields `question`, `tags`, produce the fields `answer`, `ok`.");
/// assert_eq!(sig.output("answer").unwrap().ty, FieldType::Int);
///
/// let cot = sig.with_reasoning()?;
/// assert_eq!(cot.output_names().collect::<Vec<_>>(), ["reasoning", "answer", "ok"]);
/// # Ok::<(), lmc::SignatureError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SignatureRepr")]
pub struct Signature {
    instructions: String,
    inputs: Vec<Field>,
    outputs: Vec<Field>,
    #[serde(skip)]
    rendered: RenderCache,
}

impl Signature {
    /// Parses DSPy's string syntax, `"inputs -> outputs"`, with DSPy's default instructions.
    ///
    /// Fields are `name` or `name: type`; untyped fields are `str`. Types: `str`, `int`,
    /// `float`, `bool`, `list[T]`, `dict[str, T]`, `Literal['a', 'b']`, `Optional[T]`,
    /// `T | None`, `Any`. Errors point at the column.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let (inputs, outputs) = parse::parse_signature(text)?;
        Ok(Signature::from_fields(inputs, outputs))
    }

    /// A signature from fields, with DSPy's default instructions.
    ///
    /// Field names must be unique; [`Signature::parse`] and the derive check that, and
    /// this constructor trusts its caller (see [`Signature::validate`]).
    pub fn from_fields(inputs: Vec<Field>, outputs: Vec<Field>) -> Self {
        let instructions = default_instructions(&inputs, &outputs);
        Signature { instructions, inputs, outputs, rendered: RenderCache::default() }
    }

    /// Checks the invariants a hand-built signature must keep: at least one output, unique
    /// field names, identifier-like names.
    pub fn validate(&self) -> Result<(), SignatureError> {
        if self.outputs.is_empty() {
            return Err(SignatureError::invalid("a signature needs at least one output field"));
        }
        let mut seen = std::collections::HashSet::new();
        for field in self.fields() {
            if !parse::is_identifier(&field.name) {
                return Err(SignatureError::invalid(format!(
                    "field name `{}` is not an identifier (letters, digits, `_`)",
                    field.name
                )));
            }
            if !seen.insert(field.name.as_str()) {
                return Err(SignatureError::invalid(format!(
                    "field `{}` appears twice; input and output names must be distinct",
                    field.name
                )));
            }
        }
        Ok(())
    }

    /// The instructions (the task description the LM sees).
    pub fn instructions(&self) -> &str {
        &self.instructions
    }

    /// The input fields, in order.
    pub fn inputs(&self) -> &[Field] {
        &self.inputs
    }

    /// The output fields, in order.
    pub fn outputs(&self) -> &[Field] {
        &self.outputs
    }

    /// Inputs then outputs.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.inputs.iter().chain(&self.outputs)
    }

    /// The input field called `name`.
    pub fn input(&self, name: &str) -> Option<&Field> {
        self.inputs.iter().find(|f| f.name == name)
    }

    /// The output field called `name`.
    pub fn output(&self, name: &str) -> Option<&Field> {
        self.outputs.iter().find(|f| f.name == name)
    }

    /// The field called `name` and whether it is an input or an output.
    pub fn field(&self, name: &str) -> Option<(FieldRole, &Field)> {
        self.input(name).map(|f| (FieldRole::Input, f)).or_else(|| self.output(name).map(|f| (FieldRole::Output, f)))
    }

    /// Input names, in order.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|f| f.name.as_str())
    }

    /// Output names, in order.
    pub fn output_names(&self) -> impl Iterator<Item = &str> {
        self.outputs.iter().map(|f| f.name.as_str())
    }

    /// Replaces the instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.set_instructions(instructions);
        self
    }

    /// Replaces the instructions in place.
    pub fn set_instructions(&mut self, instructions: impl Into<String>) {
        self.rendered = RenderCache::default();
        self.instructions = instructions.into();
    }

    /// Sets the description of the field called `name`.
    pub fn with_description(mut self, name: &str, description: impl Into<String>) -> Result<Self, SignatureError> {
        self.field_mut(name)?.description = description.into();
        Ok(self)
    }

    /// Sets the prefix of the field called `name`.
    pub fn with_prefix(mut self, name: &str, prefix: impl Into<String>) -> Result<Self, SignatureError> {
        self.field_mut(name)?.prefix = prefix.into();
        Ok(self)
    }

    fn field_mut(&mut self, name: &str) -> Result<&mut Field, SignatureError> {
        self.rendered = RenderCache::default();
        let known = self.fields().map(|f| f.name.clone()).collect::<Vec<_>>();
        self.inputs.iter_mut().chain(self.outputs.iter_mut()).find(|f| f.name == name).ok_or_else(|| {
            SignatureError::invalid(format!("no field named `{name}`; the signature has {}", known.join(", ")))
        })
    }

    /// Inserts `field` as the first output. The instructions are kept as they are, as in
    /// DSPy's `Signature.prepend`. Replaces an existing output of the same name; an input of
    /// that name is an error (names are unique across inputs and outputs).
    pub fn prepend_output(mut self, field: Field) -> Result<Self, SignatureError> {
        self.check_free(&field.name, FieldRole::Output)?;
        self.rendered = RenderCache::default();
        self.outputs.retain(|f| f.name != field.name);
        self.outputs.insert(0, field);
        Ok(self)
    }

    /// Appends `field` to the inputs (replacing an input of the same name). Instructions are
    /// kept.
    pub fn append_input(mut self, field: Field) -> Result<Self, SignatureError> {
        self.check_free(&field.name, FieldRole::Input)?;
        self.rendered = RenderCache::default();
        self.inputs.retain(|f| f.name != field.name);
        self.inputs.push(field);
        Ok(self)
    }

    /// Appends `field` to the outputs (replacing an output of the same name). Instructions
    /// are kept.
    pub fn append_output(mut self, field: Field) -> Result<Self, SignatureError> {
        self.check_free(&field.name, FieldRole::Output)?;
        self.rendered = RenderCache::default();
        self.outputs.retain(|f| f.name != field.name);
        self.outputs.push(field);
        Ok(self)
    }

    /// Errs when `name` is taken on the other side (an input named like a new output, or the
    /// reverse).
    fn check_free(&self, name: &str, role: FieldRole) -> Result<(), SignatureError> {
        let (clash, other) = match role {
            FieldRole::Input => (self.output(name).is_some(), "an output"),
            FieldRole::Output => (self.input(name).is_some(), "an input"),
        };
        if clash {
            return Err(SignatureError::invalid(format!(
                "the signature already has {other} named `{name}`; input and output names must be distinct"
            )));
        }
        Ok(())
    }

    /// Prepends DSPy's `reasoning` output (what `ChainOfThought` does). A no-op when the
    /// first output is already `reasoning`; an error when an input is called `reasoning`.
    pub fn with_reasoning(self) -> Result<Self, SignatureError> {
        if self.outputs.first().is_some_and(|f| f.name == REASONING_FIELD) {
            return Ok(self);
        }
        self.prepend_output(reasoning_field())
    }

    /// The render cache (system messages, response format); see [`RenderCache`].
    pub(crate) fn rendered(&self) -> &RenderCache {
        &self.rendered
    }

    /// The input and output names in DSPy's string form, `"question, tags -> answer"`.
    pub fn field_summary(&self) -> String {
        let inputs: Vec<&str> = self.input_names().collect();
        let outputs: Vec<&str> = self.output_names().collect();
        format!("{} -> {}", inputs.join(", "), outputs.join(", "))
    }
}

/// A signature as stored in files (artifacts): checked with [`Signature::validate`] on load.
#[derive(Deserialize)]
struct SignatureRepr {
    instructions: String,
    inputs: Vec<Field>,
    outputs: Vec<Field>,
}

impl TryFrom<SignatureRepr> for Signature {
    type Error = SignatureError;

    fn try_from(repr: SignatureRepr) -> Result<Self, Self::Error> {
        let sig = Signature {
            instructions: repr.instructions,
            inputs: repr.inputs,
            outputs: repr.outputs,
            rendered: RenderCache::default(),
        };
        sig.validate()?;
        Ok(sig)
    }
}

/// The `reasoning` output that chain-of-thought prepends, with DSPy 3.4.1's prefix (`Reasoning:`;
/// DSPy 2.5 wrote `Reasoning: Let's think step by step in order to`).
pub fn reasoning_field() -> Field {
    Field::new(REASONING_FIELD, FieldType::Str).with_prefix("Reasoning:")
}

/// DSPy's default instructions: ``Given the fields `a`, `b`, produce the fields `c`.``
pub fn default_instructions(inputs: &[Field], outputs: &[Field]) -> String {
    let quote = |fields: &[Field]| fields.iter().map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ");
    format!("Given the fields {}, produce the fields {}.", quote(inputs), quote(outputs))
}

/// DSPy's prefix for a field name: `snake_case`/`camelCase` words, title-cased, plus `:`.
///
/// `"question"` → `"Question:"`, `"page_numbers"` → `"Page Numbers:"`,
/// `"HTMLParser"` → `"HTML Parser:"`, `"text2number"` → `"Text 2 Number:"`. The steps are
/// DSPy's `infer_prefix` regex substitutions, applied in the same order.
pub fn infer_prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // (.)([A-Z][a-z]+) → \1_\2
    let mut s1 = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = c != '\n'
            && chars.get(i + 1).is_some_and(char::is_ascii_uppercase)
            && chars.get(i + 2).is_some_and(char::is_ascii_lowercase);
        if starts_word {
            s1.extend([c, '_', chars[i + 1]]);
            i += 2;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                s1.push(chars[i]);
                i += 1;
            }
        } else {
            s1.push(c);
            i += 1;
        }
    }
    let lower_or_digit = |c: &char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let s2 = underscore_between(&s1, lower_or_digit, char::is_ascii_uppercase);
    let s3 = underscore_between(&s2, char::is_ascii_alphabetic, char::is_ascii_digit);
    let s4 = underscore_between(&s3, char::is_ascii_digit, char::is_ascii_alphabetic);
    let text: String = s4.into_iter().collect();
    let words: Vec<String> = text
        .split('_')
        .map(|word| {
            let has_cased = word.chars().any(char::is_alphabetic);
            if has_cased && !word.chars().any(char::is_lowercase) {
                word.to_string()
            } else {
                let mut cs = word.chars();
                match cs.next() {
                    Some(first) => first.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
                    None => String::new(),
                }
            }
        })
        .collect();
    format!("{}:", words.join(" "))
}

/// Inserts `_` between each non-overlapping pair `a b` with `first(a)` and `second(b)`, as
/// `re.sub("(first)(second)", r"\1_\2", s)` does.
fn underscore_between(chars: &[char], first: impl Fn(&char) -> bool, second: impl Fn(&char) -> bool) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && first(&chars[i]) && second(&chars[i + 1]) {
            out.extend([chars[i], '_', chars[i + 1]]);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

impl std::str::FromStr for Signature {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Signature::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_dspy() {
        assert_eq!(infer_prefix("question"), "Question:");
        assert_eq!(infer_prefix("page_numbers"), "Page Numbers:");
        assert_eq!(infer_prefix("camelCaseText"), "Camel Case Text:");
        assert_eq!(infer_prefix("HTMLParser"), "HTML Parser:");
        assert_eq!(infer_prefix("text2number"), "Text 2 Number:");
        assert_eq!(infer_prefix("a"), "A:");
        assert_eq!(infer_prefix("a__b"), "A  B:");
        assert_eq!(infer_prefix("answer_"), "Answer :");
        assert_eq!(infer_prefix("HTMLParser2x"), "HTML Parser 2 X:");
        assert_eq!(infer_prefix("getHTTPResponseCode"), "Get HTTP Response Code:");
    }

    #[test]
    fn reasoning_is_prepended_once_and_keeps_instructions() {
        let sig = Signature::parse("question -> answer").unwrap();
        let cot = sig.clone().with_reasoning().unwrap().with_reasoning().unwrap();
        assert_eq!(cot.instructions(), sig.instructions());
        assert_eq!(cot.output_names().collect::<Vec<_>>(), ["reasoning", "answer"]);
    }

    #[test]
    fn deserializing_validates() {
        let bad = r#"{"instructions": "x", "inputs": [{"name": "a", "type": {"kind": "str"}, "prefix": "A:"}],
                      "outputs": [{"name": "a", "type": {"kind": "str"}, "prefix": "A:"}]}"#;
        let err = serde_json::from_str::<Signature>(bad).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let sig = Signature::parse("q -> a: int").unwrap();
        let back: Signature = serde_json::from_str(&serde_json::to_string(&sig).unwrap()).unwrap();
        assert_eq!(back, sig);
    }

    #[test]
    fn reasoning_cannot_clash_with_an_input() {
        let err = Signature::parse("reasoning -> answer").unwrap().with_reasoning().unwrap_err();
        assert!(err.to_string().contains("already has an input named `reasoning`"), "{err}");
    }

    #[test]
    fn unknown_field_description_names_the_fields() {
        let err = Signature::parse("a -> b").unwrap().with_description("c", "x").unwrap_err();
        assert!(err.to_string().contains("no field named `c`"), "{err}");
    }
}
