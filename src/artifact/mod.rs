//! The compiled-program artifact: what `lmc compile` writes and `lmc eval --artifact` reads.
//!
//! An artifact is versioned JSON with keys in a stable order and no timestamps, so the same
//! seed, data and LM replies give a byte-identical file that reviews well in a diff. Per
//! predictor (in program order) it holds the signature's fields, the instructions, the demos,
//! the adapter and the predictor's own LM and sampling settings; then how it was made
//! ([`ArtifactProvenance`]).
//!
//! Loading checks the artifact against the program by name ([`ProgramArtifact::check`]): an
//! unknown or missing predictor, a renamed field or a changed type is a typed
//! [`ArtifactMismatch`], never a silent partial install.
//!
//! ```
//! use lmc::artifact::{ArtifactProvenance, ProgramArtifact};
//! use lmc::{Example, Module, Predict, Signature};
//!
//! let mut program = Predict::new("qa", Signature::parse("question -> answer")?);
//! program.set_demos(vec![Example::new().with("question", "1+1?").with("answer", "2")]);
//! let artifact = ProgramArtifact::from_program("qa", &program, None, ArtifactProvenance::default());
//! let text = artifact.to_json();
//!
//! let mut fresh = Predict::new("qa", Signature::parse("question -> answer")?);
//! ProgramArtifact::from_json_str(&text)?.apply(&mut fresh)?;
//! assert_eq!(fresh.demos().len(), 1);
//!
//! let mut renamed = Predict::new("qa", Signature::parse("query -> answer")?);
//! assert!(ProgramArtifact::from_json_str(&text)?.apply(&mut renamed).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dspy;
mod error;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::{ArtifactError, ArtifactMismatch};

use crate::adapter::AdapterKind;
use crate::data::Example;
use crate::lm::Sampling;
use crate::module::{Module, Overlay, PredictorOverlay};
use crate::optimize::Objective;
use crate::signature::{Field, FieldRole, Signature};

/// The artifact format this version of lmc writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A compiled program: per predictor, everything the optimizer chose, plus provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramArtifact {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The lmc version that wrote it.
    pub lmc_version: String,
    /// The program's name.
    pub program: String,
    /// Every predictor, in program order.
    pub predictors: Vec<PredictorArtifact>,
    /// Demos chosen per input at inference time (KnnFewShot), when compiled that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn: Option<KnnArtifact>,
    /// How it was made.
    pub provenance: ArtifactProvenance,
}

/// One predictor's compiled state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorArtifact {
    /// The predictor's name, as the program gives it.
    pub name: String,
    /// The signature's fields (names, types, descriptions, prefixes).
    pub signature: SignatureFields,
    /// The instructions.
    pub instructions: String,
    /// The demos, as flat field maps (DSPy's layout).
    pub demos: Vec<Example>,
    /// The adapter.
    pub adapter: AdapterKind,
    /// The predictor's own LM (`provider/model`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm: Option<String>,
    /// The predictor's own sampling settings.
    #[serde(default)]
    pub sampling: Sampling,
}

/// A signature's fields without its instructions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFields {
    /// Input fields, in order.
    pub inputs: Vec<Field>,
    /// Output fields, in order (a chain of thought's `reasoning` included).
    pub outputs: Vec<Field>,
}

impl SignatureFields {
    /// The fields of `signature`.
    pub fn of(signature: &Signature) -> Self {
        SignatureFields { inputs: signature.inputs().to_vec(), outputs: signature.outputs().to_vec() }
    }
}

/// KnnFewShot's inference-time state: the training examples and how to find neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnArtifact {
    /// Demos per call.
    pub k: usize,
    /// `bm25`, or the embedding model (`provider/model`).
    pub method: String,
    /// The embedding endpoint, when not the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The input fields that make an example's text.
    pub input_keys: Vec<String>,
    /// The training examples neighbours are drawn from.
    pub trainset: Vec<Example>,
}

