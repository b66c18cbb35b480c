//! Consumer records are durable when `save_consumer` returns: they survive a crash right after,
//! an interrupted save leaves the previous record, and a damaged record file is reported and
//! ignored rather than failing the stream.

use std::fs;
use std::path::Path;

use contrail::core::store::{ConsumerRecord, ConsumerState, PendingAck, SequencePair, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

fn record(delivered: u64) -> ConsumerRecord {
    let mut state = ConsumerState {
        delivered: SequencePair {
            consumer_seq: delivered + 3,
            stream_seq: delivered,
        },
        ack_floor: SequencePair {
            consumer_seq: 1,
            stream_seq: 1,
        },
        ..ConsumerState::default()
    };
    for seq in 2..=delivered {
        state.pending.insert(
            seq,
            PendingAck {
                consumer_seq: seq + 1,
                timestamp: seq as i64 * 10,
            },
        );
    }
    state.redelivered.insert(2, 3);
    ConsumerRecord {
        config: format!(r#"{{"durable_name":"d{delivered}","ack_policy":"explicit"}}"#)
            .into_bytes(),
        created: 1_700_000_000_000_000_000,
        state,
    }
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, FileStoreConfig::default()).expect("open")
}

#[test]
fn a_saved_consumer_survives_a_crash_right_after_the_save() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    store.save_consumer("worker", record(5)).expect("save");
    store
        .save_consumer("worker", record(9))
        .expect("save again");
    store
        .save_consumer("audit log", record(2))
        .expect("save another");
    std::mem::forget(store);

    let store = open(dir.path());
    let consumers = store.consumers().expect("consumers");
    assert_eq!(consumers.len(), 2);
    assert_eq!(consumers["worker"], record(9));
    assert_eq!(consumers["audit log"], record(2));
}

#[test]
fn a_removed_consumer_stays_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    store.save_consumer("a", record(3)).expect("save");
    store.save_consumer("b", record(4)).expect("save");
    store.remove_consumer("a").expect("remove");
    store
        .remove_consumer("never-there")
        .expect("removing an absent consumer is fine");
    std::mem::forget(store);
    let consumers = open(dir.path()).consumers().expect("consumers");
    assert_eq!(consumers.keys().collect::<Vec<_>>(), vec!["b"]);
}

#[test]
fn an_interrupted_save_leaves_the_previous_record() {
    // A crash between writing the temp file and renaming it leaves a `.tmp` beside the record.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    store.save_consumer("worker", record(5)).expect("save");
    drop(store);
    let consumers_dir = dir.path().join("consumers");
    fs::write(consumers_dir.join("c-worker.tmp"), b"half a reco").expect("stray temp file");

    let store = open(dir.path());
    assert_eq!(store.consumers().expect("consumers")["worker"], record(5));
    assert!(store.recovery_report().is_clean());
    assert!(
        !consumers_dir.join("c-worker.tmp").exists(),
        "the stray temp file is cleaned up"
    );
}

#[test]
fn a_damaged_consumer_file_is_reported_and_the_others_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    store.save_consumer("good", record(3)).expect("save");
    store.save_consumer("bad", record(4)).expect("save");
    drop(store);
    let path = dir.path().join("consumers").join("c-bad");
    let mut bytes = fs::read(&path).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs::write(&path, bytes).expect("write");

    let store = open(dir.path());
    assert_eq!(store.recovery_report().bad_consumers.len(), 1);
    let consumers = store.consumers().expect("consumers");
    assert_eq!(consumers.keys().collect::<Vec<_>>(), vec!["good"]);
}

#[test]
fn consumer_names_that_are_not_file_names_still_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    let names = [
        "../escape",
        "with/slash",
        "ünïcödé",
        "dots.are.fine",
        &"long".repeat(60),
    ];
    for (i, name) in names.iter().enumerate() {
        store
            .save_consumer(name, record(i as u64 + 2))
            .expect("save");
    }
    drop(store);
    let consumers = open(dir.path()).consumers().expect("consumers");
    for (i, name) in names.iter().enumerate() {
        assert_eq!(consumers.get(*name), Some(&record(i as u64 + 2)), "{name}");
    }
    assert!(!dir.path().join("escape").exists());
}
