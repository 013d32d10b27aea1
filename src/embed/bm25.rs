//! Okapi BM25 over a simple, deterministic tokenizer.
//!
//! See [`Bm25Index`] for the scoring formula.

use std::collections::HashMap;

use super::top_k;

/// Splits `text` into search terms: lowercased, split on every character that is not
/// alphanumeric (Unicode), empty pieces dropped. No stemming, no stop words.
///
/// ```
/// assert_eq!(lmc::embed::tokenize("Héllo, WORLD! 2+2=4"), ["héllo", "world", "2", "2", "4"]);
/// ```
pub fn tokenize(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

/// A BM25 index over a fixed list of documents.
///
/// For a query `Q` and a document `D`,
///
/// ```text
/// score(D, Q) = Σ over query terms t:  qtf(t) · idf(t) · tf(t, D) · (k1 + 1)
///                                      ─────────────────────────────────────────────
///                                      tf(t, D) + k1 · (1 − b + b · |D| / avgdl)
///
/// idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
/// ```
///
/// with `k1` = [`K1`](Self::K1) = 1.2 and `b` = [`B`](Self::B) = 0.75; `tf(t, D)` is how often
/// `t` occurs in `D`, `qtf(t)` how often it occurs in the query (a repeated query term counts
/// each time, as in `rank_bm25`), `|D|` the document's length in tokens, `avgdl` the mean length,
/// `N` the number of documents and `df(t)` how many contain `t`. This idf is never negative
/// (Lucene's form), so a document scores above zero exactly when it shares a term with the
/// query.
///
/// Postings lists map each term to the documents that contain it, so a search touches only
/// the documents that share a term with the query. Results are deterministic: ties go to
/// the lower document index.
///
/// ```
/// use lmc::embed::Bm25Index;
///
/// let index = Bm25Index::new(vec![
///     "the cat sat on the mat".to_string(),
///     "dogs chase cats".to_string(),
///     "a cat and a dog".to_string(),
/// ]);
/// let hits = index.search("cat", 10);
/// // "cats" is another term; of the two with "cat", the shorter document ranks first.
/// assert_eq!(hits.iter().map(|(doc, _)| *doc).collect::<Vec<_>>(), [2, 0]);
/// assert_eq!(index.document(1), Some("dogs chase cats"));
/// ```
#[derive(Debug, Clone)]
pub struct Bm25Index {
    documents: Vec<String>,
    /// Term → position in `postings`.
    terms: HashMap<String, usize>,
    /// Per term: (document, term frequency), by ascending document.
    postings: Vec<Vec<(usize, u32)>>,
    /// Per document: its length in tokens.
    lengths: Vec<u32>,
    average_length: f64,
}

impl Bm25Index {
    /// Term-frequency saturation.
    pub const K1: f64 = 1.2;
    /// Length normalization.
    pub const B: f64 = 0.75;

    /// Indexes `documents`; document `i` is `documents[i]`.
    pub fn new(documents: Vec<String>) -> Self {
        let mut terms: HashMap<String, usize> = HashMap::new();
        let mut postings: Vec<Vec<(usize, u32)>> = Vec::new();
        let mut lengths = Vec::with_capacity(documents.len());
        for (doc, text) in documents.iter().enumerate() {
            let mut tokens = tokenize(text);
            lengths.push(u32::try_from(tokens.len()).unwrap_or(u32::MAX));
            tokens.sort_unstable();
            let mut rest = tokens.as_slice();
            while let Some(first) = rest.first() {
                let run = rest.iter().take_while(|t| *t == first).count();
                let id = *terms.entry(first.clone()).or_insert_with(|| {
                    postings.push(Vec::new());
                    postings.len() - 1
                });
                postings[id].push((doc, u32::try_from(run).unwrap_or(u32::MAX)));
                rest = &rest[run..];
            }
        }
        let total: f64 = lengths.iter().map(|&l| f64::from(l)).sum();
        let average_length = if documents.is_empty() { 0.0 } else { total / documents.len() as f64 };
        Bm25Index { documents, terms, postings, lengths, average_length }
    }

    /// The number of documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether there are no documents.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// Document `i`, as given.
    pub fn document(&self, i: usize) -> Option<&str> {
        self.documents.get(i).map(String::as_str)
    }

    /// All documents, in index order.
    pub fn documents(&self) -> &[String] {
        &self.documents
    }

    /// The documents that share a term with `query` (a positive score), best first, at most
    /// `k`: sorted by score descending, then document index ascending.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f64)> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        let mut scores = vec![0.0f64; self.len()];
        let mut touched = Vec::new();
        for (id, qtf) in self.query_terms(query) {
            let idf = self.idf(id);
            for &(doc, tf) in &self.postings[id] {
                if scores[doc] == 0.0 {
                    touched.push(doc);
                }
                scores[doc] += qtf * self.term_score(idf, tf, doc);
            }
        }
        top_k(touched.into_iter().map(|doc| (doc, scores[doc])).filter(|(_, s)| *s > 0.0).collect(), k)
    }

    /// The BM25 score of document `doc` for `query` (0 when they share no term or `doc` is
    /// out of range); the same figure [`search`](Self::search) reports.
    pub fn score(&self, query: &str, doc: usize) -> f64 {
        if doc >= self.len() {
            return 0.0;
        }
        let mut score = 0.0;
        for (id, qtf) in self.query_terms(query) {
            let list = &self.postings[id];
            if let Ok(at) = list.binary_search_by_key(&doc, |&(d, _)| d) {
                score += qtf * self.term_score(self.idf(id), list[at].1, doc);
            }
        }
        score
    }

    /// The query's indexed terms with their counts, in order of first appearance (so sums
    /// are always added in the same order).
    fn query_terms(&self, query: &str) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = Vec::new();
        for token in tokenize(query) {
            if let Some(&id) = self.terms.get(&token) {
                match out.iter_mut().find(|(t, _)| *t == id) {
                    Some((_, count)) => *count += 1.0,
                    None => out.push((id, 1.0)),
                }
            }
        }
        out
    }

    /// `ln(1 + (N − df + 0.5) / (df + 0.5))`.
    fn idf(&self, id: usize) -> f64 {
        let n = self.len() as f64;
        let df = self.postings[id].len() as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// One term's contribution to one document's score.
    fn term_score(&self, idf: f64, tf: u32, doc: usize) -> f64 {
        let tf = f64::from(tf);
        // A document holding the term has at least one token, so `average_length` > 0.
        let norm = 1.0 - Self::B + Self::B * f64::from(self.lengths[doc]) / self.average_length;
        idf * tf * (Self::K1 + 1.0) / (tf + Self::K1 * norm)
    }
}
