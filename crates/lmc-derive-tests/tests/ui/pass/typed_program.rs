// A typed program end to end, against the renamed `my_lmc` dependency.
use std::sync::Arc;

use my_lmc::typed::{ChainOfThought, Predict};
use my_lmc::{RunCx, ScriptedLm, Signature, TypedSignature};

/// Answer questions with short factoid answers.
#[derive(Signature)]
pub struct QA {
    /// the question to answer
    #[input]
    pub question: String,
    /// often between 1 and 5 words
    #[output]
    pub answer: String,
}

fn main() {
    let lm = Arc::new(ScriptedLm::new().with_default(
        "[[ ## reasoning ## ]]\nKnown fact.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
    ));
    let cx = RunCx::new().with_lm(lm);
    let input = QAInput { question: "Capital of France?".to_string() };

    let cot = ChainOfThought::<QA>::new("qa").expect("no input is called reasoning");
    let out = futures::executor::block_on(cot.call(&cx, &input)).expect("parses");
    assert_eq!(out.answer, "Paris");
    assert_eq!(out.reasoning, "Known fact.");

    let predict = Predict::<QA>::new("plain");
    let out: QAOutput = futures::executor::block_on(predict.call(&cx, &input)).expect("parses");
    assert_eq!(out.answer, "Paris");
    assert_eq!(QA::signature().instructions(), "Answer questions with short factoid answers.");
}
