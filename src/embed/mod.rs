//! Nearest neighbours over text: embedders, a BM25 index, and [`NeighborIndex`], which
//! finds the training examples closest to an input (what `KnnFewShot` uses to pick demos).
//!
//! Two ways to find neighbours, both deterministic (ties go to the lower index):
//!
//! - **sparse**: [`Bm25Index`], Okapi BM25 over a simple Unicode tokenizer ([`tokenize`]).
//!   Offline, no model, no cost.
//! - **dense**: an [`Embedder`] (any OpenAI-compatible `/embeddings` endpoint through
//!   [`OpenAiEmbedder`], or your own) turns texts into vectors; neighbours are ranked by
//!   cosine similarity.
//!
//! An example becomes a document (and an input becomes a query) through [`example_text`]:
//! its input fields as `key: value` lines.
//!
//! ```
//! use lmc::embed::NeighborIndex;
//!
//! let index = NeighborIndex::bm25(vec![
//!     "question: What is the capital of France?".to_string(),
//!     "question: How many legs does a spider have?".to_string(),
//! ]);
//! let nearest = futures::executor::block_on(index.nearest("capital of Italy", 1))?;
//! assert_eq!(nearest, [0]);
//! # Ok::<(), lmc::embed::EmbedError>(())
//! ```

mod bm25;
mod index;
mod openai;

use std::time::Duration;

use futures::future::BoxFuture;

pub use bm25::{tokenize, Bm25Index};
pub use index::{example_text, NeighborIndex};
pub use openai::OpenAiEmbedder;

/// A model that turns texts into vectors.
///
/// Object-safe, so indexes hold `Arc<dyn Embedder>`. An implementation returns exactly one
/// vector per text, in the order of the texts, all of the same dimension.
pub trait Embedder: Send + Sync {
    /// Which model at which endpoint, e.g.
    /// `openai/text-embedding-3-small@https://api.openai.com/v1`. Never holds a key.
    fn identity(&self) -> String;

    /// Embeds `texts`: one vector per text, in order.
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// A failed embedding request. Messages never contain API keys.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The server answered with an error status.
    #[error("{provider} returned HTTP {status}: {message}")]
    Http {
        /// The provider name (or the embedder identity).
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// The provider's error message or body excerpt, with the key redacted.
        message: String,
    },
    /// The connection failed or was dropped.
    #[error("{provider}: connection failed: {message}")]
    Transport {
        /// The provider name.
        provider: String,
        /// What happened.
        message: String,
    },
    /// No reply within the time limit.
    #[error("{provider}: no reply within {timeout:?}")]
    Timeout {
        /// The provider name.
        provider: String,
        /// The limit.
        timeout: Duration,
    },
    /// The reply could not be understood: not JSON, missing fields, the wrong number of
    /// vectors, or vectors of different dimensions.
    #[error("{provider}: malformed reply: {message}")]
    InvalidResponse {
        /// The provider name (or the embedder identity).
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// A bad base URL, batch size, or HTTP client: fix the configuration.
    #[error("embedder configuration: {0}")]
    Config(String),
}

impl EmbedError {
    /// Whether trying again may succeed: rate limits and server errors (HTTP 408, 409, 429,
    /// 5xx), dropped connections and timeouts.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmbedError::Http { status, .. } => matches!(status, 408 | 409 | 429) || (500..600).contains(status),
            EmbedError::Transport { .. } | EmbedError::Timeout { .. } => true,
            EmbedError::InvalidResponse { .. } | EmbedError::Config(_) => false,
        }
    }
}

/// The best `k` of `scored` (document, score) pairs: score descending, then index ascending.
/// A total order, so the result never depends on the input order.
pub(crate) fn top_k(mut scored: Vec<(usize, f64)>, k: usize) -> Vec<(usize, f64)> {
    let order = |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k == 0 {
        return Vec::new();
    }
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_unstable_by(order);
    scored
}