/// How an artifact was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArtifactProvenance {
    /// The optimizer (`bootstrap`, `random-search`, ...).
    pub optimizer: String,
    /// Its configuration, as given.
    pub config: serde_json::Value,
    /// The seed.
    pub seed: u64,
    /// The metric, e.g. `numeric on \`answer\``.
    pub metric: String,
    /// The program's LM (`provider/model`).
    pub lm: String,
    /// The teacher's LM, when different.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher_lm: Option<String>,
    /// The training data.
    pub trainset: DatasetRef,
    /// The validation data, when one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valset: Option<DatasetRef>,
    /// Scores on the validation data.
    pub scores: CompileScores,
    /// What compiling cost.
    pub compile_cost: CompileCost,
    /// Whether the LM was lmc's offline simulator (its scores say nothing about a model).
    pub simulated: bool,
    /// Why the compile stopped early (a budget), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// What the compile ranked candidates by, when not the score alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
    /// The Pareto-front candidate written instead of the optimizer's choice (`--pick`), when
    /// one was picked; `scores.compiled` is then its score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picked: Option<PickedCandidate>,
    /// The artifact the compile started from (its instructions and demos were the program's
    /// own), with its SHA-256, when it started from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_from: Option<String>,
}

/// A candidate picked from a compile's Pareto front.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickedCandidate {
    /// Its number on the front (1-based, cheapest first).
    pub n: usize,
    /// The front's size.
    pub front: usize,
    /// Its label in the compile's report, e.g. `program as written` or `bootstrap`.
    pub label: String,
    /// The candidate's hash (first 12 hex digits).
    pub candidate: String,
}

/// A dataset by name, size and content hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    /// Where it came from, as given.
    pub source: String,
    /// Examples.
    pub n: usize,
    /// Content hash (see [`Dataset`](crate::data::dataset::Dataset)).
    pub hash: String,
}

/// Validation scores before and after compiling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompileScores {
    /// The program as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The compiled program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiled: Option<f64>,
}

/// LM calls, tokens and dollars spent compiling (program and teacher runs, validation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompileCost {
    /// LM calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Dollars by the calls' usage, cache hits included; `None` when a model has no price.
    pub usd: Option<f64>,
    /// Of the above, what proposing instructions took (on the prompt LM), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposer: Option<ProposerCost>,
}

/// The calls an optimizer made to propose instructions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProposerCost {
    /// LM calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Dollars; `None` when the prompt LM has no price.
    pub usd: Option<f64>,
}

impl ProgramArtifact {
    /// The artifact of `program` as it stands, with `overlay` (an optimizer's winner) over its
    /// predictors' own instructions and demos.
    pub fn from_program(
        name: impl Into<String>,
        program: &dyn Module,
        overlay: Option<&Overlay>,
        provenance: ArtifactProvenance,
    ) -> Self {
        let predictors = program
            .predictors()
            .into_iter()
            .map(|p| {
                let own = overlay.and_then(|o| o.get(p.name()));
                PredictorArtifact {
                    name: p.name().to_string(),
                    signature: SignatureFields::of(p.signature()),
                    instructions: own
                        .and_then(|o| o.instructions.clone())
                        .unwrap_or_else(|| p.signature().instructions().to_string()),
                    demos: own.and_then(|o| o.demos.clone()).unwrap_or_else(|| p.demos().to_vec()),
                    adapter: p.adapter(),
                    lm: p.lm().map(|lm| lm.identity().to_string()),
                    sampling: p.sampling().clone(),
                }
            })
            .collect();
        ProgramArtifact {
            format_version: FORMAT_VERSION,
            lmc_version: env!("CARGO_PKG_VERSION").to_string(),
            program: name.into(),
            predictors,
            knn: None,
            provenance,
        }
    }

