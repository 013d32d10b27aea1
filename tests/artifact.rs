use std::path::PathBuf;
use std::sync::Arc;

use lmc::artifact::{
    ArtifactError, ArtifactMismatch, ArtifactProvenance, CompileCost, CompileScores, DatasetRef, ProgramArtifact,
    FORMAT_VERSION,
};
use lmc::{Example, FieldRole, Module, Overlay, PredictorOverlay, Program, RunCx, ScriptedLm};
use serde_json::json;

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-tests-artifact-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const PROGRAM: &str = r#"
name = "double"

[[step]]
name = "classify"
module = "predict"
signature = "question -> topic"

[[step]]
name = "solve"
module = "chain_of_thought"
signature = "question, topic -> answer"
"#;

/// The program with its steps' signatures replaced.
fn program_with(classify: &str, solve: &str) -> Program {
    Program::from_toml_str(&PROGRAM.replace("question -> topic", classify).replace("question, topic -> answer", solve))
        .unwrap()
}

fn program() -> Program {
    Program::from_toml_str(PROGRAM).unwrap()
}

/// What an optimizer might have chosen.
fn overlay() -> Overlay {
    let mut overlay = Overlay::default();
    overlay.predictors.insert(
        "classify".into(),
        PredictorOverlay {
            instructions: Some("Name the topic of the question.".into()),
            demos: Some(vec![Example::new().with("question", "Q01 what is 1 doubled?").with("topic", "T1")]),
        },
    );
    overlay.predictors.insert(
        "solve".into(),
        PredictorOverlay {
            instructions: None,
            demos: Some(vec![
                Example::new()
                    .with("question", "Q02 what is 2 doubled?")
                    .with("topic", "T2")
                    .with("reasoning", "Two and two.")
                    .with("answer", "4"),
                Example::new().with("question", "Q05 what is 5 doubled?").with("answer", "10"),
            ]),
        },
    );
    overlay
}

fn provenance() -> ArtifactProvenance {
    ArtifactProvenance {
        optimizer: "bootstrap".into(),
        config: json!({"max_bootstrapped_demos": 1, "max_labeled_demos": 2}),
        seed: 7,
        metric: "exact_match on `answer`".into(),
        lm: "scripted/student".into(),
        teacher_lm: None,
        trainset: DatasetRef { source: "train.jsonl".into(), n: 20, hash: "ab".repeat(32) },
        valset: None,
        scores: CompileScores { baseline: Some(0.6), compiled: Some(0.85) },
        compile_cost: CompileCost { calls: 118, input_tokens: 30210, output_tokens: 2410, usd: None, proposer: None },
        simulated: false,
        stopped: None,
        objective: None,
        picked: None,
        start_from: None,
    }
}

fn artifact() -> ProgramArtifact {
    ProgramArtifact::from_program("double", &program(), Some(&overlay()), provenance())
}

#[test]
fn an_artifact_holds_the_overlay_over_the_program() {
    let artifact = artifact();
    assert_eq!(artifact.format_version, FORMAT_VERSION);
    assert_eq!(artifact.program, "double");
    let names: Vec<&str> = artifact.predictors.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["classify", "solve"], "program order");
    let classify = artifact.predictor("classify").unwrap();
    assert_eq!(classify.instructions, "Name the topic of the question.");
    assert_eq!(classify.demos.len(), 1);
    let solve = artifact.predictor("solve").unwrap();
    // No overlay instructions: the program's own.
    assert_eq!(solve.instructions, program().predictors()[1].signature().instructions());
    assert_eq!(solve.demos.len(), 2);
    let outputs: Vec<&str> = solve.signature.outputs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(outputs, ["reasoning", "answer"]);
    assert!(artifact.knn.is_none());
}

#[test]
fn save_and_load_round_trip_atomically() {
    let dir = scratch("round-trip");
    let path = dir.join("double.json");
    let artifact = artifact();
    artifact.save(&path).unwrap();
    let loaded = ProgramArtifact::load(&path).unwrap();
    assert_eq!(loaded, artifact);
    assert_eq!(loaded.to_json(), artifact.to_json());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), artifact.to_json());
    // Overwriting goes through a temporary file too, and leaves none behind.
    let mut changed = artifact.clone();
    changed.provenance.seed = 8;
    changed.save(&path).unwrap();
    assert_eq!(ProgramArtifact::load(&path).unwrap().provenance.seed, 8);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["double.json"]);
    // A missing parent directory is created.
    let nested = dir.join("a/b/double.json");
    artifact.save(&nested).unwrap();
    assert_eq!(ProgramArtifact::load(&nested).unwrap(), artifact);
}

#[test]
fn the_json_is_stable() {
    let text = artifact().to_json();
    assert_eq!(text, artifact().to_json());
    assert!(text.ends_with("}\n"));
    let top: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).unwrap().keys().cloned().collect();
    assert_eq!(top, ["format_version", "lmc_version", "program", "predictors", "provenance"]);
    insta::assert_snapshot!("artifact_small_json", text);
}

