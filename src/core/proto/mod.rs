//! The NATS client protocol codec: incremental parsers and encoders for both directions.
//!
//! A client sends CONNECT, PUB, HPUB, SUB, UNSUB, PING and PONG ([`ClientOp`], read by
//! [`ClientParser`], written by [`encode_client`]); a server sends INFO, MSG, HMSG, PING, PONG,
//! +OK and -ERR ([`ServerOp`], read by [`ServerParser`], written by [`encode_server`]). The
//! behaviour follows nats-server's `parser.go` and `client.go`: operation names in any case,
//! arguments separated by runs of spaces or tabs, control lines ending in CRLF or a bare LF,
//! payloads followed by exactly CRLF, sizes of one to nine digits.
//!
//! ```
//! use bytes::BytesMut;
//! use contrail::core::proto::{ClientOp, ClientParser, Limits};
//!
//! let mut parser = ClientParser::new(Limits::default());
//! let mut buf = BytesMut::from(&b"PUB greet 5\r\nhel"[..]);
//! assert_eq!(parser.parse(&mut buf), Ok(None)); // the payload is not all here yet
//! buf.extend_from_slice(b"lo\r\nPING\r\n");
//! let Ok(Some(ClientOp::Pub(msg))) = parser.parse(&mut buf) else { panic!() };
//! assert_eq!(&msg.payload[..], b"hello");
//! assert_eq!(parser.parse(&mut buf), Ok(Some(ClientOp::Ping)));
//! assert_eq!(parser.parse(&mut buf), Ok(None));
//! ```
//!
//! Memory stays bounded: a partial control line is an error once it is longer than
//! `max_control_line` plus a few bytes, and a message larger than `max_payload` is an error as
//! soon as its control line is read, so a parser waiting for input never needs more than
//! `max_control_line + max_payload + 10` bytes buffered. Every error is fatal to the connection
//! (see [`ProtoError`]); the subject checks [`check_sub`] and [`check_pub_subject`] are not.

mod encode;
mod error;
mod frame;
mod ops;
mod parser;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use encode::{encode_client, encode_msg, encode_msg_view, encode_pub, encode_server, MsgView};
pub use error::ProtoError;
pub use ops::{ClientOp, Connect, ServerInfo, ServerOp};
pub use parser::{ClientFrame, ClientParser, ServerParser};

use crate::core::subject;

/// nats-server's default `max_control_line`.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;

/// nats-server's default `max_payload` (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Size limits a parser enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest control line, counting what follows the operation name (as nats-server does).
    pub max_control_line: usize,
    /// Largest message, header block plus payload.
    pub max_payload: usize,
}

impl Default for Limits {
    /// nats-server's defaults: 4096-byte control lines, 1 MiB payloads.
    fn default() -> Self {
        Limits {
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Checks a SUB's subject as nats-server does before it registers the subscription; on error it
/// answers `-ERR 'Invalid Subject'` and keeps the connection.
pub fn check_sub(subject: &str) -> Result<(), ProtoError> {
    subject::validate_filter(subject).map_err(|_| ProtoError::InvalidSubject)
}

/// Checks a PUB's subject as nats-server does for pedantic clients; on error it answers
/// `-ERR 'Invalid Publish Subject'`, keeps the connection and still publishes the message.
pub fn check_pub_subject(subject: &str) -> Result<(), ProtoError> {
    subject::validate_subject(subject).map_err(|_| ProtoError::InvalidPublishSubject)
}
