//! A subject index: which stored filters match a published subject.
//!
//! Routing a publish to streams (and, in the server, to subscriptions) asks "which of these many
//! filters match this literal subject?". Testing every filter costs time in proportion to their
//! number; this index answers in time proportional to the subject's tokens (times the few wildcard
//! branches that really exist), like nats-server's `Sublist` (`server/sublist.go`).
//!
//! The index is a token trie. Each level holds its literal children (a short list scanned in
//! place while there are few, a hash map once there are many), one child for `*`, and a slot for
//! values of filters that end in `>` there. A filter's value sits on the node of
//! its last token. Walking a subject visits, per token, the `>` slot (a match whatever follows),
//! the `*` child and the one literal child named by the token.
//!
//! Values are kept as a multiset: the same filter may hold many values (even equal ones), and a
//! value stored under two matching filters is reported once per filter. Wrapping concerns such
//! as queue groups belong to the caller, which picks `T`.

use std::collections::HashMap;
use std::ops::ControlFlow;

use super::subject::{self, SubjectError, WILDCARD_ONE, WILDCARD_REST};

/// Filters with values, found by the literal subjects they match.
#[derive(Debug, Clone)]
pub struct SubjectIndex<T> {
    root: Level<T>,
    len: usize,
}

/// The choices after a `.`: literal tokens, `*`, and filters that end with `>`.
#[derive(Debug, Clone)]
struct Level<T> {
    literals: Literals<T>,
    one: Option<Box<Node<T>>>,
    /// Values of filters whose `>` stands at this level.
    rest: Vec<T>,
}

/// Literal children this many or fewer are a list compared token by token: most levels have a
/// handful, and comparing a few short tokens costs less than hashing one (SipHash, kept for the
/// big levels because client subscriptions choose the keys).
const SMALL_LEVEL: usize = 8;

/// The literal children of a level, by token.
#[derive(Debug, Clone)]
enum Literals<T> {
    /// Up to [`SMALL_LEVEL`] children.
    Few(Vec<(Box<str>, Node<T>)>),
    /// More (once a level grew past [`SMALL_LEVEL`] it stays a map).
    Many(HashMap<Box<str>, Node<T>>),
}

impl<T> Literals<T> {
    fn get(&self, token: &str) -> Option<&Node<T>> {
        match self {
            Literals::Few(list) => list.iter().find(|(t, _)| &**t == token).map(|(_, n)| n),
            Literals::Many(map) => map.get(token),
        }
    }

    fn get_mut(&mut self, token: &str) -> Option<&mut Node<T>> {
        match self {
            Literals::Few(list) => list.iter_mut().find(|(t, _)| &**t == token).map(|(_, n)| n),
            Literals::Many(map) => map.get_mut(token),
        }
    }

    /// The child for `token`, created if missing.
    fn get_or_insert(&mut self, token: &str) -> &mut Node<T> {
        if let Literals::Few(list) = self {
            if list.len() >= SMALL_LEVEL && !list.iter().any(|(t, _)| &**t == token) {
                *self = Literals::Many(std::mem::take(list).into_iter().collect());
            }
        }
        match self {
            Literals::Few(list) => {
                let at = match list.iter().position(|(t, _)| &**t == token) {
                    Some(at) => at,
                    None => {
                        list.push((Box::from(token), Node::default()));
                        list.len() - 1
                    }
                };
                &mut list[at].1
            }
            Literals::Many(map) => map.entry(Box::from(token)).or_default(),
        }
    }

    fn remove(&mut self, token: &str) {
        match self {
            Literals::Few(list) => list.retain(|(t, _)| &**t != token),
            Literals::Many(map) => {
                map.remove(token);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Literals::Few(list) => list.is_empty(),
            Literals::Many(map) => map.is_empty(),
        }
    }

    #[cfg(test)]
    fn nodes(&self) -> Box<dyn Iterator<Item = &Node<T>> + '_> {
        match self {
            Literals::Few(list) => Box::new(list.iter().map(|(_, n)| n)),
            Literals::Many(map) => Box::new(map.values()),
        }
    }
}

