//! Python-compatible text: how DSPy turns values into prompt text.
//!
//! DSPy renders values with Python's `str()` and `json.dumps(..., ensure_ascii=False)`, and
//! shapes text with `str.strip`, `str.splitlines` and `textwrap.dedent`. Byte-for-byte parity
//! needs the same rules here: Python float reprs (`1e-05`, `1e+16`, `1.0`), `True`/`None`,
//! `", "`/`": "` separators, and Python's idea of whitespace.

use serde_json::{Number, Value};

/// Python's `str(value)` for a JSON value, as DSPy formats a field value: strings as they
/// are, `True`/`False`/`None`, Python float reprs, and lists and dicts as compact JSON.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => {
            let mut out = String::new();
            write_number(n, &mut out);
            out
        }
        Value::Array(_) | Value::Object(_) => json_dumps(value),
    }
}

/// Python's `json.dumps(value, ensure_ascii=False)`: `", "` and `": "` separators.
pub fn json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, None, 0, &mut out);
    out
}

/// Python's `json.dumps(value, indent=2, ensure_ascii=False)`.
pub fn json_dumps_indent2(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, Some(2), 0, &mut out);
    out
}

fn write_json(value: &Value, indent: Option<usize>, depth: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(i, indent, depth + 1, out);
                write_json(item, indent, depth + 1, out);
            }
            closing(indent, depth, out);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                separator(i, indent, depth + 1, out);
                write_json_string(k, out);
                out.push_str(": ");
                write_json(v, indent, depth + 1, out);
            }
            closing(indent, depth, out);
            out.push('}');
        }
    }
}

fn separator(index: usize, indent: Option<usize>, depth: usize, out: &mut String) {
    match indent {
        None if index > 0 => out.push_str(", "),
        None => {}
        Some(width) => {
            if index > 0 {
                out.push(',');
            }
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', width * depth));
        }
    }
}

fn closing(indent: Option<usize>, depth: usize, out: &mut String) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * depth));
    }
}

/// A JSON string literal as Python writes it with `ensure_ascii=False`.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        write_float(f, out);
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation for exponents in
/// `-5 < e < 16` (always with a `.0` when integral), scientific otherwise (`1e-05`, `1e+16`).
pub fn write_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e3".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.push('-');
    }
    if (-5 < exp) && (exp < 16) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        out.push_str(&format!("{:02}", exp.abs()));
    }
}

/// Python's `repr()` of a JSON value: what `str(value)` gives for a list or dict
/// (`['a', 1, True, None]`). Used when a `str` field receives structured JSON.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => write_repr_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr_string(k, out);
                out.push_str(": ");
                write_repr(v, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&py_str(scalar)),
    }
}

fn write_repr_string(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                use std::fmt::Write;
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `str.isspace` for one character (Rust's whitespace plus the four ASCII
/// separators U+001C..U+001F).
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.splitlines()`: splits at every line boundary Python knows, dropping the
/// terminators.
pub fn py_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let is_break = matches!(
            c,
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        lines.push(&s[start..i]);
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = iter.peek() {
                iter.next();
                end = j + 1;
            }
        }
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Python's `inspect.cleandoc`, which DSPy applies to a signature's instructions: tabs
/// expanded, the first line's leading whitespace removed, the common indentation of the
/// other lines removed, and leading and trailing empty lines dropped.
pub fn cleandoc(doc: &str) -> String {
    let expanded = expand_tabs(doc);
    let mut lines: Vec<&str> = expanded.split('\n').collect();
    // Python measures indentation in characters; so do we, and slice by characters, so that
    // multi-byte whitespace (U+3000, NBSP) never splits a character.
    let indent = |l: &str| l.chars().take_while(|c| is_py_space(*c)).count();
    let margin = lines.iter().skip(1).filter(|l| !py_strip(l).is_empty()).map(|l| indent(l)).min();
    let mut owned: Vec<String> = Vec::with_capacity(lines.len());
    for (i, line) in lines.drain(..).enumerate() {
        owned.push(if i == 0 {
            line.trim_start_matches(is_py_space).to_string()
        } else {
            match margin {
                Some(m) => line.chars().skip(m).collect(),
                None => line.to_string(),
            }
        });
    }
    while owned.last().is_some_and(String::is_empty) {
        owned.pop();
    }
    let first = owned.iter().position(|l| !l.is_empty()).unwrap_or(owned.len());
    owned[first..].join("\n")
}

/// Python's `str.expandtabs(8)`: each tab advances to the next multiple of eight columns;
/// columns restart after `\n` and `\r`.
fn expand_tabs(s: &str) -> String {
    if !s.contains('\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut column = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// Python's `textwrap.dedent`: lines of only spaces and tabs become empty, then the longest
/// common leading run of spaces and tabs is removed from every other line.
pub fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let is_blank = |l: &str| l.chars().all(|c| c == ' ' || c == '\t');
    let mut margin: Option<&str> = None;
    for line in lines.iter().filter(|l| !is_blank(l)) {
        let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
        let indent = &line[..indent_len];
        margin = Some(match margin {
            None => indent,
            Some(m) => {
                let common = m.bytes().zip(indent.bytes()).take_while(|(a, b)| a == b).count();
                &m[..common]
            }
        });
    }
    let margin_len = margin.map_or(0, str::len);
    let mut out = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !is_blank(line) {
            out.push_str(&line[margin_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(x: f64) -> String {
        let mut s = String::new();
        write_float(x, &mut s);
        s
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (-0.0, "-0.0"),
            (-2.5e-7, "-2.5e-07"),
            (1.5e300, "1.5e+300"),
            (0.6, "0.6"),
        ];
        for (x, want) in cases {
            assert_eq!(float(x), want, "{x}");
        }
    }

    #[test]
    fn json_matches_python_dumps() {
        let v = json!({"k": [1.0, null, true, "é\n\"", {}], "e": []});
        assert_eq!(json_dumps(&v), r#"{"k": [1.0, null, true, "é\n\"", {}], "e": []}"#);
        assert_eq!(
            json_dumps_indent2(&json!({"a": [1, 2], "b": "x"})),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}"
        );
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "None");
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr(&json!(["a", "it's", 1, true, null])), r#"['a', "it's", 1, True, None]"#);
    }

    #[test]
    fn cleandoc_follows_python() {
        assert_eq!(cleandoc("\n  First\n    a\n\n    b\n  "), "First\n  a\n\n  b");
        assert_eq!(cleandoc("Flush\n    indented\n    more"), "Flush\nindented\nmore");
        assert_eq!(cleandoc("a\tb"), "a       b");
        assert_eq!(cleandoc("Do X\n\u{3000}line one\n  line two"), "Do X\nline one\n line two");
    }

    #[test]
    fn dedent_and_splitlines_follow_python() {
        assert_eq!(dedent("    a\n      b\n  \n    c"), "a\n  b\n\nc");
        assert_eq!(dedent("a\n  b"), "a\n  b");
        assert_eq!(py_splitlines("a\r\nb\rc\n"), ["a", "b", "c"]);
        assert_eq!(py_splitlines(""), Vec::<&str>::new());
        assert_eq!(py_splitlines("a\n\nb"), ["a", "", "b"]);
    }
}
