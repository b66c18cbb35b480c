//! The whole stream's in-memory index: the segments in sequence order, the subject table and the
//! stream totals. No payloads and no per-message strings: 12 bytes per message slot.
//!
//! The index is pure bookkeeping; it never touches a file. The store logs each change to disk and
//! applies it here; recovery replays the log into a fresh index with the same methods.

use super::segment_index::{Segment, Slot};
use super::subjects::Subjects;
use crate::core::store::Seq;
use crate::core::subject;
use crate::core::time::Nanos;

/// Which messages a filter selects.
pub(crate) enum Matcher {
    /// Every message (`""` or `>`).
    All,
    /// Messages on these subject ids, all within `lo..=hi`.
    Ids { set: IdSet, lo: Seq, hi: Seq },
    /// No stored message.
    Nothing,
}

/// A set of subject ids.
pub(crate) enum IdSet {
    /// One literal subject.
    One(u32),
    /// Several subjects, flagged by id.
    Many(Vec<bool>),
}

impl Matcher {
    /// Whether a slot's subject is selected.
    pub fn matches(&self, slot: &Slot) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Nothing => false,
            Matcher::Ids {
                set: IdSet::One(id),
                ..
            } => slot.subject == *id,
            Matcher::Ids {
                set: IdSet::Many(ids),
                ..
            } => ids.get(slot.subject as usize).copied().unwrap_or(false),
        }
    }
}

/// Whether a filter selects every subject.
pub(crate) fn matches_all(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

/// What a bulk removal took away.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    /// Messages removed.
    pub count: u64,
    /// Ids of the segments that lost messages.
    pub segments: Vec<u64>,
}

/// The index of one stream.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Segments by ascending sequence (and file id); the last one is being appended to.
    pub segs: Vec<Segment>,
    /// Subjects with live messages.
    pub subjects: Subjects,
    /// Live messages.
    pub msgs: u64,
    /// Their bytes as the store counts them.
    pub bytes: u64,
    /// As in [`crate::core::store::StreamState::first_seq`].
    pub first_seq: Seq,
    /// Highest sequence handed out.
    pub last_seq: Seq,
    /// Time of `last_seq`.
    pub last_ts: Nanos,
}

impl Index {
    /// Position of the segment whose slots could hold `seq`.
    pub fn seg_for(&self, seq: Seq) -> Option<usize> {
        let pos = self.segs.partition_point(|s| s.end() <= seq);
        (pos < self.segs.len() && self.segs[pos].start() <= seq).then_some(pos)
    }

    /// Position of the segment with this file id.
    pub fn pos_of(&self, id: u64) -> Option<usize> {
        self.segs.binary_search_by_key(&id, |s| s.id).ok()
    }

    /// The live slot of `seq` and its segment's position.
    pub fn get(&self, seq: Seq) -> Option<(usize, Slot)> {
        let pos = self.seg_for(seq)?;
        Some((pos, self.segs[pos].get(seq)?))
    }

    /// Adds a message to the last segment. Fails (changing nothing) when `seq` is not above every
    /// sequence already in it.
    pub fn insert(&mut self, seq: Seq, subject: &str, offset: u32, size: u32) -> Result<(), ()> {
        let seg = self.segs.last_mut().ok_or(())?;
        if seq < seg.end() || seq < seg.start() {
            return Err(());
        }
        let id = self.subjects.add(subject, seq);
        let slot = Slot {
            offset,
            subject: id,
            size,
        };
        seg.push(seq, slot)?;
        self.msgs += 1;
        self.bytes += size as u64;
        Ok(())
    }

    /// Removes one live message; returns its segment position and slot.
    pub fn remove(&mut self, seq: Seq) -> Option<(usize, Slot)> {
        let pos = self.seg_for(seq)?;
        let slot = self.segs[pos].kill(seq)?;
        self.uncount(slot);
        if seq == self.first_seq {
            self.first_seq = self.next_live(seq).map_or(self.last_seq + 1, |(s, _, _)| s);
        }
        Some((pos, slot))
    }

    /// Removes live messages below `below` selected by `matcher`.
    pub fn remove_below(&mut self, below: Seq, matcher: &Matcher) -> Removed {
        let mut removed = Removed::default();
        if below == 0 {
            return removed;
        }
        let from = match matcher {
            Matcher::Nothing => return removed,
            Matcher::All => self.first_seq,
            Matcher::Ids { lo, .. } => (*lo).max(self.first_seq),
        };
        let to = match matcher {
            Matcher::Ids { hi, .. } => (*hi).min(below - 1),
            _ => below - 1,
        };
        let mut doomed = Vec::new();
        for pos in 0..self.segs.len() {
            let seg = &self.segs[pos];
            if seg.end() <= from || seg.live == 0 {
                continue;
            }
            if seg.start() > to {
                break;
            }
            doomed.clear();
            doomed.extend(
                seg.live_in(from, to)
                    .filter(|(_, slot)| matcher.matches(slot))
                    .map(|(seq, _)| seq),
            );
            if doomed.is_empty() {
                continue;
            }
            for &seq in &doomed {
                if let Some(slot) = self.segs[pos].kill(seq) {
                    self.uncount(slot);
                    removed.count += 1;
                }
            }
            removed.segments.push(self.segs[pos].id);
        }
        if removed.count > 0 {
            self.first_seq = self
                .next_live(self.first_seq)
                .map_or(self.last_seq + 1, |(s, _, _)| s);
        }
        removed
    }

