//! The conformance suite every [`StreamStore`] passes: one function per rule of the trait's
//! contract, plus a randomized comparison against a deliberately naive reference model.
//!
//! A store's test module runs the whole suite with one line; each rule becomes its own `#[test]`
//! named after the rule:
//! ```ignore
//! crate::store_conformance_tests!(crate::core::store::memory::MemoryStore::new());
//! ```
//! The argument is an expression building a fresh, empty store; it is evaluated once per test (and
//! once per seed in the randomized test). A `Box<dyn StreamStore>` works as well as a plain store.

mod model;

use bytes::Bytes;

use super::{
    record_size, ConsumerRecord, ConsumerState, PendingAck, SequencePair, SimpleState, StoreError,
    StreamState, StreamStore, Synced,
};

pub(crate) use model::random_ops_match_model;

/// Seeds the randomized model test runs, each on a fresh store.
pub(crate) const MODEL_SEEDS: u64 = 6;

/// Lets the macro take a plain store or a `Box<dyn StreamStore>` alike.
pub(crate) trait AsDynStore {
    /// The store as a trait object.
    fn as_dyn(&mut self) -> &mut dyn StreamStore;
}

impl<S: StreamStore> AsDynStore for S {
    fn as_dyn(&mut self) -> &mut dyn StreamStore {
        self
    }
}

impl AsDynStore for Box<dyn StreamStore> {
    fn as_dyn(&mut self) -> &mut dyn StreamStore {
        &mut **self
    }
}

