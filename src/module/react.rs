//! `ReAct`: DSPy's tool-using agent. A predictor picks a thought, a tool and its arguments;
//! the tool's result is appended to the trajectory; `finish` ends the loop and a chain of
//! thought extracts the signature's outputs from the trajectory.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::tools::{describe, Tool, Toolbox, ToolboxError};
use super::{ChainOfThought, Module, Predict, RunCx, RunError};
use crate::adapter::pyfmt::py_str;
use crate::adapter::{AdapterKind, ParseError, ParseProblem};
use crate::data::{Example, Fields, Prediction};
use crate::lm::LmError;
use crate::signature::{Field, FieldType, Signature, SignatureError};

/// DSPy's default bound on tool calls per episode.
pub const DEFAULT_MAX_ITERS: usize = 20;

/// The input both inner predictors read: the steps so far, formatted.
pub const TRAJECTORY_FIELD: &str = "trajectory";

/// The tool that ends an episode.
pub const FINISH: &str = "finish";

/// What `finish` returns, as in DSPy.
const FINISH_OBSERVATION: &str = "Completed.";

/// Why a ReAct module cannot be built.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReActError {
    /// The signature cannot carry the inner predictors' fields.
    #[error("invalid ReAct signature: {0}")]
    Signature(#[from] SignatureError),
    /// The tools cannot be used together.
    #[error(transparent)]
    Tools(#[from] ToolboxError),
}

/// One tool call of an episode.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    thought: Value,
    tool_name: String,
    tool_args: Value,
    observation: String,
}

/// Reasoning and acting, as DSPy 3.4.1's `dspy.ReAct`.
///
/// Each turn, the `<name>.react` predictor reads the signature's inputs and the trajectory and
/// writes `next_thought`, `next_tool_name` (one of the tools or `finish`) and
/// `next_tool_args` (a JSON object). The tool runs through a [`Toolbox`]: arguments are
/// checked against its schema, and a bad argument, a tool error, an unknown tool or a
/// timeout becomes the observation (`Execution error in <tool>: <reason>`), never an error of
/// the run. After `finish`, after `max_iters` turns, or when the predictor's reply cannot be
/// read, the `<name>.extract` chain of thought produces the signature's outputs from the
/// trajectory. The prediction holds those outputs, `reasoning`, and `trajectory` (an object:
/// `thought_0`, `tool_name_0`, `tool_args_0`, `observation_0`, ...).
///
/// Both predictors are in the trace with the trajectory among their inputs, so bootstrapped
/// demos carry it. When the prompt outgrows the model's context (an LM context error) or a
/// set [`ReAct::with_max_trajectory_chars`], the oldest steps are left out of the prompt,
/// with a note saying how many; the prediction keeps the whole trajectory.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::tools::Calculator;
/// use lmc::module::ReAct;
/// use lmc::{Example, Module, RunCx, ScriptedLm, Signature};
///
/// let agent = ReAct::new("agent", Signature::parse("question -> answer")?, vec![Arc::new(Calculator::new())])?;
/// assert_eq!(agent.predictor_names(), ["agent.react", "agent.extract"]);
///
/// let lm = ScriptedLm::new()
///     .with_reply("[[ ## next_thought ## ]]\nMultiply.\n\n[[ ## next_tool_name ## ]]\ncalculator\n\n\
///                  [[ ## next_tool_args ## ]]\n{\"expression\": \"6 * 7\"}\n\n[[ ## completed ## ]]")
///     .with_reply("[[ ## next_thought ## ]]\nDone.\n\n[[ ## next_tool_name ## ]]\nfinish\n\n\
///                  [[ ## next_tool_args ## ]]\n{}\n\n[[ ## completed ## ]]")
///     .with_reply("[[ ## reasoning ## ]]\nThe calculator said 42.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]");
/// let cx = RunCx::new().with_lm(Arc::new(lm));
/// let out = futures::executor::block_on(agent.forward(&cx, &Example::new().with("question", "6 times 7?")))?;
/// assert_eq!(out.get_as::<String>("answer")?, "42");
/// assert_eq!(out.get("trajectory").unwrap()["observation_0"], "42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReAct {
    signature: Signature,
    toolbox: Arc<Toolbox>,
    max_iters: usize,
    max_trajectory_chars: Option<usize>,
    react: Predict,
    extract: ChainOfThought,
}

impl std::fmt::Debug for ReAct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReAct")
            .field("signature", &self.signature.field_summary())
            .field("tools", &self.toolbox)
            .field("max_iters", &self.max_iters)
            .field("max_trajectory_chars", &self.max_trajectory_chars)
            .finish_non_exhaustive()
    }
}

