//! How the engine speaks first: its own subscriptions, requests it sends and the replies it
//! awaits, and the links it may send over.
//!
//! The engine does no I/O, so this is bookkeeping plus a queue for the shell, as quinn-proto's
//! endpoint hands its driver events:
//!
//! - [`Engine::subscribe`] / [`Engine::unsubscribe`] queue an [`EngineEvent`]; the shell applies
//!   it (a local subscription: publishes on that subject are handed to [`Engine::handle`]; a
//!   link subscription: the link's messages for it go to [`Engine::handle_subscribed`]). The
//!   engine subscribes `$JS.API.>`, `$JS.ACK.>` and `$JS.FC.>` locally when it is made, so no
//!   shell hard-codes those prefixes.
//! - [`Engine::request`] sends a message to a [`Destination`] with a reply subject on the
//!   engine's inbox (`_INBOX.<token>.<id>`), subscribed on that destination the first time it is
//!   used. The reply, a timeout on the engine's timers, or the link going down ends the request
//!   with a [`RequestOutcome`].
//! - [`Engine::link_up`] / [`Engine::link_down`] say which links are usable; a request to a link
//!   that is down fails at once, and requests in flight on a link that goes down fail then.
//! - [`Engine::set_api_route`] tells the engine which link serves which JetStream API prefix (a
//!   source's `external.api`, `$JS.<domain>.API`); `$JS.API` and the engine's own domain are
//!   local.
//!
//! Messages on the subscriptions made with [`Engine::subscribe`] (a mirror's deliver subject, a
//! source's create inbox), local ones through [`Engine::handle`] and link ones through
//! [`Engine::handle_subscribed`], come out of one queue, [`Engine::poll_received`], tagged with
//! their subscription, for the part of the engine that made it. The engine's own mirrors and
//! sources have a queue of their own, which their host drains at once (`sourcing_host.rs`);
//! their local deliver subscriptions stay quiet (no interest for push consumers) until their
//! consumer's create is answered.
//!
//! A request to the engine's own API goes out as a local message like any other: the shell
//! routes it to local subscribers, and the engine is one of them (it subscribed `$JS.API.>`), so
//! the request comes back through the JetStream front that owns the engine
//! ([`crate::core::front::JetStream::handle`] or `handle_subscribed`: a message on a standing
//! subscription, [`Engine::is_standing_subscription`], is the front's to route), which serves
//! it and hands the reply on the inbox back to [`Engine::handle`]. This loopback costs a trip
//! through the shell, but a local origin then behaves exactly like a remote one (held replies,
//! API statistics, permissions later), and no second path exists.
//!
//! Shells drain [`Engine::poll_event`] before [`Engine::poll_outbound`], so a subscription is in
//! place before the first message that expects an answer on it leaves.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Engine;
use crate::core::message::{Destination, LinkId, Message, Outbound};
use crate::core::subject::{self, SubjectError};
use crate::core::subject_index::SubjectIndex;
use crate::core::time::Nanos;

/// An engine-owned subscription's id (stable for its life; never reused by one engine).
pub type SubId = u64;

/// A request's id, named again in its [`RequestOutcome`].
pub type RequestId = u64;

/// The local API prefix, as a source's `external.api` names it.
pub const LOCAL_API: &str = "$JS.API";

/// Subjects the engine takes from local publishers from the start: API requests, acks and
/// flow-control replies. (Stream subjects are captured through the stream configs.)
const STANDING_SUBJECTS: [&str; 3] = ["$JS.API.>", "$JS.ACK.>", "$JS.FC.>"];

/// Most messages [`Engine::poll_received`] holds; past it new ones are dropped (counted), so an
/// owner that falls behind costs no unbounded memory. Mirrors and sources notice the gap in
/// delivery sequences and recreate their consumer, as after any loss.
const MAX_RECEIVED: usize = 16 * 1024;

/// What the shell must do for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// Subscribe `subject` on `dest`: local publishes matching it go to [`Engine::handle`];
    /// messages a link delivers for it go to [`Engine::handle_subscribed`] with `sid`.
    Subscribe {
        /// The engine's id for it.
        sid: SubId,
        /// Subject or wildcard filter.
        subject: String,
        /// Where to subscribe.
        dest: Destination,
    },
    /// End subscription `sid` (made on `dest`).
    Unsubscribe {
        /// The engine's id for it.
        sid: SubId,
        /// Where it was made.
        dest: Destination,
    },
}

