//! `lmc inspect prompt|parse|program`.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use lmc::{AdapterKind, ChainOfThought, Example, Module, ModuleKind, Predict, Program, Signature};
use serde_json::{json, Value};

use crate::cli::{AdapterArg, ModuleArg, ParseArgs, PredictorArgs, ProgramArgs, PromptArgs, PromptFormat};
use crate::output::{print_json, print_line, warn};

/// Builds the predictor the flags describe.
fn build_predictor(args: &PredictorArgs) -> anyhow::Result<Predict> {
    if args.source.signature.is_some() && args.step.is_some() {
        bail!("--step picks a step of --program; it does not apply to --signature");
    }
    let (mut signature, mut kind, mut adapter) = match (&args.source.signature, &args.source.program) {
        (Some(sig), _) => {
            (Signature::parse(sig).context("invalid --signature")?, ModuleKind::Predict, AdapterKind::Chat)
        }
        (None, Some(path)) if crate::loaded::registered_name(path).is_some() => {
            let program = crate::loaded::LoadedProgram::load(path)?;
            let step_name = args.step.as_deref().ok_or_else(|| anyhow!("--program needs --step NAME"))?;
            let predictor = program.predictors().into_iter().find(|p| p.name() == step_name).ok_or_else(|| {
                let names: Vec<&str> = program.predictors().into_iter().map(|p| p.name()).collect();
                anyhow!("{}: no predictor named `{step_name}`; predictors: {}", path.display(), names.join(", "))
            })?;
            // A registered program's predictor renders as it is (its module kind is its own code).
            (predictor.signature().clone(), ModuleKind::Predict, predictor.adapter())
        }
        (None, Some(path)) => {
            let program = Program::load(path)?;
            let step_name = args.step.as_deref().ok_or_else(|| anyhow!("--program needs --step NAME"))?;
            let step = program.step(step_name).ok_or_else(|| {
                let names: Vec<&str> = program.steps().iter().map(|s| s.name()).collect();
                anyhow!("{}: no step named `{step_name}`; steps: {}", path.display(), names.join(", "))
            })?;
            let adapter = step.module().predictors().first().map_or(AdapterKind::Chat, |p| p.adapter());
            (step.signature().clone(), step.kind(), adapter)
        }
        (None, None) => bail!("give --signature or --program"),
    };
    if let Some(module) = args.module {
        kind = match module {
            ModuleArg::Predict => ModuleKind::Predict,
            ModuleArg::ChainOfThought => ModuleKind::ChainOfThought,
        };
    }
    if let Some(a) = args.adapter {
        adapter = match a {
            AdapterArg::Chat => AdapterKind::Chat,
            AdapterArg::Json => AdapterKind::Json,
        };
    }
    if let Some(instructions) = &args.instructions {
        signature = signature.with_instructions(instructions.clone());
    }
    let name = args.step.clone().unwrap_or_else(|| "predict".to_string());
    let mut predict = match kind {
        ModuleKind::Predict => Predict::new(name, signature),
        ModuleKind::ChainOfThought => {
            ChainOfThought::new(name, signature).context("cannot build a chain of thought")?.into_predict()
        }
        ModuleKind::React => bail!("a react step has two predictors (`<step>.react`, `<step>.extract`); inspect renders predict and chain_of_thought steps"),
    };
    // Descriptions apply last, so `reasoning` can be described too.
    if !args.descriptions.is_empty() {
        let mut sig = predict.signature().clone();
        for desc in &args.descriptions {
            let (field, text) =
                desc.split_once('=').ok_or_else(|| anyhow!("--desc `{desc}` must look like FIELD=TEXT"))?;
            sig = sig.with_description(field.trim(), text).context("invalid --desc")?;
        }
        predict = Predict::new(predict.name().to_string(), sig);
    }
    Ok(predict.with_adapter(adapter))
}

/// Demos from a JSON array of objects, or a JSONL file of objects.
fn read_demos(path: &Path) -> anyhow::Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read demos file {}", path.display()))?;
    let is_jsonl = path.extension().is_some_and(|e| e == "jsonl");
    let objects: Vec<(String, Value)> = if is_jsonl {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| {
                let v = serde_json::from_str(line)
                    .with_context(|| format!("{}: line {} is not valid JSON", path.display(), i + 1))?;
                Ok((format!("line {}", i + 1), v))
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        let v: Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
        match v {
            Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (format!("demo {i}"), v)).collect(),
            other => bail!(
                "{} must hold a JSON array of demo objects, found {}",
                path.display(),
                crate::input::kind_of(&other)
            ),
        }
    };
    objects
        .into_iter()
        .map(|(place, v)| match v {
            Value::Object(map) => Ok(Example::from_fields(map)),
            other => {
                bail!("{}: {place} must be a JSON object, found {}", path.display(), crate::input::kind_of(&other))
            }
        })
        .collect()
}

