//! MIPROv2's grounded instruction proposer: a dataset summary, the program's description,
//! sampled demos and a random tip go into one LM call per proposed instruction.

use std::sync::Arc;

use crate::data::Example;
use crate::lm::Sampling;
use crate::module::{Module, Predict, RunCx, RunError, RunTotals};
use crate::optimize::budget::Meter;
use crate::optimize::BudgetExceeded;
use crate::signature::Signature;

/// DSPy's proposal tips, by name (the texts are ours).
pub(crate) const TIPS: [(&str, &str); 6] = [
    ("none", ""),
    ("creative", "Don't be afraid to be creative when writing the new instruction."),
    ("simple", "Keep the instruction clear and concise."),
    ("description", "Make the instruction informative and descriptive."),
    ("high_stakes", "The instruction should describe a high-stakes scenario in which the task must be solved well."),
    ("persona", "Include a persona relevant to the task in the instruction (\"You are a ...\")."),
];

const DESCRIBE_DATA: &str = "Given several examples from a dataset, write observations about what holds \
for most or all of them: topics, content, syntax, length, and what task the data seems meant for.";

const SUMMARIZE: &str = "Summarize the observations about a dataset in at most three sentences, keeping \
what matters for writing instructions for the task.";

const PROPOSE: &str = "Use the information below about a task solved with calls to a language model, then \
write a new instruction for one module of the program that will help the language model solve the task \
better. Reply with the instruction only.";

/// Proposes instructions with the prompt LM's run context.
pub(crate) struct Proposer<'a> {
    pub(crate) cx: RunCx,
    pub(crate) meter: &'a Meter,
    /// The proposer's calls, kept apart from the program's.
    pub(crate) spent: RunTotals,
}

fn text_of(example: &Example) -> String {
    example
        .fields()
        .iter()
        .map(|(k, v)| format!("{k}: {}", crate::adapter::pyfmt::py_str(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Proposer<'_> {
    /// One call of `signature` with `instructions` on `inputs`, budgeted, at `rollout`.
    async fn call(
        &mut self,
        name: &str,
        signature: &str,
        instructions: &str,
        inputs: Example,
        rollout: u32,
    ) -> Result<Result<String, RunError>, BudgetExceeded> {
        let signature = match Signature::parse(signature) {
            Ok(sig) => sig.with_instructions(instructions),
            Err(e) => return Ok(Err(RunError::InvalidInput { predictor: name.into(), message: e.to_string() })),
        };
        let output = signature.output_names().next().unwrap_or_default().to_string();
        let predict = Predict::new(name, signature);
        self.meter.reserve(1)?;
        let cx = self.cx.fork().with_rollout(rollout);
        let result = predict.forward(&cx, &inputs).await;
        let totals = cx.totals();
        self.meter.add(&totals, 0.0, 1);
        self.spent.merge(&totals);
        Ok(result.map(|p| p.get(&output).map(crate::adapter::pyfmt::py_str).unwrap_or_default().trim().to_string()))
    }

    /// A short description of the training data: observations on a batch, then a summary
    /// (two calls; DSPy walks several batches).
    pub(crate) async fn describe_data(&mut self, trainset: &[Example], batch: usize) -> Result<String, BudgetExceeded> {
        let examples: Vec<String> = trainset.iter().take(batch.max(1)).map(text_of).collect();
        let inputs = Example::new().with("examples", examples.join("\n\n")).with_inputs(["examples"]);
        let observations =
            match self.call("describe_data", "examples -> observations", DESCRIBE_DATA, inputs, 0).await? {
                Ok(text) => text,
                Err(_) => return Ok(String::new()),
            };
        let inputs = Example::new().with("observations", observations.clone()).with_inputs(["observations"]);
        Ok(match self.call("summarize_data", "observations -> summary", SUMMARIZE, inputs, 0).await? {
            Ok(summary) => summary,
            Err(_) => observations,
        })
    }

    /// One proposed instruction for `predictor`, or `None` when the call failed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn propose(
        &mut self,
        program: &Arc<dyn Module>,
        predictor: &Predict,
        dataset_description: &str,
        program_description: &str,
        demos: &[Example],
        tip: &str,
        rollout: u32,
    ) -> Result<Option<String>, BudgetExceeded> {
        let program_code = program
            .predictors()
            .iter()
            .map(|p| format!("{}: {} ({})", p.name(), p.signature().field_summary(), p.signature().instructions()))
            .collect::<Vec<_>>()
            .join("\n");
        let task_demos = if demos.is_empty() {
            "No task demos provided.".to_string()
        } else {
            demos.iter().map(text_of).collect::<Vec<_>>().join("\n\n")
        };
        let inputs = Example::new()
            .with("dataset_description", dataset_description)
            .with("program_code", program_code)
            .with("program_description", program_description)
            .with("module", predictor.name())
            .with("module_description", predictor.signature().field_summary())
            .with("task_demos", task_demos)
            .with("basic_instruction", predictor.signature().instructions())
            .with("tip", tip);
        let keys: Vec<String> = inputs.fields().keys().cloned().collect();
        let inputs = inputs.with_inputs(keys);
        let signature = "dataset_description, program_code, program_description, module, module_description, \
                         task_demos, basic_instruction, tip -> proposed_instruction";
        Ok(self.call("propose_instruction", signature, PROPOSE, inputs, rollout).await?.ok().filter(|t| !t.is_empty()))
    }
}

/// The proposer's sampling: the run's, at temperature 1.0 (distinct rollouts give distinct
/// proposals).
pub(crate) fn proposer_sampling(base: &Sampling) -> Sampling {
    Sampling { temperature: Some(1.0), ..base.clone() }
}
