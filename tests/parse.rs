use std::sync::mpsc;
use std::time::Duration;

use lmc::{Adapter, AdapterKind, ChatAdapter, Example, Fields, JsonAdapter, ParseError, ParseProblem, Role, Signature};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use crate::support::fields;

fn sig(text: &str) -> Signature {
    Signature::parse(text).unwrap()
}

/// A chat reply with the given sections, in order, and the completed marker.
fn chat_reply(sections: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in sections {
        out.push_str(&format!("[[ ## {name} ## ]]\n{value}\n\n"));
    }
    out.push_str("[[ ## completed ## ]]");
    out
}

/// Parses `text` as the chat section of `answer: ty`.
fn chat_value(ty: &str, text: &str) -> Result<Value, Box<ParseError>> {
    let sig = sig(&format!("question -> answer: {ty}"));
    ChatAdapter.parse(&sig, &chat_reply(&[("answer", text)])).map(|mut f| f.remove("answer").unwrap()).map_err(Box::new)
}

/// Parses `{"answer": value}` with the JSON adapter for `answer: ty`.
fn json_value(ty: &str, value: Value) -> Result<Value, Box<ParseError>> {
    let sig = sig(&format!("question -> answer: {ty}"));
    let mut reply = Map::new();
    reply.insert("answer".into(), value);
    JsonAdapter
        .parse(&sig, &Value::Object(reply).to_string())
        .map(|mut f| f.remove("answer").unwrap())
        .map_err(Box::new)
}

fn chat_ok(ty: &str, text: &str) -> Value {
    chat_value(ty, text).unwrap_or_else(|e| panic!("{ty}: {text:?} should parse: {e}"))
}

fn json_ok(ty: &str, value: Value) -> Value {
    let shown = value.to_string();
    json_value(ty, value).unwrap_or_else(|e| panic!("{ty}: {shown} should parse: {e}"))
}

/// Asserts that the value is refused as invalid (not missing) for `answer`, and returns the error.
fn assert_invalid(result: Result<Value, Box<ParseError>>, what: &str) -> Box<ParseError> {
    match result {
        Ok(v) => panic!("{what} should be refused, parsed to {v}"),
        Err(e) => {
            assert_eq!(e.invalid_fields(), ["answer"], "{what}: {e}");
            assert!(e.missing_fields().is_empty(), "{what}: {e}");
            e
        }
    }
}

fn chat_bad(ty: &str, text: &str) -> Box<ParseError> {
    assert_invalid(chat_value(ty, text), &format!("chat {ty}: {text:?}"))
}

fn json_bad(ty: &str, value: Value) -> Box<ParseError> {
    let what = format!("json {ty}: {value}");
    assert_invalid(json_value(ty, value), &what)
}

fn names(map: &Fields) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// Every field type, valid replies
// ---------------------------------------------------------------------------------------------

#[test]
fn str_outputs_keep_the_text_stripped_at_the_edges() {
    assert_eq!(chat_ok("str", "  hello world  "), json!("hello world"));
    assert_eq!(chat_ok("str", "line one\n  line two"), json!("line one\n  line two"));
    assert_eq!(chat_ok("str", "42"), json!("42"));
    assert_eq!(chat_ok("str", "None"), json!("None"));
    assert_eq!(chat_ok("str", "[1, 2]"), json!("[1, 2]"));
    // An untyped output is a str.
    let parsed = ChatAdapter.parse(&sig("q -> answer"), &chat_reply(&[("answer", "7")])).unwrap();
    assert_eq!(parsed["answer"], json!("7"));
}

#[test]
fn str_outputs_from_json_render_other_values_as_python_does() {
    assert_eq!(json_ok("str", json!("hi")), json!("hi"));
    assert_eq!(json_ok("str", json!("  padded  ")), json!("  padded  "));
    assert_eq!(json_ok("str", json!(42)), json!("42"));
    assert_eq!(json_ok("str", json!(1.5)), json!("1.5"));
    assert_eq!(json_ok("str", json!(2.0)), json!("2.0"));
    assert_eq!(json_ok("str", json!(true)), json!("True"));
    assert_eq!(json_ok("str", json!(null)), json!("None"));
    assert_eq!(json_ok("str", json!(["a", 1, false])), json!("['a', 1, False]"));
    assert_eq!(json_ok("str", json!({"k": true})), json!("{'k': True}"));
}

#[test]
fn int_outputs_coerce_from_chat_text() {
    for (text, want) in [
        ("42", 42),
        (" 42 ", 42),
        ("42.0", 42),
        ("-7", -7),
        ("+5", 5),
        ("'42'", 42),
        ("\"42\"", 42),
        ("1e3", 1000),
        ("0", 0),
        ("-9223372036854775808", i64::MIN),
    ] {
        let got = chat_ok("int", text);
        assert_eq!(got, json!(want), "{text:?}");
        assert!(got.is_i64(), "{text:?} should be an integer, got {got}");
    }
    assert_eq!(chat_ok("int", "18446744073709551615"), json!(u64::MAX));
}

#[test]
fn int_outputs_refuse_what_would_be_a_guess() {
    for text in ["42.5", "forty-two", "", "4 2", "inf", "NaN", "1e400", "0x10", "42 apples", "True"] {
        let e = chat_bad("int", text);
        assert!(e.to_string().contains("an integer"), "{text:?}: {e}");
    }
}

#[test]
fn int_outputs_coerce_from_json_values() {
    for value in [json!(42), json!("42"), json!(" 42 "), json!(42.0), json!("42.0")] {
        let got = json_ok("int", value.clone());
        assert_eq!(got, json!(42), "{value}");
        assert!(got.is_i64(), "{value}");
    }
    for value in [json!(42.5), json!(true), json!([42]), json!("abc"), json!(null), json!({"n": 1})] {
        json_bad("int", value);
    }
}

