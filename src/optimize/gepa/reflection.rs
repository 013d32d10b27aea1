//! GEPA's reflection: the minibatch's traces and the metric's feedback, rendered as DSPy's
//! GEPA renders them, go to the reflection LM, which answers with a new instruction between
//! triple backticks.

use std::sync::Arc;

use crate::adapter::pyfmt::py_str;
use crate::lm::LmRequest;
use crate::module::{RunCx, RunTotals, TraceEntry};
use crate::optimize::cx::ExampleRun;
use crate::optimize::{BudgetExceeded, Meter};
use crate::prompt::Message;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

/// One example shown to the reflection LM: the predictor's inputs, its outputs, and feedback.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) outputs: Vec<(String, String)>,
    pub(crate) feedback: String,
}

/// The records for `predictor` from the minibatch's runs: per run, one of the predictor's
/// successful calls (drawn at random when it was called several times). Runs where the
/// program failed, or the predictor never answered, are left out, as DSPy leaves them out.
pub(crate) fn records(predictor: &str, outputs: &[String], runs: &[Arc<ExampleRun>], rng: &mut StdRng) -> Vec<Record> {
    let mut records = Vec::new();
    for run in runs {
        if run.prediction.is_none() {
            continue;
        }
        let calls: Vec<&TraceEntry> =
            run.trace.iter().filter(|t| t.predictor == predictor && t.outputs.is_some()).collect();
        let Some(call) = calls.choose(rng) else { continue };
        let produced = call.outputs.as_ref().expect("filtered on outputs");
        let inputs = call.inputs.iter().map(|(k, v)| (k.clone(), py_str(v))).collect();
        let outputs = outputs
            .iter()
            .filter_map(|name| produced.get(name).map(|v| (name.clone(), py_str(v))))
            .chain(produced.iter().filter(|(k, _)| !outputs.contains(k)).map(|(k, v)| (k.clone(), py_str(v))))
            .collect();
        let feedback = run.feedback.clone().unwrap_or_else(|| generic_feedback(run.score));
        records.push(Record { inputs, outputs, feedback });
    }
    records
}

/// What a metric without feedback says (DSPy's words).
pub(crate) fn generic_feedback(score: f64) -> String {
    format!("This trajectory got a score of {score:?}.")
}

/// DSPy's GEPA reflection prompt, byte for byte.
pub(crate) fn prompt(current_instruction: &str, records: &[Record]) -> String {
    format!(
        "I provided an assistant with the following instructions to perform a task for me:\n```\n{current_instruction}\n```\n\n\
The following are examples of different task inputs provided to the assistant along with the assistant's response for each of them, and some feedback on how the assistant's response could be better:\n```\n{}\n```\n\n\
Your task is to write a new instruction for the assistant.\n\n\
Read the inputs carefully and identify the input format and infer detailed task description about the task I wish to solve with the assistant.\n\n\
Read all the assistant responses and the corresponding feedback. Identify all niche and domain specific factual information about the task and include it in the instruction, as a lot of it may not be available to the assistant in the future. The assistant may have utilized a generalizable strategy to solve the task, if so, include that in the instruction as well.\n\n\
Provide the new instructions within ``` blocks.",
        render_records(records)
    )
}

/// The records as markdown: `# Example N`, `## Inputs` / `## Generated Outputs` with a
/// `### field` per value, and `## Feedback`; joined by blank lines.
fn render_records(records: &[Record]) -> String {
    let section = |title: &str, fields: &[(String, String)]| {
        let mut s = format!("## {title}\n");
        for (k, v) in fields {
            s.push_str(&format!("### {k}\n{}\n\n", v.trim()));
        }
        if fields.is_empty() {
            s.push('\n');
        }
        s
    };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "# Example {}\n{}{}## Feedback\n{}\n\n",
                i + 1,
                section("Inputs", &r.inputs),
                section("Generated Outputs", &r.outputs),
                r.feedback.trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The instruction in the reflection LM's reply: the text between the first and the last
/// triple backticks (an optional language tag dropped), or the whole reply, trimmed, when
/// it has no complete block.
pub(crate) fn extract_instruction(reply: &str) -> String {
    let start = reply.find("```").map(|i| i + 3);
    let end = reply.rfind("```");
    match (start, end) {
        (Some(start), Some(end)) if start < end => {
            let content = &reply[start..end];
            // A language tag: non-space characters up to the first newline.
            let content = match content.find('\n') {
                Some(nl) if !content[..nl].chars().any(char::is_whitespace) => &content[nl + 1..],
                _ => content,
            };
            content.trim().to_string()
        }
        _ => {
            let stripped = reply.trim();
            if let Some(rest) = stripped.strip_prefix("```") {
                // An unclosed block: drop the fence, its language tag and one newline.
                let body = rest.trim_start_matches(|c: char| !c.is_whitespace());
                body.strip_prefix('\n').unwrap_or(body).trim().to_string()
            } else if let Some(body) = stripped.strip_suffix("```") {
                body.trim().to_string()
            } else {
                stripped.to_string()
            }
        }
    }
}

/// Sends the reflection prompt as one user message (as DSPy's GEPA does) and returns the
/// reply's text (`None` when the call failed) and the call's totals; the call is budgeted on
/// `meter`.
pub(crate) async fn reflect(
    cx: &RunCx,
    meter: &Meter,
    prompt: String,
) -> Result<(Option<String>, RunTotals), BudgetExceeded> {
    let Some(lm) = cx.lm().cloned() else { return Ok((None, RunTotals::default())) };
    meter.reserve(1)?;
    let cx = cx.fork();
    let request =
        LmRequest { rollout: cx.rollout(), ..LmRequest::new(vec![Message::user(prompt)], cx.sampling().clone()) };
    let mut entry = TraceEntry::sent("gepa.reflection", Default::default(), request.clone(), lm.identity());
    let reply = match lm.complete(&request).await {
        Ok(response) => {
            entry.received(&response);
            response.completions.first().map(|c| c.text.clone())
        }
        Err(e) => {
            entry.error = Some(e.to_string());
            None
        }
    };
    cx.record(entry);
    let totals = cx.totals();
    meter.add(&totals, 0.0, 1);
    Ok((reply, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_dspy_style() {
        assert_eq!(extract_instruction("``` \nDo it well.\n```"), "Do it well.");
        assert_eq!(extract_instruction("Sure:\n```text\nDo it.\n```\nThanks"), "Do it.");
        assert_eq!(extract_instruction("```\nUnclosed"), "Unclosed");
        assert_eq!(extract_instruction("```md\nUnclosed too"), "Unclosed too");
        assert_eq!(extract_instruction("Closed only```"), "Closed only");
        assert_eq!(extract_instruction("  plain  "), "plain");
    }

    #[test]
    fn generic_feedback_reads_like_python() {
        assert_eq!(generic_feedback(0.0), "This trajectory got a score of 0.0.");
        assert_eq!(generic_feedback(0.5), "This trajectory got a score of 0.5.");
    }
}
