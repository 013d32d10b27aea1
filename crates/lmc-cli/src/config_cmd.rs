//! `lmc config`: the resolved configuration and where each value comes from.

use std::process::ExitCode;

use crate::cli::ConfigArgs;
use crate::output::{print_json, print_line};

pub(crate) fn config(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let (resolved, _env) = args.lm.resolve()?;
    if args.json {
        print_json(&resolved.to_json())?;
    } else {
        print_line(resolved.render().trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
