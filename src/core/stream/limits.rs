//! Limits and discard policies (`max_msgs`, `max_bytes`, `max_msgs_per_subject`, `max_age`),
//! as nats-server's memory store enforces them (`storeRawMsg`, `enforce*Limit`, `expireMsgs`).
//!
//! - Discard new refuses a message that would go over `max_msgs` or `max_bytes` with
//!   `StreamStoreFailed` (10077) and the store's text; a subject at `max_msgs_per_subject` is
//!   refused only with `discard_new_per_subject`, and otherwise makes room by dropping its oldest.
//! - Discard old stores first, then drops the oldest messages until the stream fits.
//! - The per-subject limit always drops the subject's oldest, whatever the discard policy.
//! - `max_age` removes messages whose time is `<= now - max_age`, when [`Stream::expire`] runs;
//!   with `allow_msg_ttl`, a message that says `Nats-TTL: never` stays, and the messages it lets
//!   go of go as `ttl.rs` says (subject delete markers).
//!
//! With every limit unset (-1, the default) a publish does no limit work beyond comparisons.

use super::removals::{note, Removal};
use super::{DiscardPolicy, Stream, StreamConfig};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::{StoreError, StreamStore};
use crate::core::time::Nanos;

/// nats-server's texts for a discard-new refusal (`ErrMaxMsgs` and friends).
const MAX_MSGS_EXCEEDED: &str = "maximum messages exceeded";
const MAX_BYTES_EXCEEDED: &str = "maximum bytes exceeded";
const MAX_MSGS_PER_SUBJECT_EXCEEDED: &str = "maximum messages per subject exceeded";

fn refused(text: &str) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamStoreFailed, text)
}

fn general(e: StoreError) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamGeneralError, e)
}

/// A positive limit as a count; `None` when unlimited.
fn limit(value: i64) -> Option<u64> {
    u64::try_from(value).ok().filter(|v| *v > 0)
}

impl Stream {
    /// Under discard new, refuses a message of `size` bytes on `subject` that would break a
    /// limit. `rollup` messages pass the per-subject check: they make room once stored.
    pub(super) fn check_discard_new(
        &self,
        subject: &str,
        size: u64,
        rollup: bool,
    ) -> Result<(), ApiError> {
        let cfg = &self.config;
        if cfg.discard != DiscardPolicy::New {
            return Ok(());
        }
        let (max_msgs, max_bytes) = (limit(cfg.max_msgs), limit(cfg.max_bytes));
        let stream_limited = max_msgs.is_some() || max_bytes.is_some();
        // The subject's count matters to the per-subject refusal and to the stream limits.
        let per_subject = limit(cfg.max_msgs_per_subject)
            .filter(|_| cfg.discard_new_per_subject || stream_limited);
        if per_subject.is_none() && !stream_limited {
            return Ok(());
        }
        // At its subject's limit, the message replaces that subject's oldest instead of adding.
        let on_subject = per_subject.map(|max| (max, self.store.filtered_state(0, subject)));
        let at_subject_limit = on_subject.is_some_and(|(max, ss)| ss.msgs >= max);
        if at_subject_limit && cfg.discard_new_per_subject && !rollup {
            return Err(refused(MAX_MSGS_PER_SUBJECT_EXCEEDED));
        }
        if !stream_limited {
            return Ok(());
        }
        let state = self.store.state();
        if max_msgs.is_some_and(|max| state.msgs >= max) && !at_subject_limit {
            return Err(refused(MAX_MSGS_EXCEEDED));
        }
        if let Some(max) = max_bytes {
            if state.bytes.saturating_add(size) > max {
                if !at_subject_limit {
                    return Err(refused(MAX_BYTES_EXCEEDED));
                }
                // Dropping the subject's oldest must free at least as much as the new one takes.
                let oldest = on_subject.map_or(0, |(_, ss)| ss.first);
                let freed = self.store.load_msg(oldest).map_or(0, |m| m.size());
                if freed < size {
                    return Err(refused(MAX_BYTES_EXCEEDED));
                }
            }
        }
        Ok(())
    }

    /// After a store: trims `subject` to its per-subject limit, then (discard old) the stream to
    /// `max_msgs` and `max_bytes`, oldest first.
    ///
    /// The message is stored by now, so a store that fails to remove is left over its limit
    /// rather than turning a stored message into a failed publish.
    pub(super) fn enforce_after_store(&mut self, subject: &str) {
        if let Some(max) = limit(self.config.max_msgs_per_subject) {
            trim_subject(self.store.as_mut(), subject, max, &mut self.removals);
        }
        if self.config.discard == DiscardPolicy::Old {
            trim_stream(self.store.as_mut(), &self.config, &mut self.removals);
        }
    }

    /// After an update: applies limits that became tighter than `old`'s.
    pub(super) fn enforce_on_update(&mut self, old: &StreamConfig) -> Result<(), ApiError> {
        if self.config.discard == DiscardPolicy::Old {
            trim_stream(self.store.as_mut(), &self.config, &mut self.removals);
        }
        let (new_max, old_max) = (
            limit(self.config.max_msgs_per_subject),
            limit(old.max_msgs_per_subject),
        );
        if let Some(max) = new_max.filter(|n| old_max.is_none_or(|o| n < &o)) {
            let over: Vec<String> = self
                .store
                .subjects_state(">")
                .into_iter()
                .filter(|(_, ss)| ss.msgs > max)
                .map(|(subject, _)| subject)
                .collect();
            for subject in over {
                self.store.purge(&subject, 0, max).map_err(general)?;
                self.note_removal(Removal::Purge { filter: subject });
            }
        }
        Ok(())
    }

