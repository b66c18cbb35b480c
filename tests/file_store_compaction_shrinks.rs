//! Removed messages give their disk space back at the next sync: work queues consumed in order,
//! interest streams acknowledged out of order, purges and compactions all shrink the files.

use std::path::Path;

use bytes::Bytes;
use contrail::core::store::StreamStore;
use contrail::server::file_store::{FileStore, FileStoreConfig};

const BLOCK: u64 = 64 << 10;
const CONFIG: FileStoreConfig = FileStoreConfig { block_size: BLOCK };
const MSGS: u64 = 20_000;

/// Bytes of all segment files.
fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("msgs"))
        .expect("list")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

/// A store with `MSGS` 512-byte messages (about 10 MiB), synced.
fn filled(dir: &Path) -> (FileStore, u64) {
    let mut store = FileStore::open(dir, CONFIG).expect("open");
    let payload = Bytes::from(vec![9u8; 512]);
    for i in 1..=MSGS {
        store
            .store_msg("jobs", None, payload.clone(), i as i64)
            .expect("store");
        if i % 1_000 == 0 {
            store.sync().expect("sync");
        }
    }
    store.sync().expect("sync");
    let full = disk_usage(dir);
    (store, full)
}

#[test]
fn a_work_queue_consumed_in_order_shrinks_as_it_goes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, full) = filled(dir.path());
    for seq in 1..=MSGS {
        store.remove_msg(seq).expect("ack");
        if seq % 500 == 0 {
            store.sync().expect("sync");
        }
        if seq == MSGS / 2 {
            let half = disk_usage(dir.path());
            assert!(
                half < full / 2 + 2 * BLOCK,
                "half consumed: {half} of {full}"
            );
        }
    }
    let empty = disk_usage(dir.path());
    assert!(
        empty <= BLOCK / 2,
        "fully consumed yet {empty} bytes remain"
    );
}

#[test]
fn an_interest_stream_acked_out_of_order_shrinks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, full) = filled(dir.path());
    // Acknowledge 95% in a scattered order, keeping every 20th message.
    for round in 0..20u64 {
        for seq in (1..=MSGS).filter(|s| (s * 7) % 20 == round && s % 20 != 0) {
            store.remove_msg(seq).expect("ack");
        }
        store.sync().expect("sync");
    }
    let left = disk_usage(dir.path());
    assert!(
        left < full / 8,
        "95% acknowledged yet {left} of {full} bytes remain"
    );
    assert_eq!(store.state().msgs, MSGS / 20);
    drop(store);
    let store = FileStore::open(dir.path(), CONFIG).expect("reopen");
    assert_eq!(store.state().msgs, MSGS / 20);
    assert_eq!(store.load_msg(40).map(|m| m.payload.len()), Ok(512));
}

#[test]
fn a_full_purge_frees_nearly_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, _) = filled(dir.path());
    store.purge("", 0, 0).expect("purge");
    store.sync().expect("sync");
    let left = disk_usage(dir.path());
    assert!(left <= BLOCK, "purged yet {left} bytes remain");
}

#[test]
fn a_compaction_to_the_middle_frees_about_half() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, full) = filled(dir.path());
    store.compact(MSGS / 2 + 1).expect("compact");
    store.sync().expect("sync");
    let left = disk_usage(dir.path());
    assert!(
        left < full / 2 + BLOCK,
        "compacted to the middle yet {left} of {full} bytes remain"
    );
}