/// `lmc inspect prompt`.
pub(crate) fn prompt(args: &PromptArgs) -> anyhow::Result<ExitCode> {
    let predict = build_predictor(&args.predictor)?;
    let inputs = crate::input::inputs(&args.input)?;
    let unknown: Vec<&str> =
        inputs.keys().map(String::as_str).filter(|k| predict.signature().input(k).is_none()).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = predict.signature().input_names().collect();
        bail!(
            "--input has keys that are not inputs of the signature: {} (inputs: {})",
            unknown.join(", "),
            known.join(", ")
        );
    }
    // Render what DSPy would, but say what a real run would refuse or silently drop.
    for field in predict.signature().inputs() {
        if !inputs.contains_key(&field.name) && !field.ty.allows_none() {
            warn(&format!(
                "input `{}` is not given: the prompt omits it, and a real run would refuse to start",
                field.name
            ));
        }
    }
    let predict = match &args.demos {
        Some(path) => {
            let demos = read_demos(path)?;
            let sig = predict.signature();
            for (i, demo) in demos.iter().enumerate() {
                let has_input = sig.input_names().any(|n| demo.get(n).is_some());
                let has_output = sig.output_names().any(|n| demo.get(n).is_some());
                if !(has_input && has_output) {
                    warn(&format!(
                        "demo {i} is dropped: a demo needs at least one input and one output of the signature ({})",
                        sig.field_summary()
                    ));
                }
            }
            predict.with_demos(demos)
        }
        None => predict,
    };
    let prompt = predict.render(None, &inputs);
    let messages: Vec<Value> =
        prompt.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect();
    if args.format == PromptFormat::Text {
        let mut text = String::new();
        for m in &prompt.messages {
            text.push_str(&format!("--- {} ---\n{}\n", m.role.as_str(), m.content));
        }
        if let (true, Some(format)) = (args.response_format, &prompt.response_format) {
            text.push_str(&format!("--- response_format ---\n{}\n", serde_json::to_string_pretty(format)?));
        }
        print_line(text.trim_end())?;
    } else if args.response_format {
        print_json(&json!({"messages": messages, "response_format": prompt.response_format}))?;
    } else {
        print_json(&Value::Array(messages))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `lmc inspect parse`.
pub(crate) fn parse(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let predict = build_predictor(&args.predictor)?;
    let completion = if args.completion.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the completion from standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.completion)
            .with_context(|| format!("cannot read completion file {}", args.completion.display()))?
    };
    let fields = predict.adapter().adapter().parse(predict.signature(), &completion)?;
    print_json(&Value::Object(fields))?;
    Ok(ExitCode::SUCCESS)
}

/// `lmc inspect program`.
pub(crate) fn program(args: &ProgramArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::loaded::LoadedProgram::load(&args.program)?;
    let Some(program) = loaded.file() else { return registered_program(&loaded) };
    let mut lines = vec![format!("program {}", program.name())];
    if !program.description().is_empty() {
        lines.push(format!("  {}", program.description()));
    }
    lines.push(format!("inputs: {}", program.inputs().join(", ")));
    lines.push("steps:".to_string());
    for step in program.steps() {
        for p in step.module().predictors() {
            lines.push(format!(
                "  {:<16} {:<17} {} [{} adapter, {} demos]",
                p.name(),
                step.kind().as_str(),
                p.signature().field_summary(),
                p.adapter(),
                p.demos().len()
            ));
        }
    }
    lines.push(format!("outputs: {}", program.outputs().join(", ")));
    print_line(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// `lmc inspect program` of a registered Rust program: its predictors in program order.
fn registered_program(program: &crate::loaded::LoadedProgram) -> anyhow::Result<ExitCode> {
    let mut lines = vec![format!("program {} (registered Rust program)", program.name())];
    if !program.description().is_empty() {
        lines.push(format!("  {}", program.description()));
    }
    lines.push(format!("inputs: {}", program.inputs().join(", ")));
    lines.push("predictors:".to_string());
    for p in program.predictors() {
        lines.push(format!(
            "  {:<16} {} [{} adapter, {} demos]",
            p.name(),
            p.signature().field_summary(),
            p.adapter(),
            p.demos().len()
        ));
    }
    print_line(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// `lmc inspect run`: an evaluation's examples, with prompts, completions and feedback.
pub(crate) fn run(args: &crate::cli::InspectRunArgs) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;

    let path = args.dir.join("examples.jsonl");
    let file = std::fs::File::open(&path).with_context(|| {
        format!("cannot open {} (is {} a run directory from lmc eval --out?)", path.display(), args.dir.display())
    })?;
    let mut shown = 0usize;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let result: lmc::evaluate::ExampleResult = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {} is not an example result", path.display(), n + 1))?;
        if args.example.is_some_and(|i| i != result.index) {
            continue;
        }
        if args.failed && result.outcome == lmc::evaluate::Outcome::Ok && result.score >= 1.0 {
            continue;
        }
        shown += 1;
        out.push(format!(
            "=== example {} (repeat {}): {} · score {:.3}",
            result.index,
            result.repeat,
            result.outcome.as_str(),
            result.score
        ));
        out.push(format!("inputs:     {}", serde_json::to_string(&result.inputs)?));
        out.push(format!("gold:       {}", serde_json::to_string(&result.gold)?));
        if let Some(prediction) = &result.prediction {
            out.push(format!("prediction: {}", serde_json::to_string(prediction)?));
        }
        if let Some(feedback) = &result.feedback {
            out.push(format!("feedback:   {feedback}"));
        }
        for call in &result.trace {
            out.push(format!("--- {} ({}) ---", call.predictor, call.lm));
            for message in &call.request.messages {
                out.push(format!("[{}]\n{}", message.role.as_str(), message.content));
            }
            for (i, completion) in call.completions.iter().enumerate() {
                out.push(format!("[completion {i}]\n{completion}"));
            }
            if let Some(error) = &call.error {
                out.push(format!("[error] {error}"));
            }
        }
        out.push(String::new());
    }
    if shown == 0 {
        out.push(match (args.example, args.failed) {
            (Some(i), true) => format!("example {i} did not fail (or is not in {})", path.display()),
            (Some(i), false) => format!("no example {i} in {}", path.display()),
            (None, true) => "no failed examples".to_string(),
            (None, false) => "no examples".to_string(),
        });
    }
    print_line(out.join("\n").trim_end())?;
    Ok(ExitCode::SUCCESS)
}