    /// Removes messages older than `max_age` or past their TTL, and forgets message ids older
    /// than the duplicate window. Returns how many messages were removed.
    pub fn expire(&mut self, now: Nanos) -> Result<u64, ApiError> {
        let mut removed = 0;
        let max_age = self.config.max_age;
        if max_age > 0 {
            let cutoff = now.saturating_sub(max_age);
            removed += if self.config.allow_msg_ttl {
                self.expire_aged(cutoff)?
            } else {
                self.expire_oldest(cutoff)?
            };
        }
        removed += self.expire_ttls(now)?;
        self.dedup.expire(now, self.config.duplicate_window);
        Ok(removed)
    }

    /// `max_age` when no message can say "never": remove the first message while it is old.
    fn expire_oldest(&mut self, cutoff: Nanos) -> Result<u64, ApiError> {
        let mut removed = 0;
        // Each pass removes the first message or stops, so this ends within `msgs` passes.
        loop {
            let state = self.store.state();
            if state.msgs == 0 || state.first_ts > cutoff {
                break;
            }
            if !self.store.remove_msg(state.first_seq).map_err(general)? {
                break;
            }
            self.note_removal(Removal::Msg(state.first_seq));
            removed += 1;
        }
        Ok(removed)
    }

    /// `max_age` with TTLs: messages at or before `cutoff` go, from the ageing floor on,
    /// except those that say "never", which move the floor past them.
    fn expire_aged(&mut self, cutoff: Nanos) -> Result<u64, ApiError> {
        let mut removed = 0;
        let mut seq = self.aged_floor.max(self.store.state().first_seq);
        let mut floor_moves = true;
        // Each step moves past one stored message, so this ends within `msgs` steps.
        while let Ok(msg) = self.store.load_next_msg("", seq) {
            if msg.time > cutoff {
                break;
            }
            seq = msg.seq + 1;
            if super::ttl::never_expires(&msg) {
                if floor_moves {
                    self.aged_floor = seq;
                }
                continue;
            }
            if self.let_go(&msg)? {
                removed += 1;
            } else {
                // Left for its marker (still stored): the floor may not pass it.
                floor_moves = false;
            }
        }
        Ok(removed)
    }

    /// When [`Stream::expire`] next has work: the oldest message reaching `max_age` (past those
    /// that never expire), the first TTL, or the oldest remembered message id leaving the
    /// duplicate window.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let aged = (self.config.max_age > 0)
            .then(|| self.oldest_ageing())
            .flatten()
            .map(|time| time.saturating_add(self.config.max_age));
        let dedup = self.dedup.next_deadline(self.config.duplicate_window);
        [aged, self.ttls.next(), dedup].into_iter().flatten().min()
    }

    /// The time of the oldest message `max_age` applies to.
    fn oldest_ageing(&self) -> Option<Nanos> {
        let state = self.store.state();
        if state.msgs == 0 {
            return None;
        }
        if self.aged_floor <= state.first_seq {
            return Some(state.first_ts);
        }
        self.store
            .load_next_msg("", self.aged_floor)
            .ok()
            .map(|m| m.time)
    }
}

/// Drops `subject`'s oldest messages until it holds at most `max`. Asks the store for the
/// subject's totals once: a publish over a per-subject limit usually removes exactly one.
fn trim_subject(store: &mut dyn StreamStore, subject: &str, max: u64, removals: &mut Vec<Removal>) {
    let ss = store.filtered_state(0, subject);
    let mut excess = ss.msgs.saturating_sub(max);
    let mut oldest = ss.first;
    // Each pass removes one message or stops.
    while excess > 0 {
        if !matches!(store.remove_msg(oldest), Ok(true)) {
            break;
        }
        note(removals, Removal::Msg(oldest));
        excess -= 1;
        if excess > 0 {
            match store.load_next_msg(subject, oldest + 1) {
                Ok(msg) => oldest = msg.seq,
                Err(_) => break,
            }
        }
    }
}

/// Drops the stream's oldest messages until it fits `max_msgs` and `max_bytes`.
fn trim_stream(store: &mut dyn StreamStore, cfg: &StreamConfig, removals: &mut Vec<Removal>) {
    let (max_msgs, max_bytes) = (limit(cfg.max_msgs), limit(cfg.max_bytes));
    if max_msgs.is_none() && max_bytes.is_none() {
        return;
    }
    // Each pass removes one message or stops.
    loop {
        let state = store.state();
        let over = max_msgs.is_some_and(|max| state.msgs > max)
            || max_bytes.is_some_and(|max| state.bytes > max);
        if !over || state.msgs == 0 || !matches!(store.remove_msg(state.first_seq), Ok(true)) {
            break;
        }
        note(removals, Removal::Msg(state.first_seq));
    }
}
