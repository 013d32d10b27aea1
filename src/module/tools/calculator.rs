//! `calculator`: evaluates an arithmetic expression (exmex), never code.

use std::time::Duration;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{Tool, ToolError};

/// The longest expression accepted, in characters (a bound on parser work).
const MAX_EXPRESSION_CHARS: usize = 1000;

/// The calculator's arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "crate::schemars")]
struct CalculatorArgs {
    /// An arithmetic expression, e.g. `(3 + 4.5) * 2 ^ 3 / sqrt(16)`.
    expression: String,
}

/// Evaluates arithmetic: `+ - * / ^`, parentheses, and functions such as `sqrt`, `abs`,
/// `ln`, `log10`, `exp`, `sin`, `cos`, `round`, `floor`, `ceil`, with constants `PI` and `E`.
/// The expression is parsed by the `exmex` crate into arithmetic only: there are no
/// variables, assignments or calls out of the evaluator.
///
/// ```
/// use lmc::module::tools::{Calculator, Tool};
///
/// let calc = Calculator::new();
/// let out = futures::executor::block_on(calc.call(serde_json::json!({"expression": "(2 + 3) * 4"})));
/// assert_eq!(out.unwrap(), "20");
/// ```
#[derive(Debug, Clone)]
pub struct Calculator {
    schema: Value,
    timeout: Option<Duration>,
}

impl Default for Calculator {
    fn default() -> Self {
        Calculator::new()
    }
}

impl Calculator {
    /// The calculator, with the default time limit.
    pub fn new() -> Self {
        Calculator { schema: schemars::schema_for!(CalculatorArgs).to_value(), timeout: Some(super::DEFAULT_TIMEOUT) }
    }

    /// Sets the time limit.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Evaluates `expression`: the number, or why it is not arithmetic.
    pub fn evaluate(expression: &str) -> Result<f64, String> {
        if expression.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(format!("the expression is longer than {MAX_EXPRESSION_CHARS} characters"));
        }
        if expression.trim().is_empty() {
            return Err("the expression is empty".to_string());
        }
        // exmex reads `**` as nothing useful; models often write Python's power operator.
        let expression = expression.replace("**", "^");
        let value = exmex::eval_str::<f64>(&expression).map_err(|e| format!("cannot evaluate `{expression}`: {e}"))?;
        if !value.is_finite() {
            return Err(format!("`{expression}` is not a finite number ({value})"));
        }
        Ok(value)
    }
}

impl Tool for Calculator {
    fn name(&self) -> &str {
        "calculator"
    }

    fn description(&self) -> &str {
        "Evaluates an arithmetic expression (+, -, *, /, ^, parentheses, sqrt, abs, ln, log10, exp, round, floor, ceil, PI, E) and returns the number."
    }

    fn args_schema(&self) -> &Value {
        &self.schema
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn call<'a>(&'a self, args: Value) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move {
            let args: CalculatorArgs =
                serde_json::from_value(args).map_err(|e| ToolError::InvalidArgs(e.to_string()))?;
            Calculator::evaluate(&args.expression).map(format_number).map_err(ToolError::Failed)
        })
    }
}

/// Whole numbers without a fraction (`20`, not `20.0`); others as Python prints floats.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        crate::adapter::pyfmt::py_str(&Value::from(x))
    }
}
