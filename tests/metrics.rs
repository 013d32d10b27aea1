use std::sync::Arc;

use lmc::metric::{
    from_spec, from_spec_with_judge, last_number, metric_fn, normalize_text, token_f1, Contains, ExactMatch, JsonValid,
    Judge, Metric, MetricError, MetricSpec, Numeric, SchemaValid, Score, F1, METRIC_NAMES,
};
use lmc::{Example, Lm, LmError, Prediction, RunCx, ScriptedLm, TraceEntry};
use serde_json::{json, Value};

fn gold(value: Value) -> Example {
    Example::from_json(value).unwrap()
}

fn pred(value: Value) -> Prediction {
    Prediction::from_json(value).unwrap()
}

fn run(metric: &dyn Metric, gold: &Example, prediction: &Prediction) -> Result<Score, MetricError> {
    futures::executor::block_on(metric.score(&RunCx::new(), gold, prediction, &[]))
}

/// Scores `predicted` against `expected`, both under `answer`.
fn score(metric: &dyn Metric, expected: impl Into<Value>, predicted: impl Into<Value>) -> Score {
    run(metric, &gold(json!({"answer": expected.into()})), &pred(json!({"answer": predicted.into()}))).unwrap()
}

fn value(metric: &dyn Metric, expected: impl Into<Value>, predicted: impl Into<Value>) -> f64 {
    score(metric, expected, predicted).value
}

fn feedback(score: &Score) -> &str {
    score.feedback.as_deref().unwrap_or("")
}

fn assert_close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

// ---------------------------------------------------------------------------------------
// Score

#[test]
fn score_new_clamps_and_nan_becomes_zero() {
    assert_eq!(Score::new(1.5).value, 1.0);
    assert_eq!(Score::new(-0.5).value, 0.0);
    assert_eq!(Score::new(0.25).value, 0.25);
    assert_eq!(Score::new(f64::NAN).value, 0.0);
    assert!(matches!(Score::try_new(f64::NAN), Err(MetricError::Invalid(_))));
    assert_eq!(Score::try_new(2.0).unwrap().value, 1.0);
    assert_eq!(Score::pass(true), Score { value: 1.0, feedback: None });
    assert_eq!(Score::pass(false).value, 0.0);
}

#[test]
fn score_serializes_without_empty_feedback() {
    assert_eq!(serde_json::to_value(Score::pass(true)).unwrap(), json!({"value": 1.0}));
    let with = Score::new(0.5).with_feedback("half");
    assert_eq!(serde_json::to_value(&with).unwrap(), json!({"value": 0.5, "feedback": "half"}));
    let back: Score = serde_json::from_value(json!({"value": 0.5, "feedback": "half"})).unwrap();
    assert_eq!(back, with);
}

// ---------------------------------------------------------------------------------------
// Text: normalization, exact match, F1, contains

#[test]
fn normalization_follows_squad() {
    let cases = [
        ("The Eiffel Tower", "eiffel tower"),
        ("  Paris.  ", "paris"),
        ("An apple a day", "apple day"),
        ("the theatre and a thesis", "theatre and thesis"),
        ("Hello,   World!\n\tAgain", "hello world again"),
        ("U.S.A.", "usa"),
        ("rock-n-roll", "rocknroll"),
        ("THE", ""),
        ("«the» end", "« » end"),
        ("Ünïcödé CAFÉ", "ünïcödé café"),
        ("", ""),
    ];
    for (text, want) in cases {
        assert_eq!(normalize_text(text), want, "normalizing {text:?}");
    }
}

#[test]
fn exact_match_scores_normalized_equality_with_feedback() {
    let em = ExactMatch::new("answer");
    assert_eq!(value(&em, "The Eiffel Tower", "eiffel tower!"), 1.0);
    assert_eq!(value(&em, "Paris", "  paris. "), 1.0);
    assert_eq!(value(&em, "an apple", "Apple"), 1.0);
    assert_eq!(value(&em, "Paris", "Paris, France"), 0.0);
    let miss = score(&em, "Paris", "London");
    assert_eq!(miss.value, 0.0);
    assert!(feedback(&miss).starts_with("expected `Paris`, got `London`"), "{miss:?}");
    assert_eq!(score(&em, "Paris", "Paris").feedback, None);
    assert_eq!(em.name(), "exact_match");
}

