//! The `lmc` command-line tool.
//!
//! Thin glue: parse flags, call the library, print, and map errors to DESIGN.md's exit
//! codes (0 success, 1 a gate check failed, 2 usage, configuration, data or provider error).

mod cache_cmd;
mod cli;
mod compile;
mod config_cmd;
mod dspy_cmd;
mod eval;
mod input;
mod inspect;
mod inspect_artifact;
mod lm_args;
mod objective;
mod output;
mod resume;
mod run;
mod sim_server;
mod task;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, InspectCommand};

/// Exit code for usage, configuration, data and provider errors.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Eval(args) => eval::eval(&args),
        Command::Compile(args) => compile::compile(&args),
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
