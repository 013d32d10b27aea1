//! lmc: a declarative compiler for language-model programs, in the spirit of DSPy.
//!
//! You declare what each LM call takes and returns (a typed [`Signature`](struct@Signature)), compose calls
//! into modules and programs, and let a compiler find the demonstrations and instructions
//! that score best on labeled data. Prompts render byte for byte as DSPy 3.4.1 renders them,
//! so programs and demos move between the two.
//!
//! # Brief overview
//!
//! | concept | type | role |
//! |---|---|---|
//! | signature | [`Signature`](struct@Signature), [`Field`], [`FieldType`] | inputs → outputs, with instructions; parsed from DSPy's string syntax |
//! | data | [`Example`], [`Prediction`] | ordered JSON maps with typed access through serde |
//! | adapter | [`Adapter`]: [`ChatAdapter`], [`JsonAdapter`] | signature + demos + inputs → [`Prompt`]; reply → typed fields or [`ParseError`] |
//! | LM | [`Lm`], [`LmRequest`], [`LmResponse`], [`ScriptedLm`] | one object-safe trait for every model; requests are explicit |
//! | module | [`Module`], [`Predict`], [`ChainOfThought`], [`RunCx`] | leaf predictors call the LM; the run context carries the LM, overlay and trace |
//! | program | [`Program`] | a `programs/*.toml` file: named steps run in order |
//! | typed signature | `#[derive(Signature)]`, [`TypedSignature`], [`typed::Predict`], [`typed::ChainOfThought`] | a Rust struct as a signature, with typed inputs and outputs |
//!
//! Data flows one way: a module asks its [`Adapter`] for a [`Prompt`], sends it to an
//! [`Lm`] as an [`LmRequest`], and parses the reply back into a [`Prediction`]. The run
//! context ([`RunCx`]) holds the default LM and sampling, the overlay of instructions and
//! demos in force, and the trace of every call; running never mutates the program.
//!
//! # Quick start
//!
//! A two-step program in Rust, run against a scripted LM (swap in a real provider to use a
//! model):
//!
//! ```
//! use std::sync::Arc;
//! use futures::future::BoxFuture;
//! use lmc::{ChainOfThought, Example, Module, Predict, Prediction, RunCx, RunError, ScriptedLm, Signature};
//!
//! /// Summarize a document, then answer a question from the summary.
//! struct SummarizeThenAnswer {
//!     summarize: Predict,
//!     answer: ChainOfThought,
//! }
//!
//! impl Module for SummarizeThenAnswer {
//!     fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
//!         Box::pin(async move {
//!             let summary = self.summarize.forward(cx, inputs).await?;
//!             let next = Example::new()
//!                 .with("summary", summary.get("summary").cloned().unwrap_or_default())
//!                 .with("question", inputs.get("question").cloned().unwrap_or_default());
//!             self.answer.forward(cx, &next).await
//!         })
//!     }
//!     // Programs name their predictors once; optimizers and traces address them by name.
//!     fn predictors(&self) -> Vec<&Predict> { vec![&self.summarize, self.answer.predict()] }
//!     fn predictors_mut(&mut self) -> Vec<&mut Predict> { vec![&mut self.summarize, self.answer.predict_mut()] }
//! }
//!
//! let program = SummarizeThenAnswer {
//!     summarize: Predict::new("summarize", Signature::parse("document -> summary")?),
//!     answer: ChainOfThought::new("answer", Signature::parse("summary, question -> answer")?)?,
//! };
//! let lm = ScriptedLm::new()
//!     .when_user_contains("[[ ## document ## ]]", "[[ ## summary ## ]]\nRust is fast.\n\n[[ ## completed ## ]]")
//!     .with_default("[[ ## reasoning ## ]]\nThe summary says so.\n\n[[ ## answer ## ]]\nfast\n\n[[ ## completed ## ]]");
//! let cx = RunCx::new().with_lm(Arc::new(lm));
//! let inputs = Example::new().with("document", "Rust is a fast language.").with("question", "Is Rust fast?");
//! let out = futures::executor::block_on(program.forward(&cx, &inputs))?;
//! assert_eq!(out.get_as::<String>("answer")?, "fast");
//! assert_eq!(cx.trace().iter().map(|t| t.predictor.as_str()).collect::<Vec<_>>(), ["summarize", "answer"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! - [`signature`]: signatures, field types, the string-signature parser.
//! - [`adapter`]: [`ChatAdapter`], [`JsonAdapter`], Python-compatible value formatting.
//! - [`lm`]: the [`Lm`] trait, requests and responses, [`ScriptedLm`].
//! - [`module`]: [`Module`], [`RunCx`], [`Predict`], [`ChainOfThought`].
//! - [`program`]: program files.
//! - [`optimize`]: the compiler: optimizers, candidates, budgets.
//! - [`artifact`]: compiled-program artifacts, DSPy import and export.
//! - [`gate`]: release gating: baselines, paired comparisons, gate checks and their reports.
//! - [`typed`]: `#[derive(Signature)]`, typed `Predict<S>` and `ChainOfThought<S>`.
//! - [`data`]: [`Example`], [`Prediction`].
//! - [`embed`]: nearest neighbours for few-shot demos: BM25, embedders, [`embed::NeighborIndex`].
//! - [`prompt`]: [`Message`], [`Prompt`], [`ResponseFormat`].

#![deny(missing_docs)]

pub mod adapter;
pub mod artifact;
pub mod config;
pub mod data;
pub mod embed;
pub mod evaluate;
pub mod fsutil;
pub mod gate;
pub mod lm;
pub mod metric;
pub mod module;
pub mod optimize;
pub mod program;
pub mod prompt;
pub mod signature;
pub mod sim;
pub mod spec;
pub mod typed;

/// `#[derive(Signature)]`: see [`typed`].
pub use lmc_derive::Signature;
/// schemars, re-exported so that nested field types can derive `JsonSchema` without a separate
/// dependency (`#[derive(lmc::schemars::JsonSchema)] #[schemars(crate = "lmc::schemars")]`).
pub use schemars;

// Lets `#[derive(Signature)]` name this crate `::lmc` from inside it, too.
#[allow(unused_extern_crates)]
extern crate self as lmc;

pub use adapter::{Adapter, AdapterKind, ChatAdapter, JsonAdapter, ParseError, ParseProblem};
pub use data::{Example, FieldAccessError, Fields, Prediction};
pub use lm::{Completion, FinishReason, Lm, LmError, LmIdentity, LmRequest, LmResponse, Sampling, ScriptedLm, Usage};
pub use module::{
    BestOfN, ChainOfThought, Module, MultiChainComparison, Overlay, Parallel, Predict, PredictorOverlay, Refine, RunCx,
    RunError, RunTotals, TraceEntry,
};
pub use program::{ModuleKind, Program, ProgramError, ProgramSpec, StepSpec};
pub use prompt::{Message, Prompt, ResponseFormat, Role};
pub use signature::{Field, FieldRole, FieldType, LiteralValue, Signature, SignatureError};
pub use typed::{TypedSignature, WithReasoning};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
