//! `RunError`: why running a module failed.

use crate::adapter::ParseError;
use crate::lm::{LmError, Usage};

/// A module run that failed. Each variant names the predictor, so a multi-step program's
/// error says where it broke.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Neither the predictor nor the run context has an LM.
    #[error("predictor `{predictor}` has no LM: set a default LM on the run context or one on the predictor")]
    NoLm {
        /// The predictor.
        predictor: String,
    },
    /// A required input is absent.
    #[error("predictor `{predictor}` needs input `{field}`, which is missing (present: {present})")]
    MissingInput {
        /// The predictor.
        predictor: String,
        /// The missing input.
        field: String,
        /// The keys that were given, comma-separated.
        present: String,
    },
    /// Typed inputs that cannot be turned into fields (a hand-written `TypedSignature` whose
    /// input type does not serialize to a JSON object).
    #[error("predictor `{predictor}`: invalid inputs: {message}")]
    InvalidInput {
        /// The predictor.
        predictor: String,
        /// What is wrong.
        message: String,
    },
    /// Finding the demos for this input failed (KnnFewShot's embedding call).
    #[error("predictor `{predictor}`: cannot find demos for this input: {message}")]
    Demos {
        /// The predictor (for a program-wide demo lookup, the program's first predictor).
        predictor: String,
        /// What went wrong.
        message: String,
    },
    /// The LM request failed. (The message names the predictor; the cause is the source, so
    /// that error reporters that walk the chain print it once.)
    #[error("predictor `{predictor}`")]
    Lm {
        /// The predictor.
        predictor: String,
        /// What the LM layer said.
        #[source]
        source: LmError,
    },
    /// The LM replied, but the reply does not hold the outputs. The usage of the call is kept:
    /// a failed parse still costs money.
    #[error("predictor `{predictor}`")]
    Parse {
        /// The predictor.
        predictor: String,
        /// What was wrong, with the raw reply.
        #[source]
        source: ParseError,
        /// Tokens the failed call used.
        usage: Usage,
    },
}

impl RunError {
    /// The message with every cause, `predictor `p`: cause: cause`, as a report prints it.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// The predictor the error comes from.
    pub fn predictor(&self) -> &str {
        match self {
            RunError::NoLm { predictor }
            | RunError::MissingInput { predictor, .. }
            | RunError::InvalidInput { predictor, .. }
            | RunError::Demos { predictor, .. }
            | RunError::Lm { predictor, .. }
            | RunError::Parse { predictor, .. } => predictor,
        }
    }
}