/// Why a request ended without a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No reply came before the request's deadline.
    #[error("the request timed out")]
    TimedOut,
    /// The link it was sent on is down (or was never reported up).
    #[error("the link is down")]
    LinkDown,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    /// The request.
    pub id: RequestId,
    /// Its reply, or why none came.
    pub result: Result<Message, RequestError>,
}

/// One engine-owned subscription.
#[derive(Debug, Clone)]
struct Subscription {
    subject: String,
    dest: Destination,
    kind: Kind,
}

/// What an engine subscription is for, which decides where its messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `$JS.API.>`, `$JS.ACK.>`, `$JS.FC.>`: to [`Engine::handle`].
    Standing,
    /// The engine's inbox on one destination: replies to its requests.
    Inbox,
    /// Made with [`Engine::subscribe`]: to [`Engine::poll_received`].
    Owned,
}

/// A request awaiting its reply.
#[derive(Debug, Clone, Copy)]
struct Pending {
    dest: Destination,
    deadline: Nanos,
    /// Sent by a part of the engine (an upload): its outcome stays inside.
    internal: bool,
}

/// The engine's side of subscriptions, requests and links (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Surface {
    next_sid: SubId,
    subs: BTreeMap<SubId, Subscription>,
    events: VecDeque<EngineEvent>,
    /// `_INBOX.<token>`: replies to the engine's requests arrive on `<inbox>.<id>`.
    inbox: String,
    /// The inbox subscription on each destination used so far.
    inboxes: BTreeMap<Destination, SubId>,
    next_request: RequestId,
    pending: BTreeMap<RequestId, Pending>,
    deadlines: BTreeSet<(Nanos, RequestId)>,
    outcomes: VecDeque<RequestOutcome>,
    /// Outcomes of the engine's internal requests, for the part that sent them.
    pub(super) internal_outcomes: VecDeque<RequestOutcome>,
    /// Links reported up, with when.
    links_up: BTreeMap<LinkId, Nanos>,
    /// API prefix (`external.api`) → the destination that serves it.
    api_routes: BTreeMap<String, Destination>,
    /// Local subscriptions made with [`Engine::subscribe`], to find which a publish matches.
    local_owned: SubjectIndex<SubId>,
    /// Messages for those subscriptions and link ones, for [`Engine::poll_received`].
    received: VecDeque<(SubId, Message)>,
    /// Messages dropped because `received` was full.
    dropped: u64,
    /// Subscriptions of the engine's own mirrors and sources (`sourcing_host.rs`): their
    /// messages go to `hosted_received`, not to [`Engine::poll_received`].
    hosted: BTreeSet<SubId>,
    hosted_received: VecDeque<(SubId, Message)>,
    /// Local subscriptions that do not count as interest for push consumers yet: a mirror's
    /// deliver subject until its consumer's create is answered (nats-server subscribes only
    /// then, so a consumer sends nothing before its creator knows it).
    quiet: BTreeSet<SubId>,
}

impl Surface {
    /// A surface whose inbox is `_INBOX.<token>`.
    pub(crate) fn new(token: &str) -> Surface {
        Surface {
            inbox: format!("_INBOX.{token}"),
            next_sid: 1,
            next_request: 1,
            ..Surface::default()
        }
    }

    fn add_subscription(&mut self, subject: String, dest: Destination, kind: Kind) -> SubId {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.events.push_back(EngineEvent::Subscribe {
            sid,
            subject: subject.clone(),
            dest,
        });
        let sub = Subscription {
            subject,
            dest,
            kind,
        };
        self.subs.insert(sid, sub);
        sid
    }

