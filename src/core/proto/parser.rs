//! Incremental parsers: [`ClientParser`] reads what clients send (the server side), and
//! [`ServerParser`] reads what servers send (the client side, used by sync).
//!
//! Both read from a `BytesMut` the caller keeps appending to. Each call returns at most one
//! operation and consumes exactly its bytes; `Ok(None)` means "append more bytes and call again".
//! The buffer must only ever grow at its end between calls, because the parser remembers how far
//! it has looked. Payloads and header blocks are split off the buffer without copying.
//!
//! A server's hot path need not take a publish out of the buffer at all:
//! [`ClientParser::parse_frame`] returns a PUB as a [`MsgView`] of the buffer, consumed by the next
//! call, so routing a message to subscribers allocates nothing for it.
//!
//! After an error the peer has broken framing: send the `-ERR` ([`ProtoError::err_text`]) if you
//! are the server, close the connection, and drop the parser.

use bytes::{Buf, BytesMut};

use super::frame::{msg_head, split_message, strip_op, After, Framer, MsgHead};
use super::ops::{ClientOp, Connect, ServerInfo, ServerOp};
use super::{Limits, MsgView, ProtoError};

/// What a control line turned out to be.
enum Parsed<T> {
    /// A whole operation.
    Op(T),
    /// A message, whose payload follows the line (from [`next_op`]: whose payload is there too,
    /// all of it still at the front of the buffer).
    Msg(MsgHead),
    /// A line to pass over: `INFO`, `+OK` and `-ERR` sent by a client, which nats-server
    /// accepts and ignores.
    Skip,
}

/// Operation names a client may send, for rejecting garbage before its line end arrives.
const CLIENT_OPS: &[&[u8]] = &[
    b"PUB", b"HPUB", b"SUB", b"UNSUB", b"PING", b"PONG", b"CONNECT", b"INFO", b"+OK", b"-ERR",
];

/// Operation names a server may send.
const SERVER_OPS: &[&[u8]] = &[b"MSG", b"HMSG", b"PING", b"PONG", b"INFO", b"+OK", b"-ERR"];

/// Reads the operations a client sends: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG (and passes
/// over INFO, +OK and -ERR from a client, as nats-server does).
pub struct ClientParser {
    framer: Framer,
    /// Bytes of the publish [`ClientParser::parse_frame`] returned last, still at the front of
    /// the buffer.
    owed: usize,
}

/// What [`ClientParser::parse_frame`] found.
#[derive(Debug)]
pub enum ClientFrame<'a> {
    /// Any operation but a publish.
    Op(ClientOp),
    /// A PUB or HPUB, read where it lies in the buffer; the parser's next call consumes it.
    Pub(MsgView<'a>),
}

impl ClientParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        ClientParser {
            framer: Framer::new(limits),
            owed: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.framer.limits
    }

    /// Changes the limits; they apply from the next control line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.framer.limits = limits;
    }

    /// Takes the next whole operation off the front of `buf`, or returns `Ok(None)` when more
    /// bytes are needed. Call it in a loop after each read until it returns `Ok(None)`.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        self.pay_owed(buf);
        Ok(
            match next_op(&mut self.framer, buf, CLIENT_OPS, client_line)? {
                None | Some(Parsed::Skip) => None,
                Some(Parsed::Op(op)) => Some(op),
                Some(Parsed::Msg(head)) => Some(ClientOp::Pub(split_message(buf, head)?.1)),
            },
        )
    }

    /// As [`ClientParser::parse`], but a publish stays in `buf`, read in place, until the next
    /// call.
    pub fn parse_frame<'a>(
        &mut self,
        buf: &'a mut BytesMut,
    ) -> Result<Option<ClientFrame<'a>>, ProtoError> {
        self.pay_owed(buf);
        Ok(
            match next_op(&mut self.framer, buf, CLIENT_OPS, client_line)? {
                None | Some(Parsed::Skip) => None,
                Some(Parsed::Op(op)) => Some(ClientFrame::Op(op)),
                Some(Parsed::Msg(head)) => {
                    self.owed = head.len();
                    let buf: &'a BytesMut = buf;
                    Some(ClientFrame::Pub(head.view(buf)?))
                }
            },
        )
    }

    /// Consumes the publish [`ClientParser::parse_frame`] returned last.
    fn pay_owed(&mut self, buf: &mut BytesMut) {
        // Cannot panic: the bytes owed were in `buf`, which has only grown since.
        buf.advance(std::mem::take(&mut self.owed).min(buf.len()));
    }
}

