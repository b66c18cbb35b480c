//! Acks and flow-control replies arriving on `$JS.ACK.…` and `$JS.FC.…`.

use super::advisories::DeliveryAdvisory;
use super::Engine;
use crate::core::consumer::{parse_ack_subject, AckKind};
use crate::core::message::Message;
use crate::core::time::Nanos;

/// Prefix of every ack subject.
pub(crate) const ACK_PREFIX: &str = "$JS.ACK.";
/// Prefix of flow-control reply subjects handed to push consumers' clients.
pub(crate) const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";

impl Engine {
    /// Applies an ack. A malformed ack subject or body is ignored, as nats-server ignores it; an
    /// ack that names a missing consumer is too. With a reply subject, the consumer queues an
    /// empty reply, which leaves at the next flush, once the ack is durable ("ack sync").
    pub(super) fn handle_ack(&mut self, msg: &Message, now: Nanos) -> bool {
        let Some(ack) = parse_ack_subject(&msg.subject) else {
            return false;
        };
        let Ok(kind) = AckKind::parse(&msg.payload) else {
            return true;
        };
        let terminated = match &kind {
            AckKind::Term { reason } if ack.stream_seq != 0 => Some(DeliveryAdvisory::Terminated {
                consumer_seq: ack.consumer_seq,
                stream_seq: ack.stream_seq,
                deliveries: ack.delivered,
                reason: reason.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        let mut out = Vec::new();
        let outcome = {
            let Some(slot) = self.streams.get_mut(&ack.stream) else {
                return false;
            };
            let Some(consumer) = slot.consumers.get_mut(&ack.consumer) else {
                return false;
            };
            // Its reply says the ack is durable: the next save syncs (`flush.rs`).
            slot.ack_replies_wait |= msg.reply.is_some();
            consumer.ack(
                &ack,
                kind,
                msg.reply.as_deref(),
                slot.stream.store(),
                now,
                &mut out,
            )
        };
        // An ack reply waits for the consumer's new state: a write to its stream.
        self.mark_dirty(&ack.stream);
        self.send_from_consumers(&ack.stream, out);
        self.apply_acks(&ack.stream, &outcome.acked);
        if let Some(terminated) = terminated {
            self.advise_delivery(&ack.stream, &ack.consumer, terminated);
        }
        self.poll_consumers(&ack.stream, now);
        true
    }

    /// A client answered a flow-control request: `$JS.FC.<stream>.<consumer>.<n>`. For a
    /// consumer acked by flow control, the answer's headers are its ack (the stream's
    /// retention then lets go of what the copy confirmed it holds).
    pub(super) fn handle_flow_control(&mut self, msg: &Message, now: Nanos) -> bool {
        let subject = msg.subject.as_str();
        let mut tokens = subject.split('.').skip(2);
        let (Some(stream), Some(consumer)) = (tokens.next(), tokens.next()) else {
            return false;
        };
        let (stream, consumer) = (stream.to_string(), consumer.to_string());
        let Some(slot) = self.streams.get_mut(&stream) else {
            return false;
        };
        let Some(c) = slot.consumers.get_mut(&consumer) else {
            return false;
        };
        let outcome = c.flow_control_reply(subject, msg.headers.as_deref(), now);
        if outcome.changed {
            self.mark_dirty(&stream);
        }
        self.apply_acks(&stream, &outcome.acked);
        self.poll_consumers(&stream, now);
        true
    }
}
