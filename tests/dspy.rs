//! DSPy interchange against save files written by the real DSPy 3.4.1
//! (`tests/fixtures/dspy/generate.py`), and lmc exports that DSPy loads
//! (`tests/fixtures/dspy/check_load.py`, run by hand: CI has no DSPy).

use std::path::PathBuf;

use lmc::artifact::dspy::{export_dspy, export_notes, import_dspy, DspyError, ImportNote, TOP_LEVEL};
use lmc::artifact::{ArtifactProvenance, KnnArtifact, ProgramArtifact};
use lmc::{ChainOfThought, Example, Module, Predict, Program, Signature};
use serde_json::{json, Value};

use crate::support::root;

fn fixture_path(name: &str) -> PathBuf {
    root().join("tests/fixtures/dspy").join(name)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

fn program(name: &str) -> Program {
    Program::load(root().join("programs").join(format!("{name}.toml"))).unwrap()
}

fn import(file: &str, program: &dyn Module) -> (ProgramArtifact, lmc::artifact::dspy::ImportReport) {
    import_dspy(&fixture(file), program, "p").unwrap_or_else(|e| panic!("{e}"))
}

fn import_err(text: &str, program: &dyn Module) -> DspyError {
    match import_dspy(text, program, "p") {
        Ok(_) => panic!("the import should fail"),
        Err(e) => e,
    }
}

/// The fixture's JSON with one edit.
fn edited(file: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(&fixture(file)).unwrap();
    edit(&mut value);
    value.to_string()
}

/// Renames a top-level key, keeping its place.
fn rename_key(value: &mut Value, from: &str, to: &str) {
    let old = std::mem::take(value.as_object_mut().unwrap());
    *value = Value::Object(old.into_iter().map(|(k, v)| (if k == from { to.to_string() } else { k }, v)).collect());
}

fn toml_program(text: &str) -> Program {
    Program::from_toml_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn math_qa_imports_instructions_demos_and_fields() {
    let program = program("math_qa");
    let (artifact, report) = import("math_qa.json", &program);

    let solve = artifact.predictor("solve").unwrap();
    assert_eq!(
        solve.instructions,
        "Solve the grade-school math word problem step by step, then give only the final number as the answer."
    );
    assert_eq!(solve.demos.len(), 4);
    // Bootstrapped: DSPy's `augmented` is dropped, the fields are kept with their JSON types.
    let first = solve.demos[0].fields();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["question", "reasoning", "answer"]);
    assert!(first["question"].as_str().unwrap().starts_with("Zoë buys 3 croissants at €2.50"));
    assert_eq!(first["answer"], json!(10.5));
    assert_eq!(solve.demos[1].get("answer"), Some(&json!(150.0)));
    // Labeled: the training example as it was.
    assert_eq!(solve.demos[2].fields().keys().collect::<Vec<_>>(), ["question", "answer"]);
    assert_eq!(solve.demos[2].get("answer"), Some(&json!("8")));
    // The program's fields, adapter and sampling are kept.
    assert_eq!(solve.signature, lmc::artifact::SignatureFields::of(program.predictors()[0].signature()));

    assert_eq!(report.dspy_version.as_deref(), Some("3.4.1"));
    let mapped = &report.mapped[0];
    assert_eq!((mapped.dspy_path.as_str(), mapped.predictor.as_str()), ("solve.predict", "solve"));
    assert_eq!(mapped.fields, ["question", "reasoning", "answer"]);
    assert_eq!((mapped.demos, mapped.augmented_demos, mapped.instructions_changed), (4, 2, true));
    // DSPy 3.4.1's `Reasoning:` and lmc's longer reasoning prefix are the same field.
    assert_eq!(report.notes, []);

    assert_eq!(artifact.provenance.optimizer, "dspy-import");
    assert_eq!(artifact.provenance.config, json!({"dspy_version": "3.4.1", "paths": {"solve": "solve.predict"}}));
    assert_eq!(artifact.program, "p");
    artifact.check(&program).unwrap();
    let mut installed = program;
    artifact.apply(&mut installed).unwrap();
    assert_eq!(installed.predictors()[0].demos().len(), 4);
}

#[test]
fn triage_imports_both_predictors_and_notes_the_lm() {
    let program = program("triage");
    let (artifact, report) = import("triage.json", &program);

    assert_eq!(artifact.predictors.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["extract", "classify"]);
    let extract = artifact.predictor("extract").unwrap();
    assert!(extract.instructions.starts_with("Read the support ticket. Name the product"));
    assert_eq!(extract.demos.len(), 4);
    assert_eq!(extract.demos[0].get("product"), Some(&json!("Abonnement")));
    assert_eq!(extract.demos[0].get("augmented"), None);
    // A labeled demo keeps the training example's other columns, as DSPy does.
    assert_eq!(extract.demos[2].get("category"), Some(&json!("technical")));
    let classify = artifact.predictor("classify").unwrap();
    assert_eq!(
        classify.instructions,
        "Classify the support ticket by the team that should handle it: billing, technical or account."
    );
    assert_eq!(
        classify.demos[0].get("reasoning"),
        Some(&json!("Eine doppelte Abbuchung ist eine Frage der Abrechnung, also billing."))
    );

    let fields: Vec<_> = report.mapped.iter().map(|m| (m.dspy_path.as_str(), m.fields.clone())).collect();
    assert_eq!(
        fields,
        [
            ("extract", vec!["ticket".to_string(), "product".into(), "issue".into()]),
            ("classify.predict", vec!["product".to_string(), "issue".into(), "reasoning".into(), "category".into()]),
        ]
    );
    // The only thing not carried over: classify's own LM.
    let [ImportNote::LmNotCarried { predictor, model, state }] = report.notes.as_slice() else {
        panic!("{:?}", report.notes)
    };
    assert_eq!((predictor.as_str(), model.as_deref()), ("classify", Some("openai/gpt-4o-mini")));
    assert_eq!(state["temperature"], json!(0.0));
    assert_eq!(classify.lm, None);
    let text = report.render();
    assert!(text.contains("classify <- classify.predict: 4 demos (2 bootstrapped), instructions changed"), "{text}");
    assert!(text.contains("openai/gpt-4o-mini, temperature 0.0, max_tokens 1000"), "{text}");
}

/// An export of an imported DSPy file is that file: the same predictor paths, demos
/// (`augmented` exactly where DSPy put it), instructions and positional fields, in the same key
/// order. For math_qa the bytes are equal too (serde_json's pretty printer and orjson's
/// `OPT_INDENT_2` agree). Ignored: the `lm` that DSPy saved for triage's `classify`, which an
/// import carries as a note only (an export writes `null`), and the Python and cloudpickle
/// versions in `metadata`, which are those of whoever last ran generate.py (exports write
/// fixed ones).
#[test]
fn export_of_an_import_is_the_dspy_file() {
    for name in ["math_qa", "triage"] {
        let file = format!("{name}.json");
        let (artifact, _) = import(&file, &program(name));
        let exported = export_dspy(&artifact);
        let mut original: Value = serde_json::from_str(&fixture(&file)).unwrap();
        let mut exported_cmp = exported.clone();
        for value in [&mut original, &mut exported_cmp] {
            if let Some(lm) = value.pointer_mut("/classify.predict/lm") {
                *lm = Value::Null;
            }
            let versions = value.pointer_mut("/metadata/dependency_versions").unwrap().as_object_mut().unwrap();
            versions.retain(|k, _| k == "dspy");
        }
        assert_eq!(exported_cmp, original, "{name}");
        // Value equality ignores key order; the order is DSPy's too.
        assert_eq!(serde_json::to_string(&exported_cmp).unwrap(), serde_json::to_string(&original).unwrap());
        if name == "math_qa" {
            assert_eq!(serde_json::to_string_pretty(&exported).unwrap() + "\n", fixture(&file));
        }
    }
}

#[test]
fn bare_predict_and_bare_chain_of_thought_files_import() {
    let predict = Predict::new("qa", Signature::parse("question -> answer: float").unwrap());
    let (artifact, report) = import("bare_predict.json", &predict);
    assert_eq!(report.mapped[0].dspy_path, TOP_LEVEL);
    assert_eq!(report.mapped[0].augmented_demos, 1);
    assert!(!report.mapped[0].instructions_changed);
    assert_eq!(artifact.predictors[0].demos[0].get("question"), Some(&json!("What is 7 × 6?")));
    assert_eq!(artifact.predictors[0].demos[1].get("augmented"), None);
    assert_eq!(report.notes, []);
    // A demo with exactly the predictor's fields cannot be told from a bootstrapped one: the
    // labeled `7 × 6` demo comes back marked `augmented` (DSPy reads the flag only to gather
    // examples for instruction proposals).
    let exported = export_dspy(&artifact);
    assert_eq!(exported["qa"]["demos"][0]["augmented"], json!(true));

    let cot = ChainOfThought::new("qa", Signature::parse("question -> answer: float").unwrap()).unwrap();
    let (artifact, report) = import("bare_cot.json", &cot);
    assert_eq!(report.mapped[0].dspy_path, "predict");
    assert_eq!(artifact.predictors[0].demos[0].get("reasoning"), Some(&json!("9 / 2 = 4.5.")));
    assert_eq!(keys(&export_dspy(&artifact)), ["qa.predict", "metadata"]);
}

#[test]
fn the_old_underscore_predict_path_maps_too() {
    let text = edited("math_qa.json", |v| rename_key(v, "solve.predict", "solve._predict"));
    let (artifact, report) = import_dspy(&text, &program("math_qa"), "math_qa").unwrap();
    assert_eq!(report.mapped[0].dspy_path, "solve._predict");
    assert_eq!(artifact.predictor("solve").unwrap().demos.len(), 4);
}

#[test]
fn predictors_without_a_counterpart_are_reported_when_the_rest_pair_up() {
    // The file has `classify`; this program does not: its state is dropped, and said so.
    let only_extract = toml_program(
        r#"
name = "extract_only"
[[step]]
name = "extract"
module = "predict"
signature = "ticket -> product, issue"
[step.desc]
product = "the product or feature the ticket is about"
issue = "the customer's problem, in one sentence"
"#,
    );
    let (artifact, report) = import("triage.json", &only_extract);
    assert_eq!(artifact.predictors.len(), 1);
    assert!(report.notes.contains(&ImportNote::UnmatchedDspyPredictor { path: "classify.predict".into() }));

    // The program has a step the file does not: it keeps what the program has.
    let with_more = toml_program(
        r#"
name = "more"
[[step]]
name = "solve"
module = "cot"
signature = "question -> answer: float"
instructions = "Solve the math word problem. Give only the final number as the answer."
[[step]]
name = "check"
module = "predict"
signature = "question, answer -> ok: bool"
"#,
    );
    let (artifact, report) = import("math_qa.json", &with_more);
    assert_eq!(report.notes, [ImportNote::PredictorNotInFile { predictor: "check".into() }]);
    let check = artifact.predictor("check").unwrap();
    assert_eq!(check.instructions, "Given the fields `question`, `answer`, produce the fields `ok`.");
    assert!(check.demos.is_empty());
}

#[test]
fn differing_descriptions_and_prefixes_are_noted_and_the_programs_kept() {
    let text = edited("triage.json", |v| {
        v["extract"]["signature"]["fields"][1]["description"] = json!("which product");
        v["extract"]["signature"]["fields"][2]["prefix"] = json!("Problem Statement:");
    });
    let program = program("triage");
    let (artifact, report) = import_dspy(&text, &program, "triage").unwrap();
    assert!(report.notes.contains(&ImportNote::DescriptionDiffers {
        predictor: "extract".into(),
        field: "product".into(),
        dspy: "which product".into(),
        program: "the product or feature the ticket is about".into(),
    }));
    assert!(report.notes.iter().any(|n| matches!(n, ImportNote::PrefixDiffers { field, .. } if field == "issue")));
    let product = &artifact.predictor("extract").unwrap().signature.outputs[0];
    assert_eq!(product.description, "the product or feature the ticket is about");
}

#[test]
fn an_unknown_predictor_path_is_an_error_when_a_program_predictor_is_missing() {
    let text = edited("math_qa.json", |v| rename_key(v, "solve.predict", "solver.predict"));
    let err = import_err(&text, &program("math_qa"));
    assert_eq!(err, DspyError::Unmatched { paths: vec!["solver.predict".into()], predictors: vec!["solve".into()] });
    let message = err.to_string();
    assert!(
        message.contains("the file's predictors (`solver.predict`) match no predictor of the program"),
        "{message}"
    );
    assert!(message.contains("rename the steps"), "{message}");
}

#[test]
fn a_wrong_field_count_is_an_error() {
    // math_qa's `solve` as a plain predict: DSPy's chain of thought has one field more.
    let plain = toml_program(
        r#"
name = "plain"
[[step]]
name = "solve"
module = "predict"
signature = "question -> answer: float"
"#,
    );
    let err = import_err(&fixture("math_qa.json"), &plain);
    assert!(matches!(err, DspyError::FieldCount { dspy: 3, program: 2, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("has 3 fields but the program's `solve` has 2 (question, answer)"), "{message}");
    assert!(message.contains("chain_of_thought"), "{message}");
}

#[test]
fn a_renamed_field_is_an_error() {
    // DSPy's default description names the field.
    let renamed = toml_program(
        r#"
name = "renamed"
[[step]]
name = "solve"
module = "cot"
signature = "query -> answer: float"
"#,
    );
    let err = import_err(&fixture("math_qa.json"), &renamed);
    assert_eq!(
        err,
        DspyError::FieldRenamed {
            path: "solve.predict".into(),
            predictor: "solve".into(),
            position: 1,
            dspy_field: "question".into(),
            program_field: "query".into(),
        }
    );
    // With a custom description, the prefix and the demos' keys name it.
    let renamed = toml_program(
        r#"
name = "renamed"
[[step]]
name = "extract"
module = "predict"
signature = "ticket -> product, problem"
[[step]]
name = "classify"
module = "cot"
signature = "product, issue -> category: Literal['billing', 'technical', 'account']"
"#,
    );
    let err = import_err(&fixture("triage.json"), &renamed);
    assert!(
        matches!(&err, DspyError::FieldRenamed { dspy_field, program_field, position: 3, .. }
            if dspy_field == "issue" && program_field == "problem"),
        "{err:?}"
    );
}

#[test]
fn files_that_are_not_dspy_save_files_are_errors() {
    let program = program("math_qa");
    assert!(matches!(import_err("{not json", &program), DspyError::Json { .. }));
    assert!(matches!(import_err("[1, 2]", &program), DspyError::NotDspy { .. }));
    let err = import_err(r#"{"a": {"b": 1}, "metadata": {}}"#, &program);
    assert!(err.to_string().contains("no predictor state"), "{err}");

    let lmc_artifact = ProgramArtifact::from_program("math_qa", &program, None, ArtifactProvenance::default());
    let err = import_err(&lmc_artifact.to_json(), &program);
    assert!(err.to_string().contains("this is an lmc artifact"), "{err}");

    let legacy = edited("math_qa.json", |v| v["solve.predict"]["extended_signature"] = json!({}));
    assert_eq!(import_err(&legacy, &program), DspyError::LegacyState { path: "solve.predict".into() });

    let bad_demo = edited("math_qa.json", |v| v["solve.predict"]["demos"][1] = json!("a demo"));
    let err = import_err(&bad_demo, &program);
    assert_eq!(err.to_string(), "DSPy predictor `solve.predict`: `demos[1]` is a string, not an object of fields");

    let no_fields = edited("math_qa.json", |v| v["solve.predict"]["signature"] = json!({"instructions": "x"}));
    assert!(matches!(import_err(&no_fields, &program), DspyError::InvalidState { .. }));

    let twice = edited("math_qa.json", |v| {
        let state = v["solve.predict"].clone();
        v.as_object_mut().unwrap().insert("solve".into(), state);
    });
    let err = import_err(&twice, &program);
    assert_eq!(
        err,
        DspyError::DuplicatePredictor {
            predictor: "solve".into(),
            paths: vec!["solve.predict".into(), "solve".into()]
        }
    );
}

#[test]
fn other_state_is_noted() {
    let text = edited("math_qa.json", |v| {
        v["solve.predict"]["train"] = json!([{"question": "q"}]);
        v.as_object_mut().unwrap().remove("metadata");
    });
    let (_, report) = import_dspy(&text, &program("math_qa"), "math_qa").unwrap();
    assert_eq!(report.dspy_version, None);
    assert_eq!(
        report.notes,
        [ImportNote::NoDspyVersion, ImportNote::StateIgnored { predictor: "solve".into(), key: "train".into() }]
    );
}

/// An artifact lmc made (not imported), and an input per predictor to render its prompt with.
struct LmcMade {
    program: &'static str,
    artifact: ProgramArtifact,
    inputs: Vec<(&'static str, Value)>,
}

/// Artifacts lmc made: what the exporter writes for them, and the prompts lmc renders for them.
/// `check_load.py` loads these exports into the DSPy programs and checks that DSPy 3.4.1
/// renders the same prompts.
fn lmc_artifacts() -> Vec<LmcMade> {
    let ex = |value: Value| Example::from_json(value).unwrap();
    let mut math = program("math_qa");
    {
        let solve = &mut math.predictors_mut()[0];
        solve.set_instructions("Work the problem out, then give only the final number.");
        solve.set_demos(vec![
            ex(json!({"question": "Léa a 3 paquets de 12 œufs. Combien d'œufs ?", "reasoning": "3 × 12 = 36.", "answer": 36.0})),
            ex(json!({"question": "What is 15% of 80?", "answer": "12"})),
        ]);
    }
    let mut triage = program("triage");
    {
        let mut predictors = triage.predictors_mut();
        predictors[0].set_demos(vec![
            ex(json!({"ticket": "アプリが起動しません。", "product": "アプリ", "issue": "アプリが起動しない。"})),
            ex(json!({"ticket": "Refund my duplicate charge", "product": "billing", "issue": "Charged twice.", "category": "billing"})),
        ]);
        predictors[1].set_instructions("Route the ticket to the team that should handle it.");
        predictors[1].set_demos(vec![
            ex(json!({"product": "アプリ", "issue": "アプリが起動しない。", "reasoning": "A crash is technical.", "category": "technical"})),
            ex(json!({"ticket": "Refund my duplicate charge", "product": "billing", "issue": "Charged twice.", "category": "billing"})),
        ]);
    }
    let artifact =
        |name, program: &Program| ProgramArtifact::from_program(name, program, None, ArtifactProvenance::default());
    vec![
        LmcMade {
            program: "math_qa",
            artifact: artifact("math_qa", &math),
            inputs: vec![("solve", json!({"question": "Ana has 5 pears and eats 2. How many are left?"}))],
        },
        LmcMade {
            program: "triage",
            artifact: artifact("triage", &triage),
            inputs: vec![
                ("extract", json!({"ticket": "Je ne peux plus me connecter depuis hier."})),
                ("classify", json!({"product": "login", "issue": "Cannot log in since yesterday."})),
            ],
        },
    ]
}

/// The exports and renderings `check_load.py` reads are current. `LMC_UPDATE_DSPY_FIXTURES=1`
/// rewrites them.
#[test]
fn lmc_exports_for_the_dspy_load_check_are_current() {
    let update = std::env::var_os("LMC_UPDATE_DSPY_FIXTURES").is_some();
    let mut prompts = serde_json::Map::new();
    for LmcMade { program: name, artifact, inputs } in lmc_artifacts() {
        let exported = serde_json::to_string_pretty(&export_dspy(&artifact)).unwrap() + "\n";
        let mut program = program(name);
        artifact.apply(&mut program).unwrap();
        let mut rendered = serde_json::Map::new();
        for (predictor, input) in inputs {
            let p = program.predictors().into_iter().find(|p| p.name() == predictor).unwrap();
            let prompt = p.render(None, input.as_object().unwrap());
            rendered.insert(predictor.to_string(), json!({"inputs": input, "messages": prompt.messages}));
        }
        prompts.insert(name.to_string(), Value::Object(rendered));
        let path = fixture_path(&format!("lmc_export/{name}.json"));
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &exported).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), exported, "{name}: rerun with LMC_UPDATE_DSPY_FIXTURES=1");
    }
    let prompts = serde_json::to_string_pretty(&Value::Object(prompts)).unwrap() + "\n";
    let path = fixture_path("lmc_export/prompts.json");
    if update {
        std::fs::write(&path, &prompts).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), prompts, "rerun with LMC_UPDATE_DSPY_FIXTURES=1");
}

#[test]
fn exports_write_dspy_paths_defaults_and_augmented_flags() {
    let artifact = lmc_artifacts().remove(1).artifact;
    let exported = export_dspy(&artifact);
    assert_eq!(keys(&exported), ["extract", "classify.predict", "metadata"]);
    let extract = &exported["extract"];
    assert_eq!(keys(extract), ["traces", "train", "demos", "signature", "lm"]);
    // Exactly the predictor's fields: bootstrapped. A training example with other columns: labeled.
    assert_eq!(keys(&extract["demos"][0]), ["augmented", "ticket", "product", "issue"]);
    assert_eq!(keys(&extract["demos"][1]), ["ticket", "product", "issue", "category"]);
    assert_eq!(extract["signature"]["fields"][0], json!({"prefix": "Ticket:", "description": "${ticket}"}));
    let classify = &exported["classify.predict"];
    assert_eq!(classify["signature"]["fields"][2], json!({"prefix": "Reasoning:", "description": "${reasoning}"}));
    assert_eq!(classify["demos"][0]["augmented"], json!(true));
    assert_eq!(classify["demos"][1].get("augmented"), None);
    assert_eq!(classify["lm"], Value::Null);
    assert_eq!(
        exported["metadata"],
        json!({"dependency_versions": {"python": "3.11", "dspy": "3.4.1", "cloudpickle": "3.1"}})
    );
    assert_eq!(export_notes(&artifact).unwrap(), Vec::<String>::new());
}

#[test]
fn export_notes_say_what_the_layout_cannot_hold() {
    let mut artifact = lmc_artifacts().remove(0).artifact;
    artifact.predictors[0].lm = Some("openai/gpt-4o-mini".into());
    artifact.predictors[0].sampling.temperature = Some(0.2);
    artifact.predictors[0].adapter = lmc::AdapterKind::Json;
    let notes = export_notes(&artifact).unwrap();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("program.solve.predict.lm = dspy.LM(...)"), "{notes:?}");
    assert!(notes[1].contains("\"temperature\":0.2"), "{notes:?}");
    assert!(notes[2].contains("dspy.JSONAdapter()"), "{notes:?}");

    artifact.knn = Some(KnnArtifact {
        k: 2,
        method: "bm25".into(),
        base_url: None,
        input_keys: vec!["question".into()],
        trainset: Vec::new(),
    });
    assert_eq!(export_notes(&artifact), Err(DspyError::KnnNotExportable));
}