/// Expands to one `#[test]` per conformance rule, each running against a fresh store built by the
/// given expression. A leading attribute replaces `#[test]`, for harnesses such as
/// `#[wasm_bindgen_test]`: `store_conformance_tests!(#[wasm_bindgen_test] IdbStore::new(..))`.
#[macro_export]
macro_rules! store_conformance_tests {
    (#[$test:meta] $make:expr) => {
        $crate::store_conformance_tests!(@rules [$test] $make;
            sequences_start_at_one_and_grow,
            store_load_round_trip_keeps_every_field,
            load_of_never_stored_seq_is_not_found,
            load_of_removed_seq_is_not_found,
            load_next_with_literal_filter_skips_other_subjects,
            load_next_with_star_filter_matches_one_token,
            load_next_with_full_wildcard_or_empty_filter_matches_all,
            load_next_from_a_gap_returns_the_next_stored,
            load_next_below_first_starts_at_first,
            load_next_past_the_end_is_eof,
            load_last_per_subject_is_that_subjects_newest,
            load_last_with_wildcards_is_newest_match,
            load_last_without_match_is_not_found,
            remove_first_moves_first_seq,
            remove_middle_counts_as_interior_gap,
            remove_last_keeps_last_seq,
            remove_twice_reports_false_the_second_time,
            remove_every_message_leaves_empty_stream_after_last,
            purge_all_empties_and_sequences_continue,
            purge_all_of_fresh_store_moves_first_to_one,
            purge_by_literal_filter_removes_only_that_subject,
            purge_by_wildcard_filter_removes_matching_subjects,
            purge_below_seq_keeps_later_messages,
            purge_below_seq_one_removes_nothing,
            purge_all_below_seq_past_end_moves_sequences_like_compact,
            purge_with_keep_leaves_newest,
            purge_filter_with_keep_leaves_newest_of_that_filter,
            purge_keep_larger_than_matching_removes_nothing,
            purge_with_keep_and_below_seq_honours_both,
            compact_below_first_changes_nothing,
            compact_in_the_middle_removes_below,
            compact_onto_a_gap_moves_first_to_next_stored,
            compact_past_last_empties_and_next_store_gets_that_seq,
            compact_zero_purges_everything,
            compact_of_fresh_store_sets_first_seq,
            skip_counts_as_deleted,
            skip_on_empty_stream_moves_first_seq,
            skip_sets_last_ts_only_when_unset,
            empty_store_state_is_all_zero,
            state_after_removals_tracks_first_and_last,
            filtered_state_for_literal_subject,
            filtered_state_with_wildcards,
            filtered_state_with_start,
            filtered_state_without_match_is_zero,
            subjects_state_of_all_subjects,
            subjects_state_with_wildcard_and_literal,
            num_pending_counts_from_start,
            num_pending_last_per_subject_counts_subjects,
            deleted_lists_interior_gaps,
            deleted_is_empty_for_gapless_and_empty_streams,
            consumer_records_save_overwrite_remove_list,
            consumer_records_written_read_back_as_saved,
            delete_closes_every_operation,
            bytes_match_record_size,
            old_message_survives_long_churn,
            wildcard_lookups_find_rare_subjects_far_apart,
            scattered_removals_keep_subject_queries_right,
            discard_unsynced_takes_back_the_appends_since_the_last_sync,
            discard_unsynced_after_a_removal_restores_the_synced_state_or_changes_nothing,
            a_failed_queued_sync_leaves_its_appends_unsynced,
        );

        #[$test]
        fn random_ops_match_model() {
            for seed in 1..=$crate::core::store::conformance::MODEL_SEEDS {
                let mut store = $make;
                $crate::core::store::conformance::random_ops_match_model(
                    $crate::core::store::conformance::AsDynStore::as_dyn(&mut store),
                    seed,
                );
            }
        }
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(#[test] $make);
    };
    (@rules [$test:meta] $make:expr; $($rule:ident),* $(,)?) => {
        $(
            #[$test]
            fn $rule() {
                let mut store = $make;
                $crate::core::store::conformance::$rule(
                    $crate::core::store::conformance::AsDynStore::as_dyn(&mut store),
                );
            }
        )*
    };
}

// ---- helpers ----------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000_000_000;

fn put(s: &mut dyn StreamStore, subject: &str) -> u64 {
    s.store_msg(subject, None, Bytes::from(format!("{subject} body")), T0)
        .expect("store a message")
}

/// Stores the subjects in order (sequences 1..=n on a fresh store).
fn put_all(s: &mut dyn StreamStore, subjects: &[&str]) {
    for subject in subjects {
        put(s, subject);
    }
}

fn seq_of(s: &dyn StreamStore, filter: &str, start: u64) -> Result<u64, StoreError> {
    s.load_next_msg(filter, start).map(|m| m.seq)
}

fn last_of(s: &dyn StreamStore, filter: &str) -> Result<u64, StoreError> {
    s.load_last_msg(filter).map(|m| m.seq)
}

fn simple(msgs: u64, first: u64, last: u64) -> SimpleState {
    SimpleState { msgs, first, last }
}

/// `(msgs, first_seq, last_seq, num_deleted)` of a store.
fn shape(s: &dyn StreamStore) -> (u64, u64, u64, u64) {
    let st = s.state();
    (st.msgs, st.first_seq, st.last_seq, st.num_deleted)
}

fn remove(s: &mut dyn StreamStore, seq: u64) -> bool {
    s.remove_msg(seq).expect("remove")
}

// ---- sequences and round trips ----------------------------------------------------------------

pub(crate) fn sequences_start_at_one_and_grow(s: &mut dyn StreamStore) {
    let seqs: Vec<u64> = (0..5).map(|_| put(s, "a")).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert_eq!(shape(s), (5, 1, 5, 0));
}

pub(crate) fn store_load_round_trip_keeps_every_field(s: &mut dyn StreamStore) {
    let headers = Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\n");
    let payload = Bytes::from_static(b"hello");
    s.store_msg("orders.new", Some(headers.clone()), payload.clone(), T0 + 7)
        .expect("store");
    s.store_msg("orders.old", None, Bytes::new(), T0 + 9)
        .expect("store");
    let m = s.load_msg(1).expect("load 1");
    assert_eq!(
        (m.subject.as_str(), m.seq, m.time),
        ("orders.new", 1, T0 + 7)
    );
    assert_eq!((m.headers, m.payload), (Some(headers), payload));
    let m = s.load_msg(2).expect("load 2");
    assert_eq!(
        (m.subject.as_str(), m.seq, m.time),
        ("orders.old", 2, T0 + 9)
    );
    assert_eq!((m.headers, m.payload), (None, Bytes::new()));
}

pub(crate) fn load_of_never_stored_seq_is_not_found(s: &mut dyn StreamStore) {
    assert_eq!(s.load_msg(1), Err(StoreError::NotFound));
    put_all(s, &["a", "a"]);
    assert_eq!(s.load_msg(0), Err(StoreError::NotFound));
    assert_eq!(s.load_msg(3), Err(StoreError::NotFound));
    assert_eq!(s.load_msg(u64::MAX), Err(StoreError::NotFound));
}

pub(crate) fn load_of_removed_seq_is_not_found(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a"]);
    assert!(remove(s, 2));
    assert_eq!(s.load_msg(2), Err(StoreError::NotFound));
    s.purge("", 0, 0).expect("purge");
    assert_eq!(s.load_msg(1), Err(StoreError::NotFound));
    assert_eq!(s.load_msg(3), Err(StoreError::NotFound));
}

// ---- load_next_msg ----------------------------------------------------------------------------

pub(crate) fn load_next_with_literal_filter_skips_other_subjects(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a.x", "b", "a"]);
    assert_eq!(seq_of(s, "b", 0), Ok(2));
    assert_eq!(seq_of(s, "b", 3), Ok(4));
    assert_eq!(seq_of(s, "a", 2), Ok(5));
    assert_eq!(seq_of(s, "c", 0), Err(StoreError::Eof));
    let m = s.load_next_msg("a.x", 1).expect("a.x");
    assert_eq!((m.seq, m.subject.as_str()), (3, "a.x"));
}

pub(crate) fn load_next_with_star_filter_matches_one_token(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a.x", "b.y", "a.x.z", "a.w"]);
    assert_eq!(seq_of(s, "a.*", 0), Ok(2));
    assert_eq!(seq_of(s, "a.*", 3), Ok(5));
    assert_eq!(seq_of(s, "*.y", 0), Ok(3));
    assert_eq!(seq_of(s, "*.x.*", 0), Ok(4));
    assert_eq!(seq_of(s, "*", 2), Err(StoreError::Eof));
}

pub(crate) fn load_next_with_full_wildcard_or_empty_filter_matches_all(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b.c", "d.e.f"]);
    for filter in ["", ">"] {
        let seqs: Vec<u64> = (1..=3)
            .map(|st| seq_of(s, filter, st).expect("next"))
            .collect();
        assert_eq!(seqs, vec![1, 2, 3], "filter {filter:?}");
    }
    assert_eq!(seq_of(s, "b.>", 0), Ok(2));
    assert_eq!(seq_of(s, "d.>", 0), Ok(3));
    assert_eq!(seq_of(s, "a.>", 0), Err(StoreError::Eof));
}

pub(crate) fn load_next_from_a_gap_returns_the_next_stored(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a"]);
    assert!(remove(s, 2));
    assert!(remove(s, 3));
    assert_eq!(seq_of(s, "", 2), Ok(4));
    assert_eq!(seq_of(s, "a", 2), Ok(5));
    assert_eq!(seq_of(s, "*", 3), Ok(4));
}

pub(crate) fn load_next_below_first_starts_at_first(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a"]);
    s.compact(3).expect("compact");
    assert_eq!(seq_of(s, "", 0), Ok(3));
    assert_eq!(seq_of(s, "a", 1), Ok(3));
    assert_eq!(seq_of(s, "*", 2), Ok(3));
}

pub(crate) fn load_next_past_the_end_is_eof(s: &mut dyn StreamStore) {
    assert_eq!(seq_of(s, "", 0), Err(StoreError::Eof));
    put_all(s, &["a", "a"]);
    assert_eq!(seq_of(s, "", 3), Err(StoreError::Eof));
    assert_eq!(seq_of(s, "a", 3), Err(StoreError::Eof));
    assert_eq!(seq_of(s, "*", u64::MAX), Err(StoreError::Eof));
    assert!(remove(s, 2));
    assert_eq!(seq_of(s, "", 2), Err(StoreError::Eof));
}

// ---- load_last_msg ----------------------------------------------------------------------------

pub(crate) fn load_last_per_subject_is_that_subjects_newest(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "c"]);
    assert_eq!(last_of(s, "a"), Ok(3));
    assert_eq!(last_of(s, "b"), Ok(4));
    assert_eq!(last_of(s, "c"), Ok(5));
    assert!(remove(s, 3));
    assert_eq!(last_of(s, "a"), Ok(1));
    let m = s.load_last_msg("b").expect("b");
    assert_eq!(m.subject, "b");
}

