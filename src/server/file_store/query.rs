//! Read-only questions the store answers from the index alone: filtered lookups, totals per
//! filter and per subject, pending counts and the deleted sequences.

use std::collections::BTreeMap;

use super::index::{matches_all, IdSet, Index, Matcher};
use super::segment_index::Slot;
use crate::core::store::{Seq, SimpleState};
use crate::core::subject;

impl Index {
    /// The first message at or after `start` matching `filter`.
    pub fn next_matching(&self, filter: &str, start: Seq) -> Option<(Seq, usize, Slot)> {
        self.next_with(&self.matcher(filter), start)
    }

    /// The last message matching `filter`.
    pub fn last_matching(&self, filter: &str) -> Option<(Seq, usize, Slot)> {
        self.last_with(&self.matcher(filter))
    }

    fn next_with(&self, matcher: &Matcher, start: Seq) -> Option<(Seq, usize, Slot)> {
        let start = start.max(self.first_seq);
        match matcher {
            Matcher::Nothing => None,
            Matcher::All => self.next_live(start),
            Matcher::Ids { lo, hi, .. } => self
                .live_range(start.max(*lo), *hi)
                .find(|(_, _, slot)| matcher.matches(slot)),
        }
    }

    fn last_with(&self, matcher: &Matcher) -> Option<(Seq, usize, Slot)> {
        match matcher {
            Matcher::Nothing => None,
            Matcher::All => self.prev_live(self.last_seq),
            Matcher::Ids {
                set: IdSet::One(id),
                ..
            } => {
                let seq = self.last_of(*id);
                self.get(seq).map(|(pos, slot)| (seq, pos, slot))
            }
            Matcher::Ids { lo, hi, .. } => self
                .live_range(*lo, *hi)
                .rev()
                .find(|(_, _, slot)| matcher.matches(slot)),
        }
    }

    /// Totals of the messages at or after `start` matching `filter`.
    pub fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        let matcher = self.matcher(filter);
        let Some((first, _, _)) = self.next_with(&matcher, start) else {
            return SimpleState::default();
        };
        let last = self.last_with(&matcher).map_or(0, |(seq, _, _)| seq);
        let msgs = match &matcher {
            Matcher::Nothing => 0,
            Matcher::All => self.count_live_from(first),
            Matcher::Ids {
                set: IdSet::One(id),
                ..
            } if first <= self.first_of(*id) => self.subjects.get(*id).map_or(0, |e| e.msgs),
            Matcher::Ids { set, .. } if first <= self.first_seq => self.total_of(set),
            Matcher::Ids { set, lo, hi } => {
                // Count whichever side of `first` is shorter.
                let count = |from, to| {
                    self.live_range(from, to)
                        .filter(|(_, _, slot)| matcher.matches(slot))
                        .count() as u64
                };
                if first - lo < hi.saturating_sub(first) {
                    self.total_of(set) - count(*lo, first - 1)
                } else {
                    count(first, *hi)
                }
            }
        };
        SimpleState { msgs, first, last }
    }

    /// Live messages at or after `from`, using per-segment counts for whole segments.
    fn count_live_from(&self, from: Seq) -> u64 {
        if from <= self.first_seq {
            return self.msgs;
        }
        let pos = self.segs.partition_point(|s| s.end() <= from);
        self.segs[pos..]
            .iter()
            .map(|seg| {
                if seg.start() >= from {
                    seg.live
                } else {
                    seg.live_in(from, Seq::MAX).count() as u64
                }
            })
            .sum()
    }

    /// Live messages on a set of subjects.
    fn total_of(&self, set: &IdSet) -> u64 {
        let count = |id: u32| self.subjects.get(id).map_or(0, |e| e.msgs);
        match set {
            IdSet::One(id) => count(*id),
            IdSet::Many(ids) => ids
                .iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(id, _)| count(id as u32))
                .sum(),
        }
    }

    /// Totals per subject for the subjects matching `filter`.
    pub fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        let all = matches_all(filter);
        self.subjects
            .iter()
            .filter(|(name, _)| all || subject::matches(filter, name))
            .filter_map(|(name, id)| {
                let entry = self.subjects.get(id)?;
                let state = SimpleState {
                    msgs: entry.msgs,
                    first: self.first_of(id),
                    last: self.last_of(id),
                };
                Some((name.to_string(), state))
            })
            .collect()
    }

    /// Messages at or after `start` matching `filter`, or with `last_per_subject` the matching
    /// subjects whose last message is at or after `start`.
    pub fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        if !last_per_subject {
            return self.filtered_state(start, filter).msgs;
        }
        let all = matches_all(filter);
        self.subjects
            .iter()
            .filter(|(name, _)| all || subject::matches(filter, name))
            .filter(|(_, id)| self.last_of(*id) >= start)
            .count() as u64
    }

    /// Sequences between first and last that hold no message, ascending.
    pub fn deleted(&self) -> Vec<Seq> {
        if self.msgs == 0 {
            return Vec::new();
        }
        let mut gaps = Vec::new();
        let mut expected = self.first_seq;
        for (seq, _, _) in self.live_range(self.first_seq, self.last_seq) {
            gaps.extend(expected..seq);
            expected = seq + 1;
        }
        gaps.extend(expected..=self.last_seq);
        gaps
    }

    /// Time-independent totals: messages, bytes, subjects and deleted count.
    pub fn num_deleted(&self) -> u64 {
        if self.msgs == 0 {
            0
        } else {
            (self.last_seq - self.first_seq + 1) - self.msgs
        }
    }
}
