//! DSPy interchange: import a DSPy `program.save("x.json")` file as an lmc artifact, and export
//! an artifact in that layout so that DSPy's `program.load("x.json")` reads it.
//!
//! DSPy 3.4.1 writes, for a module, one entry per leaf `dspy.Predict` keyed by its attribute
//! path, then a `metadata` block:
//!
//! ```json
//! {
//!   "extract": {"traces": [], "train": [], "demos": [...], "signature": {...}, "lm": null},
//!   "classify.predict": {...},
//!   "metadata": {"dependency_versions": {"python": "3.11", "dspy": "3.4.1", "cloudpickle": "3.1"}}
//! }
//! ```
//!
//! A `dspy.ChainOfThought` holds its `Predict` as `predict`, so a chain of thought named
//! `classify` is saved as `classify.predict` (older DSPy: `classify._predict`); a bare
//! `dspy.ChainOfThought` saves as `predict`, and a bare `dspy.Predict` writes its state as the
//! top-level object itself. A signature is its `instructions` and a *positional* list of
//! `{prefix, description}`, inputs then outputs (a chain of thought's `reasoning` is the first
//! output); DSPy's default description is `${name}`, which is the only place a field's name
//! appears besides the demos. Demos are flat field maps; bootstrapped ones start with
//! `"augmented": true` and hold exactly the predictor's fields, labeled ones are training
//! examples as they are. `lm` is the predictor's own LM (its model and settings, never a key)
//! or `null`.
//!
//! lmc names a chain of thought `solve` where DSPy says `solve.predict` (DESIGN.md §4), so an
//! import maps paths to predictor names and positions to field names, and checks both: what
//! would install state in the wrong place is a [`DspyError`]; what is only left out (another
//! predictor, an LM setting, a differing description) is an [`ImportNote`] in the
//! [`ImportReport`].
//!
//! ```
//! use lmc::artifact::dspy::{export_dspy, import_dspy};
//! use lmc::Program;
//!
//! let program = Program::from_toml_str(r#"
//! name = "qa"
//! [[step]]
//! name = "solve"
//! module = "cot"
//! signature = "question -> answer"
//! "#)?;
//! let file = r#"{
//!   "solve.predict": {
//!     "traces": [], "train": [],
//!     "demos": [{"augmented": true, "question": "1+1?", "reasoning": "One and one.", "answer": "2"}],
//!     "signature": {"instructions": "Add.", "fields": [
//!       {"prefix": "Question:", "description": "${question}"},
//!       {"prefix": "Reasoning:", "description": "${reasoning}"},
//!       {"prefix": "Answer:", "description": "${answer}"}]},
//!     "lm": null
//!   },
//!   "metadata": {"dependency_versions": {"python": "3.11", "dspy": "3.4.1", "cloudpickle": "3.1"}}
//! }"#;
//! let (artifact, report) = import_dspy(file, &program, "qa")?;
//! assert_eq!(artifact.predictors[0].instructions, "Add.");
//! assert_eq!(report.mapped[0].dspy_path, "solve.predict");
//!
//! let exported = export_dspy(&artifact);
//! assert_eq!(exported["solve.predict"]["demos"][0]["augmented"], true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

pub use error::DspyError;
pub use report::{ImportNote, ImportReport, MappedPredictor};

use super::{ArtifactProvenance, PredictorArtifact, ProgramArtifact};
use crate::adapter::AdapterKind;
use crate::data::Example;
use crate::module::{Module, Overlay, Predict, PredictorOverlay};
use crate::signature::{infer_prefix, is_identifier, REASONING_FIELD};

/// The path an import reports for a bare `dspy.Predict`, whose state is the file's top level.
pub const TOP_LEVEL: &str = "(top level)";

/// The DSPy version whose layout this module reads and writes, and that exports claim.
pub const DSPY_VERSION: &str = "3.4.1";

/// What exports write as `metadata.dependency_versions`. DSPy records the saving process's
/// Python and cloudpickle (major.minor) and, on load, only warns when they differ from its own.
/// lmc is not Python, so there is no true value: fixed ones keep an export byte-identical
/// across machines, and these are what DSPy 3.4.1 wrote for the committed fixtures
/// (`tests/fixtures/dspy`), so an export of an imported fixture equals the file.
const EXPORT_PYTHON_VERSION: &str = "3.11";
/// See [`EXPORT_PYTHON_VERSION`].
const EXPORT_CLOUDPICKLE_VERSION: &str = "3.1";

