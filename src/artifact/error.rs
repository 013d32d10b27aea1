//! Why an artifact cannot be read, written or installed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::signature::FieldRole;

/// One way an artifact disagrees with the program it is loaded into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactMismatch {
    /// The artifact has a predictor the program does not.
    UnknownPredictor {
        /// The artifact's predictor.
        predictor: String,
        /// The program's predictors.
        known: Vec<String>,
    },
    /// The artifact lists a predictor twice.
    DuplicatePredictor {
        /// The predictor.
        predictor: String,
    },
    /// The program has a predictor the artifact does not.
    MissingPredictor {
        /// The program's predictor.
        predictor: String,
    },
    /// A field the artifact has is not in the program's signature (renamed or removed).
    FieldMissing {
        /// The predictor.
        predictor: String,
        /// The artifact's field.
        field: String,
        /// Input or output.
        role: FieldRole,
        /// The program's fields with that role.
        program_fields: Vec<String>,
    },
    /// The program's signature has a field the artifact does not.
    FieldAdded {
        /// The predictor.
        predictor: String,
        /// The program's field.
        field: String,
        /// Input or output.
        role: FieldRole,
    },
    /// A field's type differs.
    FieldTypeChanged {
        /// The predictor.
        predictor: String,
        /// The field.
        field: String,
        /// The type in the artifact.
        artifact: String,
        /// The type in the program.
        program: String,
    },
}

fn role_name(role: FieldRole) -> &'static str {
    match role {
        FieldRole::Input => "input",
        FieldRole::Output => "output",
    }
}

impl fmt::Display for ArtifactMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactMismatch::UnknownPredictor { predictor, known } => {
                write!(f, "the artifact has a predictor `{predictor}` the program does not (program: {})", known.join(", "))
            }
            ArtifactMismatch::DuplicatePredictor { predictor } => {
                write!(f, "the artifact lists the predictor `{predictor}` more than once")
            }
            ArtifactMismatch::MissingPredictor { predictor } => {
                write!(f, "the program's predictor `{predictor}` is not in the artifact")
            }
            ArtifactMismatch::FieldMissing { predictor, field, role, program_fields } => write!(
                f,
                "predictor `{predictor}`: the artifact's {} field `{field}` is not in the program (renamed? the \
                 program has {})",
                role_name(*role),
                program_fields.join(", ")
            ),
            ArtifactMismatch::FieldAdded { predictor, field, role } => {
                write!(f, "predictor `{predictor}`: the program's {} field `{field}` is not in the artifact", role_name(*role))
            }
            ArtifactMismatch::FieldTypeChanged { predictor, field, artifact, program } => write!(
                f,
                "predictor `{predictor}`: field `{field}` is `{artifact}` in the artifact but `{program}` in the program"
            ),
        }
    }
}

/// An artifact that cannot be read, written or installed.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file cannot be read.
    #[error("cannot read the artifact {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be written.
    #[error("cannot write the artifact {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid artifact.
    #[error("{}invalid artifact: {message}", at(path))]
    Parse {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// Written by another format version.
    #[error(
        "{}artifact format_version {found} is not supported; this lmc reads version {}; recompile with this lmc",
        at(path),
        super::FORMAT_VERSION
    )]
    Version {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// The version found.
        found: u64,
    },
    /// The artifact does not fit the program.
    #[error("{}the artifact does not fit the program; recompile it, or fix the program:\n  - {}", at(path), problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Mismatch {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// Every disagreement.
        problems: Vec<ArtifactMismatch>,
    },
}

fn at(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

impl ArtifactError {
    /// The same error, naming the file it came from.
    pub fn at(self, file: &Path) -> Self {
        let file = Some(file.to_path_buf());
        match self {
            ArtifactError::Parse { message, .. } => ArtifactError::Parse { path: file, message },
            ArtifactError::Version { found, .. } => ArtifactError::Version { path: file, found },
            ArtifactError::Mismatch { problems, .. } => ArtifactError::Mismatch { path: file, problems },
            other => other,
        }
    }

    /// The mismatches, when the artifact does not fit the program.
    pub fn mismatches(&self) -> &[ArtifactMismatch] {
        match self {
            ArtifactError::Mismatch { problems, .. } => problems,
            _ => &[],
        }
    }
}