impl ReAct {
    /// An agent called `name` for `signature` with `tools` (plus `finish`), at most
    /// [`DEFAULT_MAX_ITERS`] tool calls. Its predictors are `<name>.react` and
    /// `<name>.extract`. Fails when the signature has a field called `trajectory` or a
    /// `next_*`/`reasoning` input, or when tool names clash.
    pub fn new(name: &str, signature: Signature, tools: Vec<Arc<dyn Tool>>) -> Result<Self, ReActError> {
        let toolbox = Toolbox::new(tools)?;
        if signature.field(TRAJECTORY_FIELD).is_some() {
            return Err(SignatureError::invalid(format!(
                "ReAct adds a `{TRAJECTORY_FIELD}` input; rename the signature's field"
            ))
            .into());
        }
        let mut react_inputs = signature.inputs().to_vec();
        react_inputs.push(Field::new(TRAJECTORY_FIELD, FieldType::Str));
        let mut names: Vec<&str> = toolbox.names();
        names.push(FINISH);
        let react_outputs = vec![
            Field::new("next_thought", FieldType::Str),
            Field::new("next_tool_name", FieldType::literal(names)),
            Field::new("next_tool_args", FieldType::dict(FieldType::Any)),
        ];
        let react_signature = Signature::from_fields(react_inputs.clone(), react_outputs)
            .with_instructions(react_instructions(&signature, &toolbox));
        react_signature.validate()?;
        let extract_signature = Signature::from_fields(react_inputs, signature.outputs().to_vec())
            .with_instructions(signature.instructions());
        extract_signature.validate()?;
        Ok(ReAct {
            react: Predict::new(format!("{name}.react"), react_signature),
            extract: ChainOfThought::new(format!("{name}.extract"), extract_signature)?,
            signature,
            toolbox: Arc::new(toolbox),
            max_iters: DEFAULT_MAX_ITERS,
            max_trajectory_chars: None,
        })
    }

    /// At most `max_iters` tool calls (`finish` included) per episode.
    pub fn with_max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters;
        self
    }

    /// Leaves the oldest steps out of the prompt while the formatted trajectory is longer
    /// than `chars` characters (the latest step always stays).
    pub fn with_max_trajectory_chars(mut self, chars: usize) -> Self {
        self.max_trajectory_chars = Some(chars);
        self
    }

    /// Uses `adapter` for both predictors.
    pub fn with_adapter(mut self, adapter: AdapterKind) -> Self {
        self.react = self.react.with_adapter(adapter);
        self.extract = self.extract.with_adapter(adapter);
        self
    }

    /// The signature the agent answers.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The tools (without `finish`).
    pub fn toolbox(&self) -> &Toolbox {
        &self.toolbox
    }

    /// The bound on tool calls.
    pub fn max_iters(&self) -> usize {
        self.max_iters
    }

    /// The predictor that picks the next tool.
    pub fn react(&self) -> &Predict {
        &self.react
    }

    /// The chain of thought that reads the outputs off the trajectory.
    pub fn extract(&self) -> &ChainOfThought {
        &self.extract
    }

    /// `<name>.react` and `<name>.extract`.
    pub fn predictor_names(&self) -> Vec<&str> {
        vec![self.react.name(), self.extract.predict().name()]
    }

    /// Calls `predict` with the trajectory, leaving out the oldest steps (persistently, via
    /// `shown_from`) while it is over the configured size or the LM says the prompt is too
    /// long.
    async fn call_fitting(
        &self,
        predict: &Predict,
        cx: &RunCx,
        inputs: &Fields,
        steps: &[Step],
        shown_from: &mut usize,
    ) -> Result<Prediction, RunError> {
        loop {
            let mut text = format_trajectory(steps, *shown_from);
            if let Some(max) = self.max_trajectory_chars {
                while text.chars().count() > max && *shown_from + 1 < steps.len() {
                    *shown_from += 1;
                    text = format_trajectory(steps, *shown_from);
                }
            }
            let mut fields = inputs.clone();
            fields.insert(TRAJECTORY_FIELD.to_string(), Value::String(text));
            match predict.call(cx, &fields).await {
                Err(RunError::Lm { source: LmError::ContextTooLong { .. }, .. }) if *shown_from + 1 < steps.len() => {
                    tracing::warn!(
                        predictor = predict.name(),
                        "the trajectory exceeded the context; dropping the oldest step"
                    );
                    *shown_from += 1;
                }
                other => return other,
            }
        }
    }

    /// Runs the tool the predictor chose; every failure is the observation.
    async fn observe(&self, tool_name: &str, tool_args: &Value) -> String {
        let result = if tool_name == FINISH {
            match tool_args {
                Value::Object(args) if !args.is_empty() => {
                    let extra = args.keys().next().map(String::as_str).unwrap_or_default();
                    Err(format!("invalid arguments: Arg {extra} is not in the tool's args."))
                }
                _ => Ok(FINISH_OBSERVATION.to_string()),
            }
        } else {
            self.toolbox.call(tool_name, tool_args).await.map_err(|e| e.to_string())
        };
        result.unwrap_or_else(|reason| format!("Execution error in {tool_name}: {reason}"))
    }
}