pub(crate) fn load_last_with_wildcards_is_newest_match(s: &mut dyn StreamStore) {
    put_all(s, &["k.a", "k.b", "x.y", "k.a", "z"]);
    assert_eq!(last_of(s, "k.*"), Ok(4));
    assert_eq!(last_of(s, "k.>"), Ok(4));
    assert_eq!(last_of(s, "*.y"), Ok(3));
    assert_eq!(last_of(s, ">"), Ok(5));
    assert_eq!(last_of(s, ""), Ok(5));
    assert!(remove(s, 5));
    assert!(remove(s, 4));
    assert_eq!(last_of(s, ""), Ok(3));
    assert_eq!(last_of(s, "k.*"), Ok(2));
}

pub(crate) fn load_last_without_match_is_not_found(s: &mut dyn StreamStore) {
    assert_eq!(last_of(s, ""), Err(StoreError::NotFound));
    put_all(s, &["a"]);
    assert_eq!(last_of(s, "b"), Err(StoreError::NotFound));
    assert_eq!(last_of(s, "a.*"), Err(StoreError::NotFound));
    assert!(remove(s, 1));
    assert_eq!(last_of(s, "a"), Err(StoreError::NotFound));
    assert_eq!(last_of(s, ">"), Err(StoreError::NotFound));
}

// ---- remove_msg -------------------------------------------------------------------------------

pub(crate) fn remove_first_moves_first_seq(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a"]);
    assert!(remove(s, 1));
    assert_eq!(shape(s), (3, 2, 4, 0));
    // Removing the first when the next is already gone jumps over the gap.
    assert!(remove(s, 3));
    assert!(remove(s, 2));
    assert_eq!(shape(s), (1, 4, 4, 0));
}

pub(crate) fn remove_middle_counts_as_interior_gap(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b"]);
    assert!(remove(s, 2));
    assert_eq!(shape(s), (3, 1, 4, 1));
    assert!(remove(s, 3));
    assert_eq!(shape(s), (2, 1, 4, 2));
}

pub(crate) fn remove_last_keeps_last_seq(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a"]);
    assert!(remove(s, 3));
    assert_eq!(shape(s), (2, 1, 3, 1));
    assert_eq!(put(s, "a"), 4);
    assert_eq!(shape(s), (3, 1, 4, 1));
}

pub(crate) fn remove_twice_reports_false_the_second_time(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a"]);
    assert!(remove(s, 2));
    assert!(!remove(s, 2));
    assert!(!remove(s, 0));
    assert!(!remove(s, 9));
    assert_eq!(shape(s), (2, 1, 3, 1));
}

pub(crate) fn remove_every_message_leaves_empty_stream_after_last(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "c"]);
    for seq in [2, 3, 1] {
        assert!(remove(s, seq));
    }
    let st = s.state();
    assert_eq!((st.msgs, st.bytes, st.num_subjects), (0, 0, 0));
    assert_eq!(shape(s), (0, 4, 3, 0));
    assert_eq!(put(s, "a"), 4);
    assert_eq!(shape(s), (1, 4, 4, 0));
}

// ---- purge ------------------------------------------------------------------------------------

pub(crate) fn purge_all_empties_and_sequences_continue(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "c"]);
    assert_eq!(s.purge("", 0, 0), Ok(3));
    let st = s.state();
    assert_eq!(
        (st.msgs, st.bytes, st.num_subjects, st.first_ts),
        (0, 0, 0, 0)
    );
    assert_eq!(shape(s), (0, 4, 3, 0));
    assert_eq!(put(s, "a"), 4);
    assert_eq!(s.purge(">", 0, 0), Ok(1));
    assert_eq!(shape(s), (0, 5, 4, 0));
}

