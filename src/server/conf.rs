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

use serde_json::Value;

mod reader;
mod resolve;
mod values;

use reader::Reader;
pub use values::duration;

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

#[cfg(test)]
mod tests;
