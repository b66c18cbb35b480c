//! Carrying out what a hosted mirror or source asks (see `sourcing_host.rs`): its
//! subscriptions, the messages it sends toward the origin (a consumer create at once, a reply
//! that vouches for stored messages through the stream's outbox), and its stores: at the
//! origin's sequence and time for a mirror, as a publish with `Nats-Stream-Source` for a source.
//! A store that fails makes the machine start again from what the stream holds.

use bytes::Bytes;

use super::sourcing_host::{local_state, Follower, Key};
use super::streams::Entry;
use super::surface::SubId;
use super::Engine;
use crate::core::headers::Headers;
use crate::core::message::{Destination, Message, Outbound};
use crate::core::sourcing::Action;
use crate::core::time::Nanos;

/// The header block of a message a machine sends.
fn header_block(headers: &[(String, String)]) -> Option<Bytes> {
    if headers.is_empty() {
        return None;
    }
    let mut block = Headers::new();
    for (name, value) in headers {
        block.append(name, value.as_str());
    }
    Some(block.encode())
}

/// Whether [`Engine::wake_origin_consumer`] has anything to do for `f`: a deliver subject
/// still deferred (link) or still quiet (local). Checked on the follower already at hand, as
/// a catch-up asks after every message.
fn needs_waking(f: &Follower, surface: &super::surface::Surface) -> bool {
    let Some(deliver) = f.machine.active_deliver_subject() else {
        return false;
    };
    if f.deferred.contains(deliver) {
        return true;
    }
    f.sids
        .get(deliver)
        .is_some_and(|&sid| surface.is_quiet(sid))
}

/// The prefix of a machine's consumer-create inboxes (`$JSC.R.<token>`, as nats-server).
const CREATE_INBOX_PREFIX: &str = "$JSC.R.";

impl Engine {
    /// Carries out what machine `key` asks, until it asks nothing more.
    pub(super) fn carry_out(&mut self, key: &Key, now: Nanos) {
        loop {
            let Some(f) = self.sourcing.followers.get_mut(key) else {
                return;
            };
            let Some(action) = f.machine.poll_action() else {
                if needs_waking(f, &self.surface) {
                    self.wake_origin_consumer(key, now);
                }
                return;
            };
            let stream = key.stream();
            match action {
                Action::Subscribe(subject) => {
                    let route = f.route.clone();
                    self.hosted_subscribe(key, subject, route);
                }
                Action::Unsubscribe(subject) => {
                    f.inboxes.remove(&subject);
                    f.deferred.remove(&subject);
                    if let Some(sid) = f.sids.remove(&subject) {
                        let local = matches!(f.route, Some((Destination::Local, _)));
                        self.drop_hosted_subscription(sid, &subject, local);
                    }
                }
                Action::Send {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    let route = f.route.clone();
                    self.send_toward_origin(key, route, subject, reply, &headers, payload);
                }
                Action::StoreMirrored {
                    seq,
                    time,
                    subject,
                    headers,
                    payload,
                    ticket,
                } => {
                    let headers = Some(headers).filter(|h| !h.is_empty());
                    let entry = Entry::Mirrored { seq, time };
                    let stored = self.ingest_into(stream, &subject, headers, payload, now, entry);
                    self.stored(key, ticket, seq, stored.is_some_and(|r| r.is_ok()), now);
                }
                Action::SkipMirrored { last, ticket, .. } => {
                    let skipped = self.skip_mirrored(stream, last, now);
                    self.stored(key, ticket, last, skipped, now);
                }
                Action::ResetMirrorFirst { next_seq, ticket } => {
                    let reset = self.skip_mirrored(stream, next_seq.saturating_sub(1), now);
                    self.stored(key, ticket, next_seq, reset, now);
                }
                Action::StoreSourced {
                    subject,
                    headers,
                    payload,
                    ticket,
                    origin_seq,
                } => {
                    let headers = Some(headers).filter(|h| !h.is_empty());
                    let entry = Entry::Sourced;
                    let stored = self.ingest_into(stream, &subject, headers, payload, now, entry);
                    self.stored(
                        key,
                        ticket,
                        origin_seq,
                        stored.is_some_and(|r| r.is_ok()),
                        now,
                    );
                }
            }
        }
    }

    /// Once a machine's consumer is answered, its deliver subscription becomes interest: made
    /// now on a link, no longer quiet locally. The origin's push consumer starts delivering then,
    /// as it does when nats-server subscribes the deliver subject in the answer's handler.
    fn wake_origin_consumer(&mut self, key: &Key, now: Nanos) {
        let Some(f) = self.sourcing.followers.get_mut(key) else {
            return;
        };
        let Some(deliver) = f.machine.active_deliver_subject() else {
            return;
        };
        if f.deferred.remove(deliver) {
            // On another server: subscribing is what wakes its consumer.
            let (deliver, route) = (deliver.to_string(), f.route.clone());
            self.hosted_subscribe(key, deliver, route);
            return;
        }
        let Some(&sid) = f.sids.get(deliver) else {
            return;
        };
        if !self.surface.is_quiet(sid) {
            return;
        }
        let deliver = deliver.to_string();
        self.surface.set_quiet(sid, false);
        self.push_interest(&deliver, true, now);
    }

