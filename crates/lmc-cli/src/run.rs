//! `lmc run`: one example through a program, with tokens, cost and latency.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use lmc::{Example, RunCx, Sampling, TraceEntry};
use serde_json::{json, Value};

use crate::cli::RunArgs;
use crate::loaded::LoadedProgram;
use crate::output::{print_json, print_line};

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut program = LoadedProgram::load(&args.program)?;
    let inputs = crate::input::inputs(&args.input)?;
    let unknown: Vec<&str> =
        inputs.keys().map(String::as_str).filter(|k| !program.inputs().iter().any(|i| i == k)).collect();
    if !unknown.is_empty() {
        bail!(
            "--input has keys the program does not read: {} (its inputs: {})",
            unknown.join(", "),
            program.inputs().join(", ")
        );
    }
    let (resolved, factory) = args.lm.factory()?;
    let model = resolved.require_model()?.to_string();
    let lm = factory.build(&model)?;
    // Steps that name their own LM get it; the rest use the run's default.
    program.install_step_lms(&factory)?;
    let knn = match &args.artifact {
        Some(path) => crate::task::install_artifact(&mut program, path)?,
        None => None,
    };
    let name = program.name().to_string();
    let runnable = crate::task::runnable(program, knn.as_ref(), &factory)?;
    let sampling = Sampling {
        temperature: resolved.lm.temperature.value,
        max_tokens: resolved.lm.max_tokens.value,
        ..Sampling::default()
    };
    let cx = RunCx::new().with_lm(lm).with_sampling(sampling);
    let keys: Vec<String> = inputs.keys().cloned().collect();
    let example = Example::from_fields(inputs).with_inputs(keys);

    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let started = Instant::now();
    let result = runtime.block_on(runnable.forward(&cx, &example));
    let elapsed = started.elapsed();
    let totals = cx.totals();
    let trace = cx.trace();
    let prediction = result?;

    let simulated = trace.iter().any(|t| t.lm.provider == "sim");
    if args.json {
        let calls: Vec<Value> = trace.iter().map(call_json).collect();
        print_json(&json!({
            "program": name,
            "lm": model,
            "simulated": simulated,
            "outputs": prediction.fields(),
            "usage": totals.usage,
            "calls": totals.calls,
            "cache_hits": totals.cache_hits,
            "retries": totals.retries,
            "cost_usd": {
                "program": priced(totals.program_cost_usd, totals.unpriced_calls),
                "spent": priced(totals.spent_usd, totals.unpriced_calls),
            },
            "latency_ms": elapsed.as_secs_f64() * 1000.0,
            "trace": calls,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut lines: Vec<String> = prediction.fields().iter().map(|(k, v)| format!("{k}: {}", display(v))).collect();
    lines.push(String::new());
    for call in &trace {
        lines.push(format!(
            "  {:<14} {:<28} {:>6} in {:>5} out  {:>10}  {:>7.0} ms{}{}",
            call.predictor,
            call.lm.to_string(),
            call.usage.input_tokens,
            call.usage.output_tokens,
            call.cost_usd.map_or("$?".to_string(), |c| format!("${c:.6}")),
            call.latency.as_secs_f64() * 1000.0,
            if call.cache_hit { "  cached" } else { "" },
            if call.retries > 0 { format!("  {} retries", call.retries) } else { String::new() },
        ));
    }
    let cost = match priced(totals.program_cost_usd, totals.unpriced_calls) {
        Some(c) => format!("${c:.6} (spent ${:.6})", totals.spent_usd),
        None => "cost unknown: a model is not in the price table (add it with --prices FILE)".to_string(),
    };
    lines.push(format!(
        "{} calls ({} cached, {} retries) · {} in / {} out tokens · {} · {:.2} s",
        totals.calls,
        totals.cache_hits,
        totals.retries,
        totals.usage.input_tokens,
        totals.usage.output_tokens,
        cost,
        elapsed.as_secs_f64()
    ));
    if simulated {
        lines.push(SIMULATED.to_string());
    }
    print_line(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Said under every result that came from the simulator.
const SIMULATED: &str =
    "(simulated LM: answers come from lmc's offline simulator; they say nothing about any model's quality)";

/// The dollar figure, or `None` when a call could not be priced (never a silent 0).
fn priced(total: f64, unpriced_calls: u64) -> Option<f64> {
    (unpriced_calls == 0).then_some(total)
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn call_json(call: &TraceEntry) -> Value {
    json!({
        "predictor": call.predictor,
        "lm": call.lm.to_string(),
        "served_model": call.served_model,
        "usage": call.usage,
        "cost_usd": call.cost_usd,
        "latency_ms": call.latency.as_secs_f64() * 1000.0,
        "cache_hit": call.cache_hit,
        "retries": call.retries,
        "error": call.error,
    })
}
