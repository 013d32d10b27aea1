//! Reading JSON out of LM replies: fenced blocks, prose around an object, and the Python
//! literal spellings models often use (`'single quotes'`, `True`, `None`, trailing commas).
//!
//! This is the small, predictable subset of what DSPy gets from `json_repair`; it never
//! panics and never recurses deeper than [`MAX_DEPTH`].

use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (a reply is not allowed to blow the stack).
const MAX_DEPTH: usize = 128;

/// Parses `text` as JSON, leniently: exact JSON first, then the contents of a ``` fence,
/// then the relaxed grammar. `None` when nothing parses.
pub(super) fn parse_lenient(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str(t) {
        return Some(v);
    }
    let t = strip_fence(t).unwrap_or(t);
    if let Ok(v) = serde_json::from_str(t) {
        return Some(v);
    }
    Relaxed::parse(t)
}

/// The JSON object in a reply: the whole reply, a fenced block, or the first balanced
/// `{...}` in surrounding prose that parses.
pub(super) fn find_json_object(text: &str) -> Option<Map<String, Value>> {
    if let Some(Value::Object(map)) = parse_lenient(text) {
        return Some(map);
    }
    for (start, end) in balanced_objects(text).into_iter().take(MAX_CANDIDATES) {
        if let Some(Value::Object(map)) = parse_lenient(&text[start..end]) {
            return Some(map);
        }
    }
    None
}

/// At most this many `{...}` spans are tried, so a reply full of braces costs linear time.
const MAX_CANDIDATES: usize = 64;

/// The byte spans of balanced `{...}` groups, in order of their opening brace, found in one
/// pass with a stack (braces inside quoted strings are skipped).
fn balanced_objects(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut in_string: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_string = None;
            }
            continue;
        }
        match c {
            '"' => in_string = Some(c),
            // An apostrophe in prose ("Here's") is not a string; only count single quotes
            // inside an object.
            '\'' if !open.is_empty() => in_string = Some(c),
            '{' => open.push(i),
            '}' => {
                if let Some(start) = open.pop() {
                    spans.push((start, i + 1));
                }
            }
            _ => {}
        }
    }
    spans.sort_unstable();
    spans
}

fn strip_fence(t: &str) -> Option<&str> {
    let rest = t.strip_prefix("```")?;
    let body_start = rest.find('\n')? + 1;
    let body = &rest[body_start..];
    let end = body.rfind("```")?;
    Some(body[..end].trim())
}

/// A relaxed JSON reader: single- or double-quoted strings, `True`/`False`/`None` as well as
/// JSON's literals, and trailing commas.
struct Relaxed<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Relaxed<'a> {
    fn parse(text: &'a str) -> Option<Value> {
        let mut p = Relaxed { s: text.as_bytes(), text, pos: 0 };
        let v = p.value(0)?;
        p.ws();
        (p.pos == p.s.len()).then_some(v)
    }

    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' | b'\'' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.word(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.ws();
            if self.peek()? == b'}' {
                self.pos += 1;
                return Some(Value::Object(map));
            }
            if !matches!(self.peek()?, b'"' | b'\'') {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            self.ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {}
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek()? == b']' {
                self.pos += 1;
                return Some(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {}
                _ => return None,
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = self.text.get(self.pos..)?;
            let c = rest.chars().next()?;
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == quote as u32 => return Some(out),
                '\\' => {
                    let e = self.text.get(self.pos..)?.chars().next()?;
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => out.push(self.unicode_escape()?),
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// The four hex digits after `\u`, combining a UTF-16 surrogate pair (`\ud83d\ude00`)
    /// into one character; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex4 = |p: &mut Self| -> Option<u32> {
            let code = u32::from_str_radix(p.text.get(p.pos..p.pos + 4)?, 16).ok()?;
            p.pos += 4;
            Some(code)
        };
        let first = hex4(self)?;
        if (0xD800..0xDC00).contains(&first) && self.text.get(self.pos..self.pos + 2) == Some("\\u") {
            let save = self.pos;
            self.pos += 2;
            match hex4(self) {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                    return Some(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                _ => self.pos = save,
            }
        }
        Some(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.pos += 1;
        }
        let t = &self.text[start..self.pos];
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::from(i));
        }
        t.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "true" | "True" => Some(Value::Bool(true)),
            "false" | "False" => Some(Value::Bool(false)),
            "null" | "None" => Some(Value::Null),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relaxed_reads_python_literals() {
        assert_eq!(
            parse_lenient("{'a': True, 'b': [1, 2,], 'c': None}"),
            Some(json!({"a": true, "b": [1, 2], "c": null}))
        );
        assert_eq!(parse_lenient("```json\n[1]\n```"), Some(json!([1])));
        assert_eq!(parse_lenient("forty-two"), None);
    }

    #[test]
    fn objects_are_found_in_prose() {
        let map = find_json_object("Here you go: {\"a\": \"}\"} hope it helps {").unwrap();
        assert_eq!(map["a"], "}");
    }

    #[test]
    fn surrogate_pairs_combine() {
        assert_eq!(parse_lenient("{'e': '\\ud83d\\ude00'}"), Some(json!({"e": "\u{1f600}"})));
    }

    #[test]
    fn the_first_parsable_object_wins_and_arrays_are_searched() {
        let map = find_json_object("[{\"a\": 1}, {\"a\": 2}]").unwrap();
        assert_eq!(map["a"], 1);
        assert_eq!(find_json_object("It's {\"a\": 3}").unwrap()["a"], 3);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse_lenient(&deep), None);
    }
}
