use std::sync::Arc;

use futures::future::BoxFuture;
use lmc::{
    AdapterKind, ChainOfThought, Example, Lm, LmError, Module, Overlay, Predict, Prediction, PredictorOverlay, RunCx,
    RunError, Sampling, ScriptedLm, Signature,
};
use serde_json::json;

fn sig(text: &str) -> Signature {
    Signature::parse(text).unwrap()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

#[test]
fn predict_sends_the_adapter_prompt_and_parses_typed_outputs() {
    let lm = Arc::new(
        ScriptedLm::new().with_default("[[ ## answer ## ]]\n42\n\n[[ ## ok ## ]]\nTrue\n\n[[ ## completed ## ]]"),
    );
    let predict = Predict::new("solve", sig("question -> answer: int, ok: bool"));
    let cx = RunCx::new().with_lm(lm.clone());
    let inputs = Example::new().with("question", "6*7?");
    let out = block_on(predict.forward(&cx, &inputs)).unwrap();
    assert_eq!(out.get_as::<i64>("answer").unwrap(), 42);
    assert!(out.get_as::<bool>("ok").unwrap());

    let sent = &lm.requests()[0];
    let expected = predict.render(None, inputs.fields());
    assert_eq!(sent.messages, expected.messages);
    assert_eq!(sent.rollout, 0);
    assert_eq!(sent.response_format, None);
}

#[test]
fn json_adapter_requests_carry_the_response_format() {
    let lm = Arc::new(ScriptedLm::new().with_default(r#"{"answer": 3}"#));
    let predict = Predict::new("p", sig("q -> answer: int")).with_adapter(AdapterKind::Json);
    let out = block_on(predict.forward(&RunCx::new().with_lm(lm.clone()), &Example::new().with("q", "x"))).unwrap();
    assert_eq!(out.get("answer"), Some(&json!(3)));
    assert!(lm.requests()[0].response_format.is_some());
}

#[test]
fn chain_of_thought_returns_reasoning_first() {
    let lm = Arc::new(ScriptedLm::new().with_default(
        "[[ ## reasoning ## ]]\nParis is the capital.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
    ));
    let cot = ChainOfThought::new("qa", sig("question -> answer")).unwrap();
    let out = block_on(cot.forward(&RunCx::new().with_lm(lm), &Example::new().with("question", "Capital of France?")))
        .unwrap();
    assert_eq!(out.fields().keys().collect::<Vec<_>>(), ["reasoning", "answer"]);
    assert_eq!(out.get_as::<String>("reasoning").unwrap(), "Paris is the capital.");
}

#[test]
fn sampling_merges_predictor_over_run_defaults() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## a ## ]]\nx"));
    let predict =
        Predict::new("p", sig("q -> a")).with_sampling(Sampling { temperature: Some(0.7), ..Sampling::default() });
    let cx = RunCx::new().with_lm(lm.clone()).with_sampling(Sampling {
        temperature: Some(0.0),
        max_tokens: Some(256),
        ..Sampling::default()
    });
    block_on(predict.forward(&cx, &Example::new().with("q", "?"))).unwrap();
    let sent = &lm.requests()[0].sampling;
    assert_eq!(sent.temperature, Some(0.7));
    assert_eq!(sent.max_tokens, Some(256));
    assert_eq!(sent.n, None, "nothing is sent that nobody asked for");
}

#[test]
fn a_predictor_lm_overrides_the_run_default() {
    let default_lm = Arc::new(ScriptedLm::new().with_default("[[ ## a ## ]]\ndefault"));
    let own_lm = Arc::new(ScriptedLm::new().with_model("strong").with_default("[[ ## a ## ]]\nown"));
    let predict = Predict::new("p", sig("q -> a")).with_lm(own_lm);
    let cx = RunCx::new().with_lm(default_lm.clone());
    let out = block_on(predict.forward(&cx, &Example::new().with("q", "?"))).unwrap();
    assert_eq!(out.get_as::<String>("a").unwrap(), "own");
    assert_eq!(default_lm.requests().len(), 0);
    assert_eq!(cx.trace()[0].lm.model, "strong");
}

#[test]
fn several_completions_are_all_parsed() {
    let lm = Arc::new(ScriptedLm::new().with_reply("[[ ## a ## ]]\n1").with_reply("[[ ## a ## ]]\n2"));
    let predict = Predict::new("p", sig("q -> a: int")).with_sampling(Sampling { n: Some(2), ..Sampling::default() });
    let out = block_on(predict.forward(&RunCx::new().with_lm(lm), &Example::new().with("q", "?"))).unwrap();
    assert_eq!(out.get("a"), Some(&json!(1)));
    assert_eq!(out.completions().len(), 2);
    assert_eq!(out.completions()[1]["a"], json!(2));
}

#[test]
fn completions_that_fail_to_parse_are_noted_in_the_trace() {
    let lm = Arc::new(
        ScriptedLm::new().with_reply("[[ ## a ## ]]\nx").with_reply("[[ ## a ## ]]\n5").with_reply("[[ ## a ## ]]\n6"),
    );
    let predict = Predict::new("p", sig("q -> a: int")).with_sampling(Sampling { n: Some(3), ..Sampling::default() });
    let cx = RunCx::new().with_lm(lm);
    let out = block_on(predict.forward(&cx, &Example::new().with("q", "?"))).unwrap();
    assert_eq!(out.get("a"), Some(&json!(5)));
    assert_eq!(out.completions().len(), 2);
    let rejected = &cx.trace()[0].rejected_completions;
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].starts_with("completion 0:") && rejected[0].contains("expected an integer"), "{rejected:?}");
}

