//! The link's subscriptions and its request/reply mux.
//!
//! Subscriptions outlive connections: the table is the truth, and every new connection gets a
//! `SUB` for each entry after its handshake, so the application never re-subscribes. Sids are
//! numbers the link hands out and never reuses.
//!
//! A subscription being drained (nats.js's `drain()`) has had its `UNSUB` sent but still takes
//! the messages the server sent before it read the `UNSUB`, until its owner forgets it: it is
//! kept apart from the live table so a new connection does not subscribe it again.
//!
//! Requests share one wildcard subscription, `<inbox prefix>.*`, made on the first request (as
//! nats.go and async-nats do): each request's reply subject is `<prefix>.<id>`, so a reply is
//! matched to its request by the last token, with no subscription per request.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::time::Nanos;

/// A subscription as the link keeps it across reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Subject filter.
    pub subject: String,
    /// Queue group, if any.
    pub queue: Option<String>,
}

/// Every live subscription, by sid.
#[derive(Debug, Default)]
pub struct Subs {
    next_sid: u64,
    table: BTreeMap<u64, Subscription>,
    /// Sids unsubscribed on the wire whose messages in flight are still delivered.
    draining: BTreeSet<u64>,
}

impl Subs {
    /// Records a subscription and returns its new sid.
    pub fn add(&mut self, subject: String, queue: Option<String>) -> u64 {
        self.next_sid += 1;
        self.table
            .insert(self.next_sid, Subscription { subject, queue });
        self.next_sid
    }

    /// Forgets a live subscription; false if it was not live.
    pub fn remove(&mut self, sid: u64) -> bool {
        self.table.remove(&sid).is_some()
    }

    /// Moves a live subscription to the draining ones; false if it was not live.
    pub fn start_draining(&mut self, sid: u64) -> bool {
        let live = self.table.remove(&sid).is_some();
        if live {
            self.draining.insert(sid);
        }
        live
    }

    /// Forgets a draining subscription; false if it was not draining.
    pub fn stop_draining(&mut self, sid: u64) -> bool {
        self.draining.remove(&sid)
    }

    /// Whether `sid` takes messages (live or draining).
    pub fn contains(&self, sid: u64) -> bool {
        self.table.contains_key(&sid) || self.draining.contains(&sid)
    }

    /// Every live subscription, in sid order (the order they were made).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Subscription)> {
        self.table.iter().map(|(sid, sub)| (*sid, sub))
    }
}

/// Requests awaiting replies on the link's inbox.
#[derive(Debug)]
pub struct Requests {
    /// `_INBOX.<token>`: reply subjects are `<prefix>.<id>`.
    prefix: String,
    /// The sid of `<prefix>.*`, once the first request made it.
    inbox_sid: Option<u64>,
    next_id: u64,
    /// Request id → deadline, and the sid of its own subscription for a request of many
    /// replies (a pull's messages keep their stream subjects: only the sid tells whose they are).
    pending: BTreeMap<u64, (Nanos, Option<u64>)>,
    /// Sid → request, for the requests of many replies.
    many: BTreeMap<u64, u64>,
}

impl Requests {
    /// A mux whose reply subjects start with `prefix`.
    pub fn new(prefix: String) -> Self {
        Requests {
            prefix,
            inbox_sid: None,
            next_id: 0,
            pending: BTreeMap::new(),
            many: BTreeMap::new(),
        }
    }

    /// The inbox prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wildcard subscription's sid, if made.
    pub fn inbox_sid(&self) -> Option<u64> {
        self.inbox_sid
    }

    /// Remembers the wildcard subscription's sid.
    pub fn set_inbox_sid(&mut self, sid: u64) {
        self.inbox_sid = Some(sid);
    }

    /// The filter of the wildcard subscription.
    pub fn inbox_filter(&self) -> String {
        format!("{}.*", self.prefix)
    }

    /// How many requests are waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Registers a request answered by `deadline`; returns its id and reply subject.
    pub fn start(&mut self, deadline: Nanos) -> (u64, String) {
        self.next_id += 1;
        self.pending.insert(self.next_id, (deadline, None));
        (self.next_id, format!("{}.{}", self.prefix, self.next_id))
    }

    /// Registers a request of many replies answered until `deadline`; returns its id and reply
    /// subject (`<prefix>.m.<id>`, outside the wildcard inbox: it gets its own subscription).
    pub fn start_many(&mut self, deadline: Nanos) -> (u64, String) {
        self.next_id += 1;
        self.pending.insert(self.next_id, (deadline, None));
        (self.next_id, format!("{}.m.{}", self.prefix, self.next_id))
    }

    /// Remembers the subscription of request `id`'s replies.
    pub fn set_many_sid(&mut self, id: u64, sid: u64) {
        if let Some(entry) = self.pending.get_mut(&id) {
            entry.1 = Some(sid);
            self.many.insert(sid, id);
        }
    }

    /// The request of many replies whose subscription is `sid`.
    pub fn many_of_sid(&self, sid: u64) -> Option<u64> {
        self.many.get(&sid).copied()
    }

    /// Stops waiting for request `id`; returns its own subscription's sid, if it had one.
    pub fn end(&mut self, id: u64) -> Option<u64> {
        let (_, sid) = self.pending.remove(&id)?;
        if let Some(sid) = sid {
            self.many.remove(&sid);
        }
        sid
    }

    /// The request a message on the inbox answers, if it is still waiting (it stops waiting).
    pub fn finish(&mut self, subject: &str) -> Option<u64> {
        let id = subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?
            .parse::<u64>()
            .ok()?;
        if !self.pending.contains_key(&id) {
            return None;
        }
        self.end(id);
        Some(id)
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.pending.values().map(|(deadline, _)| *deadline).min()
    }

    /// Removes and returns the requests whose deadline is at or before `now`, each with its
    /// own subscription's sid if it had one.
    pub fn expire(&mut self, now: Nanos) -> Vec<(u64, Option<u64>)> {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        expired.into_iter().map(|id| (id, self.end(id))).collect()
    }

    /// Removes and returns every waiting request (the connection ended), as `expire` does.
    pub fn drain(&mut self) -> Vec<(u64, Option<u64>)> {
        let ids: Vec<u64> = self.pending.keys().copied().collect();
        ids.into_iter().map(|id| (id, self.end(id))).collect()
    }
}
