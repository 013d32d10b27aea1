//! The program a command runs: a program file (`programs/*.toml`) or a Rust program
//! registered by name (`rust:NAME`), behind one type so that compile, eval, gate, run and
//! inspect treat both alike.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use lmc::lm::LmFactory;
use lmc::{Example, Module, Predict, Prediction, Program, RunCx, RunError};

use crate::registry::{RegisteredProgram, REGISTERED_PREFIX};

/// A loaded program.
pub(crate) enum LoadedProgram {
    /// A program file.
    File {
        /// The program.
        program: Program,
        /// Where it was read from.
        path: PathBuf,
    },
    /// A registered Rust program.
    Registered {
        /// Its registration (name, description, inputs).
        entry: RegisteredProgram,
        /// The program as built.
        module: Box<dyn Module>,
    },
}

/// The registered name `path` gives (`rust:NAME`), if it names one.
pub(crate) fn registered_name(path: &Path) -> Option<&str> {
    path.to_str().and_then(|p| p.strip_prefix(REGISTERED_PREFIX))
}

impl LoadedProgram {
    /// Loads `path`: `rust:NAME` from the installed registry, anything else as a program file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        match registered_name(path) {
            Some(name) => {
                let registry = crate::registry::installed();
                let entry = registry.find(name)?.clone();
                let module = entry.build();
                Ok(LoadedProgram::Registered { entry, module })
            }
            None => Ok(LoadedProgram::File { program: Program::load(path)?, path: path.to_path_buf() }),
        }
    }

    /// The program's name.
    pub(crate) fn name(&self) -> &str {
        match self {
            LoadedProgram::File { program, .. } => program.name(),
            LoadedProgram::Registered { entry, .. } => entry.name(),
        }
    }

    /// What the program does.
    pub(crate) fn description(&self) -> &str {
        match self {
            LoadedProgram::File { program, .. } => program.description(),
            LoadedProgram::Registered { entry, .. } => entry.description(),
        }
    }

    /// The program's input fields.
    pub(crate) fn inputs(&self) -> &[String] {
        match self {
            LoadedProgram::File { program, .. } => program.inputs(),
            LoadedProgram::Registered { entry, .. } => entry.inputs(),
        }
    }

    /// The program file, when there is one.
    pub(crate) fn file(&self) -> Option<&Program> {
        match self {
            LoadedProgram::File { program, .. } => Some(program),
            LoadedProgram::Registered { .. } => None,
        }
    }

    /// What identifies the program as written: the file's SHA-256, or for a registered program
    /// the SHA-256 of its predictors (names, signatures, instructions, adapters, demos), the
    /// part of Rust code that shapes prompts.
    pub(crate) fn hash(&self) -> String {
        match self {
            LoadedProgram::File { path, .. } => crate::task::file_hash(path),
            LoadedProgram::Registered { entry, module } => {
                let predictors: Vec<serde_json::Value> = module
                    .predictors()
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "name": p.name(),
                            "signature": p.signature(),
                            "adapter": p.adapter().to_string(),
                            "demos": p.demos(),
                        })
                    })
                    .collect();
                let text = serde_json::json!({ "registered": entry.name(), "predictors": predictors }).to_string();
                crate::task::bytes_hash(text.as_bytes())
            }
        }
    }

    /// Gives the steps of a program file that name their own LM (`lm = "..."`) that LM; a
    /// registered program sets its predictors' LMs in its own code.
    pub(crate) fn install_step_lms(&mut self, factory: &LmFactory) -> anyhow::Result<()> {
        match self {
            LoadedProgram::File { program, .. } => crate::task::install_step_lms(program, factory),
            LoadedProgram::Registered { .. } => Ok(()),
        }
    }
}

impl Module for LoadedProgram {
    fn forward<'a>(
        &'a self,
        cx: &'a RunCx,
        inputs: &'a Example,
    ) -> Pin<Box<dyn Future<Output = Result<Prediction, RunError>> + Send + 'a>> {
        match self {
            LoadedProgram::File { program, .. } => program.forward(cx, inputs),
            LoadedProgram::Registered { module, .. } => module.forward(cx, inputs),
        }
    }

    fn predictors(&self) -> Vec<&Predict> {
        match self {
            LoadedProgram::File { program, .. } => program.predictors(),
            LoadedProgram::Registered { module, .. } => module.predictors(),
        }
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        match self {
            LoadedProgram::File { program, .. } => program.predictors_mut(),
            LoadedProgram::Registered { module, .. } => module.predictors_mut(),
        }
    }
}
