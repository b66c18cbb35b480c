//! Group commit: one flush per batch, durable now or through a ticket the shell completes.
//!
//! [`Engine::flush`] saves the changed consumers and syncs every store written since the last
//! flush. A store's sync says what it achieved ([`Synced`]):
//! - **durable now** (memory, file): the replies and deliveries it covers are released at once,
//!   and the returned [`FlushTicket`] is already complete (the server's hot path: nothing more
//!   to do);
//! - **queued** (IndexedDB: the commit is the shell's, and asynchronous): what it covers stays
//!   held, and the ticket is pending. The shell commits and then calls [`Engine::flush_done`]
//!   (everything the ticket covered is durable: released) or [`Engine::flush_failed`] (it is
//!   not: the same as a failed sync). Tickets complete in the order they were handed out; a
//!   failed one fails every later one still pending too, since their commits were built on it.
//!
//! A failed sync, now or through a ticket, answers the stream's PubAcks not yet durable with
//! nats-server's refusal (503 / 10023 for a full medium, 10077 otherwise), takes the batch back
//! where it only appended messages (`rollback.rs`), and refuses publishes to the stream at once
//! until a sync of it succeeds; the other streams go on (see `outbox.rs`).

use super::resources::Usage;
use super::{streams, Engine, EngineConfig, StreamSlot};
use crate::core::store::{StoreError, Synced};

/// What one [`Engine::flush`] started: complete at once when every store it synced was durable
/// when its sync returned, else pending until the shell completes it with
/// [`Engine::flush_done`] or [`Engine::flush_failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushTicket {
    id: u64,
    pending: bool,
    error: Option<StoreError>,
}

impl FlushTicket {
    /// Whether some store queued its sync: the shell must commit, then complete the ticket.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// The first failure of a store that failed at once (its replies were answered as a failed
    /// sync answers them; nothing for the shell to do but report it).
    pub fn error(&self) -> Option<&StoreError> {
        self.error.as_ref()
    }

    /// `Err` with [`FlushTicket::error`] when a store failed at once, else `Ok`.
    pub fn result(&self) -> Result<(), StoreError> {
        self.error.clone().map_or(Ok(()), Err)
    }
}

impl Engine {
    /// Saves changed consumers and syncs every store written since the last flush, stream by
    /// stream, then releases every reply and delivery whose data is now durable (see
    /// `outbox.rs`). A stream whose store queued its sync holds what it covers until the
    /// returned ticket is completed ([`Engine::flush_done`] / [`Engine::flush_failed`]).
    ///
    /// A stream whose save or sync fails stays dirty, keeps its consumers marked changed and
    /// holds only its own replies; the others are synced and released as usual, and the first
    /// failure is in the ticket. The PubAcks it held for messages not yet durable leave now as
    /// refusals (503 / 10023 for a full medium), and a batch that only appended messages is
    /// taken back so they are not stored (`rollback.rs`; any other batch stays queued for the
    /// next sync, so like a timed-out publish they may still be stored). Until a sync of the
    /// failing stream succeeds, publishes to it are refused at once, while reads, deliveries
    /// of messages synced before, purges and deletes go on, so a full disk stops nothing else.
    pub fn flush(&mut self) -> FlushTicket {
        // PubAcks of uploads move their cursors, saved in this same sync (`uploads.rs`).
        self.settle_uploads();
        self.mark_changed_consumers_dirty();
        self.last_flush += 1;
        let id = self.last_flush;
        let mut first_error = None;
        let mut queued = Vec::new();
        for name in std::mem::take(&mut self.dirty) {
            let Some(slot) = self.streams.get_mut(&name) else {
                continue;
            };
            // Storage usage follows every store written (purges and removals count again).
            recount_usage(&mut self.usage, &self.config, slot);
            let synced = sync_stream(slot, id);
            if synced.is_ok() && matches!(slot.stream.save_origins(), Ok(true)) {
                // Upload origins' marks after removals (stream/origins.rs): synced next time.
                self.dirty.insert(name.clone());
            }
            match synced {
                Ok(Synced::Durable) => {
                    if !self.failing.is_empty() {
                        self.failing.remove(&name);
                    }
                    if !slot.durability.holds_nothing() {
                        self.holding.insert(name);
                    }
                }
                Ok(Synced::Queued) => queued.push(name),
                Err(Failure::Queued(err)) => {
                    // Its messages are in the queued commit; its consumer state is not, so
                    // the stream is synced again next time and counts as failing until then.
                    self.failing.insert(name.clone(), err.clone());
                    first_error.get_or_insert(err);
                    self.dirty.insert(name.clone());
                    queued.push(name);
                }
                Err(Failure::Now(err)) => {
                    self.sync_failed(&name, &err);
                    first_error.get_or_insert(err);
                }
            }
        }
        let pending = !queued.is_empty();
        if pending {
            self.in_flight.insert(id, queued);
        }
        self.release_held();
        self.send_uploads();
        FlushTicket {
            id,
            pending,
            error: first_error,
        }
    }

