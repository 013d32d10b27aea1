//! Tools an agent ([`ReAct`](super::ReAct)) can call: the [`Tool`] trait, typed tools from async
//! Rust functions ([`tool_fn`]), the [`Toolbox`] that validates arguments and turns every
//! failure into an observation, and the built-in tools.
//!
//! Built in: [`Calculator`] (arithmetic, no code execution), [`Retrieve`] (BM25 top-k over a
//! local corpus), [`Sql`] and [`SqlSchema`] (a SQLite database, read-only). Program files name
//! them in `[[step.tool]]` tables (see [`builtin_tools`]).
//!
//! ```
//! use lmc::module::tools::{tool_fn, Tool, Toolbox};
//! use lmc::schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! /// The arguments of `add`.
//! #[derive(Deserialize, JsonSchema)]
//! #[schemars(crate = "lmc::schemars")]
//! struct AddArgs {
//!     a: i64,
//!     b: i64,
//! }
//!
//! let add = tool_fn("add", "Adds two integers.", |args: AddArgs| async move { Ok::<_, String>(args.a + args.b) });
//! assert_eq!(add.args()["a"]["type"], "integer");
//!
//! let toolbox = Toolbox::new(vec![std::sync::Arc::new(add)])?;
//! let sum = futures::executor::block_on(toolbox.call("add", &serde_json::json!({"a": 2, "b": 3})));
//! assert_eq!(sum.unwrap(), "5");
//! // Arguments are checked against the schema before the call.
//! let bad = futures::executor::block_on(toolbox.call("add", &serde_json::json!({"a": "two", "b": 3})));
//! assert!(bad.unwrap_err().to_string().starts_with("invalid arguments"));
//! # Ok::<(), lmc::module::tools::ToolboxError>(())
//! ```

mod builtin;
mod calculator;
mod retrieve;
mod sql;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use builtin::{builtin_tools, ToolSpec, BUILTIN_TOOLS};
pub use calculator::Calculator;
pub use retrieve::{Retrieve, RetrieveError};
pub use sql::{Sql, SqlError, SqlSchema};

use crate::metric::SchemaValid;

/// How long a tool may run when it does not say: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a tool call produced no result. The agent sees the message as its observation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments do not fit the tool's schema (or its argument type).
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The tool ran and failed.
    #[error("{0}")]
    Failed(String),
    /// The tool did not finish in time.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The tool panicked.
    #[error("the tool panicked: {0}")]
    Panicked(String),
    /// No tool has this name.
    #[error("no tool named `{name}`; the tools are: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The tools there are, comma-separated.
        known: String,
    },
}

/// Something an agent can call: a name, a description, a JSON Schema for its arguments, and
/// an async call whose result is text (the observation).
///
/// Implement it directly for full control, or build one from an async function with
/// [`tool_fn`]. Object-safe: agents hold `Arc<dyn Tool>`.
pub trait Tool: Send + Sync {
    /// The name the model uses to call it.
    fn name(&self) -> &str;

    /// What it does, shown to the model.
    fn description(&self) -> &str;

    /// The JSON Schema of the arguments: an object schema (`properties`, `required`, ...).
    fn args_schema(&self) -> &Value;

    /// How long a call may take; `None`: no limit. Enforced by [`Toolbox::call`] when a Tokio
    /// runtime is running.
    fn timeout(&self) -> Option<Duration> {
        Some(DEFAULT_TIMEOUT)
    }

    /// Runs the tool on arguments that fit [`Tool::args_schema`] and renders the result as
    /// text.
    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>>;

    /// The arguments as DSPy lists them: each argument's schema by name (the schema's
    /// `properties`).
    fn args(&self) -> Map<String, Value> {
        match self.args_schema().get("properties") {
            Some(Value::Object(properties)) => properties.clone(),
            _ => Map::new(),
        }
    }
}

/// A tool's result, rendered as the text the model observes: `Ok(text)` or `Err(reason)`.
///
/// Implemented for text, numbers, booleans, JSON values and lists of strings, and for
/// `Result<T, E>` of any of them with a displayable error.
pub trait ToolOutput {
    /// The observation text, or why the tool failed.
    fn render(self) -> Result<String, String>;
}

macro_rules! display_output {
    ($($t:ty),*) => {$(
        impl ToolOutput for $t {
            fn render(self) -> Result<String, String> {
                Ok(self.to_string())
            }
        }
    )*};
}

display_output!(String, &str, i64, i32, u64, u32, usize, bool);

impl ToolOutput for f64 {
    fn render(self) -> Result<String, String> {
        Ok(crate::adapter::pyfmt::py_str(&Value::from(self)))
    }
}

impl ToolOutput for Value {
    fn render(self) -> Result<String, String> {
        Ok(crate::adapter::pyfmt::py_str(&self))
    }
}

impl ToolOutput for Vec<String> {
    fn render(self) -> Result<String, String> {
        Ok(self.join("\n"))
    }
}

impl<T: ToolOutput, E: fmt::Display> ToolOutput for Result<T, E> {
    fn render(self) -> Result<String, String> {
        self.map_err(|e| e.to_string()).and_then(ToolOutput::render)
    }
}

/// A tool made from an async function of a typed argument struct; see [`tool_fn`].
pub struct FnTool<A, F> {
    name: String,
    description: String,
    schema: Value,
    timeout: Option<Duration>,
    f: F,
    args: PhantomData<fn(A)>,
}

impl<A, F> fmt::Debug for FnTool<A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTool").field("name", &self.name).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl<A, F> FnTool<A, F> {
    /// Sets the time limit (`None`: no limit).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Turns an async function of a `#[derive(Deserialize, JsonSchema)]` argument struct into a
