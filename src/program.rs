//! Program files: `programs/*.toml`, a named sequence of steps.
//!
//! ```toml
//! name = "triage"
//! description = "Extract the product and issue from a ticket, then classify it."
//!
//! [[step]]
//! name = "extract"
//! module = "predict"                 # predict | chain_of_thought (alias: cot)
//! signature = "ticket -> product, issue"
//!
//! [[step]]
//! name = "classify"
//! module = "chain_of_thought"
//! signature = "product, issue -> category: Literal['billing', 'technical', 'account']"
//! instructions = "Classify the support ticket."
//! [step.desc]
//! category = "the team that should handle it"
//! ```
//!
//! Program inputs are the fields no step produces; a step reads program inputs and the
//! outputs of earlier steps by name. An optional top-level `inputs = [...]` declares the
//! program inputs explicitly, and loading then checks every step against it.
//!
//! # Sampling wrappers: `best_of_n` and `refine`
//!
//! A step may carry one `[step.best_of_n]` or `[step.refine]` table: the step then runs up
//! to `n` times on distinct rollouts and keeps the attempt with the best reward
//! ([`BestOfN`](crate::module::BestOfN)); `refine` also asks an LM for advice after each
//! attempt that falls short and shows it to the next one as a `hint_` input
//! ([`Refine`](crate::module::Refine); `predict` and `chain_of_thought` steps only). The
//! step's module and predictor name stay as written, so compiled artifacts and optimizers
//! see the same predictor (plus `<step>.advice` for `refine`). Every attempt's calls count in
//! the cost: n attempts cost n times one.
//!
//! ```toml
//! [[step]]
//! name = "solve"
//! module = "chain_of_thought"
//! signature = "question -> answer: float"
//! [step.best_of_n]                   # or [step.refine]
//! n = 3                              # attempts, 1..=20
//! threshold = 1.0                    # stop at the first attempt that scores this (default 1.0)
//! reward = { name = "regex", field = "answer", pattern = '^-?\d+(\.\d+)?$' }
//! ```
//!
//! The reward runs while the program runs, when there is no gold answer, so it must be a
//! metric that needs none: `regex` (with `pattern`), `json_valid` or `schema_valid` (with
//! `schema`); `field` defaults to the step's last output. Label-based metrics (`exact_match`,
//! `numeric`, `f1`, `contains`, `judge`) are refused with an error saying why. From Rust, any
//! closure over the inputs and the prediction can be a reward ([`crate::module::reward_fn`]).
//!
//! # Agents: `react`
//!
//! A `react` step is DSPy's [`ReAct`]: the predictor `<step>.react` picks a tool and its
//! arguments until it calls `finish` (or `max_iters`, default 20, runs out), then the chain
//! of thought `<step>.extract` produces the signature's outputs from the trajectory. Its
//! tools are built-in ones, one `[[step.tool]]` table each, with their settings (paths are
//! relative to the program file; see [`ToolSpec`] for every setting):
//!
//! ```toml
//! [[step]]
//! name = "agent"
//! module = "react"
//! signature = "question -> answer"
//! max_iters = 8
//! [[step.tool]]
//! name = "sql"                       # also adds `sql_schema`
//! database = "../datasets/shop/shop.db"
//! [[step.tool]]
//! name = "calculator"
//! [[step.tool]]
//! name = "retrieve"
//! corpus = "../datasets/docs.jsonl"  # or a folder of .txt files
//! k = 3
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::adapter::AdapterKind;
use crate::data::{Example, Fields, Prediction};
use crate::module::tools::{builtin_tools, ToolSpec};
use crate::module::ReAct;
use crate::module::{wrap_step, ChainOfThought, Module, Predict, RunCx, RunError, WrapperSpec};
use crate::signature::{Signature, SignatureError};

/// The module kinds a program step can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    /// [`Predict`].
    Predict,
    /// [`ChainOfThought`] (also spelled `cot`).
    #[serde(alias = "cot")]
    ChainOfThought,
    /// [`ReAct`]: a tool-using agent.
    React,
}

