//! Deliveries that arrive before the consumer create's answer.
//!
//! This machine subscribes the deliver subject before it sends the create, so whatever the new
//! consumer sends can overtake the answer: with a local origin, deliveries of messages already
//! stored leave at once while the answer waits for the consumer's own write to sync. Dropping
//! them would leave a delivery-sequence gap, and the gap rule would recreate the consumer (for
//! ever, in the worst case). nats-server never sees this order: it subscribes the deliver
//! subject only in the answer's handler, and a push consumer sends nothing before it has
//! interest. So the machine keeps them here, in arrival order, and handles them right after a
//! successful answer as if they had come after it; a failed answer, a recreate, a lost link or
//! a stop discards them.
//!
//! The queue is bounded ([`MAX_EARLY_MESSAGES`], [`MAX_EARLY_BYTES`]); the origin's flow control
//! normally keeps it far below that. Past a bound, this message and every later one until the
//! answer are dropped, so what is kept is a gapless prefix: the first delivery after it shows a
//! delivery-sequence gap (or a heartbeat names another delivery sequence) and the ordinary gap
//! rule recreates the consumer from the last message handled.

use std::collections::VecDeque;

use bytes::Bytes;

/// Most messages kept while a create is out.
pub const MAX_EARLY_MESSAGES: usize = 1024;
/// Most bytes (subject, reply, headers and payload) kept while a create is out.
pub const MAX_EARLY_BYTES: usize = 8 * 1024 * 1024;

/// One message that came on the new deliver subject before the create's answer.
#[derive(Debug)]
pub(super) struct EarlyMessage {
    pub subject: String,
    pub reply: String,
    pub headers: Bytes,
    pub payload: Bytes,
}

/// The bounded queue of [`EarlyMessage`]s.
#[derive(Debug, Default)]
pub(super) struct EarlyDeliveries {
    queue: VecDeque<EarlyMessage>,
    bytes: usize,
    /// A message was dropped: later ones are dropped too, until [`EarlyDeliveries::clear`].
    overflowed: bool,
}

impl EarlyDeliveries {
    /// Keeps a message unless a bound is reached (then it and all later ones are dropped).
    pub fn push(&mut self, subject: &str, reply: &str, headers: &[u8], payload: &[u8]) {
        let size = subject.len() + reply.len() + headers.len() + payload.len();
        if self.overflowed
            || self.queue.len() >= MAX_EARLY_MESSAGES
            || self.bytes.saturating_add(size) > MAX_EARLY_BYTES
        {
            self.overflowed = true;
            return;
        }
        self.bytes += size;
        self.queue.push_back(EarlyMessage {
            subject: subject.to_string(),
            reply: reply.to_string(),
            headers: Bytes::copy_from_slice(headers),
            payload: Bytes::copy_from_slice(payload),
        });
    }

    /// Everything kept, oldest first; the queue is empty (and open) afterwards.
    pub fn take(&mut self) -> VecDeque<EarlyMessage> {
        self.bytes = 0;
        self.overflowed = false;
        std::mem::take(&mut self.queue)
    }

    /// Discards everything kept.
    pub fn clear(&mut self) {
        self.take();
    }
}
