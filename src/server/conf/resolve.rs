//! `include` and `$variable`: the two places the reader looks beyond the text in front of it,
//! following nats-server's `conf/parse.go` (see the module docs of `conf`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::reader::{Reader, Scope};
use super::{key_path, parse_source, read_bounded, ConfError, MAX_DEPTH, MAX_INCLUDE_DEPTH};

impl Reader<'_, '_> {
    /// `include <path>`: reads the file and merges its keys into the current block.
    pub(super) fn include(&mut self, line: usize, path: &str) -> Result<(), ConfError> {
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

    pub(super) fn raw_until(&mut self, end: char) -> Result<String, ConfError> {
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
    pub(super) fn variable(&mut self, name: &str, line: usize) -> Result<Value, ConfError> {
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
