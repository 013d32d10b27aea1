//! `KnnFewShot`: the k training examples nearest each input, as demos, chosen per call.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;
use tokio::sync::OnceCell;

use super::{Candidate, CompileCx, CompileError, Compiled, Optimizer, RunPlan};
use crate::artifact::KnnArtifact;
use crate::data::{Example, Prediction};
use crate::embed::example_text;
use crate::embed::{EmbedError, Embedder, NeighborIndex};
use crate::module::{Module, Overlay, Predict, RunCx, RunError};

/// How neighbours are found.
#[derive(Clone, Default)]
pub enum KnnMethod {
    /// BM25 over the examples' input text: local, no model, no cost.
    #[default]
    Bm25,
    /// Cosine similarity of embeddings (an OpenAI-compatible embeddings endpoint, say).
    Embedder(Arc<dyn Embedder>),
}

impl fmt::Debug for KnnMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnnMethod::Bm25 => f.write_str("Bm25"),
            KnnMethod::Embedder(e) => f.debug_tuple("Embedder").field(&e.identity()).finish(),
        }
    }
}

/// At inference time, gives every predictor the `k` training examples whose inputs are
/// nearest the call's inputs as demos. Compiling makes no LM calls: it records the trainset
/// and the method in the artifact, and the compiled program looks neighbours up per call.
/// With an embedding model, the trainset is embedded once and each input once per call;
/// those embedding calls are not counted in budgets or compile cost.
///
/// DSPy's `KNNFewShot` bootstraps demos from the neighbours on every call; this one uses the
/// labeled neighbours directly (no extra LM calls per input). An input that is itself in the
/// trainset is never its own demo. Neighbours come from the examples' input fields as text
/// (`key: value` lines), by BM25 by default or by an embedding model.
#[derive(Debug, Clone, Default)]
pub struct KnnFewShot {
    /// Demos per call (DSPy requires it; 3 here by default).
    pub k: usize,
    /// How neighbours are found.
    pub method: KnnMethod,
}

impl KnnFewShot {
    /// `k` neighbours by BM25.
    pub fn new(k: usize) -> Self {
        KnnFewShot { k, method: KnnMethod::Bm25 }
    }

    fn method_name(&self) -> (String, Option<String>) {
        match &self.method {
            KnnMethod::Bm25 => ("bm25".into(), None),
            KnnMethod::Embedder(e) => {
                let identity = e.identity();
                match identity.split_once('@') {
                    Some((model, url)) => (model.to_string(), Some(url.to_string())),
                    None => (identity, None),
                }
            }
        }
    }
}

impl Optimizer for KnnFewShot {
    fn name(&self) -> &'static str {
        "knn"
    }

    fn config(&self) -> serde_json::Value {
        json!({ "k": self.k, "method": self.method_name().0 })
    }

    fn plan(&self, train: usize, _val: usize) -> RunPlan {
        let embed = match self.method {
            KnnMethod::Bm25 => format!("index {train} training examples with BM25 (no LM calls)"),
            KnnMethod::Embedder(_) => format!("embed {train} training examples, then one embedding per input"),
        };
        RunPlan { phases: vec![embed], max_program_runs: 0 }
    }

    fn compile<'a>(&'a self, cx: &'a CompileCx) -> BoxFuture<'a, Result<Compiled, CompileError>> {
        Box::pin(async move {
            if cx.trainset().is_empty() {
                return Err(CompileError::EmptyTrainset);
            }
            if self.k == 0 {
                return Err(CompileError::Config { optimizer: "knn", message: "k must be at least 1".into() });
            }
            let train = cx.trainset().examples();
            let input_keys = train[0].input_keys().to_vec();
            if input_keys.is_empty() {
                return Err(CompileError::Config {
                    optimizer: "knn",
                    message: "the training examples have no input fields to find neighbours by".into(),
                });
            }
            let (method, base_url) = self.method_name();
            let knn = KnnArtifact { k: self.k, method, base_url, input_keys, trainset: train.to_vec() };
            let embedder = match &self.method {
                KnnMethod::Bm25 => None,
                KnnMethod::Embedder(e) => Some(e.clone()),
            };
            let program = KnnProgram::from_artifact(cx.program().clone(), &knn, embedder)?;
            // Embed the trainset now: a broken embedder fails the compile, not the first call.
            program.index().await?;
            Ok(Compiled {
                candidate: Candidate::empty(),
                knn: Some(knn),
                runner: Some(Arc::new(program)),
                leaderboard: Vec::new(),
                stopped: None,
            })
        })
    }
}

