use std::sync::Arc;

use lmc::{Example, Module, ModuleKind, Program, ProgramError, RunCx, ScriptedLm};

use crate::support::root;

fn load_err(toml: &str) -> ProgramError {
    Program::from_toml_str(toml).unwrap_err()
}

#[test]
fn shipped_programs_load() {
    for entry in std::fs::read_dir(root().join("programs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let program = Program::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!program.steps().is_empty(), "{}", path.display());
        }
    }
}

#[test]
fn triage_infers_inputs_and_names_predictors() {
    let program = Program::load(root().join("programs/triage.toml")).unwrap();
    assert_eq!(program.inputs(), ["ticket"]);
    assert_eq!(program.predictor_names(), ["extract", "classify"]);
    assert_eq!(program.step("classify").unwrap().kind(), ModuleKind::ChainOfThought);
    assert_eq!(program.outputs(), ["product", "issue", "reasoning", "category"]);
    let classify = program.step("classify").unwrap().module().predictors()[0];
    assert_eq!(classify.signature().output("category").unwrap().description, "the team that should handle it");
    assert_eq!(classify.signature().instructions(), "Classify the support ticket.");
}

#[test]
fn triage_runs_its_steps_in_order() {
    let program = Program::load(root().join("programs/triage.toml")).unwrap();
    let lm = Arc::new(
        ScriptedLm::new()
            .when_user_contains(
                "[[ ## ticket ## ]]",
                "[[ ## product ## ]]\nInvoices page\n\n[[ ## issue ## ]]\nCharged twice\n\n[[ ## completed ## ]]",
            )
            .with_default(
                "[[ ## reasoning ## ]]\nA double charge.\n\n[[ ## category ## ]]\nbilling\n\n[[ ## completed ## ]]",
            ),
    );
    let cx = RunCx::new().with_lm(lm.clone());
    let ticket = Example::new().with("ticket", "I was charged twice this month.").with("gold", "billing");
    let out = futures::executor::block_on(program.forward(&cx, &ticket)).unwrap();
    assert_eq!(out.get_as::<String>("category").unwrap(), "billing");
    assert_eq!(out.get_as::<String>("product").unwrap(), "Invoices page");
    assert!(out.get("ticket").is_none(), "a prediction holds outputs, not inputs");
    let second = lm.requests()[1].last_user_message().unwrap().to_string();
    assert!(second.contains("[[ ## issue ## ]]\nCharged twice"), "{second}");
    assert!(!second.contains("gold"), "labels never reach the prompt");
}

#[test]
fn missing_program_inputs_are_reported_at_run_time() {
    let program = Program::load(root().join("programs/triage.toml")).unwrap();
    let cx = RunCx::new().with_lm(Arc::new(ScriptedLm::new()));
    let err = futures::executor::block_on(program.forward(&cx, &Example::new().with("tiket", "typo"))).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`extract` needs input `ticket`") && message.contains("tiket"), "{message}");
}

#[test]
fn a_step_reading_a_later_output_is_rejected_with_step_and_field() {
    let err = load_err(
        r#"
name = "x"
[[step]]
name = "answer"
module = "predict"
signature = "context, question -> answer"
[[step]]
name = "retrieve"
module = "predict"
signature = "question -> context"
"#,
    );
    assert_eq!(err.step.as_deref(), Some("answer"));
    assert_eq!(err.field.as_deref(), Some("context"));
    assert!(err.message.contains("move `retrieve` before"), "{err}");
}

#[test]
fn declared_inputs_are_enforced() {
    let err = load_err(
        r#"
name = "x"
inputs = ["question"]
[[step]]
name = "answer"
module = "predict"
signature = "question, context -> answer"
"#,
    );
    assert_eq!(err.field.as_deref(), Some("context"));
    assert!(err.to_string().contains("neither a declared program input"), "{err}");

    let ok = Program::from_toml_str(
        r#"
name = "x"
inputs = ["question", "unused_flag"]
[[step]]
name = "answer"
module = "predict"
signature = "question -> answer"
"#,
    )
    .unwrap();
    assert_eq!(ok.inputs(), ["question", "unused_flag"]);
}

#[test]
fn validation_errors_name_what_to_fix() {
    let cases: &[(&str, &str)] = &[
        ("name = \"x\"\n", "no steps"),
        (
            "name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"a -> b\"\n",
            "step names must be unique",
        ),
        ("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"agent\"\nsignature = \"q -> a\"\n", "unknown module `agent`"),
        ("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a: strr\"\n", "column 9"),
        (
            "name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n[step.desc]\nanswer = \"typo\"\n",
            "[step.desc] names a field the signature does not have",
        ),
        (
            "name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n[[step]]\nname = \"b\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n",
            "already produces this field",
        ),
        ("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"a -> a2\"\n[[step]]\nname = \"b\"\nmodule = \"predict\"\nsignature = \"b -> b\"\n", "appears twice"),
        ("name = \"x\"\n[[step]]\nname = \"a\"\nmodul = \"predict\"\nsignature = \"q -> a\"\n", "unknown field `modul`"),
        ("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\nadapter = \"xml\"\n", "xml"),
    ];
    for (toml, want) in cases {
        let err = load_err(toml);
        assert!(err.to_string().contains(want), "want {want:?} in: {err}");
    }
}

#[test]
fn load_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("lmc-programs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(&path, "name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"cot\"\nsignature = \"q -> \"\n").unwrap();
    let err = Program::load(&path).unwrap_err();
    assert_eq!(err.path.as_deref(), Some(path.as_path()));
    assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    assert!(err.to_string().contains("step `a`"), "{err}");
    let missing = Program::load(dir.join("nope.toml")).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_program_wide_adapter_applies_to_steps() {
    let program = Program::from_toml_str(
        "name = \"x\"\nadapter = \"json\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n[[step]]\nname = \"b\"\nmodule = \"predict\"\nsignature = \"a -> b\"\nadapter = \"chat\"\n",
    )
    .unwrap();
    let adapters: Vec<_> = program.predictors().iter().map(|p| p.adapter().as_str()).collect();
    assert_eq!(adapters, ["json", "chat"]);
}

#[test]
fn chains_of_thought_each_have_their_own_reasoning() {
    let program = Program::from_toml_str(
        r#"
name = "x"
inputs = ["q"]
[[step]]
name = "a"
module = "cot"
signature = "q -> x"
[step.desc]
reasoning = "think about q"
[[step]]
name = "b"
module = "cot"
signature = "x -> y"
[[step]]
name = "c"
module = "predict"
signature = "y, reasoning -> z"
"#,
    )
    .unwrap();
    assert_eq!(program.inputs(), ["q"]);
    assert_eq!(program.outputs(), ["reasoning", "x", "y", "z"]);
    let a = program.step("a").unwrap().module().predictors()[0];
    assert_eq!(a.signature().output("reasoning").unwrap().description, "think about q");
}

#[test]
fn a_chain_of_thought_cannot_read_an_input_called_reasoning() {
    let err = load_err("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"cot\"\nsignature = \"reasoning -> answer\"\n");
    assert_eq!(err.step.as_deref(), Some("a"));
    assert!(err.to_string().contains("already has an input named `reasoning`"), "{err}");
}
