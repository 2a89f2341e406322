//! The response tree the executor assembles from subgraph answers.
//!
//! Not `serde_json::Value`: with `preserve_order` its objects are index maps
//! (a hash table, SipHash per key and an allocation per key), which is where a
//! federated response of a few thousand small objects spent its time. Here an
//! object is a vector of entries looked up by a linear scan (objects in
//! GraphQL responses have a handful of keys), and strings up to 24 bytes
//! (keys, ids, enum values, most scalars) live inline without an allocation.
//! Subgraph bodies are parsed straight into it ([`parse`]) and it is written
//! out without serde ([`Value::write_json`]).

use compact_str::CompactString;

pub type Str = CompactString;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    /// As received: the text is written back unchanged.
    Number(Str),
    String(Str),
    Array(Vec<Value>),
    Object(Object),
}

/// A JSON object in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    entries: Vec<(Str, Value)>,
}

impl Object {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// [`Object::position`], trying `hint` first and updating it: the objects
    /// of a list have their keys in the same order.
    pub fn position_hinted(&self, key: &str, hint: &mut usize) -> Option<usize> {
        if let Some((k, _)) = self.entries.get(*hint)
            && k == key
        {
            return Some(*hint);
        }
        let at = self.position(key)?;
        *hint = at;
        Some(at)
    }

    /// The entry at `index`: entries are only ever appended or replaced in
    /// place, so an index stays valid while the tree grows.
    pub fn entry_at(&self, index: usize) -> Option<(&str, &Value)> {
        self.entries.get(index).map(|(k, v)| (k.as_str(), v))
    }

    pub fn value_at_mut(&mut self, index: usize) -> Option<&mut Value> {
        self.entries.get_mut(index).map(|(_, v)| v)
    }

    /// Sets `key`, replacing an existing value in place.
    pub fn insert(&mut self, key: impl Into<Str> + AsRef<str>, value: Value) {
        match self.get_mut(key.as_ref()) {
            Some(existing) => *existing = value,
            None => self.entries.push((key.into(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.position(key)?;
        Some(self.entries.remove(at).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn push_unchecked(&mut self, key: Str, value: Value) {
        self.entries.push((key, value));
    }
}

impl IntoIterator for Object {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Value {
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// `self[key]` for objects; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// The tree as a `serde_json::Value` (errors and tests; not the hot path).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Number(n) => n
                .parse::<serde_json::Number>()
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Self::String(s) => serde_json::Value::String(s.to_string()),
            Self::Array(items) => {
                serde_json::Value::Array(items.iter().map(Self::to_json).collect())
            }
            Self::Object(o) => serde_json::Value::Object(
                o.iter().map(|(k, v)| (k.to_owned(), v.to_json())).collect(),
            ),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(b),
            serde_json::Value::Number(n) => Self::Number(n.to_string().into()),
            serde_json::Value::String(s) => Self::String(s.into()),
            serde_json::Value::Array(items) => {
                Self::Array(items.into_iter().map(Self::from).collect())
            }
            serde_json::Value::Object(map) => Self::Object(Object {
                entries: map.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            }),
        }
    }
}

/// Why a subgraph's body is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {at}")]
pub struct ParseError {
    pub message: &'static str,
    pub at: usize,
}

/// Deeper than any response to an operation the planner accepts.
const MAX_NESTING: usize = 512;

/// Parses JSON text into a tree.
///
/// Written for this tree rather than going through serde: the text is
/// checked as UTF-8 once, strings without escapes are copied straight from
/// it, and numbers are kept as their text (written back as received, never
/// converted). It accepts exactly RFC 8259 JSON, as serde_json does.
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    let text = std::str::from_utf8(input).map_err(|e| ParseError {
        message: "invalid UTF-8",
        at: e.valid_up_to(),
    })?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    parser.whitespace();
    let value = parser.value()?;
    parser.whitespace();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &'static str) -> ParseError {
        ParseError {
            message,
            at: self.at,
        }
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.bytes.get(self.at) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        self.whitespace();
        Ok(())
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        let mut object = Object::with_capacity(4);
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Object(object));
        }
        loop {
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.whitespace();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            self.whitespace();
            let value = self.value()?;
            object.push_unchecked(key, value);
            self.whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    self.whitespace();
                }
                Some(b'}') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(object));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    self.whitespace();
                }
                Some(b']') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// At the opening quote; leaves the position after the closing one.
    fn string(&mut self) -> Result<Str, ParseError> {
        let start = self.at + 1;
        let at = special_byte(self.bytes, start);
        match self.bytes.get(at) {
            Some(b'"') => {
                self.at = at + 1;
                // Both ends are ASCII, so this is a char boundary.
                return Ok(Str::new(&self.text[start..at]));
            }
            Some(b'\\') => {}
            Some(_) => {
                self.at = at;
                return Err(self.error("control character in a string"));
            }
            None => {
                self.at = at;
                return Err(self.error("unterminated string"));
            }
        }
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(&self.text[start..at]);
        self.at = at;
        loop {
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out.into());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.bytes.get(self.at) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape")),
                    };
                    out.push(escaped);
                    self.at += 1;
                }
                Some(0..0x20) => return Err(self.error("control character in a string")),
                Some(_) => {
                    // Copy up to the next quote or backslash in one go.
                    let run = self.bytes[self.at..]
                        .iter()
                        .position(|b| matches!(b, b'"' | b'\\' | 0..0x20))
                        .unwrap_or(self.bytes.len() - self.at);
                    out.push_str(&self.text[self.at..self.at + run]);
                    self.at += run;
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// At the `u` of `\uXXXX`; leaves the position on the last hex digit
    /// (of the second escape, for a surrogate pair).
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.bytes.get(self.at + 1..self.at + 3) != Some(b"\\u") {
                return Err(self.error("lone leading surrogate"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("invalid trailing surrogate"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("lone trailing surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.at + 1..self.at + 5)
            .ok_or_else(|| self.error("short unicode escape"))?;
        let mut code = 0;
        for d in digits {
            let v = (*d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid unicode escape"))?;
            code = code * 16 + v;
        }
        self.at += 4;
        Ok(code)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.bytes.get(p.at) {
                p.at += 1;
            }
            p.at - from
        };
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(Value::Number(Str::new(&self.text[start..self.at])))
    }
}

/// The index of the first `"`, `\\` or control character at or after `at`
/// (the length when there is none), eight bytes at a time: strings are most
/// of a response's bytes, and a byte-at-a-time loop was a tenth of the
/// gateway's instructions (callgrind).
fn special_byte(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero: its high bit in the result. A borrow can set the
    // bits of higher bytes too, but never of a lower one, so the lowest set
    // bit is exact.
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let found = quote | backslash | control;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(b) = bytes.get(at) {
        if matches!(b, b'"' | b'\\' | 0..0x20) {
            return at;
        }
        at += 1;
    }
    at
}

impl Value {
    /// Writes the value as JSON text (numbers as received).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(true) => out.extend_from_slice(b"true"),
            Self::Bool(false) => out.extend_from_slice(b"false"),
            Self::Number(n) => out.extend_from_slice(n.as_bytes()),
            Self::String(s) => write_str(out, s),
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(out);
                }
                out.push(b']');
            }
            Self::Object(o) => o.write_json(out),
        }
    }
}

