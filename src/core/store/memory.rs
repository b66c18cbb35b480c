//! The in-memory stream store: messages in a `BTreeMap` by sequence, with a per-subject index.
//!
//! Used for `storage: memory` streams on the server, in Node and edge workers, and as the reference
//! implementation the other stores are checked against.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use super::{ConsumerRecord, Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore};
use crate::core::subject;
use crate::core::time::Nanos;

/// Per-subject bookkeeping: the sequences stored on one subject, ascending.
#[derive(Debug, Default)]
struct SubjectSeqs(BTreeSet<Seq>);

/// A stream store held entirely in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    msgs: BTreeMap<Seq, StoredMsg>,
    subjects: HashMap<String, SubjectSeqs>,
    first_seq: Seq,
    last_seq: Seq,
    last_ts: Nanos,
    bytes: u64,
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

    fn next_seq(&mut self, now: Nanos) -> Seq {
        self.last_seq += 1;
        self.last_ts = now;
        if self.msgs.is_empty() && self.first_seq < self.last_seq {
            self.first_seq = self.last_seq;
        }
        self.last_seq
    }

    fn remove_inner(&mut self, seq: Seq) -> bool {
        let Some(msg) = self.msgs.remove(&seq) else {
            return false;
        };
        self.bytes -= msg.size();
        if let Some(seqs) = self.subjects.get_mut(&msg.subject) {
            seqs.0.remove(&seq);
            if seqs.0.is_empty() {
                self.subjects.remove(&msg.subject);
            }
        }
        self.first_seq = self
            .msgs
            .keys()
            .next()
            .copied()
            .unwrap_or(self.last_seq + 1);
        true
    }

    fn matching_seqs(&self, filter: &str) -> Vec<Seq> {
        if matches_all(filter) {
            return self.msgs.keys().copied().collect();
        }
        let mut seqs: Vec<Seq> = self
            .subjects
            .iter()
            .filter(|(s, _)| subject::matches(filter, s))
            .flat_map(|(_, seqs)| seqs.0.iter().copied())
            .collect();
        seqs.sort_unstable();
        seqs
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
        let seq = self.next_seq(now);
        let msg = StoredMsg {
            subject: subject.to_string(),
            seq,
            time: now,
            headers,
            payload,
        };
        self.bytes += msg.size();
        self.subjects
            .entry(msg.subject.clone())
            .or_default()
            .0
            .insert(seq);
        self.msgs.insert(seq, msg);
        Ok(seq)
    }

    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        self.check_open()?;
        let seq = self.next_seq(now);
        if self.msgs.is_empty() {
            self.first_seq = seq + 1;
        }
        Ok(seq)
    }

    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        self.msgs.get(&seq).cloned().ok_or(StoreError::NotFound)
    }

    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        if matches_all(filter) {
            return self
                .msgs
                .range(start..)
                .next()
                .map(|(_, m)| m.clone())
                .ok_or(StoreError::Eof);
        }
        if subject::is_literal(filter) {
            let seqs = self.subjects.get(filter).ok_or(StoreError::Eof)?;
            let seq = seqs.0.range(start..).next().ok_or(StoreError::Eof)?;
            return self.load_msg(*seq);
        }
        self.msgs
            .range(start..)
            .map(|(_, m)| m)
            .find(|m| subject::matches(filter, &m.subject))
            .cloned()
            .ok_or(StoreError::Eof)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.check_open()?;
        let last = if matches_all(filter) {
            self.msgs.keys().next_back().copied()
        } else {
            self.subjects
                .iter()
                .filter(|(s, _)| subject::matches(filter, s))
                .filter_map(|(_, seqs)| seqs.0.iter().next_back().copied())
                .max()
        };
        last.ok_or(StoreError::NotFound)
            .and_then(|seq| self.load_msg(seq))
    }

    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        self.check_open()?;
        Ok(self.remove_inner(seq))
    }

    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        self.check_open()?;
        let mut seqs = self.matching_seqs(filter);
        if below_seq > 0 {
            seqs.retain(|s| *s < below_seq);
        }
        if keep > 0 {
            let all = self.matching_seqs(filter);
            let keep_from = all.len().saturating_sub(keep as usize);
            let kept: BTreeSet<Seq> = all[keep_from..].iter().copied().collect();
            seqs.retain(|s| !kept.contains(s));
        }
        let mut removed = 0;
        for seq in seqs {
            if self.remove_inner(seq) {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        self.check_open()?;
        let below: Vec<Seq> = self.msgs.range(..seq).map(|(s, _)| *s).collect();
        let removed = below.len() as u64;
        for s in below {
            self.remove_inner(s);
        }
        if seq > self.last_seq {
            self.last_seq = seq - 1;
            self.first_seq = seq;
        } else if self.msgs.is_empty() {
            self.first_seq = self.last_seq + 1;
        } else if self.first_seq < seq {
            self.first_seq = self.msgs.keys().next().copied().unwrap_or(seq);
        }
        Ok(removed)
    }

    fn state(&self) -> StreamState {
        let first = self.msgs.values().next();
        StreamState {
            msgs: self.msgs.len() as u64,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: first.map_or(0, |m| m.time),
            last_seq: self.last_seq,
            last_ts: if self.last_seq == 0 { 0 } else { self.last_ts },
            num_subjects: self.subjects.len() as u64,
            num_deleted: if self.msgs.is_empty() {
                0
            } else {
                (self.last_seq - self.first_seq + 1) - self.msgs.len() as u64
            },
        }
    }

    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        let seqs: Vec<Seq> = self
            .matching_seqs(filter)
            .into_iter()
            .filter(|s| *s >= start)
            .collect();
        SimpleState {
            msgs: seqs.len() as u64,
            first: seqs.first().copied().unwrap_or(0),
            last: seqs.last().copied().unwrap_or(0),
        }
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.subjects
            .iter()
            .filter(|(s, _)| matches_all(filter) || subject::matches(filter, s))
            .map(|(s, seqs)| {
                let state = SimpleState {
                    msgs: seqs.0.len() as u64,
                    first: seqs.0.iter().next().copied().unwrap_or(0),
                    last: seqs.0.iter().next_back().copied().unwrap_or(0),
                };
                (s.clone(), state)
            })
            .collect()
    }

    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        if last_per_subject {
            return self
                .subjects_state(filter)
                .values()
                .filter(|s| s.last >= start)
                .count() as u64;
        }
        self.filtered_state(start, filter).msgs
    }

    fn deleted(&self) -> Vec<Seq> {
        if self.msgs.is_empty() {
            return Vec::new();
        }
        (self.first_seq..=self.last_seq)
            .filter(|s| !self.msgs.contains_key(s))
            .collect()
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.check_open()
    }

    fn save_consumer(&mut self, name: &str, record: &ConsumerRecord) -> Result<(), StoreError> {
        self.check_open()?;
        self.consumers.insert(name.to_string(), record.clone());
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
        *self = MemoryStore {
            closed: true,
            ..MemoryStore::default()
        };
        Ok(())
    }
}
