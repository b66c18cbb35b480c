//! Subject transforms: a source filter and a destination template that rewrite a subject, as
//! nats-server's `subject_transform.go` defines them.
//!
//! Streams use one on input (`subject_transform`: a message is stored under the rewritten
//! subject) and one for `republish`; mirrors and sources will use the same. A destination is a
//! subject whose tokens are literals, `>` (when the source ends in `>`), or placeholders that
//! draw on the source's `*` wildcards, numbered from 1 left to right:
//!
//! - `$n` or `{{wildcard(n)}}`: the token the n-th wildcard matched;
//! - `{{partition(k)}}` / `{{partition(k, n, ...)}}`: a bucket in `0..k`, the FNV-1a hash of the
//!   whole subject or of the listed wildcards' tokens, so a key always lands in the same bucket;
//! - `{{split(n, delim)}}`: the token cut at every `delim`, the pieces becoming tokens;
//! - `{{splitFromLeft(n, p)}}`, `{{splitFromRight(n, p)}}`: the token cut in two `p` bytes from
//!   its start or end;
//! - `{{sliceFromLeft(n, s)}}`, `{{sliceFromRight(n, s)}}`: the token cut into `s`-byte tokens
//!   counted from its start or end;
//! - `{{left(n, l)}}`, `{{right(n, l)}}`: the first or last `l` bytes of the token (not accepted
//!   in stream configs: nats-server's `ValidateMapping` does not list them);
//! - `{{random(k)}}`: a random bucket in `0..k` (the caller supplies the randomness).
//!
//! Function names accept a capital first letter and either case at each word start
//! (`SplitFromLeft`, `splitfromleft`), as nats-server's patterns do; a token that looks like a
//! function (`{{...}}`) but is none is refused. Errors read as nats-server's.

/// The first words of every destination error.
const INVALID: &str = "invalid mapping destination";

/// Why a transform was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The source or destination is not a subject, the destination holds a `*`, or only one of
    /// them ends in `>`.
    #[error("invalid subject")]
    BadSubject,
    /// A destination token is empty, follows `>`, or holds whitespace.
    #[error("{INVALID}: invalid transform{}", in_token(.0))]
    InvalidDestination(Option<String>),
    /// A `{{...}}` token names no known function.
    #[error("{INVALID}: unknown function in {0}")]
    UnknownFunction(String),
    /// A placeholder names a wildcard the source does not have (or the source has none).
    #[error("{INVALID}: wildcard index out of range in {0}")]
    IndexOutOfRange(String),
    /// A function got too few arguments.
    #[error("{INVALID}: not enough arguments passed to the function in {0}")]
    NotEnoughArgs(String),
    /// A function got too many arguments.
    #[error("{INVALID}: too many arguments passed to the function in {0}")]
    TooManyArgs(String),
    /// A function argument is not a number where one is needed, or a bad delimiter.
    #[error("{INVALID}: function argument is invalid or in the wrong format in {0}")]
    InvalidArg(String),
}

fn in_token(token: &Option<String>) -> String {
    token
        .as_deref()
        .map_or_else(String::new, |t| format!(" in {t}"))
}

/// One destination token, resolved against the source's wildcards (positions are indexes of
/// source tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Literal(String),
    /// `>`: the rest of the subject goes here.
    Rest,
    Wildcard(usize),
    /// Buckets, and the tokens hashed (none: the whole subject).
    Partition(i32, Vec<usize>),
    SplitFromLeft(usize, i32),
    SplitFromRight(usize, i32),
    SliceFromLeft(usize, i32),
    SliceFromRight(usize, i32),
    Split(usize, String),
    Left(usize, i32),
    Right(usize, i32),
    Random(i32),
}

/// A destination token as written, before wildcard numbers are resolved to token positions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placeholder {
    None,
    Wildcard(i64),
    Partition(i32, Vec<i64>),
    SplitFromLeft(i64, i32),
    SplitFromRight(i64, i32),
    SliceFromLeft(i64, i32),
    SliceFromRight(i64, i32),
    Split(i64, String),
    Left(i64, i32),
    Right(i64, i32),
    Random(i32),
}

/// A compiled transform from `src` to `dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: String,
    /// Source tokens (for `>`: the rest starts at the source's last token).
    src_tokens: usize,
    steps: Vec<Step>,
}

