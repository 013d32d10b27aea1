use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lmc::schemars::JsonSchema;
use lmc::typed::{ChainOfThought, Predict};
use lmc::{Adapter, AdapterKind, ChatAdapter, FieldType, JsonAdapter, RunCx, ScriptedLm, Signature, TypedSignature};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::support::fields;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

/// Answer the question with a number and say whether you are confident.
#[derive(Signature)]
struct Typed {
    /// The user's question
    #[input]
    question: String,
    /// Topic tags for the question
    #[input]
    tags: Vec<String>,
    /// The numeric answer
    #[output]
    answer: i64,
    /// True if you are confident
    #[output]
    ok: bool,
}

#[test]
fn a_typed_signature_equals_the_string_signature_and_renders_identical_prompts() {
    let string = Signature::parse("question: str, tags: list[str] -> answer: int, ok: bool")
        .unwrap()
        .with_instructions("Answer the question with a number and say whether you are confident.")
        .with_description("question", "The user's question")
        .unwrap()
        .with_description("tags", "Topic tags for the question")
        .unwrap()
        .with_description("answer", "The numeric answer")
        .unwrap()
        .with_description("ok", "True if you are confident")
        .unwrap();
    let typed = Typed::signature();
    assert_eq!(typed, string);

    let demos =
        vec![lmc::Example::from_json(json!({"question": "2+2?", "tags": ["math"], "answer": 4, "ok": true})).unwrap()];
    let inputs = fields(json!({"question": "How many legs does a spider have?", "tags": ["biology", "animals"]}));
    for adapter in [&ChatAdapter as &dyn Adapter, &JsonAdapter] {
        assert_eq!(adapter.format(&typed, &demos, &inputs), adapter.format(&string, &demos, &inputs));
    }
    // And both match DSPy's golden rendering of the same signature.
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::support::root().join("tests/fixtures/parity/shared/golden/typed_int_bool.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let rendered = ChatAdapter.format(&typed, &[], &inputs);
    let want = golden["chat_adapter"]["messages"].as_array().unwrap();
    for (got, want) in rendered.messages.iter().zip(want) {
        assert_eq!(got.content, want["content"].as_str().unwrap());
    }
}

/// How urgent a ticket is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "lmc::schemars")]
#[serde(rename_all = "snake_case")]
enum Urgency {
    Low,
    #[serde(rename = "medium-ish")]
    Medium,
    VeryHigh,
}

/// A place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "lmc::schemars")]
struct Place {
    city: String,
    country: Option<String>,
    population: u64,
}

/// Every supported field type.
#[derive(Signature)]
#[signature(instructions = "Fill every field.")]
struct Everything {
    #[input]
    text: String,
    #[output]
    word: String,
    #[output]
    small: u8,
    #[output]
    big: i64,
    #[output]
    ratio: f64,
    #[output]
    flag: bool,
    #[output]
    words: Vec<String>,
    #[output]
    matrix: Vec<Vec<i32>>,
    #[output]
    counts: HashMap<String, u32>,
    #[output]
    sorted: BTreeMap<String, Vec<f32>>,
    #[output]
    maybe: Option<String>,
    #[output]
    maybe_num: Option<i32>,
    #[output]
    urgency: Urgency,
    #[output]
    urgencies: Vec<Urgency>,
    #[output]
    place: Place,
    #[output]
    anything: serde_json::Value,
    #[output]
    #[field(rename = "renamed_out", desc = "explicit description", prefix = "Custom:")]
    original: String,
}

fn everything_output() -> EverythingOutput {
    EverythingOutput {
        word: "hello world".into(),
        small: 200,
        big: -9_000_000_000,
        ratio: 0.125,
        flag: true,
        words: vec!["a".into(), "b c".into()],
        matrix: vec![vec![1, 2], vec![], vec![-3]],
        counts: HashMap::from([("x".to_string(), 1), ("y".to_string(), 2)]),
        sorted: BTreeMap::from([("k".to_string(), vec![1.5, 2.0])]),
        maybe: None,
        maybe_num: Some(7),
        urgency: Urgency::Medium,
        urgencies: vec![Urgency::VeryHigh, Urgency::Low],
        place: Place { city: "Lyon".into(), country: Some("France".into()), population: 522_000 },
        anything: json!({"nested": [1, "two", null]}),
        original: "kept".into(),
    }
}

#[test]
fn rust_types_map_to_dspy_prompt_types() {
    let sig = Everything::signature();
    let names: Vec<(String, String)> = sig.outputs().iter().map(|f| (f.name.clone(), f.ty.python_name())).collect();
    let want = [
        ("word", "str"),
        ("small", "int"),
        ("big", "int"),
        ("ratio", "float"),
        ("flag", "bool"),
        ("words", "list[str]"),
        ("matrix", "list[list[int]]"),
        ("counts", "dict[str, int]"),
        ("sorted", "dict[str, list[float]]"),
        ("maybe", "Union[str, NoneType]"),
        ("maybe_num", "Union[int, NoneType]"),
        ("urgency", "Literal['low', 'medium-ish', 'very_high']"),
        ("urgencies", "list[Literal['low', 'medium-ish', 'very_high']]"),
        ("place", "Place"),
        ("anything", "Any"),
        ("renamed_out", "str"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(names, want);
    let renamed = sig.output("renamed_out").unwrap();
    assert_eq!((renamed.description.as_str(), renamed.prefix.as_str()), ("explicit description", "Custom:"));
    assert_eq!(sig.instructions(), "Fill every field.");
    match &sig.output("place").unwrap().ty {
        FieldType::Object { schema, .. } => {
            assert_eq!(schema["properties"]["population"]["type"], "integer");
            assert!(schema.get("$schema").is_none());
        }
        other => panic!("expected an object, got {other:?}"),
    }
}

/// Renders typed outputs as a demo's assistant turn, parses that turn back through the
/// adapter, and converts it to the typed outputs again.
fn round_trip(adapter: AdapterKind) {
    let sig = Everything::signature();
    let output = everything_output();
    let input = EverythingInput { text: "anything".into() };
    let demo = Predict::<Everything>::new("p").with_adapter(adapter).with_demo(&input, &output);
    let prompt = demo.inner().render(None, &fields(json!({"text": "now"})));
    let assistant_turn = &prompt.messages[2].content;
    let parsed =
        adapter.adapter().parse(&sig, assistant_turn).unwrap_or_else(|e| panic!("{adapter}: {e}\n{assistant_turn}"));
    let back = Everything::output_from_fields(&parsed).unwrap_or_else(|e| panic!("{adapter}: {e:?}"));
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&output).unwrap(), "{adapter}");
}

#[test]
fn typed_outputs_round_trip_through_the_chat_adapter() {
    round_trip(AdapterKind::Chat);
}

#[test]
fn typed_outputs_round_trip_through_the_json_adapter() {
    round_trip(AdapterKind::Json);
}

#[test]
fn typed_predict_calls_the_lm_with_typed_inputs_and_outputs() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\n8\n\n[[ ## ok ## ]]\nyes"));
    let cx = RunCx::new().with_lm(lm.clone());
    let predict = Predict::<Typed>::new("count");
    let out =
        block_on(predict.call(&cx, &TypedInput { question: "Legs of a spider?".into(), tags: vec!["bio".into()] }))
            .unwrap();
    assert_eq!((out.answer, out.ok), (8, true));
    let sent = lm.requests()[0].last_user_message().unwrap().to_string();
    assert!(sent.starts_with("[[ ## question ## ]]\nLegs of a spider?\n\n[[ ## tags ## ]]\n[\"bio\"]"), "{sent}");
    assert_eq!(cx.trace()[0].predictor, "count");
}

#[test]
fn a_value_that_does_not_fit_the_rust_type_is_a_parse_error_naming_the_field() {
    let lm = Arc::new(ScriptedLm::new().with_default(
        "[[ ## word ## ]]\nx\n\n[[ ## small ## ]]\n300\n\n[[ ## big ## ]]\n1\n\n[[ ## ratio ## ]]\n1\n\n[[ ## flag ## ]]\nno\n\n\
         [[ ## words ## ]]\n[]\n\n[[ ## matrix ## ]]\n[]\n\n[[ ## counts ## ]]\n{}\n\n[[ ## sorted ## ]]\n{}\n\n\
         [[ ## maybe ## ]]\nNone\n\n[[ ## maybe_num ## ]]\nNone\n\n[[ ## urgency ## ]]\nlow\n\n[[ ## urgencies ## ]]\n[]\n\n\
         [[ ## place ## ]]\n{\"city\": \"X\", \"population\": -1}\n\n[[ ## anything ## ]]\n1\n\n[[ ## renamed_out ## ]]\nz",
    ));
    let err = block_on(
        Predict::<Everything>::new("p").call(&RunCx::new().with_lm(lm), &EverythingInput { text: "t".into() }),
    )
    .unwrap_err();
    let lmc::RunError::Parse { source, .. } = &err else { panic!("expected a parse error, got {err}") };
    assert_eq!(source.invalid_fields(), ["small", "place"], "{source}");
    assert!(source.raw().contains("[[ ## small ## ]]\n300"));
    assert!(err.report().contains("u8"), "{err}");
}

#[test]
fn typed_chain_of_thought_returns_reasoning_and_outputs() {
    let lm = Arc::new(ScriptedLm::new().with_default(
        "[[ ## reasoning ## ]]\nSpiders are arachnids.\n\n[[ ## answer ## ]]\n8\n\n[[ ## ok ## ]]\nTrue",
    ));
    let cx = RunCx::new().with_lm(lm.clone());
    let cot = ChainOfThought::<Typed>::new("count").unwrap().with_demo(
        &TypedInput { question: "Legs of a cat?".into(), tags: vec![] },
        &TypedOutput { answer: 4, ok: true },
        Some("Cats are mammals with four legs."),
    );
    let out = block_on(cot.call(&cx, &TypedInput { question: "Legs of a spider?".into(), tags: vec![] })).unwrap();
    assert_eq!(out.reasoning, "Spiders are arachnids.");
    assert_eq!(out.answer, 8);
    assert_eq!(cot.signature().output_names().collect::<Vec<_>>(), ["reasoning", "answer", "ok"]);
    let demo_turn = &lm.requests()[0].messages[2].content;
    assert!(demo_turn.starts_with("[[ ## reasoning ## ]]\nCats are mammals"), "{demo_turn}");
}

#[test]
fn typed_predictors_are_modules_with_named_predictors() {
    use lmc::Module;
    let p = Predict::<Typed>::new("one");
    let c = ChainOfThought::<Typed>::new("two").unwrap();
    assert_eq!(p.predictors()[0].name(), "one");
    assert_eq!(c.predictors()[0].name(), "two");
}
