//! The in-memory stream store.
//!
//! Used for `storage: memory` streams on the server, in Node and edge workers, and as the reference
//! the other stores are checked against. Built for the publish path: storing a message is an array
//! push plus a push on its subject's sequence list, with no allocation per message (subjects are
//! interned, payloads are shared `Bytes`).
//!
//! - Messages live in `slots::SeqSlots`, indexed by sequence in blocks: O(1) load by sequence,
//!   ascending and descending walks that skip freed blocks.
//! - Each subject keeps its ascending sequences (`subjects::SubjectIndex`), so literal filters,
//!   per-subject counts and the last message of a subject are binary searches, not scans.
//! - Wildcard filters walk the messages for a short stretch, then ask the matching subjects'
//!   lists when there are few subjects for the distance left to cover.
//! - Totals (`msgs`, `bytes`, first/last) are kept as counters: `state()` is O(1), and a gapless
//!   stream answers `num_deleted`/`deleted()` without looking at a message.

mod slots;
mod subjects;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use bytes::Bytes;

use super::{
    record_size, ConsumerRecord, Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore,
    Synced,
};
use crate::core::subject;
use crate::core::time::Nanos;
use slots::SeqSlots;
use subjects::{SubjectId, SubjectIndex};

/// Matches tried by a linear walk before a wildcard query switches to the per-subject lists.
const PROBE: usize = 64;

/// One stored message, minus what its position already says (the sequence).
#[derive(Debug)]
struct Slot {
    subject: SubjectId,
    time: Nanos,
    headers: Option<Bytes>,
    payload: Bytes,
}

/// A stored message, borrowed from the store (see [`MemoryStore::visit_from`]).
#[derive(Debug, Clone, Copy)]
pub struct MsgRef<'a> {
    /// Its sequence.
    pub seq: Seq,
    /// Its subject.
    pub subject: &'a str,
    /// When it was stored.
    pub time: Nanos,
    /// Its header block.
    pub headers: Option<&'a Bytes>,
    /// Its payload.
    pub payload: &'a Bytes,
}

/// A stream store held entirely in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    slots: SeqSlots<Slot>,
    subjects: SubjectIndex,
    msgs: u64,
    bytes: u64,
    first_seq: Seq,
    last_seq: Seq,
    last_ts: Nanos,
    consumers: BTreeMap<String, ConsumerRecord>,
    closed: bool,
}

