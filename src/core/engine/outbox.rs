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
//!
//! With a store whose sync only queues a commit (IndexedDB), "synced" means the flush ticket
//! that queued it is done ([`Durability::queued`], [`Durability::queued_done`]): the watermarks
//! move then, to what that sync covered, and writes made after it wait for a later one. A
//! failed ticket is a failed sync (`flush.rs`).
//!
//! A PubAck is the one exception to waiting: when a sync of its stream fails before its message
//! is durable, it leaves at that flush as a refusal (503 / 10023 for a full medium), as
//! nats-server answers a publish it cannot store, so the client does not wait for a disk that
//! may stay full. Its message is taken back with its batch when the store can go back to its
//! last sync (`rollback.rs`, the file store); otherwise it stays queued for the next sync, so
//! like a timed-out publish it may still be stored later. Nothing is acknowledged before it is
//! durable.

use std::collections::{BTreeSet, VecDeque};

use super::Engine;
use crate::core::consumer::ack_stream_seq;
use crate::core::message::Outbound;
use crate::core::store::Seq;
use crate::core::time::Nanos;

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

/// What a held message is, as far as a failed sync cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A publish's PubAck: a failed sync answers it with a refusal instead of holding it.
    PubAck,
    /// The reply to a read of one message (MSG.GET, direct get): answered "not found" when a
    /// failed sync takes its message back.
    Read,
    /// Anything else: it waits for a sync that covers it.
    Other,
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
    /// `first_seq` and `msgs` when the last successful sync returned (see
    /// [`Durability::note_synced_state`]).
    pub(crate) synced_shape: Option<(Seq, u64)>,
    /// Whether anything but a publish or a delivery wrote since the last successful sync (an
    /// ack, a removal, an API write): a failed sync cannot roll such a batch back.
    pub(crate) other_writes: bool,
    held: VecDeque<(Need, Outbound, Kind)>,
    /// The highest needs among `held`, so a sync that covers them all releases without a scan.
    most_seq: Seq,
    most_writes: u64,
    /// The write generation the newest sync begun covers (durable or queued): a write after it
    /// needs a later one.
    begun: u64,
    /// Syncs the store queued and the shell has not completed, oldest first.
    queued: VecDeque<QueuedSync>,
}

