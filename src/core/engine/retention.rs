//! Retention: when a work-queue or interest stream lets go of a message.
//!
//! Limits streams keep messages until a limit removes them (the stream layer does that). A
//! work-queue stream removes a message once its one consumer acknowledges it. An interest stream
//! removes a message once no consumer whose filter matches it still needs it: every such
//! consumer has acknowledged it (or, with `ack_policy: none`, been handed it).

use super::Engine;
use crate::core::stream::RetentionPolicy;
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
            let release = match retention {
                RetentionPolicy::WorkQueue => true,
                _ => match slot.stream.store().load_msg(seq) {
                    Ok(msg) => !slot
                        .consumers
                        .values()
                        .any(|c| c.needs_ack(seq, &msg.subject)),
                    Err(_) => false,
                },
            };
            if release && slot.stream.remove_msg(seq).unwrap_or(false) {
                removed = true;
                for consumer in slot.consumers.values_mut() {
                    consumer.on_removed(seq);
                }
            }
        }
        if removed {
            self.mark_dirty(stream);
        }
    }

    /// After a consumer leaves an interest or work-queue stream, removes every message that no
    /// remaining consumer needs.
    pub(crate) fn sweep_interest(&mut self, stream: &str, _now: Nanos) {
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        if slot.stream.config().retention != RetentionPolicy::Interest {
            return;
        }
        let mut doomed = Vec::new();
        let mut next = slot.stream.state().first_seq;
        while let Ok(msg) = slot.stream.store().load_next_msg("", next) {
            if !slot
                .consumers
                .values()
                .any(|c| c.needs_ack(msg.seq, &msg.subject))
            {
                doomed.push(msg.seq);
            }
            next = msg.seq + 1;
        }
        for seq in &doomed {
            let _ = slot.stream.remove_msg(*seq);
        }
        if !doomed.is_empty() {
            self.mark_dirty(stream);
        }
    }
}
