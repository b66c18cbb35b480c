//! The shared store conformance suite on `IdbStore`, as wasm-bindgen tests (the core's
//! `store_conformance_tests!` emits `#[test]`s, which wasm-bindgen-test-runner does not run).
//!
//! The rule list mirrors the core macro's; a rule added there must be added here too.

use crate::core::store::conformance as suite;
use crate::core::store::conformance::AsDynStore;
use crate::wasm::idb::{CommitQueue, IdbStore};

use super::fake_db::ReopenedEachWrite;

macro_rules! wasm_conformance {
    ($module:ident, $make:expr; $($rule:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[wasm_bindgen_test::wasm_bindgen_test]
                fn $rule() {
                    let mut store = $make;
                    suite::$rule(store.as_dyn());
                }
            )*

            #[wasm_bindgen_test::wasm_bindgen_test]
            fn random_ops_match_model() {
                for seed in 1..=suite::MODEL_SEEDS {
                    let mut store = $make;
                    suite::random_ops_match_model(store.as_dyn(), seed);
                }
            }
        }
    };
}

macro_rules! every_rule {
    ($module:ident, $make:expr) => {
        wasm_conformance!($module, $make;
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
        delete_closes_every_operation,
        bytes_match_record_size,
        old_message_survives_long_churn,
        wildcard_lookups_find_rare_subjects_far_apart,
        scattered_removals_keep_subject_queries_right
        );
    };
}

// The store as the engine uses it between commits.
every_rule!(resident, IdbStore::new("S", CommitQueue::default()));
// Every answer from a store reopened from its persisted records after each change.
every_rule!(reopened, ReopenedEachWrite::new());
