//! The write operations: each logs one or more records to the active segment, then applies the
//! same change to the index. A failure before the record is buffered changes nothing.

use super::index::{Index, Matcher};
use super::record::{self, Meta, MsgRef, MAX_RECORD};
use super::segment::Writer;
use super::segment_index::Segment;
use super::{io_err, FileStore};
use crate::core::store::{Seq, StoreError};
use crate::core::time::Nanos;

/// The meta record describing the index's current sequence bounds.
pub(super) fn meta_of(index: &Index) -> Meta {
    Meta {
        first_seq: index.first_seq,
        last_seq: index.last_seq,
        last_ts: index.last_ts,
    }
}

impl FileStore {
    /// Makes room in the active segment (sealing it when full, handing a full buffer to the OS)
    /// and returns the offset the next record will have.
    fn prepare(&mut self) -> Result<u64, StoreError> {
        if self.writer.len() >= self.block_size {
            self.rotate()?;
        }
        self.writer.maybe_flush().map_err(io_err)?;
        Ok(self.writer.len())
    }

    /// As [`FileStore::prepare`], for records that free space (tombstones, floors): a full disk
    /// must not refuse them, so when there is no room to hand the buffer to the OS (or to start
    /// a segment) they stay buffered for the next sync. Nothing changed on that failure.
    fn prepare_removal(&mut self) -> Result<u64, StoreError> {
        match self.prepare() {
            Err(StoreError::QuotaExceeded) => Ok(self.writer.len()),
            other => other,
        }
    }

    /// Records in the index how long the active segment now is.
    fn appended(&mut self) {
        let len = self.writer.len();
        if let Some(seg) = self.index.segs.last_mut() {
            seg.len = len;
        }
    }

    /// Seals the active segment and starts a new one, opening with the current sequence bounds
    /// (so the newest file always carries them, whatever older files get deleted).
    pub(super) fn rotate(&mut self) -> Result<(), StoreError> {
        self.writer.flush().map_err(io_err)?;
        // A sealed segment ends at its last record (scans read it to its length).
        self.writer.trim().map_err(io_err)?;
        let id = self.next_id;
        let mut fresh = Writer::create(&self.seg_dir, id, self.block_size).map_err(io_err)?;
        record::encode_meta(fresh.buffer(), &meta_of(&self.index));
        let old = std::mem::replace(&mut self.writer, fresh);
        self.unsynced.push(old);
        if let Some(seg) = self.index.segs.last_mut() {
            seg.shrink();
        }
        let base = self.index.last_seq.saturating_add(1);
        self.index
            .segs
            .push(Segment::new(id, base, self.writer.len()));
        self.next_id += 1;
        self.dir_dirty = true;
        Ok(())
    }

    pub(super) fn store(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        if subject.len() > u16::MAX as usize
            || record::msg_len(subject, headers, payload) > MAX_RECORD
        {
            return Err(StoreError::Io(
                "message too large for the file store".into(),
            ));
        }
        let seq = self.next_seq()?;
        let offset = self.prepare()?;
        let msg = MsgRef {
            seq,
            time: now,
            subject,
            headers,
            payload,
        };
        record::encode_msg(self.writer.buffer(), &msg);
        self.appended();
        let index = &mut self.index;
        if index.msgs == 0 {
            index.first_seq = seq;
        }
        index.last_seq = seq;
        index.last_ts = now;
        index
            .insert(seq, subject, offset as u32, msg.size())
            .map_err(|()| StoreError::Io("index out of order".into()))?;
        Ok(seq)
    }

    /// The sequence after `last_seq`; the space can only run out after a compact to the end.
    fn next_seq(&self) -> Result<Seq, StoreError> {
        self.index
            .last_seq
            .checked_add(1)
            .ok_or(StoreError::QuotaExceeded)
    }

    /// Takes a sequence; `last_ts` keeps the time of the last stored message (nats-server sets it
    /// from a skip only while it is still 0).
    pub(super) fn skip(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        let seq = self.next_seq()?;
        let index = &self.index;
        let meta = Meta {
            first_seq: if index.msgs == 0 {
                seq.saturating_add(1)
            } else {
                index.first_seq
            },
            last_seq: seq,
            last_ts: if index.last_ts == 0 {
                now
            } else {
                index.last_ts
            },
        };
        self.prepare()?;
        record::encode_meta(self.writer.buffer(), &meta);
        self.appended();
        let index = &mut self.index;
        index.first_seq = meta.first_seq;
        index.last_seq = meta.last_seq;
        index.last_ts = meta.last_ts;
        Ok(seq)
    }