/// A program whose predictors get, per call, the `k` training examples nearest the inputs
/// as demos: what a KnnFewShot artifact runs as. The index is built at the first call.
pub struct KnnProgram {
    inner: Arc<dyn Module>,
    k: usize,
    input_keys: Vec<String>,
    trainset: Vec<Example>,
    embedder: Option<Arc<dyn Embedder>>,
    index: OnceCell<NeighborIndex>,
}

impl fmt::Debug for KnnProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnnProgram")
            .field("k", &self.k)
            .field("trainset", &self.trainset.len())
            .field("embedder", &self.embedder.as_ref().map(|e| e.identity()))
            .finish_non_exhaustive()
    }
}

impl KnnProgram {
    /// Wraps `program` with an artifact's KNN state. A `bm25` artifact needs no embedder; any
    /// other method needs the embedder it names.
    pub fn from_artifact(
        program: Arc<dyn Module>,
        knn: &KnnArtifact,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, EmbedError> {
        if knn.method != "bm25" && embedder.is_none() {
            return Err(EmbedError::Config(format!(
                "the artifact finds demos with the embedding model `{}`; configure it",
                knn.method
            )));
        }
        Ok(KnnProgram {
            inner: program,
            k: knn.k,
            input_keys: knn.input_keys.clone(),
            trainset: knn.trainset.clone(),
            embedder: if knn.method == "bm25" { None } else { embedder },
            index: OnceCell::new(),
        })
    }

    async fn index(&self) -> Result<&NeighborIndex, EmbedError> {
        self.index
            .get_or_try_init(|| async {
                let texts: Vec<String> =
                    self.trainset.iter().map(|e| example_text(e.fields(), &self.input_keys)).collect();
                match &self.embedder {
                    None => Ok(NeighborIndex::bm25(texts)),
                    Some(embedder) => NeighborIndex::dense(embedder.clone(), texts).await,
                }
            })
            .await
    }

    /// The demos for `inputs`: its nearest training examples, itself excluded.
    pub async fn demos_for(&self, inputs: &Example) -> Result<Vec<Example>, EmbedError> {
        let index = self.index().await?;
        let query = example_text(inputs.fields(), &self.input_keys);
        let same_inputs = |e: &Example| self.input_keys.iter().all(|k| e.get(k) == inputs.get(k));
        // Ask for enough neighbours that k remain after leaving out the input's own copies.
        let copies = self.trainset.iter().filter(|e| same_inputs(e)).count();
        let found = index.nearest(&query, self.k + copies).await?;
        Ok(found.into_iter().map(|i| &self.trainset[i]).filter(|e| !same_inputs(e)).take(self.k).cloned().collect())
    }
}

impl Module for KnnProgram {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let predictors = self.inner.predictors();
            let demos = self.demos_for(inputs).await.map_err(|e| RunError::Demos {
                predictor: predictors.first().map(|p| p.name().to_string()).unwrap_or_default(),
                message: e.to_string(),
            })?;
            let mut overlay: Overlay = cx.overlay().cloned().unwrap_or_default();
            for p in predictors {
                overlay.predictors.entry(p.name().to_string()).or_default().demos = Some(demos.clone());
            }
            // A clone shares the trace and usage sinks, so the calls are recorded in `cx`.
            let cx = cx.clone().with_overlay(Arc::new(overlay));
            self.inner.forward(&cx, inputs).await
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        self.inner.predictors()
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        // The inner program is shared; a KNN program's predictors are set through the
        // artifact before wrapping.
        Vec::new()
    }
}
