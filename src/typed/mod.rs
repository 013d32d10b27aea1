//! Typed signatures: `#[derive(Signature)]` on a Rust struct, and predictors that take and
//! return its typed input and output structs.
//!
//! ```
//! use std::sync::Arc;
//! use lmc::typed::{ChainOfThought, Predict};
//! use lmc::{RunCx, ScriptedLm, Signature};
//!
//! /// Answer questions with short factoid answers.
//! #[derive(Signature)]
//! struct QA {
//!     #[input]
//!     question: String,
//!     /// often between 1 and 5 words
//!     #[output]
//!     answer: String,
//!     #[output]
//!     confidence: f64,
//! }
//!
//! let lm = Arc::new(ScriptedLm::new().with_default(
//!     "[[ ## reasoning ## ]]\nIt is in France.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## confidence ## ]]\n0.9",
//! ));
//! let cx = RunCx::new().with_lm(lm);
//! let cot = ChainOfThought::<QA>::new("qa")?;
//! let out = futures::executor::block_on(cot.call(&cx, &QAInput { question: "Capital of France?".into() }))?;
//! assert_eq!(out.answer, "Paris");          // typed fields, through Deref
//! assert_eq!(out.confidence, 0.9);
//! assert_eq!(out.reasoning, "It is in France.");
//!
//! // The typed signature is the same runtime Signature a string would give.
//! let predict = Predict::<QA>::new("qa");
//! assert_eq!(predict.signature().field_summary(), "question -> answer, confidence");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod field_type_of;
mod predict;

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use field_type_of::{field_type_of, SignatureField};
pub use predict::{ChainOfThought, Predict};

use crate::adapter::ParseProblem;
use crate::data::Fields;
use crate::signature::Signature;

/// A signature declared as a Rust type, usually by `#[derive(Signature)]`, with typed input
/// and output structs.
pub trait TypedSignature: Send + Sync + 'static {
    /// The inputs, one struct field per input field.
    type Input: Serialize + DeserializeOwned + Send + Sync;
    /// The outputs, one struct field per output field.
    type Output: Serialize + DeserializeOwned + Send + Sync;

    /// The runtime signature: the same value the string parser gives for the same fields.
    fn signature() -> Signature;

    /// Reads the outputs from parsed fields, naming each field that does not fit its Rust
    /// type.
    fn output_from_fields(fields: &Fields) -> Result<Self::Output, Vec<ParseProblem>>;
}

/// A chain of thought's outputs: the typed outputs plus the reasoning that preceded them.
/// Derefs to the outputs, so `result.answer` works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithReasoning<O> {
    /// The step-by-step reasoning.
    pub reasoning: String,
    /// The outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> Deref for WithReasoning<O> {
    type Target = O;

    fn deref(&self) -> &O {
        &self.output
    }
}

impl<O> DerefMut for WithReasoning<O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.output
    }
}

/// Support for the code `#[derive(Signature)]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;

    pub use super::field_type_of::{field_type_of, SignatureField};
    pub use crate::adapter::ParseProblem;
    pub use crate::data::Fields;
    pub use crate::signature::{Field, FieldType, LiteralValue, Signature};

    /// Deserializes output `name` into `T`, or records why it cannot.
    pub fn take_field<T: serde::de::DeserializeOwned>(
        fields: &Fields,
        name: &str,
        rust_type: &str,
        problems: &mut Vec<ParseProblem>,
    ) -> Option<T> {
        // An absent field reads as null, which `Option<T>` fields accept.
        let value = fields.get(name).cloned().unwrap_or(serde_json::Value::Null);
        match T::deserialize(&value) {
            Ok(v) => Some(v),
            Err(_) if !fields.contains_key(name) => {
                problems.push(ParseProblem::Missing { field: name.to_string() });
                None
            }
            Err(e) => {
                problems.push(ParseProblem::invalid(
                    name,
                    format!("{rust_type} ({e})"),
                    &crate::adapter::pyfmt::py_str(&value),
                ));
                None
            }
        }
    }

    /// A signature from typed fields: DSPy's default instructions unless given.
    pub fn signature(instructions: Option<&str>, inputs: Vec<Field>, outputs: Vec<Field>) -> Signature {
        let sig = Signature::from_fields(inputs, outputs);
        match instructions {
            Some(text) => sig.with_instructions(text),
            None => sig,
        }
    }
}
