//! The file store: a [`StreamStore`] kept in append-only segment files, durable at every `sync`.
//!
//! # Layout
//! ```text
//! <dir>/msgs/<id>.seg        segment files: records (messages, tombstones, meta), oldest first
//! <dir>/consumers/c-<name>   one file per consumer, two slots written in turn (`consumers.rs`)
//! ```
//! Every change is a record appended to the newest ("active") segment: a message, a tombstone for
//! a removal, or a meta record for skips and compactions. Recovery replays them in order (see
//! `recovery.rs`). Memory holds only the index (`index.rs`): 12 bytes per message plus one entry per
//! subject; payloads are read from disk on load.
//!
//! # Durability
//! Writes are buffered. [`StreamStore::sync`] flushes and fsyncs every segment written since the
//! last sync (and the directory when files were created), so whatever was stored before a
//! successful `sync` survives a crash. One sync of appends is one `pwrite` and one `fdatasync`: the
//! active segment runs on in zeros written ahead (`segment.rs`), so an append rarely changes the
//! file's length and the `fdatasync` writes no metadata (a sealed or closed segment is cut to its
//! last record; recovery drops a zero tail). Removals are taken on a full disk too, and a purge that
//! empties the stream gives its space back at the next sync even then (`full_disk.rs`); after a
//! failed sync, what was written since the last good one can be dropped (`rollback.rs`).
//! Consumer saves are durable when they return; consumer writes (acks nobody waits on) are durable
//! at the next `sync_consumers`, and a power loss before it leaves the consumer's last synced
//! record. After a failed fsync the store refuses further writes (the OS may have dropped the
//! dirty pages); reopen it to recover.
//!
//! # Damage
//! Recovery checks every record's checksum. A torn record at the end of a segment (a crash
//! mid-write) is cut off; a corrupt record in the middle is skipped and the rest recovered; a
//! file that is not a segment is set aside. Nothing of that fails the open: it is all listed in
//! [`FileStore::recovery_report`] for the server to log. Corruption found later, on load, is
//! [`StoreError::Corrupt`]. Lengths read from disk are checked against the file before any
//! allocation.
//!
//! # Shrinking
//! Removals only mark slots dead. At each `sync`, once everything is durable, segments with no
//! live message are deleted and mostly-dead ones rewritten (`compaction.rs`), so work-queue and
//! interest streams shrink on disk.
//!
//! One process per directory: the store takes no lock, the server must not open a directory twice.

mod compaction;
mod consumers;
mod full_disk;
mod index;
mod mutate;
mod query;
mod record;
mod recovery;
mod rollback;
mod segment;
mod segment_index;
mod subjects;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::core::store::{
    ConsumerRecord, Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore, Synced,
};
use crate::core::time::Nanos;
use consumers::Consumers;
use index::Index;
use record::Record;
use recovery::Active;
pub use recovery::{Damage, RecoveryReport};
use segment::{Reader, Writer};
use segment_index::Segment;

/// Tuning of a file store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// Bytes after which the active segment is sealed and a new one started (clamped to
    /// 256 B ..= 1 GiB). Smaller segments free disk sooner; larger ones mean fewer files.
    pub block_size: u64,
}

impl Default for FileStoreConfig {
    fn default() -> Self {
        FileStoreConfig {
            block_size: 8 << 20,
        }
    }
}

/// A stream store in a directory of segment files.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    seg_dir: PathBuf,
    block_size: u64,
    index: Index,
    writer: Writer,
    reader: Reader,
    /// Sealed segments written since the last sync, to fsync at the next.
    unsynced: Vec<Writer>,
    /// Whether segment files were created since the last directory fsync.
    dir_dirty: bool,
    next_id: u64,
    /// Segments that lost messages since the last compaction pass.
    candidates: BTreeSet<u64>,
    /// Time of the first message, cached by its sequence.
    first_ts: Cell<Option<(Seq, Nanos)>>,
    consumers: Consumers,
    report: RecoveryReport,
    /// Why writes are refused (a failed fsync).
    poisoned: Option<String>,
    /// The files as the last successful sync left them, to go back to (`rollback.rs`).
    synced_at: Option<rollback::SyncPoint>,
    last_maintenance_error: Option<String>,
    closed: bool,
}

/// Maps an I/O failure to the store's error, telling a full disk apart.
fn io_err(err: io::Error) -> StoreError {
    match err.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StoreError::QuotaExceeded,
        _ => StoreError::Io(err.to_string()),
    }
}

