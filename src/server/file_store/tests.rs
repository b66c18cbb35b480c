//! The file store checked against the memory store (the reference): the same random operations
//! on both, then every query compared, including across syncs, graceful reopens and crashes.

use bytes::Bytes;

use super::{FileStore, FileStoreConfig};
use crate::core::store::delegate::{delegate_message_writes, delegate_reads};
use crate::core::store::memory::MemoryStore;
use crate::core::store::{ConsumerRecord, StoreError, StreamStore};
use crate::core::time::Nanos;

// The shared conformance suite, against a fresh file store in its own temp dir:
crate::store_conformance_tests!(TempFileStore::new());

/// A file store in a temp dir that is removed with it: what the conformance suite runs against.
struct TempFileStore {
    store: FileStore,
    _dir: tempfile::TempDir,
}

impl TempFileStore {
    /// A fresh store with small segments, so a few messages already span several files.
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open(dir.path(), FileStoreConfig { block_size: 512 }).expect("open");
        TempFileStore { store, _dir: dir }
    }
}

impl StreamStore for TempFileStore {
    delegate_reads!(store);
    delegate_message_writes!(store);

    fn sync(&mut self) -> Result<crate::core::store::Synced, StoreError> {
        self.store.sync()
    }
    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.store.save_consumer(name, record)
    }
    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.store.remove_consumer(name)
    }
    // Without these the conformance run would test the trait's defaults, not the file store's
    // rollback, stream record and consumer records written before a sync.
    fn write_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.store.write_consumer(name, record)
    }
    fn sync_consumers(&mut self) -> Result<(), StoreError> {
        self.store.sync_consumers()
    }
    fn discard_unsynced(&mut self) -> Result<bool, StoreError> {
        self.store.discard_unsynced()
    }
    fn save_meta(&mut self, meta: &[u8]) -> Result<(), StoreError> {
        self.store.save_meta(meta)
    }
}

const SUBJECTS: [&str; 6] = ["a", "b", "a.x", "a.y", "b.x.z", "c"];
const FILTERS: [&str; 9] = ["", ">", "a", "a.*", "b.>", "*.x", "c", "d", "*.*.z"];

/// A small deterministic generator (splitmix64), so failures replay from their seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Every query of the trait, on both stores, must agree.
fn assert_same(file: &FileStore, mem: &MemoryStore, ctx: &str) {
    let state = mem.state();
    assert_eq!(file.state(), state, "{ctx}: state");
    assert_eq!(file.deleted(), mem.deleted(), "{ctx}: deleted");
    for seq in 0..=state.last_seq + 2 {
        assert_eq!(file.load_msg(seq), mem.load_msg(seq), "{ctx}: load {seq}");
    }
    let starts = [
        0,
        1,
        state.first_seq,
        state.first_seq + 1,
        state.last_seq / 2,
        state.last_seq,
        state.last_seq + 1,
    ];
    for filter in FILTERS {
        assert_eq!(
            file.subjects_state(filter),
            mem.subjects_state(filter),
            "{ctx}: subjects {filter}"
        );
        assert_eq!(
            file.load_last_msg(filter),
            mem.load_last_msg(filter),
            "{ctx}: last {filter}"
        );
        for start in starts {
            let what = format!("{ctx}: filter {filter:?} start {start}");
            assert_eq!(
                file.filtered_state(start, filter),
                mem.filtered_state(start, filter),
                "{what}: filtered"
            );
            assert_eq!(
                file.load_next_msg(filter, start),
                mem.load_next_msg(filter, start),
                "{what}: next"
            );
            for lps in [false, true] {
                assert_eq!(
                    file.num_pending(start, filter, lps),
                    mem.num_pending(start, filter, lps),
                    "{what}: pending {lps}"
                );
            }
        }
    }
}