impl Default for ClientParser {
    /// A parser with nats-server's default limits.
    fn default() -> Self {
        ClientParser::new(Limits::default())
    }
}

/// The framing loop both parsers share: return a message whose payload was awaited once it is
/// all there, or read the next control line with `line` (passing over lines it skips). An
/// operation comes back consumed from `buf`; a message comes back whole and still in it, as
/// [`Parsed::Msg`], for the caller to take. After an error the framer starts clean (the caller
/// closes the connection).
#[inline]
fn next_op<T>(
    framer: &mut Framer,
    buf: &mut BytesMut,
    ops: &[&[u8]],
    line: impl Fn(&[u8], &Limits) -> Result<Parsed<T>, ProtoError>,
) -> Result<Option<Parsed<T>>, ProtoError> {
    let result = (|| loop {
        if let Some(head) = framer.pending() {
            if !head.ready(buf)? {
                return Ok(None);
            }
            return Ok(framer.take_pending().map(Parsed::Msg));
        }
        let Some(found) = framer.next_line(buf, ops)? else {
            return Ok(None);
        };
        match line(buf.get(..found.len).unwrap_or_default(), &framer.limits)? {
            Parsed::Skip => buf.advance(found.consumed),
            Parsed::Op(op) => {
                buf.advance(found.consumed);
                return Ok(Some(Parsed::Op(op)));
            }
            Parsed::Msg(mut head) => {
                // The line stays in `buf` with its payload until the message is taken.
                head.start = found.consumed;
                if head.ready(buf)? {
                    return Ok(Some(Parsed::Msg(head)));
                }
                framer.set_pending(head);
                return Ok(None);
            }
        }
    })();
    if result.is_err() {
        framer.reset();
    }
    result
}

