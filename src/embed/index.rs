//! [`NeighborIndex`]: the k nearest documents to a query, by BM25 or by embedding cosine.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::{top_k, Bm25Index, EmbedError, Embedder};
use crate::data::Fields;

/// The text an example contributes to an index (or a query): the fields named in `keys`, in
/// that order, as `key: value` lines. Strings appear as they are, other JSON values as
/// compact JSON; keys the example lacks are skipped.
///
/// ```
/// use lmc::embed::example_text;
/// use lmc::Example;
/// use serde_json::json;
///
/// let ex = Example::from_json(json!({"question": "2+2?", "tags": ["math"], "answer": 4}))?;
/// let keys = ["question".to_string(), "tags".to_string(), "context".to_string()];
/// assert_eq!(example_text(ex.fields(), &keys), "question: 2+2?\ntags: [\"math\"]");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn example_text(fields: &Fields, keys: &[String]) -> String {
    let mut lines = Vec::with_capacity(keys.len());
    for key in keys {
        match fields.get(key) {
            Some(Value::String(s)) => lines.push(format!("{key}: {s}")),
            Some(other) => lines.push(format!("{key}: {other}")),
            None => {}
        }
    }
    lines.join("\n")
}

/// Finds the `k` documents nearest to a query: by BM25 ([`NeighborIndex::bm25`]) or by the
/// cosine similarity of embeddings ([`NeighborIndex::dense`]).
///
/// Fully deterministic: ties go to the lower document index, and [`nearest`](Self::nearest)
/// always returns `min(k, len)` indices.
///
/// ```
/// use lmc::embed::NeighborIndex;
///
/// let index = NeighborIndex::bm25(vec![
///     "red apples".to_string(),
///     "green pears".to_string(),
///     "blue sky".to_string(),
///     "red sky at night".to_string(),
/// ]);
/// assert_eq!(index.method(), "bm25");
/// // Two documents mention "sky"; the rest fill up in index order.
/// let nearest = futures::executor::block_on(index.nearest("sky", 3))?;
/// assert_eq!(nearest, [2, 3, 0]);
/// # Ok::<(), lmc::embed::EmbedError>(())
/// ```
#[derive(Clone)]
pub struct NeighborIndex {
    method: Method,
}

#[derive(Clone)]
enum Method {
    Bm25(Bm25Index),
    Dense {
        embedder: Arc<dyn Embedder>,
        /// The embedder's identity, kept so that [`NeighborIndex::method`] can lend it.
        identity: String,
        texts: Vec<String>,
        /// One unit-length vector per text (all zeros for a zero vector).
        vectors: Vec<Vec<f32>>,
    },
}

impl fmt::Debug for NeighborIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeighborIndex").field("method", &self.method()).field("len", &self.len()).finish()
    }
}

impl NeighborIndex {
    /// A sparse index: BM25 over `texts` (see [`Bm25Index`]).
    pub fn bm25(texts: Vec<String>) -> Self {
        NeighborIndex { method: Method::Bm25(Bm25Index::new(texts)) }
    }

    /// A dense index: embeds `texts` once with `embedder` and keeps the unit-length vectors.
    /// Each query is embedded when it is asked.
    ///
    /// Fails with the embedder's error, or [`EmbedError::InvalidResponse`] when it returns
    /// the wrong number of vectors, vectors of different dimensions, or non-finite values.
    pub async fn dense(embedder: Arc<dyn Embedder>, texts: Vec<String>) -> Result<Self, EmbedError> {
        let identity = embedder.identity();
        let vectors = if texts.is_empty() { Vec::new() } else { embedder.embed(&texts).await? };
        let vectors = checked(&identity, vectors, texts.len(), None)?;
        Ok(NeighborIndex { method: Method::Dense { embedder, identity, texts, vectors } })
    }

    /// How neighbours are found: `bm25`, or the embedder's identity.
    pub fn method(&self) -> &str {
        match &self.method {
            Method::Bm25(_) => "bm25",
            Method::Dense { identity, .. } => identity,
        }
    }

    /// The number of documents.
    pub fn len(&self) -> usize {
        match &self.method {
            Method::Bm25(index) => index.len(),
            Method::Dense { texts, .. } => texts.len(),
        }
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Document `i`, as given.
    pub fn text(&self, i: usize) -> Option<&str> {
        match &self.method {
            Method::Bm25(index) => index.document(i),
            Method::Dense { texts, .. } => texts.get(i).map(String::as_str),
        }
    }

    /// The indices of the `min(k, len)` documents nearest to `query`, nearest first; ties go
    /// to the lower index.
    ///
    /// BM25 ranks the documents that share a term with the query; when fewer than `k` do,
    /// the remaining documents follow in index order. A dense index embeds the query (one
    /// call to the embedder; none when `k` is 0 or the index is empty) and ranks every
    /// document by cosine similarity.
    pub async fn nearest(&self, query: &str, k: usize) -> Result<Vec<usize>, EmbedError> {
        let k = k.min(self.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        match &self.method {
            Method::Bm25(index) => {
                let mut picked: Vec<usize> = index.search(query, k).into_iter().map(|(doc, _)| doc).collect();
                if picked.len() < k {
                    let mut taken = vec![false; index.len()];
                    for &doc in &picked {
                        taken[doc] = true;
                    }
                    let rest: Vec<usize> = (0..index.len()).filter(|&doc| !taken[doc]).take(k - picked.len()).collect();
                    picked.extend(rest);
                }
                Ok(picked)
            }
            Method::Dense { embedder, identity, vectors, .. } => {
                let queries = [query.to_string()];
                let reply = embedder.embed(&queries).await?;
                let dimension = vectors.first().map(Vec::len);
                let query = checked(identity, reply, 1, dimension)?.into_iter().next().unwrap_or_default();
                let scored = vectors.iter().enumerate().map(|(doc, v)| (doc, dot(&query, v))).collect();
                Ok(top_k(scored, k).into_iter().map(|(doc, _)| doc).collect())
            }
        }
    }
}

/// Checks an embedder's reply (`expected` vectors, one dimension, finite values; the given
/// dimension when there is one) and scales every vector to unit length.
fn checked(
    identity: &str,
    mut vectors: Vec<Vec<f32>>,
    expected: usize,
    dimension: Option<usize>,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let invalid = |message: String| EmbedError::InvalidResponse { provider: identity.to_string(), message };
    if vectors.len() != expected {
        return Err(invalid(format!("asked for {expected} embeddings, got {}", vectors.len())));
    }
    let dimension = dimension.or_else(|| vectors.first().map(Vec::len));
    for (i, v) in vectors.iter_mut().enumerate() {
        if Some(v.len()) != dimension {
            return Err(invalid(format!(
                "embedding {i} has {} dimensions, expected {}",
                v.len(),
                dimension.unwrap_or_default()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(invalid(format!("embedding {i} holds a value that is not finite")));
        }
        let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        if norm > 0.0 {
            for x in v.iter_mut() {
                *x = (f64::from(*x) / norm) as f32;
            }
        }
    }
    Ok(vectors)
}

/// The dot product, summed in `f64` in index order.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}
