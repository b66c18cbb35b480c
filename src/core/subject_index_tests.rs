//! Tests for the subject index: one rule per unit test, then a property test that replays random
//! insert/remove/match sequences against a plain list of (filter, value) pairs.

use super::*;
use proptest::prelude::*;

fn sorted<T: Ord + Copy>(found: Vec<&T>) -> Vec<T> {
    let mut values: Vec<T> = found.into_iter().copied().collect();
    values.sort();
    values
}

fn index_of(pairs: &[(&str, u32)]) -> SubjectIndex<u32> {
    let mut index = SubjectIndex::new();
    for (filter, value) in pairs {
        index
            .insert(filter, *value)
            .expect("test filters are valid");
    }
    index
}

#[test]
fn literal_filter_matches_only_its_subject() {
    let index = index_of(&[("a.b", 1), ("a.c", 2), ("a", 3), ("a.b.c", 4)]);
    assert_eq!(sorted(index.matches("a.b")), [1]);
    assert_eq!(sorted(index.matches("a")), [3]);
    assert_eq!(sorted(index.matches("a.b.c")), [4]);
    assert!(index.matches("a.d").is_empty());
    assert!(index.matches("b").is_empty());
}

#[test]
fn star_filter_matches_exactly_one_token() {
    let index = index_of(&[("a.*", 1), ("*.b", 2), ("*", 3), ("a.*.c", 4)]);
    assert_eq!(sorted(index.matches("a.b")), [1, 2]);
    assert_eq!(sorted(index.matches("x")), [3]);
    assert_eq!(sorted(index.matches("a.x.c")), [4]);
    assert!(index.matches("a.b.d").is_empty());
}

#[test]
fn rest_filter_matches_one_or_more_tokens() {
    let index = index_of(&[(">", 1), ("a.>", 2), ("a.*.>", 3)]);
    assert_eq!(sorted(index.matches("a")), [1]);
    assert_eq!(sorted(index.matches("a.b")), [1, 2]);
    assert_eq!(sorted(index.matches("a.b.c.d")), [1, 2, 3]);
    assert_eq!(sorted(index.matches("z.b")), [1]);
}

#[test]
fn wildcard_characters_inside_a_token_are_literal() {
    let index = index_of(&[("a*", 1), ("b.>x", 2)]);
    assert_eq!(sorted(index.matches("a*")), [1]);
    assert!(index.matches("ab").is_empty());
    assert!(index.matches("b.c").is_empty());
    assert_eq!(sorted(index.matches("b.>x")), [2]);
}

#[test]
fn same_filter_keeps_every_value() {
    let index = index_of(&[("a.b", 1), ("a.b", 2), ("a.b", 2)]);
    assert_eq!(sorted(index.matches("a.b")), [1, 2, 2]);
    assert_eq!(index.len(), 3);
}

#[test]
fn value_under_two_matching_filters_is_reported_per_filter() {
    let index = index_of(&[("a.*", 7), ("a.>", 7)]);
    assert_eq!(sorted(index.matches("a.b")), [7, 7]);
}

#[test]
fn invalid_filter_is_rejected_and_not_stored() {
    let mut index = SubjectIndex::new();
    assert_eq!(index.insert("a..b", 1), Err(SubjectError::EmptyToken));
    assert_eq!(index.insert("a.>.b", 1), Err(SubjectError::InvalidWildcard));
    assert_eq!(index.insert("", 1), Err(SubjectError::Empty));
    assert!(index.is_empty());
    assert!(index.root.is_empty());
}

#[test]
fn subject_with_an_empty_token_matches_nothing() {
    let index = index_of(&[(">", 1), ("*", 2), ("a.*", 3)]);
    for s in ["", ".", "a.", ".a", "a..b"] {
        assert!(index.matches(s).is_empty(), "{s:?}");
        assert!(!index.has_match(s), "{s:?}");
    }
}

#[test]
fn remove_takes_out_one_value_of_the_exact_filter() {
    let mut index = index_of(&[("a.*", 1), ("a.*", 1), ("a.b", 1)]);
    assert!(index.remove("a.*", &1));
    assert_eq!(sorted(index.matches("a.b")), [1, 1]);
    assert_eq!(index.len(), 2);
}

#[test]
fn remove_of_an_absent_pair_changes_nothing() {
    let mut index = index_of(&[("a.b", 1), ("a.>", 2)]);
    assert!(!index.remove("a.b", &2));
    assert!(!index.remove("a.*", &1));
    assert!(!index.remove("a", &1));
    assert!(!index.remove("a.b.c", &1));
    assert!(!index.remove(">", &2));
    assert!(!index.remove("a..b", &1));
    assert!(!index.remove(&"a.".repeat(3000), &1));
    assert_eq!(index.len(), 2);
    assert_eq!(sorted(index.matches("a.b")), [1, 2]);
}

#[test]
fn removing_every_value_leaves_no_nodes_behind() {
    let pairs = [("a.b.c", 1), ("a.*.>", 2), ("a.>", 3), ("*.*", 4), (">", 5)];
    let mut index = index_of(&pairs);
    for (filter, value) in pairs {
        assert!(index.remove(filter, &value), "{filter}");
    }
    assert!(index.is_empty());
    assert!(index.root.is_empty());
}

