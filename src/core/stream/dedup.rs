//! The duplicate-detection table: `Nats-Msg-Id` → the sequence it was stored at.
//!
//! An id is a duplicate while `now - stored_at < duplicate_window`. Entries are checked against
//! the window on lookup, so a repeat after the window is stored anew even when
//! [`Dedup::expire`] has not run yet. Expired ids are dropped, oldest first, on every insert (so
//! the table stays bounded by what one window holds even if the caller never expires) and by
//! `expire`, which also gives memory back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::core::store::Seq;
use crate::core::time::Nanos;

/// One remembered id: where it was stored and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: Seq,
    ts: Nanos,
}

/// Message ids seen within the duplicate window.
#[derive(Debug, Default)]
pub(super) struct Dedup {
    by_id: HashMap<Arc<str>, Entry>,
    /// Insertion order (oldest first) for expiry. An id stored again after its window has a
    /// second, newer record here; the older one is recognised by its sequence and skipped.
    order: VecDeque<(Arc<str>, Entry)>,
}

impl Dedup {
    /// The sequence `id` was stored at, if that was less than `window` ago.
    pub(super) fn lookup(&self, id: &str, now: Nanos, window: Nanos) -> Option<Seq> {
        let entry = self.by_id.get(id)?;
        (now.saturating_sub(entry.ts) < window).then_some(entry.seq)
    }

    /// Remembers that `id` was stored at `seq` at time `ts`. A window of 0 disables dedup.
    pub(super) fn insert(&mut self, id: &str, seq: Seq, ts: Nanos, window: Nanos) {
        if window <= 0 {
            return;
        }
        self.drop_expired(ts, window);
        let id: Arc<str> = Arc::from(id);
        let entry = Entry { seq, ts };
        self.by_id.insert(Arc::clone(&id), entry);
        self.order.push_back((id, entry));
    }

    /// Forgets ids older than `window` and gives back the memory of a drained table; returns
    /// how many were forgotten.
    pub(super) fn expire(&mut self, now: Nanos, window: Nanos) -> usize {
        let forgotten = self.drop_expired(now, window);
        if self.order.is_empty() {
            self.order.shrink_to_fit();
            self.by_id.shrink_to_fit();
        }
        forgotten
    }

    /// Forgets ids older than `window`, oldest first; each call costs one step per id dropped.
    fn drop_expired(&mut self, now: Nanos, window: Nanos) -> usize {
        let mut forgotten = 0;
        while let Some((id, entry)) = self.order.front() {
            if window > 0 && now.saturating_sub(entry.ts) < window {
                break;
            }
            if self.by_id.get(id) == Some(entry) {
                self.by_id.remove(id);
                forgotten += 1;
            }
            self.order.pop_front();
        }
        forgotten
    }

    /// When the oldest remembered id leaves the window.
    pub(super) fn next_deadline(&self, window: Nanos) -> Option<Nanos> {
        self.order
            .front()
            .map(|(_, entry)| entry.ts.saturating_add(window.max(0)))
    }

    /// Ids currently remembered (expired ones included until [`Dedup::expire`] runs).
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}