    /// The shell's commit of `ticket` (and of every earlier one still pending) succeeded: what
    /// their queued syncs covered is durable, and the replies and deliveries waiting for it are
    /// released. A ticket that is not pending changes nothing.
    pub fn flush_done(&mut self, ticket: FlushTicket) {
        let later = self.in_flight.split_off(&(ticket.id + 1));
        let done = std::mem::replace(&mut self.in_flight, later);
        for (id, names) in done {
            for name in names {
                let Some(slot) = self.streams.get_mut(&name) else {
                    continue;
                };
                let (completed, whole) = slot.durability.queued_done(id);
                for _ in 0..completed {
                    slot.stream.store_mut().queued_sync_done();
                }
                if whole && !self.dirty.contains(&name) {
                    self.failing.remove(&name);
                }
                if !slot.durability.holds_nothing() {
                    self.holding.insert(name);
                }
            }
        }
        self.release_held();
        // What the commit made durable may be uploaded now.
        self.send_uploads();
    }

    /// The shell's commit of `ticket` failed with `error`: every stream it queued is treated as
    /// a stream whose sync failed (see [`Engine::flush`]): its PubAcks not yet durable are
    /// answered with the refusal for `error`, a batch of appends is taken back, and publishes
    /// to it are refused at once until a later flush's sync of it completes. Later tickets
    /// still pending fail with it (their commits were built on this one); the shell completes
    /// nothing more for them.
    pub fn flush_failed(&mut self, ticket: FlushTicket, error: StoreError) {
        let failed = self.in_flight.split_off(&ticket.id);
        let mut names: Vec<String> = failed.into_values().flatten().collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let Some(slot) = self.streams.get_mut(&name) else {
                continue;
            };
            if slot.durability.queued_failed(ticket.id) > 0 {
                slot.stream.store_mut().queued_sync_failed();
            }
            self.sync_failed(&name, &error);
        }
        self.release_held();
    }

    /// Whether some stream's sync failed and it still holds writes it could not take back
    /// (publishes to it are refused at once until a sync of it succeeds; see
    /// [`Engine::flush`]). The browser shell asks after [`Engine::flush_failed`].
    pub fn has_failing_streams(&self) -> bool {
        !self.failing.is_empty()
    }

    /// What a failed sync of stream `name` does (see [`Engine::flush`]): back to its last sync
    /// when only publishes wrote since (`rollback.rs`), its publishes not yet durable answered
    /// now rather than when space is freed, and, when unsynced writes are left (it could not
    /// go back), publishes refused until a sync succeeds. A stream that went back holds
    /// nothing unsynced, so the next batch's publishes are taken and the medium tried again at
    /// its flush (refused then, and taken back, if it still fails).
    fn sync_failed(&mut self, name: &str, err: &StoreError) {
        let Some(slot) = self.streams.get_mut(name) else {
            return;
        };
        let rolled_back = slot.roll_back_unsynced();
        if rolled_back {
            // Its mirrors and sources may have lost what they stored.
            self.sourcing.rolled_back(name);
            recount_usage(&mut self.usage, &self.config, slot);
        }
        let refusal = streams::publish_refusal(err);
        if slot.durability.refuse_unsynced_pubacks(&refusal) {
            self.holding.insert(name.to_string());
        }
        if rolled_back {
            self.failing.remove(name);
        } else {
            self.failing.insert(name.to_string(), err.clone());
        }
        self.dirty.insert(name.to_string());
    }
}

