//! Tests for subject validation and matching: one rule per unit test, then property tests that
//! compare `matches`, `is_subset` and `overlaps` with brute force.

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

// ---- validation ------------------------------------------------------------------------------

#[test]
fn empty_filter_is_rejected() {
    assert_eq!(validate_filter(""), Err(SubjectError::Empty));
    assert_eq!(validate_subject(""), Err(SubjectError::Empty));
}

#[test]
fn filter_longer_than_the_limit_is_rejected() {
    let at_limit = "a".repeat(MAX_SUBJECT_LEN);
    let over = "a".repeat(MAX_SUBJECT_LEN + 1);
    assert_eq!(validate_filter(&at_limit), Ok(()));
    assert_eq!(validate_filter(&over), Err(SubjectError::TooLong));
    assert_eq!(validate_subject(&over), Err(SubjectError::TooLong));
}

#[test]
fn empty_tokens_are_rejected() {
    for s in [".", ".a", "a.", "a..b", "a.b.", "..", "*..>"] {
        assert_eq!(validate_filter(s), Err(SubjectError::EmptyToken), "{s:?}");
    }
}

#[test]
fn whitespace_is_rejected() {
    for s in [
        "a b", " a", "a ", "a\tb", "a\nb", "a\rb", "a\x0cb", "a.\t", "*. ",
    ] {
        assert_eq!(
            validate_filter(s),
            Err(SubjectError::IllegalCharacter),
            "{s:?}"
        );
    }
}

#[test]
fn control_characters_are_rejected() {
    for s in ["\0", "a\0b", "a\x01", "a.\x1b", "a\x7fb", "\x0b"] {
        assert_eq!(
            validate_filter(s),
            Err(SubjectError::IllegalCharacter),
            "{s:?}"
        );
    }
}

#[test]
fn non_ascii_tokens_are_accepted() {
    assert_eq!(validate_subject("ünï.日本.émoji🙂"), Ok(()));
}

#[test]
fn star_is_accepted_in_any_position() {
    for s in ["*", "*.a", "a.*", "a.*.b", "*.*.*"] {
        assert_eq!(validate_filter(s), Ok(()), "{s:?}");
    }
}

#[test]
fn rest_wildcard_is_accepted_last() {
    for s in [">", "a.>", "*.>", "a.*.>"] {
        assert_eq!(validate_filter(s), Ok(()), "{s:?}");
    }
}

#[test]
fn rest_wildcard_before_another_token_is_rejected() {
    for s in [">.a", "a.>.b", ">.>", "a.>.*"] {
        assert_eq!(
            validate_filter(s),
            Err(SubjectError::InvalidWildcard),
            "{s:?}"
        );
    }
}

#[test]
fn wildcard_characters_inside_a_token_are_literal() {
    for s in ["a*", "*a", ">b", "b>", "a.**.c", "a.>>", "a.>b.c"] {
        assert_eq!(validate_subject(s), Ok(()), "{s:?}");
        assert!(is_literal(s), "{s:?}");
    }
}

#[test]
fn subject_with_wildcard_token_is_rejected() {
    for s in ["*", ">", "a.*", "a.>", "*.b"] {
        assert_eq!(
            validate_subject(s),
            Err(SubjectError::WildcardNotAllowed),
            "{s:?}"
        );
    }
}

#[test]
fn subject_validation_applies_the_filter_rules_first() {
    assert_eq!(validate_subject("a..*"), Err(SubjectError::EmptyToken));
    assert_eq!(validate_subject("a b"), Err(SubjectError::IllegalCharacter));
}

#[test]
fn is_literal_sees_only_whole_wildcard_tokens() {
    assert!(is_literal("a.b.c"));
    assert!(is_literal("a*.b>"));
    assert!(!is_literal("*"));
    assert!(!is_literal("a.*.c"));
    assert!(!is_literal("a.>"));
    assert!(!is_literal("a*.*"));
}

#[test]
fn tokens_and_num_tokens_split_on_dots() {
    assert_eq!(tokens("a.bc.*").collect::<Vec<_>>(), ["a", "bc", "*"]);
    assert_eq!(num_tokens(""), 0);
    assert_eq!(num_tokens("a"), 1);
    assert_eq!(num_tokens("a.b.>"), 3);
}

// ---- matching --------------------------------------------------------------------------------

#[test]
fn literal_filter_matches_only_the_same_subject() {
    assert!(matches("a.b.c", "a.b.c"));
    assert!(!matches("a.b.c", "a.b.d"));
    assert!(!matches("a.b", "a.b.c"));
    assert!(!matches("a.b.c", "a.b"));
    assert!(!matches("a.b", "a.bc"));
    assert!(!matches("a.bc", "a.b"));
}

#[test]
fn star_matches_exactly_one_token() {
    assert!(matches("a.*", "a.b"));
    assert!(matches("*.b", "a.b"));
    assert!(matches("a.*.c", "a.xyz.c"));
    assert!(!matches("a.*", "a"));
    assert!(!matches("a.*", "a.b.c"));
    assert!(!matches("*", "a.b"));
}

#[test]
fn rest_wildcard_matches_one_or_more_tokens() {
    assert!(matches(">", "a"));
    assert!(matches(">", "a.b.c"));
    assert!(matches("a.>", "a.b"));
    assert!(matches("a.>", "a.b.c"));
    assert!(!matches("a.>", "a"));
    assert!(!matches("a.>", "b.c"));
}

#[test]
fn wildcard_characters_inside_a_filter_token_match_literally() {
    assert!(matches("a*", "a*"));
    assert!(!matches("a*", "ab"));
    assert!(!matches("a.b>", "a.b.c"));
    assert!(matches("a.b>", "a.b>"));
}