/// The mismatches of loading the standard artifact into `program`.
fn mismatches(program: &Program) -> Vec<ArtifactMismatch> {
    artifact().check(program).unwrap_err().mismatches().to_vec()
}

#[test]
fn a_fitting_artifact_checks_and_applies() {
    let mut program = program();
    artifact().check(&program).unwrap();
    artifact().apply(&mut program).unwrap();
    let classify = program.predictors()[0];
    assert_eq!(classify.signature().instructions(), "Name the topic of the question.");
    assert_eq!(classify.demos(), overlay().predictors["classify"].demos.as_deref().unwrap());
    assert_eq!(program.predictors()[1].demos().len(), 2);
}

#[test]
fn an_unknown_predictor_is_a_typed_error() {
    let only_classify = Program::from_toml_str(
        r#"
name = "double"
[[step]]
name = "classify"
module = "predict"
signature = "question -> topic"
"#,
    )
    .unwrap();
    assert_eq!(
        mismatches(&only_classify),
        [ArtifactMismatch::UnknownPredictor { predictor: "solve".into(), known: vec!["classify".into()] }]
    );
}

#[test]
fn a_missing_predictor_is_a_typed_error() {
    let three = Program::from_toml_str(&format!(
        "{PROGRAM}\n[[step]]\nname = \"check\"\nmodule = \"predict\"\nsignature = \"answer -> verdict\"\n"
    ))
    .unwrap();
    assert_eq!(mismatches(&three), [ArtifactMismatch::MissingPredictor { predictor: "check".into() }]);
}

#[test]
fn a_predictor_listed_twice_is_a_typed_error() {
    let mut twice = artifact();
    let again = twice.predictors[0].clone();
    twice.predictors.push(again);
    let problems = twice.check(&program()).unwrap_err().mismatches().to_vec();
    assert_eq!(problems, [ArtifactMismatch::DuplicatePredictor { predictor: twice.predictors[0].name.clone() }]);
}

#[test]
fn a_renamed_field_is_missing_and_added() {
    let renamed = program_with("question -> subject", "question, subject -> answer");
    assert_eq!(
        mismatches(&renamed),
        [
            ArtifactMismatch::FieldMissing {
                predictor: "classify".into(),
                field: "topic".into(),
                role: FieldRole::Output,
                program_fields: vec!["subject".into()],
            },
            ArtifactMismatch::FieldAdded {
                predictor: "classify".into(),
                field: "subject".into(),
                role: FieldRole::Output
            },
            ArtifactMismatch::FieldMissing {
                predictor: "solve".into(),
                field: "topic".into(),
                role: FieldRole::Input,
                program_fields: vec!["question".into(), "subject".into()],
            },
            ArtifactMismatch::FieldAdded { predictor: "solve".into(), field: "subject".into(), role: FieldRole::Input },
        ]
    );
}

#[test]
fn a_changed_type_is_a_typed_error() {
    let typed = program_with("question -> topic", "question, topic -> answer: int");
    assert_eq!(
        mismatches(&typed),
        [ArtifactMismatch::FieldTypeChanged {
            predictor: "solve".into(),
            field: "answer".into(),
            artifact: "str".into(),
            program: "int".into(),
        }]
    );
}

#[test]
fn a_failed_apply_installs_nothing_and_lists_every_problem() {
    // `classify` fits; `solve` has a changed type and a renamed input; `check` is new.
    let mut program = Program::from_toml_str(&format!(
        "{}\n[[step]]\nname = \"check\"\nmodule = \"predict\"\nsignature = \"answer -> verdict\"\n",
        PROGRAM.replace("question, topic -> answer", "query, topic -> answer: float")
    ))
    .unwrap();
    let before: Vec<String> =
        program.predictors().iter().map(|p| format!("{p:?} {}", p.signature().instructions())).collect();
    let err = artifact().apply(&mut program).unwrap_err();
    let after: Vec<String> =
        program.predictors().iter().map(|p| format!("{p:?} {}", p.signature().instructions())).collect();
    assert_eq!(before, after, "nothing installed, not even the predictor that fits");
    assert!(program.predictors()[0].demos().is_empty());

    let problems = err.mismatches();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        matches!(&problems[0], ArtifactMismatch::FieldMissing { field, role: FieldRole::Input, .. } if field == "question")
    );
    assert!(
        matches!(&problems[1], ArtifactMismatch::FieldAdded { field, role: FieldRole::Input, .. } if field == "query")
    );
    assert!(
        matches!(&problems[2], ArtifactMismatch::FieldTypeChanged { artifact, program, .. } if artifact == "str" && program == "float")
    );
    assert!(matches!(&problems[3], ArtifactMismatch::MissingPredictor { predictor } if predictor == "check"));
    let message = err.to_string();
    for problem in problems {
        assert!(message.contains(&problem.to_string()), "{message}\nlacks: {problem}");
    }
    assert_eq!(message.matches("\n  - ").count(), 4, "{message}");
    assert!(message.contains("recompile"), "{message}");
    assert!(message.contains("`solve`") && message.contains("`check`"), "{message}");
}

