//! Retention: when a work-queue or interest stream lets go of a message.
//!
//! Limits streams keep messages until a limit removes them (the stream layer does that). A
//! work-queue or interest stream removes a message once no consumer whose filter matches it
//! still needs it: every such consumer has acknowledged it (or, with `ack_policy: none`, been
//! handed it). On a work-queue stream that is its one consumer for the subject, plus any
//! mirror's or source's `direct` consumer: a message stays until the copy has it too, as
//! nats-server's `ackMsg` / `noInterest` decide for both retentions.
//!
//! Whatever removed a message (retention, a limit, age, a delete or a purge), its consumers hear
//! of it through [`Engine::apply_removals`], as nats-server's stores call back into the stream:
//! a pending delivery of a removed message stops holding a `max_ack_pending` slot at once.

use super::Engine;
use crate::core::stream::{Removal, RetentionPolicy};
use crate::core::time::Nanos;

impl Engine {
    /// Applies the stream's retention to sequences a consumer just acknowledged.
    pub(crate) fn apply_acks(&mut self, stream: &str, acked: &[u64]) {
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        let retention = slot.stream.config().retention;
        if retention == RetentionPolicy::Limits || acked.is_empty() {
            return;
        }
        let mut removed = false;
        for &seq in acked {
            let release = match slot.stream.store().load_msg(seq) {
                Ok(msg) => !slot
                    .consumers
                    .values()
                    .any(|c| c.needs_ack(seq, &msg.subject)),
                Err(_) => false,
            };
            if release && slot.stream.remove_msg(seq).unwrap_or(false) {
                removed = true;
            }
        }
        if removed {
            self.mark_dirty(stream);
            self.apply_removals(stream);
        }
    }

    /// Applies the stream's retention to what its `ack_policy: none` consumers delivered since
    /// the last call (a delivery is their ack).
    pub(crate) fn release_deliveries(&mut self, stream: &str) {
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        let mut delivered = Vec::new();
        for consumer in slot.consumers.values_mut() {
            delivered.append(&mut consumer.take_released());
        }
        self.apply_acks(stream, &delivered);
    }

    /// Tells the consumers of `stream` what the stream removed since the last call (see
    /// `stream/removals.rs`): single removals terminate pending deliveries, purges move the
    /// consumers' floors as nats-server's `consumer.purge` does. The caller polls the consumers
    /// afterwards, so freed `max_ack_pending` slots deliver at once.
    pub(crate) fn apply_removals(&mut self, stream: &str) {
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        let removals = slot.stream.take_removals();
        if removals.is_empty() || slot.consumers.is_empty() {
            return;
        }
        let store = slot.stream.store();
        let state = store.state();
        for removal in &removals {
            match removal {
                Removal::Msg(seq) => {
                    for consumer in slot.consumers.values_mut() {
                        consumer.on_removed(*seq);
                    }
                }
                Removal::Purge { filter } => {
                    // Where a consumer reading only purged subjects resumes: the first message
                    // of the purged subject left (0: none, so past the end).
                    let first_left = if filter.is_empty() {
                        state.first_seq
                    } else {
                        store.filtered_state(state.first_seq, filter).first
                    };
                    for consumer in slot.consumers.values_mut() {
                        match consumer.purge_scope(filter) {
                            Some(false) => {
                                consumer.on_purge(first_left, state.last_seq, false, store)
                            }
                            Some(true) => {
                                consumer.on_purge(state.first_seq, state.last_seq, true, store)
                            }
                            None => {}
                        }
                    }
                }
                Removal::Many => {
                    for consumer in slot.consumers.values_mut() {
                        consumer.on_removed_many(store);
                    }
                }
            }
        }
    }

    /// After a consumer leaves an interest stream, removes every message that no remaining
    /// consumer needs.
    ///
    /// After a mirror's or source's `direct` consumer (`direct_left`) leaves a work-queue
    /// stream, removes the messages every remaining consumer whose filter matches has taken (at
    /// least one such): a copy that came back with a new consumer while its old one still lived
    /// (a restart, a link cut) took messages the old one still held, and nothing else would let
    /// go of them. Work nobody has taken stays. nats-server sweeps interest streams only; 2.14
    /// reaches the same end on a work queue by keeping one durable consumer per copy.
    pub(crate) fn sweep_interest(&mut self, stream: &str, direct_left: bool, _now: Nanos) {
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        let work_queue = match slot.stream.config().retention {
            RetentionPolicy::Interest => false,
            RetentionPolicy::WorkQueue if direct_left => true,
            _ => return,
        };
        let mut doomed = Vec::new();
        let mut next = slot.stream.state().first_seq;
        while let Ok(msg) = slot.stream.store().load_next_msg("", next) {
            let (seq, subject) = (msg.seq, msg.subject.as_str());
            let mut consumers = slot.consumers.values();
            let needed = consumers.clone().any(|c| c.needs_ack(seq, subject));
            let taken = !work_queue || consumers.any(|c| c.filter_matches(subject));
            if taken && !needed {
                doomed.push(seq);
            }
            next = seq + 1;
        }
        for seq in &doomed {
            let _ = slot.stream.remove_msg(*seq);
        }
        if !doomed.is_empty() {
            self.mark_dirty(stream);
            self.apply_removals(stream);
        }
    }
}

#[cfg(test)]
#[path = "removal_tests.rs"]
mod removal_tests;