/// Brings the storage usage in line with what the stream's store holds now.
fn recount_usage(usage: &mut Usage, config: &EngineConfig, slot: &mut StreamSlot) {
    let bytes = slot.stream.store().state().bytes;
    let storage = slot.stream.config().storage;
    usage.recount(&config.server_usage, storage, slot.counted_bytes, bytes);
    slot.counted_bytes = bytes;
}

/// Why a stream's sync did not succeed.
enum Failure {
    /// It failed now: nothing of it is durable or queued.
    Now(StoreError),
    /// Its messages were queued, but consumer saves failed: their state is not in the commit.
    Queued(StoreError),
}

/// Saves the changed consumers of one stream, then syncs its store, for flush ticket `ticket`.
/// A consumer stays changed until its save succeeds. When the saves fail (a full disk) the
/// sync is still tried, since it may free space (a purge gives its space back there): its
/// messages are durable (or queued) then, so replies about them may leave once they are, and
/// a durable store's saves are tried once more; replies about consumer state wait until they
/// succeed.
fn sync_stream(slot: &mut StreamSlot, ticket: u64) -> Result<Synced, Failure> {
    let saved = save_changed_consumers(slot);
    let synced = slot.stream.store_mut().sync().map_err(Failure::Now)?;
    let state = slot.stream.store().state();
    if synced == Synced::Queued {
        // Queuing frees no space, so failed saves wait for the next flush (one queued sync
        // per stream and ticket); what was saved before the failure is in this commit.
        slot.durability.queued(ticket, saved.is_ok(), &state);
        return match saved {
            Ok(()) => Ok(Synced::Queued),
            Err(err) => Err(Failure::Queued(err)),
        };
    }
    slot.durability.note_synced_state(&state);
    let last_seq = state.last_seq;
    if saved.is_err() {
        slot.durability.messages_synced(last_seq);
        save_changed_consumers(slot).map_err(Failure::Now)?;
        slot.stream.store_mut().sync().map_err(Failure::Now)?;
    }
    slot.durability.synced(last_seq);
    Ok(Synced::Durable)
}

/// Saves every changed consumer of a stream, stopping at the first failure.
///
/// Durably only when an ack with a reply waits ("ack sync": the reply says the ack is kept);
/// otherwise the store may only write the state ([`StreamStore::write_consumer`]): acks and
/// deliveries nobody waits on survive the process being killed, and a power loss means some
/// messages are delivered again, as at-least-once delivery allows (nats-server writes consumer
/// state without a sync too). The file store then costs a pull consumer no `fdatasync` per
/// batch of acks: about 1.3-1.4x the messages per second from a file stream.
///
/// [`StreamStore::write_consumer`]: crate::core::store::StreamStore::write_consumer
fn save_changed_consumers(slot: &mut StreamSlot) -> Result<(), StoreError> {
    for (name, consumer) in slot.consumers.iter_mut() {
        if consumer.is_changed() {
            // A mirror's or source's `direct` consumer is never saved (see `persist_consumer`).
            if !consumer.config().direct {
                slot.stream
                    .store_mut()
                    .write_consumer(name, consumer.record())?;
            }
            consumer.take_changed();
        }
    }
    if slot.ack_replies_wait {
        // Written by this save or an earlier one (a repeated ack changes nothing).
        slot.stream.store_mut().sync_consumers()?;
        slot.ack_replies_wait = false;
    }
    Ok(())
}

#[cfg(test)]
#[path = "consumer_save_tests.rs"]
mod consumer_save_tests;
