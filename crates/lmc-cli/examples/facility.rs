//! A user's own `lmc` binary: a two-step Rust program (extract the request from a customer
//! email, then classify its urgency) registered by name, so that `evals/facility.toml`
//! (`program = "rust:facility_triage"`) compiles, evaluates and gates like a TOML program.
//!
//! ```text
//! cargo run -p lmc-cli --example facility -- inspect program rust:facility_triage
//! cargo run -p lmc-cli --example facility -- eval evals/facility.toml --lm sim
//! cargo run -p lmc-cli --example facility -- compile evals/facility.toml --lm sim
//! cargo run -p lmc-cli --example facility -- gate evals/facility.toml --lm sim
//! ```

use std::process::ExitCode;

use futures::future::BoxFuture;
use lmc::{Example, Module, Predict, Prediction, RunCx, RunError, Signature};
use lmc_cli::{ProgramRegistry, RegisteredProgram};

/// Extract, then classify. The classifier sees the email as well as the extracted request:
/// the request sharpens the question, the email keeps the details the summary dropped.
pub(crate) struct FacilityTriage {
    extract: Predict,
    classify: Predict,
}

impl FacilityTriage {
    /// The program as written: instructions, no demos (the compiler finds those).
    pub(crate) fn new() -> Result<Self, lmc::SignatureError> {
        let extract = Predict::new("extract", Signature::parse("email -> request")?).with_instructions(
            "Read the customer's email and state, in one sentence, what they are asking the facility team to do.",
        );
        let classify =
            Predict::new("classify", Signature::parse("email, request -> urgency: Literal['low', 'medium', 'high']")?)
                .with_instructions("Classify how urgently the facility team must act on this request.");
        Ok(FacilityTriage { extract, classify })
    }
}

impl Module for FacilityTriage {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let extracted = self.extract.forward(cx, inputs).await?;
            let next = Example::new()
                .with("email", inputs.get("email").cloned().unwrap_or_default())
                .with("request", extracted.get("request").cloned().unwrap_or_default());
            let mut out = self.classify.forward(cx, &next).await?;
            // The pipeline's output carries both steps' fields.
            out.insert("request", extracted.get("request").cloned().unwrap_or_default());
            Ok(out)
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![&self.extract, &self.classify]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![&mut self.extract, &mut self.classify]
    }
}

/// The programs this binary knows: `rust:facility_triage`.
pub(crate) fn registry() -> ProgramRegistry {
    ProgramRegistry::new().with(
        RegisteredProgram::new("facility_triage", ["email"], || {
            FacilityTriage::new().expect("the signatures are valid")
        })
        .with_description("Extract the request from a facility-support email, then classify its urgency."),
    )
}

fn main() -> ExitCode {
    lmc_cli::main_with(registry())
}
