//! Giving a purge's space back when the disk is full.
//!
//! A purge only appends a record (and compaction deletes files only after a sync), so on a
//! full disk the purge itself cannot be made durable: the sync first has to write the batch
//! buffered before it, and there is no room for that. nats-server answers the purge and frees
//! the space at once; so does this store when a purge left the stream empty, in an order that a
//! crash at any point cannot turn into lost acknowledged data or reused sequences:
//!
//! 1. The first record of a segment is a meta record holding the sequence bounds. It is
//!    overwritten in place (same length, so no new disk space) with the bounds after the purge,
//!    and fsynced. Recovery keeps the highest `first_seq` of any meta record as a floor below
//!    which every message is gone, and the highest `last_seq`: from here on, a crash recovers
//!    the purged, empty stream with its sequences intact.
//! 2. Every other segment file is deleted, and this one cut back to that one record.
//!
//! What was buffered and not yet written is dropped: it was all purged, and the record of step 1
//! covers its sequences.

use std::fs::OpenOptions;
use std::io;

use super::mutate::meta_of;
use super::record::{self, Record, META_LEN};
use super::segment::{self, Reader, Writer, HEADER_LEN};
use super::segment_index::Segment;
use super::{io_err, FileStore};
use crate::core::store::StoreError;

impl FileStore {
    /// [`FileStore::shed_purged`] when `err` says the disk is full and no failed `fsync`
    /// poisoned the store; `false` (nothing done) otherwise.
    pub(super) fn shed_purged_when_full(&mut self, err: &StoreError) -> Result<bool, StoreError> {
        if *err != StoreError::QuotaExceeded || self.poisoned.is_some() {
            return Ok(false);
        }
        self.shed_purged()
    }

    /// After a sync failed for lack of space: when the stream holds no message, rewrites it as
    /// one segment holding only its bounds (see the module doc), which frees the space. `false`
    /// when the stream still holds messages or no segment starts with an on-disk meta record
    /// to reuse (nothing changed then).
    pub(super) fn shed_purged(&mut self) -> Result<bool, StoreError> {
        if self.index.msgs != 0 {
            return Ok(false);
        }
        let Some(keeper) = self.keeper() else {
            return Ok(false);
        };
        let mut bounds = Vec::with_capacity(META_LEN);
        record::encode_meta(&mut bounds, &meta_of(&self.index));
        let path = segment::seg_path(&self.seg_dir, keeper);
        let overwritten = (|| -> io::Result<()> {
            let file = OpenOptions::new().write(true).open(&path)?;
            segment::write_all_at(&file, &bounds, HEADER_LEN)?;
            file.sync_data()
        })();
        overwritten.map_err(io_err)?;
        // Durable from here: the rest only gives space back.
        let len = HEADER_LEN + META_LEN as u64;
        let ids: Vec<u64> = self.index.segs.iter().map(|seg| seg.id).collect();
        for id in ids.into_iter().chain([self.writer.id]) {
            if id != keeper {
                segment::remove_file(&segment::seg_path(&self.seg_dir, id)).map_err(io_err)?;
            }
        }
        self.unsynced.clear();
        let cut = (|| -> io::Result<Writer> {
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(len)?;
            file.sync_all()?;
            segment::sync_dir(&self.seg_dir)?;
            Writer::resume(&self.seg_dir, keeper, len, self.block_size)
        })();
        let writer = match cut {
            Ok(writer) => writer,
            Err(err) => {
                // The files are consistent (step 1 holds), but this store's view of them is not.
                let err = io_err(err);
                self.poisoned = Some(format!("store failed while freeing a purge: {err}"));
                return Err(err);
            }
        };
        self.writer = writer;
        self.index.segs = vec![Segment::new(keeper, self.index.last_seq + 1, len)];
        self.candidates.clear();
        self.reader = Reader::default();
        self.dir_dirty = false;
        Ok(true)
    }

