//! A link: the client side of a NATS connection to another server (Contrail or nats-server), as
//! a sans-IO state machine in the style of quinn-proto.
//!
//! The link owns no socket, clock or randomness. A driver (the server shell's TCP task, later the
//! browser's WebSocket) moves bytes and time through it:
//!
//! - [`Link::poll_transport`] says when to open a transport ([`TransportCommand::Open`]) and when
//!   to drop it ([`TransportCommand::Close`]); the driver answers with [`Link::transport_opened`]
//!   or [`Link::transport_closed`];
//! - received bytes go in through [`Link::handle_input`]; bytes to send come out of
//!   [`Link::poll_transmit`];
//! - [`Link::poll_timeout`] says when to call [`Link::handle_timeout`] (handshake deadline,
//!   keepalive PING, request deadlines, the next reconnect);
//! - [`Link::poll_event`] hands out what the application hears: connected, disconnected,
//!   messages, replies, errors. Poll events after every call that takes input.
//!
//! Behaviour follows nats.go and async-nats: INFO, then `CONNECT` (verbose and pedantic off,
//! headers and no_responders on, protocol 1, with a token, a user and password, or an nkey
//! signature made by a caller-supplied signer so the core needs no crypto) and a `PING`; the
//! `PONG` completes the handshake, and the subscriptions are sent again on every new connection.
//! A PING every `ping_interval`; `max_pings_out` unanswered means the connection is stale.
//! Reconnects follow a [`Backoff`] with jitter from a caller-seeded generator. Authorization
//! failures are reported and retried once after the longest backoff, then the link stops (as
//! nats.go closes after the same auth error twice). Publishes are refused with a typed error when
//! not connected, when larger than the server's `max_payload`, or when the outgoing buffer is
//! full: memory never grows with a slow link.
//!
//! TLS is the driver's: the link says when (after INFO, with [`TransportCommand::StartTls`],
//! when [`LinkConfig::tls`] asks for it or the server's INFO says `tls_required`; or before
//! INFO with [`LinkTls::HandshakeFirst`]) and holds CONNECT back until
//! [`Link::tls_established`], so nothing but INFO ever crosses in plaintext; a failed
//! handshake ([`Link::tls_failed`]) ends the connection like any other.
//!
//! Not yet: several server URLs, and the
//! reconnect buffer nats.go keeps for publishes made while disconnected (the engine learns of
//! the outage from [`LinkEvent::Disconnected`] and resumes from its own state instead).

mod backoff;
mod config;
mod conn_state;
mod error;
mod subs;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

pub use backoff::Backoff;
use backoff::Rng;
pub use config::{Auth, LinkConfig, LinkTls, NonceSigner};
pub use error::{DisconnectReason, LinkError, RequestError};
pub use subs::Subscription;

use crate::core::message::Message;
use crate::core::proto::{self, ClientOp, ServerInfo, ServerParser};
use crate::core::time::Nanos;
use conn_state::Phase;
use subs::{Requests, Subs};

/// A subscription's id on the link (stable across reconnects).
pub type Sid = u64;

/// A request's id, named again in its [`LinkEvent::Reply`] or [`LinkEvent::RequestFailed`].
pub type RequestId = u64;

/// What the driver must do with the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCommand {
    /// Open a transport to the server; then call [`Link::transport_opened`], or
    /// [`Link::transport_closed`] if it fails.
    Open,
    /// Drop the transport at once, without reporting it closed; bytes taken from
    /// [`Link::poll_transmit`] before this command belong to the old connection.
    Close,
    /// Run the TLS client handshake on the open transport (the server's INFO came in
    /// plaintext); then call [`Link::tls_established`], or [`Link::tls_failed`] if it fails.
    /// Bytes read before the handshake are not fed to the link.
    StartTls,
}

/// Where the link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to dial again at `until`.
    Waiting {
        /// When the next attempt starts.
        until: Nanos,
    },
    /// Dialing or handshaking.
    Connecting,
    /// Handshake done: publishes and requests are accepted.
    Connected,
    /// Stopped by [`Link::close`] or after repeated authorization failures.
    Stopped,
}