#[test]
fn float_outputs_are_json_floats() {
    for (text, want) in [("3.25", 3.25), ("42", 42.0), ("-0.5", -0.5), ("1e-05", 1e-5), ("1e+16", 1e16), ("'2.5'", 2.5)]
    {
        let got = chat_ok("float", text);
        assert!(got.is_f64(), "{text:?} should be a float, got {got}");
        assert_eq!(got.as_f64(), Some(want), "{text:?}");
    }
    for text in ["abc", "inf", "-inf", "NaN", "1.2.3", "", "3,5"] {
        let e = chat_bad("float", text);
        assert!(e.to_string().contains("a number"), "{text:?}: {e}");
    }
}

#[test]
fn float_outputs_coerce_from_json_values() {
    let got = json_ok("float", json!(42));
    assert!(got.is_f64(), "an integer becomes a float: {got}");
    assert_eq!(got.as_f64(), Some(42.0));
    assert_eq!(json_ok("float", json!(2.5)), json!(2.5));
    assert_eq!(json_ok("float", json!("2.5")), json!(2.5));
    for value in [json!("x"), json!(true), json!(null), json!([1.0])] {
        json_bad("float", value);
    }
}

#[test]
fn bool_outputs_accept_pydantic_spellings() {
    for text in ["True", "true", "TRUE", "yes", "Y", "on", "1", "t", "'True'", "\"true\""] {
        assert_eq!(chat_ok("bool", text), json!(true), "{text:?}");
    }
    for text in ["False", "false", "no", "N", "off", "0", "f", "'False'"] {
        assert_eq!(chat_ok("bool", text), json!(false), "{text:?}");
    }
    for text in ["maybe", "2", "", "True!", "truthy"] {
        let e = chat_bad("bool", text);
        assert!(e.to_string().contains("True or False"), "{text:?}: {e}");
    }
}

#[test]
fn bool_outputs_coerce_from_json_values() {
    for (value, want) in [
        (json!(true), true),
        (json!(false), false),
        (json!("True"), true),
        (json!("yes"), true),
        (json!("no"), false),
        (json!(1), true),
        (json!(0), false),
    ] {
        assert_eq!(json_ok("bool", value.clone()), json!(want), "{value}");
    }
    for value in [json!(2), json!("maybe"), json!(null), json!([true])] {
        json_bad("bool", value);
    }
}

#[test]
fn list_of_str_outputs_read_json_and_python_lists() {
    for text in [
        "[\"a\", \"b\"]",
        "['a', 'b']",
        "['a', 'b',]",
        "```json\n[\"a\", \"b\"]\n```",
        "```\n['a', 'b']\n```",
        "[ \"a\" ,\n  \"b\" ]",
    ] {
        assert_eq!(chat_ok("list[str]", text), json!(["a", "b"]), "{text:?}");
    }
    assert_eq!(chat_ok("list[str]", "[]"), json!([]));
    assert_eq!(chat_ok("list[str]", "[1, 2.5, true]"), json!(["1", "2.5", "True"]));
    for text in ["a, b", "{\"a\": 1}", "\"a\"", "[\"a\"", ""] {
        let e = chat_bad("list[str]", text);
        assert!(e.to_string().contains("list[str]"), "{text:?}: {e}");
    }
}

#[test]
fn list_of_str_outputs_from_json() {
    assert_eq!(json_ok("list[str]", json!(["a", "b"])), json!(["a", "b"]));
    assert_eq!(json_ok("list[str]", json!("['a', 'b']")), json!(["a", "b"]));
    assert_eq!(json_ok("list[str]", json!([])), json!([]));
    json_bad("list[str]", json!("a"));
    json_bad("list[str]", json!({"a": "b"}));
}

#[test]
fn list_of_int_outputs_coerce_each_item() {
    assert_eq!(chat_ok("list[int]", "[1, 2, 3]"), json!([1, 2, 3]));
    assert_eq!(chat_ok("list[int]", "[1, \"2\", 3.0]"), json!([1, 2, 3]));
    assert_eq!(chat_ok("list[int]", "```json\n[-1, 0]\n```"), json!([-1, 0]));
    let e = chat_bad("list[int]", "[1, \"x\"]");
    assert!(e.to_string().contains("item 1"), "{e}");
    chat_bad("list[int]", "[1.5]");
    assert_eq!(json_ok("list[int]", json!([1, "2"])), json!([1, 2]));
    json_bad("list[int]", json!([1, null]));
}

#[test]
fn list_of_float_outputs_are_floats() {
    let got = chat_ok("list[float]", "[1, 2.5, '3']");
    assert_eq!(got, json!([1.0, 2.5, 3.0]));
    assert!(got.as_array().unwrap().iter().all(Value::is_f64), "{got}");
    assert_eq!(json_ok("list[float]", json!([0.1, 3])), json!([0.1, 3.0]));
    chat_bad("list[float]", "[1, 'x']");
}

#[test]
fn dict_outputs_read_json_and_python_dicts_in_order() {
    for text in
        ["{\"b\": 1, \"a\": 2}", "{'b': 1, 'a': 2}", "```json\n{\"b\": 1, \"a\": 2}\n```", "{'b': '1', 'a': 2.0,}"]
    {
        let got = chat_ok("dict[str, int]", text);
        assert_eq!(got, json!({"b": 1, "a": 2}), "{text:?}");
        assert_eq!(got.as_object().unwrap().keys().collect::<Vec<_>>(), ["b", "a"], "{text:?}");
    }
    assert_eq!(chat_ok("dict[str, int]", "{}"), json!({}));
    let e = chat_bad("dict[str, int]", "{\"a\": \"x\"}");
    assert!(e.to_string().contains("key \"a\""), "{e}");
    chat_bad("dict[str, int]", "[1]");
    chat_bad("dict[str, int]", "a: 1");
    assert_eq!(json_ok("dict[str, int]", json!({"k": 1})), json!({"k": 1}));
    assert_eq!(json_ok("dict[str, int]", json!("{'k': 1}")), json!({"k": 1}));
    json_bad("dict[str, int]", json!({"k": [1]}));
}

