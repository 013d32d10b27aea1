//! Helpers shared by the CLI's end-to-end test files.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh scratch directory for one test (`prefix` names the test file).
pub(crate) fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-cli-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes every variable that would point `lmc` at a real model or change its settings: API
/// keys, `LMC_*` and provider base URLs.
pub(crate) fn clean_lm_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.ends_with("_API_KEY") || k.starts_with("LMC_") || k.ends_with("_BASE_URL") {
            cmd.env_remove(k);
        }
    }
}