impl SubjectTransform {
    /// Compiles a transform (nats-server's `NewSubjectTransform`). An empty source means `>`;
    /// an empty destination means no transform at all (`Ok(None)`).
    pub fn new(src: &str, dest: &str) -> Result<Option<SubjectTransform>, TransformError> {
        if dest.is_empty() {
            return Ok(None);
        }
        let src = if src.is_empty() { ">" } else { src };
        let (src_ok, src_toks, pwcs, src_fwc) = subject_info(src);
        let (dest_ok, dest_toks, dest_pwcs, dest_fwc) = subject_info(dest);
        if !src_ok || !dest_ok || dest_pwcs > 0 || src_fwc != dest_fwc {
            return Err(TransformError::BadSubject);
        }
        // Position in the source of the n-th `*` (1-based); unknown numbers read token 0, as in
        // nats-server.
        let wildcard_positions: Vec<usize> = src_toks
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let position = |n: i64| -> usize {
            usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|n| wildcard_positions.get(n).copied())
                .unwrap_or(0)
        };
        let has_wildcards = pwcs > 0 || src_fwc;
        let mut steps = Vec::with_capacity(dest_toks.len());
        for token in &dest_toks {
            let placeholder = parse_placeholder(token)?;
            let indexes: Vec<i64> = match &placeholder {
                Placeholder::None | Placeholder::Random(_) => Vec::new(),
                Placeholder::Partition(_, idx) => idx.clone(),
                Placeholder::Wildcard(i)
                | Placeholder::SplitFromLeft(i, _)
                | Placeholder::SplitFromRight(i, _)
                | Placeholder::SliceFromLeft(i, _)
                | Placeholder::SliceFromRight(i, _)
                | Placeholder::Split(i, _)
                | Placeholder::Left(i, _)
                | Placeholder::Right(i, _) => vec![*i],
            };
            if !has_wildcards {
                // Without wildcards only literals, random and (whole-subject) partition work.
                match placeholder {
                    Placeholder::None | Placeholder::Random(_) | Placeholder::Partition(..) => {}
                    _ => return Err(TransformError::IndexOutOfRange(token.to_string())),
                }
            } else if let Some(bad) = indexes.iter().find(|i| **i > pwcs as i64) {
                return Err(TransformError::IndexOutOfRange(format!("{token}: [{bad}]")));
            }
            steps.push(match placeholder {
                Placeholder::None if *token == ">" => Step::Rest,
                Placeholder::None => Step::Literal(token.to_string()),
                Placeholder::Random(k) => Step::Random(k),
                Placeholder::Partition(k, _) if !has_wildcards => Step::Partition(k, Vec::new()),
                Placeholder::Partition(k, idx) => {
                    Step::Partition(k, idx.into_iter().map(position).collect())
                }
                Placeholder::Wildcard(i) => Step::Wildcard(position(i)),
                Placeholder::SplitFromLeft(i, p) => Step::SplitFromLeft(position(i), p),
                Placeholder::SplitFromRight(i, p) => Step::SplitFromRight(position(i), p),
                Placeholder::SliceFromLeft(i, s) => Step::SliceFromLeft(position(i), s),
                Placeholder::SliceFromRight(i, s) => Step::SliceFromRight(position(i), s),
                Placeholder::Split(i, d) => Step::Split(position(i), d),
                Placeholder::Left(i, l) => Step::Left(position(i), l),
                Placeholder::Right(i, l) => Step::Right(position(i), l),
            });
        }
        Ok(Some(SubjectTransform {
            src: src.to_string(),
            dest: dest.to_string(),
            src_tokens: src_toks.len(),
            steps,
        }))
    }

    /// The source filter (`>` when none was given).
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The destination template.
    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Rewrites `subject` when it matches the source (nats-server's `Match`); `None` when it
    /// does not, or is not a valid literal subject. `random` is asked for a value only by
    /// `{{random(k)}}`.
    pub fn apply(&self, subject: &str, random: &mut dyn FnMut() -> u32) -> Option<String> {
        let tokens: Vec<&str> = subject.split('.').collect();
        if tokens
            .iter()
            .any(|t| t.is_empty() || *t == "*" || *t == ">")
        {
            return None;
        }
        let identity = |s: &str| s == ">" || s.is_empty();
        if identity(&self.src) && identity(&self.dest) {
            return Some(subject.to_string());
        }
        if self.src != ">" && !crate::core::subject::matches(&self.src, subject) {
            return None;
        }
        Some(self.rewrite(&tokens, random))
    }

    /// Builds the destination from a matching subject's tokens (`TransformTokenizedSubject`).
    fn rewrite(&self, tokens: &[&str], random: &mut dyn FnMut() -> u32) -> String {
        let token = |i: usize| tokens.get(i).copied().unwrap_or("").as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(64);
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Rest => break,
                Step::Literal(text) => out.extend_from_slice(text.as_bytes()),
                Step::Wildcard(at) => out.extend_from_slice(token(*at)),
                Step::Partition(buckets, at) => {
                    let key: Vec<u8> = if at.is_empty() {
                        tokens.join(".").into_bytes()
                    } else {
                        at.iter().flat_map(|a| token(*a).iter().copied()).collect()
                    };
                    out.extend_from_slice(hash_partition(&key, *buckets).as_bytes());
                }
                Step::SplitFromLeft(at, p) => split_at(&mut out, token(*at), *p, false),
                Step::SplitFromRight(at, p) => split_at(&mut out, token(*at), *p, true),
                Step::SliceFromLeft(at, s) => slice_from_left(&mut out, token(*at), *s),
                Step::SliceFromRight(at, s) => slice_from_right(&mut out, token(*at), *s),
                Step::Split(at, delim) => split_on(&mut out, token(*at), delim.as_bytes()),
                Step::Left(at, l) => {
                    let t = token(*at);
                    match usize::try_from(*l).ok().filter(|l| *l > 0 && *l < t.len()) {
                        Some(l) => out.extend_from_slice(&t[..l]),
                        None => out.extend_from_slice(t),
                    }
                }
                Step::Right(at, l) => {
                    let t = token(*at);
                    match usize::try_from(*l).ok().filter(|l| *l > 0 && *l < t.len()) {
                        Some(l) => out.extend_from_slice(&t[t.len() - l..]),
                        None => out.extend_from_slice(t),
                    }
                }
                Step::Random(k) => {
                    let value = if *k == 0 {
                        0
                    } else {
                        i64::from(random() & 0x7fff_ffff) % i64::from(*k)
                    };
                    out.extend_from_slice(value.to_string().as_bytes());
                }
            }
            if i < last {
                out.push(b'.');
            }
        }
        if self.steps.last() == Some(&Step::Rest) {
            let rest = tokens
                .get(self.src_tokens.saturating_sub(1)..)
                .unwrap_or(&[]);
            out.extend_from_slice(rest.join(".").as_bytes());
        }
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

