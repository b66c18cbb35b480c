//! Where a new consumer starts (nats-server's `selectStartingSeqNo`), how the next matching
//! message is found, and the running count of messages left to deliver (`num_pending`).
//!
//! The count is kept incrementally, as nats-server keeps `npc`: it is computed once from the
//! store, decremented per first delivery, and raised for messages stored since (`npf` is the
//! highest stream sequence counted). Removals make it stale and it is recounted on demand.

use std::collections::VecDeque;

use super::{Consumer, DeliverPolicy, SkipList};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::{StoreError, StoredMsg, StreamState, StreamStore};
use crate::core::time::Nanos;

impl Consumer {
    /// The first stream sequence to deliver, and the skip list of a `last_per_subject` start.
    pub(super) fn select_start(
        &self,
        store: &dyn StreamStore,
    ) -> Result<(u64, Option<SkipList>), ApiError> {
        let state = store.state();
        let opt_seq = self.config.opt_start_seq.filter(|s| *s > 0);
        let mut lss = None;
        let mut sseq = match opt_seq {
            Some(seq) => seq,
            None => match self.config.deliver_policy {
                DeliverPolicy::All | DeliverPolicy::ByStartSequence => state.first_seq,
                DeliverPolicy::Last => self.last_matching_seq(store, &state)?,
                DeliverPolicy::LastPerSubject => {
                    let seqs = self.last_seq_per_subject(store);
                    let first = seqs.front().copied().unwrap_or(state.last_seq);
                    lss = Some(SkipList {
                        resume: state.last_seq,
                        seqs,
                    });
                    first
                }
                DeliverPolicy::ByStartTime => match self.config.opt_start_time {
                    Some(t) => seq_from_time(store, &state, t),
                    None => state.last_seq + 1,
                },
                DeliverPolicy::New => state.last_seq + 1,
            },
        };
        if state.first_seq == 0 && opt_seq.is_none() {
            // Nothing was ever stored: start with the first message that will be.
            sseq = 1;
        } else if sseq > state.last_seq && opt_seq.is_none() {
            sseq = state.last_seq + 1;
        } else if sseq < state.first_seq {
            // Those messages are gone; start at the first still there.
            sseq = state.first_seq;
        }
        Ok((sseq.max(1), lss))
    }

    /// The last sequence matching the filters (the stream's last without filters).
    fn last_matching_seq(
        &self,
        store: &dyn StreamStore,
        state: &StreamState,
    ) -> Result<u64, ApiError> {
        if self.filters.is_empty() {
            return Ok(state.last_seq);
        }
        let mut last = 0;
        for filter in &self.filters {
            match store.load_last_msg(filter) {
                Ok(msg) => last = last.max(msg.seq),
                Err(StoreError::NotFound | StoreError::Eof) => {}
                Err(e) => return Err(ApiError::with_detail(ErrorKind::ConsumerCreate, e)),
            }
        }
        Ok(last)
    }

    /// The last sequence of every subject matching the filters, ascending.
    fn last_seq_per_subject(&self, store: &dyn StreamStore) -> VecDeque<u64> {
        let filters: Vec<&str> = if self.filters.is_empty() {
            vec![""]
        } else {
            self.filters.iter().map(String::as_str).collect()
        };
        let mut seqs: Vec<u64> = filters
            .iter()
            .flat_map(|f| store.subjects_state(f).into_values().map(|s| s.last))
            .filter(|s| *s > 0)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.into()
    }

