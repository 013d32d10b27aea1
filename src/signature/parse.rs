//! The string-signature parser: `"question: str, tags: list[str] -> answer: int"`.
//!
//! A small hand-written recursive-descent parser over characters, so that every error can
//! name the 1-based column where it happened.

use std::fmt;

use super::{Field, FieldType, LiteralValue};

/// A string signature that cannot be parsed, or a signature that breaks an invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    message: String,
    /// 1-based character offset in the whole text, when the error has a place in it.
    column: Option<usize>,
    text: Option<String>,
}

impl SignatureError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SignatureError { message: message.into(), column: None, text: None }
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based character column of the error within its line, if it has a place.
    pub fn column(&self) -> Option<usize> {
        self.place().map(|(_, col, _)| col)
    }

    /// The 1-based line of the error (signatures in TOML files may span lines).
    pub fn line(&self) -> Option<usize> {
        self.place().map(|(line, _, _)| line)
    }

    /// (line, column, text of that line) for the error position.
    fn place(&self) -> Option<(usize, usize, &str)> {
        let (offset, text) = (self.column?, self.text.as_deref()?);
        let mut remaining = offset - 1;
        for (i, line) in text.split('\n').enumerate() {
            let len = line.chars().count();
            if remaining <= len {
                return Some((i + 1, remaining + 1, line));
            }
            remaining -= len + 1;
        }
        None
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.place(), self.text.as_deref()) {
            (Some((line_no, col, line)), Some(text)) => {
                let at =
                    if text.contains('\n') { format!("line {line_no}, column {col}") } else { format!("column {col}") };
                // Tabs keep their width in the caret line so the caret lines up.
                let pad: String = line.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                write!(f, "{at}: {}\n  {line}\n  {pad}^", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Whether `s` is a Python-style identifier (what DSPy accepts as a field name).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

pub(super) fn parse_signature(text: &str) -> Result<(Vec<Field>, Vec<Field>), SignatureError> {
    let mut p = Parser { text, chars: text.chars().collect(), pos: 0, depth: 0 };
    let inputs = p.fields(true)?;
    p.skip_ws();
    if !p.eat_str("->") {
        return Err(p.error_here(if p.at_end() {
            "expected `->` between inputs and outputs"
        } else {
            "expected `,` or `->`"
        }));
    }
    let outputs = p.fields(false)?;
    p.skip_ws();
    if !p.at_end() {
        let msg = if p.peek_str("->") {
            "a signature has exactly one `->`"
        } else {
            "expected `,` or the end of the signature"
        };
        return Err(p.error_here(msg));
    }
    if outputs.is_empty() {
        return Err(p.error_here("expected at least one output field after `->`"));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (field, col) in inputs.iter().chain(&outputs) {
        if seen.contains(&field.name.as_str()) {
            return Err(p.error_at(
                *col,
                format!("field `{}` appears twice; input and output names must be distinct", field.name),
            ));
        }
        seen.push(&field.name);
    }
    let strip = |v: Vec<(Field, usize)>| v.into_iter().map(|(f, _)| f).collect();
    Ok((strip(inputs), strip(outputs)))
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// How deeply type arguments are nested right now.
    depth: usize,
}

/// Deeper type nesting than this is refused (no real signature comes close; the limit keeps
/// hostile input from overflowing the stack).
const MAX_TYPE_DEPTH: usize = 32;

/// A parsed type argument: either a type or a literal value (inside `Literal[...]`).
enum Arg {
    Type(FieldType, usize),
    Value(LiteralValue, usize),
    None(usize),
}

impl Parser<'_> {
    fn error_at(&self, pos: usize, message: impl Into<String>) -> SignatureError {
        SignatureError { message: message.into(), column: Some(pos + 1), text: Some(self.text.to_string()) }
    }

    fn error_here(&self, message: impl Into<String>) -> SignatureError {
        self.error_at(self.pos, message)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_str(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn eat_str(&mut self, s: &str) -> bool {
        if self.peek_str(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_alphabetic() || c == '_') {
            return None;
        }
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        Some(self.chars[start..self.pos].iter().collect())
    }

    /// A comma-separated field list, ending before `->` (inputs) or at the end (outputs).
    fn fields(&mut self, inputs: bool) -> Result<Vec<(Field, usize)>, SignatureError> {
        let mut fields = Vec::new();
        self.skip_ws();
        let ends = |p: &Self| p.at_end() || (inputs && p.peek_str("->"));
        if ends(self) {
            return Ok(fields);
        }
        loop {
            self.skip_ws();
            let start = self.pos;
            let name = self.ident().ok_or_else(|| {
                self.error_here(if ends(self) || self.peek() == Some(',') {
                    "expected a field name"
                } else {
                    "expected a field name (letters, digits and `_`, not starting with a digit)"
                })
            })?;
            let ty = if self.eat(':') { self.ty()? } else { FieldType::Str };
            fields.push((Field::new(name, ty), start));
            self.skip_ws();
            if !self.eat(',') {
                break;
            }
            self.skip_ws();
            if ends(self) {
                // A trailing comma, as Python allows in a parameter list.
                break;
            }
        }
        Ok(fields)
    }

    /// `primary ('|' primary)*`: `int | None` is `Optional[int]`.
    fn ty(&mut self) -> Result<FieldType, SignatureError> {
        self.skip_ws();
        let start = self.pos;
        let mut members = vec![self.primary()?];
        while self.eat('|') {
            members.push(self.primary()?);
        }
        union_of(members).map_err(|m| self.error_at(start, m))
    }

    fn primary(&mut self) -> Result<Arg, SignatureError> {
        self.skip_ws();
        let start = self.pos;
        if let Some(v) = self.literal_value()? {
            return Ok(Arg::Value(v, start));
        }
        let mut name = self.ident().ok_or_else(|| self.error_here("expected a type"))?;
        // Qualified names such as `typing.List` or `typing.Optional`.
        while self.peek() == Some('.') {
            self.pos += 1;
            let part = self.ident().ok_or_else(|| self.error_here("expected a name after `.`"))?;
            name = part;
        }
        if name == "None" || name == "NoneType" {
            return Ok(Arg::None(start));
        }
        let args = if self.eat('[') {
            if self.depth >= MAX_TYPE_DEPTH {
                return Err(self.error_at(start, format!("types nest more than {MAX_TYPE_DEPTH} levels deep")));
            }
            self.depth += 1;
            let args = self.args();
            self.depth -= 1;
            Some(args?)
        } else {
            None
        };
        self.resolve(&name, args, start).map(|t| Arg::Type(t, start))
    }

    fn args(&mut self) -> Result<Vec<Arg>, SignatureError> {
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(']') {
                break;
            }
            let start = self.pos;
            let mut members = vec![self.primary()?];
            while self.eat('|') {
                members.push(self.primary()?);
            }
            if members.len() == 1 {
                args.extend(members);
            } else {
                let ty = union_of(members).map_err(|m| self.error_at(start, m))?;
                args.push(Arg::Type(ty, start));
            }
            if self.eat(',') {
                continue;
            }
            if !self.eat(']') {
                return Err(self.error_here("expected `,` or `]`"));
            }
            break;
        }
        Ok(args)
    }

    /// A string, integer or boolean literal, as found inside `Literal[...]`.
    fn literal_value(&mut self) -> Result<Option<LiteralValue>, SignatureError> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                let start = self.pos;
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.error_at(start, "unterminated string")),
                        Some(c) if c == q => {
                            self.pos += 1;
                            break;
                        }
                        Some('\\') => {
                            self.pos += 1;
                            let escaped = self.peek().ok_or_else(|| self.error_at(start, "unterminated string"))?;
                            s.push(match escaped {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            self.pos += 1;
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Some(LiteralValue::Str(s)))
            }
            Some(c)
                if c.is_ascii_digit()
                    || (c == '-' && self.chars.get(self.pos + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                digits
                    .parse::<i64>()
                    .map(|i| Some(LiteralValue::Int(i)))
                    .map_err(|_| self.error_at(start, "expected an integer"))
            }
            _ if self.peek_str("True") && !self.continues_ident(4) => {
                self.pos += 4;
                Ok(Some(LiteralValue::Bool(true)))
            }
            _ if self.peek_str("False") && !self.continues_ident(5) => {
                self.pos += 5;
                Ok(Some(LiteralValue::Bool(false)))
            }
            _ => Ok(None),
        }
    }

    fn continues_ident(&self, len: usize) -> bool {
        self.chars.get(self.pos + len).is_some_and(|c| c.is_alphanumeric() || *c == '_')
    }

    fn resolve(&self, name: &str, args: Option<Vec<Arg>>, start: usize) -> Result<FieldType, SignatureError> {
        let no_args = |ty: FieldType| match &args {
            None => Ok(ty),
            Some(_) => Err(self.error_at(start, format!("`{name}` takes no type arguments"))),
        };
        let type_args = |expected: usize| -> Result<Vec<FieldType>, SignatureError> {
            let args = args.as_ref().map_or(&[][..], Vec::as_slice);
            if args.len() != expected {
                return Err(self.error_at(
                    start,
                    format!("`{name}[...]` takes {expected} type argument{}", if expected == 1 { "" } else { "s" }),
                ));
            }
            args.iter().map(|a| self.as_type(a)).collect()
        };
        match name {
            "str" => no_args(FieldType::Str),
            "int" => no_args(FieldType::Int),
            "float" => no_args(FieldType::Float),
            "bool" => no_args(FieldType::Bool),
            "Any" => no_args(FieldType::Any),
            "list" | "List" => match args {
                None => Ok(FieldType::list(FieldType::Any)),
                Some(_) => Ok(FieldType::list(type_args(1)?.remove(0))),
            },
            "dict" | "Dict" => match args {
                None => Ok(FieldType::dict(FieldType::Any)),
                Some(_) => {
                    let mut kv = type_args(2)?;
                    if kv[0] != FieldType::Str {
                        return Err(self.error_at(start, "dict keys must be `str` (JSON object keys are strings)"));
                    }
                    Ok(FieldType::dict(kv.remove(1)))
                }
            },
            "Optional" => Ok(FieldType::optional(type_args(1)?.remove(0))),
            "Union" => {
                let args = args.ok_or_else(|| self.error_at(start, "`Union` needs type arguments"))?;
                union_of(args).map_err(|m| self.error_at(start, m))
            }
            "Literal" => {
                let args = args.ok_or_else(|| self.error_at(start, "`Literal` needs at least one value"))?;
                if args.is_empty() {
                    return Err(self.error_at(start, "`Literal` needs at least one value"));
                }
                let values = args
                    .into_iter()
                    .map(|a| match a {
                        Arg::Value(v, _) => Ok(v),
                        Arg::Type(_, at) | Arg::None(at) => {
                            Err(self.error_at(at, "`Literal[...]` takes quoted strings, integers or True/False"))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(FieldType::Literal { values })
            }
            "tuple" | "Tuple" | "set" | "Set" | "frozenset" => {
                Err(self.error_at(start, format!("`{name}` is not supported; use `list[...]`")))
            }
            "bytes" | "complex" => Err(self.error_at(start, format!("`{name}` is not supported; use `str`"))),
            other => Err(self.error_at(
                start,
                format!(
                    "unknown type `{other}`; expected str, int, float, bool, list[T], dict[str, T], \
                     Literal[...], Optional[T] or Any"
                ),
            )),
        }
    }

    fn as_type(&self, arg: &Arg) -> Result<FieldType, SignatureError> {
        match arg {
            Arg::Type(t, _) => Ok(t.clone()),
            Arg::Value(_, at) => {
                Err(self.error_at(*at, "expected a type, found a value (values go in `Literal[...]`)"))
            }
            Arg::None(at) => Err(self.error_at(*at, "`None` alone is not a field type; use `Optional[T]`")),
        }
    }
}

/// `Union[T, None]` / `T | None` → `Optional[T]`; anything else is unsupported.
fn union_of(members: Vec<Arg>) -> Result<FieldType, String> {
    let mut types = Vec::new();
    let mut has_none = false;
    for m in members {
        match m {
            Arg::Type(t, _) => types.push(t),
            Arg::None(_) => has_none = true,
            Arg::Value(..) => return Err("expected a type, found a value".into()),
        }
    }
    match (types.len(), has_none) {
        (1, false) => Ok(types.remove(0)),
        (1, true) => Ok(FieldType::optional(types.remove(0))),
        (0, _) => Err("`None` alone is not a field type; use `Optional[T]`".into()),
        _ => Err("unions of several types are not supported; use one type, `Optional[T]`, or `Any`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Signature;
    use super::*;

    fn err(text: &str) -> SignatureError {
        Signature::parse(text).unwrap_err()
    }

    #[test]
    fn parses_every_supported_type() {
        let sig = Signature::parse(
            "q, tags: list[str], m: dict[str, int], o: Optional[str], n: int | None \
             -> level: Literal['low', 'medium', 'high'], score: float, ok: bool, any: Any",
        )
        .unwrap();
        let names: Vec<String> = sig.fields().map(|f| f.ty.python_name()).collect();
        assert_eq!(
            names,
            [
                "str",
                "list[str]",
                "dict[str, int]",
                "Union[str, NoneType]",
                "Union[int, NoneType]",
                "Literal['low', 'medium', 'high']",
                "float",
                "bool",
                "Any"
            ]
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = err("question: strr -> answer");
        assert_eq!(e.column(), Some(11));
        assert!(e.to_string().contains("unknown type `strr`"), "{e}");
        assert_eq!(err("question answer").column(), Some(10));
        assert_eq!(err("a -> b -> c").column(), Some(8));
        assert_eq!(err("a, a -> b").column(), Some(4));
        assert_eq!(err("a -> ").column(), Some(6));
        assert_eq!(err("a: list[str -> b").column(), Some(13));
        assert_eq!(err("a: Literal[str] -> b").column(), Some(12));
    }

    #[test]
    fn multi_line_signatures_report_line_and_column() {
        let e = err("question,\n  context: lst[str] -> answer");
        assert_eq!((e.line(), e.column()), (Some(2), Some(12)));
        let shown = e.to_string();
        assert!(shown.starts_with("line 2, column 12: unknown type `lst`"), "{shown}");
        assert!(shown.ends_with("\n    context: lst[str] -> answer\n             ^"), "{shown}");
    }

    #[test]
    fn deep_type_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("q: {}str{} -> a", "list[".repeat(3000), "]".repeat(3000));
        assert!(err(&deep).message().contains("nest more than"));
        let fine = format!("q: {}str{} -> a", "list[".repeat(10), "]".repeat(10));
        assert!(Signature::parse(&fine).is_ok());
    }

    #[test]
    fn empty_inputs_and_trailing_commas_are_accepted() {
        let sig = Signature::parse("-> answer,").unwrap();
        assert_eq!(sig.inputs().len(), 0);
        assert_eq!(sig.output_names().collect::<Vec<_>>(), ["answer"]);
    }
}
