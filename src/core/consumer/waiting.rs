//! Waiting pull requests (nats-server's `waitQueue`, `processNextMsgRequest`, `nextWaiting` and
//! `processWaiting`): admitting a request or answering it at once (404, 408, 409), choosing the
//! request each message goes to, and expiring requests (408) or ending `no_wait` ones (404).
//! Requests are served round robin: one that still wants more goes to the back of the queue
//! after each message. A delivery the engine takes back (a failed sync, `engine/rollback.rs`)
//! gives its slot back to its request ([`Consumer::give_back`]), so the request does not wait
//! for its expiry for messages it never got.

use std::collections::VecDeque;

use super::abandoned::ReplyInterest;
use super::pull::{self, PullRequest};
use super::push::idle_heartbeat;
use super::Consumer;
use crate::core::duration::go_duration;
use crate::core::message::Outbound;
use crate::core::store::StreamStore;
use crate::core::time::Nanos;

/// A request waiting for messages.
#[derive(Debug, Clone)]
pub(crate) struct WaitingRequest {
    /// Where messages and statuses go.
    pub reply: String,
    /// Messages still wanted (may reach 0 or below on the last one, as in nats-server).
    pub n: i64,
    /// Messages delivered so far.
    pub d: u64,
    /// Bytes still allowed; 0 is unlimited.
    pub b: i64,
    /// When it expires, if ever.
    pub expires: Option<Nanos>,
    /// When it was received.
    pub received: Nanos,
    /// Heartbeat interval, 0 for none.
    pub hb: Nanos,
    /// Next heartbeat due.
    pub hbt: Option<Nanos>,
    /// Answer 404 rather than wait once nothing is left.
    pub no_wait: bool,
    /// It asked for at most `max_bytes` (so `b` counts down).
    pub limited: bool,
}

impl WaitingRequest {
    /// The request as received at `now`.
    pub fn new(req: &PullRequest, reply: &str, now: Nanos) -> Self {
        WaitingRequest {
            reply: reply.to_string(),
            n: i64::try_from(req.batch).unwrap_or(i64::MAX),
            d: 0,
            b: i64::try_from(req.max_bytes).unwrap_or(i64::MAX),
            expires: (req.expires != 0).then(|| now.saturating_add(req.expires)),
            received: now,
            hb: req.idle_heartbeat,
            hbt: (req.idle_heartbeat > 0).then(|| now.saturating_add(req.idle_heartbeat)),
            no_wait: req.no_wait,
            limited: req.max_bytes > 0,
        }
    }

    /// True once `now` has reached its expiry.
    pub fn expired(&self, now: Nanos) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// Requests whose batch the last deliveries filled, kept so that a delivery taken back can
/// still be given back to its request: the newest this many.
const FINISHED_KEPT: usize = 32;

/// The queue of waiting requests, bounded by `max_waiting`.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitQueue {
    pub queue: VecDeque<WaitingRequest>,
    pub max: usize,
    /// Last pull activity: a request received or answered, a delivery, an ack.
    pub last: Nanos,
    /// The newest requests a delivery filled (see [`FINISHED_KEPT`]).
    finished: VecDeque<WaitingRequest>,
    /// Whether a request's reply subject is still listened to (`abandoned.rs`).
    pub interest: ReplyInterest,
    /// When a full queue was last swept for abandoned requests.
    pub swept: Nanos,
}

