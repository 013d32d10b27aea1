//! The integration test target; one module per topic.

#![allow(clippy::unwrap_used)]

/// A scripted HTTP server on loopback for provider tests.
mod mock_server;
/// Shared helpers: fixtures, scripted LMs.
mod support;

/// Compiled-program artifacts: save and load, validation against the program, overlays.
mod artifact;
/// The persistent LM cache.
mod cache;
/// lmc.toml and configuration precedence.
mod config;
/// COPRO: proposals from scored history, breadth and depth, the best instruction, budgets, the simulator.
mod copro;
/// Dataset loading: JSONL, CSV, Parquet, column mapping, splits, hashes, errors.
mod datasets;
/// DSPy interchange: importing DSPy 3.4.1 save files, exporting artifacts DSPy loads.
mod dspy;
/// Nearest neighbours: BM25, the OpenAI-compatible embeddings client, dense and sparse indexes.
mod embed;
/// Evaluate: outcomes, ordering, limits, repeats, slices, the report.
mod evaluate;
/// Release gating: statistics, baselines, paired comparison, checks, JUnit/Markdown/JSON reports.
mod gate;
/// GEPA: DSPy's recorded run replayed; Pareto parents, acceptance, round robin, budgets.
mod gepa;
/// Metrics: each built-in, closures, the registry, the LLM judge.
mod metrics;
/// MIPROv2: proposer, search schedule, zero-shot mode, seeds, budgets.
mod mipro;
/// Predict, ChainOfThought and a two-predictor Rust program against a scripted LM.
mod modules;
/// Cost-aware compiling: the objective, the score/cost Pareto front, picking from it.
mod objective;
/// The compiler: optimizers, determinism, budgets, caches, candidates.
mod optimize;
/// Prompt rendering and parsing, byte for byte against DSPy 3.4.1's renderings.
mod parity;
/// Reply parsing: every field type, malformed replies, and a never-panics property.
mod parse;
/// Price tables and dollar cost.
mod pricing;
/// Program files: loading, validation errors, running.
mod programs;
/// Provider wire formats (OpenAI, Anthropic), errors, retries, the LM factory.
mod providers;
/// ReAct: the agent loop, tool failures as observations, react steps in program files, bootstrapping.
mod react;
/// Checkpoints and resuming: kill-and-resume gives the uninterrupted artifact, no request twice.
mod resume;
/// Sampling and refinement: BestOfN, Refine, MultiChainComparison, Parallel, majority, wrappers in program files.
mod sampling;
/// The string-signature parser: types, errors with columns, a never-panics property.
mod signature;
/// The offline simulator's response model.
mod sim;
/// The simulator's HTTP server: wire format, faults, stats.
mod sim_server;
/// SIMBA: bucket order, demo and rule strategies, budgets, seeds, the simulator.
mod simba;
/// Rendered prompts as insta snapshots.
mod snapshots;
/// Tools: typed tools, argument checks, timeouts, and the calculator, retrieve and read-only SQL tools.
mod tools;
/// `#[derive(Signature)]` and typed predictors: type mapping, prompt equality, round trips.
mod typed;
