//! A reader for nats-server's configuration file format, so an existing `nats-server.conf` works.
//!
//! The format is a relaxed JSON: keys and values are separated by `:`, `=` or whitespace; values
//! are quoted or bare strings, numbers (with optional size suffixes `K`, `KB`, `MB`, `GB`, …),
//! booleans (`true/false/yes/no/on/off`), blocks `{ … }` and arrays `[ … ]`; items may end with
//! `,` `;` or a newline; `#` and `//` start comments. The result is a `serde_json::Value` tree,
//! which `config.rs` reads the keys it knows from. Input is bounded (size and nesting depth) and
//! every malformed file is a [`ConfError`] with a line number, never a panic.

use serde_json::{Map, Number, Value};

/// Largest config file accepted.
pub const MAX_CONF_BYTES: usize = 1 << 20;
/// Deepest nesting of blocks and arrays accepted.
const MAX_DEPTH: usize = 32;

/// Why a config file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    /// The file is larger than [`MAX_CONF_BYTES`].
    #[error("config file is larger than {MAX_CONF_BYTES} bytes")]
    TooLarge,
    /// Blocks or arrays nest deeper than the reader allows.
    #[error("line {0}: blocks nest too deeply")]
    TooDeep(usize),
    /// Something other than what the grammar allows at this point.
    #[error("line {line}: {what}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// What was wrong.
        what: String,
    },
}