pub(crate) fn purge_all_of_fresh_store_moves_first_to_one(s: &mut dyn StreamStore) {
    assert_eq!(s.purge("", 0, 0), Ok(0));
    assert_eq!(shape(s), (0, 1, 0, 0));
    assert_eq!(put(s, "a"), 1);
}

pub(crate) fn purge_by_literal_filter_removes_only_that_subject(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "c", "a"]);
    assert_eq!(s.purge("a", 0, 0), Ok(3));
    assert_eq!(shape(s), (2, 2, 5, 2));
    assert_eq!(s.num_pending(0, "a", false), 0);
    assert_eq!(seq_of(s, "", 0), Ok(2));
    assert_eq!(s.purge("zz", 0, 0), Ok(0));
}

pub(crate) fn purge_by_wildcard_filter_removes_matching_subjects(s: &mut dyn StreamStore) {
    put_all(s, &["k.a", "x", "k.b", "k.a.deep", "x"]);
    assert_eq!(s.purge("k.*", 0, 0), Ok(2));
    assert_eq!(s.deleted(), vec![3]);
    assert_eq!(shape(s), (3, 2, 5, 1));
    assert_eq!(s.purge("k.>", 0, 0), Ok(1));
    assert_eq!(shape(s), (2, 2, 5, 2));
    assert_eq!(s.state().num_subjects, 1);
}

pub(crate) fn purge_below_seq_keeps_later_messages(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a"]);
    assert_eq!(s.purge("a", 4, 0), Ok(2));
    assert_eq!(shape(s), (3, 2, 5, 1));
    assert_eq!(seq_of(s, "a", 0), Ok(5));
    assert_eq!(s.purge("*", 5, 0), Ok(2));
    assert_eq!(shape(s), (1, 5, 5, 0));
}

pub(crate) fn purge_below_seq_one_removes_nothing(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    assert_eq!(s.purge("", 1, 0), Ok(0));
    assert_eq!(s.purge("a", 1, 0), Ok(0));
    assert_eq!(shape(s), (2, 1, 2, 0));
}

pub(crate) fn purge_all_below_seq_past_end_moves_sequences_like_compact(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "c"]);
    assert_eq!(s.purge("", 3, 0), Ok(2));
    assert_eq!(shape(s), (1, 3, 3, 0));
    assert_eq!(s.purge(">", 10, 0), Ok(1));
    assert_eq!(shape(s), (0, 10, 9, 0));
    assert_eq!(put(s, "a"), 10);
}

pub(crate) fn purge_with_keep_leaves_newest(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "c", "d", "e"]);
    assert_eq!(s.purge("", 0, 2), Ok(3));
    assert_eq!(shape(s), (2, 4, 5, 0));
    assert_eq!(s.purge(">", 0, 1), Ok(1));
    assert_eq!(shape(s), (1, 5, 5, 0));
}

pub(crate) fn purge_filter_with_keep_leaves_newest_of_that_filter(s: &mut dyn StreamStore) {
    put_all(s, &["k.a", "x", "k.b", "k.a", "x", "k.c"]);
    assert_eq!(s.purge("k.*", 0, 2), Ok(2));
    assert_eq!(s.filtered_state(0, "k.*"), simple(2, 4, 6));
    assert_eq!(s.filtered_state(0, "x"), simple(2, 2, 5));
    assert_eq!(s.purge("x", 0, 1), Ok(1));
    assert_eq!(shape(s), (3, 4, 6, 0));
}

pub(crate) fn purge_keep_larger_than_matching_removes_nothing(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a"]);
    assert_eq!(s.purge("a", 0, 2), Ok(0));
    assert_eq!(s.purge("a", 0, 5), Ok(0));
    assert_eq!(s.purge("", 0, 3), Ok(0));
    assert_eq!(shape(s), (3, 1, 3, 0));
}

pub(crate) fn purge_with_keep_and_below_seq_honours_both(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a", "a", "a"]);
    // The newest 4 (3..=6) are kept, so below 5 only 1 and 2 go.
    assert_eq!(s.purge("a", 5, 4), Ok(2));
    assert_eq!(shape(s), (4, 3, 6, 0));
    // Below 4 only 3 qualifies, and keeping 1 does not protect it.
    assert_eq!(s.purge("a", 4, 1), Ok(1));
    assert_eq!(shape(s), (3, 4, 6, 0));
}

// ---- compact ----------------------------------------------------------------------------------

pub(crate) fn compact_below_first_changes_nothing(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a"]);
    assert!(remove(s, 1));
    assert!(remove(s, 2));
    assert_eq!(s.compact(2), Ok(0));
    assert_eq!(s.compact(3), Ok(0));
    assert_eq!(shape(s), (2, 3, 4, 0));
}

pub(crate) fn compact_in_the_middle_removes_below(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a"]);
    assert_eq!(s.compact(4), Ok(3));
    assert_eq!(shape(s), (2, 4, 5, 0));
    assert_eq!(s.load_msg(3), Err(StoreError::NotFound));
    assert_eq!(s.filtered_state(0, "a"), simple(1, 5, 5));
}