impl ModuleKind {
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleKind::Predict => "predict",
            ModuleKind::ChainOfThought => "chain_of_thought",
            ModuleKind::React => "react",
        }
    }

    /// The signature the step's predictor uses: the one written, plus `reasoning` for a chain
    /// of thought.
    pub fn predictor_signature(self, written: Signature) -> Result<Signature, SignatureError> {
        match self {
            ModuleKind::Predict | ModuleKind::React => Ok(written),
            ModuleKind::ChainOfThought => written.with_reasoning(),
        }
    }

    /// Builds the module for a step. Fails when a chain of thought's signature has an input
    /// called `reasoning`.
    pub fn build(
        self,
        name: &str,
        signature: Signature,
        adapter: AdapterKind,
    ) -> Result<Box<dyn Module>, SignatureError> {
        Ok(match self {
            ModuleKind::Predict => Box::new(Predict::new(name, signature).with_adapter(adapter)),
            ModuleKind::ChainOfThought => Box::new(ChainOfThought::new(name, signature)?.with_adapter(adapter)),
            // Without tools: a program file's tools come from its `[[step.tool]]` tables.
            ModuleKind::React => Box::new(
                ReAct::new(name, signature, Vec::new())
                    .map_err(|e| SignatureError::invalid(e.to_string()))?
                    .with_adapter(adapter),
            ),
        })
    }
}

impl fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModuleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "predict" => Ok(ModuleKind::Predict),
            "chain_of_thought" | "cot" => Ok(ModuleKind::ChainOfThought),
            "react" => Ok(ModuleKind::React),
            other => {
                Err(format!("unknown module `{other}`; expected `predict`, `chain_of_thought` (`cot`) or `react`"))
            }
        }
    }
}

/// A program file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// The program's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Declared program inputs (optional; inferred when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// The adapter for every step that does not name its own (default `chat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterKind>,
    /// The steps, in order.
    #[serde(rename = "step", default)]
    pub steps: Vec<StepSpec>,
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step's name: also the name of its predictor.
    pub name: String,
    /// `predict`, `chain_of_thought` or `react`.
    pub module: String,
    /// A DSPy string signature.
    pub signature: String,
    /// Instructions (DSPy's defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Field descriptions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub desc: BTreeMap<String, String>,
    /// This step's adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterKind>,
    /// This step's own LM (`provider/model`), overriding the run's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm: Option<String>,
    /// `[[step.tool]]`: a `react` step's built-in tools and their settings.
    #[serde(rename = "tool", default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// A `react` step's bound on tool calls (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iters: Option<usize>,
    /// `[step.best_of_n]`: run the step up to n times and keep the best by a reward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of_n: Option<WrapperSpec>,
    /// `[step.refine]`: like `best_of_n`, with advice between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refine: Option<WrapperSpec>,
}

/// A program file that cannot be loaded, with the place that needs fixing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramError {
    /// The file, when loaded from one.
    pub path: Option<PathBuf>,
    /// The step, when the problem is in one.
    pub step: Option<String>,
    /// The field, when the problem is about one.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ProgramError {
    fn new(step: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Self {
        ProgramError {
            path: None,
            step: step.map(str::to_string),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    fn in_file(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(path) = &self.path {
            place.push(path.display().to_string());
        }
        if let Some(step) = &self.step {
            place.push(format!("step `{step}`"));
        }
        if let Some(field) = &self.field {
            place.push(format!("field `{field}`"));
        }
        if place.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", place.join(", "), self.message)
        }
    }
}

impl std::error::Error for ProgramError {}

/// One step of a loaded program.
pub struct Step {
    name: String,
    kind: ModuleKind,
    lm: Option<String>,
    signature: Signature,
    module: Box<dyn Module>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("signature", &self.signature.field_summary())
            .finish_non_exhaustive()
    }
}

impl Step {
    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its module kind.
    pub fn kind(&self) -> ModuleKind {
        self.kind
    }

    /// The step's own LM (`provider/model`), when the file gives one.
    pub fn lm(&self) -> Option<&str> {
        self.lm.as_deref()
    }

    /// The step's predictor signature as loaded (with the `reasoning` a chain of thought adds).
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The module.
    pub fn module(&self) -> &dyn Module {
        self.module.as_ref()
    }
}

/// A loaded, validated program: steps run in order, each reading program inputs and earlier
/// outputs.
///
/// ```
/// use lmc::Program;
///
/// let program = Program::from_toml_str(r#"
/// name = "qa"
/// [[step]]
/// name = "answer"
/// module = "cot"
/// signature = "question -> answer"
/// "#)?;
/// assert_eq!(program.inputs(), ["question"]);
/// assert_eq!(program.predictor_names(), ["answer"]);
/// # Ok::<(), lmc::ProgramError>(())
/// ```
#[derive(Debug)]
pub struct Program {
    name: String,
    description: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    steps: Vec<Step>,
}

