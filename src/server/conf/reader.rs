//! The grammar: blocks, arrays, keys and values, read character by character with the line
//! kept for every key. Includes and variables are in `resolve.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::values::bare_value;
use super::{key_path, Budget, ConfError, KeyInfo, Location, MAX_DEPTH};

/// One block being read: its key path and the keys read so far (which are its variables).
pub(super) struct Scope {
    pub(super) path: String,
    pub(super) map: Map<String, Value>,
}

pub(super) struct Reader<'b, 'e> {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    pub(super) line: usize,
    pub(super) file: Arc<str>,
    /// Directory includes are relative to.
    pub(super) dir: PathBuf,
    /// Enclosing blocks, innermost last (arrays are not scopes, as in nats-server).
    pub(super) scopes: Vec<Scope>,
    pub(super) keys: BTreeMap<String, KeyInfo>,
    /// Environment variables being expanded (to catch `A=$B`, `B=$A`).
    pub(super) env_refs: Vec<String>,
    pub(super) budget: &'b mut Budget<'e>,
}

impl Reader<'_, '_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    pub(super) fn here(&self) -> Location {
        self.at(self.line)
    }

    pub(super) fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
        }
    }

    pub(super) fn error<T>(&self, what: impl Into<String>) -> Result<T, ConfError> {
        Err(ConfError::Syntax {
            at: self.here(),
            what: what.into(),
        })
    }

    pub(super) fn at_comment(&self) -> bool {
        self.peek() == Some('#') || (self.peek() == Some('/') && self.peek_at(1) == Some('/'))
    }

    pub(super) fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// Skips spaces, newlines, comments and the given separators.
    pub(super) fn skip_blank(&mut self, also: &[char]) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || also.contains(&c) {
                self.bump();
            } else if self.at_comment() {
                self.skip_comment();
            } else {
                break;
            }
        }
    }

    /// Skips spaces and tabs only (a newline ends a value).
    pub(super) fn skip_inline(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    /// After a value only spaces, a comment, a newline, `,`, `;` or the closing bracket may
    /// follow (`server_name: a b` is an error, as in nats-server).
    pub(super) fn value_end(&mut self, close: Option<char>) -> Result<(), ConfError> {
        self.skip_inline();
        match self.peek() {
            None | Some('\n' | ',' | ';') => Ok(()),
            Some(c) if Some(c) == close => Ok(()),
            Some('}') if close.is_none() => Ok(()),
            Some(_) if self.at_comment() => Ok(()),
            Some(c) => self.error(format!(
                "expected the value to end with a new line, comment or separator, got '{c}'"
            )),
        }
    }

    /// `key value` items until `close` (or the end of input at the top level) of the block at
    /// `path`.
    pub(super) fn entries(
        &mut self,
        close: Option<char>,
        depth: usize,
        path: &str,
    ) -> Result<Map<String, Value>, ConfError> {
        if depth > MAX_DEPTH {
            return Err(ConfError::TooDeep(self.here()));
        }
        self.scopes.push(Scope {
            path: path.to_string(),
            map: Map::new(),
        });
        let result = self.entries_in_scope(close, depth, path);
        let scope = self.scopes.pop();
        result?;
        Ok(scope.map(|s| s.map).unwrap_or_default())
    }

    pub(super) fn entries_in_scope(
        &mut self,
        close: Option<char>,
        depth: usize,
        path: &str,
    ) -> Result<(), ConfError> {
        // A whole file may be wrapped in `{ … }`, JSON style; at the top level braces are blank.
        let blank: &[char] = if close.is_none() {
            &[',', ';', '{', '}']
        } else {
            &[',', ';']
        };
        loop {
            self.skip_blank(blank);
            match (self.peek(), close) {
                (None, None) => return Ok(()),
                (None, Some(c)) => return self.error(format!("missing '{c}'")),
                (Some(c), Some(want)) if c == want => {
                    self.bump();
                    return Ok(());
                }
                _ => {}
            }
            let line = self.line;
            let (key, quoted) = self.key()?;
            if !quoted && key.eq_ignore_ascii_case("include") && self.at_inline_space() {
                self.include(line, path)?;
                self.value_end(close)?;
                continue;
            }
            self.skip_inline();
            if matches!(self.peek(), Some(':' | '=')) {
                self.bump();
            }
            self.skip_inline();
            let child = key_path(path, &key);
            let value = self.value(depth, &child)?;
            self.value_end(close)?;
            self.keys.insert(
                child,
                KeyInfo {
                    at: self.at(line),
                    used_as_variable: false,
                },
            );
            if let Some(scope) = self.scopes.last_mut() {
                scope.map.insert(key, value);
            }
        }
    }

    pub(super) fn at_inline_space(&self) -> bool {
        matches!(self.peek(), Some(' ' | '\t'))
    }

    /// A key and whether it was quoted.
    pub(super) fn key(&mut self) -> Result<(String, bool), ConfError> {
        if let Some(quote @ ('"' | '\'')) = self.peek() {
            self.bump();
            let mut key = String::new();
            loop {
                match self.bump() {
                    None | Some('\n') => return self.error("unterminated quoted key"),
                    Some(c) if c == quote => return Ok((key, true)),
                    Some(c) => key.push(c),
                }
            }
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
        Ok((self.chars[start..self.pos].iter().collect(), false))
    }

    pub(super) fn value(&mut self, depth: usize, path: &str) -> Result<Value, ConfError> {
        match self.peek() {
            Some('{') => {
                self.bump();
                Ok(Value::Object(self.entries(Some('}'), depth + 1, path)?))
            }
            Some('[') => {
                self.bump();
                self.array(depth + 1, path)
            }
            Some('"') => {
                self.bump();
                Ok(Value::String(self.double_quoted()?))
            }
            Some('\'') => {
                self.bump();
                Ok(Value::String(self.single_quoted()?))
            }
            None | Some('\n') => self.error("expected a value"),
            Some(_) => {
                let line = self.line;
                let token = self.bare()?;
                match token.strip_prefix('$') {
                    // nats-server keeps a bare bcrypt hash (`$2a$11$…`) as text.
                    Some(name) if !name.starts_with("2a$") => self.variable(name, line),
                    _ => Ok(bare_value(&token)),
                }
            }
        }
    }

    pub(super) fn array(&mut self, depth: usize, path: &str) -> Result<Value, ConfError> {
        if depth > MAX_DEPTH {
            return Err(ConfError::TooDeep(self.here()));
        }
        let mut items = Vec::new();
        loop {
            self.skip_blank(&[]);
            match self.peek() {
                None => return self.error("missing ']'"),
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                Some(',') => return self.error("unexpected ',' in array"),
                _ => {
                    let line = self.line;
                    let item_path = format!("{path}[{}]", items.len());
                    items.push(self.value(depth, &item_path)?);
                    self.keys.insert(
                        item_path,
                        KeyInfo {
                            at: self.at(line),
                            used_as_variable: false,
                        },
                    );
                    self.value_end(Some(']'))?;
                    self.skip_inline();
                    if self.peek() == Some(',') {
                        self.bump();
                    }
                }
            }
        }
    }

    /// `'…'`: no escapes, as nats-server reads it.
    pub(super) fn single_quoted(&mut self) -> Result<String, ConfError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.error("unterminated string"),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// `"…"` with nats-server's escapes: `\t \n \r \" \\ \xHH`.
    pub(super) fn double_quoted(&mut self) -> Result<String, ConfError> {
        let mut out: Vec<u8> = Vec::new();
        let mut utf8 = [0u8; 4];
        loop {
            match self.bump() {
                None => return self.error("unterminated string"),
                Some('"') => break,
                Some('\\') => match self.bump() {
                    Some('n') => out.push(b'\n'),
                    Some('t') => out.push(b'\t'),
                    Some('r') => out.push(b'\r'),
                    Some('"') => out.push(b'"'),
                    Some('\\') => out.push(b'\\'),
                    Some('x') => {
                        let hex: String = [self.bump(), self.bump()].iter().flatten().collect();
                        match u8::from_str_radix(&hex, 16) {
                            Ok(b) if hex.len() == 2 => out.push(b),
                            _ => return self.error(format!("expected two hex digits after \\x, got '{hex}'")),
                        }
                    }
                    Some(c) => {
                        return self.error(format!(
                            "invalid escape character '{c}' (allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\)"
                        ))
                    }
                    None => return self.error("unterminated string"),
                },
                Some(c) => out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
            }
        }
        String::from_utf8(out).or_else(|_| self.error("string is not valid UTF-8"))
    }

    /// A bare value runs to whitespace, a newline or a separator (`#` inside a token is text,
    /// as in nats-server).
    pub(super) fn bare(&mut self) -> Result<String, ConfError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ',' | ';' | '}' | ']') {
                break;
            }
            self.bump();
        }
        if self.pos == start {
            return self.error("expected a value");
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }
}
