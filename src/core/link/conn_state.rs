//! One connection's life inside the link: dialing, the INFO → (TLS) → CONNECT → PING → PONG
//! handshake, the server's operations, keepalive and stale detection, and how a connection ends
//! (what is reported, when the next attempt starts, when the link gives up).

use bytes::BytesMut;

use super::{
    Auth, DisconnectReason, Link, LinkConfig, LinkError, LinkEvent, LinkTls, RequestError,
    TransportCommand, CONTROL_SLACK,
};
use crate::core::headers::Headers;
use crate::core::message::Message;
use crate::core::proto::{self, ClientOp, Connect, Limits, ServerInfo, ServerOp, ServerParser};
use crate::core::time::Nanos;

/// The stage of the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No transport; the next attempt starts at `until`.
    Waiting {
        /// When to dial.
        until: Nanos,
    },
    /// [`TransportCommand::Open`] issued; waiting for the driver.
    Dialing {
        /// Connect timeout.
        deadline: Nanos,
    },
    /// Transport up; waiting for the server's INFO.
    AwaitInfo {
        /// Connect timeout.
        deadline: Nanos,
    },
    /// INFO read in plaintext; [`TransportCommand::StartTls`] issued, CONNECT held back until
    /// the driver's handshake completes.
    AwaitTls {
        /// Connect timeout.
        deadline: Nanos,
    },
    /// CONNECT and PING sent; waiting for the PONG that says the server accepted them.
    AwaitPong {
        /// Connect timeout.
        deadline: Nanos,
    },
    /// Established.
    Connected {
        /// When the next keepalive PING is due.
        next_ping: Nanos,
    },
    /// Not reconnecting.
    Stopped,
}

/// The parser limits before any INFO.
pub(super) fn initial_limits(config: &LinkConfig) -> Limits {
    Limits {
        max_control_line: config.max_control_line,
        max_payload: proto::DEFAULT_MAX_PAYLOAD.min(config.max_incoming_payload),
    }
}

/// How an `-ERR` from the server is taken (after nats.go's `processErr`). nats.go closes the
/// connection for good on an `-ERR` it does not know; a link reconnects instead, since the
/// server it links to may be restarting or reconfigured.
enum ErrKind {
    /// The credentials were refused: report, and do not retry blindly.
    Auth,
    /// The connection carries on (the server said so and keeps it open).
    NonFatal,
    /// The server closes the connection after it.
    Fatal,
}

fn classify_err(text: &str) -> ErrKind {
    let lower = text.to_ascii_lowercase();
    // nats.go's checkAuthError. "Authentication Timeout" is not among them: it means CONNECT
    // came too late, not that the credentials are wrong.
    if lower.contains("authorization violation")
        || lower.contains("authentication expired")
        || lower.contains("authentication revoked")
    {
        ErrKind::Auth
    } else if lower.starts_with("permissions violation")
        || lower.starts_with("maximum subscriptions exceeded")
        || lower == "invalid subject"
        || lower == "invalid publish subject"
    {
        ErrKind::NonFatal
    } else {
        ErrKind::Fatal
    }
}