    fn uncount(&mut self, slot: Slot) {
        self.subjects.release(slot.subject);
        self.msgs -= 1;
        self.bytes -= slot.size as u64;
    }

    /// Live messages with sequences in `from..=to` across segments, with segment positions.
    pub fn live_range(
        &self,
        from: Seq,
        to: Seq,
    ) -> impl DoubleEndedIterator<Item = (Seq, usize, Slot)> + '_ {
        let lo = self.segs.partition_point(|s| s.end() <= from);
        let hi = self.segs.partition_point(|s| s.start() <= to).max(lo);
        self.segs[lo..hi]
            .iter()
            .enumerate()
            .filter(|(_, seg)| seg.live > 0)
            .flat_map(move |(i, seg)| {
                seg.live_in(from, to)
                    .map(move |(seq, slot)| (seq, lo + i, slot))
            })
    }

    /// The first live message at or after `from`.
    pub fn next_live(&self, from: Seq) -> Option<(Seq, usize, Slot)> {
        self.live_range(from, Seq::MAX).next()
    }

    /// The last live message at or before `upto`.
    pub fn prev_live(&self, upto: Seq) -> Option<(Seq, usize, Slot)> {
        self.live_range(0, upto).next_back()
    }

    /// The matcher for a filter.
    pub fn matcher(&self, filter: &str) -> Matcher {
        if matches_all(filter) {
            return Matcher::All;
        }
        if subject::is_literal(filter) {
            return match self.subjects.id_of(filter) {
                Some(id) => Matcher::Ids {
                    set: IdSet::One(id),
                    lo: self.first_of(id),
                    hi: self.last_of(id),
                },
                None => Matcher::Nothing,
            };
        }
        let mut ids = vec![false; self.subjects.id_bound()];
        let (mut lo, mut hi, mut any) = (Seq::MAX, 0, false);
        for (name, id) in self.subjects.iter() {
            if subject::matches(filter, name) {
                if let Some(entry) = self.subjects.get(id) {
                    ids[id as usize] = true;
                    lo = lo.min(entry.first.get());
                    hi = hi.max(entry.last.get());
                    any = true;
                }
            }
        }
        if any {
            Matcher::Ids {
                set: IdSet::Many(ids),
                lo,
                hi,
            }
        } else {
            Matcher::Nothing
        }
    }

    /// The first live sequence of subject `id`, tightening its stored bound.
    pub fn first_of(&self, id: u32) -> Seq {
        let Some(entry) = self.subjects.get(id) else {
            return 0;
        };
        let found = self
            .live_range(entry.first.get(), entry.last.get())
            .find(|(_, _, slot)| slot.subject == id);
        if let Some((seq, _, _)) = found {
            entry.first.set(seq);
        }
        entry.first.get()
    }

    /// The last live sequence of subject `id`, tightening its stored bound.
    pub fn last_of(&self, id: u32) -> Seq {
        let Some(entry) = self.subjects.get(id) else {
            return 0;
        };
        let found = self
            .live_range(entry.first.get(), entry.last.get())
            .rev()
            .find(|(_, _, slot)| slot.subject == id);
        if let Some((seq, _, _)) = found {
            entry.last.set(seq);
        }
        entry.last.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(subjects: &[&str]) -> Index {
        let mut index = Index::default();
        index.segs.push(Segment::new(1, 1, 0));
        index.first_seq = 1;
        for (i, subject) in subjects.iter().enumerate() {
            let seq = i as Seq + 1;
            index.last_seq = seq;
            index
                .insert(seq, subject, i as u32 * 10, 20)
                .expect("insert");
        }
        index
    }

    #[test]
    fn removing_the_first_moves_first_seq_to_the_next_live() {
        let mut index = index_with(&["a", "b", "c"]);
        index.remove(2);
        index.remove(1);
        assert_eq!(index.first_seq, 3);
        index.remove(3);
        assert_eq!((index.first_seq, index.msgs, index.bytes), (4, 0, 0));
    }

    #[test]
    fn subject_bounds_tighten_after_removals() {
        let mut index = index_with(&["a", "b", "a", "b", "a"]);
        let a = index.subjects.id_of("a").expect("a stored");
        index.remove(1);
        index.remove(5);
        assert_eq!((index.first_of(a), index.last_of(a)), (3, 3));
    }

    #[test]
    fn remove_below_takes_only_matching_messages() {
        let mut index = index_with(&["a", "b", "a", "b", "a"]);
        let matcher = index.matcher("a");
        let removed = index.remove_below(5, &matcher);
        assert_eq!(removed.count, 2);
        assert_eq!((index.first_seq, index.msgs), (2, 3));
        assert!(index.get(1).is_none() && index.get(3).is_none() && index.get(5).is_some());
    }

    #[test]
    fn wildcard_matcher_selects_by_subject() {
        let index = index_with(&["a.x", "b.x", "a.y"]);
        let matcher = index.matcher("a.*");
        let seqs: Vec<Seq> = index
            .live_range(0, Seq::MAX)
            .filter(|(_, _, slot)| matcher.matches(slot))
            .map(|(seq, _, _)| seq)
            .collect();
        assert_eq!(seqs, vec![1, 3]);
        assert!(matches!(index.matcher("c.*"), Matcher::Nothing));
    }
}
