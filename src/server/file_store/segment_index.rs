//! The in-memory view of one segment file: where each of its messages sits, without payloads.
//!
//! A segment holds messages with ascending sequences. Its index is a dense array of 12-byte
//! [`Slot`]s, one per sequence, so a lookup is arithmetic. Short gaps (skips, removals) are filled
//! with dead slots; a long gap (a compaction past the end, a rewritten segment with few survivors)
//! starts a new *run*, so a sequence jump never costs memory in proportion to its size.

use crate::core::store::Seq;

/// Gaps up to this many sequences are filled with dead slots; longer ones start a new run. Small,
/// so a hostile file cannot make the index much larger than the file.
const MAX_FILL: u64 = 8;

/// Where one message sits, and what the index must know about it without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Byte offset of its record in the segment file ([`DEAD`] once removed).
    pub offset: u32,
    /// Its subject's id in the subject table.
    pub subject: u32,
    /// Its size as the store counts it ([`crate::core::store::record_size`]).
    pub size: u32,
}

/// The offset of a removed message's slot.
pub(crate) const DEAD: u32 = u32::MAX;

impl Slot {
    /// Whether the message is still stored.
    pub fn is_live(&self) -> bool {
        self.offset != DEAD
    }
}

/// Framed bytes on disk of a message that counts `size` bytes: the record adds 32 bytes of framing
/// and fixed fields where [`crate::core::store::record_size`] counts 16.
pub(crate) fn disk_len(size: u32) -> u64 {
    size as u64 + 16
}

/// Consecutive sequences starting at `seq`, held by `slots[start..]` up to the next run.
#[derive(Debug, Clone, Copy)]
struct Run {
    seq: Seq,
    start: u32,
}

/// One segment file as the index sees it.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The file's id (its name).
    pub id: u64,
    /// Orders segments with no slots: no sequence of this segment is below it.
    base: Seq,
    runs: Vec<Run>,
    slots: Vec<Slot>,
    /// Live messages.
    pub live: u64,
    /// Framed bytes of the live messages.
    pub live_disk: u64,
    /// Bytes of the file (for the active segment, buffered bytes included).
    pub len: u64,
    /// Lowest and highest sequence of the message records physically in the file, live or not.
    pub phys: Option<(Seq, Seq)>,
    /// Message records physically in the file, live or not.
    phys_msgs: u64,
    /// Lowest and highest sequence targeted by this file's tombstones for messages in older files.
    pub xdel: Option<(Seq, Seq)>,
}

fn widen(range: &mut Option<(Seq, Seq)>, seq: Seq) {
    *range = Some(match *range {
        None => (seq, seq),
        Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
    });
}

impl Segment {
    /// An empty segment whose messages will all have sequences `>= base`.
    pub fn new(id: u64, base: Seq, len: u64) -> Self {
        Segment {
            id,
            base,
            runs: Vec::new(),
            slots: Vec::new(),
            live: 0,
            live_disk: 0,
            len,
            phys: None,
            phys_msgs: 0,
            xdel: None,
        }
    }

    /// The lowest sequence a slot could hold.
    pub fn start(&self) -> Seq {
        self.runs.first().map_or(self.base, |r| r.seq)
    }

    /// One past the highest sequence a slot holds.
    pub fn end(&self) -> Seq {
        match self.runs.last() {
            Some(run) => run.seq + (self.slots.len() as u64 - run.start as u64),
            None => self.base,
        }
    }

    /// Appends a live message. Fails (and changes nothing) unless `seq >= end()`.
    pub fn push(&mut self, seq: Seq, slot: Slot) -> Result<(), ()> {
        let end = self.end();
        if seq < end || (self.runs.is_empty() && seq < self.base) {
            return Err(());
        }
        if self.runs.is_empty() || seq - end > MAX_FILL {
            self.runs.push(Run {
                seq,
                start: self.slots.len() as u32,
            });
        } else {
            let dead = Slot {
                offset: DEAD,
                subject: 0,
                size: 0,
            };
            self.slots
                .resize(self.slots.len() + (seq - end) as usize, dead);
        }
        self.slots.push(slot);
        self.base = self.start();
        self.live += 1;
        self.live_disk += disk_len(slot.size);
        widen(&mut self.phys, seq);
        self.phys_msgs += 1;
        Ok(())
    }

    /// Whether the file still holds records of removed messages (a tombstone aimed at one of
    /// them is needed until the file is deleted or rewritten).
    pub fn holds_dead(&self, seq: Seq) -> bool {
        self.phys_msgs > self.live && self.phys.is_some_and(|(lo, hi)| lo <= seq && seq <= hi)
    }

    /// Whether the file may hold a removed message within `lo..=hi`.
    pub fn holds_dead_in(&self, lo: Seq, hi: Seq) -> bool {
        self.phys_msgs > self.live && self.phys.is_some_and(|(plo, phi)| plo <= hi && phi >= lo)
    }

    /// Notes a tombstone in this file for a message in an older file.
    pub fn note_foreign_delete(&mut self, seq: Seq) {
        widen(&mut self.xdel, seq);
    }

    /// Marks the message dead and returns its slot, if it was live here.
    pub fn kill(&mut self, seq: Seq) -> Option<Slot> {
        let idx = self.position(seq)?;
        let slot = self.slots[idx];
        if !slot.is_live() {
            return None;
        }
        self.slots[idx].offset = DEAD;
        self.live -= 1;
        self.live_disk -= disk_len(slot.size);
        if self.live == 0 {
            // Nothing left to look up: free the array, keep `base` for ordering.
            self.base = self.end();
            self.runs = Vec::new();
            self.slots = Vec::new();
        }
        Some(slot)
    }

