//! Subjects and subject filters: validation, matching, subset and overlap.
//!
//! A subject is a `.`-separated list of tokens. A filter may use `*` (exactly one token) and `>`
//! (one or more tokens, last position only). Published subjects are literal.
//!
//! NOTE: first cut; the subject work item hardens validation and adds the index.

/// Maximum length of a subject or filter in bytes.
pub const MAX_SUBJECT_LEN: usize = 4096;

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
    /// The subject holds whitespace or a control character.
    #[error("subject contains an illegal character")]
    IllegalCharacter,
    /// A wildcard is mixed into a token (`a*`) or `>` is not last.
    #[error("invalid wildcard in subject")]
    InvalidWildcard,
    /// A wildcard appears where only a literal subject is allowed.
    #[error("wildcards are not allowed in this subject")]
    WildcardNotAllowed,
}

/// Checks a filter: tokens non-empty, no whitespace, wildcards only as whole tokens, `>` last.
pub fn validate_filter(filter: &str) -> Result<(), SubjectError> {
    if filter.is_empty() {
        return Err(SubjectError::Empty);
    }
    if filter.len() > MAX_SUBJECT_LEN {
        return Err(SubjectError::TooLong);
    }
    let mut tokens = filter.split('.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() {
            return Err(SubjectError::EmptyToken);
        }
        if token.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(SubjectError::IllegalCharacter);
        }
        if token.len() > 1 && token.bytes().any(|b| b == b'*' || b == b'>') {
            // `a*` and `>b` are literal characters in NATS, allowed but not wildcards.
            continue;
        }
        if token == ">" && tokens.peek().is_some() {
            return Err(SubjectError::InvalidWildcard);
        }
    }
    Ok(())
}

/// Checks a literal subject (what a publish may target).
pub fn validate_subject(subject: &str) -> Result<(), SubjectError> {
    validate_filter(subject)?;
    if !is_literal(subject) {
        return Err(SubjectError::WildcardNotAllowed);
    }
    Ok(())
}

/// True when no token is a wildcard.
pub fn is_literal(subject: &str) -> bool {
    subject.split('.').all(|t| t != "*" && t != ">")
}

/// True when `filter` matches the literal `subject`.
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when every subject matched by `sub` is also matched by `sup`.
pub fn is_subset(sub: &str, sup: &str) -> bool {
    let mut a = sub.split('.');
    let mut b = sup.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(_), Some(">")) => return true,
            (Some(">"), Some(_)) => return false,
            (Some(_), Some("*")) => {}
            (Some("*"), Some(_)) => return false,
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when some subject is matched by both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(p), Some(q)) if p == q => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}
