//! Holds the UI tests of `#[derive(Signature)]` (see `tests/ui.rs`); no code of its own.
