//! A reader for nats-server's configuration file format, so an existing `nats-server.conf` means
//! the same thing here as there.
//!
//! The format is a relaxed JSON: keys and values are separated by `:`, `=` or whitespace; values
//! are quoted or bare strings, numbers (with optional size suffixes: `K`, `M`, `G`, … are powers
//! of 1000 and `KB`, `Ki`, `KiB`, … powers of 1024, as nats-server reads them), booleans
//! (`true/false/yes/no/on/off`), blocks `{ … }` and arrays `[ … ]`; items end with a newline,
//! `,` or `;`; `#` and `//` start comments. Beyond values, the format has (as nats-server's
//! `conf/parse.go` defines them):
//!
//! - **`include <path>`** (or `include "path"`): the named file's keys are merged into the block
//!   the directive stands in. The path is joined to the including file's directory (as Go's
//!   `filepath.Join`, so even `/abs/x.conf` is read below that directory). An included file is
//!   read on its own: it does not see the includer's variables, only the environment. Includes
//!   nest at most [`MAX_INCLUDE_DEPTH`] deep; a cycle or a missing file is an error naming the
//!   including file and line (nats-server recurses forever on a cycle).
//! - **Variables**: any key is also a variable. A bare value `$NAME` takes the value of the key
//!   `NAME` defined earlier in the innermost enclosing block, then the blocks around it, then the
//!   process environment (whose text is read as a config value). An undefined variable is an
//!   error with its line. A quoted `"$NAME"` is the literal text, and a bare `$2a$…` (a bcrypt
//!   hash) is literal too. A key whose value was used as a variable is marked in the key table so
//!   the unknown-key check passes over it, as nats-server does.
//!
//! [`parse_file`] returns the value tree (a `serde_json::Value`, which `config.rs` reads) and a
//! side table giving every key path (`authorization.users[0].pass`) the file and line it came
//! from. Input is bounded (per-file and total size, nesting and include depth) and every
//! malformed file is a [`ConfError`] naming file and line, never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Number, Value};

/// Largest config file accepted.
pub const MAX_CONF_BYTES: usize = 1 << 20;
/// Most bytes read over a file and all the files it includes.
pub const MAX_TOTAL_BYTES: usize = 8 << 20;
/// Deepest nesting of blocks and arrays accepted.
const MAX_DEPTH: usize = 32;
/// Deepest chain of `include`s accepted (a file including a file including …).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Where something is in the config: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as it was named (empty for text parsed without a file).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "line {}", self.line)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// What the side table knows about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Where the key was written.
    pub at: Location,
    /// Whether a `$NAME` reference used this key's value (then it is a variable, not a setting).
    pub used_as_variable: bool,
}

/// A parsed config: the value tree and where each key came from.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The whole file as a JSON object.
    pub tree: Value,
    /// Key path (`a.b[0].c`) → where it was written.
    pub keys: BTreeMap<String, KeyInfo>,
}

impl Parsed {
    /// Where the key at `path` was written, if it came from a file.
    pub fn location(&self, path: &str) -> Option<&Location> {
        self.keys.get(path).map(|k| &k.at)
    }

    /// Whether the key at `path` was used as a variable.
    pub fn used_as_variable(&self, path: &str) -> bool {
        self.keys.get(path).is_some_and(|k| k.used_as_variable)
    }
}

