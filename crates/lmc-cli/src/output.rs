//! Printing results and errors, and writing result files.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

/// Writes `text` and a newline to stdout.
pub(crate) fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Writes `value` to stdout as pretty JSON.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    print_line(&serde_json::to_string_pretty(value)?)
}

/// Prints a warning to stderr.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(io::stderr().lock(), "warning: {message}");
}

/// Prints an error and its causes to stderr as `error: outer: inner`, leaving out a cause whose
/// text the message already holds (errors that name their cause in their own message too).
pub(crate) fn print_error(err: &anyhow::Error) {
    let _ = writeln!(io::stderr().lock(), "error: {}", error_text(err));
}

/// `err` and its causes as one line, each cause once.
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.is_empty() {
            message = text;
        } else if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

/// Whether the error is a closed stdout (`lmc ... | head`), which is not a failure.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Writes `text` to `path` atomically (a temporary file in the same directory, then a rename;
/// see [`lmc::fsutil::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    lmc::fsutil::write_atomic(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}
