//! A connection's JetStream publishes from one read, handed to the engine as one event.
//!
//! A client streaming publishes (many PubAcks outstanding) puts dozens to hundreds of them in
//! each read. Handing each over on its own costs two semaphore acquires, their releases on the
//! engine thread and a channel push per message; a batch pays them once. The connection fills
//! its batch while it parses a read and sends it before anything else it does with the
//! connection (another op, the end of the read), so the engine sees each client's publishes in
//! the order they came and before any later op of that client (a PING's PONG still means
//! "handed to JetStream").

use tokio::sync::OwnedSemaphorePermit;

use super::{Event, JsHandle, Origin, CLIENT_BUDGET, PUBLISH_OVERHEAD, QUEUED_BYTES};
use crate::core::message::Message;

/// Most publishes in one batch: a read's worth of small ones, without making one engine turn
/// hold a client's whole share.
const MAX_MESSAGES: usize = 128;
/// Most of a client's budget one batch takes, so up to four batches of a connection can wait
/// for the engine at once (the connection reads on while the engine works).
const MAX_OWN: usize = CLIENT_BUDGET / 4;

/// Publishes waiting to be handed to the engine, with the budget they will take.
#[derive(Debug, Default)]
pub struct PublishBatch {
    msgs: Vec<(Message, Origin)>,
    /// Their cost against the client's budget ([`CLIENT_BUDGET`]).
    own: usize,
    /// Their bytes, against the engine's queue ([`QUEUED_BYTES`]).
    bytes: usize,
}

impl PublishBatch {
    /// Adds a publish; says whether the batch is full and should be sent now.
    pub fn push(&mut self, msg: Message, origin: Origin) -> bool {
        let size = msg.payload.len() + msg.headers.as_ref().map_or(0, |h| h.len());
        self.own += size + PUBLISH_OVERHEAD;
        self.bytes += size;
        self.msgs.push((msg, origin));
        self.msgs.len() >= MAX_MESSAGES || self.own >= MAX_OWN
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}

/// What an engine event holds for a batch: the publishes and the budget they took, given back
/// when the event is dropped (once the engine handled them).
pub(super) struct Publishes {
    pub(super) msgs: Vec<(Message, Origin)>,
    pub(super) _permits: [OwnedSemaphorePermit; 2],
}

impl JsHandle {
    /// Hands `batch`'s publishes to the engine (leaving it empty), waiting while the engine is
    /// behind or while this client already has its share (`CLIENT_BUDGET`) waiting. A batch
    /// larger than the share (one publish of nearly max_payload) takes the whole share.
    pub async fn publish(&self, client: u64, batch: &mut PublishBatch) {
        if batch.is_empty() {
            return;
        }
        // The next batch of this connection likely needs as much room as this one.
        let next = PublishBatch {
            msgs: Vec::with_capacity(batch.msgs.len()),
            ..PublishBatch::default()
        };
        let PublishBatch { msgs, own, bytes } = std::mem::replace(batch, next);
        let own = own.min(CLIENT_BUDGET) as u32;
        let shared = bytes.clamp(1, QUEUED_BYTES) as u32;
        // An acquire or a send fails only when the engine thread is gone (shutdown): the
        // publishes are dropped.
        let Ok(own) = self.client_budget(client).acquire_many_owned(own).await else {
            return;
        };
        let Ok(shared) = self.budget.clone().acquire_many_owned(shared).await else {
            return;
        };
        let publishes = Publishes {
            msgs,
            _permits: [own, shared],
        };
        let _ = self.tx.send(Event::Publish(publishes)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(subject: &str, size: usize) -> (Message, Origin) {
        let msg = Message {
            subject: subject.into(),
            reply: None,
            headers: None,
            payload: bytes::Bytes::from(vec![b'x'; size]),
        };
        let origin = Origin {
            client: 7,
            no_responders: false,
        };
        (msg, origin)
    }

    #[test]
    fn a_batch_is_full_at_its_count_of_small_publishes() {
        let mut batch = PublishBatch::default();
        for i in 1..MAX_MESSAGES {
            let (msg, origin) = publish("s", 16);
            assert!(!batch.push(msg, origin), "not full at {i}");
        }
        let (msg, origin) = publish("s", 16);
        assert!(batch.push(msg, origin));
    }

    #[test]
    fn a_batch_of_large_publishes_is_full_at_a_quarter_of_the_clients_budget() {
        let mut batch = PublishBatch::default();
        let (msg, origin) = publish("s", MAX_OWN / 2);
        assert!(!batch.push(msg, origin));
        let (msg, origin) = publish("s", MAX_OWN / 2);
        assert!(batch.push(msg, origin));
    }

    #[tokio::test]
    async fn a_batch_reaches_the_engine_as_one_event_in_order_and_leaves_the_batch_empty() {
        let (handle, mut rx) = super::super::tests::handle_without_engine();
        let mut batch = PublishBatch::default();
        for subject in ["a", "b", "c"] {
            let (msg, origin) = publish(subject, 100);
            batch.push(msg, origin);
        }
        handle.publish(7, &mut batch).await;
        assert!(batch.is_empty());
        let Some(Event::Publish(publishes)) = rx.recv().await else {
            panic!("expected the batch");
        };
        let subjects: Vec<&str> = publishes.msgs.iter().map(|(m, _)| &*m.subject).collect();
        assert_eq!(subjects, ["a", "b", "c"]);
        // Nothing more: an empty batch sends nothing.
        handle.publish(7, &mut batch).await;
        assert!(rx.try_recv().is_err());
    }
}