/// A sync the store queued ([`crate::core::store::Synced::Queued`]): what it makes durable
/// once the flush ticket that asked for it is done.
#[derive(Debug, Clone, Copy)]
struct QueuedSync {
    /// The flush ticket.
    ticket: u64,
    /// The write generation it covers, when `writes`.
    written: u64,
    /// Whether it covers every write up to `written`; else only the messages (a consumer
    /// save failed, so consumer state is not in it).
    writes: bool,
    /// `last_seq` when it was queued.
    last_seq: Seq,
    /// `first_seq` and `msgs` when it was queued.
    shape: (Seq, u64),
    /// Whether anything but a publish or a delivery wrote in what it carries.
    other_writes: bool,
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
        self.written = self.written.max(self.begun.max(self.synced) + 1);
    }

    /// Notes a write other than a publish or a delivery (see [`Durability::other_writes`]).
    pub(crate) fn wrote_other(&mut self) {
        self.wrote();
        self.other_writes = true;
    }

    /// Records a successful sync of everything written, up to sequence `last_seq`.
    pub(crate) fn synced(&mut self, last_seq: Seq) {
        self.synced = self.written;
        self.begun = self.written;
        self.synced_seq = last_seq;
        self.other_writes = false;
    }

    /// Records a sync the store queued for flush ticket `ticket`, of the store in `state`:
    /// of every write so far when `writes`, else of the messages only (see [`QueuedSync`]).
    pub(crate) fn queued(
        &mut self,
        ticket: u64,
        writes: bool,
        state: &crate::core::store::StreamState,
    ) {
        self.queued.push_back(QueuedSync {
            ticket,
            written: self.written,
            writes,
            last_seq: state.last_seq,
            shape: (state.first_seq, state.msgs),
            other_writes: self.other_writes,
        });
        if writes {
            self.begun = self.written;
            self.other_writes = false;
        }
    }

    /// Whether a queued sync waits for its ticket: the store must not be rolled back under it.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Completes the queued syncs of tickets up to `ticket`: what they covered is durable.
    /// Returns how many completed and whether one covered every write (not only messages).
    pub(crate) fn queued_done(&mut self, ticket: u64) -> (usize, bool) {
        let (mut done, mut whole) = (0, false);
        while let Some(sync) = self.queued.front().copied() {
            if sync.ticket > ticket {
                break;
            }
            self.queued.pop_front();
            done += 1;
            self.synced_seq = self.synced_seq.max(sync.last_seq);
            self.synced_shape = Some(sync.shape);
            if sync.writes {
                self.synced = self.synced.max(sync.written);
                whole = true;
            }
        }
        (done, whole)
    }

    /// Fails the queued syncs of ticket `ticket` and after (built on it): what they carried is
    /// unsynced again, as after a failed sync. Returns how many there were.
    pub(crate) fn queued_failed(&mut self, ticket: u64) -> usize {
        let keep = self.queued.iter().take_while(|s| s.ticket < ticket).count();
        let failed: Vec<QueuedSync> = self.queued.drain(keep..).collect();
        for sync in &failed {
            self.other_writes |= sync.other_writes;
        }
        // The newest sync still standing; `written` stays, so what the failed ones covered
        // needs the next sync.
        self.begun = self
            .queued
            .back()
            .map_or(self.synced, |s| s.written.max(self.synced));
        failed.len()
    }

    /// Notes the shape of the store a sync just made durable, so a failed sync later can tell
    /// whether only messages were appended since.
    pub(crate) fn note_synced_state(&mut self, state: &crate::core::store::StreamState) {
        self.synced_shape = Some((state.first_seq, state.msgs));
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

    /// Whether every write so far is durable and nothing is held: anything queued now leaves
    /// at once, whatever it needs, so the caller need not work out what that is.
    pub(crate) fn settled(&self) -> bool {
        self.held.is_empty() && self.written == self.synced
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
        self.queue_as(Kind::Other, need, out, ready)
    }

    /// As [`Durability::queue`], for a message of this kind.
    pub(crate) fn queue_as(
        &mut self,
        kind: Kind,
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
        self.held.push_back((need, out, kind));
        true
    }

    /// After a failed sync: turns every held PubAck whose message is not durable into
    /// `refusal` (the same reply subject, this body), free to leave in its place. Their messages
    /// stay queued in the store, which may still make them durable at a later sync: a client
    /// told "insufficient resources" must treat the publish as it treats a timeout (retry with
    /// its `Nats-Msg-Id`, which finds the message if it was stored). Returns whether any was.
    pub(crate) fn refuse_unsynced_pubacks(&mut self, refusal: &bytes::Bytes) -> bool {
        let mut refused = false;
        for (need, out, kind) in self.held.iter_mut() {
            if *kind == Kind::PubAck && !matches!(*need, Need::Seq(seq) if seq <= self.synced_seq) {
                out.msg.payload = refusal.clone();
                *need = Need::Nothing;
                *kind = Kind::Other;
                refused = true;
            }
        }
        refused
    }

    /// After the stream went back to its last sync, which kept the messages up to `last_seq`:
    /// drops what is held about the messages after it (deliveries, republished copies), which
    /// no longer exist, and answers a read of one of them as nats-server answers a read of a
    /// missing message. PubAcks stay, to be refused. Returns the dropped messages, so the
    /// pull requests their deliveries went to can have them back.
    pub(crate) fn drop_past(&mut self, last_seq: Seq) -> Vec<Outbound> {
        let past = |need: &Need| matches!(*need, Need::Seq(seq) if seq > last_seq);
        for (need, out, kind) in self.held.iter_mut() {
            if *kind == Kind::Read && past(need) {
                *out = not_found(out);
                *need = Need::Nothing;
                *kind = Kind::Other;
            }
        }
        let mut dropped = Vec::new();
        for (need, out, kind) in std::mem::take(&mut self.held) {
            if kind != Kind::PubAck && past(&need) {
                dropped.push(out);
            } else {
                self.held.push_back((need, out, kind));
            }
        }
        dropped
    }

    /// Moves to `ready` every held message whose need is met and that no held message before
    /// it to the same subject is still waiting for. Returns whether some stay held.
    pub(crate) fn release(&mut self, ready: &mut VecDeque<Outbound>) -> bool {
        if self.most_seq <= self.synced_seq && self.most_writes <= self.synced {
            // The common case: the sync covered the whole batch.
            ready.extend(self.held.drain(..).map(|(_, out, _)| out));
            self.most_seq = 0;
            self.most_writes = 0;
            return false;
        }
        let mut waiting: BTreeSet<String> = BTreeSet::new();
        let (mut most_seq, mut most_writes) = (0, 0);
        let held = std::mem::take(&mut self.held);
        for (need, out, kind) in held {
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
            self.held.push_back((need, out, kind));
        }
        self.most_seq = most_seq;
        self.most_writes = most_writes;
        !self.held.is_empty()
    }

    /// Lets everything held go (the stream was deleted: nothing it describes can change).
    pub(crate) fn release_all(&mut self, ready: &mut VecDeque<Outbound>) {
        ready.extend(self.held.drain(..).map(|(_, out, _)| out));
    }
}