pub(crate) fn compact_onto_a_gap_moves_first_to_next_stored(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a", "a"]);
    assert!(remove(s, 3));
    assert!(remove(s, 4));
    assert_eq!(s.compact(3), Ok(2));
    assert_eq!(shape(s), (1, 5, 5, 0));
    assert!(remove(s, 5));
    put_all(s, &["a", "a"]);
    assert!(remove(s, 7));
    // Nothing stored at or after 7: the stream empties after its last sequence.
    assert_eq!(s.compact(7), Ok(1));
    assert_eq!(shape(s), (0, 8, 7, 0));
}

pub(crate) fn compact_past_last_empties_and_next_store_gets_that_seq(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "c"]);
    assert_eq!(s.compact(100), Ok(3));
    let st = s.state();
    assert_eq!((st.msgs, st.bytes, st.num_subjects), (0, 0, 0));
    assert_eq!(shape(s), (0, 100, 99, 0));
    assert_eq!(put(s, "a"), 100);
    assert_eq!(shape(s), (1, 100, 100, 0));
    assert_eq!(s.load_msg(100).expect("load").subject, "a");
}

pub(crate) fn compact_zero_purges_everything(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    assert_eq!(s.compact(0), Ok(2));
    assert_eq!(shape(s), (0, 3, 2, 0));
}

pub(crate) fn compact_of_fresh_store_sets_first_seq(s: &mut dyn StreamStore) {
    assert_eq!(s.compact(42), Ok(0));
    assert_eq!(shape(s), (0, 42, 41, 0));
    assert_eq!(put(s, "a"), 42);
}

// ---- skip_msg ---------------------------------------------------------------------------------

pub(crate) fn skip_counts_as_deleted(s: &mut dyn StreamStore) {
    put_all(s, &["a"]);
    assert_eq!(s.skip_msg(T0), Ok(2));
    assert_eq!(shape(s), (1, 1, 2, 1));
    assert_eq!(s.deleted(), vec![2]);
    assert_eq!(s.load_msg(2), Err(StoreError::NotFound));
    assert_eq!(put(s, "a"), 3);
    assert_eq!(shape(s), (2, 1, 3, 1));
}

pub(crate) fn skip_on_empty_stream_moves_first_seq(s: &mut dyn StreamStore) {
    assert_eq!(s.skip_msg(T0), Ok(1));
    assert_eq!(shape(s), (0, 2, 1, 0));
    put_all(s, &["a"]);
    assert!(remove(s, 2));
    assert_eq!(s.skip_msg(T0), Ok(3));
    assert_eq!(shape(s), (0, 4, 3, 0));
    assert_eq!(put(s, "a"), 4);
    assert_eq!(shape(s), (1, 4, 4, 0));
}

pub(crate) fn skip_sets_last_ts_only_when_unset(s: &mut dyn StreamStore) {
    s.skip_msg(T0 + 1).expect("skip");
    assert_eq!(s.state().last_ts, T0 + 1);
    s.store_msg("a", None, Bytes::new(), T0 + 2).expect("store");
    s.skip_msg(T0 + 3).expect("skip");
    assert_eq!(s.state().last_ts, T0 + 2);
}

// ---- state ------------------------------------------------------------------------------------

pub(crate) fn empty_store_state_is_all_zero(s: &mut dyn StreamStore) {
    assert_eq!(s.state(), StreamState::default());
    assert_eq!(s.filtered_state(0, ""), SimpleState::default());
    assert!(s.subjects_state("").is_empty());
    assert_eq!(s.num_pending(0, "", false), 0);
    assert!(s.deleted().is_empty());
}

pub(crate) fn state_after_removals_tracks_first_and_last(s: &mut dyn StreamStore) {
    for (i, subject) in ["a", "b", "c", "a"].iter().enumerate() {
        s.store_msg(subject, None, Bytes::from_static(b"xy"), T0 + i as i64)
            .expect("store");
    }
    assert!(remove(s, 1));
    assert!(remove(s, 4));
    let st = s.state();
    let size = record_size("b", None, &Bytes::from_static(b"xy"));
    assert_eq!(
        st,
        StreamState {
            msgs: 2,
            bytes: 2 * size,
            first_seq: 2,
            first_ts: T0 + 1,
            last_seq: 4,
            last_ts: T0 + 3,
            num_subjects: 2,
            num_deleted: 1,
        }
    );
}

// ---- filtered_state, subjects_state, num_pending ----------------------------------------------

pub(crate) fn filtered_state_for_literal_subject(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a"]);
    assert_eq!(s.filtered_state(0, "a"), simple(3, 1, 5));
    assert_eq!(s.filtered_state(0, "b"), simple(2, 2, 4));
    assert!(remove(s, 1));
    assert!(remove(s, 5));
    assert_eq!(s.filtered_state(0, "a"), simple(1, 3, 3));
}

pub(crate) fn filtered_state_with_wildcards(s: &mut dyn StreamStore) {
    put_all(s, &["k.a", "x", "k.b", "k.a.z", "x"]);
    assert_eq!(s.filtered_state(0, "k.*"), simple(2, 1, 3));
    assert_eq!(s.filtered_state(0, "k.>"), simple(3, 1, 4));
    assert_eq!(s.filtered_state(0, ">"), simple(5, 1, 5));
    assert_eq!(s.filtered_state(0, ""), simple(5, 1, 5));
    assert!(remove(s, 5));
    assert_eq!(s.filtered_state(0, ""), simple(4, 1, 4));
}

