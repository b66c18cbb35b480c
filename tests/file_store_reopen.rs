//! A file store reopened after a clean close or a crash serves exactly what was synced, and goes
//! on handing out sequences where it left off.

use bytes::Bytes;
use contrail::core::store::{StoredMsg, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

const SMALL: FileStoreConfig = FileStoreConfig { block_size: 4096 };

/// The message number `i` of these tests: varied subjects, some with headers, varied sizes.
fn publish(store: &mut FileStore, i: u64) -> u64 {
    let subject = format!("orders.{}", i % 7);
    let headers =
        (i % 3 == 0).then(|| Bytes::from(format!("NATS/1.0\r\nNats-Msg-Id: {i}\r\n\r\n")));
    let payload = Bytes::from(vec![(i % 251) as u8; (i % 300) as usize]);
    store
        .store_msg(&subject, headers, payload, i as i64 * 1_000)
        .expect("store")
}

fn expected(i: u64) -> StoredMsg {
    StoredMsg {
        subject: format!("orders.{}", i % 7),
        seq: i,
        time: i as i64 * 1_000,
        headers: (i % 3 == 0).then(|| Bytes::from(format!("NATS/1.0\r\nNats-Msg-Id: {i}\r\n\r\n"))),
        payload: Bytes::from(vec![(i % 251) as u8; (i % 300) as usize]),
    }
}

#[test]
fn a_cleanly_closed_store_comes_back_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = FileStore::open(dir.path(), SMALL).expect("open");
    for i in 1..=500 {
        assert_eq!(publish(&mut store, i), i);
    }
    let before = store.state();
    let subjects = store.subjects_state(">");
    drop(store);

    let store = FileStore::open(dir.path(), SMALL).expect("reopen");
    assert!(store.recovery_report().is_clean());
    assert_eq!(store.state(), before);
    assert_eq!(store.subjects_state(">"), subjects);
    for i in 1..=500 {
        assert_eq!(store.load_msg(i), Ok(expected(i)), "message {i}");
    }
}

#[test]
fn everything_synced_before_a_crash_survives_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = FileStore::open(dir.path(), SMALL).expect("open");
    for i in 1..=1_000 {
        publish(&mut store, i);
        if i % 100 == 0 {
            store.sync().expect("sync");
        }
    }
    for i in 1_001..=1_050 {
        publish(&mut store, i);
    }
    // The process dies: no close, no flush of what was buffered since the last sync.
    std::mem::forget(store);

    let store = FileStore::open(dir.path(), SMALL).expect("reopen");
    let state = store.state();
    assert!(state.msgs >= 1_000, "synced messages lost: {state:?}");
    assert_eq!(
        state.msgs, state.last_seq,
        "what survives is a prefix, without holes"
    );
    for i in 1..=state.last_seq {
        assert_eq!(store.load_msg(i), Ok(expected(i)), "message {i}");
    }
}

#[test]
fn sequences_continue_after_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = FileStore::open(dir.path(), SMALL).expect("open");
    for i in 1..=10 {
        publish(&mut store, i);
    }
    drop(store);
    let mut store = FileStore::open(dir.path(), SMALL).expect("reopen");
    assert_eq!(publish(&mut store, 11), 11);
    drop(store);
    let store = FileStore::open(dir.path(), SMALL).expect("reopen again");
    assert_eq!(store.load_msg(11), Ok(expected(11)));
    assert_eq!(store.state().msgs, 11);
}

#[test]
fn a_store_reopened_many_times_without_writes_stays_the_same_and_small() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = FileStore::open(dir.path(), SMALL).expect("open");
    for i in 1..=50 {
        publish(&mut store, i);
    }
    let before = store.state();
    drop(store);
    for _ in 0..20 {
        let mut store = FileStore::open(dir.path(), SMALL).expect("reopen");
        assert_eq!(store.state(), before);
        store.sync().expect("sync");
    }
    let files = std::fs::read_dir(dir.path().join("msgs"))
        .expect("list")
        .count();
    assert!(files <= 5, "reopening piles up files: {files}");
}
