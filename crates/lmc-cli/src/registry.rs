//! Rust programs known to the CLI by name: a user's crate registers them and builds its own
//! `lmc` binary with [`crate::main_with`]; a task spec then names one as
//! `program = "rust:NAME"` (and the flag form takes `--program rust:NAME`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use lmc::Module;

/// How a task spec or `--program` names a registered program: `rust:NAME`.
pub const REGISTERED_PREFIX: &str = "rust:";

/// Builds a fresh copy of a registered program (every command installs its own artifact).
type Build = Arc<dyn Fn() -> Box<dyn Module> + Send + Sync>;

/// A Rust program the CLI can load by name: its name, description, input fields and a
/// function that builds it.
///
/// ```
/// use lmc::{Module, Predict, Signature};
/// use lmc_cli::RegisteredProgram;
///
/// let program = RegisteredProgram::new("classify", ["text"], || {
///     Predict::new("classify", Signature::parse("text -> label").expect("a valid signature"))
/// })
/// .with_description("Labels a text.");
/// assert_eq!(program.inputs(), ["text"]);
/// assert_eq!(program.build().predictors()[0].name(), "classify");
/// ```
#[derive(Clone)]
pub struct RegisteredProgram {
    name: String,
    description: String,
    inputs: Vec<String>,
    build: Build,
}

impl RegisteredProgram {
    /// A program called `name` that reads `inputs` (the dataset columns it is given unless a
    /// task spec says otherwise), built by `build`.
    pub fn new<M, F, S>(name: impl Into<String>, inputs: impl IntoIterator<Item = S>, build: F) -> Self
    where
        M: Module + 'static,
        F: Fn() -> M + Send + Sync + 'static,
        S: Into<String>,
    {
        RegisteredProgram {
            name: name.into(),
            description: String::new(),
            inputs: inputs.into_iter().map(Into::into).collect(),
            build: Arc::new(move || Box::new(build()) as Box<dyn Module>),
        }
    }

    /// Says what the program does (shown by `lmc inspect program`, given to MIPROv2's proposer).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The name a spec gives after `rust:`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the program does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The program's input fields.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// A fresh copy of the program, as written (no artifact installed).
    pub fn build(&self) -> Box<dyn Module> {
        (self.build)()
    }
}

impl fmt::Debug for RegisteredProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredProgram").field("name", &self.name).field("inputs", &self.inputs).finish()
    }
}

/// The Rust programs a binary knows by name. The stock `lmc` binary has none.
///
/// ```
/// use lmc::{Predict, Signature};
/// use lmc_cli::{ProgramRegistry, RegisteredProgram};
///
/// let registry = ProgramRegistry::new().with(RegisteredProgram::new("classify", ["text"], || {
///     Predict::new("classify", Signature::parse("text -> label").expect("a valid signature"))
/// }));
/// assert!(registry.get("classify").is_some());
/// assert_eq!(registry.names().collect::<Vec<_>>(), ["classify"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProgramRegistry {
    programs: BTreeMap<String, RegisteredProgram>,
}

impl ProgramRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        ProgramRegistry::default()
    }

    /// Adds `program`; a program registered earlier under the same name is replaced.
    pub fn with(mut self, program: RegisteredProgram) -> Self {
        self.register(program);
        self
    }

    /// Adds `program`; a program registered earlier under the same name is replaced.
    pub fn register(&mut self, program: RegisteredProgram) {
        self.programs.insert(program.name.clone(), program);
    }

    /// The program registered as `name`.
    pub fn get(&self, name: &str) -> Option<&RegisteredProgram> {
        self.programs.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.programs.keys().map(String::as_str)
    }

    /// The program registered as `name`, or an error that lists the registered names.
    pub(crate) fn find(&self, name: &str) -> anyhow::Result<&RegisteredProgram> {
        self.get(name).ok_or_else(|| {
            let known: Vec<String> = self.names().map(|n| format!("{REGISTERED_PREFIX}{n}")).collect();
            if known.is_empty() {
                anyhow::anyhow!(
                    "no Rust program is registered as `{name}`: this lmc binary has none (a crate registers its \
                     programs and builds its own binary with lmc_cli::main_with)"
                )
            } else {
                anyhow::anyhow!("no Rust program is registered as `{name}`; registered: {}", known.join(", "))
            }
        })
    }
}

/// The registry of the running command (set by [`crate::run_with`]).
static INSTALLED: RwLock<Option<Arc<ProgramRegistry>>> = RwLock::new(None);

/// Makes `registry` the one commands load programs from.
pub(crate) fn install(registry: ProgramRegistry) {
    let mut slot = INSTALLED.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = Some(Arc::new(registry));
}

/// The registry commands load programs from (empty before [`install`]).
pub(crate) fn installed() -> Arc<ProgramRegistry> {
    let slot = INSTALLED.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.clone().unwrap_or_default()
}