#[test]
fn the_run_rollout_is_sent_and_traced() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## a ## ]]\nx"));
    let cx = RunCx::new().with_lm(lm.clone()).with_rollout(3);
    block_on(Predict::new("p", sig("q -> a")).forward(&cx, &Example::new().with("q", "?"))).unwrap();
    assert_eq!(lm.requests()[0].rollout, 3);
    assert_eq!(cx.trace()[0].request.rollout, 3);
    assert_eq!(cx.fork().rollout(), 3);
}

#[test]
fn trace_and_usage_record_every_call() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## a ## ]]\nfine"));
    let predict = Predict::new("p", sig("q -> a"));
    let cx = RunCx::new().with_lm(lm);
    block_on(predict.forward(&cx, &Example::new().with("q", "one"))).unwrap();
    block_on(predict.forward(&cx, &Example::new().with("q", "two"))).unwrap();
    let trace = cx.trace();
    assert_eq!(trace.len(), 2);
    assert_eq!(trace[1].inputs["q"], "two");
    assert_eq!(trace[1].completions, ["[[ ## a ## ]]\nfine"]);
    assert_eq!(trace[1].outputs.as_ref().unwrap()["a"], "fine");
    let usage = cx.usage();
    assert_eq!(usage.input_tokens, trace[0].usage.input_tokens + trace[1].usage.input_tokens);
    assert!(usage.output_tokens > 0);

    let fork = cx.fork();
    assert!(fork.trace().is_empty());
    assert_eq!(fork.usage().total_tokens(), 0);
}

