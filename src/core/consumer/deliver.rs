//! The delivery loop (nats-server's `loopAndGatherMsgs`, `getNextMsg` and `deliverMsg`), run by
//! [`Consumer::poll`] at the caller's `now`, and [`Consumer::next_deadline`], which says when
//! `poll` next has timed work.
//!
//! A candidate message is chosen first without changing anything and committed only once it has
//! somewhere to go, so a message that no request can take, or that replay pacing holds back, is
//! simply chosen again on the next poll.

use bytes::{Bytes, BytesMut};

use super::ack::append_ack_tail;
use super::pull;
use super::{AckPolicy, Consumer};
use crate::core::headers::NATS_MSG_SIZE;
use crate::core::message::{Message, Outbound};
use crate::core::store::{StoreError, StoredMsg, StreamStore};
use crate::core::time::{Nanos, MILLIS};

/// Why the delivery loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Nobody to deliver to (no waiting request, push inactive or stalled on flow control).
    NoTarget,
    /// Nothing left to deliver.
    Drained,
    /// `max_ack_pending` reached.
    MaxAckPending,
    /// Replay pacing or the rate limit holds the next message back.
    Paced,
    /// A push poll delivered its burst: the rest goes at the next poll, due at once.
    Burst,
}

/// Where a candidate comes from, which says how to commit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Redelivery,
    SkipList,
    Stream,
}

/// The next message to deliver, not yet committed.
struct Candidate {
    msg: StoredMsg,
    /// Delivery count this delivery will have.
    dc: u64,
    source: Source,
}

impl Consumer {
    /// Does everything due at `now`: redelivers expired acks, delivers new messages to waiting
    /// requests or the push deliver subject, expires requests (408), and sends heartbeats.
    pub fn poll(&mut self, store: &dyn StreamStore, now: Nanos, out: &mut Vec<Outbound>) {
        self.poll_burst(store, now, usize::MAX, out);
    }

    /// [`Consumer::poll`], with a push consumer's deliveries in this call bounded to about
    /// `burst` bytes: past them it stops, and [`Consumer::next_deadline`] says the rest is due
    /// at once. A server shell bounds them so what a push consumer delivers leaves as it is
    /// produced (written while the next burst is made), as nats-server streams it, instead of a
    /// whole flow-control window (up to 32 MiB) made before any of it is written.
    pub fn poll_burst(
        &mut self,
        store: &dyn StreamStore,
        now: Nanos,
        burst: usize,
        out: &mut Vec<Outbound>,
    ) {
        self.last_poll = now;
        self.more_now = false;
        if self.replay && self.replay_lseq.is_none() {
            // Restored while replaying: replay up to what the stream holds now.
            self.replay_lseq = Some(store.state().last_seq);
        }
        self.follow_stream_start(store);
        self.refresh_pending(store);
        self.check_pending(store, now);
        let stop = self.deliver_available(store, now, burst, out);
        self.more_now = stop == Stop::Burst;
        if self.replay && self.replay_lseq.is_some_and(|l| self.sseq > l) {
            self.replay = false;
        }
        if self.config.is_pull() {
            // Only running out of messages ends no_wait requests (not max_ack_pending or pacing).
            let end_of_stream = matches!(stop, Stop::Drained | Stop::NoTarget);
            self.process_waiting(end_of_stream, now, out);
        } else {
            self.push_heartbeat(now, out);
        }
    }