    /// The live slot of `seq`, if any.
    pub fn get(&self, seq: Seq) -> Option<Slot> {
        let slot = self.slots[self.position(seq)?];
        slot.is_live().then_some(slot)
    }

    /// Releases spare capacity (once the segment stops growing).
    pub fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        self.runs.shrink_to_fit();
    }

    /// Slot index holding `seq`, if the segment has a slot for it.
    fn position(&self, seq: Seq) -> Option<usize> {
        let r = self
            .runs
            .partition_point(|run| run.seq <= seq)
            .checked_sub(1)?;
        let run = self.runs[r];
        let idx = run.start as u64 + (seq - run.seq);
        (idx < self.run_end(r) as u64).then_some(idx as usize)
    }

    /// One past the last slot index of run `r`.
    fn run_end(&self, r: usize) -> usize {
        self.runs
            .get(r + 1)
            .map_or(self.slots.len(), |next| next.start as usize)
    }

    /// First slot index whose sequence is `>= seq`.
    fn index_from(&self, seq: Seq) -> usize {
        let Some(r) = self
            .runs
            .partition_point(|run| run.seq <= seq)
            .checked_sub(1)
        else {
            return 0;
        };
        let run = self.runs[r];
        let idx = run.start as u64 + (seq - run.seq);
        (idx.min(self.run_end(r) as u64)) as usize
    }

    /// Live messages with sequences in `from..=to`, ascending (reverse with `.rev()`).
    pub fn live_in(&self, from: Seq, to: Seq) -> impl DoubleEndedIterator<Item = (Seq, Slot)> + '_ {
        let lo = self.index_from(from);
        let hi = if to == Seq::MAX {
            self.slots.len()
        } else {
            self.index_from(to + 1)
        };
        SlotIter {
            seg: self,
            lo,
            hi: hi.max(lo),
        }
        .filter(|(_, slot)| slot.is_live())
    }

    /// Sequence held by slot index `idx` (which exists).
    fn seq_at(&self, idx: usize) -> Seq {
        let r = self.runs.partition_point(|run| run.start as usize <= idx) - 1;
        self.runs[r].seq + (idx - self.runs[r].start as usize) as u64
    }
}

/// Slots of a segment between two indexes, with their sequences.
struct SlotIter<'a> {
    seg: &'a Segment,
    lo: usize,
    hi: usize,
}

impl Iterator for SlotIter<'_> {
    type Item = (Seq, Slot);

    fn next(&mut self) -> Option<Self::Item> {
        if self.lo >= self.hi {
            return None;
        }
        let idx = self.lo;
        self.lo += 1;
        Some((self.seg.seq_at(idx), self.seg.slots[idx]))
    }
}

impl DoubleEndedIterator for SlotIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.lo >= self.hi {
            return None;
        }
        self.hi -= 1;
        Some((self.seg.seq_at(self.hi), self.seg.slots[self.hi]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(offset: u32) -> Slot {
        Slot {
            offset,
            subject: 0,
            size: 10,
        }
    }

    fn live(seg: &Segment) -> Vec<Seq> {
        seg.live_in(0, Seq::MAX).map(|(s, _)| s).collect()
    }

    #[test]
    fn a_long_gap_costs_no_slots() {
        let mut seg = Segment::new(1, 1, 0);
        seg.push(1, slot(8)).expect("first");
        seg.push(1 << 60, slot(50)).expect("far");
        assert_eq!(seg.slots.len(), 2);
        assert_eq!(live(&seg), vec![1, 1 << 60]);
        assert_eq!(seg.get(1 << 60), Some(slot(50)));
        assert_eq!(seg.get(2), None);
    }

    #[test]
    fn short_gaps_are_filled_dead() {
        let mut seg = Segment::new(1, 5, 0);
        seg.push(5, slot(8)).expect("first");
        seg.push(8, slot(20)).expect("after gap");
        assert_eq!(seg.end(), 9);
        assert_eq!(live(&seg), vec![5, 8]);
        assert_eq!(seg.get(6), None);
    }

    #[test]
    fn sequences_must_ascend() {
        let mut seg = Segment::new(1, 5, 0);
        assert!(seg.push(4, slot(8)).is_err());
        seg.push(5, slot(8)).expect("first");
        assert!(seg.push(5, slot(9)).is_err());
        assert_eq!(seg.live, 1);
    }

    #[test]
    fn ranges_respect_bounds_both_ways() {
        let mut seg = Segment::new(1, 1, 0);
        for seq in [1, 2, 3, 40, 41, 100] {
            seg.push(seq, slot(seq as u32)).expect("push");
        }
        seg.kill(2);
        let fwd: Vec<Seq> = seg.live_in(2, 41).map(|(s, _)| s).collect();
        assert_eq!(fwd, vec![3, 40, 41]);
        let back: Vec<Seq> = seg.live_in(0, 99).rev().map(|(s, _)| s).collect();
        assert_eq!(back, vec![41, 40, 3, 1]);
        assert_eq!(seg.live_in(42, 99).count(), 0);
    }

    #[test]
    fn killing_the_last_live_frees_the_array_and_keeps_order() {
        let mut seg = Segment::new(1, 1, 0);
        seg.push(3, slot(8)).expect("push");
        assert_eq!(seg.kill(3), Some(slot(8)));
        assert_eq!(seg.kill(3), None);
        assert_eq!((seg.live, seg.live_disk, seg.end()), (0, 0, 4));
        assert!(seg.push(3, slot(8)).is_err());
        seg.push(4, slot(9)).expect("later push");
        assert_eq!(live(&seg), vec![4]);
        assert_eq!(seg.phys, Some((3, 4)));
    }
}