    /// The first message at or after `start` that passes the filters; `None` at the end.
    pub(super) fn next_matching(
        &self,
        store: &dyn StreamStore,
        start: u64,
    ) -> Result<Option<StoredMsg>, StoreError> {
        let found = match self.filters.as_slice() {
            [] => store.load_next_msg("", start).map(Some),
            [only] => store.load_next_msg(only, start).map(Some),
            many => {
                let mut best: Option<StoredMsg> = None;
                for filter in many {
                    match store.load_next_msg(filter, start) {
                        Ok(msg) if best.as_ref().is_none_or(|b| msg.seq < b.seq) => {
                            best = Some(msg)
                        }
                        Ok(_) | Err(StoreError::Eof | StoreError::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(best)
            }
        };
        match found {
            Err(StoreError::Eof | StoreError::NotFound) => Ok(None),
            other => other,
        }
    }

    /// Counts the messages left to deliver from scratch.
    pub(super) fn recount_pending(&mut self, store: &dyn StreamStore) {
        self.npc = i64::try_from(self.count_from_store(store)).unwrap_or(i64::MAX);
        self.npf = store.state().last_seq;
        self.npc_stale = false;
    }

    fn count_from_store(&self, store: &dyn StreamStore) -> u64 {
        let last_per_subject = self.config.deliver_policy == DeliverPolicy::LastPerSubject;
        if self.filters.is_empty() {
            return store.num_pending(self.sseq, "", last_per_subject);
        }
        // Filters never overlap (validation), so their counts add up.
        self.filters
            .iter()
            .map(|f| store.num_pending(self.sseq, f, last_per_subject))
            .sum()
    }

    /// Brings the count up to date with messages stored since it was last counted.
    pub(super) fn refresh_pending(&mut self, store: &dyn StreamStore) {
        if self.npc_stale {
            self.recount_pending(store);
            return;
        }
        let last = store.state().last_seq;
        if last > self.npf {
            let added = self.count_new(store, last);
            self.npc = self.npc.saturating_add(added);
            self.npf = last;
        }
    }

    /// Matching messages with sequences in `(npf, last]` at or after `sseq`.
    fn count_new(&self, store: &dyn StreamStore, last: u64) -> i64 {
        let mut count = 0;
        let mut seq = (self.npf + 1).max(self.sseq);
        while seq <= last {
            match self.next_matching(store, seq) {
                Ok(Some(msg)) if msg.seq <= last => {
                    count += 1;
                    seq = msg.seq + 1;
                }
                _ => break,
            }
        }
        count
    }

    /// Messages left to deliver as ConsumerInfo reports them: the running count brought up to
    /// date, and never more than the stream could hold (nats-server's `checkNumPending`).
    pub(super) fn num_pending_now(&self, store: &dyn StreamStore) -> u64 {
        let state = store.state();
        let npc = if self.npc_stale {
            i64::try_from(self.count_from_store(store)).unwrap_or(i64::MAX)
        } else if state.last_seq > self.npf {
            self.npc
                .saturating_add(self.count_new(store, state.last_seq))
        } else {
            self.npc
        };
        let npc = u64::try_from(npc).unwrap_or(0);
        if self.sseq > state.last_seq {
            return 0;
        }
        npc.min(state.msgs).min(state.last_seq - self.sseq + 1)
    }

    /// The stream stored `seq` on `subject`: counts it at once (optional; [`Consumer::poll`]
    /// finds new messages by itself, this only saves it the lookups).
    pub fn on_stored(&mut self, seq: u64, subject: &str) {
        if self.npc_stale || seq != self.npf + 1 {
            return;
        }
        if seq >= self.sseq && self.filter_matches(subject) {
            self.npc += 1;
        }
        self.npf = seq;
    }
}

/// The first sequence whose message was stored at or after `t` (the last sequence + 1 when none
/// was), by binary search over the stream's sequences. Stored times never go backwards.
fn seq_from_time(store: &dyn StreamStore, state: &StreamState, t: Nanos) -> u64 {
    // Find the smallest `s` whose next message at or after `s` is at or after `t` (or missing).
    let (mut lo, mut hi) = (state.first_seq, state.last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.load_next_msg("", mid) {
            Ok(msg) if msg.time < t => lo = msg.seq + 1,
            _ => hi = mid,
        }
    }
    lo
}
