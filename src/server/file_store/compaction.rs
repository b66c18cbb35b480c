//! Giving disk space back: run at each `sync`, once everything written is durable.
//!
//! - An active segment with no live message past a quarter block is sealed (a fresh one is made durable
//!   first), so it can go too.
//! - A sealed segment with no live message is deleted, unless it holds tombstones for removed
//!   messages still physically present in an older file (deleting those would bring them back).
//! - A sealed segment mostly dead is rewritten with only its live messages and the tombstones
//!   still needed: written to a temp file, fsynced, renamed over the original. The segment holding
//!   the first message is spared (in-order consumption is about to empty it).
//!
//! Meta records of sealed segments are never needed: the active segment starts with a meta
//! record at least as recent as any of them. Each step leaves files that replay to the same
//! state, so a crash at any point loses nothing.

use std::fs::{self, File};
use std::io::{BufWriter, Write};

use super::record::{self, Record};
use super::segment::{self, Header, Scan, Scanner, HEADER_LEN, MAGIC};
use super::segment_index::{Segment, Slot};
use super::{io_err, FileStore};
use crate::core::store::StoreError;

impl FileStore {
    /// One compaction pass (see the module doc).
    pub(super) fn maintain(&mut self) -> Result<(), StoreError> {
        self.retire_dead_active()?;
        self.delete_dead_segments()?;
        let mut rewrote = false;
        // The segment holding the first message is left alone: a work queue consumed in order is
        // emptying it, and rewriting it at every halving would copy what is about to go.
        let head = self.index.seg_for(self.index.first_seq);
        let candidates = std::mem::take(&mut self.candidates);
        for id in candidates {
            let Some(pos) = self.index.pos_of(id) else {
                continue;
            };
            let seg = &self.index.segs[pos];
            let data = seg.len.saturating_sub(HEADER_LEN);
            let dead = data.saturating_sub(seg.live_disk);
            let worth = seg.live_disk * 2 < data && dead >= self.block_size / 8;
            if id != self.writer.id && Some(pos) != head && worth {
                self.rewrite(pos)?;
                rewrote = true;
            }
        }
        if rewrote {
            // Tombstones aimed at the rewritten files may no longer be needed.
            self.delete_dead_segments()?;
        }
        Ok(())
    }

    fn retire_dead_active(&mut self) -> Result<(), StoreError> {
        let Some(active) = self.index.segs.last() else {
            return Ok(());
        };
        if active.live == 0 && active.len >= self.block_size / 4 {
            self.rotate()?;
            self.sync_files()?;
        }
        Ok(())
    }

    /// Whether segment `pos` holds tombstones for messages an older file still holds.
    fn tombstones_needed(&self, pos: usize) -> bool {
        let Some((lo, hi)) = self.index.segs[pos].xdel else {
            return false;
        };
        self.index.segs[..pos]
            .iter()
            .any(|older| older.holds_dead_in(lo, hi))
    }

    /// Deletes dead segments in rounds: a round only relies on deletions made durable before it.
    fn delete_dead_segments(&mut self) -> Result<(), StoreError> {
        loop {
            let doomed: Vec<u64> = (0..self.index.segs.len())
                .filter(|&pos| {
                    let seg = &self.index.segs[pos];
                    seg.id != self.writer.id && seg.live == 0 && !self.tombstones_needed(pos)
                })
                .map(|pos| self.index.segs[pos].id)
                .collect();
            if doomed.is_empty() {
                return Ok(());
            }
            for id in doomed {
                segment::remove_file(&segment::seg_path(&self.seg_dir, id)).map_err(io_err)?;
                self.reader.forget(id);
                self.candidates.remove(&id);
                if let Some(pos) = self.index.pos_of(id) {
                    self.index.segs.remove(pos);
                }
            }
            segment::sync_dir(&self.seg_dir).map_err(io_err)?;
        }
    }

    /// Rewrites sealed segment `pos` with only its live messages and needed tombstones.
    fn rewrite(&mut self, pos: usize) -> Result<(), StoreError> {
        let seg = &self.index.segs[pos];
        let id = seg.id;
        let path = segment::seg_path(&self.seg_dir, id);
        let tmp = segment::tmp_path(&self.seg_dir, id);
        let (mut scanner, header) = Scanner::open(&path).map_err(io_err)?;
        if header != Header::Valid {
            return Ok(());
        }
        let own_lo = seg.phys.map_or(u64::MAX, |(lo, _)| lo);
        let older = &self.index.segs[..pos];
        let needed = |seq: u64| seq < own_lo && older.iter().any(|o| o.holds_dead(seq));
        let corrupt = |offset: u64| {
            StoreError::Corrupt(format!(
                "segment {id:016x} at {offset}: unreadable during compaction"
            ))
        };
        let mut fresh = Segment::new(id, seg.start(), 0);
        let mut out = BufWriter::new(File::create(&tmp).map_err(io_err)?);
        let result = (|| {
            out.write_all(MAGIC).map_err(io_err)?;
            let mut len = HEADER_LEN;
            loop {
                let offset = match scanner.next().map_err(io_err)? {
                    Scan::End => break,
                    Scan::Bad { offset, .. } => return Err(corrupt(offset)),
                    Scan::Record(offset) => offset,
                };
                let bytes = scanner.record();
                let keep = match record::decode(bytes).map_err(|_| corrupt(offset))?.0 {
                    Record::Msg(msg) => match seg.get(msg.seq) {
                        Some(slot) if slot.offset as u64 == offset => {
                            let moved = Slot {
                                offset: len as u32,
                                ..slot
                            };
                            fresh.push(msg.seq, moved).map_err(|()| corrupt(offset))?;
                            true
                        }
                        _ => false,
                    },
                    Record::Delete(seq) if needed(seq) => {
                        fresh.note_foreign_delete(seq);
                        true
                    }
                    Record::Delete(_) | Record::Meta(_) => false,
                };
                if keep {
                    out.write_all(bytes).map_err(io_err)?;
                    len += bytes.len() as u64;
                }
            }
            let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
            file.sync_all().map_err(io_err)?;
            Ok(len)
        })();
        let len = match result {
            Ok(len) => len,
            Err(err) => {
                let _ = segment::remove_file(&tmp);
                return Err(err);
            }
        };
        fs::rename(&tmp, &path).map_err(io_err)?;
        segment::sync_dir(&self.seg_dir).map_err(io_err)?;
        fresh.len = len;
        fresh.shrink();
        self.reader.forget(id);
        self.index.segs[pos] = fresh;
        Ok(())
    }
}
