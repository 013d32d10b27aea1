//! A per-signature cache of rendered text that depends only on the signature.
//!
//! The system message and the JSON response format are pure functions of the signature and
//! the adapter, and a program formats the same signature thousands of times in an evaluation
//! or a compile. The cache is filled on first use and dropped whenever the signature changes
//! (every mutator resets it), so it can never go stale.

use std::sync::OnceLock;

use crate::prompt::ResponseFormat;

/// Lazily rendered, signature-derived text. Ignored by equality and serde.
#[derive(Clone, Default)]
pub(crate) struct RenderCache {
    pub(crate) chat_system: OnceLock<String>,
    pub(crate) json_system: OnceLock<String>,
    pub(crate) json_response_format: OnceLock<ResponseFormat>,
}

impl PartialEq for RenderCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderCache")
    }
}