#[test]
fn subject_with_an_empty_token_matches_nothing() {
    for s in ["", ".", "a..b", "a.", ".a"] {
        for f in [">", "*", "a.>", "a.*", "*.*", "a..b", "a.", ""] {
            assert!(!matches(f, s), "{f:?} {s:?}");
        }
    }
}

#[test]
fn wildcard_tokens_in_a_subject_are_text() {
    assert!(!matches("a.b", "a.*"));
    assert!(matches("a.*", "a.*"));
    assert!(matches("a.>", "a.*"));
}

#[test]
fn subset_examples_follow_nats_server() {
    for sup in [">", "*.*", "foo.*", "foo.>", "*.>"] {
        assert!(is_subset("foo.*", sup), "foo.* in {sup}");
    }
    for sup in ["foo.bar", "*.bar", "foo", "foo.*.*", "*"] {
        assert!(!is_subset("foo.*", sup), "foo.* not in {sup}");
    }
    assert!(!is_subset("foo.>", "foo.*"));
    assert!(is_subset("foo.bar", "foo.bar"));
    assert!(!is_subset(">", "*.>"));
    assert!(!is_subset("a*", "a.*"));
    assert!(is_subset("a*", "*"));
}

#[test]
fn overlap_examples_follow_nats_server() {
    assert!(overlaps("foo.*", "*.bar"));
    assert!(overlaps("foo.>", "*.*.baz"));
    assert!(overlaps(">", "a"));
    assert!(overlaps("a*", "*"));
    assert!(!overlaps("foo.>", "foo"));
    assert!(!overlaps("a.*", "a.*.b"));
    assert!(!overlaps("a*", "a.b"));
    assert!(!overlaps("a.b", "a.c"));
}

// ---- properties ------------------------------------------------------------------------------

/// Token-by-token reference: `*` is one non-empty token, a final `>` is one or more.
fn reference_matches(filter: &[&str], subject: &[&str]) -> bool {
    if subject.iter().any(|t| t.is_empty()) {
        return false;
    }
    for (k, ft) in filter.iter().enumerate() {
        if *ft == ">" && k + 1 == filter.len() {
            return subject.len() > k;
        }
        match subject.get(k) {
            None => return false,
            Some(st) if *ft != "*" && ft != st => return false,
            Some(_) => {}
        }
    }
    filter.len() == subject.len()
}

/// Filter tokens: `c*` is a literal that looks like a wildcard.
const FILTER_TOKENS: [&str; 5] = ["a", "b", "c*", "*", ">"];
const MAX_FILTER_TOKENS: usize = 5;

/// Every literal subject over the filters' literals plus `z`, which no filter names and so stands
/// for every other token. Depth is one past the longest filter: a counterexample to `is_subset`
/// longer than that can be cut back to it (the cut keeps `sub`'s `>` satisfied and `sup`'s
/// mismatch, which lies in its first tokens or in its length), and one to `overlaps` needs no
/// more than the longer filter's length.
fn all_literals() -> &'static [Vec<&'static str>] {
    static LITERALS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    LITERALS.get_or_init(|| {
        let alphabet = ["a", "b", "c*", "z"];
        let mut all: Vec<Vec<&str>> = vec![];
        let mut layer: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..=MAX_FILTER_TOKENS {
            layer = layer
                .iter()
                .flat_map(|prefix| {
                    alphabet.iter().map(move |t| {
                        let mut next = prefix.clone();
                        next.push(*t);
                        next
                    })
                })
                .collect();
            all.extend(layer.iter().cloned());
        }
        all
    })
}

fn filter_strategy() -> impl Strategy<Value = String> {
    (1..=MAX_FILTER_TOKENS)
        .prop_flat_map(|n| {
            let head = proptest::collection::vec(0..4usize, n - 1);
            (head, 0..5usize)
        })
        .prop_map(|(head, last)| {
            let mut toks: Vec<&str> = head.into_iter().map(|i| FILTER_TOKENS[i]).collect();
            toks.push(FILTER_TOKENS[last]);
            toks.join(".")
        })
}

/// Short strings over the bytes that matter, valid or not.
fn raw_strategy() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ab.*>]{0,10}").expect("valid regex")
}

proptest! {
    #[test]
    fn generated_filters_are_valid(f in filter_strategy()) {
        prop_assert_eq!(validate_filter(&f), Ok(()));
    }

    #[test]
    fn matches_agrees_with_the_token_reference(f in raw_strategy(), s in raw_strategy()) {
        let ft: Vec<&str> = f.split('.').collect();
        let st: Vec<&str> = s.split('.').collect();
        prop_assert_eq!(matches(&f, &s), reference_matches(&ft, &st));
    }

    #[test]
    fn is_subset_agrees_with_brute_force(sub in filter_strategy(), sup in filter_strategy()) {
        let subt: Vec<&str> = sub.split('.').collect();
        let supt: Vec<&str> = sup.split('.').collect();
        let brute = all_literals()
            .iter()
            .all(|s| !reference_matches(&subt, s) || reference_matches(&supt, s));
        prop_assert_eq!(is_subset(&sub, &sup), brute);
    }

    #[test]
    fn overlaps_agrees_with_brute_force(a in filter_strategy(), b in filter_strategy()) {
        let at: Vec<&str> = a.split('.').collect();
        let bt: Vec<&str> = b.split('.').collect();
        let brute = all_literals()
            .iter()
            .any(|s| reference_matches(&at, s) && reference_matches(&bt, s));
        prop_assert_eq!(overlaps(&a, &b), brute);
        prop_assert_eq!(overlaps(&b, &a), brute);
    }
}
