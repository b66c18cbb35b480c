//! A removal that was synced is durable: removed, purged and compacted-away messages do not come
//! back after a crash, whichever segment they lived in and whatever compaction did since.

use bytes::Bytes;
use contrail::core::store::{StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

const SMALL: FileStoreConfig = FileStoreConfig { block_size: 1024 };

fn filled(dir: &std::path::Path, count: u64) -> FileStore {
    let mut store = FileStore::open(dir, SMALL).expect("open");
    for i in 1..=count {
        let subject = if i % 2 == 0 { "even" } else { "odd" };
        store
            .store_msg(subject, None, Bytes::from(vec![1u8; 64]), i as i64)
            .expect("store");
    }
    store.sync().expect("sync");
    store
}

/// Simulates kill -9 right after a sync, then reopens.
fn crash_and_reopen(mut store: FileStore, dir: &std::path::Path) -> FileStore {
    store.sync().expect("sync");
    std::mem::forget(store);
    FileStore::open(dir, SMALL).expect("reopen")
}

#[test]
fn removed_messages_stay_removed_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = filled(dir.path(), 200);
    for seq in [1, 2, 50, 51, 52, 199] {
        assert_eq!(store.remove_msg(seq), Ok(true));
    }
    let store = crash_and_reopen(store, dir.path());
    for seq in [1, 2, 50, 51, 52, 199] {
        assert_eq!(store.load_msg(seq), Err(StoreError::NotFound), "seq {seq}");
    }
    assert_eq!(store.state().msgs, 194);
    assert_eq!(store.state().first_seq, 3);
    assert_eq!(store.deleted(), vec![50, 51, 52, 199]);
}

#[test]
fn a_subject_purge_stays_purged_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = filled(dir.path(), 200);
    assert_eq!(store.purge("even", 0, 10), Ok(90));
    let store = crash_and_reopen(store, dir.path());
    let even = store.filtered_state(0, "even");
    assert_eq!((even.msgs, even.first), (10, 182));
    assert_eq!(store.filtered_state(0, "odd").msgs, 100);
}

#[test]
fn a_compaction_stays_compacted_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = filled(dir.path(), 200);
    assert_eq!(store.compact(150), Ok(149));
    let store = crash_and_reopen(store, dir.path());
    assert_eq!(store.state().first_seq, 150);
    assert_eq!(store.state().msgs, 51);
    assert_eq!(store.load_next_msg(">", 0).map(|m| m.seq), Ok(150));
}

#[test]
fn a_full_purge_keeps_the_sequence_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = filled(dir.path(), 200);
    assert_eq!(store.purge("", 0, 0), Ok(200));
    let mut store = crash_and_reopen(store, dir.path());
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 201, 200));
    assert_eq!(store.store_msg("odd", None, Bytes::new(), 1), Ok(201));
}

#[test]
fn removals_in_many_rounds_with_compaction_between_stay_removed() {
    // Removals spread over time, each round synced (which deletes and rewrites segments),
    // then a crash: every removed message stays removed, every other one is intact.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = filled(dir.path(), 300);
    let mut removed = Vec::new();
    for round in 0..5u64 {
        for seq in (1..=300).filter(|s| s % 6 == round || (s * 7 + round) % 11 == 0) {
            if store.remove_msg(seq).expect("remove") {
                removed.push(seq);
            }
        }
        store.sync().expect("sync");
    }
    let store = crash_and_reopen(store, dir.path());
    for seq in 1..=300 {
        let loaded = store.load_msg(seq);
        if removed.contains(&seq) {
            assert_eq!(loaded, Err(StoreError::NotFound), "seq {seq} came back");
        } else {
            assert_eq!(loaded.map(|m| m.seq), Ok(seq), "seq {seq} lost");
        }
    }
}
