use std::path::PathBuf;

use lmc::{Example, Fields, Signature};
use serde_json::Value;

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A JSON object literal as `Fields`.
pub(crate) fn fields(value: Value) -> Fields {
    match value {
        Value::Object(map) => map,
        other => panic!("expected an object, got {other}"),
    }
}

/// A signature built the way the parity generator builds DSPy's.
pub(crate) fn parity_signature(case: &Value) -> Signature {
    let mut sig = Signature::parse(case["signature"].as_str().unwrap()).unwrap();
    if let Some(instructions) = case["instructions"].as_str() {
        sig = sig.with_instructions(instructions);
    }
    for (name, desc) in case["field_descriptions"].as_object().unwrap() {
        sig = sig.with_description(name, desc.as_str().unwrap()).unwrap();
    }
    if case["module"] == "ChainOfThought" {
        sig = sig.with_reasoning().unwrap();
    }
    sig
}

/// The demos of a parity case.
pub(crate) fn parity_demos(case: &Value) -> Vec<Example> {
    case["demos"].as_array().unwrap().iter().map(|d| Example::from_json(d.clone()).unwrap()).collect()
}

/// The one-predictor question/answer program optimizer tests compile: `qa`, `question ->
/// answer`, with `instructions`.
pub(crate) fn qa_program(instructions: &str) -> std::sync::Arc<dyn lmc::Module> {
    let sig = Signature::parse("question -> answer").unwrap().with_instructions(instructions);
    std::sync::Arc::new(lmc::Predict::new("qa", sig))
}

/// `n` question/answer examples: `Qnn` → `Ann`.
pub(crate) fn qa_examples(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new()
                .with("question", format!("Q{i:02}"))
                .with("answer", format!("A{i:02}"))
                .with_inputs(["question"])
        })
        .collect()
}

/// The text of a request's last user message.
pub(crate) fn user_text(request: &lmc::LmRequest) -> &str {
    request.messages.iter().rev().find(|m| m.role == lmc::Role::User).map_or("", |m| m.content.as_str())
}

/// The text of a request's system message.
pub(crate) fn system_text(request: &lmc::LmRequest) -> &str {
    request.messages.iter().find(|m| m.role == lmc::Role::System).map_or("", |m| m.content.as_str())
}

/// A scripted LM whose replies cost what `price` says for their usage (ScriptedLm's replies
/// have no price of their own).
pub(crate) struct Priced {
    lm: std::sync::Arc<lmc::ScriptedLm>,
    price: fn(&lmc::lm::Usage) -> f64,
}

impl Priced {
    /// `lm`, each reply priced by `price`.
    pub(crate) fn new(lm: std::sync::Arc<lmc::ScriptedLm>, price: fn(&lmc::lm::Usage) -> f64) -> Self {
        Priced { lm, price }
    }
}

impl std::fmt::Debug for Priced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Priced").field(&self.lm).finish()
    }
}

impl lmc::Lm for Priced {
    fn identity(&self) -> lmc::LmIdentity {
        self.lm.identity()
    }

    fn complete<'a>(
        &'a self,
        request: &'a lmc::LmRequest,
    ) -> futures::future::BoxFuture<'a, Result<lmc::LmResponse, lmc::LmError>> {
        Box::pin(async move {
            let mut response = self.lm.complete(request).await?;
            response.cost_usd = Some((self.price)(&response.usage));
            Ok(response)
        })
    }
}