#[test]
fn a_parse_failure_keeps_the_raw_reply_and_the_usage() {
    let lm = Arc::new(ScriptedLm::new().with_default("I think the answer is four."));
    let predict = Predict::new("p", sig("q -> a: int"));
    let cx = RunCx::new().with_lm(lm);
    let err = block_on(predict.forward(&cx, &Example::new().with("q", "?"))).unwrap_err();
    match &err {
        RunError::Parse { predictor, source, usage } => {
            assert_eq!(predictor, "p");
            assert_eq!(source.raw(), "I think the answer is four.");
            assert_eq!(source.missing_fields(), ["a"]);
            assert!(usage.input_tokens > 0);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(cx.trace()[0].error.is_some(), "failed calls are traced too");
    assert!(cx.usage().total_tokens() > 0, "a failed parse still costs tokens");
}

#[test]
fn missing_inputs_and_missing_lms_are_named() {
    let predict = Predict::new("p", sig("q, context -> a"));
    let err = block_on(predict.forward(&RunCx::new(), &Example::new().with("q", "?"))).unwrap_err();
    assert!(matches!(&err, RunError::MissingInput { field, .. } if field == "context"), "{err}");
    let err =
        block_on(predict.forward(&RunCx::new(), &Example::new().with("q", "?").with("context", "c"))).unwrap_err();
    assert!(matches!(err, RunError::NoLm { .. }), "{err}");
    assert!(err.to_string().contains("predictor `p` has no LM"));
}

#[test]
fn lm_errors_name_the_predictor() {
    let lm = Arc::new(ScriptedLm::new().with_default(lmc::lm::ScriptedReply::Error(LmError::Config("no key".into()))));
    let err =
        block_on(Predict::new("p", sig("q -> a")).forward(&RunCx::new().with_lm(lm), &Example::new().with("q", "?")))
            .unwrap_err();
    assert_eq!(err.predictor(), "p");
    assert!(err.report().contains("predictor `p`: LM configuration: no key"));
}

#[test]
fn an_overlay_changes_the_prompt_without_mutating_the_predictor() {
    let predict = Predict::new("solve", sig("q -> a"));
    let mut overlay = Overlay::default();
    overlay.predictors.insert(
        "solve".into(),
        PredictorOverlay {
            instructions: Some("Be brief.".into()),
            demos: Some(vec![Example::new().with("q", "1+1?").with("a", "2")]),
        },
    );
    let inputs = Example::new().with("q", "2+2?");
    let plain = predict.render(None, inputs.fields());
    let overlaid = predict.render(Some(&overlay), inputs.fields());
    assert_eq!(plain.messages.len(), 2);
    assert_eq!(overlaid.messages.len(), 4, "one demo adds a user and an assistant turn");
    assert!(overlaid.messages[0].content.ends_with("Be brief."));
    assert!(predict.demos().is_empty());
    assert!(!predict.signature().instructions().contains("Be brief"));

    // An overlay for another predictor leaves this one alone.
    let mut other = Overlay::default();
    other.predictors.insert("other".into(), PredictorOverlay { instructions: Some("X".into()), demos: None });
    assert_eq!(predict.render(Some(&other), inputs.fields()), plain);
}

/// A two-predictor program written in Rust: draft an answer, then check it.
struct DraftThenCheck {
    draft: ChainOfThought,
    check: Predict,
}

impl Module for DraftThenCheck {
    fn forward<'a>(&'a self, cx: &'a RunCx, inputs: &'a Example) -> BoxFuture<'a, Result<Prediction, RunError>> {
        Box::pin(async move {
            let draft = self.draft.forward(cx, inputs).await?;
            let check_inputs = Example::new()
                .with("question", inputs.get("question").cloned().unwrap_or_default())
                .with("draft", draft.get("answer").cloned().unwrap_or_default());
            let checked = self.check.forward(cx, &check_inputs).await?;
            let mut out = draft;
            for (k, v) in checked.into_fields() {
                out.insert(k, v);
            }
            Ok(out)
        })
    }

    fn predictors(&self) -> Vec<&Predict> {
        vec![self.draft.predict(), &self.check]
    }

    fn predictors_mut(&mut self) -> Vec<&mut Predict> {
        vec![self.draft.predict_mut(), &mut self.check]
    }
}

#[test]
fn a_two_predictor_rust_program_runs_and_names_its_predictors() {
    let mut program = DraftThenCheck {
        draft: ChainOfThought::new("draft", sig("question -> answer")).unwrap(),
        check: Predict::new("check", sig("question, draft -> verdict: Literal['correct', 'wrong'], confidence: float")),
    };
    let lm = Arc::new(
        ScriptedLm::new()
            .when_user_contains("[[ ## draft ## ]]", "[[ ## verdict ## ]]\ncorrect\n\n[[ ## confidence ## ]]\n0.9")
            .with_default("[[ ## reasoning ## ]]\n3 + 4 = 7.\n\n[[ ## answer ## ]]\n7"),
    );
    let cx = RunCx::new().with_lm(lm.clone());
    let out = block_on(program.forward(&cx, &Example::new().with("question", "3+4?"))).unwrap();
    assert_eq!(out.get_as::<String>("answer").unwrap(), "7");
    assert_eq!(out.get_as::<String>("verdict").unwrap(), "correct");
    assert_eq!(out.get_as::<f64>("confidence").unwrap(), 0.9);
    assert!(lm.requests()[1].last_user_message().unwrap().contains("[[ ## draft ## ]]\n7"));

    let names: Vec<&str> = program.predictors().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["draft", "check"]);
    assert_eq!(cx.trace().iter().map(|t| t.predictor.as_str()).collect::<Vec<_>>(), names);

    // Installing compiled demos goes through the named predictors.
    for p in program.predictors_mut() {
        if p.name() == "check" {
            p.set_demos(vec![Example::new()
                .with("question", "1+1?")
                .with("draft", "2")
                .with("verdict", "correct")
                .with("confidence", 1.0)]);
        }
    }
    assert_eq!(program.check.demos().len(), 1);
    assert!(program.draft.predict().demos().is_empty());
}

#[test]
fn lm_is_object_safe_and_shareable() {
    let lm: Arc<dyn Lm> = Arc::new(ScriptedLm::new().with_model("m"));
    assert_eq!(lm.identity().to_string(), "scripted/m");
}
