//! `Parallel`: one module over many inputs, a bounded number at once, every input answered.

use std::panic::AssertUnwindSafe;

use futures::{FutureExt, StreamExt};

use super::{Module, RunCx, RunError};
use crate::data::{Example, Prediction};

/// Why one input of a [`Parallel`] run has no prediction.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ParallelError {
    /// The module returned an error.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The module panicked on this input; the other inputs still ran.
    #[error("the module panicked on input {index}: {message}")]
    Panicked {
        /// The input's position.
        index: usize,
        /// The panic's message, when it had one.
        message: String,
    },
}

/// Runs a module over many inputs with at most `concurrency` in flight: DSPy's `Parallel`.
///
/// Returns one result per input, in input order whatever the completion order. A failing
/// input (an error or a panic) never aborts the batch. Each input runs on a fork of the
/// context (same LM, sampling, rollout and overlay); their calls are then recorded in the
/// context in input order, so its trace and totals cover the whole batch.
///
/// ```
/// use std::sync::Arc;
/// use lmc::module::Parallel;
/// use lmc::{Example, Predict, RunCx, ScriptedLm, Signature};
///
/// let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"));
/// let qa = Predict::new("qa", Signature::parse("question -> answer")?);
/// let inputs = vec![Example::new().with("question", "a"), Example::new(), Example::new().with("question", "c")];
/// let cx = RunCx::new().with_lm(lm);
/// let results = futures::executor::block_on(Parallel::new(2).run(&qa, &cx, &inputs));
/// assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
/// assert_eq!(cx.totals().calls, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallel {
    concurrency: usize,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel { concurrency: 8 }
    }
}

impl Parallel {
    /// At most `concurrency` inputs at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Parallel { concurrency: concurrency.max(1) }
    }

    /// The most inputs in flight.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs `module` on every input; one result per input, in input order.
    pub async fn run(
        &self,
        module: &dyn Module,
        cx: &RunCx,
        inputs: &[Example],
    ) -> Vec<Result<Prediction, ParallelError>> {
        let runs = futures::stream::iter(inputs.iter().enumerate().map(|(index, input)| async move {
            let fork = cx.fork();
            let outcome = AssertUnwindSafe(module.forward(&fork, input)).catch_unwind().await;
            let result = match outcome {
                Ok(result) => result.map_err(ParallelError::from),
                Err(panic) => Err(ParallelError::Panicked { index, message: panic_message(panic.as_ref()) }),
            };
            (result, fork.trace())
        }))
        .buffered(self.concurrency);
        // `buffered` yields in input order, so the calls are recorded in input order.
        runs.map(|(result, trace)| {
            for entry in trace {
                cx.record(entry);
            }
            result
        })
        .collect()
        .await
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}