/// One random operation applied to both stores; results must agree.
///
/// The operations avoid the few edge cases where the trait's contract was refined after the
/// first memory store (a skip's effect on `last_ts`, purging a never-used store, a full purge past
/// the end, `compact(0)`), so the comparison holds against either; the conformance suite and
/// the targeted tests below pin those cases down.
fn random_op(
    rng: &mut Rng,
    file: &mut FileStore,
    mem: &mut MemoryStore,
    step: u64,
    max_payload: u64,
) {
    let last = mem.state().last_seq;
    match rng.below(100) {
        0..=54 => {
            let subject = SUBJECTS[rng.below(SUBJECTS.len() as u64) as usize];
            let headers =
                (rng.below(4) == 0).then(|| Bytes::from(format!("NATS/1.0\r\nN: {step}\r\n\r\n")));
            let payload = Bytes::from(vec![step as u8; rng.below(max_payload) as usize]);
            let now = step as i64 * 1000;
            let a = file.store_msg(subject, headers.clone(), payload.clone(), now);
            assert_eq!(a, mem.store_msg(subject, headers, payload, now), "store");
        }
        55..=74 => {
            let seq = rng.below(last + 3);
            assert_eq!(file.remove_msg(seq), mem.remove_msg(seq), "remove {seq}");
        }
        75..=80 if last > 0 => {
            let filter = FILTERS[rng.below(FILTERS.len() as u64) as usize];
            let mut below = if rng.below(2) == 0 {
                0
            } else {
                rng.below(last + 3)
            };
            let keep = if rng.below(2) == 0 { 0 } else { rng.below(6) };
            if filter.is_empty() || filter == ">" {
                below = below.min(last + 1);
            }
            assert_eq!(
                file.purge(filter, below, keep),
                mem.purge(filter, below, keep),
                "purge {filter:?} {below} {keep}"
            );
        }
        81..=85 => {
            let seq = if rng.below(4) == 0 {
                last + rng.below(50)
            } else {
                rng.below(last + 2)
            }
            .max(1);
            assert_eq!(file.compact(seq), mem.compact(seq), "compact {seq}");
        }
        86..=90 => {
            let now = mem.state().last_ts;
            assert_eq!(file.skip_msg(now), mem.skip_msg(now), "skip");
        }
        _ => {
            file.sync().expect("sync");
        }
    }
}

fn open(dir: &std::path::Path) -> FileStore {
    FileStore::open(dir, FileStoreConfig { block_size: 700 }).expect("open store")
}

#[test]
fn random_operations_match_the_memory_store_across_reopens() {
    random_runs(700, 200);
}

#[test]
fn random_operations_on_small_segments_match_the_memory_store_across_reopens() {
    // Small messages in small segments: many rotations, deletions and rewrites per run.
    random_runs(256, 30);
}

fn random_runs(block_size: u64, max_payload: u64) {
    let config = FileStoreConfig { block_size };
    for seed in 0..24 {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut rng = Rng(seed);
        let mut file = FileStore::open(dir.path(), config).expect("open store");
        let mut mem = MemoryStore::new();
        for step in 0..300 {
            random_op(&mut rng, &mut file, &mut mem, step, max_payload);
            if step % 50 == 49 {
                let ctx = format!("seed {seed} step {step}");
                assert_same(&file, &mem, &ctx);
                if rng.below(2) == 0 {
                    drop(file);
                } else {
                    // A crash right after a sync: no graceful close.
                    file.sync().expect("sync");
                    std::mem::forget(file);
                }
                file = FileStore::open(dir.path(), config).expect("reopen store");
                assert!(
                    file.recovery_report().is_clean(),
                    "{ctx}: {:?}",
                    file.recovery_report()
                );
                assert_same(&file, &mem, &format!("{ctx} reopened"));
            }
        }
    }
}

#[test]
fn a_fresh_store_reports_what_a_fresh_memory_store_does() {
    let fresh = TempFileStore::new();
    assert_same(&fresh.store, &MemoryStore::new(), "fresh");
    let dir = fresh._dir.path().to_path_buf();
    drop(fresh.store);
    assert_same(&open(&dir), &MemoryStore::new(), "fresh reopened");
}

/// The stream state after a close and reopen of `dir`.
fn reopened_state(dir: &std::path::Path) -> crate::core::store::StreamState {
    open(dir).state()
}

#[test]
fn sequence_bounds_survive_a_reopen_when_no_message_is_left() {
    // Skips, a purge of everything and a compaction past the end leave no message; the sequence
    // bounds must still come back, or sequences would be handed out twice.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = open(dir.path());
    file.store_msg("a", None, Bytes::from_static(b"1"), 10)
        .expect("store");
    file.skip_msg(20).expect("skip");
    file.purge("", 0, 0).expect("purge");
    drop(file);
    let state = reopened_state(dir.path());
    assert_eq!((state.first_seq, state.last_seq, state.last_ts), (3, 2, 10));

    let mut file = open(dir.path());
    file.compact(100).expect("compact");
    drop(file);
    let state = reopened_state(dir.path());
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 100, 99));
    assert_eq!(
        open(dir.path()).store_msg("a", None, Bytes::new(), 30),
        Ok(100)
    );
}

#[test]
fn purging_a_fresh_store_moves_its_first_sequence_durably() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = open(dir.path());
    assert_eq!(file.purge("", 0, 0), Ok(0));
    drop(file);
    let state = reopened_state(dir.path());
    assert_eq!((state.first_seq, state.last_seq), (1, 0));
}