#[test]
fn exact_match_takes_a_gold_list_as_acceptable_answers() {
    let em = ExactMatch::new("answer");
    assert_eq!(value(&em, json!(["NYC", "New York City"]), "new york city"), 1.0);
    assert_eq!(value(&em, json!(["NYC", "New York City"]), "nyc"), 1.0);
    let miss = score(&em, json!(["NYC", "New York City"]), "Boston");
    assert_eq!(miss.value, 0.0);
    assert!(feedback(&miss).starts_with("expected one of `NYC`, `New York City`, got `Boston`"), "{miss:?}");
}

#[test]
fn exact_match_compares_non_string_values_by_text() {
    let em = ExactMatch::new("answer");
    assert_eq!(value(&em, 42, "42"), 1.0);
    assert_eq!(value(&em, "42", 42), 1.0);
    assert_eq!(value(&em, true, "True"), 1.0);
    assert_eq!(value(&em, "yes", Value::Null), 0.0);
}

#[test]
fn f1_of_a_partial_overlap_matches_the_hand_computed_value() {
    let f1 = F1::new("answer");
    // gold tokens: quick brown fox (3); predicted: quick red fox jumps (4); shared: 2.
    // precision 2/4, recall 2/3: F1 = 2·(1/2)(2/3) / (1/2 + 2/3) = 4/7.
    let partial = score(&f1, "The quick brown fox", "a quick red fox jumps");
    assert_close(partial.value, 4.0 / 7.0);
    let text = feedback(&partial);
    assert!(text.starts_with("token F1 0.57 against `quick brown fox`"), "{text}");
    assert!(text.contains("missing: brown"), "{text}");
    assert!(text.contains("extra: red jumps"), "{text}");
    assert_close(token_f1("a quick red fox jumps", "The quick brown fox"), 4.0 / 7.0);
}

#[test]
fn f1_counts_repeated_tokens_once_per_match() {
    let f1 = F1::new("answer");
    // shared 1; precision 1/3, recall 1: F1 = 2·(1/3) / (4/3) = 1/2.
    assert_close(value(&f1, "fox", "fox fox fox"), 0.5);
}

#[test]
fn f1_takes_the_best_gold_and_handles_the_edges() {
    let f1 = F1::new("answer");
    assert_eq!(value(&f1, json!(["red fox", "brown fox"]), "the brown fox"), 1.0);
    assert_close(value(&f1, json!(["red fox", "cat"]), "brown fox"), 0.5);
    assert_eq!(value(&f1, "Paris", "London"), 0.0);
    // Both normalize to no tokens: a match, as in exact match (DSPy scores 0 here).
    assert_eq!(value(&f1, "The", "a"), 1.0);
    assert_eq!(value(&f1, "Paris", ""), 0.0);
    assert_eq!(score(&f1, "Paris", "paris").feedback, None);
}

#[test]
fn contains_finds_the_gold_as_whole_tokens() {
    let contains = Contains::new("answer");
    assert_eq!(value(&contains, "Paris", "The capital of France is Paris."), 1.0);
    assert_eq!(value(&contains, "New York", "I moved to new york last year"), 1.0);
    assert_eq!(value(&contains, json!(["NYC", "Big Apple"]), "they call it the big apple"), 1.0);
    assert_eq!(value(&contains, "4", "42 apples"), 0.0);
    assert_eq!(value(&contains, "York New", "new york"), 0.0);
    let miss = score(&contains, "Paris", "Lyon");
    assert_eq!(feedback(&miss), "expected the answer to contain `Paris`, got `Lyon`");
    // A gold that normalizes to nothing is found only in an empty prediction.
    assert_eq!(value(&contains, "the", "anything"), 0.0);
    assert_eq!(value(&contains, "the", "an"), 1.0);
}

// ---------------------------------------------------------------------------------------
// Numeric

const GSM8K_GOLD: &str = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72";

#[test]
fn numeric_reads_gsm8k_gold_and_the_final_number_of_the_prediction() {
    let numeric = Numeric::new("answer");
    assert_eq!(value(&numeric, GSM8K_GOLD, "The answer is 72."), 1.0);
    assert_eq!(value(&numeric, GSM8K_GOLD, "48 + 24 = 72"), 1.0);
    let wrong = score(&numeric, GSM8K_GOLD, "The answer is 71.");
    assert_eq!(wrong.value, 0.0);
    assert_eq!(feedback(&wrong), "expected 72, got 71");
    // The last number counts, not the first.
    assert_eq!(value(&numeric, "#### 72", "72 is wrong; it is 73"), 0.0);
    assert_eq!(numeric.name(), "numeric");
}