/// What the application hears from the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The handshake completed; subscriptions have been sent again.
    Connected(Box<ServerInfo>),
    /// An established connection ended; the link reconnects unless it stopped.
    Disconnected(DisconnectReason),
    /// A message for subscription `sid`.
    Message {
        /// The subscription.
        sid: Sid,
        /// The message (subject, reply, headers, payload).
        msg: Message,
    },
    /// The reply to request `id`.
    Reply {
        /// The request.
        id: RequestId,
        /// The reply.
        msg: Message,
    },
    /// Request `id` ended without a reply.
    RequestFailed {
        /// The request.
        id: RequestId,
        /// Why.
        error: RequestError,
    },
    /// Something went wrong that the application should know (an authorization failure, a
    /// non-fatal `-ERR`).
    Error(LinkError),
    /// The link will not reconnect on its own (call [`Link::restart`]).
    Stopped(DisconnectReason),
}

/// Room for protocol replies beyond `max_pending_bytes` before the link calls the output
/// stalled.
const CONTROL_SLACK: usize = 64 * 1024;

/// A NATS client connection, sans-IO. See the module docs.
pub struct Link {
    config: LinkConfig,
    phase: Phase,
    rng: Rng,
    subs: Subs,
    requests: Requests,
    /// The server's INFO on the current connection.
    info: Option<ServerInfo>,
    parser: ServerParser,
    /// Received bytes not yet parsed into an operation.
    input: BytesMut,
    /// Bytes for the driver.
    out: BytesMut,
    events: VecDeque<LinkEvent>,
    transport: VecDeque<TransportCommand>,
    /// PINGs sent and not answered on this connection.
    pings_out: u32,
    /// Attempts that failed since the last established connection.
    failures: u32,
    /// Consecutive authorization failures.
    auth_failures: u32,
    /// Why the last connection or attempt ended.
    last_error: Option<DisconnectReason>,
    /// The current connection runs over TLS (said in CONNECT's `tls_required`).
    secure: bool,
}

impl Link {
    /// A link that asks to dial at once.
    pub fn new(config: LinkConfig, now: Nanos) -> Link {
        let mut rng = Rng::new(config.seed);
        let prefix = config
            .inbox_prefix
            .clone()
            .unwrap_or_else(|| format!("_INBOX.{}", rng.token(22)));
        let parser = ServerParser::new(conn_state::initial_limits(&config));
        let mut link = Link {
            config,
            phase: Phase::Stopped,
            rng,
            subs: Subs::default(),
            requests: Requests::new(prefix),
            info: None,
            parser,
            input: BytesMut::new(),
            out: BytesMut::new(),
            events: VecDeque::new(),
            transport: VecDeque::new(),
            pings_out: 0,
            failures: 0,
            auth_failures: 0,
            last_error: None,
            secure: false,
        };
        link.dial(now);
        link
    }

    /// Where the link stands.
    pub fn state(&self) -> LinkState {
        match self.phase {
            Phase::Waiting { until } => LinkState::Waiting { until },
            Phase::Dialing { .. }
            | Phase::AwaitInfo { .. }
            | Phase::AwaitTls { .. }
            | Phase::AwaitPong { .. } => LinkState::Connecting,
            Phase::Connected { .. } => LinkState::Connected,
            Phase::Stopped => LinkState::Stopped,
        }
    }

