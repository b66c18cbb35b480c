//! Subjects and subject filters: validation, matching, subset and overlap.
//!
//! A subject is a `.`-separated list of non-empty tokens. A filter may use two wildcards, each only
//! as a whole token: `*` stands for exactly one token and `>` for one or more tokens and must be
//! last. A token that merely contains `*` or `>` (`a*`, `>b`) is an ordinary literal, as in
//! nats-server. Published subjects are literal.
//!
//! The rules follow nats-server's `server/sublist.go` (`IsValidSubject`, `IsValidLiteralSubject`,
//! `matchLiteral`, `subjectIsSubsetMatch`, `SubjectsCollide`), with one deliberate tightening:
//! every ASCII control character is rejected, not only the whitespace nats-server checks for.
//!
//! [`matches()`] runs on every publish, so it walks the two byte strings in lockstep and never
//! allocates. [`is_subset`] and [`overlaps`] are config-time checks and favour plainness.

/// Maximum length of a subject or filter in bytes (nats-server's default control-line limit,
/// which bounds every subject a client can send).
pub const MAX_SUBJECT_LEN: usize = 4096;

/// The single-token wildcard.
pub const WILDCARD_ONE: &str = "*";
/// The trailing wildcard: one or more tokens.
pub const WILDCARD_REST: &str = ">";

/// Why a subject or filter is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The subject is empty.
    #[error("subject is empty")]
    Empty,
    /// The subject is longer than [`MAX_SUBJECT_LEN`].
    #[error("subject is too long")]
    TooLong,
    /// A token is empty (leading, trailing or doubled `.`).
    #[error("subject has an empty token")]
    EmptyToken,
    /// The subject holds whitespace or an ASCII control character.
    #[error("subject contains an illegal character")]
    IllegalCharacter,
    /// A `>` token is followed by more tokens.
    #[error("invalid wildcard in subject")]
    InvalidWildcard,
    /// A wildcard appears where only a literal subject is allowed.
    #[error("wildcards are not allowed in this subject")]
    WildcardNotAllowed,
}

/// Checks a filter: not empty, within [`MAX_SUBJECT_LEN`], no empty token, no whitespace or control
/// character, and `>` (as a whole token) only last. `*` may stand anywhere.
pub fn validate_filter(filter: &str) -> Result<(), SubjectError> {
    if filter.is_empty() {
        return Err(SubjectError::Empty);
    }
    if filter.len() > MAX_SUBJECT_LEN {
        return Err(SubjectError::TooLong);
    }
    let mut after_rest_wildcard = false;
    for token in filter.split('.') {
        if after_rest_wildcard {
            return Err(SubjectError::InvalidWildcard);
        }
        if token.is_empty() {
            return Err(SubjectError::EmptyToken);
        }
        if token.bytes().any(is_illegal_byte) {
            return Err(SubjectError::IllegalCharacter);
        }
        after_rest_wildcard = token == WILDCARD_REST;
    }
    Ok(())
}

/// Checks a literal subject (what a publish may target): a valid filter without wildcard tokens.
pub fn validate_subject(subject: &str) -> Result<(), SubjectError> {
    validate_filter(subject)?;
    if !is_literal(subject) {
        return Err(SubjectError::WildcardNotAllowed);
    }
    Ok(())
}

/// Space, DEL and every C0 control (tab, CR, LF, NUL, ...). Bytes of multi-byte UTF-8 characters
/// are all >= 0x80, so checking bytes never splits a character.
fn is_illegal_byte(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

/// True when no token is a wildcard (`a*` is literal, `a.*` is not). Does not validate.
pub fn is_literal(subject: &str) -> bool {
    let bytes = subject.as_bytes();
    memchr::memchr2_iter(b'*', b'>', bytes).all(|i| !is_whole_token(bytes, i))
}

/// True when the single byte at `i` is a token on its own.
fn is_whole_token(bytes: &[u8], i: usize) -> bool {
    let starts = i == 0 || bytes.get(i - 1) == Some(&b'.');
    let ends = matches!(bytes.get(i + 1), None | Some(b'.'));
    starts && ends
}

/// The tokens of a subject or filter, in order (`"a.b"` yields `"a"`, `"b"`).
pub fn tokens(subject: &str) -> std::str::Split<'_, char> {
    subject.split('.')
}