pub(crate) fn filtered_state_with_start(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a", "b"]);
    assert!(remove(s, 3));
    assert_eq!(s.filtered_state(2, "a"), simple(1, 5, 5));
    assert_eq!(s.filtered_state(3, "*"), simple(3, 4, 6));
    assert_eq!(s.filtered_state(3, ""), simple(3, 4, 6));
    assert_eq!(s.filtered_state(6, "b"), simple(1, 6, 6));
    assert_eq!(s.filtered_state(7, "b"), SimpleState::default());
}

pub(crate) fn filtered_state_without_match_is_zero(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    assert_eq!(s.filtered_state(0, "c"), SimpleState::default());
    assert_eq!(s.filtered_state(0, "a.*"), SimpleState::default());
    assert_eq!(s.filtered_state(3, ""), SimpleState::default());
}

pub(crate) fn subjects_state_of_all_subjects(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b.c", "a", "b.d"]);
    assert!(remove(s, 4));
    let all = s.subjects_state("");
    let expected: Vec<(String, SimpleState)> = vec![
        ("a".to_string(), simple(2, 1, 3)),
        ("b.c".to_string(), simple(1, 2, 2)),
    ];
    assert_eq!(all.into_iter().collect::<Vec<_>>(), expected);
    assert_eq!(s.subjects_state(">").len(), 2);
}

pub(crate) fn subjects_state_with_wildcard_and_literal(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b.c", "a", "b.d", "b.c.e"]);
    let keys = |f: &str| s.subjects_state(f).into_keys().collect::<Vec<_>>();
    assert_eq!(keys("b.*"), vec!["b.c", "b.d"]);
    assert_eq!(keys("b.>"), vec!["b.c", "b.c.e", "b.d"]);
    assert_eq!(keys("a"), vec!["a"]);
    assert!(keys("z").is_empty());
    assert_eq!(s.subjects_state("a").get("a"), Some(&simple(2, 1, 3)));
}

pub(crate) fn num_pending_counts_from_start(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b", "a", "b", "a"]);
    assert_eq!(s.num_pending(0, "", false), 5);
    assert_eq!(s.num_pending(3, "", false), 3);
    assert_eq!(s.num_pending(2, "a", false), 2);
    assert_eq!(s.num_pending(5, "b", false), 0);
    assert!(remove(s, 4));
    assert_eq!(s.num_pending(3, "*", false), 2);
}

pub(crate) fn num_pending_last_per_subject_counts_subjects(s: &mut dyn StreamStore) {
    put_all(s, &["k.a", "k.b", "k.a", "k.c", "k.a"]);
    assert_eq!(s.num_pending(0, "k.*", true), 3);
    // From 4 on only k.c (4) and k.a (5) have their last message.
    assert_eq!(s.num_pending(4, "k.*", true), 2);
    assert_eq!(s.num_pending(0, "k.a", true), 1);
    assert_eq!(s.num_pending(6, "", true), 0);
}

pub(crate) fn deleted_lists_interior_gaps(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a", "a", "a", "a"]);
    for seq in [5, 2, 3, 1] {
        assert!(remove(s, seq));
    }
    s.skip_msg(T0).expect("skip");
    // 1 went first so it is no longer between first and last.
    assert_eq!(s.deleted(), vec![5, 7]);
    assert_eq!(s.state().num_deleted, 2);
}

pub(crate) fn deleted_is_empty_for_gapless_and_empty_streams(s: &mut dyn StreamStore) {
    put_all(s, &["a", "a", "a"]);
    assert!(remove(s, 1));
    assert!(s.deleted().is_empty());
    s.purge("", 0, 0).expect("purge");
    assert!(s.deleted().is_empty());
    assert_eq!(s.state().num_deleted, 0);
}

// ---- consumers --------------------------------------------------------------------------------

fn consumer_record(delivered: u64) -> ConsumerRecord {
    let mut state = ConsumerState {
        delivered: SequencePair {
            consumer_seq: delivered,
            stream_seq: delivered + 10,
        },
        ack_floor: SequencePair {
            consumer_seq: 1,
            stream_seq: 11,
        },
        ..ConsumerState::default()
    };
    state.pending.insert(
        12,
        PendingAck {
            consumer_seq: 2,
            timestamp: T0,
        },
    );
    state.redelivered.insert(12, 3);
    ConsumerRecord {
        config: br#"{"durable_name":"c"}"#.to_vec(),
        created: T0,
        state,
    }
}

pub(crate) fn consumer_records_save_overwrite_remove_list(s: &mut dyn StreamStore) {
    assert!(s.consumers().expect("list").is_empty());
    s.save_consumer("c1", consumer_record(2)).expect("save");
    s.save_consumer("c2", consumer_record(3)).expect("save");
    s.save_consumer("c1", consumer_record(5))
        .expect("overwrite");
    let all = s.consumers().expect("list");
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["c1", "c2"]);
    assert_eq!(all.get("c1"), Some(&consumer_record(5)));
    s.remove_consumer("c2").expect("remove");
    s.remove_consumer("never-there").expect("remove unknown");
    let all = s.consumers().expect("list");
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["c1"]);
}