    /// Whether `subject` is on the engine's inbox (`<inbox>.…`).
    pub(crate) fn owns_inbox_subject(&self, subject: &str) -> bool {
        subject
            .strip_prefix(self.inbox.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The request id a subject on the engine's inbox names, if it is one.
    fn request_of(&self, subject: &str) -> Option<RequestId> {
        subject
            .strip_prefix(self.inbox.as_str())?
            .strip_prefix('.')?
            .parse()
            .ok()
    }

    fn fail(&mut self, id: RequestId, error: RequestError) {
        if let Some(pending) = self.pending.remove(&id) {
            self.deadlines.remove(&(pending.deadline, id));
            self.complete(pending, id, Err(error));
        }
    }

    /// Queues how request `id` ended for whoever sent it.
    fn complete(&mut self, pending: Pending, id: RequestId, result: Result<Message, RequestError>) {
        let outcome = RequestOutcome { id, result };
        if pending.internal {
            self.internal_outcomes.push_back(outcome);
        } else {
            self.outcomes.push_back(outcome);
        }
    }

    /// Completes a request if `msg` is its reply and came from where the request went.
    fn take_reply(&mut self, from: Destination, msg: Message) -> bool {
        let Some(id) = self.request_of(&msg.subject) else {
            return false;
        };
        match self.pending.get(&id) {
            Some(pending) if pending.dest == from => {
                let pending = *pending;
                self.pending.remove(&id);
                self.deadlines.remove(&(pending.deadline, id));
                self.complete(pending, id, Ok(msg));
            }
            // A late reply, a second reply, or one from elsewhere: dropped, like a client's
            // reply to a request that timed out.
            _ => {}
        }
        true
    }

    pub(crate) fn next_deadline(&self) -> Option<Nanos> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    pub(crate) fn expire(&mut self, now: Nanos) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.fail(id, RequestError::TimedOut);
        }
    }

    fn receive(&mut self, sid: SubId, msg: Message) {
        let queue = if self.hosted.contains(&sid) {
            &mut self.hosted_received
        } else {
            &mut self.received
        };
        if queue.len() >= MAX_RECEIVED {
            self.dropped += 1;
        } else {
            queue.push_back((sid, msg));
        }
    }

    /// Marks `sid` as a subscription of a hosted mirror or source.
    pub(crate) fn host(&mut self, sid: SubId) {
        self.hosted.insert(sid);
    }

    /// The next message for a hosted mirror or source.
    pub(crate) fn take_hosted(&mut self) -> Option<(SubId, Message)> {
        self.hosted_received.pop_front()
    }

    /// Whether one of the engine's own local subscriptions (a mirror's deliver subject, say)
    /// covers `subject`: that is interest for a push consumer delivering there.
    pub(crate) fn owns_locally(&self, subject: &str) -> bool {
        !self.local_owned.is_empty()
            && self
                .local_owned
                .matches(subject)
                .into_iter()
                .any(|sid| !self.quiet.contains(sid))
    }

    /// Whether subscription `sid` counts as interest for push consumers (see `quiet`): a new
    /// hosted subscription does not until [`Surface::set_quiet`] says otherwise.
    pub(crate) fn set_quiet(&mut self, sid: SubId, quiet: bool) {
        if quiet {
            self.quiet.insert(sid);
        } else {
            self.quiet.remove(&sid);
        }
    }

    /// Whether `sid` is quiet (see [`Surface::set_quiet`]).
    pub(crate) fn is_quiet(&self, sid: SubId) -> bool {
        self.quiet.contains(&sid)
    }

    /// Queues `msg` for every local subscription of [`Engine::subscribe`] it matches; whether
    /// any did.
    pub(crate) fn receive_local(&mut self, msg: &Message) -> bool {
        if self.local_owned.is_empty() {
            return false;
        }
        let sids: Vec<SubId> = self
            .local_owned
            .matches(&msg.subject)
            .into_iter()
            .copied()
            .collect();
        for sid in &sids {
            self.receive(*sid, msg.clone());
        }
        !sids.is_empty()
    }

    pub(crate) fn is_up(&self, dest: Destination) -> bool {
        match dest {
            Destination::Local => true,
            Destination::Link(id) => self.links_up.contains_key(&id),
        }
    }
}

impl Engine {
    /// Subscribes to the standing subjects (see the module docs). Called once by the
    /// constructor.
    pub(super) fn subscribe_standing(&mut self) {
        for subject in STANDING_SUBJECTS {
            self.surface
                .add_subscription(subject.to_string(), Destination::Local, Kind::Standing);
        }
    }

    /// Subscribes `subject` (a subject or wildcard filter) on `dest`; the shell learns it from
    /// [`Engine::poll_event`].
    pub fn subscribe(&mut self, subject: &str, dest: Destination) -> Result<SubId, SubjectError> {
        subject::validate_filter(subject)?;
        let sid = self
            .surface
            .add_subscription(subject.to_string(), dest, Kind::Owned);
        if dest == Destination::Local {
            self.surface.local_owned.insert(subject, sid)?;
        }
        Ok(sid)
    }