#[test]
fn literal_str_outputs_accept_dspy_spellings() {
    let ty = "Literal['a', 'b']";
    for (text, want) in [
        ("a", "a"),
        ("b", "b"),
        ("'a'", "a"),
        ("\"b\"", "b"),
        ("Literal['a']", "a"),
        ("Literal[\"b\"]", "b"),
        ("str[a]", "a"),
    ] {
        assert_eq!(chat_ok(ty, text), json!(want), "{text:?}");
    }
    for text in ["A", "c", "Literal['c']", "a or b", ""] {
        let e = chat_bad(ty, text);
        assert!(e.to_string().contains("one of: a; b"), "{text:?}: {e}");
    }
    assert_eq!(json_ok(ty, json!("a")), json!("a"));
    assert_eq!(json_ok(ty, json!(" b ")), json!("b"));
    assert_eq!(json_ok(ty, json!("Literal['b']")), json!("b"));
    json_bad(ty, json!("c"));
    json_bad(ty, json!(1));
}

#[test]
fn literal_int_outputs_are_integers() {
    let ty = "Literal[1, 2]";
    for (text, want) in [("1", 1), ("2", 2), ("'1'", 1), ("Literal[2]", 2), ("\"2\"", 2)] {
        let got = chat_ok(ty, text);
        assert_eq!(got, json!(want), "{text:?}");
        assert!(got.is_i64(), "{text:?} should be an integer label, got {got}");
    }
    for text in ["3", "one", "1.5"] {
        let e = chat_bad(ty, text);
        assert!(e.to_string().contains("one of: 1; 2"), "{text:?}: {e}");
    }
    assert_eq!(json_ok(ty, json!(1)), json!(1));
    assert_eq!(json_ok(ty, json!("2")), json!(2));
    json_bad(ty, json!(3));
    json_bad(ty, json!("a"));
}

#[test]
fn literal_bool_outputs_are_booleans() {
    assert_eq!(chat_ok("Literal[True, False]", "True"), json!(true));
    assert_eq!(chat_ok("Literal[True]", "true"), json!(true));
    chat_bad("Literal[True]", "False");
}

#[test]
fn optional_int_outputs_accept_none() {
    let ty = "Optional[int]";
    assert_eq!(chat_ok(ty, "5"), json!(5));
    for text in ["None", "null", "none", "'None'"] {
        assert_eq!(chat_ok(ty, text), Value::Null, "{text:?}");
    }
    let e = chat_bad(ty, "abc");
    assert!(e.to_string().contains("an integer or None"), "{e}");
    assert_eq!(chat_ok("int | None", "7"), json!(7));
    assert_eq!(json_ok(ty, json!(null)), Value::Null);
    assert_eq!(json_ok(ty, json!(5)), json!(5));
    assert_eq!(json_ok(ty, json!("5")), json!(5));
    assert_eq!(json_ok(ty, json!("None")), Value::Null);
    json_bad(ty, json!("five"));
}

#[test]
fn optional_str_outputs_read_exactly_none_or_null_as_absent() {
    // DSPy keeps the text "None" for `Optional[str]`; lmc reads the exact words `None` and
    // `null` (how a missing value renders) as absent, and keeps any other text.
    let ty = "Optional[str]";
    assert_eq!(chat_ok(ty, "None"), Value::Null);
    assert_eq!(chat_ok(ty, "null"), Value::Null);
    assert_eq!(chat_ok(ty, "none"), json!("none"));
    assert_eq!(chat_ok(ty, "None of the above"), json!("None of the above"));
    assert_eq!(chat_ok(ty, "hello"), json!("hello"));
    assert_eq!(json_ok(ty, json!(null)), Value::Null);
    assert_eq!(json_ok(ty, json!("x")), json!("x"));
    assert_eq!(json_ok(ty, json!(5)), json!("5"));
}