/// Joins a key path and a key: `a` + `b` → `a.b`.
pub fn key_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Why a config file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    /// The config file could not be opened or read.
    #[error("cannot read config file {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// What the OS said.
        reason: String,
    },
    /// A file is larger than [`MAX_CONF_BYTES`], or all files together than [`MAX_TOTAL_BYTES`].
    #[error("{file}: config is larger than {limit} bytes")]
    TooLarge {
        /// The file that went over.
        file: String,
        /// The limit passed.
        limit: usize,
    },
    /// Blocks or arrays nest deeper than the reader allows.
    #[error("{0}: blocks nest too deeply")]
    TooDeep(Location),
    /// Something other than what the grammar allows at this point.
    #[error("{at}: parse error on line {}: {what}", at.line)]
    Syntax {
        /// Where.
        at: Location,
        /// What was wrong.
        what: String,
    },
    /// `$NAME` names no key of an enclosing block and no environment variable.
    #[error("{at}: variable reference for '{name}' can not be found")]
    UndefinedVariable {
        /// Where the reference is.
        at: Location,
        /// The variable.
        name: String,
    },
    /// An environment variable's value refers back to itself (through `$NAME`s).
    #[error("{at}: variable reference cycle for '{name}'")]
    VariableCycle {
        /// Where the first reference is.
        at: Location,
        /// The variable met twice.
        name: String,
    },
    /// An environment variable's value is not a valid config value.
    #[error("{at}: environment variable '{name}' is not a valid value: {what}")]
    BadEnvValue {
        /// Where the reference is.
        at: Location,
        /// The variable.
        name: String,
        /// What was wrong with its text.
        what: String,
    },
    /// An included file is missing or unreadable.
    #[error("{at}: cannot include '{target}' ({path}): {reason}")]
    Include {
        /// Where the `include` is.
        at: Location,
        /// The path as written.
        target: String,
        /// The path it resolved to.
        path: String,
        /// What the OS said.
        reason: String,
    },
    /// A file includes itself, directly or through others.
    #[error("{at}: include cycle: '{target}' is already being read")]
    IncludeCycle {
        /// Where the `include` is.
        at: Location,
        /// The path as written.
        target: String,
    },
    /// Includes nest deeper than [`MAX_INCLUDE_DEPTH`].
    #[error("{at}: includes nest deeper than {MAX_INCLUDE_DEPTH} ('{target}')")]
    IncludeTooDeep {
        /// Where the `include` is.
        at: Location,
        /// The path as written.
        target: String,
    },
}

/// Parses config text that has no file of its own (includes are read relative to the current
/// directory). Returns the value tree only.
pub fn parse(text: &str) -> Result<Value, ConfError> {
    let mut budget = Budget::new(&process_env);
    let parsed = parse_source(text, "".into(), Path::new("."), &mut budget)?;
    Ok(parsed.tree)
}

/// Reads and parses a config file, following its includes.
pub fn parse_file(path: &Path) -> Result<Parsed, ConfError> {
    parse_file_with_env(path, &process_env)
}

/// [`parse_file`] with variables the file does not define looked up in `env`.
pub fn parse_file_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Parsed, ConfError> {
    let name: Arc<str> = path.to_string_lossy().into();
    let text = read_bounded(path, &name)?;
    let mut budget = Budget::new(env);
    budget.take(text.len(), &name)?;
    if let Ok(canonical) = std::fs::canonicalize(path) {
        budget.stack.push(canonical);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    parse_source(&text, name, dir, &mut budget)
}

fn read_bounded(path: &Path, name: &str) -> Result<String, ConfError> {
    let read_error = |e: std::io::Error| ConfError::Read {
        file: name.to_string(),
        reason: e.to_string(),
    };
    let len = std::fs::metadata(path).map_err(read_error)?.len();
    if len > MAX_CONF_BYTES as u64 {
        return Err(ConfError::TooLarge {
            file: name.to_string(),
            limit: MAX_CONF_BYTES,
        });
    }
    std::fs::read_to_string(path).map_err(read_error)
}

/// Looks up an environment variable (the process environment, or a test's map).
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// What a file and the files it includes share: the include chain, the bytes read so far and
/// where variables not defined in the file come from.
struct Budget<'e> {
    stack: Vec<PathBuf>,
    bytes: usize,
    env: EnvLookup<'e>,
}

impl<'e> Budget<'e> {
    fn new(env: EnvLookup<'e>) -> Self {
        Budget {
            stack: Vec::new(),
            bytes: 0,
            env,
        }
    }

    fn take(&mut self, bytes: usize, file: &str) -> Result<(), ConfError> {
        self.bytes += bytes;
        if bytes > MAX_CONF_BYTES || self.bytes > MAX_TOTAL_BYTES {
            let limit = if bytes > MAX_CONF_BYTES {
                MAX_CONF_BYTES
            } else {
                MAX_TOTAL_BYTES
            };
            return Err(ConfError::TooLarge {
                file: file.to_string(),
                limit,
            });
        }
        Ok(())
    }
}