impl Program {
    /// Loads and validates a program file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ProgramError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProgramError::new(None, None, format!("cannot read the program file: {e}")).in_file(path))?;
        Self::from_toml_str_in(&text, path.parent()).map_err(|e| e.in_file(path))
    }

    /// Parses and validates a program from TOML text (tool paths relative to the working
    /// directory).
    pub fn from_toml_str(text: &str) -> Result<Self, ProgramError> {
        Self::from_toml_str_in(text, None)
    }

    /// Parses and validates a program from TOML text, with relative paths in tool settings
    /// resolved against `base` (the program file's folder).
    pub fn from_toml_str_in(text: &str, base: Option<&Path>) -> Result<Self, ProgramError> {
        let spec: ProgramSpec = toml::from_str(text).map_err(|e| {
            ProgramError::new(None, None, format!("invalid program file: {}", e.to_string().trim_end()))
        })?;
        Self::from_spec_in(spec, base)
    }

    /// Builds and validates a program from its spec.
    pub fn from_spec(spec: ProgramSpec) -> Result<Self, ProgramError> {
        Self::from_spec_in(spec, None)
    }

    /// Builds and validates a program from its spec, with relative paths in tool settings
    /// resolved against `base`.
    pub fn from_spec_in(spec: ProgramSpec, base: Option<&Path>) -> Result<Self, ProgramError> {
        if spec.steps.is_empty() {
            return Err(ProgramError::new(None, None, "the program has no steps; add at least one [[step]]"));
        }
        let mut steps = Vec::with_capacity(spec.steps.len());
        let mut seen_steps: HashMap<&str, usize> = HashMap::new();
        // Which step produces each field, to find reads of later outputs and double writers.
        let mut producer: HashMap<String, String> = HashMap::new();
        for s in &spec.steps {
            if seen_steps.insert(&s.name, steps.len()).is_some() {
                return Err(ProgramError::new(
                    Some(&s.name),
                    None,
                    "two steps have this name; step names must be unique",
                ));
            }
            if !crate::signature::is_identifier(&s.name) {
                return Err(ProgramError::new(
                    Some(&s.name),
                    None,
                    "step names are identifiers (letters, digits, `_`)",
                ));
            }
            let kind: ModuleKind = s.module.parse().map_err(|e: String| ProgramError::new(Some(&s.name), None, e))?;
            let written = Signature::parse(&s.signature)
                .map_err(|e| ProgramError::new(Some(&s.name), None, format!("invalid signature: {e}")))?;
            // The producer rule covers the outputs as written; the `reasoning` a chain of
            // thought adds is each step's own (later steps may still read the latest one).
            for out in written.output_names() {
                if let Some(other) = producer.insert(out.to_string(), s.name.clone()) {
                    return Err(ProgramError::new(
                        Some(&s.name),
                        Some(out),
                        format!("step `{other}` already produces this field; each field has one producer"),
                    ));
                }
            }
            // Descriptions and instructions apply to the predictor's signature, so that a chain
            // of thought's `reasoning` can be described too.
            let mut signature = kind.predictor_signature(written).map_err(|e| {
                ProgramError::new(Some(&s.name), None, format!("cannot be a {}: {}", kind.as_str(), e.message()))
            })?;
            if let Some(instructions) = &s.instructions {
                signature = signature.with_instructions(instructions.clone());
            }
            for (field, desc) in &s.desc {
                if signature.field(field).is_none() {
                    let known: Vec<&str> = signature.fields().map(|f| f.name.as_str()).collect();
                    return Err(ProgramError::new(
                        Some(&s.name),
                        Some(field),
                        format!("[step.desc] names a field the signature does not have; it has {}", known.join(", ")),
                    ));
                }
                signature = signature
                    .with_description(field, desc.clone())
                    .map_err(|e| ProgramError::new(Some(&s.name), Some(field), e.to_string()))?;
            }
            let adapter = s.adapter.or(spec.adapter).unwrap_or_default();
            let module = if kind == ModuleKind::React {
                build_react(s, signature.clone(), adapter, base)?
            } else if !s.tools.is_empty() || s.max_iters.is_some() {
                return Err(ProgramError::new(
                    Some(&s.name),
                    None,
                    "`[[step.tool]]` and `max_iters` apply to `react` steps only",
                ));
            } else {
                kind.build(&s.name, signature.clone(), adapter)
                    .map_err(|e| ProgramError::new(Some(&s.name), None, e.message().to_string()))?
            };
            let module =
                wrap_step(s.best_of_n.as_ref(), s.refine.as_ref(), kind.as_str(), &s.name, &signature, adapter, module)
                    .map_err(|e| ProgramError::new(Some(&s.name), e.field.as_deref(), e.message))?;
            steps.push(Step { name: s.name.clone(), kind, lm: s.lm.clone(), signature, module });
        }

        // Every input must be a program input or an output of an earlier step.
        if let Some(declared) = &spec.inputs {
            if let Some(name) = declared.iter().find(|n| producer.contains_key(n.as_str())) {
                return Err(ProgramError::new(None, Some(name), "declared as a program input but produced by a step"));
            }
        }
        let mut inferred: Vec<String> = Vec::new();
        let mut available: HashSet<String> = spec.inputs.iter().flatten().cloned().collect();
        for (i, step) in steps.iter().enumerate() {
            for input in step.signature.input_names() {
                if available.contains(input) {
                    continue;
                }
                if let Some(later) = producer.get(input) {
                    let message = if seen_steps[later.as_str()] == i {
                        "a step cannot read its own output".to_string()
                    } else {
                        format!("this input is produced by step `{later}`, which runs later; move `{later}` before this step")
                    };
                    return Err(ProgramError::new(Some(&step.name), Some(input), message));
                }
                if let Some(declared) = &spec.inputs {
                    return Err(ProgramError::new(
                        Some(&step.name),
                        Some(input),
                        format!(
                            "this input is neither a declared program input ({}) nor an output of an earlier step",
                            declared.join(", ")
                        ),
                    ));
                }
                inferred.push(input.to_string());
                available.insert(input.to_string());
            }
            available.extend(step.signature.output_names().map(str::to_string));
        }
        let inputs = spec.inputs.clone().unwrap_or(inferred);
        let mut outputs: Vec<String> = Vec::new();
        for name in steps.iter().flat_map(|s| s.signature.output_names()) {
            if !outputs.iter().any(|o| o == name) {
                outputs.push(name.to_string());
            }
        }
        Ok(Program { name: spec.name, description: spec.description, inputs, outputs, steps })
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The program inputs, in first-use order (or as declared).
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Every field the steps produce, in order (including `reasoning` of chains of thought).
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The names of the leaf predictors, in order.
    pub fn predictor_names(&self) -> Vec<&str> {
        self.predictors().into_iter().map(Predict::name).collect()
    }
}