#[test]
fn mismatch_errors_from_a_file_name_it() {
    let dir = scratch("mismatch");
    let path = dir.join("double.json");
    artifact().save(&path).unwrap();
    let mut renamed = program_with("question -> subject", "question, subject -> answer");
    let err = ProgramArtifact::load(&path).unwrap().apply(&mut renamed).map_err(|e| e.at(&path)).unwrap_err();
    assert!(err.to_string().starts_with(&format!("{}: ", path.display())), "{err}");
    assert_eq!(err.mismatches().len(), 4);
}

#[test]
fn another_format_version_is_a_version_error() {
    let text = artifact().to_json().replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    let err = ProgramArtifact::from_json_str(&text).unwrap_err();
    assert!(matches!(err, ArtifactError::Version { path: None, found: 2 }), "{err:?}");

    let dir = scratch("version");
    let path = dir.join("future.json");
    std::fs::write(&path, &text).unwrap();
    let err = ProgramArtifact::load(&path).unwrap_err();
    assert!(matches!(&err, ArtifactError::Version { path: Some(p), found: 2 } if *p == path), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()) && message.contains("format_version 2"), "{message}");
    assert!(message.contains(&format!("reads version {FORMAT_VERSION}")), "{message}");
}

#[test]
fn text_that_is_not_json_is_a_parse_error_naming_the_file() {
    let dir = scratch("not-json");
    let path = dir.join("notes.json");
    std::fs::write(&path, "name = \"double\"\n").unwrap();
    let err = ProgramArtifact::load(&path).unwrap_err();
    assert!(matches!(&err, ArtifactError::Parse { path: Some(p), .. } if *p == path), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");

    let err = ProgramArtifact::load(dir.join("absent.json")).unwrap_err();
    assert!(matches!(&err, ArtifactError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.json"), "{err}");
}

#[test]
fn a_dspy_save_file_points_to_import_dspy() {
    let dspy = json!({
        "classify": {
            "traces": [],
            "train": [],
            "demos": [{"augmented": true, "question": "Q01", "topic": "T1"}],
            "signature": {
                "instructions": "Given the fields `question`, produce the fields `topic`.",
                "fields": [{"prefix": "Question:", "description": "${question}"}, {"prefix": "Topic:", "description": "${topic}"}]
            },
            "lm": null
        },
        "metadata": {"dependency_versions": {"python": "3.12", "dspy": "3.0.4", "cloudpickle": "3.1"}}
    });
    let dir = scratch("dspy");
    let path = dir.join("program.json");
    std::fs::write(&path, serde_json::to_string_pretty(&dspy).unwrap()).unwrap();
    let err = ProgramArtifact::load(&path).unwrap_err();
    assert!(matches!(&err, ArtifactError::Parse { path: Some(_), .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("lmc import-dspy") && message.contains("format_version"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn unknown_keys_are_rejected() {
    let mut value: serde_json::Value = serde_json::from_str(&artifact().to_json()).unwrap();
    value["predictors"][0]["temperature"] = json!(0.5);
    let err = ProgramArtifact::from_json_str(&value.to_string()).unwrap_err();
    assert!(matches!(&err, ArtifactError::Parse { .. }) && err.to_string().contains("temperature"), "{err}");
}

#[test]
fn the_overlay_renders_what_apply_installs() {
    let artifact = ProgramArtifact::from_json_str(&artifact().to_json()).unwrap();
    let mut applied = program();
    artifact.apply(&mut applied).unwrap();
    let untouched = program();
    let overlay = artifact.overlay();
    let inputs = Example::new().with("question", "Q09 what is 9 doubled?").with("topic", "T9");
    for (a, u) in applied.predictors().into_iter().zip(untouched.predictors()) {
        let installed = a.render(None, inputs.fields());
        let overlaid = u.render(Some(&overlay), inputs.fields());
        assert_eq!(installed, overlaid, "{}", a.name());
        // And it is not what the program as written renders.
        assert_ne!(u.render(None, inputs.fields()), overlaid, "{}", a.name());
    }

    // Whole runs send the same requests.
    let reply = |r: &lmc::LmRequest| {
        Ok(if r.messages[0].content.contains("`reasoning`") {
            "[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n18\n\n[[ ## completed ## ]]".to_string()
        } else {
            "[[ ## topic ## ]]\nT9\n\n[[ ## completed ## ]]".to_string()
        })
    };
    let question = Example::new().with("question", "Q09 what is 9 doubled?");
    let lm_applied = Arc::new(ScriptedLm::new().with_fn(reply));
    let lm_overlaid = Arc::new(ScriptedLm::new().with_fn(reply));
    futures::executor::block_on(applied.forward(&RunCx::new().with_lm(lm_applied.clone()), &question)).unwrap();
    let cx = RunCx::new().with_lm(lm_overlaid.clone()).with_overlay(Arc::new(overlay));
    futures::executor::block_on(untouched.forward(&cx, &question)).unwrap();
    assert_eq!(lm_applied.requests(), lm_overlaid.requests());
    assert_eq!(lm_applied.requests().len(), 2);
}
