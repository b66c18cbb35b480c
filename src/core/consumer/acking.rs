//! Acks and what they move: nats-server's `processAck`, `processAckMsg`, `processNak`,
//! `progressUpdate`, `processTerm`, `moveAckFloor` and `needAck`.

use bytes::Bytes;

use super::ack::{AckKind, AckSubject};
use super::{pull, AckOutcome, AckPolicy, Consumer};
use crate::core::headers::{find_header, NATS_LAST_CONSUMER, NATS_LAST_STREAM};
use crate::core::message::Outbound;
use crate::core::store::StreamStore;
use crate::core::time::Nanos;

impl Consumer {
    /// Applies an ack for the delivery `ack` names. `reply` is the ack message's own reply subject:
    /// it gets an empty message once the ack is applied (clients' "ack sync"), and `+NXT` delivers
    /// there.
    pub fn ack(
        &mut self,
        ack: &AckSubject,
        kind: AckKind,
        reply: Option<&str>,
        store: &dyn StreamStore,
        now: Nanos,
        out: &mut Vec<Outbound>,
    ) -> AckOutcome {
        let reply = reply.filter(|r| !r.is_empty());
        let (sseq, dseq) = (ack.stream_seq, ack.consumer_seq);
        // Its acks are the flow-control replies; nats-server 2.14 does not listen for others.
        if sseq == 0 || self.config.ack_policy == AckPolicy::FlowControl {
            return AckOutcome::default();
        }
        self.note_ack_activity(now);
        let was_changed = std::mem::take(&mut self.changed);
        let mut acked = Vec::new();
        let mut answer = true;
        match kind {
            AckKind::Ack | AckKind::Term { .. } => {
                answer = self.process_ack(sseq, dseq, now, &mut acked);
            }
            AckKind::Next(request) => {
                self.process_ack(sseq, dseq, now, &mut acked);
                answer = false;
                if let Some(reply) = reply {
                    match request {
                        Ok(req) => self.pull(req, reply, store, now, out),
                        Err(e) => out.push(pull::status(reply, 400, &format!("Bad Request - {e}"))),
                    }
                }
            }
            AckKind::Nak { delay } => self.process_nak(sseq, dseq, delay, now),
            AckKind::Progress => self.progress(sseq, now),
        }
        if answer {
            if let Some(reply) = reply {
                out.push(Outbound::to_subject(reply, None, Bytes::new()));
            }
        }
        let changed = self.changed;
        self.changed |= was_changed;
        AckOutcome { acked, changed }
    }

    /// An ack (or term). Returns whether the client should get its ack reply.
    pub(super) fn process_ack(
        &mut self,
        sseq: u64,
        dseq: u64,
        now: Nanos,
        acked: &mut Vec<u64>,
    ) -> bool {
        // Not delivered yet: ignore (a stale or forged ack must not move the cursor).
        if sseq >= self.sseq {
            return false;
        }
        match self.config.ack_policy {
            // A flow-control-acked consumer takes its acks from the flow-control replies only
            // (nats-server 2.14 does not even listen for others).
            AckPolicy::None | AckPolicy::FlowControl => false,
            AckPolicy::Explicit => {
                if let Some(p) = self.pending.remove(&sseq) {
                    self.move_ack_floor(p.consumer_seq, sseq);
                    acked.push(sseq);
                } else if self.rdc.contains_key(&sseq) {
                    // Past max_deliver, kept for interest retention until acked: now it is.
                    acked.push(sseq);
                }
                self.rdc.remove(&sseq);
                self.remove_from_redeliver_queue(sseq);
                self.acks_updated(now);
                true
            }
            AckPolicy::All => {
                self.ack_through(sseq, dseq, now, acked);
                true
            }
        }
    }

    /// `ack_policy: all`: everything delivered up to stream sequence `sseq` (consumer sequence
    /// `dseq`) is acknowledged; `acked` gets the sequences that were pending.
    fn ack_through(&mut self, sseq: u64, dseq: u64, now: Nanos, acked: &mut Vec<u64>) {
        if dseq <= self.adflr || sseq <= self.asflr {
            return;
        }
        self.adflr = dseq;
        self.asflr = sseq;
        let above = self.pending.split_off(&(sseq + 1));
        let below = std::mem::replace(&mut self.pending, above);
        acked.extend(below.keys().copied().filter(|s| *s != sseq));
        acked.push(sseq);
        let rdc_above = self.rdc.split_off(&(sseq + 1));
        self.rdc = rdc_above;
        let still_queued: Vec<u64> = self.rdq.iter().copied().filter(|s| *s > sseq).collect();
        self.rdq_set.retain(|s| *s > sseq);
        self.rdq = still_queued.into();
        self.acks_updated(now);
    }