pub(crate) fn consumer_records_written_read_back_as_saved(s: &mut dyn StreamStore) {
    s.save_consumer("c", consumer_record(1)).expect("save");
    s.write_consumer("c", consumer_record(2)).expect("write");
    s.write_consumer("c", consumer_record(3))
        .expect("write again");
    s.write_consumer("d", consumer_record(4))
        .expect("write a new one");
    assert_eq!(
        s.consumers().expect("list").get("c"),
        Some(&consumer_record(3))
    );
    s.sync_consumers().expect("sync");
    s.save_consumer("c", consumer_record(5))
        .expect("save after");
    s.write_consumer("c", consumer_record(6))
        .expect("write after");
    let all = s.consumers().expect("list");
    assert_eq!(all.get("c"), Some(&consumer_record(6)));
    assert_eq!(all.get("d"), Some(&consumer_record(4)));
}

// ---- delete -----------------------------------------------------------------------------------

pub(crate) fn delete_closes_every_operation(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    s.save_consumer("c", consumer_record(1)).expect("save");
    s.delete().expect("delete");
    let closed = Err(StoreError::Closed);
    assert_eq!(s.store_msg("a", None, Bytes::new(), T0), closed);
    assert_eq!(s.skip_msg(T0), closed);
    assert_eq!(s.load_msg(1), Err(StoreError::Closed));
    assert_eq!(s.load_next_msg("", 0), Err(StoreError::Closed));
    assert_eq!(s.load_last_msg(""), Err(StoreError::Closed));
    assert_eq!(s.remove_msg(1), Err(StoreError::Closed));
    assert_eq!(s.purge("", 0, 0), closed);
    assert_eq!(s.compact(2), closed);
    assert_eq!(s.sync(), Err(StoreError::Closed));
    assert_eq!(
        s.save_consumer("c", consumer_record(1)),
        Err(StoreError::Closed)
    );
    assert_eq!(s.remove_consumer("c"), Err(StoreError::Closed));
    assert_eq!(s.consumers(), Err(StoreError::Closed));
    assert_eq!(s.delete(), Err(StoreError::Closed));
    // The infallible queries answer as for an empty stream.
    assert_eq!(s.state().msgs, 0);
    assert_eq!(s.filtered_state(0, ""), SimpleState::default());
    assert!(s.subjects_state("").is_empty());
    assert_eq!(s.num_pending(0, "", false), 0);
    assert!(s.deleted().is_empty());
}

// ---- bytes ------------------------------------------------------------------------------------

pub(crate) fn bytes_match_record_size(s: &mut dyn StreamStore) {
    let h = Bytes::from_static(b"NATS/1.0\r\nX: 1\r\n\r\n");
    let msgs: [(&str, Option<Bytes>, Bytes); 3] = [
        ("a", None, Bytes::from_static(b"12345")),
        ("bb.cc", Some(h.clone()), Bytes::new()),
        ("d", Some(h), Bytes::from(vec![0u8; 1000])),
    ];
    let mut total = 0;
    for (subject, headers, payload) in &msgs {
        total += record_size(subject, headers.as_ref(), payload);
        s.store_msg(subject, headers.clone(), payload.clone(), T0)
            .expect("store");
        assert_eq!(s.state().bytes, total);
    }
    let h_len = msgs[1].1.as_ref().map_or(0, |h| h.len()) as u64;
    assert_eq!(
        total,
        (1 + 5 + 16) + (5 + h_len + 16) + (1 + h_len + 1000 + 16)
    );
    assert!(remove(s, 2));
    total -= record_size(msgs[1].0, msgs[1].1.as_ref(), &msgs[1].2);
    assert_eq!(s.state().bytes, total);
    s.compact(3).expect("compact");
    assert_eq!(
        s.state().bytes,
        record_size("d", msgs[2].1.as_ref(), &msgs[2].2)
    );
}

// ---- sparse streams ---------------------------------------------------------------------------

/// A KV-like pattern: one old key never updated while another churns; the old message, the
/// sequence arithmetic and the gap accounting must all stay right across thousands of sequences.
pub(crate) fn old_message_survives_long_churn(s: &mut dyn StreamStore) {
    assert_eq!(put(s, "kv.old"), 1);
    let mut prev = 0;
    for _ in 0..5000 {
        let seq = put(s, "kv.hot");
        if prev > 0 {
            assert!(remove(s, prev));
        }
        prev = seq;
    }
    assert_eq!(shape(s), (2, 1, 5001, 4999));
    assert_eq!(seq_of(s, "", 2), Ok(5001));
    assert_eq!(last_of(s, "kv.old"), Ok(1));
    assert_eq!(s.filtered_state(2, ">"), simple(1, 5001, 5001));
    assert_eq!(s.deleted().len(), 4999);
    assert!(remove(s, 1));
    assert_eq!(shape(s), (1, 5001, 5001, 0));
}

/// Wildcard lookups must find a match however far it is from the start, past long runs of
/// messages on other subjects.
pub(crate) fn wildcard_lookups_find_rare_subjects_far_apart(s: &mut dyn StreamStore) {
    put(s, "rare.a");
    put_all(s, &["busy"; 300]);
    assert_eq!(put(s, "rare.b"), 302);
    put_all(s, &["busy"; 300]);
    assert_eq!(seq_of(s, "rare.*", 2), Ok(302));
    assert_eq!(seq_of(s, "rare.>", 303), Err(StoreError::Eof));
    assert_eq!(last_of(s, "rare.*"), Ok(302));
    assert_eq!(s.filtered_state(2, "*.b"), simple(1, 302, 302));
    assert_eq!(s.num_pending(0, "rare.*", true), 2);
    assert!(remove(s, 302));
    assert_eq!(last_of(s, "rare.*"), Ok(1));
    assert_eq!(seq_of(s, "rare.*", 2), Err(StoreError::Eof));
}