impl Object {
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            v.write_json(out);
        }
        out.push(b'}');
    }
}

/// A JSON string: copied as is when nothing in it needs escaping (keys,
/// ids, names: nearly every string), through serde_json otherwise.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if special_byte(s.as_bytes(), 0) == s.len() {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(value: &Value) -> String {
        let mut out = Vec::new();
        value.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn round_trips_json_text_and_keeps_key_order_and_numbers() {
        let text_in = r#"{"b":1,"a":[true,null,-2,1.5,"x\"y",1e400,0.10,-0.0],"c":{"long key that is over twenty-four bytes":"v","e":{}}}"#;
        let value = parse(text_in.as_bytes()).unwrap();
        assert_eq!(text(&value), text_in);
    }

    #[test]
    fn agrees_with_serde_json_on_strings_and_whitespace() {
        for input in [
            r#" { "k" : [ "a\nb" , "\u00e9\u20ac\ud83d\ude00" , "\/\b\f\r\t\\" , "plain é 😀" ] } "#,
            r#"[1, -1, 0, 123456789012345678901234567890, 3.25e-2, 2E+3]"#,
            "\"\"",
            "[]",
            "{}",
        ] {
            let ours = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input}: {e}"));
            let theirs: serde_json::Value = serde_json::from_str(input).unwrap();
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text(&ours)).unwrap(),
                theirs,
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for input in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"lone \\ud800\"",
            "\"\\udc00\"",
            "\"raw \n newline\"",
            "tru",
            "nul",
            "[1] 2",
            "\"\\u12\"",
        ] {
            assert!(parse(input.as_bytes()).is_err(), "{input:?} must not parse");
            assert!(
                serde_json::from_str::<serde_json::Value>(input).is_err(),
                "{input:?}"
            );
        }
        assert!(parse(b"\xff").is_err());
        let deep = "[".repeat(MAX_NESTING + 1) + &"]".repeat(MAX_NESTING + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let fine = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
        assert!(parse(fine.as_bytes()).is_ok());
    }

    #[test]
    fn finds_quotes_escapes_and_control_characters_at_every_offset() {
        for len in 0..40 {
            for (special, what) in [(b'"', "quote"), (b'\\', "backslash"), (0x1f, "control")] {
                for at in 0..=len {
                    let mut bytes: Vec<u8> = (0..len).map(|i| b"a\xc3\xa9z~ "[i % 6]).collect();
                    if at < len {
                        bytes[at] = special;
                    }
                    // Another special byte further on must not hide the first.
                    bytes.extend_from_slice(b"x\"");
                    let expected = if at < len { at } else { len + 1 };
                    assert_eq!(special_byte(&bytes, 0), expected, "{what} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn converts_from_and_to_serde_json() {
        let original = json!({ "b": 1, "a": [true, null, -2, 1.5, "x"] });
        assert_eq!(Value::from(original.clone()).to_json(), original);
    }

    #[test]
    fn insert_replaces_in_place_and_indexes_stay_put() {
        let mut object = Object::default();
        object.insert("a", Value::Bool(true));
        object.insert("b", Value::Null);
        object.insert("a", Value::from(json!(2)));
        assert_eq!(object.len(), 2);
        assert_eq!(object.entry_at(0), Some(("a", &Value::from(json!(2)))));
        assert_eq!(object.position("b"), Some(1));
    }
}