/// Checks a transform as a stream config's `subject_transform` is checked (nats-server's
/// `ValidateMapping`): the destination's tokens first, then the transform itself.
pub fn validate_mapping(src: &str, dest: &str) -> Result<(), TransformError> {
    if dest.is_empty() {
        return Ok(());
    }
    let mut after_fwc = false;
    for token in dest.split('.') {
        if token.is_empty() || after_fwc {
            return Err(TransformError::InvalidDestination(Some(token.to_string())));
        }
        if is_mustache(token) {
            let Some((name, _)) = function_call(token) else {
                return Err(TransformError::UnknownFunction(token.to_string()));
            };
            // `left` and `right` are not among the functions this check knows.
            const KNOWN: [&str; 8] = [
                "partition",
                "wildcard",
                "splitFromLeft",
                "splitFromRight",
                "sliceFromLeft",
                "sliceFromRight",
                "split",
                "random",
            ];
            if !KNOWN.iter().any(|k| name_is(name, k)) {
                return Err(TransformError::UnknownFunction(token.to_string()));
            }
            continue;
        }
        if token == ">" {
            after_fwc = true;
        } else if token.contains([' ', '\t', '\n', '\r', '\x0c']) {
            return Err(TransformError::InvalidDestination(None));
        }
    }
    SubjectTransform::new(src, dest).map(|_| ())
}