/// Removing most messages from the inside of one subject's history (out-of-order acks, deletes)
/// leaves its counts, bounds and lookups exact.
pub(crate) fn scattered_removals_keep_subject_queries_right(s: &mut dyn StreamStore) {
    put_all(s, &["a"; 1000]);
    for seq in (2..1000).filter(|seq| seq % 4 != 0) {
        assert!(remove(s, seq));
    }
    // Left: 1, 4, 8, ..., 996, 1000.
    assert_eq!(s.filtered_state(0, "a"), simple(251, 1, 1000));
    assert_eq!(s.filtered_state(5, "a"), simple(249, 8, 1000));
    assert_eq!(seq_of(s, "a", 5), Ok(8));
    assert_eq!(seq_of(s, "a", 997), Ok(1000));
    assert_eq!(s.num_pending(500, "a", false), 126);
    assert!(remove(s, 1));
    assert_eq!(s.filtered_state(0, "a"), simple(250, 4, 1000));
    assert!(remove(s, 1000));
    assert_eq!(last_of(s, "a"), Ok(996));
    assert_eq!(s.subjects_state("a").get("a"), Some(&simple(249, 4, 996)));
}

// ---- failed syncs -----------------------------------------------------------------------------

/// Syncs and, for a store whose sync only queues a commit, completes that commit.
fn sync_durably(s: &mut dyn StreamStore) {
    match s.sync().expect("sync") {
        Synced::Durable => {}
        Synced::Queued => s.queued_sync_done(),
    }
}

/// What a store says of `discard_unsynced`: `Some(true)` when it went back, `Some(false)` when
/// it cannot; either way checked against `synced` (the state to go back to) and `ahead` (the
/// state before the call, kept when it cannot).
fn discarded(s: &mut dyn StreamStore, synced: &StreamState, ahead: &StreamState) -> bool {
    match s.discard_unsynced() {
        Ok(true) => {
            assert_eq!(&s.state(), synced, "back to the last synced state");
            true
        }
        Ok(false) => {
            assert_eq!(
                &s.state(),
                ahead,
                "a store that cannot go back changes nothing"
            );
            false
        }
        Err(e) => panic!("discard_unsynced failed: {e}"),
    }
}

pub(crate) fn discard_unsynced_takes_back_the_appends_since_the_last_sync(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    s.save_consumer("c", consumer_record(1)).expect("save");
    sync_durably(s);
    let synced = s.state();
    for subject in ["c", "d"] {
        s.store_msg(subject, None, Bytes::from_static(b"late"), T0 + 5)
            .expect("store");
    }
    s.save_consumer("c", consumer_record(2)).expect("save");
    let ahead = s.state();
    if !discarded(s, &synced, &ahead) {
        return;
    }
    assert_eq!(s.load_msg(3), Err(StoreError::NotFound));
    assert_eq!(last_of(s, ""), Ok(2));
    assert_eq!(
        s.subjects_state(">").len(),
        2,
        "{:?}",
        s.subjects_state(">")
    );
    // Consumer records are not the store's to take back.
    let consumers = s.consumers().expect("list");
    assert_eq!(consumers.get("c"), Some(&consumer_record(2)));
    assert_eq!(put(s, "e"), 3, "sequences continue after the synced ones");
    assert_eq!(s.load_msg(3).expect("load").subject, "e");
    assert_eq!(shape(s), (3, 1, 3, 0));
}

pub(crate) fn discard_unsynced_after_a_removal_restores_the_synced_state_or_changes_nothing(
    s: &mut dyn StreamStore,
) {
    put_all(s, &["a", "b", "c"]);
    sync_durably(s);
    let synced = s.state();
    assert!(remove(s, 2));
    put(s, "d");
    let ahead = s.state();
    if discarded(s, &synced, &ahead) {
        assert_eq!(
            s.load_msg(2).expect("the removal is taken back").subject,
            "b"
        );
        assert_eq!(s.load_msg(4), Err(StoreError::NotFound));
    } else {
        assert_eq!(s.load_msg(2), Err(StoreError::NotFound));
        assert_eq!(s.load_msg(4).expect("still stored").subject, "d");
    }
}

/// A store whose sync queues a commit hears that the commit failed: the messages it carried
/// are still stored, and unsynced again, so a discard takes them back (a store that syncs
/// durably has nothing queued to fail).
pub(crate) fn a_failed_queued_sync_leaves_its_appends_unsynced(s: &mut dyn StreamStore) {
    put_all(s, &["a", "b"]);
    sync_durably(s);
    let synced = s.state();
    put(s, "c");
    if s.sync() != Ok(Synced::Queued) {
        return;
    }
    // A second commit queued behind the first fails with it.
    put(s, "d");
    assert_eq!(s.sync(), Ok(Synced::Queued));
    s.queued_sync_failed();
    let ahead = s.state();
    assert_eq!(shape(s), (4, 1, 4, 0), "the messages stay until discarded");
    assert_eq!(s.load_msg(4).expect("load").subject, "d");
    if discarded(s, &synced, &ahead) {
        assert_eq!(
            put(s, "e"),
            3,
            "sequences continue after the committed ones"
        );
        sync_durably(s);
        assert_eq!(shape(s), (3, 1, 3, 0));
    }
}
