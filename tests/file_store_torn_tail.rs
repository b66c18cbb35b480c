//! A crash in the middle of a write leaves a partial record at the end of the newest segment.
//! Recovery cuts it off, keeps everything before it, and the store goes on appending cleanly.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use contrail::core::store::{StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

fn newest_segment(dir: &Path) -> PathBuf {
    fs::read_dir(dir.join("msgs"))
        .expect("list segments")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .expect("a segment")
}

fn len_of(path: &Path) -> u64 {
    fs::metadata(path).expect("metadata").len()
}

/// Stores `count` messages and closes; returns the newest segment's length before the last one.
fn write_messages(dir: &Path, count: u64) -> u64 {
    let mut store = FileStore::open(dir, FileStoreConfig::default()).expect("open");
    for i in 1..count {
        store
            .store_msg("t", None, Bytes::from(format!("payload {i}")), i as i64)
            .expect("store");
    }
    // Closed, the file ends at its last record (open, it runs on in preallocated zeros).
    drop(store);
    let before_last = len_of(&newest_segment(dir));
    let mut store = FileStore::open(dir, FileStoreConfig::default()).expect("reopen");
    store
        .store_msg(
            "t",
            None,
            Bytes::from(format!("payload {count}")),
            count as i64,
        )
        .expect("store");
    drop(store);
    before_last
}

#[test]
fn a_record_cut_at_any_byte_is_dropped_and_everything_before_it_kept() {
    let template = tempfile::tempdir().expect("temp dir");
    let before_last = write_messages(template.path(), 20);
    let full = len_of(&newest_segment(template.path()));
    for cut in before_last + 1..full {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("msgs")).expect("mkdir");
        let seg = newest_segment(template.path());
        let copy = dir.path().join("msgs").join(seg.file_name().expect("name"));
        fs::copy(&seg, &copy).expect("copy");
        OpenOptions::new()
            .write(true)
            .open(&copy)
            .and_then(|f| f.set_len(cut))
            .expect("cut");

        let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
        let report = store.recovery_report();
        assert_eq!(report.truncated.len(), 1, "cut at {cut}: {report:?}");
        assert_eq!(report.truncated[0].offset, before_last, "cut at {cut}");
        assert_eq!(store.state().msgs, 19, "cut at {cut}");
        assert_eq!(
            store.load_msg(20),
            Err(StoreError::NotFound),
            "cut at {cut}"
        );
        let last = store.load_msg(19).expect("message before the cut");
        assert_eq!(last.payload, Bytes::from("payload 19"));
    }
}

#[test]
fn appends_after_a_torn_tail_survive_the_next_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let before_last = write_messages(dir.path(), 10);
    let seg = newest_segment(dir.path());
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(before_last + 7))
        .expect("cut");

    let mut store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
    // The torn message was never acknowledged, so its sequence is handed out again.
    assert_eq!(store.store_msg("t", None, Bytes::from("again"), 99), Ok(10));
    drop(store);

    let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen again");
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(store.state().msgs, 10);
    assert_eq!(
        store.load_msg(10).expect("new message").payload,
        Bytes::from("again")
    );
}

#[test]
fn a_zero_filled_tail_is_cut_off_as_no_damage() {
    // After a power loss a file can come back longer than what was written, padded with zeros.
    let dir = tempfile::tempdir().expect("temp dir");
    write_messages(dir.path(), 10);
    let seg = newest_segment(dir.path());
    let written = len_of(&seg);
    let mut file = OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open segment");
    file.write_all(&[0u8; 4096]).expect("pad");
    drop(file);

    let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
    assert_eq!(store.state().msgs, 10);
    // Zeros hold no record (the store preallocates its active segment with them): no damage.
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(len_of(&seg), written, "the padding is gone from the file");
}

#[test]
fn a_newest_segment_cut_inside_its_header_is_started_anew() {
    // A crash right after a new segment file was created: it holds a few bytes of its header.
    let dir = tempfile::tempdir().expect("temp dir");
    write_messages(dir.path(), 5);
    let seg = newest_segment(dir.path());
    let name = seg
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let next = u64::from_str_radix(&name[..16], 16).expect("hex id") + 1;
    fs::write(
        dir.path().join("msgs").join(format!("{next:016x}.seg")),
        b"CTR",
    )
    .expect("stub");

    let mut store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
    assert_eq!(store.state().msgs, 5);
    assert_eq!(store.store_msg("t", None, Bytes::from("more"), 6), Ok(6));
    drop(store);
    let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen again");
    assert_eq!(store.state().msgs, 6);
}