    /// A client answered a flow-control request on `subject`, with the answer's `headers`. An
    /// answer to the outstanding request opens the window; for `ack_policy: flow_control` its
    /// `Nats-Last-Stream` (and `Nats-Last-Consumer`) acknowledge everything delivered up to
    /// there, as nats-server 2.14's `processFlowControl` takes them. An answer without them (a
    /// stalled consumer's, or an older copy's) acknowledges nothing.
    ///
    /// Unlike 2.14, the ack never reaches past what this consumer has looked at: a copy that
    /// already holds more (from before a reset) gets the rest again and drops it as a
    /// duplicate, but nothing the consumer has not delivered is ever counted as taken.
    pub fn flow_control_reply(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        now: Nanos,
    ) -> AckOutcome {
        if !self.fc.answered(subject) || self.config.ack_policy != AckPolicy::FlowControl {
            return AckOutcome::default();
        }
        let number = |name: &str| {
            headers
                .and_then(|h| find_header(h, name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let last_stream = number(NATS_LAST_STREAM);
        if last_stream == 0 {
            return AckOutcome::default();
        }
        let sseq = last_stream.min(self.sseq.saturating_sub(1));
        let dseq = number(NATS_LAST_CONSUMER).min(self.dseq.saturating_sub(1));
        self.note_ack_activity(now);
        let was_changed = std::mem::take(&mut self.changed);
        let mut acked = Vec::new();
        self.ack_through(sseq, dseq, now, &mut acked);
        // An ack of everything delivered leaves the floors where delivery is (as `moveAckFloor`
        // does with nothing pending), so a consumer that skipped filtered-out messages does
        // not hold them.
        if self.pending.is_empty() && !acked.is_empty() {
            self.adflr = self.dseq - 1;
            self.asflr = self.sseq - 1;
        }
        let changed = self.changed;
        self.changed |= was_changed;
        AckOutcome { acked, changed }
    }

    fn acks_updated(&mut self, now: Nanos) {
        self.lat = now;
        self.changed = true;
    }

    /// Moves the ack floor after `sseq` (consumer sequence `dseq`) left pending.
    pub(super) fn move_ack_floor(&mut self, dseq: u64, sseq: u64) {
        if self.pending.is_empty() {
            self.adflr = self.dseq - 1;
            self.asflr = self.sseq - 1;
        } else if Some(dseq) == self.adflr.checked_add(1) {
            self.adflr = dseq;
            self.asflr = sseq;
            // Up to just below the next message still pending.
            let after = sseq.saturating_add(1);
            if let Some((&next, p)) = self.pending.range(after..self.sseq.max(after)).next() {
                if p.consumer_seq > 0 {
                    self.adflr = p.consumer_seq - 1;
                    self.asflr = next - 1;
                }
            }
        }
    }

    /// `-NAK`: redeliver at once, or `delay` after now (measured, as in nats-server, as if the
    /// message had been delivered `ack_wait - delay` ago).
    fn process_nak(&mut self, sseq: u64, dseq: u64, delay: Option<Nanos>, now: Nanos) {
        if dseq <= self.adflr || dseq > self.dseq || !self.pending.contains_key(&sseq) {
            return;
        }
        let Some(delay) = delay else {
            self.add_to_redeliver_queue(sseq);
            return;
        };
        self.remove_from_redeliver_queue(sseq);
        let ack_wait = self.config.ack_wait;
        let timestamp = now.saturating_sub(ack_wait).saturating_add(delay);
        if let Some(p) = self.pending.get_mut(&sseq) {
            p.timestamp = timestamp;
        }
        self.ldt = now;
        self.changed = true;
        let due = timestamp.saturating_add(self.ack_wait_for(sseq));
        self.redeliver_no_later_than(due);
    }

    /// `+WPI`: the client is still working on it; its ack wait starts over.
    fn progress(&mut self, sseq: u64, now: Nanos) {
        if let Some(p) = self.pending.get_mut(&sseq) {
            p.timestamp = now;
            self.ldt = now;
            self.changed = true;
        }
    }

    /// Any ack keeps a consumer alive (nats-server's `suppressDeletion`).
    fn note_ack_activity(&mut self, now: Nanos) {
        self.last_ack_activity = now;
        if self.config.is_pull() {
            self.waiting.last = now;
        }
    }

    /// Whether this consumer still needs stream message `seq` on `subject` (for interest and
    /// work-queue retention): not yet delivered, pending, or past max_deliver and never acked.
    pub fn needs_ack(&self, seq: u64, subject: &str) -> bool {
        if !self.filter_matches(subject) {
            return false;
        }
        let needed = match self.config.ack_policy {
            AckPolicy::None | AckPolicy::All | AckPolicy::FlowControl => seq > self.asflr,
            AckPolicy::Explicit => {
                seq > self.asflr && (seq >= self.sseq || self.pending.contains_key(&seq))
            }
        };
        needed || self.rdc.contains_key(&seq)
    }
}
