//! `retrieve`: BM25 top-k passages from a local corpus (a JSONL file or a folder of `.txt`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{Tool, ToolError};
use crate::embed::Bm25Index;

/// The most passages one call may ask for.
const MAX_K: usize = 20;

/// Why a corpus cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetrieveError {
    /// The file or folder cannot be read.
    #[error("cannot read the corpus {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A JSONL line is not an object with the text field.
    #[error("{path} line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The corpus has no documents.
    #[error("the corpus {0} has no documents")]
    Empty(PathBuf),
}

/// The retriever's arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "crate::schemars")]
struct RetrieveArgs {
    /// What to search for.
    query: String,
    /// How many passages to return (default: the tool's setting).
    #[serde(default)]
    k: Option<u32>,
}

/// Searches a local corpus with BM25 and returns the top `k` passages, numbered, each with
/// its title when it has one.
///
/// The corpus is a JSONL file (one object per line; the text in `text_field`, default
/// `text`, and an optional `title`) or a folder of `.txt` files (one document per file,
/// titled by the file name, read in name order).
///
/// ```
/// use lmc::module::tools::{Retrieve, Tool};
///
/// let retrieve = Retrieve::from_documents(vec![
///     (Some("Rust".to_string()), "Rust is a systems programming language.".to_string()),
///     (Some("Python".to_string()), "Python is a dynamic language.".to_string()),
/// ]).with_k(1);
/// let out = futures::executor::block_on(retrieve.call(serde_json::json!({"query": "systems programming"})));
/// assert_eq!(out.unwrap(), "[1] Rust: Rust is a systems programming language.");
/// ```
#[derive(Debug, Clone)]
pub struct Retrieve {
    index: Bm25Index,
    titles: Vec<Option<String>>,
    k: usize,
    schema: Value,
    timeout: Option<Duration>,
}

impl Retrieve {
    /// A retriever over `(title, text)` documents, returning 3 passages by default.
    pub fn from_documents(documents: Vec<(Option<String>, String)>) -> Self {
        let (titles, texts): (Vec<_>, Vec<_>) = documents.into_iter().unzip();
        Retrieve {
            index: Bm25Index::new(texts),
            titles,
            k: 3,
            schema: schemars::schema_for!(RetrieveArgs).to_value(),
            timeout: Some(super::DEFAULT_TIMEOUT),
        }
    }

    /// Loads a corpus: a `.jsonl` file (text in `text_field`) or a folder of `.txt` files.
    pub fn load(path: &Path, text_field: &str) -> Result<Self, RetrieveError> {
        let io = |source| RetrieveError::Io { path: path.to_path_buf(), source };
        let documents = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                .collect();
            files.sort();
            let mut documents = Vec::with_capacity(files.len());
            for file in files {
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| RetrieveError::Io { path: file.clone(), source })?;
                let title = file.file_stem().map(|s| s.to_string_lossy().into_owned());
                documents.push((title, text.trim().to_string()));
            }
            documents
        } else {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let mut documents = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let bad = |message: String| RetrieveError::Line { path: path.to_path_buf(), line: i + 1, message };
                let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
                let body = value
                    .get(text_field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("no string field `{text_field}`")))?;
                let title = value.get("title").and_then(Value::as_str).map(str::to_string);
                documents.push((title, body.to_string()));
            }
            documents
        };
        if documents.is_empty() {
            return Err(RetrieveError::Empty(path.to_path_buf()));
        }
        Ok(Retrieve::from_documents(documents))
    }

    /// Returns `k` passages when the call does not say (at most 20).
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k.clamp(1, MAX_K);
        self
    }

    /// Sets the time limit.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The top `k` passages for `query`, rendered one per line.
    pub fn search(&self, query: &str, k: usize) -> String {
        let hits = self.index.search(query, k.clamp(1, MAX_K));
        if hits.is_empty() {
            return "No passages match the query.".to_string();
        }
        hits.iter()
            .enumerate()
            .map(|(rank, (doc, _))| {
                let text = self.index.document(*doc).unwrap_or_default();
                match self.titles.get(*doc).and_then(Option::as_deref) {
                    Some(title) => format!("[{}] {title}: {text}", rank + 1),
                    None => format!("[{}] {text}", rank + 1),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Tool for Retrieve {
    fn name(&self) -> &str {
        "retrieve"
    }

    fn description(&self) -> &str {
        "Searches the document collection and returns the passages that best match the query."
    }

    fn args_schema(&self) -> &Value {
        &self.schema
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let args: RetrieveArgs = serde_json::from_value(args).map_err(|e| ToolError::InvalidArgs(e.to_string()))?;
            let k = args.k.map_or(self.k, |k| k as usize);
            Ok(self.search(&args.query, k))
        })
    }
}
