//! `ParseError`: why a reply could not be read, with the raw text kept.

use std::fmt;

use super::AdapterKind;
use crate::data::Fields;

/// The longest excerpt of an offending value kept in an error message.
const EXCERPT_CHARS: usize = 80;

/// One thing wrong with a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseProblem {
    /// A required output field is absent.
    Missing {
        /// The field's name.
        field: String,
    },
    /// An output field is present but does not fit its type.
    Invalid {
        /// The field's name.
        field: String,
        /// What the type asks for (`an integer`, `one of: a; b`).
        expected: String,
        /// An excerpt of what the reply gave.
        found: String,
    },
    /// The JSON adapter found no JSON object in the reply.
    NotJsonObject,
}

impl ParseProblem {
    pub(crate) fn invalid(field: &str, expected: String, found: &str) -> Self {
        let mut excerpt: String = found.chars().take(EXCERPT_CHARS).collect();
        if found.chars().count() > EXCERPT_CHARS {
            excerpt.push('…');
        }
        ParseProblem::Invalid { field: field.to_string(), expected, found: excerpt }
    }
}

impl fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseProblem::Missing { field } => write!(f, "missing field `{field}`"),
            ParseProblem::Invalid { field, expected, found } => {
                write!(f, "field `{field}`: expected {expected}, found {found:?}")
            }
            ParseProblem::NotJsonObject => f.write_str("the reply contains no JSON object"),
        }
    }
}

/// An LM reply that does not hold every output field in its declared type.
///
/// It names every missing or invalid field, keeps the raw completion, and keeps the fields
/// that did parse.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    // Boxed: errors are rare, and a small `Err` keeps every `Result` cheap to move.
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    adapter: AdapterKind,
    problems: Vec<ParseProblem>,
    raw: String,
    parsed: Fields,
}

impl ParseError {
    pub(crate) fn new(adapter: AdapterKind, problems: Vec<ParseProblem>, raw: &str, parsed: Fields) -> Self {
        ParseError { inner: Box::new(Inner { adapter, problems, raw: raw.to_string(), parsed }) }
    }

    /// The adapter that parsed.
    pub fn adapter(&self) -> AdapterKind {
        self.inner.adapter
    }

    /// Everything that is wrong, in field order.
    pub fn problems(&self) -> &[ParseProblem] {
        &self.inner.problems
    }

    /// The names of the missing fields.
    pub fn missing_fields(&self) -> Vec<&str> {
        self.inner
            .problems
            .iter()
            .filter_map(|p| match p {
                ParseProblem::Missing { field } => Some(field.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The names of the fields that were present but invalid.
    pub fn invalid_fields(&self) -> Vec<&str> {
        self.inner
            .problems
            .iter()
            .filter_map(|p| match p {
                ParseProblem::Invalid { field, .. } => Some(field.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The completion exactly as the LM sent it.
    pub fn raw(&self) -> &str {
        &self.inner.raw
    }

    /// The fields that did parse.
    pub fn parsed(&self) -> &Fields {
        &self.inner.parsed
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not parse the LM reply ({} adapter): ", self.inner.adapter)?;
        for (i, p) in self.inner.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}