fn matches_all(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

impl MemoryStore {
    /// An empty store whose first message will get sequence 1.
    pub fn new() -> Self {
        Self::default()
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// The sequence after `last_seq`, or an error when the sequence space is used up.
    fn next_seq(&self) -> Result<Seq, StoreError> {
        self.last_seq
            .checked_add(1)
            .ok_or(StoreError::QuotaExceeded)
    }

    fn size_of(&self, slot: &Slot) -> u64 {
        record_size(
            self.subjects.name(slot.subject),
            slot.headers.as_ref(),
            &slot.payload,
        )
    }

    fn to_msg(&self, seq: Seq, slot: &Slot) -> StoredMsg {
        StoredMsg {
            subject: self.subjects.name(slot.subject).to_string(),
            seq,
            time: slot.time,
            headers: slot.headers.clone(),
            payload: slot.payload.clone(),
        }
    }

    /// Calls `visit` with each stored message from `start` on, in order, borrowed rather than
    /// copied into a [`StoredMsg`] (no allocation per message), until it returns `false`.
    pub fn visit_from(&self, start: Seq, mut visit: impl FnMut(MsgRef<'_>) -> bool) {
        for (seq, slot) in self.slots.iter_from(start) {
            let msg = MsgRef {
                seq,
                subject: self.subjects.name(slot.subject),
                time: slot.time,
                headers: slot.headers.as_ref(),
                payload: &slot.payload,
            };
            if !visit(msg) {
                return;
            }
        }
    }

    /// The record of consumer `name`, borrowed.
    pub fn consumer(&self, name: &str) -> Option<&ConsumerRecord> {
        self.consumers.get(name)
    }

    fn msg_at(&self, seq: Seq) -> Option<StoredMsg> {
        self.slots.get(seq).map(|slot| self.to_msg(seq, slot))
    }

    /// Puts back a message when rebuilding a store from a persisted form (the browser's
    /// IndexedDB segments): `seq` must be above `last_seq`, and the sequences skipped over count
    /// as deleted at no cost per sequence (a loop of `skip_msg` would pay for every one).
    pub fn restore_msg(
        &mut self,
        seq: Seq,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        time: Nanos,
    ) -> Result<(), StoreError> {
        self.check_open()?;
        if seq <= self.last_seq {
            return Err(StoreError::Corrupt(format!(
                "sequence {seq} restored after {}",
                self.last_seq
            )));
        }
        self.last_seq = seq - 1;
        self.store_msg(subject, headers, payload, time).map(|_| ())
    }

    /// Ends a rebuild (see [`MemoryStore::restore_msg`]) with the persisted sequence state the
    /// messages alone do not give: `last_seq` when above the last message (trailing removals),
    /// and `last_ts` (the time of a last store whose message is gone).
    pub fn restore_last(&mut self, last_seq: Seq, last_ts: Nanos) {
        if last_seq > self.last_seq {
            self.last_seq = last_seq;
            if self.msgs == 0 {
                self.first_seq = last_seq.saturating_add(1);
            }
        }
        self.last_ts = last_ts;
    }

    /// Takes the store back to an earlier state `to` of its own, when only messages were
    /// stored since (the browser store's rollback of a failed commit of appends): drops every
    /// message above `to.last_seq` and puts back `to`'s sequences and last time, so the next
    /// message gets `to.last_seq + 1` again. Consumer records stay.
    pub fn truncate_to(&mut self, to: &StreamState) {
        let mut seq = self.last_seq;
        while seq > to.last_seq {
            self.take(seq);
            seq -= 1;
        }
        self.last_seq = to.last_seq;
        self.last_ts = to.last_ts;
        if self.msgs == 0 {
            self.first_seq = to.first_seq;
        }
    }

    /// Removes one message and keeps every counter and index right.
    fn take(&mut self, seq: Seq) -> bool {
        let Some(slot) = self.slots.take(seq) else {
            return false;
        };
        self.msgs -= 1;
        self.bytes = self.bytes.saturating_sub(self.size_of(&slot));
        self.subjects.remove(slot.subject, seq);
        if self.msgs == 0 {
            self.first_seq = self.last_seq.saturating_add(1);
        } else if seq == self.first_seq {
            // First only moves forward, so each hole is walked over once.
            self.first_seq = self
                .slots
                .iter_from(seq)
                .next()
                .map_or(self.last_seq.saturating_add(1), |(s, _)| s);
        }
        true
    }

    /// Empties the stream, leaving `first_seq` and `last_seq` as given; returns how many
    /// messages went.
    fn reset(&mut self, first_seq: Seq, last_seq: Seq) -> u64 {
        let removed = self.msgs;
        self.slots.clear();
        self.subjects.clear();
        self.msgs = 0;
        self.bytes = 0;
        self.first_seq = first_seq;
        self.last_seq = last_seq;
        removed
    }

    /// Empties the stream; sequences continue after `last_seq`.
    fn purge_all(&mut self) -> u64 {
        self.reset(self.last_seq.saturating_add(1), self.last_seq)
    }

    /// The first sequence `>= start` on a subject matching the wildcard `filter`.
    fn next_wildcard(&self, filter: &str, start: Seq) -> Option<Seq> {
        let matches = |slot: &Slot| subject::matches(filter, self.subjects.name(slot.subject));
        let mut walk = self.slots.iter_from(start);
        for (seq, slot) in walk.by_ref().take(PROBE) {
            if matches(slot) {
                return Some(seq);
            }
        }
        // Far from the end, asking every matching subject beats walking every message.
        if (self.subjects.len() as u64) < (self.last_seq - start) / 8 {
            self.subjects
                .matching(filter)
                .filter_map(|(_, seqs)| seqs.next_from(start))
                .min()
        } else {
            walk.find(|(_, slot)| matches(slot)).map(|(seq, _)| seq)
        }
    }

    /// The last sequence on a subject matching the wildcard `filter`.
    fn last_wildcard(&self, filter: &str) -> Option<Seq> {
        let matches = |slot: &Slot| subject::matches(filter, self.subjects.name(slot.subject));
        let mut walk = self.slots.iter_back_from(self.last_seq);
        for (seq, slot) in walk.by_ref().take(PROBE) {
            if matches(slot) {
                return Some(seq);
            }
        }
        if (self.subjects.len() as u64) < self.msgs / 8 {
            self.subjects
                .matching(filter)
                .filter_map(|(_, seqs)| seqs.last())
                .max()
        } else {
            walk.find(|(_, slot)| matches(slot)).map(|(seq, _)| seq)
        }
    }

    /// Removes the oldest `budget` messages below `below` (0 = no bound) matching `filter`, a
    /// merge over the matching subjects' lists: proportional to what it removes.
    fn purge_subjects(&mut self, filter: &str, below: Seq, mut budget: u64) -> u64 {
        let mut fronts: BinaryHeap<Reverse<(Seq, SubjectId)>> = self
            .subjects
            .matching(filter)
            .filter_map(|(id, seqs)| Some(Reverse((seqs.front()?, id))))
            .collect();
        let mut removed = 0;
        while budget > 0 {
            let Some(Reverse((seq, id))) = fronts.pop() else {
                break;
            };
            if below != 0 && seq >= below {
                break;
            }
            if self.take(seq) {
                removed += 1;
                budget -= 1;
            }
            if let Some(next) = self.subjects.by_id(id).and_then(|s| s.front()) {
                fronts.push(Reverse((next, id)));
            }
        }
        removed
    }

    /// Messages `>= start` on subjects matching the wildcard `filter`.
    fn wildcard_state(&self, start: Seq, filter: &str) -> SimpleState {
        let mut total = SimpleState::default();
        let mut add = |s: SimpleState| {
            if s.msgs == 0 {
                return;
            }
            if total.msgs == 0 || s.first < total.first {
                total.first = s.first;
            }
            total.last = total.last.max(s.last);
            total.msgs += s.msgs;
        };
        if (self.subjects.len() as u64) < (self.last_seq - start) / 8 {
            for (_, seqs) in self.subjects.matching(filter) {
                add(seqs.state_from(start));
            }
        } else {
            for (seq, slot) in self.slots.iter_from(start) {
                if subject::matches(filter, self.subjects.name(slot.subject)) {
                    add(SimpleState {
                        msgs: 1,
                        first: seq,
                        last: seq,
                    });
                }
            }
        }
        total
    }
}

impl StreamStore for MemoryStore {
    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        self.check_open()?;
        let seq = self.next_seq()?;
        let id = self.subjects.add(subject, seq);
        self.bytes += record_size(subject, headers.as_ref(), &payload);
        self.slots.push(
            seq,
            Slot {
                subject: id,
                time: now,
                headers,
                payload,
            },
        );
        if self.msgs == 0 {
            self.first_seq = seq;
        }
        self.msgs += 1;
        self.last_seq = seq;
        self.last_ts = now;
        Ok(seq)
    }

    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        self.check_open()?;
        let seq = self.next_seq()?;
        self.last_seq = seq;
        if self.last_ts == 0 {
            self.last_ts = now;
        }
        if self.msgs == 0 {
            self.first_seq = seq.saturating_add(1);
        }
        Ok(seq)
    }

    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        self.msg_at(seq).ok_or(StoreError::NotFound)
    }

    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        let start = start.max(self.first_seq);
        if self.msgs == 0 || start > self.last_seq {
            return Err(StoreError::Eof);
        }
        let seq = if matches_all(filter) {
            self.slots.iter_from(start).next().map(|(seq, _)| seq)
        } else if subjects::is_literal(filter) {
            self.subjects.get(filter).and_then(|s| s.next_from(start))
        } else {
            self.next_wildcard(filter, start)
        };
        seq.and_then(|seq| self.msg_at(seq)).ok_or(StoreError::Eof)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        if self.msgs == 0 {
            return Err(StoreError::NotFound);
        }
        let seq = if matches_all(filter) {
            self.slots
                .iter_back_from(self.last_seq)
                .next()
                .map(|(seq, _)| seq)
        } else if subjects::is_literal(filter) {
            self.subjects.get(filter).and_then(|s| s.last())
        } else {
            self.last_wildcard(filter)
        };
        seq.and_then(|seq| self.msg_at(seq))
            .ok_or(StoreError::NotFound)
    }

    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        self.check_open()?;
        Ok(self.take(seq))
    }

    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        self.check_open()?;
        if below_seq == 1 {
            return Ok(0);
        }
        if matches_all(filter) && keep == 0 {
            return if below_seq == 0 {
                Ok(self.purge_all())
            } else {
                self.compact(below_seq)
            };
        }
        if matches_all(filter) {
            // Keep the newest `keep`: remove from the front while the budget and bound allow.
            let mut budget = self.msgs.saturating_sub(keep);
            let mut removed = 0;
            while budget > 0 && self.msgs > 0 && (below_seq == 0 || self.first_seq < below_seq) {
                if !self.take(self.first_seq) {
                    break;
                }
                removed += 1;
                budget -= 1;
            }
            return Ok(removed);
        }
        let matching: u64 = self.subjects.matching(filter).map(|(_, s)| s.len()).sum();
        let budget = if keep == 0 {
            matching
        } else {
            matching.saturating_sub(keep)
        };
        Ok(self.purge_subjects(filter, below_seq, budget))
    }

    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        self.check_open()?;
        if seq == 0 {
            return Ok(self.purge_all());
        }
        if seq <= self.first_seq {
            return Ok(0);
        }
        if seq > self.last_seq {
            return Ok(self.reset(seq, seq - 1));
        }
        let mut removed = 0;
        while self.msgs > 0 && self.first_seq < seq {
            if !self.take(self.first_seq) {
                break;
            }
            removed += 1;
        }
        Ok(removed)
    }

    fn state(&self) -> StreamState {
        let first_ts = if self.msgs == 0 {
            0
        } else {
            self.slots.get(self.first_seq).map_or(0, |slot| slot.time)
        };
        StreamState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: self.subjects.len() as u64,
            num_deleted: if self.msgs == 0 {
                0
            } else {
                (self.last_seq - self.first_seq + 1).saturating_sub(self.msgs)
            },
        }
    }

    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        let start = start.max(self.first_seq);
        if self.msgs == 0 || start > self.last_seq {
            return SimpleState::default();
        }
        if matches_all(filter) {
            let last = self
                .slots
                .iter_back_from(self.last_seq)
                .next()
                .map_or(0, |(seq, _)| seq);
            if start == self.first_seq {
                return SimpleState {
                    msgs: self.msgs,
                    first: self.first_seq,
                    last,
                };
            }
            let Some((first, _)) = self.slots.iter_from(start).next() else {
                return SimpleState::default();
            };
            let msgs = if self.state().num_deleted == 0 {
                last - first + 1
            } else {
                self.slots.count_from(start)
            };
            return SimpleState { msgs, first, last };
        }
        if subjects::is_literal(filter) {
            return self
                .subjects
                .get(filter)
                .map_or_else(SimpleState::default, |s| s.state_from(start));
        }
        self.wildcard_state(start, filter)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.subjects
            .matching(filter)
            .map(|(_, seqs)| (seqs.name().to_string(), seqs.state_from(0)))
            .collect()
    }

    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        if !last_per_subject {
            return self.filtered_state(start, filter).msgs;
        }
        self.subjects
            .matching(filter)
            .filter(|(_, seqs)| seqs.last().is_some_and(|last| last >= start))
            .count() as u64
    }

    fn deleted(&self) -> Vec<Seq> {
        let num_deleted = self.state().num_deleted;
        if num_deleted == 0 {
            return Vec::new();
        }
        // The holes between consecutive stored sequences, then after the last stored one.
        let mut holes = Vec::with_capacity(usize::try_from(num_deleted).unwrap_or(0));
        let mut next = self.first_seq;
        for (seq, _) in self.slots.iter_from(self.first_seq) {
            holes.extend(next..seq);
            next = seq + 1;
        }
        holes.extend(next..=self.last_seq);
        holes
    }

    fn sync(&mut self) -> Result<Synced, StoreError> {
        self.check_open()?;
        Ok(Synced::Durable)
    }

    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.check_open()?;
        self.consumers.insert(name.to_string(), record);
        Ok(())
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.check_open()?;
        self.consumers.remove(name);
        Ok(())
    }

    fn consumers(&self) -> Result<BTreeMap<String, ConsumerRecord>, StoreError> {
        self.check_open()?;
        Ok(self.consumers.clone())
    }

    fn delete(&mut self) -> Result<(), StoreError> {
        self.check_open()?;
        *self = MemoryStore {
            closed: true,
            ..MemoryStore::default()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(super::MemoryStore::new());

    #[test]
    fn a_boxed_store_goes_through_the_suite_helper() {
        use crate::core::store::conformance::{self, AsDynStore};
        let mut store: Box<dyn crate::core::store::StreamStore> =
            Box::new(super::MemoryStore::new());
        conformance::sequences_start_at_one_and_grow(store.as_dyn());
    }
}
