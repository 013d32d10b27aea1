//! What an import mapped, and what it could not carry over.

use std::fmt;

use serde::Serialize;

/// What [`import_dspy`](super::import_dspy) did: the predictors it mapped and notes on what it
/// left out. Nothing in the notes makes the imported artifact wrong; what would is an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// The DSPy version in the file's metadata, when it has one.
    pub dspy_version: Option<String>,
    /// The predictors whose state was imported, in program order.
    pub mapped: Vec<MappedPredictor>,
    /// What was not carried over, and differences worth a look.
    pub notes: Vec<ImportNote>,
}

/// One DSPy predictor imported into an lmc predictor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedPredictor {
    /// The predictor's path in the file (`solve.predict`; [`TOP_LEVEL`](super::TOP_LEVEL) for
    /// a bare `dspy.Predict`).
    pub dspy_path: String,
    /// The lmc predictor.
    pub predictor: String,
    /// The lmc field names the file's positional fields were given, in the file's order.
    pub fields: Vec<String>,
    /// Demos imported.
    pub demos: usize,
    /// How many of them DSPy marked `augmented` (bootstrapped).
    pub augmented_demos: usize,
    /// Whether the file's instructions differ from the program's.
    pub instructions_changed: bool,
}

/// Something an import did not carry over, or a difference it kept the program's side of.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportNote {
    /// A DSPy predictor with no lmc counterpart; its state was dropped.
    UnmatchedDspyPredictor {
        /// Its path in the file.
        path: String,
    },
    /// An lmc predictor the file has no state for; it keeps the program's instructions and
    /// demos.
    PredictorNotInFile {
        /// The lmc predictor.
        predictor: String,
    },
    /// DSPy saved an LM for this predictor; lmc does not take it from the file.
    LmNotCarried {
        /// The lmc predictor.
        predictor: String,
        /// The LM's model (`openai/gpt-4o-mini`), when the state names one.
        model: Option<String>,
        /// The LM state as DSPy saved it.
        state: serde_json::Value,
    },
    /// A field's description differs; the program's is kept (it is what the prompt shows).
    DescriptionDiffers {
        /// The lmc predictor.
        predictor: String,
        /// The field.
        field: String,
        /// DSPy's description (empty when DSPy has its default, `${field}`).
        dspy: String,
        /// The program's description.
        program: String,
    },
    /// A field's prefix differs; the program's is kept (neither adapter renders prefixes; some
    /// instruction proposers read them).
    PrefixDiffers {
        /// The lmc predictor.
        predictor: String,
        /// The field.
        field: String,
        /// DSPy's prefix.
        dspy: String,
        /// The program's prefix.
        program: String,
    },
    /// Predictor state lmc has no place for (`traces`, `train`, decision `fields`, other keys).
    StateIgnored {
        /// The lmc predictor.
        predictor: String,
        /// The key in the file.
        key: String,
    },
    /// A top-level entry of the file that is not predictor state.
    EntryIgnored {
        /// Its key.
        key: String,
    },
    /// The file has no `metadata.dependency_versions.dspy`.
    NoDspyVersion,
}

impl fmt::Display for ImportNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportNote::UnmatchedDspyPredictor { path } => {
                write!(f, "DSPy predictor `{path}` has no counterpart in the program; its state was not imported")
            }
            ImportNote::PredictorNotInFile { predictor } => {
                write!(f, "`{predictor}` is not in the file; it keeps the program's instructions and demos")
            }
            ImportNote::LmNotCarried { predictor, model, state } => {
                let settings = lm_settings(state);
                write!(
                    f,
                    "`{predictor}`: DSPy saved its own LM ({}{settings}); not carried over: give the step `lm = \
                     \"provider/model\"` in the program file, or pass --lm",
                    model.as_deref().unwrap_or("no model named"),
                )
            }
            ImportNote::DescriptionDiffers { predictor, field, dspy, program } => write!(
                f,
                "`{predictor}`: field `{field}` is described as {} in DSPy but {} in the program; the program's \
                 is kept (edit [step.desc] to change it)",
                shown(dspy),
                shown(program)
            ),
            ImportNote::PrefixDiffers { predictor, field, dspy, program } => write!(
                f,
                "`{predictor}`: field `{field}` has prefix {dspy:?} in DSPy but {program:?} in the program; the \
                 program's is kept"
            ),
            ImportNote::StateIgnored { predictor, key } => {
                write!(f, "`{predictor}`: DSPy state `{key}` has no lmc counterpart and was not imported")
            }
            ImportNote::EntryIgnored { key } => {
                write!(f, "`{key}` in the file is not a predictor's state (no `signature`); not imported")
            }
            ImportNote::NoDspyVersion => f.write_str("the file names no DSPy version (`metadata.dependency_versions`)"),
        }
    }
}

fn shown(description: &str) -> String {
    if description.is_empty() {
        "(none)".to_string()
    } else {
        format!("{description:?}")
    }
}

/// `, temperature 0.0, max_tokens 1000` from an LM state: the sampling settings a reader
/// cares about, in a fixed order.
fn lm_settings(state: &serde_json::Value) -> String {
    ["temperature", "max_tokens", "top_p", "n"]
        .iter()
        .filter_map(|key| state.get(*key).filter(|v| !v.is_null()).map(|v| format!(", {key} {v}")))
        .collect()
}

impl ImportReport {
    /// The report as text: one line per mapped predictor, then the notes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(version) = &self.dspy_version {
            out.push_str(&format!("DSPy {version} save file\n"));
        }
        for m in &self.mapped {
            out.push_str(&format!(
                "  {} <- {}: {} demos ({} bootstrapped), instructions {}, fields {}\n",
                m.predictor,
                m.dspy_path,
                m.demos,
                m.augmented_demos,
                if m.instructions_changed { "changed" } else { "as in the program" },
                m.fields.join(", ")
            ));
        }
        if !self.notes.is_empty() {
            out.push_str("not carried over / differences:\n");
            for note in &self.notes {
                out.push_str(&format!("  - {note}\n"));
            }
        }
        out
    }
}