/// The answer to the read `out` answered, once its message is gone: a direct get's 404 status
/// (its reply carries headers), or MSG.GET's "no message found".
fn not_found(out: &Outbound) -> Outbound {
    if out.msg.headers.is_some() {
        let status = crate::core::headers::Headers::status(404, "Message Not Found").encode();
        return Outbound::to_subject(out.to.clone(), Some(status), bytes::Bytes::new());
    }
    let error = crate::core::error::ApiError::from(crate::core::error::ErrorKind::NoMessageFound);
    let body = serde_json::json!({
        "error": error,
        "type": "io.nats.jetstream.api.v1.stream_msg_get_response",
    });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Outbound::to_subject(out.to.clone(), None, body)
}

/// What a message a consumer of a stream produced needs: a delivery its message, an ack reply
/// (no headers, no reply subject) the consumer's state, and a status, heartbeat or flow-control
/// request nothing but its place.
fn need_of_consumer_output(out: &Outbound, durability: &Durability) -> Need {
    match out.msg.reply.as_deref() {
        Some(reply) if reply.starts_with(super::acks::ACK_PREFIX) => {
            ack_stream_seq(reply).map_or(durability.writes_so_far(), Need::Seq)
        }
        Some(_) => Need::Nothing,
        None if out.msg.headers.is_some() => Need::Nothing,
        None => durability.writes_so_far(),
    }
}

impl Engine {
    /// Moves what the streams hold and may now leave to the ready queue.
    pub(super) fn release_held(&mut self) {
        if self.holding.is_empty() {
            return;
        }
        let holding = std::mem::take(&mut self.holding);
        for name in holding {
            if let Some(slot) = self.streams.get_mut(&name) {
                if slot.durability.release(&mut self.ready) {
                    self.holding.insert(name);
                }
            }
        }
    }

    /// Begins a request the front serves (an API request): until [`Engine::end_request`], the
    /// replies it queues with [`Engine::send_reply`], and the advisories its typed calls
    /// publish, go where `rule` says. Time moves to `now` as in [`Engine::handle`].
    pub(crate) fn begin_request(&mut self, rule: ReplyRule, now: Nanos) {
        self.clock = self.clock.max(now);
        self.reply_rule = rule;
        self.request_failed = false;
        self.read_seq.set(0);
    }

    /// The request being handled failed (it is answered with an error): it wrote nothing, so
    /// the replies queued after this leave at once, whatever its rule.
    pub(crate) fn request_failed(&mut self) {
        self.request_failed = true;
    }

    /// Ends the request begun with [`Engine::begin_request`]: what is queued after leaves at
    /// once, as [`ReplyRule::Ready`] says.
    pub(crate) fn end_request(&mut self) {
        self.reply_rule = ReplyRule::Ready;
        self.request_failed = false;
    }