    /// The INFO of the current connection, once received.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.info.as_ref()
    }

    /// Why the last connection or attempt ended.
    pub fn last_error(&self) -> Option<&DisconnectReason> {
        self.last_error.as_ref()
    }

    /// The prefix of the link's reply subjects.
    pub fn inbox_prefix(&self) -> &str {
        self.requests.prefix()
    }

    /// The live subscriptions (the ones restored on every connection).
    pub fn subscriptions(&self) -> impl Iterator<Item = (Sid, &Subscription)> {
        self.subs.iter()
    }

    /// Bytes waiting for the driver.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }

    /// Subscribes to `subject` (a filter), in queue group `queue` if given. Works in every
    /// state but stopped: the subscription is sent now if connected, and on every connection.
    pub fn subscribe(&mut self, subject: &str, queue: Option<&str>) -> Result<Sid, LinkError> {
        if self.phase == Phase::Stopped {
            return Err(LinkError::Stopped);
        }
        proto::check_sub(subject).map_err(|_| LinkError::InvalidSubject(subject.into()))?;
        if let Some(queue) = queue {
            if !is_token(queue) {
                return Err(LinkError::InvalidSubject(queue.into()));
            }
        }
        let size = subject.len() + queue.map_or(0, str::len) + 32;
        if self.is_connected() {
            self.check_room(size)?;
        }
        let sid = self.subs.add(subject.into(), queue.map(str::to_owned));
        if self.is_connected() {
            self.send_sub(sid);
        }
        Ok(sid)
    }

    /// Ends subscription `sid` (live or draining; a draining one had its `UNSUB` already).
    pub fn unsubscribe(&mut self, sid: Sid) -> Result<(), LinkError> {
        if self.subs.stop_draining(sid) {
            return Ok(());
        }
        if !self.subs.remove(sid) {
            return Err(LinkError::UnknownSubscription(sid));
        }
        self.send_unsub(sid);
        Ok(())
    }

    /// Starts draining subscription `sid`, as nats.js's `drain()` does: its `UNSUB` is sent now
    /// (queued after everything before it), yet the messages the server sent before reading it
    /// still arrive as [`LinkEvent::Message`] until [`Link::unsubscribe`] forgets the sid. The
    /// owner learns that all of them arrived from a round trip that follows the `UNSUB` (a
    /// flush). A new connection does not subscribe it again.
    pub fn drain_subscription(&mut self, sid: Sid) -> Result<(), LinkError> {
        if !self.subs.start_draining(sid) {
            return Err(LinkError::UnknownSubscription(sid));
        }
        self.send_unsub(sid);
        Ok(())
    }

    /// Queues `UNSUB sid` when connected (a new connection learns of live subscriptions only).
    fn send_unsub(&mut self, sid: Sid) {
        if self.is_connected() {
            proto::encode_client(
                &ClientOp::Unsub {
                    sid: sid.to_string(),
                    max: None,
                },
                &mut self.out,
            );
        }
    }

    /// Publishes `msg` (with its reply subject and header block, if any).
    pub fn publish(&mut self, msg: &Message) -> Result<(), LinkError> {
        match self.phase {
            Phase::Connected { .. } => {}
            Phase::Stopped => return Err(LinkError::Stopped),
            _ => return Err(LinkError::NotConnected),
        }
        // Wildcard tokens are allowed, as nats-server allows them from clients that are not
        // pedantic (a JetStream API subject may end in a consumer's filter, `a.*`); what must
        // never reach the wire is a subject that would break the PUB line.
        proto::check_sub(&msg.subject)
            .map_err(|_| LinkError::InvalidSubject(msg.subject.clone()))?;
        if let Some(reply) = &msg.reply {
            proto::check_pub_subject(reply)
                .map_err(|_| LinkError::InvalidSubject(reply.clone()))?;
        }
        let size = msg.headers.as_ref().map_or(0, Bytes::len) + msg.payload.len();
        let limit = self.max_payload();
        if size > limit {
            return Err(LinkError::MaxPayload { size, limit });
        }
        let line = msg.subject.len() + msg.reply.as_ref().map_or(0, String::len) + 48;
        self.check_room(size + line)?;
        proto::encode_pub(msg, &mut self.out);
        Ok(())
    }

    /// Publishes `msg` with a reply subject on the link's inbox; the answer arrives as
    /// [`LinkEvent::Reply`] with the returned id, or [`LinkEvent::RequestFailed`] after
    /// `timeout`, on a `503` (no responders) or when the connection ends first.
    pub fn request(
        &mut self,
        msg: Message,
        timeout: Nanos,
        now: Nanos,
    ) -> Result<RequestId, LinkError> {
        self.send_request(msg, timeout, now, false)
    }

    /// As [`Link::request`], for a request answered by many messages (a pull consumer's
    /// `MSG.NEXT`): every message on its reply subject arrives as a [`LinkEvent::Reply`] until
    /// `timeout` passes ([`LinkEvent::RequestFailed`] then), the connection ends, or
    /// [`Link::end_request`].
    pub fn request_many(
        &mut self,
        msg: Message,
        timeout: Nanos,
        now: Nanos,
    ) -> Result<RequestId, LinkError> {
        self.send_request(msg, timeout, now, true)
    }

    /// Stops taking replies to request `id` (silently: no event follows).
    pub fn end_request(&mut self, id: RequestId) {
        if let Some(sid) = self.requests.end(id) {
            let _ = self.unsubscribe(sid);
        }
    }

    fn send_request(
        &mut self,
        mut msg: Message,
        timeout: Nanos,
        now: Nanos,
        many: bool,
    ) -> Result<RequestId, LinkError> {
        if !self.is_connected() {
            return Err(if self.phase == Phase::Stopped {
                LinkError::Stopped
            } else {
                LinkError::NotConnected
            });
        }
        if self.requests.len() >= self.config.max_pending_requests {
            return Err(LinkError::TooManyRequests(self.config.max_pending_requests));
        }
        if self.requests.inbox_sid().is_none() {
            let filter = self.requests.inbox_filter();
            let sid = self.subscribe(&filter, None)?;
            self.requests.set_inbox_sid(sid);
        }
        let deadline = now.saturating_add(timeout.max(0));
        let (id, reply) = if many {
            let (id, reply) = self.requests.start_many(deadline);
            match self.subscribe(&reply, None) {
                Ok(sid) => self.requests.set_many_sid(id, sid),
                Err(err) => {
                    self.requests.end(id);
                    return Err(err);
                }
            }
            (id, reply)
        } else {
            self.requests.start(deadline)
        };
        msg.reply = Some(reply);
        if let Err(err) = self.publish(&msg) {
            self.end_request(id);
            return Err(err);
        }
        Ok(id)
    }

    /// Takes every byte waiting to be sent, or `None` when there is nothing.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// The next thing the driver must do with the transport.
    pub fn poll_transport(&mut self) -> Option<TransportCommand> {
        self.transport.pop_front()
    }

    /// Stops the link: the transport is dropped, waiting requests fail, and nothing reconnects
    /// until [`Link::restart`].
    pub fn close(&mut self) {
        if self.phase != Phase::Stopped {
            self.end_connection(DisconnectReason::Closed);
            self.phase = Phase::Stopped;
        }
    }

    /// Starts a stopped link again (after [`Link::close`] or an authorization failure), with
    /// new credentials if given.
    pub fn restart(&mut self, auth: Option<Auth>, now: Nanos) {
        if let Some(auth) = auth {
            self.config.auth = auth;
        }
        if self.phase == Phase::Stopped {
            self.failures = 0;
            self.auth_failures = 0;
            self.dial(now);
        }
    }

    fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected { .. })
    }

    /// The server's max_payload, or nats-server's default before an INFO says otherwise.
    fn max_payload(&self) -> usize {
        self.info
            .as_ref()
            .and_then(|info| usize::try_from(info.max_payload).ok())
            .filter(|n| *n > 0)
            .unwrap_or(proto::DEFAULT_MAX_PAYLOAD)
    }

    /// Refuses `size` more bytes when the outgoing buffer would pass its bound.
    fn check_room(&self, size: usize) -> Result<(), LinkError> {
        let limit = self.config.max_pending_bytes;
        if self.out.len().saturating_add(size) > limit {
            return Err(LinkError::BufferFull {
                pending: self.out.len(),
                size,
                limit,
            });
        }
        Ok(())
    }

    fn send_sub(&mut self, sid: Sid) {
        let Some((_, sub)) = self.subs.iter().find(|(s, _)| *s == sid) else {
            return;
        };
        let op = ClientOp::Sub {
            subject: sub.subject.clone(),
            queue: sub.queue.clone(),
            sid: sid.to_string(),
        };
        proto::encode_client(&op, &mut self.out);
    }
}

/// A queue group name: printable, no whitespace (it sits between spaces on a SUB line).
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b > b' ' && b != 0x7f)
}
