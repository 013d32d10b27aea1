//! The `lmc` command-line tool, as a library: a crate with its own Rust programs builds its own
//! `lmc` binary by registering them by name and calling [`main_with`].
//!
//! Thin glue: parse flags, call the library, print, and map errors to DESIGN.md's exit
//! codes (0 success, 1 a gate check failed, 2 usage, configuration, data or provider error).
//!
//! ```no_run
//! use lmc::{Predict, Signature};
//! use lmc_cli::{ProgramRegistry, RegisteredProgram};
//!
//! fn main() -> std::process::ExitCode {
//!     let registry = ProgramRegistry::new().with(RegisteredProgram::new("classify", ["text"], || {
//!         Predict::new("classify", Signature::parse("text -> label").expect("a valid signature"))
//!     }));
//!     // `program = "rust:classify"` in a task spec, or `--program rust:classify`.
//!     lmc_cli::main_with(registry)
//! }
//! ```

mod cache_cmd;
mod cli;
mod compare;
mod compile;
mod config_cmd;
mod dspy_cmd;
mod eval;
mod gate;
mod input;
mod inspect;
mod inspect_artifact;
mod lm_args;
mod loaded;
mod objective;
mod output;
mod registry;
mod replay_misses;
mod resume;
mod run;
mod sim_server;
mod task;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, InspectCommand};

pub use crate::registry::{ProgramRegistry, RegisteredProgram, REGISTERED_PREFIX};

/// Exit code for usage, configuration, data and provider errors.
const EXIT_ERROR: u8 = 2;

/// Runs `lmc` on the process's arguments with the programs of `registry` known by name.
pub fn main_with(registry: ProgramRegistry) -> ExitCode {
    run_with(registry, std::env::args_os())
}

/// Runs `lmc` on `args` (the first is the binary's name, as in [`std::env::args_os`]) with
/// the programs of `registry` known by name, and returns the exit code. Output goes to
/// stdout and stderr as the binary's does; tests call this in-process.
pub fn run_with<I, T>(registry: ProgramRegistry, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    registry::install(registry);
    init_logging();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Eval(args) => eval::eval(&args),
        Command::Compile(args) => compile::compile(&args),
        Command::Gate(args) => gate::gate(*args),
        Command::Compare(args) => compare::compare(&args),
        Command::ImportDspy(args) => dspy_cmd::import_dspy(&args),
        Command::ExportDspy(args) => dspy_cmd::export_dspy(&args),
        Command::Config(args) => config_cmd::config(&args),
        Command::Cache(args) => cache_cmd::cache(&args),
        Command::SimServer(args) => sim_server::sim_server(&args),
        Command::Inspect { command } => match command {
            InspectCommand::Prompt(args) => inspect::prompt(&args),
            InspectCommand::Parse(args) => inspect::parse(&args),
            InspectCommand::Program(args) => inspect::program(&args),
            InspectCommand::Run(args) => inspect::run(&args),
            InspectCommand::Artifact(args) => inspect_artifact::artifact(&args),
        },
    };
    match result {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Warnings (each LM retry is one) go to stderr; `LMC_LOG=debug` (or `info`, `trace`) shows
/// more.
fn init_logging() {
    let level = match std::env::var("LMC_LOG").as_deref() {
        Ok("trace") => tracing::Level::TRACE,
        Ok("debug") => tracing::Level::DEBUG,
        Ok("info") => tracing::Level::INFO,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
