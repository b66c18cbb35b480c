//! The server's side of the NATS client protocol: client ops in, protocol lines out.
//!
//! The parser is incremental: bytes arrive in any split (TCP segments, WebSocket frames), and
//! [`ClientParser::parse`] returns one op once all of its bytes are there, leaving the rest in
//! the buffer. Payloads are split off the buffer without copying. Limits follow nats-server:
//! a control line longer than `max_control_line` and a payload over `max_payload` are errors
//! whose [`WireError::err_text`] is the `-ERR` text nats-server sends before closing.
//!
//! Outgoing MSG/HMSG lines are written by [`super::outbox::Outbox::send_msg`]; the few other
//! server lines are here.
//!
//! Why not `core::proto::ClientParser`: it was written in parallel, and its `Connect` refuses
//! CONNECT JSON with `null` fields, which official clients send (async-nats sends
//! `"name":null`, `"user":null`, …). Once it accepts them, `conn.rs` can take its ops instead
//! (the op shapes match) and this parser can go.

use bytes::{Bytes, BytesMut};

/// One operation a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the raw JSON.
    Connect(Bytes),
    /// `PUB` or `HPUB`.
    Pub {
        /// Subject published to.
        subject: String,
        /// Reply subject.
        reply: Option<String>,
        /// Raw header block (HPUB only).
        headers: Option<Bytes>,
        /// Payload.
        payload: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Subject filter.
        subject: String,
        /// Queue group.
        queue: Option<String>,
        /// Subscription id.
        sid: String,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id.
        sid: String,
        /// Unsubscribe after this many more messages in total.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO`, `+OK`, `-ERR` from a client: accepted and ignored, as nats-server does.
    Ignored,
}

/// Why the client's input cannot be parsed; the connection is closed after the `-ERR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A control line longer than the limit.
    #[error("control line longer than {0} bytes")]
    ControlLineTooLong(usize),
    /// A payload larger than `max_payload`.
    #[error("payload of {size} bytes exceeds max_payload {max}")]
    MaxPayload {
        /// Announced size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An op name the protocol does not have.
    #[error("unknown protocol operation")]
    UnknownOp,
    /// An op with the wrong arguments, or a payload not followed by CRLF.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

impl WireError {
    /// The text of the `-ERR` line nats-server sends for this error.
    pub fn err_text(&self) -> &'static str {
        match self {
            WireError::ControlLineTooLong(_) => "maximum control line exceeded",
            WireError::MaxPayload { .. } => "Maximum Payload Violation",
            WireError::UnknownOp | WireError::Malformed(_) => "Unknown Protocol Operation",
        }
    }
}

/// A PUB/HPUB whose control line was read and whose payload has not fully arrived.
#[derive(Debug)]
struct PendingPub {
    subject: String,
    reply: Option<String>,
    header_len: Option<usize>,
    total_len: usize,
}

/// Incremental parser of client ops.
#[derive(Debug)]
pub struct ClientParser {
    max_payload: usize,
    max_control_line: usize,
    pending: Option<PendingPub>,
}

impl ClientParser {
    /// A parser enforcing these limits.
    pub fn new(max_payload: usize, max_control_line: usize) -> ClientParser {
        ClientParser {
            max_payload,
            max_control_line,
            pending: None,
        }
    }

    /// Takes the next complete op off the front of `buf`; `Ok(None)` when more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, WireError> {
        if let Some(pending) = &self.pending {
            if buf.len() < pending.total_len + 2 {
                return Ok(None);
            }
            if &buf[pending.total_len..pending.total_len + 2] != b"\r\n" {
                return Err(WireError::Malformed("payload"));
            }
            let Some(p) = self.pending.take() else {
                return Ok(None);
            };
            let mut body = buf.split_to(p.total_len).freeze();
            let _ = buf.split_to(2);
            let headers = p.header_len.map(|h| body.split_to(h));
            return Ok(Some(ClientOp::Pub {
                subject: p.subject,
                reply: p.reply,
                headers,
                payload: body,
            }));
        }
        let Some(nl) = memchr::memchr(b'\n', buf) else {
            if buf.len() > self.max_control_line {
                return Err(WireError::ControlLineTooLong(self.max_control_line));
            }
            return Ok(None);
        };
        if nl > self.max_control_line {
            return Err(WireError::ControlLineTooLong(self.max_control_line));
        }
        let line = buf.split_to(nl + 1);
        let line = trim_line(&line[..nl]);
        let op = self.op(line)?;
        match op {
            Some(op) => Ok(Some(op)),
            // A PUB header: its payload may already be here.
            None => self.parse(buf),
        }
    }

    /// Reads one control line; `None` for PUB/HPUB (the payload comes next).
    fn op(&mut self, line: &[u8]) -> Result<Option<ClientOp>, WireError> {
        let (name, rest) = match line.iter().position(|b| *b == b' ' || *b == b'\t') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        let name = name.to_ascii_uppercase();
        match name.as_slice() {
            b"PUB" => self.start_pub(rest, false).map(|_| None),
            b"HPUB" => self.start_pub(rest, true).map(|_| None),
            b"SUB" => {
                let args = args(rest, "SUB")?;
                let (subject, queue, sid) = match args.as_slice() {
                    [s, sid] => (*s, None, *sid),
                    [s, q, sid] => (*s, Some(*q), *sid),
                    _ => return Err(WireError::Malformed("SUB")),
                };
                Ok(Some(ClientOp::Sub {
                    subject: subject.to_string(),
                    queue: queue.map(str::to_string),
                    sid: sid.to_string(),
                }))
            }
            b"UNSUB" => {
                let args = args(rest, "UNSUB")?;
                let (sid, max) = match args.as_slice() {
                    [sid] => (*sid, None),
                    [sid, max] => (
                        *sid,
                        Some(max.parse().map_err(|_| WireError::Malformed("UNSUB"))?),
                    ),
                    _ => return Err(WireError::Malformed("UNSUB")),
                };
                Ok(Some(ClientOp::Unsub {
                    sid: sid.to_string(),
                    max,
                }))
            }
            b"PING" => Ok(Some(ClientOp::Ping)),
            b"PONG" => Ok(Some(ClientOp::Pong)),
            b"CONNECT" => Ok(Some(ClientOp::Connect(Bytes::copy_from_slice(rest)))),
            b"INFO" | b"+OK" | b"-ERR" => Ok(Some(ClientOp::Ignored)),
            _ => Err(WireError::UnknownOp),
        }
    }

    fn start_pub(&mut self, rest: &[u8], with_headers: bool) -> Result<(), WireError> {
        let what = if with_headers { "HPUB" } else { "PUB" };
        let args = args(rest, what)?;
        let size = |s: &str| s.parse::<usize>().map_err(|_| WireError::Malformed(what));
        let (subject, reply, header_len, total_len) = match (with_headers, args.as_slice()) {
            (false, [s, n]) => (*s, None, None, size(n)?),
            (false, [s, r, n]) => (*s, Some(*r), None, size(n)?),
            (true, [s, h, n]) => (*s, None, Some(size(h)?), size(n)?),
            (true, [s, r, h, n]) => (*s, Some(*r), Some(size(h)?), size(n)?),
            _ => return Err(WireError::Malformed(what)),
        };
        if header_len.is_some_and(|h| h > total_len) {
            return Err(WireError::Malformed(what));
        }
        if total_len > self.max_payload {
            return Err(WireError::MaxPayload {
                size: total_len,
                max: self.max_payload,
            });
        }
        self.pending = Some(PendingPub {
            subject: subject.to_string(),
            reply: reply.map(str::to_string),
            header_len,
            total_len,
        });
        Ok(())
    }
}