#[test]
fn a_skip_keeps_the_last_store_time_across_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = open(dir.path());
    file.skip_msg(5).expect("skip");
    assert_eq!(
        file.state().last_ts,
        5,
        "a skip sets the time while it is 0"
    );
    file.store_msg("a", None, Bytes::new(), 7).expect("store");
    file.skip_msg(9).expect("skip");
    drop(file);
    let state = reopened_state(dir.path());
    assert_eq!((state.last_seq, state.last_ts), (3, 7));
}

#[test]
fn compact_zero_and_a_full_purge_past_the_end_persist() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = open(dir.path());
    for i in 1..=5 {
        file.store_msg("a", None, Bytes::new(), i).expect("store");
    }
    assert_eq!(file.compact(0), Ok(5));
    assert_eq!(file.purge(">", 50, 0), Ok(0));
    drop(file);
    let state = reopened_state(dir.path());
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 50, 49));
}

#[test]
fn a_deleted_store_is_closed_and_its_directory_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stream");
    let mut file = open(&path);
    file.store_msg("a", None, Bytes::new(), 1).expect("store");
    file.save_consumer("c", ConsumerRecord::default())
        .expect("save");
    file.delete().expect("delete");
    assert!(!path.exists());
    assert_eq!(file.load_msg(1), Err(StoreError::Closed));
    assert_eq!(
        file.store_msg("a", None, Bytes::new(), 2),
        Err(StoreError::Closed)
    );
}

#[test]
fn loads_read_back_headers_and_payloads_from_disk_after_the_buffer_is_flushed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = FileStore::open(dir.path(), FileStoreConfig::default()).expect("open");
    let payload = Bytes::from(vec![7u8; 100_000]);
    let headers = Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\n");
    for i in 0..10 {
        file.store_msg("big", Some(headers.clone()), payload.clone(), i)
            .expect("store");
    }
    for seq in 1..=10 {
        let msg = file.load_msg(seq).expect("load");
        assert_eq!(
            (msg.payload.len(), msg.headers.as_ref()),
            (100_000, Some(&headers))
        );
    }
}

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("msgs"))
        .expect("list segments")
        .filter(|e| {
            let name = e.as_ref().expect("entry").file_name();
            name.to_string_lossy().ends_with(".seg")
        })
        .count()
}

#[test]
fn a_compaction_survives_the_deletion_of_the_segment_that_logged_it() {
    // Segment 1 keeps a message below the compaction point (too little is dead to rewrite it);
    // the compaction is logged in segment 2, which later empties and is deleted. The floor must
    // still hold after a reopen.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = FileStore::open(dir.path(), FileStoreConfig { block_size: 256 }).expect("open");
    let mut mem = MemoryStore::new();
    let payload = Bytes::from(vec![1u8; 20]);
    for store in [&mut file as &mut dyn StreamStore, &mut mem] {
        for seq in 1..=5 {
            store
                .store_msg("a", None, payload.clone(), seq)
                .expect("store");
        }
        store.compact(2).expect("compact");
        for seq in 6..=10 {
            store
                .store_msg("a", None, payload.clone(), seq)
                .expect("store");
        }
        for seq in 6..=9 {
            store.remove_msg(seq).expect("remove");
        }
        store.sync().expect("sync");
    }
    assert_eq!(
        segment_files(dir.path()),
        2,
        "the middle segment was deleted"
    );
    drop(file);
    assert_same(&open(dir.path()), &mem, "reopened");
}

#[test]
fn a_crash_leaves_preallocated_zeros_that_recovery_drops_as_no_damage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let segment_lens = || -> Vec<u64> {
        std::fs::read_dir(dir.path().join("msgs"))
            .expect("list segments")
            .map(|e| e.expect("entry").metadata().expect("metadata").len())
            .collect()
    };
    let open_default = |dir: &std::path::Path| {
        FileStore::open(dir, FileStoreConfig::default()).expect("open store")
    };
    let mut store = open_default(dir.path());
    for seq in 1..=5 {
        let payload = Bytes::from(format!("m{seq}"));
        assert_eq!(store.store_msg("t", None, payload, seq as Nanos), Ok(seq));
        store.sync().expect("sync");
    }
    // Synced appends land inside zeros written ahead, so the file did not grow per sync.
    assert!(segment_lens().iter().any(|&len| len >= 1 << 20));
    // A crash: no close, the zeros stay.
    std::mem::forget(store);

    let mut store = open_default(dir.path());
    let report = store.recovery_report().clone();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(store.state().msgs, 5);
    assert_eq!(store.store_msg("t", None, Bytes::from("m6"), 6), Ok(6));
    drop(store);

    let store = open_default(dir.path());
    assert!(store.recovery_report().is_clean());
    for seq in 1..=6 {
        let msg = store.load_msg(seq).expect("message");
        assert_eq!(msg.payload, Bytes::from(format!("m{seq}")));
    }
    // Closed, the file ends at its last record.
    assert!(segment_lens().iter().all(|&len| len < 1 << 20));
}