    /// Tells a machine how its store went: a success is accepted at once (what vouches for it
    /// waits in the stream's outbox for the sync, see the module docs); a failure makes it
    /// start again from what the stream holds.
    fn stored(&mut self, key: &Key, ticket: u64, origin_seq: u64, ok: bool, now: Nanos) {
        if ok {
            if let Some(f) = self.sourcing.followers.get_mut(key) {
                f.machine.durable(ticket);
            }
            return;
        }
        // Only a failure needs the store's state (read per stored message, it was 2% of a
        // mirror catch-up's profile).
        let local = self
            .streams
            .get(key.stream())
            .map(|slot| local_state(slot.stream.store()))
            .unwrap_or_default();
        if let Some(f) = self.sourcing.followers.get_mut(key) {
            f.machine.store_failed(now, local, origin_seq);
        }
    }

    /// Moves a mirror's last sequence to `last` without storing; whether that worked.
    fn skip_mirrored(&mut self, stream: &str, last: u64, now: Nanos) -> bool {
        let Some(slot) = self.streams.get_mut(stream) else {
            return false;
        };
        if slot.stream.skip_mirrored_to(last, now).is_err() {
            return false;
        }
        self.mark_dirty(stream);
        true
    }

    fn hosted_subscribe(
        &mut self,
        key: &Key,
        subject: String,
        route: Option<(Destination, String)>,
    ) {
        let Some((dest, _)) = route else {
            return;
        };
        if let Destination::Link(_) = dest {
            // A deliver subject on another server is subscribed only once the consumer's create
            // is answered (its subscription is the far consumer's interest): see
            // `wake_origin_consumer`. Create inboxes are subscribed at once.
            let f = self.sourcing.followers.get_mut(key);
            if let Some(f) = f.filter(|f| {
                !subject.starts_with(CREATE_INBOX_PREFIX)
                    && f.machine.active_deliver_subject() != Some(subject.as_str())
            }) {
                f.deferred.insert(subject);
                return;
            }
        }
        let Ok(sid) = self.subscribe(&subject, dest) else {
            return;
        };
        self.surface.host(sid);
        if dest == Destination::Local {
            // Interest for the origin's consumer only once its create is answered.
            self.surface.set_quiet(sid, true);
        }
        self.sourcing.by_sid.insert(sid, key.clone());
        if let Some(f) = self.sourcing.followers.get_mut(key) {
            f.sids.insert(subject, sid);
        }
    }

    pub(super) fn drop_hosted_subscription(&mut self, sid: SubId, subject: &str, local: bool) {
        self.sourcing.by_sid.remove(&sid);
        self.unsubscribe(sid);
        if local && self.has_deliver_subject(subject) {
            // A local push consumer delivering there may have lost its only subscriber: it
            // stops now, before what is published next is handed to nobody (and, from a work
            // queue or an interest stream, let go of).
            let active =
                self.interest.has_subscribers(subject) || self.surface.owns_locally(subject);
            let now = self.clock;
            self.push_interest(subject, active, now);
        }
    }

    /// Sends a machine's message to the origin's server. A request (a consumer create) leaves
    /// at once; a reply that vouches for stored messages waits for their sync.
    fn send_toward_origin(
        &mut self,
        key: &Key,
        route: Option<(Destination, String)>,
        subject: String,
        reply: Option<String>,
        headers: &[(String, String)],
        payload: Bytes,
    ) {
        let Some((dest, api)) = route else {
            return;
        };
        let Some(f) = self.sourcing.followers.get_mut(key) else {
            return;
        };
        // The machine writes the configured prefix; the route may reach it under another
        // (this engine's own domain is its `$JS.API`).
        let configured = f.source.api_prefix();
        let subject = match subject.strip_prefix(configured) {
            Some(rest) if configured != api => format!("{api}{rest}"),
            _ => subject,
        };
        if let Some(inbox) = &reply {
            f.inboxes.insert(inbox.clone());
        }
        let is_request = reply.is_some();
        let msg = Message {
            subject,
            reply,
            headers: header_block(headers),
            payload,
        };
        let out = Outbound {
            to: msg.subject.clone(),
            group: None,
            msg,
            dest,
        };
        if is_request {
            self.send_now(out);
            return;
        }
        let Some(slot) = self.streams.get_mut(key.stream()) else {
            self.send_now(out);
            return;
        };
        let need = slot.durability.writes_so_far();
        if slot.durability.queue(need, out, &mut self.ready) {
            self.holding.insert(key.stream().to_string());
        }
    }
}