/// Number of tokens; 0 for the empty string.
pub fn num_tokens(subject: &str) -> usize {
    if subject.is_empty() {
        0
    } else {
        memchr::memchr_iter(b'.', subject.as_bytes()).count() + 1
    }
}

/// True when `subject` has an empty token, including when it is empty itself. Such a subject is
/// matched by no filter (nats-server delivers a publish to `a..b` to no one).
pub fn has_empty_token(subject: &str) -> bool {
    has_empty_token_bytes(subject.as_bytes())
}

/// True when `filter` matches the literal `subject`.
///
/// A subject with an empty token matches nothing. Wildcard tokens in `subject` are compared as
/// text, so `a.*` as a subject is matched by the filters `a.*`, `a.>` and `>` only. A `>` that is
/// not last in `filter` (an invalid filter) is compared as text too. Never allocates.
pub fn matches(filter: &str, subject: &str) -> bool {
    let f = filter.as_bytes();
    let s = subject.as_bytes();
    if f == s {
        return !has_empty_token(subject);
    }
    // `i` and `j` are at the start of a token in `f` and `s` at the top of each round.
    let (mut i, mut j) = (0, 0);
    loop {
        let token_ends_at = |k: usize| matches!(f.get(k), None | Some(b'.'));
        match f.get(i) {
            Some(b'>') if i + 1 == f.len() => {
                // The rest of the subject is the one or more tokens `>` stands for.
                return s.get(j..).is_some_and(|rest| !has_empty_token_bytes(rest));
            }
            Some(b'*') if token_ends_at(i + 1) => {
                let start = j;
                while j < s.len() && s[j] != b'.' {
                    j += 1;
                }
                if j == start {
                    return false;
                }
                i += 1;
            }
            _ => {
                let start = j;
                while i < f.len() && f[i] != b'.' {
                    if s.get(j) != Some(&f[i]) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                // The filter token ended; the subject token must end here too, and not be empty.
                if j == start || !matches!(s.get(j), None | Some(b'.')) {
                    return false;
                }
            }
        }
        let filter_done = i >= f.len();
        let subject_done = j >= s.len();
        if filter_done || subject_done {
            return filter_done && subject_done;
        }
        i += 1;
        j += 1;
    }
}

fn has_empty_token_bytes(bytes: &[u8]) -> bool {
    match (bytes.first(), bytes.last()) {
        (Some(b'.'), _) | (_, Some(b'.')) | (None, _) => true,
        _ => memchr::memmem::find(bytes, b"..").is_some(),
    }
}

/// A filter token, classified.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Literal(&'a str),
    One,
    Rest,
}

fn classify(token: &str) -> Token<'_> {
    match token {
        WILDCARD_ONE => Token::One,
        WILDCARD_REST => Token::Rest,
        literal => Token::Literal(literal),
    }
}

/// True when every subject matched by `sub` is also matched by `sup` (`foo.*` is a subset of
/// `foo.>` and of `*.*`, not of `foo.bar`). Both are assumed to be valid filters.
pub fn is_subset(sub: &str, sup: &str) -> bool {
    let mut a = sub.split('.').map(classify);
    let mut b = sup.split('.').map(classify);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            // `sup`'s `>` covers whatever non-empty rest `sub` has.
            (Some(_), Some(Token::Rest)) => return true,
            // `sub` reaches lengths or tokens that `sup`'s fixed token here cannot.
            (Some(Token::Rest), Some(_)) => return false,
            (Some(_), Some(Token::One)) => {}
            (Some(Token::Literal(x)), Some(Token::Literal(y))) if x == y => {}
            _ => return false,
        }
    }
}

/// True when some subject is matched by both filters (nats-server's `SubjectsCollide`). Both are
/// assumed to be valid filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut x = a.split('.').map(classify);
    let mut y = b.split('.').map(classify);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            // `>` absorbs the other's remaining tokens, and there is at least one.
            (Some(Token::Rest), Some(_)) | (Some(_), Some(Token::Rest)) => return true,
            (Some(Token::One), Some(_)) | (Some(_), Some(Token::One)) => {}
            (Some(Token::Literal(p)), Some(Token::Literal(q))) if p == q => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
#[path = "subject_tests.rs"]
mod tests;