    /// Queues a reply of the request being handled, where its rule says (see `ReplyRule`;
    /// outside a request, at once).
    pub fn send_reply(&mut self, out: Outbound) {
        let kind = match self.reply_rule {
            ReplyRule::Read(_) => Kind::Read,
            _ => Kind::Other,
        };
        let (stream, need) = match &self.reply_rule {
            ReplyRule::Ready => (None, None),
            ReplyRule::Write(stream) if !self.request_failed => (Some(stream), None),
            ReplyRule::Write(_) => (None, None),
            ReplyRule::Read(stream) => match self.read_seq.get() {
                0 => (None, None),
                seq => (Some(stream), Some(Need::Seq(seq))),
            },
            ReplyRule::Ordered(stream) => (Some(stream), Some(Need::Nothing)),
        };
        let slot = stream.and_then(|name| self.streams.get_mut(name));
        match slot {
            Some(slot) => {
                let need = need.unwrap_or_else(|| slot.durability.writes_so_far());
                if slot.durability.queue_as(kind, need, out, &mut self.ready) {
                    let name = slot.stream.name().to_string();
                    self.holding.insert(name);
                }
            }
            None => self.ready.push_back(out),
        }
    }

    /// Queues what a consumer of `stream` produced: each delivery until its message is durable,
    /// each ack reply until the consumer's state is (see `outbox.rs`).
    pub(crate) fn send_from_consumers(&mut self, stream: &str, out: Vec<Outbound>) {
        self.release_deliveries(stream);
        if out.is_empty() {
            return;
        }
        let Some(slot) = self.streams.get_mut(stream) else {
            self.ready.extend(out);
            return;
        };
        let mut held = false;
        for message in out {
            // A consumer catching up on a stream nobody writes to (a mirror's origin) needs
            // nothing waited for: no ack subject is read back per delivery then.
            let need = if slot.durability.settled() {
                Need::Nothing
            } else {
                need_of_consumer_output(&message, &slot.durability)
            };
            held |= slot.durability.queue(need, message, &mut self.ready);
        }
        if held && !self.holding.contains(stream) {
            self.holding.insert(stream.to_string());
        }
    }

    /// Queues a reply about message `seq` of `stream` (a PubAck): it leaves once that message
    /// is durable, or as a refusal when a sync of the stream fails before (see
    /// [`Durability::refuse_unsynced_pubacks`]).
    pub(crate) fn send_about_message(&mut self, stream: &str, seq: Seq, out: Outbound) {
        let Some(slot) = self.streams.get_mut(stream) else {
            self.ready.push_back(out);
            return;
        };
        if slot
            .durability
            .queue_as(Kind::PubAck, Need::Seq(seq), out, &mut self.ready)
            && !self.holding.contains(stream)
        {
            self.holding.insert(stream.to_string());
        }
    }

    /// Queues a message that describes no unsynced write; it leaves at once.
    pub(crate) fn send_now(&mut self, out: Outbound) {
        self.ready.push_back(out);
    }

    /// Notes the message a read request is answered with (its reply waits until it is durable).
    pub(crate) fn note_read(&self, seq: Seq) {
        self.read_seq.set(seq);
    }
}