/// [`Tool`]. The schema comes from the struct; the result is anything [`ToolOutput`] renders
/// (typically `Result<T, E>`). The default time limit is [`DEFAULT_TIMEOUT`].
pub fn tool_fn<A, F, Fut>(name: impl Into<String>, description: impl Into<String>, f: F) -> FnTool<A, F>
where
    A: DeserializeOwned + JsonSchema,
    F: Fn(A) -> Fut,
{
    let schema = schemars::schema_for!(A).to_value();
    FnTool {
        name: name.into(),
        description: description.into(),
        schema,
        timeout: Some(DEFAULT_TIMEOUT),
        f,
        args: PhantomData,
    }
}

impl<A, F, Fut> Tool for FnTool<A, F>
where
    A: DeserializeOwned + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync,
    Fut: Future + Send,
    Fut::Output: ToolOutput,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn args_schema(&self) -> &Value {
        &self.schema
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let args: A = serde_json::from_value(args).map_err(|e| ToolError::InvalidArgs(e.to_string()))?;
            (self.f)(args).await.render().map_err(ToolError::Failed)
        })
    }
}

/// Why a set of tools cannot be used together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolboxError {
    /// Two tools share a name.
    #[error("two tools are called `{0}`; tool names must be unique")]
    Duplicate(String),
    /// A tool uses the name ReAct reserves for ending the episode.
    #[error("`finish` is reserved: ReAct adds its own finish tool")]
    ReservedName,
    /// A tool has an empty name or one with whitespace.
    #[error("tool name `{0}` is empty or contains whitespace")]
    BadName(String),
}

struct Entry {
    tool: Arc<dyn Tool>,
    /// The argument checker, when the schema is within what lmc checks.
    validator: Option<SchemaValid>,
    /// The argument names, unless the schema admits others.
    closed_args: Option<HashSet<String>>,
}

/// Tools by name, with their argument checks: what an agent calls through. Every failure
/// (unknown tool, arguments that do not fit, the tool's own error, a timeout, a panic) comes
/// back as a [`ToolError`], never a crash.
pub struct Toolbox {
    entries: Vec<Entry>,
}

impl fmt::Debug for Toolbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| e.tool.name())).finish()
    }
}

impl Toolbox {
    /// The tools, in order. Names must be unique, non-empty, without whitespace, and not
    /// `finish`.
    pub fn new(tools: Vec<Arc<dyn Tool>>) -> Result<Self, ToolboxError> {
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(tools.len());
        for tool in tools {
            let name = tool.name();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ToolboxError::BadName(name.to_string()));
            }
            if name == "finish" {
                return Err(ToolboxError::ReservedName);
            }
            if !seen.insert(name.to_string()) {
                return Err(ToolboxError::Duplicate(name.to_string()));
            }
            let schema = tool.args_schema();
            // A schema outside the checked subset is left to the tool's own parsing.
            let validator = SchemaValid::new("args", schema.clone()).ok();
            let open = matches!(schema.get("additionalProperties"), Some(Value::Bool(true) | Value::Object(_)));
            let closed_args = (!open).then(|| tool.args().keys().cloned().collect());
            entries.push(Entry { tool, validator, closed_args });
        }
        Ok(Toolbox { entries })
    }

    /// The tools, in order.
    pub fn tools(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.entries.iter().map(|e| &e.tool)
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.entries.iter().find(|e| e.tool.name() == name).map(|e| &e.tool)
    }

    /// The tool names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.tool.name()).collect()
    }

    /// Checks `args` and calls the tool called `name` within its time limit.
    pub async fn call(&self, name: &str, args: &Value) -> Result<String, ToolError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.tool.name() == name)
            .ok_or_else(|| ToolError::Unknown { name: name.to_string(), known: self.names().join(", ") })?;
        check_args(entry, args)?;
        // A tool may panic while building its future, before the future is polled.
        let future = std::panic::catch_unwind(AssertUnwindSafe(|| entry.tool.call(args.clone())))
            .map_err(|panic| ToolError::Panicked(panic_message(panic.as_ref())))?;
        let call = AssertUnwindSafe(future).catch_unwind();
        let outcome = match entry.tool.timeout() {
            Some(limit) if tokio::runtime::Handle::try_current().is_ok() => {
                tokio::time::timeout(limit, call).await.map_err(|_| ToolError::Timeout(limit))?
            }
            _ => call.await,
        };
        outcome.unwrap_or_else(|panic| Err(ToolError::Panicked(panic_message(panic.as_ref()))))
    }
}

/// The argument checks DSPy's `Tool` makes: a JSON object, no argument the tool does not
/// take, and every value fitting its schema.
fn check_args(entry: &Entry, args: &Value) -> Result<(), ToolError> {
    let Value::Object(map) = args else {
        return Err(ToolError::InvalidArgs(format!("the arguments must be a JSON object, not {args}")));
    };
    if let Some(known) = &entry.closed_args {
        if let Some(extra) = map.keys().find(|k| !known.contains(*k)) {
            return Err(ToolError::InvalidArgs(format!("Arg {extra} is not in the tool's args.")));
        }
    }
    if let Some(validator) = &entry.validator {
        let violations = validator.violations(args);
        if !violations.is_empty() {
            return Err(ToolError::InvalidArgs(violations.join("; ")));
        }
    }
    Ok(())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// DSPy's `str(tool)`, as ReAct lists tools in its instructions:
/// `name, whose description is <desc>...</desc>. It takes arguments {...}.`
pub fn describe(name: &str, description: &str, args: &Map<String, Value>) -> String {
    let desc = if description.is_empty() {
        ".".to_string()
    } else {
        format!(", whose description is <desc>{description}</desc>.").replace('\n', "  ")
    };
    let args = crate::adapter::pyfmt::py_repr(&Value::Object(args.clone()));
    format!("{name}{desc} It takes arguments {args}.")
}
