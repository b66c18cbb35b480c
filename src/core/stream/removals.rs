//! The journal of messages a stream let go of, so the engine can tell its consumers.
//!
//! nats-server's stores call back into the stream on every removal (`storeUpdates`): a single
//! removal (a delete, a limit, `max_age`, a work-queue or interest ack) reaches each consumer as
//! `decStreamPending`, which treats a pending delivery of the message as terminated; a purge
//! reaches each consumer as `consumer.purge`, which moves its floors past what went. The stream
//! has no consumers (the engine joins the two), so it writes what it removed here and the engine
//! drains the journal after every operation ([`Stream::take_removals`]).
//!
//! The journal is bounded: past [`MAX_JOURNAL`] entries it collapses into one
//! [`Removal::Many`], after which consumers check their pending messages against the store.

use super::Stream;
use crate::core::store::Seq;

/// Most entries the journal holds before it collapses into [`Removal::Many`].
const MAX_JOURNAL: usize = 4096;

/// One thing a stream removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// One message went: a delete, a limit (`max_msgs`, `max_bytes`, `max_msgs_per_subject`),
    /// `max_age`, or retention.
    Msg(Seq),
    /// A purge of the messages matching `filter` (`""`: all of them), by request or by rollup.
    Purge {
        /// The purge's subject filter; empty for the whole stream.
        filter: String,
    },
    /// Too much went to list: consumers must check what they hold against the store.
    Many,
}

impl Stream {
    /// What the stream removed since the last call, oldest first.
    pub fn take_removals(&mut self) -> Vec<Removal> {
        std::mem::take(&mut self.removals)
    }

    /// Notes a removal for the engine.
    pub(super) fn note_removal(&mut self, removal: Removal) {
        note(&mut self.removals, removal);
    }
}

/// Appends to a journal, collapsing it once it is too long.
pub(super) fn note(journal: &mut Vec<Removal>, removal: Removal) {
    if journal.last() == Some(&Removal::Many) {
        return;
    }
    if journal.len() >= MAX_JOURNAL {
        journal.clear();
        journal.push(Removal::Many);
        return;
    }
    journal.push(removal);
}
