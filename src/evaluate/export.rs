//! Exporting an evaluation's per-example results to a table (CSV or Parquet, via polars).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::ExampleResult;

/// An export that failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ExportError {
    /// The file that could not be read or written.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

/// Reads `examples.jsonl` (as `Evaluate` writes it) and writes one row per result to `out`:
/// `.csv` or `.parquet`. Columns: index, repeat, outcome, score, feedback, latency_ms,
/// input_tokens, output_tokens, calls, cache_hits, retries, program_cost_usd, spent_usd, and
/// the inputs, gold and prediction as JSON text. Returns the number of rows.
pub fn export_results(examples_jsonl: &Path, out: &Path) -> Result<usize, ExportError> {
    let read_err = |message: String| ExportError { path: examples_jsonl.to_path_buf(), message };
    let file = std::fs::File::open(examples_jsonl).map_err(|e| read_err(format!("cannot open: {e}")))?;
    let mut index = Vec::new();
    let mut repeat = Vec::new();
    let mut outcome = Vec::new();
    let mut score = Vec::new();
    let mut feedback: Vec<Option<String>> = Vec::new();
    let mut latency = Vec::new();
    let mut input_tokens = Vec::new();
    let mut output_tokens = Vec::new();
    let mut calls = Vec::new();
    let mut cache_hits = Vec::new();
    let mut retries = Vec::new();
    let mut program_cost: Vec<Option<f64>> = Vec::new();
    let mut spent: Vec<Option<f64>> = Vec::new();
    let mut inputs = Vec::new();
    let mut gold = Vec::new();
    let mut prediction: Vec<Option<String>> = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| read_err(format!("line {}: {e}", n + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: ExampleResult =
            serde_json::from_str(&line).map_err(|e| read_err(format!("line {}: not an example result: {e}", n + 1)))?;
        index.push(r.index as u64);
        repeat.push(r.repeat);
        outcome.push(r.outcome.as_str().to_string());
        score.push(r.score);
        feedback.push(r.feedback);
        latency.push(r.latency_ms);
        input_tokens.push(r.usage.input_tokens);
        output_tokens.push(r.usage.output_tokens);
        calls.push(r.calls);
        cache_hits.push(r.cache_hits);
        retries.push(r.retries);
        program_cost.push(r.program_cost_usd);
        spent.push(r.spent_usd);
        inputs.push(serde_json::to_string(&r.inputs).unwrap_or_default());
        gold.push(serde_json::to_string(&r.gold).unwrap_or_default());
        prediction.push(r.prediction.map(|p| serde_json::to_string(&p).unwrap_or_default()));
    }
    let rows = index.len();
    let write_err = |message: String| ExportError { path: out.to_path_buf(), message };
    let columns = vec![
        Column::new("index".into(), index),
        Column::new("repeat".into(), repeat),
        Column::new("outcome".into(), outcome),
        Column::new("score".into(), score),
        Column::new("feedback".into(), feedback),
        Column::new("latency_ms".into(), latency),
        Column::new("input_tokens".into(), input_tokens),
        Column::new("output_tokens".into(), output_tokens),
        Column::new("calls".into(), calls),
        Column::new("cache_hits".into(), cache_hits),
        Column::new("retries".into(), retries),
        Column::new("program_cost_usd".into(), program_cost),
        Column::new("spent_usd".into(), spent),
        Column::new("inputs".into(), inputs),
        Column::new("gold".into(), gold),
        Column::new("prediction".into(), prediction),
    ];
    let mut frame = DataFrame::new(rows, columns).map_err(|e| write_err(e.to_string()))?;
    let mut sink = std::fs::File::create(out).map_err(|e| write_err(format!("cannot create: {e}")))?;
    match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => CsvWriter::new(&mut sink).finish(&mut frame).map_err(|e| write_err(e.to_string()))?,
        Some("parquet") => {
            ParquetWriter::new(&mut sink).finish(&mut frame).map_err(|e| write_err(e.to_string()))?;
        }
        _ => return Err(write_err("unsupported export format: use a .csv or .parquet file name".into())),
    }
    Ok(rows)
}