impl FileStore {
    /// Opens the store in `dir`, creating it when absent and recovering it otherwise (see
    /// [`FileStore::recovery_report`] for what recovery repaired).
    pub fn open(dir: &Path, config: FileStoreConfig) -> Result<FileStore, StoreError> {
        let seg_dir = dir.join("msgs");
        let created = !seg_dir.exists();
        fs::create_dir_all(&seg_dir).map_err(io_err)?;
        let (consumers, bad_consumers) = Consumers::open(&dir.join("consumers")).map_err(io_err)?;
        if created {
            segment::sync_dir(dir).map_err(io_err)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                segment::sync_dir(parent).map_err(io_err)?;
            }
        }
        let recovered = recovery::recover(&seg_dir).map_err(io_err)?;
        let block_size = config.block_size.clamp(256, 1 << 30);
        let mut index = recovered.index;
        let fresh = matches!(recovered.active, Active::Fresh(_));
        let writer = match recovered.active {
            Active::Resume(len) => {
                let id = index.segs.last().map_or(0, |seg| seg.id);
                Writer::resume(&seg_dir, id, len, block_size).map_err(io_err)?
            }
            Active::Fresh(id) => {
                let mut writer = Writer::create(&seg_dir, id, block_size).map_err(io_err)?;
                record::encode_meta(writer.buffer(), &mutate::meta_of(&index));
                index
                    .segs
                    .push(Segment::new(id, index.last_seq + 1, writer.len()));
                writer
            }
        };
        let candidates = index.segs.iter().map(|seg| seg.id).collect();
        let mut report = recovered.report;
        report.bad_consumers = bad_consumers;
        let mut store = FileStore {
            dir: dir.to_path_buf(),
            seg_dir,
            block_size,
            index,
            writer,
            reader: Reader::default(),
            unsynced: Vec::new(),
            dir_dirty: true,
            next_id: recovered.next_id,
            candidates,
            first_ts: Cell::new(None),
            consumers,
            report,
            poisoned: None,
            synced_at: None,
            last_maintenance_error: None,
            closed: false,
        };
        store.synced_at = if fresh {
            let segs = store.index.segs.iter().map(|seg| seg.id);
            Some(rollback::SyncPoint::unwritten(store.writer.id, segs))
        } else {
            store.sync_point_now()
        };
        Ok(store)
    }

    /// What opening the store found damaged and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last failure of background compaction at a sync, if any (data stays safe; only disk
    /// space is not reclaimed).
    pub fn last_maintenance_error(&self) -> Option<&str> {
        self.last_maintenance_error.as_deref()
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        self.check_open()?;
        match &self.poisoned {
            Some(why) => Err(StoreError::Io(why.clone())),
            None => Ok(()),
        }
    }

    /// Reads the message `seq` from segment position `pos`.
    fn read(&self, seq: Seq, pos: usize, offset: u32) -> Result<StoredMsg, StoreError> {
        let seg = &self.index.segs[pos];
        let offset = offset as u64;
        let corrupt = |why: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("segment {:016x} at {offset}: {why}", seg.id))
        };
        let to_msg = |bytes: &[u8]| -> Result<StoredMsg, StoreError> {
            match record::decode(bytes) {
                Ok((Record::Msg(msg), _)) if msg.seq == seq => Ok(StoredMsg {
                    subject: msg.subject.to_string(),
                    seq,
                    time: msg.time,
                    headers: msg.headers.map(Bytes::copy_from_slice),
                    payload: Bytes::copy_from_slice(msg.payload),
                }),
                Ok(_) => Err(corrupt(&"record is not this message")),
                Err(why) => Err(corrupt(&why)),
            }
        };
        let limit = if seg.id == self.writer.id {
            if let Some(bytes) = self.writer.buffered_from(offset) {
                return to_msg(bytes);
            }
            self.writer.flushed()
        } else {
            seg.len
        };
        match self
            .reader
            .with_record(&self.seg_dir, seg.id, offset, limit, to_msg)
        {
            Ok(Ok(result)) => result,
            Ok(Err(why)) => Err(corrupt(&why)),
            Err(err) => Err(io_err(err)),
        }
    }

    fn load_at(
        &self,
        found: Option<(Seq, usize, segment_index::Slot)>,
        none: StoreError,
    ) -> Result<StoredMsg, StoreError> {
        let (seq, pos, slot) = found.ok_or(none)?;
        self.read(seq, pos, slot.offset)
    }

    /// Flushes and fsyncs everything written. A failed write was rolled back and can be retried;
    /// a failed fsync may have lost dirty pages, so the store then refuses further writes.
    fn sync_files(&mut self) -> Result<(), StoreError> {
        for writer in self.unsynced.iter_mut().chain([&mut self.writer]) {
            writer.flush().map_err(io_err)?;
        }
        let fsynced = (|| {
            for writer in self.unsynced.iter_mut().chain([&mut self.writer]) {
                writer.fsync()?;
            }
            if self.dir_dirty {
                segment::sync_dir(&self.seg_dir)?;
                self.dir_dirty = false;
            }
            Ok(())
        })();
        if fsynced.is_ok() {
            self.unsynced.clear();
        }
        fsynced.map_err(|err: io::Error| {
            let err = io_err(err);
            self.poisoned = Some(format!("store failed to sync: {err}"));
            err
        })
    }
}

// The server moves stores between threads.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<FileStore>();
};

/// The stream's identity (config and creation time, as the shell encodes them), kept beside the
/// segments so a restart finds what each directory holds.
pub const META_FILE: &str = "stream.json";