/// Where the replies of the request being handled go (see [`Engine::begin_request`] and
/// [`Engine::send_reply`]): the front picks it from what the request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyRule {
    /// They describe nothing written: at once.
    Ready,
    /// A write to this stream: once it is durable (at once if the request failed).
    Write(String),
    /// A message read from this stream: once that message is durable.
    Read(String),
    /// Statuses of a pull request on this stream: in order with its deliveries.
    Ordered(String),
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
    fn settled_only_while_every_write_is_durable_and_nothing_is_held() {
        let state = crate::core::store::StreamState::default();
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        assert!(d.settled(), "restored: everything it holds is durable");
        d.wrote();
        assert!(!d.settled(), "a write not yet synced");
        d.messages_synced(6);
        assert!(
            !d.settled(),
            "the messages are durable, a consumer save is not"
        );
        d.synced(6);
        assert!(d.settled());
        d.wrote();
        d.queued(1, true, &state);
        assert!(
            !d.settled(),
            "a queued sync is not durable until its ticket is done"
        );
        d.queued_done(1);
        assert!(d.settled());
        d.wrote();
        assert!(d.queue(Need::Writes(d.written), out("ack"), &mut ready));
        d.synced(6);
        assert!(
            !d.settled(),
            "synced, but the ack reply is still held until released"
        );
        d.release(&mut ready);
        assert!(d.settled());
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
    fn a_failed_sync_turns_only_unsynced_pubacks_into_refusals_in_their_place() {
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        d.wrote();
        d.queue_as(Kind::PubAck, Need::Seq(6), out("inbox"), &mut ready);
        d.queue(Need::Seq(6), out("delivery"), &mut ready);
        d.queue(d.writes_so_far(), out("ack"), &mut ready);
        d.queue(Need::Nothing, out("inbox"), &mut ready);
        let refusal = bytes::Bytes::from_static(b"refused");
        assert!(d.refuse_unsynced_pubacks(&refusal));
        assert!(
            d.release(&mut ready),
            "the delivery and the ack reply stay held"
        );
        let left: Vec<_> = ready.drain(..).map(|o| (o.to, o.msg.payload)).collect();
        assert_eq!(
            left,
            [
                ("inbox".to_string(), refusal.clone()),
                ("inbox".to_string(), bytes::Bytes::new())
            ]
        );
        assert!(
            !d.refuse_unsynced_pubacks(&refusal),
            "nothing left to refuse"
        );
        d.synced(6);
        assert!(!d.release(&mut ready));
        assert_eq!(drained(&mut ready), ["delivery", "ack"]);
    }

    #[test]
    fn a_rollback_drops_deliveries_past_it_and_answers_reads_of_them_not_found() {
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        d.wrote();
        d.queue(Need::Seq(6), out("delivery"), &mut ready);
        d.queue(Need::Seq(4), out("old delivery"), &mut ready);
        let direct = Outbound::to_subject("direct", Some(bytes::Bytes::from_static(b"x")), "m");
        d.queue_as(Kind::Read, Need::Seq(6), direct, &mut ready);
        d.queue_as(Kind::Read, Need::Seq(6), out("get"), &mut ready);
        let dropped = d.drop_past(5);
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(dropped[0].to, "delivery");
        d.release(&mut ready);
        let status = |o: &Outbound| {
            let headers = o.msg.headers.as_deref().unwrap_or_default();
            crate::core::headers::Headers::parse(headers).map(|h| h.status_code())
        };
        let left: Vec<_> = ready.drain(..).collect();
        let to: Vec<&str> = left.iter().map(|o| o.to.as_str()).collect();
        assert_eq!(to, ["old delivery", "direct", "get"]);
        assert_eq!(status(&left[1]), Ok(Some(404)));
        let get: serde_json::Value = serde_json::from_slice(&left[2].msg.payload).expect("JSON");
        assert_eq!(get["error"]["err_code"], 10037, "{get}");
        assert!(d.holds_nothing(), "the delivery of 6 is gone");
    }

    fn state(last_seq: Seq) -> crate::core::store::StreamState {
        crate::core::store::StreamState {
            msgs: last_seq,
            first_seq: 1,
            last_seq,
            ..Default::default()
        }
    }

    #[test]
    fn a_queued_sync_releases_at_its_ticket_and_a_later_write_waits_for_the_next() {
        let mut d = Durability::synced_to(5);
        let mut ready = VecDeque::new();
        d.wrote();
        d.queue_as(Kind::PubAck, Need::Seq(6), out("puback 6"), &mut ready);
        d.queue(d.writes_so_far(), out("ack 1"), &mut ready);
        d.queued(1, true, &state(6));
        // Written while ticket 1 is in flight: not covered by it.
        d.wrote();
        d.queue(d.writes_so_far(), out("ack 2"), &mut ready);
        d.queue_as(Kind::PubAck, Need::Seq(7), out("puback 7"), &mut ready);
        assert!(d.release(&mut ready));
        assert!(ready.is_empty(), "nothing before the ticket is done");
        assert_eq!(d.queued_done(1), (1, true));
        d.release(&mut ready);
        assert_eq!(drained(&mut ready), ["puback 6", "ack 1"]);
        d.queued(2, true, &state(7));
        assert_eq!(d.queued_failed(2), 1, "ticket 2 failed");
        assert!(!d.has_queued());
        let refusal = bytes::Bytes::from_static(b"refused");
        assert!(d.refuse_unsynced_pubacks(&refusal));
        assert!(
            d.release(&mut ready),
            "the ack reply waits for a sync again"
        );
        assert_eq!(drained(&mut ready), ["puback 7"]);
        d.queued(3, true, &state(7));
        d.queued_done(3);
        assert!(!d.release(&mut ready));
        assert_eq!(drained(&mut ready), ["ack 2"]);
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