impl Module for ReAct {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let base: Fields = inputs.fields().clone();
            let mut steps: Vec<Step> = Vec::new();
            let mut shown_from = 0;
            for _ in 0..self.max_iters {
                let chosen = self.call_fitting(&self.react, cx, &base, &steps, &mut shown_from).await;
                let (thought, tool_name, tool_args) = match chosen {
                    Ok(pred) => {
                        let fields = pred.into_fields();
                        let name = fields.get("next_tool_name").map(py_str).unwrap_or_default();
                        (
                            fields.get("next_thought").cloned().unwrap_or(Value::Null),
                            name,
                            fields.get("next_tool_args").cloned().unwrap_or(Value::Object(Map::new())),
                        )
                    }
                    Err(RunError::Parse { source, .. }) => match unknown_tool(&source) {
                        Some(step) => step,
                        None => {
                            // DSPy ends the episode when the agent fails to pick a valid tool.
                            tracing::warn!(error = %source, "ending the trajectory: the agent's reply cannot be read");
                            break;
                        }
                    },
                    Err(RunError::Lm { source: LmError::ContextTooLong { .. }, .. }) => {
                        tracing::warn!("ending the trajectory: it no longer fits the context");
                        break;
                    }
                    Err(other) => return Err(other),
                };
                let observation = self.observe(&tool_name, &tool_args).await;
                let done = tool_name == FINISH;
                steps.push(Step { thought, tool_name, tool_args, observation });
                if done {
                    break;
                }
            }
            let extracted = self.call_fitting(self.extract.predict(), cx, &base, &steps, &mut shown_from).await?;
            let mut fields = extracted.into_fields();
            fields.insert(TRAJECTORY_FIELD.to_string(), Value::Object(trajectory_object(&steps)));
            Ok(Prediction::new(fields))
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![&self.react, self.extract.predict()]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![&mut self.react, self.extract.predict_mut()]
    }
}

/// A reply whose only problem is a tool name outside the list: the step it describes, so
/// that the agent observes the mistake instead of the episode ending.
fn unknown_tool(error: &ParseError) -> Option<(Value, String, Value)> {
    let [ParseProblem::Invalid { field, found, .. }] = error.problems() else {
        return None;
    };
    if field != "next_tool_name" {
        return None;
    }
    let parsed = error.parsed();
    let thought = parsed.get("next_thought")?.clone();
    let args = parsed.get("next_tool_args")?.clone();
    Some((thought, found.trim().to_string(), args))
}

/// DSPy's instructions for the react predictor, word for word.
fn react_instructions(signature: &Signature, toolbox: &Toolbox) -> String {
    let quote = |names: Vec<&str>| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let inputs = quote(signature.input_names().collect());
    let outputs = quote(signature.output_names().collect());
    let mut instr = Vec::new();
    if !signature.instructions().is_empty() {
        instr.push(format!("{}\n", signature.instructions()));
    }
    instr.extend([
        format!("You are an Agent. In each episode, you will be given the fields {inputs} as input. And you can see your past trajectory so far."),
        format!("Your goal is to use one or more of the supplied tools to collect any necessary information for producing {outputs}.\n"),
        "To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.".to_string(),
        "After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n".to_string(),
        "When writing next_thought, you may reason about the current situation and plan for future steps.".to_string(),
        "When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n".to_string(),
    ]);
    let mut idx = 0;
    for tool in toolbox.tools() {
        idx += 1;
        instr.push(format!("({idx}) {}", describe(tool.name(), tool.description(), &tool.args())));
    }
    let finish_desc = format!("Marks the task as complete. That is, signals that all information for producing the outputs, i.e. {outputs}, are now available to be extracted.");
    instr.push(format!("({}) {}", idx + 1, describe(FINISH, &finish_desc, &Map::new())));
    instr.push("When providing `next_tool_args`, the value inside the field must be in JSON format".to_string());
    instr.join("\n")
}

/// DSPy's trajectory text (the chat adapter's `[[ ## key ## ]]` sections for `thought_i`,
/// `tool_name_i`, `tool_args_i`, `observation_i`), from step `shown_from` on, after a note
/// when earlier steps are left out.
fn format_trajectory(steps: &[Step], shown_from: usize) -> String {
    let mut sections = Vec::new();
    if shown_from > 0 {
        let plural = if shown_from == 1 { "step was" } else { "steps were" };
        sections.push(format!(
            "[[ ## note ## ]]\nThe oldest {shown_from} {plural} removed from the trajectory to fit the context window."
        ));
    }
    for (i, step) in steps.iter().enumerate().skip(shown_from) {
        sections.push(format!("[[ ## thought_{i} ## ]]\n{}", py_str(&step.thought)));
        sections.push(format!("[[ ## tool_name_{i} ## ]]\n{}", step.tool_name));
        sections.push(format!("[[ ## tool_args_{i} ## ]]\n{}", py_str(&step.tool_args)));
        sections.push(format!("[[ ## observation_{i} ## ]]\n{}", step.observation));
    }
    sections.join("\n\n").trim().to_string()
}

/// The whole trajectory as the prediction's `trajectory` object.
fn trajectory_object(steps: &[Step]) -> Map<String, Value> {
    let mut map = Map::new();
    for (i, step) in steps.iter().enumerate() {
        map.insert(format!("thought_{i}"), step.thought.clone());
        map.insert(format!("tool_name_{i}"), Value::String(step.tool_name.clone()));
        map.insert(format!("tool_args_{i}"), step.tool_args.clone());
        map.insert(format!("observation_{i}"), Value::String(step.observation.clone()));
    }
    map
}
