//! Going back to the last successful sync, after a sync failed (a full disk).
//!
//! The engine refuses the publishes a failed sync could not make durable, as nats-server does:
//! such a message must then never be stored. Between two syncs a store only appends, to the
//! active segment and to segments it starts, so going back is: delete the segments started
//! since, cut the active one back to its length at the sync, make that durable, and reopen
//! (recovery rebuilds the index from the files). What was buffered goes with it.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io;

use super::segment;
use super::{io_err, FileStore, FileStoreConfig};
use crate::core::store::StoreError;

/// The files as the last successful sync (or the open) left them.
#[derive(Debug, Clone, Default)]
pub(super) struct SyncPoint {
    /// The active segment then, and its length on disk.
    active: u64,
    len: u64,
    /// Every segment then.
    segs: BTreeSet<u64>,
}

impl SyncPoint {
    /// A store whose active segment `active` is not written yet (just created by an open).
    pub(super) fn unwritten(active: u64, segs: impl Iterator<Item = u64>) -> SyncPoint {
        SyncPoint {
            active,
            len: 0,
            segs: segs.collect(),
        }
    }
}

impl FileStore {
    /// Notes the files as they are now, all durable (after a sync or an open). `None` unless
    /// nothing is buffered, so a rollback never trusts a point it cannot restore.
    pub(super) fn sync_point_now(&self) -> Option<SyncPoint> {
        if !self.unsynced.is_empty() || self.writer.len() != self.writer.flushed() {
            return None;
        }
        Some(SyncPoint {
            active: self.writer.id,
            len: self.writer.flushed(),
            segs: self.index.segs.iter().map(|seg| seg.id).collect(),
        })
    }

    /// See [`crate::core::store::StreamStore::discard_unsynced`].
    pub(super) fn roll_back_to_sync(&mut self) -> Result<bool, StoreError> {
        self.check_open()?;
        let Some(point) = self.synced_at.clone() else {
            return Ok(false);
        };
        if self.poisoned.is_some() {
            // A failed fsync may have dropped pages of the synced part too: reopen to recover.
            return Ok(false);
        }
        // This store's view goes: nothing it buffered may reach the files (not even on drop).
        self.closed = true;
        let started: Vec<u64> = self
            .index
            .segs
            .iter()
            .map(|seg| seg.id)
            .chain(self.unsynced.iter().map(|w| w.id))
            .chain([self.writer.id])
            .filter(|id| !point.segs.contains(id) && *id != point.active)
            .collect();
        let restored = (|| -> io::Result<()> {
            for id in started {
                segment::remove_file(&segment::seg_path(&self.seg_dir, id))?;
            }
            let path = segment::seg_path(&self.seg_dir, point.active);
            if point.len == 0 {
                // Never written (a fresh store): recovery starts it again.
                segment::remove_file(&path)?;
            } else {
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(point.len)?;
                file.sync_all()?;
            }
            segment::sync_dir(&self.seg_dir)
        })();
        let reopened = restored.map_err(io_err).and_then(|()| {
            FileStore::open(
                &self.dir,
                FileStoreConfig {
                    block_size: self.block_size,
                },
            )
        });
        match reopened {
            Ok(store) => {
                *self = store;
                Ok(true)
            }
            Err(err) => {
                // The files may be half restored: refuse writes until a reopen recovers them.
                self.closed = false;
                self.poisoned = Some(format!("store failed while rolling back: {err}"));
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::core::store::StreamStore;

    fn open(dir: &std::path::Path) -> FileStore {
        FileStore::open(dir, FileStoreConfig { block_size: 512 }).expect("open")
    }

    fn store(store: &mut FileStore, n: u64) {
        for i in 0..n {
            let payload = Bytes::from(vec![b'x'; 100]);
            store
                .store_msg("s", None, payload, i as i64)
                .expect("store");
        }
    }

    #[test]
    fn writes_since_the_last_sync_go_even_across_new_segments_and_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = open(dir.path());
        store(&mut s, 3);
        s.sync().expect("sync");
        let synced = s.state();
        // Enough to start several segments, a removal of a synced message, a purge.
        store(&mut s, 20);
        assert_eq!(s.remove_msg(2), Ok(true));
        s.purge("", 10, 0).expect("purge");
        assert_eq!(s.discard_unsynced(), Ok(true));
        assert_eq!(s.state(), synced, "back to the synced state");
        assert_eq!(s.load_msg(2).map(|m| m.seq), Ok(2));
        store(&mut s, 1);
        assert_eq!(
            s.state().last_seq,
            4,
            "sequences go on from the synced point"
        );
        s.sync().expect("sync");
        drop(s);
        let s = open(dir.path());
        let state = s.state();
        assert_eq!((state.msgs, state.first_seq, state.last_seq), (4, 1, 4));
    }

    #[test]
    fn a_store_never_synced_goes_back_to_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = open(dir.path());
        store(&mut s, 8);
        assert_eq!(s.discard_unsynced(), Ok(true));
        assert_eq!(s.state().msgs, 0);
        drop(s);
        assert_eq!(open(dir.path()).state().last_seq, 0, "nothing came back");
    }
}