/// Parses a whole config file into a JSON object.
pub fn parse(text: &str) -> Result<Value, ConfError> {
    if text.len() > MAX_CONF_BYTES {
        return Err(ConfError::TooLarge);
    }
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    let map = reader.entries(None, 0)?;
    Ok(Value::Object(map))
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn error<T>(&self, what: impl Into<String>) -> Result<T, ConfError> {
        Err(ConfError::Syntax {
            line: self.line,
            what: what.into(),
        })
    }

    /// Skips spaces, separators between items, newlines and comments.
    fn skip_blank(&mut self, also: &[char]) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || also.contains(&c) {
                self.bump();
            } else if c == '#' || (c == '/' && self.chars.get(self.pos + 1) == Some(&'/')) {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    /// Skips spaces and tabs only (a newline ends a bare value).
    fn skip_inline(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    /// `key value` items until `close` (or the end of input at the top level).
    fn entries(
        &mut self,
        close: Option<char>,
        depth: usize,
    ) -> Result<Map<String, Value>, ConfError> {
        if depth > MAX_DEPTH {
            return Err(ConfError::TooDeep(self.line));
        }
        let mut map = Map::new();
        loop {
            self.skip_blank(&[',', ';']);
            match (self.peek(), close) {
                (None, None) => return Ok(map),
                (None, Some(c)) => return self.error(format!("missing '{c}'")),
                (Some(c), Some(want)) if c == want => {
                    self.bump();
                    return Ok(map);
                }
                _ => {}
            }
            let key = self.key()?;
            self.skip_inline();
            if matches!(self.peek(), Some(':' | '=')) {
                self.bump();
            }
            self.skip_inline();
            let value = self.value(depth)?;
            map.insert(key, value);
        }
    }

    fn key(&mut self) -> Result<String, ConfError> {
        if matches!(self.peek(), Some('"' | '\'')) {
            return self.quoted();
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[') {
                break;
            }
            self.bump();
        }
        if self.pos == start {
            return self.error("expected a key");
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn value(&mut self, depth: usize) -> Result<Value, ConfError> {
        match self.peek() {
            Some('{') => {
                self.bump();
                Ok(Value::Object(self.entries(Some('}'), depth + 1)?))
            }
            Some('[') => {
                self.bump();
                self.array(depth + 1)
            }
            Some('"' | '\'') => Ok(Value::String(self.quoted()?)),
            Some(_) => Ok(bare_value(&self.bare())),
            None => self.error("expected a value"),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ConfError> {
        if depth > MAX_DEPTH {
            return Err(ConfError::TooDeep(self.line));
        }
        let mut items = Vec::new();
        loop {
            self.skip_blank(&[',']);
            match self.peek() {
                None => return self.error("missing ']'"),
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                _ => items.push(self.value(depth)?),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ConfError> {
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.error("unterminated string"),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                    None => return self.error("unterminated string"),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// A bare value runs to the end of the line or to a separator.
    fn bare(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '\n' | ',' | ';' | '}' | ']' | '#') {
                break;
            }
            self.bump();
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        // `//` after a space starts a comment; inside a token (`nats://…`) it does not.
        let text = match text.find(" //").or_else(|| text.find("\t//")) {
            Some(cut) => &text[..cut],
            None => &text,
        };
        text.trim().to_string()
    }
}

/// Reads a bare token as a boolean, a number (with size suffix) or else a string.
fn bare_value(token: &str) -> Value {
    match token.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Value::Bool(true),
        "false" | "no" | "off" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = token.parse::<i64>() {
        return Value::Number(n.into());
    }
    if let Some(n) = parse_size(token) {
        return Value::Number(n.into());
    }
    if let Ok(f) = token.parse::<f64>() {
        if let Some(n) = Number::from_f64(f) {
            return Value::Number(n);
        }
    }
    Value::String(token.to_string())
}

/// `64MB`, `1g`, `512K` → bytes (powers of 1024, as nats-server reads them).
fn parse_size(token: &str) -> Option<i64> {
    let digits_end = token.find(|c: char| !c.is_ascii_digit())?;
    if digits_end == 0 {
        return None;
    }
    let (num, suffix) = token.split_at(digits_end);
    let num: i64 = num.parse().ok()?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    num.checked_mul(1i64 << shift)
}

/// A duration value in nats-server's forms: a number of seconds or a string like `2m`, `30s`,
/// `500ms`, `1h`.
pub fn duration(value: &Value) -> Option<std::time::Duration> {
    use std::time::Duration;
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
            let (num, unit) = s.split_at(split);
            let num: f64 = num.parse().ok()?;
            let secs = match unit {
                "ms" => num / 1000.0,
                "s" => num,
                "m" => num * 60.0,
                "h" => num * 3600.0,
                _ => return None,
            };
            (secs >= 0.0).then(|| Duration::from_secs_f64(secs))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_common_nats_server_config_shapes() {
        let text = r#"
            # a comment
            listen: 127.0.0.1:4333
            http_port = 8333   // another comment
            max_payload 2MB
            jetstream {
                store_dir: "/tmp/js data"
                max_file_store: 1G
            }
            websocket { port: 9001, no_tls: true }
            authorization {
                users = [
                    {user: alice, password: "s3cret"}
                    {user: bob, password: 'x'}
                ]
            }
            debug: yes
        "#;
        let v = parse(text).expect("valid config");
        assert_eq!(v["listen"], json!("127.0.0.1:4333"));
        assert_eq!(v["http_port"], json!(8333));
        assert_eq!(v["max_payload"], json!(2 * 1024 * 1024));
        assert_eq!(v["jetstream"]["store_dir"], json!("/tmp/js data"));
        assert_eq!(v["jetstream"]["max_file_store"], json!(1i64 << 30));
        assert_eq!(v["websocket"]["port"], json!(9001));
        assert_eq!(v["websocket"]["no_tls"], json!(true));
        assert_eq!(v["authorization"]["users"][1]["user"], json!("bob"));
        assert_eq!(v["debug"], json!(true));
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        for bad in [
            "a {",
            "a [1, 2",
            "a \"open",
            "{",
            "x: {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn durations_accept_seconds_and_unit_strings() {
        use std::time::Duration;
        assert_eq!(duration(&json!(5)), Some(Duration::from_secs(5)));
        assert_eq!(duration(&json!("2m")), Some(Duration::from_secs(120)));
        assert_eq!(duration(&json!("250ms")), Some(Duration::from_millis(250)));
        assert_eq!(duration(&json!("soon")), None);
    }
}