/// DSPy 3.4.1's prefix for a chain of thought's `reasoning` (inferred from the name).
const DSPY_REASONING_PREFIX: &str = "Reasoning:";
/// DSPy 2.5's prefix for it, which lmc's [`reasoning_field`](crate::signature::reasoning_field)
/// has kept. Neither adapter renders prefixes, so the two are treated as the same.
const LEGACY_REASONING_PREFIX: &str = "Reasoning: Let's think step by step in order to";

/// The key DSPy's bootstrapping adds to the demos it made.
const AUGMENTED: &str = "augmented";

/// Imports a DSPy save file into `program`: the artifact `program_name` would have with the
/// file's instructions and demos, and a report of what was mapped and what was not.
///
/// Predictors are matched by path (`solve.predict`, `solve._predict` and `solve` are lmc's
/// `solve`; a bare `dspy.Predict` or `dspy.ChainOfThought` file matches a one-predictor
/// program), fields by position (inputs, then outputs, in DSPy's order). The artifact keeps the
/// program's fields, adapter, LM and sampling; its provenance says `dspy-import` and records
/// the DSPy version and the path of each imported predictor.
///
/// Errors when the text is not a DSPy save file, when a predictor's field count or a field's
/// name (DSPy's default description `${name}`, or a demo key whose inferred prefix is the
/// field's) disagrees with the program, when two paths map to one predictor, or when both sides
/// have predictors without a counterpart (a rename cannot be guessed).
pub fn import_dspy(
    text: &str,
    program: &dyn Module,
    program_name: &str,
) -> Result<(ProgramArtifact, ImportReport), DspyError> {
    let file = parse_file(text)?;
    let predictors = program.predictors();
    let names: Vec<&str> = predictors.iter().map(|p| p.name()).collect();

    let mut by_name: BTreeMap<&str, Vec<&DspyPredictor>> = BTreeMap::new();
    let mut unmatched: Vec<String> = Vec::new();
    for state in &file.predictors {
        match lmc_name_for(&state.path, &names) {
            Some(name) => by_name.entry(name).or_default().push(state),
            None => unmatched.push(state.path.clone()),
        }
    }
    if let Some((name, states)) = by_name.iter().find(|(_, states)| states.len() > 1) {
        return Err(DspyError::DuplicatePredictor {
            predictor: name.to_string(),
            paths: states.iter().map(|s| s.path.clone()).collect(),
        });
    }
    let missing: Vec<String> = names.iter().filter(|n| !by_name.contains_key(*n)).map(|n| n.to_string()).collect();
    if !unmatched.is_empty() && !missing.is_empty() {
        return Err(DspyError::Unmatched { paths: unmatched, predictors: missing });
    }

    let mut report = ImportReport { dspy_version: file.dspy_version.clone(), ..ImportReport::default() };
    if file.dspy_version.is_none() {
        report.notes.push(ImportNote::NoDspyVersion);
    }
    report.notes.extend(unmatched.into_iter().map(|path| ImportNote::UnmatchedDspyPredictor { path }));
    report.notes.extend(file.ignored.iter().map(|key| ImportNote::EntryIgnored { key: key.clone() }));

    let mut overlay = Overlay::default();
    let mut paths = Map::new();
    for predictor in &predictors {
        let name = predictor.name();
        let Some(state) = by_name.get(name).and_then(|states| states.first()) else {
            report.notes.push(ImportNote::PredictorNotInFile { predictor: name.to_string() });
            continue;
        };
        let fields = map_fields(state, predictor, &mut report.notes)?;
        if let Some(lm) = state.lm.as_ref().filter(|lm| !lm.is_null()) {
            report.notes.push(ImportNote::LmNotCarried {
                predictor: name.to_string(),
                model: lm.get("model").and_then(Value::as_str).map(str::to_string),
                state: lm.clone(),
            });
        }
        report.notes.extend(
            state.ignored.iter().map(|key| ImportNote::StateIgnored { predictor: name.to_string(), key: key.clone() }),
        );
        let mut augmented = 0;
        let demos: Vec<Example> = state
            .demos
            .iter()
            .map(|demo| {
                let mut fields = demo.clone();
                if fields.shift_remove(AUGMENTED).is_some_and(|v| v == Value::Bool(true)) {
                    augmented += 1;
                }
                Example::from_fields(fields)
            })
            .collect();
        report.mapped.push(MappedPredictor {
            dspy_path: state.path.clone(),
            predictor: name.to_string(),
            fields,
            demos: demos.len(),
            augmented_demos: augmented,
            instructions_changed: state.instructions != predictor.signature().instructions(),
        });
        paths.insert(name.to_string(), Value::String(state.path.clone()));
        overlay.predictors.insert(
            name.to_string(),
            PredictorOverlay { instructions: Some(state.instructions.clone()), demos: Some(demos) },
        );
    }

    let provenance = ArtifactProvenance {
        optimizer: "dspy-import".to_string(),
        config: json!({ "dspy_version": file.dspy_version, "paths": paths }),
        ..ArtifactProvenance::default()
    };
    let artifact = ProgramArtifact::from_program(program_name, program, Some(&overlay), provenance);
    Ok((artifact, report))
}