/// nats-server's `subjectInfo`: valid (no empty token, nothing after `>`), tokens, number of
/// `*`, ends in `>`.
fn subject_info(subject: &str) -> (bool, Vec<&str>, usize, bool) {
    if subject.is_empty() {
        return (false, Vec::new(), 0, false);
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let (mut pwcs, mut fwc) = (0, false);
    for t in &tokens {
        if t.is_empty() || fwc {
            return (false, Vec::new(), 0, false);
        }
        match *t {
            ">" => fwc = true,
            "*" => pwcs += 1,
            _ => {}
        }
    }
    (true, tokens, pwcs, fwc)
}

/// Whether a token is written as a function (`{{...}}`), well-formed or not.
fn is_mustache(token: &str) -> bool {
    token.len() > 4 && token.starts_with("{{") && token.ends_with("}}")
}

/// `{{ name(args) }}` → (name, args text), when the token has that shape.
fn function_call(token: &str) -> Option<(&str, &str)> {
    if !is_mustache(token) {
        return None;
    }
    let inner = token[2..token.len() - 2].trim_start();
    let open = inner.find('(')?;
    let close = inner.rfind(')')?;
    if close < open || !inner[close + 1..].trim().is_empty() {
        return None;
    }
    let name = inner[..open].trim_end();
    Some((name, &inner[open + 1..close]))
}

/// Whether `name` spells the camel-case `pattern`, each word's first letter in either case.
fn name_is(name: &str, pattern: &str) -> bool {
    name.len() == pattern.len()
        && name
            .chars()
            .zip(pattern.chars())
            .enumerate()
            .all(|(i, (n, p))| {
                if i == 0 || p.is_ascii_uppercase() {
                    n.eq_ignore_ascii_case(&p)
                } else {
                    n == p
                }
            })
}

/// Splits arguments as nats-server does (at commas, eating the spaces after them).
fn split_args(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = args;
    while let Some(at) = rest.find(',') {
        out.push(&rest[..at]);
        rest = rest[at + 1..].trim_start_matches([' ', '\t', '\n', '\r', '\x0c']);
    }
    out.push(rest);
    out
}

fn int_arg(arg: &str, token: &str) -> Result<i64, TransformError> {
    arg.trim_matches(' ')
        .parse::<i64>()
        .map_err(|_| TransformError::InvalidArg(token.to_string()))
}

fn int32_arg(arg: &str, token: &str) -> Result<i32, TransformError> {
    i32::try_from(int_arg(arg, token)?).map_err(|_| TransformError::InvalidArg(token.to_string()))
}

/// Builds a placeholder of a function taking a wildcard number and an integer.
type IndexAndInt = fn(i64, i32) -> Placeholder;

/// Reads one destination token (nats-server's `indexPlaceHolders`).
fn parse_placeholder(token: &str) -> Result<Placeholder, TransformError> {
    let bad_arg = || TransformError::InvalidArg(token.to_string());
    if token.len() > 1 {
        if let Some(n) = token.strip_prefix('$') {
            // `$x` that is no number stays a literal (other features use `$` tokens).
            return Ok(n
                .parse::<i64>()
                .map_or(Placeholder::None, Placeholder::Wildcard));
        }
    }
    if !is_mustache(token) {
        return Ok(Placeholder::None);
    }
    let Some((name, args)) = function_call(token) else {
        return Err(TransformError::UnknownFunction(token.to_string()));
    };
    let args = split_args(args);
    let index_and_int = |make: IndexAndInt| -> Result<Placeholder, TransformError> {
        match args.as_slice() {
            [index, n] => Ok(make(int_arg(index, token)?, int32_arg(n, token)?)),
            [_] | [] => Err(TransformError::NotEnoughArgs(token.to_string())),
            _ => Err(TransformError::TooManyArgs(token.to_string())),
        }
    };
    // Checked in nats-server's order.
    if name_is(name, "wildcard") {
        return match args.as_slice() {
            [""] => Err(TransformError::NotEnoughArgs(token.to_string())),
            [index] => Ok(Placeholder::Wildcard(int_arg(index, token)?)),
            _ => Err(TransformError::TooManyArgs(token.to_string())),
        };
    }
    if name_is(name, "partition") {
        let (first, rest) = args.split_first().ok_or_else(bad_arg)?;
        let buckets = int32_arg(first, token)?;
        let indexes = rest
            .iter()
            .map(|a| int_arg(a, token))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Placeholder::Partition(buckets, indexes));
    }
    let two_args: [(&str, IndexAndInt); 6] = [
        ("splitFromLeft", Placeholder::SplitFromLeft),
        ("splitFromRight", Placeholder::SplitFromRight),
        ("sliceFromLeft", Placeholder::SliceFromLeft),
        ("sliceFromRight", Placeholder::SliceFromRight),
        ("right", Placeholder::Right),
        ("left", Placeholder::Left),
    ];
    if let Some((_, make)) = two_args.iter().find(|(n, _)| name_is(name, n)) {
        return index_and_int(*make);
    }
    if name_is(name, "split") {
        return match args.as_slice() {
            [index, delim] => {
                let index = int_arg(index, token)?;
                if delim.contains(' ') || delim.contains('.') {
                    return Err(bad_arg());
                }
                Ok(Placeholder::Split(index, delim.to_string()))
            }
            [_] | [] => Err(TransformError::NotEnoughArgs(token.to_string())),
            _ => Err(TransformError::TooManyArgs(token.to_string())),
        };
    }
    if name_is(name, "random") {
        return match args.as_slice() {
            [k] => Ok(Placeholder::Random(int32_arg(k, token)?)),
            _ => Err(TransformError::NotEnoughArgs(token.to_string())),
        };
    }
    Err(TransformError::UnknownFunction(token.to_string()))
}

