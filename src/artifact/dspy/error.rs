//! Why a DSPy save file cannot be imported, or an artifact exported.

/// A DSPy save file that cannot be imported into a program (or an artifact that cannot be
/// exported): the result would be wrong, so nothing is produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DspyError {
    /// The text is not JSON.
    #[error(
        "not JSON ({message}); expected the file DSPy writes with `program.save(\"x.json\")` (a `.pkl` file or a \
         `save_program=True` directory cannot be imported)"
    )]
    Json {
        /// What the JSON parser said.
        message: String,
    },
    /// JSON, but not DSPy's save layout.
    #[error("not a DSPy save file: {reason}")]
    NotDspy {
        /// What is missing or in its place.
        reason: String,
    },
    /// A predictor's state is malformed.
    #[error("DSPy predictor `{path}`: {message}")]
    InvalidState {
        /// The predictor's path in the file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// State written by DSPy 2.5 or older (`extended_signature`), which DSPy 2.6+ refuses too.
    #[error(
        "DSPy predictor `{path}` has an `extended_signature`: it was saved by DSPy 2.5 or older, which DSPy 2.6+ \
         cannot load either; load it into the program with that DSPy, save it again with DSPy 3, then import"
    )]
    LegacyState {
        /// The predictor's path in the file.
        path: String,
    },
    /// The file's positional field list and the program's signature have different lengths.
    #[error(
        "DSPy predictor `{path}` has {dspy} fields but the program's `{predictor}` has {program} ({}){}; make the \
         signatures match (same inputs, then outputs, in the same order)",
        program_fields.join(", "),
        cot_hint(*dspy, *program, path)
    )]
    FieldCount {
        /// The predictor's path in the file.
        path: String,
        /// The lmc predictor it maps to.
        predictor: String,
        /// Fields in the file.
        dspy: usize,
        /// Fields in the program's signature (inputs, then outputs).
        program: usize,
        /// The program's field names, in that order.
        program_fields: Vec<String>,
    },
    /// The field at a position has another name in DSPy than in the program.
    #[error(
        "DSPy predictor `{path}`: field {position} is `{dspy_field}` in DSPy but `{program_field}` in the program's \
         `{predictor}`; rename one of them so the names match (demos are keyed by field name)"
    )]
    FieldRenamed {
        /// The predictor's path in the file.
        path: String,
        /// The lmc predictor it maps to.
        predictor: String,
        /// The field's position (1-based, inputs then outputs).
        position: usize,
        /// The name DSPy gave it (from its default description `${name}`, or from the demos).
        dspy_field: String,
        /// The program's name for it.
        program_field: String,
    },
    /// Two of the file's predictors map to the same lmc predictor.
    #[error(
        "the DSPy predictors {} all map to the program's `{predictor}`; a file has one state per predictor (edit \
         the file to keep one)",
        quoted(paths)
    )]
    DuplicatePredictor {
        /// The lmc predictor.
        predictor: String,
        /// The file's paths that map to it.
        paths: Vec<String>,
    },
    /// Predictors on both sides without a counterpart: most likely renamed, so pairing them
    /// up by guess would install state in the wrong place.
    #[error(
        "the file's predictors ({}) match no predictor of the program, and the program's ({}) are not in the \
         file; rename the steps so they match (DSPy's `solve.predict` and `solve` are lmc's `solve`), or import into \
         the program the file was saved from",
        quoted(paths),
        quoted(predictors)
    )]
    Unmatched {
        /// The file's paths with no lmc predictor.
        paths: Vec<String>,
        /// The program's predictors with no state in the file.
        predictors: Vec<String>,
    },
    /// The artifact chooses demos per input (KnnFewShot), which DSPy's save layout cannot hold.
    #[error(
        "the artifact chooses demos per input (KnnFewShot); a DSPy save file holds fixed demos only, so the \
         exported program would run without them; export an artifact compiled with fixed demos"
    )]
    KnnNotExportable,
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn cot_hint(dspy: usize, program: usize, path: &str) -> String {
    let cot_in_file = path.ends_with("predict");
    match dspy.checked_sub(program) {
        Some(1) if cot_in_file => {
            " (one more in DSPy: is it a ChainOfThought there and a `predict` step here? then make the step \
             `module = \"chain_of_thought\"`)"
                .to_string()
        }
        None if program - dspy == 1 => {
            " (one fewer in DSPy: is the step a chain of thought here and a plain Predict there?)".to_string()
        }
        _ => String::new(),
    }
}
