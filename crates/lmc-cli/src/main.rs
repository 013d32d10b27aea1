//! The `lmc` command-line tool: the library's CLI with no Rust programs registered (a crate
//! with its own builds its binary with [`lmc_cli::main_with`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    lmc_cli::main_with(lmc_cli::ProgramRegistry::default())
}