fn parse_source(
    text: &str,
    file: Arc<str>,
    dir: &Path,
    budget: &mut Budget<'_>,
) -> Result<Parsed, ConfError> {
    if text.len() > MAX_CONF_BYTES {
        return Err(ConfError::TooLarge {
            file: file.to_string(),
            limit: MAX_CONF_BYTES,
        });
    }
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        file,
        dir: dir.to_path_buf(),
        scopes: Vec::new(),
        keys: BTreeMap::new(),
        env_refs: Vec::new(),
        budget,
    };
    let map = reader.entries(None, 0, "")?;
    Ok(Parsed {
        tree: Value::Object(map),
        keys: reader.keys,
    })
}

/// One block being read: its key path and the keys read so far (which are its variables).
struct Scope {
    path: String,
    map: Map<String, Value>,
}

struct Reader<'b, 'e> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    file: Arc<str>,
    /// Directory includes are relative to.
    dir: PathBuf,
    /// Enclosing blocks, innermost last (arrays are not scopes, as in nats-server).
    scopes: Vec<Scope>,
    keys: BTreeMap<String, KeyInfo>,
    /// Environment variables being expanded (to catch `A=$B`, `B=$A`).
    env_refs: Vec<String>,
    budget: &'b mut Budget<'e>,
}