/// Drops a trailing `\r` (clients may end lines with a bare `\n`).
fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits the arguments of a control line on spaces and tabs.
fn args<'a>(rest: &'a [u8], what: &'static str) -> Result<Vec<&'a str>, WireError> {
    let text = std::str::from_utf8(rest).map_err(|_| WireError::Malformed(what))?;
    Ok(text.split([' ', '\t']).filter(|s| !s.is_empty()).collect())
}

/// The `INFO` line sent on connect.
pub fn info_line(info: &serde_json::Value) -> Vec<u8> {
    let mut line = b"INFO ".to_vec();
    line.extend_from_slice(info.to_string().as_bytes());
    line.extend_from_slice(b"\r\n");
    line
}

/// `PING`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG`.
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK` (verbose mode).
pub const OK: &[u8] = b"+OK\r\n";

/// An `-ERR '<text>'` line.
pub fn err_line(text: &str) -> Vec<u8> {
    format!("-ERR '{text}'\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<ClientOp>, WireError> {
        let mut parser = ClientParser::new(1024, 4096);
        let mut buf = BytesMut::new();
        let mut ops = Vec::new();
        // Feed one byte at a time: ops may span any split.
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Some(op) = parser.parse(&mut buf)? {
                ops.push(op);
            }
        }
        Ok(ops)
    }

    #[test]
    fn ops_split_at_every_byte_parse_the_same() {
        let input = b"CONNECT {\"verbose\":false}\r\nsub foo.* q 1\r\nPUB foo.bar r 5\r\nhello\r\nHPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 5\r\nPING\r\npong\n";
        let ops = parse_all(input).expect("valid input");
        assert_eq!(ops.len(), 7);
        assert_eq!(
            ops[0],
            ClientOp::Connect(Bytes::from_static(b"{\"verbose\":false}"))
        );
        assert_eq!(
            ops[1],
            ClientOp::Sub {
                subject: "foo.*".into(),
                queue: Some("q".into()),
                sid: "1".into()
            }
        );
        assert_eq!(
            ops[2],
            ClientOp::Pub {
                subject: "foo.bar".into(),
                reply: Some("r".into()),
                headers: None,
                payload: Bytes::from_static(b"hello")
            }
        );
        assert_eq!(
            ops[3],
            ClientOp::Pub {
                subject: "a".into(),
                reply: None,
                headers: Some(Bytes::from_static(b"NATS/1.0\r\n\r\n")),
                payload: Bytes::from_static(b"hi")
            }
        );
        assert_eq!(
            ops[4],
            ClientOp::Unsub {
                sid: "1".into(),
                max: Some(5)
            }
        );
        assert_eq!(ops[5..], [ClientOp::Ping, ClientOp::Pong]);
    }

    #[test]
    fn a_payload_over_max_payload_is_refused_before_it_arrives() {
        let err = parse_all(b"PUB a 2048\r\n").expect_err("too large");
        assert_eq!(err.err_text(), "Maximum Payload Violation");
    }

    #[test]
    fn a_control_line_without_end_is_refused_at_the_limit() {
        let mut parser = ClientParser::new(1024, 4096);
        let mut buf = BytesMut::from(&vec![b'A'; 5000][..]);
        let err = parser.parse(&mut buf).expect_err("too long");
        assert_eq!(err.err_text(), "maximum control line exceeded");
    }

    #[test]
    fn garbage_is_an_unknown_operation() {
        for bad in [
            &b"HELLO\r\n"[..],
            b"PUB a\r\n",
            b"PUB a b c d\r\n",
            b"HPUB a 5 2\r\n",
            b"PUB a 2\r\nxyz\r\n",
        ] {
            let err = parse_all(bad).expect_err("garbage");
            assert_eq!(err.err_text(), "Unknown Protocol Operation", "{bad:?}");
        }
    }
}