impl Module for Program {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let mut state: Fields = inputs.fields().clone();
            let mut produced = Fields::new();
            for step in &self.steps {
                let step_inputs: Fields = step
                    .signature
                    .input_names()
                    .filter_map(|n| state.get_key_value(n))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let keys: Vec<String> = step_inputs.keys().cloned().collect();
                let step_example = Example::from_fields(step_inputs).with_inputs(keys);
                let prediction = step.module.forward(cx, &step_example).await.map_err(|e| match e {
                    RunError::MissingInput { predictor, field, .. } => RunError::MissingInput {
                        predictor,
                        field,
                        present: inputs.fields().keys().map(String::as_str).collect::<Vec<_>>().join(", "),
                    },
                    other => other,
                })?;
                for (k, v) in prediction.into_fields() {
                    state.insert(k.clone(), v.clone());
                    produced.insert(k, v);
                }
            }
            Ok(Prediction::new(produced))
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        self.steps.iter().flat_map(|s| s.module.predictors()).collect()
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        self.steps.iter_mut().flat_map(|s| s.module.predictors_mut()).collect()
    }
}

/// A `react` step: its built-in tools from the `[[step.tool]]` tables, and its bound.
fn build_react(
    s: &StepSpec,
    signature: Signature,
    adapter: AdapterKind,
    base: Option<&Path>,
) -> Result<Box<dyn Module>, ProgramError> {
    let mut tools = Vec::new();
    for spec in &s.tools {
        let built = builtin_tools(spec, base).map_err(|e| ProgramError::new(Some(&s.name), None, e))?;
        tools.extend(built);
    }
    let mut react = ReAct::new(&s.name, signature, tools)
        .map_err(|e| ProgramError::new(Some(&s.name), None, e.to_string()))?
        .with_adapter(adapter);
    if let Some(max_iters) = s.max_iters {
        if max_iters == 0 {
            return Err(ProgramError::new(Some(&s.name), None, "`max_iters` must be at least 1"));
        }
        react = react.with_max_iters(max_iters);
    }
    Ok(Box::new(react))
}