/// The artifact in DSPy 3.4.1's save layout, for `program.load("x.json")` in a DSPy program of
/// the same structure.
///
/// A chain of thought (outputs start with `reasoning`) is written under `name.predict`, a plain
/// predictor under `name` (for a bare `dspy.Predict` that is not an attribute of a module, DSPy
/// expects that state as the top-level object instead). Fields are written positionally, an
/// empty description as DSPy's default `${name}`. A demo holding exactly the predictor's fields
/// gets `"augmented": true` first, as DSPy marks the demos it bootstrapped; others (labeled
/// examples, which carry other keys or lack the reasoning) are written as they are. `lm` is
/// `null`, and `traces` and `train` are empty, as DSPy writes them after compiling. What the
/// layout cannot hold is listed by [`export_notes`].
pub fn export_dspy(artifact: &ProgramArtifact) -> Value {
    let mut top = Map::new();
    for predictor in &artifact.predictors {
        let path =
            if is_chain_of_thought(predictor) { format!("{}.predict", predictor.name) } else { predictor.name.clone() };
        top.insert(path, predictor_state(predictor));
    }
    top.insert(
        "metadata".to_string(),
        json!({
            "dependency_versions": {
                "python": EXPORT_PYTHON_VERSION,
                "dspy": DSPY_VERSION,
                "cloudpickle": EXPORT_CLOUDPICKLE_VERSION,
            }
        }),
    );
    Value::Object(top)
}

/// What [`export_dspy`] leaves out of `artifact`, one sentence each (a predictor's own LM and
/// sampling settings, a JSON adapter). Errors when the export would run differently in a way a
/// note cannot fix: demos chosen per input (KnnFewShot).
pub fn export_notes(artifact: &ProgramArtifact) -> Result<Vec<String>, DspyError> {
    if artifact.knn.is_some() {
        return Err(DspyError::KnnNotExportable);
    }
    let mut notes = Vec::new();
    for p in &artifact.predictors {
        let attr = if is_chain_of_thought(p) { format!("{}.predict", p.name) } else { p.name.clone() };
        if let Some(lm) = &p.lm {
            notes.push(format!(
                "`{}`: its own LM `{lm}` is not exported (`lm` is null); in DSPy set `program.{attr}.lm = dspy.LM(...)`",
                p.name
            ));
        }
        if p.sampling != Default::default() {
            let settings = serde_json::to_string(&p.sampling).unwrap_or_default();
            notes.push(format!(
                "`{}`: its sampling settings {settings} are not exported; DSPy keeps them on the LM",
                p.name
            ));
        }
        if p.adapter == AdapterKind::Json {
            notes.push(format!(
                "`{}` uses the JSON adapter, which DSPy does not save; run it with \
                 `dspy.configure(adapter=dspy.JSONAdapter())`",
                p.name
            ));
        }
    }
    Ok(notes)
}