impl WaitQueue {
    pub fn new(max: usize) -> Self {
        WaitQueue {
            queue: VecDeque::new(),
            max,
            last: 0,
            finished: VecDeque::new(),
            interest: ReplyInterest::default(),
            swept: Nanos::MIN,
        }
    }

    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.max
    }

    /// Adds a request, or gives it back when the queue is full.
    pub fn add(&mut self, wr: WaitingRequest) -> Result<(), WaitingRequest> {
        if self.is_full() {
            return Err(wr);
        }
        self.last = wr.received;
        self.queue.push_back(wr);
        Ok(())
    }

    /// Counts a delivery at `now` against the head request; it moves to the back (its heartbeat
    /// restarted) if it wants more, or leaves the queue when done.
    pub fn pop(&mut self, now: Nanos) -> Option<Served> {
        let mut wr = self.queue.pop_front()?;
        wr.d += 1;
        wr.n -= 1;
        let served = Served {
            reply: wr.reply.clone(),
            n: wr.n,
            b: wr.b,
        };
        if wr.n > 0 {
            if wr.hb > 0 {
                wr.hbt = Some(now.saturating_add(wr.hb));
            }
            self.queue.push_back(wr);
        } else {
            if self.finished.len() == FINISHED_KEPT {
                self.finished.pop_front();
            }
            self.finished.push_back(wr);
        }
        Some(served)
    }

    /// Gives a delivery of `size` bytes back to the request answered on `reply`: it wants one
    /// more message again (and those bytes, if it counts bytes), and waits again if that
    /// delivery had filled it. Returns whether the request was found.
    fn give_back(&mut self, reply: &str, size: usize) -> bool {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let restore = |wr: &mut WaitingRequest| {
            wr.n += 1;
            wr.d = wr.d.saturating_sub(1);
            if wr.limited {
                wr.b = wr.b.saturating_add(size);
            }
        };
        if let Some(wr) = self.queue.iter_mut().find(|wr| wr.reply == reply) {
            restore(wr);
            return true;
        }
        let Some(at) = self.finished.iter().rposition(|wr| wr.reply == reply) else {
            return false;
        };
        if self.is_full() {
            return false;
        }
        let Some(mut wr) = self.finished.remove(at) else {
            return false;
        };
        wr.n = wr.n.max(0);
        restore(&mut wr);
        self.queue.push_back(wr);
        true
    }

    /// Messages wanted by all waiting requests.
    pub fn batch_pending(&self) -> i64 {
        self.queue.iter().map(|w| w.n).sum()
    }
}

/// What a delivery to a waiting request leaves behind.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub reply: String,
    pub n: i64,
    pub b: i64,
}

impl Consumer {
    /// Gives a delivery the engine took back (its message was dropped by a failed sync) back
    /// to the pull request it went to, `reply`: the request wants it again, and waits again if
    /// it had been filled (nats-server never takes a delivery back, so it has no equivalent).
    /// Returns whether that request was found.
    pub(crate) fn give_back(&mut self, reply: &str, size: usize) -> bool {
        self.waiting.give_back(reply, size)
    }

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
            self.drop_abandoned_when_full(now);
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
            // What live requests want: nats-server counts after dropping abandoned ones.
            self.drop_abandoned();
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

    /// The waiting request the next message of `size` bytes goes to, answering on the way those
    /// that expired (408) or cannot take it (409 Message Size Exceeds MaxBytes), and dropping
    /// those nobody listens to any more (silently, as nats-server does).
    pub(super) fn next_waiting(
        &mut self,
        size: usize,
        now: Nanos,
        out: &mut Vec<Outbound>,
    ) -> Option<Served> {
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
            if !self.waiting.interest.listened(&wr.reply) {
                self.waiting.queue.pop_front();
                continue;
            }
            return self.waiting.pop(now);
        }
        None
    }

    /// Expires requests (408), ends `no_wait` requests once nothing is left (404) when `eos`,
    /// and sends request heartbeats (nats-server's `processWaiting`); a request due a heartbeat
    /// that nobody listens to any more is dropped instead.
    pub(super) fn process_waiting(&mut self, eos: bool, now: Nanos, out: &mut Vec<Outbound>) {
        let (last_consumer, last_stream) = (self.dseq - 1, self.sseq - 1);
        let interest = &self.waiting.interest;
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
                    if !interest.listened(&wr.reply) {
                        return false;
                    }
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
}
