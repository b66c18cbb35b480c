//! Damage inside a segment (not at its tail) is survived: a corrupt record is skipped and
//! reported, everything else recovered; hostile bytes never panic or allocate wildly; corruption
//! that appears while the store runs is reported on load, never served as data.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use contrail::core::store::{StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

const SMALL: FileStoreConfig = FileStoreConfig { block_size: 1024 };
/// Segment header (8) plus the meta record every segment starts with (33).
const FIRST_RECORD: usize = 8 + 33;
/// A message record on subject "t" with a 64-byte payload: 32 bytes of framing and fields.
const MSG_RECORD: usize = 32 + 1 + 64;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir.join("msgs"))
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    paths.sort();
    paths
}

fn payload(i: u64) -> Bytes {
    Bytes::from(vec![i as u8; 64])
}

/// 40 messages of one record size each, over several 1 KiB segments (11 in the first).
fn write(dir: &Path) {
    let mut store = FileStore::open(dir, SMALL).expect("open");
    for i in 1..=40 {
        store
            .store_msg("t", None, payload(i), i as i64)
            .expect("store");
    }
    drop(store);
}

fn damage(path: &Path, at: usize, bytes: &[u8]) {
    let mut data = fs::read(path).expect("read segment");
    data[at..at + bytes.len()].copy_from_slice(bytes);
    fs::write(path, data).expect("write segment");
}

#[test]
fn a_flipped_payload_byte_loses_only_that_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let first = &segments(dir.path())[0];
    damage(first, FIRST_RECORD + 2 * MSG_RECORD + 50, &[0xff]);

    let store = FileStore::open(dir.path(), SMALL).expect("reopen");
    let report = store.recovery_report();
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(report.truncated.is_empty(), "{report:?}");
    assert_eq!(store.load_msg(3), Err(StoreError::NotFound));
    for seq in (1..=40).filter(|s| *s != 3) {
        assert_eq!(
            store.load_msg(seq).map(|m| m.payload),
            Ok(payload(seq)),
            "seq {seq}"
        );
    }
}

#[test]
fn a_wild_length_field_cuts_that_segment_and_keeps_the_later_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let first = &segments(dir.path())[0];
    damage(
        first,
        FIRST_RECORD + 2 * MSG_RECORD,
        &u32::MAX.to_le_bytes(),
    );

    let store = FileStore::open(dir.path(), SMALL).expect("reopen");
    let report = store.recovery_report();
    assert_eq!(report.truncated.len(), 1, "{report:?}");
    assert_eq!(
        report.truncated[0].offset,
        (FIRST_RECORD + 2 * MSG_RECORD) as u64
    );
    for seq in [1, 2] {
        assert_eq!(store.load_msg(seq).map(|m| m.payload), Ok(payload(seq)));
    }
    for seq in 3..=11 {
        assert_eq!(store.load_msg(seq), Err(StoreError::NotFound), "seq {seq}");
    }
    for seq in 12..=40 {
        assert_eq!(
            store.load_msg(seq).map(|m| m.payload),
            Ok(payload(seq)),
            "seq {seq}"
        );
    }
}

#[test]
fn corruption_appearing_while_running_is_reported_on_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let store = FileStore::open(dir.path(), SMALL).expect("open");
    let first = &segments(dir.path())[0];
    damage(first, FIRST_RECORD + 50, &[0xff]);
    assert!(matches!(store.load_msg(1), Err(StoreError::Corrupt(_))));
    assert_eq!(store.load_msg(2).map(|m| m.payload), Ok(payload(2)));
}

#[test]
fn a_segment_with_a_foreign_header_is_set_aside() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let first = segments(dir.path())[0].clone();
    damage(&first, 0, b"NOTOURS!");
    let store = FileStore::open(dir.path(), SMALL).expect("reopen");
    assert_eq!(store.recovery_report().set_aside.len(), 1);
    assert_eq!(store.load_msg(1), Err(StoreError::NotFound));
    assert_eq!(store.load_msg(12).map(|m| m.payload), Ok(payload(12)));
    assert!(!first.exists() && first.with_extension("seg.corrupt").exists());
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn randomly_damaged_segments_never_panic_or_fail_to_open() {
    let template = tempfile::tempdir().expect("temp dir");
    write(template.path());
    let originals: Vec<(PathBuf, Vec<u8>)> = segments(template.path())
        .into_iter()
        .map(|p| {
            let data = fs::read(&p).expect("read");
            (p, data)
        })
        .collect();
    let mut rng = Rng(7);
    for round in 0..150 {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("msgs")).expect("mkdir");
        for (path, data) in &originals {
            let mut data = data.clone();
            for _ in 0..rng.next() % 6 {
                let at = 8 + (rng.next() as usize) % (data.len() - 8);
                data[at] = rng.next() as u8;
            }
            if rng.next() % 4 == 0 {
                data.truncate(8 + (rng.next() as usize) % (data.len() - 8));
            }
            let name = path.file_name().expect("name");
            fs::write(dir.path().join("msgs").join(name), data).expect("write");
        }
        let mut store = FileStore::open(dir.path(), SMALL)
            .unwrap_or_else(|e| panic!("round {round}: open failed: {e}"));
        let state = store.state();
        assert!(state.msgs <= 40, "round {round}: {state:?}");
        for seq in 0..=state.last_seq + 1 {
            if let Ok(msg) = store.load_msg(seq) {
                assert_eq!(msg.payload, payload(seq), "round {round}: seq {seq}");
            }
        }
        store
            .store_msg("t", None, payload(0), 0)
            .expect("store after repair");
        store.sync().expect("sync after repair");
    }
}
