//! The delivery loop (nats-server's `loopAndGatherMsgs` and `getNextMsg`), redelivery of expired
//! acks (`checkPending`), pull request handling (`processNextMsgRequest`, `nextWaiting`,
//! `processWaiting`) and push heartbeats, all run by [`Consumer::poll`] at the caller's `now`.
//!
//! A candidate message is chosen first without changing anything and committed only once it has
//! somewhere to go, so a message that no request can take, or that replay pacing holds back, is
//! simply chosen again on the next poll.

use bytes::{Bytes, BytesMut};

use super::ack::append_ack_tail;
use super::duration::go_duration;
use super::pull::{self, PullRequest, Served, WaitingRequest};
use super::push::idle_heartbeat;
use super::{AckPolicy, Consumer};
use crate::core::headers::NATS_MSG_SIZE;
use crate::core::message::{Message, Outbound};
use crate::core::store::{PendingAck, StoreError, StoredMsg, StreamStore};
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
    /// Queues a pull request (or answers it at once with a 409, 404 or 408 status), then delivers
    /// what is available. Mirrors nats-server's `processNextMsgRequest`.
    pub fn pull(
        &mut self,
        req: PullRequest,
        reply: &str,
        store: &dyn StreamStore,
        now: Nanos,
        out: &mut Vec<Outbound>,
    ) {
        if reply.is_empty() {
            return;
        }
        if !self.config.is_pull() {
            out.push(pull::status(reply, 409, "Consumer is push based"));
            return;
        }
        let cfg = &self.config;
        if cfg.max_batch > 0 && i64::try_from(req.batch).unwrap_or(i64::MAX) > cfg.max_batch {
            let text = format!("Exceeded MaxRequestBatch of {}", cfg.max_batch);
            out.push(pull::status(reply, 409, &text));
            return;
        }
        if req.expires > 0 && cfg.max_expires > 0 && req.expires > cfg.max_expires {
            let text = format!(
                "Exceeded MaxRequestExpires of {}",
                go_duration(cfg.max_expires)
            );
            out.push(pull::status(reply, 409, &text));
            return;
        }
        if req.max_bytes > 0
            && cfg.max_bytes > 0
            && i64::try_from(req.max_bytes).unwrap_or(i64::MAX) > cfg.max_bytes
        {
            let text = format!("Exceeded MaxRequestMaxBytes of {}", cfg.max_bytes);
            out.push(pull::status(reply, 409, &text));
            return;
        }
        if self.waiting.is_full() {
            self.process_waiting(false, now, out);
        }
        if req.no_wait {
            self.refresh_pending(store);
            self.check_pending(store, now);
            let available = self.num_pending() + self.rdq.len() as u64;
            if available == 0 && req.expires == 0 {
                self.waiting.last = now;
                out.push(pull::status(reply, 404, "No Messages"));
                return;
            }
            let wanted = u64::try_from(self.waiting.batch_pending()).unwrap_or(0);
            if available > 0 && available < wanted {
                self.waiting.last = now;
                out.push(pull::status(reply, 408, "Requests Pending"));
                return;
            }
        }
        let heartbeat = req.idle_heartbeat;
        if self
            .waiting
            .add(WaitingRequest::new(&req, reply, now))
            .is_err()
        {
            // A client that asked for heartbeats waits for them missing rather than retrying hot.
            if heartbeat == 0 {
                out.push(pull::status(reply, 409, "Exceeded MaxWaiting"));
            }
            return;
        }
        self.poll(store, now, out);
    }

    /// Does everything due at `now`: redelivers expired acks, delivers new messages to waiting
    /// requests or the push deliver subject, expires requests (408), and sends heartbeats.
    pub fn poll(&mut self, store: &dyn StreamStore, now: Nanos, out: &mut Vec<Outbound>) {
        self.last_poll = now;
        if self.replay && self.replay_lseq.is_none() {
            // Restored while replaying: replay up to what the stream holds now.
            self.replay_lseq = Some(store.state().last_seq);
        }
        self.follow_stream_start(store);
        self.refresh_pending(store);
        self.check_pending(store, now);
        let stop = self.deliver_available(store, now, out);
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

    /// Delivers until there is nothing to deliver or nobody to deliver to.
    fn deliver_available(
        &mut self,
        store: &dyn StreamStore,
        now: Nanos,
        out: &mut Vec<Outbound>,
    ) -> Stop {
        self.replay_due = None;
        self.rate_due = None;
        loop {
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
            self.commit(&candidate);
            let msg = Message {
                subject: candidate.msg.subject,
                reply: Some(reply),
                headers,
                payload,
            };
            self.deliver(seq, time, Outbound { to, group, msg }, now, out);
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
                self.drop_max_delivered(seq, now);
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
        if self.fc.delivered(i64::try_from(size).unwrap_or(i64::MAX)) {
            let to = self.config.deliver_subject.clone().unwrap_or_default();
            let request = self.fc.request(
                &self.stream,
                &self.name,
                &to,
                self.config.deliver_group.as_deref(),
            );
            out.push(request);
        }
        self.changed = true;
    }

    /// Records a delivery awaiting its ack; a redelivery keeps its first consumer sequence.
    fn track_pending(&mut self, seq: u64, dseq: u64, now: Nanos) {
        self.pending
            .entry(seq)
            .and_modify(|p| p.timestamp = now)
            .or_insert(PendingAck {
                consumer_seq: dseq,
                timestamp: now,
            });
        let due = now.saturating_add(self.ack_wait_for(seq));
        self.redeliver_no_later_than(due);
    }

    /// Queues for redelivery every pending ack whose wait ran out; forgets those the stream no
    /// longer has; stops redelivering those past max_deliver (nats-server's `checkPending`).
    pub(super) fn check_pending(&mut self, store: &dyn StreamStore, now: Nanos) {
        if self.pending.is_empty() {
            self.redeliver_at = None;
            return;
        }
        if self.redeliver_at.is_some_and(|at| now < at) {
            return;
        }
        let first = store.state().first_seq;
        let mut gone = Vec::new();
        let mut expired = Vec::new();
        let mut next: Option<Nanos> = None;
        for (&seq, p) in &self.pending {
            if seq < first || seq <= self.asflr {
                gone.push((seq, p.consumer_seq));
                continue;
            }
            if self.rdq_set.contains(&seq) {
                continue;
            }
            let due = p.timestamp.saturating_add(self.ack_wait_for(seq));
            if now >= due {
                expired.push(seq);
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        for (seq, cseq) in gone {
            self.pending.remove(&seq);
            self.rdc.remove(&seq);
            self.remove_from_redeliver_queue(seq);
            self.asflr = self.asflr.max(seq);
            self.adflr = self.adflr.max(cseq);
            self.changed = true;
        }
        for seq in expired {
            let deliveries = self.rdc.get(&seq).copied().unwrap_or(0).saturating_add(1);
            if self.max_deliver_reached(deliveries) {
                self.drop_max_delivered(seq, now);
                continue;
            }
            self.add_to_redeliver_queue(seq);
            if let Some(p) = self.pending.get_mut(&seq) {
                p.timestamp = now;
            }
        }
        self.redeliver_at = next;
        if self.pending.is_empty() {
            self.rdq.clear();
            self.rdq_set.clear();
            self.adflr = self.dseq - 1;
            self.asflr = self.sseq - 1;
        }
    }

    /// True when a message delivered `deliveries` times may not be delivered again.
    fn max_deliver_reached(&self, deliveries: u64) -> bool {
        let max = self.config.max_deliver;
        max > 0 && deliveries >= max as u64
    }

    /// Stops tracking a message that reached max_deliver; it stays counted as redelivered, which
    /// keeps it in an interest stream until acked (nats-server's `hasMaxDeliveries`).
    fn drop_max_delivered(&mut self, seq: u64, now: Nanos) {
        if let Some(p) = self.pending.remove(&seq) {
            self.ldt = now;
            self.move_ack_floor(p.consumer_seq, seq);
        }
        let count = self.rdc.entry(seq).or_insert(0);
        *count = (*count).max(1);
        self.changed = true;
    }

    /// The waiting request the next message of `size` bytes goes to, answering on the way those
    /// that expired (408) or cannot take it (409 Message Size Exceeds MaxBytes).
    fn next_waiting(&mut self, size: usize, now: Nanos, out: &mut Vec<Outbound>) -> Option<Served> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        while let Some(wr) = self.waiting.queue.front_mut() {
            if wr.expired(now) {
                out.push(pull::status_pending(
                    &wr.reply,
                    408,
                    "Request Timeout",
                    wr.n,
                    wr.b,
                ));
                self.waiting.queue.pop_front();
                continue;
            }
            if wr.b > 0 {
                if size <= wr.b {
                    wr.b -= size;
                    if wr.b == 0 {
                        // Exactly used up: this is the last message for it.
                        wr.n = 1;
                    }
                } else {
                    let text = "Message Size Exceeds MaxBytes";
                    out.push(pull::status_pending(&wr.reply, 409, text, wr.n, wr.b));
                    self.waiting.queue.pop_front();
                    continue;
                }
            }
            return self.waiting.pop(now);
        }
        None
    }

    /// Expires requests (408), ends `no_wait` requests once nothing is left (404) when `eos`,
    /// and sends request heartbeats (nats-server's `processWaiting`).
    fn process_waiting(&mut self, eos: bool, now: Nanos, out: &mut Vec<Outbound>) {
        let (last_consumer, last_stream) = (self.dseq - 1, self.sseq - 1);
        self.waiting.queue.retain_mut(|wr| {
            let expired = wr.expired(now);
            if expired {
                out.push(pull::status_pending(
                    &wr.reply,
                    408,
                    "Request Timeout",
                    wr.n,
                    wr.b,
                ));
                return false;
            }
            if eos && wr.no_wait && (wr.expires.is_none() || wr.d > 0) {
                out.push(pull::status(&wr.reply, 404, "No Messages"));
                return false;
            }
            if let Some(hbt) = wr.hbt {
                if now >= hbt {
                    out.push(idle_heartbeat(
                        &wr.reply,
                        None,
                        last_consumer,
                        last_stream,
                        None,
                    ));
                    wr.hbt = Some(now.saturating_add(wr.hb));
                }
            }
            true
        });
    }

    /// A push idle heartbeat when nothing was delivered for `idle_heartbeat`.
    fn push_heartbeat(&mut self, now: Nanos, out: &mut Vec<Outbound>) {
        let hb = self.config.idle_heartbeat;
        let Some(due) = self.hb_due else { return };
        if hb <= 0 || now < due {
            return;
        }
        if self.active {
            let to = self.config.deliver_subject.as_deref().unwrap_or_default();
            out.push(idle_heartbeat(
                to,
                self.config.deliver_group.as_deref(),
                self.dseq - 1,
                self.sseq - 1,
                self.fc.fcid.as_deref(),
            ));
        }
        self.hb_due = Some(now.saturating_add(hb));
    }
}
