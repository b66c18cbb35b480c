//! What may leave when: the engine's outbox, held per stream until what each message describes
//! is durable.
//!
//! Every reply and delivery the engine produces depends on at most one stream, and on one of:
//! - nothing written (a read of totals or configs, a refusal, a status, a heartbeat): it may
//!   leave at once;
//! - a stored message, by sequence (a PubAck, a delivery, a MSG.GET reply): it may leave once
//!   that stream's last successful sync covered the sequence, so a delivery of a message
//!   synced long ago is not held by a batch that is failing now;
//! - every write made to the stream so far (an ack reply, a purge or consumer-create reply):
//!   it may leave once a sync of that stream succeeds after it.
//!
//! A stream keeps its held messages in order, and a message is released only when no earlier
//! held message of that stream goes to the same subject, so the messages of one pull request or
//! one push consumer keep their order. Streams never wait for each other: a stream whose store
//! fails holds only its own messages (see [`super::Engine::flush`]).

use std::collections::{BTreeSet, VecDeque};

use crate::core::consumer::parse_ack_subject;
use crate::core::message::Outbound;
use crate::core::store::Seq;

/// What a queued message waits for, within its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: it only keeps its place after earlier messages to the same subject.
    Nothing,
    /// The message with this sequence (and every one before it) is durable.
    Seq(Seq),
    /// Every write up to this write generation is durable (see [`Durability::written`]).
    Writes(u64),
}

/// A stream's durability watermarks and the messages held for them.
#[derive(Debug, Default)]
pub(crate) struct Durability {
    /// Write generation: moved past `synced` by any write since the last successful sync.
    pub(crate) written: u64,
    /// The generation the last successful sync covered.
    pub(crate) synced: u64,
    /// `last_seq` when the last successful sync returned: every message at or below it that the
    /// store still holds is durable.
    pub(crate) synced_seq: Seq,
    held: VecDeque<(Need, Outbound)>,
    /// The highest needs among `held`, so a sync that covers them all releases without a scan.
    most_seq: Seq,
    most_writes: u64,
}

impl Durability {
    /// Watermarks of a store whose content up to `last_seq` is all durable (a restored one).
    pub(crate) fn synced_to(last_seq: Seq) -> Durability {
        Durability {
            synced_seq: last_seq,
            ..Durability::default()
        }
    }

    /// Notes a write: the next sync must cover it.
    pub(crate) fn wrote(&mut self) {
        self.written = self.synced + 1;
    }

    /// Records a successful sync of everything written, up to sequence `last_seq`.
    pub(crate) fn synced(&mut self, last_seq: Seq) {
        self.synced = self.written;
        self.synced_seq = last_seq;
    }

    /// Records a successful sync of the messages up to `last_seq` while other writes (consumer
    /// saves) failed: replies about those messages may leave, the others wait.
    pub(crate) fn messages_synced(&mut self, last_seq: Seq) {
        self.synced_seq = last_seq;
    }

    /// What an ack reply or a write's reply needs: every write so far.
    pub(crate) fn writes_so_far(&self) -> Need {
        Need::Writes(self.written)
    }

    fn met(&self, need: Need) -> bool {
        match need {
            Need::Nothing => true,
            Need::Seq(seq) => seq <= self.synced_seq,
            Need::Writes(gen) => gen <= self.synced,
        }
    }

    /// Whether nothing is held.
    pub(crate) fn holds_nothing(&self) -> bool {
        self.held.is_empty()
    }

    /// Queues `out` behind what is held, or hands it to `ready` when nothing is held and its
    /// need is met. Returns whether it was held.
    pub(crate) fn queue(
        &mut self,
        need: Need,
        out: Outbound,
        ready: &mut VecDeque<Outbound>,
    ) -> bool {
        if self.held.is_empty() && self.met(need) {
            ready.push_back(out);
            return false;
        }
        match need {
            Need::Nothing => {}
            Need::Seq(seq) => self.most_seq = self.most_seq.max(seq),
            Need::Writes(gen) => self.most_writes = self.most_writes.max(gen),
        }
        self.held.push_back((need, out));
        true
    }