/// One token of one or more filters.
#[derive(Debug, Clone)]
struct Node<T> {
    /// Values of filters that end with this token.
    values: Vec<T>,
    next: Level<T>,
}

impl<T> Default for SubjectIndex<T> {
    fn default() -> Self {
        SubjectIndex {
            root: Level::default(),
            len: 0,
        }
    }
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            literals: Literals::Few(Vec::new()),
            one: None,
            rest: Vec::new(),
        }
    }
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            values: Vec::new(),
            next: Level::default(),
        }
    }
}

impl<T> Level<T> {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.one.is_none() && self.rest.is_empty()
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.next.is_empty()
    }
}

/// Splits off the first token: `"a.b.c"` gives `("a", Some("b.c"))`, `"a"` gives `("a", None)`.
fn split_first(subject: &str) -> (&str, Option<&str>) {
    match memchr::memchr(b'.', subject.as_bytes()) {
        // A `.` is ASCII, so both sides are on char boundaries.
        Some(at) => (&subject[..at], Some(&subject[at + 1..])),
        None => (subject, None),
    }
}

/// Whether `subject` is empty or has an empty token ([`subject::has_empty_token`]), in one
/// pass: subjects are short, and a byte loop beats setting up a substring search per publish.
fn has_empty_token(subject: &str) -> bool {
    let mut previous = b'.';
    for &byte in subject.as_bytes() {
        if byte == b'.' && previous == b'.' {
            return true;
        }
        previous = byte;
    }
    previous == b'.'
}

impl<T: PartialEq> SubjectIndex<T> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `filter`, after checking the filter with [`subject::validate_filter`].
    /// Values already under the same filter are kept.
    pub fn insert(&mut self, filter: &str, value: T) -> Result<(), SubjectError> {
        subject::validate_filter(filter)?;
        let (path, last) = match filter.rsplit_once('.') {
            Some((path, last)) => (Some(path), last),
            None => (None, filter),
        };
        let mut level = &mut self.root;
        for token in path.into_iter().flat_map(|p| p.split('.')) {
            level = &mut child_or_insert(level, token).next;
        }
        if last == WILDCARD_REST {
            level.rest.push(value);
        } else {
            child_or_insert(level, last).values.push(value);
        }
        self.len += 1;
        Ok(())
    }

    /// Removes one `value` stored under exactly `filter` (compared as text, not by matching) and
    /// prunes the nodes left empty. Returns whether a value was removed.
    pub fn remove(&mut self, filter: &str, value: &T) -> bool {
        // Longer filters were never inserted; refusing them also bounds the recursion below.
        if filter.len() > subject::MAX_SUBJECT_LEN {
            return false;
        }
        let removed = remove_from_level(&mut self.root, filter, value);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Calls `f` with each value whose filter matches the literal `subject`, once per stored
    /// (filter, value) pair, in no promised order. A subject with an empty token matches nothing.
    /// Never allocates.
    pub fn for_each_match(&self, subject: &str, mut f: impl FnMut(&T)) {
        let _ = self.walk(subject, &mut |value| {
            f(value);
            ControlFlow::<()>::Continue(())
        });
    }

    /// The values whose filters match `subject`, as [`Self::for_each_match`] reports them.
    pub fn matches(&self, subject: &str) -> Vec<&T> {
        let mut found = Vec::new();
        let _ = self.walk(subject, &mut |value| {
            found.push(value);
            ControlFlow::<()>::Continue(())
        });
        found
    }

    /// The first value whose filter matches `subject` (the first [`SubjectIndex::matches`]
    /// would give), without collecting the others.
    pub fn first_match(&self, subject: &str) -> Option<&T> {
        match self.walk(subject, &mut ControlFlow::Break) {
            ControlFlow::Break(value) => Some(value),
            ControlFlow::Continue(()) => None,
        }
    }

    /// True when at least one filter matches `subject`; stops at the first.
    pub fn has_match(&self, subject: &str) -> bool {
        self.walk(subject, &mut |_| ControlFlow::Break(()))
            .is_break()
    }

    /// Number of stored (filter, value) pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn walk<'a, B>(
        &'a self,
        subject: &str,
        f: &mut impl FnMut(&'a T) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if has_empty_token(subject) {
            return ControlFlow::Continue(());
        }
        walk_level(&self.root, subject, f)
    }
}