    /// The newest segment whose first record is a meta record already on disk (the active one
    /// unless its start is still buffered; rewritten segments have lost theirs).
    fn keeper(&self) -> Option<u64> {
        let on_disk = HEADER_LEN + META_LEN as u64;
        self.index
            .segs
            .iter()
            .rev()
            .map(|seg| seg.id)
            .filter(|&id| id != self.writer.id || self.writer.flushed() >= on_disk)
            .find(|&id| self.starts_with_meta(id))
    }

    fn starts_with_meta(&self, id: u64) -> bool {
        let mut first = [0u8; META_LEN];
        let read = std::fs::File::open(segment::seg_path(&self.seg_dir, id))
            .and_then(|file| segment::read_exact_at(&file, &mut first, HEADER_LEN));
        read.is_ok() && matches!(record::decode(&first), Ok((Record::Meta(_), _)))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::core::store::StreamStore;
    use crate::server::file_store::FileStoreConfig;

    /// A store with small segments holding 40 synced messages and 5 buffered ones.
    fn filled(dir: &std::path::Path) -> FileStore {
        let mut store = FileStore::open(dir, FileStoreConfig { block_size: 512 }).expect("open");
        for n in 0..45 {
            let payload = Bytes::from(vec![b'x'; 100]);
            store.store_msg("s", None, payload, n).expect("store");
            if n == 39 {
                store.sync().expect("sync");
            }
        }
        store
    }

    fn segment_files(dir: &std::path::Path) -> Vec<u64> {
        let files = std::fs::read_dir(dir.join("msgs")).expect("segment dir");
        files
            .map(|entry| entry.expect("entry").metadata().expect("metadata").len())
            .collect()
    }

    #[test]
    fn a_purged_store_sheds_to_one_small_segment_and_keeps_its_sequences() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = filled(dir.path());
        assert!(segment_files(dir.path()).len() > 5, "several segments");
        assert_eq!(store.purge("", 0, 0), Ok(45));
        assert_eq!(store.shed_purged(), Ok(true));
        assert_eq!(
            segment_files(dir.path()),
            [HEADER_LEN + META_LEN as u64],
            "one segment holding only the bounds"
        );
        let state = store.state();
        assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 46, 45));
        let seq = store
            .store_msg("s", None, Bytes::from_static(b"after"), 99)
            .expect("store after the purge");
        assert_eq!(seq, 46);
        store.sync().expect("sync");
        drop(store);

        let store = FileStore::open(dir.path(), FileStoreConfig { block_size: 512 }).expect("open");
        let state = store.state();
        assert_eq!((state.msgs, state.first_seq, state.last_seq), (1, 46, 46));
        assert_eq!(
            store.load_msg(46).map(|m| m.payload),
            Ok(Bytes::from_static(b"after"))
        );
    }

    #[test]
    fn a_crash_once_the_bounds_are_overwritten_recovers_the_purge() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = filled(dir.path());
        store.sync().expect("all 45 durable");
        assert_eq!(store.purge("", 0, 0), Ok(45));
        // Step 1 alone, then a crash (nothing else written, no graceful close).
        let keeper = store.keeper().expect("a segment starts with its bounds");
        let mut bounds = Vec::new();
        record::encode_meta(&mut bounds, &meta_of(&store.index));
        let file = OpenOptions::new()
            .write(true)
            .open(segment::seg_path(&store.seg_dir, keeper))
            .expect("segment");
        segment::write_all_at(&file, &bounds, HEADER_LEN).expect("overwrite");
        std::mem::forget(store);

        let store = FileStore::open(dir.path(), FileStoreConfig { block_size: 512 }).expect("open");
        let state = store.state();
        assert_eq!(
            (state.msgs, state.first_seq, state.last_seq),
            (0, 46, 45),
            "purged, and no sequence is used again"
        );
    }

    #[test]
    fn a_store_still_holding_messages_is_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = filled(dir.path());
        assert_eq!(store.purge("", 30, 0), Ok(29));
        let before = segment_files(dir.path());
        assert_eq!(store.shed_purged(), Ok(false));
        assert_eq!(segment_files(dir.path()), before);
        assert_eq!(store.state().msgs, 16);
    }
}
