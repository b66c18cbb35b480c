//! Taking back a batch whose sync failed, so the publishes it refuses are not stored.
//!
//! nats-server answers a publish its store cannot write with 503 / 10023 and stores nothing.
//! When a stream's sync fails (a full disk), the engine does the same for the publishes of that
//! batch: the store drops what it wrote since its last successful sync
//! ([`crate::core::store::StreamStore::discard_unsynced`]), and the stream and its consumers
//! forget those messages (duplicate ids, deliveries, pending acks), so the next publish takes the
//! first sequence after the durable ones and a refused message is never seen again, even after a
//! restart. The held PubAcks of the dropped messages then leave as refusals (`outbox.rs`).
//!
//! A store whose sync only queues a commit (IndexedDB) is taken back the same way when the
//! shell reports that commit failed (`flush.rs`), never while one is in flight.
//!
//! A pull request whose deliveries are dropped this way gets those slots back (it waits for the
//! next messages, not for its expiry).
//!
//! Only a batch that appended messages (and delivered them) can be taken back this way. When
//! anything else wrote since the last sync (an ack, a removal, a purge, a consumer created) or a
//! publish removed older messages (limits), or the store cannot go back (the memory store, whose
//! sync does not fail), the batch stays queued for the next sync instead: its PubAcks are still
//! refused at once, and like a timed-out publish such a message may be stored later.

use super::StreamSlot;
use crate::core::consumer::parse_ack_subject;
use crate::core::message::Outbound;

impl StreamSlot {
    /// After a failed sync: goes back to the last successful one when only messages were
    /// appended since (see the module doc). Returns whether it did.
    pub(super) fn roll_back_unsynced(&mut self) -> bool {
        let durability = &self.durability;
        // A commit the shell has in flight carries these writes: not ours to take back.
        if durability.has_queued() {
            return false;
        }
        let Some((first_seq, msgs)) = durability.synced_shape else {
            return false;
        };
        let state = self.stream.store().state();
        let synced_seq = durability.synced_seq;
        if durability.other_writes || state.last_seq <= synced_seq {
            return false;
        }
        let appended = state.last_seq - synced_seq;
        let only_appended =
            state.msgs == msgs + appended && (msgs == 0 || state.first_seq == first_seq);
        if !only_appended {
            return false;
        }
        match self.stream.store_mut().discard_unsynced() {
            Ok(true) => {}
            // It cannot (nothing changed), or it failed and refuses writes until reopened: the
            // batch stays queued either way.
            Ok(false) | Err(_) => return false,
        }
        let state = self.stream.store().state();
        self.stream.forget_discarded(state.last_ts);
        for consumer in self.consumers.values_mut() {
            consumer.forget_after(state.last_seq);
        }
        for delivery in self.durability.drop_past(state.last_seq) {
            self.give_back(&delivery);
        }
        true
    }

    /// A delivery to a pull request that was dropped: the request gets its slot back, so it
    /// waits for the next messages rather than for its expiry.
    fn give_back(&mut self, delivery: &Outbound) {
        let Some(ack) = delivery.msg.reply.as_deref().and_then(parse_ack_subject) else {
            return;
        };
        let Some(consumer) = self.consumers.get_mut(&ack.consumer) else {
            return;
        };
        if !consumer.config().is_pull() {
            return;
        }
        // Counted as the consumer counted it against the request's max_bytes.
        let msg = &delivery.msg;
        let size = msg.subject.len()
            + msg.reply.as_ref().map_or(0, String::len)
            + msg.headers.as_ref().map_or(0, |h| h.len())
            + msg.payload.len();
        consumer.give_back(&delivery.to, size);
    }
}