impl Link {
    /// Feeds bytes received on the current transport. Bytes that arrive while no connection
    /// is open (the driver had not yet acted on a [`TransportCommand::Close`]) are dropped.
    pub fn handle_input(&mut self, bytes: &[u8], now: Nanos) {
        if !matches!(
            self.phase,
            Phase::AwaitInfo { .. } | Phase::AwaitPong { .. } | Phase::Connected { .. }
        ) {
            return;
        }
        self.input.extend_from_slice(bytes);
        loop {
            match self.parser.parse(&mut self.input) {
                Ok(Some(op)) => {
                    self.handle_op(op, now);
                    if !self.has_transport() {
                        break;
                    }
                    if matches!(self.phase, Phase::AwaitTls { .. }) {
                        // What follows INFO in plaintext is not the server's (the server waits
                        // for our handshake): it is dropped, never parsed.
                        self.input = BytesMut::new();
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    self.fail(DisconnectReason::Protocol(err), now);
                    break;
                }
            }
        }
    }

    /// The driver opened the transport asked for by [`TransportCommand::Open`] (with
    /// [`LinkTls::HandshakeFirst`], after its TLS handshake). The connect timeout runs from the
    /// dial, so `_now` only keeps the driver's calls uniform.
    pub fn transport_opened(&mut self, _now: Nanos) {
        match self.phase {
            Phase::Dialing { deadline } => {
                self.phase = Phase::AwaitInfo { deadline };
                self.input = BytesMut::new();
                self.parser = ServerParser::new(initial_limits(&self.config));
                self.pings_out = 0;
                self.secure = self.config.tls == LinkTls::HandshakeFirst;
            }
            // Opened too late (timed out, closed meanwhile): not ours any more.
            _ => self.transport.push_back(TransportCommand::Close),
        }
    }

    /// The driver's TLS handshake, asked for by [`TransportCommand::StartTls`], completed:
    /// CONNECT and the handshake's PING go out, over TLS.
    pub fn tls_established(&mut self, now: Nanos) {
        match self.phase {
            Phase::AwaitTls { deadline } => {
                self.secure = true;
                self.input = BytesMut::new();
                // The INFO that asked for TLS is kept (AwaitTls is entered only with it).
                if let Some(info) = self.info.clone() {
                    self.send_connect(&info, deadline, now);
                }
            }
            // Finished too late (timed out, closed meanwhile): not ours any more.
            _ => self.transport.push_back(TransportCommand::Close),
        }
    }

    /// The driver's TLS handshake (after [`TransportCommand::StartTls`], or before reporting
    /// the transport open with [`LinkTls::HandshakeFirst`]) failed; `reason` is for the report.
    /// The connection is over, as with [`Link::transport_closed`].
    pub fn tls_failed(&mut self, reason: &str, now: Nanos) {
        if self.has_transport() {
            self.transport_gone(DisconnectReason::Tls(reason.to_owned()), now);
        }
    }

    /// The transport failed to open, or closed (EOF, reset). `reason` is for the report.
    pub fn transport_closed(&mut self, reason: &str, now: Nanos) {
        if self.has_transport() {
            self.transport_gone(DisconnectReason::Transport(reason.to_owned()), now);
        }
    }

    /// When [`Link::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Nanos> {
        let phase = match self.phase {
            Phase::Waiting { until } => Some(until),
            Phase::Dialing { deadline }
            | Phase::AwaitInfo { deadline }
            | Phase::AwaitTls { deadline }
            | Phase::AwaitPong { deadline } => Some(deadline),
            Phase::Connected { next_ping } => Some(next_ping),
            Phase::Stopped => None,
        };
        match (phase, self.requests.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs what is due at `now`: dialing, handshake deadlines, keepalive, request deadlines.
    pub fn handle_timeout(&mut self, now: Nanos) {
        for (id, sid) in self.requests.expire(now) {
            if let Some(sid) = sid {
                let _ = self.unsubscribe(sid);
            }
            self.events.push_back(LinkEvent::RequestFailed {
                id,
                error: RequestError::TimedOut,
            });
        }
        match self.phase {
            Phase::Waiting { until } if until <= now => self.dial(now),
            Phase::Dialing { deadline }
            | Phase::AwaitInfo { deadline }
            | Phase::AwaitTls { deadline }
            | Phase::AwaitPong { deadline }
                if deadline <= now =>
            {
                self.fail(DisconnectReason::HandshakeTimeout, now)
            }
            Phase::Connected { next_ping } if next_ping <= now => {
                if self.pings_out >= self.config.max_pings_out {
                    self.fail(DisconnectReason::StaleConnection, now);
                    return;
                }
                self.pings_out += 1;
                self.phase = Phase::Connected {
                    next_ping: now.saturating_add(self.config.ping_interval.max(1)),
                };
                self.send_control(&ClientOp::Ping, now);
            }
            _ => {}
        }
    }

    /// Asks the driver for a transport.
    pub(super) fn dial(&mut self, now: Nanos) {
        self.phase = Phase::Dialing {
            deadline: now.saturating_add(self.config.connect_timeout.max(1)),
        };
        self.transport.push_back(TransportCommand::Open);
    }

    /// True from dialing until the connection ends.
    fn has_transport(&self) -> bool {
        matches!(
            self.phase,
            Phase::Dialing { .. }
                | Phase::AwaitInfo { .. }
                | Phase::AwaitTls { .. }
                | Phase::AwaitPong { .. }
                | Phase::Connected { .. }
        )
    }

    fn handle_op(&mut self, op: ServerOp, now: Nanos) {
        match op {
            ServerOp::Info(info) => self.handle_info(*info, now),
            ServerOp::Ping => self.send_control(&ClientOp::Pong, now),
            ServerOp::Pong => match self.phase {
                Phase::AwaitPong { .. } => self.established(now),
                _ => self.pings_out = 0,
            },
            ServerOp::Ok => {}
            ServerOp::Err(text) => match classify_err(&text) {
                ErrKind::NonFatal => self
                    .events
                    .push_back(LinkEvent::Error(LinkError::Server(text))),
                ErrKind::Auth => {
                    self.events
                        .push_back(LinkEvent::Error(LinkError::Authorization(text.clone())));
                    self.fail(DisconnectReason::Authorization(text), now);
                }
                ErrKind::Fatal => self.fail(DisconnectReason::ServerError(text), now),
            },
            ServerOp::Msg { sid, msg } => self.handle_msg(&sid, msg),
        }
    }

    /// The first INFO starts the handshake; later ones (cluster changes) update what we know.
    fn handle_info(&mut self, info: ServerInfo, now: Nanos) {
        let max_payload = usize::try_from(info.max_payload)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(proto::DEFAULT_MAX_PAYLOAD);
        // Read what the server may send, but never more than we are willing to buffer.
        self.parser.set_limits(Limits {
            max_control_line: self.config.max_control_line,
            max_payload: max_payload
                .max(proto::DEFAULT_MAX_PAYLOAD)
                .min(self.config.max_incoming_payload),
        });
        let Phase::AwaitInfo { deadline } = self.phase else {
            self.info = Some(info);
            return;
        };
        let upgrade = !self.secure
            && match self.config.tls {
                LinkTls::Off => false,
                LinkTls::IfRequired => info.tls_required,
                LinkTls::Required | LinkTls::HandshakeFirst => true,
            };
        if upgrade {
            if !info.tls_required && !info.tls_available {
                self.fail(DisconnectReason::TlsNotOffered, now);
                return;
            }
            self.info = Some(info);
            self.phase = Phase::AwaitTls { deadline };
            self.transport.push_back(TransportCommand::StartTls);
            return;
        }
        self.send_connect(&info, deadline, now);
        if matches!(self.phase, Phase::AwaitPong { .. }) {
            self.info = Some(info);
        }
    }

    /// Sends CONNECT and the handshake's PING for a server that sent `info`.
    fn send_connect(&mut self, info: &ServerInfo, deadline: Nanos, now: Nanos) {
        let connect = match self.connect_for(info) {
            Ok(connect) => connect,
            Err(err) => {
                let text = err.to_string();
                self.events.push_back(LinkEvent::Error(err));
                self.fail(DisconnectReason::Authorization(text), now);
                return;
            }
        };
        self.phase = Phase::AwaitPong { deadline };
        self.send_control(&ClientOp::Connect(Box::new(connect)), now);
        self.send_control(&ClientOp::Ping, now);
    }

    /// The CONNECT this link sends to a server that sent `info`.
    fn connect_for(&self, info: &ServerInfo) -> Result<Connect, LinkError> {
        let mut connect = Connect {
            verbose: false,
            pedantic: false,
            name: self.config.name.clone(),
            lang: "rust-contrail".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: 1,
            tls_required: self.secure,
            echo: self.config.echo,
            headers: true,
            no_responders: true,
            ..Connect::default()
        };
        match &self.config.auth {
            Auth::None => {}
            Auth::Token(token) => connect.auth_token = Some(token.clone()),
            Auth::UserPassword { user, pass } => {
                connect.user = Some(user.clone());
                connect.pass = Some(pass.clone());
            }
            Auth::NKey { public, signer } => {
                let nonce = info
                    .nonce
                    .as_deref()
                    .ok_or_else(|| LinkError::Signature("the server sent no nonce".into()))?;
                connect.sig = Some(signer(nonce.as_bytes()).map_err(LinkError::Signature)?);
                connect.nkey = Some(public.clone());
            }
        }
        Ok(connect)
    }

    /// The handshake's PONG: the server accepted CONNECT. Subscriptions go out again.
    fn established(&mut self, now: Nanos) {
        self.phase = Phase::Connected {
            next_ping: now.saturating_add(self.config.ping_interval.max(1)),
        };
        self.pings_out = 0;
        self.failures = 0;
        self.auth_failures = 0;
        self.last_error = None;
        let sids: Vec<u64> = self.subs.iter().map(|(sid, _)| sid).collect();
        for sid in sids {
            self.send_sub(sid);
        }
        let info = self.info.clone().unwrap_or_default();
        self.events.push_back(LinkEvent::Connected(Box::new(info)));
    }

    fn handle_msg(&mut self, sid: &str, msg: Message) {
        let Ok(sid) = sid.parse::<u64>() else {
            return; // not a sid we hand out
        };
        let many = self.requests.many_of_sid(sid);
        if many.is_some() || Some(sid) == self.requests.inbox_sid() {
            let Some(id) = many.or_else(|| self.requests.finish(&msg.subject)) else {
                return; // late reply to a request that already ended
            };
            let no_responders = msg.payload.is_empty()
                && msg
                    .headers
                    .as_deref()
                    .and_then(|h| Headers::parse(h).ok())
                    .and_then(|h| h.status_code())
                    == Some(503);
            if no_responders && many.is_some() {
                self.end_request(id);
            }
            self.events.push_back(if no_responders {
                LinkEvent::RequestFailed {
                    id,
                    error: RequestError::NoResponders,
                }
            } else {
                LinkEvent::Reply { id, msg }
            });
        } else if self.subs.contains(sid) {
            self.events.push_back(LinkEvent::Message { sid, msg });
        }
        // Otherwise a message in flight when we unsubscribed: dropped, as clients do.
    }

    /// Queues a protocol operation of our own (CONNECT, PING, PONG). These are not refused at
    /// the buffer bound, but a peer that makes them pile up past it ends the connection.
    fn send_control(&mut self, op: &ClientOp, now: Nanos) {
        if self.out.len() > self.config.max_pending_bytes.saturating_add(CONTROL_SLACK) {
            self.fail(DisconnectReason::OutputStalled, now);
            return;
        }
        proto::encode_client(op, &mut self.out);
    }

    /// Ends the connection from our side: the driver drops the transport.
    fn fail(&mut self, reason: DisconnectReason, now: Nanos) {
        self.transport.push_back(TransportCommand::Close);
        self.transport_gone(reason, now);
    }

    /// The connection is over; report it and schedule the next attempt (or stop).
    fn transport_gone(&mut self, reason: DisconnectReason, now: Nanos) {
        let auth = matches!(reason, DisconnectReason::Authorization(_));
        self.end_connection(reason.clone());
        if auth {
            self.auth_failures += 1;
            if self.auth_failures >= 2 {
                self.phase = Phase::Stopped;
                self.events.push_back(LinkEvent::Stopped(reason));
                return;
            }
        } else {
            self.auth_failures = 0;
        }
        let random = self.rng.next_u64();
        let delay = if auth {
            self.config.backoff.longest(random)
        } else {
            self.config.backoff.delay(self.failures, random)
        };
        self.failures = self.failures.saturating_add(1);
        self.phase = Phase::Waiting {
            until: now.saturating_add(delay),
        };
    }

    /// Drops everything tied to the current connection and reports its end. The phase is left
    /// for the caller to set.
    pub(super) fn end_connection(&mut self, reason: DisconnectReason) {
        let was_connected = matches!(self.phase, Phase::Connected { .. });
        if reason == DisconnectReason::Closed && self.has_transport() {
            self.transport.push_back(TransportCommand::Close);
        }
        self.input = BytesMut::new();
        self.out = BytesMut::new();
        self.pings_out = 0;
        for (id, sid) in self.requests.drain() {
            // The connection is gone: the subscription is forgotten, not restored.
            if let Some(sid) = sid {
                self.subs.remove(sid);
            }
            self.events.push_back(LinkEvent::RequestFailed {
                id,
                error: RequestError::Disconnected,
            });
        }
        if was_connected {
            self.events
                .push_back(LinkEvent::Disconnected(reason.clone()));
        }
        self.last_error = Some(reason);
        self.phase = Phase::Stopped;
    }
}
