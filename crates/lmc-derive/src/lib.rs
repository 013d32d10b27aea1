//! `#[derive(Signature)]` for lmc: typed signatures declared as Rust structs.
//!
//! This crate is a placeholder in this release: the derive arrives in the next one (see the
//! lmc README). It builds, so the workspace layout and the re-export path are settled.