#[test]
fn numeric_handles_commas_dollars_negatives_and_exponents() {
    let numeric = Numeric::new("answer");
    assert_eq!(value(&numeric, "1,234", "It costs $1,234.00 in total."), 1.0);
    assert_eq!(value(&numeric, "$1,234.50", "1234.5"), 1.0);
    assert_eq!(value(&numeric, "1,000,000", "a million: 1000000"), 1.0);
    assert_eq!(value(&numeric, "-3", "The temperature is -3 degrees."), 1.0);
    assert_eq!(value(&numeric, "-3", "it dropped to −3"), 1.0);
    assert_eq!(value(&numeric, "-5", "a loss of -$5"), 1.0);
    let sign = score(&numeric, "-3", "3");
    assert_eq!(feedback(&sign), "expected -3, got 3");
    assert_eq!(value(&numeric, "1000", "1e3"), 1.0);
    assert_eq!(value(&numeric, "0.5", ".5"), 1.0);
    assert_eq!(value(&numeric, 72, json!(72.0)), 1.0);
    assert_eq!(value(&numeric, json!(2.5), "2.5"), 1.0);
}

#[test]
fn numeric_tolerance_is_absolute_near_zero_and_relative_beyond() {
    let exact = Numeric::new("answer");
    assert_eq!(value(&exact, "3.14", "3.14"), 1.0);
    assert_eq!(value(&exact, "3.14", "3.141"), 0.0);
    let loose = Numeric::new("answer").with_tolerance(0.01);
    // |gold| = 100: relative, 1% of 100 = 1.
    assert_eq!(value(&loose, "100", "100.5"), 1.0);
    assert_eq!(value(&loose, "100", "99"), 1.0);
    assert_eq!(value(&loose, "100", "102"), 0.0);
    // |gold| ≤ 1: absolute 0.01.
    assert_eq!(value(&loose, "0.5", "0.505"), 1.0);
    assert_eq!(value(&loose, "0.5", "0.52"), 0.0);
    assert_eq!(feedback(&score(&loose, "0.5", "0.52")), "expected 0.5, got 0.52");
}

