//! Abandoned pull requests: a request whose reply subject nobody subscribes to any more (its
//! client unsubscribed, disconnected, or the link relaying it ended) is dropped, as nats-server
//! drops it (`nextWaiting` skips such a request when choosing where a message goes;
//! `processWaiting` removes them when it reports `num_waiting`, when the queue is full, for a
//! `no_wait` request's count of what is wanted, and before the inactivity check). Kept, such a
//! request would be counted in `num_waiting` and take a message nobody receives, which then
//! waits a whole `ack_wait` before a live puller gets it.
//!
//! The answer comes from the shell ([`ReplyInterest`], the engine's interest oracle); with none
//! (the browser shell handles its own pulls) every request is presumed listened to. Nothing is
//! sent to a dropped request: nobody would hear it. To keep each message's cost bounded, only
//! the request a message is about to go to, or one a heartbeat is due for, is asked about; the
//! full sweeps happen where nats-server makes them.

use std::fmt;
use std::rc::Rc;

use super::waiting::WaitingRequest;
use super::Consumer;
use crate::core::time::Nanos;

/// How often a full queue is swept for abandoned requests when new ones keep coming (as
/// nats-server does, at most once a second).
const FULL_SWEEP_EVERY: Nanos = 1_000_000_000;

/// The shell's answer to "does this subject have subscribers?", shared by every consumer.
pub type SharedOracle = Rc<dyn Fn(&str) -> bool>;

/// Answers whether a pull request's reply subject still has subscribers.
#[derive(Clone, Default)]
pub struct ReplyInterest(Option<SharedOracle>);

impl ReplyInterest {
    /// Asks `oracle` about reply subjects.
    pub fn new(oracle: SharedOracle) -> Self {
        ReplyInterest(Some(oracle))
    }

    /// Whether someone listens on `reply` (always, without an oracle).
    pub fn listened(&self, reply: &str) -> bool {
        self.0.as_ref().is_none_or(|oracle| oracle(reply))
    }
}

impl fmt::Debug for ReplyInterest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.0.is_some() {
            "oracle"
        } else {
            "presumed"
        };
        f.debug_tuple("ReplyInterest").field(&what).finish()
    }
}

impl Consumer {
    /// Sets who answers whether a waiting request's reply subject is still listened to.
    pub fn set_reply_interest(&mut self, interest: ReplyInterest) {
        self.waiting.interest = interest;
    }

    /// Drops every waiting request nobody listens to any more.
    pub(super) fn drop_abandoned(&mut self) {
        let interest = &self.waiting.interest;
        self.waiting.queue.retain(|wr| interest.listened(&wr.reply));
    }

    /// On a full queue, drops abandoned requests to make room, at most once a second.
    pub(super) fn drop_abandoned_when_full(&mut self, now: Nanos) {
        if self.waiting.is_full() && now.saturating_sub(self.waiting.swept) >= FULL_SWEEP_EVERY {
            self.waiting.swept = now;
            self.drop_abandoned();
        }
    }

    /// Waiting requests still alive at `now`: not expired, and listened to.
    pub(super) fn live_waiting(&self, now: Nanos) -> usize {
        self.live_requests(now).count()
    }

    /// Whether some waiting request is still alive at `now`.
    pub(super) fn any_live_waiting(&self, now: Nanos) -> bool {
        self.live_requests(now).next().is_some()
    }

    fn live_requests(&self, now: Nanos) -> impl Iterator<Item = &WaitingRequest> + '_ {
        let interest = &self.waiting.interest;
        self.waiting
            .queue
            .iter()
            .filter(move |wr| !wr.expired(now) && interest.listened(&wr.reply))
    }
}