#[test]
fn missing_optional_and_any_outputs_are_null() {
    let s = sig("q -> answer, maybe: Optional[int], note: Optional[str], extra: Any");
    let chat = ChatAdapter.parse(&s, &chat_reply(&[("answer", "ok")])).unwrap();
    assert_eq!(Value::Object(chat), json!({"answer": "ok", "maybe": null, "note": null, "extra": null}));
    let js = JsonAdapter.parse(&s, r#"{"answer": "ok"}"#).unwrap();
    assert_eq!(Value::Object(js), json!({"answer": "ok", "maybe": null, "note": null, "extra": null}));
}

#[test]
fn any_outputs_read_json_when_they_can_and_text_otherwise() {
    assert_eq!(chat_ok("Any", "42"), json!(42));
    assert_eq!(chat_ok("Any", "2.5"), json!(2.5));
    assert_eq!(chat_ok("Any", "hello there"), json!("hello there"));
    assert_eq!(chat_ok("Any", "[1, 'a']"), json!([1, "a"]));
    assert_eq!(chat_ok("Any", "{'k': None}"), json!({"k": null}));
    assert_eq!(chat_ok("Any", "True"), json!(true));
    assert_eq!(chat_ok("Any", "```json\n{\"a\": [1]}\n```"), json!({"a": [1]}));
    assert_eq!(json_ok("Any", json!([1, {"b": null}])), json!([1, {"b": null}]));
    // A JSON string stays a string.
    assert_eq!(json_ok("Any", json!("42")), json!("42"));
}

#[test]
fn container_strings_read_json_and_python_escapes() {
    let want = json!(["it's", "say \"hi\"", "a\nb\tc", "Crème 🍮", "back\\slash"]);
    let exact = r#"["it's", "say \"hi\"", "a\nb\tc", "Cr\u00e8me \ud83c\udf6e", "back\\slash"]"#;
    assert_eq!(chat_ok("list[str]", exact), want);
    let python = r#"['it\'s', 'say "hi"', 'a\nb\tc', 'Crème 🍮', 'back\\slash',]"#;
    assert_eq!(chat_ok("list[str]", python), want);
}

#[test]
fn relaxed_json_decodes_surrogate_pairs() {
    // A trailing comma or single quotes send the value through the relaxed reader.
    assert_eq!(chat_ok("list[str]", r#"["\ud83c\udf6e",]"#), json!(["🍮"]));
    assert_eq!(chat_ok("list[str]", r"['Cr\u00e8me \ud83c\udf6e']"), json!(["Crème 🍮"]));
    let parsed = JsonAdapter.parse(&sig("q -> answer"), r"{'answer': '\ud83c\udf6e'}").unwrap();
    assert_eq!(parsed["answer"], json!("🍮"));
}

#[test]
fn nested_containers_coerce_all_the_way_down() {
    let ty = "list[dict[str, list[int]]]";
    let want = json!([{"a": [1, 2]}, {"b": []}]);
    for text in [
        "[{\"a\": [1, 2]}, {\"b\": []}]",
        "[{'a': [1, '2']}, {'b': []}]",
        "```json\n[{\"a\": [1.0, 2]}, {\"b\": []}]\n```",
    ] {
        assert_eq!(chat_ok(ty, text), want, "{text:?}");
    }
    let e = chat_bad(ty, "[{\"a\": [1]}, {\"b\": [1, \"x\"]}]");
    let msg = e.to_string();
    assert!(msg.contains("item 1") && msg.contains("key \"b\""), "{msg}");
    chat_bad(ty, "[[1, 2]]");
    assert_eq!(json_ok(ty, want.clone()), want);
    assert_eq!(json_ok(ty, json!("[{'a': [1, 2]}, {'b': []}]")), want);
    json_bad(ty, json!([{"a": 1}]));
}

// ---------------------------------------------------------------------------------------------
// Malformed chat replies
// ---------------------------------------------------------------------------------------------

#[test]
fn chat_missing_field_is_named() {
    let s = sig("question -> answer, confidence: float");
    let e = ChatAdapter.parse(&s, &chat_reply(&[("answer", "Paris")])).unwrap_err();
    assert_eq!(e.missing_fields(), ["confidence"]);
    assert!(e.invalid_fields().is_empty());
    assert_eq!(e.problems(), [ParseProblem::Missing { field: "confidence".into() }]);
    assert_eq!(e.parsed(), &fields(json!({"answer": "Paris"})));
    assert_eq!(e.adapter(), AdapterKind::Chat);
    assert!(e.to_string().contains("missing field `confidence`"), "{e}");
}

#[test]
fn chat_wrong_type_names_the_field_and_what_was_expected() {
    let s = sig("question -> count: int, unit");
    let reply = chat_reply(&[("count", "many"), ("unit", "apples")]);
    let e = ChatAdapter.parse(&s, &reply).unwrap_err();
    assert_eq!(e.invalid_fields(), ["count"]);
    assert!(e.missing_fields().is_empty());
    assert_eq!(
        e.problems(),
        [ParseProblem::Invalid { field: "count".into(), expected: "an integer".into(), found: "many".into() }]
    );
    let msg = e.to_string();
    assert!(msg.contains("`count`"), "{msg}");
    assert!(msg.contains("expected an integer"), "{msg}");
    assert!(msg.contains("\"many\""), "{msg}");
    assert!(msg.contains("chat"), "{msg}");
}

#[test]
fn long_invalid_values_are_cut_in_the_message() {
    let long = "x".repeat(500);
    let e = chat_bad("int", &long);
    let ParseProblem::Invalid { found, .. } = &e.problems()[0] else { panic!("{e:?}") };
    assert!(found.chars().count() < 100, "{found}");
    assert!(found.ends_with('…'), "{found}");
    // The raw reply is still whole.
    assert!(e.raw().contains(&long));
}

#[test]
fn chat_reply_without_headers_misses_every_required_field() {
    let s = sig("question -> answer, n: int, maybe: Optional[int]");
    let reply = "The answer is Paris, and n is 3.";
    let e = ChatAdapter.parse(&s, reply).unwrap_err();
    assert_eq!(e.missing_fields(), ["answer", "n"]);
    assert!(e.invalid_fields().is_empty());
    assert_eq!(e.raw(), reply);
    // Only the optional field, filled with None, is kept.
    assert_eq!(e.parsed(), &fields(json!({"maybe": null})));
}

#[test]
fn chat_empty_reply_misses_every_field() {
    let e = ChatAdapter.parse(&sig("q -> a, b"), "").unwrap_err();
    assert_eq!(e.missing_fields(), ["a", "b"]);
    assert_eq!(e.raw(), "");
}

#[test]
fn chat_prose_before_and_after_the_fields_is_ignored() {
    let s = sig("question -> answer: int");
    let reply = "Sure! Here is my answer.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]\nHope that helps!";
    assert_eq!(ChatAdapter.parse(&s, reply).unwrap(), fields(json!({"answer": 42})));
}

#[test]
fn chat_prose_inside_a_section_belongs_to_the_field() {
    let s = sig("question -> answer, n: int");
    let reply = "[[ ## answer ## ]]\nParis\nI am sure.\n\n[[ ## n ## ]]\n3\nthat is all\n\n[[ ## completed ## ]]";
    let e = ChatAdapter.parse(&s, reply).unwrap_err();
    assert_eq!(e.parsed()["answer"], json!("Paris\nI am sure."));
    assert_eq!(e.invalid_fields(), ["n"]);
}

#[test]
fn chat_fields_out_of_order_still_parse_in_signature_order() {
    let s = sig("q -> a: int, b: bool, c");
    let reply = chat_reply(&[("c", "third"), ("b", "False"), ("a", "1")]);
    let parsed = ChatAdapter.parse(&s, &reply).unwrap();
    assert_eq!(parsed, fields(json!({"a": 1, "b": false, "c": "third"})));
    assert_eq!(names(&parsed), ["a", "b", "c"]);
}

#[test]
fn chat_reply_without_completed_marker_still_parses() {
    let s = sig("q -> a: int, b");
    let parsed = ChatAdapter.parse(&s, "[[ ## a ## ]]\n1\n\n[[ ## b ## ]]\nlast one\n").unwrap();
    assert_eq!(parsed, fields(json!({"a": 1, "b": "last one"})));
}

#[test]
fn chat_duplicate_headers_first_wins() {
    let s = sig("q -> answer, n: int");
    let reply = "[[ ## answer ## ]]\nfirst\n\n[[ ## n ## ]]\n1\n\n[[ ## answer ## ]]\nsecond\n\n[[ ## n ## ]]\n2\n\n[[ ## completed ## ]]";
    assert_eq!(ChatAdapter.parse(&s, reply).unwrap(), fields(json!({"answer": "first", "n": 1})));
}

#[test]
fn chat_duplicate_headers_first_wins_even_when_invalid() {
    // As in DSPy: the first section is the field's value; a later valid one does not rescue it.
    let s = sig("q -> n: int");
    let e = ChatAdapter.parse(&s, "[[ ## n ## ]]\nlots\n\n[[ ## n ## ]]\n2").unwrap_err();
    assert_eq!(e.invalid_fields(), ["n"]);
}

#[test]
fn chat_several_problems_are_all_reported_in_field_order() {
    let s = sig("q -> a: int, b: bool, c, d: float, e: list[int]");
    let reply = chat_reply(&[("d", "lots"), ("c", "fine"), ("a", "one"), ("e", "[1, 2]")]);
    let e = ChatAdapter.parse(&s, &reply).unwrap_err();
    assert_eq!(e.invalid_fields(), ["a", "d"]);
    assert_eq!(e.missing_fields(), ["b"]);
    let order: Vec<&str> = e
        .problems()
        .iter()
        .map(|p| match p {
            ParseProblem::Missing { field } | ParseProblem::Invalid { field, .. } => field.as_str(),
            ParseProblem::NotJsonObject => "<not json>",
        })
        .collect();
    assert_eq!(order, ["a", "b", "d"]);
    let msg = e.to_string();
    for part in ["field `a`: expected an integer", "missing field `b`", "field `d`: expected a number"] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    assert_eq!(msg.matches("; ").count(), 2, "{msg}");
    assert_eq!(e.parsed(), &fields(json!({"c": "fine", "e": [1, 2]})));
}

#[test]
fn parse_error_keeps_the_exact_completion() {
    let s = sig("q -> n: int");
    let reply = "  Preamble\r\n[[ ## n ## ]]  \r\n nope \t\r\n\r\n[[ ## completed ## ]]\r\n\n  ";
    let e = ChatAdapter.parse(&s, reply).unwrap_err();
    assert_eq!(e.raw(), reply);
    let json_reply = "  {\"n\": \"nope\"}\n";
    let e = JsonAdapter.parse(&s, json_reply).unwrap_err();
    assert_eq!(e.raw(), json_reply);
}

#[test]
fn chat_crlf_line_endings_parse() {
    let s = sig("q -> n: int, tags: list[str]");
    let reply = "[[ ## n ## ]]\r\n42\r\n\r\n[[ ## tags ## ]]\r\n[\"a\"]\r\n\r\n[[ ## completed ## ]]\r\n";
    assert_eq!(ChatAdapter.parse(&s, reply).unwrap(), fields(json!({"n": 42, "tags": ["a"]})));
}

#[test]
fn chat_value_on_the_header_line_belongs_to_the_field() {
    let s = sig("q -> n: int, note");
    let reply = "[[ ## n ## ]] 42\n\n[[ ## note ## ]]   first line\nsecond line\n\n[[ ## completed ## ]]";
    assert_eq!(ChatAdapter.parse(&s, reply).unwrap(), fields(json!({"n": 42, "note": "first line\nsecond line"})));
}

#[test]
fn chat_headers_must_start_a_line_and_be_exact() {
    let s = sig("q -> answer");
    for reply in [
        "see [[ ## answer ## ]]\nParis",
        "[[ ##answer## ]]\nParis",
        "[[ ## answer ##]]\nParis",
        "[[ # answer # ]]\nParis",
    ] {
        let e = ChatAdapter.parse(&s, reply).unwrap_err();
        assert_eq!(e.missing_fields(), ["answer"], "{reply:?}");
    }
    // Leading whitespace before a header is allowed, as DSPy strips each line.
    assert_eq!(ChatAdapter.parse(&s, "   [[ ## answer ## ]]\nParis").unwrap()["answer"], json!("Paris"));
}

#[test]
fn chat_input_and_unknown_headers_in_the_reply_are_ignored() {
    let s = sig("question -> answer");
    let reply = chat_reply(&[("question", "echoed"), ("notes", "scratch"), ("answer", "Paris")]);
    assert_eq!(ChatAdapter.parse(&s, &reply).unwrap(), fields(json!({"answer": "Paris"})));
}

#[test]
fn chat_empty_section_is_an_empty_str_but_an_invalid_int() {
    let s = sig("q -> a, n: int");
    let e = ChatAdapter.parse(&s, "[[ ## a ## ]]\n\n[[ ## n ## ]]\n\n[[ ## completed ## ]]").unwrap_err();
    assert_eq!(e.parsed(), &fields(json!({"a": ""})));
    assert_eq!(e.invalid_fields(), ["n"]);
}

#[test]
fn chat_values_are_split_at_python_line_boundaries_like_dspy() {
    // DSPy splits the reply with `str.splitlines()` and joins with "\n", so a U+2028 inside a
    // value comes back as a newline. Pinned because it is DSPy's behaviour, not an accident.
    let s = sig("q -> a");
    let parsed = ChatAdapter.parse(&s, "[[ ## a ## ]]\none\u{2028}two\u{85}three").unwrap();
    assert_eq!(parsed["a"], json!("one\ntwo\nthree"));
}

// ---------------------------------------------------------------------------------------------
// Malformed JSON replies
// ---------------------------------------------------------------------------------------------

#[test]
fn json_reply_that_is_not_json_is_not_a_json_object() {
    let s = sig("question -> answer: int");
    for reply in ["I think the answer is 4.", "", "answer: 4", "{answer: 4}", "{\"answer\": 4"] {
        let e = JsonAdapter.parse(&s, reply).unwrap_err();
        assert_eq!(e.problems(), [ParseProblem::NotJsonObject], "{reply:?}");
        assert!(e.missing_fields().is_empty() && e.invalid_fields().is_empty());
        assert!(e.parsed().is_empty());
        assert_eq!(e.raw(), reply);
        assert_eq!(e.adapter(), AdapterKind::Json);
        assert!(e.to_string().contains("no JSON object"), "{e}");
    }
}

#[test]
fn json_object_is_found_in_surrounding_prose() {
    let s = sig("question -> answer: int, note");
    for reply in [
        "Here you go:\n{\"answer\": \"4\", \"note\": \"}\"}\nHope it helps!",
        "Sure! ```json\n{\"answer\": 4, \"note\": \"}\"}\n```",
        "```\n{'answer': 4, 'note': '}',}\n```",
        "Answer {unclosed, then {\"answer\": 4, \"note\": \"}\"} done",
    ] {
        assert_eq!(JsonAdapter.parse(&s, reply).unwrap(), fields(json!({"answer": 4, "note": "}"})), "{reply:?}");
    }
}

#[test]
fn json_python_style_object_parses() {
    let s = sig("question -> answer, confident: bool, count: int, maybe: Optional[int]");
    let parsed = JsonAdapter.parse(&s, "{'answer': 'Paris', 'confident': True, 'count': 3, 'maybe': None,}").unwrap();
    assert_eq!(parsed, fields(json!({"answer": "Paris", "confident": true, "count": 3, "maybe": null})));
}

#[test]
fn json_extra_keys_are_ignored_and_order_follows_the_signature() {
    let s = sig("question -> answer, n: int");
    let parsed = JsonAdapter.parse(&s, r#"{"notes": "extra", "n": 2, "answer": "x", "question": "echo"}"#).unwrap();
    assert_eq!(parsed, fields(json!({"answer": "x", "n": 2})));
    assert_eq!(names(&parsed), ["answer", "n"]);
}

#[test]
fn json_array_reply_is_not_a_json_object() {
    let s = sig("question -> answer");
    for reply in ["[\"Paris\"]", "[1, 2]", "[]", "42", "\"Paris\"", "null"] {
        let e = JsonAdapter.parse(&s, reply).unwrap_err();
        assert_eq!(e.problems(), [ParseProblem::NotJsonObject], "{reply:?}");
    }
}

#[test]
fn json_array_holding_objects_yields_the_first_object_as_dspy_does() {
    // DSPy 3.4.1's JSONAdapter falls back to the first balanced `{...}` when the reply is not an
    // object, so `[{"answer": 4}, {"answer": 5}]` parses to {"answer": 4} there too.
    let s = sig("question -> answer: int");
    let parsed = JsonAdapter.parse(&s, r#"[{"answer": 4}, {"answer": 5}]"#).unwrap();
    assert_eq!(parsed, fields(json!({"answer": 4})));
}

#[test]
fn json_missing_key_is_named() {
    let s = sig("question -> answer, sources: list[str]");
    let e = JsonAdapter.parse(&s, r#"{"answer": "Frank Herbert"}"#).unwrap_err();
    assert_eq!(e.missing_fields(), ["sources"]);
    assert_eq!(e.parsed(), &fields(json!({"answer": "Frank Herbert"})));
    let e = JsonAdapter.parse(&s, "{}").unwrap_err();
    assert_eq!(e.missing_fields(), ["answer", "sources"]);
}

#[test]
fn json_wrong_type_names_the_field_and_what_was_expected() {
    let s = sig("question -> answer: int");
    let e = JsonAdapter.parse(&s, r#"{"answer": "many"}"#).unwrap_err();
    assert_eq!(e.invalid_fields(), ["answer"]);
    assert_eq!(
        e.problems(),
        [ParseProblem::Invalid { field: "answer".into(), expected: "an integer".into(), found: "many".into() }]
    );
    let msg = e.to_string();
    assert!(msg.contains("`answer`") && msg.contains("expected an integer") && msg.contains("json"), "{msg}");
    // Non-string values are shown as Python shows them.
    let e = JsonAdapter.parse(&s, r#"{"answer": [true, null]}"#).unwrap_err();
    assert!(e.to_string().contains("[true, null]") || e.to_string().contains("[True, None]"), "{e}");
}

#[test]
fn json_several_problems_are_all_reported() {
    let s = sig("q -> a: int, b: bool, c, d: float");
    let e = JsonAdapter.parse(&s, r#"{"d": "lots", "c": "fine", "a": "one"}"#).unwrap_err();
    assert_eq!(e.invalid_fields(), ["a", "d"]);
    assert_eq!(e.missing_fields(), ["b"]);
    assert_eq!(e.problems().len(), 3);
    assert_eq!(e.parsed(), &fields(json!({"c": "fine"})));
}

// ---------------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------------

#[test]
fn deeply_nested_chat_list_is_an_error_not_a_stack_overflow() {
    let s = sig("q -> items: list[int], any: Any, map: dict[str, int]");
    let deep = "[".repeat(100_000);
    let braces = "{".repeat(100_000);
    let reply = chat_reply(&[("items", &deep), ("any", &deep), ("map", &braces)]);
    let e = ChatAdapter.parse(&s, &reply).unwrap_err();
    assert_eq!(e.invalid_fields(), ["items", "map"]);
    // `Any` falls back to the text.
    assert_eq!(e.parsed()["any"].as_str().map(str::len), Some(100_000));
}

#[test]
fn deeply_nested_json_values_are_errors_not_stack_overflows() {
    let s = sig("q -> items: list[int]");
    let deep = "[".repeat(100_000);
    let as_value = format!("{{\"items\": {deep}}}");
    assert!(JsonAdapter.parse(&s, &as_value).is_err());
    let as_string = json!({ "items": deep }).to_string();
    let e = JsonAdapter.parse(&s, &as_string).unwrap_err();
    assert_eq!(e.invalid_fields(), ["items"]);
    let closed = format!("{{\"items\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(JsonAdapter.parse(&s, &closed).is_err());
}

#[test]
fn moderately_nested_values_still_parse() {
    let nested = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    let mut want = json!(1);
    for _ in 0..60 {
        want = json!([want]);
    }
    assert_eq!(chat_ok("Any", &nested), want);
    let python_style = format!("{}'x'{}", "[".repeat(60), "]".repeat(60));
    let mut want = json!("x");
    for _ in 0..60 {
        want = json!([want]);
    }
    assert_eq!(chat_ok("Any", &python_style), want);
}

#[test]
fn json_floats_parse_to_the_nearest_f64() {
    // Shortest reprs of floats that serde_json misreads by a ULP or two without `float_roundtrip`.
    let s = sig("q -> x: float, xs: list[float]");
    for x in [3.018219079929645e-210_f64, -1.26537965802762e-288, 1.0269585484917793e-16, -2.0649130050644066e-227] {
        let chat =
            ChatAdapter.parse(&s, &chat_reply(&[("x", &format!("{x:e}")), ("xs", &format!("[{x:e}]"))])).unwrap();
        assert_eq!(chat["x"].as_f64(), Some(x), "chat scalar");
        assert_eq!(chat["xs"][0].as_f64(), Some(x), "chat list item");
        let js = JsonAdapter.parse(&s, &format!("{{\"x\": {x:e}, \"xs\": [{x:e}]}}")).unwrap();
        assert_eq!(js["x"].as_f64(), Some(x), "json scalar");
        assert_eq!(js["xs"][0].as_f64(), Some(x), "json list item");
    }
}

#[test]
fn json_reply_of_many_open_braces_is_rejected_quickly() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let s = sig("q -> answer");
        let result = JsonAdapter.parse(&s, &"{".repeat(100_000)).map_err(|e| e.problems().to_vec());
        let _ = tx.send(result.map(|_| ()));
    });
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("parsing 100k `{` should take well under 10 s");
    assert_eq!(got, Err(vec![ParseProblem::NotJsonObject]));
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const MANY_TYPES: &str = "q -> s: str, i: int, f: float, b: bool, ls: list[str], li: list[int], lf: list[float], \
     d: dict[str, int], l: Literal['a', 'b'], ln: Literal[1, 2], oi: Optional[int], os: Optional[str], a: Any, \
     nested: list[dict[str, list[int]]]";

const REPLY_FRAGMENTS: &[&str] = &[
    "[[ ## s ## ]]",
    "[[ ## i ## ]]",
    "[[ ## f ## ]]",
    "[[ ## b ## ]]",
    "[[ ## ls ## ]]",
    "[[ ## li ## ]]",
    "[[ ## d ## ]]",
    "[[ ## l ## ]]",
    "[[ ## ln ## ]]",
    "[[ ## oi ## ]]",
    "[[ ## a ## ]]",
    "[[ ## nested ## ]]",
    "[[ ## completed ## ]]",
    "[[ ## q ## ]]",
    "[[ ## ",
    " ## ]]",
    "\n",
    "\r\n",
    "\n\n",
    " ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "\\",
    "\\u",
    "\\u00e9",
    ",",
    ":",
    "True",
    "False",
    "None",
    "null",
    "true",
    "42",
    "-1.5e3",
    "1e400",
    "0",
    "a",
    "b",
    "Literal[",
    "str[",
    "```json\n",
    "```",
    "\"s\": ",
    "\"i\": ",
    "\"ls\": ",
    "\"d\": ",
    "é",
    "日本",
    "🍮",
    "\u{2028}",
    "\u{85}",
    "\t",
    "NaN",
    "-",
    ".",
];

/// Parsing is total and its result is consistent: on success every output is present in
/// signature order; on failure the raw text is kept and every output is either parsed or has
/// exactly one problem.
fn check_parse_is_total(adapter: &dyn Adapter, sig: &Signature, text: &str) -> Result<(), TestCaseError> {
    match adapter.parse(sig, text) {
        Ok(parsed) => {
            prop_assert_eq!(names(&parsed), sig.output_names().collect::<Vec<_>>());
        }
        Err(e) => {
            prop_assert_eq!(e.raw(), text);
            prop_assert_eq!(e.adapter(), adapter.kind());
            prop_assert!(!e.problems().is_empty());
            prop_assert!(e.to_string().starts_with("could not parse"));
            if e.problems() == [ParseProblem::NotJsonObject] {
                prop_assert_eq!(adapter.kind(), AdapterKind::Json);
                prop_assert!(e.parsed().is_empty());
            } else {
                for name in sig.output_names() {
                    let problems = e
                        .problems()
                        .iter()
                        .filter(|p| match p {
                            ParseProblem::Missing { field } | ParseProblem::Invalid { field, .. } => field == name,
                            ParseProblem::NotJsonObject => false,
                        })
                        .count();
                    let parsed = usize::from(e.parsed().contains_key(name));
                    prop_assert_eq!(problems + parsed, 1, "field {} in {:?}", name, e);
                }
            }
        }
    }
    Ok(())
}

fn check_both_adapters(text: &str) -> Result<(), TestCaseError> {
    let sig = sig(MANY_TYPES);
    check_parse_is_total(&ChatAdapter, &sig, text)?;
    check_parse_is_total(&JsonAdapter, &sig, text)
}

/// Strings without the characters Python's `splitlines` breaks on inside a JSON string
/// (see `chat_values_are_split_at_python_line_boundaries_like_dspy`).
fn one_line_json_string() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace(['\u{85}', '\u{2028}', '\u{2029}'], " "))
}

/// A single-line text that survives the chat format's stripping.
fn plain_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9éü]([a-zA-Z0-9éü ,.!?'\"]{0,20}[a-zA-Z0-9.!?'\"])?"
}

/// A chat reply holding one field `name` rendered as `value`.
fn chat_one(name: &str, value: &str) -> String {
    format!("[[ ## {name} ## ]]\n{value}\n\n[[ ## completed ## ]]")
}

/// Formats one demo holding `outputs` with `adapter` and parses the demo's assistant turn.
fn demo_round_trip(adapter: &dyn Adapter, sig: &Signature, outputs: &Fields) -> Result<Fields, Box<ParseError>> {
    let mut demo = Example::from_fields(outputs.clone());
    demo.insert("q", "a demo question");
    let prompt = adapter.format(sig, &[demo], &fields(json!({"q": "the question"})));
    let reply = &prompt.messages[2];
    assert_eq!(reply.role, Role::Assistant);
    adapter.parse(sig, &reply.content).map_err(Box::new)
}

const DEMO_SIG: &str = "q -> n: int, x: float, flag: bool, tags: list[str], counts: dict[str, int], \
     level: Literal['low', 'high'], maybe: Optional[int], s: str";

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_both_adapters(&text)?;
    }

    #[test]
    fn parse_never_panics_on_reply_fragments(parts in vec(select(REPLY_FRAGMENTS), 0..40)) {
        check_both_adapters(&parts.concat())?;
    }

    #[test]
    fn parse_never_panics_on_mangled_valid_replies(
        n in any::<i64>(),
        tags in vec(one_line_json_string(), 0..4),
        cut in any::<prop::sample::Index>(),
        insert in any::<prop::sample::Index>(),
        junk in select(REPLY_FRAGMENTS),
    ) {
        let tags = serde_json::to_string(&tags).unwrap();
        let chat = format!(
            "[[ ## s ## ]]\ntext\n\n[[ ## i ## ]]\n{n}\n\n[[ ## ls ## ]]\n{tags}\n\n[[ ## nested ## ]]\n[{{\"k\": [1]}}]\n\n[[ ## completed ## ]]"
        );
        let js = format!("{{\"s\": \"text\", \"i\": {n}, \"ls\": {tags}, \"nested\": [{{\"k\": [1]}}]}}");
        for text in [chat, js] {
            let chars: Vec<char> = text.chars().collect();
            let truncated: String = chars[..cut.index(chars.len() + 1)].iter().collect();
            check_both_adapters(&truncated)?;
            let at = insert.index(chars.len() + 1);
            let mut spliced: String = chars[..at].iter().collect();
            spliced.push_str(junk);
            spliced.extend(&chars[at..]);
            check_both_adapters(&spliced)?;
        }
    }

    #[test]
    fn int_round_trips_through_a_chat_reply(n in any::<i64>()) {
        let parsed = ChatAdapter.parse(&sig("q -> n: int"), &chat_one("n", &n.to_string())).unwrap();
        prop_assert_eq!(parsed["n"].as_i64(), Some(n));
        let parsed = JsonAdapter.parse(&sig("q -> n: int"), &format!("{{\"n\": {n}}}")).unwrap();
        prop_assert_eq!(parsed["n"].as_i64(), Some(n));
    }

    #[test]
    fn float_round_trips_through_a_chat_reply(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let s = sig("q -> x: float");
        for text in [format!("{x}"), format!("{x:e}"), format!("{x:?}")] {
            let parsed = ChatAdapter.parse(&s, &chat_one("x", &text));
            prop_assert!(parsed.is_ok(), "{:?}: {:?}", text, parsed);
            let value = &parsed.unwrap()["x"];
            prop_assert!(value.is_f64(), "{:?} gave {}", text, value);
            prop_assert_eq!(value.as_f64(), Some(x), "{:?}", text);
        }
        let parsed = JsonAdapter.parse(&s, &json!({"x": x}).to_string()).unwrap();
        prop_assert_eq!(parsed["x"].as_f64(), Some(x));
    }

    #[test]
    fn bool_round_trips_through_a_chat_reply(b in any::<bool>()) {
        let text = if b { "True" } else { "False" };
        let parsed = ChatAdapter.parse(&sig("q -> b: bool"), &chat_one("b", text)).unwrap();
        prop_assert_eq!(&parsed["b"], &json!(b));
        let parsed = JsonAdapter.parse(&sig("q -> b: bool"), &json!({"b": b}).to_string()).unwrap();
        prop_assert_eq!(&parsed["b"], &json!(b));
    }

    #[test]
    fn list_of_str_round_trips_through_a_chat_reply(items in vec(one_line_json_string(), 0..8)) {
        let s = sig("q -> ls: list[str]");
        let text = serde_json::to_string(&items).unwrap();
        let parsed = ChatAdapter.parse(&s, &chat_one("ls", &text)).unwrap();
        prop_assert_eq!(&parsed["ls"], &json!(items));
        let parsed = JsonAdapter.parse(&s, &json!({"ls": items}).to_string()).unwrap();
        prop_assert_eq!(&parsed["ls"], &json!(items));
    }

    #[test]
    fn demo_outputs_round_trip_through_both_adapters(
        n in any::<i64>(),
        x in any::<f64>().prop_filter("finite", |x| x.is_finite()),
        flag in any::<bool>(),
        tags in vec(one_line_json_string(), 0..5),
        counts in vec((one_line_json_string(), any::<i64>()), 0..4),
        level in select(&["low", "high"][..]),
        maybe in proptest::option::of(any::<i64>()),
        s in plain_text(),
    ) {
        let sig = sig(DEMO_SIG);
        let counts: Map<String, Value> = counts.into_iter().map(|(k, v)| (k, json!(v))).collect();
        let outputs = fields(json!({
            "n": n, "x": x, "flag": flag, "tags": tags, "counts": counts, "level": level, "maybe": maybe, "s": s,
        }));
        for adapter in [&ChatAdapter as &dyn Adapter, &JsonAdapter] {
            let parsed = demo_round_trip(adapter, &sig, &outputs);
            prop_assert!(parsed.is_ok(), "{}: {:?}", adapter.kind(), parsed);
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed["x"].as_f64(), Some(x), "{}", adapter.kind());
            let mut without_x = parsed.clone();
            without_x.remove("x");
            let mut want = outputs.clone();
            want.remove("x");
            prop_assert_eq!(without_x, want, "{}", adapter.kind());
        }
    }

    #[test]
    fn json_str_outputs_round_trip_any_text(s in any::<String>()) {
        let sig = sig("q -> s: str");
        let outputs = fields(json!({ "s": s }));
        let parsed = demo_round_trip(&JsonAdapter, &sig, &outputs).unwrap();
        prop_assert_eq!(parsed, outputs);
    }
}