    /// Ends an engine-owned subscription (nothing if `sid` is not one).
    pub fn unsubscribe(&mut self, sid: SubId) {
        if let Some(sub) = self.surface.subs.remove(&sid) {
            self.surface.hosted.remove(&sid);
            self.surface.quiet.remove(&sid);
            self.surface.inboxes.retain(|_, inbox| *inbox != sid);
            self.surface.local_owned.remove(&sub.subject, &sid);
            self.surface.events.push_back(EngineEvent::Unsubscribe {
                sid,
                dest: sub.dest,
            });
        }
    }

    /// The next thing the shell must do for the engine (drain before [`Engine::poll_outbound`]).
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.surface.events.pop_front()
    }

    /// Every subscription the engine holds now: a shell that attaches a link late subscribes
    /// what the engine wants there.
    pub fn subscriptions(&self) -> impl Iterator<Item = (SubId, &str, Destination)> {
        self.surface
            .subs
            .iter()
            .map(|(sid, sub)| (*sid, sub.subject.as_str(), sub.dest))
    }

    /// Whether the engine wants local publishes on `subject` through a subscription of its own
    /// (stream subjects aside): for shells that test one subject rather than keep an index.
    pub fn subscribed_locally(&self, subject: &str) -> bool {
        if self.surface.owns_locally(subject) {
            return true;
        }
        self.surface.subs.iter().any(|(sid, sub)| {
            sub.dest == Destination::Local
                && !self.surface.quiet.contains(sid)
                && subject::matches(&sub.subject, subject)
        })
    }

    /// Sends `msg` to `dest` as a request: its reply subject becomes one on the engine's inbox,
    /// and the reply (or [`RequestError::TimedOut`] `timeout` after `now`, or
    /// [`RequestError::LinkDown`]) comes out of [`Engine::poll_request_outcome`]. A request to a
    /// link that is down fails at once.
    pub fn request(
        &mut self,
        dest: Destination,
        msg: Message,
        timeout: Nanos,
        now: Nanos,
    ) -> RequestId {
        self.send_request(dest, msg, timeout, now, false)
    }

    /// [`Engine::request`] for a part of the engine: with `internal`, the outcome goes to
    /// `surface.internal_outcomes` rather than [`Engine::poll_request_outcome`].
    pub(super) fn send_request(
        &mut self,
        dest: Destination,
        mut msg: Message,
        timeout: Nanos,
        now: Nanos,
        internal: bool,
    ) -> RequestId {
        let surface = &mut self.surface;
        let id = surface.next_request;
        surface.next_request += 1;
        let deadline = now.saturating_add(timeout.max(0));
        let pending = Pending {
            dest,
            deadline,
            internal,
        };
        surface.pending.insert(id, pending);
        surface.deadlines.insert((deadline, id));
        if !surface.is_up(dest) {
            surface.fail(id, RequestError::LinkDown);
            return id;
        }
        if !surface.inboxes.contains_key(&dest) {
            let filter = format!("{}.>", surface.inbox);
            let sid = surface.add_subscription(filter, dest, Kind::Inbox);
            surface.inboxes.insert(dest, sid);
        }
        msg.reply = Some(format!("{}.{id}", surface.inbox));
        self.send_now(Outbound {
            to: msg.subject.clone(),
            group: None,
            msg,
            dest,
        });
        id
    }

    /// Sends `msg` to `dest` with no reply expected (it leaves at the next flush).
    pub fn transmit(&mut self, dest: Destination, msg: Message) {
        self.send_now(Outbound {
            to: msg.subject.clone(),
            group: None,
            msg,
            dest,
        });
    }

    /// How the next request ended, if one did.
    pub fn poll_request_outcome(&mut self) -> Option<RequestOutcome> {
        self.surface.outcomes.pop_front()
    }

    /// Whether `sid` is one of the subscriptions the engine makes when it is made (`$JS.API.>`,
    /// `$JS.ACK.>`, `$JS.FC.>`): their messages are handled as if published locally, so the
    /// front serves an API request among them and hands the rest to [`Engine::handle`].
    pub fn is_standing_subscription(&self, sid: SubId) -> bool {
        self.surface
            .subs
            .get(&sid)
            .is_some_and(|sub| sub.kind == Kind::Standing)
    }

    /// Takes a message delivered for engine subscription `sid`: by a link, or by the shell
    /// when the engine sent it to a local subject it subscribed (routed on the subject it was
    /// sent to, which for a push delivery is not `msg.subject`). Returns whether the engine
    /// took it (false: no such subscription). A message on a standing subscription goes to
    /// [`Engine::handle`]; shells call the front's `handle_subscribed`, which serves the API
    /// requests among them first.
    pub fn handle_subscribed(&mut self, sid: SubId, msg: Message, now: Nanos) -> bool {
        self.clock = self.clock.max(now);
        let Some(sub) = self.surface.subs.get(&sid) else {
            return false;
        };
        match sub.kind {
            Kind::Inbox => {
                let dest = sub.dest;
                self.surface.take_reply(dest, msg)
            }
            Kind::Standing => self.handle(msg, now),
            Kind::Owned => {
                self.surface.receive(sid, msg);
                self.pump_sourcing(now);
                true
            }
        }
    }

    /// The next message that arrived for a subscription made with [`Engine::subscribe`], with
    /// its id. Those of the engine's own mirrors and sources never come out here: their
    /// machines take them as they arrive (`sourcing_host.rs`).
    pub fn poll_received(&mut self) -> Option<(SubId, Message)> {
        self.surface.received.pop_front()
    }

    /// Messages for the engine's subscriptions dropped because nobody took them in time.
    pub fn dropped_received(&self) -> u64 {
        self.surface.dropped
    }

    /// A local message on the engine's inbox: the reply to a local request.
    pub(super) fn handle_local_reply(&mut self, msg: Message) -> bool {
        self.surface.take_reply(Destination::Local, msg)
    }

    /// The link `id` is connected (its subscriptions are in place again).
    pub fn link_up(&mut self, id: LinkId, now: Nanos) {
        self.clock = self.clock.max(now);
        if !self.surface.links_up.contains_key(&id) {
            self.uploads_link_up(id);
        }
        self.surface.links_up.entry(id).or_insert(now);
        self.sourcing_link(id, true, now);
    }

    /// The link `id` is down: requests in flight on it fail now.
    pub fn link_down(&mut self, id: LinkId, now: Nanos) {
        self.clock = self.clock.max(now);
        self.surface.links_up.remove(&id);
        let on_link: Vec<RequestId> = self
            .surface
            .pending
            .iter()
            .filter(|(_, pending)| pending.dest == Destination::Link(id))
            .map(|(id, _)| *id)
            .collect();
        for request in on_link {
            self.surface.fail(request, RequestError::LinkDown);
        }
        self.sourcing_link(id, false, now);
    }

    /// Since when link `id` has been up, if it is.
    pub fn link_up_since(&self, id: LinkId) -> Option<Nanos> {
        self.surface.links_up.get(&id).copied()
    }

    /// Routes the JetStream API prefix `api` (a source's `external.api`, or `$JS.<domain>.API`)
    /// to `dest`.
    pub fn set_api_route(&mut self, api: &str, dest: Destination) {
        self.surface.api_routes.insert(api.to_string(), dest);
        self.sourcing.routes_changed();
    }

    /// Forgets the route of `api`.
    pub fn remove_api_route(&mut self, api: &str) {
        self.surface.api_routes.remove(api);
        self.sourcing.routes_changed();
    }

    /// Whether `dest` is usable now (local, or a link reported up).
    pub(super) fn surface_is_up(&self, dest: Destination) -> bool {
        self.surface.is_up(dest)
    }

    /// Where requests to the JetStream API named by `external_api` or `domain` go, and the API
    /// prefix to use there: `$JS.API` and this engine's own domain are local (reached with
    /// `$JS.API`); another domain `D` means `$JS.D.API`; `None` when no route is known.
    pub fn api_destination(
        &self,
        external_api: Option<&str>,
        domain: Option<&str>,
    ) -> Option<(Destination, String)> {
        let api = match (external_api, domain) {
            (Some(api), _) => api.trim_end_matches('.').to_string(),
            (None, Some(domain)) if self.config.domain.as_deref() == Some(domain) => {
                LOCAL_API.to_string()
            }
            (None, Some(domain)) => format!("$JS.{domain}.API"),
            (None, None) => LOCAL_API.to_string(),
        };
        let own_domain_api = self
            .config
            .domain
            .as_deref()
            .map(|domain| format!("$JS.{domain}.API"));
        if api == LOCAL_API || own_domain_api.as_deref() == Some(api.as_str()) {
            return Some((Destination::Local, LOCAL_API.to_string()));
        }
        let dest = *self.surface.api_routes.get(&api)?;
        Some((dest, api))
    }
}

#[cfg(test)]
#[path = "surface_tests.rs"]
mod tests;