#[test]
fn numeric_without_a_number_scores_zero_or_errors_for_the_gold() {
    let numeric = Numeric::new("answer");
    let none = score(&numeric, "#### 42", "I don't know");
    assert_eq!(none.value, 0.0);
    assert_eq!(feedback(&none), "expected 42, but the answer holds no number: `I don't know`");
    let bad_gold = run(&numeric, &gold(json!({"answer": "forty-two"})), &pred(json!({"answer": "42"})));
    match bad_gold {
        Err(MetricError::Invalid(message)) => assert!(message.contains("gold `answer` holds no number"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let bad_tolerance = Numeric::new("answer").with_tolerance(f64::NAN);
    assert!(matches!(
        run(&bad_tolerance, &gold(json!({"answer": 1})), &pred(json!({"answer": 1}))),
        Err(MetricError::Invalid(_))
    ));
}

#[test]
fn last_number_reads_hyphens_and_signs() {
    assert_eq!(last_number("COVID-19"), Some(19.0));
    assert_eq!(last_number("5-3"), Some(3.0));
    assert_eq!(last_number("pages 10-12"), Some(12.0));
    assert_eq!(last_number("owes $-3"), Some(-3.0));
    assert_eq!(last_number("answer: +7"), Some(7.0));
    assert_eq!(last_number("2.5E-4 m"), Some(2.5e-4));
    assert_eq!(last_number("The answer is 42."), Some(42.0));
    assert_eq!(last_number("#### no number\nbut 9 before"), Some(9.0));
    assert_eq!(last_number("1,23"), Some(23.0));
    assert_eq!(last_number(""), None);
    assert_eq!(last_number("e.g. - nothing ."), None);
}

// ---------------------------------------------------------------------------------------
// JSON

#[test]
fn json_valid_accepts_json_text_and_structured_values() {
    let metric = JsonValid::new("answer");
    assert_eq!(value(&metric, "", r#"{"a": [1, 2]}"#), 1.0);
    assert_eq!(value(&metric, "", " 42 "), 1.0);
    assert_eq!(value(&metric, "", json!({"a": 1})), 1.0);
    assert_eq!(value(&metric, "", json!([1, 2])), 1.0);
    let bad = score(&metric, "", "{not json}");
    assert_eq!(bad.value, 0.0);
    assert!(
        feedback(&bad).starts_with("the answer is not valid JSON: key must be a string at line 1 column 2"),
        "{bad:?}"
    );
    let fenced = score(&metric, "", "```json\n{\"a\": 1}\n```");
    assert_eq!(fenced.value, 0.0);
    assert!(feedback(&fenced).contains("code fence"), "{fenced:?}");
}

#[test]
fn json_valid_needs_no_gold() {
    let metric = JsonValid::new("answer");
    assert_eq!(run(&metric, &Example::new(), &pred(json!({"answer": "[]"}))).unwrap().value, 1.0);
}

fn person_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Person",
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "age": {"type": "integer", "minimum": 0},
            "role": {"enum": ["admin", "user"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "email": {"type": ["string", "null"]},
            "address": {"$ref": "#/$defs/Address"}
        },
        "required": ["name", "age"],
        "additionalProperties": false,
        "$defs": {
            "Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    })
}

#[test]
fn schema_valid_accepts_fitting_values_as_text_or_structure() {
    let metric = SchemaValid::new("answer", person_schema()).unwrap();
    let ok = json!({"name": "Ada", "age": 36, "role": "admin", "tags": ["math"], "email": null, "address": {"city": "London"}});
    assert_eq!(value(&metric, "", ok.clone()), 1.0);
    assert_eq!(value(&metric, "", ok.to_string()), 1.0);
    assert_eq!(value(&metric, "", json!({"name": "Ada", "age": 36.0})), 1.0, "36.0 is an integer");
    assert_eq!(metric.name(), "schema_valid");
}

#[test]
fn schema_valid_lists_the_violations_by_path() {
    let metric = SchemaValid::new("answer", person_schema()).unwrap();
    let cases = [
        (json!({"age": 3}), "$: missing required property `name`"),
        (
            json!({"name": "Ada", "age": 3, "extra": 1}),
            "$: unexpected property `extra` (allowed: name, age, role, tags, email, address)",
        ),
        (json!({"name": "Ada", "age": 2.5}), "$.age: expected integer, got number 2.5"),
        (json!({"name": "Ada", "age": -1}), "$.age: -1 is less than the minimum 0"),
        (json!({"name": "Ada", "age": 1, "role": "root"}), r#"$.role: "root" is not one of "admin", "user""#),
        (json!({"name": "Ada", "age": 1, "tags": ["a", 3]}), "$.tags[1]: expected string, got integer 3"),
        (json!({"name": "Ada", "age": 1, "tags": ["a", "b", "c", "d"]}), "$.tags: 4 items, more than the maximum 3"),
        (json!({"name": "", "age": 1}), "$.name: the text has 0 characters, fewer than the minimum 1"),
        (json!({"name": "Ada", "age": 1, "address": {}}), "$.address: missing required property `city`"),
        (json!([1]), "$: expected object, got array [1]"),
    ];
    for (bad, want) in cases {
        let got = score(&metric, "", bad.clone());
        assert_eq!(got.value, 0.0, "{bad}");
        assert_eq!(feedback(&got), want, "{bad}");
    }
    let text = score(&metric, "", "name: Ada");
    assert!(feedback(&text).starts_with("the answer is not valid JSON"), "{text:?}");
}

#[test]
fn schema_valid_checks_text_schemas_combinators_and_consts() {
    let short = SchemaValid::new("answer", json!({"type": "string", "maxLength": 3})).unwrap();
    assert_eq!(value(&short, "", "abc"), 1.0);
    assert_eq!(feedback(&score(&short, "", "hello")), "$: the text has 5 characters, more than the maximum 3");
    let one = SchemaValid::new("answer", json!({"const": 1})).unwrap();
    assert_eq!(value(&one, "", json!(1.0)), 1.0);
    assert_eq!(value(&one, "", json!(2)), 0.0);
    let either = SchemaValid::new("answer", json!({"anyOf": [{"type": "integer"}, {"type": "boolean"}]})).unwrap();
    assert_eq!(value(&either, "", json!(true)), 1.0);
    assert!(feedback(&score(&either, "", json!([]))).starts_with("$: fits none of the anyOf alternatives"));
    let exactly = SchemaValid::new("answer", json!({"oneOf": [{"type": "number"}, {"type": "integer"}]})).unwrap();
    assert_eq!(value(&exactly, "", json!(1.5)), 1.0);
    assert_eq!(feedback(&score(&exactly, "", json!(1))), "$: fits 2 of the oneOf alternatives; exactly one must fit");
    let nothing = SchemaValid::new("answer", json!(false)).unwrap();
    assert_eq!(value(&nothing, "", json!(1)), 0.0);
}

#[test]
fn schema_valid_rejects_unsupported_or_broken_schemas() {
    for (schema, needle) in [
        (json!({"type": "string", "pattern": "^a"}), "keyword `pattern`"),
        (json!({"type": "strng"}), "unknown type"),
        (json!({"properties": {"a": {"$ref": "#/$defs/Missing"}}}), "does not resolve"),
        (json!({"items": [{"type": "string"}]}), "tuple validation"),
        (json!({"required": "name"}), "a list of property names"),
        (json!("object"), "must be an object or a boolean"),
    ] {
        match SchemaValid::new("answer", schema.clone()) {
            Err(MetricError::Invalid(message)) => assert!(message.contains(needle), "{schema}: {message}"),
            other => panic!("{schema}: expected Invalid, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Missing fields

#[test]
fn missing_gold_or_prediction_fields_are_metric_errors() {
    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(ExactMatch::new("answer")),
        Box::new(F1::new("answer")),
        Box::new(Contains::new("answer")),
        Box::new(Numeric::new("answer")),
    ];
    for metric in &metrics {
        let no_gold = run(metric, &gold(json!({"question": "q"})), &pred(json!({"answer": "1"})));
        assert!(
            matches!(&no_gold, Err(MetricError::MissingGold { field }) if field == "answer"),
            "{}: {no_gold:?}",
            metric.name()
        );
        let null_gold = run(metric, &gold(json!({"answer": null})), &pred(json!({"answer": "1"})));
        assert!(matches!(null_gold, Err(MetricError::MissingGold { .. })), "{}", metric.name());
        let no_pred = run(metric, &gold(json!({"answer": "1"})), &pred(json!({"reasoning": "..."})));
        assert!(
            matches!(&no_pred, Err(MetricError::MissingPrediction { field }) if field == "answer"),
            "{}: {no_pred:?}",
            metric.name()
        );
    }
    for metric in [&JsonValid::new("answer") as &dyn Metric, &SchemaValid::new("answer", json!({})).unwrap()] {
        let no_pred = run(metric, &Example::new(), &pred(json!({"other": 1})));
        assert!(matches!(no_pred, Err(MetricError::MissingPrediction { .. })), "{}", metric.name());
    }
    let message = MetricError::MissingGold { field: "answer".into() }.to_string();
    assert!(message.contains("add a `answer` label"), "{message}");
    let message = MetricError::MissingPrediction { field: "answer".into() }.to_string();
    assert!(message.contains("outputs `answer`"), "{message}");
    let empty_list = run(&ExactMatch::new("answer"), &gold(json!({"answer": []})), &pred(json!({"answer": "x"})));
    assert!(matches!(empty_list, Err(MetricError::Invalid(m)) if m.contains("empty list")));
}

// ---------------------------------------------------------------------------------------
// Closures

#[test]
fn closures_are_metrics_returning_scores_bools_floats_or_results() {
    let g = gold(json!({"answer": "yes"}));
    let p = pred(json!({"answer": "yes"}));
    let scored =
        metric_fn("scored", |_: &Example, _: &Prediction, _: &[TraceEntry]| Score::new(0.25).with_feedback("meh"));
    assert_eq!(run(&scored, &g, &p).unwrap(), Score { value: 0.25, feedback: Some("meh".into()) });
    let same = metric_fn("same", |g: &Example, p: &Prediction, _: &[TraceEntry]| g.get("answer") == p.get("answer"));
    assert_eq!(run(&same, &g, &p).unwrap().value, 1.0);
    assert_eq!(same.name(), "same");
    let float = metric_fn("float", |_: &Example, _: &Prediction, _: &[TraceEntry]| 1.5);
    assert_eq!(run(&float, &g, &p).unwrap().value, 1.0);
    let nan = metric_fn("nan", |_: &Example, _: &Prediction, _: &[TraceEntry]| f64::NAN);
    assert!(matches!(run(&nan, &g, &p), Err(MetricError::Invalid(_))));
    let failing = metric_fn("failing", |_: &Example, _: &Prediction, _: &[TraceEntry]| -> Result<Score, MetricError> {
        Err(MetricError::MissingGold { field: "label".into() })
    });
    assert!(matches!(run(&failing, &g, &p), Err(MetricError::MissingGold { .. })));
    // Boxed and shared closures are metrics too.
    let boxed: Box<dyn Metric> = Box::new(same);
    let shared: Arc<dyn Metric> = Arc::new(float);
    assert_eq!(run(&boxed, &g, &p).unwrap().value, 1.0);
    assert_eq!(shared.name(), "float");
}

#[test]
fn closure_metrics_see_the_trace() {
    let calls = metric_fn("few_calls", |_: &Example, _: &Prediction, trace: &[TraceEntry]| trace.len() <= 1);
    let cx = RunCx::new()
        .with_lm(Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]")));
    let predict = lmc::Predict::new("qa", lmc::Signature::parse("question -> answer").unwrap());
    let inputs = gold(json!({"question": "q"}));
    for _ in 0..2 {
        futures::executor::block_on(lmc::Module::forward(&predict, &cx, &inputs)).unwrap();
    }
    let trace = cx.trace();
    let p = pred(json!({"answer": "ok"}));
    let judge = RunCx::new();
    assert_eq!(futures::executor::block_on(calls.score(&judge, &inputs, &p, &trace[..1])).unwrap().value, 1.0);
    assert_eq!(futures::executor::block_on(calls.score(&judge, &inputs, &p, &trace)).unwrap().value, 0.0);
}

// ---------------------------------------------------------------------------------------
// Registry

#[test]
fn the_registry_builds_every_metric_by_name() {
    let lm: Arc<dyn Lm> = Arc::new(ScriptedLm::new());
    for name in METRIC_NAMES {
        let mut spec = MetricSpec::new(*name, "answer");
        if *name == "schema_valid" {
            spec = spec.with_schema(json!({"type": "object"}));
        }
        if *name == "regex" {
            spec.pattern = Some(r"\d+".into());
        }
        match from_spec_with_judge(&spec, Some(lm.clone())) {
            Ok(metric) => assert_eq!(metric.name(), *name),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(from_spec(&MetricSpec::new("em", "answer")).unwrap().name(), "exact_match");
    assert_eq!(from_spec(&MetricSpec::new("Exact-Match", "answer")).unwrap().name(), "exact_match");
    let numeric = from_spec(&MetricSpec::new("numeric", "answer").with_tolerance(0.01)).unwrap();
    assert_eq!(value(&numeric, "100", "100.5"), 1.0);
}

#[test]
fn the_registry_explains_bad_specs() {
    let unknown = from_spec(&MetricSpec::new("bleu", "answer")).err().unwrap().to_string();
    assert!(unknown.starts_with("unknown metric `bleu`"), "{unknown}");
    for name in METRIC_NAMES {
        assert!(unknown.contains(name), "{unknown} should list {name}");
    }
    let judge = from_spec(&MetricSpec::new("judge", "answer")).err().unwrap().to_string();
    assert!(judge.contains("--judge-lm"), "{judge}");
    let misplaced = from_spec(&MetricSpec::new("f1", "answer").with_tolerance(0.1)).err().unwrap().to_string();
    assert!(misplaced.contains("`tolerance` is an option of the `numeric` metric, not of `f1`"), "{misplaced}");
    let no_schema = from_spec(&MetricSpec::new("schema_valid", "answer")).err().unwrap().to_string();
    assert!(no_schema.contains("needs a `schema`"), "{no_schema}");
    let bad_schema =
        from_spec(&MetricSpec::new("schema_valid", "answer").with_schema(json!({"not": {}}))).err().unwrap();
    assert!(bad_schema.to_string().contains("keyword `not`"), "{bad_schema}");
    let negative = from_spec(&MetricSpec::new("numeric", "answer").with_tolerance(-1.0)).err().unwrap().to_string();
    assert!(negative.contains("tolerance must be a finite number"), "{negative}");
    let no_field = from_spec(&MetricSpec::new("f1", " ")).err().unwrap().to_string();
    assert!(no_field.contains("needs a `field`"), "{no_field}");
}

#[test]
fn metric_specs_deserialize_strictly() {
    let spec: MetricSpec =
        serde_json::from_value(json!({"name": "schema_valid", "field": "out", "schema": {"type": "array"}})).unwrap();
    assert_eq!(spec, MetricSpec::new("schema_valid", "out").with_schema(json!({"type": "array"})));
    let typo = serde_json::from_value::<MetricSpec>(json!({"name": "numeric", "field": "a", "tolerence": 0.1}));
    assert!(typo.unwrap_err().to_string().contains("unknown field `tolerence`"));
    let round = serde_json::to_value(MetricSpec::new("f1", "answer")).unwrap();
    assert_eq!(round, json!({"name": "f1", "field": "answer"}));
}

#[test]
fn metric_specs_read_from_an_eval_files_toml_table() {
    let spec: MetricSpec =
        toml::from_str("name = \"schema_valid\"\nfield = \"out\"\n[schema]\ntype = \"object\"\nrequired = [\"id\"]\n")
            .unwrap();
    assert_eq!(spec.schema, Some(json!({"type": "object", "required": ["id"]})));
    let metric = from_spec(&spec).unwrap();
    assert_eq!(run(&metric, &Example::new(), &pred(json!({"out": {"id": 1}}))).unwrap().value, 1.0);
    assert!(matches!(
        run(&metric, &Example::new(), &pred(json!({"answer": {}}))),
        Err(MetricError::MissingPrediction { .. })
    ));
    let numeric: MetricSpec = toml::from_str("name = \"numeric\"\nfield = \"answer\"\ntolerance = 0\n").unwrap();
    assert_eq!(numeric.tolerance, Some(0.0));
}

// ---------------------------------------------------------------------------------------
// The LLM judge

const JUDGE_YES: &str =
    "[[ ## correct ## ]]\nTrue\n\n[[ ## rationale ## ]]\nBoth answers name Paris.\n\n[[ ## completed ## ]]";

fn qa_gold() -> Example {
    gold(json!({"question": "What is the capital of France?", "answer": "Paris", "source": "wiki"}))
        .with_inputs(["question"])
}

#[test]
fn the_judge_scores_its_verdict_with_the_rationale_as_feedback() {
    let lm = Arc::new(ScriptedLm::new().with_default(JUDGE_YES));
    let judge = Judge::new("answer", lm.clone());
    let judge_cx = RunCx::new();
    let got =
        futures::executor::block_on(judge.score(&judge_cx, &qa_gold(), &pred(json!({"answer": "It's Paris."})), &[]))
            .unwrap();
    assert_eq!(got, Score { value: 1.0, feedback: Some("Both answers name Paris.".into()) });
    // The judge saw the inputs (only the marked ones), the gold and the prediction.
    let requests = lm.requests();
    assert_eq!(requests.len(), 1);
    let user = requests[0].last_user_message().unwrap();
    assert!(user.contains("[[ ## inputs ## ]]\nquestion: What is the capital of France?"), "{user}");
    assert!(user.contains("[[ ## gold ## ]]\nParis"), "{user}");
    assert!(user.contains("[[ ## prediction ## ]]\nIt's Paris."), "{user}");
    assert!(!user.contains("wiki"), "{user}");
    assert_eq!(judge.name(), "judge");
}

#[test]
fn the_judge_says_no_with_its_reason() {
    let lm = Arc::new(ScriptedLm::new().with_default(
        "[[ ## rationale ## ]]\nThe gold says Paris; the answer says Lyon.\n\n[[ ## correct ## ]]\nFalse\n\n[[ ## completed ## ]]",
    ));
    let judge = Judge::new("answer", lm);
    let got =
        futures::executor::block_on(judge.score(&RunCx::new(), &qa_gold(), &pred(json!({"answer": "Lyon"})), &[]))
            .unwrap();
    assert_eq!(got.value, 0.0);
    assert_eq!(feedback(&got), "The gold says Paris; the answer says Lyon.");
}

#[test]
fn the_judges_calls_are_judge_cost_not_program_cost() {
    let judge_lm = Arc::new(ScriptedLm::new().with_model("judge-model").with_default(JUDGE_YES));
    // The program's context and the judge's: the judge uses its own LM, whatever the
    // context's default LM is, and records only in the judge context.
    let program_lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"));
    let program_cx = RunCx::new().with_lm(program_lm.clone());
    let judge_cx = program_cx.fork();
    let judge = from_spec_with_judge(&MetricSpec::new("judge", "answer"), Some(judge_lm.clone())).unwrap();

    let predict = lmc::Predict::new("qa", lmc::Signature::parse("question -> answer").unwrap());
    let example = qa_gold();
    let prediction = futures::executor::block_on(lmc::Module::forward(&predict, &program_cx, &example)).unwrap();
    let trace = program_cx.trace();
    let got = futures::executor::block_on(judge.score(&judge_cx, &example, &prediction, &trace)).unwrap();
    assert_eq!(got.value, 1.0);

    assert_eq!(program_cx.totals().calls, 1);
    assert_eq!(program_cx.trace()[0].predictor, "qa");
    assert_eq!(program_lm.requests().len(), 1);
    let judge_trace = judge_cx.trace();
    assert_eq!(judge_trace.len(), 1);
    assert_eq!(judge_trace[0].predictor, Judge::PREDICTOR);
    assert_eq!(judge_trace[0].lm.model, "judge-model");
    assert_eq!(judge_cx.totals().calls, 1);
    assert!(judge_cx.totals().usage.input_tokens > 0);
    assert_eq!(judge_lm.requests().len(), 1);
}

#[test]
fn judge_failures_are_metric_errors() {
    let unparsable = Judge::new("answer", Arc::new(ScriptedLm::new().with_default("Looks right to me!")));
    let judge_cx = RunCx::new();
    let err =
        futures::executor::block_on(unparsable.score(&judge_cx, &qa_gold(), &pred(json!({"answer": "Paris"})), &[]))
            .unwrap_err();
    assert!(matches!(err, MetricError::Judge(_)), "{err:?}");
    assert!(err.to_string().starts_with("the LLM judge failed: predictor `judge`"), "{err}");
    // The failed call still counts as judge cost.
    assert_eq!(judge_cx.totals().calls, 1);

    let not_bool = Judge::new(
        "answer",
        Arc::new(
            ScriptedLm::new()
                .with_default("[[ ## rationale ## ]]\nhm\n\n[[ ## correct ## ]]\nmaybe\n\n[[ ## completed ## ]]"),
        ),
    );
    let err =
        futures::executor::block_on(not_bool.score(&RunCx::new(), &qa_gold(), &pred(json!({"answer": "Paris"})), &[]))
            .unwrap_err();
    assert!(matches!(err, MetricError::Judge(_)), "{err:?}");

    let down = Judge::new(
        "answer",
        Arc::new(ScriptedLm::new().with_reply(lmc::lm::ScriptedReply::Error(LmError::Script("down".into())))),
    );
    let err =
        futures::executor::block_on(down.score(&RunCx::new(), &qa_gold(), &pred(json!({"answer": "Paris"})), &[]))
            .unwrap_err();
    assert!(matches!(err, MetricError::Judge(_)), "{err:?}");
}

#[test]
fn the_judge_checks_fields_before_calling_its_lm() {
    let lm = Arc::new(ScriptedLm::new().with_default(JUDGE_YES));
    let judge = Judge::new("answer", lm.clone());
    let no_gold = futures::executor::block_on(judge.score(
        &RunCx::new(),
        &gold(json!({"question": "q"})),
        &pred(json!({"answer": "x"})),
        &[],
    ));
    assert!(matches!(no_gold, Err(MetricError::MissingGold { .. })));
    let no_pred = futures::executor::block_on(judge.score(&RunCx::new(), &qa_gold(), &pred(json!({})), &[]));
    assert!(matches!(no_pred, Err(MetricError::MissingPrediction { .. })));
    assert!(lm.requests().is_empty());
}

#[test]
fn judge_instructions_from_a_spec_replace_the_default_criteria() {
    let lm = Arc::new(ScriptedLm::new().with_default(JUDGE_YES));
    let spec = MetricSpec::new("judge", "answer").with_instructions("Accept any answer naming the right city.");
    let judge = from_spec_with_judge(&spec, Some(lm.clone())).unwrap();
    futures::executor::block_on(judge.score(&RunCx::new(), &qa_gold(), &pred(json!({"answer": "Paris"})), &[]))
        .unwrap();
    let system = &lm.requests()[0].messages[0].content;
    assert!(system.contains("Accept any answer naming the right city."), "{system}");
    // Without a marked input, every field but the scored one is an input to the judge.
    let unmarked = gold(json!({"question": "q?", "answer": "Paris"}));
    futures::executor::block_on(judge.score(&RunCx::new(), &unmarked, &pred(json!({"answer": "Paris"})), &[])).unwrap();
    let user = lm.requests()[1].last_user_message().unwrap().to_string();
    assert!(user.contains("[[ ## inputs ## ]]\nquestion: q?\n"), "{user}");
}

#[test]
fn regex_checks_the_prediction_format() {
    use lmc::metric::{from_spec, MetricSpec};
    let spec: MetricSpec = serde_json::from_value(
        serde_json::json!({"name": "regex", "field": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
    )
    .unwrap();
    let metric = from_spec(&spec).unwrap();
    let gold = lmc::Example::new();
    let cx = lmc::RunCx::new();
    let ok = lmc::Prediction::from_json(serde_json::json!({"date": "2026-11-21"})).unwrap();
    let bad = lmc::Prediction::from_json(serde_json::json!({"date": "21 Nov 2026"})).unwrap();
    let run = |p: &lmc::Prediction| futures::executor::block_on(metric.score(&cx, &gold, p, &[])).unwrap();
    assert_eq!(run(&ok).value, 1.0);
    let miss = run(&bad);
    assert_eq!(miss.value, 0.0);
    assert!(miss.feedback.unwrap().contains("does not match"));
    let no_pattern: MetricSpec = serde_json::from_value(serde_json::json!({"name": "regex", "field": "date"})).unwrap();
    assert!(from_spec(&no_pattern).err().unwrap().to_string().contains("needs `pattern"));
    let broken: MetricSpec =
        serde_json::from_value(serde_json::json!({"name": "regex", "field": "d", "pattern": "("})).unwrap();
    assert!(from_spec(&broken).err().unwrap().to_string().contains("not a valid regular expression"));
}