    pub(super) fn remove(&mut self, seq: Seq) -> Result<bool, StoreError> {
        if self.index.get(seq).is_none() {
            return Ok(false);
        }
        self.log_delete(seq)?;
        Ok(true)
    }

    /// Logs a tombstone for a live message and removes it from the index.
    fn log_delete(&mut self, seq: Seq) -> Result<(), StoreError> {
        self.prepare_removal()?;
        record::encode_delete(self.writer.buffer(), seq);
        self.appended();
        if let Some(active) = self.index.segs.last_mut() {
            if active.phys.is_none_or(|(lo, _)| seq < lo) {
                active.note_foreign_delete(seq);
            }
        }
        if let Some((pos, _)) = self.index.remove(seq) {
            self.candidates.insert(self.index.segs[pos].id);
        }
        Ok(())
    }

    /// Logs new sequence bounds, then drops every live message below `below` from the index.
    fn log_floor(&mut self, meta: Meta, below: Seq) -> Result<u64, StoreError> {
        self.prepare_removal()?;
        record::encode_meta(self.writer.buffer(), &meta);
        self.appended();
        let removed = self.index.remove_below(below, &Matcher::All);
        self.candidates.extend(removed.segments);
        self.index.first_seq = meta.first_seq;
        self.index.last_seq = meta.last_seq;
        Ok(removed.count)
    }

    /// Purges as nats-server's `PurgeEx` does (see [`crate::core::store::StreamStore::purge`]).
    pub(super) fn purge_matching(
        &mut self,
        filter: &str,
        below_seq: Seq,
        keep: u64,
    ) -> Result<u64, StoreError> {
        if below_seq == 1 {
            return Ok(0);
        }
        let index = &self.index;
        let matcher = index.matcher(filter);
        if let (Matcher::All, 0) = (&matcher, keep) {
            return if below_seq == 0 {
                self.purge_all()
            } else {
                self.compact_below(below_seq)
            };
        }
        let (lo, hi) = match matcher {
            Matcher::Nothing => return Ok(0),
            Matcher::All => (index.first_seq, index.last_seq),
            Matcher::Ids { lo, hi, .. } => (lo, hi),
        };
        let mut bound = if below_seq > 0 { below_seq } else { Seq::MAX };
        if keep > 0 {
            let nth = usize::try_from(keep - 1).unwrap_or(usize::MAX);
            let oldest_kept = index
                .live_range(lo, hi)
                .rev()
                .filter(|(_, _, slot)| matcher.matches(slot))
                .nth(nth);
            match oldest_kept {
                Some((seq, _, _)) => bound = bound.min(seq),
                None => return Ok(0),
            }
        }
        if let Matcher::All = matcher {
            // Everything below the bound goes: one meta record moves the floor.
            let first = index
                .next_live(bound)
                .map_or(index.last_seq + 1, |(s, _, _)| s);
            if first == index.first_seq {
                return Ok(0);
            }
            let meta = Meta {
                first_seq: first,
                ..meta_of(index)
            };
            return self.log_floor(meta, bound);
        }
        let doomed: Vec<Seq> = index
            .live_range(lo, hi.min(bound - 1))
            .filter(|(_, _, slot)| matcher.matches(slot))
            .map(|(seq, _, _)| seq)
            .collect();
        for &seq in &doomed {
            self.log_delete(seq)?;
        }
        Ok(doomed.len() as u64)
    }

    /// Empties the stream; sequences continue after `last_seq` (a fresh store moves to 1).
    fn purge_all(&mut self) -> Result<u64, StoreError> {
        let index = &self.index;
        let meta = Meta {
            first_seq: index.last_seq.saturating_add(1),
            ..meta_of(index)
        };
        if meta == meta_of(index) {
            return Ok(0);
        }
        self.log_floor(meta, Seq::MAX)
    }

    /// Compacts as [`crate::core::store::StreamStore::compact`] says: `0` purges everything,
    /// past the end empties the stream and moves the sequences.
    pub(super) fn compact_below(&mut self, seq: Seq) -> Result<u64, StoreError> {
        if seq == 0 {
            return self.purge_all();
        }
        let index = &self.index;
        let meta = if seq > index.last_seq {
            Meta {
                first_seq: seq,
                last_seq: seq - 1,
                last_ts: index.last_ts,
            }
        } else {
            Meta {
                first_seq: index
                    .next_live(seq)
                    .map_or(index.last_seq + 1, |(s, _, _)| s),
                ..meta_of(index)
            }
        };
        if meta.first_seq <= index.first_seq && meta.last_seq == index.last_seq {
            return Ok(0);
        }
        self.log_floor(meta, seq)
    }
}