#[test]
fn has_match_reports_any_matching_filter() {
    let index = index_of(&[("a.b", 1), ("c.>", 2)]);
    assert!(index.has_match("a.b"));
    assert!(index.has_match("c.d.e"));
    assert!(!index.has_match("a.c"));
    assert!(!SubjectIndex::<u32>::new().has_match("a"));
}

#[test]
fn for_each_match_visits_each_matching_value() {
    let index = index_of(&[("a.b", 1), ("a.*", 2), ("b", 3)]);
    let mut seen = vec![];
    index.for_each_match("a.b", |v| seen.push(*v));
    seen.sort();
    assert_eq!(seen, [1, 2]);
}

#[test]
fn longest_allowed_filter_is_stored_matched_and_removed() {
    // 2048 one-byte tokens: 4095 bytes, the deepest trie a valid filter can build.
    let deep = vec!["a"; 2048].join(".");
    let mut index = SubjectIndex::new();
    index.insert(&deep, 1).expect("within the limit");
    index
        .insert(&deep.replace("a.a.a", "a.*.a"), 2)
        .expect("within the limit");
    assert_eq!(sorted(index.matches(&deep)), [1, 2]);
    assert!(index.remove(&deep, &1));
    assert_eq!(sorted(index.matches(&deep)), [2]);
}

#[test]
fn a_level_growing_past_a_short_list_keeps_every_filter() {
    let mut index = SubjectIndex::new();
    for i in 0..3 * SMALL_LEVEL {
        index.insert(&format!("a.t{i}"), i).expect("valid filter");
    }
    for i in 0..3 * SMALL_LEVEL {
        assert_eq!(index.matches(&format!("a.t{i}")), [&i], "t{i}");
    }
    for i in (0..3 * SMALL_LEVEL).step_by(2) {
        assert!(index.remove(&format!("a.t{i}"), &i));
    }
    for i in 0..3 * SMALL_LEVEL {
        let expected: Vec<&usize> = if i % 2 == 0 { vec![] } else { vec![&i] };
        assert_eq!(index.matches(&format!("a.t{i}")), expected, "t{i}");
    }
    assert!(fully_pruned(&index.root));
}

#[test]
fn the_one_pass_empty_token_check_agrees_with_the_subject_module() {
    for s in [
        "", ".", "a", "a.", ".a", "a..b", "a.b", "a.b.", "ab.cd.ef", "..", "a.b..c",
    ] {
        assert_eq!(
            has_empty_token(s),
            crate::core::subject::has_empty_token(s),
            "{s:?}"
        );
    }
}

// ---- model-based property test ---------------------------------------------------------------

/// True when no node below `level` is empty, i.e. removals pruned everything they emptied.
fn fully_pruned<T>(level: &Level<T>) -> bool {
    let node_ok = |node: &Node<T>| !node.is_empty() && fully_pruned(&node.next);
    level.literals.nodes().all(node_ok) && level.one.as_deref().is_none_or(node_ok)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8),
    Remove(String, u8),
    Match(String),
}

/// Up to four tokens over a small alphabet, so that inserted filters repeat and removals hit.
fn filter() -> impl Strategy<Value = String> {
    (1..=4usize)
        .prop_flat_map(|n| (proptest::collection::vec(0..4usize, n - 1), 0..5usize))
        .prop_map(|(head, last)| {
            let tokens = ["a", "b", "c*", "*", ">"];
            let mut parts: Vec<&str> = head.into_iter().map(|i| tokens[i]).collect();
            parts.push(tokens[last]);
            parts.join(".")
        })
}

/// Literal subjects of one to six tokens, `z` standing for a token no filter names.
fn literal_subject() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("c*"), Just("z")],
        1..=6,
    )
    .prop_map(|tokens| tokens.join("."))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (filter(), 0..3u8).prop_map(|(f, v)| Op::Insert(f, v)),
        2 => (filter(), 0..3u8).prop_map(|(f, v)| Op::Remove(f, v)),
        3 => literal_subject().prop_map(Op::Match),
    ]
}

proptest! {
    #[test]
    fn index_agrees_with_a_plain_list(ops in proptest::collection::vec(op(), 1..80)) {
        let mut index = SubjectIndex::new();
        let mut model: Vec<(String, u8)> = vec![];
        for op in ops {
            match op {
                Op::Insert(f, v) => {
                    prop_assert_eq!(index.insert(&f, v), Ok(()));
                    model.push((f, v));
                }
                Op::Remove(f, v) => {
                    let at = model.iter().position(|(mf, mv)| *mf == f && *mv == v);
                    if let Some(at) = at {
                        model.remove(at);
                    }
                    prop_assert_eq!(index.remove(&f, &v), at.is_some());
                }
                Op::Match(s) => {
                    let mut expected: Vec<u8> = model
                        .iter()
                        .filter(|(f, _)| subject::matches(f, &s))
                        .map(|(_, v)| *v)
                        .collect();
                    expected.sort();
                    prop_assert_eq!(index.has_match(&s), !expected.is_empty());
                    prop_assert_eq!(sorted(index.matches(&s)), expected);
                }
            }
            prop_assert_eq!(index.len(), model.len());
            prop_assert!(fully_pruned(&index.root));
        }
    }
}