/// One predictor's state as DSPy's `Predict.dump_state` writes it.
fn predictor_state(predictor: &PredictorArtifact) -> Value {
    let fields: Vec<_> = predictor.signature.inputs.iter().chain(&predictor.signature.outputs).collect();
    let names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let demos: Vec<Value> = predictor
        .demos
        .iter()
        .map(|demo| {
            let keys: BTreeSet<&str> = demo.fields().keys().map(String::as_str).collect();
            let mut out = Map::new();
            if keys == names {
                out.insert(AUGMENTED.to_string(), Value::Bool(true));
            }
            out.extend(demo.fields().iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(out)
        })
        .collect();
    let fields: Vec<Value> = fields
        .iter()
        .map(|f| {
            let prefix = if f.name == REASONING_FIELD && f.prefix == LEGACY_REASONING_PREFIX {
                DSPY_REASONING_PREFIX
            } else {
                f.prefix.as_str()
            };
            let description = if f.description.is_empty() { format!("${{{}}}", f.name) } else { f.description.clone() };
            json!({ "prefix": prefix, "description": description })
        })
        .collect();
    json!({
        "traces": [],
        "train": [],
        "demos": demos,
        "signature": { "instructions": predictor.instructions, "fields": fields },
        "lm": null,
    })
}

fn is_chain_of_thought(predictor: &PredictorArtifact) -> bool {
    predictor.signature.outputs.first().is_some_and(|f| f.name == REASONING_FIELD)
}

/// A parsed save file.
struct DspyFile {
    dspy_version: Option<String>,
    predictors: Vec<DspyPredictor>,
    /// Top-level entries that are not predictor state.
    ignored: Vec<String>,
}

/// One predictor's state in the file.
struct DspyPredictor {
    path: String,
    instructions: String,
    fields: Vec<DspyField>,
    demos: Vec<Map<String, Value>>,
    lm: Option<Value>,
    /// Keys with content lmc has no place for.
    ignored: Vec<String>,
}

struct DspyField {
    prefix: String,
    description: String,
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_file(text: &str) -> Result<DspyFile, DspyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| DspyError::Json { message: e.to_string() })?;
    let Value::Object(top) = value else {
        return Err(DspyError::NotDspy { reason: format!("the file is {}, not an object", json_kind(&value)) });
    };
    if top.contains_key("format_version") && top.contains_key("predictors") {
        return Err(DspyError::NotDspy {
            reason: "this is an lmc artifact; use it as it is (`lmc eval --artifact`), or write it in DSPy's layout \
                     with `lmc export-dspy`"
                .to_string(),
        });
    }
    let dspy_version = top
        .get("metadata")
        .and_then(|m| m.get("dependency_versions"))
        .and_then(|d| d.get("dspy"))
        .and_then(Value::as_str)
        .map(str::to_string);

    let mut predictors = Vec::new();
    let mut ignored = Vec::new();
    if top.contains_key("signature") {
        // A bare `dspy.Predict`: its state is the top level, next to `metadata`.
        predictors.push(parse_predictor(TOP_LEVEL, &top, &["metadata"])?);
    } else {
        for (path, value) in &top {
            match value {
                _ if path == "metadata" => {}
                Value::Object(state) if state.contains_key("signature") => {
                    predictors.push(parse_predictor(path, state, &[])?);
                }
                _ => ignored.push(path.clone()),
            }
        }
    }
    if predictors.is_empty() {
        let keys: Vec<&str> = top.keys().map(String::as_str).collect();
        return Err(DspyError::NotDspy {
            reason: format!(
                "no predictor state (an object with `signature` and `demos`) among its keys ({})",
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
            ),
        });
    }
    Ok(DspyFile { dspy_version, predictors, ignored })
}

