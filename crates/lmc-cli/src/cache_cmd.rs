//! `lmc cache stats | clear | export | import`.

use std::path::PathBuf;
use std::process::ExitCode;

use lmc::lm::cache::LmCache;

use crate::cli::{CacheArgs, CacheCommand};
use crate::output::{print_json, print_line};

pub(crate) fn cache(args: &CacheArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .cache_path
        .clone()
        .or_else(|| std::env::var_os("LMC_CACHE_PATH").map(PathBuf::from))
        .unwrap_or_else(LmCache::default_path);
    let cache = LmCache::open(&path)?;
    match &args.command {
        CacheCommand::Stats { json } => {
            let stats = cache.stats()?;
            if *json {
                print_json(&serde_json::to_value(&stats)?)?;
            } else {
                print_line(stats.to_string().trim_end())?;
            }
        }
        CacheCommand::Clear => {
            let removed = cache.clear()?;
            print_line(&format!("removed {removed} entries from {}", path.display()))?;
        }
        CacheCommand::Export { file } => {
            let written = cache.export(file)?;
            print_line(&format!("exported {written} entries to {}", file.display()))?;
        }
        CacheCommand::Import { file } => {
            let added = cache.import(file)?;
            print_line(&format!("imported {added} new entries from {} into {}", file.display(), path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