/// Reads one control line from a client.
#[inline]
fn client_line(line: &[u8], limits: &Limits) -> Result<Parsed<ClientOp>, ProtoError> {
    let first = line.first().map(u8::to_ascii_uppercase);
    let op = match first {
        Some(b'P') => {
            if let Some(args) = strip_op(line, b"PUB", After::Space, limits)? {
                return Ok(Parsed::Msg(msg_head(
                    "PUB", line, args, false, false, limits,
                )?));
            }
            if strip_op(line, b"PING", After::Anything, limits)?.is_some() {
                ClientOp::Ping
            } else if strip_op(line, b"PONG", After::Anything, limits)?.is_some() {
                ClientOp::Pong
            } else {
                return Err(ProtoError::UnknownOp);
            }
        }
        Some(b'H') => {
            let args =
                strip_op(line, b"HPUB", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            return Ok(Parsed::Msg(msg_head(
                "HPUB", line, args, false, true, limits,
            )?));
        }
        Some(b'S') => {
            let args =
                strip_op(line, b"SUB", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            sub(args)?
        }
        Some(b'U') => {
            let args =
                strip_op(line, b"UNSUB", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            unsub(args)?
        }
        Some(b'I') if strip_op(line, b"INFO", After::Anything, limits)?.is_some() => {
            return Ok(Parsed::Skip);
        }
        Some(b'+') if strip_op(line, b"+OK", After::Anything, limits)?.is_some() => {
            return Ok(Parsed::Skip);
        }
        Some(b'-') if strip_op(line, b"-ERR", After::Anything, limits)?.is_some() => {
            return Ok(Parsed::Skip);
        }
        Some(b'C') => {
            let json = strip_op(line, b"CONNECT", After::Anything, limits)?
                .ok_or(ProtoError::UnknownOp)?;
            let connect = without_nulls(json)
                .and_then(serde_json::from_value::<Connect>)
                .map_err(|e| ProtoError::BadJson {
                    op: "CONNECT",
                    reason: e.to_string(),
                })?;
            ClientOp::Connect(Box::new(connect))
        }
        _ => return Err(ProtoError::UnknownOp),
    };
    Ok(Parsed::Op(op))
}

/// `SUB <subject> [queue] <sid>`
fn sub(args: &[u8]) -> Result<ClientOp, ProtoError> {
    let bad = ProtoError::BadArgs { op: "SUB" };
    let (parts, count) = super::frame::split_args::<3>(args).ok_or(bad.clone())?;
    let (subject, queue, sid) = match &parts[..count] {
        [subject, sid] => (subject, None, sid),
        [subject, queue, sid] => (subject, Some(queue), sid),
        _ => return Err(bad),
    };
    Ok(ClientOp::Sub {
        subject: super::frame::text(subject)?,
        queue: queue.map(|q| super::frame::text(q)).transpose()?,
        sid: super::frame::text(sid)?,
    })
}

/// `UNSUB <sid> [max]`
fn unsub(args: &[u8]) -> Result<ClientOp, ProtoError> {
    let bad = ProtoError::BadArgs { op: "UNSUB" };
    let (parts, count) = super::frame::split_args::<2>(args).ok_or(bad.clone())?;
    let (sid, max) = match &parts[..count] {
        [sid] => (sid, None),
        [sid, max] => (sid, Some(max)),
        _ => return Err(bad),
    };
    // nats-server reads a max that is not a number as "no max": unsubscribe at once.
    let max = max
        .and_then(|m| std::str::from_utf8(m).ok())
        .and_then(|m| m.parse::<u64>().ok());
    Ok(ClientOp::Unsub {
        sid: super::frame::text(sid)?,
        max,
    })
}

/// Reads the operations a server sends: INFO, MSG, HMSG, PING, PONG, +OK, -ERR.
pub struct ServerParser {
    framer: Framer,
}

impl ServerParser {
    /// A parser enforcing `limits`. A client should raise `max_payload` to what the server's
    /// INFO announces, and may need a larger `max_control_line` for an INFO listing many URLs.
    pub fn new(limits: Limits) -> Self {
        ServerParser {
            framer: Framer::new(limits),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.framer.limits
    }

    /// Changes the limits; they apply from the next control line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.framer.limits = limits;
    }

    /// Takes the next whole operation off the front of `buf`, or returns `Ok(None)` when more
    /// bytes are needed. Call it in a loop after each read until it returns `Ok(None)`.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtoError> {
        Ok(
            match next_op(&mut self.framer, buf, SERVER_OPS, server_line)? {
                None | Some(Parsed::Skip) => None,
                Some(Parsed::Op(op)) => Some(op),
                Some(Parsed::Msg(head)) => {
                    let (sid, msg) = split_message(buf, head)?;
                    Some(ServerOp::Msg { sid, msg })
                }
            },
        )
    }
}

impl Default for ServerParser {
    /// A parser with nats-server's default limits.
    fn default() -> Self {
        ServerParser::new(Limits::default())
    }
}

/// Reads one control line from a server.
#[inline]
fn server_line(line: &[u8], limits: &Limits) -> Result<Parsed<ServerOp>, ProtoError> {
    let first = line.first().map(u8::to_ascii_uppercase);
    let op = match first {
        Some(b'M') => {
            let args =
                strip_op(line, b"MSG", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            return Ok(Parsed::Msg(msg_head(
                "MSG", line, args, true, false, limits,
            )?));
        }
        Some(b'H') => {
            let args =
                strip_op(line, b"HMSG", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            return Ok(Parsed::Msg(msg_head(
                "HMSG", line, args, true, true, limits,
            )?));
        }
        Some(b'P') => {
            if strip_op(line, b"PING", After::Anything, limits)?.is_some() {
                ServerOp::Ping
            } else if strip_op(line, b"PONG", After::Anything, limits)?.is_some() {
                ServerOp::Pong
            } else {
                return Err(ProtoError::UnknownOp);
            }
        }
        Some(b'I') => {
            let json =
                strip_op(line, b"INFO", After::Anything, limits)?.ok_or(ProtoError::UnknownOp)?;
            let info = without_nulls(json)
                .and_then(serde_json::from_value::<ServerInfo>)
                .map_err(|e| ProtoError::BadJson {
                    op: "INFO",
                    reason: e.to_string(),
                })?;
            ServerOp::Info(Box::new(info))
        }
        Some(b'+') => {
            strip_op(line, b"+OK", After::Anything, limits)?.ok_or(ProtoError::UnknownOp)?;
            ServerOp::Ok
        }
        Some(b'-') => {
            let text =
                strip_op(line, b"-ERR", After::Space, limits)?.ok_or(ProtoError::UnknownOp)?;
            let text = String::from_utf8_lossy(text);
            let text = text.trim_end_matches([' ', '\t']);
            let text = text.strip_prefix('\'').unwrap_or(text);
            let text = text.strip_suffix('\'').unwrap_or(text);
            ServerOp::Err(text.to_owned())
        }
        _ => return Err(ProtoError::UnknownOp),
    };
    Ok(Parsed::Op(op))
}

/// Reads CONNECT/INFO JSON with `null` fields dropped: clients (async-nats among them) send
/// `"name":null` for what they leave unset, which means the field's default.
fn without_nulls(json: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_slice(json)?;
    if let serde_json::Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    Ok(value)
}