/// Writes `bytes` as [`META_FILE`] in `dir`, so that a crash leaves the old or the new file,
/// never half of one.
fn write_meta_atomically(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{META_FILE}.tmp"));
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(META_FILE))?;
    // Make the rename itself durable.
    fs::File::open(dir)?.sync_all()
}

impl StreamStore for FileStore {
    fn save_meta(&mut self, meta: &[u8]) -> Result<(), StoreError> {
        write_meta_atomically(&self.dir, meta).map_err(|err| match err.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StoreError::QuotaExceeded,
            _ => StoreError::Io(format!("cannot write {META_FILE}: {err}")),
        })
    }

    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        self.check_writable()?;
        self.store(subject, headers.as_deref(), &payload, now)
    }

    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        self.check_writable()?;
        self.skip(now)
    }

    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        let (pos, slot) = self.index.get(seq).ok_or(StoreError::NotFound)?;
        self.read(seq, pos, slot.offset)
    }

    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        self.load_at(self.index.next_matching(filter, start), StoreError::Eof)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        self.load_at(self.index.last_matching(filter), StoreError::NotFound)
    }

    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        self.check_writable()?;
        self.remove(seq)
    }

    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        self.check_writable()?;
        self.purge_matching(filter, below_seq, keep)
    }

    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        self.check_writable()?;
        self.compact_below(seq)
    }

    fn state(&self) -> StreamState {
        let index = &self.index;
        let first_ts = match (index.msgs, self.first_ts.get()) {
            (0, _) => 0,
            (_, Some((seq, ts))) if seq == index.first_seq => ts,
            _ => {
                let ts = self.load_msg(index.first_seq).map_or(0, |m| m.time);
                self.first_ts.set(Some((index.first_seq, ts)));
                ts
            }
        };
        StreamState {
            msgs: index.msgs,
            bytes: index.bytes,
            first_seq: index.first_seq,
            first_ts,
            last_seq: index.last_seq,
            last_ts: if index.last_seq == 0 {
                0
            } else {
                index.last_ts
            },
            num_subjects: index.subjects.len() as u64,
            num_deleted: index.num_deleted(),
        }
    }

    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        self.index.filtered_state(start, filter)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.index.subjects_state(filter)
    }

    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        self.index.num_pending(start, filter, last_per_subject)
    }

    fn deleted(&self) -> Vec<Seq> {
        self.index.deleted()
    }

    fn sync(&mut self) -> Result<Synced, StoreError> {
        self.check_writable()?;
        if let Err(err) = self.sync_files() {
            // No room for what is buffered: a purge that emptied the stream can still give its
            // space back, durably (the failed write was rolled back; a failed fsync poisoned).
            if !self.shed_purged_when_full(&err)? {
                return Err(err);
            }
        }
        if let Err(err) = self.maintain() {
            // A purge that emptied the stream on a full disk: leaving its emptied segment
            // needs a new one, and there is no room for it. Give the space back as a failed
            // sync would; nothing is buffered, the sync just succeeded.
            match self.shed_purged_when_full(&err) {
                Ok(true) => {}
                Ok(false) => self.last_maintenance_error = Some(err.to_string()),
                Err(shed) => self.last_maintenance_error = Some(shed.to_string()),
            }
        }
        self.synced_at = self.sync_point_now();
        Ok(Synced::Durable)
    }

    fn discard_unsynced(&mut self) -> Result<bool, StoreError> {
        self.roll_back_to_sync()
    }

    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.check_writable()?;
        self.consumers.save(name, &record).map_err(io_err)
    }

    fn write_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.check_writable()?;
        self.consumers.write(name, &record).map_err(io_err)
    }

    fn sync_consumers(&mut self) -> Result<(), StoreError> {
        self.check_writable()?;
        self.consumers.sync_written().map(drop).map_err(io_err)
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.check_writable()?;
        self.consumers.remove(name).map_err(io_err)
    }

    fn consumers(&self) -> Result<BTreeMap<String, ConsumerRecord>, StoreError> {
        self.check_open()?;
        Ok(self.consumers.all().clone())
    }

    fn delete(&mut self) -> Result<(), StoreError> {
        self.check_open()?;
        self.closed = true;
        self.index = Index::default();
        self.unsynced.clear();
        self.reader = Reader::default();
        match fs::remove_dir_all(&self.dir) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(io_err(err)),
            _ => Ok(()),
        }
    }
}

impl Drop for FileStore {
    /// A graceful close: whatever was stored is flushed and fsynced (errors can only be ignored
    /// here; call `sync` first to see them).
    fn drop(&mut self) {
        if !self.closed && self.poisoned.is_none() && self.sync_files().is_ok() {
            // Leave the file ending at its last record (recovery would drop the zeros too).
            let _ = self.writer.trim().and_then(|()| self.writer.fsync());
        }
        if !self.closed {
            let _ = self.consumers.sync_written();
        }
    }
}
