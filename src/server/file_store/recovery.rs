//! Opening a store directory: replaying every segment into a fresh index, validating each record
//! and repairing what a crash can leave behind.
//!
//! Policy on damage:
//! - A record that fails its checksum or framing at the end of a segment is a torn write: the file
//!   is truncated there and recovery goes on. Everything a successful `sync` covered is before it.
//! - A damaged record with a plausible length followed by a valid record is corruption in the
//!   middle: that one record is skipped, the rest recovered. If nothing valid follows, the segment
//!   is cut at the damage as a torn tail would be.
//! - A segment whose header is not ours is renamed `*.corrupt` and left alone.
//! - Zeros after the last record are cut off without a report: the active segment is
//!   preallocated with zeros (`segment.rs`), so a crash leaves them.
//!
//! Every repair is listed in the [`RecoveryReport`], so the server can log it. A skipped message
//! record loses that message; a skipped tombstone can bring a removed message back. That is the
//! cost of refusing to fail the whole stream on one bad record.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use super::index::{Index, Matcher};
use super::record::{self, Record};
use super::segment::{self, FileKind, Header, Scan, Scanner, HEADER_LEN};
use super::segment_index::{Segment, DEAD};
use crate::core::store::Seq;

/// One place where recovery found damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Id of the segment file (its name is the id in 16 hex digits, `.seg`).
    pub segment: u64,
    /// Byte offset of the damage in the file.
    pub offset: u64,
    /// Bytes dropped (cut off or skipped).
    pub bytes: u64,
    /// What was wrong there.
    pub reason: String,
}

/// What opening a store found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files read.
    pub segments: usize,
    /// Torn or unreadable tails cut off segment files.
    pub truncated: Vec<Damage>,
    /// Corrupt records skipped in the middle of segment files.
    pub skipped: Vec<Damage>,
    /// Segment files set aside as `*.corrupt` because their header is not ours.
    pub set_aside: Vec<u64>,
    /// Consumer files that failed validation and were ignored.
    pub bad_consumers: Vec<String>,
}

impl RecoveryReport {
    /// Whether recovery found nothing wrong.
    pub fn is_clean(&self) -> bool {
        self.truncated.is_empty()
            && self.skipped.is_empty()
            && self.set_aside.is_empty()
            && self.bad_consumers.is_empty()
    }
}

/// The result of replaying a segment directory.
pub(crate) struct Recovered {
    /// The rebuilt index.
    pub index: Index,
    /// Where appends go from now on.
    pub active: Active,
    /// The next unused segment id.
    pub next_id: u64,
    /// What was found and repaired.
    pub report: RecoveryReport,
}

/// Where appends continue after recovery.
pub(crate) enum Active {
    /// At the end of the last segment in the index, which has this many valid bytes.
    Resume(u64),
    /// In a new segment file with this id (the index has no segment for it yet).
    Fresh(u64),
}

/// Replays the segment files of `dir` (which exists).
pub(crate) fn recover(dir: &Path) -> io::Result<Recovered> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        match segment::classify(&entry.file_name().to_string_lossy()) {
            Some(FileKind::Segment(id)) => ids.push(id),
            Some(FileKind::Temp) => segment::remove_file(&entry.path())?,
            None => {}
        }
    }
    ids.sort_unstable();
    let mut replay = Replay {
        index: Index::default(),
        report: RecoveryReport::default(),
        floor: 0,
        max_msg: 0,
    };
    for (i, &id) in ids.iter().enumerate() {
        let is_last = i + 1 == ids.len();
        let path = segment::seg_path(dir, id);
        let (scanner, header) = Scanner::open(&path)?;
        match header {
            Header::Foreign => {
                let aside = path.with_extension("seg.corrupt");
                fs::rename(&path, aside)?;
                replay.report.set_aside.push(id);
                continue;
            }
            Header::Short if !is_last => {
                // Created, never written, and followed by another file: nothing to keep.
                segment::remove_file(&path)?;
                let bytes = scanner.file_len();
                replay.report.truncated.push(Damage {
                    segment: id,
                    offset: 0,
                    bytes,
                    reason: "segment header cut short".into(),
                });
                continue;
            }
            Header::Short | Header::Valid => {}
        }
        replay.report.segments += 1;
        replay.segment(id, scanner, header == Header::Valid, &path)?;
    }
    let Replay {
        mut index,
        report,
        floor,
        ..
    } = replay;
    if index.msgs == 0 {
        index.first_seq = if index.last_seq == 0 && floor == 0 {
            0
        } else {
            index.last_seq + 1
        };
    }
    let unused = ids.last().map_or(1, |id| id + 1);
    let newest = index.segs.last().map(|seg| (seg.id, seg.len));
    let (active, next_id) = match newest {
        Some((id, len)) if Some(&id) == ids.last() && len > HEADER_LEN => {
            (Active::Resume(len), unused)
        }
        Some((id, _)) if Some(&id) == ids.last() => {
            // The newest file holds no record (a crash right after creating it): start it anew.
            index.segs.pop();
            (Active::Fresh(id), unused)
        }
        _ => (Active::Fresh(unused), unused + 1),
    };
    Ok(Recovered {
        index,
        active,
        next_id,
        report,
    })
}