    /// Moves to `ready` every held message whose need is met and that no held message before
    /// it to the same subject is still waiting for. Returns whether some stay held.
    pub(crate) fn release(&mut self, ready: &mut VecDeque<Outbound>) -> bool {
        if self.most_seq <= self.synced_seq && self.most_writes <= self.synced {
            // The common case: the sync covered the whole batch.
            ready.extend(self.held.drain(..).map(|(_, out)| out));
            self.most_seq = 0;
            self.most_writes = 0;
            return false;
        }
        let mut waiting: BTreeSet<String> = BTreeSet::new();
        let (mut most_seq, mut most_writes) = (0, 0);
        let held = std::mem::take(&mut self.held);
        for (need, out) in held {
            if self.met(need) && !waiting.contains(&out.to) {
                ready.push_back(out);
                continue;
            }
            match need {
                Need::Nothing => {}
                Need::Seq(seq) => most_seq = most_seq.max(seq),
                Need::Writes(gen) => most_writes = most_writes.max(gen),
            }
            waiting.insert(out.to.clone());
            self.held.push_back((need, out));
        }
        self.most_seq = most_seq;
        self.most_writes = most_writes;
        !self.held.is_empty()
    }

    /// Lets everything held go (the stream was deleted: nothing it describes can change).
    pub(crate) fn release_all(&mut self, ready: &mut VecDeque<Outbound>) {
        ready.extend(self.held.drain(..).map(|(_, out)| out));
    }
}

/// What a message a consumer of a stream produced needs: a delivery its message, an ack reply
/// (no headers, no reply subject) the consumer's state, and a status, heartbeat or flow-control
/// request nothing but its place.
pub(crate) fn need_of_consumer_output(out: &Outbound, durability: &Durability) -> Need {
    match out.msg.reply.as_deref() {
        Some(reply) if reply.starts_with(super::acks::ACK_PREFIX) => parse_ack_subject(reply)
            .map_or(durability.writes_so_far(), |ack| Need::Seq(ack.stream_seq)),
        Some(_) => Need::Nothing,
        None if out.msg.headers.is_some() => Need::Nothing,
        None => durability.writes_so_far(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(to: &str) -> Outbound {
        Outbound::to_subject(to, None, bytes::Bytes::new())
    }

    fn drained(ready: &mut VecDeque<Outbound>) -> Vec<String> {
        ready.drain(..).map(|o| o.to).collect()
    }

    #[test]
    fn a_message_synced_earlier_is_not_held_behind_an_unsynced_one_to_another_subject() {
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        d.wrote();
        assert!(d.queue(Need::Seq(6), out("puback"), &mut ready));
        assert!(d.queue(Need::Seq(3), out("pull"), &mut ready));
        assert!(d.queue(Need::Nothing, out("pull"), &mut ready));
        assert!(d.release(&mut ready), "the PubAck stays held");
        assert_eq!(drained(&mut ready), ["pull", "pull"]);
        d.synced(6);
        assert!(!d.release(&mut ready));
        assert_eq!(drained(&mut ready), ["puback"]);
    }

    #[test]
    fn messages_to_one_subject_keep_their_order() {
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        d.queue(Need::Seq(7), out("inbox"), &mut ready);
        d.queue(Need::Seq(2), out("inbox"), &mut ready);
        d.queue(Need::Nothing, out("other"), &mut ready);
        assert!(d.release(&mut ready));
        assert_eq!(drained(&mut ready), ["other"], "seq 2 waits behind seq 7");
        d.synced(7);
        d.release(&mut ready);
        assert_eq!(drained(&mut ready), ["inbox", "inbox"]);
    }

    #[test]
    fn a_write_reply_waits_for_the_next_sync() {
        let mut d = Durability::default();
        let mut ready = VecDeque::new();
        d.wrote();
        assert!(d.queue(d.writes_so_far(), out("ack"), &mut ready));
        d.release(&mut ready);
        assert!(ready.is_empty());
        d.synced(0);
        d.release(&mut ready);
        assert_eq!(drained(&mut ready), ["ack"]);
        // Nothing written since: the next one leaves at once.
        assert!(!d.queue(d.writes_so_far(), out("ack2"), &mut ready));
    }
}