/// The child for `token` (`*` or a literal; never `>`, which ends a filter), created if missing.
fn child_or_insert<'a, T>(level: &'a mut Level<T>, token: &str) -> &'a mut Node<T> {
    if token == WILDCARD_ONE {
        level.one.get_or_insert_with(Box::default)
    } else {
        level.literals.get_or_insert(token)
    }
}

/// Reports the values under `level` that match `subject`, a non-empty list of non-empty tokens.
/// Follows the literal chain in a loop and recurses only into `*` branches.
fn walk_level<'a, T, B>(
    mut level: &'a Level<T>,
    mut subject: &str,
    f: &mut impl FnMut(&'a T) -> ControlFlow<B>,
) -> ControlFlow<B> {
    loop {
        // A `>` here takes all of `subject`, which has at least one token.
        level.rest.iter().try_for_each(&mut *f)?;
        let (token, rest) = split_first(subject);
        if let Some(one) = &level.one {
            walk_node(one, rest, f)?;
        }
        let Some(node) = level.literals.get(token) else {
            return ControlFlow::Continue(());
        };
        match rest {
            None => return node.values.iter().try_for_each(f),
            Some(rest) => {
                level = &node.next;
                subject = rest;
            }
        }
    }
}

/// Reports the values under `node` once its token has consumed a subject token.
fn walk_node<'a, T, B>(
    node: &'a Node<T>,
    rest: Option<&str>,
    f: &mut impl FnMut(&'a T) -> ControlFlow<B>,
) -> ControlFlow<B> {
    match rest {
        None => node.values.iter().try_for_each(f),
        Some(rest) => walk_level(&node.next, rest, f),
    }
}

/// Removes one `value` stored under `filter` (the part of it from this level on).
fn remove_from_level<T: PartialEq>(level: &mut Level<T>, filter: &str, value: &T) -> bool {
    let (token, rest) = split_first(filter);
    if token == WILDCARD_REST && rest.is_none() {
        return remove_one(&mut level.rest, value);
    }
    if token == WILDCARD_ONE {
        let Some(node) = level.one.as_deref_mut() else {
            return false;
        };
        let removed = remove_from_node(node, rest, value);
        if node.is_empty() {
            level.one = None;
        }
        removed
    } else {
        let Some(node) = level.literals.get_mut(token) else {
            return false;
        };
        let removed = remove_from_node(node, rest, value);
        if node.is_empty() {
            level.literals.remove(token);
        }
        removed
    }
}

fn remove_from_node<T: PartialEq>(node: &mut Node<T>, rest: Option<&str>, value: &T) -> bool {
    match rest {
        None => remove_one(&mut node.values, value),
        Some(rest) => remove_from_level(&mut node.next, rest, value),
    }
}

/// Removes the first equal value, keeping the others in insertion order.
fn remove_one<T: PartialEq>(values: &mut Vec<T>, value: &T) -> bool {
    let Some(at) = values.iter().position(|v| v == value) else {
        return false;
    };
    values.remove(at);
    if values.is_empty() {
        // Give back the buffer: a filter can be busy once and idle for the rest of its life.
        *values = Vec::new();
    }
    true
}

#[cfg(test)]
#[path = "subject_index_tests.rs"]
mod tests;