    /// The earliest time [`Consumer::poll`] has timed work: a redelivery, a request expiring, a
    /// heartbeat, replay pacing or the rate limit, or the inactive threshold running out.
    /// New messages in the store are not timed: call `poll` after storing them.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let mut next: Option<Nanos> = None;
        let mut consider = |t: Option<Nanos>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if !self.pending.is_empty() {
            consider(self.redeliver_at);
        }
        for wr in &self.waiting.queue {
            consider(wr.expires);
            consider(wr.hbt);
        }
        consider(self.hb_due);
        consider(self.replay_due);
        consider(self.rate_due);
        consider(self.more_now.then_some(self.last_poll));
        consider(self.inactivity_deadline().filter(|d| *d > self.last_poll));
        next
    }

    /// When the stream's first sequence moved past ours (purge, limits), skip what is gone.
    fn follow_stream_start(&mut self, store: &dyn StreamStore) {
        let state = store.state();
        let first = state.first_seq;
        if first > self.sseq {
            self.sseq = first;
            if self.filters.is_empty() && self.lss.is_none() {
                // Everything the stream holds is still ahead of an unfiltered consumer.
                self.npc = i64::try_from(state.msgs).unwrap_or(i64::MAX);
                self.npf = state.last_seq;
                self.npc_stale = false;
            } else {
                self.npc_stale = true;
            }
            if let Some(lss) = &mut self.lss {
                lss.seqs.retain(|s| *s >= first);
            }
            if self.pending.is_empty() {
                self.adflr = self.dseq - 1;
                self.asflr = self.sseq - 1;
            }
        }
    }

    /// Delivers until there is nothing to deliver or nobody to deliver to, or (push) until
    /// `burst` bytes went out.
    fn deliver_available(
        &mut self,
        store: &dyn StreamStore,
        now: Nanos,
        burst: usize,
        out: &mut Vec<Outbound>,
    ) -> Stop {
        self.replay_due = None;
        self.rate_due = None;
        let mut spent = 0usize;
        loop {
            if spent >= burst && !self.config.is_pull() {
                return Stop::Burst;
            }
            if self.config.is_pull() {
                if self.waiting.queue.is_empty() {
                    return Stop::NoTarget;
                }
            } else if !self.active || self.fc.stalled() {
                return Stop::NoTarget;
            }
            let candidate = match self.next_candidate(store, now) {
                Ok(c) => c,
                Err(stop) => return stop,
            };
            if let Some(due) = self.replay_hold(&candidate.msg, now) {
                self.replay_due = Some(due);
                return Stop::Paced;
            }
            let (headers, payload) = self.visible_body(&candidate.msg);
            let pending_after = if candidate.dc == 1 {
                self.num_pending().saturating_sub(1)
            } else {
                self.num_pending()
            };
            let mut reply = String::with_capacity(self.ack_prefix.len() + 64);
            reply.push_str(&self.ack_prefix);
            append_ack_tail(
                &mut reply,
                candidate.dc,
                candidate.msg.seq,
                self.dseq,
                candidate.msg.time,
                pending_after,
            );
            let size = candidate.msg.subject.len()
                + reply.len()
                + headers.as_ref().map_or(0, Bytes::len)
                + payload.len();
            if let Some(rate) = &mut self.rate {
                if let Err(due) = rate.take(size, now) {
                    self.rate_due = Some(due);
                    return Stop::Paced;
                }
            }
            let (to, group, served) = if self.config.is_pull() {
                match self.next_waiting(size, now, out) {
                    Some(served) => (served.reply.clone(), None, Some(served)),
                    None => return Stop::NoTarget,
                }
            } else {
                let to = self.config.deliver_subject.clone().unwrap_or_default();
                (to, self.config.deliver_group.clone(), None)
            };
            let (seq, time) = (candidate.msg.seq, candidate.msg.time);
            spent = spent.saturating_add(size);
            self.commit(&candidate);
            let msg = Message {
                subject: candidate.msg.subject,
                reply: Some(reply),
                headers,
                payload,
            };
            self.deliver(
                seq,
                time,
                Outbound {
                    to,
                    group,
                    msg,
                    ..Default::default()
                },
                now,
                out,
            );
            if let Some(served) = served {
                if served.n <= 0 && served.b > 0 {
                    out.push(pull::status_pending(
                        &served.reply,
                        409,
                        "Batch Completed",
                        served.n,
                        served.b,
                    ));
                }
            }
        }
    }

    /// The next message to deliver: due redeliveries first, then (below max_ack_pending) the
    /// `last_per_subject` skip list, then the stream. Changes state only to drop what can never
    /// be delivered (past max_deliver, removed from the stream).
    fn next_candidate(&mut self, store: &dyn StreamStore, now: Nanos) -> Result<Candidate, Stop> {
        while let Some(&seq) = self.rdq.front() {
            let dc = self.rdc.get(&seq).copied().unwrap_or(0).saturating_add(2);
            if self.max_deliver_reached(dc.saturating_sub(1)) {
                self.rdq.pop_front();
                self.rdq_set.remove(&seq);
                self.drop_max_delivered(seq, dc.saturating_sub(1), now);
                continue;
            }
            match store.load_msg(seq) {
                Ok(msg) => {
                    return Ok(Candidate {
                        msg,
                        dc,
                        source: Source::Redelivery,
                    })
                }
                Err(StoreError::NotFound | StoreError::Eof) => {
                    // Removed while waiting for redelivery: it will never be acked now.
                    self.rdq.pop_front();
                    self.rdq_set.remove(&seq);
                    self.on_removed(seq);
                }
                Err(_) => return Err(Stop::Drained),
            }
        }
        let max_pending = self.config.max_ack_pending;
        if max_pending > 0 && self.pending.len() as i64 >= max_pending {
            return Err(Stop::MaxAckPending);
        }
        while let Some(seq) = self.lss.as_ref().and_then(|l| l.seqs.front().copied()) {
            match store.load_msg(seq) {
                Ok(msg) => {
                    return Ok(Candidate {
                        msg,
                        dc: 1,
                        source: Source::SkipList,
                    })
                }
                Err(_) => self.advance_skip_list(),
            }
        }
        match self.next_matching(store, self.sseq) {
            Ok(Some(msg)) => Ok(Candidate {
                msg,
                dc: 1,
                source: Source::Stream,
            }),
            Ok(None) => {
                // Nothing more matches: skip the scan over what was looked at (as nats-server).
                let last = store.state().last_seq;
                self.sseq = self.sseq.max(last.saturating_add(1));
                Err(Stop::Drained)
            }
            Err(_) => Err(Stop::Drained),
        }
    }

    /// Makes a candidate's choice permanent.
    fn commit(&mut self, candidate: &Candidate) {
        let seq = candidate.msg.seq;
        match candidate.source {
            Source::Redelivery => {
                self.rdq.pop_front();
                self.rdq_set.remove(&seq);
                let count = self.rdc.entry(seq).or_insert(0);
                *count = count.saturating_add(1);
            }
            Source::SkipList => self.advance_skip_list(),
            Source::Stream => self.sseq = self.sseq.max(seq.saturating_add(1)),
        }
        if candidate.dc == 1 {
            self.npc -= 1;
        }
    }

    fn advance_skip_list(&mut self) {
        let Some(lss) = &mut self.lss else { return };
        let Some(seq) = lss.seqs.pop_front() else {
            self.lss = None;
            return;
        };
        if lss.seqs.is_empty() {
            self.sseq = lss.resume.max(seq) + 1;
            self.lss = None;
        } else {
            self.sseq = seq + 1;
        }
    }

    /// How long replay at the original pace must hold `msg` back, if at all.
    fn replay_hold(&self, msg: &StoredMsg, now: Nanos) -> Option<Nanos> {
        if !self.replay || self.replay_lts == 0 {
            return None;
        }
        let gap = msg.time.saturating_sub(self.replay_lts);
        let due = self.replay_last_at.saturating_add(gap);
        (gap > MILLIS && now < due).then_some(due)
    }

    /// The header block and payload subscribers see (headers only: the size instead of the body).
    fn visible_body(&self, msg: &StoredMsg) -> (Option<Bytes>, Bytes) {
        if !self.config.headers_only {
            return (msg.headers.clone(), msg.payload.clone());
        }
        let mut block = BytesMut::with_capacity(64);
        match &msg.headers {
            Some(h) if h.len() >= 2 => block.extend_from_slice(&h[..h.len() - 2]),
            _ => block.extend_from_slice(b"NATS/1.0\r\n"),
        }
        block.extend_from_slice(
            format!("{NATS_MSG_SIZE}: {}\r\n\r\n", msg.payload.len()).as_bytes(),
        );
        (Some(block.freeze()), Bytes::new())
    }

    /// Sends one delivery and records it (nats-server's `deliverMsg`).
    fn deliver(
        &mut self,
        seq: u64,
        stored_at: Nanos,
        outbound: Outbound,
        now: Nanos,
        out: &mut Vec<Outbound>,
    ) {
        let dseq = self.dseq;
        self.dseq = self.dseq.saturating_add(1);
        self.delivered.consumer_seq = self.delivered.consumer_seq.max(dseq);
        self.delivered.stream_seq = self.delivered.stream_seq.max(seq);
        self.ldt = now;
        if self.config.ack_policy == AckPolicy::None {
            self.adflr = dseq;
            self.asflr = seq;
            self.released.push(seq);
        } else {
            self.track_pending(seq, dseq, now);
        }
        if self.replay {
            self.replay_lts = stored_at;
            self.replay_last_at = now;
        }
        if self.config.is_pull() {
            self.waiting.last = now;
        } else if self.config.idle_heartbeat > 0 {
            self.hb_due = Some(now.saturating_add(self.config.idle_heartbeat));
        }
        let size = outbound.to.len()
            + outbound.msg.reply.as_ref().map_or(0, String::len)
            + outbound.msg.headers.as_ref().map_or(0, Bytes::len)
            + outbound.msg.payload.len();
        out.push(outbound);
        let window_half_full = self.fc.delivered(i64::try_from(size).unwrap_or(i64::MAX));
        // Acked by flow control: at max_ack_pending only an answer can free a slot, so ask
        // for one (nats-server's `needFlowControl`).
        let max_pending = self.config.max_ack_pending;
        let acks_wanted = self.config.ack_policy == AckPolicy::FlowControl
            && self.fc.fcid.is_none()
            && max_pending > 0
            && self.pending.len() as i64 >= max_pending;
        if window_half_full || acks_wanted {
            self.send_flow_control(out);
        }
        self.changed = true;
    }

    /// Sends a flow-control request to the push deliver subject.
    pub(super) fn send_flow_control(&mut self, out: &mut Vec<Outbound>) {
        let to = self.config.deliver_subject.clone().unwrap_or_default();
        let request = self.fc.request(
            &self.stream,
            &self.name,
            &to,
            self.config.deliver_group.as_deref(),
        );
        out.push(request);
    }
}