    /// Pretty JSON with a trailing newline: the file's exact bytes.
    pub fn to_json(&self) -> String {
        // Serializing plain data (strings, numbers, maps) cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses an artifact; checks the format version.
    pub fn from_json_str(text: &str) -> Result<Self, ArtifactError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ArtifactError::Parse { path: None, message: e.to_string() })?;
        match value.get("format_version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => return Err(ArtifactError::Version { path: None, found: v }),
            None => {
                return Err(ArtifactError::Parse {
                    path: None,
                    message: "no `format_version`: this is not an lmc artifact (a DSPy save file is read with \
                              `lmc import-dspy`)"
                        .into(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| ArtifactError::Parse { path: None, message: e.to_string() })
    }

    /// Reads an artifact file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ArtifactError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| ArtifactError::Read { path: path.to_path_buf(), source })?;
        Self::from_json_str(&text).map_err(|e| e.at(path))
    }

    /// Writes the artifact atomically (a temporary file, then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ArtifactError> {
        let path = path.as_ref();
        crate::fsutil::write_atomic(path, self.to_json().as_bytes())
            .map_err(|source| ArtifactError::Write { path: path.to_path_buf(), source })
    }

    /// The predictor called `name`.
    pub fn predictor(&self, name: &str) -> Option<&PredictorArtifact> {
        self.predictors.iter().find(|p| p.name == name)
    }

    /// Checks the artifact against `program` by predictor and field name: every predictor on
    /// both sides, every field with the same role and type.
    pub fn check(&self, program: &dyn Module) -> Result<(), ArtifactError> {
        let mut problems = Vec::new();
        let predictors = program.predictors();
        let known: Vec<String> = predictors.iter().map(|p| p.name().to_string()).collect();
        for (i, saved) in self.predictors.iter().enumerate() {
            if self.predictors[..i].iter().any(|p| p.name == saved.name) {
                problems.push(ArtifactMismatch::DuplicatePredictor { predictor: saved.name.clone() });
                continue;
            }
            match predictors.iter().find(|p| p.name() == saved.name) {
                None => problems
                    .push(ArtifactMismatch::UnknownPredictor { predictor: saved.name.clone(), known: known.clone() }),
                Some(p) => compare_fields(&saved.name, &saved.signature, p.signature(), &mut problems),
            }
        }
        for name in &known {
            if self.predictor(name).is_none() {
                problems.push(ArtifactMismatch::MissingPredictor { predictor: name.clone() });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ArtifactError::Mismatch { path: None, problems })
        }
    }

    /// Checks the artifact against `program`, then installs every predictor's instructions,
    /// demos, adapter and sampling. Nothing is installed when the check fails.
    pub fn apply(&self, program: &mut dyn Module) -> Result<(), ArtifactError> {
        self.check(program)?;
        for predictor in program.predictors_mut() {
            if let Some(saved) = self.predictor(predictor.name()) {
                predictor.set_instructions(saved.instructions.clone());
                predictor.set_demos(saved.demos.clone());
                predictor.set_adapter(saved.adapter);
                predictor.set_sampling(saved.sampling.clone());
            }
        }
        Ok(())
    }

    /// The instructions and demos as an overlay, to run the compiled program without
    /// changing it.
    pub fn overlay(&self) -> Overlay {
        Overlay {
            predictors: self
                .predictors
                .iter()
                .map(|p| {
                    let overlay =
                        PredictorOverlay { instructions: Some(p.instructions.clone()), demos: Some(p.demos.clone()) };
                    (p.name.clone(), overlay)
                })
                .collect(),
        }
    }
}

fn compare_fields(predictor: &str, saved: &SignatureFields, current: &Signature, problems: &mut Vec<ArtifactMismatch>) {
    let sides =
        [(FieldRole::Input, &saved.inputs, current.inputs()), (FieldRole::Output, &saved.outputs, current.outputs())];
    for (role, saved_fields, current_fields) in sides {
        for field in saved_fields.iter() {
            match current_fields.iter().find(|f| f.name == field.name) {
                None => problems.push(ArtifactMismatch::FieldMissing {
                    predictor: predictor.to_string(),
                    field: field.name.clone(),
                    role,
                    program_fields: current_fields.iter().map(|f| f.name.clone()).collect(),
                }),
                Some(f) if f.ty != field.ty => problems.push(ArtifactMismatch::FieldTypeChanged {
                    predictor: predictor.to_string(),
                    field: field.name.clone(),
                    artifact: field.ty.python_name(),
                    program: f.ty.python_name(),
                }),
                Some(_) => {}
            }
        }
        for field in current_fields {
            if !saved_fields.iter().any(|f| f.name == field.name) {
                problems.push(ArtifactMismatch::FieldAdded {
                    predictor: predictor.to_string(),
                    field: field.name.clone(),
                    role,
                });
            }
        }
    }
}