fn parse_predictor(path: &str, state: &Map<String, Value>, skip: &[&str]) -> Result<DspyPredictor, DspyError> {
    let invalid = |message: String| DspyError::InvalidState { path: path.to_string(), message };
    if state.contains_key("extended_signature") {
        return Err(DspyError::LegacyState { path: path.to_string() });
    }
    let signature = state
        .get("signature")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("`signature` is not an object with `instructions` and `fields`".to_string()))?;
    let instructions = signature
        .get("instructions")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("`signature.instructions` is missing or not a string".to_string()))?
        .to_string();
    let fields = signature
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`signature.fields` is missing or not an array".to_string()))?
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let text = |key: &str| field.get(key).and_then(Value::as_str).map(str::to_string);
            match (text("prefix"), text("description")) {
                (Some(prefix), Some(description)) => Ok(DspyField { prefix, description }),
                _ => Err(invalid(format!(
                    "`signature.fields[{i}]` is not an object with string `prefix` and `description`"
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let demos = match state.get("demos") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(demos)) => demos
            .iter()
            .enumerate()
            .map(|(i, demo)| {
                demo.as_object()
                    .cloned()
                    .ok_or_else(|| invalid(format!("`demos[{i}]` is {}, not an object of fields", json_kind(demo))))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(invalid(format!("`demos` is {}, not an array", json_kind(other)))),
    };
    let mut ignored = Vec::new();
    for (key, value) in state {
        let empty = match value {
            Value::Null => true,
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => false,
        };
        let handled = matches!(key.as_str(), "signature" | "demos" | "lm") || skip.contains(&key.as_str());
        // `traces` and `train` are always empty after a compile; `fields` (decision settings)
        // is only written when set.
        if !handled && !empty {
            ignored.push(key.clone());
        }
    }
    Ok(DspyPredictor { path: path.to_string(), instructions, fields, demos, lm: state.get("lm").cloned(), ignored })
}

/// The lmc predictor a DSPy path stands for, if any.
fn lmc_name_for<'a>(path: &str, names: &[&'a str]) -> Option<&'a str> {
    let find = |candidate: &str| names.iter().copied().find(|n| *n == candidate);
    if let Some(name) = find(path) {
        return Some(name);
    }
    for suffix in [".predict", "._predict"] {
        if let Some(name) = path.strip_suffix(suffix).and_then(find) {
            return Some(name);
        }
    }
    // A bare Predict (top level) or ChainOfThought (`predict`) is the program's only predictor.
    match names {
        [only] if matches!(path, TOP_LEVEL | "predict" | "_predict") => Some(only),
        _ => None,
    }
}

/// `question` from DSPy's default description `${question}`.
fn default_description_name(description: &str) -> Option<&str> {
    description.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')).filter(|name| is_identifier(name))
}

/// Gives the file's positional fields the program's names, checking the count and, where the
/// file reveals DSPy's names, that they are the same. Notes differing descriptions and
/// prefixes.
fn map_fields(
    state: &DspyPredictor,
    predictor: &Predict,
    notes: &mut Vec<ImportNote>,
) -> Result<Vec<String>, DspyError> {
    let name = predictor.name();
    let program: Vec<_> = predictor.signature().fields().collect();
    if program.len() != state.fields.len() {
        return Err(DspyError::FieldCount {
            path: state.path.clone(),
            predictor: name.to_string(),
            dspy: state.fields.len(),
            program: program.len(),
            program_fields: program.iter().map(|f| f.name.clone()).collect(),
        });
    }
    // Demo keys that are none of the program's fields: DSPy's names for renamed fields, or
    // the other columns of labeled examples.
    let strangers: BTreeSet<&str> = state
        .demos
        .iter()
        .flat_map(|d| d.keys())
        .map(String::as_str)
        .filter(|k| *k != AUGMENTED && !program.iter().any(|f| f.name == *k))
        .collect();
    for (i, (field, saved)) in program.iter().zip(&state.fields).enumerate() {
        let renamed = |dspy_field: &str| DspyError::FieldRenamed {
            path: state.path.clone(),
            predictor: name.to_string(),
            position: i + 1,
            dspy_field: dspy_field.to_string(),
            program_field: field.name.clone(),
        };
        let dspy_name = default_description_name(&saved.description);
        if let Some(dspy_name) = dspy_name.filter(|n| *n != field.name) {
            return Err(renamed(dspy_name));
        }
        let reasoning_prefixes = [DSPY_REASONING_PREFIX, LEGACY_REASONING_PREFIX];
        let same_prefix = saved.prefix == field.prefix
            || (field.name == REASONING_FIELD
                && reasoning_prefixes.contains(&saved.prefix.as_str())
                && reasoning_prefixes.contains(&field.prefix.as_str()));
        if !same_prefix {
            // DSPy infers a prefix from the field's name; a demo key it was inferred from names
            // the field in DSPy.
            if saved.prefix != infer_prefix(&field.name) {
                if let Some(key) = strangers.iter().find(|k| infer_prefix(k) == saved.prefix) {
                    return Err(renamed(key));
                }
            }
            notes.push(ImportNote::PrefixDiffers {
                predictor: name.to_string(),
                field: field.name.clone(),
                dspy: saved.prefix.clone(),
                program: field.prefix.clone(),
            });
        }
        let description = if dspy_name.is_some() { "" } else { saved.description.as_str() };
        if description != field.description {
            notes.push(ImportNote::DescriptionDiffers {
                predictor: name.to_string(),
                field: field.name.clone(),
                dspy: description.to_string(),
                program: field.description.clone(),
            });
        }
    }
    Ok(program.iter().map(|f| f.name.clone()).collect())
}