impl Reader<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn here(&self) -> Location {
        self.at(self.line)
    }

    fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
        }
    }

    fn error<T>(&self, what: impl Into<String>) -> Result<T, ConfError> {
        Err(ConfError::Syntax {
            at: self.here(),
            what: what.into(),
        })
    }

    fn at_comment(&self) -> bool {
        self.peek() == Some('#') || (self.peek() == Some('/') && self.peek_at(1) == Some('/'))
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// Skips spaces, newlines, comments and the given separators.
    fn skip_blank(&mut self, also: &[char]) {
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
    fn skip_inline(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    /// After a value only spaces, a comment, a newline, `,`, `;` or the closing bracket may
    /// follow (`server_name: a b` is an error, as in nats-server).
    fn value_end(&mut self, close: Option<char>) -> Result<(), ConfError> {
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
    fn entries(
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

    fn entries_in_scope(
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

    fn at_inline_space(&self) -> bool {
        matches!(self.peek(), Some(' ' | '\t'))
    }

    /// A key and whether it was quoted.
    fn key(&mut self) -> Result<(String, bool), ConfError> {
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

    fn value(&mut self, depth: usize, path: &str) -> Result<Value, ConfError> {
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

    fn array(&mut self, depth: usize, path: &str) -> Result<Value, ConfError> {
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
    fn single_quoted(&mut self) -> Result<String, ConfError> {
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
    fn double_quoted(&mut self) -> Result<String, ConfError> {
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
    fn bare(&mut self) -> Result<String, ConfError> {
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

    /// `include <path>`: reads the file and merges its keys into the current block.
    fn include(&mut self, line: usize, path: &str) -> Result<(), ConfError> {
        self.skip_inline();
        let target = match self.peek() {
            Some('"') => {
                self.bump();
                self.raw_until('"')?
            }
            Some('\'') => {
                self.bump();
                self.raw_until('\'')?
            }
            None | Some('\n') => return self.error("expected include value but found new line"),
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || matches!(c, ';' | '}' | '\'') {
                        break;
                    }
                    self.bump();
                }
                self.chars[start..self.pos].iter().collect()
            }
        };
        let at = self.at(line);
        if self.budget.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::IncludeTooDeep { at, target });
        }
        // Go's filepath.Join: the path is always read below the including file's directory.
        let resolved = self.dir.join(target.trim_start_matches('/'));
        let name: Arc<str> = resolved.to_string_lossy().into();
        let include_error = |reason: String| ConfError::Include {
            at: at.clone(),
            target: target.clone(),
            path: name.to_string(),
            reason,
        };
        let canonical =
            std::fs::canonicalize(&resolved).map_err(|e| include_error(e.to_string()))?;
        if self.budget.stack.contains(&canonical) {
            return Err(ConfError::IncludeCycle { at, target });
        }
        let text = match read_bounded(&resolved, &name) {
            Ok(text) => text,
            Err(ConfError::Read { reason, .. }) => return Err(include_error(reason)),
            Err(other) => return Err(other),
        };
        self.budget.take(text.len(), &name)?;
        let dir = resolved.parent().unwrap_or(Path::new(".")).to_path_buf();
        self.budget.stack.push(canonical);
        let parsed = parse_source(&text, name, &dir, self.budget);
        self.budget.stack.pop();
        let parsed = parsed?;
        if let Value::Object(map) = parsed.tree {
            if let Some(scope) = self.scopes.last_mut() {
                scope.map.extend(map);
            }
        }
        for (key, info) in parsed.keys {
            self.keys.insert(key_path(path, &key), info);
        }
        Ok(())
    }

    fn raw_until(&mut self, end: char) -> Result<String, ConfError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.error("unexpected end of file in quoted include"),
                Some(c) if c == end => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// `$name`: the innermost enclosing block's key, then outer blocks', then the environment.
    fn variable(&mut self, name: &str, line: usize) -> Result<Value, ConfError> {
        let found = self
            .scopes
            .iter()
            .rev()
            .find_map(|scope| Some((scope.path.clone(), scope.map.get(name)?.clone())));
        if let Some((scope_path, value)) = found {
            if let Some(info) = self.keys.get_mut(&key_path(&scope_path, name)) {
                info.used_as_variable = true;
            }
            return Ok(value);
        }
        let at = self.at(line);
        if self.env_refs.len() >= MAX_DEPTH {
            return Err(ConfError::TooDeep(at));
        }
        if self.env_refs.iter().any(|r| r == name) {
            return Err(ConfError::VariableCycle {
                at,
                name: name.to_string(),
            });
        }
        let Some(text) = (self.budget.env)(name) else {
            return Err(ConfError::UndefinedVariable {
                at,
                name: name.to_string(),
            });
        };
        // The environment's text is read as a value would be written in the file.
        let mut env_reader = Reader {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            file: "".into(),
            dir: self.dir.clone(),
            scopes: vec![Scope {
                path: String::new(),
                map: Map::new(),
            }],
            keys: BTreeMap::new(),
            env_refs: self.env_refs.clone(),
            budget: &mut *self.budget,
        };
        env_reader.env_refs.push(name.to_string());
        env_reader.skip_inline();
        let value = env_reader
            .value(0, "")
            .and_then(|v| env_reader.value_end(None).map(|_| v));
        match value {
            Ok(value) => Ok(value),
            Err(err @ (ConfError::VariableCycle { .. } | ConfError::UndefinedVariable { .. })) => {
                Err(match err {
                    ConfError::VariableCycle { name, .. } => ConfError::VariableCycle { at, name },
                    ConfError::UndefinedVariable { name, .. } => {
                        ConfError::UndefinedVariable { at, name }
                    }
                    other => other,
                })
            }
            Err(err) => Err(ConfError::BadEnvValue {
                at,
                name: name.to_string(),
                what: err.to_string(),
            }),
        }
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
    if token.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        if let Ok(f) = token.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(token.to_string())
}

/// `1K` = 1000, `1KB`/`1Ki`/`1KiB` = 1024, and so on up to `E`, as nats-server reads sizes.
fn parse_size(token: &str) -> Option<i64> {
    let digits = token.strip_prefix('-').unwrap_or(token);
    let digits_end = digits.find(|c: char| !c.is_ascii_digit())?;
    if digits_end == 0 {
        return None;
    }
    let split = token.len() - digits.len() + digits_end;
    let (num, suffix) = token.split_at(split);
    let num: i64 = num.parse().ok()?;
    let suffix = suffix.to_ascii_lowercase();
    let mut chars = suffix.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    num.checked_mul(base.checked_pow(power)?)
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
mod tests;