/// FNV-1a (32 bit) of `key`, modulo `buckets` (as nats-server's `getHashPartition`, which reads
/// the bucket count as unsigned).
fn hash_partition(key: &[u8], buckets: i32) -> String {
    if buckets == 0 {
        return "0".to_string();
    }
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % (buckets as u32)).to_string()
}

/// Cuts `token` in two, `p` bytes from its start (or end), unless it is too short.
fn split_at(out: &mut Vec<u8>, token: &[u8], p: i32, from_right: bool) {
    match usize::try_from(p)
        .ok()
        .filter(|p| *p > 0 && *p < token.len())
    {
        Some(p) => {
            let cut = if from_right { token.len() - p } else { p };
            out.extend_from_slice(&token[..cut]);
            out.push(b'.');
            out.extend_from_slice(&token[cut..]);
        }
        None => out.extend_from_slice(token),
    }
}

/// Cuts `token` into `size`-byte tokens from its start; the remainder is the last token.
fn slice_from_left(out: &mut Vec<u8>, token: &[u8], size: i32) {
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0 && *s < token.len())
    else {
        out.extend_from_slice(token);
        return;
    };
    let pieces: Vec<&[u8]> = token.chunks(size).collect();
    out.extend_from_slice(&pieces.join(&b'.'));
}

/// Cuts `token` into `size`-byte tokens from its end; the remainder is the first token.
fn slice_from_right(out: &mut Vec<u8>, token: &[u8], size: i32) {
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0 && *s < token.len())
    else {
        out.extend_from_slice(token);
        return;
    };
    let remainder = token.len() % size;
    let mut pieces: Vec<&[u8]> = Vec::new();
    if remainder > 0 {
        pieces.push(&token[..remainder]);
    }
    pieces.extend(token[remainder..].chunks(size));
    out.extend_from_slice(&pieces.join(&b'.'));
}

/// Cuts `token` at every `delim`, the pieces becoming tokens; empty pieces vanish, but the
/// separators around them follow nats-server's rule exactly (`--a` on `-` gives `.a`). An empty
/// delimiter cuts every character, as Go's `strings.Split` does.
fn split_on(out: &mut Vec<u8>, token: &[u8], delim: &[u8]) {
    let text = String::from_utf8_lossy(token);
    let pieces: Vec<String> = if delim.is_empty() {
        text.chars().map(String::from).collect()
    } else {
        let delim = String::from_utf8_lossy(delim);
        text.split(delim.as_ref()).map(str::to_string).collect()
    };
    for (j, piece) in pieces.iter().enumerate() {
        out.extend_from_slice(piece.as_bytes());
        let next_nonempty = pieces.get(j + 1).is_some_and(|n| !n.is_empty());
        if next_nonempty && !(j == 0 && piece.is_empty()) {
            out.push(b'.');
        }
    }
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