/// Replay state across segments.
struct Replay {
    index: Index,
    report: RecoveryReport,
    /// Every message below this is gone (the highest meta `first_seq` seen).
    floor: Seq,
    /// Highest message sequence seen: message records must ascend.
    max_msg: Seq,
}

impl Replay {
    /// Replays one segment, cutting the file after its valid prefix.
    fn segment(
        &mut self,
        id: u64,
        mut scanner: Scanner,
        valid: bool,
        path: &Path,
    ) -> io::Result<()> {
        let file_len = scanner.file_len();
        self.index
            .segs
            .push(Segment::new(id, self.max_msg + 1, file_len));
        let cut = if valid {
            self.records(id, &mut scanner)?
        } else {
            Some((0, "segment header cut short".to_string()))
        };
        let end = cut.as_ref().map_or(file_len, |(offset, _)| *offset);
        if let Some((offset, reason)) = cut {
            // Zeros after the last record are what preallocation leaves (or a file system
            // padding a file after a power loss): nothing was lost there, so it is no damage.
            let preallocated = valid && segment::zeros_from(path, offset)?;
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(offset)?;
            file.sync_all()?;
            if !preallocated {
                self.report.truncated.push(Damage {
                    segment: id,
                    offset,
                    bytes: file_len - offset,
                    reason,
                });
            }
        }
        if let Some(seg) = self.index.segs.last_mut() {
            seg.len = end;
            seg.shrink();
        }
        Ok(())
    }

    /// Replays a segment's records; returns where and why it must be cut, if anywhere.
    fn records(&mut self, id: u64, scanner: &mut Scanner) -> io::Result<Option<(u64, String)>> {
        loop {
            match scanner.next()? {
                Scan::End => return Ok(None),
                Scan::Record(offset) => self.apply_or_skip(id, scanner, offset),
                Scan::Bad { offset, len, why } => {
                    // Skip one damaged record only when a valid one follows it.
                    if let (Some(len), Scan::Record(next)) = (len, scanner.next()?) {
                        self.report.skipped.push(Damage {
                            segment: id,
                            offset,
                            bytes: len,
                            reason: why.to_string(),
                        });
                        self.apply_or_skip(id, scanner, next);
                        continue;
                    }
                    return Ok(Some((offset, why.to_string())));
                }
            }
        }
    }

    /// Applies the scanner's current record, listing it as skipped when it does not fit.
    fn apply_or_skip(&mut self, id: u64, scanner: &Scanner, offset: u64) {
        if !self.apply(scanner.record(), offset) {
            self.report.skipped.push(Damage {
                segment: id,
                offset,
                bytes: scanner.record().len() as u64,
                reason: "record out of sequence order".into(),
            });
        }
    }

    /// Applies one checksummed record at `offset` of the last segment; `false` when its content is
    /// inconsistent with what came before (treated as a corrupt record and skipped).
    fn apply(&mut self, bytes: &[u8], offset: u64) -> bool {
        let Ok((record, _)) = record::decode(bytes) else {
            return false;
        };
        let index = &mut self.index;
        match record {
            Record::Msg(msg) => {
                if msg.seq <= self.max_msg || offset >= DEAD as u64 {
                    return false;
                }
                if index.msgs == 0 {
                    index.first_seq = msg.seq;
                }
                if index
                    .insert(msg.seq, msg.subject, offset as u32, msg.size())
                    .is_err()
                {
                    return false;
                }
                self.max_msg = msg.seq;
                if msg.seq >= index.last_seq {
                    index.last_seq = msg.seq;
                    index.last_ts = msg.time;
                }
                if msg.seq < self.floor {
                    index.remove(msg.seq);
                }
            }
            Record::Delete(seq) => {
                if let Some(seg) = index.segs.last_mut() {
                    if seg.phys.is_none_or(|(lo, _)| seq < lo) {
                        seg.note_foreign_delete(seq);
                    }
                }
                index.remove(seq);
            }
            Record::Meta(meta) => {
                if meta.first_seq > self.floor {
                    self.floor = meta.first_seq;
                    index.remove_below(self.floor, &Matcher::All);
                }
                if meta.last_seq >= index.last_seq {
                    index.last_seq = meta.last_seq;
                    index.last_ts = meta.last_ts;
                }
            }
        }
        true
    }
}
